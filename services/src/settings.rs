//! Platform settings kept in the database, such as the secret that signs storefront cookies
//! and links (made once, shared by every node on the same database).

use sqlx::Row;

use crate::{db::Db, error::Result, ids::random_hex};

/// The platform secret, created on first use.
pub async fn secret(db: &Db) -> Result<String> {
    sqlx::query("INSERT INTO settings (key, value) VALUES ('cookie_secret', $1) ON CONFLICT (key) DO NOTHING")
        .bind(random_hex(32))
        .execute(db.write())
        .await?;
    let row = sqlx::query("SELECT value FROM settings WHERE key = 'cookie_secret'")
        .fetch_one(db.write())
        .await?;
    Ok(row.try_get("value")?)
}
