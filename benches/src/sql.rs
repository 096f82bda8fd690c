//! Plumbing for the set-based data generators (`province.rs`, `scale.rs`): running generated
//! SQL, counting rows, multi-row inserts of values computed in Rust, and ULID ids computed
//! inside SQL (so `INSERT … SELECT` can make millions of ids the server's own ids sort with).
//!
//! Every value spliced into generated SQL is an integer computed by the generator, a constant,
//! or text quoted with [`text`]; nothing comes from outside the program.

use choso_services::{Backend, Db};
use sqlx::Row;

/// Crockford's base-32 alphabet, as ULIDs are written.
const CROCKFORD: &str = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

pub fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Runs one generator statement on the write pool; returns the rows it changed. With
/// `CHOSO_BENCH_TRACE_SQL` set, prints each statement's time.
pub async fn exec(db: &Db, what: &str, sql: String) -> Result<u64, String> {
    let t = std::time::Instant::now();
    let n = sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(db.write())
        .await
        .map(|r| r.rows_affected())
        .map_err(|e| format!("{what}: {e}"))?;
    if std::env::var_os("CHOSO_BENCH_TRACE_SQL").is_some() {
        println!(
            "      {what}: {n} rows in {:.2} s",
            t.elapsed().as_secs_f64()
        );
    }
    Ok(n)
}

/// `SELECT COUNT(*)` of a table (or of `table WHERE …`).
pub async fn count(db: &Db, table: &str) -> Result<i64, String> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) AS n FROM {table}"
    )))
    .fetch_one(db.read())
    .await
    .map_err(err)?;
    row.try_get("n").map_err(err)
}

/// A SQL string literal.
pub fn text(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A SQL string literal, or `NULL`.
pub fn opt_text(s: Option<&str>) -> String {
    s.map(text).unwrap_or_else(|| "NULL".into())
}

/// Inserts rows (each a parenthesised list of SQL literals) in statements of `per` rows.
pub async fn insert_rows(
    db: &Db,
    table: &str,
    columns: &str,
    rows: &[String],
    per: usize,
) -> Result<(), String> {
    for chunk in rows.chunks(per.max(1)) {
        exec(
            db,
            table,
            format!(
                "INSERT INTO {table} ({columns}) VALUES {}",
                chunk.join(", ")
            ),
        )
        .await?;
    }
    Ok(())
}

/// A ULID made by the generator: `ts` milliseconds, then a random part whose value is
/// `kind · 32⁸ + num` (`kind` < 32 tells the generated tables apart, `num` < 32⁸).
pub fn ulid(ts: i64, kind: u8, num: i64) -> String {
    let random = (u128::from(kind) << 40) | (num as u128 & ((1 << 40) - 1));
    ulid::Ulid::from_parts(ts as u64, random).to_string()
}

/// The SQL expression computing [`ulid`] from two integer SQL expressions (best given as
/// plain column names: each is repeated several times).
pub fn ulid_sql(ts: &str, kind: u8, num: &str) -> String {
    let digit = |expr: &str, power: u32| {
        format!(
            "SUBSTR('{CROCKFORD}', CAST(({expr} / {}) % 32 AS INTEGER) + 1, 1)",
            32_i64.pow(power)
        )
    };
    let mut parts: Vec<String> = (0..10).rev().map(|p| digit(ts, p)).collect();
    let kind_char = CROCKFORD.as_bytes()[usize::from(kind % 32)] as char;
    parts.push(format!("'0000000{kind_char}'"));
    parts.extend((0..8).rev().map(|p| digit(num, p)));
    format!("({})", parts.join(" || "))
}

/// Checks once that the database computes the same ids as [`ulid`].
pub async fn check_ulid_sql(db: &Db) -> Result<(), String> {
    let (ts, kind, num) = (1_764_000_123_456_i64, 7_u8, 987_654_321_i64);
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {} AS id",
        ulid_sql(
            &format!("CAST({ts} AS BIGINT)"),
            kind,
            &format!("CAST({num} AS BIGINT)")
        )
    )))
    .fetch_one(db.read())
    .await
    .map_err(err)?;
    let got: String = row.try_get("id").map_err(err)?;
    let want = ulid(ts, kind, num);
    if got == want {
        Ok(())
    } else {
        Err(format!("SQL ULID {got} differs from {want}"))
    }
}

/// A table of the generator's (unlogged on PostgreSQL: it is dropped at the end).
pub async fn work_table(db: &Db, name: &str, columns: &str) -> Result<(), String> {
    let unlogged = match db.backend() {
        Backend::Postgres => "UNLOGGED ",
        Backend::Sqlite => "",
    };
    exec(db, name, format!("CREATE {unlogged}TABLE {name} {columns}"))
        .await
        .map(|_| ())
}

/// A number table `name (n)` holding 0 … `rows` − 1 (portable recursive CTE).
pub async fn number_table(db: &Db, name: &str, rows: i64) -> Result<(), String> {
    work_table(db, name, "(n BIGINT PRIMARY KEY)").await?;
    exec(
        db,
        name,
        format!(
            "INSERT INTO {name} (n) WITH RECURSIVE s(n) AS (SELECT CAST(0 AS BIGINT) UNION ALL \
             SELECT n + 1 FROM s WHERE n + 1 < {rows}) SELECT n FROM s"
        ),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulids_sort_by_time_then_number() {
        let a = ulid(1_764_000_000_000, 3, 5);
        let b = ulid(1_764_000_000_000, 3, 6);
        let c = ulid(1_764_000_000_001, 0, 0);
        assert_eq!(a.len(), 26);
        assert!(a < b && b < c);
        assert!(a.chars().all(|ch| ch.is_ascii_alphanumeric()));
    }
}
