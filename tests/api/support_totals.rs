//! The province module's running totals and readiness assessments: cancelled orders leave the
//! figures, the 90-day windows move with the first support, the totals kept change by change
//! equal the totals rebuilt from the rows (`support::totals::rebuild`), the dashboard read
//! from the province-level totals gives after every kind of change what a scan of the
//! province's enterprises and linked shops gives, a page of enterprises loads its children in
//! one statement each, and readiness assessments follow their framework's rules, stay in
//! their province and carry the measured indicators only with consent.

use serde_json::{Value, json};
use sqlx::Row;

use crate::{
    helpers::{TestApp, codes, error_code},
    orders::{PLACE, order_input},
    shops::{CREATE_SHOP, product, publish},
    storage_tests,
    support::{DASH, RECORD, STATUS, enterprise, hue_staff, staff, update_enterprise},
};
use choso_services::{
    Db,
    accounts::{Role, User},
    support::dashboard::{self, Dashboard, Group},
};

storage_tests!(
    cancellations_and_windows_agree_with_a_rebuild,
    province_totals_follow_every_change,
    concurrent_changes_keep_the_totals,
    readiness_assessments,
    the_demo_seeds_a_province_too,
);

/// `cargo run --release` seeds a province staff account whose register holds the demo shop's
/// enterprise, linked through an invite: publishing recorded its STOREFRONT support.
async fn the_demo_seeds_a_province_too(app: TestApp) {
    assert!(choso::demo::seed_if_empty(&app.db).await.expect("seeded"));
    assert!(
        !choso::demo::seed_if_empty(&app.db)
            .await
            .expect("second run")
    );
    let login = |email: &'static str| {
        let app = &app;
        async move {
            let v = app
                .gql(
                    "mutation($i: LoginInput!) { login(input: $i) { token } }",
                    json!({ "i": { "email": email, "password": choso::demo::DEMO_PASSWORD } }),
                )
                .await;
            v["data"]["login"]["token"]
                .as_str()
                .expect("demo account signs in")
                .to_string()
        }
    };
    let staff = login(choso::demo::DEMO_STAFF_EMAIL).await;
    let d = dash(&app, &staff).await;
    assert_eq!(d["enterprises"], 1, "{d}");
    assert_eq!(d["supportedEnterprises"], 1);
    assert_eq!(d["withLiveStore"], 1);
    let owner = login(choso::demo::DEMO_EMAIL).await;
    let v = app
        .gql_as(
            &owner,
            "{ myEnterprise { shops { slug } supports { kind } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        v["data"]["myEnterprise"],
        json!({ "shops": [{ "slug": choso::demo::DEMO_SLUG }],
                "supports": [{ "kind": "TRAINING" }, { "kind": "STOREFRONT" }] }),
        "{v}"
    );
}

const REGISTER: &str =
    "mutation($i: RegisterInput!) { register(input: $i) { token userErrors { code } } }";

/// An owner registered with the enterprise's invite, with a published shop and one product:
/// (owner token, shop slug, variant id).
async fn linked_shop(app: &TestApp, staff: &str, e: &str, who: &str) -> (String, String, String) {
    let s = linked_unpublished(app, staff, e, who).await;
    publish(app, &s.owner, &s.id).await;
    (s.owner, s.slug, s.variant)
}

/// A shop linked to an enterprise, ready to publish but not published.
struct Linked {
    owner: String,
    id: String,
    slug: String,
    variant: String,
}

/// An owner registered with the enterprise's invite, with a shop (one product, bank details)
/// that is not published yet.
async fn linked_unpublished(app: &TestApp, staff: &str, e: &str, who: &str) -> Linked {
    let v = app
        .gql_as(
            staff,
            "mutation($e: ID!) { createOnboardingInvite(enterpriseId: $e) { code } }",
            json!({ "e": e }),
        )
        .await;
    let code = v["data"]["createOnboardingInvite"]["code"]
        .as_str()
        .expect("invite")
        .to_string();
    let v = app
        .gql(
            REGISTER,
            json!({ "i": { "email": format!("{who}@example.vn"), "password": "correct horse battery",
                           "fullName": who, "inviteCode": code } }),
        )
        .await;
    let owner = v["data"]["register"]["token"]
        .as_str()
        .expect("token")
        .to_string();
    let v = app
        .gql_as(
            &owner,
            CREATE_SHOP,
            json!({ "i": { "name": format!("Tiệm {who}"), "provinceCode": "46" } }),
        )
        .await;
    let shop = v["data"]["createShop"]["shop"]["id"]
        .as_str()
        .expect("shop")
        .to_string();
    let slug = v["data"]["createShop"]["shop"]["slug"]
        .as_str()
        .expect("slug")
        .to_string();
    let (_, variant) = product(app, &owner, &shop, "Mè xửng", "50000", 100).await;
    let v = app
        .gql_as(
            &owner,
            "mutation($s: ID!) { updateShopPayments(shopId: $s, input: { bankBin: \"970436\", bankAccountNumber: \"0011001234567\", bankAccountName: \"NGUYEN VAN A\" }) { userErrors { code } } }",
            json!({ "s": shop }),
        )
        .await;
    assert_eq!(
        v["data"]["updateShopPayments"]["userErrors"],
        json!([]),
        "{v}"
    );
    Linked {
        owner,
        id: shop,
        slug,
        variant,
    }
}

