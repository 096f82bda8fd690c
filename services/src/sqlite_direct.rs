//! A SQLite connection driven from the calling thread, for the order writer
//! (`orders::group_commit`).
//!
//! sqlx runs each SQLite connection on a thread of its own: every statement goes to that
//! thread and every row and result comes back, each a hand-off between two threads. Under
//! ordering load those hand-offs, not the writer's work, bounded the single writer (it was
//! busy about half the time: `benches/README.md`, sessions 12–14). This connection is opened
//! on the order writer's own thread and run there: statements are compiled once per text and
//! kept (`SQLITE_PREPARE_PERSISTENT`), bound, stepped and read in place.
//!
//! It is the only code here that calls SQLite's C API (through `libsqlite3-sys`, the library
//! sqlx links, so one SQLite in the process); everything unsafe stays in this module.
//! Placeholders are sqlx's: `$n` binds the n-th argument; a `$n` past the arguments is NULL.

use std::{
    collections::HashMap,
    ffi::{CStr, CString, c_char, c_int},
    path::Path,
    ptr::{self, NonNull},
};

use libsqlite3_sys as ffi;

use crate::sql_batch::Arg;

/// Compiled statements kept at most; past this the cache starts over (an order writes a few
/// dozen distinct texts: one per statement kind and number of lines).
const MAX_STATEMENTS: usize = 256;

/// A value read from a row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
}

/// What SQLite said when a call failed: its extended result code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub code: i32,
    pub message: String,
}

impl Failure {
    /// A `UNIQUE` or primary-key constraint failed (the message names the columns).
    pub fn is_unique_violation(&self) -> bool {
        matches!(
            self.code,
            ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY
        )
    }

    /// The storage cannot serve now ([`is_unavailable_code`]).
    pub fn is_unavailable(&self) -> bool {
        is_unavailable_code(self.code)
    }
}

/// Whether a SQLite result code (primary or extended) says the storage cannot serve now
/// rather than that the request is wrong: busy, read-only, an I/O error, a full disk, a file
/// that cannot be opened. For this module's failures and sqlx's SQLite errors alike
/// (`db::is_unavailable`).
pub(crate) fn is_unavailable_code(code: i32) -> bool {
    matches!(
        code & 0xff,
        ffi::SQLITE_BUSY
            | ffi::SQLITE_READONLY
            | ffi::SQLITE_IOERR
            | ffi::SQLITE_FULL
            | ffi::SQLITE_CANTOPEN
    )
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (SQLite code {})", self.message, self.code)
    }
}

/// A compiled statement and, for each of its parameters, the argument it binds.
struct Prepared {
    stmt: NonNull<ffi::sqlite3_stmt>,
    /// Per parameter (1-based in SQLite, 0-based here): the index into the arguments.
    params: Vec<usize>,
}

/// One connection, used by one thread at a time (SQLite's multi-thread mode).
pub(crate) struct Direct {
    db: NonNull<ffi::sqlite3>,
    statements: HashMap<String, Prepared>,
}

// SAFETY: the connection is opened with `SQLITE_OPEN_NOMUTEX` (multi-thread mode), in which a
// connection may move between threads as long as two threads never use it at once; `Direct`
// owns the handle and its statements and every use takes `&mut self`.
unsafe impl Send for Direct {}

/// Turns off SQLite's memory statistics for the whole process, once, before its first
/// connection (`SQLITE_CONFIG_MEMSTATUS`; nothing here reads them). With them on, every
/// allocation and free SQLite makes, on any connection's thread, takes one process-wide
/// mutex to count it: the order writer and the readers allocate for every row and statement,
/// and contend on it. SQLite refuses the setting once it is initialised; that is harmless
/// (the statistics stay on) and only happens if something opened SQLite first.
pub(crate) fn configure_process() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: `sqlite3_config` with SQLITE_CONFIG_MEMSTATUS takes one `int`; called
        // before SQLite is initialised (or refused with SQLITE_MISUSE, changing nothing).
        let rc = unsafe { ffi::sqlite3_config(ffi::SQLITE_CONFIG_MEMSTATUS, 0 as c_int) };
        if rc != ffi::SQLITE_OK {
            tracing::debug!(rc, "SQLite's memory statistics stay on");
        }
    });
}

