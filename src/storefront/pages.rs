//! Storefront page handlers: each gathers its data from the services, builds the theme
//! context described in `themes/CONTEXT.md`, and renders the shop's theme.

use std::{collections::HashMap, sync::Arc};

use axum::{
    Extension, Form,
    extract::{Path, Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Redirect, Response},
};
use choso_services::{
    Error, carts,
    catalog::{self, ProductQuery, Visibility},
    checkout, for_sale_cache,
    orders::{self, PaymentMethod, PlaceOrder},
    provinces,
    shops::Shop,
    text::format_vnd,
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    ShopCtx, messages, page_cache,
    security::{self, CART_COOKIE, SID_COOKIE},
    themes::Theme,
};
use crate::server::AppState;

/// A page being answered: the shop, its theme, the visitor.
struct Visit {
    st: AppState,
    cx: ShopCtx,
    theme: Arc<Theme>,
    sid: String,
    new_sid: bool,
    /// This shop's cart, from the visitor's cart cookie (empty without one).
    cart: carts::Items,
    /// A changed cart, written to the cart cookie with the answer.
    cart_out: Option<carts::Items>,
    nonce: String,
    /// Set when this page may be kept in the page cache: its key and the shop's content
    /// version read before any of its data.
    cache: Option<(String, choso_services::versions::Version)>,
}

impl Visit {
    fn new(st: &AppState, cx: ShopCtx, headers: &HeaderMap) -> Result<Visit, Box<Response>> {
        let theme = st
            .themes
            .get(cx.preview_theme.as_deref().unwrap_or(&cx.shop.theme))
            .or_else(|| st.themes.get("warm"))
            .ok_or_else(|| {
                (StatusCode::INTERNAL_SERVER_ERROR, "no theme is installed").into_response()
            })?;
        let existing = security::cookie(headers, SID_COOKIE)
            .and_then(|v| security::verify_sid(&st.secret, &v));
        let (sid, new_sid) = match existing {
            Some(s) => (s, false),
            None => (choso_services::ids::new_id(), true),
        };
        let cart = security::cookies(headers, CART_COOKIE)
            .find_map(|c| security::verify_cart(&st.secret, cx.shop.id.as_str(), &c))
            .and_then(|items| carts::Items::decode(&items))
            .unwrap_or_default();
        Ok(Visit {
            st: st.clone(),
            cx,
            theme,
            sid,
            new_sid,
            cart,
            cart_out: None,
            nonce: security::nonce(),
            cache: None,
        })
    }

    /// Answers from the page cache when it holds this page for the shop's current content;
    /// otherwise marks the page to be stored once rendered (`eligible`: no per-visit message).
    async fn cached_page(&mut self, page: &str, eligible: bool) -> Option<Response> {
        if !eligible || self.cx.preview_theme.is_some() || !self.st.themes.is_embedded() {
            return None;
        }
        let version = self.st.db.versions().current(self.cx.shop.id.as_str());
        let key = format!(
            "{}|{}|{}|{}|{page}",
            self.cx.shop.id,
            self.theme.name,
            self.lang(),
            self.cx.base
        );
        if let Some(html) = self.st.pages.get(&key, version) {
            return Some(self.answer(StatusCode::OK, &html).await);
        }
        self.cache = Some((key, version));
        None
    }

    /// A page rendered with the cache's marks, filled in for this visitor.
    async fn answer(&self, status: StatusCode, page: &page_cache::Page) -> Response {
        let html = page.fill(&self.nonce, &self.csrf(), self.cart.count());
        let mut resp = (status, Html(html)).into_response();
        self.finish(&mut resp);
        resp
    }

    fn lang(&self) -> &str {
        if self.cx.shop.language == "en" {
            "en"
        } else {
            "vi"
        }
    }

    fn link(&self, path: &str) -> String {
        format!("{}{}", self.cx.base, path)
    }

    fn absolute(&self, path: &str) -> String {
        format!("{}{}", self.shop_url(), path)
    }

    /// The shop's absolute base address.
    fn shop_url(&self) -> String {
        if self.cx.base.is_empty() {
            // On its own host the shop is at the root of whatever host was asked for; the
            // platform address is still a correct canonical fallback.
            format!("{}/s/{}", self.st.base_url, self.cx.shop.slug)
        } else {
            format!("{}{}", self.st.base_url, self.cx.base)
        }
    }

    fn csrf(&self) -> String {
        security::csrf_token(&self.st.secret, &self.sid)
    }

