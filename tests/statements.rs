//! Listing products, and a page of the province register, cost a fixed number of SQL
//! statements whatever the page size (data loaders, preloading); an order takes its shop and
//! the variants seen before from memory. Counted from sqlx's per-statement `sqlx::query` events; a test
//! binary of its own, so no other test's statements are counted.

#[path = "api/helpers.rs"]
mod helpers;

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicBool, Ordering},
};

use choso_services::Backend;
use serde_json::json;
use tracing::{Event, Subscriber, field::Visit};
use tracing_subscriber::{Layer, layer::Context, prelude::*};

#[derive(Clone, Default)]
struct Statements {
    on: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<String>>>,
}

struct Text(String);

impl Visit for Text {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "db.statement" || field.name() == "summary" {
            self.0.push_str(value);
            self.0.push(' ');
        }
    }
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "db.statement" || field.name() == "summary" {
            self.0.push_str(&format!("{value:?} "));
        }
    }
}

impl<S: Subscriber> Layer<S> for Statements {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if event.metadata().target() == "sqlx::query" && self.on.load(Ordering::SeqCst) {
            let mut t = Text(String::new());
            event.record(&mut t);
            // The background workers (mail outbox, card-payment expiry, SQLite's WAL
            // checkpoints) run on their own clock; their statements are not the request's.
            // Transaction control (BEGIN/COMMIT of a worker's batch) is not a data statement,
            // nor is the SQLite writer's `BEGIN; ROLLBACK` probe when a worker hands it back
            // (`db::sqlite_writer_is_clean`; it landed in a request's window once in CI).
            // (The mail worker's statements read and update the outbox; an order only inserts
            // into it, in its own statements, which count.)
            // Nor is a new connection's setup (`PRAGMA`s on SQLite): data loaders running at
            // once may open a read connection inside the counted window (seen flaking).
            if t.0.contains("FROM outbox")
                || t.0.trim_start().starts_with("PRAGMA")
                || t.0.contains("UPDATE outbox")
                || t.0.contains("expires_at <")
                || t.0.contains("wal_checkpoint")
                || t.0.contains("BEGIN; ROLLBACK")
                || matches!(t.0.trim(), "BEGIN" | "COMMIT" | "ROLLBACK")
            {
                return;
            }
            if let Ok(mut v) = self.seen.lock() {
                v.push(t.0);
            }
        }
    }
}

const LIST: &str = "query($n: Int) { shop(slug: \"shop\") { name products(first: $n) { edges { node { title handle priceRange { min { amount } max { amount } } images { url } variants { title sku price { formatted } available } } } pageInfo { hasNextPage } } } }";

async fn count_for(
    app: &helpers::TestApp,
    counter: &Statements,
    token: Option<&str>,
    n: i64,
) -> (usize, usize) {
    // Warm up: pool connections are opened (and their pragmas run) outside the count.
    for _ in 0..3 {
        app.gql_with(token, LIST, json!({ "n": n })).await;
    }
    counter.seen.lock().unwrap().clear();
    counter.on.store(true, Ordering::SeqCst);
    let v = app.gql_with(token, LIST, json!({ "n": n })).await;
    counter.on.store(false, Ordering::SeqCst);
    let edges = v["data"]["shop"]["products"]["edges"]
        .as_array()
        .map(Vec::len)
        .unwrap_or(0);
    let seen = counter.seen.lock().unwrap().clone();
    (edges, seen.len())
}

