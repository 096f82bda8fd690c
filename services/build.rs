//! Rebuild when migrations change: they are embedded with `include_dir!`, which stable Rust
//! does not track by itself.
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
    println!("cargo:rerun-if-changed=reference");
}
