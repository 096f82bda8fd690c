//! Shops by slug, kept in memory while their settings version is unchanged
//! (`crate::versions`): every storefront page, public GraphQL answer and order starts by
//! finding its shop by slug, and this answers that without a statement. Any member action on
//! the shop (which is how a shop row changes: settings, payments, publishing) moves that
//! version and so sends the next lookup back to the database; orders, which change only
//! stock, do not. On PostgreSQL other processes learn of it through `NOTIFY`, as the other
//! caches do.
//!
//! Slugs that name no shop are not kept (a shop may be created with one at any time).

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
};

use crate::{Db, Result, shops::Shop, versions::Version};

/// At most this many shops are kept; when full, the cache starts again empty.
const MAX_SHOPS: usize = 50_000;

/// The process's shops by slug (held by [`Db`]).
#[derive(Debug, Default)]
pub struct ShopCache {
    by_slug: RwLock<HashMap<String, (Version, Arc<Shop>)>>,
}

impl ShopCache {
    /// The kept entry for `slug`, whether or not it is still current.
    fn entry(&self, slug: &str) -> Option<(Version, Arc<Shop>)> {
        let m = self.by_slug.read().ok()?;
        m.get(slug).map(|(v, s)| (*v, s.clone()))
    }

    fn forget(&self, slug: &str) {
        if let Ok(mut m) = self.by_slug.write() {
            m.remove(slug);
        }
    }

    fn put(&self, slug: String, version: Version, shop: Arc<Shop>) {
        if let Ok(mut m) = self.by_slug.write() {
            if m.len() >= MAX_SHOPS {
                m.clear();
            }
            m.insert(slug, (version, shop));
        }
    }
}

/// The shop at `slug` (trimmed, lower-cased), from memory when its version is unchanged.
///
/// An entry is stored with the version read *before* the row it holds, so a change that
/// commits after that read always invalidates it. The first lookup of a slug does not know
/// the shop's id to take its version, so it reads the row twice (once for the id, once after
/// taking the version); later misses read it once.
pub async fn by_slug(db: &Db, slug: &str) -> Result<Option<Arc<Shop>>> {
    let slug = slug.trim().to_lowercase();
    let versions = db.versions();
    let known = db.shop_cache().entry(&slug);
    if let Some((v, shop)) = &known
        && versions.settings(shop.id.as_str()) == *v
    {
        return Ok(Some(shop.clone()));
    }
    let id = match known {
        Some((_, shop)) => shop.id.clone(),
        None => match crate::shops::by_slug(db, &slug).await? {
            Some(s) => s.id,
            None => return Ok(None),
        },
    };
    let version = versions.settings(id.as_str());
    let Some(shop) = crate::shops::by_slug(db, &slug).await? else {
        db.shop_cache().forget(&slug);
        return Ok(None);
    };
    let shop = Arc::new(shop);
    if shop.id == id {
        db.shop_cache().put(slug, version, shop.clone());
    } else {
        // Another shop took the slug: the next lookup starts afresh.
        db.shop_cache().forget(&slug);
    }
    Ok(Some(shop))
}
