//! The data layer: sqlx's `Any` driver over SQLite (embedded default) or PostgreSQL.
//!
//! One portable SQL dialect (see ARCHITECTURE.md "Data and tenancy"): `$n` placeholders,
//! `RETURNING`, `ON CONFLICT`, TEXT ids, BIGINT money and Unix-millisecond times, booleans
//! decoded through [`bool_col`]. On SQLite there is one writer: a write pool of a single
//! connection beside a read pool, with WAL, `synchronous=NORMAL`, `busy_timeout` and foreign
//! keys on every connection; the WAL is checkpointed by a task of its own, not by the writer.
//! On PostgreSQL both pools are the same pool.

use std::{borrow::Cow, path::Path, sync::Once, time::Duration};

use include_dir::{Dir, include_dir};
use sqlx::{
    Any, AnyPool, Row, Transaction,
    any::{AnyPoolOptions, AnyRow},
    migrate::{Migration, MigrationType, Migrator},
};

use crate::{
    error::{Error, Result},
    readers::Readers,
};

static SQLITE_MIGRATIONS: Dir = include_dir!("$CARGO_MANIFEST_DIR/../migrations/sqlite");
static POSTGRES_MIGRATIONS: Dir = include_dir!("$CARGO_MANIFEST_DIR/../migrations/postgres");

/// Which database server is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The backend named by a database URL.
    pub fn from_url(url: &str) -> Result<Backend> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Backend::Postgres)
        } else {
            Err(Error::Internal(format!(
                "unsupported database URL (use sqlite://… or postgres://…): {}",
                redact(url)
            )))
        }
    }
}

/// The database handle shared by every service: cheap to clone.
#[derive(Clone, Debug)]
pub struct Db {
    read: Readers,
    write: AnyPool,
    backend: Backend,
    feed: crate::feed::Feed,
    versions: crate::versions::Versions,
    shop_cache: std::sync::Arc<crate::shop_cache::ShopCache>,
    for_sale_cache: std::sync::Arc<crate::for_sale_cache::ForSaleCache>,
    order_commits: std::sync::Arc<crate::orders::group_commit::GroupCommit>,
    url: std::sync::Arc<str>,
    /// SQLite: the task copying the WAL into the database file (ends with the last handle,
    /// or with [`Db::close`]).
    checkpoints: Option<std::sync::Arc<Checkpointer>>,
}

/// How often the SQLite WAL is copied back into the database file. The writer never does it
/// itself (`wal_autocheckpoint=0`): done on commit, it held the single writer for the copy
/// and its `fsync` (about a tenth of the writer's time under ordering load).
const CHECKPOINT_EVERY: Duration = Duration::from_millis(200);

/// The checkpoint task: aborted when the last handle to the database is dropped, waited for
/// by [`Db::close`].
#[derive(Debug)]
struct Checkpointer(std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>);

impl Checkpointer {
    /// Waits for the task to end, which it does at its next tick once the pools are closed
    /// (a sync in flight finishes first, so its connection is closed too).
    async fn stopped(&self) {
        let task = self.0.lock().ok().and_then(|mut t| t.take());
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        if let Some(task) = self.0.get_mut().ok().and_then(Option::take) {
            task.abort();
        }
    }
}

/// WAL frames (pages) past which the checkpointer also restarts the WAL: 65,536, 256 MB, as
/// much as the writer's `journal_size_limit` keeps ([`WAL_SIZE_LIMIT`]), so a restart never
/// has the file trimmed. A restart holds the writer for the checkpoint's last copy and its
/// `fsync` (tens of ms); only a writer busy without a pause for seconds reaches it (256 MB is
/// ~2.5 s of orders at full speed): with any pause between writes SQLite starts the WAL over
/// by itself. At 1 GB, with the file trimmed back to 64 MB afterwards, each restart stalled
/// every order for 320–380 ms (the p99.9 of a checkout run; `benches/README.md`, session
/// 12); at 64 MB restarts came too often and cost the p99 20 ms. (Tests lower it.)
static RESTART_FRAMES: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(65_536);

/// How long a restart may wait for readers still on an older snapshot before giving up until
/// the next tick.
const RESTART_WAIT_MS: u32 = 10;