async fn order(app: &TestApp, slug: &str, variant: &str, qty: i64) -> String {
    let mut input = order_input(variant, qty);
    input["shopSlug"] = json!(slug);
    let v = app.gql(PLACE, json!({ "i": input })).await;
    assert_eq!(v["data"]["placeOrder"]["userErrors"], json!([]), "{v}");
    v["data"]["placeOrder"]["order"]["id"]
        .as_str()
        .expect("order id")
        .to_string()
}

async fn record(app: &TestApp, t: &str, input: Value) -> String {
    let v = app.gql_as(t, RECORD, json!({ "i": input })).await;
    assert_eq!(v["data"]["recordSupport"]["userErrors"], json!([]), "{v}");
    v["data"]["recordSupport"]["record"]["id"]
        .as_str()
        .expect("record id")
        .to_string()
}

fn today_plus(days: i64) -> String {
    let now = choso_services::ids::now_ms();
    choso_services::support::day_to_date(choso_services::support::vn_day(now) + days)
}

async fn dash(app: &TestApp, t: &str) -> Value {
    let v = app.gql_as(t, DASH, json!({ "p": "46" })).await;
    assert!(v["errors"].is_null(), "{v}");
    v["data"]["provinceDashboard"].clone()
}

/// Two consenting enterprises of Huế in different wards, sizes and sectors.
async fn two_enterprises(app: &TestApp, t: &str) -> (String, String) {
    let a = enterprise(
        app,
        t,
        "Mè xửng Song Hỷ",
        "0314409058",
        json!({ "consentShareSales": true, "ward": "Phú Hội", "sizeClass": "SMALL" }),
    )
    .await;
    let b = enterprise(
        app,
        t,
        "Nón lá Tây Hồ",
        "0300588569",
        json!({ "consentShareSales": true, "ward": "Thuận Hoà", "sizeClass": "MICRO", "sector": "G" }),
    )
    .await;
    (a, b)
}

