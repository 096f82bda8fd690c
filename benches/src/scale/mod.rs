//! The platform-scale data set (issue 9): a generator that fills a fresh, migrated database
//! with N shops (default 1,000), each with 100 products of two variants, two collections, one
//! owner with a live session, and 1,000 orders over the last year (1,000,000 at 1,000 shops)
//! with their lines, history, payments and stock movements; plus a province (Huế, 46) whose
//! register holds an enterprise behind every shop and as many without one, with support
//! records and programmes, and a province staff account.
//!
//! Everything is written with set-based SQL (`INSERT … SELECT` over a number table, joined
//! with small lookup tables that Rust fills) so 1,000 shops take minutes, not hours. Every
//! derived value is what the services would have written, computed with their own functions:
//! slugs and handles (`text::slugify`), search keys (`text::fold`), cleaned text
//! (`text::clean`, `text::nfc`), phone numbers (`text::Phone`), e-mail addresses
//! (`text::Email`), bank holder names (`shops::bank_account_name`), VietQR payloads
//! (`vietqr::encode` with `orders::transfer_note`), session token hashes
//! (`ids::sha256_hex`), password hashes and logins (`accounts::create_user`, `accounts::login`)
//! and the province's running totals (`support::totals::rebuild`). Ids are ULIDs whose time is
//! the row's creation time, so "newest first" lists and cursors behave as on a live platform.
//!
//! What an order writes (see `services/src/orders.rs`) is reproduced: the shop's order counter
//! (`order_seq`), the order numbered from 1001 per shop, its lines at the variant's price, its
//! history (paid by transfer, confirmed, shipped, delivered and paid in cash, or cancelled
//! with a reason and its transfer failed; the placement is the order row itself), the bank
//! notification of a paid transfer, and one stock movement per line (plus the movement that
//! returns it on cancellation) with the running `stock_after`; each variant's stock is its
//! initial stock less what its live orders took. Not generated: outbox e-mails (all long
//! delivered), carts, uploads, support audit rows, and the request hash of orders placed
//! without an idempotency key (never read).

mod catalog;
mod names;
mod orders;
mod province;
mod shops;

use std::time::Instant;

use choso_services::{Backend, Db};

use crate::{
    dataset::DataSet,
    sql::{self, count, err, exec},
};

pub use names::SEARCH_WORDS;
pub use shops::Tokens;

/// The province of every generated enterprise and of the staff account.
pub const PROVINCE: &str = "46";
/// Stock of every variant before its orders.
pub const INITIAL_STOCK: i64 = 1_000_000;
/// The password of every generated account.
pub const PASSWORD: &str = "bench password 1";
/// Every shop's shipping fee and the subtotal from which shipping is free.
pub const SHIPPING_FEE: i64 = 30_000;
pub const FREE_SHIPPING_OVER: i64 = 500_000;

pub const HOUR_MS: i64 = 3_600_000;
pub const DAY_MS: i64 = 24 * HOUR_MS;

/// The `kind` of each generated table's ids (see `sql::ulid`).
mod kind {
    pub const SHOP: u8 = 1;
    pub const USER: u8 = 2;
    pub const PRODUCT: u8 = 3;
    pub const VARIANT: u8 = 4;
    pub const IMAGE: u8 = 5;
    pub const COLLECTION: u8 = 6;
    pub const ORDER: u8 = 7;
    pub const EVENT: u8 = 8;
    pub const MOVE_INITIAL: u8 = 9;
    pub const MOVE_ORDER: u8 = 10;
    pub const MOVE_CANCEL: u8 = 11;
    pub const ENTERPRISE: u8 = 12;
    pub const PROGRAMME: u8 = 13;
    pub const RECORD: u8 = 14;
}

/// How big a platform to make.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    pub shops: usize,
    pub products: usize,
    pub orders: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            shops: 1_000,
            products: 100,
            orders: 1_000,
        }
    }
}

/// One generated shop, as the benchmark needs it.
#[derive(Debug, Clone)]
pub struct GenShop {
    pub id: String,
    pub slug: String,
    pub owner_id: String,
    pub created_at: i64,
}

/// What the steps share.
pub(crate) struct Plan {
    pub cfg: Config,
    pub now: i64,
    pub shops: Vec<GenShop>,
    pub staff_id: String,
    /// The handles of a shop's products (the same in every shop).
    pub handles: Vec<String>,
}