/// Checkpoints the WAL from a read connection every [`CHECKPOINT_EVERY`], without waiting
/// for readers or the writer (`PASSIVE`: what cannot be copied yet is copied next time).
///
/// Under a steady stream of writes that is not enough: SQLite starts the WAL over from its
/// first frame only when a transaction begins with every frame already copied, and with
/// commits back to back that never happens, so the WAL grew by every commit (1 GB in ten
/// seconds of orders), each frame a new page of the file for the kernel to allocate and
/// every read searching a longer WAL index: a disk filling as long as the load lasts. So
/// once the WAL holds [`RESTART_FRAMES`], the checkpointer takes the writer's connection
/// between two transactions (queueing like any writer) and checkpoints in `RESTART` mode
/// there: it copies what the passive checkpoint left, waits up to [`RESTART_WAIT_MS`] for
/// readers on an older snapshot, and the next commit writes from the start of the WAL file
/// again (the file keeps its size, at most `journal_size_limit`).
///
/// A checkpoint syncs the database file only when it has copied every frame, which under
/// that same stream a passive one never has (the writer commits while it copies): the pages
/// it copied stayed unsynced until the restart, which then flushed seconds of them while
/// holding the writer (220–380 ms with 1,000 shops: `benches/README.md`, session 15). So
/// after each passive checkpoint that copied frames the database file is synced here, off
/// the writer, through a connection of the checkpointer's own (`sqlite_direct`). And before
/// a restart, more passive passes (each synced) run while each is quicker than the one
/// before, until one takes under [`CAUGHT_UP`], at most [`CATCH_UP_PASSES`]: the restart
/// is left only what was committed during the last pass (with 1,000 shops each restart held
/// the writer 44–58 ms without them, 12–49 ms with).
async fn checkpoints(pool: Readers, write: AnyPool, file: Option<std::path::PathBuf>) {
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut syncer = Syncer::new(file);
    loop {
        tick.tick().await;
        if pool.is_closed() {
            return;
        }
        let started = std::time::Instant::now();
        let frames = match passive(&pool, &mut syncer).await {
            Ok(frames) => frames,
            Err(e) => {
                if pool.is_closed() {
                    return;
                }
                tracing::warn!(error = %e, "WAL checkpoint failed");
                continue;
            }
        };
        if frames < RESTART_FRAMES.load(std::sync::atomic::Ordering::Relaxed) {
            continue;
        }
        // What the restart copies and syncs under the writer is what was committed since the
        // last pass: run more passes first while each is quicker than the one before (the
        // writer does not outpace them), until one is quick enough that little can have been
        // committed meanwhile.
        let mut last = started.elapsed();
        for _ in 0..CATCH_UP_PASSES {
            if last < CAUGHT_UP {
                break;
            }
            let started = std::time::Instant::now();
            if passive(&pool, &mut syncer).await.is_err() {
                break;
            }
            let took = started.elapsed();
            if took >= last {
                break;
            }
            last = took;
        }
        match restart_wal(&write).await {
            Ok(true) => {}
            Ok(false) => tracing::debug!("readers kept the WAL restart from finishing; next tick"),
            Err(e) => {
                if write.is_closed() {
                    return;
                }
                tracing::warn!(error = %e, "WAL restart failed");
            }
        }
    }
}

/// Passes of [`passive`] at most before a restart ([`checkpoints`]).
const CATCH_UP_PASSES: usize = 4;

/// A pass this short leaves little for the restart to copy.
const CAUGHT_UP: Duration = Duration::from_millis(5);

/// One `PASSIVE` checkpoint on a read connection, then a sync of the database file when it
/// copied frames; answers the frames in the WAL.
async fn passive(pool: &Readers, syncer: &mut Syncer) -> std::result::Result<i64, sqlx::Error> {
    let row = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
        .fetch_one(pool)
        .await?;
    // (busy, frames in the WAL, frames copied)
    let frames = row.try_get::<i64, _>(1).unwrap_or(0);
    let copied = row.try_get::<i64, _>(2).unwrap_or(0);
    syncer.after_checkpoint(frames, copied).await;
    Ok(frames)
}

/// Syncs the database file after passive checkpoints that copied frames ([`checkpoints`]),
/// on a connection opened for each sync (kept open, it would outlive `Db::close` and leave
/// the WAL behind).
struct Syncer {
    file: Option<std::path::PathBuf>,
    /// The WAL's frames and the copied ones when the file was last synced.
    synced: (i64, i64),
}

