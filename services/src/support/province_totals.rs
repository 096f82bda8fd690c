//! Province-level running totals (`province_totals`, issue 9): what the dashboard reads, so
//! that its cost does not grow with the number of enterprises, shops, orders or records.
//!
//! Every enterprise *contributes* to a few rows of its province:
//! - the `'all'` row of its slot (the last character of its id, so 32 rows per province for
//!   ULIDs): one enterprise; supported (a first support day); consenting and supported; with
//!   a first order / with repeat orders (supported, one / two orders or more); the six sales
//!   sums of a consenting supported enterprise (from its first support on, and the 90 days
//!   before and from it); its counted records and subsidies; with a linked shop / with a
//!   published linked shop (supported);
//! - one row per breakdown, `'ward'`, `'sector'` and `'size'` (key: the enterprise's value,
//!   `''` when unknown; slot `''`), carrying only the enterprise, supported, records and
//!   subsidy, which orders never change.
//!
//! A transaction that changes anything an enterprise contributes (its ward, sector, size or
//! consent; its support counters and first support day; its sales totals; its links to shops
//! and their `published` flag) calls [`retract`] before the change and [`add`] after it, in
//! the same transaction: `retract` locks the enterprise row, then takes its contribution out
//! (`apply` with sign −1), `add` puts the new one in (sign +1). Both are one `INSERT … SELECT …
//! ON CONFLICT DO UPDATE` adding signed values; the lock comes first because on PostgreSQL
//! (read committed) a contribution read before the row is locked could be one another
//! transaction is about to change, and the totals would drift.
//!
//! Orders are the exception, for the hot path: [`order_delta_in`] adds, after the order's
//! own `UPDATE enterprises` (which holds the row lock), only the difference the order made,
//! to the enterprise's slotted `'all'` row and nowhere else. Orders of different enterprises
//! of a province therefore rarely wait for the same row.
//!
//! Lock order everywhere: shop, enterprise, then totals rows (in key order within a
//! statement), the order in which placing an order takes them.
//!
//! `support::totals::rebuild` refills the table from `enterprises`, `enterprise_shops` and
//! `shops` with the same statement.

use std::sync::LazyLock;

use crate::{
    db::Tx,
    error::Result,
    sql_batch::{Arg, Batch},
};

