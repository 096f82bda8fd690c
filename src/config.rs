//! Runtime configuration, from flags and environment (flags beat environment); see
//! ARCHITECTURE.md "Running".

use std::{net::SocketAddr, path::PathBuf};

/// Default embedded database.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/choso.db?mode=rwc";
pub const DEFAULT_ADDR: &str = "127.0.0.1:8080";
pub const DEFAULT_MAIL_FROM: &str = "no-reply@choso.local";

#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen (port 0 picks a free one).
    pub addr: SocketAddr,
    pub database_url: String,
    /// The public base address (for links in emails, storefront URLs); defaults to
    /// `http://{addr}`.
    pub public_url: Option<String>,
    /// `{slug}.{base_domain}` reaches a shop's storefront.
    pub base_domain: Option<String>,
    /// Folder for uploads and (without SMTP) outgoing mail.
    pub data_dir: PathBuf,
    /// Seed a demo shop when the database has none.
    pub demo: bool,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Card payments (None: card payments are off platform-wide).
    pub stripe: Option<choso_services::stripe::StripeConfig>,
    /// `CHOSO_SMTP_URL`; None writes emails as `.eml` files under `{data_dir}/mail/`.
    pub smtp_url: Option<String>,
    /// `CHOSO_MAIL_FROM`: the sending address.
    pub mail_from: String,
    /// How often the email worker looks for due messages.
    pub mail_poll: std::time::Duration,
    /// First email retry delay in ms (doubles per attempt).
    pub mail_retry_base_ms: i64,
    /// Each shop's GraphQL budget (`CHOSO_SHOP_BUDGET`, `CHOSO_SHOP_BUDGET_PER_SEC`).
    pub shop_budget: choso_graphql::budget::BudgetConfig,
    /// Connection and request limits.
    pub limits: Limits,
}

/// Limits against slow clients and floods (`CHOSO_MAX_CONNECTIONS`,
/// `CHOSO_HEADER_TIMEOUT_SECS`, `CHOSO_REQUEST_TIMEOUT_SECS`).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most connections open at once; more wait in the kernel's backlog.
    pub max_connections: usize,
    /// Time a connection has to send a request's headers, idle keep-alive time included.
    pub header_timeout: std::time::Duration,
    /// Time a request (body read included) has to be answered; then 408.
    pub request_timeout: std::time::Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 20_000,
            header_timeout: std::time::Duration::from_secs(30),
            request_timeout: std::time::Duration::from_secs(30),
        }
    }
}

impl Limits {
    /// The defaults, overridden by the environment; a malformed value is an error.
    pub fn from_env() -> Result<Limits, String> {
        fn var(name: &str) -> Result<Option<u64>, String> {
            match std::env::var(name) {
                Err(_) => Ok(None),
                Ok(v) => match v.trim().parse::<u64>() {
                    Ok(n) if n > 0 => Ok(Some(n)),
                    _ => Err(format!("{name} must be a whole number above 0, not {v:?}")),
                },
            }
        }
        let mut l = Limits::default();
        if let Some(n) = var("CHOSO_MAX_CONNECTIONS")? {
            l.max_connections = usize::try_from(n).unwrap_or(usize::MAX);
        }
        if let Some(n) = var("CHOSO_HEADER_TIMEOUT_SECS")? {
            l.header_timeout = std::time::Duration::from_secs(n);
        }
        if let Some(n) = var("CHOSO_REQUEST_TIMEOUT_SECS")? {
            l.request_timeout = std::time::Duration::from_secs(n);
        }
        Ok(l)
    }
}

impl Config {
    /// A configuration for tests and embedding: the given database, a random local port.
    pub fn for_database(database_url: impl Into<String>, data_dir: PathBuf) -> Config {
        Config {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            database_url: database_url.into(),
            public_url: None,
            base_domain: None,
            data_dir,
            demo: false,
            max_body_bytes: 1024 * 1024,
            stripe: None,
            smtp_url: None,
            mail_from: DEFAULT_MAIL_FROM.to_string(),
            mail_poll: std::time::Duration::from_millis(500),
            mail_retry_base_ms: 5_000,
            shop_budget: Default::default(),
            limits: Limits::default(),
        }
    }

    /// The public base address without a trailing slash.
    pub fn public_base(&self, bound: SocketAddr) -> String {
        match &self.public_url {
            Some(u) => u.trim_end_matches('/').to_string(),
            None => format!("http://{bound}"),
        }
    }
}
