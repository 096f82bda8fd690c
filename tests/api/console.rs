//! The back-office console at `/console`, as a browser without JavaScript sees it: cookies
//! kept by a small jar, forms posted with the CSRF token read from the page.

use std::collections::BTreeMap;

use reqwest::{StatusCode, header};

use crate::{helpers::TestApp, storage_tests};

/// A browser: a cookie jar over the test app's client (which does not follow redirects).
pub struct Browser<'a> {
    pub app: &'a TestApp,
    pub jar: BTreeMap<String, String>,
    /// `Set-Cookie` headers of the last answer.
    pub last_cookies: Vec<String>,
}

pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub body: String,
    pub headers: header::HeaderMap,
}

impl Page {
    /// The CSRF token of the first form.
    pub fn csrf(&self) -> String {
        value_of(&self.body, "name=\"csrf\" value=\"").unwrap_or_default()
    }
}

fn value_of(body: &str, marker: &str) -> Option<String> {
    let i = body.find(marker)? + marker.len();
    let end = body[i..].find('"')?;
    Some(body[i..i + end].to_string())
}

impl<'a> Browser<'a> {
    pub fn new(app: &'a TestApp) -> Browser<'a> {
        Browser {
            app,
            jar: BTreeMap::new(),
            last_cookies: vec![],
        }
    }

    fn cookie_header(&self) -> String {
        self.jar
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn finish(&mut self, resp: reqwest::Response) -> Page {
        self.last_cookies = resp
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(String::from))
            .collect();
        for c in &self.last_cookies {
            let first = c.split(';').next().unwrap_or("");
            if let Some((k, v)) = first.split_once('=') {
                if c.contains("Max-Age=0") {
                    self.jar.remove(k);
                } else {
                    self.jar.insert(k.to_string(), v.to_string());
                }
            }
        }
        let status = resp.status();
        let headers = resp.headers().clone();
        let location = headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        let body = resp.text().await.unwrap_or_default();
        Page {
            status,
            location,
            body,
            headers,
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let resp = self
            .app
            .client
            .get(self.app.url(path))
            .header(header::COOKIE, self.cookie_header())
            .send()
            .await
            .expect("GET");
        self.finish(resp).await
    }

    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let resp = self
            .app
            .client
            .post(self.app.url(path))
            .header(header::COOKIE, self.cookie_header())
            .form(fields)
            .send()
            .await
            .expect("POST");
        self.finish(resp).await
    }

    /// GETs `page`, then posts `fields` to `action` with the page's CSRF token.
    pub async fn submit(&mut self, page: &str, action: &str, fields: &[(&str, &str)]) -> Page {
        let p = self.get(page).await;
        assert_eq!(p.status, StatusCode::OK, "GET {page}: {}", p.body);
        let csrf = p.csrf();
        assert!(!csrf.is_empty(), "{page} has a CSRF token");
        let mut all: Vec<(&str, &str)> = vec![("csrf", &csrf)];
        all.extend_from_slice(fields);
        self.post(action, &all).await
    }

    /// Posts a multipart form (`files`: field, file name, content type, bytes) with the CSRF
    /// token of `page`.
    pub async fn submit_multipart(
        &mut self,
        page: &str,
        action: &str,
        fields: &[(&str, &str)],
        files: &[(&str, &str, &str, Vec<u8>)],
    ) -> Page {
        let p = self.get(page).await;
        assert_eq!(p.status, StatusCode::OK, "GET {page}");
        let csrf = p.csrf();
        let boundary = "----chosoTestBoundary7MA4YWxkTrZu0gW";
        let mut body: Vec<u8> = Vec::new();
        let text = |name: &str, value: &str, body: &mut Vec<u8>| {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
                )
                .as_bytes(),
            );
        };
        text("csrf", &csrf, &mut body);
        for (k, v) in fields {
            text(k, v, &mut body);
        }
        for (name, file, ctype, bytes) in files {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\nContent-Type: {ctype}\r\n\r\n"
                )
                .as_bytes(),
            );
            body.extend_from_slice(bytes);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let resp = self
            .app
            .client
            .post(self.app.url(action))
            .header(header::COOKIE, self.cookie_header())
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body)
            .send()
            .await
            .expect("POST multipart");
        self.finish(resp).await
    }

    /// Signs up through the console; answers the page after the redirect.
    pub async fn sign_up(&mut self, email: &str) -> Page {
        let p = self
            .submit(
                "/console/signup",
                "/console/signup",
                &[
                    ("fullName", "Trần Thị Chủ"),
                    ("email", email),
                    ("password", "correct horse battery"),
                    ("inviteCode", ""),
                ],
            )
            .await;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "sign-up: {}", p.body);
        p
    }
}

