//! Per-request context: who is calling (from the bearer token), from where.

use async_graphql::Context;
use choso_services::{Db, Error, accounts::User, versions::Version};

/// The caller of one request, put into the request's data by the HTTP layer.
#[derive(Debug, Clone, Default)]
pub struct Viewer {
    pub user: Option<User>,
    /// The bearer token of this request (for logout).
    pub token: Option<String>,
    /// The client's address (for login throttling).
    pub client_ip: Option<String>,
}

/// The shops whose data a request read, with their content versions taken just before it
/// read them; recorded by the resolvers that reach a shop from the root (`shop(slug:)`), so
/// the HTTP layer can cache a public answer against those versions (a write that lands while
/// the answer is computed moves the version, and the answer is never served).
#[derive(Debug, Clone, Default)]
pub struct Touched(std::sync::Arc<std::sync::Mutex<Vec<(String, Version)>>>);

impl Touched {
    pub fn shops(&self) -> Vec<(String, Version)> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

/// Records that the request is about to read this shop's data (no-op outside the HTTP layer).
pub fn touched(ctx: &Context<'_>, shop_id: &str) {
    if let Some(t) = ctx.data_opt::<Touched>()
        && let Ok(mut v) = t.0.lock()
        && !v.iter().any(|(s, _)| s == shop_id)
    {
        v.push((shop_id.to_string(), db(ctx).versions().current(shop_id)));
    }
}

/// The database handle.
pub fn db<'a>(ctx: &Context<'a>) -> &'a Db {
    ctx.data_unchecked::<Db>()
}

/// The viewer (anonymous when the HTTP layer put none).
pub fn viewer<'a>(ctx: &Context<'a>) -> &'a Viewer {
    static ANON: std::sync::OnceLock<Viewer> = std::sync::OnceLock::new();
    ctx.data_opt::<Viewer>()
        .unwrap_or_else(|| ANON.get_or_init(Viewer::default))
}

/// The signed-in user, or `UNAUTHENTICATED`.
pub fn require_user<'a>(ctx: &Context<'a>) -> Result<&'a User, Error> {
    viewer(ctx).user.as_ref().ok_or(Error::Unauthenticated)
}

/// The public base address (no trailing slash), for links such as `Shop.url`.
#[derive(Debug, Clone)]
pub struct BaseUrl(pub String);

pub fn base_url<'a>(ctx: &Context<'a>) -> &'a str {
    ctx.data_opt::<BaseUrl>()
        .map(|b| b.0.as_str())
        .unwrap_or("")
}

/// The platform secret (signs confirmation links).
#[derive(Debug, Clone)]
pub struct Secret(pub String);
