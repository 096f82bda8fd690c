//! Transactional email: the outbox, delivery to a real SMTP server on loopback, retries
//! through an outage and a restart, password reset, .eml files without SMTP.

use std::time::Duration;

use serde_json::json;

use crate::{
    helpers::{TestApp, codes, spawn_app_with},
    orders::{PLACE, order_input},
    shops::{owner_with_shop, product, publish},
    smtp_sink::{Received, Sink},
};
use choso_services::Backend;

async fn with_sink(backend: Backend, sink: &Sink, retry_ms: i64) -> Option<TestApp> {
    let url = format!("smtp://{}", sink.addr);
    spawn_app_with(backend, move |c| {
        c.smtp_url = Some(url);
        c.mail_poll = Duration::from_millis(50);
        c.mail_retry_base_ms = retry_ms;
    })
    .await
}

/// Waits up to 60 s (a generous deadline: on a loaded 2-core CI machine a hundred SMTP
/// deliveries share the CPU with the rest of the suite).
async fn wait_for(sink: &Sink, n: usize) -> Vec<Received> {
    for _ in 0..1200 {
        let got = sink.received();
        if got.len() >= n {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("expected {n} emails, got {}", sink.received().len());
}

fn parse(m: &Received) -> mailparse::ParsedMail<'_> {
    mailparse::parse_mail(&m.data).expect("a MIME message")
}

fn header(p: &mailparse::ParsedMail<'_>, name: &str) -> Option<String> {
    use mailparse::MailHeaderMap;
    p.headers.get_first_value(name)
}

fn parts(p: &mailparse::ParsedMail<'_>) -> (String, String) {
    let mut text = String::new();
    let mut html = String::new();
    for s in &p.subparts {
        match s.ctype.mimetype.as_str() {
            "text/plain" => text = s.get_body().unwrap(),
            "text/html" => html = s.get_body().unwrap(),
            _ => {}
        }
    }
    (text, html)
}

async fn open_shop(app: &TestApp) -> (String, String, String) {
    let (token, shop) = owner_with_shop(app, "owner@example.vn", "Tiệm").await;
    let (_, variant) = product(app, &token, &shop, "Bánh pía", "60000", 100).await;
    app.gql_as(&token, "mutation($s: ID!) { updateShop(shopId: $s, input: { email: \"tiem@example.vn\" }) { userErrors { code } } }", json!({ "s": shop })).await;
    publish(app, &token, &shop).await;
    (token, shop, variant)
}

async fn order_and_status_emails(backend: Backend) {
    let sink = Sink::start("127.0.0.1:0".parse().unwrap()).await;
    let Some(app) = with_sink(backend, &sink, 100).await else {
        return;
    };
    let (token, _, variant) = open_shop(&app).await;
    let mut input = order_input(&variant, 2);
    input["customer"]["name"] = json!("Lê Thị Khách\r\nBcc: evil@example.com");
    let v = app.gql(PLACE, json!({ "i": input })).await;
    let order = v["data"]["placeOrder"]["order"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let got = wait_for(&sink, 2).await;
    let confirmation = got
        .iter()
        .find(|m| m.to == ["khach@example.vn"])
        .expect("the customer's confirmation");
    let notice = got
        .iter()
        .find(|m| m.to == ["owner@example.vn"])
        .expect("the owner's notice");
    let p = parse(confirmation);
    assert_eq!(
        header(&p, "Subject").as_deref(),
        Some("Xác nhận đơn hàng #1001 – Tiệm")
    );
    assert_eq!(
        header(&p, "From").as_deref(),
        Some("Tiệm via Choso <no-reply@choso.local>")
    );
    assert_eq!(header(&p, "Reply-To").as_deref(), Some("tiem@example.vn"));
    assert!(header(&p, "Message-ID").is_some_and(|m| m.ends_with("@choso.local>")));
    assert!(header(&p, "Date").is_some());
    assert!(header(&p, "Bcc").is_none(), "no header injection");
    assert_eq!(p.ctype.mimetype, "multipart/alternative");
    let (text, html) = parts(&p);
    assert!(
        text.contains("Xin chào Lê Thị Khách")
            && text.contains("Bánh pía")
            && text.contains("120.000\u{a0}₫"),
        "{text}"
    );
    assert!(
        html.contains("Bánh pía") && html.contains("#1001"),
        "{html}"
    );
    let (_, notice_html) = parts(&parse(notice));
    assert!(notice_html.contains("#1001"));
    // A status change reaches the customer.
    app.gql_as(&token, "mutation($o: ID!) { updateOrderStatus(orderId: $o, status: CONFIRMED) { userErrors { code } } }", json!({ "o": order })).await;
    let got = wait_for(&sink, 3).await;
    let p = parse(&got[2]);
    assert_eq!(
        header(&p, "Subject").as_deref(),
        Some("Đơn hàng #1001 đã được xác nhận")
    );
    // Adding a member sends an invitation.
    app.register("staff@example.vn").await;
    let shop_id = app
        .gql_as(&token, "{ me { shops { id } } }", json!({}))
        .await["data"]["me"]["shops"][0]["id"]
        .clone();
    app.gql_as(&token, "mutation($s: ID!) { addShopMember(shopId: $s, email: \"staff@example.vn\", role: STAFF) { userErrors { code } } }", json!({ "s": shop_id })).await;
    let got = wait_for(&sink, 4).await;
    assert_eq!(got[3].to, ["staff@example.vn"]);
    assert_eq!(
        header(&parse(&got[3]), "Subject").as_deref(),
        Some("Bạn được thêm vào cửa hàng Tiệm")
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.received().len(), 4, "each email once");
}

/// First retry delay of the outage test: its 8 attempts span about 50 s (200 ms doubling), so
/// no message runs out of attempts while choso restarts on a loaded CI machine, and the first
/// retries after the restart come within a few seconds.
const RETRY_MS: i64 = 200;

async fn outage_and_restart_lose_nothing(backend: Backend) {
    // A port with nothing listening: the mail server is down.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let url = format!("smtp://{addr}");
    let Some(mut app) = spawn_app_with(backend, {
        let url = url.clone();
        move |c| {
            c.smtp_url = Some(url);
            c.mail_poll = Duration::from_millis(50);
            c.mail_retry_base_ms = RETRY_MS;
        }
    })
    .await
    else {
        return;
    };
    let (_, _, variant) = open_shop(&app).await;
    for i in 0..50 {
        let mut input = order_input(&variant, 1);
        input["customer"]["email"] = json!(format!("khach{i}@example.vn"));
        let v = app.gql(PLACE, json!({ "i": input })).await;
        assert_eq!(v["data"]["placeOrder"]["userErrors"], json!([]));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.count("outbox").await, 100);
    // choso restarts while the mail server is still down…
    let db_url = app.database_url.clone();
    app.stop().await;
    // …then the mail server comes back on its port, and a new choso process starts.
    let sink = Sink::start(addr).await;
    let again = spawn_app_with(backend, move |c| {
        c.database_url = db_url;
        c.smtp_url = Some(url);
        c.mail_poll = Duration::from_millis(50);
        c.mail_retry_base_ms = RETRY_MS;
    })
    .await
    .unwrap();
    let got = wait_for(&sink, 100).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.received().len(), 100, "each email exactly once");
    let mut keys: Vec<(String, String)> = got
        .iter()
        .map(|m| {
            (
                m.to.join(","),
                header(&parse(m), "Subject").unwrap_or_default(),
            )
        })
        .collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 100, "no duplicates");
    for i in 0..50 {
        assert!(
            keys.iter()
                .any(|(to, _)| to == &format!("khach{i}@example.vn")),
            "customer {i} got their confirmation"
        );
    }
    drop(again);
}