/// A server on `backend` with an owner and a shop (slug `shop`): (app, owner token, shop id).
/// Nothing when PostgreSQL is not configured.
async fn app_with_shop(backend: Backend) -> Option<(helpers::TestApp, String, String)> {
    let app = match backend {
        Backend::Sqlite => helpers::spawn_app(backend).await,
        Backend::Postgres => helpers::spawn_postgres_app().await?,
    };
    if backend == Backend::Postgres {
        // The feed listener's `LISTEN`, and the bump of every shop's version it makes once
        // connected (a shop read after it), are its own: wait for it before anything counts.
        let start = std::time::Instant::now();
        while app.db.versions().current("").0 == 0 {
            assert!(
                start.elapsed() < std::time::Duration::from_secs(20),
                "the feed listener did not connect"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
    let (token, _) = app.register("owner@example.vn").await;
    let v = app
        .gql_as(&token, "mutation { createShop(input: { name: \"Shop\", phone: \"0905123456\", theme: \"grid\" }) { shop { id } } }", json!({}))
        .await;
    let shop = v["data"]["createShop"]["shop"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    Some((app, token, shop))
}

async fn statements_do_not_grow_with_page_size(backend: Backend, counter: &Statements) {
    let Some((app, token, shop)) = app_with_shop(backend).await else {
        return;
    };
    for i in 0..50 {
        let v = app
            .gql_as(
                &token,
                "mutation($s: ID!, $i: ProductInput!) { createProduct(shopId: $s, input: $i) { userErrors { code } } }",
                json!({ "s": shop, "i": { "title": format!("Sản phẩm {i}"), "published": true,
                    "images": [{ "url": format!("https://img.example.vn/{i}.jpg") }, { "url": format!("https://img.example.vn/{i}b.jpg") }],
                    "variants": [{ "title": "Nhỏ", "sku": format!("S-{i}"), "price": "10000", "stock": 3 }, { "title": "Lớn", "sku": format!("L-{i}"), "price": "20000", "stock": 0 }] } }),
            )
            .await;
        assert_eq!(v["data"]["createProduct"]["userErrors"], json!([]));
    }
    app.gql_as(
        &token,
        "mutation($s: ID!) { publishShop(shopId: $s) { userErrors { code } } }",
        json!({ "s": shop }),
    )
    .await;

    for token in [None, Some(token.as_str())] {
        let (e5, s5) = count_for(&app, counter, token, 5).await;
        let (e50, s50) = count_for(&app, counter, token, 50).await;
        assert_eq!((e5, e50), (5, 50));
        assert_eq!(
            s5,
            s50,
            "statements for 5 and for 50 products differ ({backend:?}, signed in: {}): {:?}",
            token.is_some(),
            counter.seen.lock().unwrap()
        );
        assert!(
            s50 <= 7,
            "{s50} statements for one product page ({backend:?}): {:?}",
            counter.seen.lock().unwrap()
        );
        println!(
            "{backend:?} signed in: {}: {s50} statements for 5 or 50 products",
            token.is_some()
        );
    }
}

/// An order takes its shop and its variants (with their products) from memory: the orders
/// before it changed the shop's stock, not its row, so they did not send the shop's lookup
/// back to the database, and lowered the stock of the variants kept rather than forget them.
async fn an_order_reads_nothing_seen_before(backend: Backend, counter: &Statements) {
    let Some((app, token, shop)) = app_with_shop(backend).await else {
        return;
    };
    let variant = published_product(&app, &token, &shop).await;
    let place = || {
        app.gql(
            "mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { order { number } userErrors { code } } }",
            json!({ "i": {
                "shopSlug": "shop",
                "lines": [{ "variantId": variant, "quantity": 1 }],
                "customer": { "name": "Lê Thị Khách", "phone": "0912 345 678" },
                "shippingAddress": { "line1": "5 Trần Hưng Đạo", "provinceCode": "46" },
                "paymentMethod": "COD"
            } }),
        )
    };
    // Two orders first: connections are opened, the shop is read once and kept.
    for _ in 0..2 {
        let v = place().await;
        assert_eq!(v["data"]["placeOrder"]["userErrors"], json!([]), "{v}");
    }
    counter.seen.lock().unwrap().clear();
    counter.on.store(true, Ordering::SeqCst);
    let v = place().await;
    counter.on.store(false, Ordering::SeqCst);
    assert_eq!(v["data"]["placeOrder"]["order"]["number"], "#1003", "{v}");
    let seen = counter.seen.lock().unwrap().clone();
    let shop_reads = seen
        .iter()
        .filter(|s| s.contains("FROM shops") && s.contains("slug"))
        .count();
    let variant_reads = seen
        .iter()
        .filter(|s| s.contains("FROM variants v JOIN products p"))
        .count();
    assert_eq!(
        (shop_reads, variant_reads),
        (0, 0),
        "reads of the shop and of the variants for one order ({backend:?}): {seen:?}"
    );
    if backend == Backend::Postgres {
        // The order number, the line's stock and the members to tell in one statement; the
        // order's effects as two (`Batch::of_effects`). The NOTIFY that tells
        // the other processes is sent after the commit, by a task of its own (not counted:
        // it may land on either side of the window).
        let in_order: Vec<&String> = seen.iter().filter(|s| !s.contains("pg_notify")).collect();
        assert_eq!(
            in_order.len(),
            3,
            "statements for one order on PostgreSQL: {seen:?}"
        );
    }
}

/// The cookies a storefront visitor holds, as one `Cookie` header.
#[derive(Default)]
struct Jar(Vec<(String, String)>);

impl Jar {
    fn header(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
    fn keep(&mut self, r: &reqwest::Response) {
        for sc in r.headers().get_all("set-cookie") {
            let kv = sc.to_str().unwrap().split(';').next().unwrap();
            let (k, v) = kv.split_once('=').unwrap();
            self.0.retain(|(n, _)| n != k);
            if !v.is_empty() {
                self.0.push((k.to_string(), v.to_string()));
            }
        }
    }
}

/// The storefront's checkout writes the order and nothing else: putting an item in the cart
/// reads the variant the first time only and writes nothing (the cart is the visitor's signed
/// cookie), a page served from the page cache (a product page, a search seen before) reads
/// nothing, not even the cart's count, and placing the order takes its variants from memory.
async fn a_storefront_cart_writes_nothing(backend: Backend, counter: &Statements) {
    let Some((app, token, shop)) = app_with_shop(backend).await else {
        return;
    };
    let variant = published_product(&app, &token, &shop).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut jar = Jar::default();
    let page = format!("{}/s/shop/products/banh-pia", app.base);
    let mut csrf = String::new();
    for _ in 0..2 {
        let r = client
            .get(&page)
            .header("cookie", jar.header())
            .send()
            .await
            .unwrap();
        jar.keep(&r);
        let body = r.text().await.unwrap();
        let field = "name=\"csrf\" value=\"";
        let at = body.find(field).expect("a CSRF field") + field.len();
        csrf = body[at..at + body[at..].find('"').unwrap()].to_string();
    }
    let counted = async |req: reqwest::RequestBuilder, jar: &mut Jar| {
        counter.seen.lock().unwrap().clear();
        counter.on.store(true, Ordering::SeqCst);
        let r = req.header("cookie", jar.header()).send().await.unwrap();
        counter.on.store(false, Ordering::SeqCst);
        jar.keep(&r);
        let location = r
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_string());
        let status = r.status();
        let body = r.text().await.unwrap();
        assert!(
            status.is_success() || status.is_redirection(),
            "{status}: {body}"
        );
        (location, body, counter.seen.lock().unwrap().clone())
    };
    for (qty, reads) in [("2", 1), ("1", 0)] {
        let (to, _, seen) = counted(
            client.post(format!("{}/s/shop/cart/add", app.base)).form(&[
                ("csrf", csrf.as_str()),
                ("variant_id", variant.as_str()),
                ("quantity", qty),
            ]),
            &mut jar,
        )
        .await;
        assert_eq!(to.as_deref(), Some("/s/shop/cart"));
        assert!(
            seen.len() == reads
                && seen
                    .iter()
                    .all(|s| s.contains("FROM variants v JOIN products p")),
            "statements for one add to cart ({backend:?}): {seen:?}"
        );
    }
    let (_, body, seen) = counted(client.get(&page), &mut jar).await;
    assert!(
        body.contains("<span class=\"cart-count\" aria-hidden=\"true\">3</span>"),
        "{body}"
    );
    assert_eq!(
        seen,
        Vec::<String>::new(),
        "statements for a cached page ({backend:?})"
    );
    // A search page is kept per query the same way.
    let search = format!("{}/s/shop/search?q=b%C3%A1nh", app.base);
    let (_, first, _) = counted(client.get(&search), &mut jar).await;
    let (_, body, seen) = counted(client.get(&search), &mut jar).await;
    assert!(
        first.contains("Bánh pía") && body.contains("Bánh pía"),
        "{body}"
    );
    assert_eq!(
        seen,
        Vec::<String>::new(),
        "statements for a search page seen before ({backend:?})"
    );
    let (to, _, seen) = counted(
        client.post(format!("{}/s/shop/checkout", app.base)).form(&[
            ("csrf", csrf.as_str()),
            ("key", "statements-test"),
            ("name", "Lê Thị Khách"),
            ("phone", "0912345678"),
            ("line1", "5 Trần Hưng Đạo"),
            ("province", "46"),
            ("payment_method", "COD"),
        ]),
        &mut jar,
    )
    .await;
    assert!(
        to.as_deref()
            .unwrap_or("")
            .starts_with("/s/shop/orders/1001?k="),
        "{to:?}"
    );
    assert!(
        !seen.iter().any(|s| s.contains("cart")),
        "an order touched a cart table ({backend:?}): {seen:?}"
    );
    assert!(
        !seen.iter().any(|s| s.contains("idempotency_key =")),
        "a first checkout looked its key up ({backend:?}): {seen:?}"
    );
    let reads = seen
        .iter()
        .filter(|s| s.contains("FROM variants v JOIN products p"))
        .count();
    assert_eq!(
        reads, 0,
        "variant reads for one checkout ({backend:?}): {seen:?}"
    );
    assert!(
        jar.0.iter().all(|(k, _)| k != "choso_cart"),
        "the order emptied the cart"
    );
}

/// A published product "Bánh pía" (one variant, 100 in stock) in a published shop: the
/// variant's id.
async fn published_product(app: &helpers::TestApp, token: &str, shop: &str) -> String {
    let v = app
        .gql_as(
            token,
            "mutation($s: ID!, $i: ProductInput!) { createProduct(shopId: $s, input: $i) { product { variants { id } } userErrors { code } } }",
            json!({ "s": shop, "i": { "title": "Bánh pía", "published": true, "variants": [{ "price": "60000", "stock": 100 }] } }),
        )
        .await;
    let variant = v["data"]["createProduct"]["product"]["variants"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.gql_as(
        token,
        "mutation($s: ID!) { publishShop(shopId: $s) { userErrors { code } } }",
        json!({ "s": shop }),
    )
    .await;
    variant
}

const ENTERPRISES: &str = "query($n: Int) { enterprises(provinceCode: \"46\", first: $n) { name sales { orders } shops { slug } supports { kind programme } readiness { level } } }";

/// A page of the province register with its children costs the same for 5 or 30 rows.
async fn register_pages_do_not_grow(backend: Backend, counter: &Statements) {
    let app = match backend {
        Backend::Sqlite => helpers::spawn_app(backend).await,
        Backend::Postgres => match helpers::spawn_postgres_app().await {
            Some(a) => a,
            None => return,
        },
    };
    choso_services::accounts::create_user(
        &app.db,
        choso_services::accounts::NewUser {
            email: "staff@hue.gov.vn".into(),
            password: "province staff pw".into(),
            full_name: "Cán bộ".into(),
            role: choso_services::accounts::Role::ProvinceStaff,
            province_code: Some("46".into()),
        },
    )
    .await
    .expect("staff");
    let v = app
        .gql(
            "mutation { login(input: { email: \"staff@hue.gov.vn\", password: \"province staff pw\" }) { token } }",
            json!({}),
        )
        .await;
    let token = v["data"]["login"]["token"].as_str().unwrap().to_string();
    for i in 0..30 {
        let v = app
            .gql_as(
                &token,
                "mutation($i: EnterpriseInput!) { createEnterprise(input: $i) { enterprise { id } userErrors { code } } }",
                json!({ "i": { "name": format!("Doanh nghiệp {i}"), "provinceCode": "46", "consentShareSales": true } }),
            )
            .await;
        let id = v["data"]["createEnterprise"]["enterprise"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        app.gql_as(
            &token,
            "mutation($i: SupportInput!) { recordSupport(input: $i) { userErrors { code } } }",
            json!({ "i": { "enterpriseId": id, "kind": "TRAINING", "date": "2026-01-15", "programme": "Kế hoạch" } }),
        )
        .await;
        app.gql_as(
            &token,
            "mutation($i: ReadinessInput!) { recordReadiness(input: $i) { userErrors { code } } }",
            json!({ "i": { "enterpriseId": id, "framework": "DBI_2021", "assessedOn": "2026-02-01", "level": 2 } }),
        )
        .await;
    }
    let mut counts = Vec::new();
    for n in [5, 30] {
        for _ in 0..3 {
            app.gql_as(&token, ENTERPRISES, json!({ "n": n })).await;
        }
        counter.seen.lock().unwrap().clear();
        counter.on.store(true, Ordering::SeqCst);
        let v = app.gql_as(&token, ENTERPRISES, json!({ "n": n })).await;
        counter.on.store(false, Ordering::SeqCst);
        let rows = v["data"]["enterprises"].as_array().map(Vec::len);
        assert_eq!(rows, Some(n), "{v}");
        assert_eq!(
            v["data"]["enterprises"][0]["supports"][0]["kind"],
            "TRAINING"
        );
        counts.push(counter.seen.lock().unwrap().len());
    }
    assert_eq!(
        counts[0],
        counts[1],
        "statements for 5 and 30 enterprises differ ({backend:?}): {:?}",
        counter.seen.lock().unwrap()
    );
    println!(
        "{backend:?}: {} statements for 5 or 30 enterprises",
        counts[1]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_50_products_takes_a_fixed_number_of_statements() {
    let counter = Statements::default();
    let _ = tracing_subscriber::registry()
        .with(counter.clone())
        .try_init();
    statements_do_not_grow_with_page_size(Backend::Sqlite, &counter).await;
    statements_do_not_grow_with_page_size(Backend::Postgres, &counter).await;
    register_pages_do_not_grow(Backend::Sqlite, &counter).await;
    register_pages_do_not_grow(Backend::Postgres, &counter).await;
    an_order_reads_nothing_seen_before(Backend::Sqlite, &counter).await;
    an_order_reads_nothing_seen_before(Backend::Postgres, &counter).await;
    a_storefront_cart_writes_nothing(Backend::Sqlite, &counter).await;
    a_storefront_cart_writes_nothing(Backend::Postgres, &counter).await;
}