impl Direct {
    /// Opens the database file for reading and writing (it must exist) and runs `setup`
    /// (pragmas, several statements).
    pub(crate) fn open(path: &Path, setup: &str) -> Result<Direct, Failure> {
        let c_path = CString::new(path.as_os_str().as_encoded_bytes()).map_err(|_| Failure {
            code: ffi::SQLITE_CANTOPEN,
            message: format!("a NUL in the database path {}", path.display()),
        })?;
        configure_process();
        let mut db: *mut ffi::sqlite3 = ptr::null_mut();
        let flags = ffi::SQLITE_OPEN_READWRITE | ffi::SQLITE_OPEN_NOMUTEX;
        // SAFETY: `c_path` is a NUL-terminated string that outlives the call; `db` receives
        // the handle (or NULL when out of memory), which we own from here on.
        let rc = unsafe { ffi::sqlite3_open_v2(c_path.as_ptr(), &mut db, flags, ptr::null()) };
        let Some(db) = NonNull::new(db) else {
            return Err(Failure {
                code: ffi::SQLITE_NOMEM,
                message: "out of memory opening the database".into(),
            });
        };
        // From here `Direct`'s drop closes the handle, on failure too.
        let mut conn = Direct {
            db,
            statements: HashMap::new(),
        };
        if rc != ffi::SQLITE_OK {
            return Err(conn.failure(rc));
        }
        // SAFETY: a valid handle.
        unsafe { ffi::sqlite3_extended_result_codes(conn.db.as_ptr(), 1) };
        conn.execute(setup)?;
        Ok(conn)
    }

    /// Runs SQL text of any number of statements, reading no rows (`BEGIN`, pragmas).
    pub(crate) fn execute(&mut self, sql: &str) -> Result<(), Failure> {
        let c_sql = CString::new(sql).map_err(|_| Failure {
            code: ffi::SQLITE_MISUSE,
            message: "a NUL in SQL text".into(),
        })?;
        // SAFETY: a valid handle and a NUL-terminated string; no callback, no error buffer
        // (the message is read from the handle).
        let rc = unsafe {
            ffi::sqlite3_exec(
                self.db.as_ptr(),
                c_sql.as_ptr(),
                None,
                ptr::null_mut(),
                ptr::null_mut(),
            )
        };
        if rc == ffi::SQLITE_OK {
            Ok(())
        } else {
            Err(self.failure(rc))
        }
    }

    /// Runs one statement with its arguments; the rows it returned, each a value per column.
    pub(crate) fn query(&mut self, sql: &str, args: &[Arg]) -> Result<Vec<Vec<Value>>, Failure> {
        let db = self.db;
        let prepared = self.prepared(sql)?;
        let stmt = prepared.stmt.as_ptr();
        for (i, &arg) in prepared.params.iter().enumerate() {
            let param = i as c_int + 1;
            // SAFETY: `stmt` is a valid, reset statement and `param` within its parameter
            // count; SQLITE_TRANSIENT makes SQLite copy the text before the call returns.
            let rc = unsafe {
                match args.get(arg) {
                    Some(Arg::Int(Some(v))) => ffi::sqlite3_bind_int64(stmt, param, *v),
                    Some(Arg::Text(Some(s))) => ffi::sqlite3_bind_text(
                        stmt,
                        param,
                        s.as_ptr().cast::<c_char>(),
                        c_int::try_from(s.len()).unwrap_or(c_int::MAX),
                        ffi::SQLITE_TRANSIENT(),
                    ),
                    Some(Arg::Int(None) | Arg::Text(None)) | None => {
                        ffi::sqlite3_bind_null(stmt, param)
                    }
                }
            };
            if rc != ffi::SQLITE_OK {
                // SAFETY: a valid statement; its bindings stay until the next run rebinds.
                unsafe { ffi::sqlite3_reset(stmt) };
                return Err(failure_of(db, rc));
            }
        }
        let mut rows = Vec::new();
        let outcome = loop {
            // SAFETY: a valid, bound statement, stepped by this thread only.
            match unsafe { ffi::sqlite3_step(stmt) } {
                ffi::SQLITE_ROW => rows.push(read_row(stmt)),
                ffi::SQLITE_DONE => break Ok(rows),
                rc => break Err(failure_of(db, rc)),
            }
        };
        // SAFETY: a valid statement; resetting ends its run (and releases what it holds).
        unsafe { ffi::sqlite3_reset(stmt) };
        outcome
    }

