//! Several statements of one transaction sent together. On SQLite the whole batch goes to the
//! connection's thread as one multi-statement query — one round trip, where each statement
//! alone costs a hand-off between threads, and the single writer is held for all of them;
//! placeholders are renumbered so each statement keeps its own `$1…`. On PostgreSQL (whose
//! extended protocol takes one statement per query) they run one after another, except
//! *effects* (a batch made with [`Batch::of_effects`]): writes whose rows nobody reads, sent
//! as one statement per run of them — each `INSERT`/`UPDATE`/`DELETE` a data-modifying `WITH`
//! of the next, a `SELECT` (a `pg_notify`) the statement that ends the run. The statements of
//! one run see the database as it was before the run, so an effect that reads what an
//! earlier one wrote must start a new run ([`Batch::new_run`]). Either way the caller gets
//! the rows of each statement separately, in order (none for an effect), and an error stops
//! the batch (the transaction is then the caller's to roll back).

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

/// One statement of a batch.
#[derive(Debug)]
struct Statement {
    sql: String,
    args: Vec<Arg>,
    /// The run of effects it belongs to (`None`: not an effect; it runs alone).
    run: Option<usize>,
}

/// Statements to run together, each with its own `$1…` placeholders.
#[derive(Debug, Default)]
pub struct Batch {
    statements: Vec<Statement>,
    /// The run that effects pushed now join (`None`: statements pushed are not effects).
    run: Option<usize>,
}

impl Batch {
    pub fn new() -> Batch {
        Batch::default()
    }

    /// A batch of effects: every statement pushed is a write whose rows are not read (its
    /// entry in [`Batch::run`]'s answer is empty) and that does not read what the effects
    /// before it in its run wrote. On PostgreSQL each run is sent as one statement.
    pub fn of_effects() -> Batch {
        Batch {
            statements: Vec::new(),
            run: Some(0),
        }
    }

    /// Ends the current run of effects: the next one sees what the ones before wrote.
    pub fn new_run(&mut self) {
        if let Some(r) = &mut self.run {
            *r += 1;
        }
    }