    async fn common(&self, canonical_path: &str, title: &str, description: &str) -> Value {
        let s = &self.cx.shop;
        let collections = catalog::collections(&self.st.db, &s.id)
            .await
            .unwrap_or_default();
        // A page for the cache holds marks where the visitor's values go.
        let marks = self.cache.as_ref().map(|_| self.st.pages.marks());
        let cart_count = match marks {
            Some(m) => json!(m.cart_count),
            None => json!(self.cart.count()),
        };
        let (nonce, csrf) = match marks {
            Some(m) => (m.nonce.clone(), m.csrf.clone()),
            None => (self.nonce.clone(), self.csrf()),
        };
        let address = [
            s.address_line.clone(),
            s.ward.clone(),
            s.province_code
                .as_deref()
                .and_then(provinces::get)
                .map(|p| p.name.clone()),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ");
        json!({
            "lang": self.lang(),
            "t": self.theme.locale(self.lang()),
            "nonce": nonce,
            "csrf": csrf,
            "canonical": self.absolute(canonical_path),
            "page_title": title,
            "meta_description": description,
            "og_image": s.banner_url.as_ref().or(s.logo_url.as_ref()).map(|u| self.abs_image(u)),
            "og_type": "website",
            "theme_css": self.theme.asset_urls.get("theme.css"),
            "asset_urls": self.theme.asset_urls,
            "shop": {
                "name": s.name, "slug": s.slug, "description": s.description,
                "phone": s.phone, "phone_local": s.phone.as_deref().map(|p| p.replacen("+84", "0", 1)),
                "email": s.email, "address": if address.is_empty() { None } else { Some(address) },
                "logo_url": s.logo_url, "banner_url": s.banner_url, "hero_text": s.hero_text,
                "primary_color": s.primary_color.clone().unwrap_or_else(|| self.theme.default_primary.clone()),
                "accent_color": s.accent_color.clone().unwrap_or_else(|| self.theme.default_accent.clone()),
                "base": self.cx.base, "url": self.shop_url(),
                "free_shipping_over": s.free_shipping_over.map(format_vnd),
                "shipping_fee": format_vnd(s.shipping_fee),
            },
            "collections": collections.iter().map(|c| json!({ "handle": c.handle, "title": c.title, "url": self.link(&format!("/collections/{}", c.handle)) })).collect::<Vec<_>>(),
            "cart_count": cart_count,
        })
    }

    fn abs_image(&self, url: &str) -> String {
        if url.starts_with('/') {
            format!("{}{url}", self.st.base_url)
        } else {
            url.to_string()
        }
    }

    /// Renders a template with the common context plus `extra`.
    async fn render(
        &self,
        status: StatusCode,
        template: &str,
        canonical: &str,
        title: &str,
        description: &str,
        extra: Value,
    ) -> Response {
        let mut ctx = self.common(canonical, title, description).await;
        if let (Some(base), Value::Object(more)) = (ctx.as_object_mut(), extra) {
            base.extend(more);
        }
        match self.theme.render(
            template,
            minijinja::Value::from(minijinja::value::Serde(&ctx)),
        ) {
            Ok(html) => match &self.cache {
                Some((key, version)) => {
                    let page = Arc::new(self.st.pages.page(html));
                    if status == StatusCode::OK {
                        self.st.pages.put(key.clone(), *version, page.clone());
                    }
                    self.answer(status, &page).await
                }
                None => {
                    let mut resp = (status, Html(html)).into_response();
                    self.finish(&mut resp);
                    resp
                }
            },
            Err(e) => {
                tracing::error!(theme = %self.theme.name, template, error = %e, "template failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "The page could not be shown.",
                )
                    .into_response()
            }
        }
    }

    /// Headers every answer carries: security headers, and the visitor cookie when new.
    fn finish(&self, resp: &mut Response) {
        security::page_headers(resp.headers_mut(), &self.nonce);
        if self.cx.preview_theme.is_some() {
            security::allow_same_origin_framing(resp.headers_mut());
        }
        resp.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        let secure = if self.st.base_url.starts_with("https://") {
            "; Secure"
        } else {
            ""
        };
        if self.new_sid {
            let cookie = format!(
                "{SID_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age=2592000{secure}",
                security::sign_sid(&self.st.secret, &self.sid)
            );
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                resp.headers_mut().append(header::SET_COOKIE, v);
            }
        }
        if let Some(items) = &self.cart_out {
            // The shop's own path, so each shop on the platform's host has its own cart.
            let path = if self.cx.base.is_empty() {
                "/"
            } else {
                &self.cx.base
            };
            let cookie = if items.is_empty() {
                format!("{CART_COOKIE}=; Path={path}; HttpOnly; SameSite=Lax; Max-Age=0{secure}")
            } else {
                format!(
                    "{CART_COOKIE}={}; Path={path}; HttpOnly; SameSite=Lax; Max-Age=2592000{secure}",
                    security::sign_cart(&self.st.secret, self.cx.shop.id.as_str(), &items.encode())
                )
            };
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                resp.headers_mut().append(header::SET_COOKIE, v);
            }
        }
    }

    fn redirect(&self, to: &str) -> Response {
        let mut r = Redirect::to(to).into_response();
        self.finish(&mut r);
        r
    }

    /// Product cards for a list of products (two statements for any number).
    async fn cards(&self, products: &[catalog::Product]) -> Vec<Value> {
        let ids: Vec<String> = products.iter().map(|p| p.id.clone()).collect();
        let variants = catalog::variants_for(&self.st.db, &self.cx.shop.id, &ids)
            .await
            .unwrap_or_default();
        let images = catalog::images_for(&self.st.db, &self.cx.shop.id, &ids)
            .await
            .unwrap_or_default();
        products
            .iter()
            .map(|p| {
                let vs: Vec<&catalog::Variant> = variants.get(&p.id).map(|v| v.iter().filter(|v| !v.archived).collect()).unwrap_or_default();
                let min = vs.iter().map(|v| v.price).min().unwrap_or(0);
                let max = vs.iter().map(|v| v.price).max().unwrap_or(0);
                let compare = vs.iter().filter(|v| v.price == min).filter_map(|v| v.compare_at_price).max();
                let img = images.get(&p.id).and_then(|i| i.first());
                json!({
                    "title": p.title,
                    "url": self.link(&format!("/products/{}", p.handle)),
                    "image": img.map(|i| i.url.clone()),
                    "image_alt": img.map(|i| if i.alt.is_empty() { p.title.clone() } else { i.alt.clone() }),
                    "price": format_vnd(min),
                    "price_from": min != max,
                    "compare_at": compare.map(format_vnd),
                    "available": vs.iter().any(|v| v.available()),
                })
            })
            .collect()
    }

    async fn not_found(&self) -> Response {
        let title = if self.lang() == "en" {
            "Page not found"
        } else {
            "Không tìm thấy trang"
        };
        self.render(
            StatusCode::NOT_FOUND,
            "404.html",
            "/",
            title,
            title,
            json!({}),
        )
        .await
    }
}

