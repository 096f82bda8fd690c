//! The onboarding wizard: shop (name with its slug and address as typed, province, contact)
//! → theme (live previews of the three themes with the shop's own name and products) →
//! first product (photo, price, stock) → payments (cash on delivery, VietQR with a test
//! code, Stripe) → checklist and publish. Nothing is kept in the session: every step reads
//! the shop and `shops::onboarding`, so the owner can leave at any step and `/setup` resumes
//! at the first one not done.

use axum::response::Response;
use choso_services::{
    Error, banks,
    catalog::{self, ImageInput, ProductInput, VariantInput},
    shops::{self, NewShop, PaymentsUpdate, ShopUpdate},
    text::format_vnd,
    uploads, vietqr,
};
use serde_json::{Value, json};

use super::{ShopCx, money_input, province_options};
use crate::console::{
    ctx::Signed,
    form::{FormErrors, Posted, refused},
};

/// The wizard's steps, with what is done (from the shop and its checklist).
async fn steps(cx: &ShopCx) -> Result<(Value, Option<&'static str>), Error> {
    let ob = shops::onboarding(&cx.st.db, &cx.shop).await?;
    let done = |k: &str| ob.steps.iter().any(|s| s.key == k && s.done);
    let list = [
        ("shop", done("contact")),
        ("theme", done("theme")),
        ("product", done("product")),
        ("payments", done("payment")),
        ("publish", cx.shop.published),
    ];
    let first_todo = list.iter().find(|(_, d)| !d).map(|(k, _)| *k);
    let checklist: Vec<Value> = ob
        .steps
        .iter()
        .map(|s| {
            let step = if s.key == "contact" {
                "shop"
            } else if s.key == "payment" {
                "payments"
            } else {
                s.key
            };
            json!({ "key": s.key, "step": step, "done": s.done })
        })
        .collect();
    Ok((
        json!({ "steps": list.iter().map(|(k, d)| json!({ "key": k, "done": d })).collect::<Vec<_>>(),
                "checklist": checklist, "ready": ob.ready }),
        first_todo,
    ))
}

async fn step_page(cx: &ShopCx, step: &str, template: &str, extra: Value) -> Response {
    let (wizard, _) = match steps(cx).await {
        Ok(s) => s,
        Err(e) => return cx.fail(e),
    };
    let mut v = extra;
    if let Some(o) = v.as_object_mut() {
        o.insert("wizard".into(), wizard);
        o.insert("step".into(), Value::String(step.into()));
        o.entry("errors").or_insert(json!({}));
    }
    cx.show(template, v)
}

async fn step_refused(cx: &ShopCx, step: &str, template: &str, extra: Value, e: Error) -> Response {
    let (wizard, _) = match steps(cx).await {
        Ok(s) => s,
        Err(e) => return cx.fail(e),
    };
    let mut v = extra;
    if let Some(o) = v.as_object_mut() {
        o.insert("wizard".into(), wizard);
        o.insert("step".into(), Value::String(step.into()));
    }
    cx.refused(template, v, e)
}

/// `/console/shops/{id}`: the wizard until the shop is published, then the order inbox.
pub async fn overview(cx: ShopCx) -> Response {
    if cx.shop.published {
        cx.redirect(&cx.link("/orders"))
    } else {
        cx.redirect(&cx.link("/setup"))
    }
}

/// `/setup`: back to the first step not done.
pub async fn resume(cx: ShopCx) -> Response {
    match steps(&cx).await {
        Ok((_, Some(step))) => cx.redirect(&cx.link(&format!("/setup/{step}"))),
        Ok((_, None)) => cx.redirect(&cx.link("/setup/publish")),
        Err(e) => cx.fail(e),
    }
}

// ------------------------------------------------------------------ step 1: the shop

pub async fn new_form(s: Signed) -> Response {
    s.page(
        "owner/shop_new.html",
        json!({ "form": { "email": s.user.email }, "errors": {}, "provinces": province_options(), "base_url": &*s.st.base_url }),
    )
}

pub async fn create(s: Signed, f: Posted) -> Response {
    let input = NewShop {
        name: f.get("name").to_string(),
        slug: f.opt("slug"),
        theme: None,
        province_code: f.opt("provinceCode"),
        phone: f.opt("phone"),
        email: f.opt("email"),
    };
    let extra = |errors: Option<&FormErrors>| {
        let mut v = json!({ "form": f.values(), "provinces": province_options(), "base_url": &*s.st.base_url });
        if let Some(e) = errors {
            v["errors"] = e.to_value();
        }
        v
    };
    match shops::create_shop(&s.st.db, &s.user, input).await {
        Ok(shop) => s.redirect(&format!("/console/shops/{}/setup/theme", shop.id)),
        Err(Error::Invalid(errs)) => {
            let mut errors = FormErrors::from_user_errors(&s, &errs);
            if errs.iter().any(|u| u.code == "SLUG_TAKEN") {
                let wanted = f
                    .opt("slug")
                    .unwrap_or_else(|| choso_services::text::slugify(f.get("name")));
                match shops::suggest_slug(&s.st.db, &wanted).await {
                    Ok(free) => {
                        errors.0.insert(
                            "slug".into(),
                            s.text("wizard.slug_taken")
                                .unwrap_or_default()
                                .replace("{slug}", &wanted)
                                .replace("{free}", &free),
                        );
                        let mut v = extra(Some(&errors));
                        v["suggestion"] = Value::String(free);
                        return crate::console::form::rerender(
                            &s,
                            "owner/shop_new.html",
                            v,
                            &errors,
                        );
                    }
                    Err(e) => return s.fail(e),
                }
            }
            crate::console::form::rerender(&s, "owner/shop_new.html", extra(None), &errors)
        }
        Err(e) => refused(&s, "owner/shop_new.html", extra(None), e),
    }
}

