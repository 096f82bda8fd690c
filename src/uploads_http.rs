//! Image uploads over HTTP: `POST /api/shops/{shopId}/uploads` (bearer token, the image as
//! the raw body) answers `{ "url": … }`; `GET /uploads/{shop}/{file}` serves stored images
//! with long cache headers (stored files never change).

use axum::{
    Json,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use choso_services::{Error, MemberRole, ShopId, accounts, shops, uploads};

use crate::server::AppState;

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(serde_json::json!({ "error": { "code": code, "message": message } })),
    )
        .into_response()
}

/// One mapping from service errors to HTTP for the JSON endpoints.
pub fn service_error(e: Error) -> Response {
    match e {
        Error::Invalid(errs) => {
            let first = errs.into_iter().next();
            let (code, msg) = first.map(|u| (u.code, u.message)).unwrap_or_default();
            let status = match code.as_str() {
                "FILE_TOO_LARGE" => StatusCode::PAYLOAD_TOO_LARGE,
                "UNSUPPORTED_TYPE" => StatusCode::UNSUPPORTED_MEDIA_TYPE,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            error(status, &code, &msg)
        }
        Error::Unauthenticated => error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "Sign in first.",
        ),
        Error::Forbidden => error(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            "You are not allowed to do this.",
        ),
        Error::NotFound(what) => error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            &format!("{what} not found"),
        ),
        Error::Unavailable => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "UNAVAILABLE",
            "Try again shortly.",
        ),
        e => {
            tracing::error!(error = %e, "request failed");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL",
                "Internal error: it has been logged.",
            )
        }
    }
}

pub async fn upload(
    State(state): State<AppState>,
    Path(shop): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let result = async {
        let user = match token {
            Some(t) => accounts::authenticate(&state.db, t).await?,
            None => None,
        }
        .ok_or(Error::Unauthenticated)?;
        let scope =
            shops::authorize(&state.db, &user, &ShopId::new(shop), MemberRole::Staff).await?;
        uploads::store(&state.db, &scope, &state.config.data_dir, &body).await
    }
    .await;
    match result {
        Ok(u) => (StatusCode::CREATED, Json(u)).into_response(),
        Err(e) => service_error(e),
    }
}

pub async fn serve(
    State(state): State<AppState>,
    Path((shop, file)): Path<(String, String)>,
) -> Response {
    let Some((path, content_type)) = uploads::locate(&state.config.data_dir, &shop, &file) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match tokio::fs::read(&path).await {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, content_type),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            bytes,
        )
            .into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}
