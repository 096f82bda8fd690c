//! cargo-fuzz target: [`choso_fuzz::vietqr`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| choso_fuzz::vietqr(data));