macro_rules! visit {
    ($st:expr, $cx:expr, $headers:expr) => {
        match Visit::new(&$st, $cx, &$headers) {
            Ok(v) => v,
            Err(r) => return *r,
        }
    };
}

/// A 404 for a shop that does not exist or is not public (no theme of its own to use).
pub fn plain_not_found(_state: &AppState) -> Response {
    let mut r = (
        StatusCode::NOT_FOUND,
        Html("<!doctype html><html lang=\"vi\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>Không tìm thấy cửa hàng</title></head><body><h1>Không tìm thấy cửa hàng</h1><p>Cửa hàng này không tồn tại hoặc chưa mở cửa.</p></body></html>"),
    )
        .into_response();
    security::page_headers(r.headers_mut(), "none");
    r
}

pub async fn not_found(
    State(st): State<AppState>,
    Extension(cx): Extension<ShopCtx>,
    headers: HeaderMap,
) -> Response {
    visit!(st, cx, headers).not_found().await
}

pub async fn home(
    State(st): State<AppState>,
    Extension(cx): Extension<ShopCtx>,
    headers: HeaderMap,
) -> Response {
    let mut v = visit!(st, cx, headers);
    if let Some(r) = v.cached_page("home", true).await {
        return r;
    }
    let shop = &v.cx.shop;
    let featured = match catalog::collections(&st.db, &shop.id)
        .await
        .unwrap_or_default()
        .into_iter()
        .find(|c| c.featured)
    {
        Some(c) => {
            let products =
                catalog::collection_products(&st.db, &shop.id, &c.id, Visibility::Public)
                    .await
                    .unwrap_or_default();
            Some(
                json!({ "title": c.title, "url": v.link(&format!("/collections/{}", c.handle)), "products": v.cards(&products).await }),
            )
        }
        None => None,
    };
    let page = catalog::list_products(
        &st.db,
        &shop.id,
        Visibility::Public,
        &ProductQuery {
            first: Some(12),
            ..Default::default()
        },
    )
    .await
    .map(|p| p.items.into_iter().map(|(p, _)| p).collect::<Vec<_>>())
    .unwrap_or_default();
    let products = v.cards(&page).await;
    let description = if shop.description.is_empty() {
        shop.name.clone()
    } else {
        choso_services::markdown::to_plain(&shop.description, 160)
    };
    v.render(
        StatusCode::OK,
        "home.html",
        "/",
        &shop.name,
        &description,
        json!({ "featured": featured, "products": products }),
    )
    .await
}

pub async fn collection(
    State(st): State<AppState>,
    Extension(cx): Extension<ShopCtx>,
    headers: HeaderMap,
    Path(path): Path<HashMap<String, String>>,
) -> Response {
    let mut v = visit!(st, cx, headers);
    let handle = path.get("handle").cloned().unwrap_or_default();
    if let Some(r) = v.cached_page(&format!("collection:{handle}"), true).await {
        return r;
    }
    let Ok(Some(c)) = catalog::collection_by_handle(&st.db, &v.cx.shop.id, &handle).await else {
        return v.not_found().await;
    };
    let products = catalog::collection_products(&st.db, &v.cx.shop.id, &c.id, Visibility::Public)
        .await
        .unwrap_or_default();
    let cards = v.cards(&products).await;
    let title = format!("{} – {}", c.title, v.cx.shop.name);
    let desc = choso_services::markdown::to_plain(&c.description, 160);
    v.render(StatusCode::OK, "collection.html", &format!("/collections/{}", c.handle), &title, &desc, json!({ "collection": { "title": c.title, "description": c.description }, "products": cards })).await
}