    /// Adds a statement; returns its index in the result of [`Batch::run`].
    pub fn push(&mut self, sql: impl Into<String>, args: Vec<Arg>) -> usize {
        self.statements.push(Statement {
            sql: sql.into(),
            args,
            run: self.run,
        });
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

    /// Appends another batch's statements (its results follow this one's). When this is a
    /// batch of effects, the other's first run joins its current run (so must not read what
    /// that run wrote) and its later runs follow; otherwise the other's runs come after
    /// every run here.
    pub fn extend(&mut self, other: Batch) {
        let base = match self.run {
            Some(r) => r,
            None => self
                .statements
                .iter()
                .filter_map(|s| s.run)
                .max()
                .map_or(0, |m| m + 1),
        };
        let mut last = self.run;
        for mut st in other.statements {
            st.run = st.run.map(|r| base + r);
            last = st.run.or(last);
            self.statements.push(st);
        }
        if self.run.is_some() {
            self.run = last;
        }
    }

    pub fn len(&self) -> usize {
        self.statements.len()
    }

    /// The statements in order, each with its arguments (for a connection that runs them
    /// itself: `sqlite_direct`).
    pub(crate) fn statements(&self) -> impl Iterator<Item = (&str, &[Arg])> {
        self.statements
            .iter()
            .map(|s| (s.sql.as_str(), s.args.as_slice()))
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
                for (sql, args, count) in merge_effects(self.statements) {
                    match bind(sqlx::query(sqlx::AssertSqlSafe(sql)), args)
                        .fetch_all(&mut **tx)
                        .await
                    {
                        Ok(rows) if count == 1 => out.push(rows),
                        Ok(_) => out.extend((0..count).map(|_| Vec::new())),
                        Err(e) => return (out, Some(e.into())),
                    }
                }
            }
            Backend::Sqlite => {
                let mut sql = String::new();
                let mut all = Vec::new();
                for (i, Statement { sql: s, args, .. }) in self.statements.into_iter().enumerate() {
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

/// PostgreSQL's statements for a batch: (text, arguments, how many of the batch's statements
/// it stands for). A run of effects becomes one statement: each `INSERT`, `UPDATE` or
/// `DELETE` a data-modifying `WITH` (PostgreSQL runs those to completion whether or not the
/// statement reads them), the last one — or the first `SELECT`, which would not run as an
/// unread `WITH` — the statement itself. Anything else runs alone.
fn merge_effects(statements: Vec<Statement>) -> Vec<(String, Vec<Arg>, usize)> {
    let mut out = Vec::new();
    // The open run: data-modifying effects of one run, in order.
    let mut open: Vec<Statement> = Vec::new();
    for st in statements {
        let kind = st
            .sql
            .trim_start()
            .split(|c: char| !c.is_ascii_alphabetic())
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let joins = st.run.is_some() && open.first().is_some_and(|f| f.run == st.run);
        if !joins && !open.is_empty() {
            out.push(one_statement(std::mem::take(&mut open)));
        }
        match (st.run, kind.as_str()) {
            (Some(_), "INSERT" | "UPDATE" | "DELETE") => open.push(st),
            (Some(_), "SELECT") if !open.is_empty() => {
                open.push(st);
                out.push(one_statement(std::mem::take(&mut open)));
            }
            _ => out.push((st.sql, st.args, 1)),
        }
    }
    if !open.is_empty() {
        out.push(one_statement(open));
    }
    out
}

/// A run of effects as one statement: all but the last as `WITH` parts, each with its
/// placeholders moved past the ones before.
fn one_statement(run: Vec<Statement>) -> (String, Vec<Arg>, usize) {
    let n = run.len();
    let mut args = Vec::new();
    let mut parts = Vec::with_capacity(n);
    for st in run {
        parts.push(shift_placeholders(&st.sql, args.len()));
        args.extend(st.args);
    }
    let last = parts.pop().unwrap_or_default();
    if parts.is_empty() {
        return (last, args, n);
    }
    let with = parts
        .iter()
        .enumerate()
        .map(|(i, p)| format!("e{i} AS ({p})"))
        .collect::<Vec<_>>()
        .join(", ");
    (format!("WITH {with} {last}"), args, n)
}

pub(crate) fn bind(
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

    #[test]
    fn a_batch_of_effects_takes_in_another_in_its_current_run() {
        let mut a = Batch::of_effects();
        a.push("INSERT INTO t (k) VALUES ($1)", crate::args!["a"]);
        a.new_run();
        a.push("INSERT INTO t (k) VALUES ($1)", crate::args!["b"]);
        let mut b = Batch::of_effects();
        b.push("SELECT pg_notify($1, $2)", crate::args!["c", "x"]);
        a.extend(b);
        let got: Vec<usize> = merge_effects(a.statements)
            .into_iter()
            .map(|(_, _, n)| n)
            .collect();
        assert_eq!(got, [1, 2]);
    }

    #[test]
    fn runs_of_effects_become_one_statement_each_on_postgres() {
        let mut b = Batch::new();
        b.push("SELECT n FROM t WHERE k = $1", crate::args!["a"]);
        let mut e = Batch::of_effects();
        e.push("INSERT INTO t (k) VALUES ($1)", crate::args!["b"]);
        e.push("update t SET n = $1 WHERE k = $2", crate::args![1, "b"]);
        e.new_run();
        e.push(
            "INSERT INTO u (k) SELECT k FROM t WHERE n = $1",
            crate::args![1],
        );
        e.push("SELECT pg_notify($1, $2)", crate::args!["c", "x"]);
        e.push("SELECT pg_notify($1, $2)", crate::args!["c", "y"]);
        e.push("DELETE FROM v WHERE k = $1", crate::args!["z"]);
        b.extend(e);
        let mut more = Batch::of_effects();
        more.push("INSERT INTO w (k) VALUES ($1)", crate::args!["w"]);
        b.extend(more);
        b.push("SELECT 1", crate::args![]);
        let got: Vec<(String, usize, usize)> = merge_effects(b.statements)
            .into_iter()
            .map(|(sql, args, n)| (sql, args.len(), n))
            .collect();
        let want = [
            ("SELECT n FROM t WHERE k = $1", 1, 1),
            (
                "WITH e0 AS (INSERT INTO t (k) VALUES ($1)) update t SET n = $2 WHERE k = $3",
                3,
                2,
            ),
            (
                "WITH e0 AS (INSERT INTO u (k) SELECT k FROM t WHERE n = $1) SELECT pg_notify($2, $3)",
                3,
                2,
            ),
            ("SELECT pg_notify($1, $2)", 2, 1),
            // Runs of batches appended to a plain batch stay apart.
            ("DELETE FROM v WHERE k = $1", 1, 1),
            ("INSERT INTO w (k) VALUES ($1)", 1, 1),
            ("SELECT 1", 0, 1),
        ];
        let want: Vec<(String, usize, usize)> = want
            .iter()
            .map(|(s, a, n)| (s.to_string(), *a, *n))
            .collect();
        assert_eq!(got, want);
    }

    #[tokio::test]
    async fn rows_come_back_per_statement_and_errors_stop_the_batch() {
        let (dir, db) = crate::db::temp_sqlite("batch", false).await;
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
