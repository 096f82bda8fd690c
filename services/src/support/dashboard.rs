//! The province dashboard. It reads only province-level running totals: `province_totals`
//! (per province, a row per slot for the headline figures, the funnel and before/after, and
//! a row per ward, sector and size class; kept by every transaction that changes an
//! enterprise's contribution, see [`super::province_totals`]) and the per-group totals of
//! support records (`support_groups`, kept by the records' transactions). It never reads
//! enterprises, shops, orders or records, so its cost does not grow with their number. Sales
//! figures (orders, revenue) come only from supported enterprises that consent to share them.

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

/// The province's totals summed over slots, one row per dimension and key that has
/// enterprises, in key order (the order the breakdowns are shown in).
const TOTALS: &str = "SELECT dim, key, CAST(SUM(enterprises) AS BIGINT) AS n, \
    CAST(SUM(supported) AS BIGINT) AS supported, CAST(SUM(consenting) AS BIGINT) AS consenting, \
    CAST(SUM(first_order) AS BIGINT) AS first_order, CAST(SUM(repeat_orders) AS BIGINT) AS repeat_orders, \
    CAST(SUM(orders_after_support) AS BIGINT) AS oa, CAST(SUM(revenue_after_support) AS BIGINT) AS ra, \
    CAST(SUM(orders_before) AS BIGINT) AS ob, CAST(SUM(revenue_before) AS BIGINT) AS rb, \
    CAST(SUM(orders_after) AS BIGINT) AS ow, CAST(SUM(revenue_after) AS BIGINT) AS rw, \
    CAST(SUM(support_records) AS BIGINT) AS r, CAST(SUM(support_subsidy) AS BIGINT) AS sub, \
    CAST(SUM(shop_created) AS BIGINT) AS created, CAST(SUM(published) AS BIGINT) AS published \
    FROM province_totals WHERE province_code = $1 GROUP BY dim, key HAVING SUM(enterprises) > 0 \
    ORDER BY dim, key";

/// The dashboard of a province (staff of it, admins). Two statements: the province's totals
/// (`province_totals`: the headline figures, the funnel, before/after and the breakdowns by
/// ward, sector and size, from a few rows per ward, sector, size and slot) and the per-group
/// totals of support records (programme, kind, month). Neither reads enterprises, shops,
/// orders or records, so the cost does not grow with any of them.
pub async fn dashboard(db: &Db, user: &User, province: &str) -> Result<Dashboard> {
    require_province(user, province)?;
    let p = province.trim();
    let mut d = Dashboard {
        province_code: p.to_string(),
        before_after: BeforeAfter {
            window_days: WINDOW_DAYS,
            ..Default::default()
        },
        ..Default::default()
    };
    let rows = sqlx::query(TOTALS)
        .bind(p.to_string())
        .fetch_all(db.read())
        .await?;
    for r in &rows {
        let dim: String = r.try_get("dim")?;
        let key: String = r.try_get("key")?;
        let (list, label): (&mut Vec<Group>, fn(&str) -> String) = match dim.as_str() {
            "all" => {
                headline(&mut d, r)?;
                continue;
            }
            "ward" => (&mut d.breakdowns.by_ward, str::to_string),
            "sector" => (&mut d.breakdowns.by_sector, |k| {
                sector_name(k)
                    .map(str::to_string)
                    .unwrap_or_else(|| k.to_string())
            }),
            "size" => (&mut d.breakdowns.by_size, |k| {
                SizeClass::parse(k)
                    .map(|s| s.label_vi().to_string())
                    .unwrap_or_else(|| k.to_string())
            }),
            _ => continue,
        };
        list.push(Group {
            label: label_or_unknown(&key, label),
            key,
            enterprises: int(r, "n")?,
            supported_enterprises: int(r, "supported")?,
            records: int(r, "r")?,
            subsidy: int(r, "sub")?,
        });
    }
    let mut groups = record_groups(db, p).await?;
    d.breakdowns.by_programme = groups.remove("programme").unwrap_or_default();
    d.breakdowns.by_kind = groups.remove("kind").unwrap_or_default();
    d.breakdowns.by_month = groups.remove("month").unwrap_or_default();
    Ok(d)
}

/// The headline figures, the funnel and before/after from the province's `'all'` row.
fn headline(d: &mut Dashboard, r: &sqlx::any::AnyRow) -> Result<()> {
    d.enterprises = int(r, "n")?;
    d.supported_enterprises = int(r, "supported")?;
    d.with_online_orders = int(r, "first_order")?;
    d.with_live_store = int(r, "published")?;
    d.orders_after_support = int(r, "oa")?;
    d.revenue_after_support = int(r, "ra")?;
    d.funnel = Funnel {
        supported: d.supported_enterprises,
        shop_created: int(r, "created")?,
        published: d.with_live_store,
        first_order: d.with_online_orders,
        repeat_orders: int(r, "repeat_orders")?,
    };
    d.before_after = BeforeAfter {
        enterprises: int(r, "consenting")?,
        window_days: WINDOW_DAYS,
        orders_before: int(r, "ob")?,
        orders_after: int(r, "ow")?,
        revenue_before: int(r, "rb")?,
        revenue_after: int(r, "rw")?,
    };
    Ok(())
}

fn label_or_unknown(k: &str, label: impl Fn(&str) -> String) -> String {
    if k.is_empty() {
        "Chưa rõ".to_string()
    } else {
        label(k)
    }
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
