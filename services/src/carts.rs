//! Storefront carts, kept by the visitor's browser: a shop's cart is the list of variants and
//! quantities ([`Items`]) that the storefront keeps in a signed cookie, so putting something
//! in a cart writes nothing to the database and a page shows the cart's count without reading
//! it. Every view re-reads prices and stock ([`view`]), so the cart never shows a stale price
//! or promises stock that is gone; the order itself is still checked by
//! `orders::place_order`.

use crate::{
    catalog,
    db::Db,
    error::{Error, Result},
    orders::MAX_QUANTITY,
    shops::Shop,
};

/// Most distinct items in a cart (this also bounds the cookie: ~1.6 KB when full).
pub const MAX_CART_LINES: usize = 50;

/// Longest variant id a cart keeps (ids are 26-character ULIDs).
const MAX_ID_LEN: usize = 64;

/// What a cart holds: variants of one shop and their quantities, in the order first added.
/// Every `Items` value respects the limits: at most [`MAX_CART_LINES`] distinct variants,
/// quantities 1 to [`MAX_QUANTITY`], ids of ASCII letters and digits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Items(Vec<(String, i64)>);

impl Items {
    pub fn lines(&self) -> &[(String, i64)] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Units in the cart (the header's count).
    pub fn count(&self) -> i64 {
        self.0.iter().map(|(_, q)| q).sum()
    }

    /// The items whose variants [`view`] found (it leaves out the ones that no longer
    /// exist); `None` when it found them all.
    pub fn still_in(&self, cart: &Cart) -> Option<Items> {
        if cart.lines.len() == self.0.len() {
            return None;
        }
        let kept = self
            .0
            .iter()
            .filter(|(id, _)| cart.lines.iter().any(|l| &l.variant_id == id))
            .cloned()
            .collect();
        Some(Items(kept))
    }

    fn quantity_of(&self, variant_id: &str) -> Option<i64> {
        self.0
            .iter()
            .find(|(v, _)| v == variant_id)
            .map(|(_, q)| *q)
    }

    /// The cookie's form: `{variant}:{quantity}` joined by `-` (empty for an empty cart).
    pub fn encode(&self) -> String {
        self.0
            .iter()
            .map(|(v, q)| format!("{v}:{q}"))
            .collect::<Vec<_>>()
            .join("-")
    }

    /// Reads [`Items::encode`]'s form; `None` for anything that breaks the limits (too many
    /// lines, a bad id or quantity, a variant twice).
    pub fn decode(s: &str) -> Option<Items> {
        let mut items = Items::default();
        if s.is_empty() {
            return Some(items);
        }
        for part in s.split('-') {
            let (id, q) = part.split_once(':')?;
            let q: i64 = q.parse().ok()?;
            if !valid_id(id)
                || !(1..=MAX_QUANTITY).contains(&q)
                || items.quantity_of(id).is_some()
                || items.0.len() == MAX_CART_LINES
            {
                return None;
            }
            items.0.push((id.to_string(), q));
        }
        Some(items)
    }
}

/// A variant id as a cart keeps it: 1 to 64 ASCII letters and digits.
fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_ID_LEN && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn not_for_sale() -> Error {
    Error::user(
        &["variant_id"],
        "VARIANT_NOT_FOUND",
        "This item is not for sale.",
    )
}

/// The cart with `quantity` more of a variant (published and for sale in this shop; the
/// line's quantity stops at [`MAX_QUANTITY`]). At most one read (none when the variant is
/// kept in memory, `crate::for_sale_cache`), no write.
pub async fn add(
    db: &Db,
    shop: &Shop,
    items: &Items,
    variant_id: &str,
    quantity: i64,
) -> Result<Items> {
    if !(1..=MAX_QUANTITY).contains(&quantity) {
        return Err(Error::user(
            &["quantity"],
            "INVALID_QUANTITY",
            format!("Quantity is 1 to {MAX_QUANTITY}."),
        ));
    }
    if !valid_id(variant_id) {
        return Err(not_for_sale());
    }
    let found = crate::for_sale_cache::for_sale(db, &shop.id, &[variant_id.to_string()]).await?;
    let Some(v) = found
        .get(variant_id)
        .filter(|f| f.product_title.is_some() && !f.variant.archived)
    else {
        return Err(not_for_sale());
    };
    if !v.variant.available() {
        return Err(Error::user(
            &["variant_id"],
            "OUT_OF_STOCK",
            "This item is sold out.",
        ));
    }
    let mut next = items.clone();
    let full = next.0.len() >= MAX_CART_LINES;
    match next.0.iter_mut().find(|(id, _)| id == variant_id) {
        Some((_, q)) => *q = (*q + quantity).min(MAX_QUANTITY),
        None if full => {
            return Err(Error::user(
                &["variant_id"],
                "CART_FULL",
                format!("A cart holds at most {MAX_CART_LINES} items."),
            ));
        }
        None => next.0.push((variant_id.to_string(), quantity)),
    }
    Ok(next)
}

/// The cart with a line's quantity set (0 removes it; a variant not in the cart is left
/// out). No read, no write.
pub fn set(items: &Items, variant_id: &str, quantity: i64) -> Result<Items> {
    if !(0..=MAX_QUANTITY).contains(&quantity) {
        return Err(Error::user(
            &["quantity"],
            "INVALID_QUANTITY",
            format!("Quantity is 0 to {MAX_QUANTITY}."),
        ));
    }
    let mut next = items.clone();
    if quantity == 0 {
        next.0.retain(|(id, _)| id != variant_id);
    } else if let Some((_, q)) = next.0.iter_mut().find(|(id, _)| id == variant_id) {
        *q = quantity;
    }
    Ok(next)
}

/// One line as shown, with today's price and stock.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CartLine {
    pub variant_id: String,
    pub product_handle: String,
    pub title: String,
    pub variant_title: String,
    pub image: Option<String>,
    pub unit_price: i64,
    pub quantity: i64,
    /// Units that can be bought now (None: not counted).
    pub in_stock: Option<i64>,
    /// The variant or product is no longer for sale.
    pub gone: bool,
}