impl Syncer {
    fn new(file: Option<std::path::PathBuf>) -> Syncer {
        Syncer {
            file,
            synced: (0, 0),
        }
    }

    async fn after_checkpoint(&mut self, frames: i64, copied: i64) {
        let Some(file) = self.file.clone() else {
            return;
        };
        if copied <= 0 || (frames, copied) == self.synced {
            return;
        }
        let synced = tokio::task::spawn_blocking(move || {
            crate::sqlite_direct::Direct::open(
                &file,
                &format!("PRAGMA busy_timeout={BUSY_TIMEOUT_MS};"),
            )?
            .sync_database()
        })
        .await;
        match synced {
            Ok(Ok(())) => self.synced = (frames, copied),
            Ok(Err(e)) => tracing::warn!(error = %e, "syncing the database file failed"),
            Err(e) => tracing::warn!(error = %e, "the database sync task failed"),
        }
    }
}

/// A `RESTART` checkpoint on the writer's connection, waiting at most [`RESTART_WAIT_MS`]
/// for readers; answers whether it finished (one that could not is tried again at the next
/// tick).
async fn restart_wal(write: &AnyPool) -> std::result::Result<bool, sqlx::Error> {
    let mut conn = write.acquire().await?;
    let restarted = async {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "PRAGMA busy_timeout={RESTART_WAIT_MS};"
        )))
        .execute(&mut *conn)
        .await?;
        // (busy, frames in the WAL, frames copied): busy when readers kept it from finishing.
        let row = sqlx::query("PRAGMA wal_checkpoint(RESTART)")
            .fetch_one(&mut *conn)
            .await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "PRAGMA busy_timeout={BUSY_TIMEOUT_MS};"
        )))
        .execute(&mut *conn)
        .await?;
        Ok::<bool, sqlx::Error>(row.try_get::<i64, _>(0).unwrap_or(1) == 0)
    }
    .await;
    if restarted.is_err() {
        // Its busy timeout may be the short one: let the pool open a fresh connection.
        drop(conn.detach());
    }
    restarted
}

/// A write transaction. On SQLite it holds the single writer connection until it ends.
pub type Tx = Transaction<'static, Any>;

impl Db {
    /// Connects (creating the SQLite file and its folder if needed). Does not migrate.
    pub async fn connect(url: &str) -> Result<Db> {
        static DRIVERS: Once = Once::new();
        DRIVERS.call_once(sqlx::any::install_default_drivers);
        let backend = Backend::from_url(url)?;
        match backend {
            Backend::Sqlite => {
                crate::sqlite_direct::configure_process();
                if let Some(parent) =
                    sqlite_path(url).and_then(|p| p.parent().map(Path::to_path_buf))
                    && !parent.as_os_str().is_empty()
                {
                    std::fs::create_dir_all(&parent).map_err(|e| {
                        Error::Internal(format!("cannot create {}: {e}", parent.display()))
                    })?;
                }
                let url = with_rwc(url);
                let write = sqlite_options(1, true)
                    .after_release(|conn, _meta| Box::pin(sqlite_writer_is_clean(conn)))
                    .connect(&url)
                    .await?;
                let read = Readers::new(
                    sqlite_options(READERS, false).connect(&url).await?,
                    READERS as usize,
                );
                let task =
                    tokio::spawn(checkpoints(read.clone(), write.clone(), sqlite_path(&url)));
                let checkpoints = Some(std::sync::Arc::new(Checkpointer(std::sync::Mutex::new(
                    Some(task),
                ))));
                Ok(Db {
                    read,
                    write,
                    backend,
                    feed: Default::default(),
                    versions: Default::default(),
                    shop_cache: Default::default(),
                    for_sale_cache: Default::default(),
                    order_commits: Default::default(),
                    url: url.as_str().into(),
                    checkpoints,
                })
            }
            Backend::Postgres => {
                let pool = |max: u32| {
                    AnyPoolOptions::new()
                        .max_connections(max)
                        .min_connections(0)
                        // No ping before each use: a connection that died (a restart of
                        // the server) fails its statement with a connection error, which
                        // answers 503, and sqlx closes it when it comes back.
                        .test_before_acquire(false)
                        // …and none is used after a long wait: closed after a minute
                        // unused (the readers ping theirs: `readers::RECHECK_AFTER`).
                        .idle_timeout(Duration::from_secs(60))
                        .acquire_timeout(Duration::from_secs(5))
                        .connect(url)
                };
                let read = Readers::new(pool(PG_READERS).await?, PG_READERS as usize);
                Ok(Db {
                    read,
                    write: pool(PG_WRITERS).await?,
                    backend,
                    feed: Default::default(),
                    versions: Default::default(),
                    shop_cache: Default::default(),
                    for_sale_cache: Default::default(),
                    order_commits: Default::default(),
                    url: url.into(),
                    checkpoints: None,
                })
            }
        }
    }

