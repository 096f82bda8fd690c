//! Group commit of orders on SQLite. SQLite has one writer, and a transaction's fixed costs
//! (`BEGIN`, `COMMIT` with its write to the WAL) were most of an order's time on it. Orders
//! placed while the writer is busy wait in a queue; one thread takes everything queued (up to
//! [`MAX_GROUP`]) and writes it in one transaction. An order short of stock writes nothing;
//! an order that fails is undone alone: the group is then written again, each order inside
//! its own savepoint (see [`write_in`]). Nobody hears of an order before
//! the transaction holding it has committed: if the commit fails, every order of the group
//! answers the error and none exists. An order that arrives while the writer is idle is
//! written at once, alone.
//!
//! The thread writes through a SQLite connection of its own, run on the thread itself
//! ([`crate::sqlite_direct`]): through sqlx, every statement and every row crossed to the
//! connection's thread and back, and those hand-offs bounded the writer. While it writes a
//! group it holds the write pool's connection, so no other write of this process (a member's
//! edit, the mail worker, the WAL restart) runs in between.
//!
//! PostgreSQL writes each order in its own transaction (many writers, row locks).

use std::{
    path::PathBuf,
    sync::{Arc, OnceLock},
};

use tokio::sync::{mpsc, oneshot};

use super::{Plan, Taken, Written, after_taking, take_direct, write_direct_unguarded};
use crate::{Db, Error, Result, sqlite_direct::Direct};

/// At most this many orders share a transaction.
pub const MAX_GROUP: usize = 64;
/// Orders that may wait for the writer before placing one waits to queue.
const QUEUE: usize = 1024;

struct Job {
    plan: Arc<Plan>,
    reply: oneshot::Sender<Result<Written>>,
}

/// What the order writer's queue carries.
enum Message {
    Order(Job),
    /// Write what came before, close the connection, then answer.
    Close(oneshot::Sender<()>),
}

/// The queue to the order writer of one database (held by [`Db`]); the writer thread starts
/// with the first order and ends when the last handle to the database is dropped.
#[derive(Default)]
pub struct GroupCommit {
    queue: OnceLock<mpsc::Sender<Message>>,
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
            let writer = Writer::new(db.sqlite_file());
            std::thread::Builder::new()
                .name("choso-orders".into())
                .spawn(move || {
                    not_preempting();
                    match tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    {
                        Ok(rt) => rt.block_on(run(pool, writer, rx)),
                        Err(e) => tracing::error!(error = %e, "cannot start the order writer"),
                    }
                })
                .ok();
            tx
        });
        let (reply, answer) = oneshot::channel();
        queue
            .send(Message::Order(Job { plan, reply }))
            .await
            .map_err(|_| Error::Unavailable)?;
        answer.await.map_err(|_| Error::Unavailable)?
    }

    /// Writes the orders queued so far, then closes the writer's connection (`Db::close`:
    /// the last connection to close copies the WAL into the database file and removes it).
    pub(crate) async fn close(&self) {
        if let Some(queue) = self.queue.get() {
            let (done, closed) = oneshot::channel();
            if queue.send(Message::Close(done)).await.is_ok() {
                let _ = closed.await;
            }
        }
    }
}

/// Puts the calling thread in Linux's `SCHED_BATCH` class: waking it does not preempt the
/// thread that woke it (a tokio worker queueing an order). The thread still gets its fair
/// share of the CPU.
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

async fn run(pool: sqlx::AnyPool, mut writer: Writer, mut queue: mpsc::Receiver<Message>) {
    let mut messages = Vec::with_capacity(MAX_GROUP);
    while queue.recv_many(&mut messages, MAX_GROUP).await > 0 {
        let mut jobs = Vec::with_capacity(messages.len());
        for message in messages.drain(..) {
            match message {
                Message::Order(job) => jobs.push(job),
                Message::Close(done) => {
                    if !jobs.is_empty() {
                        write_group(&pool, &mut writer, std::mem::take(&mut jobs)).await;
                    }
                    writer.conn = None;
                    let _ = done.send(());
                }
            }
        }
        if !jobs.is_empty() {
            write_group(&pool, &mut writer, jobs).await;
        }
    }
}

/// The same failure, for each order of a group that shares it.
fn shared(e: &Error) -> Error {
    match e {
        Error::Unavailable => Error::Unavailable,
        other => Error::Internal(other.to_string()),
    }
}

/// The order writer's own connection: opened on first use, and again after a failure left
/// its transaction in doubt.
struct Writer {
    file: Option<PathBuf>,
    conn: Option<Direct>,
}

