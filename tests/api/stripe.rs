//! Card payments through Stripe, end to end against the local Stripe double
//! (`stripe_double`): Checkout Sessions on the shop's connected account in VND, signed webhooks
//! (bad signatures, stale timestamps, replays, unknown types, foreign sessions), expiry with
//! stock returned, wrong amounts flagged, provider failures, refunds, and the expiry worker.
//!
//! Each test runs on SQLite and on PostgreSQL like `storage_tests!`, but with an app whose
//! configuration points Stripe at a fresh double (`stripe_tests!` below).

use choso_services::{Backend, stripe::StripeConfig};
use serde_json::{Value, json};
use sqlx::Row;

use crate::{
    helpers::{TestApp, codes, spawn_app_with},
    shops::{CREATE_SHOP, product, publish},
    stripe_double::{Failure, StripeDouble, charge, event},
};

const SECRET_KEY: &str = "sk_test_51ChosoPlatformKey";
const WEBHOOK_SECRET: &str = "whsec_test_choso_endpoint";
const ACCOUNT: &str = "acct_1ChosoLuaHoiAn";
const PRICE: i64 = 250_000;
const SHIPPING: i64 = 30_000;
const STOCK: i64 = 5;

/// Runs each named `async fn(TestApp, StripeDouble)` on SQLite and on PostgreSQL (skipped
/// locally without `CHOSO_TEST_POSTGRES_URL`, required in CI), with Stripe configured.
macro_rules! stripe_tests {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    if let Some((app, stripe)) = super::spawn(choso_services::Backend::Sqlite).await {
                        super::$name(app, stripe).await;
                    }
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if let Some((app, stripe)) = super::spawn(choso_services::Backend::Postgres).await {
                        super::$name(app, stripe).await;
                    }
                }
            }
        )*
    };
}

stripe_tests!(
    card_order_creates_checkout_session_on_the_connected_account,
    completed_event_marks_paid_once,
    bad_signatures_and_stale_timestamps_change_nothing,
    unknown_events_are_answered_and_ignored,
    foreign_sessions_are_ignored,
    expired_session_cancels_and_returns_stock,
    wrong_amount_is_flagged_not_paid,
    provider_failure_at_checkout_cancels_and_keeps_stock,
    refund_of_a_paid_order,
    charge_refunded_events,
    expire_overdue_cancels_unpaid_card_orders,
);

fn config(base: &str) -> StripeConfig {
    StripeConfig {
        secret_key: SECRET_KEY.into(),
        webhook_secret: WEBHOOK_SECRET.into(),
        api_base: Some(base.into()),
        expire_after_minutes: 60,
    }
}

async fn spawn(backend: Backend) -> Option<(TestApp, StripeDouble)> {
    let stripe = StripeDouble::start().await;
    let cfg = config(&stripe.base);
    let app = spawn_app_with(backend, move |c| c.stripe = Some(cfg)).await?;
    Some((app, stripe))
}

fn now_s() -> i64 {
    choso_services::ids::now_ms() / 1000
}

/// A published shop with a card account, a shipping fee and one product.
struct CardShop {
    token: String,
    id: String,
    slug: String,
    /// GraphQL id of the product's variant, and its local id.
    variant: String,
    variant_local: String,
}

async fn card_shop(app: &TestApp) -> CardShop {
    let (token, _) = app.register("chu.shop@example.vn").await;
    let v = app
        .gql_as(
            &token,
            CREATE_SHOP,
            json!({ "i": { "name": "Lụa Hội An", "provinceCode": "46" } }),
        )
        .await;
    let s = &v["data"]["createShop"];
    assert_eq!(s["userErrors"], json!([]), "{v}");
    let id = s["shop"]["id"].as_str().unwrap().to_string();
    let slug = s["shop"]["slug"].as_str().unwrap().to_string();
    let (_, variant) = product(app, &token, &id, "Áo dài lụa", &PRICE.to_string(), STOCK).await;
    let v = app
        .gql_as(
            &token,
            "mutation($s: ID!) { updateShop(shopId: $s, input: { shippingFee: \"30000\" }) { userErrors { code message } } }",
            json!({ "s": id }),
        )
        .await;
    assert_eq!(v["data"]["updateShop"]["userErrors"], json!([]), "{v}");
    let v = app
        .gql_as(
            &token,
            "mutation($s: ID!, $a: String) { updateShopPayments(shopId: $s, input: { stripeAccountId: $a }) { shop { paymentMethods } userErrors { code message } } }",
            json!({ "s": id, "a": ACCOUNT }),
        )
        .await;
    assert_eq!(
        v["data"]["updateShopPayments"]["userErrors"],
        json!([]),
        "{v}"
    );
    assert!(
        v["data"]["updateShopPayments"]["shop"]["paymentMethods"]
            .as_array()
            .unwrap()
            .contains(&json!("CARD")),
        "{v}"
    );
    publish(app, &token, &id).await;
    let variant_local = variant
        .split_once(':')
        .map(|(_, l)| l.to_string())
        .unwrap_or_else(|| variant.clone());
    CardShop {
        token,
        id,
        slug,
        variant,
        variant_local,
    }
}