/// The enterprises whose contribution to apply.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Of<'a> {
    /// One enterprise, by id.
    Enterprise(&'a str),
    /// Several enterprises, by id (any number: applied in chunks).
    Enterprises(&'a [String]),
    /// The enterprise a shop is linked to, if any.
    Shop(&'a str),
    /// The enterprise whose invite a user registered with, if any.
    Redeemer(&'a str),
    /// Every enterprise of a province, or of all provinces (`None`).
    Province(Option<&'a str>),
}

/// Ids per statement for [`Of::Enterprises`] (well under either backend's bind limit).
const CHUNK: usize = 500;

impl<'a> Of<'a> {
    /// Splits a long id list into chunks; other selections are one piece.
    fn pieces(self) -> Vec<Of<'a>> {
        match self {
            Of::Enterprises(ids) => ids.chunks(CHUNK).map(Of::Enterprises).collect(),
            other => vec![other],
        }
    }

    /// The condition on the enterprise's columns (prefixed with `p`, e.g. `"e."`) with its
    /// arguments numbered from `$first`; `None` when it selects nothing.
    fn condition(&self, p: &str, first: usize) -> Option<(String, Vec<Arg>)> {
        let n = first;
        Some(match *self {
            Of::Enterprise(id) => (format!("{p}id = ${n}"), crate::args![id]),
            Of::Enterprises([]) => return None,
            Of::Enterprises(ids) => (
                format!(
                    "{p}id IN ({})",
                    crate::db::placeholders(first - 1, ids.len())
                ),
                ids.iter().map(Arg::from).collect(),
            ),
            Of::Shop(shop) => (
                format!(
                    "{p}id = (SELECT es.enterprise_id FROM enterprise_shops es WHERE es.shop_id = ${n})"
                ),
                crate::args![shop],
            ),
            Of::Redeemer(user) => (
                format!(
                    "{p}id IN (SELECT r.enterprise_id FROM invite_redemptions r WHERE r.user_id = ${n})"
                ),
                crate::args![user],
            ),
            Of::Province(province) => (
                format!("(${n} IS NULL OR {p}province_code = ${n})"),
                crate::args![province],
            ),
        })
    }
}

/// The counted columns, in table order.
const COLUMNS: [&str; 15] = [
    "enterprises",
    "supported",
    "consenting",
    "first_order",
    "repeat_orders",
    "orders_after_support",
    "revenue_after_support",
    "orders_before",
    "revenue_before",
    "orders_after",
    "revenue_after",
    "support_records",
    "support_subsidy",
    "shop_created",
    "published",
];

/// The order-driven columns (a run of [`COLUMNS`]): the only ones [`order_delta_in`] changes.
const ORDER_COLUMNS: std::ops::Range<usize> = 3..11;

/// `ON CONFLICT … DO UPDATE SET c = province_totals.c + excluded.c, …` for these columns.
fn upsert_tail(columns: &[&str]) -> String {
    let sets: Vec<String> = columns
        .iter()
        .map(|c| format!("{c} = province_totals.{c} + excluded.{c}"))
        .collect();
    format!(
        " ON CONFLICT (province_code, dim, key, slot) DO UPDATE SET {}",
        sets.join(", ")
    )
}

/// The row slot of an enterprise `e`: the last character of its id.
pub(crate) const SLOT: &str = "SUBSTR(e.id, LENGTH(e.id), 1)";

/// `apply` for a selection whose condition is `cond` (arguments from `$2`; `$1` is the sign).
fn apply_sql(cond: &str) -> String {
    let s = "e.first_support_day IS NOT NULL";
    let sc = "e.first_support_day IS NOT NULL AND e.consent_share_sales = TRUE";
    let all = "d.dim = 'all'";
    let flag = |c: &str| format!("CASE WHEN {c} THEN 1 ELSE 0 END");
    let value = |c: &str, v: &str| format!("CASE WHEN {c} THEN {v} ELSE 0 END");
    let per_enterprise = [
        "1".to_string(),
        flag(s),
        flag(&format!("{all} AND {sc}")),
        flag(&format!("{all} AND {s} AND e.orders_total >= 1")),
        flag(&format!("{all} AND {s} AND e.orders_total >= 2")),
        value(&format!("{all} AND {sc}"), "e.orders_since"),
        value(&format!("{all} AND {sc}"), "e.revenue_since"),
        value(&format!("{all} AND {sc}"), "e.orders_before"),
        value(&format!("{all} AND {sc}"), "e.revenue_before"),
        value(&format!("{all} AND {sc}"), "e.orders_after"),
        value(&format!("{all} AND {sc}"), "e.revenue_after"),
        "e.support_records".to_string(),
        "e.support_subsidy".to_string(),
        flag(&format!(
            "{all} AND {s} AND EXISTS (SELECT 1 FROM enterprise_shops es \
             WHERE es.province_code = e.province_code AND es.enterprise_id = e.id)"
        )),
        flag(&format!(
            "{all} AND {s} AND EXISTS (SELECT 1 FROM enterprise_shops es JOIN shops sh ON sh.id = es.shop_id \
             WHERE es.province_code = e.province_code AND es.enterprise_id = e.id AND sh.published = TRUE)"
        )),
    ];
    let inner: Vec<String> = per_enterprise
        .iter()
        .zip(COLUMNS)
        .map(|(v, c)| format!("{v} AS {c}"))
        .collect();
    let outer: Vec<String> = COLUMNS
        .iter()
        .map(|c| format!("CAST(SUM(c.{c}) AS BIGINT) * $1"))
        .collect();
    format!(
        "INSERT INTO province_totals (province_code, dim, key, slot, {cols}) \
         SELECT c.province_code, c.dim, c.key, c.slot, {outer} FROM ( \
           SELECT e.province_code AS province_code, d.dim AS dim, \
           CASE d.dim WHEN 'ward' THEN COALESCE(e.ward, '') WHEN 'sector' THEN COALESCE(e.sector, '') \
             WHEN 'size' THEN COALESCE(e.size_class, '') ELSE '' END AS key, \
           CASE WHEN {all} THEN {SLOT} ELSE '' END AS slot, {inner} \
           FROM enterprises e CROSS JOIN (SELECT 'all' AS dim UNION ALL SELECT 'ward' UNION ALL \
             SELECT 'sector' UNION ALL SELECT 'size') d WHERE {cond} \
         ) c WHERE true GROUP BY c.province_code, c.dim, c.key, c.slot \
         ORDER BY c.province_code, c.dim, c.key, c.slot{tail}",
        cols = COLUMNS.join(", "),
        outer = outer.join(", "),
        inner = inner.join(", "),
        tail = upsert_tail(&COLUMNS),
    )
}

/// Pushes the statements applying the contribution of `of` with `sign` (±1).
fn apply_in(b: &mut Batch, of: Of<'_>, sign: i64) {
    for piece in of.pieces() {
        if let Some((cond, args)) = piece.condition("e.", 2) {
            let mut all = crate::args![sign];
            all.extend(args);
            b.push(apply_sql(&cond), all);
        }
    }
}

/// Pushes the statements that lock the enterprises of `of` and take their contribution out.
pub(crate) fn retract_in(b: &mut Batch, of: Of<'_>) {
    for piece in of.pieces() {
        if let Some((cond, args)) = piece.condition("", 1) {
            // A write that changes nothing: the row lock, held until commit.
            b.push(
                format!("UPDATE enterprises SET updated_at = updated_at WHERE {cond}"),
                args,
            );
        }
    }
    apply_in(b, of, -1);
}

/// Pushes the statements that put the contribution of `of` in.
pub(crate) fn add_in(b: &mut Batch, of: Of<'_>) {
    apply_in(b, of, 1);
}

/// Locks the enterprises of `of` and takes their contribution out of the totals: before a
/// change to anything they contribute, in the change's transaction.
pub(crate) async fn retract(tx: &mut Tx, of: Of<'_>) -> Result<()> {
    let mut b = Batch::new();
    retract_in(&mut b, of);
    b.run(tx).await?;
    Ok(())
}

/// Puts the contribution of the enterprises of `of` into the totals: after the change.
pub(crate) async fn add(tx: &mut Tx, of: Of<'_>) -> Result<()> {
    let mut b = Batch::new();
    add_in(&mut b, of);
    b.run(tx).await?;
    Ok(())
}

/// The conditions, on columns prefixed with `p`, for an order of day `$4` to count from the
/// first support on, in the `$5` days before it, and in the `$5` days from it.
pub(crate) fn window_conditions(p: &str) -> [String; 3] {
    [
        format!("{p}first_support_day IS NOT NULL AND $4 >= {p}first_support_day"),
        format!("$4 < {p}first_support_day AND $4 >= {p}first_support_day - $5"),
        format!("$4 >= {p}first_support_day AND $4 < {p}first_support_day + $5"),
    ]
}

/// The statement of [`order_delta_in`]: arguments (shop id, orders, revenue, day, window).
static ORDER_DELTA: LazyLock<String> = LazyLock::new(|| {
    let s = "e.first_support_day IS NOT NULL";
    let sc = "e.first_support_day IS NOT NULL AND e.consent_share_sales = TRUE";
    // Whether the enterprise had at least n orders before this one and has now.
    let crossed = |n: i64| {
        format!(
            "CASE WHEN {s} THEN (CASE WHEN e.orders_total >= {n} THEN 1 ELSE 0 END) \
             - (CASE WHEN e.orders_total - $2 >= {n} THEN 1 ELSE 0 END) ELSE 0 END"
        )
    };
    let [since, before, after] = window_conditions("e.");
    let moved = |w: &str, v: &str| format!("CASE WHEN {sc} AND {w} THEN {v} ELSE 0 END");
    let values = [
        crossed(1),
        crossed(2),
        moved(&since, "$2"),
        moved(&since, "$3"),
        moved(&before, "$2"),
        moved(&before, "$3"),
        moved(&after, "$2"),
        moved(&after, "$3"),
    ];
    format!(
        "INSERT INTO province_totals (province_code, dim, key, slot, {cols}) \
         SELECT e.province_code, 'all', '', {SLOT}, {values} FROM enterprises e \
         WHERE e.id = (SELECT es.enterprise_id FROM enterprise_shops es WHERE es.shop_id = $1) \
         AND e.first_support_day IS NOT NULL{tail}",
        cols = COLUMNS[ORDER_COLUMNS].join(", "),
        values = values.join(", "),
        tail = upsert_tail(&COLUMNS[ORDER_COLUMNS]),
    )
});

/// Pushes the statement adding to the totals what an order (or its cancellation: negative
/// `orders` and `revenue`) of `day` changed, to the slotted `'all'` row of the shop's
/// enterprise only, and only when the enterprise is supported (otherwise its orders count in
/// none of the province's figures, and the row is not touched). It must follow the statement that added the order to the enterprise's own
/// totals (`support::count_order_in`), whose new values it reads.
pub(crate) fn order_delta_in(
    b: &mut Batch,
    shop_id: &str,
    day: i64,
    orders: i64,
    revenue: i64,
    window: i64,
) {
    b.push(
        ORDER_DELTA.as_str(),
        crate::args![shop_id, orders, revenue, day, window],
    );
}

/// Refills the totals of a province (all provinces with `None`) from the enterprises, their
/// shops and their own totals (`support::totals::rebuild`, after those are rebuilt).
pub(crate) async fn rebuild(tx: &mut Tx, province: Option<&str>) -> Result<()> {
    let mut b = Batch::new();
    b.push(
        "DELETE FROM province_totals WHERE ($1 IS NULL OR province_code = $1)",
        crate::args![province],
    );
    add_in(&mut b, Of::Province(province));
    b.run(tx).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_columns_are_the_order_driven_run() {
        // order_delta_in's values are listed in this order.
        assert_eq!(
            COLUMNS[ORDER_COLUMNS],
            [
                "first_order",
                "repeat_orders",
                "orders_after_support",
                "revenue_after_support",
                "orders_before",
                "revenue_before",
                "orders_after",
                "revenue_after",
            ]
        );
    }

    #[test]
    fn conditions_number_their_arguments() {
        let ids = vec!["a".to_string(), "b".to_string()];
        let (c, args) = Of::Enterprises(&ids).condition("e.", 2).expect("ids");
        assert_eq!(c, "e.id IN ($2, $3)");
        assert_eq!(args.len(), 2);
        assert!(Of::Enterprises(&[]).condition("e.", 2).is_none());
        let (c, _) = Of::Province(None).condition("", 1).expect("scope");
        assert_eq!(c, "($1 IS NULL OR province_code = $1)");
        let many: Vec<String> = (0..1200).map(|i| i.to_string()).collect();
        assert_eq!(Of::Enterprises(&many).pieces().len(), 3);
        let mut b = Batch::new();
        retract_in(&mut b, Of::Enterprises(&many));
        assert_eq!(b.len(), 6, "a lock and a retraction per chunk");
    }
}