impl Writer {
    fn new(file: Option<PathBuf>) -> Writer {
        Writer { file, conn: None }
    }

    /// Writes the orders in one transaction: each one's outcome, or the failure that lost
    /// them all (nothing written).
    fn write(&mut self, jobs: &[Job]) -> Result<Vec<Result<Written>>> {
        let conn = match &mut self.conn {
            Some(conn) => conn,
            slot @ None => {
                let file = self.file.as_ref().ok_or_else(|| {
                    Error::Internal("orders on SQLite need a database file".into())
                })?;
                slot.insert(Direct::open(file, &crate::db::sqlite_writer_setup())?)
            }
        };
        let outcome = write_in(conn, jobs);
        if outcome.is_err() && conn.in_transaction() && conn.query("ROLLBACK", &[]).is_err() {
            // Its state is unknown: a fresh connection for the next group.
            tracing::warn!("closing the order writer's connection: it could not roll back");
            self.conn = None;
        }
        outcome
    }
}

/// [`Writer::write`] on an open connection; on failure the transaction may still be open.
///
/// The group is written first without a savepoint per order
/// ([`write_direct_unguarded`]: an order found short writes nothing). Should any order fail
/// there, nothing of that pass is kept: it is rolled back and the group written again, each
/// order in its own savepoint, so that order is undone alone and the others are written —
/// what the second pass alone always did, at the cost of the savepoints.
fn write_in(conn: &mut Direct, jobs: &[Job]) -> Result<Vec<Result<Written>>> {
    conn.query("BEGIN IMMEDIATE", &[])?;
    match write_unguarded(conn, jobs) {
        Ok(results) => return Ok(results),
        Err(e) => {
            tracing::debug!(orders = jobs.len(), error = %e, "an order group is written again, each order in a savepoint");
            if conn.in_transaction() {
                conn.query("ROLLBACK", &[])?;
            }
            conn.query("BEGIN IMMEDIATE", &[])?;
        }
    }
    write_guarded(conn, jobs)
}

/// The first pass of [`write_in`], in the transaction it began: every order, then the commit.
fn write_unguarded(conn: &mut Direct, jobs: &[Job]) -> Result<Vec<Result<Written>>> {
    let mut results = Vec::with_capacity(jobs.len());
    for job in jobs {
        results.push(Ok(write_direct_unguarded(conn, &job.plan)?));
    }
    conn.query("COMMIT", &[])?;
    Ok(results)
}

/// The second pass of [`write_in`], in the transaction it began: each order in a savepoint.
fn write_guarded(conn: &mut Direct, jobs: &[Job]) -> Result<Vec<Result<Written>>> {
    let mut results = Vec::with_capacity(jobs.len());
    for job in jobs {
        conn.query("SAVEPOINT order_sp", &[])?;
        let result = write_one(conn, &job.plan);
        let end = match result {
            Ok(Written::Placed(_)) => conn.query("RELEASE order_sp", &[]),
            _ => conn
                .query("ROLLBACK TO order_sp", &[])
                .and_then(|_| conn.query("RELEASE order_sp", &[])),
        };
        if let Err(e) = end {
            // SQLite may have left the transaction by itself (it rolls back on some errors,
            // such as a full disk): the group is lost. The order's own error says why.
            return Err(match result {
                Err(first) => first,
                Ok(_) => e.into(),
            });
        }
        results.push(result);
    }
    conn.query("COMMIT", &[])?;
    Ok(results)
}

/// One order, in the savepoint the caller opened: its stock and number, then its rows.
fn write_one(conn: &mut Direct, plan: &Plan) -> Result<Written> {
    match after_taking(plan, take_direct(conn, plan)?)? {
        Taken::Short(short) => Ok(Written::Short(short)),
        Taken::Ready(order, write) => {
            for (sql, args) in write.statements() {
                conn.query(sql, args)?;
            }
            Ok(Written::Placed(order))
        }
    }
}

