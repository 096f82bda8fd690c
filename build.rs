//! Rebuild when themes or bundled assets change: they are embedded with `include_dir!`,
//! which stable Rust does not track by itself.
fn main() {
    println!("cargo:rerun-if-changed=themes");
    println!("cargo:rerun-if-changed=src/assets");
}
