//! Stripe webhooks: `POST /webhooks/stripe` with the raw event body, signed by Stripe in
//! `Stripe-Signature` with the platform's endpoint secret (`CHOSO_STRIPE_WEBHOOK_SECRET`).
//! See `choso_services::stripe::handle_webhook` for the events handled and how each is applied
//! once.
//!
//! Answers: 200 `{"received":true}` for processed, replayed and ignored events (Stripe stops
//! retrying); 400 for a bad signature, a stale timestamp or an unreadable event; 503 when card
//! payments are not configured; 5xx for faults, so that Stripe retries later.

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use choso_services::{Error, stripe};

use crate::{server::AppState, uploads_http::service_error};

pub async fn stripe(State(state): State<AppState>, headers: HeaderMap, body: String) -> Response {
    let Some(cfg) = state.stripe.as_deref() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({ "error": { "code": "UNAVAILABLE", "message": "Card payments are not configured." } })),
        )
            .into_response();
    };
    let sig = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    match stripe::handle_webhook(&state.db, cfg, &body, sig).await {
        Ok(outcome) => {
            tracing::debug!(?outcome, "Stripe webhook");
            (
                StatusCode::OK,
                Json(serde_json::json!({ "received": true })),
            )
                .into_response()
        }
        Err(Error::Invalid(errs)) if errs.iter().any(|u| u.code == "INVALID_SIGNATURE") => {
            let message = errs.first().map(|u| u.message.clone()).unwrap_or_default();
            (
                StatusCode::BAD_REQUEST,
                Json(serde_json::json!({ "error": { "code": "INVALID_SIGNATURE", "message": message } })),
            )
                .into_response()
        }
        Err(e) => service_error(e),
    }
}