#[derive(Deserialize, Default)]
pub struct ProductParams {
    added: Option<String>,
    error: Option<String>,
}

/// JSON for a `<script type="application/ld+json">` block: `<`, `>` and `&` escaped so the
/// text cannot close the script element.
fn script_json(v: &Value) -> String {
    v.to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

pub async fn product(
    State(st): State<AppState>,
    Extension(cx): Extension<ShopCtx>,
    headers: HeaderMap,
    Path(path): Path<HashMap<String, String>>,
    Query(q): Query<ProductParams>,
) -> Response {
    let mut v = visit!(st, cx, headers);
    let handle = path.get("handle").cloned().unwrap_or_default();
    let plain_visit = q.added.is_none() && q.error.is_none();
    if let Some(r) = v
        .cached_page(&format!("product:{handle}"), plain_visit)
        .await
    {
        return r;
    }
    let shop = &v.cx.shop;
    let Ok(Some(p)) =
        catalog::product_by_handle(&st.db, &shop.id, &handle, Visibility::Public).await
    else {
        return v.not_found().await;
    };
    let variants: Vec<catalog::Variant> =
        catalog::variants_for(&st.db, &shop.id, std::slice::from_ref(&p.id))
            .await
            .unwrap_or_default()
            .remove(&p.id)
            .unwrap_or_default()
            .into_iter()
            .filter(|x| !x.archived)
            .collect();
    let images = catalog::images_for(&st.db, &shop.id, std::slice::from_ref(&p.id))
        .await
        .unwrap_or_default()
        .remove(&p.id)
        .unwrap_or_default();
    let canonical = format!("/products/{}", p.handle);
    let min = variants.iter().map(|x| x.price).min().unwrap_or(0);
    let first = variants.iter().find(|x| x.price == min);
    let available = variants.iter().any(|x| x.available());
    let plain = choso_services::markdown::to_plain(&p.description, 300);
    let image_urls: Vec<String> = images.iter().map(|i| v.abs_image(&i.url)).collect();
    let offers: Vec<Value> = variants
        .iter()
        .map(|x| {
            json!({
                "@type": "Offer", "name": x.title, "sku": x.sku, "price": x.price.to_string(), "priceCurrency": "VND",
                "availability": if x.available() { "https://schema.org/InStock" } else { "https://schema.org/OutOfStock" },
                "url": v.absolute(&canonical),
            })
        })
        .collect();
    let jsonld = json!({
        "@context": "https://schema.org", "@type": "Product", "name": p.title, "description": plain,
        "image": image_urls, "sku": first.and_then(|f| f.sku.clone()),
        "brand": { "@type": "Brand", "name": shop.name },
        "offers": offers,
    });
    let lang = v.lang().to_string();
    let extra = json!({
        "og_type": "product",
        "og_image": image_urls.first(),
        "product": {
            "title": p.title,
            "description_html": choso_services::markdown::to_html(&p.description),
            "images": images.iter().map(|i| json!({ "url": i.url, "alt": if i.alt.is_empty() { p.title.clone() } else { i.alt.clone() } })).collect::<Vec<_>>(),
            "variants": variants.iter().map(|x| json!({
                "id": x.id, "title": x.title, "price": format_vnd(x.price),
                "compare_at": x.compare_at_price.map(format_vnd), "available": x.available(),
            })).collect::<Vec<_>>(),
            "option_names": p.option_names,
            "price": format_vnd(min),
            "compare_at": first.and_then(|f| f.compare_at_price).map(format_vnd),
            "available": available,
            "single_variant": variants.len() == 1,
            "jsonld": script_json(&jsonld),
        },
        "added": q.added.is_some(),
        "error": q.error.as_deref().map(|c| messages::error(&lang, c)),
    });
    let title = format!("{} – {}", p.title, shop.name);
    v.render(
        StatusCode::OK,
        "product.html",
        &canonical,
        &title,
        &plain,
        extra,
    )
    .await
}

#[derive(Deserialize, Default)]
pub struct SearchParams {
    q: Option<String>,
}

pub async fn search(
    State(st): State<AppState>,
    Extension(cx): Extension<ShopCtx>,
    headers: HeaderMap,
    Query(q): Query<SearchParams>,
) -> Response {
    let mut v = visit!(st, cx, headers);
    let query =
        q.q.unwrap_or_default()
            .chars()
            .take(100)
            .collect::<String>();
    // Kept per query as typed (the page shows it); the cache's byte bound holds however many
    // different queries visitors make.
    if let Some(r) = v.cached_page(&format!("search:{query}"), true).await {
        return r;
    }
    let products = if query.trim().is_empty() {
        vec![]
    } else {
        catalog::list_products(
            &st.db,
            &v.cx.shop.id,
            Visibility::Public,
            &ProductQuery {
                first: Some(48),
                query: Some(query.clone()),
                ..Default::default()
            },
        )
        .await
        .map(|p| p.items.into_iter().map(|(p, _)| p).collect())
        .unwrap_or_default()
    };
    let cards = v.cards(&products).await;
    let title = format!(
        "{} – {}",
        if v.lang() == "en" {
            "Search"
        } else {
            "Tìm kiếm"
        },
        v.cx.shop.name
    );
    v.render(
        StatusCode::OK,
        "search.html",
        "/search",
        &title,
        &title,
        json!({ "query": query, "products": cards }),
    )
    .await
}

/// The cart as shown, and its template values; a variant that no longer exists is dropped
/// from the cart cookie too. When the catalog cannot be read, the answer is the error (503
/// when the database is unavailable), not an empty cart that the visitor could take for a
/// lost one.
async fn cart_context(v: &mut Visit) -> Result<(carts::Cart, Value), Response> {
    let cart = match carts::view(&v.st.db, &v.cx.shop, &v.cart).await {
        Ok(cart) => {
            if let Some(kept) = v.cart.still_in(&cart) {
                v.cart = kept.clone();
                v.cart_out = Some(kept);
            }
            cart
        }
        Err(e) => return Err(crate::uploads_http::service_error(e)),
    };
    let lang = v.lang().to_string();
    let lines: Vec<Value> = cart
        .lines
        .iter()
        .map(|l| {
            let problem = if l.ok() { None } else { Some(messages::cart_problem(&lang, l.gone, l.in_stock)) };
            json!({
                "variant_id": l.variant_id, "title": l.title, "variant_title": l.variant_title,
                "url": v.link(&format!("/products/{}", l.product_handle)), "image": l.image,
                "unit_price": format_vnd(l.unit_price), "quantity": l.quantity, "line_total": format_vnd(l.total()),
                "problem": problem,
            })
        })
        .collect();
    let ctx = json!({
        "lines": lines, "subtotal": format_vnd(cart.subtotal), "shipping": format_vnd(cart.shipping),
        "total": format_vnd(cart.total), "empty": cart.lines.is_empty(), "can_checkout": cart.can_checkout(),
    });
    Ok((cart, ctx))
}

pub async fn cart(
    State(st): State<AppState>,
    Extension(cx): Extension<ShopCtx>,
    headers: HeaderMap,
) -> Response {
    let mut v = visit!(st, cx, headers);
    let (_, ctx) = match cart_context(&mut v).await {
        Ok(c) => c,
        Err(answer) => return answer,
    };
    let title = format!(
        "{} – {}",
        if v.lang() == "en" {
            "Cart"
        } else {
            "Giỏ hàng"
        },
        v.cx.shop.name
    );
    v.render(StatusCode::OK, "cart.html", "/cart", &title, &title, ctx)
        .await
}

#[derive(Deserialize)]
pub struct CartForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    variant_id: String,
    #[serde(default)]
    quantity: String,
}

