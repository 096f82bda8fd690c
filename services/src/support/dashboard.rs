//! The province dashboard. It reads only the register, the support records and the daily
//! per-enterprise aggregates (`enterprise_daily`), never order rows, so its cost grows with
//! the number of enterprises and days, not orders. Sales figures (orders, revenue) come only
//! from enterprises that consent to share them.

use std::collections::BTreeMap;

use sqlx::Row;

use super::{SizeClass, SupportKind, require_province, sector_name};
use crate::{accounts::User, db::Db, error::Result};

/// How many days before and after the first support `beforeAfter` compares.
pub const WINDOW_DAYS: i64 = 90;

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Dashboard {
    pub province_code: String,
    pub enterprises: i64,
    pub supported_enterprises: i64,
    pub with_live_store: i64,
    pub with_online_orders: i64,
    pub orders_after_support: i64,
    pub revenue_after_support: i64,
    pub breakdowns: Breakdowns,
    pub funnel: Funnel,
    pub before_after: BeforeAfter,
}

/// One group of a breakdown.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Group {
    pub key: String,
    pub label: String,
    /// Enterprises in the group (for programme/kind/month: enterprises with such records).
    pub enterprises: i64,
    pub supported_enterprises: i64,
    /// Support records (not voided, not rejected) and their subsidies.
    pub records: i64,
    pub subsidy: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Breakdowns {
    pub by_ward: Vec<Group>,
    pub by_sector: Vec<Group>,
    pub by_size: Vec<Group>,
    pub by_programme: Vec<Group>,
    pub by_kind: Vec<Group>,
    pub by_month: Vec<Group>,
}

/// Supported enterprises at each step.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Funnel {
    pub supported: i64,
    pub shop_created: i64,
    pub published: i64,
    pub first_order: i64,
    pub repeat_orders: i64,
}

/// Consenting supported enterprises: the 90 days before their first support against the 90
/// days from it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct BeforeAfter {
    pub enterprises: i64,
    pub window_days: i64,
    pub orders_before: i64,
    pub orders_after: i64,
    pub revenue_before: i64,
    pub revenue_after: i64,
}

const COUNTED: &str = "r.voided = FALSE AND r.status <> 'rejected'";

async fn scalar(db: &Db, sql: &'static str, province: &str) -> Result<i64> {
    let row = sqlx::query(sql)
        .bind(province.to_string())
        .fetch_one(db.read())
        .await?;
    Ok(row.try_get("n")?)
}

/// The dashboard of a province (staff of it, admins).
pub async fn dashboard(db: &Db, user: &User, province: &str) -> Result<Dashboard> {
    require_province(user, province)?;
    let p = province.trim();
    let mut d = Dashboard {
        province_code: p.to_string(),
        ..Default::default()
    };
    d.enterprises = scalar(
        db,
        "SELECT COUNT(*) AS n FROM enterprises WHERE province_code = $1",
        p,
    )
    .await?;
    d.supported_enterprises = scalar(
        db,
        "SELECT COUNT(*) AS n FROM enterprises WHERE province_code = $1 AND first_support_day IS NOT NULL",
        p,
    )
    .await?;
    d.with_live_store = scalar(
        db,
        "SELECT COUNT(*) AS n FROM enterprises e WHERE e.province_code = $1 AND e.first_support_day IS NOT NULL \
         AND EXISTS (SELECT 1 FROM enterprise_shops es JOIN shops s ON s.id = es.shop_id \
                     WHERE es.province_code = e.province_code AND es.enterprise_id = e.id AND s.published = TRUE)",
        p,
    )
    .await?;
    d.funnel.shop_created = scalar(
        db,
        "SELECT COUNT(*) AS n FROM enterprises e WHERE e.province_code = $1 AND e.first_support_day IS NOT NULL \
         AND EXISTS (SELECT 1 FROM enterprise_shops es WHERE es.province_code = e.province_code AND es.enterprise_id = e.id)",
        p,
    )
    .await?;
    let row = sqlx::query(
        "SELECT CAST(COALESCE(SUM(CASE WHEN t.n >= 1 THEN 1 ELSE 0 END), 0) AS BIGINT) AS first_order, \
         CAST(COALESCE(SUM(CASE WHEN t.n >= 2 THEN 1 ELSE 0 END), 0) AS BIGINT) AS repeat_orders \
         FROM (SELECT d.enterprise_id, SUM(d.orders) AS n FROM enterprise_daily d \
               JOIN enterprises e ON e.id = d.enterprise_id \
               WHERE d.province_code = $1 AND e.first_support_day IS NOT NULL GROUP BY d.enterprise_id) t",
    )
    .bind(p.to_string())
    .fetch_one(db.read())
    .await?;
    d.with_online_orders = row.try_get("first_order")?;
    d.funnel.first_order = d.with_online_orders;
    d.funnel.repeat_orders = row.try_get("repeat_orders")?;
    d.funnel.supported = d.supported_enterprises;
    d.funnel.published = d.with_live_store;

    let w = WINDOW_DAYS;
    let row = sqlx::query(
        "SELECT CAST(COALESCE(SUM(CASE WHEN d.day >= e.first_support_day THEN d.orders ELSE 0 END), 0) AS BIGINT) AS oa, \
         CAST(COALESCE(SUM(CASE WHEN d.day >= e.first_support_day THEN d.revenue ELSE 0 END), 0) AS BIGINT) AS ra, \
         CAST(COALESCE(SUM(CASE WHEN d.day < e.first_support_day AND d.day >= e.first_support_day - $2 THEN d.orders ELSE 0 END), 0) AS BIGINT) AS ob, \
         CAST(COALESCE(SUM(CASE WHEN d.day < e.first_support_day AND d.day >= e.first_support_day - $2 THEN d.revenue ELSE 0 END), 0) AS BIGINT) AS rb, \
         CAST(COALESCE(SUM(CASE WHEN d.day >= e.first_support_day AND d.day < e.first_support_day + $2 THEN d.orders ELSE 0 END), 0) AS BIGINT) AS ow, \
         CAST(COALESCE(SUM(CASE WHEN d.day >= e.first_support_day AND d.day < e.first_support_day + $2 THEN d.revenue ELSE 0 END), 0) AS BIGINT) AS rw \
         FROM enterprise_daily d JOIN enterprises e ON e.id = d.enterprise_id \
         WHERE d.province_code = $1 AND e.consent_share_sales = TRUE AND e.first_support_day IS NOT NULL",
    )
    .bind(p.to_string())
    .bind(w)
    .fetch_one(db.read())
    .await?;
    d.orders_after_support = row.try_get("oa")?;
    d.revenue_after_support = row.try_get("ra")?;
    d.before_after = BeforeAfter {
        enterprises: scalar(
            db,
            "SELECT COUNT(*) AS n FROM enterprises WHERE province_code = $1 AND first_support_day IS NOT NULL \
             AND consent_share_sales = TRUE",
            p,
        )
        .await?,
        window_days: w,
        orders_before: row.try_get("ob")?,
        orders_after: row.try_get("ow")?,
        revenue_before: row.try_get("rb")?,
        revenue_after: row.try_get("rw")?,
    };
    d.breakdowns = breakdowns(db, p).await?;
    Ok(d)
}

