//! Anonymous catalog reads are answered from a cache (src/graphql_cache.rs) that must never
//! serve what changed: a product edit, a stock change from an order or a cancellation, an
//! unpublished shop, each shows in the very next answer. Members never get cached answers.

use serde_json::{Value, json};

use crate::{
    helpers::TestApp,
    orders::{PLACE, order_input},
    shops::{owner_with_shop, product, publish},
    storage_tests,
};

storage_tests!(public_answers_follow_every_change);

const LIST: &str = "query($s: String!) { shop(slug: $s) { name products(first: 10) { edges { node { title variants { stock available } } } } } }";

async fn list(app: &TestApp) -> Value {
    let v = app.gql(LIST, json!({ "s": "tiem" })).await;
    assert!(v["errors"].is_null(), "{v}");
    v["data"]["shop"].clone()
}

async fn public_answers_follow_every_change(app: TestApp) {
    let (token, shop) = owner_with_shop(&app, "owner@example.vn", "Tiệm").await;
    let (pid, variant) = product(&app, &token, &shop, "Bánh pía", "45000", 3).await;
    publish(&app, &token, &shop).await;
    let first = list(&app).await;
    assert_eq!(first["products"]["edges"][0]["node"]["title"], "Bánh pía");
    // The same answer twice (the second from the cache).
    assert_eq!(list(&app).await, first);

    // A product edit shows at once.
    let v = app
        .gql_as(
            &token,
            "mutation($p: ID!, $i: UpdateProductInput!) { updateProduct(productId: $p, input: $i) { userErrors { code } } }",
            json!({ "p": pid, "i": { "title": "Bánh pía Sóc Trăng" } }),
        )
        .await;
    assert_eq!(v["data"]["updateProduct"]["userErrors"], json!([]), "{v}");
    let after = list(&app).await;
    assert_eq!(
        after["products"]["edges"][0]["node"]["title"],
        "Bánh pía Sóc Trăng"
    );

    // Orders move stock; the next public answer shows it.
    let v = app
        .gql(PLACE, json!({ "i": order_input(&variant, 3) }))
        .await;
    assert_eq!(v["data"]["placeOrder"]["userErrors"], json!([]), "{v}");
    let sold = list(&app).await;
    assert_eq!(
        sold["products"]["edges"][0]["node"]["variants"][0]["available"], false,
        "{sold}"
    );
    let order = v["data"]["placeOrder"]["order"]["id"].as_str().unwrap();
    let v = app
        .gql_as(
            &token,
            "mutation($o: ID!) { cancelOrder(orderId: $o, reason: \"Hết hàng\") { userErrors { code } } }",
            json!({ "o": order }),
        )
        .await;
    assert_eq!(v["data"]["cancelOrder"]["userErrors"], json!([]), "{v}");
    assert_eq!(
        list(&app).await["products"]["edges"][0]["node"]["variants"][0]["available"],
        true
    );

    // A member sees their own view (stock included), never a cached public answer.
    let v = app.gql_as(&token, LIST, json!({ "s": "tiem" })).await;
    assert_eq!(
        v["data"]["shop"]["products"]["edges"][0]["node"]["variants"][0]["stock"], 3,
        "{v}"
    );

    // Unpublishing hides the shop from the next public answer.
    let v = app
        .gql_as(
            &token,
            "mutation($s: ID!) { unpublishShop(shopId: $s) { userErrors { code } } }",
            json!({ "s": shop }),
        )
        .await;
    assert_eq!(v["data"]["unpublishShop"]["userErrors"], json!([]), "{v}");
    let v = app.gql(LIST, json!({ "s": "tiem" })).await;
    assert_eq!(v["data"]["shop"], Value::Null, "{v}");
}