/// The shop's own id of a variant, whether given plain or as the API's `shop:variant`.
fn local_variant(shop: &Shop, v: &str) -> String {
    match v.split_once(':') {
        Some((s, id)) if s == shop.id.as_str() => id.to_string(),
        Some(_) => String::new(),
        None => v.to_string(),
    }
}

fn csrf_refused(v: &Visit) -> Response {
    let mut r = (
        StatusCode::FORBIDDEN,
        Html(format!(
            "<!doctype html><meta charset=\"utf-8\"><p>{}</p>",
            messages::error(v.lang(), "CSRF")
        )),
    )
        .into_response();
    v.finish(&mut r);
    r
}

pub async fn cart_add(
    State(st): State<AppState>,
    Extension(cx): Extension<ShopCtx>,
    headers: HeaderMap,
    Form(f): Form<CartForm>,
) -> Response {
    let mut v = visit!(st, cx, headers);
    if v.new_sid || !security::check_csrf(&st.secret, &v.sid, &f.csrf) {
        return csrf_refused(&v);
    }
    let vid = local_variant(&v.cx.shop, f.variant_id.trim());
    let qty: i64 = f.quantity.trim().parse().unwrap_or(1);
    match carts::add(&st.db, &v.cx.shop, &v.cart, &vid, qty).await {
        Ok(items) => {
            v.cart_out = Some(items);
            v.redirect(&v.link("/cart"))
        }
        Err(Error::Invalid(errs)) => {
            let code = errs.first().map(|e| e.code.clone()).unwrap_or_default();
            // Back to the product with the reason when it is on sale, else to the cart.
            let handle =
                for_sale_cache::for_sale(&st.db, &v.cx.shop.id, std::slice::from_ref(&vid))
                    .await
                    .ok()
                    .and_then(|mut found| found.remove(&vid))
                    .and_then(|f| f.product_handle);
            let back = match handle {
                Some(h) => v.link(&format!("/products/{h}?error={code}")),
                None => v.link("/cart"),
            };
            v.redirect(&back)
        }
        Err(e) => crate::uploads_http::service_error(e),
    }
}