    /// Connects and brings the schema up to date (and the reference data with it).
    pub async fn connect_and_migrate(url: &str) -> Result<Db> {
        let db = Db::connect(url).await?;
        db.migrate().await?;
        Ok(db)
    }

    /// Runs the migrations of this backend that have not run yet, then refreshes reference
    /// tables (provinces).
    pub async fn migrate(&self) -> Result<()> {
        let dir = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        let migrator = Migrator::with_migrations(migrations(dir)?);
        migrator
            .run(&self.write)
            .await
            .map_err(|e| Error::Internal(format!("migration failed: {e}")))?;
        crate::provinces::seed(self).await?;
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The live order feed of this process.
    pub fn feed(&self) -> &crate::feed::Feed {
        &self.feed
    }

    /// The content versions of shops in this process (caches of public answers).
    pub fn versions(&self) -> &crate::versions::Versions {
        &self.versions
    }

    /// The queue of orders to group-commit (SQLite; `crate::orders::group_commit`).
    pub(crate) fn order_commits(&self) -> &crate::orders::group_commit::GroupCommit {
        &self.order_commits
    }

    /// Shops by slug kept per content version (`crate::shop_cache`).
    pub fn shop_cache(&self) -> &crate::shop_cache::ShopCache {
        &self.shop_cache
    }

    /// Variants for sale kept per settings and stock version (`crate::for_sale_cache`).
    pub fn for_sale_cache(&self) -> &crate::for_sale_cache::ForSaleCache {
        &self.for_sale_cache
    }

    /// On PostgreSQL, starts forwarding `NOTIFY` order events into this process's feed (and
    /// shop changes into its content versions).
    pub fn start_feed_listener(&self) -> Option<tokio::task::JoinHandle<()>> {
        (self.backend == Backend::Postgres).then(|| {
            crate::feed::spawn_listener(
                self.url.to_string(),
                self.feed.clone(),
                self.versions.clone(),
            )
        })
    }

    /// The connections for reads (an sqlx executor, like a pool).
    pub fn read(&self) -> &Readers {
        &self.read
    }

    /// The SQLite database file (None on PostgreSQL and for in-memory databases).
    pub(crate) fn sqlite_file(&self) -> Option<std::path::PathBuf> {
        match self.backend {
            Backend::Sqlite => sqlite_path(&self.url),
            Backend::Postgres => None,
        }
    }

    /// The pool for single write statements outside a transaction.
    pub fn write(&self) -> &AnyPool {
        &self.write
    }

    /// Begins a write transaction. Its first statement should be a write (SQLite discipline).
    pub async fn begin(&self) -> Result<Tx> {
        Ok(self.write.begin().await?)
    }

    /// Checks that the database answers (readiness).
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.read).await?;
        Ok(())
    }

    /// Closes the order writer's connection (after the orders queued for it) and both pools,
    /// waiting for connections in use to be returned. On SQLite the last connection to close
    /// copies the WAL into the database file and removes it: the file alone holds every order.
    pub async fn close(&self) {
        self.order_commits.close().await;
        self.read.close().await;
        self.write.close().await;
        if let Some(c) = &self.checkpoints {
            c.stopped().await;
        }
    }
}

/// SQLite read connections (each has its own thread).
const READERS: u32 = 4;
/// PostgreSQL connections for reads, and for writes (order transactions, member writes).
const PG_READERS: u32 = 8;
const PG_WRITERS: u32 = 16;

/// Every SQLite connection's `busy_timeout` (ms).
const BUSY_TIMEOUT_MS: u32 = 5000;