/// Groups by an enterprise column: enterprise counts, then record counts and subsidies.
async fn by_enterprise_column(
    db: &Db,
    province: &str,
    col: &str,
    label: impl Fn(&str) -> String,
) -> Result<Vec<Group>> {
    let mut groups: BTreeMap<String, Group> = BTreeMap::new();
    let sql = format!(
        "SELECT COALESCE(e.{col}, '') AS k, COUNT(*) AS n, \
         CAST(COALESCE(SUM(CASE WHEN e.first_support_day IS NOT NULL THEN 1 ELSE 0 END), 0) AS BIGINT) AS s \
         FROM enterprises e WHERE e.province_code = $1 GROUP BY COALESCE(e.{col}, '')"
    );
    for r in sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(province.to_string())
        .fetch_all(db.read())
        .await?
    {
        let k: String = r.try_get("k")?;
        let g = groups.entry(k.clone()).or_default();
        g.enterprises = r.try_get("n")?;
        g.supported_enterprises = r.try_get("s")?;
    }
    let sql = format!(
        "SELECT COALESCE(e.{col}, '') AS k, COUNT(*) AS n, CAST(COALESCE(SUM(r.subsidy), 0) AS BIGINT) AS s \
         FROM support_records r JOIN enterprises e ON e.id = r.enterprise_id \
         WHERE r.province_code = $1 AND {COUNTED} GROUP BY COALESCE(e.{col}, '')"
    );
    for r in sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(province.to_string())
        .fetch_all(db.read())
        .await?
    {
        let k: String = r.try_get("k")?;
        let g = groups.entry(k.clone()).or_default();
        g.records = r.try_get("n")?;
        g.subsidy = r.try_get("s")?;
    }
    Ok(groups
        .into_iter()
        .map(|(k, mut g)| {
            g.label = if k.is_empty() {
                "Chưa rõ".to_string()
            } else {
                label(&k)
            };
            g.key = k;
            g
        })
        .collect())
}

/// Groups support records by an expression over `r` (and `p`, the programme).
async fn by_record_expr(
    db: &Db,
    province: &str,
    expr: &str,
    label: impl Fn(&str) -> String,
) -> Result<Vec<Group>> {
    let sql = format!(
        "SELECT {expr} AS k, COUNT(*) AS n, COUNT(DISTINCT r.enterprise_id) AS ne, \
         CAST(COALESCE(SUM(r.subsidy), 0) AS BIGINT) AS s \
         FROM support_records r LEFT JOIN programmes p ON p.id = r.programme_id \
         WHERE r.province_code = $1 AND {COUNTED} GROUP BY {expr} ORDER BY {expr}"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(province.to_string())
        .fetch_all(db.read())
        .await?;
    rows.iter()
        .map(|r| {
            let k: String = r.try_get("k")?;
            let ne: i64 = r.try_get("ne")?;
            Ok(Group {
                label: if k.is_empty() {
                    "Chưa rõ".to_string()
                } else {
                    label(&k)
                },
                key: k,
                enterprises: ne,
                supported_enterprises: ne,
                records: r.try_get("n")?,
                subsidy: r.try_get("s")?,
            })
        })
        .collect()
}

async fn breakdowns(db: &Db, p: &str) -> Result<Breakdowns> {
    Ok(Breakdowns {
        by_ward: by_enterprise_column(db, p, "ward", str::to_string).await?,
        by_sector: by_enterprise_column(db, p, "sector", |k| {
            sector_name(k)
                .map(str::to_string)
                .unwrap_or_else(|| k.to_string())
        })
        .await?,
        by_size: by_enterprise_column(db, p, "size_class", |k| {
            SizeClass::parse(k)
                .map(|s| s.label_vi().to_string())
                .unwrap_or_else(|| k.to_string())
        })
        .await?,
        by_programme: by_record_expr(
            db,
            p,
            "COALESCE(p.name, r.programme_name, '')",
            str::to_string,
        )
        .await?,
        by_kind: by_record_expr(db, p, "r.kind", |k| {
            SupportKind::parse(k)
                .map(|s| s.label_vi().to_string())
                .unwrap_or_else(|| k.to_string())
        })
        .await?,
        by_month: by_record_expr(db, p, "SUBSTR(r.date, 1, 7)", str::to_string).await?,
    })
}
