//! Content versions of shops, for caches of public answers (GraphQL catalog reads, storefront
//! pages). A cached answer records the versions of the shops it read and is served only while
//! they are unchanged.
//!
//! A shop's version moves whenever its public content may have changed:
//! - around every member action: `shops::authorize` hands out a [`ShopScope`] holding a
//!   [`ChangeGuard`], which bumps the version when the scope is made and again when its last
//!   copy is dropped — after the service call it authorised has committed — so an answer
//!   computed during a write is never kept past it (reads by members bump too: harmless);
//! - after an order changes stock: placed (a bump after its commit; on PostgreSQL the
//!   announcement is a NOTIFY in the order's transaction, [`announce_in`]) or cancelled
//!   ([`changed`]).
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
    shops: RwLock<HashMap<String, u64>>,
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

impl Versions {
    /// The shop's current version.
    pub fn current(&self, shop: &str) -> Version {
        let epoch = self.inner.epoch.load(Ordering::Acquire);
        let n = self
            .inner
            .shops
            .read()
            .map(|m| m.get(shop).copied().unwrap_or(0))
            .unwrap_or(u64::MAX);
        (epoch, n)
    }

    /// Marks the shop changed in this process.
    pub fn bump(&self, shop: &str) {
        if let Ok(mut m) = self.inner.shops.write() {
            *m.entry(shop.to_string()).or_insert(0) += 1;
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

    /// Applies a change announced on the channel, unless this process sent it.
    pub fn apply_notification(&self, payload: &str) {
        match payload.split_once(' ') {
            Some((node, _)) if node == self.inner.node => {}
            Some((_, shop)) => self.bump(shop),
            None => self.bump(payload),
        }
    }
}

/// Announces that a shop's public content changed: here at once, and to the other processes
/// on PostgreSQL.
pub async fn changed(db: &Db, shop: &ShopId) {
    db.versions().bump(shop.as_str());
    announce(db, shop).await;
}

/// Adds to a transaction's batch the NOTIFY telling the other processes (PostgreSQL) that the
/// shop changed: sent if and when the transaction commits, without a round trip of its own.
/// The caller bumps this process's copy after the commit.
pub fn announce_in(db: &Db, shop: &ShopId, batch: &mut crate::sql_batch::Batch) {
    batch.push(
        "SELECT pg_notify($1, $2)",
        crate::args![CHANNEL, db.versions().payload(shop.as_str())],
    );
}

/// Tells the other processes (PostgreSQL) that a shop changed.
async fn announce(db: &Db, shop: &ShopId) {
    if db.backend() == Backend::Postgres
        && let Err(e) = sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL.to_string())
            .bind(db.versions().payload(shop.as_str()))
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
            let (db, shop) = (self.db.clone(), self.shop.clone());
            rt.spawn(async move { announce(&db, &shop).await });
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
}
