//! Content versions of shops, for caches of public answers (GraphQL catalog reads, storefront
//! pages). A cached answer records the versions of the shops it read and is served only while
//! they are unchanged.
//!
//! A shop's version moves whenever its public content may have changed:
//! - around every member action: `shops::authorize` hands out a [`ShopScope`] holding a
//!   [`ChangeGuard`], which bumps the version when the scope is made and again when its last
//!   copy is dropped — after the service call it authorised has committed — so an answer
//!   computed during a write is never kept past it (reads by members bump too: harmless);
//! - after an order changes stock: placed (a bump after its commit; on PostgreSQL a NOTIFY
//!   after it, `feed::order_committed`) or cancelled ([`stock_changed`]).
//!
//! Each shop also has a *settings* version, which moves with member actions but not with
//! orders: the shop row (name, theme, payments, published) changes only through members, so
//! the cache of shop rows (`shop_cache`) is keyed by it and survives the orders, while the
//! caches of answers that show stock are keyed by the content version.
//!
//! And a *stock* version, which moves with every change of stock except the orders this
//! process places (member actions, cancellations, other processes' orders): the cache of
//! variants for sale (`for_sale_cache`) is keyed by it and the settings version, and an order
//! placed here lowers the kept stock of the variants it took itself (`for_sale_cache::taken`),
//! so the other variants' entries survive it.
//!
//! On PostgreSQL a change is also announced with `NOTIFY choso_shops`, and every process's
//! listener bumps its own copy; when the listener (re)connects it bumps every shop (the
//! `epoch`), since notifications sent while it was away are lost.
//!
//! [`ShopScope`]: crate::tenancy::ShopScope

use std::{
    collections::HashMap,
    sync::{
        Arc, RwLock,
        atomic::{AtomicU64, Ordering},
    },
};

use crate::{
    db::{Backend, Db},
    tenancy::ShopId,
};

pub const CHANNEL: &str = "choso_shops";
/// The last word of a notification that announces a stock change only.
const STOCK: &str = "stock";

/// The process-wide table of versions (held by [`Db`]).
#[derive(Debug, Clone, Default)]
pub struct Versions {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// This process, in the notifications it sends (it has bumped its own copy already).
    node: String,
    epoch: AtomicU64,
    /// Per shop: (content, settings, stock).
    shops: RwLock<HashMap<String, Counters>>,
}

impl Default for Inner {
    fn default() -> Self {
        Inner {
            node: crate::ids::random_hex(8),
            epoch: AtomicU64::new(0),
            shops: RwLock::new(HashMap::new()),
        }
    }
}

/// A version as cached answers compare it: (epoch, shop counter).
pub type Version = (u64, u64);

/// A shop's counters: content, settings, stock (see the module comment).
type Counters = (u64, u64, u64);

impl Versions {
    fn counters(&self, shop: &str) -> (u64, Counters) {
        let epoch = self.inner.epoch.load(Ordering::Acquire);
        let n = self
            .inner
            .shops
            .read()
            .map(|m| m.get(shop).copied().unwrap_or_default())
            .unwrap_or((u64::MAX, u64::MAX, u64::MAX));
        (epoch, n)
    }

    /// The shop's current content version (anything public, stock included).
    pub fn current(&self, shop: &str) -> Version {
        let (epoch, (content, _, _)) = self.counters(shop);
        (epoch, content)
    }

    /// The shop's current settings version (its row: moved by member actions only).
    pub fn settings(&self, shop: &str) -> Version {
        let (epoch, (_, settings, _)) = self.counters(shop);
        (epoch, settings)
    }

    /// The shop's current stock version: moved by every change of stock except the orders
    /// this process places.
    pub fn stock(&self, shop: &str) -> Version {
        let (epoch, (_, _, stock)) = self.counters(shop);
        (epoch, stock)
    }

    /// The shop's (content, settings, stock) versions, read together (one lock).
    pub fn all(&self, shop: &str) -> (Version, Version, Version) {
        let (epoch, (content, settings, stock)) = self.counters(shop);
        ((epoch, content), (epoch, settings), (epoch, stock))
    }

    /// Marks the shop changed in this process (content, settings and stock).
    pub fn bump(&self, shop: &str) {
        if let Ok(mut m) = self.inner.shops.write() {
            let (content, settings, stock) = m.entry(shop.to_string()).or_default();
            *content += 1;
            *settings += 1;
            *stock += 1;
        }
    }

    /// Marks the shop's stock changed in this process (its content and stock, not its
    /// settings): a cancellation, or another process's order.
    pub fn bump_stock(&self, shop: &str) {
        if let Ok(mut m) = self.inner.shops.write() {
            let (content, _, stock) = m.entry(shop.to_string()).or_default();
            *content += 1;
            *stock += 1;
        }
    }

    /// Marks the shop's content changed by an order this process placed (not its stock
    /// version: the caller lowers the kept stock of what it took, `for_sale_cache::taken`).
    pub fn bump_ordered(&self, shop: &str) {
        if let Ok(mut m) = self.inner.shops.write() {
            m.entry(shop.to_string()).or_default().0 += 1;
        }
    }

    /// Marks every shop changed in this process.
    pub fn bump_all(&self) {
        self.inner.epoch.fetch_add(1, Ordering::AcqRel);
    }

