//! The province dashboard. It reads only the register's running totals (kept on each
//! enterprise with every order and support record) and the per-group totals of support
//! records (`support_groups`), never order rows or record rows, so its cost grows with the
//! number of enterprises, not with orders or records. Sales figures (orders, revenue) come only
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

fn int(r: &sqlx::any::AnyRow, col: &str) -> Result<i64> {
    // SUM over no rows is NULL.
    Ok(r.try_get::<Option<i64>, _>(col)?.unwrap_or(0))
}

/// The dashboard of a province (staff of it, admins). Six statements, each reading the
/// province's enterprises once or a few hundred group rows; none reads orders or records.
pub async fn dashboard(db: &Db, user: &User, province: &str) -> Result<Dashboard> {
    require_province(user, province)?;
    let p = province.trim();
    let mut d = Dashboard {
        province_code: p.to_string(),
        ..Default::default()
    };
    let s = "e.first_support_day IS NOT NULL";
    let sc = "e.first_support_day IS NOT NULL AND e.consent_share_sales = TRUE";
    let sum =
        |cond: &str, v: &str| format!("CAST(SUM(CASE WHEN {cond} THEN {v} ELSE 0 END) AS BIGINT)");
    let sql = format!(
        "SELECT COUNT(*) AS n, {} AS supported, {} AS first_order, {} AS repeat_orders, {} AS consenting, \
         {} AS oa, {} AS ra, {} AS ob, {} AS rb, {} AS ow, {} AS rw \
         FROM enterprises e WHERE e.province_code = $1",
        sum(s, "1"),
        sum(&format!("{s} AND e.orders_total >= 1"), "1"),
        sum(&format!("{s} AND e.orders_total >= 2"), "1"),
        sum(sc, "1"),
        sum(sc, "e.orders_since"),
        sum(sc, "e.revenue_since"),
        sum(sc, "e.orders_before"),
        sum(sc, "e.revenue_before"),
        sum(sc, "e.orders_after"),
        sum(sc, "e.revenue_after"),
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(p.to_string())
        .fetch_one(db.read())
        .await?;
    d.enterprises = int(&row, "n")?;
    d.supported_enterprises = int(&row, "supported")?;
    d.with_online_orders = int(&row, "first_order")?;
    d.orders_after_support = int(&row, "oa")?;
    d.revenue_after_support = int(&row, "ra")?;
    d.funnel = Funnel {
        supported: d.supported_enterprises,
        first_order: d.with_online_orders,
        repeat_orders: int(&row, "repeat_orders")?,
        ..Default::default()
    };
    d.before_after = BeforeAfter {
        enterprises: int(&row, "consenting")?,
        window_days: WINDOW_DAYS,
        orders_before: int(&row, "ob")?,
        orders_after: int(&row, "ow")?,
        revenue_before: int(&row, "rb")?,
        revenue_after: int(&row, "rw")?,
    };
    // Driven by the linked shops (far fewer than enterprises).
    let row = sqlx::query(
        "SELECT COUNT(DISTINCT es.enterprise_id) AS created, \
         COUNT(DISTINCT CASE WHEN s.published = TRUE THEN es.enterprise_id END) AS published \
         FROM enterprise_shops es JOIN enterprises e ON e.id = es.enterprise_id JOIN shops s ON s.id = es.shop_id \
         WHERE es.province_code = $1 AND e.first_support_day IS NOT NULL",
    )
    .bind(p.to_string())
    .fetch_one(db.read())
    .await?;
    d.funnel.shop_created = int(&row, "created")?;
    d.with_live_store = int(&row, "published")?;
    d.funnel.published = d.with_live_store;
    d.breakdowns = breakdowns(db, p).await?;
    Ok(d)
}

fn label_or_unknown(k: &str, label: impl Fn(&str) -> String) -> String {
    if k.is_empty() {
        "Chưa rõ".to_string()
    } else {
        label(k)
    }
}

/// Groups by an enterprise column, from the enterprises' own support counters.
async fn by_enterprise_column(
    db: &Db,
    province: &str,
    col: &str,
    label: impl Fn(&str) -> String,
) -> Result<Vec<Group>> {
    let sql = format!(
        "SELECT COALESCE(e.{col}, '') AS k, COUNT(*) AS n, \
         CAST(SUM(CASE WHEN e.first_support_day IS NOT NULL THEN 1 ELSE 0 END) AS BIGINT) AS s, \
         CAST(SUM(e.support_records) AS BIGINT) AS r, CAST(SUM(e.support_subsidy) AS BIGINT) AS sub \
         FROM enterprises e WHERE e.province_code = $1 GROUP BY COALESCE(e.{col}, '') ORDER BY 1"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(province.to_string())
        .fetch_all(db.read())
        .await?;
    rows.iter()
        .map(|r| {
            let k: String = r.try_get("k")?;
            Ok(Group {
                label: label_or_unknown(&k, &label),
                key: k,
                enterprises: int(r, "n")?,
                supported_enterprises: int(r, "s")?,
                records: int(r, "r")?,
                subsidy: int(r, "sub")?,
            })
        })
        .collect()
}

/// The per-group totals of support records (programme, kind, month) kept by the records'
/// transactions, in one statement.
async fn record_groups(db: &Db, province: &str) -> Result<BTreeMap<String, Vec<Group>>> {
    let rows = sqlx::query(
        "SELECT dim, key, records, subsidy, enterprises FROM support_groups \
         WHERE province_code = $1 AND records > 0 ORDER BY dim, key",
    )
    .bind(province.to_string())
    .fetch_all(db.read())
    .await?;
    let mut out: BTreeMap<String, Vec<Group>> = BTreeMap::new();
    for r in &rows {
        let dim: String = r.try_get("dim")?;
        let key: String = r.try_get("key")?;
        let label = match dim.as_str() {
            "kind" => label_or_unknown(&key, |k| {
                SupportKind::parse(k)
                    .map(|s| s.label_vi().to_string())
                    .unwrap_or_else(|| k.to_string())
            }),
            _ => label_or_unknown(&key, str::to_string),
        };
        let ne: i64 = r.try_get("enterprises")?;
        out.entry(dim).or_default().push(Group {
            key,
            label,
            enterprises: ne,
            supported_enterprises: ne,
            records: r.try_get("records")?,
            subsidy: r.try_get("subsidy")?,
        });
    }
    Ok(out)
}

async fn breakdowns(db: &Db, p: &str) -> Result<Breakdowns> {
    let mut groups = record_groups(db, p).await?;
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
        by_programme: groups.remove("programme").unwrap_or_default(),
        by_kind: groups.remove("kind").unwrap_or_default(),
        by_month: groups.remove("month").unwrap_or_default(),
    })
}