storage_tests!(
    sign_up_in_and_out_with_cookie_flags,
    forms_without_the_csrf_token_are_refused,
    refused_forms_keep_typed_values,
    password_reset_through_the_emailed_link,
    the_wizard_takes_a_new_owner_to_a_published_shop,
    products_create_edit_and_import_with_row_errors,
    order_pages_offer_only_the_allowed_moves,
    another_owner_cannot_see_or_act_on_the_shop,
    the_live_inbox_stream_delivers_a_new_order,
);

/// A 1×1 PNG.
pub const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0xF8, 0xCF, 0xC0, 0xF0,
    0x1F, 0x00, 0x05, 0x00, 0x01, 0xFF, 0x89, 0x99, 0x3D, 0x1D, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
];

/// The shop id in a `/console/shops/{id}/…` address.
fn shop_id_of(location: &str) -> String {
    location
        .trim_start_matches("/console/shops/")
        .split('/')
        .next()
        .unwrap_or("")
        .to_string()
}

/// Signs up and walks the wizard to a published shop; answers the shop id.
pub async fn published_shop(b: &mut Browser<'_>, email: &str, name: &str) -> String {
    b.sign_up(email).await;
    let p = b
        .submit(
            "/console/shops/new",
            "/console/shops/new",
            &[
                ("name", name),
                ("slug", ""),
                ("provinceCode", "46"),
                ("phone", "0905 123 456"),
                ("email", email),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let id = shop_id_of(p.location.as_deref().unwrap_or(""));
    let base = format!("/console/shops/{id}");
    let p = b
        .submit(
            &format!("{base}/setup/theme"),
            &format!("{base}/setup/theme"),
            &[("theme", "grid")],
        )
        .await;
    assert_eq!(
        p.location.as_deref(),
        Some(format!("{base}/setup/product").as_str())
    );
    let p = b
        .submit_multipart(
            &format!("{base}/setup/product"),
            &format!("{base}/setup/product"),
            &[
                ("title", "Trà sen Tây Hồ"),
                ("variants.0.price", "150.000"),
                ("variants.0.stock", "20"),
            ],
            &[("photo", "tra.png", "image/png", PNG.to_vec())],
        )
        .await;
    assert_eq!(
        p.location.as_deref(),
        Some(format!("{base}/setup/payments").as_str()),
        "{}",
        p.body
    );
    let p = b
        .submit(
            &format!("{base}/setup/payments"),
            &format!("{base}/setup/payments"),
            &[("cod", "on"), ("then", "next")],
        )
        .await;
    assert_eq!(
        p.location.as_deref(),
        Some(format!("{base}/setup/publish").as_str()),
        "{}",
        p.body
    );
    let p = b
        .submit(
            &format!("{base}/setup/publish"),
            &format!("{base}/setup/publish"),
            &[],
        )
        .await;
    assert_eq!(
        p.location.as_deref(),
        Some(format!("{base}/orders?published=1").as_str()),
        "{}",
        p.body
    );
    id
}

/// Places a cash-on-delivery order of the shop's first variant through the services.
pub async fn place_order(app: &TestApp, shop: &str) -> choso_services::orders::Order {
    use choso_services::{ShopId, catalog, orders};
    let sid = ShopId::new(shop);
    let s = choso_services::shops::get(&app.db, &sid)
        .await
        .unwrap()
        .unwrap();
    let page = catalog::list_products(
        &app.db,
        &sid,
        catalog::Visibility::Public,
        &Default::default(),
    )
    .await
    .unwrap();
    let pid = page.items[0].0.id.clone();
    let vs = catalog::variants_for(&app.db, &sid, std::slice::from_ref(&pid))
        .await
        .unwrap();
    let variant = vs[&pid][0].id.clone();
    orders::place_order(
        &app.db,
        orders::PlaceOrder {
            shop_slug: s.slug,
            lines: vec![orders::LineInput {
                shop_id: sid,
                variant_id: variant,
                quantity: 2,
            }],
            customer_name: "Nguyễn Thị Khách".into(),
            customer_phone: "0912345678".into(),
            customer_email: None,
            address_line: "12 Lê Lợi".into(),
            ward: Some("Phú Hội".into()),
            province_code: "46".into(),
            payment_method: orders::PaymentMethod::Cod,
            idempotency_key: None,
            note: None,
        },
    )
    .await
    .expect("order placed")
}

async fn sign_up_in_and_out_with_cookie_flags(app: TestApp) {
    let mut b = Browser::new(&app);
    // Signed out, the console sends to the sign-in page and comes back after.
    let p = b.get("/console?x=1").await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(
        p.location.as_deref(),
        Some("/console/login?next=/console%3Fx%3D1")
    );
    let p = b.get("/console/login").await;
    assert!(p.body.contains("Đăng nhập"), "Vietnamese by default");
    assert!(
        p.headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .contains("nonce-"),
        "CSP with a nonce"
    );
    let p = b.sign_up("chu@example.vn").await;
    assert_eq!(p.location.as_deref(), Some("/console/shops/new"));
    let session = b
        .last_cookies
        .iter()
        .find(|c| c.starts_with("choso_session="))
        .expect("session cookie set")
        .clone();
    assert!(session.contains("HttpOnly"), "{session}");
    assert!(session.contains("SameSite=Lax"), "{session}");
    assert!(session.contains("Path=/"), "{session}");
    assert!(
        !session.contains("Secure"),
        "not over plain http: {session}"
    );
    let token = b.jar["choso_session"].clone();
    assert!(token.starts_with("chs_"));
    let home = b.get("/console").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.body.contains("chu@example.vn"));
    // The session works for the API too: it is the same token.
    let v = app
        .gql_as(&token, "{ me { email } }", serde_json::json!({}))
        .await;
    assert_eq!(v["data"]["me"]["email"], "chu@example.vn");
    // Sign out revokes the session and clears the cookie.
    let p = b.submit("/console", "/console/logout", &[]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert!(
        b.last_cookies
            .iter()
            .any(|c| c.starts_with("choso_session=;") && c.contains("Max-Age=0"))
    );
    let v = app
        .gql_as(&token, "{ me { email } }", serde_json::json!({}))
        .await;
    assert!(v["data"]["me"].is_null(), "token revoked: {v}");
    assert_eq!(b.get("/console").await.status, StatusCode::SEE_OTHER);
    // Sign in again, back to where `next` says (and never off the console).
    let p = b
        .submit(
            "/console/login?next=/console/shops/new",
            "/console/login",
            &[
                ("email", "chu@example.vn"),
                ("password", "correct horse battery"),
                ("next", "/console/shops/new"),
            ],
        )
        .await;
    assert_eq!(p.location.as_deref(), Some("/console/shops/new"));
    b.submit("/console", "/console/logout", &[]).await;
    let p = b
        .submit(
            "/console/login",
            "/console/login",
            &[
                ("email", "chu@example.vn"),
                ("password", "correct horse battery"),
                ("next", "//evil.example/"),
            ],
        )
        .await;
    assert_eq!(p.location.as_deref(), Some("/console"));
    // English on request, remembered in a cookie.
    let p = b.get("/console?lang=en").await;
    assert!(p.body.contains("My shops"));
    assert!(b.jar.get("lang").is_some_and(|l| l == "en"));
    assert!(b.get("/console").await.body.contains("My shops"));
    // A wrong password is a message on the form, the email stays typed.
    b.submit("/console", "/console/logout", &[]).await;
    let p = b
        .submit(
            "/console/login",
            "/console/login",
            &[("email", "chu@example.vn"), ("password", "wrong password!")],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.body.contains("The email or password is incorrect."));
    assert!(p.body.contains("value=\"chu@example.vn\""));
}

async fn forms_without_the_csrf_token_are_refused(app: TestApp) {
    let mut b = Browser::new(&app);
    // No token at all, before sign-in.
    b.get("/console/signup").await;
    let p = b
        .post(
            "/console/signup",
            &[
                ("fullName", "X"),
                ("email", "x@example.vn"),
                ("password", "correct horse battery"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert!(p.body.contains("Phiên làm việc đã hết hạn"));
    assert_eq!(app.count("users").await, 0, "nothing was created");
    // A token from another browser does not work either.
    let mut other = Browser::new(&app);
    let foreign = other.get("/console/signup").await.csrf();
    let p = b
        .post(
            "/console/signup",
            &[
                ("csrf", &foreign),
                ("fullName", "X"),
                ("email", "x@example.vn"),
                ("password", "correct horse battery"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    // Signed in, the token changes with the session: the pre-session one no longer counts
    // for the session's forms unless the visitor cookie still matches it.
    b.sign_up("owner@example.vn").await;
    let p = b.post("/console/logout", &[("csrf", "0000")]).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert_eq!(
        b.get("/console").await.status,
        StatusCode::OK,
        "still signed in"
    );
}

async fn refused_forms_keep_typed_values(app: TestApp) {
    let mut b = Browser::new(&app);
    let p = b
        .submit(
            "/console/signup",
            "/console/signup",
            &[
                ("fullName", "Lê Văn Gõ"),
                ("email", "not-an-email"),
                ("password", "short"),
                ("inviteCode", "NOPE-123"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.body.contains("value=\"Lê Văn Gõ\""), "name kept");
    assert!(p.body.contains("value=\"not-an-email\""), "email kept");
    assert!(p.body.contains("value=\"NOPE-123\""), "invite code kept");
    assert!(
        p.body.contains("id=\"f-email-error\""),
        "error next to email"
    );
    assert!(
        p.body.contains("id=\"f-password-error\""),
        "error next to password"
    );
    assert!(p.body.contains("aria-invalid=\"true\""));
    assert_eq!(app.count("users").await, 0);
}

async fn password_reset_through_the_emailed_link(app: TestApp) {
    let mut b = Browser::new(&app);
    b.sign_up("reset@example.vn").await;
    b.submit("/console", "/console/logout", &[]).await;
    let p = b
        .submit(
            "/console/forgot",
            "/console/forgot",
            &[("email", "reset@example.vn")],
        )
        .await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.body.contains("role=\"status\""), "a neutral confirmation");
    // The reset email (its link is /console/reset?token=…, see notify.rs) is in the outbox.
    let mut token = String::new();
    for _ in 0..50 {
        use sqlx::Row;
        let row = sqlx::query("SELECT payload FROM outbox WHERE kind = 'password_reset'")
            .fetch_optional(app.db.read())
            .await
            .expect("outbox");
        if let Some(r) = row {
            let payload: String = r.try_get("payload").expect("payload");
            token = payload
                .split("rst_")
                .nth(1)
                .map(|r| {
                    let hex: String = r.chars().take_while(char::is_ascii_hexdigit).collect();
                    format!("rst_{hex}")
                })
                .unwrap_or_default();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(token.len() > 10, "a reset token was sent");
    let page = format!("/console/reset?token={token}");
    let p = b
        .submit(
            &page,
            "/console/reset",
            &[
                ("token", &token),
                ("newPassword", "a brand new secret"),
                ("confirm", "a different one"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.body.contains("id=\"f-confirm-error\""));
    let p = b
        .submit(
            &page,
            "/console/reset",
            &[
                ("token", &token),
                ("newPassword", "a brand new secret"),
                ("confirm", "a brand new secret"),
            ],
        )
        .await;
    assert_eq!(p.location.as_deref(), Some("/console/login?reset=1"));
    let p = b
        .submit(
            "/console/login",
            "/console/login",
            &[
                ("email", "reset@example.vn"),
                ("password", "a brand new secret"),
            ],
        )
        .await;
    assert_eq!(p.location.as_deref(), Some("/console"));
    // The link works once.
    let p = b
        .submit(
            &page,
            "/console/reset",
            &[
                ("token", &token),
                ("newPassword", "yet another secret"),
                ("confirm", "yet another secret"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.body.contains("/console/forgot"));
}

async fn the_wizard_takes_a_new_owner_to_a_published_shop(app: TestApp) {
    let mut b = Browser::new(&app);
    b.sign_up("chu@example.vn").await;
    let p = b.get("/console/shops/new").await;
    assert!(
        p.body.contains("data-slug-source=\"f-slug\""),
        "the slug follows the name as typed"
    );
    assert!(p.body.contains("Huế"), "provinces listed");
    let p = b
        .submit(
            "/console/shops/new",
            "/console/shops/new",
            &[
                ("name", "Trà Cung Đình"),
                ("slug", ""),
                ("provinceCode", "46"),
                ("phone", "0905123456"),
                ("email", ""),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let id = shop_id_of(p.location.as_deref().unwrap());
    let base = format!("/console/shops/{id}");
    assert_eq!(p.location.unwrap(), format!("{base}/setup/theme"));
    // Leave and come back: /setup resumes at the first step not done.
    let p = b.get(&format!("{base}/setup")).await;
    assert_eq!(p.location.unwrap(), format!("{base}/setup/theme"));
    // The theme step previews the three themes with the shop's own storefront.
    let p = b.get(&format!("{base}/setup/theme")).await;
    for t in ["warm", "grid", "minimal"] {
        assert!(
            p.body.contains(&format!("/s/tra-cung-dinh/?theme={t}")),
            "{t} previewed"
        );
    }
    let preview = b.get("/s/tra-cung-dinh/?theme=minimal").await;
    assert_eq!(
        preview.status,
        StatusCode::OK,
        "members preview the unpublished shop"
    );
    assert!(preview.body.contains("Trà Cung Đình"));
    let csp = preview.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("frame-ancestors 'self'"), "{csp}");
    let anon = app
        .client
        .get(app.url("/s/tra-cung-dinh/"))
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status(), StatusCode::NOT_FOUND, "not public yet");
    b.submit(
        &format!("{base}/setup/theme"),
        &format!("{base}/setup/theme"),
        &[("theme", "minimal")],
    )
    .await;
    // A bad price is refused next to its field, with everything typed kept.
    let p = b
        .submit_multipart(
            &format!("{base}/setup/product"),
            &format!("{base}/setup/product"),
            &[
                ("title", "Trà sen"),
                ("variants.0.price", "mười nghìn"),
                ("variants.0.stock", "5"),
            ],
            &[],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        p.body.contains("id=\"f-variants-0-price-error\""),
        "{}",
        p.body
    );
    assert!(p.body.contains("value=\"mười nghìn\"") && p.body.contains("value=\"Trà sen\""));
    let p = b
        .submit_multipart(
            &format!("{base}/setup/product"),
            &format!("{base}/setup/product"),
            &[
                ("title", "Trà sen"),
                ("variants.0.price", "150.000"),
                ("variants.0.stock", "5"),
            ],
            &[("photo", "tra.png", "image/png", PNG.to_vec())],
        )
        .await;
    assert_eq!(p.location.unwrap(), format!("{base}/setup/payments"));
    // Payments: a bank account shows a test VietQR code; a bad account name is refused.
    let p = b
        .submit(
            &format!("{base}/setup/payments"),
            &format!("{base}/setup/payments"),
            &[
                ("cod", "on"),
                ("bankBin", "970436"),
                ("bankAccountNumber", "0011004455667"),
                ("bankAccountName", "Nguyễn 2"),
                ("then", "qr"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        p.body.contains("id=\"f-bankAccountName-error\""),
        "{}",
        p.body
    );
    assert!(p.body.contains("value=\"0011004455667\""));
    let p = b
        .submit(
            &format!("{base}/setup/payments"),
            &format!("{base}/setup/payments"),
            &[
                ("cod", "on"),
                ("bankBin", "970436"),
                ("bankAccountNumber", "0011004455667"),
                ("bankAccountName", "Nguyễn Văn A"),
                ("then", "qr"),
            ],
        )
        .await;
    assert_eq!(p.location.unwrap(), format!("{base}/setup/payments"));
    let p = b.get(&format!("{base}/setup/payments")).await;
    assert!(p.body.contains("<svg"), "a test QR code is shown");
    assert!(p.body.contains("NGUYEN VAN A"));
    let p = b.get(&format!("{base}/setup/publish")).await;
    assert!(
        !p.body.contains("✗"),
        "the checklist is complete: {}",
        p.body
    );
    let p = b
        .submit(
            &format!("{base}/setup/publish"),
            &format!("{base}/setup/publish"),
            &[],
        )
        .await;
    assert_eq!(p.location.unwrap(), format!("{base}/orders?published=1"));
    let anon = app
        .client
        .get(app.url("/s/tra-cung-dinh/"))
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status(), StatusCode::OK, "published");
    assert!(anon.text().await.unwrap().contains("Trà sen"));
    // A second owner asking for the same address gets the free one suggested.
    let mut other = Browser::new(&app);
    other.sign_up("khac@example.vn").await;
    let p = other
        .submit(
            "/console/shops/new",
            "/console/shops/new",
            &[
                ("name", "Trà Cung Đình"),
                ("slug", "tra-cung-dinh"),
                ("provinceCode", "46"),
                ("phone", ""),
                ("email", ""),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        p.body.contains("tra-cung-dinh-2"),
        "suggestion shown: {}",
        p.body
    );
    assert!(p.body.contains("id=\"f-slug-error\""));
    assert!(p.body.contains("value=\"Trà Cung Đình\""));
}

async fn products_create_edit_and_import_with_row_errors(app: TestApp) {
    let mut b = Browser::new(&app);
    let id = published_shop(&mut b, "p@example.vn", "Gốm Bát Tràng").await;
    let base = format!("/console/shops/{id}/products");
    // Create with two variants; a bad stock and a bad price are shown on their own rows.
    let p = b
        .submit_multipart(
            &format!("{base}/new"),
            &format!("{base}/new"),
            &[
                ("title", "Bình gốm"),
                ("description", "Men lam"),
                ("published", "on"),
                ("variants.0.title", "Nhỏ"),
                ("variants.0.sku", "BG-S"),
                ("variants.0.price", "200.000"),
                ("variants.0.stock", "3"),
                ("variants.1.title", "Lớn"),
                ("variants.1.sku", "BG-L"),
                ("variants.1.price", "abc"),
                ("variants.1.stock", "2"),
            ],
            &[],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        p.body.contains("id=\"f-variants-1-price-error\""),
        "{}",
        p.body
    );
    assert!(!p.body.contains("id=\"f-variants-0-price-error\""));
    assert!(
        p.body.contains("value=\"Bình gốm\"")
            && p.body.contains("value=\"abc\"")
            && p.body.contains("value=\"BG-L\"")
    );
    let p = b
        .submit_multipart(
            &format!("{base}/new"),
            &format!("{base}/new"),
            &[
                ("title", "Bình gốm"),
                ("published", "on"),
                ("variants.0.title", "Nhỏ"),
                ("variants.0.sku", "BG-S"),
                ("variants.0.price", "200.000"),
                ("variants.0.stock", "3"),
                ("variants.1.title", "Lớn"),
                ("variants.1.sku", "BG-L"),
                ("variants.1.price", "350000"),
                ("variants.1.stock", "2"),
            ],
            &[("photo", "b.png", "image/png", PNG.to_vec())],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let edit = p.location.unwrap().replace("?saved=1", "");
    let page = b.get(&edit).await;
    assert!(page.body.contains("value=\"BG-L\"") && page.body.contains("/uploads/"));
    let v0 = value_of(&page.body, "name=\"variants.0.id\" value=\"").unwrap();
    let v1 = value_of(&page.body, "name=\"variants.1.id\" value=\"").unwrap();
    // Edit: rename, new stock (a recorded movement), a third variant.
    let p = b
        .submit_multipart(
            &edit,
            &edit,
            &[
                ("title", "Bình gốm men lam"),
                ("published", "on"),
                ("variants.0.id", &v0),
                ("variants.0.title", "Nhỏ"),
                ("variants.0.sku", "BG-S"),
                ("variants.0.price", "210000"),
                ("variants.0.stock", "7"),
                ("variants.1.id", &v1),
                ("variants.1.title", "Lớn"),
                ("variants.1.sku", "BG-L"),
                ("variants.1.price", "350000"),
                ("variants.1.stock", "2"),
                ("variants.2.title", "Đại"),
                ("variants.2.sku", "BG-XL"),
                ("variants.2.price", "500000"),
                ("variants.2.stock", "1"),
            ],
            &[],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let list = b.get(&format!("{base}?q=men+lam")).await;
    assert!(list.body.contains("Bình gốm men lam"));
    assert!(
        list.body.contains("210.000"),
        "lowest price shown: {}",
        list.body
    );
    assert!(list.body.contains(">10<"), "stock 7+2+1: {}", list.body);
    assert!(
        app.count("stock_movements").await >= 1,
        "the stock change is recorded"
    );
    // CSV import: a bad row is reported by row and nothing is written.
    let csv = "sku,title,price,stock\nTS-1,Trà sen,120000,5\nTS-2,Trà nhài,giá?,3\n";
    let p = b
        .submit_multipart(
            &format!("{base}/import"),
            &format!("{base}/import"),
            &[],
            &[("file", "p.csv", "text/csv", csv.as_bytes().to_vec())],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", p.body);
    assert!(p.body.contains("id=\"row-errors\""));
    assert!(
        p.body.contains("<td class=\"num\">3</td><td>price</td>"),
        "{}",
        p.body
    );
    assert!(
        !b.get(&format!("{base}?q=tra+sen"))
            .await
            .body
            .contains("TS-1")
    );
    let p = b
        .submit_multipart(
            &format!("{base}/import"),
            &format!("{base}/import"),
            &[("skip", "on")],
            &[("file", "p.csv", "text/csv", csv.as_bytes().to_vec())],
        )
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert!(
        b.get(&format!("{base}?q=tra+sen"))
            .await
            .body
            .contains("Trà sen")
    );
    // Archive.
    let pid = edit.rsplit('/').next().unwrap().to_string();
    let p = b
        .submit(
            &edit,
            &format!("{base}/{pid}/archive"),
            &[("archived", "1")],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert!(!b.get(&base).await.body.contains("Bình gốm men lam"));
}

async fn order_pages_offer_only_the_allowed_moves(app: TestApp) {
    let mut b = Browser::new(&app);
    let id = published_shop(&mut b, "o@example.vn", "Nón lá Huế").await;
    let order = place_order(&app, &id).await;
    let url = format!("/console/shops/{id}/orders/{}", order.id);
    let inbox = b.get(&format!("/console/shops/{id}/orders")).await;
    assert!(inbox.body.contains(&format!("#{}", order.number)));
    assert!(
        inbox.body.contains("300.000"),
        "total in VND: {}",
        inbox.body
    );
    let filtered = b
        .get(&format!("/console/shops/{id}/orders?status=DELIVERED"))
        .await;
    assert!(!filtered.body.contains(&format!("order-{}", order.id)));
    let p = b.get(&url).await;
    assert!(p.body.contains("data-move=\"CONFIRMED\""));
    assert!(p.body.contains("data-move=\"CANCELLED\""));
    assert!(
        !p.body.contains("data-move=\"SHIPPED\"") && !p.body.contains("data-move=\"DELIVERED\"")
    );
    assert!(p.body.contains("data-action=\"paid\""));
    // A move the lifecycle does not allow is refused.
    let p = b
        .submit(&url, &format!("{url}/status"), &[("to", "DELIVERED")])
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    let p = b
        .submit(&url, &format!("{url}/status"), &[("to", "CONFIRMED")])
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let p = b.get(&url).await;
    assert!(
        p.body.contains("data-move=\"SHIPPED\"") && !p.body.contains("data-move=\"CONFIRMED\"")
    );
    assert!(
        p.body.contains("Đã xác nhận"),
        "history and status in Vietnamese"
    );
    // Cancelling needs a reason; the refused form says so next to the field.
    let p = b
        .submit(
            &url,
            &format!("{url}/status"),
            &[("to", "CANCELLED"), ("note", "")],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.body.contains("id=\"f-note-error\""), "{}", p.body);
    let p = b.submit(&url, &format!("{url}/paid"), &[]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let p = b
        .submit(
            &url,
            &format!("{url}/status"),
            &[("to", "CANCELLED"), ("note", "Khách đổi ý")],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let p = b.get(&url).await;
    assert!(p.body.contains("Khách đổi ý"));
    assert!(!p.body.contains("data-move="), "no moves after cancelling");
}

async fn another_owner_cannot_see_or_act_on_the_shop(app: TestApp) {
    let mut owner = Browser::new(&app);
    let id = published_shop(&mut owner, "a@example.vn", "Cửa hàng A").await;
    let order = place_order(&app, &id).await;
    let mut other = Browser::new(&app);
    other.sign_up("b@example.vn").await;
    for path in [
        "/orders",
        "/products",
        "/settings",
        "/setup/theme",
        "/orders/live",
    ] {
        let p = other.get(&format!("/console/shops/{id}{path}")).await;
        assert_eq!(p.status, StatusCode::FORBIDDEN, "{path}");
    }
    let p = other
        .get(&format!("/console/shops/{id}/orders/{}", order.id))
        .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    let p = other
        .get("/console/shops/01ARZ3NDEKTSV4RRFFQ69G5FAV/orders")
        .await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    // Posting with the other owner's own valid token still meets the membership check.
    let p = other
        .submit(
            "/console",
            &format!("/console/shops/{id}/orders/{}/status", order.id),
            &[("to", "CONFIRMED")],
        )
        .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    let o = choso_services::orders::get(&app.db, &choso_services::ShopId::new(&id), &order.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        o.status,
        choso_services::orders::Status::Pending,
        "nothing changed"
    );
    assert!(!other.get("/console").await.body.contains("Cửa hàng A"));
    // A staff member sees orders but cannot change settings.
    other.jar.clear();
    let mut staff = Browser::new(&app);
    staff.sign_up("staff@example.vn").await;
    let p = owner
        .submit(
            &format!("/console/shops/{id}/settings"),
            &format!("/console/shops/{id}/members"),
            &[("email", "staff@example.vn"), ("role", "staff")],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    assert_eq!(
        staff
            .get(&format!("/console/shops/{id}/orders"))
            .await
            .status,
        StatusCode::OK
    );
    let p = staff
        .submit(
            &format!("/console/shops/{id}/settings"),
            &format!("/console/shops/{id}/settings"),
            &[("form", "settings"), ("name", "Hijacked")],
        )
        .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
}

async fn the_live_inbox_stream_delivers_a_new_order(app: TestApp) {
    let mut b = Browser::new(&app);
    let id = published_shop(&mut b, "live@example.vn", "Bánh Huế").await;
    let inbox = b.get(&format!("/console/shops/{id}/orders")).await;
    assert!(inbox.body.contains(&format!(
        "data-live-url=\"/console/shops/{id}/orders/live\""
    )));
    let resp = app
        .client
        .get(app.url(&format!("/console/shops/{id}/orders/live")))
        .header(
            header::COOKIE,
            format!("choso_session={}", b.jar["choso_session"]),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut resp = resp;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let order = place_order(&app, &id).await;
    let mut got = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while !got.contains("\n\n") || !got.contains("event: order") {
        let next = tokio::time::timeout_at(deadline, resp.chunk())
            .await
            .expect("an event within 10 s");
        got.push_str(&String::from_utf8_lossy(
            &next.unwrap().expect("stream open"),
        ));
    }
    assert!(
        got.contains(&format!("\"number\":\"#{}\"", order.number)),
        "{got}"
    );
    assert!(
        got.contains("Nguyễn Thị Khách")
            && got.contains(&format!("/console/shops/{id}/orders/{}", order.id)),
        "{got}"
    );
}
