//! The order history of the scale data set: O orders per shop over the last year (order k of
//! a shop is placed at k/O of the year, give or take ten minutes), numbered 1001… per shop,
//! each of one or two lines (1–3 of one variant, 1 of another), 70 % cash on delivery and
//! 30 % bank transfer, by 500 recurring customers, 5 % cancelled after six hours and the rest
//! at the status their age gives (delivered after a week, shipped after three days, confirmed
//! after twelve hours, pending before).
//!
//! An order's rows are written as `orders::place_order` and `orders::transition` write them:
//! the order (totals with the shop's shipping rule, the VietQR payload of a transfer), its
//! lines at the variant's price, its history events after the placement with their actors
//! (the placement is the order row), the bank notification of a paid transfer, and one stock
//! movement per line and per returned line, each with the running `stock_after`; the
//! variants' stock is then what their movements add up to.

use choso_services::{
    Db, orders, provinces,
    text::{Email, Phone, clean},
    vietqr,
};
use sqlx::Row;

use super::{DAY_MS, FREE_SHIPPING_OVER, HOUR_MS, INITIAL_STOCK, Plan, SHIPPING_FEE, kind, names};
use crate::sql::{err, exec, insert_rows, opt_text, text, ulid_sql, work_table};

/// How many different customers buy from each shop.
const CUSTOMERS: usize = 500;

/// When each step of an order's life happens, after it is placed.
const PAID_BY_TRANSFER: i64 = 30 * 60_000;
const CONFIRMED: i64 = 2 * HOUR_MS;
const CANCELLED: i64 = 6 * HOUR_MS;
const SHIPPED: i64 = DAY_MS;
const DELIVERED: i64 = 3 * DAY_MS;

pub const CANCEL_REASON: &str = "Khách đổi ý";

/// `gen_customers`: name, phone (E.164, as `Phone` stores it), e-mail for one in three,
/// address, ward and province.
async fn customers(db: &Db) -> Result<(), String> {
    work_table(
        db,
        "gen_customers",
        "(k BIGINT PRIMARY KEY, name TEXT NOT NULL, phone TEXT NOT NULL, email TEXT, address TEXT NOT NULL, \
         ward TEXT, province TEXT NOT NULL)",
    )
    .await?;
    let provinces = provinces::all();
    let mut rows = Vec::with_capacity(CUSTOMERS);
    for k in 0..CUSTOMERS {
        let prefix = ["9", "8", "3", "7", "5"][k % 5];
        let phone = Phone::parse(&format!("0{prefix}{:08}", 12_345_678 + k * 7_919))
            .map_err(err)?
            .into_string();
        let email = if k % 3 == 0 {
            Some(
                Email::parse(&format!("khach{k}@example.vn"))
                    .map_err(err)?
                    .into_string(),
            )
        } else {
            None
        };
        let province = provinces
            .get((k * 7) % provinces.len().max(1))
            .map(|p| p.code.clone())
            .ok_or("no provinces")?;
        rows.push(format!(
            "({k}, {}, {}, {}, {}, {}, {})",
            text(&clean(&names::person(k + 3))),
            text(&phone),
            opt_text(email.as_deref()),
            text(&clean(&names::address(k + 11))),
            text(&clean(&format!("Phường {}", names::region(k)))),
            text(&province)
        ));
    }
    insert_rows(
        db,
        "gen_customers",
        "k, name, phone, email, address, ward, province",
        &rows,
        250,
    )
    .await
}

