//! Several statements of one transaction sent together. On SQLite the whole batch goes to the
//! connection's thread as one multi-statement query — one round trip, where each statement
//! alone costs a hand-off between threads, and the single writer is held for all of them;
//! placeholders are renumbered so each statement keeps its own `$1…`. On PostgreSQL (whose
//! extended protocol takes one statement per query) they run one after another. Either way
//! the caller gets the rows of each statement separately, in order, and an error stops the
//! batch (the transaction is then the caller's to roll back).

use futures_util::TryStreamExt;
use sqlx::{Either, any::AnyRow};

use crate::{
    Result,
    db::{Backend, Tx},
};

/// A bound value.
#[derive(Debug, Clone)]
pub enum Arg {
    Text(Option<String>),
    Int(Option<i64>),
}

impl From<String> for Arg {
    fn from(v: String) -> Arg {
        Arg::Text(Some(v))
    }
}
impl From<&str> for Arg {
    fn from(v: &str) -> Arg {
        Arg::Text(Some(v.to_string()))
    }
}
impl From<&String> for Arg {
    fn from(v: &String) -> Arg {
        Arg::Text(Some(v.clone()))
    }
}
impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Arg {
        Arg::Text(v)
    }
}
impl From<Option<&str>> for Arg {
    fn from(v: Option<&str>) -> Arg {
        Arg::Text(v.map(str::to_string))
    }
}
impl From<i64> for Arg {
    fn from(v: i64) -> Arg {
        Arg::Int(Some(v))
    }
}
impl From<Option<i64>> for Arg {
    fn from(v: Option<i64>) -> Arg {
        Arg::Int(v)
    }
}

/// `vec![a.into(), b.into(), …]` for [`Batch::push`].
#[macro_export]
macro_rules! args {
    ($($v:expr),* $(,)?) => { vec![$($crate::sql_batch::Arg::from($v)),*] };
}

/// Statements to run together, each with its own `$1…` placeholders.
#[derive(Debug, Default)]
pub struct Batch {
    statements: Vec<(String, Vec<Arg>)>,
}

impl Batch {
    pub fn new() -> Batch {
        Batch::default()
    }

    /// Adds a statement; returns its index in the result of [`Batch::run`].
    pub fn push(&mut self, sql: impl Into<String>, args: Vec<Arg>) -> usize {
        self.statements.push((sql.into(), args));
        self.statements.len() - 1
    }

    /// Adds one multi-row `INSERT`: `head` (`INSERT INTO t (a, b)`) then `VALUES` and `tuple`
    /// (one row's `($1, $2)`, with its own placeholders) once per entry of `rows` (that row's
    /// arguments, as many as the tuple's highest placeholder). Nothing is added for no rows.
    pub fn push_values(&mut self, head: &str, tuple: &str, rows: Vec<Vec<Arg>>) {
        if rows.is_empty() {
            return;
        }
        let mut sql = String::with_capacity(head.len() + 8 + rows.len() * (tuple.len() + 8));
        sql.push_str(head);
        sql.push_str(" VALUES ");
        let mut all = Vec::new();
        for (i, row) in rows.into_iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&shift_placeholders(tuple, all.len()));
            all.extend(row);
        }
        self.push(sql, all);
    }

    /// Appends another batch's statements (its results follow this one's).
    pub fn extend(&mut self, other: Batch) {
        self.statements.extend(other.statements);
    }

    pub fn len(&self) -> usize {
        self.statements.len()
    }

    pub fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }

    /// Runs the statements in `tx`; the rows each returned, by statement.
    pub async fn run(self, tx: &mut Tx) -> Result<Vec<Vec<AnyRow>>> {
        match self.run_partial(tx).await {
            (out, None) => Ok(out),
            (_, Some(e)) => Err(e),
        }
    }

    /// Runs the statements in `tx` until one fails: the rows of each statement that ran, by
    /// statement, and the error that stopped the batch (the failed statement is the one after
    /// the last answered; the ones before it took effect in the transaction).
    pub async fn run_partial(self, tx: &mut Tx) -> (Vec<Vec<AnyRow>>, Option<crate::Error>) {
        let backend = if tx.backend_name() == <sqlx::Sqlite as sqlx::Database>::NAME {
            Backend::Sqlite
        } else {
            Backend::Postgres
        };
        let n = self.statements.len();
        let mut out: Vec<Vec<AnyRow>> = Vec::with_capacity(n);
        if n == 0 {
            return (out, None);
        }
        match backend {
            Backend::Postgres => {
                for (sql, args) in self.statements {
                    match bind(sqlx::query(sqlx::AssertSqlSafe(sql)), args)
                        .fetch_all(&mut **tx)
                        .await
                    {
                        Ok(rows) => out.push(rows),
                        Err(e) => return (out, Some(e.into())),
                    }
                }
            }
            Backend::Sqlite => {
                let mut sql = String::new();
                let mut all = Vec::new();
                for (i, (s, args)) in self.statements.into_iter().enumerate() {
                    if i > 0 {
                        sql.push_str(";\n");
                    }
                    sql.push_str(&shift_placeholders(&s, all.len()));
                    all.extend(args);
                }
                let q = bind(sqlx::query(sqlx::AssertSqlSafe(sql)), all);
                // sqlx marks multi-statement queries deprecated (launchbadge/sqlx#3108) but its
                // SQLite driver runs them, binding `$n` across the whole text; the storage
                // tests would fail on an upgrade that stopped doing so.
                #[allow(deprecated)]
                let mut stream = q.fetch_many(&mut **tx);
                let mut current = Vec::new();
                loop {
                    match stream.try_next().await {
                        Ok(Some(Either::Right(row))) => current.push(row),
                        Ok(Some(Either::Left(_))) => out.push(std::mem::take(&mut current)),
                        Ok(None) => break,
                        Err(e) => return (out, Some(e.into())),
                    }
                }
                if out.len() != n {
                    let e = crate::Error::Internal(format!(
                        "a batch of {n} statements answered for {}",
                        out.len()
                    ));
                    return (out, Some(e));
                }
            }
        }
        (out, None)
    }
}