const PLACE: &str = "mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { order { id number status paymentMethod paymentStatus checkoutUrl total { amount } } userErrors { field code message } } }";

async fn place_card_order(app: &TestApp, shop: &CardShop, quantity: i64) -> Value {
    app.gql(
        PLACE,
        json!({ "i": {
            "shopSlug": shop.slug,
            "lines": [{ "variantId": shop.variant, "quantity": quantity }],
            "customer": { "name": "Nguyễn Thị Lan", "phone": "0905 123 456", "email": "lan@example.vn" },
            "shippingAddress": { "line1": "12 Trần Phú", "ward": "Minh An", "provinceCode": "46" },
            "paymentMethod": "CARD"
        } }),
    )
    .await
}

/// Places a card order of `quantity` and returns its GraphQL id, its local id and its session.
async fn card_order(
    app: &TestApp,
    stripe: &StripeDouble,
    shop: &CardShop,
    quantity: i64,
) -> (String, String, Value) {
    let v = place_card_order(app, shop, quantity).await;
    let p = &v["data"]["placeOrder"];
    assert_eq!(p["userErrors"], json!([]), "{v}");
    let gid = p["order"]["id"].as_str().unwrap().to_string();
    let local = gid.split_once(':').unwrap().1.to_string();
    (gid, local, stripe.last_session())
}

const ORDER: &str = "query($id: ID!) { order(id: $id) { status paymentStatus checkoutUrl flagged flagReason cancelReason history { kind from to note } } }";

async fn order(app: &TestApp, shop: &CardShop, gid: &str) -> Value {
    let v = app.gql_as(&shop.token, ORDER, json!({ "id": gid })).await;
    assert!(v["errors"].is_null(), "{v}");
    v["data"]["order"].clone()
}

async fn stock(app: &TestApp, shop: &CardShop) -> i64 {
    sqlx::query("SELECT stock FROM variants WHERE shop_id = $1 AND id = $2")
        .bind(shop.id.clone())
        .bind(shop.variant_local.clone())
        .fetch_one(app.db.read())
        .await
        .expect("variant")
        .try_get("stock")
        .expect("stock")
}

/// (stripe_session_id, stripe_payment_intent, expires_at) of an order.
async fn stored(app: &TestApp, local: &str) -> (Option<String>, Option<String>, Option<i64>) {
    let r = sqlx::query(
        "SELECT stripe_session_id, stripe_payment_intent, expires_at FROM orders WHERE id = $1",
    )
    .bind(local.to_string())
    .fetch_one(app.db.read())
    .await
    .expect("order row");
    (
        r.try_get("stripe_session_id").unwrap(),
        r.try_get("stripe_payment_intent").unwrap(),
        r.try_get("expires_at").unwrap(),
    )
}

fn payment_events(history: &Value) -> usize {
    history
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "payment")
        .count()
}

/// The session as Stripe sends it in `checkout.session.completed`.
fn completed(session: &Value, payment_intent: &str, amount_total: Option<i64>) -> Value {
    let mut s = session.clone();
    if let Some(o) = s.as_object_mut() {
        o.remove("_n");
    }
    s["status"] = json!("complete");
    s["payment_status"] = json!("paid");
    s["payment_intent"] = json!(payment_intent);
    s["url"] = Value::Null;
    s["customer_details"] = json!({ "address": null, "email": "lan@example.vn", "name": "Nguyễn Thị Lan", "phone": null, "tax_exempt": "none", "tax_ids": [] });
    if let Some(a) = amount_total {
        s["amount_total"] = json!(a);
        s["amount_subtotal"] = json!(a);
    }
    s
}