impl Plan {
    /// When product `t` of shop `s` was created.
    pub fn product_ts(&self, s: usize, t: usize) -> i64 {
        self.shops[s].created_at + HOUR_MS + t as i64 * 1000
    }
    /// The id of variant `v` of product `t` of shop `s` (as `catalog.rs` makes it in SQL).
    pub fn variant_id(&self, s: usize, t: usize, v: usize) -> String {
        let num = ((s * self.cfg.products + t) * 2 + v) as i64;
        sql::ulid(self.product_ts(s, t), kind::VARIANT, num)
    }
}

/// What the generator made.
pub struct Generated {
    pub dataset: DataSet,
    pub counts: Vec<(&'static str, i64)>,
    pub seconds: f64,
}

/// Tables the steps use and drop at the end.
const WORK_TABLES: &[&str] = &[
    "gen_seq",
    "gen_titles",
    "gen_customers",
    "gen_days",
    "gen_shops",
    "gen_prod",
    "gen_var",
    "gen_orders",
    "gen_qr",
    "gen_mov",
    "gen_stock",
    "gen_ent",
];

/// Fills an empty, migrated database. Prints each step's time.
pub async fn generate(db: &Db, cfg: Config) -> Result<Generated, String> {
    if cfg.shops == 0 || cfg.products < 2 || cfg.orders == 0 {
        return Err(
            "the scale data set needs ≥ 1 shop, ≥ 2 products and ≥ 1 order per shop".into(),
        );
    }
    let started = Instant::now();
    sql::check_ulid_sql(db).await?;
    if db.backend() == Backend::Sqlite {
        // A bigger page cache for the generator's own connection (the single writer).
        exec(db, "pragma", "PRAGMA cache_size = -262144".into()).await?;
    }
    let step = Step::new();
    let rows = (cfg.shops * cfg.orders.max(cfg.products * 2).max(6)) as i64;
    sql::number_table(db, "gen_seq", rows).await?;
    let mut plan = shops::accounts_and_shops(db, cfg).await?;
    step.done("accounts and shops");
    plan.handles = catalog::generate(db, &plan).await?;
    step.done("catalog");
    orders::generate(db, &plan).await?;
    step.done("orders");
    province::generate(db, &plan).await?;
    step.done("province register and totals");
    let tokens = shops::sessions(db, &plan).await?;
    step.done("sessions");
    for t in WORK_TABLES {
        exec(db, "cleanup", format!("DROP TABLE IF EXISTS {t}")).await?;
    }
    finish(db).await?;
    step.done("planner statistics");
    let mut counts = Vec::new();
    for table in [
        "shops",
        "users",
        "products",
        "variants",
        "product_images",
        "collections",
        "orders",
        "order_lines",
        "order_events",
        "payment_events",
        "stock_movements",
        "enterprises",
        "support_records",
        "enterprise_daily",
        "sessions",
    ] {
        counts.push((table, count(db, table).await?));
    }
    check_ids(db, &plan).await?;
    let dataset = DataSet::from_scale(&plan, tokens);
    Ok(Generated {
        dataset,
        counts,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Checks that the variant ids the benchmark computes are the ones in the database.
async fn check_ids(db: &Db, plan: &Plan) -> Result<(), String> {
    let (s, t) = (plan.shops.len() - 1, plan.cfg.products - 1);
    let n = sqlx::query("SELECT COUNT(*) AS n FROM variants WHERE shop_id = $1 AND id = $2")
        .bind(plan.shops[s].id.clone())
        .bind(plan.variant_id(s, t, 1))
        .fetch_one(db.read())
        .await
        .map_err(err)?;
    match sqlx::Row::try_get::<i64, _>(&n, "n").map_err(err)? {
        1 => Ok(()),
        _ => Err("the generated variant ids differ from the computed ones".into()),
    }
}

/// Planner statistics (and on SQLite a checkpoint, so the server does not start on a WAL of
/// gigabytes; on PostgreSQL a vacuum, so autovacuum does not start during the measurements).
async fn finish(db: &Db) -> Result<(), String> {
    match db.backend() {
        Backend::Sqlite => {
            exec(db, "analyze", "ANALYZE".into()).await?;
            exec(db, "checkpoint", "PRAGMA wal_checkpoint(TRUNCATE)".into()).await?;
        }
        Backend::Postgres => {
            exec(db, "vacuum", "VACUUM ANALYZE".into()).await?;
        }
    }
    Ok(())
}

/// Prints how long each step took.
struct Step {
    at: std::cell::Cell<Instant>,
}

impl Step {
    fn new() -> Step {
        Step {
            at: std::cell::Cell::new(Instant::now()),
        }
    }
    fn done(&self, what: &str) {
        println!("   {what}: {:.1} s", self.at.get().elapsed().as_secs_f64());
        self.at.set(Instant::now());
    }
}