/// `gen_orders`: every order's time, status, payment, lines, prices and totals.
async fn plan_orders(db: &Db, plan: &Plan) -> Result<(), String> {
    let (n_shops, p, o) = (
        plan.cfg.shops as i64,
        plan.cfg.products as i64,
        plan.cfg.orders as i64,
    );
    let now = plan.now;
    let year = 365 * DAY_MS;
    let start = now - year;
    let spacing = year / o;
    work_table(
        db,
        "gen_orders",
        "(n BIGINT PRIMARY KEY, s BIGINT NOT NULL, k BIGINT NOT NULL, ts BIGINT NOT NULL, \
         id TEXT NOT NULL, number BIGINT NOT NULL, status TEXT NOT NULL, method TEXT NOT NULL, pay_status TEXT NOT NULL, \
         paid_at BIGINT, updated_at BIGINT NOT NULL, t1 BIGINT NOT NULL, v1 BIGINT NOT NULL, q1 BIGINT NOT NULL, \
         p1 BIGINT NOT NULL, t2 BIGINT, v2 BIGINT NOT NULL, q2 BIGINT NOT NULL, p2 BIGINT NOT NULL, \
         subtotal BIGINT NOT NULL, shipping BIGINT NOT NULL, total BIGINT NOT NULL, cust BIGINT NOT NULL)",
    )
    .await?;
    // a: which shop, which order, when; b: status, method, lines, customer; c: prices and
    // subtotal; outer: shipping, total, payment and the time of the last change.
    let a = format!(
        "SELECT n, n / {o} AS s, n % {o} AS k, {start} + (n % {o}) * {spacing} + ((n / {o}) * 7919) % 600000 AS ts \
         FROM gen_seq WHERE n < {}",
        n_shops * o
    );
    let b = format!(
        "SELECT a.n, a.s, a.k, a.ts, \
         CASE WHEN a.n % 20 = 7 AND a.ts <= {day_ago} THEN 'CANCELLED' WHEN a.ts <= {week_ago} THEN 'DELIVERED' \
              WHEN a.ts <= {three_days_ago} THEN 'SHIPPED' WHEN a.ts <= {half_day_ago} THEN 'CONFIRMED' ELSE 'PENDING' END AS status, \
         CASE WHEN (a.n / 7) % 10 IN (3, 6, 8) THEN 'BANK_TRANSFER' ELSE 'COD' END AS method, \
         (a.k * 37 + a.s * 11) % {p} AS t1, a.k % 2 AS v1, 1 + a.k % 3 AS q1, \
         CASE WHEN (a.k + a.s) % 2 = 0 THEN ((a.k * 37 + a.s * 11) % {p} + 1 + a.k % {p1}) % {p} END AS t2, \
         (a.k / 2) % 2 AS v2, (a.s * 131 + a.k * 17) % {CUSTOMERS} AS cust FROM ({a}) a",
        day_ago = now - DAY_MS,
        week_ago = now - 7 * DAY_MS,
        three_days_ago = now - 3 * DAY_MS,
        half_day_ago = now - 12 * HOUR_MS,
        p1 = p - 1,
    );
    let c = format!(
        "SELECT b.*, CASE b.v1 WHEN 0 THEN ta.price_s ELSE ta.price_l END AS p1, \
         CASE WHEN b.t2 IS NULL THEN 0 ELSE 1 END AS q2, \
         CASE WHEN b.t2 IS NULL THEN 0 WHEN b.v2 = 0 THEN tb.price_s ELSE tb.price_l END AS p2 \
         FROM ({b}) b JOIN gen_titles ta ON ta.i = b.t1 LEFT JOIN gen_titles tb ON tb.i = b.t2"
    );
    let paid_transfer = format!(
        "c.method = 'BANK_TRANSFER' AND c.status <> 'CANCELLED' AND c.ts <= {}",
        now - HOUR_MS
    );
    let subtotal = "(c.p1 * c.q1 + c.p2 * c.q2)";
    let shipping =
        format!("CASE WHEN {subtotal} >= {FREE_SHIPPING_OVER} THEN 0 ELSE {SHIPPING_FEE} END");
    exec(
        db,
        "gen_orders",
        format!(
            "INSERT INTO gen_orders (n, s, k, ts, id, number, status, method, pay_status, paid_at, updated_at, t1, v1, q1, p1, \
             t2, v2, q2, p2, subtotal, shipping, total, cust) \
             SELECT c.n, c.s, c.k, c.ts, {id}, 1001 + c.k, c.status, c.method, \
             CASE WHEN c.method = 'COD' THEN (CASE WHEN c.status = 'DELIVERED' THEN 'PAID' ELSE 'UNPAID' END) \
                  WHEN c.status = 'CANCELLED' THEN 'FAILED' WHEN {paid_transfer} THEN 'PAID' ELSE 'PENDING' END, \
             CASE WHEN c.method = 'COD' AND c.status = 'DELIVERED' THEN c.ts + {DELIVERED} \
                  WHEN {paid_transfer} THEN c.ts + {PAID_BY_TRANSFER} END, \
             CASE c.status WHEN 'DELIVERED' THEN c.ts + {DELIVERED} WHEN 'SHIPPED' THEN c.ts + {SHIPPED} \
                  WHEN 'CONFIRMED' THEN c.ts + {CONFIRMED} WHEN 'CANCELLED' THEN c.ts + {CANCELLED} \
                  ELSE (CASE WHEN {paid_transfer} THEN c.ts + {PAID_BY_TRANSFER} ELSE c.ts END) END, \
             c.t1, c.v1, c.q1, c.p1, c.t2, c.v2, c.q2, c.p2, {subtotal}, {shipping}, {subtotal} + {shipping}, c.cust \
             FROM ({c}) c",
            id = ulid_sql("c.ts", kind::ORDER, "c.n"),
        ),
    )
    .await?;
    Ok(())
}