    /// The payload announcing a change of `shop` from this process.
    fn payload(&self, shop: &str) -> String {
        format!("{} {shop}", self.inner.node)
    }

    /// This process's name in the notifications it sends.
    pub(crate) fn node(&self) -> &str {
        &self.inner.node
    }

    /// The payload announcing a change of `shop`'s stock from this process.
    pub(crate) fn stock_payload(&self, shop: &str) -> String {
        format!("{} {shop} {STOCK}", self.inner.node)
    }

    /// Applies a change announced on the channel, unless this process sent it:
    /// `node shop` (anything) or `node shop stock` (stock only). A kind this process does not
    /// know counts as anything (the safe side: both versions move).
    pub fn apply_notification(&self, payload: &str) {
        let mut words = payload.split(' ');
        match (words.next(), words.next(), words.next()) {
            (Some(node), _, _) if node == self.inner.node => {}
            (Some(_), Some(shop), Some(STOCK)) => self.bump_stock(shop),
            (Some(_), Some(shop), _) => self.bump(shop),
            _ => self.bump(payload),
        }
    }
}

/// Announces that a shop's stock changed (an order cancelled): here at once, and to the
/// other processes on PostgreSQL.
pub async fn stock_changed(db: &Db, shop: &ShopId) {
    db.versions().bump_stock(shop.as_str());
    announce(db, db.versions().stock_payload(shop.as_str())).await;
}

/// Tells the other processes (PostgreSQL) of a change (`payload` as the listeners read it).
async fn announce(db: &Db, payload: String) {
    if db.backend() == Backend::Postgres
        && let Err(e) = sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL.to_string())
            .bind(payload)
            .execute(db.write())
            .await
    {
        tracing::warn!(error = %e, "NOTIFY of a shop change failed");
    }
}

/// Bumps a shop's version when made and when dropped (see the module comment).
#[derive(Debug)]
pub struct ChangeGuard {
    db: Db,
    shop: ShopId,
}

impl ChangeGuard {
    pub fn new(db: &Db, shop: &ShopId) -> Self {
        db.versions().bump(shop.as_str());
        ChangeGuard {
            db: db.clone(),
            shop: shop.clone(),
        }
    }
}

impl Drop for ChangeGuard {
    fn drop(&mut self) {
        self.db.versions().bump(self.shop.as_str());
        if self.db.backend() == Backend::Postgres
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            let db = self.db.clone();
            let payload = db.versions().payload(self.shop.as_str());
            rt.spawn(async move { announce(&db, payload).await });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bumps_move_versions() {
        let v = Versions::default();
        let a0 = v.current("a");
        let b0 = v.current("b");
        v.bump("a");
        assert_ne!(v.current("a"), a0);
        assert_eq!(v.current("b"), b0);
        v.bump_all();
        assert_ne!(v.current("b"), b0);
        // Notifications from other processes bump; this process's own echo does not.
        let b1 = v.current("b");
        v.apply_notification(&v.payload("b"));
        assert_eq!(v.current("b"), b1);
        v.apply_notification("othernode b");
        assert_ne!(v.current("b"), b1);
    }

    #[test]
    fn stock_changes_leave_settings_alone() {
        let v = Versions::default();
        let (c0, s0) = (v.current("a"), v.settings("a"));
        v.bump_stock("a");
        assert_ne!(v.current("a"), c0);
        assert_eq!(v.settings("a"), s0);
        let c1 = v.current("a");
        v.bump("a");
        assert_ne!(v.current("a"), c1);
        assert_ne!(v.settings("a"), s0);
        // Announced by another process: `node shop stock` moves content only, `node shop` both.
        let (c2, s2) = (v.current("a"), v.settings("a"));
        v.apply_notification("othernode a stock");
        assert_ne!(v.current("a"), c2);
        assert_eq!(v.settings("a"), s2);
        v.apply_notification("othernode a");
        assert_ne!(v.settings("a"), s2);
        // A kind it does not know moves both versions of the shop named (not of "a other").
        let (c4, s4) = (v.current("a"), v.settings("a"));
        v.apply_notification("othernode a other");
        assert_ne!(v.settings("a"), s4);
        assert_ne!(v.current("a"), c4);
        // This process's own stock announcement is ignored like any other.
        let (c3, s3) = (v.current("a"), v.settings("a"));
        v.apply_notification(&v.stock_payload("a"));
        assert_eq!((v.current("a"), v.settings("a")), (c3, s3));
        v.bump_all();
        assert_ne!(v.settings("a"), s3);
    }

    #[test]
    fn the_stock_version_moves_with_stock_but_not_with_orders_placed_here() {
        let v = Versions::default();
        let (c0, s0, k0) = (v.current("a"), v.settings("a"), v.stock("a"));
        v.bump_ordered("a");
        assert_ne!(v.current("a"), c0);
        assert_eq!((v.settings("a"), v.stock("a")), (s0, k0));
        v.bump_stock("a");
        assert_ne!(v.stock("a"), k0);
        assert_eq!(v.settings("a"), s0);
        let k1 = v.stock("a");
        v.apply_notification("othernode a stock");
        assert_ne!(v.stock("a"), k1);
        let k2 = v.stock("a");
        v.bump("a");
        assert_ne!(v.stock("a"), k2);
        let k3 = v.stock("a");
        v.bump_all();
        assert_ne!(v.stock("a"), k3);
    }
}
