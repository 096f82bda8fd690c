//! The request context of every console page: who is asking ([`Ctx`], [`Signed`]), in which
//! language, the CSP nonce, the CSRF token, and rendering with the one error mapping
//! ([`Ctx::fail`]) from `choso_services::Error` to pages.

use std::{net::SocketAddr, ops::Deref, sync::Arc};

use axum::{
    extract::{ConnectInfo, FromRequestParts, OriginalUri},
    http::{HeaderValue, StatusCode, header, request::Parts},
    response::{Html, IntoResponse, Redirect, Response},
};
use choso_services::{
    Error,
    accounts::{self, User},
};
use serde_json::{Value, json};

use crate::{
    server::AppState,
    storefront::{
        security::{self, SID_COOKIE},
        themes::Theme,
    },
};

/// The session cookie (its value is the `accounts` session token).
pub const SESSION_COOKIE: &str = "choso_session";
/// The language cookie (`vi` or `en`), set by `?lang=`.
pub const LANG_COOKIE: &str = "lang";
/// How long the session cookie lives (the token's own lifetime).
pub const SESSION_MAX_AGE_S: i64 = accounts::SESSION_TTL_MS / 1000;

/// Any console request: signed in or not.
pub struct Ctx {
    pub st: AppState,
    pub theme: Arc<Theme>,
    /// `vi` (default) or `en`.
    pub lang: &'static str,
    pub nonce: String,
    pub request_id: String,
    /// The path and query asked for (for `next=` and the language switch).
    pub uri: String,
    pub client_ip: Option<String>,
    /// The live session token and its user, when signed in.
    pub token: Option<String>,
    pub user: Option<User>,
    sid: String,
    new_sid: bool,
    lang_chosen: bool,
    /// Cookies to set on the answer (sign-in, sign-out).
    cookies: Vec<HeaderValue>,
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Ctx, Response> {
        let theme = st.themes.console().ok_or_else(|| {
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "The console templates are missing.",
            )
                .into_response()
        })?;
        let uri = parts
            .extensions
            .get::<OriginalUri>()
            .map(|u| u.0.clone())
            .unwrap_or_else(|| parts.uri.clone());
        let uri_s = uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/console".into());
        let query_lang = uri.query().and_then(|q| {
            q.split('&')
                .find_map(|kv| kv.strip_prefix("lang="))
                .map(|l| if l == "en" { "en" } else { "vi" })
        });
        let lang = query_lang.unwrap_or_else(|| {
            match security::cookie(&parts.headers, LANG_COOKIE).as_deref() {
                Some("en") => "en",
                _ => "vi",
            }
        });
        let existing = security::cookie(&parts.headers, SID_COOKIE)
            .and_then(|v| security::verify_sid(&st.secret, &v));
        let (sid, new_sid) = match existing {
            Some(s) => (s, false),
            None => (choso_services::ids::new_id(), true),
        };
        let (token, user) = match security::cookie(&parts.headers, SESSION_COOKIE) {
            Some(t) if !t.is_empty() => match accounts::authenticate(&st.db, &t).await {
                Ok(Some(u)) => (Some(t), Some(u)),
                Ok(None) => (None, None),
                Err(e) => {
                    return Err(fault_page(st, &theme, lang, &request_id(parts), e));
                }
            },
            _ => (None, None),
        };
        Ok(Ctx {
            st: st.clone(),
            theme,
            lang,
            nonce: security::nonce(),
            request_id: request_id(parts),
            uri: uri_s,
            client_ip: parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip().to_string()),
            token,
            user,
            sid,
            new_sid,
            lang_chosen: query_lang.is_some(),
            cookies: Vec::new(),
        })
    }
}

fn request_id(parts: &Parts) -> String {
    parts
        .headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_string()
}

/// A signed-in console request; without a live session the browser is sent to
/// `/console/login?next=…`.
pub struct Signed {
    pub cx: Ctx,
    pub user: User,
}

impl Deref for Signed {
    type Target = Ctx;
    fn deref(&self) -> &Ctx {
        &self.cx
    }
}

