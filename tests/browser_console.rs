//! The console in a real browser (headless Chromium through chromedriver, 390×844): a new
//! owner signs up and goes through the onboarding wizard to a published shop; a customer,
//! in a second browser, orders on the storefront; the order appears in the owner's open
//! inbox without a reload (server-sent events), and the owner confirms it. A screenshot of
//! every console screen is saved under `target/browser-artifacts/console/`.
//!
//! Needs `chromedriver` and `chromium`; skipped locally without them, fails in CI.

#[path = "api/helpers.rs"]
mod helpers;

mod browser_common;

use std::{path::PathBuf, time::Duration};

use browser_common::Driver;
use choso_services::Backend;
use serde_json::json;

/// A 1×1 PNG, the product photo.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0xF8, 0xCF, 0xC0, 0xF0,
    0x1F, 0x00, 0x05, 0x00, 0x01, 0xFF, 0x89, 0x99, 0x3D, 0x1D, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_opens_a_shop_and_sees_an_order_arrive_live() {
    let Some(owner) = Driver::start().await else {
        return;
    };
    let Some(customer) = Driver::start().await else {
        return;
    };
    let app = helpers::spawn_app(Backend::Sqlite).await;
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("browser-artifacts")
        .join("console");
    let photo = std::env::temp_dir().join(format!("choso-photo-{}.png", ulid::Ulid::generate()));
    std::fs::write(&photo, PNG).unwrap();

    // Sign up.
    owner.goto(&app.url("/console/signup")).await;
    owner.fill("#f-fullName", "Trần Thị Chủ").await;
    owner.fill("#f-email", "chu@example.vn").await;
    owner.fill("#f-password", "correct horse battery").await;
    owner.screenshot(&dir, "01-signup").await;
    owner
        .click("form[action='/console/signup'] button[type=submit]")
        .await;
    owner.wait_url("/console/shops/new").await;

    // Step 1: the shop; the address follows the name as it is typed.
    owner.fill("#f-name", "Trà Cung Đình").await;
    let slug = owner.property("#f-slug", "value").await;
    assert_eq!(
        slug,
        json!("tra-cung-dinh"),
        "the slug is made as the name is typed"
    );
    assert!(
        owner.text().await.contains("/s/tra-cung-dinh/"),
        "the address is shown"
    );
    owner
        .exec(
            "document.getElementById('f-provinceCode').value = '46';",
            json!([]),
        )
        .await;
    owner.fill("#f-phone", "0905 123 456").await;
    owner.screenshot(&dir, "02-new-shop").await;
    owner
        .click("form[action='/console/shops/new'] button[type=submit]")
        .await;
    let url = owner.wait_url("/setup/theme").await;
    let base = url.split("/setup/theme").next().unwrap().to_string();

    // Step 2: the theme, previewed with the shop's own storefront.
    tokio::time::sleep(Duration::from_millis(800)).await;
    owner.screenshot(&dir, "03-theme").await;
    owner.click("input[name=theme][value=grid]").await;
    owner
        .click("form[action$='/setup/theme'] button[type=submit]")
        .await;
    owner.wait_url("/setup/product").await;

    // Step 3: the first product, with a photo.
    owner.fill("#f-title", "Trà cung đình Huế").await;
    owner.fill("#f-variants-0-price", "120.000").await;
    owner.fill("#f-variants-0-stock", "50").await;
    owner
        .send_keys("#f-photo", &photo.display().to_string())
        .await;
    owner.screenshot(&dir, "04-first-product").await;
    owner
        .click("form[action$='/setup/product'] button.primary")
        .await;
    owner.wait_url("/setup/payments").await;

    // Step 4: payments: cash on delivery and a bank account, with its test QR code.
    owner
        .exec(
            "document.getElementById('f-cod').checked = true; document.getElementById('f-bankBin').value = '970436';",
            json!([]),
        )
        .await;
    owner.fill("#f-bankAccountNumber", "0011004455667").await;
    owner.fill("#f-bankAccountName", "Trần Thị Chủ").await;
    owner.click("button[name=then][value=qr]").await;
    owner.wait_text("TRAN THI CHU", 10).await;
    owner.find(".qr svg").await;
    owner.screenshot(&dir, "05-payments-test-qr").await;
    owner.click("button.primary[name=then]").await;
    owner.wait_url("/setup/publish").await;

    // Step 5: the checklist, then publish.
    owner.screenshot(&dir, "06-checklist").await;
    owner
        .click("form[action$='/setup/publish'] button[type=submit]")
        .await;
    owner.wait_url("/orders").await;
    owner.find("[data-live-status][data-state=on]").await;
    owner.screenshot(&dir, "07-inbox-empty").await;

    // A customer orders on the storefront, in another browser.
    let store = app.url("/s/tra-cung-dinh");
    customer.goto(&format!("{store}/")).await;
    assert!(customer.text().await.contains("Trà cung đình Huế"));
    customer
        .follow("a[href$='/products/tra-cung-dinh-hue']")
        .await;
    customer.wait_url("/products/tra-cung-dinh-hue").await;
    customer
        .enter("form[action$='/cart/add'] input[name='quantity']")
        .await;
    customer.wait_url("/cart").await;
    customer.follow("a[href$='/checkout']").await;
    customer.wait_url("/checkout").await;
    customer
        .fill("input[name='name']", "Nguyễn Thị Khách")
        .await;
    customer.fill("input[name='phone']", "0912 345 678").await;
    customer.fill("input[name='line1']", "12 Lê Lợi").await;
    customer.fill("input[name='ward']", "Phú Hội").await;
    customer.enter("input[name='ward']").await;
    customer.wait_url("/orders/1001").await;

    // The order shows up in the owner's open inbox, without a reload.
    let before = owner.url().await;
    owner.wait_text("#1001", 15).await;
    assert_eq!(owner.url().await, before, "no navigation happened");
    owner.find("tr.fresh").await;
    assert!(owner.text().await.contains("Nguyễn Thị Khách"));
    owner.screenshot(&dir, "08-inbox-new-order").await;

    // The order page offers the allowed moves; confirm it.
    owner.follow("tr.fresh a").await;
    owner.wait_url("/orders/").await;
    owner.find("button[data-move=CONFIRMED]").await;
    owner.screenshot(&dir, "09-order").await;
    owner.click("button[data-move=CONFIRMED]").await;
    owner.wait_text("Đã xác nhận", 10).await;
    owner.find("button[data-move=SHIPPED]").await;
    owner.screenshot(&dir, "10-order-confirmed").await;

    // The other screens of the shop.
    owner.goto(&format!("{base}/products")).await;
    owner.wait_text("Trà cung đình Huế", 5).await;
    owner.screenshot(&dir, "11-products").await;
    owner.goto(&format!("{base}/settings")).await;
    owner.screenshot(&dir, "12-settings").await;
    owner.goto(&app.url("/console")).await;
    owner.screenshot(&dir, "13-home").await;

    let _ = std::fs::remove_file(&photo);
    owner.quit().await;
    customer.quit().await;
}
