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

use super::{Plan, Taken, Written, after_taking, take_batch};
use crate::{Db, Error, Result};

/// The savepoint each order of a group is written in.
const SAVEPOINT: &str = "order_sp";
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
                    not_preempting();
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

/// Puts the calling thread in Linux's `SCHED_BATCH` class: waking it (which SQLite's
/// connection thread does for every statement result and row it hands over) no longer
/// preempts the thread that woke it. The thread still gets its fair share of the CPU.
fn not_preempting() {
    #[cfg(target_os = "linux")]
    {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: changes only the calling thread's policy (pid 0); `param` is a valid,
        // initialised struct that outlives the call.
        let r = unsafe { libc::sched_setscheduler(0, libc::SCHED_BATCH, &param) };
        if r != 0 {
            tracing::debug!(error = %std::io::Error::last_os_error(), "SCHED_BATCH refused");
        }
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

/// How the order whose statements lead the next batch ends.
enum Finish {
    /// Its second batch: it is placed once that has run.
    Write(Box<crate::orders::Placed>, crate::sql_batch::Batch),
    /// Undo its savepoint (short of stock, or failed), then answer this.
    Undo(Result<Written>),
}

impl Finish {
    fn statements(self, batch: &mut crate::sql_batch::Batch) -> Finishing {
        match self {
            Finish::Write(order, write) => {
                batch.extend(write);
                batch.push(format!("RELEASE {SAVEPOINT}"), crate::args![]);
                Finishing::Placed(order)
            }
            Finish::Undo(result) => {
                // Two statements: a batch answers statement by statement.
                batch.push(format!("ROLLBACK TO {SAVEPOINT}"), crate::args![]);
                batch.push(format!("RELEASE {SAVEPOINT}"), crate::args![]);
                Finishing::Undone(result)
            }
        }
    }
}

/// [`Finish`] once its statements are in the batch.
enum Finishing {
    Placed(Box<crate::orders::Placed>),
    Undone(Result<Written>),
}

/// Writes the group in one transaction. Each round trip to the writer carries the end of one
/// order (its second batch, or the undoing of its savepoint) and the start of the next (its
/// savepoint and first batch): `n + 1` round trips for `n` orders, where running each order's
/// two batches in turn took `2n`. A batch stops at its first failing statement, so the rows
/// that came back tell which order failed: if it was the one ending, the next has not started
/// and starts again in the next round trip.
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
    let mut results: Vec<Option<Result<Written>>> = jobs.iter().map(|_| None).collect();
    let mut ending: Option<(usize, Finish)> = None;
    let mut next = 0;
    let mut broken = None;
    loop {
        let mut batch = crate::sql_batch::Batch::new();
        let finishing = ending.take().map(|(i, f)| (i, f.statements(&mut batch)));
        let finish_len = batch.len();
        let starting = jobs.get(next).map(|job| {
            batch.push(format!("SAVEPOINT {SAVEPOINT}"), crate::args![]);
            batch.extend(take_batch(&job.plan));
            next
        });
        if batch.is_empty() {
            break;
        }
        let (rows, mut error) = batch.run_partial(&mut tx).await;
        if let Some((i, finishing)) = finishing {
            let ran = rows.len() >= finish_len;
            match (finishing, ran) {
                (Finishing::Placed(order), true) => results[i] = Some(Ok(Written::Placed(order))),
                (Finishing::Undone(result), true) => results[i] = Some(result),
                (Finishing::Placed(_), false) => {
                    // Its second batch failed (the next order did not start): undo it alone.
                    let e = error.take().unwrap_or(Error::Unavailable);
                    ending = Some((i, Finish::Undo(Err(e))));
                    continue;
                }
                (Finishing::Undone(result), false) => {
                    // If undoing fails, SQLite has left the transaction (it rolls back by itself
                    // on some errors, such as a full disk): the group is lost.
                    let e = error.take().unwrap_or(Error::Unavailable);
                    broken = Some(match result {
                        Err(first) => first,
                        Ok(_) => e,
                    });
                    break;
                }
            }
        }
        if let Some(j) = starting {
            next += 1;
            let finish = match error {
                Some(e) => Finish::Undo(Err(e)),
                // Its rows, after its savepoint's.
                None => match after_taking(&jobs[j].plan, &rows[finish_len + 1..]) {
                    Ok(Taken::Ready(order, write)) => Finish::Write(order, write),
                    Ok(Taken::Short(short)) => Finish::Undo(Ok(Written::Short(short))),
                    Err(e) => Finish::Undo(Err(e)),
                },
            };
            ending = Some((j, finish));
        }
    }
    let outcome = match broken {
        Some(e) => Err(e),
        None => tx.commit().await.map_err(Error::from),
    };
    match outcome {
        Ok(()) => {
            for (job, r) in jobs.into_iter().zip(results) {
                let _ =
                    job.reply.send(r.unwrap_or_else(|| {
                        Err(Error::Internal("an order was not written".into()))
                    }));
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

#[cfg(test)]
mod tests {
    use sqlx::Row;

    use super::*;
    use crate::{
        accounts::{self, NewUser, Role},
        catalog::{self, ProductInput, VariantInput},
        orders::{LineInput, PaymentMethod, PlaceOrder, plan_order},
        shops::{self, NewShop},
        tenancy::MemberRole,
    };

    /// One group, written by `write_group` itself (no timing involved): 0 and 5 share an
    /// idempotency key, 2 wants more than the stock. 2 is found short after its first batch
    /// and undone alone; 5's second batch fails on the key (its first batch had taken stock
    /// and a number) and it is undone alone; 6's first batch, sent behind that failing second
    /// batch, did not run and is sent again. The outcome is what writing them one by one
    /// gives, numbers without a gap.
    #[tokio::test]
    async fn a_group_with_a_short_order_and_a_failing_one_ends_as_if_written_one_by_one() {
        let dir = std::env::temp_dir().join(format!("choso-group-{}", crate::ids::new_id()));
        let db = Db::connect(&format!("sqlite://{}/t.db", dir.display()))
            .await
            .expect("connect");
        db.migrate().await.expect("migrate");
        let user = accounts::create_user(
            &db,
            NewUser {
                email: "chu@example.vn".into(),
                password: "một mật khẩu dài".into(),
                full_name: "Chủ Tiệm".into(),
                role: Role::Merchant,
                province_code: None,
            },
        )
        .await
        .expect("user");
        let shop = shops::create_shop(
            &db,
            &user,
            NewShop {
                name: "Tiệm".into(),
                slug: Some("tiem".into()),
                theme: Some("minimal".into()),
                province_code: Some("46".into()),
                phone: Some("0912345678".into()),
                email: Some("chu@example.vn".into()),
            },
        )
        .await
        .expect("shop");
        let scope = shops::authorize(&db, &user, &shop.id, MemberRole::Owner)
            .await
            .expect("scope");
        catalog::create_product(
            &db,
            &scope,
            ProductInput {
                title: "Bánh pía".into(),
                published: Some(true),
                variants: vec![VariantInput {
                    price: "60000".into(),
                    stock: 5,
                    ..Default::default()
                }],
                ..Default::default()
            },
        )
        .await
        .expect("product");
        shops::publish(&db, &scope).await.expect("publish");
        let variant: String = sqlx::query("SELECT id FROM variants")
            .fetch_one(db.read())
            .await
            .expect("variant")
            .try_get("id")
            .expect("id");
        let orders = [
            (1, Some("k")),
            (1, None),
            (9, None),
            (1, None),
            (1, None),
            (1, Some("k")),
            (1, None),
        ];
        let mut jobs = Vec::new();
        let mut answers = Vec::new();
        for (i, (quantity, key)) in orders.iter().enumerate() {
            let p = PlaceOrder {
                shop_slug: "tiem".into(),
                lines: vec![LineInput {
                    shop_id: shop.id.clone(),
                    variant_id: variant.clone(),
                    quantity: *quantity,
                }],
                customer_name: format!("Khách {i}"),
                customer_phone: "0912345678".into(),
                customer_email: Some("khach@example.vn".into()),
                address_line: "5 Trần Hưng Đạo".into(),
                ward: None,
                province_code: "46".into(),
                payment_method: PaymentMethod::Cod,
                idempotency_key: key.map(String::from),
                note: None,
            };
            let plan = plan_order(&db, p).await.expect("plan");
            let (reply, answer) = oneshot::channel();
            jobs.push(Job { plan, reply });
            answers.push(answer);
        }
        write_group(db.write(), jobs).await;
        let mut numbers = Vec::new();
        for (i, answer) in answers.into_iter().enumerate() {
            match (i, answer.await.expect("answered")) {
                (2, Ok(Written::Short(short))) => assert_eq!(short, vec![variant.clone()]),
                (5, Err(e)) => assert!(
                    e.unique_violation()
                        .is_some_and(|c| c.contains("idempotency")),
                    "{e}"
                ),
                (_, Ok(Written::Placed(placed))) => numbers.push((i, placed.order.number)),
                (i, other) => panic!("order {i}: {other:?}"),
            }
        }
        assert_eq!(
            numbers,
            vec![(0, 1001), (1, 1002), (3, 1003), (4, 1004), (6, 1005)]
        );
        let one = |sql: &'static str| {
            let db = db.clone();
            async move {
                sqlx::query(sql)
                    .fetch_one(db.read())
                    .await
                    .expect(sql)
                    .try_get::<i64, _>(0)
                    .expect("a number")
            }
        };
        assert_eq!(one("SELECT COUNT(*) FROM orders").await, 5);
        assert_eq!(one("SELECT MIN(number) FROM orders").await, 1001);
        assert_eq!(one("SELECT MAX(number) FROM orders").await, 1005);
        assert_eq!(one("SELECT order_seq FROM shops").await, 1005);
        assert_eq!(one("SELECT stock FROM variants").await, 0);
        assert_eq!(one("SELECT SUM(quantity) FROM order_lines").await, 5);
        assert_eq!(
            one("SELECT SUM(delta) FROM stock_movements WHERE reason = 'order'").await,
            -5
        );
        assert_eq!(
            one("SELECT COUNT(*) FROM outbox WHERE kind = 'order_confirmation'").await,
            5
        );
        drop(db);
        let _ = std::fs::remove_dir_all(dir);
    }
}
