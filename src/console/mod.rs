//! The back-office web console at `/console`: server-rendered pages for shop owners (and,
//! built on the same foundation, province staff), over `choso_services` — the handlers
//! call the services directly and keep no rule of their own.
//!
//! # Foundation (for every console page)
//!
//! - **Context** ([`ctx::Ctx`], an extractor): the state, the console bundle
//!   (`themes/console/`), the language (`vi` by default; `?lang=en` switches and sets the
//!   `lang` cookie), a CSP nonce, the request id, the client address, and the signed-in
//!   user when the `choso_session` cookie holds a live session token.
//!   [`ctx::Signed`] is the same for pages that need a user (`signed.user`, derefs to the
//!   `Ctx`); without one the browser goes to `/console/login?next=…`. Check roles with the
//!   user's `role` / `province_code` (e.g. `accounts::Role::ProvinceStaff`) and answer
//!   `cx.fail(Error::Forbidden)` otherwise.
//! - **Rendering**: `cx.page(template, json!({...}))` (200) or `cx.render(status, …)`; every
//!   template gets `lang`, `t` (the locale table), `nonce`, `csrf`, `user`, `css`, `js`,
//!   `path`, `lang_switch {lang,url}`, `request_id` besides what the handler adds.
//!   `cx.redirect(to)` answers 303 with the page's cookies. Every answer carries the
//!   security headers and CSP of `storefront::security::page_headers` and `no-store`.
//! - **Errors**: `cx.fail(e)` is the one mapping of `choso_services::Error`:
//!   `Unauthenticated` → sign-in, `Forbidden` → 403 page, `NotFound` → 404 page,
//!   `Unavailable` → 503, faults → 500 page with the request id (logged), `Invalid` not
//!   handled by a form → 422 page listing the messages. `cx.error_page(status, key)` shows
//!   `errors_page.{key}` of the locale.
//! - **Forms**: every POST handler takes [`form::Posted`] as its last argument: it reads a
//!   URL-encoded or multipart body and refuses it (403 page) unless the `csrf` field equals
//!   the browser's token (HMAC of the session token, or of the signed visitor cookie
//!   `choso_sid` before sign-in; `storefront::security::console_csrf`). Templates put
//!   `{{ m.csrf(csrf) }}` in every form. `f.get/opt/all/checked/file/values()` read it.
//!   On a service refusal call `form::refused(&cx, template, json!({"form": f.values(), …}), e)`:
//!   `Invalid` re-renders the form with 422, the typed values, and `errors` keyed by field
//!   ([`form::FormErrors`]: the service path without `input`, e.g. `email`,
//!   `variants.0.price`; `_form` for form-wide errors); `form::rerender` does the same for
//!   checks made in the handler. Messages come from `errors.{CODE}` of the locale, else the
//!   service's text.
//! - **Templates** (`themes/console/templates/`): `layout.html` with blocks `title`,
//!   `nav` (the top bar's links), `main`, `scripts`; `_macros.html` (imported as `m`) has
//!   `csrf`, `field` (label, input, hint, error next to it, typed value kept), `textarea`,
//!   `select`, `checkbox`, `form_errors`, `money`; `error.html` for error pages; `auth/*`
//!   for the account pages; `owner/*` for shop owners. Styles in `static/console.css`,
//!   script in `static/console.js` (served hashed and immutable under `/console/static/`,
//!   loaded with the nonce); `CHOSO_THEMES_DIR` re-reads them on every request.
//! - **Strings**: `themes/console/locales/vi.json` and `en.json` (same keys), `t.*` in
//!   templates, `cx.text("a.b")` in Rust.
//! - **Mounting**: add routes in [`routes`]; a new area gets its own module like
//!   [`owner`] and a line there.
//!
//! # Pages
//!
//! Accounts ([`auth`]): `/console/signup`, `/console/login`, `/console/logout` (POST),
//! `/console/forgot`, `/console/reset?token=…`. Owners ([`owner`]): the list of one's shops,
//! the onboarding wizard, products, orders with the live inbox, settings, members, domains.

pub mod auth;
pub mod charts;
pub mod ctx;
pub mod form;
pub mod owner;
pub mod province;

use axum::{
    Router,
    extract::{DefaultBodyLimit, Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
};

use crate::server::AppState;

/// The console's routes, relative to `/console`.
pub fn routes() -> Router<AppState> {
    let uploads = DefaultBodyLimit::max(choso_services::uploads::MAX_UPLOAD_BYTES + 64 * 1024);
    let imports = DefaultBodyLimit::max(8 * 1024 * 1024);
    Router::new()
        .route("/login", get(auth::login_form).post(auth::login))
        .route("/signup", get(auth::signup_form).post(auth::signup))
        .route("/logout", post(auth::logout))
        .route("/forgot", get(auth::forgot_form).post(auth::forgot))
        .route("/reset", get(auth::reset_form).post(auth::reset))
        .route("/static/{file}", get(asset))
        .merge(owner::routes(uploads, imports))
        .merge(province::routes())
        .fallback(auth::not_found)
}

/// Mounts the console at `/console`.
pub fn mount(router: Router<AppState>) -> Router<AppState> {
    router.nest("/console", routes())
}

async fn asset(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    let Some(t) = state.themes.console() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match t.asset(&file) {
        Some(a) => a.immutable_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