/// `gen_qr`: the VietQR payload of every bank-transfer order, made by `vietqr::encode` for the
/// shop's account, the total and the transfer note `DH{number}`.
async fn payloads(db: &Db) -> Result<(), String> {
    work_table(
        db,
        "gen_qr",
        "(n BIGINT PRIMARY KEY, payload TEXT NOT NULL)",
    )
    .await?;
    let rows = sqlx::query(
        "SELECT o.n, o.number, o.total, sh.bank_bin, sh.bank_account_number FROM gen_orders o \
         JOIN gen_shops g ON g.i = o.s JOIN shops sh ON sh.id = g.id WHERE o.method = 'BANK_TRANSFER'",
    )
    .fetch_all(db.read())
    .await
    .map_err(err)?;
    let mut values = Vec::with_capacity(rows.len());
    for r in &rows {
        let n: i64 = r.try_get("n").map_err(err)?;
        let number: i64 = r.try_get("number").map_err(err)?;
        let payload = vietqr::encode(&vietqr::Transfer {
            bin: r.try_get("bank_bin").map_err(err)?,
            account: r.try_get("bank_account_number").map_err(err)?,
            amount: Some(r.try_get("total").map_err(err)?),
            purpose: Some(orders::transfer_note(number)),
        })
        .map_err(|e| format!("VietQR: {e}"))?;
        values.push(format!("({n}, {})", text(&payload)));
    }
    insert_rows(db, "gen_qr", "n, payload", &values, 1000).await
}

/// Shops written per round: each round's rows land in one stretch of every index (the keys
/// begin with the shop), so the indexes' working set stays small however big the platform.
const SHOPS_PER_ROUND: usize = 50;

pub async fn generate(db: &Db, plan: &Plan) -> Result<(), String> {
    customers(db).await?;
    plan_orders(db, plan).await?;
    payloads(db).await?;
    work_table(
        db,
        "gen_mov",
        "(shop_id TEXT NOT NULL, variant_id TEXT NOT NULL, id TEXT NOT NULL, delta BIGINT NOT NULL, \
         reason TEXT NOT NULL, actor_id TEXT, ref_id TEXT, created_at BIGINT NOT NULL)",
    )
    .await?;
    work_table(
        db,
        "gen_stock",
        "(shop_id TEXT NOT NULL, variant_id TEXT NOT NULL, stock BIGINT NOT NULL, PRIMARY KEY (shop_id, variant_id))",
    )
    .await?;
    let o = plan.cfg.orders;
    for first in (0..plan.cfg.shops).step_by(SHOPS_PER_ROUND) {
        let last = (first + SHOPS_PER_ROUND).min(plan.cfg.shops);
        let round = Round {
            shops: format!("{first} AND {}", last - 1),
            orders: format!("{} AND {}", first * o, last * o - 1),
        };
        write_round(db, plan, &round).await?;
    }
    exec(
        db,
        "variant stock",
        "UPDATE variants SET stock = (SELECT g.stock FROM gen_stock g WHERE g.shop_id = variants.shop_id \
         AND g.variant_id = variants.id)"
            .into(),
    )
    .await?;
    Ok(())
}

/// The shops (`gen_shops.i BETWEEN …`) and orders (`gen_orders.n BETWEEN …`) of a round.
struct Round {
    shops: String,
    orders: String,
}

