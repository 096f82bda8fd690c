//! The oversell check after ordering load: no variant's stock below zero, every variant's
//! stock equal to its initial stock less what its live (not cancelled) orders took, and equal
//! to the sum of its stock movements; and how many orders the run placed.

use choso_services::Db;
use sqlx::Row;

use crate::{scale::INITIAL_STOCK, sql::err};

pub struct StockCheck {
    pub variants: i64,
    /// Variants with stock below zero.
    pub negative: i64,
    /// Variants whose stock is not the initial stock less their live orders' quantities.
    pub not_initial_less_ordered: i64,
    /// Variants whose stock is not the sum of their movements.
    pub not_sum_of_movements: i64,
    /// Orders created since the run began.
    pub orders_in_run: i64,
}

impl StockCheck {
    pub fn ok(&self) -> bool {
        self.negative == 0 && self.not_initial_less_ordered == 0 && self.not_sum_of_movements == 0
    }
}

async fn one(db: &Db, sql: String) -> Result<i64, String> {
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_one(db.read())
        .await
        .map_err(err)?
        .try_get("n")
        .map_err(err)
}

/// Checks the database at `url` (every variant started with `INITIAL_STOCK`).
pub async fn check(url: &str, since_ms: i64) -> Result<StockCheck, String> {
    let db = Db::connect(url).await.map_err(err)?;
    let ordered = "SELECT l.shop_id, l.variant_id, SUM(l.quantity) AS q FROM order_lines l \
                   JOIN orders o ON o.shop_id = l.shop_id AND o.id = l.order_id \
                   WHERE o.status <> 'CANCELLED' GROUP BY l.shop_id, l.variant_id";
    let moved = "SELECT shop_id, variant_id, SUM(delta) AS d FROM stock_movements GROUP BY shop_id, variant_id";
    let check = StockCheck {
        variants: one(&db, "SELECT COUNT(*) AS n FROM variants".into()).await?,
        negative: one(&db, "SELECT COUNT(*) AS n FROM variants WHERE stock < 0".into()).await?,
        not_initial_less_ordered: one(
            &db,
            format!(
                "SELECT COUNT(*) AS n FROM variants v LEFT JOIN ({ordered}) t ON t.shop_id = v.shop_id \
                 AND t.variant_id = v.id WHERE v.stock <> {INITIAL_STOCK} - COALESCE(t.q, 0)"
            ),
        )
        .await?,
        not_sum_of_movements: one(
            &db,
            format!(
                "SELECT COUNT(*) AS n FROM variants v LEFT JOIN ({moved}) m ON m.shop_id = v.shop_id \
                 AND m.variant_id = v.id WHERE v.stock <> COALESCE(m.d, 0)"
            ),
        )
        .await?,
        orders_in_run: one(
            &db,
            format!("SELECT COUNT(*) AS n FROM orders WHERE created_at >= {since_ms}"),
        )
        .await?,
    };
    db.close().await;
    Ok(check)
}

impl std::fmt::Display for StockCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "stock check over {} variants: {} below zero, {} ≠ initial − ordered, {} ≠ Σ movements → {}; \
             {} orders placed during the run",
            self.variants,
            self.negative,
            self.not_initial_less_ordered,
            self.not_sum_of_movements,
            if self.ok() {
                "no oversell"
            } else {
                "INCONSISTENT"
            },
            self.orders_in_run
        )
    }
}
