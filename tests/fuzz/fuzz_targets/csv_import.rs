//! cargo-fuzz target: [`choso_fuzz::App::csv_import`], a product import into a seeded SQLite
//! shop.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| choso_fuzz::App::get().csv_import(data));
