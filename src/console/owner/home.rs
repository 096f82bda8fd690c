//! `/console`: the signed-in user's shops with their state and a link to create one.

use axum::response::Response;
use choso_services::shops;
use serde_json::json;

use crate::console::ctx::Signed;

pub async fn home(s: Signed) -> Response {
    if choso_services::support::require_staff(&s.user).is_ok() {
        return s.redirect("/console/province");
    }
    let list = match shops::for_user(&s.st.db, &s.user.id).await {
        Ok(l) => l,
        Err(e) => return s.fail(e),
    };
    let shops: Vec<_> = list
        .iter()
        .map(|(shop, role)| {
            json!({ "id": shop.id, "name": shop.name, "slug": shop.slug, "published": shop.published,
                    "role": role.as_str(), "url": format!("/s/{}/", shop.slug) })
        })
        .collect();
    s.page("owner/home.html", json!({ "shops": shops }))
}
