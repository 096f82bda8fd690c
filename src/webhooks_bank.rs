//! Bank-transfer notifications: `POST /webhooks/bank/{shopId}` with a JSON body signed by the
//! shop's secret (`X-Choso-Signature: sha256=<hex HMAC-SHA256 of the body>`). See
//! `choso_services::reconcile`.

use axum::{
    Json,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use choso_services::{Error, ShopId, reconcile};

use crate::{server::AppState, uploads_http::service_error};

pub async fn bank(
    State(state): State<AppState>,
    Path(shop): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let sig = headers
        .get("x-choso-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    match reconcile::handle(&state.db, &ShopId::new(shop), &body, sig).await {
        Ok(outcome) => (StatusCode::OK, Json(outcome)).into_response(),
        Err(Error::Unauthenticated) => (
            StatusCode::UNAUTHORIZED,
            Json(serde_json::json!({ "error": { "code": "INVALID_SIGNATURE", "message": "The signature does not match." } })),
        )
            .into_response(),
        Err(Error::Invalid(e)) => (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({ "error": { "code": e.first().map(|u| u.code.clone()).unwrap_or_default(), "message": e.first().map(|u| u.message.clone()).unwrap_or_default() } })),
        )
            .into_response(),
        Err(e) => service_error(e),
    }
}