    /// Flushes the database file (not the WAL) to disk: what a checkpoint does last when it
    /// has copied every frame, done here for checkpoints that could not (see
    /// `db::checkpoints`). Through SQLite's own file handle, so its locks are untouched (a
    /// file descriptor of our own, once closed, would drop them).
    pub(crate) fn sync_database(&mut self) -> Result<(), Failure> {
        let mut file: *mut ffi::sqlite3_file = ptr::null_mut();
        // SAFETY: a valid handle; "main" is NUL-terminated; FILE_POINTER writes the main
        // database's `sqlite3_file` pointer (owned by the connection) into `file`.
        let rc = unsafe {
            ffi::sqlite3_file_control(
                self.db.as_ptr(),
                c"main".as_ptr(),
                ffi::SQLITE_FCNTL_FILE_POINTER,
                (&raw mut file).cast(),
            )
        };
        if rc != ffi::SQLITE_OK {
            return Err(self.failure(rc));
        }
        // SAFETY: `file` is the connection's open file (or NULL); its methods table is set by
        // the VFS that opened it, and `xSync` may be called on it by the thread using the
        // connection.
        let rc = unsafe {
            match file
                .as_ref()
                .and_then(|f| f.pMethods.as_ref())
                .and_then(|m| m.xSync)
            {
                Some(sync) => sync(file, ffi::SQLITE_SYNC_NORMAL),
                None => ffi::SQLITE_MISUSE,
            }
        };
        if rc == ffi::SQLITE_OK {
            Ok(())
        } else {
            Err(Failure {
                code: rc,
                message: "the database file could not be synced".into(),
            })
        }
    }

    /// How many rows the last `INSERT`, `UPDATE` or `DELETE` run here changed.
    pub(crate) fn changes(&self) -> i64 {
        // SAFETY: a valid handle.
        unsafe { ffi::sqlite3_changes64(self.db.as_ptr()) }
    }

    /// Whether a transaction is open (SQLite may have rolled one back by itself after an
    /// error, such as a full disk).
    pub(crate) fn in_transaction(&self) -> bool {
        // SAFETY: a valid handle.
        unsafe { ffi::sqlite3_get_autocommit(self.db.as_ptr()) == 0 }
    }

    /// The statement for `sql`, compiled on first use.
    fn prepared(&mut self, sql: &str) -> Result<&Prepared, Failure> {
        if !self.statements.contains_key(sql) {
            if self.statements.len() >= MAX_STATEMENTS {
                self.finalize_all();
            }
            let prepared = self.prepare(sql)?;
            self.statements.insert(sql.to_string(), prepared);
        }
        self.statements.get(sql).ok_or_else(|| Failure {
            code: ffi::SQLITE_INTERNAL,
            message: "a compiled statement went missing".into(),
        })
    }