async fn write_round(db: &Db, plan: &Plan, r: &Round) -> Result<(), String> {
    exec(
        db,
        "orders",
        format!(
            "INSERT INTO orders (shop_id, id, number, status, payment_method, payment_status, customer_name, customer_phone, \
             customer_email, address_line, ward, province_code, note, subtotal, shipping_fee, total, currency, vietqr_payload, \
             cancel_reason, paid_at, created_at, updated_at) \
             SELECT sh.id, o.id, o.number, o.status, o.method, o.pay_status, c.name, c.phone, c.email, c.address, c.ward, \
             c.province, NULL, o.subtotal, o.shipping, o.total, 'VND', q.payload, \
             CASE WHEN o.status = 'CANCELLED' THEN {} END, o.paid_at, o.ts, o.updated_at \
             FROM gen_orders o JOIN gen_shops sh ON sh.i = o.s JOIN gen_customers c ON c.k = o.cust \
             LEFT JOIN gen_qr q ON q.n = o.n WHERE o.n BETWEEN {} ORDER BY o.n",
            text(CANCEL_REASON),
            r.orders
        ),
    )
    .await?;
    lines(db, r).await?;
    events(db, r).await?;
    exec(
        db,
        "payment_events",
        format!(
            "INSERT INTO payment_events (shop_id, provider, event_id, order_id, outcome, amount, created_at) \
             SELECT sh.id, 'bank', 'FT' || (10000000000 + o.n), o.id, 'paid', o.total, o.paid_at \
             FROM gen_orders o JOIN gen_shops sh ON sh.i = o.s WHERE o.n BETWEEN {} \
             AND o.method = 'BANK_TRANSFER' AND o.pay_status = 'PAID' ORDER BY o.n",
            r.orders
        ),
    )
    .await?;
    movements(db, plan, r).await
}

/// One line for every order, a second for half of them, in key order.
async fn lines(db: &Db, r: &Round) -> Result<(), String> {
    let select = |line: i64, t: &str, v: &str, q: &str, p: &str| {
        format!(
            "SELECT sh.id AS shop_id, o.id AS order_id, {line} AS line_no, gv.product_id, gv.id AS variant_id, ti.title, \
             gv.title AS variant_title, gv.sku, {p} AS unit_price, {q} AS quantity, {p} * {q} AS total \
             FROM gen_orders o JOIN gen_shops sh ON sh.i = o.s JOIN gen_var gv ON gv.s = o.s AND gv.t = {t} AND gv.v = {v} \
             JOIN gen_titles ti ON ti.i = {t} WHERE o.n BETWEEN {}",
            r.orders
        )
    };
    exec(
        db,
        "order_lines",
        format!(
            "INSERT INTO order_lines (shop_id, order_id, line_no, product_id, variant_id, title, variant_title, sku, \
             unit_price, quantity, total) \
             SELECT * FROM ({} UNION ALL {}) x ORDER BY x.shop_id, x.order_id, x.line_no",
            select(1, "o.t1", "o.v1", "o.q1", "o.p1"),
            select(2, "o.t2", "o.v2", "o.q2", "o.p2"),
        ),
    )
    .await
    .map(|_| ())
}

/// The history of the round's orders, in key order. Each step is `(kind, from, to, note, by
/// the owner, delay after placing, which orders)`; ids sort as the server writes them.
async fn events(db: &Db, r: &Round) -> Result<(), String> {
    let cancel_note = text(CANCEL_REASON);
    let transfer_note = "'bank transfer FT' || (10000000000 + o.n)".to_string();
    let steps: [(&str, &str, &str, String, bool, i64, &str); 7] = [
        (
            "payment",
            "'PENDING'",
            "'PAID'",
            transfer_note,
            false,
            PAID_BY_TRANSFER,
            "o.method = 'BANK_TRANSFER' AND o.pay_status = 'PAID'",
        ),
        (
            "status",
            "'PENDING'",
            "'CONFIRMED'",
            "NULL".into(),
            true,
            CONFIRMED,
            "o.status IN ('CONFIRMED', 'SHIPPED', 'DELIVERED')",
        ),
        (
            "status",
            "'CONFIRMED'",
            "'SHIPPED'",
            "NULL".into(),
            true,
            SHIPPED,
            "o.status IN ('SHIPPED', 'DELIVERED')",
        ),
        (
            "status",
            "'SHIPPED'",
            "'DELIVERED'",
            "NULL".into(),
            true,
            DELIVERED,
            "o.status = 'DELIVERED'",
        ),
        (
            "payment",
            "'UNPAID'",
            "'PAID'",
            "'cash collected on delivery'".into(),
            true,
            DELIVERED,
            "o.method = 'COD' AND o.status = 'DELIVERED'",
        ),
        (
            "status",
            "'PENDING'",
            "'CANCELLED'",
            cancel_note,
            true,
            CANCELLED,
            "o.status = 'CANCELLED'",
        ),
        (
            "payment",
            "'PENDING'",
            "'FAILED'",
            "NULL".into(),
            true,
            CANCELLED,
            "o.method = 'BANK_TRANSFER' AND o.status = 'CANCELLED'",
        ),
    ];
    let selects: Vec<String> = steps
        .iter()
        .enumerate()
        .map(|(step, (kind_name, from, to, note, by_owner, delay, which))| {
            let actor = if *by_owner { "sh.owner_id" } else { "NULL" };
            format!(
                "SELECT sh.id AS shop_id, o.id AS order_id, '{kind_name}' AS kind, {from} AS from_status, \
                 {to} AS to_status, {note} AS note, {actor} AS actor_id, o.ts + {delay} AS at, o.n * 8 + {step} AS num \
                 FROM gen_orders o JOIN gen_shops sh ON sh.i = o.s WHERE o.n BETWEEN {} AND {which}",
                r.orders
            )
        })
        .collect();
    exec(
        db,
        "order_events",
        format!(
            "INSERT INTO order_events (shop_id, id, order_id, kind, from_status, to_status, note, actor_id, created_at) \
             SELECT x.shop_id, {id}, x.order_id, x.kind, x.from_status, x.to_status, x.note, x.actor_id, x.at \
             FROM ({}) x ORDER BY x.shop_id, x.at, x.num",
            selects.join(" UNION ALL "),
            id = ulid_sql("x.at", kind::EVENT, "x.num"),
        ),
    )
    .await
    .map(|_| ())
}

