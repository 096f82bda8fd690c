//! Data loaders: the variants and images of every product on a page are fetched with one
//! statement each, whatever the page size.

use std::{collections::HashMap, sync::Arc};

use async_graphql::dataloader::Loader;
use choso_services::{
    Db, ShopId,
    catalog::{self, Image, Variant},
};

/// Loads per-product children of the catalog.
pub struct CatalogLoader {
    pub db: Db,
}

/// (shop id, product id) → the product's variants.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct VariantsOf(pub ShopId, pub String);

/// (shop id, product id) → the product's images.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ImagesOf(pub ShopId, pub String);

fn by_shop<K: Clone>(
    keys: &[K],
    split: impl Fn(&K) -> (&ShopId, &String),
) -> HashMap<ShopId, Vec<String>> {
    let mut m: HashMap<ShopId, Vec<String>> = HashMap::new();
    for k in keys {
        let (s, p) = split(k);
        m.entry(s.clone()).or_default().push(p.clone());
    }
    m
}

impl Loader<VariantsOf> for CatalogLoader {
    type Value = Vec<Variant>;
    type Error = Arc<choso_services::Error>;

    async fn load(
        &self,
        keys: &[VariantsOf],
    ) -> Result<HashMap<VariantsOf, Self::Value>, Self::Error> {
        let mut out = HashMap::new();
        for (shop, ids) in by_shop(keys, |k| (&k.0, &k.1)) {
            let found = catalog::variants_for(&self.db, &shop, &ids)
                .await
                .map_err(Arc::new)?;
            for id in ids {
                let v = found.get(&id).cloned().unwrap_or_default();
                out.insert(VariantsOf(shop.clone(), id), v);
            }
        }
        Ok(out)
    }
}

impl Loader<ImagesOf> for CatalogLoader {
    type Value = Vec<Image>;
    type Error = Arc<choso_services::Error>;

    async fn load(&self, keys: &[ImagesOf]) -> Result<HashMap<ImagesOf, Self::Value>, Self::Error> {
        let mut out = HashMap::new();
        for (shop, ids) in by_shop(keys, |k| (&k.0, &k.1)) {
            let found = catalog::images_for(&self.db, &shop, &ids)
                .await
                .map_err(Arc::new)?;
            for id in ids {
                let v = found.get(&id).cloned().unwrap_or_default();
                out.insert(ImagesOf(shop.clone(), id), v);
            }
        }
        Ok(out)
    }
}