fn expired(session: &Value) -> Value {
    let mut s = session.clone();
    if let Some(o) = s.as_object_mut() {
        o.remove("_n");
    }
    s["status"] = json!("expired");
    s["url"] = Value::Null;
    s
}

/// POSTs a webhook body with a `Stripe-Signature` header (None: no header).
async fn post_webhook(app: &TestApp, payload: &str, signature: Option<String>) -> (u16, Value) {
    let mut req = app
        .client
        .post(app.url("/webhooks/stripe"))
        .header("content-type", "application/json")
        .body(payload.to_string());
    if let Some(s) = signature {
        req = req.header("Stripe-Signature", s);
    }
    let resp = req.send().await.expect("webhook sent");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn sign(payload: &str) -> Option<String> {
    Some(choso_services::stripe::signature_header(
        payload,
        WEBHOOK_SECRET,
        now_s(),
    ))
}

/// Sends a correctly signed event and expects Stripe's "received" answer.
async fn deliver(app: &TestApp, payload: &str) {
    let (status, body) = post_webhook(app, payload, sign(payload)).await;
    assert_eq!(
        (status, &body),
        (200, &json!({ "received": true })),
        "{payload}"
    );
}

async fn count_payment_events(app: &TestApp) -> i64 {
    app.count("payment_events").await
}

// ---------------------------------------------------------------- checkout

async fn card_order_creates_checkout_session_on_the_connected_account(
    app: TestApp,
    stripe: StripeDouble,
) {
    let shop = card_shop(&app).await;
    let before = now_s();
    let v = place_card_order(&app, &shop, 2).await;
    let p = &v["data"]["placeOrder"];
    assert_eq!(p["userErrors"], json!([]), "{v}");
    assert_eq!(p["order"]["paymentMethod"], "CARD");
    assert_eq!(p["order"]["paymentStatus"], "PENDING");
    assert_eq!(p["order"]["status"], "PENDING");
    assert_eq!(
        p["order"]["total"]["amount"],
        json!((2 * PRICE + SHIPPING).to_string()),
        "{v}"
    );
    let url = p["order"]["checkoutUrl"]
        .as_str()
        .expect("a checkout address");
    assert!(
        url.starts_with("https://checkout.stripe.com/c/pay/cs_test_"),
        "{url}"
    );
    assert_eq!(
        stock(&app, &shop).await,
        STOCK - 2,
        "stock is held while the customer pays"
    );

    // What Stripe received: one session on the shop's account, in whole đồng.
    let got = stripe.received_on("/v1/checkout/sessions");
    assert_eq!(got.len(), 1);
    let r = &got[0];
    assert_eq!(r.account.as_deref(), Some(ACCOUNT), "Stripe-Account header");
    assert_eq!(
        r.authorization.as_deref(),
        Some(&*format!("Bearer {SECRET_KEY}"))
    );
    assert_eq!(r.field("mode"), Some("payment"));
    assert_eq!(
        r.field("line_items[0][price_data][currency]"),
        Some("vnd"),
        "{}",
        r.body
    );
    assert_eq!(
        r.field("line_items[0][price_data][unit_amount]"),
        Some("250000"),
        "VND is zero-decimal: {}",
        r.body
    );
    assert_eq!(r.field("line_items[0][quantity]"), Some("2"));
    assert_eq!(
        r.field("line_items[0][price_data][product_data][name]"),
        Some("Áo dài lụa"),
        "{}",
        r.body
    );
    assert_eq!(r.field("line_items[1][price_data][currency]"), Some("vnd"));
    assert_eq!(
        r.field("line_items[1][price_data][unit_amount]"),
        Some("30000")
    );
    assert_eq!(
        r.field("line_items[1][price_data][product_data][name]"),
        Some("Phí vận chuyển")
    );
    assert_eq!(r.field("line_items[1][quantity]"), Some("1"));
    assert_eq!(r.field("line_items[2][quantity]"), None, "no more lines");
    let gid = p["order"]["id"].as_str().unwrap();
    let local = gid.split_once(':').unwrap().1;
    assert_eq!(r.field("client_reference_id"), Some(local));
    assert_eq!(r.field("metadata[shop_id]"), Some(shop.id.as_str()));
    assert_eq!(r.field("metadata[order_id]"), Some(local));
    let number = p["order"]["number"]
        .as_str()
        .unwrap()
        .trim_start_matches('#');
    assert_eq!(r.field("metadata[order_number]"), Some(number));
    assert_eq!(r.field("customer_email"), Some("lan@example.vn"));
    let success = r.field("success_url").unwrap();
    // The storefront's confirmation page, with the buyer's key, then Stripe's session id.
    let prefix = format!("{}/s/{}/orders/{number}?k=", app.base, shop.slug);
    assert!(success.starts_with(&prefix), "{success}");
    assert!(
        success.ends_with("&session_id={CHECKOUT_SESSION_ID}"),
        "{success}"
    );
    let key = &success[prefix.len()..success.len() - "&session_id={CHECKOUT_SESSION_ID}".len()];
    assert_eq!(key.len(), 32, "{success}");
    assert_eq!(
        r.field("cancel_url").unwrap(),
        format!("{}/s/{}/cart", app.base, shop.slug)
    );
    let expires: i64 = r.field("expires_at").unwrap().parse().unwrap();
    assert!(
        (before + 3600..=now_s() + 3600).contains(&expires),
        "expires in the configured 60 minutes: {expires}"
    );

    // The order keeps the session, its address and its deadline.
    let session = stripe.last_session();
    assert_eq!(
        session["amount_total"],
        json!(2 * PRICE + SHIPPING),
        "the double's total is the order's"
    );
    let (sid, pi, exp) = stored(&app, local).await;
    assert_eq!(sid.as_deref(), session["id"].as_str());
    assert_eq!(pi, None);
    assert_eq!(exp, Some(expires * 1000));
}

async fn provider_failure_at_checkout_cancels_and_keeps_stock(app: TestApp, stripe: StripeDouble) {
    let shop = card_shop(&app).await;
    for failure in [
        Failure::ServerError,
        Failure::InvalidRequest,
        Failure::BadGateway,
    ] {
        stripe.fail_with(Some(failure));
        let v = place_card_order(&app, &shop, 2).await;
        let p = &v["data"]["placeOrder"];
        assert_eq!(codes(p), vec!["PAYMENT_PROVIDER_ERROR"], "{failure:?}: {v}");
        assert_eq!(
            p["userErrors"][0]["field"],
            json!(["input", "paymentMethod"]),
            "{v}"
        );
        assert!(p["order"].is_null(), "{v}");
        assert_eq!(
            stock(&app, &shop).await,
            STOCK,
            "{failure:?}: the stock taken is returned"
        );
    }
    assert_eq!(
        stripe.received_on("/v1/checkout/sessions").len(),
        3,
        "tried once each, not retried"
    );
    // The orders that could not start are cancelled, not left pending.
    let r = sqlx::query("SELECT COUNT(*) AS n FROM orders WHERE status <> 'CANCELLED'")
        .fetch_one(app.db.read())
        .await
        .unwrap();
    assert_eq!(r.try_get::<i64, _>("n").unwrap(), 0);
    // Stripe answers again: card orders work again.
    stripe.fail_with(None);
    let v = place_card_order(&app, &shop, 1).await;
    assert_eq!(v["data"]["placeOrder"]["userErrors"], json!([]), "{v}");
    assert_eq!(stock(&app, &shop).await, STOCK - 1);
}

// ---------------------------------------------------------------- webhooks

async fn completed_event_marks_paid_once(app: TestApp, stripe: StripeDouble) {
    let shop = card_shop(&app).await;
    let (gid, local, session) = card_order(&app, &stripe, &shop, 2).await;
    let payload = event(
        "evt_1Completed",
        "checkout.session.completed",
        Some(ACCOUNT),
        completed(&session, "pi_test_paid1", None),
    );
    deliver(&app, &payload).await;
    let o = order(&app, &shop, &gid).await;
    assert_eq!(o["paymentStatus"], "PAID", "{o}");
    assert_eq!(
        o["status"], "PENDING",
        "paid orders still wait for the shop to confirm"
    );
    assert_eq!(o["flagged"], false);
    assert!(
        o["checkoutUrl"].is_null(),
        "a paid order offers no checkout address"
    );
    assert_eq!(payment_events(&o["history"]), 1, "{o}");
    assert_eq!(
        stored(&app, &local).await.1.as_deref(),
        Some("pi_test_paid1")
    );
    assert_eq!(count_payment_events(&app).await, 1);

    // Stripe retries (and an attacker replays): answered, nothing changes.
    deliver(&app, &payload).await;
    deliver(&app, &payload).await;
    let again = order(&app, &shop, &gid).await;
    assert_eq!(again["paymentStatus"], "PAID");
    assert_eq!(payment_events(&again["history"]), 1, "paid once: {again}");
    assert_eq!(count_payment_events(&app).await, 1);
    assert_eq!(stock(&app, &shop).await, STOCK - 2);
}

async fn bad_signatures_and_stale_timestamps_change_nothing(app: TestApp, stripe: StripeDouble) {
    let shop = card_shop(&app).await;
    let (gid, _, session) = card_order(&app, &stripe, &shop, 1).await;
    let payload = event(
        "evt_1Signed",
        "checkout.session.completed",
        Some(ACCOUNT),
        completed(&session, "pi_test_sig", None),
    );
    let now = now_s();
    let sign_with = |secret: &str, t: i64| {
        Some(choso_services::stripe::signature_header(
            &payload, secret, t,
        ))
    };
    let tampered = payload.replace("\"livemode\":false", "\"livemode\":false ");
    assert_ne!(tampered, payload);
    let cases: Vec<(&str, String, Option<String>)> = vec![
        (
            "wrong secret",
            payload.clone(),
            sign_with("whsec_someone_else", now),
        ),
        ("no header", payload.clone(), None),
        (
            "garbage header",
            payload.clone(),
            Some("t=abc,v1=00".into()),
        ),
        ("no v1", payload.clone(), Some(format!("t={now}"))),
        (
            "tampered body",
            tampered.clone(),
            sign_with(WEBHOOK_SECRET, now),
        ),
        (
            "stale timestamp",
            payload.clone(),
            sign_with(WEBHOOK_SECRET, now - 6 * 60),
        ),
        (
            "timestamp from the future",
            payload.clone(),
            sign_with(WEBHOOK_SECRET, now + 6 * 60),
        ),
    ];
    for (what, body, sig) in cases {
        let (status, answer) = post_webhook(&app, &body, sig).await;
        assert_eq!(status, 400, "{what}: {answer}");
        assert_eq!(
            answer["error"]["code"], "INVALID_SIGNATURE",
            "{what}: {answer}"
        );
    }
    let o = order(&app, &shop, &gid).await;
    assert_eq!(o["paymentStatus"], "PENDING", "{o}");
    assert_eq!(count_payment_events(&app).await, 0);
    // Within the 5-minute tolerance the same event is accepted (the refusals consumed nothing).
    let (status, _) = post_webhook(&app, &payload, sign_with(WEBHOOK_SECRET, now - 4 * 60)).await;
    assert_eq!(status, 200);
    assert_eq!(order(&app, &shop, &gid).await["paymentStatus"], "PAID");
}

async fn unknown_events_are_answered_and_ignored(app: TestApp, stripe: StripeDouble) {
    let shop = card_shop(&app).await;
    let (gid, _, session) = card_order(&app, &stripe, &shop, 1).await;
    deliver(
        &app,
        &event(
            "evt_1Unknown",
            "choso.something_new",
            Some(ACCOUNT),
            json!({ "id": "x_1", "object": "something_new" }),
        ),
    )
    .await;
    // A known type we do not handle, and a session that is not paid yet.
    let mut unpaid = completed(&session, "pi_test_unpaid", None);
    unpaid["payment_status"] = json!("unpaid");
    deliver(
        &app,
        &event(
            "evt_1Unpaid",
            "checkout.session.completed",
            Some(ACCOUNT),
            unpaid,
        ),
    )
    .await;
    deliver(
        &app,
        &event(
            "evt_1Async",
            "checkout.session.async_payment_failed",
            Some(ACCOUNT),
            expired(&session),
        ),
    )
    .await;
    assert_eq!(count_payment_events(&app).await, 0);
    let o = order(&app, &shop, &gid).await;
    assert_eq!(
        (o["status"].as_str(), o["paymentStatus"].as_str()),
        (Some("PENDING"), Some("PENDING")),
        "{o}"
    );
}

async fn foreign_sessions_are_ignored(app: TestApp, stripe: StripeDouble) {
    let shop = card_shop(&app).await;
    let (gid, _, session) = card_order(&app, &stripe, &shop, 1).await;
    // Another connected account's session naming our order in its metadata.
    let mut forged = completed(&session, "pi_test_forged", None);
    forged["id"] = json!("cs_test_forgedByAnotherShop");
    deliver(
        &app,
        &event(
            "evt_1Forged",
            "checkout.session.completed",
            Some("acct_1Mallory"),
            forged.clone(),
        ),
    )
    .await;
    deliver(
        &app,
        &event("evt_1Forged2", "checkout.session.completed", None, forged),
    )
    .await;
    // The right session, but reported from another account.
    deliver(
        &app,
        &event(
            "evt_1OtherAcct",
            "checkout.session.completed",
            Some("acct_1Mallory"),
            completed(&session, "pi_test_x", None),
        ),
    )
    .await;
    deliver(
        &app,
        &event(
            "evt_1OtherAcctExp",
            "checkout.session.expired",
            Some("acct_1Mallory"),
            expired(&session),
        ),
    )
    .await;
    // A session for an order that does not exist.
    let mut nobody = completed(&session, "pi_test_nobody", None);
    nobody["metadata"]["order_id"] = json!("01J0000000000000000000000Z");
    nobody["client_reference_id"] = json!("01J0000000000000000000000Z");
    deliver(
        &app,
        &event(
            "evt_1Nobody",
            "checkout.session.completed",
            Some(ACCOUNT),
            nobody,
        ),
    )
    .await;
    let o = order(&app, &shop, &gid).await;
    assert_eq!(
        (o["status"].as_str(), o["paymentStatus"].as_str()),
        (Some("PENDING"), Some("PENDING")),
        "{o}"
    );
    assert_eq!(count_payment_events(&app).await, 0);
    assert_eq!(stock(&app, &shop).await, STOCK - 1);
}

async fn expired_session_cancels_and_returns_stock(app: TestApp, stripe: StripeDouble) {
    let shop = card_shop(&app).await;
    let (gid, _, session) = card_order(&app, &stripe, &shop, 3).await;
    assert_eq!(stock(&app, &shop).await, STOCK - 3);
    let payload = event(
        "evt_1Expired",
        "checkout.session.expired",
        Some(ACCOUNT),
        expired(&session),
    );
    deliver(&app, &payload).await;
    let o = order(&app, &shop, &gid).await;
    assert_eq!(o["status"], "CANCELLED", "{o}");
    assert_eq!(o["paymentStatus"], "FAILED", "{o}");
    assert_eq!(o["cancelReason"], "Stripe session expired");
    assert_eq!(stock(&app, &shop).await, STOCK, "the stock returns");
    // A replay returns nothing twice.
    deliver(&app, &payload).await;
    assert_eq!(stock(&app, &shop).await, STOCK, "returned once");
    // Nor does a second event for the same session (a different id).
    deliver(
        &app,
        &event(
            "evt_1Expired2",
            "checkout.session.expired",
            Some(ACCOUNT),
            expired(&session),
        ),
    )
    .await;
    assert_eq!(stock(&app, &shop).await, STOCK, "returned once");
    let o = order(&app, &shop, &gid).await;
    let cancels = o["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["to"] == "CANCELLED")
        .count();
    assert_eq!(cancels, 1, "{o}");
}

async fn wrong_amount_is_flagged_not_paid(app: TestApp, stripe: StripeDouble) {
    let shop = card_shop(&app).await;
    let (gid, local, session) = card_order(&app, &stripe, &shop, 1).await;
    let payload = event(
        "evt_1Short",
        "checkout.session.completed",
        Some(ACCOUNT),
        completed(&session, "pi_test_short", Some(1_000)),
    );
    deliver(&app, &payload).await;
    let o = order(&app, &shop, &gid).await;
    assert_eq!(o["paymentStatus"], "PENDING", "not paid: {o}");
    assert_eq!(o["flagged"], true, "{o}");
    assert!(o["flagReason"].as_str().unwrap().contains("1000"), "{o}");
    assert_eq!(
        stored(&app, &local).await.1.as_deref(),
        Some("pi_test_short"),
        "kept to refund it"
    );
    // A wrong currency is no better.
    let (gid2, _, session2) = card_order(&app, &stripe, &shop, 1).await;
    let mut usd = completed(&session2, "pi_test_usd", None);
    usd["currency"] = json!("usd");
    deliver(
        &app,
        &event("evt_1Usd", "checkout.session.completed", Some(ACCOUNT), usd),
    )
    .await;
    let o = order(&app, &shop, &gid2).await;
    assert_eq!(
        (o["paymentStatus"].as_str(), o["flagged"].as_bool()),
        (Some("PENDING"), Some(true)),
        "{o}"
    );
}

// ---------------------------------------------------------------- refunds

const REFUND: &str = "mutation($o: ID!) { refundOrder(orderId: $o) { order { paymentStatus status } userErrors { field code message } } }";

async fn refund_of_a_paid_order(app: TestApp, stripe: StripeDouble) {
    let shop = card_shop(&app).await;
    let (gid, _, session) = card_order(&app, &stripe, &shop, 2).await;
    // Not paid yet: nothing to refund, and Stripe is not asked.
    let v = app.gql_as(&shop.token, REFUND, json!({ "o": gid })).await;
    assert_eq!(
        codes(&v["data"]["refundOrder"]),
        vec!["NOT_REFUNDABLE"],
        "{v}"
    );
    assert!(stripe.received_on("/v1/refunds").is_empty());
    deliver(
        &app,
        &event(
            "evt_1PaidR",
            "checkout.session.completed",
            Some(ACCOUNT),
            completed(&session, "pi_test_refund", None),
        ),
    )
    .await;

    // Stripe refuses: the order stays paid.
    stripe.fail_with(Some(Failure::InvalidRequest));
    let v = app.gql_as(&shop.token, REFUND, json!({ "o": gid })).await;
    assert_eq!(
        codes(&v["data"]["refundOrder"]),
        vec!["PAYMENT_PROVIDER_ERROR"],
        "{v}"
    );
    assert_eq!(order(&app, &shop, &gid).await["paymentStatus"], "PAID");
    stripe.fail_with(None);

    let v = app.gql_as(&shop.token, REFUND, json!({ "o": gid })).await;
    let p = &v["data"]["refundOrder"];
    assert_eq!(p["userErrors"], json!([]), "{v}");
    assert_eq!(p["order"]["paymentStatus"], "REFUNDED", "{v}");
    let got = stripe.received_on("/v1/refunds");
    assert_eq!(got.len(), 2);
    let r = &got[1];
    assert_eq!(
        r.field("payment_intent"),
        Some("pi_test_refund"),
        "{}",
        r.body
    );
    assert_eq!(r.account.as_deref(), Some(ACCOUNT));
    assert!(
        r.idempotency_key.as_deref().is_some_and(|k| !k.is_empty()),
        "refunds carry an idempotency key"
    );
    assert_eq!(
        got[0].idempotency_key, r.idempotency_key,
        "the same key for every attempt at one order's refund"
    );

    // Stripe then reports the refund: already recorded, nothing changes.
    let o = order(&app, &shop, &gid).await;
    let refunded = charge(
        "ch_test_r1",
        "pi_test_refund",
        2 * PRICE + SHIPPING,
        2 * PRICE + SHIPPING,
    );
    deliver(
        &app,
        &event(
            "evt_1ChargeRefunded",
            "charge.refunded",
            Some(ACCOUNT),
            refunded,
        ),
    )
    .await;
    let after = order(&app, &shop, &gid).await;
    assert_eq!(after["paymentStatus"], "REFUNDED");
    assert_eq!(
        payment_events(&after["history"]),
        payment_events(&o["history"]),
        "{after}"
    );
    // A refunded order cannot be refunded again.
    let v = app.gql_as(&shop.token, REFUND, json!({ "o": gid })).await;
    assert_eq!(
        codes(&v["data"]["refundOrder"]),
        vec!["NOT_REFUNDABLE"],
        "{v}"
    );
    assert_eq!(stripe.received_on("/v1/refunds").len(), 2);
    // Strangers cannot refund.
    let (stranger, _) = app.register("la@example.vn").await;
    let v = app.gql_as(&stranger, REFUND, json!({ "o": gid })).await;
    assert!(
        v["data"]["refundOrder"]["order"].is_null() || !v["errors"].is_null(),
        "{v}"
    );
    assert_eq!(stripe.received_on("/v1/refunds").len(), 2);
}

async fn charge_refunded_events(app: TestApp, stripe: StripeDouble) {
    let shop = card_shop(&app).await;
    let total = PRICE + SHIPPING;
    let (full_gid, _, s1) = card_order(&app, &stripe, &shop, 1).await;
    let (part_gid, _, s2) = card_order(&app, &stripe, &shop, 1).await;
    deliver(
        &app,
        &event(
            "evt_1P1",
            "checkout.session.completed",
            Some(ACCOUNT),
            completed(&s1, "pi_test_full", None),
        ),
    )
    .await;
    deliver(
        &app,
        &event(
            "evt_1P2",
            "checkout.session.completed",
            Some(ACCOUNT),
            completed(&s2, "pi_test_part", None),
        ),
    )
    .await;
    // Refunded in the Stripe dashboard, from another account first (ignored), then the shop's.
    let full = event(
        "evt_1Full",
        "charge.refunded",
        Some(ACCOUNT),
        charge("ch_test_full", "pi_test_full", total, total),
    );
    deliver(
        &app,
        &event(
            "evt_1Elsewhere",
            "charge.refunded",
            Some("acct_1Mallory"),
            charge("ch_x", "pi_test_full", total, total),
        ),
    )
    .await;
    assert_eq!(order(&app, &shop, &full_gid).await["paymentStatus"], "PAID");
    deliver(&app, &full).await;
    deliver(&app, &full).await;
    let o = order(&app, &shop, &full_gid).await;
    assert_eq!(o["paymentStatus"], "REFUNDED", "{o}");
    assert_eq!(
        payment_events(&o["history"]),
        2,
        "paid, then refunded once: {o}"
    );
    // A partial refund is flagged for the shop, the order stays paid.
    deliver(
        &app,
        &event(
            "evt_1Part",
            "charge.refunded",
            Some(ACCOUNT),
            charge("ch_test_part", "pi_test_part", total, 50_000),
        ),
    )
    .await;
    let o = order(&app, &shop, &part_gid).await;
    assert_eq!(o["paymentStatus"], "PAID", "{o}");
    assert_eq!(o["flagged"], true, "{o}");
    assert!(o["flagReason"].as_str().unwrap().contains("50000"), "{o}");
}

// ---------------------------------------------------------------- expiry worker

async fn expire_overdue_cancels_unpaid_card_orders(app: TestApp, stripe: StripeDouble) {
    let shop = card_shop(&app).await;
    let (unpaid, _, _) = card_order(&app, &stripe, &shop, 1).await;
    let (paid, _, s2) = card_order(&app, &stripe, &shop, 2).await;
    deliver(
        &app,
        &event(
            "evt_1PaidE",
            "checkout.session.completed",
            Some(ACCOUNT),
            completed(&s2, "pi_test_e", None),
        ),
    )
    .await;
    assert_eq!(stock(&app, &shop).await, STOCK - 3);
    let cfg = config(&stripe.base);
    let now = choso_services::ids::now_ms();
    // Not yet due.
    assert_eq!(
        choso_services::stripe::expire_overdue(&app.db, &cfg, now)
            .await
            .unwrap(),
        0
    );
    assert_eq!(order(&app, &shop, &unpaid).await["status"], "PENDING");
    // Two hours on: the unpaid one goes, its stock returns; the paid one stays.
    let later = now + 2 * 3600 * 1000;
    assert_eq!(
        choso_services::stripe::expire_overdue(&app.db, &cfg, later)
            .await
            .unwrap(),
        1
    );
    let o = order(&app, &shop, &unpaid).await;
    assert_eq!(o["status"], "CANCELLED", "{o}");
    assert_eq!(o["cancelReason"], "card payment not completed in time");
    assert_eq!(o["paymentStatus"], "FAILED");
    let p = order(&app, &shop, &paid).await;
    assert_eq!(
        (p["status"].as_str(), p["paymentStatus"].as_str()),
        (Some("PENDING"), Some("PAID")),
        "{p}"
    );
    assert_eq!(stock(&app, &shop).await, STOCK - 2);
    // Running again (another node, the next tick) changes nothing.
    assert_eq!(
        choso_services::stripe::expire_overdue(&app.db, &cfg, later)
            .await
            .unwrap(),
        0
    );
    assert_eq!(stock(&app, &shop).await, STOCK - 2);
}
