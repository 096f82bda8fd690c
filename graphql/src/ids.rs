//! GraphQL ids of tenant objects carry their shop: `"{shopId}:{localId}"`. A mutation given
//! only a product, variant or order id can therefore authorize against the shop before it
//! reads anything, and no query loads tenant data by id alone.

use choso_services::{Error, ShopId};

/// The GraphQL id of a tenant object.
pub fn gid(shop: &ShopId, local: &str) -> String {
    format!("{}:{}", shop.as_str(), local)
}

/// Splits a tenant object id; a malformed one is "not found".
pub fn split(id: &str, what: &'static str) -> Result<(ShopId, String), Error> {
    let (shop, local) = id.split_once(':').ok_or(Error::NotFound(what))?;
    let ok =
        |s: &str| !s.is_empty() && s.len() <= 64 && s.chars().all(|c| c.is_ascii_alphanumeric());
    if !ok(shop) || !ok(local) {
        return Err(Error::NotFound(what));
    }
    Ok((ShopId::new(shop), local.to_string()))
}