/// Writes the group and answers each order. While the group writes, the write pool's only
/// connection is held: no other writer of this process runs between its statements.
async fn write_group(pool: &sqlx::AnyPool, writer: &mut Writer, jobs: Vec<Job>) {
    let outcome = match pool.acquire().await {
        Ok(held) => {
            let outcome = writer.write(&jobs);
            drop(held);
            outcome
        }
        Err(e) => Err(Error::from(e)),
    };
    match outcome {
        Ok(results) => {
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

    /// A fresh SQLite database with one published shop (`tiem`) and one variant of 5 in
    /// stock: its folder (to remove), the database, the shop's id and the variant's.
    async fn shop_with_one_variant() -> (std::path::PathBuf, Db, crate::ShopId, String) {
        let (dir, db) = crate::db::temp_sqlite("group", true).await;
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
        (dir, db, shop.id, variant)
    }

    /// The one number `sql` answers.
    async fn number(db: &Db, sql: &str) -> i64 {
        sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
            .fetch_one(db.read())
            .await
            .expect(sql)
            .try_get::<i64, _>(0)
            .expect("a number")
    }

    /// A job for one COD order of `quantity` of the variant, and where its answer comes.
    async fn job(
        db: &Db,
        shop: &crate::ShopId,
        variant: &str,
        i: usize,
        quantity: i64,
        key: Option<&str>,
    ) -> (Job, oneshot::Receiver<Result<Written>>) {
        let p = PlaceOrder {
            shop_slug: "tiem".into(),
            lines: vec![LineInput {
                shop_id: shop.clone(),
                variant_id: variant.to_string(),
                quantity,
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
        let plan = plan_order(db, p).await.expect("plan");
        let (reply, answer) = oneshot::channel();
        (Job { plan, reply }, answer)
    }

    /// One group, written by `write_group` itself (no timing involved): 0 and 5 share an
    /// idempotency key, 2 wants more than the stock. The first pass fails on 5's key and is
    /// rolled back whole; in the second, 2 is found short after its first batch and undone
    /// alone, and 5's second batch fails on the key (its first batch had taken stock and a
    /// number) and it is undone alone. The outcome is what writing them one by one gives,
    /// numbers without a gap.
    #[tokio::test]
    async fn a_group_with_a_short_order_and_a_failing_one_ends_as_if_written_one_by_one() {
        let (dir, db, shop, variant) = shop_with_one_variant().await;
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
            let (job, answer) = job(&db, &shop, &variant, i, *quantity, *key).await;
            jobs.push(job);
            answers.push(answer);
        }
        write_group(db.write(), &mut Writer::new(db.sqlite_file()), jobs).await;
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
        assert_eq!(number(&db, "SELECT COUNT(*) FROM orders").await, 5);
        assert_eq!(number(&db, "SELECT MIN(number) FROM orders").await, 1001);
        assert_eq!(number(&db, "SELECT MAX(number) FROM orders").await, 1005);
        assert_eq!(number(&db, "SELECT order_seq FROM shops").await, 1005);
        assert_eq!(number(&db, "SELECT stock FROM variants").await, 0);
        assert_eq!(
            number(&db, "SELECT SUM(quantity) FROM order_lines").await,
            5
        );
        assert_eq!(
            number(
                &db,
                "SELECT SUM(delta) FROM stock_movements WHERE reason = 'order'"
            )
            .await,
            -5
        );
        assert_eq!(
            number(
                &db,
                "SELECT COUNT(*) FROM outbox WHERE kind = 'order_confirmation'"
            )
            .await,
            5
        );
        drop(db);
        let _ = std::fs::remove_dir_all(dir);
    }

    /// The first pass on its own: an order found short writes nothing (no number, no stock)
    /// and the others of the group are written around it, numbers without a gap; an order
    /// that fails (a key used twice) fails the pass, and rolling it back leaves nothing of
    /// the orders before it either.
    #[tokio::test]
    async fn the_first_pass_writes_around_short_orders_and_fails_whole_on_an_error() {
        let (dir, db, shop, variant) = shop_with_one_variant().await;
        let mut conn = Direct::open(
            &db.sqlite_file().expect("a file"),
            &crate::db::sqlite_writer_setup(),
        )
        .expect("open");
        let mut jobs = Vec::new();
        for (i, (quantity, key)) in [(1, Some("k")), (1, Some("k"))].into_iter().enumerate() {
            jobs.push(job(&db, &shop, &variant, i, quantity, key).await.0);
        }
        conn.query("BEGIN IMMEDIATE", &[]).expect("begin");
        let e = write_unguarded(&mut conn, &jobs).expect_err("the key is used twice");
        assert!(
            e.unique_violation()
                .is_some_and(|c| c.contains("idempotency")),
            "{e}"
        );
        conn.query("ROLLBACK", &[]).expect("rolled back");
        assert_eq!(number(&db, "SELECT COUNT(*) FROM orders").await, 0);
        assert_eq!(number(&db, "SELECT order_seq FROM shops").await, 1000);
        assert_eq!(number(&db, "SELECT stock FROM variants").await, 5);

        let mut jobs = Vec::new();
        for (i, quantity) in [2, 4, 3, 1].into_iter().enumerate() {
            jobs.push(job(&db, &shop, &variant, i, quantity, None).await.0);
        }
        conn.query("BEGIN IMMEDIATE", &[]).expect("begin");
        let results = write_unguarded(&mut conn, &jobs).expect("committed");
        assert!(!conn.in_transaction());
        let outcome: Vec<_> = results
            .iter()
            .map(|r| match r {
                Ok(Written::Placed(p)) => Some(p.order.number),
                Ok(Written::Short(short)) => {
                    assert_eq!(short, &vec![variant.clone()]);
                    None
                }
                Err(e) => panic!("{e}"),
            })
            .collect();
        // 2 of 5 leave 3; 4 is short; 3 leave none; 1 is short.
        assert_eq!(outcome, vec![Some(1001), None, Some(1002), None]);
        match &results[2] {
            Ok(Written::Placed(p)) => assert_eq!(p.left, vec![(variant.clone(), Some(0))]),
            other => panic!("{other:?}"),
        }
        assert_eq!(number(&db, "SELECT COUNT(*) FROM orders").await, 2);
        assert_eq!(number(&db, "SELECT order_seq FROM shops").await, 1002);
        assert_eq!(number(&db, "SELECT stock FROM variants").await, 0);
        assert_eq!(
            number(
                &db,
                "SELECT SUM(delta) FROM stock_movements WHERE reason = 'order'"
            )
            .await,
            -5
        );
        drop(conn);
        drop(db);
        let _ = std::fs::remove_dir_all(dir);
    }

    /// A group that finds the writer's connection inside a transaction (as SQLite can leave
    /// it after a failure) fails without writing, the transaction is rolled back, and the
    /// next group is written on the same connection with the next number. Without the
    /// rollback every later group would fail the same way.
    #[tokio::test]
    async fn a_connection_left_in_a_transaction_is_rolled_back_and_the_next_group_writes() {
        let (dir, db, shop, variant) = shop_with_one_variant().await;
        let mut writer = Writer::new(db.sqlite_file());
        let (first, answer) = job(&db, &shop, &variant, 0, 1, None).await;
        write_group(db.write(), &mut writer, vec![first]).await;
        assert!(matches!(answer.await, Ok(Ok(Written::Placed(_)))));
        let conn = writer.conn.as_mut().expect("opened by the first group");
        conn.query("BEGIN", &[]).expect("a transaction left open");
        conn.query("UPDATE shops SET order_seq = order_seq + 100", &[])
            .expect("a write in it");
        let (second, answer) = job(&db, &shop, &variant, 1, 1, None).await;
        write_group(db.write(), &mut writer, vec![second]).await;
        let e = answer
            .await
            .expect("answered")
            .expect_err("BEGIN inside a transaction");
        assert!(e.is_fault(), "{e}");
        let conn = writer.conn.as_ref().expect("kept: it could roll back");
        assert!(!conn.in_transaction());
        let (third, answer) = job(&db, &shop, &variant, 2, 1, None).await;
        write_group(db.write(), &mut writer, vec![third]).await;
        match answer.await.expect("answered") {
            Ok(Written::Placed(placed)) => assert_eq!(placed.order.number, 1002),
            other => panic!("the third order: {other:?}"),
        }
        let (orders, stock): (i64, i64) =
            sqlx::query_as("SELECT (SELECT COUNT(*) FROM orders), (SELECT stock FROM variants)")
                .fetch_one(db.read())
                .await
                .expect("counts");
        assert_eq!((orders, stock), (2, 3));
        drop(db);
        let _ = std::fs::remove_dir_all(dir);
    }

    /// `Db::close` closes the order writer's own connection with the pools: the last one to
    /// close copies the WAL into the database file and removes it, so the file alone holds
    /// every order (a copy of it made after a stop is complete).
    #[tokio::test]
    async fn closing_the_database_closes_the_writer_and_leaves_no_wal() {
        let (dir, db, shop, variant) = shop_with_one_variant().await;
        let (queued, _) = job(&db, &shop, &variant, 0, 1, None).await;
        let placed = db
            .order_commits()
            .submit(&db, queued.plan.clone())
            .await
            .expect("placed");
        assert!(matches!(placed, Written::Placed(_)));
        let wal = dir.join("t.db-wal");
        assert!(wal.exists(), "WAL mode keeps a WAL while open");
        db.close().await;
        assert!(!wal.exists(), "a connection outlived Db::close");
        let reopened = Db::connect(&format!("sqlite://{}/t.db", dir.display()))
            .await
            .expect("reopen");
        let (orders,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM orders")
            .fetch_one(reopened.read())
            .await
            .expect("count");
        assert_eq!(orders, 1);
        reopened.close().await;
        drop((db, reopened));
        let _ = std::fs::remove_dir_all(dir);
    }
}
