//! Runtime configuration, from flags and environment (flags beat environment); see
//! ARCHITECTURE.md "Running".

use std::{net::SocketAddr, path::PathBuf};

/// Default embedded database.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/choso.db?mode=rwc";
pub const DEFAULT_ADDR: &str = "127.0.0.1:8080";
pub const DEFAULT_MAIL_FROM: &str = "no-reply@choso.local";
const MB: usize = 1024 * 1024;

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
/// `CHOSO_HEADER_TIMEOUT_SECS`, `CHOSO_REQUEST_TIMEOUT_SECS`) and the memory the public caches
/// may hold (`CHOSO_PAGE_CACHE_MB`, `CHOSO_GRAPHQL_CACHE_MB`).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most connections open at once; more wait in the kernel's backlog.
    pub max_connections: usize,
    /// Time a connection has to send a request's headers, idle keep-alive time included.
    pub header_timeout: std::time::Duration,
    /// Time a request (body read included) has to be answered; then 408.
    pub request_timeout: std::time::Duration,
    /// Bytes of rendered storefront pages kept (0: none), and a quarter more of search pages.
    pub page_cache_bytes: usize,
    /// Bytes of public GraphQL requests and answers kept (0: none).
    pub graphql_cache_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 20_000,
            header_timeout: std::time::Duration::from_secs(30),
            request_timeout: std::time::Duration::from_secs(30),
            page_cache_bytes: 8 * MB,
            graphql_cache_bytes: 16 * MB,
        }
    }
}

impl Limits {
    /// The defaults, overridden by the environment; a malformed value is an error.
    pub fn from_env() -> Result<Limits, String> {
        Limits::from_vars(|name| std::env::var(name).ok())
    }

    /// The defaults, overridden by the variables `get` finds.
    fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<Limits, String> {
        let number = |name: &str, min: u64| -> Result<Option<u64>, String> {
            match get(name) {
                None => Ok(None),
                Some(v) => match v.trim().parse::<u64>() {
                    Ok(n) if n >= min => Ok(Some(n)),
                    _ => Err(format!(
                        "{name} must be a whole number of at least {min}, not {v:?}"
                    )),
                },
            }
        };
        let var = |name: &str| number(name, 1);
        let megabytes = |name: &str| -> Result<Option<usize>, String> {
            match number(name, 0)? {
                Some(n) if n > 4096 => {
                    Err(format!("{name} is in megabytes: at most 4096, not {n}"))
                }
                n => Ok(n.map(|n| usize::try_from(n).unwrap_or(usize::MAX) * MB)),
            }
        };
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
        if let Some(n) = megabytes("CHOSO_PAGE_CACHE_MB")? {
            l.page_cache_bytes = n;
        }
        if let Some(n) = megabytes("CHOSO_GRAPHQL_CACHE_MB")? {
            l.graphql_cache_bytes = n;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(vars: &[(&str, &str)]) -> Result<Limits, String> {
        Limits::from_vars(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn cache_budgets_from_the_environment() {
        let d = limits(&[]).expect("defaults");
        assert_eq!(d.page_cache_bytes, 8 * MB);
        assert_eq!(d.graphql_cache_bytes, 16 * MB);
        let l = limits(&[
            ("CHOSO_PAGE_CACHE_MB", "64"),
            ("CHOSO_GRAPHQL_CACHE_MB", " 0 "),
        ])
        .expect("valid");
        assert_eq!(l.page_cache_bytes, 64 * MB);
        assert_eq!(l.graphql_cache_bytes, 0);
        let e = limits(&[("CHOSO_PAGE_CACHE_MB", "8MB")]).expect_err("not a number");
        assert!(e.contains("CHOSO_PAGE_CACHE_MB"), "{e}");
        let e = limits(&[("CHOSO_GRAPHQL_CACHE_MB", "5000")]).expect_err("too large");
        assert!(e.contains("megabytes"), "{e}");
        let e = limits(&[("CHOSO_MAX_CONNECTIONS", "0")]).expect_err("zero connections");
        assert!(e.contains("at least 1"), "{e}");
    }
}
