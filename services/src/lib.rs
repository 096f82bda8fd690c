//! choso-services: the domain of Choso and its storage.
//!
//! No HTTP and no GraphQL live here: the web handlers in the app and the GraphQL layer call
//! these functions. One module per bounded area; `db` holds the portable SQL plumbing shared
//! by all of them, `error` the one error type of the crate.

pub mod accounts;
pub mod banks;
pub mod carts;
pub mod catalog;
pub mod checkout;
pub mod csv;
pub mod db;
pub mod error;
pub mod feed;
pub mod for_sale_cache;
pub mod ids;
pub mod markdown;
pub mod notify;
pub mod orders;
pub mod provinces;
pub mod readers;
pub mod reconcile;
pub mod settings;
pub mod shop_cache;
pub mod shops;
pub mod sql_batch;
pub mod sqlite_direct;
pub mod stripe;
pub mod support;
pub mod tenancy;
pub mod text;
pub mod uploads;
pub mod versions;
pub mod vietqr;

pub use db::{Backend, Db};
pub use error::{Error, Result, UserError};
pub use tenancy::{MemberRole, ShopId, ShopScope};
