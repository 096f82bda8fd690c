//! Black-box tests of the choso app over HTTP: the server runs in-process on a random port
//! with a fresh database per test. Storage tests run on SQLite and, when
//! `CHOSO_TEST_POSTGRES_URL` is set, again on a fresh PostgreSQL database (see `helpers`).

mod helpers;

mod accounts;
mod catalog;
mod cli;
mod console;
mod console_province;
mod fairness;
mod graphql_server;
mod notify;
mod ops;
mod orders;
mod public_cache;
mod shops;
mod smtp_sink;
mod storefront;
mod stripe;
mod stripe_double;
mod support;
mod support_totals;
