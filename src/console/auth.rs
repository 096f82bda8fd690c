//! Console accounts pages: sign up (with an optional invite code), sign in (back to `next`),
//! sign out, and the password reset request and `/console/reset?token=…` (the link of the
//! reset email). All through `choso_services::accounts`.

use axum::{
    extract::Query,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use choso_services::accounts;
use serde::Deserialize;
use serde_json::json;

use super::{
    ctx::{Ctx, safe_next},
    form::{FormErrors, Posted, refused, rerender},
};

#[derive(Deserialize, Default)]
pub struct NextQuery {
    #[serde(default)]
    next: String,
    #[serde(default)]
    reset: String,
    #[serde(default)]
    token: String,
    /// An onboarding invite code (the link province staff hand out).
    #[serde(default)]
    invite: String,
}

fn next_or_home(next: &str) -> String {
    safe_next(next).unwrap_or_else(|| "/console".to_string())
}

pub async fn login_form(cx: Ctx, Query(q): Query<NextQuery>) -> Response {
    if cx.user.is_some() {
        return cx.redirect(&next_or_home(&q.next));
    }
    let notice = (q.reset == "1").then_some("reset_done");
    cx.page(
        "auth/login.html",
        json!({ "form": { "next": q.next }, "errors": {}, "notice": notice }),
    )
}

pub async fn login(mut cx: Ctx, f: Posted) -> Response {
    let values = json!({ "email": f.get("email"), "next": f.get("next") });
    match accounts::login(
        &cx.st.db,
        f.get("email"),
        f.get("password"),
        cx.client_ip.as_deref(),
    )
    .await
    {
        Ok(session) => {
            cx.sign_in(&session);
            cx.redirect(&next_or_home(f.get("next")))
        }
        Err(e) => refused(&cx, "auth/login.html", json!({ "form": values }), e),
    }
}

pub async fn signup_form(cx: Ctx, Query(q): Query<NextQuery>) -> Response {
    if cx.user.is_some() {
        return cx.redirect("/console");
    }
    cx.page(
        "auth/signup.html",
        json!({ "form": { "next": q.next, "inviteCode": q.invite.trim() }, "errors": {} }),
    )
}

pub async fn signup(mut cx: Ctx, f: Posted) -> Response {
    let values = json!({ "email": f.get("email"), "fullName": f.get("fullName"),
        "inviteCode": f.get("inviteCode"), "next": f.get("next") });
    let input = accounts::RegisterInput {
        email: f.get("email").to_string(),
        password: f.get("password").to_string(),
        full_name: f.get("fullName").to_string(),
        invite_code: f.opt("inviteCode"),
    };
    match accounts::register(&cx.st.db, input).await {
        Ok(session) => {
            cx.sign_in(&session);
            let next = safe_next(f.get("next")).unwrap_or_else(|| "/console/shops/new".into());
            cx.redirect(&next)
        }
        Err(e) => refused(&cx, "auth/signup.html", json!({ "form": values }), e),
    }
}

pub async fn logout(mut cx: Ctx, _f: Posted) -> Response {
    if let Some(t) = cx.token.clone()
        && let Err(e) = accounts::logout(&cx.st.db, &t).await
    {
        return cx.fail(e);
    }
    cx.sign_out();
    cx.redirect("/console/login")
}

pub async fn forgot_form(cx: Ctx) -> Response {
    cx.page(
        "auth/forgot.html",
        json!({ "form": {}, "errors": {}, "sent": false }),
    )
}

pub async fn forgot(cx: Ctx, f: Posted) -> Response {
    let values = json!({ "email": f.get("email") });
    if choso_services::text::Email::parse(f.get("email")).is_err() {
        let mut errors = FormErrors::new();
        errors.add("email", cx.text("errors.INVALID_EMAIL").unwrap_or_default());
        return rerender(&cx, "auth/forgot.html", json!({ "form": values }), &errors);
    }
    match accounts::request_password_reset(&cx.st.db, f.get("email")).await {
        Ok(()) => cx.page(
            "auth/forgot.html",
            json!({ "form": values, "errors": {}, "sent": true }),
        ),
        Err(e) => refused(&cx, "auth/forgot.html", json!({ "form": values }), e),
    }
}

pub async fn reset_form(cx: Ctx, Query(q): Query<NextQuery>) -> Response {
    cx.page(
        "auth/reset.html",
        json!({ "form": { "token": q.token }, "errors": {} }),
    )
}

pub async fn reset(cx: Ctx, f: Posted) -> Response {
    let values = json!({ "token": f.get("token") });
    if f.get("newPassword") != f.get("confirm") {
        let mut errors = FormErrors::new();
        errors.add(
            "confirm",
            cx.text("errors.PASSWORDS_DIFFER").unwrap_or_default(),
        );
        return rerender(&cx, "auth/reset.html", json!({ "form": values }), &errors);
    }
    match accounts::reset_password(&cx.st.db, f.get("token"), f.get("newPassword")).await {
        Ok(()) => cx.redirect("/console/login?reset=1"),
        Err(e) => refused(&cx, "auth/reset.html", json!({ "form": values }), e),
    }
}

/// Unknown console addresses.
pub async fn not_found(cx: Ctx) -> Response {
    cx.error_page(StatusCode::NOT_FOUND, "not_found")
        .into_response()
}
