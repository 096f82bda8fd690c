//! Orders: placing them (server-side totals, stock, numbers, idempotency), the lifecycle,
//! listing and tracking, VietQR and bank reconciliation, isolation, the live feed, and the
//! no-oversell proof under concurrency.

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest, http::HeaderValue};

use crate::{
    helpers::{TestApp, codes, error_code},
    shops::{owner_with_shop, product, publish},
    storage_tests,
};

pub const PLACE: &str = "mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { order { id number status paymentMethod paymentStatus subtotal { amount } shippingFee { amount } total { amount formatted } lines { title variantTitle quantity unitPrice { amount } total { amount } } vietqrPayload transferNote checkoutUrl customer { name } } userErrors { field code message } } }";

/// A published shop (slug `tiem`) with one product; returns (owner token, shop id, variant id).
pub async fn open_shop(app: &TestApp, stock: i64) -> (String, String, String) {
    let (token, shop) = owner_with_shop(app, "owner@example.vn", "Tiệm").await;
    let (_, variant) = product(app, &token, &shop, "Bánh pía", "60000", stock).await;
    publish(app, &token, &shop).await;
    (token, shop, variant)
}

pub fn order_input(variant: &str, qty: i64) -> Value {
    json!({
        "shopSlug": "tiem",
        "lines": [{ "variantId": variant, "quantity": qty }],
        "customer": { "name": "Lê Thị Khách", "phone": "0912 345 678", "email": "khach@example.vn" },
        "shippingAddress": { "line1": "5 Trần Hưng Đạo", "ward": "Phú Hội", "provinceCode": "46" },
        "paymentMethod": "COD"
    })
}

/// Places an order from a task of its own (for concurrent orders); the task answers the
/// GraphQL response.
fn spawn_place(app: &TestApp, input: Value) -> tokio::task::JoinHandle<Value> {
    let (client, url) = (app.client.clone(), app.url("/graphql"));
    tokio::spawn(async move {
        let body = json!({ "query": PLACE, "variables": { "i": input } });
        client
            .post(url)
            .json(&body)
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    })
}

async fn stock_of(app: &TestApp, token: &str) -> i64 {
    let v = app
        .gql_as(
            token,
            "{ shop(slug: \"tiem\") { product(handle: \"banh-pia\") { variants { stock } } } }",
            json!({}),
        )
        .await;
    v["data"]["shop"]["product"]["variants"][0]["stock"]
        .as_i64()
        .unwrap()
}

storage_tests!(
    place_order_computes_totals_and_takes_stock,
    place_order_refuses_bad_input,
    out_of_stock_takes_nothing,
    idempotent_retries,
    lifecycle_and_history,
    listing_filters_tracking_and_stats,
    bank_transfer_vietqr_and_reconciliation,
    second_owner_cannot_touch_orders,
    delete_product_archives_when_ordered,
    two_hundred_concurrent_orders_never_oversell,
    a_mixed_burst_is_written_as_if_one_by_one,
    order_feed_over_websocket,
);

async fn place_order_computes_totals_and_takes_stock(app: TestApp) {
    let (token, shop, variant) = open_shop(&app, 10).await;
    // Shipping: 25.000 ₫, free from 150.000 ₫.
    app.gql_as(&token, "mutation($s: ID!) { updateShop(shopId: $s, input: { shippingFee: \"25000\", freeShippingOver: \"150000\" }) { userErrors { code } } }", json!({ "s": shop })).await;
    let v = app
        .gql(PLACE, json!({ "i": order_input(&variant, 2) }))
        .await;
    let o = &v["data"]["placeOrder"]["order"];
    assert_eq!(v["data"]["placeOrder"]["userErrors"], json!([]), "{v}");
    assert_eq!(o["number"], "#1001");
    assert_eq!(o["status"], "PENDING");
    assert_eq!(o["paymentStatus"], "UNPAID");
    assert_eq!(o["subtotal"]["amount"], "120000");
    assert_eq!(o["shippingFee"]["amount"], "25000");
    assert_eq!(
        o["total"],
        json!({ "amount": "145000", "formatted": "145.000\u{a0}₫" })
    );
    assert_eq!(
        o["lines"],
        json!([{ "title": "Bánh pía", "variantTitle": "Mặc định", "quantity": 2, "unitPrice": { "amount": "60000" }, "total": { "amount": "120000" } }])
    );
    assert_eq!(
        o["customer"],
        json!(null),
        "the buyer's answer repeats no personal data"
    );
    let v = app
        .gql(PLACE, json!({ "i": order_input(&variant, 3) }))
        .await;
    let o = &v["data"]["placeOrder"]["order"];
    assert_eq!(o["number"], "#1002");
    assert_eq!(
        o["shippingFee"]["amount"], "0",
        "free shipping from 150.000 ₫"
    );
    assert_eq!(stock_of(&app, &token).await, 5);
    // The same variant twice in one order is merged; the stock movements name the order.
    let mut input = order_input(&variant, 1);
    input["lines"] =
        json!([{ "variantId": variant, "quantity": 1 }, { "variantId": variant, "quantity": 2 }]);
    let v = app.gql(PLACE, json!({ "i": input })).await;
    assert_eq!(
        v["data"]["placeOrder"]["order"]["lines"][0]["quantity"], 3,
        "{v}"
    );
    assert_eq!(stock_of(&app, &token).await, 2);
    let v = app.gql_as(&token, "{ shop(slug: \"tiem\") { product(handle: \"banh-pia\") { variants { stockMovements { delta reason } } } } }", json!({})).await;
    let moves = &v["data"]["shop"]["product"]["variants"][0]["stockMovements"];
    assert_eq!(moves[0], json!({ "delta": -3, "reason": "order" }));
}

