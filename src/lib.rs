//! The `choso` application: configuration, the command line, the HTTP server that assembles
//! the GraphQL API, the storefronts and the console over `choso-services`, and the background
//! workers. `main.rs` only parses the command line and calls into here; the integration tests
//! start the same [`server::Server`] in-process.

pub mod bounded_map;
pub mod cli;
pub mod config;
pub mod console;
pub mod demo;
pub mod graphql_cache;
pub mod graphql_http;
pub mod health;
pub mod listen;
pub mod metrics;
pub mod server;
pub mod storefront;
pub mod uploads_http;
pub mod webhooks_bank;
pub mod webhooks_stripe;
pub mod workers;

/// The app's error for start-up and commands (request handling maps service errors itself).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
