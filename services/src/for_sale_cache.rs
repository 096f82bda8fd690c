//! Variants for sale, kept in memory: putting an item in a cart and placing an order both start
//! by reading the variants they name with their products' titles ([`catalog::for_sale`]), and
//! under checkout traffic those are the same few variants again and again. This answers them
//! without a statement while nothing that could change the answer has happened.
//!
//! An entry is the variant as read, stamped with its shop's settings and stock versions read
//! *before* the row (`crate::versions`): a member action (price, title, archiving, a stock
//! adjustment), a cancellation or another process's order moves one of them after its commit,
//! and the entry is not served again. The orders this process places do not move the stock
//! version — they would send every variant of a busy shop back to the database — but lower the
//! stock of the entries they took from to what the order's own statement reported left
//! ([`taken`]), or forget them when they were read under another stock version. Stock only
//! falls while the stock version stands still, so the lower of the two figures is the true one,
//! and an entry's stock is never kept above what is left for longer than the moment between an
//! order's commit and its `taken`. An entry is stored only if the shop's content version did
//! not move while it was read, so a row read before an order's commit cannot be stored after
//! that order's `taken` has run.
//!
//! The order itself does not rely on the entry's stock: its statement takes stock only if
//! enough is left. What the entry's stock decides is whether adding an item to a cart answers
//! `OUT_OF_STOCK`; the cart page re-reads prices and stock from the database.
//!
//! On PostgreSQL another process's change reaches this one through `NOTIFY`, as for the other
//! caches: until it arrives, this process may answer from the entry read before it.

use std::{collections::HashMap, sync::RwLock};

use crate::{
    Db, Result,
    catalog::{self, ForSale},
    tenancy::ShopId,
    versions::{Version, Versions},
};

/// At most this many variants are kept; when full, the cache starts again empty (about half a
/// kilobyte each).
const MAX_VARIANTS: usize = 4_096;

/// The process's variants for sale, per shop (held by [`Db`]).
#[derive(Debug, Default)]
pub struct ForSaleCache {
    inner: RwLock<Kept>,
}

#[derive(Debug, Default)]
struct Kept {
    /// Per shop, per variant.
    shops: HashMap<String, HashMap<String, Entry>>,
    len: usize,
}

#[derive(Debug, Clone)]
struct Entry {
    /// The shop's settings and stock versions read before the row.
    stamp: Stamp,
    item: ForSale,
}

/// A shop's (settings, stock) versions.
type Stamp = (Version, Version);

/// The shop's content version and its stamp, read together.
fn stamp(versions: &Versions, shop: &str) -> (Version, Stamp) {
    let (content, settings, stock) = versions.all(shop);
    (content, (settings, stock))
}

impl ForSaleCache {
    /// The current entries of `ids` (by id), and the ids without one.
    fn get(
        &self,
        shop: &str,
        ids: &[String],
        now: Stamp,
    ) -> (HashMap<String, ForSale>, Vec<String>) {
        let mut found = HashMap::with_capacity(ids.len());
        let mut missing = Vec::new();
        let kept = self.inner.read().ok();
        let entries = kept.as_ref().and_then(|k| k.shops.get(shop));
        for id in ids {
            match entries.and_then(|e| e.get(id)) {
                Some(e) if e.stamp == now => {
                    found.insert(id.clone(), e.item.clone());
                }
                _ => missing.push(id.clone()),
            }
        }
        (found, missing)
    }

    /// Keeps `found`, read under `now`.
    fn put(&self, shop: &str, now: Stamp, found: &HashMap<String, ForSale>) {
        let Ok(mut kept) = self.inner.write() else {
            return;
        };
        // What is let go is freed after the lock is released, not while others wait for it.
        let mut old = None;
        if kept.len + found.len() > MAX_VARIANTS {
            old = Some(std::mem::take(&mut *kept));
        }
        let Kept { shops, len } = &mut *kept;
        let entries = shops.entry(shop.to_string()).or_default();
        for (id, item) in found {
            let entry = Entry {
                stamp: now,
                item: item.clone(),
            };
            if entries.insert(id.clone(), entry).is_none() {
                *len += 1;
            }
        }
        drop(kept);
        drop(old);
    }

    /// Keeps `found`, read under `now` once the shop's content version was `content`, unless
    /// that version moved during the read: an order that committed then (and lowered what was
    /// kept) may have taken stock the rows do not show, and its version move leaves `now`
    /// as it was.
    fn keep(
        &self,
        versions: &Versions,
        shop: &str,
        content: Version,
        now: Stamp,
        found: &HashMap<String, ForSale>,
    ) {
        if versions.current(shop) == content {
            self.put(shop, now, found);
        }
    }

    /// See [`taken`].
    fn lower(&self, shop: &str, stock_version: Version, left: &[(String, Option<i64>)]) {
        let Ok(mut kept) = self.inner.write() else {
            return;
        };
        let Kept { shops, len } = &mut *kept;
        let Some(entries) = shops.get_mut(shop) else {
            return;
        };
        for (id, left) in left {
            let Some(e) = entries.get_mut(id) else {
                continue;
            };
            if e.stamp.1 != stock_version {
                entries.remove(id);
                *len -= 1;
                continue;
            }
            if let Some(left) = *left
                && left < e.item.variant.stock
            {
                e.item.variant.stock = left;
            }
        }
    }
}

