//! Read connections kept between uses, out of sqlx's pool.
//!
//! sqlx gives a connection back to its pool from a spawned task that first pings it: on
//! SQLite a round trip to the connection's thread (two thread wake-ups), on PostgreSQL one
//! to the server, after every statement run on a pool. Reads are most of the statements, and
//! a checkout makes three, so [`Readers`] keeps its connections instead: a semaphore bounds
//! them (the pool's size), an idle stack holds them between uses, and one goes back to sqlx
//! (which pings it, then keeps or closes it) only when its statement failed or was dropped
//! before it finished, the cases the ping is for. A connection that waited in the stack
//! longer than [`RECHECK_AFTER`] is pinged before it serves again, as sqlx would: on
//! PostgreSQL a firewall or the server may have dropped it in the meantime.
//!
//! `&Readers` is an sqlx [`Executor`], so `query.fetch_all(db.read())` reads as before. Rows
//! are gathered before they are handed on (every read here wants them all, or one).

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use futures_util::{StreamExt, TryStreamExt, future::BoxFuture, stream::BoxStream};
use sqlx::{
    Any, AnyPool, Connection, Database, Either, Execute, Executor,
    any::{AnyQueryResult, AnyRow},
    pool::PoolConnection,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How long a connection may wait unused before it is pinged on its next use.
pub const RECHECK_AFTER: Duration = Duration::from_secs(30);

/// The read connections of one database: cheap to clone.
#[derive(Clone, Debug)]
pub struct Readers {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    pool: AnyPool,
    permits: Arc<Semaphore>,
    /// Connections between uses, with the time each came back; `None` once closed.
    idle: Mutex<Option<Vec<Idle>>>,
    recheck_after: Duration,
}

/// A connection between uses, and when it came back.
type Idle = (PoolConnection<Any>, Instant);

/// A read connection for one use; back to the idle stack when dropped after a statement that
/// finished, else back to sqlx's pool.
pub struct Reader {
    conn: Option<PoolConnection<Any>>,
    inner: Arc<Inner>,
    /// Set once the use finished cleanly.
    clean: bool,
    _permit: OwnedSemaphorePermit,
}

impl Readers {
    /// Readers over `pool`, at most `size` at a time (the pool's `max_connections`).
    pub fn new(pool: AnyPool, size: usize) -> Readers {
        Readers::rechecking_after(pool, size, RECHECK_AFTER)
    }

    fn rechecking_after(pool: AnyPool, size: usize, recheck_after: Duration) -> Readers {
        Readers {
            inner: Arc::new(Inner {
                pool,
                permits: Arc::new(Semaphore::new(size)),
                idle: Mutex::new(Some(Vec::with_capacity(size))),
                recheck_after,
            }),
        }
    }

    /// A connection: an idle one, else a new one from the pool. Waits as long as the pool's
    /// `acquire_timeout` when all are in use.
    pub async fn acquire(&self) -> Result<Reader, sqlx::Error> {
        let wait = self.inner.pool.options().get_acquire_timeout();
        let permit = tokio::time::timeout(wait, self.inner.permits.clone().acquire_owned())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)?
            .map_err(|_| sqlx::Error::PoolClosed)?;
        let idle = match self.inner.idle.lock() {
            Ok(mut idle) => match idle.as_mut() {
                Some(stack) => stack.pop(),
                None => return Err(sqlx::Error::PoolClosed),
            },
            Err(_) => None,
        };
        let conn = match idle {
            Some((mut c, since)) if since.elapsed() >= self.inner.recheck_after => {
                if c.ping().await.is_ok() {
                    c
                } else {
                    // sqlx closes it on its way back; a new one takes its place.
                    drop(c);
                    self.inner.pool.acquire().await?
                }
            }
            Some((c, _)) => c,
            None => self.inner.pool.acquire().await?,
        };
        Ok(Reader {
            conn: Some(conn),
            inner: self.inner.clone(),
            clean: false,
            _permit: permit,
        })
    }

    /// Whether [`Readers::close`] ran.
    pub fn is_closed(&self) -> bool {
        self.inner.pool.is_closed()
    }

    /// Closes the readers: idle connections and those in use when they come back.
    pub async fn close(&self) {
        self.inner.permits.close();
        let idle = self.inner.idle.lock().ok().and_then(|mut i| i.take());
        drop(idle);
        self.inner.pool.close().await;
    }
}

