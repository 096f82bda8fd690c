//! The HTTP server: router assembly, middleware (request id, tracing, metrics, body limit,
//! timeout), start-up (connect, migrate, seed) and graceful shutdown.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    Router,
    extract::{DefaultBodyLimit, Request},
    http::{HeaderName, StatusCode},
    middleware,
    routing::{get, post},
};
use choso_graphql::ChosoSchema;
use choso_services::Db;
use tokio::{sync::oneshot, task::JoinHandle};
use tower_http::{
    normalize_path::{NormalizePath, NormalizePathLayer},
    request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer},
    timeout::TimeoutLayer,
    trace::TraceLayer,
};

use crate::{BoxError, config::Config, graphql_http, health, metrics::Metrics, uploads_http};

/// What every handler can reach: one shared [`Shared`] (a clone is one reference count,
/// where cloning each field's own `Arc`s cost ~15 % of a cached page's CPU in `perf`).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The server's state, behind [`AppState`].
pub struct Shared {
    pub db: Db,
    pub schema: ChosoSchema,
    pub config: Arc<Config>,
    pub metrics: Metrics,
    /// The public base address, e.g. `http://127.0.0.1:8080`.
    pub base_url: Arc<str>,
    /// Card payments, when configured.
    pub stripe: Option<Arc<choso_services::stripe::StripeConfig>>,
    /// Signs storefront cookies and confirmation links.
    pub secret: Arc<str>,
    pub themes: crate::storefront::themes::Themes,
    /// Public GraphQL answers, kept while the shops they read are unchanged.
    pub graphql_cache: Arc<crate::graphql_cache::GraphqlCache>,
    /// Rendered storefront pages, kept while their shop is unchanged.
    pub pages: Arc<crate::storefront::page_cache::PageCache>,
    /// Each shop's GraphQL budget (shared with the schema).
    pub budget: Arc<choso_graphql::budget::Budget>,
}

impl AppState {
    /// Everything a request can reach, over an already migrated database whose public
    /// address is `base_url` (no listener, no background workers: [`Server`] adds those).
    pub async fn new(config: Config, db: Db, base_url: &str) -> Result<AppState, BoxError> {
        let stripe = config.stripe.clone().map(Arc::new);
        let secret = choso_services::settings::secret(&db).await?;
        let budget = choso_graphql::budget::Budget::new(config.shop_budget);
        let limits = config.limits;
        Ok(AppState(Arc::new(Shared {
            budget: budget.clone(),
            stripe: stripe.clone(),
            schema: choso_graphql::build_schema(db.clone(), base_url, &secret, stripe, budget),
            secret: secret.into(),
            themes: crate::storefront::themes::Themes::from_env(),
            graphql_cache: Arc::new(crate::graphql_cache::GraphqlCache::new(
                limits.graphql_cache_bytes,
            )),
            pages: Arc::new(crate::storefront::page_cache::PageCache::new(
                limits.page_cache_bytes,
            )),
            db,
            config: Arc::new(config),
            metrics: Metrics::default(),
            base_url: base_url.into(),
        })))
    }
}

/// What [`service`] builds, named so that callers (the fuzz checks) need not spell out the
/// layers, nor depend on the crates that make them.
pub type Service = NormalizePath<Router>;

/// The service the listener serves: the [`router`] behind trailing-slash trimming
/// (`/s/{slug}/` and `/s/{slug}` are the same page). Requests must carry a
/// `ConnectInfo<SocketAddr>` extension, as the listener's do.
pub fn service(state: AppState) -> Service {
    tower::Layer::layer(&NormalizePathLayer::trim_trailing_slash(), router(state))
}

static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

#[derive(Clone, Default)]
struct Ulids;

impl MakeRequestId for Ulids {
    fn make_request_id<B>(&mut self, _req: &axum::http::Request<B>) -> Option<RequestId> {
        choso_services::ids::new_id()
            .parse()
            .ok()
            .map(RequestId::new)
    }
}

