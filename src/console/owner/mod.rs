//! The shop owner's side of the console: the list of one's shops ([`home`]), and, for one
//! shop, reached through the [`ShopCx`] extractor (membership checked by
//! `shops::authorize`), the onboarding wizard, products, orders and settings.

pub mod home;
pub mod orders;
pub mod products;
pub mod settings;
pub mod wizard;

use std::collections::HashMap;

use axum::{
    Router,
    extract::{DefaultBodyLimit, FromRequestParts, Path},
    http::request::Parts,
    response::Response,
    routing::{get, post},
};
use choso_services::{MemberRole, ShopId, ShopScope, shops, shops::Shop};
use serde_json::{Value, json};

use super::ctx::Signed;
use crate::server::AppState;

/// The owner routes, relative to `/console`.
pub fn routes(uploads: DefaultBodyLimit, imports: DefaultBodyLimit) -> Router<AppState> {
    Router::new()
        .route("/", get(home::home))
        .route("/shops/new", get(wizard::new_form).post(wizard::create))
        .route("/shops/{shop}", get(wizard::overview))
        .route("/shops/{shop}/setup", get(wizard::resume))
        .route(
            "/shops/{shop}/setup/shop",
            get(wizard::shop_form).post(wizard::shop_save),
        )
        .route(
            "/shops/{shop}/setup/theme",
            get(wizard::theme_form).post(wizard::theme_save),
        )
        .route(
            "/shops/{shop}/setup/product",
            get(wizard::product_form)
                .post(wizard::product_save)
                .layer(uploads),
        )
        .route(
            "/shops/{shop}/setup/payments",
            get(wizard::payments_form).post(wizard::payments_save),
        )
        .route(
            "/shops/{shop}/setup/publish",
            get(wizard::publish_form).post(wizard::publish),
        )
        .route("/shops/{shop}/products", get(products::list))
        .route(
            "/shops/{shop}/products/new",
            get(products::new_form)
                .post(products::create)
                .layer(uploads),
        )
        .route(
            "/shops/{shop}/products/import",
            get(products::import_form)
                .post(products::import)
                .layer(imports),
        )
        .route(
            "/shops/{shop}/products/{product}",
            get(products::edit_form).post(products::save).layer(uploads),
        )
        .route(
            "/shops/{shop}/products/{product}/archive",
            post(products::archive),
        )
        .route("/shops/{shop}/orders", get(orders::inbox))
        .route("/shops/{shop}/orders/live", get(orders::live))
        .route("/shops/{shop}/orders/{order}", get(orders::detail))
        .route("/shops/{shop}/orders/{order}/status", post(orders::status))
        .route("/shops/{shop}/orders/{order}/paid", post(orders::paid))
        .route(
            "/shops/{shop}/settings",
            get(settings::form).post(settings::save),
        )
        .route("/shops/{shop}/members", post(settings::add_member))
        .route(
            "/shops/{shop}/members/remove",
            post(settings::remove_member),
        )
        .route("/shops/{shop}/domains", post(settings::add_domain))
        .route(
            "/shops/{shop}/domains/remove",
            post(settings::remove_domain),
        )
}

/// The shop as templates see it (`shop.*`).
pub fn shop_json(shop: &Shop) -> Value {
    json!({
        "id": shop.id, "name": shop.name, "slug": shop.slug, "description": shop.description,
        "phone": shop.phone.as_deref().map(|p| p.replacen("+84", "0", 1)), "email": shop.email,
        "address_line": shop.address_line, "ward": shop.ward, "province_code": shop.province_code,
        "theme": shop.theme, "theme_chosen": shop.theme_chosen, "published": shop.published,
        "cod_enabled": shop.cod_enabled, "bank_bin": shop.bank_bin,
        "bank_account_number": shop.bank_account_number, "bank_account_name": shop.bank_account_name,
        "stripe_account_id": shop.stripe_account_id, "hero_text": shop.hero_text,
        "primary_color": shop.primary_color, "accent_color": shop.accent_color,
        "language": shop.language, "shipping_fee": shop.shipping_fee,
        "free_shipping_over": shop.free_shipping_over,
        "storefront": format!("/s/{}/", shop.slug),
        "base": format!("/console/shops/{}", shop.id),
    })
}

/// Province choices as `[code, name]` pairs.
pub fn province_options() -> Vec<(String, String)> {
    choso_services::provinces::all()
        .iter()
        .map(|p| (p.code.clone(), p.name.clone()))
        .collect()
}

/// An amount as owners type it: `150000`, or grouped the Vietnamese way `150.000` /
/// `150 000` / `150.000 ₫`, which becomes `150000` for the services' parser; anything else
/// is passed on unchanged for the service to judge.
pub fn money_input(s: &str) -> String {
    let t = s.trim().trim_end_matches('₫').trim_end_matches('đ').trim();
    let groups: Vec<&str> = t.split(['.', ' ', '\u{a0}']).collect();
    let grouped = groups.len() > 1
        && groups[0].len() <= 3
        && !groups[0].is_empty()
        && groups.iter().all(|g| g.bytes().all(|b| b.is_ascii_digit()))
        && groups[1..].iter().all(|g| g.len() == 3);
    if grouped {
        groups.concat()
    } else {
        t.to_string()
    }
}

impl ShopCx {
    /// `extra` plus `shop` (and `is_owner`).
    pub fn with_shop(&self, extra: Value) -> Value {
        let mut v = extra;
        if let Some(o) = v.as_object_mut() {
            o.insert("shop".into(), shop_json(&self.shop));
            o.insert(
                "is_owner".into(),
                Value::Bool(self.scope.role() == MemberRole::Owner),
            );
        }
        v
    }

    /// A shop page (200).
    pub fn show(&self, template: &str, extra: Value) -> Response {
        self.page(template, self.with_shop(extra))
    }

    /// A refused form of a shop page.
    pub fn refused(&self, template: &str, extra: Value, e: choso_services::Error) -> Response {
        crate::console::form::refused(self, template, self.with_shop(extra), e)
    }

    /// A form refused by a check of the handler.
    pub fn rerender(
        &self,
        template: &str,
        extra: Value,
        errors: &crate::console::form::FormErrors,
    ) -> Response {
        crate::console::form::rerender(self, template, self.with_shop(extra), errors)
    }

    /// This shop's console address plus `rest`.
    pub fn link(&self, rest: &str) -> String {
        format!("/console/shops/{}{rest}", self.shop.id)
    }
}

/// A signed-in member's request about the shop in the path (`{shop}`): the checked scope
/// and the shop. A shop that does not exist answers 404, one of someone else's 403.
pub struct ShopCx {
    pub s: Signed,
    pub scope: ShopScope,
    pub shop: Shop,
}

impl std::ops::Deref for ShopCx {
    type Target = crate::console::ctx::Ctx;
    fn deref(&self) -> &crate::console::ctx::Ctx {
        &self.s.cx
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

#[cfg(test)]
mod tests {
    #[test]
    fn money_as_typed() {
        use super::money_input;
        assert_eq!(money_input("150000"), "150000");
        assert_eq!(money_input("150.000"), "150000");
        assert_eq!(money_input("1.250.000 ₫"), "1250000");
        assert_eq!(money_input("150 000"), "150000");
        assert_eq!(money_input("150.5"), "150.5");
        assert_eq!(money_input("1500.000"), "1500.000");
        assert_eq!(money_input("abc"), "abc");
    }
}
