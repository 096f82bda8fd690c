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

    #[allow(dead_code)]
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
);

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
