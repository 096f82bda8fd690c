//! Fairness between tenants: every answer carries its cost in `extensions.cost`, and one
//! shop's flood of expensive queries spends only that shop's budget — it gets `THROTTLED`
//! with a retry delay while another shop's clients are served as before. (Latencies are
//! printed for the record, never asserted.)

use std::time::{Duration, Instant};

use choso_graphql::budget::BudgetConfig;
use choso_services::Backend;
use serde_json::{Value, json};

use crate::{
    helpers::{TestApp, spawn_app_with},
    shops::{owner_with_shop, publish},
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_shop_flooding_does_not_starve_another_sqlite() {
    if let Some(app) = spawn(Backend::Sqlite).await {
        flood(app).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_shop_flooding_does_not_starve_another_postgres() {
    if let Some(app) = spawn(Backend::Postgres).await {
        flood(app).await;
    }
}

async fn spawn(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, |c| {
        c.shop_budget = BudgetConfig {
            capacity: 4_000.0,
            per_second: 2_000.0,
        }
    })
    .await
}

const LIST: &str = "query($s: String!) { shop(slug: $s) { name products(first: 20) { edges { node { title handle variants { title price { amount formatted } available } } } } } }";

async fn shop_with_products(app: &TestApp, email: &str, name: &str) -> String {
    let (token, shop) = owner_with_shop(app, email, name).await;
    for i in 0..20 {
        let v = app
            .gql_as(
                &token,
                "mutation($s: ID!, $i: ProductInput!) { createProduct(shopId: $s, input: $i) { userErrors { code } } }",
                json!({ "s": shop, "i": { "title": format!("{name} {i}"), "published": true,
                    "variants": [{ "title": "Nhỏ", "price": "10000", "stock": 5 }, { "title": "Lớn", "price": "20000", "stock": 5 }] } }),
            )
            .await;
        assert_eq!(v["data"]["createProduct"]["userErrors"], json!([]), "{v}");
    }
    publish(app, &token, &shop).await;
    let v = app.gql_as(&token, "{ me { email } }", json!({})).await;
    assert!(v["errors"].is_null());
    let v = app.gql(LIST, json!({ "s": "x" })).await;
    assert!(v["data"]["shop"].is_null());
    name.to_lowercase()
}

/// The list query with a distinct comment, so the public cache cannot answer it.
fn uncached(slug: &str, n: usize) -> Value {
    json!({ "query": format!("{LIST} # {n}"), "variables": { "s": slug } })
}

async fn post(app: &TestApp, body: &Value) -> (Value, Duration) {
    let t = Instant::now();
    let v: Value = app
        .client
        .post(app.url("/graphql"))
        .json(body)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    (v, t.elapsed())
}

fn code(v: &Value) -> Option<&str> {
    v["errors"][0]["extensions"]["code"].as_str()
}

async fn flood(app: TestApp) {
    let a = shop_with_products(&app, "a@example.vn", "Alpha").await;
    let b = shop_with_products(&app, "b@example.vn", "Beta").await;

    // Every answer says what it cost and what the shop has left.
    let (v, _) = post(&app, &uncached(&b, 0)).await;
    let cost = &v["extensions"]["cost"];
    let requested = cost["requested"].as_u64().expect("requested");
    let actual = cost["actual"].as_u64().expect("actual");
    assert!(requested > 10, "{cost}");
    assert!(actual > 200, "20 products with 2 variants each: {cost}");
    assert!(cost["budgetLeft"].as_i64().expect("budgetLeft") < 4_000);
    // The same body again comes from the cache, which costs the shop nothing.
    let (v, _) = post(&app, &uncached(&b, 0)).await;
    assert_eq!(v["extensions"]["cost"]["cached"], true, "{v}");
    assert_eq!(v["extensions"]["cost"]["actual"], 0);
    assert_eq!(v["extensions"]["cost"]["requested"], requested);

    let mut before = Vec::new();
    for n in 1..=5 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let (v, d) = post(&app, &uncached(&b, n)).await;
        assert!(v["errors"].is_null(), "{v}");
        before.push(d);
    }

    // Alpha floods: 16 clients, 15 uncached heavy queries each.
    let mut flooders = Vec::new();
    for c in 0..16 {
        let (client, url, a) = (app.client.clone(), app.url("/graphql"), a.clone());
        flooders.push(tokio::spawn(async move {
            let mut out = Vec::new();
            for n in 0..15 {
                let v: Value = client
                    .post(&url)
                    .json(&uncached(&a, 1_000 + c * 100 + n))
                    .send()
                    .await
                    .expect("request")
                    .json()
                    .await
                    .expect("json");
                out.push(v);
            }
            out
        }));
    }
    // Meanwhile Beta's clients keep being served, at a pace within Beta's own budget
    // (about 350 units a query, 7 queries a second against 2,000 units a second).
    let mut during = Vec::new();
    for n in 100..120 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let (v, d) = post(&app, &uncached(&b, n)).await;
        assert!(
            v["errors"].is_null(),
            "Beta must not be throttled by Alpha's traffic: {v}"
        );
        during.push(d);
    }
    let mut served = 0;
    let mut throttled = Vec::new();
    for f in flooders {
        for v in f.await.expect("flooder") {
            match code(&v) {
                None => served += 1,
                Some("THROTTLED") => throttled.push(v),
                Some(other) => panic!("unexpected error {other}: {v}"),
            }
        }
    }
    assert!(served > 0, "Alpha is served up to its budget");
    assert!(
        !throttled.is_empty(),
        "240 heavy queries exceed Alpha's budget"
    );
    let retry = throttled[0]["errors"][0]["extensions"]["retryAfter"]
        .as_u64()
        .expect("retryAfter");
    assert!(retry >= 1, "{}", throttled[0]);
    println!(
        "{:?}: Alpha served {served}, throttled {}; Beta p50 before {:?}, during {:?}",
        app.backend,
        throttled.len(),
        median(&mut before),
        median(&mut during)
    );
    // After waiting as told, Alpha is served again.
    tokio::time::sleep(Duration::from_secs(retry + 1)).await;
    let (v, _) = post(&app, &uncached(&a, 99_999)).await;
    assert!(v["errors"].is_null(), "{v}");
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}