async fn cancellations_and_windows_agree_with_a_rebuild(app: TestApp) {
    let t = hue_staff(&app).await;
    let (a, b) = two_enterprises(&app, &t).await;
    let (owner_a, slug_a, var_a) = linked_shop(&app, &t, &a, "songhy").await;
    let (_, slug_b, var_b) = linked_shop(&app, &t, &b, "tayho").await;
    // Publishing gave both a STOREFRONT record dated today: their first support is today.
    let o1 = order(&app, &slug_a, &var_a, 1).await;
    order(&app, &slug_a, &var_a, 2).await;
    order(&app, &slug_b, &var_b, 1).await;
    let d = dash(&app, &t).await;
    assert_eq!(d["ordersAfterSupport"], 3, "{d}");
    let revenue_3: i64 = d["revenueAfterSupport"]["amount"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("amount");
    assert_eq!(d["funnel"]["repeatOrders"], 1, "{d}");

    // A cancelled order leaves every figure.
    let v = app
        .gql_as(
            &owner_a,
            "mutation($o: ID!) { cancelOrder(orderId: $o, reason: \"Khách đổi ý\") { order { status total { amount } } userErrors { code } } }",
            json!({ "o": o1 }),
        )
        .await;
    assert_eq!(
        v["data"]["cancelOrder"]["order"]["status"], "CANCELLED",
        "{v}"
    );
    let cancelled: i64 = v["data"]["cancelOrder"]["order"]["total"]["amount"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("total");
    let d = dash(&app, &t).await;
    assert_eq!(d["ordersAfterSupport"], 2, "{d}");
    assert_eq!(
        d["revenueAfterSupport"]["amount"],
        json!((revenue_3 - cancelled).to_string())
    );
    assert_eq!(d["beforeAfter"]["ordersAfter"], 2);
    assert_eq!(d["funnel"]["firstOrder"], 2);
    assert_eq!(d["funnel"]["repeatOrders"], 0, "one order left each: {d}");
    let v = app
        .gql_as(
            &t,
            "query($e: ID!) { enterprise(id: $e) { sales { orders ordersAfterSupport } } }",
            json!({ "e": a }),
        )
        .await;
    assert_eq!(
        v["data"]["enterprise"]["sales"],
        json!({ "orders": 1, "ordersAfterSupport": 1 }),
        "{v}"
    );

    // An earlier record moves B's first support back 200 days: its order is still after it,
    // but outside the first 90 days.
    let early = record(
        &app,
        &t,
        json!({ "enterpriseId": b, "kind": "TRAINING", "date": today_plus(-200), "programme": "Kế hoạch 2026", "subsidy": "3000000" }),
    )
    .await;
    let d = dash(&app, &t).await;
    assert_eq!(d["ordersAfterSupport"], 2, "{d}");
    assert_eq!(d["beforeAfter"]["ordersAfter"], 1, "{d}");
    // Rejecting it moves the first support back to today.
    for s in ["APPROVED", "REJECTED"] {
        let v = app.gql_as(&t, STATUS, json!({ "r": early, "s": s })).await;
        assert_eq!(
            v["data"]["updateSupportStatus"]["userErrors"],
            json!([]),
            "{v}"
        );
    }
    let d = dash(&app, &t).await;
    assert_eq!(d["beforeAfter"]["ordersAfter"], 2, "{d}");
    // A's automatic record is voided and its support planned in 30 days: its order of today
    // now counts in the 90 days before the support, not after.
    let v = app
        .gql_as(
            &t,
            "query($e: ID!) { enterprise(id: $e) { supports { id kind } } }",
            json!({ "e": a }),
        )
        .await;
    let auto = v["data"]["enterprise"]["supports"][0]["id"]
        .as_str()
        .expect("auto record")
        .to_string();
    record(
        &app,
        &t,
        json!({ "enterpriseId": a, "kind": "CONSULTING", "date": today_plus(30), "programme": "Kế hoạch 2026", "subsidy": "2000000" }),
    )
    .await;
    let v = app
        .gql_as(
            &t,
            "mutation($r: ID!) { voidSupportRecord(recordId: $r, reason: \"Nhập nhầm\") { record { id } userErrors { code } } }",
            json!({ "r": auto }),
        )
        .await;
    assert_eq!(
        v["data"]["voidSupportRecord"]["userErrors"],
        json!([]),
        "{v}"
    );
    let d = dash(&app, &t).await;
    assert_eq!(d["beforeAfter"]["ordersBefore"], 1, "{d}");
    assert_eq!(d["beforeAfter"]["ordersAfter"], 1, "{d}");
    assert_eq!(d["ordersAfterSupport"], 1, "{d}");
    let kinds: Vec<(String, i64)> = d["breakdowns"]["byKind"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|g| {
            (
                g["key"].as_str().unwrap_or_default().to_string(),
                g["records"].as_i64().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [("CONSULTING".to_string(), 1), ("STOREFRONT".to_string(), 1)],
        "rejected and voided records do not count: {d}"
    );

    // Everything kept change by change equals a rebuild from the rows.
    let full = "query($p: String!) { provinceDashboard(provinceCode: $p) { enterprises supportedEnterprises withLiveStore withOnlineOrders ordersAfterSupport revenueAfterSupport { amount } funnel { supported shopCreated published firstOrder repeatOrders } beforeAfter { enterprises ordersBefore ordersAfter revenueBefore { amount } revenueAfter { amount } } breakdowns { byWard { key enterprises supportedEnterprises records subsidy { amount } } bySector { key enterprises records } bySize { key enterprises records subsidy { amount } } byProgramme { key enterprises records subsidy { amount } } byKind { key enterprises records } byMonth { key enterprises records subsidy { amount } } } } }";
    let kept = app.gql_as(&t, full, json!({ "p": "46" })).await;
    assert!(kept["errors"].is_null(), "{kept}");
    agree(&app, "kept change by change").await;
    choso_services::support::totals::rebuild(&app.db, None)
        .await
        .expect("rebuild");
    let rebuilt = app.gql_as(&t, full, json!({ "p": "46" })).await;
    assert_eq!(kept, rebuilt);
    agree(&app, "rebuilt").await;
    assert_eq!(
        kept["data"]["provinceDashboard"]["breakdowns"]["byProgramme"],
        json!([
            { "key": "", "enterprises": 1, "records": 1, "subsidy": { "amount": "0" } },
            { "key": "Kế hoạch 2026", "enterprises": 1, "records": 1, "subsidy": { "amount": "2000000" } }
        ]),
        "{kept}"
    );
}

/// The figures of the dashboard that come from the province's totals, without labels.
fn figures(d: &Dashboard) -> Value {
    let groups = |g: &[Group]| -> Value {
        g.iter()
            .map(|g| {
                json!([
                    g.key,
                    g.enterprises,
                    g.supported_enterprises,
                    g.records,
                    g.subsidy
                ])
            })
            .collect()
    };
    json!({
        "enterprises": d.enterprises,
        "supported": d.supported_enterprises,
        "withLiveStore": d.with_live_store,
        "withOnlineOrders": d.with_online_orders,
        "ordersAfterSupport": d.orders_after_support,
        "revenueAfterSupport": d.revenue_after_support,
        "funnel": [d.funnel.supported, d.funnel.shop_created, d.funnel.published,
                   d.funnel.first_order, d.funnel.repeat_orders],
        "beforeAfter": [d.before_after.enterprises, d.before_after.window_days,
                        d.before_after.orders_before, d.before_after.orders_after,
                        d.before_after.revenue_before, d.before_after.revenue_after],
        "byWard": groups(&d.breakdowns.by_ward),
        "bySector": groups(&d.breakdowns.by_sector),
        "bySize": groups(&d.breakdowns.by_size),
    })
}

fn sum_or_zero(r: &sqlx::any::AnyRow, col: &str) -> i64 {
    r.try_get::<Option<i64>, _>(col)
        .expect("column")
        .unwrap_or(0)
}

/// The same figures the way the dashboard computed them before it had province-level totals:
/// by scanning the province's enterprises and the shops linked to them.
async fn scanned(db: &Db, p: &str) -> Dashboard {
    let s = "e.first_support_day IS NOT NULL";
    let sc = "e.first_support_day IS NOT NULL AND e.consent_share_sales = TRUE";
    let sum =
        |cond: &str, v: &str| format!("CAST(SUM(CASE WHEN {cond} THEN {v} ELSE 0 END) AS BIGINT)");
    let sql = format!(
        "SELECT COUNT(*) AS n, {} AS supported, {} AS first_order, {} AS repeat_orders, {} AS consenting, \
         {} AS oa, {} AS ra, {} AS ob, {} AS rb, {} AS ow, {} AS rw \
         FROM enterprises e WHERE e.province_code = $1",
        sum(s, "1"),
        sum(&format!("{s} AND e.orders_total >= 1"), "1"),
        sum(&format!("{s} AND e.orders_total >= 2"), "1"),
        sum(sc, "1"),
        sum(sc, "e.orders_since"),
        sum(sc, "e.revenue_since"),
        sum(sc, "e.orders_before"),
        sum(sc, "e.revenue_before"),
        sum(sc, "e.orders_after"),
        sum(sc, "e.revenue_after"),
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(p.to_string())
        .fetch_one(db.read())
        .await
        .expect("headline");
    let int = |c: &str| sum_or_zero(&row, c);
    let mut d = Dashboard {
        province_code: p.to_string(),
        enterprises: int("n"),
        supported_enterprises: int("supported"),
        with_online_orders: int("first_order"),
        orders_after_support: int("oa"),
        revenue_after_support: int("ra"),
        ..Default::default()
    };
    d.funnel.supported = d.supported_enterprises;
    d.funnel.first_order = d.with_online_orders;
    d.funnel.repeat_orders = int("repeat_orders");
    d.before_after = dashboard::BeforeAfter {
        enterprises: int("consenting"),
        window_days: dashboard::WINDOW_DAYS,
        orders_before: int("ob"),
        orders_after: int("ow"),
        revenue_before: int("rb"),
        revenue_after: int("rw"),
    };
    let row = sqlx::query(
        "SELECT COUNT(DISTINCT es.enterprise_id) AS created, \
         COUNT(DISTINCT CASE WHEN s.published = TRUE THEN es.enterprise_id END) AS published \
         FROM enterprise_shops es JOIN enterprises e ON e.id = es.enterprise_id JOIN shops s ON s.id = es.shop_id \
         WHERE es.province_code = $1 AND e.first_support_day IS NOT NULL",
    )
    .bind(p.to_string())
    .fetch_one(db.read())
    .await
    .expect("funnel");
    d.funnel.shop_created = sum_or_zero(&row, "created");
    d.with_live_store = sum_or_zero(&row, "published");
    d.funnel.published = d.with_live_store;
    for (col, list) in [
        ("ward", &mut d.breakdowns.by_ward),
        ("sector", &mut d.breakdowns.by_sector),
        ("size_class", &mut d.breakdowns.by_size),
    ] {
        let sql = format!(
            "SELECT COALESCE(e.{col}, '') AS k, COUNT(*) AS n, \
             CAST(SUM(CASE WHEN e.first_support_day IS NOT NULL THEN 1 ELSE 0 END) AS BIGINT) AS s, \
             CAST(SUM(e.support_records) AS BIGINT) AS r, CAST(SUM(e.support_subsidy) AS BIGINT) AS sub \
             FROM enterprises e WHERE e.province_code = $1 GROUP BY COALESCE(e.{col}, '') ORDER BY 1"
        );
        for r in sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(p.to_string())
            .fetch_all(db.read())
            .await
            .expect("breakdown")
        {
            list.push(Group {
                key: r.try_get("k").expect("key"),
                label: String::new(),
                enterprises: sum_or_zero(&r, "n"),
                supported_enterprises: sum_or_zero(&r, "s"),
                records: sum_or_zero(&r, "r"),
                subsidy: sum_or_zero(&r, "sub"),
            });
        }
    }
    d
}

/// Asserts that the dashboards of Huế and Hà Nội, read from the province-level totals, give
/// the figures a scan of the enterprises and linked shops gives.
async fn agree(app: &TestApp, step: &str) {
    let admin = User {
        id: "admin".to_string(),
        email: "admin@example.vn".to_string(),
        full_name: "Admin".to_string(),
        role: Role::Admin,
        province_code: None,
        created_at: 0,
    };
    for p in ["46", "01"] {
        let kept = dashboard::dashboard(&app.db, &admin, p)
            .await
            .expect("dashboard");
        assert_eq!(
            figures(&kept),
            figures(&scanned(&app.db, p).await),
            "province {p}, {step}"
        );
    }
}

/// The rows of `province_totals` that count something, in key order.
async fn totals_rows(app: &TestApp) -> Vec<Vec<String>> {
    let cols = "enterprises, supported, consenting, first_order, repeat_orders, orders_after_support, \
        revenue_after_support, orders_before, revenue_before, orders_after, revenue_after, support_records, \
        support_subsidy, shop_created, published";
    let sql = format!(
        "SELECT province_code, dim, key, slot, {cols} FROM province_totals \
         ORDER BY province_code, dim, key, slot"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_all(app.db.read())
        .await
        .expect("totals");
    rows.iter()
        .map(|r| {
            let mut out: Vec<String> = (0..4)
                .map(|i| r.try_get::<String, _>(i).expect("text"))
                .collect();
            out.extend((4..19).map(|i| r.try_get::<i64, _>(i).expect("count").to_string()));
            out
        })
        .filter(|row| row[4..].iter().any(|v| v != "0"))
        .collect()
}

async fn cancel(app: &TestApp, owner: &str, order: &str) {
    let v = app
        .gql_as(
            owner,
            "mutation($o: ID!) { cancelOrder(orderId: $o, reason: \"Khách đổi ý\") { order { status } userErrors { code } } }",
            json!({ "o": order }),
        )
        .await;
    assert_eq!(
        v["data"]["cancelOrder"]["order"]["status"], "CANCELLED",
        "{v}"
    );
}

async fn void(app: &TestApp, t: &str, record: &str) {
    let v = app
        .gql_as(
            t,
            "mutation($r: ID!) { voidSupportRecord(recordId: $r, reason: \"Nhập nhầm\") { record { id } userErrors { code } } }",
            json!({ "r": record }),
        )
        .await;
    assert_eq!(
        v["data"]["voidSupportRecord"]["userErrors"],
        json!([]),
        "{v}"
    );
}

async fn auto_record(app: &TestApp, t: &str, e: &str) -> String {
    let v = app
        .gql_as(
            t,
            "query($e: ID!) { enterprise(id: $e) { supports { id kind } } }",
            json!({ "e": e }),
        )
        .await;
    v["data"]["enterprise"]["supports"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["kind"] == "STOREFRONT")
        .and_then(|r| r["id"].as_str())
        .expect("automatic STOREFRONT record")
        .to_string()
}

async fn set_published(app: &TestApp, owner: &str, shop: &str, published: bool) {
    if published {
        publish(app, owner, shop).await;
        return;
    }
    let v = app
        .gql_as(
            owner,
            "mutation($s: ID!) { unpublishShop(shopId: $s) { shop { published } userErrors { code } } }",
            json!({ "s": shop }),
        )
        .await;
    assert_eq!(
        v["data"]["unpublishShop"]["shop"]["published"], false,
        "{v}"
    );
}

/// Every change that moves an enterprise's contribution to the province's totals — creating
/// and editing enterprises (ward, sector, size, consent), the owner withdrawing consent, an
/// import, support records added, rejected and voided (moving the first support day, and
/// taking an enterprise out of "supported" while its shop is live and selling), a shop linked,
/// published, unpublished and published again, orders placed and cancelled — leaves the
/// dashboard equal to a scan of the enterprises, and the totals equal to a rebuild.
async fn province_totals_follow_every_change(app: TestApp) {
    let t = hue_staff(&app).await;
    let hanoi = staff(&app, "staff@hanoi.gov.vn", Role::ProvinceStaff, Some("01")).await;
    agree(&app, "empty").await;
    let (a, b) = two_enterprises(&app, &t).await;
    // Unknown ward, sector and size; no consent.
    let c = enterprise(&app, &t, "Gốm Phước Tích", "", json!({ "sector": "" })).await;
    let h = enterprise(
        &app,
        &hanoi,
        "Phở Bát Đàn",
        "",
        json!({ "provinceCode": "01", "consentShareSales": true, "ward": "Hoàn Kiếm" }),
    )
    .await;
    agree(&app, "enterprises created").await;

    // C is supported, then gets a linked shop that is not published yet.
    let c_training = record(
        &app,
        &t,
        json!({ "enterpriseId": c, "kind": "TRAINING", "date": today_plus(-10), "subsidy": "1500000" }),
    )
    .await;
    agree(&app, "record added").await;
    let shop_c = linked_unpublished(&app, &t, &c, "phuoctich").await;
    agree(&app, "shop linked").await;
    let d = dash(&app, &t).await;
    assert_eq!(d["funnel"]["shopCreated"], 1, "{d}");
    assert_eq!(d["funnel"]["published"], 0, "{d}");

    // A and B get published shops (and automatic STOREFRONT records) and orders.
    let shop_a = linked_unpublished(&app, &t, &a, "songhy").await;
    publish(&app, &shop_a.owner, &shop_a.id).await;
    agree(&app, "shop published").await;
    let (_, slug_b, var_b) = linked_shop(&app, &t, &b, "tayho").await;
    agree(&app, "second shop published").await;
    let o1 = order(&app, &shop_a.slug, &shop_a.variant, 1).await;
    agree(&app, "first order").await;
    let o2 = order(&app, &shop_a.slug, &shop_a.variant, 2).await;
    agree(&app, "repeat order").await;
    order(&app, &slug_b, &var_b, 1).await;
    agree(&app, "order of another enterprise").await;
    cancel(&app, &shop_a.owner, &o1).await;
    agree(&app, "order cancelled").await;

    // Records moving B's first support day back 200 days, then forward again.
    let early = record(
        &app,
        &t,
        json!({ "enterpriseId": b, "kind": "TRAINING", "date": today_plus(-200), "programme": "Kế hoạch 2026", "subsidy": "3000000" }),
    )
    .await;
    agree(&app, "earlier record").await;
    for s in ["APPROVED", "REJECTED"] {
        let v = app.gql_as(&t, STATUS, json!({ "r": early, "s": s })).await;
        assert_eq!(
            v["data"]["updateSupportStatus"]["userErrors"],
            json!([]),
            "{v}"
        );
        agree(&app, &format!("record {s}")).await;
    }
    // A's support moves 30 days ahead: its orders fall in the 90 days before it.
    record(
        &app,
        &t,
        json!({ "enterpriseId": a, "kind": "CONSULTING", "date": today_plus(30), "programme": "Kế hoạch 2026", "subsidy": "2000000" }),
    )
    .await;
    agree(&app, "later record").await;
    let auto_a = auto_record(&app, &t, &a).await;
    void(&app, &t, &auto_a).await;
    agree(&app, "record voided").await;
    let d = dash(&app, &t).await;
    assert_eq!(d["beforeAfter"]["ordersBefore"], 1, "{d}");

    // Edits: A moves ward, size and sector; B's consent goes and comes back; A's owner
    // withdraws A's.
    update_enterprise(
        &app,
        &t,
        &a,
        json!({ "ward": "Vỹ Dạ", "sizeClass": "MEDIUM", "sector": "I" }),
    )
    .await;
    agree(&app, "ward, size and sector edited").await;
    update_enterprise(&app, &t, &b, json!({ "consentShareSales": false })).await;
    agree(&app, "consent off").await;
    update_enterprise(
        &app,
        &t,
        &b,
        json!({ "consentShareSales": true, "ward": "" }),
    )
    .await;
    agree(&app, "consent on, ward cleared").await;
    let v = app
        .gql_as(
            &shop_a.owner,
            "mutation($e: ID!) { withdrawConsent(enterpriseId: $e) { userErrors { code } } }",
            json!({ "e": a }),
        )
        .await;
    assert_eq!(v["data"]["withdrawConsent"]["userErrors"], json!([]), "{v}");
    agree(&app, "consent withdrawn by the owner").await;

    // Unpublished, then published again.
    set_published(&app, &shop_a.owner, &shop_a.id, false).await;
    agree(&app, "shop unpublished").await;
    let d = dash(&app, &t).await;
    assert_eq!(d["withLiveStore"], 1, "{d}");
    set_published(&app, &shop_a.owner, &shop_a.id, true).await;
    agree(&app, "shop published again").await;

    // C goes live and sells, then loses its support: its live shop and orders leave the funnel.
    publish(&app, &shop_c.owner, &shop_c.id).await;
    agree(&app, "third shop published").await;
    order(&app, &shop_c.slug, &shop_c.variant, 1).await;
    agree(&app, "order of a non-consenting enterprise").await;
    void(&app, &t, &c_training).await;
    agree(&app, "first record voided").await;
    let auto_c = auto_record(&app, &t, &c).await;
    void(&app, &t, &auto_c).await;
    agree(&app, "no support left").await;
    let d = dash(&app, &t).await;
    assert_eq!(d["funnel"]["shopCreated"], 2, "{d}");

    // An import updates A (by tax code) and creates D.
    let import = "mutation($p: String!, $c: String!) { importEnterprisesCsv(provinceCode: $p, csv: $c) { created updated userErrors { field code message } } }";
    let csv = "Tên doanh nghiệp,Mã số thuế,Phường/xã,Quy mô,Ngành (VSIC)\n\
               Mè xửng Song Hỷ,0314409058,Phú Hội,Nhỏ,C\n\
               Bánh ép Trâm,,Vỹ Dạ,Siêu nhỏ,I\n";
    let v = app.gql_as(&t, import, json!({ "p": "46", "c": csv })).await;
    assert_eq!(
        v["data"]["importEnterprisesCsv"],
        json!({ "created": 1, "updated": 1, "userErrors": [] }),
        "{v}"
    );
    agree(&app, "import").await;

    // Orders after the edits, and the cancellation of one placed before them.
    order(&app, &shop_a.slug, &shop_a.variant, 1).await;
    agree(&app, "order after the edits").await;
    cancel(&app, &shop_a.owner, &o2).await;
    agree(&app, "earlier order cancelled").await;

    // Hà Nội's enterprise sells too; Huế's figures do not move.
    let (_, slug_h, var_h) = linked_shop(&app, &hanoi, &h, "batdan").await;
    order(&app, &slug_h, &var_h, 3).await;
    agree(&app, "another province").await;

    // The totals kept change by change are the totals a rebuild makes.
    let kept = totals_rows(&app).await;
    let full = dash(&app, &t).await;
    choso_services::support::totals::rebuild(&app.db, None)
        .await
        .expect("rebuild");
    assert_eq!(kept, totals_rows(&app).await);
    assert_eq!(full, dash(&app, &t).await);
    agree(&app, "rebuilt").await;
    // Only Huế's rebuilt: the same again.
    choso_services::support::totals::rebuild(&app.db, Some("46"))
        .await
        .expect("rebuild one province");
    assert_eq!(kept, totals_rows(&app).await);
    // The migration that made the table fills it the same way from what is stored.
    let dialect = match app.backend {
        choso_services::Backend::Sqlite => "sqlite",
        choso_services::Backend::Postgres => "postgres",
    };
    let migration = std::fs::read_to_string(format!(
        "{}/migrations/{dialect}/0009_province_totals.sql",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("migration 0009");
    let fill = migration
        .find("INSERT INTO province_totals")
        .map(|i| migration[i..].to_string())
        .expect("the migration fills the table");
    sqlx::query("DELETE FROM province_totals")
        .execute(app.db.write())
        .await
        .expect("emptied");
    sqlx::raw_sql(sqlx::AssertSqlSafe(fill))
        .execute(app.db.write())
        .await
        .expect("filled as by the migration");
    assert_eq!(kept, totals_rows(&app).await);
}

/// Orders of two enterprises placed while their records, consent, ward and other shop change,
/// all at once: on PostgreSQL every one of these transactions runs concurrently with the others
/// (no deadlock, no lost update), and the totals still equal a rebuild and a scan.
async fn concurrent_changes_keep_the_totals(app: TestApp) {
    use futures_util::future::{BoxFuture, join_all};
    let t = hue_staff(&app).await;
    let a = enterprise(
        &app,
        &t,
        "Mè xửng Song Hỷ",
        "0314409058",
        json!({ "consentShareSales": true, "ward": "Phú Hội" }),
    )
    .await;
    let b = enterprise(
        &app,
        &t,
        "Nón lá Tây Hồ",
        "0300588569",
        json!({ "consentShareSales": true, "ward": "Thuận Hoà" }),
    )
    .await;
    let (_, slug_a, var_a) = linked_shop(&app, &t, &a, "songhy").await;
    let shop_b = linked_unpublished(&app, &t, &b, "tayho").await;
    publish(&app, &shop_b.owner, &shop_b.id).await;
    // A second shop of B, taken off line and back while B's first shop sells.
    let shop_b2 = linked_unpublished(&app, &t, &b, "tayho2").await;
    publish(&app, &shop_b2.owner, &shop_b2.id).await;
    let mut work: Vec<BoxFuture<'_, ()>> = Vec::new();
    for i in 0..12 {
        let (slug, variant) = if i % 2 == 0 {
            (slug_a.clone(), var_a.clone())
        } else {
            (shop_b.slug.clone(), shop_b.variant.clone())
        };
        let app = &app;
        work.push(Box::pin(async move {
            order(app, &slug, &variant, 1).await;
        }));
    }
    let (app_ref, t_ref, a_ref, b_ref) = (&app, &t, &a, &b);
    for (e, days) in [(a_ref, -40), (b_ref, -120), (a_ref, 20)] {
        work.push(Box::pin(async move {
            record(
                app_ref,
                t_ref,
                json!({ "enterpriseId": e, "kind": "TRAINING", "date": today_plus(days), "subsidy": "1000000" }),
            )
            .await;
        }));
    }
    work.push(Box::pin(async move {
        update_enterprise(app_ref, t_ref, a_ref, json!({ "consentShareSales": false })).await;
        update_enterprise(app_ref, t_ref, a_ref, json!({ "consentShareSales": true })).await;
    }));
    work.push(Box::pin(async move {
        update_enterprise(
            app_ref,
            t_ref,
            b_ref,
            json!({ "ward": "Vỹ Dạ", "sizeClass": "SMALL" }),
        )
        .await;
    }));
    let shop_b_ref = &shop_b2;
    work.push(Box::pin(async move {
        set_published(app_ref, &shop_b_ref.owner, &shop_b_ref.id, false).await;
        set_published(app_ref, &shop_b_ref.owner, &shop_b_ref.id, true).await;
    }));
    join_all(work).await;
    agree(&app, "after concurrent changes").await;
    let d = dash(&app, &t).await;
    assert_eq!(d["funnel"]["firstOrder"], 2, "{d}");
    assert_eq!(d["funnel"]["repeatOrders"], 2, "{d}");
    let kept = totals_rows(&app).await;
    choso_services::support::totals::rebuild(&app.db, None)
        .await
        .expect("rebuild");
    assert_eq!(kept, totals_rows(&app).await);
}

const READINESS: &str = "mutation($i: ReadinessInput!) { recordReadiness(input: $i) { assessment { id framework decision assessedOn level levelName score pillars { key level } note measured { onlineOrders90d digitalPaymentPercent monthsActive liveStore } } userErrors { field code } } }";

async fn readiness_assessments(app: TestApp) {
    let t = hue_staff(&app).await;
    let consenting = enterprise(
        &app,
        &t,
        "Bún bò Mệ Kéo",
        "0314409058",
        json!({ "consentShareSales": true }),
    )
    .await;
    let private = enterprise(&app, &t, "Gốm Phước Tích", "0300588569", json!({})).await;
    let (_, slug, variant) = linked_shop(&app, &t, &consenting, "mekeo").await;
    order(&app, &slug, &variant, 1).await;
    let v = app
        .gql(
            PLACE,
            json!({ "i": { "shopSlug": slug, "lines": [{ "variantId": variant, "quantity": 1 }],
                "customer": { "name": "Lê Thị Khách", "phone": "0912345678" },
                "shippingAddress": { "line1": "12 Trần Hưng Đạo", "provinceCode": "46" },
                "paymentMethod": "BANK_TRANSFER" } }),
        )
        .await;
    assert_eq!(v["data"]["placeOrder"]["userErrors"], json!([]), "{v}");

    // Pre-filled indicators: with consent only.
    let ind = "query($e: ID!) { enterprise(id: $e) { measuredIndicators { onlineOrders90d digitalPaymentPercent monthsActive liveStore } } }";
    let v = app.gql_as(&t, ind, json!({ "e": consenting })).await;
    assert_eq!(
        v["data"]["enterprise"]["measuredIndicators"],
        json!({ "onlineOrders90d": 2, "digitalPaymentPercent": 50, "monthsActive": 1, "liveStore": true }),
        "{v}"
    );
    let v = app.gql_as(&t, ind, json!({ "e": private })).await;
    assert_eq!(
        v["data"]["enterprise"]["measuredIndicators"],
        Value::Null,
        "{v}"
    );

    // A DBI 2021 assessment with pillars; the measured figures are stored with it.
    let v = app
        .gql_as(
            &t,
            READINESS,
            json!({ "i": { "enterpriseId": consenting, "framework": "DBI_2021", "assessedOn": "2025-03-01",
                "level": 1, "pillars": [{ "key": "strategy", "level": 1 }, { "key": "CUSTOMER_EXPERIENCE", "level": 2 }],
                "note": "Đánh giá lần đầu" } }),
        )
        .await;
    let a = &v["data"]["recordReadiness"];
    assert_eq!(a["userErrors"], json!([]), "{v}");
    assert_eq!(a["assessment"]["decision"], "1970/QĐ-BTTTT (2021)");
    assert_eq!(a["assessment"]["levelName"], "Khởi động");
    assert_eq!(
        a["assessment"]["pillars"],
        json!([{ "key": "STRATEGY", "level": 1 }, { "key": "CUSTOMER_EXPERIENCE", "level": 2 }])
    );
    assert_eq!(a["assessment"]["measured"]["onlineOrders90d"], 2);
    // A later one under the 2025 framework: a score, no level needed.
    let v = app
        .gql_as(
            &t,
            READINESS,
            json!({ "i": { "enterpriseId": consenting, "framework": "DBI_2025", "assessedOn": today_plus(0), "score": 42 } }),
        )
        .await;
    assert_eq!(v["data"]["recordReadiness"]["userErrors"], json!([]), "{v}");
    // Without consent nothing is measured.
    let v = app
        .gql_as(
            &t,
            READINESS,
            json!({ "i": { "enterpriseId": private, "framework": "DBI_2023", "assessedOn": "2025-05-05", "level": 3,
                "pillars": [{ "key": "P7", "level": 3 }] } }),
        )
        .await;
    assert_eq!(v["data"]["recordReadiness"]["userErrors"], json!([]), "{v}");
    assert_eq!(
        v["data"]["recordReadiness"]["assessment"]["measured"],
        Value::Null
    );

    // Bad inputs: every problem at once, nothing stored.
    let v = app
        .gql_as(
            &t,
            READINESS,
            json!({ "i": { "enterpriseId": private, "framework": "DBI_2021", "assessedOn": "2025-02-30", "level": 6,
                "pillars": [{ "key": "P1", "level": 2 }, { "key": "STRATEGY", "level": -1 }] } }),
        )
        .await;
    assert_eq!(
        codes(&v["data"]["recordReadiness"]),
        [
            "INVALID_DATE",
            "INVALID_LEVEL",
            "INVALID_PILLAR",
            "INVALID_LEVEL"
        ],
        "{v}"
    );
    let v = app
        .gql_as(
            &t,
            READINESS,
            json!({ "i": { "enterpriseId": private, "framework": "DBI_2025", "assessedOn": today_plus(3) } }),
        )
        .await;
    assert_eq!(
        codes(&v["data"]["recordReadiness"]),
        ["INVALID_DATE", "REQUIRED"],
        "{v}"
    );
    assert_eq!(app.count("readiness_assessments").await, 3);

    // Progress over time, on the enterprise and on a page of the register.
    let v = app
        .gql_as(
            &t,
            "{ enterprises(provinceCode: \"46\") { name readiness { framework assessedOn level score } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        v["data"]["enterprises"],
        json!([
            { "name": "Bún bò Mệ Kéo", "readiness": [
                { "framework": "DBI_2021", "assessedOn": "2025-03-01", "level": 1, "score": null },
                { "framework": "DBI_2025", "assessedOn": today_plus(0), "level": null, "score": 42 } ] },
            { "name": "Gốm Phước Tích", "readiness": [
                { "framework": "DBI_2023", "assessedOn": "2025-05-05", "level": 3, "score": null } ] }
        ]),
        "{v}"
    );

    // Another province's staff and the owner cannot read or write assessments.
    let hanoi = staff(&app, "staff@hanoi.gov.vn", Role::ProvinceStaff, Some("01")).await;
    let v = app
        .gql_as(
            &hanoi,
            READINESS,
            json!({ "i": { "enterpriseId": private, "framework": "DBI_2021", "assessedOn": "2025-05-05", "level": 2 } }),
        )
        .await;
    assert_eq!(error_code(&v).as_deref(), Some("FORBIDDEN"), "{v}");
    let v = app
        .gql_as(
            &hanoi,
            "query($e: ID!) { enterprise(id: $e) { readiness { level } } }",
            json!({ "e": private }),
        )
        .await;
    assert_eq!(error_code(&v).as_deref(), Some("FORBIDDEN"), "{v}");
    let (merchant, _) = app.register("merchant@example.vn").await;
    let v = app
        .gql_as(
            &merchant,
            READINESS,
            json!({ "i": { "enterpriseId": private, "framework": "DBI_2021", "assessedOn": "2025-05-05", "level": 2 } }),
        )
        .await;
    assert_eq!(error_code(&v).as_deref(), Some("FORBIDDEN"), "{v}");
    assert_eq!(app.count("readiness_assessments").await, 3);
}
