//! A customer in a real browser (Debian's headless Chromium through chromedriver, 390×844)
//! walks home → product → add to cart → checkout with cash on delivery → confirmation →
//! tracking, in every theme, and a product named like an XSS payload runs nothing. A
//! screenshot of every page is saved under `target/browser-artifacts/{theme}/`.
//!
//! Needs `chromedriver` and `chromium` (`.ci/run` installs them). Without them the test
//! is skipped locally and fails when `CI` is set.

#[path = "api/helpers.rs"]
mod helpers;

mod browser_common;

use std::{path::PathBuf, time::Duration};

use browser_common::Driver;
use choso_services::Backend;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_orders_in_every_theme() {
    let Some(d) = Driver::start().await else {
        return;
    };
    let app = helpers::spawn_app(Backend::Sqlite).await;
    let (token, _) = app.register("owner@example.vn").await;
    let v = app
        .gql_as(&token, "mutation { createShop(input: { name: \"Trà Cung Đình\", provinceCode: \"46\", phone: \"0905123456\" }) { shop { id } } }", json!({}))
        .await;
    let shop = v["data"]["createShop"]["shop"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    for (title, price, stock, desc) in [
        ("Trà cung đình Huế", "120000", 50, "Mười hai vị thảo mộc."),
        (
            "<img src=x onerror=alert(1)>",
            "99000",
            5,
            "<script>alert(2)</script>",
        ),
    ] {
        let r = app
            .gql_as(&token, "mutation($s: ID!, $i: ProductInput!) { createProduct(shopId: $s, input: $i) { userErrors { code } } }",
                json!({ "s": shop, "i": { "title": title, "description": desc, "published": true, "variants": [{ "price": price, "stock": stock }] } }))
            .await;
        assert_eq!(r["data"]["createProduct"]["userErrors"], json!([]));
    }
    let r = app
        .gql_as(&token, "mutation($s: ID!) { updateShop(shopId: $s, input: { theme: \"warm\", heroText: \"Hương vị cung đình\" }) { userErrors { code } } publishShop(shopId: $s) { userErrors { code } } }", json!({ "s": shop }))
        .await;
    assert_eq!(r["data"]["publishShop"]["userErrors"], json!([]), "{r}");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("browser-artifacts");
    for (n, theme) in ["warm", "grid", "minimal"].iter().enumerate() {
        app.gql_as(&token, "mutation($s: ID!, $t: String!) { updateShop(shopId: $s, input: { theme: $t }) { userErrors { code } } }", json!({ "s": shop, "t": theme })).await;
        let dir = root.join(theme);
        let store = app.url("/s/tra-cung-dinh");
        d.goto(&format!("{store}/")).await;
        assert!(
            d.text().await.contains("Trà cung đình Huế"),
            "{theme}: home lists the product"
        );
        d.screenshot(&dir, "01-home").await;
        d.follow("a[href$='/products/tra-cung-dinh-hue']").await;
        d.wait_url("/products/tra-cung-dinh-hue").await;
        d.screenshot(&dir, "02-product").await;
        d.enter("form[action$='/cart/add'] input[name='quantity']")
            .await;
        d.wait_url("/cart").await;
        assert!(
            d.text().await.contains("120.000"),
            "{theme}: the cart shows the price"
        );
        d.screenshot(&dir, "03-cart").await;
        d.follow("a[href$='/checkout']").await;
        d.wait_url("/checkout").await;
        d.fill("input[name='name']", "Nguyễn Thị Khách").await;
        d.fill("input[name='phone']", "0912 345 678").await;
        d.fill("input[name='line1']", "12 Lê Lợi").await;
        d.fill("input[name='ward']", "Phú Hội").await;
        d.screenshot(&dir, "04-checkout").await;
        d.enter("input[name='ward']").await;
        let number = format!("#{}", 1001 + n);
        d.wait_url(&format!("/orders/{}", 1001 + n)).await;
        let text = d.text().await;
        assert!(
            text.contains(&number),
            "{theme}: the confirmation shows {number}"
        );
        d.screenshot(&dir, "05-confirmation").await;
        d.goto(&format!("{store}/track")).await;
        d.fill("input[name='number']", &number).await;
        d.fill("input[name='phone']", "0912345678").await;
        d.enter("form[action$='/track'] input[name='phone']").await;
        d.wait_url("phone=").await;
        let text = d.text().await;
        assert!(
            text.contains(&number) && text.contains("Trà cung đình Huế"),
            "{theme}: tracking finds the order\n{text}"
        );
        d.screenshot(&dir, "06-tracking").await;
        // The hostile product shows as text and runs nothing.
        let r = app.gql_as(&token, "{ shop(slug: \"tra-cung-dinh\") { products(query: \"img\") { edges { node { handle } } } } }", json!({})).await;
        let handle = r["data"]["shop"]["products"]["edges"][0]["node"]["handle"]
            .as_str()
            .unwrap()
            .to_string();
        d.goto(&format!("{store}/products/{handle}")).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!d.alert_open().await, "{theme}: a script ran");
        assert!(
            d.text().await.contains("<img src=x onerror=alert(1)>"),
            "{theme}: the name shows as text"
        );
        d.screenshot(&dir, "07-hostile-product").await;
    }
    d.quit().await;
}
