//! Rebuilds the support module's running totals from the rows they summarise: the daily
//! per-enterprise order aggregates (from `orders`), each enterprise's support and sales
//! counters, the per-group totals of support records, and last the province-level totals the
//! dashboard reads (`province_totals`, from the enterprises, their shops and the counters just
//! rebuilt). The transactions that write enterprises, shops, orders and records keep these
//! totals up to date one change at a time; this is for after a bulk load (the benchmark's data
//! generator) and for checking that the two agree (tests).

use crate::{
    db::{Db, Tx},
    error::Result,
};

use super::dashboard::WINDOW_DAYS;

/// Recomputes every total of one province (all provinces with `None`) in one transaction.
pub async fn rebuild(db: &Db, province: Option<&str>) -> Result<()> {
    let mut tx = db.begin().await?;
    let p = province.map(str::to_string);
    // `$1 IS NULL OR province_code = $1` keeps one statement for both cases.
    let scope = "($1 IS NULL OR province_code = $1)";
    exec(
        &mut tx,
        &format!("DELETE FROM enterprise_daily WHERE {scope}"),
        &p,
    )
    .await?;
    // Orders count on the Vietnam (UTC+7) day they were placed; cancelled ones do not count.
    exec(
        &mut tx,
        "INSERT INTO enterprise_daily (province_code, enterprise_id, day, orders, revenue) \
             SELECT es.province_code, es.enterprise_id, (o.created_at + 25200000) / 86400000, COUNT(*), SUM(o.total) \
             FROM orders o JOIN enterprise_shops es ON es.shop_id = o.shop_id \
             WHERE o.status <> 'CANCELLED' AND ($1 IS NULL OR es.province_code = $1) \
             GROUP BY es.province_code, es.enterprise_id, (o.created_at + 25200000) / 86400000",
        &p,
    )
    .await?;
    // Each table named in its own statement: the schema tests find the tables the app
    // deletes from by reading the deletions' table names in the sources.
    exec(
        &mut tx,
        &format!("DELETE FROM support_group_members WHERE {scope}"),
        &p,
    )
    .await?;
    exec(
        &mut tx,
        &format!("DELETE FROM support_groups WHERE {scope}"),
        &p,
    )
    .await?;
    let counted =
        "r.voided = FALSE AND r.status <> 'rejected' AND ($1 IS NULL OR r.province_code = $1)";
    let dims = [
        (
            "programme",
            "COALESCE(pg.name, r.programme_name, '')",
            "LEFT JOIN programmes pg ON pg.id = r.programme_id",
        ),
        ("kind", "r.kind", ""),
        ("month", "SUBSTR(r.date, 1, 7)", ""),
    ];
    for (dim, expr, join) in dims {
        exec(
            &mut tx,
            &format!(
                "INSERT INTO support_group_members (province_code, dim, key, enterprise_id, records) \
                 SELECT r.province_code, '{dim}', {expr}, r.enterprise_id, COUNT(*) FROM support_records r {join} \
                 WHERE {counted} GROUP BY r.province_code, {expr}, r.enterprise_id"
            ),
            &p,
        )
        .await?;
        exec(
            &mut tx,
            &format!(
                "INSERT INTO support_groups (province_code, dim, key, records, subsidy, enterprises) \
                 SELECT r.province_code, '{dim}', {expr}, COUNT(*), COALESCE(SUM(r.subsidy), 0), \
                 COUNT(DISTINCT r.enterprise_id) FROM support_records r {join} \
                 WHERE {counted} GROUP BY r.province_code, {expr}"
            ),
            &p,
        )
        .await?;
    }
    let daily = |col: &str, cond: &str| {
        format!(
            "(SELECT COALESCE(SUM(d.{col}), 0) FROM enterprise_daily d WHERE d.province_code = enterprises.province_code \
             AND d.enterprise_id = enterprises.id{cond})"
        )
    };
    let since = " AND d.day >= enterprises.first_support_day";
    let before = &format!(
        " AND d.day < enterprises.first_support_day AND d.day >= enterprises.first_support_day - {WINDOW_DAYS}"
    );
    let after = &format!(
        " AND d.day >= enterprises.first_support_day AND d.day < enterprises.first_support_day + {WINDOW_DAYS}"
    );
    let rec = "FROM support_records r WHERE r.province_code = enterprises.province_code \
               AND r.enterprise_id = enterprises.id AND r.voided = FALSE AND r.status <> 'rejected'";
    exec(
        &mut tx,
        &format!(
            "UPDATE enterprises SET first_support_day = (SELECT MIN(r.day) {rec}), \
             support_records = (SELECT COUNT(*) {rec}), support_subsidy = (SELECT COALESCE(SUM(r.subsidy), 0) {rec}) \
             WHERE {scope}"
        ),
        &p,
    )
    .await?;
    exec(
        &mut tx,
        &format!(
            "UPDATE enterprises SET orders_total = {}, revenue_total = {}, orders_since = {}, revenue_since = {}, \
             orders_before = {}, revenue_before = {}, orders_after = {}, revenue_after = {} WHERE {scope}",
            daily("orders", ""),
            daily("revenue", ""),
            daily("orders", since),
            daily("revenue", since),
            daily("orders", before),
            daily("revenue", before),
            daily("orders", after),
            daily("revenue", after),
        ),
        &p,
    )
    .await?;
    super::province_totals::rebuild(&mut tx, province).await?;
    tx.commit().await?;
    Ok(())
}

async fn exec(tx: &mut Tx, sql: &str, province: &Option<String>) -> Result<()> {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .bind(province.clone())
        .execute(&mut **tx)
        .await?;
    Ok(())
}