pub async fn shop_form(cx: ShopCx) -> Response {
    let sh = &cx.shop;
    let form = json!({ "name": sh.name, "provinceCode": sh.province_code, "phone": sh.phone.as_deref().map(|p| p.replacen("+84", "0", 1)),
        "email": sh.email, "addressLine": sh.address_line, "ward": sh.ward });
    step_page(
        &cx,
        "shop",
        "owner/setup_shop.html",
        json!({ "form": form, "provinces": province_options() }),
    )
    .await
}

pub async fn shop_save(cx: ShopCx, f: Posted) -> Response {
    let upd = ShopUpdate {
        name: Some(f.get("name").to_string()),
        phone: Some(f.get("phone").to_string()),
        email: Some(f.get("email").to_string()),
        address_line: Some(f.get("addressLine").to_string()),
        ward: Some(f.get("ward").to_string()),
        province_code: Some(f.get("provinceCode").to_string()),
        ..Default::default()
    };
    match shops::update_shop(&cx.st.db, &cx.scope, upd).await {
        Ok(_) => cx.redirect(&cx.link("/setup/theme")),
        Err(e) => {
            step_refused(
                &cx,
                "shop",
                "owner/setup_shop.html",
                json!({ "form": f.values(), "provinces": province_options() }),
                e,
            )
            .await
        }
    }
}

// ------------------------------------------------------------------ step 2: the theme

pub async fn theme_form(cx: ShopCx) -> Response {
    let themes: Vec<Value> = shops::THEMES
        .iter()
        .map(|t| {
            let title = cx
                .st
                .themes
                .get(t)
                .map(|th| th.title.clone())
                .unwrap_or_else(|| t.to_string());
            json!({ "name": t, "title": title, "preview": format!("/s/{}/?theme={t}", cx.shop.slug) })
        })
        .collect();
    step_page(
        &cx,
        "theme",
        "owner/setup_theme.html",
        json!({ "themes": themes, "form": { "theme": cx.shop.theme } }),
    )
    .await
}

pub async fn theme_save(cx: ShopCx, f: Posted) -> Response {
    let upd = ShopUpdate {
        theme: Some(f.get("theme").to_string()),
        ..Default::default()
    };
    match shops::update_shop(&cx.st.db, &cx.scope, upd).await {
        Ok(_) => cx.redirect(&cx.link("/setup/product")),
        Err(e) => {
            step_refused(
                &cx,
                "theme",
                "owner/setup_theme.html",
                json!({ "themes": [], "form": f.values() }),
                e,
            )
            .await
        }
    }
}

// ------------------------------------------------------------------ step 3: first product

pub async fn product_form(cx: ShopCx) -> Response {
    step_page(
        &cx,
        "product",
        "owner/setup_product.html",
        json!({ "form": { "variants.0.stock": "10" } }),
    )
    .await
}

/// Stores an uploaded photo; errors are reported against `field`.
pub async fn store_photo(cx: &ShopCx, f: &Posted, field: &str) -> Result<Option<String>, Error> {
    match f.file(field) {
        Some(file) => {
            match uploads::store(&cx.st.db, &cx.scope, &cx.st.config.data_dir, &file.bytes).await {
                Ok(u) => Ok(Some(u.url)),
                Err(Error::Invalid(mut errs)) => {
                    for u in &mut errs {
                        u.field = vec![field.to_string()];
                    }
                    Err(Error::Invalid(errs))
                }
                Err(e) => Err(e),
            }
        }
        None => Ok(None),
    }
}

/// A whole number of units typed in a stock field, or a user error for `field`.
pub fn parse_stock(v: &str, field: &str) -> Result<i64, choso_services::UserError> {
    let t = v.trim().replace(['.', ' '], "");
    t.parse::<i64>()
        .ok()
        .filter(|n| (0..=catalog::MAX_STOCK).contains(n))
        .ok_or_else(|| {
            choso_services::UserError::new(
                &[field],
                "INVALID_STOCK",
                "Stock is a whole number, 0 or more.",
            )
        })
}