async fn place_order_refuses_bad_input(app: TestApp) {
    let (token, _shop, variant) = open_shop(&app, 10).await;
    let (_, other_shop) = owner_with_shop(&app, "other@example.vn", "Khác").await;
    let (_, foreign) = product(&app, &token, &_shop, "Ẩn", "1000", 5).await;
    let _ = foreign;
    let (other_token, _) = app.register("o2@example.vn").await;
    let _ = other_token;
    let foreign_variant = format!("{other_shop}:01ARZ3NDEKTSV4RRFFQ69G5FAV");
    let mutate = |f: &dyn Fn(&mut Value)| {
        let mut i = order_input(&variant, 1);
        f(&mut i);
        i
    };
    let cases: Vec<(Value, &str)> = vec![
        (mutate(&|i| i["lines"] = json!([])), "EMPTY_ORDER"),
        (
            mutate(&|i| i["lines"][0]["quantity"] = json!(0)),
            "INVALID_QUANTITY",
        ),
        (
            mutate(&|i| i["lines"][0]["quantity"] = json!(1000)),
            "INVALID_QUANTITY",
        ),
        (
            mutate(&|i| i["lines"][0]["variantId"] = json!("nonsense")),
            "VARIANT_NOT_FOUND",
        ),
        (
            mutate(&|i| i["lines"][0]["variantId"] = json!(foreign_variant)),
            "VARIANT_NOT_FOUND",
        ),
        (
            mutate(&|i| i["customer"]["phone"] = json!("0241234567")),
            "INVALID_PHONE",
        ),
        (
            mutate(&|i| i["customer"]["phone"] = json!("")),
            "INVALID_PHONE",
        ),
        (mutate(&|i| i["customer"]["name"] = json!("  ")), "REQUIRED"),
        (
            mutate(&|i| i["customer"]["email"] = json!("not-an-email")),
            "INVALID_EMAIL",
        ),
        (
            mutate(&|i| i["shippingAddress"]["line1"] = json!("")),
            "REQUIRED",
        ),
        (
            mutate(&|i| i["shippingAddress"]["provinceCode"] = json!("49")),
            "INVALID_PROVINCE",
        ),
        (
            mutate(&|i| i["paymentMethod"] = json!("BANK_TRANSFER")),
            "PAYMENT_METHOD_UNAVAILABLE",
        ),
        (
            mutate(&|i| i["paymentMethod"] = json!("CARD")),
            "PAYMENT_METHOD_UNAVAILABLE",
        ),
        (mutate(&|i| i["shopSlug"] = json!("khac")), "SHOP_NOT_FOUND"),
        (
            mutate(&|i| i["shopSlug"] = json!("no-such-shop")),
            "SHOP_NOT_FOUND",
        ),
        (mutate(&|i| i["note"] = json!("x".repeat(501))), "TOO_LONG"),
        (
            mutate(&|i| i["idempotencyKey"] = json!("k".repeat(101))),
            "TOO_LONG",
        ),
    ];
    for (input, code) in cases {
        let v = app.gql(PLACE, json!({ "i": input })).await;
        assert!(
            codes(&v["data"]["placeOrder"]).contains(&code.to_string()),
            "{code}: {v}"
        );
    }
    // An unpublished product cannot be ordered.
    let v = app
        .gql_as(&token, "mutation($s: ID!, $i: ProductInput!) { createProduct(shopId: $s, input: $i) { product { variants { id } } } }",
            json!({ "s": _shop, "i": { "title": "Nháp", "published": false, "variants": [{ "price": "1000", "stock": 5 }] } }))
        .await;
    let draft = v["data"]["createProduct"]["product"]["variants"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let v = app.gql(PLACE, json!({ "i": order_input(&draft, 1) })).await;
    assert_eq!(codes(&v["data"]["placeOrder"]), vec!["VARIANT_NOT_FOUND"]);
    assert_eq!(app.count("orders").await, 0);
    assert_eq!(stock_of(&app, &token).await, 10);
    // Prices cannot come from the client: the input has no price field at all.
    let mut input = order_input(&variant, 1);
    input["lines"][0]["price"] = json!("1");
    let v = app.gql(PLACE, json!({ "i": input })).await;
    assert!(v["errors"].is_array(), "{v}");
}

async fn out_of_stock_takes_nothing(app: TestApp) {
    let (token, shop, variant) = open_shop(&app, 5).await;
    let (_, scarce) = product(&app, &token, &shop, "Mè xửng", "45000", 1).await;
    let mut input = order_input(&variant, 2);
    input["lines"] =
        json!([{ "variantId": variant, "quantity": 2 }, { "variantId": scarce, "quantity": 3 }]);
    let v = app.gql(PLACE, json!({ "i": input })).await;
    let p = &v["data"]["placeOrder"];
    assert_eq!(codes(p), vec!["OUT_OF_STOCK"], "{v}");
    assert!(
        p["userErrors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Mè xửng")
            && p["userErrors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("only 1 left"),
        "{v}"
    );
    assert_eq!(p["userErrors"][0]["field"][2], json!(scarce));
    assert_eq!(
        stock_of(&app, &token).await,
        5,
        "the first line's stock was not taken"
    );
    assert_eq!(app.count("orders").await, 0);
    assert_eq!(app.count("order_lines").await, 0);
    // The counter did not move either: the next order is still #1001.
    let v = app
        .gql(PLACE, json!({ "i": order_input(&variant, 1) }))
        .await;
    assert_eq!(v["data"]["placeOrder"]["order"]["number"], "#1001");
}

async fn idempotent_retries(app: TestApp) {
    let (token, _, variant) = open_shop(&app, 10).await;
    let mut input = order_input(&variant, 2);
    input["idempotencyKey"] = json!("retry-42");
    let a = app.gql(PLACE, json!({ "i": input.clone() })).await;
    let b = app.gql(PLACE, json!({ "i": input.clone() })).await;
    assert_eq!(
        a["data"]["placeOrder"]["order"]["id"],
        b["data"]["placeOrder"]["order"]["id"]
    );
    assert_eq!(stock_of(&app, &token).await, 8);
    input["lines"][0]["quantity"] = json!(3);
    let c = app.gql(PLACE, json!({ "i": input.clone() })).await;
    assert_eq!(
        codes(&c["data"]["placeOrder"]),
        vec!["IDEMPOTENCY_CONFLICT"]
    );
    // Concurrent retries with one key: one order.
    input["idempotencyKey"] = json!("burst");
    input["lines"][0]["quantity"] = json!(1);
    let tasks: Vec<_> = (0..10).map(|_| spawn_place(&app, input.clone())).collect();
    let mut ids = std::collections::HashSet::new();
    for t in tasks {
        let v = t.await.unwrap();
        ids.insert(
            v["data"]["placeOrder"]["order"]["id"]
                .as_str()
                .map(String::from),
        );
    }
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(stock_of(&app, &token).await, 7);
    assert_eq!(app.count("orders").await, 2);
    // A retry of the order that took the last items is that order, not OUT_OF_STOCK; the
    // same key with another request, while the stock is gone, is still a conflict.
    input["idempotencyKey"] = json!("last-ones");
    input["lines"][0]["quantity"] = json!(7);
    let d = app.gql(PLACE, json!({ "i": input.clone() })).await;
    let e = app.gql(PLACE, json!({ "i": input.clone() })).await;
    let placed = &d["data"]["placeOrder"]["order"]["id"];
    assert!(placed.is_string(), "{d}");
    assert_eq!(&e["data"]["placeOrder"]["order"]["id"], placed, "{e}");
    assert_eq!(stock_of(&app, &token).await, 0);
    input["lines"][0]["quantity"] = json!(1);
    let f = app.gql(PLACE, json!({ "i": input.clone() })).await;
    assert_eq!(
        codes(&f["data"]["placeOrder"]),
        vec!["IDEMPOTENCY_CONFLICT"]
    );
    assert_eq!(app.count("orders").await, 3);
}

const STATUS: &str = "mutation($o: ID!, $s: OrderStatus!, $n: String) { updateOrderStatus(orderId: $o, status: $s, note: $n) { order { status paymentStatus nextStatuses } userErrors { code } } }";

async fn lifecycle_and_history(app: TestApp) {
    let (token, _, variant) = open_shop(&app, 10).await;
    let mut input = order_input(&variant, 4);
    input["note"] = json!("Giao giờ hành chính");
    let v = app.gql(PLACE, json!({ "i": input })).await;
    let id = v["data"]["placeOrder"]["order"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // The placement is the order row itself: no history row is written for it, and the
    // history starts with it all the same (the customer's note, the order's own time, no one
    // acting).
    assert_eq!(app.count("order_events").await, 0);
    let q = "query($o: ID!) { order(id: $o) { createdAt history { kind from to note actorName createdAt } } }";
    let v = app.gql_as(&token, q, json!({ "o": id })).await;
    let placed = &v["data"]["order"];
    assert_eq!(
        placed["history"],
        json!([{ "kind": "status", "from": null, "to": "PENDING", "note": "Giao giờ hành chính",
                 "actorName": null, "createdAt": placed["createdAt"] }]),
        "{v}"
    );
    let step = |s: &'static str| {
        let (app, token, id) = (&app, token.clone(), id.clone());
        async move {
            app.gql_as(&token, STATUS, json!({ "o": id, "s": s })).await["data"]["updateOrderStatus"].clone()
        }
    };
    assert_eq!(codes(&step("SHIPPED").await), vec!["INVALID_TRANSITION"]);
    assert_eq!(codes(&step("DELIVERED").await), vec!["INVALID_TRANSITION"]);
    assert_eq!(
        step("CONFIRMED").await["order"]["nextStatuses"],
        json!(["SHIPPED", "CANCELLED"])
    );
    assert_eq!(codes(&step("CONFIRMED").await), vec!["INVALID_TRANSITION"]);
    assert_eq!(step("SHIPPED").await["order"]["status"], "SHIPPED");
    assert_eq!(
        codes(&step("CANCELLED").await),
        vec!["INVALID_TRANSITION"],
        "shipped orders cannot be cancelled"
    );
    let delivered = step("DELIVERED").await;
    assert_eq!(delivered["order"]["status"], "DELIVERED");
    assert_eq!(
        delivered["order"]["paymentStatus"], "PAID",
        "cash collected on delivery"
    );
    assert_eq!(codes(&step("PENDING").await), vec!["INVALID_TRANSITION"]);
    let q = "query($o: ID!) { order(id: $o) { history { kind from to note actorName } customer { name phone email } shippingAddress { line1 provinceName } } }";
    let v = app.gql_as(&token, q, json!({ "o": id })).await;
    let h: Vec<(String, Option<String>)> = v["data"]["order"]["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap().to_string(),
                e["to"].as_str().map(String::from),
            )
        })
        .collect();
    assert_eq!(
        h,
        vec![
            ("status".into(), Some("PENDING".into())),
            ("status".into(), Some("CONFIRMED".into())),
            ("status".into(), Some("SHIPPED".into())),
            ("status".into(), Some("DELIVERED".into())),
            ("payment".into(), Some("PAID".into())),
        ]
    );
    assert_eq!(
        v["data"]["order"]["history"][1]["actorName"],
        "Nguyễn Văn A"
    );
    assert_eq!(
        v["data"]["order"]["customer"],
        json!({ "name": "Lê Thị Khách", "phone": "+84912345678", "email": "khach@example.vn" })
    );
    assert_eq!(v["data"]["order"]["shippingAddress"]["provinceName"], "Huế");
    // Cancelling needs a reason and returns the stock.
    let v = app
        .gql(PLACE, json!({ "i": order_input(&variant, 3) }))
        .await;
    let id2 = v["data"]["placeOrder"]["order"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(stock_of(&app, &token).await, 3);
    let cancel = "mutation($o: ID!, $r: String!) { cancelOrder(orderId: $o, reason: $r) { order { status cancelReason } userErrors { code } } }";
    let v = app
        .gql_as(&token, cancel, json!({ "o": id2, "r": " " }))
        .await;
    assert_eq!(codes(&v["data"]["cancelOrder"]), vec!["REASON_REQUIRED"]);
    let v = app
        .gql_as(&token, cancel, json!({ "o": id2, "r": "Khách đổi ý" }))
        .await;
    assert_eq!(
        v["data"]["cancelOrder"]["order"],
        json!({ "status": "CANCELLED", "cancelReason": "Khách đổi ý" })
    );
    assert_eq!(stock_of(&app, &token).await, 6);
    let v = app
        .gql_as(&token, cancel, json!({ "o": id2, "r": "again" }))
        .await;
    assert_eq!(codes(&v["data"]["cancelOrder"]), vec!["INVALID_TRANSITION"]);
    assert_eq!(stock_of(&app, &token).await, 6, "no stock returned twice");
    // Mark paid: once.
    let v = app
        .gql(PLACE, json!({ "i": order_input(&variant, 1) }))
        .await;
    let id3 = v["data"]["placeOrder"]["order"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let paid = "mutation($o: ID!) { markOrderPaid(orderId: $o) { order { paymentStatus } userErrors { code } } }";
    let v = app.gql_as(&token, paid, json!({ "o": id3 })).await;
    assert_eq!(v["data"]["markOrderPaid"]["order"]["paymentStatus"], "PAID");
    let v = app.gql_as(&token, paid, json!({ "o": id3 })).await;
    assert_eq!(
        codes(&v["data"]["markOrderPaid"]),
        vec!["INVALID_PAYMENT_TRANSITION"]
    );
    let v = app.gql_as(&token, paid, json!({ "o": id2 })).await;
    assert_eq!(
        codes(&v["data"]["markOrderPaid"]),
        vec!["INVALID_PAYMENT_TRANSITION"],
        "cancelled orders are not paid"
    );
}

async fn listing_filters_tracking_and_stats(app: TestApp) {
    let (token, _, variant) = open_shop(&app, 100).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let mut input = order_input(&variant, i + 1);
        if i == 4 {
            input["customer"]["phone"] = json!("+84 987 654 321");
        }
        let v = app.gql(PLACE, json!({ "i": input })).await;
        ids.push(
            v["data"]["placeOrder"]["order"]["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    app.gql_as(&token, STATUS, json!({ "o": ids[0], "s": "CONFIRMED" }))
        .await;
    app.gql_as(
        &token,
        "mutation($o: ID!) { cancelOrder(orderId: $o, reason: \"test\") { userErrors { code } } }",
        json!({ "o": ids[1] }),
    )
    .await;
    app.gql_as(
        &token,
        "mutation($o: ID!) { markOrderPaid(orderId: $o) { userErrors { code } } }",
        json!({ "o": ids[2] }),
    )
    .await;
    let q = "query($st: OrderStatus, $f: OrderFilter, $first: Int, $a: String) { shop(slug: \"tiem\") { orders(first: $first, after: $a, status: $st, filter: $f) { edges { node { number } } pageInfo { hasNextPage endCursor } } } }";
    let numbers = |v: &Value| -> Vec<String> {
        v["data"]["shop"]["orders"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["number"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        numbers(&app.gql_as(&token, q, json!({})).await),
        vec!["#1005", "#1004", "#1003", "#1002", "#1001"]
    );
    assert_eq!(
        numbers(&app.gql_as(&token, q, json!({ "st": "CONFIRMED" })).await),
        vec!["#1001"]
    );
    assert_eq!(
        numbers(
            &app.gql_as(&token, q, json!({ "f": { "paymentStatus": "PAID" } }))
                .await
        ),
        vec!["#1003"]
    );
    assert_eq!(
        numbers(
            &app.gql_as(&token, q, json!({ "f": { "query": "#1004" } }))
                .await
        ),
        vec!["#1004"]
    );
    assert_eq!(
        numbers(
            &app.gql_as(&token, q, json!({ "f": { "query": "0987654321" } }))
                .await
        ),
        vec!["#1005"]
    );
    assert_eq!(
        numbers(
            &app.gql_as(
                &token,
                q,
                json!({ "f": { "from": "2000-01-01T00:00:00Z", "to": "2000-01-02T00:00:00Z" } })
            )
            .await
        ),
        Vec::<String>::new()
    );
    let p1 = app.gql_as(&token, q, json!({ "first": 2 })).await;
    assert_eq!(numbers(&p1), vec!["#1005", "#1004"]);
    let end = p1["data"]["shop"]["orders"]["pageInfo"]["endCursor"].clone();
    assert_eq!(
        numbers(&app.gql_as(&token, q, json!({ "first": 2, "a": end })).await),
        vec!["#1003", "#1002"]
    );
    // The public sees no orders list.
    let v = app.gql(q, json!({})).await;
    assert!(
        matches!(
            error_code(&v).as_deref(),
            Some("UNAUTHENTICATED") | Some("FORBIDDEN")
        ),
        "{v}"
    );
    // Tracking needs the number and the phone together and shows nothing personal.
    let track = "query($n: String!, $p: String!) { trackOrder(shopSlug: \"tiem\", number: $n, phone: $p) { number status total { amount } lines { title quantity } customer { name } shippingAddress { line1 } note provinceName history { kind } } }";
    let v = app
        .gql(track, json!({ "n": "#1001", "p": "0912345678" }))
        .await;
    let t = &v["data"]["trackOrder"];
    assert_eq!(t["status"], "CONFIRMED", "{v}");
    assert_eq!(t["customer"], json!(null));
    assert_eq!(t["shippingAddress"], json!(null));
    assert_eq!(t["history"], json!([]));
    assert_eq!(t["provinceName"], "Huế");
    assert_eq!(
        app.gql(track, json!({ "n": "1001", "p": "+84912345678" }))
            .await["data"]["trackOrder"]["number"],
        "#1001"
    );
    assert_eq!(
        app.gql(track, json!({ "n": "#1001", "p": "0987654321" }))
            .await["data"]["trackOrder"],
        json!(null),
        "wrong phone"
    );
    assert_eq!(
        app.gql(track, json!({ "n": "#9999", "p": "0912345678" }))
            .await["data"]["trackOrder"],
        json!(null)
    );
    assert_eq!(
        app.gql(track, json!({ "n": "abc", "p": "x" })).await["data"]["trackOrder"],
        json!(null)
    );
    // Stats: cancelled orders do not count. Orders of 1, 3, 4 and 5 items × 60.000 ₫ (no shipping fee).
    let v = app.gql_as(&token, "{ shop(slug: \"tiem\") { stats { orders revenue { amount } averageOrderValue { amount } topProducts { title quantity revenue { amount } } revenueByDay { date orders } } } }", json!({})).await;
    let s = &v["data"]["shop"]["stats"];
    assert_eq!(s["orders"], 4, "{v}");
    let expected: i64 = [1, 3, 4, 5].iter().map(|q| q * 60_000).sum();
    assert_eq!(s["revenue"]["amount"], expected.to_string());
    assert_eq!(s["averageOrderValue"]["amount"], (expected / 4).to_string());
    assert_eq!(s["topProducts"][0]["quantity"], 13);
    assert_eq!(s["revenueByDay"].as_array().unwrap().len(), 1);
}

fn sign(secret: &str, body: &str) -> String {
    format!(
        "sha256={}",
        choso_services::reconcile::sign(secret, body.as_bytes())
    )
}

async fn bank_transfer_vietqr_and_reconciliation(app: TestApp) {
    let (token, shop, variant) = open_shop(&app, 10).await;
    app.gql_as(&token, "mutation($s: ID!) { updateShopPayments(shopId: $s, input: { bankBin: \"970436\", bankAccountNumber: \"0011001234567\", bankAccountName: \"NGUYEN VAN A\" }) { userErrors { code } } }", json!({ "s": shop })).await;
    let mut input = order_input(&variant, 2);
    input["paymentMethod"] = json!("BANK_TRANSFER");
    let v = app.gql(PLACE, json!({ "i": input.clone() })).await;
    let o = &v["data"]["placeOrder"]["order"];
    assert_eq!(o["paymentStatus"], "PENDING", "{v}");
    assert_eq!(o["transferNote"], "DH1001");
    let payload = o["vietqrPayload"].as_str().unwrap();
    let d = choso_services::vietqr::decode(payload).expect("the payload decodes");
    assert_eq!(
        (
            d.bin.as_str(),
            d.account.as_str(),
            d.amount,
            d.purpose.as_deref()
        ),
        ("970436", "0011001234567", Some(120_000), Some("DH1001"))
    );
    assert!(d.dynamic);
    let order_id = o["id"].as_str().unwrap().to_string();
    // Notifications need the shop's secret.
    let url = app.url(&format!("/webhooks/bank/{shop}"));
    let body = json!({ "transactionId": "FT001", "amount": 120000, "description": "NGUYEN VAN B chuyen tien DH1001" }).to_string();
    let r = app
        .client
        .post(&url)
        .header("x-choso-signature", sign("guess", &body))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "no secret yet");
    let v = app
        .gql_as(
            &token,
            "mutation($s: ID!) { rotateBankWebhookSecret(shopId: $s) { secret url } }",
            json!({ "s": shop }),
        )
        .await;
    let secret = v["data"]["rotateBankWebhookSecret"]["secret"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(v["data"]["rotateBankWebhookSecret"]["url"], json!(url));
    let r = app
        .client
        .post(&url)
        .header("x-choso-signature", sign("wrong", &body))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = app
        .client
        .post(&url)
        .header("x-choso-signature", sign(&secret, &body))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({ "result": "paid", "order_number": "#1001" })
    );
    let replay = app
        .client
        .post(&url)
        .header("x-choso-signature", sign(&secret, &body))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(replay.json::<Value>().await.unwrap()["result"], "duplicate");
    let q =
        "query($o: ID!) { order(id: $o) { paymentStatus flagged flagReason history { kind to } } }";
    let v = app.gql_as(&token, q, json!({ "o": order_id })).await;
    assert_eq!(v["data"]["order"]["paymentStatus"], "PAID");
    let payments = v["data"]["order"]["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "payment")
        .count();
    assert_eq!(payments, 1, "paid once");
    // A wrong amount flags the order instead of paying it.
    let v = app.gql(PLACE, json!({ "i": input })).await;
    let id2 = v["data"]["placeOrder"]["order"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let body =
        json!({ "transactionId": "FT002", "amount": 100000, "description": "dh 1002" }).to_string();
    let r = app
        .client
        .post(&url)
        .header("x-choso-signature", sign(&secret, &body))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["result"], "flagged");
    let v = app.gql_as(&token, q, json!({ "o": id2 })).await;
    assert_eq!(v["data"]["order"]["paymentStatus"], "PENDING");
    assert_eq!(v["data"]["order"]["flagged"], true);
    assert!(
        v["data"]["order"]["flagReason"]
            .as_str()
            .unwrap()
            .contains("100.000"),
        "{v}"
    );
    // Unmatched and malformed notifications.
    let body =
        json!({ "transactionId": "FT003", "amount": 5000, "description": "tien an" }).to_string();
    let r = app
        .client
        .post(&url)
        .header("x-choso-signature", sign(&secret, &body))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["result"], "unmatched");
    let body = "{\"nope\":1}".to_string();
    let r = app
        .client
        .post(&url)
        .header("x-choso-signature", sign(&secret, &body))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

async fn second_owner_cannot_touch_orders(app: TestApp) {
    let (token, shop, variant) = open_shop(&app, 10).await;
    let v = app
        .gql(PLACE, json!({ "i": order_input(&variant, 1) }))
        .await;
    let order = v["data"]["placeOrder"]["order"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (pid, _) = product(&app, &token, &shop, "Khác", "1000", 1).await;
    let (intruder, _) = owner_with_shop(&app, "intruder@example.vn", "Kẻ lạ").await;
    let attempts = [
        (
            "query($o: ID!) { order(id: $o) { number } }",
            json!({ "o": order }),
        ),
        (
            "query { shop(slug: \"tiem\") { orders { edges { node { number } } } } }",
            json!({}),
        ),
        (
            "query { shop(slug: \"tiem\") { stats { orders } } }",
            json!({}),
        ),
        (
            "mutation($o: ID!) { updateOrderStatus(orderId: $o, status: CONFIRMED) { userErrors { code } } }",
            json!({ "o": order }),
        ),
        (
            "mutation($o: ID!) { cancelOrder(orderId: $o, reason: \"x\") { userErrors { code } } }",
            json!({ "o": order }),
        ),
        (
            "mutation($o: ID!) { markOrderPaid(orderId: $o) { userErrors { code } } }",
            json!({ "o": order }),
        ),
        (
            "mutation($o: ID!) { refundOrder(orderId: $o) { userErrors { code } } }",
            json!({ "o": order }),
        ),
        (
            "mutation($s: ID!) { rotateBankWebhookSecret(shopId: $s) { secret } }",
            json!({ "s": shop }),
        ),
        (
            "mutation($p: ID!) { deleteProduct(productId: $p) { deleted } }",
            json!({ "p": pid }),
        ),
    ];
    let before = (
        app.count("orders").await,
        app.count("order_events").await,
        app.count("products").await,
    );
    for (q, vars) in attempts {
        let v = app.gql_as(&intruder, q, vars).await;
        assert!(
            matches!(
                error_code(&v).as_deref(),
                Some("FORBIDDEN") | Some("NOT_FOUND")
            ),
            "{q}: {v}"
        );
    }
    assert_eq!(
        before,
        (
            app.count("orders").await,
            app.count("order_events").await,
            app.count("products").await
        )
    );
    let v = app
        .gql_as(
            &token,
            "query($o: ID!) { order(id: $o) { status } }",
            json!({ "o": order }),
        )
        .await;
    assert_eq!(v["data"]["order"]["status"], "PENDING");
}

async fn delete_product_archives_when_ordered(app: TestApp) {
    let (token, shop, variant) = open_shop(&app, 10).await;
    app.gql(PLACE, json!({ "i": order_input(&variant, 1) }))
        .await;
    let del = "mutation($p: ID!) { deleteProduct(productId: $p) { deleted archived userErrors { code } } }";
    let v = app
        .gql_as(
            &token,
            "{ shop(slug: \"tiem\") { products { edges { node { id } } } } }",
            json!({}),
        )
        .await;
    let ordered = v["data"]["shop"]["products"]["edges"][0]["node"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let v = app.gql_as(&token, del, json!({ "p": ordered })).await;
    assert_eq!(
        v["data"]["deleteProduct"],
        json!({ "deleted": false, "archived": true, "userErrors": [] })
    );
    let (fresh, _) = product(&app, &token, &shop, "Chưa bán", "1000", 3).await;
    let v = app.gql_as(&token, del, json!({ "p": fresh })).await;
    assert_eq!(
        v["data"]["deleteProduct"],
        json!({ "deleted": true, "archived": false, "userErrors": [] })
    );
    assert_eq!(app.count("products").await, 1);
    let v = app.gql_as(&token, del, json!({ "p": fresh })).await;
    assert_eq!(error_code(&v).as_deref(), Some("NOT_FOUND"));
}

async fn two_hundred_concurrent_orders_never_oversell(app: TestApp) {
    let (token, _, variant) = open_shop(&app, 10).await;
    let mut tasks = Vec::new();
    for i in 0..200 {
        let mut input = order_input(&variant, 1);
        input["customer"]["name"] = json!(format!("Khách {i}"));
        tasks.push(spawn_place(&app, input));
    }
    let (mut ok, mut out, mut numbers) = (0, 0, std::collections::HashSet::new());
    for t in tasks {
        let v = t.await.unwrap();
        let p = &v["data"]["placeOrder"];
        if let Some(n) = p["order"]["number"].as_str() {
            ok += 1;
            assert!(numbers.insert(n.to_string()), "duplicate number {n}");
        } else {
            assert_eq!(codes(p), vec!["OUT_OF_STOCK"], "{v}");
            out += 1;
        }
    }
    assert_eq!((ok, out), (10, 190));
    assert_eq!(stock_of(&app, &token).await, 0);
    assert_eq!(app.count("orders").await, 10);
    let expected: std::collections::HashSet<String> =
        (1001..=1010).map(|n| format!("#{n}")).collect();
    assert_eq!(numbers, expected);
}

/// Forty orders against a stock of 30, all at once: ten of one item, in pairs sharing an
/// idempotency key, and thirty of 1 to 3 items. On SQLite the writer is held while they
/// arrive, so most are written in one group, where orders short of stock are undone in the
/// middle of it. The outcome must be what writing them one by one gives: every answer is an
/// order or `OUT_OF_STOCK`, a pair gets one order, numbers have no gap, the stock, lines,
/// movements and e-mails agree, and no order was refused while enough stock was left for it.
async fn a_mixed_burst_is_written_as_if_one_by_one(app: TestApp) {
    let (token, _, variant) = open_shop(&app, 30).await;
    let qty = |i: usize| if i < 10 { 1 } else { 1 + i % 3 } as i64;
    let hold = match app.backend {
        choso_services::Backend::Sqlite => Some(app.db.write().begin().await.unwrap()),
        choso_services::Backend::Postgres => None,
    };
    let mut tasks = Vec::new();
    for i in 0..40 {
        let mut input = order_input(&variant, qty(i));
        if i < 10 {
            input["idempotencyKey"] = json!(format!("pair-{}", i / 2));
        } else {
            input["customer"]["name"] = json!(format!("Khách {i}"));
        }
        tasks.push(spawn_place(&app, input));
    }
    if let Some(hold) = hold {
        tokio::time::sleep(std::time::Duration::from_millis(700)).await;
        hold.rollback().await.unwrap();
    }
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    let left = stock_of(&app, &token).await;
    assert!((0..=30).contains(&left), "stock {left}");
    let mut orders = std::collections::HashMap::new();
    for (i, v) in answers.iter().enumerate() {
        let p = &v["data"]["placeOrder"];
        match p["order"]["id"].as_str() {
            Some(id) => {
                let number = p["order"]["number"].as_str().unwrap().to_string();
                let lines = &p["order"]["lines"];
                assert_eq!(lines.as_array().map(Vec::len), Some(1), "{v}");
                assert_eq!(lines[0]["quantity"], qty(i), "{v}");
                let earlier = orders.insert(id.to_string(), (number.clone(), qty(i)));
                assert!(earlier.is_none() || earlier == Some((number, qty(i))));
            }
            None => {
                assert_eq!(codes(p), vec!["OUT_OF_STOCK"], "order {i}: {v}");
                assert!(
                    qty(i) > left,
                    "order {i} of {} refused with {left} left",
                    qty(i)
                );
            }
        }
    }
    // A pair is one order (or two refusals, or a refusal and then an order).
    for pair in 0..5 {
        let ids: Vec<&str> = answers[pair * 2..pair * 2 + 2]
            .iter()
            .filter_map(|v| v["data"]["placeOrder"]["order"]["id"].as_str())
            .collect();
        assert!(ids.len() < 2 || ids[0] == ids[1], "pair {pair}: {ids:?}");
    }
    let taken: i64 = orders.values().map(|(_, q)| q).sum();
    assert_eq!(taken, 30 - left);
    assert_eq!(app.count("orders").await, orders.len() as i64);
    let mut numbers: Vec<String> = orders.values().map(|(n, _)| n.clone()).collect();
    numbers.sort();
    let expected: Vec<String> = (1..=orders.len())
        .map(|n| format!("#{}", 1000 + n))
        .collect();
    assert_eq!(numbers, expected);
    let sum = |sql: &'static str| {
        let db = app.db.clone();
        async move {
            use sqlx::Row;
            let row = sqlx::query(sql).fetch_one(db.read()).await.unwrap();
            row.try_get::<i64, _>("n").unwrap()
        }
    };
    assert_eq!(
        sum("SELECT CAST(COALESCE(SUM(quantity), 0) AS BIGINT) AS n FROM order_lines").await,
        taken
    );
    assert_eq!(
        sum("SELECT CAST(COALESCE(SUM(delta), 0) AS BIGINT) AS n FROM stock_movements WHERE reason = 'order'").await,
        -taken
    );
    assert_eq!(
        sum("SELECT COUNT(*) AS n FROM outbox WHERE kind = 'order_confirmation'").await,
        orders.len() as i64
    );
}

/// Subscribes to `orderPlaced` on `app`; returns the socket after the ack.
pub async fn subscribe(
    app: &TestApp,
    token: &str,
    shop: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let mut req = app
        .url("/graphql/ws")
        .replace("http://", "ws://")
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static("graphql-transport-ws"),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    ws.send(Message::text(json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } }).to_string())).await.unwrap();
    let ack: Value =
        serde_json::from_str(ws.next().await.unwrap().unwrap().to_text().unwrap()).unwrap();
    assert_eq!(ack["type"], "connection_ack");
    ws.send(Message::text(
        json!({ "id": "1", "type": "subscribe", "payload": { "query": "subscription($s: ID!) { orderPlaced(shopId: $s) { number total { amount } customer { name } } }", "variables": { "s": shop } } }).to_string(),
    ))
    .await
    .unwrap();
    ws
}

pub async fn next_order(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> Value {
    let msg = tokio::time::timeout(std::time::Duration::from_secs(10), ws.next())
        .await
        .expect("an order arrives")
        .unwrap()
        .unwrap();
    serde_json::from_str(msg.to_text().unwrap()).unwrap()
}

async fn order_feed_over_websocket(app: TestApp) {
    let (token, shop, variant) = open_shop(&app, 10).await;
    let (intruder, _) = owner_with_shop(&app, "intruder@example.vn", "Kẻ lạ").await;
    // Non-members get an error, not a feed.
    let mut bad = subscribe(&app, &intruder, &shop).await;
    let m = next_order(&mut bad).await;
    assert_eq!(
        m["payload"]["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{m}"
    );
    assert_eq!(m["payload"]["data"], json!(null));
    let mut ws = subscribe(&app, &token, &shop).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    app.gql(PLACE, json!({ "i": order_input(&variant, 2) }))
        .await;
    let m = next_order(&mut ws).await;
    assert_eq!(m["type"], "next", "{m}");
    assert_eq!(
        m["payload"]["data"]["orderPlaced"],
        json!({ "number": "#1001", "total": { "amount": "120000" }, "customer": { "name": "Lê Thị Khách" } })
    );
    // Once: on PostgreSQL the server delivers its own order and its listener skips the
    // NOTIFY that tells the other processes.
    if let Ok(Some(Ok(msg))) =
        tokio::time::timeout(std::time::Duration::from_millis(1500), ws.next()).await
    {
        let m: Value = serde_json::from_str(msg.to_text().unwrap_or("{}")).unwrap_or_default();
        assert_ne!(m["type"], "next", "the order reached the feed twice: {m}");
    }
}

/// Two servers on one PostgreSQL database: an order placed on one that takes the last unit
/// shows as sold out on the other, whose cached public answer said "available", and can no
/// longer be put in a cart there, where the variant was kept in memory (the stock
/// announcement after the order's commit moves the other server's versions of the shop).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_change_crosses_servers_on_postgres() {
    let Some(a) = crate::helpers::spawn_postgres_app().await else {
        return;
    };
    let url = a.database_url.clone();
    let b =
        crate::helpers::spawn_app_with(choso_services::Backend::Postgres, |c| c.database_url = url)
            .await
            .unwrap();
    let (_, _, variant) = open_shop(&a, 1).await;
    async fn available(app: &TestApp) -> Value {
        let v = app
            .gql(
                "{ shop(slug: \"tiem\") { product(handle: \"banh-pia\") { variants { available } } } }",
                json!({}),
            )
            .await;
        v["data"]["shop"]["product"]["variants"][0]["available"].clone()
    }
    // Once the second server listens (its listener marks every shop changed when it
    // connects), read twice there: the answer is now in its cache.
    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    assert_eq!(available(&b).await, json!(true));
    assert_eq!(available(&b).await, json!(true));
    let mut visitor = crate::storefront::Visitor::new(&b);
    let csrf = visitor.get("/s/tiem/products/banh-pia").await.input("csrf");
    for _ in 0..2 {
        let added = visitor.add_to_cart(&csrf, &variant, "1").await;
        assert_eq!(added.location.as_deref(), Some("/s/tiem/cart"));
    }
    let v = a.gql(PLACE, json!({ "i": order_input(&variant, 1) })).await;
    assert_eq!(v["data"]["placeOrder"]["userErrors"], json!([]), "{v}");
    let mut seen = json!(true);
    for _ in 0..50 {
        seen = available(&b).await;
        if seen == json!(false) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        seen,
        json!(false),
        "the other server still shows the last unit for sale"
    );
    let added = visitor.add_to_cart(&csrf, &variant, "1").await;
    assert_eq!(
        added.location.as_deref(),
        Some("/s/tiem/products/banh-pia?error=OUT_OF_STOCK"),
        "the other server put the sold-out unit in a cart"
    );
}

/// Two servers on one PostgreSQL database: an order placed on one reaches a subscriber of
/// the other through LISTEN/NOTIFY.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_feed_crosses_servers_on_postgres() {
    let Some(a) = crate::helpers::spawn_postgres_app().await else {
        return;
    };
    let url = a.database_url.clone();
    let b =
        crate::helpers::spawn_app_with(choso_services::Backend::Postgres, |c| c.database_url = url)
            .await
            .unwrap();
    let (token, shop, variant) = open_shop(&a, 10).await;
    let mut ws = subscribe(&b, &token, &shop).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    a.gql(PLACE, json!({ "i": order_input(&variant, 1) })).await;
    let m = next_order(&mut ws).await;
    assert_eq!(
        m["payload"]["data"]["orderPlaced"]["number"], "#1001",
        "{m}"
    );
}