pub async fn cart_update(
    State(st): State<AppState>,
    Extension(cx): Extension<ShopCtx>,
    headers: HeaderMap,
    Form(f): Form<CartForm>,
) -> Response {
    let mut v = visit!(st, cx, headers);
    if v.new_sid || !security::check_csrf(&st.secret, &v.sid, &f.csrf) {
        return csrf_refused(&v);
    }
    let vid = local_variant(&v.cx.shop, f.variant_id.trim());
    let qty: i64 = f.quantity.trim().parse().unwrap_or(-1);
    if let Ok(items) = carts::set(&v.cart, &vid, qty) {
        v.cart_out = Some(items);
    }
    v.redirect(&v.link("/cart"))
}

#[derive(Deserialize, Default, serde::Serialize, Clone)]
pub struct CheckoutForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    key: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    line1: String,
    #[serde(default)]
    ward: String,
    #[serde(default)]
    province: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    payment_method: String,
}

async fn render_checkout(
    v: &mut Visit,
    form: &CheckoutForm,
    errors: HashMap<String, String>,
    key: &str,
) -> Response {
    let (_, mut ctx) = match cart_context(v).await {
        Ok(c) => c,
        Err(answer) => return answer,
    };
    let lang = v.lang().to_string();
    let shop = &v.cx.shop;
    let mut methods = Vec::new();
    for (m, on) in [
        ("COD", shop.cod_enabled),
        ("BANK_TRANSFER", shop.bank_enabled()),
        ("CARD", shop.card_enabled() && v.st.stripe.is_some()),
    ] {
        if on {
            let (label, hint) = messages::method(&lang, m);
            methods.push(json!({ "value": m, "label": label, "hint": hint }));
        }
    }
    let mut form = serde_json::to_value(form).unwrap_or_default();
    if let Some(o) = form.as_object_mut() {
        o.remove("csrf");
        o.remove("key");
        if o.get("payment_method")
            .and_then(Value::as_str)
            .unwrap_or("")
            .is_empty()
            && let Some(first) = methods.first()
        {
            o.insert("payment_method".into(), first["value"].clone());
        }
        if o.get("province")
            .and_then(Value::as_str)
            .unwrap_or("")
            .is_empty()
            && let Some(p) = &shop.province_code
        {
            o.insert("province".into(), json!(p));
        }
    }
    if let Some(o) = ctx.as_object_mut() {
        o.insert("form".into(), form);
        o.insert("errors".into(), json!(errors));
        o.insert(
            "provinces".into(),
            json!(
                provinces::all()
                    .iter()
                    .map(|p| json!({ "code": p.code, "name": p.name }))
                    .collect::<Vec<_>>()
            ),
        );
        o.insert("payment_methods".into(), json!(methods));
        o.insert("key".into(), json!(key));
    }
    let title = format!(
        "{} – {}",
        if lang == "en" {
            "Checkout"
        } else {
            "Thanh toán"
        },
        shop.name
    );
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    v.render(status, "checkout.html", "/checkout", &title, &title, ctx)
        .await
}

pub async fn checkout(
    State(st): State<AppState>,
    Extension(cx): Extension<ShopCtx>,
    headers: HeaderMap,
) -> Response {
    let mut v = visit!(st, cx, headers);
    if v.cart.is_empty() {
        return v.redirect(&v.link("/cart"));
    }
    render_checkout(
        &mut v,
        &CheckoutForm::default(),
        HashMap::new(),
        &choso_services::ids::new_id(),
    )
    .await
}

/// The form field a service error belongs to.
fn form_field(path: &[String]) -> &'static str {
    let p: Vec<&str> = path.iter().map(String::as_str).collect();
    match p.as_slice() {
        [_, "customer", "name", ..] => "name",
        [_, "customer", "phone", ..] => "phone",
        [_, "customer", "email", ..] => "email",
        [_, "shippingAddress", "line1", ..] => "line1",
        [_, "shippingAddress", "ward", ..] => "ward",
        [_, "shippingAddress", "provinceCode", ..] => "province",
        [_, "paymentMethod", ..] => "payment_method",
        [_, "note", ..] => "note",
        _ => "form",
    }
}

