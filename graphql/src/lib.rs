//! choso-graphql: the async-graphql schema of Choso, a thin layer over `choso-services`.
//!
//! Types mirror `shared/contract.graphql`; resolvers parse arguments, call one service
//! function and map its answer. Errors are mapped once, in [`error`]: user mistakes become
//! `userErrors` entries in mutation payloads, access errors top-level errors with
//! `extensions.code` `UNAUTHENTICATED`/`FORBIDDEN`, faults a generic message (logged with the
//! request id).

pub mod accounts;
pub mod budget;
pub mod catalog;
pub mod context;
pub mod cost;
pub mod error;
pub mod ids;
pub mod loaders;
pub mod orders;
pub mod scalars;
pub mod shops;
pub mod support;

use async_graphql::{MergedObject, Schema, dataloader::DataLoader};
use choso_services::Db;

pub use context::{Touched, Viewer};

#[derive(MergedObject, Default)]
pub struct Query(
    accounts::AccountQuery,
    shops::ShopQuery,
    orders::OrderQuery,
    support::SupportQuery,
);

#[derive(MergedObject, Default)]
pub struct Mutation(
    accounts::AccountMutation,
    shops::ShopMutation,
    catalog::CatalogMutation,
    orders::OrderMutation,
    support::SupportMutation,
);

pub type ChosoSchema = Schema<Query, Mutation, orders::Subscription>;

/// Limits that keep one request from doing unbounded work.
pub const MAX_DEPTH: usize = 12;
pub const MAX_COMPLEXITY: usize = 2_000;

/// Builds the schema over a database handle; `base_url` is the public address (for links).
pub fn build_schema(
    db: Db,
    base_url: &str,
    secret: &str,
    stripe: Option<std::sync::Arc<choso_services::stripe::StripeConfig>>,
    budget: std::sync::Arc<budget::Budget>,
) -> ChosoSchema {
    Schema::build(Query::default(), Mutation::default(), orders::Subscription)
        .data(stripe)
        .data(budget)
        .extension(cost::Cost)
        .data(context::Secret(secret.to_string()))
        .data(DataLoader::new(
            loaders::CatalogLoader { db: db.clone() },
            tokio::spawn,
        ))
        .data(context::BaseUrl(base_url.trim_end_matches('/').to_string()))
        .data(db)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .limit_recursive_depth(32)
        .limit_directives(16)
        .finish()
}

/// The schema in SDL (the `choso schema` command).
pub fn sdl() -> String {
    Schema::build(Query::default(), Mutation::default(), orders::Subscription)
        .finish()
        .sdl()
}
