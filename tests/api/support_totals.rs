//! The province module's running totals and readiness assessments: cancelled orders leave the
//! figures, the 90-day windows move with the first support, the totals kept change by change
//! equal the totals rebuilt from the rows (`support::totals::rebuild`), a page of enterprises
//! loads its children in one statement each, and readiness assessments follow their
//! framework's rules, stay in their province and carry the measured indicators only with
//! consent.

use serde_json::{Value, json};

use crate::{
    helpers::{TestApp, codes, error_code},
    orders::{PLACE, order_input},
    shops::{CREATE_SHOP, product, publish},
    storage_tests,
    support::{DASH, RECORD, STATUS, enterprise, hue_staff, staff},
};
use choso_services::accounts::Role;

storage_tests!(
    cancellations_and_windows_agree_with_a_rebuild,
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
    publish(app, &owner, &shop).await;
    (owner, slug, variant)
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

async fn cancellations_and_windows_agree_with_a_rebuild(app: TestApp) {
    let t = hue_staff(&app).await;
    let a = enterprise(
        &app,
        &t,
        "Mè xửng Song Hỷ",
        "0314409058",
        json!({ "consentShareSales": true, "ward": "Phú Hội", "sizeClass": "SMALL" }),
    )
    .await;
    let b = enterprise(
        &app,
        &t,
        "Nón lá Tây Hồ",
        "0300588569",
        json!({ "consentShareSales": true, "ward": "Thuận Hoà", "sizeClass": "MICRO", "sector": "G" }),
    )
    .await;
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
    choso_services::support::totals::rebuild(&app.db, None)
        .await
        .expect("rebuild");
    let rebuilt = app.gql_as(&t, full, json!({ "p": "46" })).await;
    assert_eq!(kept, rebuilt);
    assert_eq!(
        kept["data"]["provinceDashboard"]["breakdowns"]["byProgramme"],
        json!([
            { "key": "", "enterprises": 1, "records": 1, "subsidy": { "amount": "0" } },
            { "key": "Kế hoạch 2026", "enterprises": 1, "records": 1, "subsidy": { "amount": "2000000" } }
        ]),
        "{kept}"
    );
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
