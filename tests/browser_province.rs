//! The province staff console in a real browser (headless Chromium through chromedriver): a
//! staff member of Huế signs in, sees the dashboard, adds an enterprise (first refused with
//! the error next to the tax code, then accepted), records a support for it, and sees the
//! dashboard's figures and monthly chart change. A screenshot of every screen is saved under
//! `target/browser-artifacts/province/`, at desktop width and the dashboard also at 390 px.
//!
//! Needs `chromedriver` and `chromium`; skipped locally without them, fails in CI.

#[path = "api/helpers.rs"]
mod helpers;

mod browser_common;

use std::path::PathBuf;

use browser_common::Driver;
use choso_services::{
    Backend,
    accounts::{NewUser, Role, create_user},
};
use serde_json::json;

/// The headline figure `name` of the page.
async fn figure(d: &Driver, name: &str) -> String {
    d.property(&format!("[data-figure='{name}']"), "textContent")
        .await
        .as_str()
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// Chooses an option of a select by value (typing into a select picks by label, which is
/// language dependent).
async fn choose(d: &Driver, css: &str, value: &str) {
    let v = d
        .exec(
            "const s = document.querySelector(arguments[0]); s.value = arguments[1]; return s.value;",
            json!([css, value]),
        )
        .await;
    assert_eq!(v.as_str(), Some(value), "{css} has the option {value}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staff_member_adds_an_enterprise_and_support_and_the_dashboard_changes() {
    let Some(d) = Driver::start_sized(1100, 900).await else {
        return;
    };
    let app = helpers::spawn_app(Backend::Sqlite).await;
    create_user(
        &app.db,
        NewUser {
            email: "canbo@hue.gov.vn".into(),
            password: "province staff pw".into(),
            full_name: "Lê Thị Cán Bộ".into(),
            role: Role::ProvinceStaff,
            province_code: Some("46".into()),
        },
    )
    .await
    .expect("staff user");
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("browser-artifacts")
        .join("province");

    // Sign in: the console leads staff to their side.
    d.goto(&app.url("/console/login")).await;
    d.fill("input[name='email']", "canbo@hue.gov.vn").await;
    d.fill("input[name='password']", "province staff pw").await;
    d.screenshot(&dir, "01-sign-in").await;
    d.enter("input[name='password']").await;
    d.wait_url("/console/province").await;
    d.wait_text("Hỗ trợ chuyển đổi số doanh nghiệp", 10).await;
    d.screenshot(&dir, "02-home").await;

    // The dashboard, empty.
    d.follow("nav a[href^='/console/province/dashboard']").await;
    d.wait_url("/console/province/dashboard").await;
    assert_eq!(figure(&d, "enterprises").await, "0");
    assert_eq!(figure(&d, "supported").await, "0");
    d.screenshot(&dir, "03-dashboard-before").await;

    // Add an enterprise: a wrong tax code is refused next to its field, nothing typed lost.
    d.follow("nav a[href^='/console/province/enterprises']")
        .await;
    d.wait_url("/console/province/enterprises").await;
    d.follow("a[href^='/console/province/enterprises/new']")
        .await;
    d.wait_url("/console/province/enterprises/new").await;
    d.fill("input[name='name']", "Cà phê Hạt Mộc").await;
    d.fill("input[name='taxCode']", "0300588568").await;
    choose(&d, "#f-legalForm", "COMPANY").await;
    choose(&d, "#f-sector", "I").await;
    choose(&d, "#f-sizeClass", "SMALL").await;
    d.fill("input[name='ward']", "Phú Hội").await;
    d.fill("input[name='phone']", "0905 123 456").await;
    d.click("input[name='consentShareSales']").await;
    d.screenshot(&dir, "04-enterprise-form").await;
    d.enter("input[name='ward']").await;
    let text = d.wait_text("Mã số thuế không hợp lệ", 10).await;
    assert!(text.contains("Vui lòng sửa các ô được đánh dấu"), "{text}");
    assert_eq!(
        d.property("input[name='name']", "value").await,
        json!("Cà phê Hạt Mộc")
    );
    assert_eq!(d.property("#f-sector", "value").await, json!("I"));
    assert_eq!(
        d.property("input[name='consentShareSales']", "checked")
            .await,
        json!(true)
    );
    d.screenshot(&dir, "05-enterprise-refused").await;
    d.fill("input[name='taxCode']", "0300588569").await;
    d.enter("input[name='taxCode']").await;
    d.wait_url("done=created").await;
    let text = d.wait_text("Cà phê Hạt Mộc", 10).await;
    assert!(text.contains("Đã đồng ý chia sẻ"), "{text}");
    d.screenshot(&dir, "06-enterprise").await;

    // Record a support for it.
    d.follow("a.primary[href$='/support']").await;
    d.wait_url("/support").await;
    choose(&d, "#f-kind", "STOREFRONT").await;
    d.fill("input[name='provider']", "Choso").await;
    d.fill("input[name='subsidy']", "5.000.000").await;
    d.screenshot(&dir, "07-support-form").await;
    d.enter("input[name='subsidy']").await;
    d.wait_url("done=recorded").await;
    let text = d.wait_text("5.000.000", 10).await;
    assert!(
        text.contains("Đã đăng ký") && text.contains("Duyệt"),
        "{text}"
    );
    d.screenshot(&dir, "08-enterprise-with-support").await;

    // The dashboard has changed.
    d.follow("nav a[href^='/console/province/dashboard']").await;
    d.wait_url("/console/province/dashboard").await;
    assert_eq!(figure(&d, "enterprises").await, "1");
    assert_eq!(figure(&d, "supported").await, "1");
    let bars = d
        .exec(
            "return document.querySelectorAll('#chart-month svg rect').length;",
            json!([]),
        )
        .await;
    assert_eq!(bars, json!(1), "one month with support");
    d.screenshot(&dir, "09-dashboard-after").await;
    d.quit().await;

    // The same dashboard on a phone.
    let Some(phone) = Driver::start().await else {
        return;
    };
    phone.goto(&app.url("/console/login")).await;
    phone.fill("input[name='email']", "canbo@hue.gov.vn").await;
    phone
        .fill("input[name='password']", "province staff pw")
        .await;
    phone.enter("input[name='password']").await;
    phone.wait_url("/console/province").await;
    phone.goto(&app.url("/console/province/dashboard")).await;
    assert_eq!(figure(&phone, "supported").await, "1");
    let overflow = phone
        .exec(
            "return document.documentElement.scrollWidth > window.innerWidth + 1;",
            json!([]),
        )
        .await;
    assert_eq!(overflow, json!(false), "no sideways scrolling at 390 px");
    phone.screenshot(&dir, "10-dashboard-phone").await;
    phone.quit().await;
}