/// The round's stock movements: each variant's initial stock, the orders' takes (no actor, as
/// `place_order` writes them) and the returns of cancelled orders (by the owner); written with
/// `stock_after` as the running sum per variant, and each variant's final stock noted in
/// `gen_stock`.
async fn movements(db: &Db, plan: &Plan, r: &Round) -> Result<(), String> {
    let p = plan.cfg.products;
    exec(db, "gen_mov", "DELETE FROM gen_mov".into()).await?;
    exec(
        db,
        "initial stock",
        format!(
            "INSERT INTO gen_mov (shop_id, variant_id, id, delta, reason, actor_id, ref_id, created_at) \
             SELECT x.shop_id, x.variant_id, {}, {INITIAL_STOCK}, 'initial', x.owner_id, NULL, x.ts FROM \
             (SELECT sh.id AS shop_id, sh.owner_id, gv.id AS variant_id, gv.ts, (gv.s * {p} + gv.t) * 2 + gv.v AS num \
              FROM gen_var gv JOIN gen_shops sh ON sh.i = gv.s WHERE gv.s BETWEEN {}) x",
            ulid_sql("x.ts", kind::MOVE_INITIAL, "x.num"),
            r.shops
        ),
    )
    .await?;
    for (line, t, v, q) in [(0, "o.t1", "o.v1", "o.q1"), (1, "o.t2", "o.v2", "o.q2")] {
        for (reason, sign, delay, mkind, actor, only) in [
            ("order", "-", 0, kind::MOVE_ORDER, "NULL", "1 = 1"),
            (
                "cancel",
                "",
                CANCELLED,
                kind::MOVE_CANCEL,
                "sh.owner_id",
                "o.status = 'CANCELLED'",
            ),
        ] {
            exec(
                db,
                "gen_mov",
                format!(
                    "INSERT INTO gen_mov (shop_id, variant_id, id, delta, reason, actor_id, ref_id, created_at) \
                     SELECT x.shop_id, x.variant_id, {id}, x.delta, '{reason}', x.actor_id, x.order_id, x.at FROM \
                     (SELECT sh.id AS shop_id, gv.id AS variant_id, o.id AS order_id, {sign}{q} AS delta, {actor} AS actor_id, \
                      o.ts + {delay} AS at, o.n * 2 + {line} AS num FROM gen_orders o JOIN gen_shops sh ON sh.i = o.s \
                      JOIN gen_var gv ON gv.s = o.s AND gv.t = {t} AND gv.v = {v} WHERE o.n BETWEEN {} AND {only}) x",
                    r.orders,
                    id = ulid_sql("x.at", mkind, "x.num"),
                ),
            )
            .await?;
        }
    }
    exec(
        db,
        "stock_movements",
        "INSERT INTO stock_movements (shop_id, id, variant_id, delta, stock_after, reason, note, actor_id, ref_id, created_at) \
         SELECT shop_id, id, variant_id, delta, SUM(delta) OVER (PARTITION BY shop_id, variant_id ORDER BY id \
         ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW), reason, NULL, actor_id, ref_id, created_at FROM gen_mov \
         ORDER BY shop_id, variant_id, id"
            .into(),
    )
    .await?;
    exec(
        db,
        "gen_stock",
        "INSERT INTO gen_stock (shop_id, variant_id, stock) SELECT shop_id, variant_id, SUM(delta) FROM gen_mov \
         GROUP BY shop_id, variant_id"
            .into(),
    )
    .await
    .map(|_| ())
}
