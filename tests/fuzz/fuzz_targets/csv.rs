//! cargo-fuzz target: [`choso_fuzz::csv`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| choso_fuzz::csv(data));
