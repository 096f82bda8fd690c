//! cargo-fuzz target: [`choso_fuzz::text`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| choso_fuzz::text(data));