pub async fn checkout_submit(
    State(st): State<AppState>,
    Extension(cx): Extension<ShopCtx>,
    headers: HeaderMap,
    Form(f): Form<CheckoutForm>,
) -> Response {
    let mut v = visit!(st, cx, headers);
    if v.new_sid || !security::check_csrf(&st.secret, &v.sid, &f.csrf) {
        return csrf_refused(&v);
    }
    let shop = v.cx.shop.clone();
    let key = if f.key.trim().is_empty() || f.key.len() > 100 {
        choso_services::ids::new_id()
    } else {
        f.key.trim().to_string()
    };
    if v.cart.is_empty() {
        // A submit again after the order was placed (its answer emptied the cart): back to
        // that order. A double submit that still carries the cart is answered by
        // `place_order` itself, which replays the order placed under the same key.
        if let Ok(Some(done)) = orders::find_by_key(&st.db, &shop.id, &key).await {
            return v.redirect(&confirmation_link(&v, &done));
        }
        return v.redirect(&v.link("/cart"));
    }
    let method = match PaymentMethod::parse(&f.payment_method) {
        Some(m) => m,
        None => {
            let mut errors = HashMap::new();
            errors.insert(
                "payment_method".to_string(),
                messages::error(v.lang(), "PAYMENT_METHOD_UNAVAILABLE"),
            );
            return render_checkout(&mut v, &f, errors, &key).await;
        }
    };
    let input = PlaceOrder {
        shop_slug: shop.slug.clone(),
        lines: v
            .cart
            .lines()
            .iter()
            .map(|(variant_id, quantity)| orders::LineInput {
                shop_id: shop.id.clone(),
                variant_id: variant_id.clone(),
                quantity: *quantity,
            })
            .collect(),
        customer_name: f.name.clone(),
        customer_phone: f.phone.clone(),
        customer_email: Some(f.email.clone()),
        address_line: f.line1.clone(),
        ward: Some(f.ward.clone()),
        province_code: f.province.clone(),
        payment_method: method,
        idempotency_key: Some(key.clone()),
        note: Some(f.note.clone()),
    };
    let store = v.shop_url();
    match checkout::place(&st.db, st.stripe.as_deref(), &store, &st.secret, input).await {
        Ok(order) => {
            v.cart_out = Some(carts::Items::default());
            match (&order.checkout_url, order.payment_method) {
                (Some(url), PaymentMethod::Card) => v.redirect(url),
                _ => v.redirect(&confirmation_link(&v, &order)),
            }
        }
        Err(Error::Invalid(errs)) => {
            let mut errors = HashMap::new();
            for e in errs {
                errors
                    .entry(form_field(&e.field).to_string())
                    .or_insert_with(|| messages::error(v.lang(), &e.code));
            }
            render_checkout(&mut v, &f, errors, &key).await
        }
        Err(e) => crate::uploads_http::service_error(e),
    }
}

fn confirmation_link(v: &Visit, o: &orders::Order) -> String {
    v.link(&format!(
        "/orders/{}?k={}",
        o.number,
        checkout::order_key(&v.st.secret, &o.id)
    ))
}

/// The order as the buyer sees it: no address, no phone.
fn order_view(lang: &str, o: &orders::Order) -> Value {
    let (method_label, _) = messages::method(lang, o.payment_method.as_str());
    json!({
        "number": o.display_number(),
        "status": o.status.as_str(),
        "status_label": messages::status(lang, o.status.as_str()),
        "payment_method": o.payment_method.as_str(),
        "payment_method_label": method_label,
        "payment_status_label": messages::payment_status(lang, o.payment_status.as_str()),
        "subtotal": format_vnd(o.subtotal), "shipping": format_vnd(o.shipping_fee), "total": format_vnd(o.total),
        "lines": o.lines.iter().map(|l| json!({
            "title": l.title, "variant_title": l.variant_title, "quantity": l.quantity,
            "unit_price": format_vnd(l.unit_price), "line_total": format_vnd(l.total),
        })).collect::<Vec<_>>(),
        "transfer_note": (o.payment_method == PaymentMethod::BankTransfer).then(|| orders::transfer_note(o.number)),
        "created": choso_services::ids::rfc3339(o.created_at),
    })
}

/// The VietQR code as an inline SVG (without the XML declaration).
pub fn qr_svg(payload: &str) -> Option<String> {
    let code = qrcode::QrCode::new(payload.as_bytes()).ok()?;
    let svg = code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(220, 220)
        .quiet_zone(true)
        .build();
    Some(match svg.find("<svg") {
        Some(i) => svg[i..].to_string(),
        None => svg,
    })
}

#[derive(Deserialize, Default)]
pub struct OrderParams {
    k: Option<String>,
}