/// The writer's `journal_size_limit`: the size a restarted WAL file is trimmed back to
/// (256 MB, what [`RESTART_FRAMES`] lets it reach; see [`checkpoints`]). Trimming a file of
/// a gigabyte back to 64 MB is the likely cause of the old restarts' long stalls (not
/// isolated: the restart size changed with it).
const WAL_SIZE_LIMIT: u64 = 256 << 20;

/// The pragmas every SQLite connection runs; a writer's leave checkpoints to [`checkpoints`].
fn sqlite_pragmas(writer: bool) -> String {
    let common = format!(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout={BUSY_TIMEOUT_MS}; \
         PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY;"
    );
    if writer {
        format!("{common} PRAGMA wal_autocheckpoint=0; PRAGMA journal_size_limit={WAL_SIZE_LIMIT};")
    } else {
        common
    }
}

/// What the order writer's own connection runs when it opens (`orders::group_commit`): the
/// write pool's pragmas.
pub(crate) fn sqlite_writer_setup() -> String {
    sqlite_pragmas(true)
}

/// Pool options for SQLite.
fn sqlite_options(max: u32, writer: bool) -> AnyPoolOptions {
    let pragmas = sqlite_pragmas(writer);
    AnyPoolOptions::new()
        .max_connections(max)
        .min_connections(0)
        // A connection to a local file does not go stale: no ping (a round trip to the
        // connection's thread) before each use.
        .test_before_acquire(false)
        .acquire_timeout(Duration::from_secs(10))
        .after_connect(move |conn, _meta| {
            let pragmas = pragmas.clone();
            Box::pin(async move {
                if conn.backend_name() == "SQLite" {
                    sqlx::raw_sql(sqlx::AssertSqlSafe(pragmas))
                        .execute(&mut *conn)
                        .await?;
                }
                Ok(())
            })
        })
}

/// Whether the SQLite writer may go back to the pool (else it is closed, which rolls back
/// whatever is open, and the next acquire opens a fresh one).
///
/// When the disk is full or a write fails, SQLite may roll a transaction back by itself, or
/// keep it open after a failed `COMMIT`; sqlx's transaction depth and SQLite's then differ.
/// Kept, such a connection runs the next transaction as a savepoint nested in a stale one
/// (or leaves a `ROLLBACK TO` open): the next order "commits" and is answered, yet never
/// reaches the disk (`tests/faults_sqlite.rs` caught it). The probe runs after any rollback
/// queued by a dropped transaction: `BEGIN` fails if SQLite still has one open.
async fn sqlite_writer_is_clean(
    conn: &mut sqlx::AnyConnection,
) -> std::result::Result<bool, sqlx::Error> {
    use sqlx::Connection;
    let probe = sqlx::raw_sql("BEGIN; ROLLBACK").execute(&mut *conn).await;
    let clean = probe.is_ok() && !conn.is_in_transaction();
    if !clean {
        tracing::warn!(
            "closing the SQLite writer: its transaction state is unknown after an error"
        );
    }
    Ok(clean)
}

/// The file path of a `sqlite://path?…` URL (None for in-memory databases).
pub fn sqlite_path(url: &str) -> Option<std::path::PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or("");
    if path.is_empty() || path == ":memory:" {
        None
    } else {
        Some(std::path::PathBuf::from(path))
    }
}