    fn prepare(&mut self, sql: &str) -> Result<Prepared, Failure> {
        let len = c_int::try_from(sql.len()).map_err(|_| Failure {
            code: ffi::SQLITE_TOOBIG,
            message: "SQL text too long".into(),
        })?;
        let mut stmt: *mut ffi::sqlite3_stmt = ptr::null_mut();
        let mut tail: *const c_char = ptr::null();
        // SAFETY: `sql` is valid for `len` bytes (no NUL needed when the length is given);
        // `stmt` receives a statement we own (finalized in `finalize_all` or `Drop`).
        let rc = unsafe {
            ffi::sqlite3_prepare_v3(
                self.db.as_ptr(),
                sql.as_ptr().cast::<c_char>(),
                len,
                ffi::SQLITE_PREPARE_PERSISTENT,
                &mut stmt,
                &mut tail,
            )
        };
        if rc != ffi::SQLITE_OK {
            return Err(self.failure(rc));
        }
        let Some(stmt) = NonNull::new(stmt) else {
            return Err(Failure {
                code: ffi::SQLITE_MISUSE,
                message: "no statement in SQL text".into(),
            });
        };
        let prepared = Prepared {
            stmt,
            params: Vec::new(),
        };
        // What follows the first statement must be nothing but space and `;`.
        let used = (tail as usize).saturating_sub(sql.as_ptr() as usize);
        if sql.get(used..).is_some_and(|rest| {
            !rest
                .trim_matches(|c: char| c.is_whitespace() || c == ';')
                .is_empty()
        }) {
            finalize(prepared.stmt);
            return Err(Failure {
                code: ffi::SQLITE_MISUSE,
                message: "more than one statement in a query".into(),
            });
        }
        match parameters(prepared.stmt) {
            Ok(params) => Ok(Prepared { params, ..prepared }),
            Err(e) => {
                finalize(prepared.stmt);
                Err(e)
            }
        }
    }

    fn finalize_all(&mut self) {
        for (_, p) in self.statements.drain() {
            finalize(p.stmt);
        }
    }

    fn failure(&self, rc: c_int) -> Failure {
        failure_of(self.db, rc)
    }
}

impl Drop for Direct {
    fn drop(&mut self) {
        self.finalize_all();
        // SAFETY: every statement of the handle is finalized; the handle is not used again.
        unsafe { ffi::sqlite3_close(self.db.as_ptr()) };
    }
}

fn finalize(stmt: NonNull<ffi::sqlite3_stmt>) {
    // SAFETY: a statement we own, not used after this.
    unsafe { ffi::sqlite3_finalize(stmt.as_ptr()) };
}

/// The failure SQLite reports on `db` for the result code `rc`.
fn failure_of(db: NonNull<ffi::sqlite3>, rc: c_int) -> Failure {
    // SAFETY: a valid handle; `sqlite3_errmsg` returns a NUL-terminated string owned by
    // SQLite, copied before any other call on the handle.
    let (code, message) = unsafe {
        let code = ffi::sqlite3_extended_errcode(db.as_ptr());
        let msg = ffi::sqlite3_errmsg(db.as_ptr());
        let message = if msg.is_null() {
            String::new()
        } else {
            CStr::from_ptr(msg).to_string_lossy().into_owned()
        };
        (code, message)
    };
    // The handle's code can be stale for a code returned directly (a bind's misuse, say).
    let code = if code & 0xff == rc & 0xff { code } else { rc };
    Failure { code, message }
}

/// Which argument each parameter of `stmt` binds: `$n` or `?n` the n-th, a bare `?` the one
/// after the previous bare `?` (as sqlx binds them).
fn parameters(stmt: NonNull<ffi::sqlite3_stmt>) -> Result<Vec<usize>, Failure> {
    // SAFETY: a valid statement.
    let count = unsafe { ffi::sqlite3_bind_parameter_count(stmt.as_ptr()) };
    let mut out = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
    let mut bare = 0;
    for i in 1..=count {
        // SAFETY: `i` is within the parameter count; the name (or NULL for a bare `?`) is
        // owned by the statement and copied at once.
        let name = unsafe {
            let p = ffi::sqlite3_bind_parameter_name(stmt.as_ptr(), i);
            (!p.is_null()).then(|| CStr::from_ptr(p).to_string_lossy().into_owned())
        };
        let index = match name {
            None => {
                bare += 1;
                bare
            }
            Some(name) => name
                .strip_prefix('$')
                .or_else(|| name.strip_prefix('?'))
                .and_then(|n| n.parse::<usize>().ok())
                .filter(|&n| n > 0)
                .ok_or_else(|| Failure {
                    code: ffi::SQLITE_MISUSE,
                    message: format!("unsupported parameter {name}"),
                })?,
        };
        out.push(index - 1);
    }
    Ok(out)
}

