//! cargo-fuzz target: [`choso_fuzz::App::graphql`], `POST /graphql` through the production
//! router over a seeded SQLite shop.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| choso_fuzz::App::get().graphql(data));