fn with_rwc(url: &str) -> String {
    if url.contains("mode=") {
        url.to_string()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}

/// A database URL with its password hidden, for logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

fn migrations(dir: &'static Dir<'static>) -> Result<Vec<Migration>> {
    let mut out = Vec::new();
    for file in dir.files() {
        let name = file
            .path()
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("");
        let Some(stem) = name.strip_suffix(".sql") else {
            continue;
        };
        let (num, desc) = stem.split_once('_').unwrap_or((stem, ""));
        let version: i64 = num
            .parse()
            .map_err(|_| Error::Internal(format!("migration file without a number: {name}")))?;
        let sql = file
            .contents_utf8()
            .ok_or_else(|| Error::Internal(format!("migration {name} is not UTF-8")))?;
        out.push(Migration::new(
            version,
            Cow::Owned(desc.replace('_', " ")),
            MigrationType::Simple,
            sqlx::SqlSafeStr::into_sql_str(sql),
            false,
        ));
    }
    out.sort_by_key(|m| m.version);
    Ok(out)
}

/// Reads a boolean column on either backend (SQLite stores 0/1 integers, PostgreSQL BOOLEAN).
pub fn bool_col(row: &AnyRow, col: &str) -> Result<bool> {
    if let Ok(v) = row.try_get::<i64, _>(col) {
        return Ok(v != 0);
    }
    Ok(row.try_get::<bool, _>(col)?)
}

/// True when a database error says the storage cannot serve right now rather than that the
/// request is wrong: no connection from the pool, a broken connection, a server shutting down
/// or restarting, a full disk, a read-only or unreadable file. A later retry can succeed, so
/// these become [`Error::Unavailable`] (HTTP 503 / GraphQL `UNAVAILABLE`), not `INTERNAL`.
pub fn is_unavailable(e: &sqlx::Error) -> bool {
    use sqlx::error::DatabaseError;
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(d) => {
            if let Some(s) = d.try_downcast_ref::<sqlx::sqlite::SqliteError>() {
                let code = s.code().and_then(|c| c.parse::<i32>().ok()).unwrap_or(0);
                crate::sqlite_direct::is_unavailable_code(code)
            } else if let Some(p) = d.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                // SQLSTATE classes 08 (connection exception) and 53 (insufficient resources:
                // disk full, out of memory, too many connections); 57P01–57P03: the server is
                // shutting down, crashed or is starting up.
                let code = p.code();
                code.starts_with("08")
                    || code.starts_with("53")
                    || matches!(code, "57P01" | "57P02" | "57P03")
            } else {
                false
            }
        }
        _ => false,
    }
}

/// `$2, $3, …` placeholders for `n` values after `first` fixed parameters (IN lists).
pub fn placeholders(first: usize, n: usize) -> String {
    (0..n)
        .map(|i| format!("${}", first + i + 1))
        .collect::<Vec<_>>()
        .join(", ")
}

/// For unit tests: a SQLite database in a fresh temp folder, migrated or not; the folder is
/// the caller's to remove.
#[cfg(test)]
pub(crate) async fn temp_sqlite(name: &str, migrate: bool) -> (std::path::PathBuf, Db) {
    let dir = std::env::temp_dir().join(format!("choso-{name}-{}", crate::ids::new_id()));
    let db = Db::connect(&format!("sqlite://{}/t.db", dir.display()))
        .await
        .expect("connect");
    if migrate {
        db.migrate().await.expect("migrate");
    }
    (dir, db)
}

/// For unit tests: only this backend's migrations up to `version` (a database made before
/// the later ones), without the reference data.
#[cfg(test)]
pub(crate) async fn migrate_to(db: &Db, version: i64) {
    let dir = match db.backend {
        Backend::Sqlite => &SQLITE_MIGRATIONS,
        Backend::Postgres => &POSTGRES_MIGRATIONS,
    };
    let older = migrations(dir)
        .expect("migrations")
        .into_iter()
        .filter(|m| m.version <= version)
        .collect();
    Migrator::with_migrations(older)
        .run(&db.write)
        .await
        .expect("migrate");
}

/// For unit tests: writes rows into a database with its foreign keys off, as one SQL text
/// (rows whose parents the test does not need), and turns them on again.
#[cfg(test)]
pub(crate) async fn seed_without_foreign_keys(db: &Db, sql: &str) {
    let text = format!("PRAGMA foreign_keys=OFF; {sql}; PRAGMA foreign_keys=ON;");
    let mut conn = db.write().acquire().await.expect("connection");
    sqlx::raw_sql(sqlx::AssertSqlSafe(text))
        .execute(&mut *conn)
        .await
        .expect("seed");
}