/// The whole router.
pub fn router(state: AppState) -> Router {
    let body_limit = state.config.max_body_bytes;
    let request_timeout = state.config.limits.request_timeout;
    let routes = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route(
            "/graphql",
            get(graphql_http::graphiql).post(graphql_http::post),
        )
        .route("/graphql/ws", get(graphql_http::ws))
        .route("/graphql/assets/{file}", get(graphql_http::graphiql_asset))
        .route(
            "/api/shops/{shop}/uploads",
            post(uploads_http::upload).layer(DefaultBodyLimit::max(
                choso_services::uploads::MAX_UPLOAD_BYTES + 1,
            )),
        )
        .route("/uploads/{shop}/{file}", get(uploads_http::serve))
        .route("/webhooks/stripe", post(crate::webhooks_stripe::stripe))
        .route("/webhooks/bank/{shop}", post(crate::webhooks_bank::bank));
    let routes = crate::console::mount(routes);
    let routes = crate::storefront::mount(routes, state.clone())
        .route_layer(middleware::from_fn_with_state(
            state.metrics.clone(),
            crate::metrics::track,
        ))
        .fallback(crate::storefront::host_dispatch)
        .with_state(state);
    routes
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, request_timeout))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request| {
                let id = req
                    .headers()
                    .get(&REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!("request", method = %req.method(), uri = %req.uri().path(), request_id = %id)
            }),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID.clone()))
        .layer(SetRequestIdLayer::new(REQUEST_ID.clone(), Ulids))
}

/// A running server.
pub struct Server {
    pub addr: SocketAddr,
    pub base_url: String,
    pub db: Db,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), std::io::Error>>,
    /// Background workers: asked to stop after the last request, then awaited.
    workers: Vec<JoinHandle<()>>,
    stop_workers: tokio::sync::watch::Sender<bool>,
    /// Listeners (no state of their own): aborted.
    listeners: Vec<JoinHandle<()>>,
}

impl Server {
    /// Connects to the database, migrates, seeds the demo shop if asked, binds and serves.
    pub async fn start(config: Config) -> Result<Server, BoxError> {
        let db = Db::connect_and_migrate(&config.database_url).await?;
        Self::start_with_db(config, db).await
    }

    /// Serves an already migrated database.
    pub async fn start_with_db(config: Config, db: Db) -> Result<Server, BoxError> {
        let listener = crate::listen::bind(config.addr)?;
        let addr = listener.local_addr()?;
        let base_url = config.public_base(addr);
        if config.demo {
            crate::demo::seed_if_empty(&db).await?;
        }
        let state = AppState::new(config, db.clone(), &base_url).await?;
        let feed_listener = db.start_feed_listener();
        let mut mail = choso_services::notify::MailConfig::new(
            state.config.smtp_url.as_deref(),
            &state.config.mail_from,
            &state.config.data_dir,
            &base_url,
        )?;
        mail.retry_base_ms = state.config.mail_retry_base_ms;
        let (stop_workers, workers_stop) = tokio::sync::watch::channel(false);
        let workers = crate::workers::spawn(
            db.clone(),
            state.stripe.clone(),
            mail,
            state.config.mail_poll,
            workers_stop,
        );
        let limits = crate::listen::ConnLimits {
            max_connections: state.config.limits.max_connections,
            header_timeout: state.config.limits.header_timeout,
        };
        let app = service(state);
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            crate::listen::serve(listener, app, limits, async move {
                let _ = rx.await;
            })
            .await
        });
        Ok(Server {
            addr,
            base_url,
            db,
            shutdown: Some(tx),
            task,
            workers,
            stop_workers,
            listeners: feed_listener.into_iter().collect(),
        })
    }

    /// Stops accepting, lets in-flight requests finish, then closes the database.
    pub async fn stop(mut self) -> Result<(), BoxError> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match tokio::time::timeout(Duration::from_secs(30), &mut self.task).await {
            Ok(joined) => joined??,
            Err(_) => {
                tracing::warn!("in-flight requests did not finish in 30 s; stopping anyway");
                self.task.abort();
            }
        }
        let _ = self.stop_workers.send(true);
        for w in self.workers.drain(..) {
            let abort = w.abort_handle();
            if tokio::time::timeout(Duration::from_secs(30), w)
                .await
                .is_err()
            {
                tracing::warn!("a worker did not stop in 30 s");
                abort.abort();
            }
        }
        for l in &self.listeners {
            l.abort();
        }
        self.db.close().await;
        Ok(())
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