impl FromRequestParts<AppState> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Signed, Response> {
        let cx = Ctx::from_request_parts(parts, st).await?;
        match cx.user.clone() {
            Some(user) => Ok(Signed { cx, user }),
            None => Err(cx.to_login()),
        }
    }
}

/// Percent-encodes a query value.
pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A `next=` target that stays inside the console (no open redirect).
pub fn safe_next(next: &str) -> Option<String> {
    let ok = (next == "/console" || next.starts_with("/console/") || next.starts_with("/console?"))
        && !next.contains("//")
        && !next.contains('\\')
        && !next.chars().any(char::is_control);
    ok.then(|| next.to_string())
}

impl Ctx {
    /// The CSRF token of this browser: from the session when signed in, else from the
    /// signed visitor cookie.
    pub fn csrf(&self) -> String {
        match &self.token {
            Some(t) => security::console_csrf(&self.st.secret, &format!("s:{t}")),
            None => security::console_csrf(&self.st.secret, &format!("v:{}", self.sid)),
        }
    }

    /// Whether cookies must carry `Secure`.
    pub fn secure(&self) -> bool {
        self.st.base_url.starts_with("https://")
    }

    /// Sets the session cookie on the answer (after `login`/`register`).
    pub fn sign_in(&mut self, session: &accounts::Session) {
        self.token = Some(session.token.clone());
        self.user = Some(session.user.clone());
        self.cookies.push(security::set_cookie(
            SESSION_COOKIE,
            &session.token,
            Some(SESSION_MAX_AGE_S),
            self.secure(),
        ));
    }

    /// Clears the session cookie on the answer.
    pub fn sign_out(&mut self) {
        self.token = None;
        self.user = None;
        self.cookies.push(security::set_cookie(
            SESSION_COOKIE,
            "",
            Some(0),
            self.secure(),
        ));
    }

    /// The locale table (`themes/console/locales/{lang}.json`).
    pub fn t(&self) -> Value {
        self.theme.locale(self.lang)
    }

    /// A string of the locale table by dotted key (`errors.REQUIRED`), if present.
    pub fn text(&self, key: &str) -> Option<String> {
        let t = self.t();
        let mut v = &t;
        for k in key.split('.') {
            v = v.get(k)?;
        }
        v.as_str().map(str::to_string)
    }

    /// The current address with `lang` switched to `to`.
    fn lang_url(&self, to: &str) -> String {
        let (path, query) = self.uri.split_once('?').unwrap_or((&self.uri, ""));
        let mut parts: Vec<&str> = query
            .split('&')
            .filter(|kv| !kv.is_empty() && !kv.starts_with("lang="))
            .collect();
        let l = format!("lang={to}");
        parts.push(&l);
        format!("{path}?{}", parts.join("&"))
    }

    /// What every template gets: `lang`, `t`, `nonce`, `csrf`, `user`, `css`, `js`,
    /// `path`, `lang_switch`, `request_id`.
    pub fn common(&self) -> Value {
        let other = if self.lang == "en" { "vi" } else { "en" };
        json!({
            "lang": self.lang,
            "t": self.t(),
            "nonce": self.nonce,
            "csrf": self.csrf(),
            "user": self.user.as_ref().map(|u| json!({ "id": u.id, "email": u.email, "full_name": u.full_name, "role": u.role.as_str(), "province_code": u.province_code })),
            "css": self.theme.asset_urls.get("console.css"),
            "js": self.theme.asset_urls.get("console.js"),
            "path": self.uri.split('?').next().unwrap_or(""),
            "lang_switch": { "lang": other, "url": self.lang_url(other) },
            "request_id": self.request_id,
        })
    }

    /// Renders `template` with the common context plus `extra` (an object).
    pub fn render(&self, status: StatusCode, template: &str, extra: Value) -> Response {
        let mut ctx = self.common();
        if let (Some(base), Value::Object(more)) = (ctx.as_object_mut(), extra) {
            base.extend(more);
        }
        match self.theme.render(
            template,
            minijinja::Value::from(minijinja::value::Serde(&ctx)),
        ) {
            Ok(html) => self.finish((status, Html(html)).into_response()),
            Err(e) => {
                tracing::error!(template, error = %e, request_id = %self.request_id, "console template failed");
                self.finish(
                    (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        Html(format!(
                            "<!doctype html><title>500</title><p>The page could not be shown (request {}).",
                            self.request_id
                        )),
                    )
                        .into_response(),
                )
            }
        }
    }