/// The variants `ids` of `shop` with their products' titles when on sale, as
/// [`catalog::for_sale`] answers them: from memory where kept and current, the rest in one
/// read (ids that name no variant of the shop are absent, and are not kept).
pub async fn for_sale(db: &Db, shop: &ShopId, ids: &[String]) -> Result<HashMap<String, ForSale>> {
    let versions = db.versions();
    let (content, now) = stamp(versions, shop.as_str());
    let (mut out, missing) = db.for_sale_cache().get(shop.as_str(), ids, now);
    if missing.is_empty() {
        return Ok(out);
    }
    let found = catalog::for_sale(db, shop, &missing).await?;
    db.for_sale_cache()
        .keep(versions, shop.as_str(), content, now, &found);
    out.extend(found);
    Ok(out)
}

/// After an order placed by this process has committed: each of its variants (`left`: the
/// stock its statement reported left, `None` when the variant does not track stock) is kept
/// with the lower of its kept stock and what is left when it was read under `stock_version`
/// (the shop's stock version read before the order was written), and forgotten otherwise.
pub(crate) fn taken(
    db: &Db,
    shop: &ShopId,
    stock_version: Version,
    left: &[(String, Option<i64>)],
) {
    db.for_sale_cache()
        .lower(shop.as_str(), stock_version, left);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str, stock: i64) -> ForSale {
        ForSale {
            variant: catalog::Variant {
                shop_id: ShopId::new("s"),
                id: id.to_string(),
                product_id: "p".to_string(),
                title: "Hộp 4 cái".to_string(),
                sku: None,
                options: Vec::new(),
                price: 45_000,
                compare_at_price: None,
                stock,
                track_inventory: true,
                position: 0,
                archived: false,
            },
            product_title: Some("Bánh pía".to_string()),
            product_handle: Some("banh-pia".to_string()),
        }
    }

    fn put(c: &ForSaleCache, v: &Versions, id: &str, stock: i64) {
        let found = HashMap::from([(id.to_string(), item(id, stock))]);
        c.put("s", stamp(v, "s").1, &found);
    }

    fn kept_stock(c: &ForSaleCache, v: &Versions, id: &str) -> Option<i64> {
        let (found, _) = c.get("s", &[id.to_string()], stamp(v, "s").1);
        found.get(id).map(|f| f.variant.stock)
    }

    fn left(id: &str, n: Option<i64>) -> (String, Option<i64>) {
        (id.to_string(), n)
    }

    /// An order lowers what is kept to what it left, never raises it, and forgets an entry
    /// read under another stock version; the stock version's moves make every entry of the
    /// shop stale, and orders placed here do not.
    #[test]
    fn orders_lower_kept_stock_and_restocks_make_it_stale() {
        let (c, v) = (ForSaleCache::default(), Versions::default());
        put(&c, &v, "a", 10);
        put(&c, &v, "b", 10);
        let k0 = v.stock("s");
        v.bump_ordered("s");
        c.lower("s", k0, &[left("a", Some(7))]);
        assert_eq!(kept_stock(&c, &v, "a"), Some(7));
        assert_eq!(kept_stock(&c, &v, "b"), Some(10));
        // A report from an order that committed earlier never raises it.
        c.lower("s", k0, &[left("a", Some(9)), left("b", None)]);
        assert_eq!(kept_stock(&c, &v, "a"), Some(7));
        assert_eq!(kept_stock(&c, &v, "b"), Some(10));
        // An order planned under an older stock version forgets what it took.
        v.bump_stock("s");
        put(&c, &v, "a", 12);
        c.lower("s", k0, &[left("a", Some(3))]);
        assert_eq!(kept_stock(&c, &v, "a"), None);
        assert_eq!(c.inner.read().unwrap().len, 1);
        // A cancellation, a member action, another process's order, a listener's reconnect:
        // nothing kept before it is current.
        let changes: [&dyn Fn(&Versions); 4] = [
            &|v| v.bump_stock("s"),
            &|v| v.apply_notification("othernode s stock"),
            &|v| v.bump("s"),
            &|v| v.bump_all(),
        ];
        for change in changes {
            put(&c, &v, "a", 12);
            assert_eq!(kept_stock(&c, &v, "a"), Some(12));
            change(&v);
            assert_eq!(kept_stock(&c, &v, "a"), None);
        }
    }

    /// Rows read while an order of this process committed are not kept: the order lowered
    /// nothing (they were not kept yet) and its move of the content version leaves the stamp
    /// as it was, so they would be served with the stock from before the order.
    #[test]
    fn a_read_overtaken_by_an_order_is_not_kept() {
        let (c, v) = (ForSaleCache::default(), Versions::default());
        let read = HashMap::from([("a".to_string(), item("a", 10))]);
        let (content, now) = stamp(&v, "s");
        // The order commits while the row is being read.
        let k0 = v.stock("s");
        v.bump_ordered("s");
        c.lower("s", k0, &[left("a", Some(9))]);
        c.keep(&v, "s", content, now, &read);
        assert_eq!(kept_stock(&c, &v, "a"), None);
        // A read with nothing in between is kept.
        let (content, now) = stamp(&v, "s");
        c.keep(&v, "s", content, now, &read);
        assert_eq!(kept_stock(&c, &v, "a"), Some(10));
    }

    /// Full, it starts again empty rather than grow.
    #[test]
    fn it_stays_bounded() {
        let (c, v) = (ForSaleCache::default(), Versions::default());
        for i in 0..MAX_VARIANTS + 10 {
            put(&c, &v, &format!("v{i}"), 1);
            assert!(c.inner.read().unwrap().len <= MAX_VARIANTS);
        }
        assert_eq!(kept_stock(&c, &v, "v0"), None);
        assert_eq!(
            kept_stock(&c, &v, &format!("v{}", MAX_VARIANTS + 9)),
            Some(1)
        );
    }
}
