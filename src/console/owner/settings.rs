//! Shop settings (owners): the storefront's texts, colours, shipping and language, payment
//! methods (the wizard's form), members (add by email, remove) and custom domains — all
//! through `shops`.

use axum::response::Response;
use choso_services::{
    Error, MemberRole,
    shops::{self, ShopUpdate},
};
use serde_json::{Value, json};

use super::{ShopCx, money_input, province_options, wizard::save_payments};
use crate::console::form::{FormErrors, Posted};

fn settings_values(cx: &ShopCx) -> Value {
    let s = &cx.shop;
    json!({ "name": s.name, "description": s.description, "heroText": s.hero_text, "primaryColor": s.primary_color,
            "accentColor": s.accent_color, "shippingFee": s.shipping_fee.to_string(),
            "freeShippingOver": s.free_shipping_over.map(|v| v.to_string()), "language": s.language,
            "phone": s.phone.as_deref().map(|p| p.replacen("+84", "0", 1)), "email": s.email,
            "addressLine": s.address_line, "ward": s.ward, "provinceCode": s.province_code })
}

fn payments_values(cx: &ShopCx) -> Value {
    let s = &cx.shop;
    json!({ "cod": if s.cod_enabled { "on" } else { "" }, "bankBin": s.bank_bin,
            "bankAccountNumber": s.bank_account_number, "bankAccountName": s.bank_account_name,
            "stripeAccountId": s.stripe_account_id })
}

fn bank_options() -> Vec<(String, String)> {
    choso_services::banks::all()
        .iter()
        .map(|b| (b.bin.to_string(), format!("{} – {}", b.short_name, b.name)))
        .collect()
}

/// The settings page, with the given values and errors of the form that was posted.
async fn page(cx: &ShopCx, which: &str, values: Option<Value>, errors: &FormErrors) -> Response {
    let members = match shops::members(&cx.st.db, &cx.scope).await {
        Ok(m) => m,
        Err(e) => return cx.fail(e),
    };
    let domains = match shops::domains(&cx.st.db, &cx.shop.id).await {
        Ok(d) => d,
        Err(e) => return cx.fail(e),
    };
    let members: Vec<Value> = members
        .iter()
        .map(|m| json!({ "user_id": m.user_id, "email": m.email, "full_name": m.full_name, "role": m.role.as_str(),
                         "me": m.user_id == cx.s.user.id }))
        .collect();
    let empty = json!({});
    let pick = |name: &str, default: Value| {
        if which == name {
            values.clone().unwrap_or(default)
        } else {
            default
        }
    };
    let err = |name: &str| {
        if which == name {
            errors.to_value()
        } else {
            empty.clone()
        }
    };
    let status = if errors.is_empty() {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::UNPROCESSABLE_ENTITY
    };
    cx.render(
        status,
        "owner/settings.html",
        cx.with_shop(json!({
            "form": pick("settings", settings_values(cx)), "errors": err("settings"),
            "pay_form": pick("payments", payments_values(cx)), "pay_errors": err("payments"),
            "member_form": pick("members", json!({})), "member_errors": err("members"),
            "domain_form": pick("domains", json!({})), "domain_errors": err("domains"),
            "members": members, "domains": domains, "banks": bank_options(), "provinces": province_options(),
            "languages": [["vi", "Tiếng Việt"], ["en", "English"]],
        })),
    )
}

pub async fn form(cx: ShopCx) -> Response {
    page(&cx, "", None, &FormErrors::new()).await
}

async fn done(cx: &ShopCx, which: &str, f: &Posted, r: Result<(), Error>) -> Response {
    match r {
        Ok(()) => cx.redirect(&cx.link(&format!("/settings?saved={which}#{which}"))),
        Err(Error::Invalid(errs)) => {
            let mut errors = FormErrors::from_user_errors(cx, &errs);
            if let Some(m) = errors.0.remove("userId") {
                errors.add("_form", m);
            }
            page(cx, which, Some(f.values()), &errors).await
        }
        Err(e) => cx.fail(e),
    }
}

pub async fn save(cx: ShopCx, f: Posted) -> Response {
    if f.get("form") == "payments" {
        let r = save_payments(&cx, &f).await.map(|_| ());
        return done(&cx, "payments", &f, r).await;
    }
    let upd = ShopUpdate {
        name: Some(f.get("name").to_string()),
        description: Some(f.get("description").to_string()),
        hero_text: Some(f.get("heroText").to_string()),
        primary_color: Some(f.get("primaryColor").to_string()),
        accent_color: Some(f.get("accentColor").to_string()),
        shipping_fee: Some(money_input(f.get("shippingFee"))),
        free_shipping_over: Some(money_input(f.get("freeShippingOver"))),
        language: Some(f.get("language").to_string()),
        phone: Some(f.get("phone").to_string()),
        email: Some(f.get("email").to_string()),
        address_line: Some(f.get("addressLine").to_string()),
        ward: Some(f.get("ward").to_string()),
        province_code: Some(f.get("provinceCode").to_string()),
        ..Default::default()
    };
    let r = shops::update_shop(&cx.st.db, &cx.scope, upd)
        .await
        .map(|_| ());
    done(&cx, "settings", &f, r).await
}

pub async fn add_member(cx: ShopCx, f: Posted) -> Response {
    let role = MemberRole::parse(f.get("role")).unwrap_or(MemberRole::Staff);
    let r = shops::add_member(&cx.st.db, &cx.scope, f.get("email"), role)
        .await
        .map(|_| ());
    done(&cx, "members", &f, r).await
}

pub async fn remove_member(cx: ShopCx, f: Posted) -> Response {
    let r = shops::remove_member(&cx.st.db, &cx.scope, f.get("user_id")).await;
    done(&cx, "members", &f, r).await
}

pub async fn add_domain(cx: ShopCx, f: Posted) -> Response {
    let r = shops::add_domain(&cx.st.db, &cx.scope, f.get("domain"))
        .await
        .map(|_| ());
    done(&cx, "domains", &f, r).await
}

pub async fn remove_domain(cx: ShopCx, f: Posted) -> Response {
    let r = shops::remove_domain(&cx.st.db, &cx.scope, f.get("domain"))
        .await
        .map(|_| ());
    done(&cx, "domains", &f, r).await
}
