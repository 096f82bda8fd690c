//! Group commit of orders on SQLite. SQLite has one writer, and a transaction's fixed costs
//! (taking the writer from the pool, `BEGIN`, `COMMIT` with its write to the WAL, the
//! writer's check on release) were most of an order's time on it. Orders placed while the
//! writer is busy wait in a queue; one task takes everything queued (up to [`MAX_GROUP`]) and
//! writes it in one transaction, each order inside its own savepoint, so an order that is
//! short of stock or fails is undone alone. Nobody hears of an order before the transaction
//! holding it has committed: if the commit fails, every order of the group answers the error
//! and none exists. An order that arrives while the writer is idle is written at once, alone.
//!
//! PostgreSQL writes each order in its own transaction (many writers, row locks).

use std::sync::{Arc, OnceLock};

use tokio::sync::{mpsc, oneshot};

use super::{Plan, SAVEPOINT, Written, write_order};
use crate::{Db, Error, Result};

/// At most this many orders share a transaction.
pub const MAX_GROUP: usize = 64;
/// Orders that may wait for the writer before placing one waits to queue.
const QUEUE: usize = 1024;

struct Job {
    plan: Arc<Plan>,
    reply: oneshot::Sender<Result<Written>>,
}

/// The queue to the order writer of one database (held by [`Db`]); the writer task starts
/// with the first order and ends when the last handle to the database is dropped.
#[derive(Default)]
pub struct GroupCommit {
    queue: OnceLock<mpsc::Sender<Job>>,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit")
            .field("started", &self.queue.get().is_some())
            .finish()
    }
}

impl GroupCommit {
    /// Writes the order with whatever else is queued; answers once its transaction committed.
    pub(crate) async fn submit(&self, db: &Db, plan: Arc<Plan>) -> Result<Written> {
        let queue = self.queue.get_or_init(|| {
            let (tx, rx) = mpsc::channel(QUEUE);
            let pool = db.write().clone();
            std::thread::Builder::new()
                .name("choso-orders".into())
                .spawn(move || {
                    match tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    {
                        Ok(rt) => rt.block_on(run(pool, rx)),
                        Err(e) => tracing::error!(error = %e, "cannot start the order writer"),
                    }
                })
                .ok();
            tx
        });
        let (reply, answer) = oneshot::channel();
        queue
            .send(Job { plan, reply })
            .await
            .map_err(|_| Error::Unavailable)?;
        answer.await.map_err(|_| Error::Unavailable)?
    }
}

async fn run(pool: sqlx::AnyPool, mut queue: mpsc::Receiver<Job>) {
    let mut jobs = Vec::with_capacity(MAX_GROUP);
    while queue.recv_many(&mut jobs, MAX_GROUP).await > 0 {
        write_group(&pool, std::mem::take(&mut jobs)).await;
    }
}

/// The same failure, for each order of a group that shares it.
fn shared(e: &Error) -> Error {
    match e {
        Error::Unavailable => Error::Unavailable,
        other => Error::Internal(other.to_string()),
    }
}

async fn write_group(pool: &sqlx::AnyPool, jobs: Vec<Job>) {
    let mut tx = match pool.begin().await {
        Ok(tx) => tx,
        Err(e) => {
            let e = Error::from(e);
            for job in jobs {
                let _ = job.reply.send(Err(shared(&e)));
            }
            return;
        }
    };
    let mut results = Vec::with_capacity(jobs.len());
    let mut broken = None;
    for job in &jobs {
        let r = write_order(&mut tx, &job.plan, true).await;
        if !matches!(r, Ok(Written::Placed(_))) {
            // Undo this order alone. If that fails, SQLite has left the transaction (it rolls
            // back by itself on some errors, such as a full disk): the group is lost.
            let undo = format!("ROLLBACK TO {SAVEPOINT}; RELEASE {SAVEPOINT}");
            if let Err(e) = sqlx::raw_sql(sqlx::AssertSqlSafe(undo))
                .execute(&mut *tx)
                .await
            {
                broken = Some(match r {
                    Err(first) => first,
                    _ => Error::from(e),
                });
                break;
            }
        }
        results.push(r);
    }
    let outcome = match broken {
        Some(e) => Err(e),
        None => tx.commit().await.map_err(Error::from),
    };
    match outcome {
        Ok(()) => {
            for (job, r) in jobs.into_iter().zip(results) {
                let _ = job.reply.send(r);
            }
        }
        Err(e) => {
            tracing::warn!(orders = jobs.len(), error = %e, "an order group was not committed");
            for job in jobs {
                let _ = job.reply.send(Err(shared(&e)));
            }
        }
    }
}
