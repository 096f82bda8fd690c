//! The scenarios, as requests over the data set. Operation `i` (each client takes every
//! `connections`-th number) goes to shop `i mod N`, and within it to product
//! `(i div N) mod P` (search: word `(i div N) mod W`), so consecutive operations walk all N
//! shops and then every product of each: caches see the whole platform, not a hot corner.
//!
//! - `healthz`: `GET /healthz`, the baseline of the ratios.
//! - `home-page`, `product-page`, `search`: storefront pages (`/s/{slug}/`,
//!   `/products/{handle}`, `/search?q=`; the words are accented or folded).
//! - `graphql-products`: `shop(slug){products(first:20){…variants…}}`.
//! - `product-graphql`: `shop(slug){product(handle:){…variants…}}`, a single product page's data.
//! - `search-graphql`: `shop(slug){products(first:20, query:){…}}`.
//! - `owner-orders`: the owner's `shop(slug){orders(first:20){…}}`, newest first, as the console
//!   lists them (bearer token of that shop's owner).
//! - `province-dashboard-http`: the staff's `provinceDashboard(provinceCode:)` over HTTP.
//! - `place-order`: GraphQL `placeOrder`, cash on delivery, two lines.
//! - `checkout`: the storefront's cart → order: add a variant, add another (two of it), post
//!   the checkout form (cash on delivery); one operation is one order (three requests).

use std::sync::Arc;

use serde_json::json;

use crate::{
    dataset::DataSet,
    load::{Request, Scenario, Visitor},
};

pub const ALL: &[&str] = &[
    "healthz",
    "home-page",
    "product-page",
    "search",
    "graphql-products",
    "product-graphql",
    "search-graphql",
    "owner-orders",
    "province-dashboard-http",
    "place-order",
    "checkout",
];

/// Scenarios that place orders (the oversell check runs after them).
pub const ORDERING: &[&str] = &["place-order", "checkout"];

const PRODUCT_FIELDS: &str = "id title handle priceRange { min { amount } max { amount } } \
     variants { id title sku price { amount formatted } available }";