pub async fn product_save(cx: ShopCx, f: Posted) -> Response {
    let extra = json!({ "form": f.values() });
    let stock = match parse_stock(f.get("variants.0.stock"), "variants.0.stock") {
        Ok(n) => n,
        Err(u) => {
            return step_refused(
                &cx,
                "product",
                "owner/setup_product.html",
                extra,
                Error::Invalid(vec![u]),
            )
            .await;
        }
    };
    let photo = match store_photo(&cx, &f, "photo").await {
        Ok(p) => p,
        Err(e) => return step_refused(&cx, "product", "owner/setup_product.html", extra, e).await,
    };
    let input = ProductInput {
        title: f.get("title").to_string(),
        description: f.opt("description"),
        handle: None,
        published: Some(true),
        option_names: None,
        variants: vec![VariantInput {
            title: None,
            sku: None,
            price: money_input(f.get("variants.0.price")),
            compare_at_price: None,
            stock,
            track_inventory: Some(true),
            options: None,
        }],
        images: photo.map(|url| {
            vec![ImageInput {
                url,
                alt: Some(f.get("title").to_string()),
            }]
        }),
    };
    match catalog::create_product(&cx.st.db, &cx.scope, input).await {
        Ok(_) => cx.redirect(&cx.link("/setup/payments")),
        Err(e) => step_refused(&cx, "product", "owner/setup_product.html", extra, e).await,
    }
}

// ------------------------------------------------------------------ step 4: payments

fn bank_options() -> Vec<(String, String)> {
    banks::all()
        .iter()
        .map(|b| (b.bin.to_string(), format!("{} – {}", b.short_name, b.name)))
        .collect()
}

/// A test VietQR code of 10.000 ₫ to the shop's account, as inline SVG.
fn test_qr(shop: &shops::Shop) -> Option<Value> {
    let (Some(bin), Some(account)) = (&shop.bank_bin, &shop.bank_account_number) else {
        return None;
    };
    let payload = vietqr::encode(&vietqr::Transfer {
        bin: bin.clone(),
        account: account.clone(),
        amount: Some(10_000),
        purpose: Some("CHOSO TEST".into()),
    })
    .ok()?;
    let svg = crate::storefront::pages::qr_svg(&payload)?;
    Some(
        json!({ "svg": svg, "amount": format_vnd(10_000), "bank": banks::by_bin(bin).map(|b| b.short_name),
                 "account": account, "name": shop.bank_account_name }),
    )
}

fn payments_values(shop: &shops::Shop) -> Value {
    json!({ "cod": if shop.cod_enabled { "on" } else { "" }, "bankBin": shop.bank_bin,
            "bankAccountNumber": shop.bank_account_number, "bankAccountName": shop.bank_account_name,
            "stripeAccountId": shop.stripe_account_id })
}

pub async fn payments_form(cx: ShopCx) -> Response {
    let qr = test_qr(&cx.shop);
    step_page(
        &cx,
        "payments",
        "owner/setup_payments.html",
        json!({ "form": payments_values(&cx.shop), "banks": bank_options(), "qr": qr }),
    )
    .await
}

/// Saves the payment methods form (the wizard's step and the settings page).
pub async fn save_payments(cx: &ShopCx, f: &Posted) -> Result<shops::Shop, Error> {
    let upd = PaymentsUpdate {
        cod: Some(f.checked("cod")),
        bank_bin: Some(f.get("bankBin").to_string()),
        bank_account_number: Some(f.get("bankAccountNumber").to_string()),
        bank_account_name: Some(f.get("bankAccountName").to_string()),
        stripe_account_id: Some(f.get("stripeAccountId").to_string()),
    };
    shops::update_payments(&cx.st.db, &cx.scope, upd).await
}

pub async fn payments_save(cx: ShopCx, f: Posted) -> Response {
    match save_payments(&cx, &f).await {
        Ok(shop) if f.get("then") == "stay" || (shop.bank_enabled() && f.get("then") == "qr") => {
            cx.redirect(&cx.link("/setup/payments"))
        }
        Ok(_) => cx.redirect(&cx.link("/setup/publish")),
        Err(e) => {
            step_refused(
                &cx,
                "payments",
                "owner/setup_payments.html",
                json!({ "form": f.values(), "banks": bank_options(), "qr": test_qr(&cx.shop) }),
                e,
            )
            .await
        }
    }
}

// ------------------------------------------------------------------ step 5: publish

pub async fn publish_form(cx: ShopCx) -> Response {
    step_page(&cx, "publish", "owner/setup_publish.html", json!({})).await
}

pub async fn publish(cx: ShopCx, _f: Posted) -> Response {
    match shops::publish(&cx.st.db, &cx.scope).await {
        Ok(_) => cx.redirect(&cx.link("/orders?published=1")),
        Err(e) => step_refused(&cx, "publish", "owner/setup_publish.html", json!({}), e).await,
    }
}