impl CartLine {
    pub fn total(&self) -> i64 {
        self.unit_price * self.quantity
    }
    /// True when the line can be ordered as it is.
    pub fn ok(&self) -> bool {
        !self.gone && self.in_stock.is_none_or(|s| s >= self.quantity)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Cart {
    pub lines: Vec<CartLine>,
    pub subtotal: i64,
    pub shipping: i64,
    pub total: i64,
}

impl Cart {
    pub fn count(&self) -> i64 {
        self.lines.iter().map(|l| l.quantity).sum()
    }
    pub fn can_checkout(&self) -> bool {
        !self.lines.is_empty() && self.lines.iter().all(CartLine::ok)
    }
}

/// The cart with today's prices, stock and totals: two reads (variants with their products,
/// then the products' images) for any number of lines. A variant that no longer exists is
/// left out; one that is archived, or whose product is hidden, shows as gone.
pub async fn view(db: &Db, shop: &Shop, items: &Items) -> Result<Cart> {
    if items.is_empty() {
        return Ok(Cart::default());
    }
    let ids: Vec<String> = items.0.iter().map(|(id, _)| id.clone()).collect();
    let found = catalog::for_sale(db, &shop.id, &ids).await?;
    let mut product_ids: Vec<String> = found
        .values()
        .map(|f| f.variant.product_id.clone())
        .collect();
    product_ids.sort();
    product_ids.dedup();
    let images = catalog::images_for(db, &shop.id, &product_ids).await?;
    let lines: Vec<CartLine> = items
        .0
        .iter()
        .filter_map(|(id, quantity)| {
            let f = found.get(id)?;
            let v = &f.variant;
            Some(CartLine {
                variant_id: v.id.clone(),
                product_handle: f.product_handle.clone().unwrap_or_default(),
                title: f.product_title.clone().unwrap_or_default(),
                variant_title: v.title.clone(),
                image: images
                    .get(&v.product_id)
                    .and_then(|i| i.first())
                    .map(|i| i.url.clone()),
                unit_price: v.price,
                quantity: *quantity,
                in_stock: v.track_inventory.then_some(v.stock),
                gone: f.product_title.is_none() || v.archived,
            })
        })
        .collect();
    let subtotal: i64 = lines.iter().filter(|l| !l.gone).map(CartLine::total).sum();
    let shipping = if lines.is_empty() {
        0
    } else {
        shop.shipping_for(subtotal)
    };
    Ok(Cart {
        lines,
        subtotal,
        shipping,
        total: subtotal + shipping,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(lines: &[(&str, i64)]) -> Items {
        Items(lines.iter().map(|(v, q)| (v.to_string(), *q)).collect())
    }

    #[test]
    fn items_round_trip_through_their_cookie_form() {
        let a = items(&[
            ("01JB0000000000000000000000", 2),
            ("01JB0000000000000000000001", 1),
        ]);
        assert_eq!(
            a.encode(),
            "01JB0000000000000000000000:2-01JB0000000000000000000001:1"
        );
        assert_eq!(Items::decode(&a.encode()), Some(a.clone()));
        assert_eq!(a.count(), 3);
        assert_eq!(Items::decode(""), Some(Items::default()));
        let full = Items(
            (0..MAX_CART_LINES)
                .map(|i| (format!("{i:026}"), MAX_QUANTITY))
                .collect(),
        );
        assert_eq!(Items::decode(&full.encode()), Some(full.clone()));
        assert!(full.encode().len() < 2000, "{}", full.encode().len());
    }

    #[test]
    fn a_cookie_that_breaks_the_limits_is_no_cart() {
        for bad in [
            "abc",
            "abc:",
            ":1",
            "abc:0",
            "abc:-1",
            &format!("abc:{}", MAX_QUANTITY + 1),
            "abc:1-abc:2",
            "ab c:1",
            "abç:1",
            "abc:1-",
            &format!("{}:1", "a".repeat(MAX_ID_LEN + 1)),
            &(0..=MAX_CART_LINES)
                .map(|i| format!("v{i}:1"))
                .collect::<Vec<_>>()
                .join("-"),
        ] {
            assert_eq!(Items::decode(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn setting_a_quantity_changes_or_removes_the_line_only() {
        let a = items(&[("a", 2), ("b", 1)]);
        assert_eq!(set(&a, "a", 5).unwrap(), items(&[("a", 5), ("b", 1)]));
        assert_eq!(set(&a, "a", 0).unwrap(), items(&[("b", 1)]));
        assert_eq!(set(&a, "c", 3).unwrap(), a);
        assert!(set(&a, "a", -1).is_err());
        assert!(set(&a, "a", MAX_QUANTITY + 1).is_err());
    }
}