/// The current row of a stepped statement.
fn read_row(stmt: *mut ffi::sqlite3_stmt) -> Vec<Value> {
    // SAFETY: `stmt` has just returned SQLITE_ROW, so its columns may be read; a text
    // pointer is valid for `sqlite3_column_bytes` bytes until the next step or reset, and is
    // copied at once.
    unsafe {
        let n = ffi::sqlite3_column_count(stmt);
        (0..n)
            .map(|i| match ffi::sqlite3_column_type(stmt, i) {
                ffi::SQLITE_INTEGER => Value::Int(ffi::sqlite3_column_int64(stmt, i)),
                ffi::SQLITE_FLOAT => Value::Real(ffi::sqlite3_column_double(stmt, i)),
                ffi::SQLITE_NULL => Value::Null,
                _ => {
                    let p = ffi::sqlite3_column_text(stmt, i);
                    let len = usize::try_from(ffi::sqlite3_column_bytes(stmt, i)).unwrap_or(0);
                    if p.is_null() {
                        Value::Null
                    } else {
                        let bytes = std::slice::from_raw_parts(p, len);
                        Value::Text(String::from_utf8_lossy(bytes).into_owned())
                    }
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args;

    /// [`Direct::query`] with owned arguments.
    fn run(c: &mut Direct, sql: &str, args: Vec<Arg>) -> Result<Vec<Vec<Value>>, Failure> {
        c.query(sql, &args)
    }

    fn temp_db() -> (std::path::PathBuf, Direct) {
        let dir = std::env::temp_dir().join(format!("choso-direct-{}", crate::ids::new_id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("t.db");
        std::fs::File::create(&path).expect("file");
        let conn =
            Direct::open(&path, "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON;").expect("open");
        (dir, conn)
    }

    #[test]
    fn binds_by_number_reads_rows_and_keeps_one_compiled_statement_per_text() {
        let (dir, mut c) = temp_db();
        c.execute("CREATE TABLE t (id TEXT PRIMARY KEY, n INTEGER, x REAL, s TEXT)")
            .expect("table");
        for (id, n) in [("a", 1), ("b", 2), ("c", 3)] {
            // `$2` before `$1`, and `$3` past the arguments: NULL.
            let rows = run(
                &mut c,
                "INSERT INTO t (n, id, s) VALUES ($2, $1, $3) RETURNING id, n, s",
                args![id, n],
            )
            .expect("insert");
            assert_eq!(
                rows,
                vec![vec![Value::Text(id.into()), Value::Int(n), Value::Null]]
            );
        }
        assert_eq!(c.statements.len(), 1);
        let rows = run(
            &mut c,
            "SELECT s, n * 1.5 FROM t WHERE n >= $1 ORDER BY n",
            args![2, Option::<String>::None],
        )
        .expect("select");
        assert_eq!(
            rows,
            vec![
                vec![Value::Null, Value::Real(3.0)],
                vec![Value::Null, Value::Real(4.5)],
            ]
        );
        let text = "chợ số — Đà Lạt";
        let rows = run(&mut c, "SELECT $1 || ''", args![text]).expect("text round trip");
        assert_eq!(rows, vec![vec![Value::Text(text.into())]]);
        drop(c);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn failures_carry_sqlites_code_and_leave_the_connection_usable() {
        let (dir, mut c) = temp_db();
        c.execute("CREATE TABLE t (id TEXT PRIMARY KEY)")
            .expect("table");
        run(&mut c, "INSERT INTO t (id) VALUES ($1)", args!["a"]).expect("first");
        let e = run(&mut c, "INSERT INTO t (id) VALUES ($1)", args!["a"]).expect_err("duplicate");
        assert_eq!(e.code, ffi::SQLITE_CONSTRAINT_PRIMARYKEY, "{e}");
        assert!(e.message.contains("t.id"), "{e}");
        let e = c.query("SELECT * FROM missing", &[]).expect_err("no table");
        assert_eq!(e.code & 0xff, ffi::SQLITE_ERROR, "{e}");
        let e = c
            .query("SELECT 1; SELECT 2", &[])
            .expect_err("two statements");
        assert_eq!(e.code, ffi::SQLITE_MISUSE, "{e}");
        c.execute("BEGIN").expect("begin");
        assert!(c.in_transaction());
        run(&mut c, "INSERT INTO t (id) VALUES ($1)", args!["b"]).expect("in the transaction");
        c.execute("ROLLBACK").expect("rollback");
        assert!(!c.in_transaction());
        c.sync_database()
            .expect("the file syncs through SQLite's own handle");
        let rows = c.query("SELECT COUNT(*) FROM t", &[]).expect("count");
        assert_eq!(rows, vec![vec![Value::Int(1)]]);
        drop(c);
        let _ = std::fs::remove_dir_all(dir);
    }

    /// The SQLite linked here is built without STAT4 (`.cargo/config.toml`): with it, an
    /// analyzed database makes SQLite compile a statement again each time a new value is
    /// bound to a parameter compared with an indexed column (`shop_id = $1`, nearly every
    /// read), which cost the readers an eighth of their time on the 1,000-shop data set.
    #[test]
    fn an_analyzed_database_does_not_recompile_statements_for_new_bindings() {
        let (dir, mut c) = temp_db();
        c.execute("CREATE TABLE v (shop_id TEXT NOT NULL, id TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (shop_id, id))")
            .expect("table");
        c.execute("CREATE INDEX v_n_idx ON v (shop_id, n)")
            .expect("index");
        // Shops of very different sizes: what STAT4's samples are for.
        for i in 0..400 {
            let shop = if i < 300 {
                "big".to_string()
            } else {
                format!("s{}", i % 20)
            };
            run(
                &mut c,
                "INSERT INTO v (shop_id, id, n) VALUES ($1, $2, $3)",
                args![shop, format!("v{i}"), i % 37],
            )
            .expect("insert");
        }
        c.execute("ANALYZE").expect("analyze");
        let sql = "SELECT COUNT(*) FROM v WHERE shop_id = $1 AND n > $2";
        let mut counts = Vec::new();
        for (shop, n) in [("big", 3), ("s1", 0), ("big", 30), ("s7", 5), ("none", 1)] {
            counts.push(run(&mut c, sql, args![shop, n]).expect("count"));
        }
        assert_eq!(counts[0], vec![vec![Value::Int(264)]]);
        assert_eq!(counts[4], vec![vec![Value::Int(0)]]);
        let stmt = c.statements.get(sql).expect("kept").stmt;
        // SAFETY: a statement this connection compiled and still holds.
        let recompiled =
            unsafe { ffi::sqlite3_stmt_status(stmt.as_ptr(), ffi::SQLITE_STMTSTATUS_REPREPARE, 0) };
        assert_eq!(recompiled, 0, "compiled again for new bindings");
        let stat4 = c
            .query(
                "SELECT COUNT(*) FROM sqlite_schema WHERE name = 'sqlite_stat4'",
                &[],
            )
            .expect("schema");
        assert_eq!(
            stat4,
            vec![vec![Value::Int(0)]],
            "ANALYZE kept STAT4 samples"
        );
        drop(c);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_missing_file_is_not_created() {
        let dir = std::env::temp_dir().join(format!("choso-direct-{}", crate::ids::new_id()));
        let e = Direct::open(&dir.join("none.db"), "")
            .err()
            .expect("no file");
        assert_eq!(e.code & 0xff, ffi::SQLITE_CANTOPEN, "{e}");
        assert!(!dir.exists());
    }
}
