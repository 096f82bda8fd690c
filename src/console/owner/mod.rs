//! The shop owner's side of the console: the list of one's shops ([`home`]), and, for one
//! shop, reached through the [`ShopCx`] extractor (membership checked by
//! `shops::authorize`), the onboarding wizard, products, orders and settings.

pub mod home;

use std::collections::HashMap;

use axum::{
    Router,
    extract::{DefaultBodyLimit, FromRequestParts, Path},
    http::request::Parts,
    response::Response,
    routing::get,
};
use choso_services::{MemberRole, ShopId, ShopScope, shops, shops::Shop};

use super::ctx::Signed;
use crate::server::AppState;

/// The owner routes, relative to `/console`.
pub fn routes(_uploads: DefaultBodyLimit, _imports: DefaultBodyLimit) -> Router<AppState> {
    Router::new().route("/", get(home::home))
}

/// A signed-in member's request about the shop in the path (`{shop}`): the checked scope
/// and the shop. A shop that does not exist answers 404, one of someone else's 403.
pub struct ShopCx {
    pub s: Signed,
    pub scope: ShopScope,
    pub shop: Shop,
}

impl std::ops::Deref for ShopCx {
    type Target = Signed;
    fn deref(&self) -> &Signed {
        &self.s
    }
}

impl FromRequestParts<AppState> for ShopCx {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<ShopCx, Response> {
        let s = Signed::from_request_parts(parts, st).await?;
        let id = Path::<HashMap<String, String>>::from_request_parts(parts, st)
            .await
            .ok()
            .and_then(|p| p.0.get("shop").cloned())
            .unwrap_or_default();
        let id = ShopId::new(id);
        let scope = match shops::authorize(&st.db, &s.user, &id, MemberRole::Staff).await {
            Ok(sc) => sc,
            Err(e) => return Err(s.fail(e)),
        };
        match shops::get(&st.db, &id).await {
            Ok(Some(shop)) => Ok(ShopCx { s, scope, shop }),
            Ok(None) => Err(s.fail(choso_services::Error::NotFound("shop"))),
            Err(e) => Err(s.fail(e)),
        }
    }
}