/// For unit tests: SQLite's plan for a statement, one line per step (text parameters).
#[cfg(test)]
pub(crate) async fn query_plan(db: &Db, sql: &str, binds: &[&str]) -> Vec<String> {
    let mut q = sqlx::query(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")));
    for b in binds {
        q = q.bind(b.to_string());
    }
    q.fetch_all(db.read())
        .await
        .expect("plan")
        .iter()
        .map(|r| r.try_get::<String, _>("detail").unwrap_or_default())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tables the app deletes rows from: every `DELETE FROM` in the sources of the
    /// services, the GraphQL layer and the binary. No key of a row is ever updated, and the
    /// other tables' rows (shops, users, orders, the province's reference data and register)
    /// are never deleted.
    fn deleted_from() -> std::collections::BTreeSet<String> {
        fn walk(dir: &std::path::Path, out: &mut std::collections::BTreeSet<String>) {
            for entry in std::fs::read_dir(dir).expect("source folder").flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, out);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).expect("source");
                    // Spelt in two, or this line would be a deletion without a table.
                    for after in text.split(concat!("DELETE", " FROM ")).skip(1) {
                        let table: String = after
                            .chars()
                            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                            .collect();
                        // A table named only at run time (a formatted name after the
                        // keywords) would escape the tests that rely on this list.
                        assert!(
                            !table.is_empty(),
                            "{}: a deletion whose table is not written out",
                            path.display()
                        );
                        out.insert(table);
                    }
                }
            }
        }
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut out = std::collections::BTreeSet::new();
        for dir in ["services/src", "graphql/src", "src"] {
            walk(&root.join(dir), &mut out);
        }
        out
    }

    /// Every foreign key to a table the app deletes from has an index on its child columns
    /// (an index or primary key whose leading columns are the key's): when a parent row is
    /// deleted, SQLite (and PostgreSQL) check its key by looking for children, and without
    /// such an index that look scans the child table, or the shop's part of it, per row.
    #[tokio::test]
    async fn every_foreign_key_to_deleted_rows_has_an_index_on_its_child_columns() {
        let (dir, db) = temp_sqlite("fk-indexes", true).await;
        let deleted = deleted_from();
        assert!(
            deleted.contains("variants") && deleted.contains("products"),
            "{deleted:?}"
        );
        let names = |sql: String| {
            let db = db.clone();
            async move {
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .fetch_all(db.read())
                    .await
                    .expect("pragma")
            }
        };
        let tables: Vec<String> = names(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
             AND name NOT LIKE '_sqlx%' ORDER BY name"
                .into(),
        )
        .await
        .iter()
        .map(|r| r.try_get("name").expect("name"))
        .collect();
        let mut uncovered = Vec::new();
        for table in &tables {
            // The foreign keys, each as its child columns in order.
            let mut keys: std::collections::BTreeMap<i64, Vec<(i64, String, String)>> =
                Default::default();
            for r in names(format!("PRAGMA foreign_key_list('{table}')")).await {
                let id: i64 = r.try_get("id").expect("id");
                let seq: i64 = r.try_get("seq").expect("seq");
                let from: String = r.try_get("from").expect("from");
                let parent: String = r.try_get("table").expect("table");
                keys.entry(id).or_default().push((seq, from, parent));
            }
            // The leading columns of each index (a primary key is one too: its autoindex, or
            // the table itself without a rowid).
            let mut leading: Vec<Vec<String>> = Vec::new();
            for i in names(format!("PRAGMA index_list('{table}')")).await {
                if i.try_get::<i64, _>("partial").expect("partial") != 0 {
                    continue;
                }
                let index: String = i.try_get("name").expect("name");
                let mut cols: Vec<(i64, String)> = names(format!("PRAGMA index_info('{index}')"))
                    .await
                    .iter()
                    .map(|c| {
                        (
                            c.try_get("seqno").expect("seqno"),
                            c.try_get::<Option<String>, _>("name")
                                .expect("name")
                                .unwrap_or_default(),
                        )
                    })
                    .collect();
                cols.sort();
                leading.push(cols.into_iter().map(|(_, c)| c).collect());
            }
            for (_, mut cols) in keys {
                cols.sort();
                if !deleted.contains(&cols[0].2) {
                    continue;
                }
                let child: Vec<String> = cols.iter().map(|(_, c, _)| c.clone()).collect();
                let covered = leading.iter().any(|index| {
                    index.len() >= child.len()
                        && child.iter().all(|c| index[..child.len()].contains(c))
                });
                if !covered {
                    uncovered.push(format!("{table} ({}) → {}", child.join(", "), cols[0].2));
                }
            }
        }
        assert!(uncovered.is_empty(), "{uncovered:#?}");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn urls() {
        assert_eq!(
            Backend::from_url("sqlite://data/x.db").unwrap(),
            Backend::Sqlite
        );
        assert_eq!(
            Backend::from_url("postgres://u@h/db").unwrap(),
            Backend::Postgres
        );
        assert!(Backend::from_url("mysql://h/db").is_err());
        assert_eq!(
            sqlite_path("sqlite://data/choso.db?mode=rwc")
                .unwrap()
                .to_str(),
            Some("data/choso.db")
        );
        assert_eq!(with_rwc("sqlite://a.db"), "sqlite://a.db?mode=rwc");
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
    }

    /// Commits back to back, as under a stream of orders, never leave SQLite a moment with
    /// the whole WAL copied, so it never starts the WAL over by itself (it grew by every
    /// commit: 1 GB in ten seconds of orders). The checkpointer restarts it: 384 MB written in
    /// 64 KB commits leave a WAL at most half that (without the restart it holds all of it
    /// and more) and the data intact. The bound leaves the restart (every 200 ms once past
    /// 16 MB here) a second or two of writing to land: loaded CI machines saw 70 MB and 114 MB.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_stays_bounded_under_back_to_back_commits() {
        // A 16 MB threshold instead of 256 MB keeps the test small (other tests' databases
        // stay far below either).
        RESTART_FRAMES.store(4096, std::sync::atomic::Ordering::Relaxed);
        let (dir, db) = temp_sqlite("wal", false).await;
        sqlx::query("CREATE TABLE blobs (id BIGINT PRIMARY KEY, body TEXT NOT NULL)")
            .execute(db.write())
            .await
            .expect("table");
        let pragma = |pool: &AnyPool, name: &'static str| {
            let pool = pool.clone();
            async move {
                sqlx::query(sqlx::AssertSqlSafe(format!("PRAGMA {name}")))
                    .fetch_one(&pool)
                    .await
                    .expect(name)
                    .try_get::<i64, _>(0)
                    .expect("a number")
            }
        };
        assert_eq!(
            pragma(db.write(), "journal_size_limit").await,
            WAL_SIZE_LIMIT as i64
        );
        assert_eq!(
            pragma(db.write(), "busy_timeout").await,
            BUSY_TIMEOUT_MS as i64
        );
        let read_timeout: i64 = sqlx::query("PRAGMA busy_timeout")
            .fetch_one(db.read())
            .await
            .expect("busy_timeout")
            .try_get(0)
            .expect("a number");
        assert_eq!(read_timeout, BUSY_TIMEOUT_MS as i64);
        let wal = dir.join("t.db-wal");
        let (commits, size) = (6144usize, 64 * 1024);
        let mut largest = 0;
        for i in 0..commits {
            let body = format!("{i:08}").repeat(size / 8);
            let mut tx = db.write().begin().await.expect("begin");
            sqlx::query("INSERT OR REPLACE INTO blobs (id, body) VALUES ($1, $2)")
                .bind((i % 8) as i64)
                .bind(body)
                .execute(&mut *tx)
                .await
                .expect("write");
            tx.commit().await.expect("commit");
            largest = largest.max(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0));
        }
        let written = (commits * size) as u64;
        assert!(
            largest <= written / 2,
            "the WAL reached {} MB for {} MB written",
            largest >> 20,
            written >> 20
        );
        let check: String = sqlx::query("PRAGMA integrity_check")
            .fetch_one(db.read())
            .await
            .expect("integrity")
            .try_get(0)
            .expect("text");
        assert_eq!(check, "ok");
        for id in 0..8i64 {
            let last = (commits as i64 - 8..commits as i64)
                .find(|i| i % 8 == id)
                .expect("a last write");
            let body: String = sqlx::query("SELECT body FROM blobs WHERE id = $1")
                .bind(id)
                .fetch_one(db.read())
                .await
                .expect("row")
                .try_get(0)
                .expect("body");
            assert_eq!(body, format!("{last:08}").repeat(size / 8));
        }
        db.close().await;
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn both_backends_have_the_same_migrations() {
        let names = |d: &Dir| {
            let mut v: Vec<String> = d.files().map(|f| f.path().display().to_string()).collect();
            v.sort();
            v
        };
        assert_eq!(names(&SQLITE_MIGRATIONS), names(&POSTGRES_MIGRATIONS));
        assert!(!names(&SQLITE_MIGRATIONS).is_empty());
    }
}
