//! Per-request context: who is calling (from the bearer token), from where.

use async_graphql::Context;
use choso_services::{Db, Error, accounts::User};

/// The caller of one request, put into the request's data by the HTTP layer.
#[derive(Debug, Clone, Default)]
pub struct Viewer {
    pub user: Option<User>,
    /// The bearer token of this request (for logout).
    pub token: Option<String>,
    /// The client's address (for login throttling).
    pub client_ip: Option<String>,
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