fn bind(
    mut q: sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments>,
    args: Vec<Arg>,
) -> sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments> {
    for a in args {
        q = match a {
            Arg::Text(v) => q.bind(v),
            Arg::Int(v) => q.bind(v),
        };
    }
    q
}

/// `$n` → `$(n + by)`, outside quoted text.
fn shift_placeholders(sql: &str, by: usize) -> String {
    if by == 0 {
        return sql.to_string();
    }
    let mut out = String::with_capacity(sql.len() + 16);
    let mut chars = sql.char_indices().peekable();
    let mut quoted = false;
    while let Some((_, c)) = chars.next() {
        out.push(c);
        if c == '\'' {
            quoted = !quoted;
        } else if c == '$' && !quoted {
            let mut n = 0usize;
            let mut digits = false;
            while let Some((_, d)) = chars.peek().copied() {
                match d.to_digit(10) {
                    Some(v) => {
                        n = n * 10 + v as usize;
                        digits = true;
                        chars.next();
                    }
                    None => break,
                }
            }
            if digits {
                out.push_str(&(n + by).to_string());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use sqlx::Row;

    use super::*;

    #[test]
    fn placeholders_shift_outside_quotes() {
        assert_eq!(
            shift_placeholders("UPDATE t SET a = $1, b = '$2' WHERE c = $12", 3),
            "UPDATE t SET a = $4, b = '$2' WHERE c = $15"
        );
        assert_eq!(shift_placeholders("SELECT $1", 0), "SELECT $1");
    }

    #[tokio::test]
    async fn rows_come_back_per_statement_and_errors_stop_the_batch() {
        let dir = std::env::temp_dir().join(format!("choso-batch-{}", crate::ids::new_id()));
        let url = format!("sqlite://{}/t.db", dir.display());
        let db = crate::Db::connect(&url).await.expect("connect");
        sqlx::raw_sql("CREATE TABLE t (k TEXT PRIMARY KEY, n BIGINT)")
            .execute(db.write())
            .await
            .expect("table");
        let mut tx = db.begin().await.expect("begin");
        let mut b = Batch::new();
        b.push("INSERT INTO t (k, n) VALUES ($1, $2)", crate::args!["a", 1]);
        b.push(
            "INSERT INTO t (k, n) VALUES ($1, $2), ($3, $4) RETURNING k",
            crate::args!["b", 2, "c", 3],
        );
        b.push("SELECT k FROM t WHERE n > $1 ORDER BY k", crate::args![5]);
        b.push(
            "UPDATE t SET n = n + $1 WHERE k = $2 RETURNING n",
            crate::args![10, "a"],
        );
        let rows = b.run(&mut tx).await.expect("batch");
        let keys = |i: usize, col: &str| -> Vec<String> {
            rows[i]
                .iter()
                .map(|r| match r.try_get::<String, _>(col) {
                    Ok(v) => v,
                    Err(_) => r
                        .try_get::<i64, _>(col)
                        .map(|n| n.to_string())
                        .unwrap_or_default(),
                })
                .collect()
        };
        assert_eq!(rows.len(), 4);
        assert!(rows[0].is_empty());
        assert_eq!(keys(1, "k"), vec!["b", "c"]);
        assert!(rows[2].is_empty());
        assert_eq!(keys(3, "n"), vec!["11"]);
        // One statement for many rows, each row's placeholders its own.
        let mut b = Batch::new();
        b.push_values(
            "INSERT INTO t (k, n)",
            "($1, $2 + 0)",
            vec![
                crate::args!["x", 7],
                crate::args!["y", 8],
                crate::args!["z", 9],
            ],
        );
        b.push_values("INSERT INTO t (k, n)", "($1, $2)", Vec::new());
        b.push(
            "SELECT k, n FROM t WHERE n BETWEEN 7 AND 9 ORDER BY k",
            crate::args![],
        );
        let rows = b.run(&mut tx).await.expect("multi-row insert");
        assert_eq!(rows.len(), 2, "no statement for no rows");
        let got: Vec<(String, i64)> = rows[1]
            .iter()
            .map(|r| {
                (
                    r.try_get("k").unwrap_or_default(),
                    r.try_get("n").unwrap_or_default(),
                )
            })
            .collect();
        assert_eq!(got, vec![("x".into(), 7), ("y".into(), 8), ("z".into(), 9)]);
        // A failing statement stops the batch with the database's error.
        let mut b = Batch::new();
        b.push("INSERT INTO t (k, n) VALUES ($1, $2)", crate::args!["d", 4]);
        b.push("INSERT INTO t (k, n) VALUES ($1, $2)", crate::args!["a", 5]);
        b.push("INSERT INTO t (k, n) VALUES ($1, $2)", crate::args!["e", 6]);
        let Err(e) = b.run(&mut tx).await else {
            panic!("a duplicate key must fail the batch");
        };
        assert!(e.unique_violation().is_some(), "{e}");
        drop(tx);
        let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM t")
            .fetch_one(db.read())
            .await
            .and_then(|r| r.try_get("n"))
            .expect("count");
        assert_eq!(n, 0, "the dropped transaction kept nothing");
        db.close().await;
        let _ = std::fs::remove_dir_all(dir);
    }
}