pub async fn order(
    State(st): State<AppState>,
    Extension(cx): Extension<ShopCtx>,
    headers: HeaderMap,
    Path(path): Path<HashMap<String, String>>,
    Query(q): Query<OrderParams>,
) -> Response {
    let v = visit!(st, cx, headers);
    let number = path.get("number").and_then(|n| orders::parse_number(n));
    let found = match number {
        Some(n) => orders::by_number(&st.db, &v.cx.shop.id, n)
            .await
            .ok()
            .flatten(),
        None => None,
    };
    let Some(o) = found.filter(|o| {
        q.k.as_deref()
            .is_some_and(|k| checkout::check_order_key(&st.secret, &o.id, k))
    }) else {
        return v.not_found().await;
    };
    let lang = v.lang().to_string();
    let shop = &v.cx.shop;
    let bank = (o.payment_method == PaymentMethod::BankTransfer).then(|| {
        json!({
            "name": shop.bank_bin.as_deref().and_then(choso_services::banks::by_bin).map(|b| b.name),
            "account_number": shop.bank_account_number,
            "account_name": shop.bank_account_name,
        })
    });
    let qr = match (&o.vietqr_payload, o.payment_status) {
        (Some(p), orders::PaymentStatus::Pending) => qr_svg(p),
        _ => None,
    };
    let extra = json!({
        "order": order_view(&lang, &o),
        "qr_svg": qr,
        "bank": bank,
        "track_url": v.link(&format!("/track?number={}", o.number)),
        "next_steps": messages::next_steps(&lang, o.payment_method.as_str()),
        "checkout_url": if o.payment_status == orders::PaymentStatus::Pending { o.checkout_url.clone() } else { None },
    });
    let title = format!(
        "{} {} – {}",
        if lang == "en" { "Order" } else { "Đơn hàng" },
        o.display_number(),
        shop.name
    );
    let mut r = v
        .render(
            StatusCode::OK,
            "order.html",
            &format!("/orders/{}", o.number),
            &title,
            &title,
            extra,
        )
        .await;
    r.headers_mut().insert(
        header::HeaderName::from_static("x-robots-tag"),
        HeaderValue::from_static("noindex"),
    );
    r
}

#[derive(Deserialize, Default)]
pub struct TrackParams {
    number: Option<String>,
    phone: Option<String>,
}

pub async fn track(
    State(st): State<AppState>,
    Extension(cx): Extension<ShopCtx>,
    headers: HeaderMap,
    Query(q): Query<TrackParams>,
) -> Response {
    let v = visit!(st, cx, headers);
    let lang = v.lang().to_string();
    let number = q
        .number
        .unwrap_or_default()
        .chars()
        .take(20)
        .collect::<String>();
    let phone = q
        .phone
        .unwrap_or_default()
        .chars()
        .take(20)
        .collect::<String>();
    let asked = !number.trim().is_empty() && !phone.trim().is_empty();
    let found = if asked {
        orders::track(&st.db, &v.cx.shop.slug, &number, &phone)
            .await
            .ok()
            .flatten()
    } else {
        None
    };
    let extra = json!({
        "form": { "number": number, "phone": phone },
        "order": found.as_ref().map(|o| order_view(&lang, o)),
        "not_found": asked && found.is_none(),
    });
    let title = format!(
        "{} – {}",
        if lang == "en" {
            "Track your order"
        } else {
            "Tra cứu đơn hàng"
        },
        v.cx.shop.name
    );
    v.render(
        StatusCode::OK,
        "track.html",
        "/track",
        &title,
        &title,
        extra,
    )
    .await
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub async fn sitemap(
    State(st): State<AppState>,
    Extension(cx): Extension<ShopCtx>,
    headers: HeaderMap,
) -> Response {
    let v = visit!(st, cx, headers);
    let shop = &v.cx.shop;
    let mut urls = vec![v.absolute("/")];
    for c in catalog::collections(&st.db, &shop.id)
        .await
        .unwrap_or_default()
    {
        urls.push(v.absolute(&format!("/collections/{}", c.handle)));
    }
    let mut after = None;
    for _ in 0..500 {
        let q = ProductQuery {
            first: Some(100),
            after: after.clone(),
            ..Default::default()
        };
        let Ok(page) = catalog::list_products(&st.db, &shop.id, Visibility::Public, &q).await
        else {
            break;
        };
        after = page.items.last().map(|(_, c)| c.clone());
        for (p, _) in &page.items {
            urls.push(v.absolute(&format!("/products/{}", p.handle)));
        }
        if !page.has_next_page {
            break;
        }
    }
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n",
    );
    for u in urls {
        xml.push_str(&format!("  <url><loc>{}</loc></url>\n", xml_escape(&u)));
    }
    xml.push_str("</urlset>\n");
    (
        [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
        xml,
    )
        .into_response()
}

pub async fn robots(
    State(st): State<AppState>,
    Extension(cx): Extension<ShopCtx>,
    headers: HeaderMap,
) -> Response {
    let v = visit!(st, cx, headers);
    let body = format!(
        "User-agent: *\nAllow: /\nDisallow: {0}/cart\nDisallow: {0}/checkout\nDisallow: {0}/orders/\nSitemap: {1}\n",
        v.cx.base,
        v.absolute("/sitemap.xml")
    );
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}
