//! Storefront carts: server-side, one per visitor and shop (the visitor id comes from a
//! signed cookie), holding variants and quantities. Every view re-reads prices and stock, so
//! the cart never shows a stale price or promises stock that is gone; the order itself is
//! still checked by `orders::place_order`.

use sqlx::Row;

use crate::{
    catalog::{self, Visibility},
    db::Db,
    error::{Error, Result},
    ids::now_ms,
    orders::MAX_QUANTITY,
    shops::Shop,
    tenancy::ShopId,
};

/// Most distinct items in a cart.
pub const MAX_CART_LINES: usize = 50;

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

async fn ensure_cart(db: &Db, shop: &ShopId, cart_id: &str) -> Result<()> {
    let now = now_ms();
    sqlx::query(
        "INSERT INTO carts (shop_id, id, created_at, updated_at) VALUES ($1, $2, $3, $3) \
         ON CONFLICT (shop_id, id) DO UPDATE SET updated_at = excluded.updated_at",
    )
    .bind(shop.as_str().to_string())
    .bind(cart_id.to_string())
    .bind(now)
    .execute(db.write())
    .await?;
    Ok(())
}

/// Adds `quantity` of a variant (published and for sale in this shop).
pub async fn add(
    db: &Db,
    shop: &Shop,
    cart_id: &str,
    variant_id: &str,
    quantity: i64,
) -> Result<()> {
    if !(1..=MAX_QUANTITY).contains(&quantity) {
        return Err(Error::user(
            &["quantity"],
            "INVALID_QUANTITY",
            format!("Quantity is 1 to {MAX_QUANTITY}."),
        ));
    }
    let Some(v) = catalog::variant(db, &shop.id, variant_id)
        .await?
        .filter(|v| !v.archived)
    else {
        return Err(Error::user(
            &["variant_id"],
            "VARIANT_NOT_FOUND",
            "This item is not for sale.",
        ));
    };
    if catalog::product(db, &shop.id, &v.product_id, Visibility::Public)
        .await?
        .is_none()
    {
        return Err(Error::user(
            &["variant_id"],
            "VARIANT_NOT_FOUND",
            "This item is not for sale.",
        ));
    }
    if !v.available() {
        return Err(Error::user(
            &["variant_id"],
            "OUT_OF_STOCK",
            "This item is sold out.",
        ));
    }
    let current = lines_raw(db, &shop.id, cart_id).await?;
    if current.len() >= MAX_CART_LINES && !current.iter().any(|(id, _)| id == variant_id) {
        return Err(Error::user(
            &["variant_id"],
            "CART_FULL",
            format!("A cart holds at most {MAX_CART_LINES} items."),
        ));
    }
    ensure_cart(db, &shop.id, cart_id).await?;
    sqlx::query(
        "INSERT INTO cart_lines (shop_id, cart_id, variant_id, quantity, added_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (shop_id, cart_id, variant_id) DO UPDATE SET quantity = \
         CASE WHEN cart_lines.quantity + excluded.quantity > $6 THEN $6 ELSE cart_lines.quantity + excluded.quantity END",
    )
    .bind(shop.id.as_str().to_string())
    .bind(cart_id.to_string())
    .bind(variant_id.to_string())
    .bind(quantity)
    .bind(now_ms())
    .bind(MAX_QUANTITY)
    .execute(db.write())
    .await?;
    Ok(())
}

/// Sets a line's quantity (0 removes it).
pub async fn set(
    db: &Db,
    shop: &ShopId,
    cart_id: &str,
    variant_id: &str,
    quantity: i64,
) -> Result<()> {
    if !(0..=MAX_QUANTITY).contains(&quantity) {
        return Err(Error::user(
            &["quantity"],
            "INVALID_QUANTITY",
            format!("Quantity is 0 to {MAX_QUANTITY}."),
        ));
    }
    if quantity == 0 {
        sqlx::query(
            "DELETE FROM cart_lines WHERE shop_id = $1 AND cart_id = $2 AND variant_id = $3",
        )
        .bind(shop.as_str().to_string())
        .bind(cart_id.to_string())
        .bind(variant_id.to_string())
        .execute(db.write())
        .await?;
    } else {
        sqlx::query("UPDATE cart_lines SET quantity = $1 WHERE shop_id = $2 AND cart_id = $3 AND variant_id = $4")
            .bind(quantity)
            .bind(shop.as_str().to_string())
            .bind(cart_id.to_string())
            .bind(variant_id.to_string())
            .execute(db.write())
            .await?;
    }
    Ok(())
}

/// Units in the cart (the header's count): one statement, whatever the number of lines.
pub async fn count(db: &Db, shop: &ShopId, cart_id: &str) -> Result<i64> {
    let row = sqlx::query("SELECT CAST(COALESCE(SUM(quantity), 0) AS BIGINT) AS n FROM cart_lines WHERE shop_id = $1 AND cart_id = $2")
        .bind(shop.as_str().to_string())
        .bind(cart_id.to_string())
        .fetch_one(db.read())
        .await?;
    Ok(row.try_get("n")?)
}

/// Empties the cart (after an order).
pub async fn clear(db: &Db, shop: &ShopId, cart_id: &str) -> Result<()> {
    sqlx::query("DELETE FROM cart_lines WHERE shop_id = $1 AND cart_id = $2")
        .bind(shop.as_str().to_string())
        .bind(cart_id.to_string())
        .execute(db.write())
        .await?;
    Ok(())
}

async fn lines_raw(db: &Db, shop: &ShopId, cart_id: &str) -> Result<Vec<(String, i64)>> {
    let rows = sqlx::query("SELECT variant_id, quantity FROM cart_lines WHERE shop_id = $1 AND cart_id = $2 ORDER BY added_at, variant_id")
        .bind(shop.as_str().to_string())
        .bind(cart_id.to_string())
        .fetch_all(db.read())
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("variant_id")?, r.try_get("quantity")?)))
        .collect()
}

/// The cart with today's prices, stock and totals.
pub async fn view(db: &Db, shop: &Shop, cart_id: &str) -> Result<Cart> {
    let raw = lines_raw(db, &shop.id, cart_id).await?;
    let mut lines = Vec::new();
    let mut product_ids = Vec::new();
    let mut variants = Vec::new();
    for (vid, qty) in raw {
        if let Some(v) = catalog::variant(db, &shop.id, &vid).await? {
            product_ids.push(v.product_id.clone());
            variants.push((v, qty));
        }
    }
    product_ids.sort();
    product_ids.dedup();
    let images = catalog::images_for(db, &shop.id, &product_ids).await?;
    for (v, qty) in variants {
        let p = catalog::product(db, &shop.id, &v.product_id, Visibility::Public).await?;
        let gone = p.is_none() || v.archived;
        lines.push(CartLine {
            variant_id: v.id.clone(),
            product_handle: p.as_ref().map(|p| p.handle.clone()).unwrap_or_default(),
            title: p.as_ref().map(|p| p.title.clone()).unwrap_or_default(),
            variant_title: v.title.clone(),
            image: images
                .get(&v.product_id)
                .and_then(|i| i.first())
                .map(|i| i.url.clone()),
            unit_price: v.price,
            quantity: qty,
            in_stock: v.track_inventory.then_some(v.stock),
            gone,
        });
    }
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