async fn password_reset(backend: Backend) {
    let sink = Sink::start("127.0.0.1:0".parse().unwrap()).await;
    let Some(app) = with_sink(backend, &sink, 100).await else {
        return;
    };
    let (old_token, _) = app.register("owner@example.vn").await;
    let ask =
        "mutation($e: String!) { requestPasswordReset(email: $e) { ok userErrors { code } } }";
    let known = app.gql(ask, json!({ "e": " OWNER@example.vn" })).await;
    let unknown = app.gql(ask, json!({ "e": "nobody@example.vn" })).await;
    assert_eq!(known, unknown, "no hint whether the address exists");
    let got = wait_for(&sink, 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.received().len(), 1);
    assert_eq!(got[0].to, ["owner@example.vn"]);
    let (text, _) = parts(&parse(&got[0]));
    let token = text
        .split("token=")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let reset = "mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) { ok userErrors { code } } }";
    let v = app.gql(reset, json!({ "t": token, "p": "short" })).await;
    assert_eq!(codes(&v["data"]["resetPassword"]), vec!["WEAK_PASSWORD"]);
    let v = app
        .gql(
            reset,
            json!({ "t": "rst_nonsense", "p": "a brand new password" }),
        )
        .await;
    assert_eq!(codes(&v["data"]["resetPassword"]), vec!["INVALID_TOKEN"]);
    let v = app
        .gql(reset, json!({ "t": token, "p": "a brand new password" }))
        .await;
    assert_eq!(v["data"]["resetPassword"]["ok"], true, "{v}");
    assert_eq!(
        app.gql_as(&old_token, "{ me { email } }", json!({})).await["data"]["me"],
        json!(null),
        "sessions revoked"
    );
    let v = app
        .gql(reset, json!({ "t": token, "p": "another new password" }))
        .await;
    assert_eq!(
        codes(&v["data"]["resetPassword"]),
        vec!["INVALID_TOKEN"],
        "single use"
    );
    let v = app.gql("mutation { login(input: { email: \"owner@example.vn\", password: \"a brand new password\" }) { token } }", json!({})).await;
    assert!(v["data"]["login"]["token"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_and_status_emails_sqlite() {
    order_and_status_emails(Backend::Sqlite).await;
}
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_and_status_emails_postgres() {
    order_and_status_emails(Backend::Postgres).await;
}
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_and_restart_lose_nothing_sqlite() {
    outage_and_restart_lose_nothing(Backend::Sqlite).await;
}
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_and_restart_lose_nothing_postgres() {
    outage_and_restart_lose_nothing(Backend::Postgres).await;
}
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_reset_sqlite() {
    password_reset(Backend::Sqlite).await;
}
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_reset_postgres() {
    password_reset(Backend::Postgres).await;
}

/// Without SMTP, messages are written as .eml files a newcomer can open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_smtp_emails_are_files() {
    let app = spawn_app_with(Backend::Sqlite, |c| c.mail_poll = Duration::from_millis(50))
        .await
        .unwrap();
    let (_, _, variant) = open_shop(&app).await;
    app.gql(PLACE, json!({ "i": order_input(&variant, 1) }))
        .await;
    let dir = app.data_dir.join("data").join("mail");
    for _ in 0..100 {
        if std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0) >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let files: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
    assert_eq!(files.len(), 2);
    assert!(
        files
            .iter()
            .all(|f| f.path().extension().is_some_and(|e| e == "eml"))
    );
}

/// After the last attempt a message is failed; admins list and retry it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_emails_can_be_retried_by_admins() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = spawn_app_with(Backend::Sqlite, move |c| {
        c.smtp_url = Some(format!("smtp://127.0.0.1:{port}"));
        c.mail_poll = Duration::from_millis(20);
        c.mail_retry_base_ms = 1;
    })
    .await
    .unwrap();
    app.register("someone@example.vn").await;
    app.gql(
        "mutation { requestPasswordReset(email: \"someone@example.vn\") { ok } }",
        json!({}),
    )
    .await;
    choso_services::accounts::create_user(
        &app.db,
        choso_services::accounts::NewUser {
            email: "admin@choso.vn".into(),
            password: "admin password 1".into(),
            full_name: "Admin".into(),
            role: choso_services::accounts::Role::Admin,
            province_code: None,
        },
    )
    .await
    .unwrap();
    let v = app.gql("mutation { login(input: { email: \"admin@choso.vn\", password: \"admin password 1\" }) { token } }", json!({})).await;
    let admin = v["data"]["login"]["token"].as_str().unwrap().to_string();
    let mut failed = json!([]);
    for _ in 0..200 {
        failed = app
            .gql_as(
                &admin,
                "{ failedEmails { id kind recipient attempts lastError } }",
                json!({}),
            )
            .await["data"]["failedEmails"]
            .clone();
        if failed.as_array().is_some_and(|a| !a.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(failed[0]["kind"], "password_reset", "{failed}");
    assert_eq!(failed[0]["attempts"], 8);
    let (user, _) = app.register("user@example.vn").await;
    let v = app
        .gql_as(&user, "{ failedEmails { id } }", json!({}))
        .await;
    assert_eq!(v["errors"][0]["extensions"]["code"], "FORBIDDEN");
    let v = app
        .gql_as(
            &admin,
            "mutation($i: String!) { retryEmail(id: $i) { ok userErrors { code } } }",
            json!({ "i": failed[0]["id"] }),
        )
        .await;
    assert_eq!(v["data"]["retryEmail"]["ok"], true);
}
