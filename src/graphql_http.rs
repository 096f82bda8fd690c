//! GraphQL over HTTP: `POST /graphql` (JSON, single or batch), GraphiQL on `GET /graphql`
//! with its assets served from the binary (it works with no internet), and subscriptions over
//! WebSocket at `/graphql/ws` (graphql-transport-ws and graphql-ws), authenticated by the
//! `Authorization` entry of the connection payload.

use std::net::SocketAddr;

use async_graphql::{BatchRequest, BatchResponse, Data, http::ALL_WEBSOCKET_PROTOCOLS};
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::{
    Json,
    body::Bytes,
    extract::{ConnectInfo, Path, State, WebSocketUpgrade},
    http::{HeaderMap, StatusCode, header},
    response::{Html, IntoResponse, Response},
};
use choso_graphql::{Touched, Viewer};
use choso_services::accounts;
use include_dir::{Dir, include_dir};

use crate::server::AppState;

static GRAPHIQL: Dir = include_dir!("$CARGO_MANIFEST_DIR/src/assets/graphiql");

/// The bearer token of an `Authorization` header value.
fn bearer(value: &str) -> Option<String> {
    let v = value.trim();
    let token = v
        .strip_prefix("Bearer ")
        .or_else(|| v.strip_prefix("bearer "))?;
    Some(token.trim().to_string())
}

/// Who is calling: an unknown, expired or revoked token is treated as no token.
pub async fn viewer_for(
    state: &AppState,
    token: Option<String>,
    client_ip: Option<String>,
) -> Viewer {
    let user = match &token {
        Some(t) => match accounts::authenticate(&state.db, t).await {
            Ok(u) => u,
            Err(e) => {
                tracing::warn!(error = %e, "token check failed");
                None
            }
        },
        None => None,
    };
    Viewer {
        user,
        token,
        client_ip,
    }
}

fn error_body(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(serde_json::json!({ "errors": [{ "message": message, "extensions": { "code": code } }] })),
    )
        .into_response()
}

pub async fn post(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer);
    // Anonymous catalog reads may be answered from the cache (see graphql_cache).
    let cache = &state.graphql_cache;
    if token.is_none()
        && let Some(hit) = cache.get(state.db.versions(), &body)
    {
        let left = hit
            .shops
            .iter()
            .map(|s| state.budget.left(s))
            .fold(f64::INFINITY, f64::min);
        let mut cost =
            serde_json::json!({ "requested": hit.requested, "actual": 0, "cached": true });
        if left.is_finite() {
            cost["budgetLeft"] = serde_json::json!(left.floor() as i64);
        }
        return json_answer(hit.with_extensions(&serde_json::json!({ "cost": cost }).to_string()));
    }
    let request: BatchRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error_body(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                &format!("The body must be a GraphQL request in JSON: {e}"),
            );
        }
    };
    let storable = token.is_none()
        && match &request {
            BatchRequest::Single(r) => cache.cacheable(&r.query, r.operation_name.as_deref()),
            BatchRequest::Batch(_) => false,
        };
    let viewer = viewer_for(&state, token, Some(addr.ip().to_string())).await;
    let touched = Touched::default();
    let response = state
        .schema
        .execute_batch(request.data(viewer).data(touched.clone()))
        .await;
    let ok = match &response {
        BatchResponse::Single(r) => r.errors.is_empty(),
        BatchResponse::Batch(_) => false,
    };
    if storable
        && ok
        && let BatchResponse::Single(r) = &response
    {
        // Stored without its extensions: the cost of a cached answer is its own.
        let requested = r
            .extensions
            .get("cost")
            .and_then(|c| match c {
                async_graphql::Value::Object(o) => o.get("requested"),
                _ => None,
            })
            .and_then(|v| match v {
                async_graphql::Value::Number(n) => n.as_u64(),
                _ => None,
            })
            .unwrap_or(0);
        let mut bare = async_graphql::Response::new(r.data.clone());
        bare.errors = Vec::new();
        if let Ok(b) = serde_json::to_vec(&bare) {
            cache.put(body, Bytes::from(b), touched.shops(), requested);
        }
    }
    match serde_json::to_vec(&response) {
        Ok(bytes) => json_answer(Bytes::from(bytes)),
        Err(e) => error_body(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            &format!("The answer could not be encoded: {e}"),
        ),
    }
}

/// A JSON answer that no shared cache may keep (answers can depend on the caller).
fn json_answer(bytes: Bytes) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        bytes,
    )
        .into_response()
}

pub async fn graphiql() -> Response {
    match GRAPHIQL
        .get_file("index.html")
        .and_then(|f| f.contents_utf8())
    {
        Some(html) => Html(html).into_response(),
        None => (StatusCode::NOT_FOUND, "GraphiQL is not bundled").into_response(),
    }
}

pub async fn graphiql_asset(Path(file): Path<String>) -> Response {
    let Some(f) = GRAPHIQL.get_file(&file) else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    let mime = match file.rsplit('.').next() {
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("html") => "text/html; charset=utf-8",
        _ => "application/octet-stream",
    };
    (
        [
            (header::CONTENT_TYPE, mime),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        f.contents(),
    )
        .into_response()
}

pub async fn ws(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    let schema = state.schema.clone();
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |stream| {
            GraphQLWebSocket::new(stream, schema, protocol)
                .on_connection_init(move |payload| async move {
                    let auth = ["Authorization", "authorization"]
                        .iter()
                        .find_map(|k| payload.get(*k).and_then(|v| v.as_str()).map(str::to_string));
                    let token = auth.as_deref().and_then(bearer);
                    let viewer = viewer_for(&state, token, Some(addr.ip().to_string())).await;
                    let mut data = Data::default();
                    data.insert(viewer);
                    Ok(data)
                })
                .serve()
        })
}