impl Reader {
    /// Marks this use finished: the connection may serve the next read as it is.
    fn finished(&mut self) {
        self.clean = true;
    }

    fn conn(&mut self) -> &mut sqlx::AnyConnection {
        // Present from `acquire` until `drop`.
        self.conn.as_deref_mut().expect("reader connection")
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        if !self.clean {
            // sqlx's return path: it pings the connection, then keeps or closes it.
            drop(conn);
            return;
        }
        if let Ok(mut idle) = self.inner.idle.lock()
            && let Some(stack) = idle.as_mut()
        {
            stack.push((conn, Instant::now()));
        }
        // Closed (or a poisoned lock): `conn` drops here, back to the closing pool.
    }
}

impl<'p> Executor<'p> for &'_ Readers {
    type Database = Any;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<AnyQueryResult, AnyRow>, sqlx::Error>>
    where
        E: 'q + Execute<'q, Any>,
    {
        let readers = self.clone();
        futures_util::stream::once(async move {
            let mut reader = readers.acquire().await?;
            let all: Vec<_> = reader.conn().fetch_many(query).try_collect().await?;
            reader.finished();
            Ok::<_, sqlx::Error>(futures_util::stream::iter(all.into_iter().map(Ok)))
        })
        .try_flatten()
        .boxed()
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<AnyRow>, sqlx::Error>>
    where
        E: 'q + Execute<'q, Any>,
    {
        let readers = self.clone();
        Box::pin(async move {
            let mut reader = readers.acquire().await?;
            let row = reader.conn().fetch_optional(query).await?;
            reader.finished();
            Ok(row)
        })
    }

    fn prepare_with<'e>(
        self,
        sql: sqlx::SqlStr,
        parameters: &'e [<Any as Database>::TypeInfo],
    ) -> BoxFuture<'e, Result<<Any as Database>::Statement, sqlx::Error>>
    where
        'p: 'e,
    {
        let readers = self.clone();
        Box::pin(async move {
            let mut reader = readers.acquire().await?;
            let statement = reader.conn().prepare_with(sql, parameters).await?;
            reader.finished();
            Ok(statement)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sqlx::{Row, any::AnyPoolOptions};

    use super::*;

    /// A statement that keeps an SQLite connection busy for a few milliseconds.
    const SLOW: &str = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n \
                        WHERE i < 200000) SELECT count(*) FROM n";

    async fn readers(size: u32, wait: Duration) -> (Readers, std::path::PathBuf) {
        sqlx::any::install_default_drivers();
        let dir = std::env::temp_dir().join(format!("choso-readers-{}", crate::ids::new_id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let url = format!("sqlite://{}/r.db?mode=rwc", dir.display());
        let pool = AnyPoolOptions::new()
            .max_connections(size)
            .min_connections(0)
            .test_before_acquire(false)
            .acquire_timeout(wait)
            .connect(&url)
            .await
            .expect("connect");
        (Readers::new(pool, size as usize), dir)
    }

    /// Closes, failing the test if that hangs (sqlx's `close` waits for every connection it
    /// lent).
    async fn close(r: &Readers) {
        tokio::time::timeout(Duration::from_secs(10), r.close())
            .await
            .expect("close returned");
    }

    async fn count(r: &Readers) -> i64 {
        sqlx::query(SLOW)
            .fetch_one(r)
            .await
            .expect("count")
            .try_get(0)
            .expect("a number")
    }

    /// More reads at once than connections all finish: the ones waiting wait for a reader
    /// to come back to the idle stack, not for sqlx's pool, which never sees it return
    /// (without the semaphore they time out).
    #[tokio::test]
    async fn reads_beyond_the_connections_wait_their_turn() {
        let (r, dir) = readers(2, Duration::from_secs(2)).await;
        let reads: Vec<_> = (0..24)
            .map(|_| {
                let r = r.clone();
                tokio::spawn(async move { count(&r).await })
            })
            .collect();
        for read in reads {
            assert_eq!(read.await.expect("read task"), 200_000);
        }
        assert!(
            r.inner.pool.size() <= 2,
            "{} connections",
            r.inner.pool.size()
        );
        let idle = r.inner.idle.lock().expect("lock").as_ref().map(Vec::len);
        assert!(matches!(idle, Some(1 | 2)), "idle readers: {idle:?}");
        close(&r).await;
        std::fs::remove_dir_all(dir).ok();
    }

    /// A failed statement and a read dropped before it finished hand their connection back
    /// to sqlx; the reads after them are answered.
    #[tokio::test]
    async fn a_failed_or_dropped_read_leaves_the_next_one_whole() {
        let (r, dir) = readers(1, Duration::from_secs(5)).await;
        let Err(err) = sqlx::query("SELECT * FROM no_such_table")
            .fetch_all(&r)
            .await
        else {
            panic!("a read of a missing table succeeded");
        };
        assert!(err.to_string().contains("no_such_table"), "{err}");
        assert_eq!(count(&r).await, 200_000);
        for _ in 0..5 {
            let cut = tokio::time::timeout(Duration::from_micros(200), count(&r)).await;
            assert!(cut.is_err(), "the read was not cut short");
            assert_eq!(count(&r).await, 200_000);
        }
        let one: Option<i64> = sqlx::query("SELECT 7 WHERE 1 = 1")
            .fetch_optional(&r)
            .await
            .expect("optional")
            .map(|row| row.try_get(0).expect("a number"));
        assert_eq!(one, Some(7));
        close(&r).await;
        std::fs::remove_dir_all(dir).ok();
    }

    /// Closing does not wait for the idle connections (sqlx's `close` waits for every
    /// connection it lent), and a closed reader refuses new reads.
    #[tokio::test]
    async fn close_returns_and_refuses_new_reads() {
        let (r, dir) = readers(3, Duration::from_secs(5)).await;
        let reads: Vec<_> = (0..6)
            .map(|_| {
                let r = r.clone();
                tokio::spawn(async move { count(&r).await })
            })
            .collect();
        for read in reads {
            read.await.expect("read task");
        }
        close(&r).await;
        assert!(r.is_closed());
        let refused = sqlx::query("SELECT 1").fetch_one(&r).await.err();
        assert!(
            matches!(refused, Some(sqlx::Error::PoolClosed)),
            "{refused:?}"
        );
        std::fs::remove_dir_all(dir).ok();
    }

    /// A PostgreSQL connection that died while it waited (its backend terminated, as a
    /// firewall or a restart would) is pinged before its next use and replaced: the read
    /// is answered. Without the recheck it fails.
    #[tokio::test]
    async fn a_connection_that_died_while_idle_is_replaced() {
        let Ok(url) = std::env::var("CHOSO_TEST_POSTGRES_URL") else {
            assert!(
                std::env::var("CI").is_err(),
                "CHOSO_TEST_POSTGRES_URL must be set in CI"
            );
            eprintln!("CHOSO_TEST_POSTGRES_URL not set: skipping");
            return;
        };
        sqlx::any::install_default_drivers();
        let pool = |size| {
            AnyPoolOptions::new()
                .max_connections(size)
                .test_before_acquire(false)
                .connect(&url)
        };
        let admin = pool(1).await.expect("connect");
        for (recheck, answered) in [(Duration::ZERO, true), (Duration::MAX, false)] {
            let r = Readers::rechecking_after(pool(1).await.expect("connect"), 1, recheck);
            let pid: i32 = sqlx::query("SELECT pg_backend_pid()")
                .fetch_one(&r)
                .await
                .expect("pid")
                .try_get(0)
                .expect("a number");
            sqlx::query("SELECT pg_terminate_backend($1)")
                .bind(pid)
                .execute(&admin)
                .await
                .expect("terminate");
            tokio::time::sleep(Duration::from_millis(100)).await;
            let read = sqlx::query("SELECT 1").fetch_one(&r).await;
            assert_eq!(read.is_ok(), answered, "recheck after {recheck:?}");
            close(&r).await;
        }
        admin.close().await;
    }
}