    /// A 200 page.
    pub fn page(&self, template: &str, extra: Value) -> Response {
        self.render(StatusCode::OK, template, extra)
    }

    /// A redirect (303, so a POST becomes a GET) carrying the answer's cookies.
    pub fn redirect(&self, to: &str) -> Response {
        self.finish(Redirect::to(to).into_response())
    }

    /// To the sign-in page, coming back here afterwards.
    pub fn to_login(&self) -> Response {
        let next = if self.uri.starts_with("/console") {
            format!("?next={}", urlencode(&self.uri))
        } else {
            String::new()
        };
        self.redirect(&format!("/console/login{next}"))
    }

    /// Headers of every console answer: security headers, no caching, cookies.
    pub fn finish(&self, mut resp: Response) -> Response {
        let h = resp.headers_mut();
        security::page_headers(h, &self.nonce);
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.new_sid {
            h.append(
                header::SET_COOKIE,
                security::set_cookie(
                    SID_COOKIE,
                    &security::sign_sid(&self.st.secret, &self.sid),
                    Some(2_592_000),
                    self.secure(),
                ),
            );
        }
        if self.lang_chosen {
            h.append(
                header::SET_COOKIE,
                security::set_cookie(LANG_COOKIE, self.lang, Some(31_536_000), self.secure()),
            );
        }
        for c in &self.cookies {
            h.append(header::SET_COOKIE, c.clone());
        }
        resp
    }

    /// An error page: 403, 404, 422, 500… with a title and message from the locale.
    pub fn error_page(&self, status: StatusCode, key: &str) -> Response {
        self.render(
            status,
            "error.html",
            json!({ "status": status.as_u16(), "error_key": key }),
        )
    }

    /// The one mapping of service errors to console answers. `Invalid` here is for errors
    /// that no form shows (forms use `FormErrors` and re-render themselves).
    pub fn fail(&self, e: Error) -> Response {
        match e {
            Error::Invalid(errs) => {
                let msgs: Vec<String> = errs.iter().map(|u| self.message(u)).collect();
                self.render(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "error.html",
                    json!({ "status": 422, "error_key": "invalid", "messages": msgs }),
                )
            }
            Error::Unauthenticated => self.to_login(),
            Error::Forbidden => self.error_page(StatusCode::FORBIDDEN, "forbidden"),
            Error::NotFound(_) => self.error_page(StatusCode::NOT_FOUND, "not_found"),
            Error::Unavailable => self.error_page(StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            e => {
                tracing::error!(error = %e, request_id = %self.request_id, "console request failed");
                self.error_page(StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        }
    }

    /// A user error in the page's language: `errors.{CODE}` of the locale when it has one,
    /// else the service's own message.
    pub fn message(&self, u: &choso_services::UserError) -> String {
        self.text(&format!("errors.{}", u.code))
            .unwrap_or_else(|| u.message.clone())
    }
}

/// A fault before a context exists (the session lookup failed).
fn fault_page(st: &AppState, theme: &Theme, lang: &str, request_id: &str, e: Error) -> Response {
    let status = if matches!(e, Error::Unavailable) {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        tracing::error!(error = %e, request_id, "console session lookup failed");
        StatusCode::INTERNAL_SERVER_ERROR
    };
    let _ = st;
    let ctx = json!({ "lang": lang, "t": theme.locale(lang), "status": status.as_u16(),
        "error_key": if status == StatusCode::SERVICE_UNAVAILABLE { "unavailable" } else { "internal" },
        "request_id": request_id, "css": theme.asset_urls.get("console.css") });
    let html = theme
        .render(
            "error.html",
            minijinja::Value::from(minijinja::value::Serde(&ctx)),
        )
        .unwrap_or_else(|_| format!("Error (request {request_id})"));
    (status, Html(html)).into_response()
}
