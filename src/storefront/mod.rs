//! The shops' storefront websites: server-rendered pages from the themes in `themes/`, at
//! `/s/{slug}/…` on any host, and at `{slug}.{CHOSO_BASE_DOMAIN}` or a shop's own domain
//! (the Host header picks the shop). Unpublished shops answer 404 except to their members,
//! who preview them while signed in (the `choso_session` cookie).

pub mod messages;
pub mod page_cache;
pub mod pages;
pub mod security;
pub mod themes;

use axum::{
    Router,
    extract::{Path, Request, State},
    http::{StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use std::sync::Arc;

use choso_services::{accounts, shop_cache, shops, shops::Shop};
use tower::ServiceExt;

use crate::server::AppState;

/// The shop a storefront request is for, and how its links start.
#[derive(Clone)]
pub struct ShopCtx {
    pub shop: Arc<Shop>,
    /// `/s/{slug}` on the platform's host, `""` on the shop's own host.
    pub base: String,
    /// `?theme=` asked by a signed-in member (the console's theme preview): the page is
    /// rendered in that theme and may be framed by the platform's own pages.
    pub preview_theme: Option<String>,
}

/// The routes of one shop's site, relative to its root.
pub fn shop_routes() -> Router<AppState> {
    Router::new()
        .route("/", get(pages::home))
        .route("/collections/{handle}", get(pages::collection))
        .route("/products/{handle}", get(pages::product))
        .route("/search", get(pages::search))
        .route("/cart", get(pages::cart))
        .route("/cart/add", post(pages::cart_add))
        .route("/cart/update", post(pages::cart_update))
        .route(
            "/checkout",
            get(pages::checkout).post(pages::checkout_submit),
        )
        .route("/orders/{number}", get(pages::order))
        .route("/track", get(pages::track))
        .route("/sitemap.xml", get(pages::sitemap))
        .route("/robots.txt", get(pages::robots))
        .fallback(pages::not_found)
}

/// Mounts the storefront: `/s/{slug}/…`, theme assets, and the host-based dispatch.
pub fn mount(router: Router<AppState>, state: AppState) -> Router<AppState> {
    router
        .nest(
            "/s/{slug}",
            shop_routes().layer(middleware::from_fn_with_state(state, by_slug)),
        )
        .route("/static/themes/{theme}/{file}", get(asset))
}

/// Whether the request's signed-in user (console session cookie) is a member of the shop.
async fn is_member(state: &AppState, headers: &axum::http::HeaderMap, shop: &Shop) -> bool {
    let Some(token) = security::cookie(headers, "choso_session") else {
        return false;
    };
    match accounts::authenticate(&state.db, &token).await {
        Ok(Some(u)) => {
            u.is_admin()
                || matches!(
                    shops::member_role(&state.db, &shop.id, &u.id).await,
                    Ok(Some(_))
                )
        }
        _ => false,
    }
}

async fn by_slug(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let slug = req
        .extensions()
        .get::<axum::extract::OriginalUri>()
        .and_then(|u| u.0.path().strip_prefix("/s/"))
        .and_then(|r| r.split('/').next())
        .unwrap_or("")
        .to_string();
    let asked_theme = req
        .uri()
        .query()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("theme=")))
        .filter(|t| shops::THEMES.contains(t))
        .map(str::to_string);
    match shop_cache::by_slug(&state.db, &slug).await {
        Ok(Some(shop)) if shop.published || is_member(&state, req.headers(), &shop).await => {
            let preview_theme = match asked_theme {
                Some(t) if is_member(&state, req.headers(), &shop).await => Some(t),
                _ => None,
            };
            req.extensions_mut().insert(ShopCtx {
                base: format!("/s/{}", shop.slug),
                shop,
                preview_theme,
            });
            next.run(req).await
        }
        Ok(_) => pages::plain_not_found(&state),
        Err(e) => crate::uploads_http::service_error(e),
    }
}

/// The shop a Host header names: `{slug}.{base domain}` or a registered custom domain.
pub async fn shop_for_host(state: &AppState, host: &str) -> Option<Arc<Shop>> {
    let host = host
        .split(':')
        .next()
        .unwrap_or("")
        .trim_end_matches('.')
        .to_lowercase();
    if let Some(base) = state.config.base_domain.as_deref().map(str::to_lowercase)
        && let Some(slug) = host.strip_suffix(&format!(".{base}"))
        && !slug.contains('.')
    {
        return shop_cache::by_slug(&state.db, slug).await.ok().flatten();
    }
    let id = shops::shop_for_domain(&state.db, &host)
        .await
        .ok()
        .flatten()?;
    shops::get(&state.db, &id)
        .await
        .ok()
        .flatten()
        .map(Arc::new)
}

/// Requests that match no platform route: served by a shop when the Host names one.
pub async fn host_dispatch(State(state): State<AppState>, mut req: Request) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("")
        .to_string();
    let headers = req.headers().clone();
    match shop_for_host(&state, &host).await {
        Some(shop) if shop.published || is_member(&state, &headers, &shop).await => {
            req.extensions_mut().insert(ShopCtx {
                base: String::new(),
                shop,
                preview_theme: None,
            });
            match shop_routes().with_state(state).oneshot(req).await {
                Ok(r) => r,
                Err(never) => match never {},
            }
        }
        _ => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

async fn asset(
    State(state): State<AppState>,
    Path((theme, file)): Path<(String, String)>,
) -> Response {
    let Some(t) = state.themes.get(&theme) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match t.asset(&file) {
        Some(a) => a.immutable_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