/// The scenario `name` over `data`, or `None` when the data set cannot serve it.
pub fn build(name: &str, base: &str, data: &Arc<DataSet>) -> Option<Scenario> {
    let base = base.to_string();
    let d = data.clone();
    let n = d.slugs.len();
    let gql = format!("{base}/graphql");
    let empty = n == 0
        || d.handles.iter().any(Vec::is_empty)
        || d.variants.iter().any(Vec::is_empty)
        || d.handles.len() < n
        || d.variants.len() < n;
    if empty && name != "healthz" {
        return None;
    }
    Some(match name {
        "healthz" => Scenario::simple(move |_| Request::get(format!("{base}/healthz"))),
        "home-page" => {
            Scenario::simple(move |i| Request::get(format!("{base}/s/{}/", d.slugs[i % n])))
        }
        "product-page" => Scenario::simple(move |i| {
            let s = i % n;
            let hs = &d.handles[s];
            Request::get(format!(
                "{base}/s/{}/products/{}",
                d.slugs[s],
                hs[(i / n) % hs.len()]
            ))
        }),
        "search" => {
            if d.search_words.is_empty() {
                return None;
            }
            Scenario::simple(move |i| {
                let w = &d.search_words[(i / n) % d.search_words.len()];
                Request::get(format!(
                    "{base}/s/{}/search?q={}",
                    d.slugs[i % n],
                    urlencode(w)
                ))
            })
        }
        "graphql-products" => Scenario::simple(move |i| {
            let q = format!(
                "query($s: String!) {{ shop(slug: $s) {{ products(first: 20) {{ edges {{ node {{ {PRODUCT_FIELDS} }} }} }} }} }}"
            );
            Request::graphql(
                gql.clone(),
                json!({ "query": q, "variables": { "s": d.slugs[i % n] } }),
            )
        }),
        "product-graphql" => Scenario::simple(move |i| {
            let s = i % n;
            let hs = &d.handles[s];
            let q = format!(
                "query($s: String!, $h: String!) {{ shop(slug: $s) {{ product(handle: $h) {{ {PRODUCT_FIELDS} description }} }} }}"
            );
            Request::graphql(
                gql.clone(),
                json!({ "query": q, "variables": { "s": d.slugs[s], "h": hs[(i / n) % hs.len()] } }),
            )
        }),
        "search-graphql" => {
            if d.search_words.is_empty() {
                return None;
            }
            Scenario::simple(move |i| {
                let w = &d.search_words[(i / n) % d.search_words.len()];
                let q = format!(
                    "query($s: String!, $q: String!) {{ shop(slug: $s) {{ products(first: 20, query: $q) {{ edges {{ node {{ {PRODUCT_FIELDS} }} }} }} }} }}"
                );
                Request::graphql(
                    gql.clone(),
                    json!({ "query": q, "variables": { "s": d.slugs[i % n], "q": w } }),
                )
            })
        }
        "owner-orders" => {
            let tokens: Vec<Arc<str>> = d
                .owner_tokens
                .iter()
                .map(|t| Arc::from(t.as_str()))
                .collect();
            if tokens.len() < n {
                return None;
            }
            Scenario::simple(move |i| {
                let s = i % n;
                let q = "query($s: String!) { shop(slug: $s) { orders(first: 20) { edges { cursor node { id number status \
                         paymentMethod paymentStatus total { amount formatted } createdAt customer { name phone } \
                         lines { title variantTitle quantity total { amount } } } } pageInfo { hasNextPage endCursor } } } }";
                Request::graphql(
                    gql.clone(),
                    json!({ "query": q, "variables": { "s": d.slugs[s] } }),
                )
                .bearer(tokens[s].clone())
            })
        }
        "province-dashboard-http" => {
            let (token, province) = d.staff.clone()?;
            let token: Arc<str> = Arc::from(token.as_str());
            Scenario::simple(move |_| {
                let q = "query($p: String!) { provinceDashboard(provinceCode: $p) { provinceCode enterprises \
                         supportedEnterprises withLiveStore withOnlineOrders ordersAfterSupport \
                         revenueAfterSupport { amount formatted } } }";
                Request::graphql(
                    gql.clone(),
                    json!({ "query": q, "variables": { "p": province } }),
                )
                .bearer(token.clone())
            })
        }
        "place-order" => Scenario::simple(move |i| {
            let s = i % n;
            let vs = &d.variants[s];
            let j = i / n;
            let q = "mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { order { number total { amount } } userErrors { code } } }";
            let input = json!({
                "shopSlug": d.slugs[s],
                "lines": [{ "variantId": vs[j % vs.len()], "quantity": 1 }, { "variantId": vs[(j * 7 + 3) % vs.len()], "quantity": 2 }],
                "customer": { "name": "Khách Bench", "phone": "0912345678" },
                "shippingAddress": { "line1": "1 Lê Lợi", "provinceCode": "46" },
                "paymentMethod": "COD"
            });
            Request::graphql(
                gql.clone(),
                json!({ "query": q, "variables": { "i": input } }),
            )
        }),
        "checkout" => checkout(base, d),
        _ => return None,
    })
}

/// The storefront's cart → order, one visitor per client.
fn checkout(base: String, d: Arc<DataSet>) -> Scenario {
    let n = d.slugs.len().max(1);
    // A product page: it holds the buy form, so its CSRF token.
    let first = format!(
        "{base}/s/{}/products/{}",
        d.slugs[0],
        d.handles[0].first().cloned().unwrap_or_default()
    );
    Scenario {
        visitor_page: Some(Box::new(move |_| first.clone())),
        make: Box::new(move |v: &Visitor, i| {
            let s = i % n;
            let j = i / n;
            let vs = &d.variants[s];
            let shop = format!("{base}/s/{}", d.slugs[s]);
            let add = |variant: &str, qty: &str| {
                Request::form(
                    format!("{shop}/cart/add"),
                    vec![
                        ("csrf", v.csrf.clone()),
                        ("variant_id", variant.to_string()),
                        ("quantity", qty.to_string()),
                    ],
                    "/cart",
                )
            };
            vec![
                add(&vs[j % vs.len()], "1"),
                add(&vs[(j * 7 + 3) % vs.len()], "2"),
                Request::form(
                    format!("{shop}/checkout"),
                    vec![
                        ("csrf", v.csrf.clone()),
                        ("key", ulid::Ulid::generate().to_string()),
                        ("name", "Khách Bench".into()),
                        ("phone", "0912345678".into()),
                        ("email", String::new()),
                        ("line1", "1 Lê Lợi".into()),
                        ("ward", "Phường Thuận Hóa".into()),
                        ("province", "46".into()),
                        ("note", String::new()),
                        ("payment_method", "COD".into()),
                    ],
                    "/orders/",
                ),
            ]
        }),
    }
}

/// Percent-encodes a query value.
fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
