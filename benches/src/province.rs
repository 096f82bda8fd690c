//! The province dashboard at scale (issue 6). For each scale K (default 1, 10, 100) it builds
//! a fresh database holding, in one province, 1,000·K enterprises, 10,000·K support records
//! and 20,000·K orders (so 100× is 100,000 / 1,000,000 / 2,000,000), with their shops,
//! products, owners, programmes and one line per order, using set-based SQL; rebuilds the
//! running totals the dashboard reads (`support::totals::rebuild`: the same totals the order
//! and record transactions keep one change at a time); then calls the service behind
//! `provinceDashboard` repeatedly and prints its median and worst time, so the growth from
//! 1× to 100× is visible.
//!
//! Usage: `cargo run --release -p choso-bench -- province-dashboard [--scales 1,10,100]
//!        [--backend sqlite|postgres|both] [--runs N]`

use std::time::Instant;

use choso_services::Db;

use crate::sql::{count, err, exec};

pub const PROVINCE: &str = "01";
const DAY_MS: i64 = 86_400_000;
const VN_MS: i64 = 7 * 3_600_000;
/// The generated history spans two years before today.
const DAYS: i64 = 730;

/// What one scale produced.
pub struct Generated {
    pub enterprises: i64,
    pub records: i64,
    pub orders: i64,
    pub seconds: f64,
}

/// Fills an empty, migrated database with scale `k` of the province data set.
pub async fn generate(db: &Db, k: i64) -> Result<Generated, String> {
    let started = Instant::now();
    let (e, r, o) = (1_000 * k, 10_000 * k, 20_000 * k);
    let p = PROVINCE;
    let now = choso_services::ids::now_ms();
    let today = (now + VN_MS) / DAY_MS;
    let first_day = today - DAYS;
    let ms0 = first_day * DAY_MS - VN_MS;
    let span_ms = DAYS * DAY_MS;
    // A number table and a calendar, portable across SQLite and PostgreSQL.
    exec(
        db,
        "seq",
        "CREATE TABLE gen_seq (n BIGINT PRIMARY KEY)".into(),
    )
    .await?;
    exec(
        db,
        "seq",
        format!(
            "INSERT INTO gen_seq (n) WITH RECURSIVE s(n) AS (SELECT CAST(0 AS BIGINT) UNION ALL \
             SELECT n + 1 FROM s WHERE n + 1 < {}) SELECT n FROM s",
            r.max(o).max(e)
        ),
    )
    .await?;
    exec(
        db,
        "days",
        "CREATE TABLE gen_days (i BIGINT PRIMARY KEY, day BIGINT NOT NULL, date TEXT NOT NULL)"
            .into(),
    )
    .await?;
    let days: Vec<String> = (0..=DAYS)
        .map(|i| {
            let d = first_day + i;
            format!("({i}, {d}, '{}')", choso_services::support::day_to_date(d))
        })
        .collect();
    for chunk in days.chunks(200) {
        exec(
            db,
            "days",
            format!(
                "INSERT INTO gen_days (i, day, date) VALUES {}",
                chunk.join(", ")
            ),
        )
        .await?;
    }
    // Enterprises: 60 % consent to share sales, 70 % get support, 40 % (n % 5 < 2) have a shop.
    exec(
        db,
        "enterprises",
        format!(
            "INSERT INTO enterprises (id, province_code, name, search_key, legal_form, sector, size_class, ward, \
             consent_share_sales, consent_recorded_at, created_at, updated_at) \
             SELECT 'ent' || (1000000000 + n), '{p}', 'Doanh nghiệp số ' || n, 'doanh nghiep so ' || n, \
             CASE n % 3 WHEN 0 THEN 'COMPANY' WHEN 1 THEN 'HOUSEHOLD_BUSINESS' ELSE 'COOPERATIVE' END, \
             SUBSTR('ABCDEFGHIJKLMNOPQRSTU', CAST(1 + n % 21 AS INTEGER), 1), \
             CASE n % 4 WHEN 0 THEN 'SMALL' WHEN 1 THEN 'MEDIUM' ELSE 'MICRO' END, 'Phường ' || (n % 40), \
             n % 10 < 6, {ms0}, {ms0}, {ms0} FROM gen_seq WHERE n < {e}"
        ),
    )
    .await?;
    let linked = "FROM gen_seq WHERE n < {e} AND n % 5 < 2".replace("{e}", &e.to_string());
    exec(
        db,
        "users",
        format!(
            "INSERT INTO users (id, email, password_hash, full_name, role, created_at) \
             SELECT 'usr' || (1000000000 + n), 'owner' || n || '@gen.choso.vn', '!', 'Chủ cửa hàng ' || n, \
             'merchant', {ms0} {linked}"
        ),
    )
    .await?;
    // 80 % of the shops are published.
    exec(
        db,
        "shops",
        format!(
            "INSERT INTO shops (id, slug, name, province_code, theme, theme_chosen, published, published_at, \
             created_at, updated_at) \
             SELECT 'shp' || (1000000000 + n), 'gen-' || n, 'Cửa hàng ' || n, '{p}', 'warm', TRUE, \
             n % 25 >= 5, {ms0}, {ms0}, {ms0} {linked}"
        ),
    )
    .await?;
    exec(
        db,
        "members",
        format!(
            "INSERT INTO shop_members (shop_id, user_id, role, created_at) \
             SELECT 'shp' || (1000000000 + n), 'usr' || (1000000000 + n), 'owner', {ms0} {linked}"
        ),
    )
    .await?;
    exec(
        db,
        "enterprise_shops",
        format!(
            "INSERT INTO enterprise_shops (shop_id, enterprise_id, province_code, created_at) \
             SELECT 'shp' || (1000000000 + n), 'ent' || (1000000000 + n), '{p}', {ms0} {linked}"
        ),
    )
    .await?;
    exec(
        db,
        "products",
        format!(
            "INSERT INTO products (shop_id, id, handle, title, title_key, body_key, published, created_at, updated_at) \
             SELECT 'shp' || (1000000000 + n), 'prd' || (1000000000 + n), 'tra-sen', 'Trà sen', 'tra sen', '', TRUE, \
             {ms0}, {ms0} {linked}"
        ),
    )
    .await?;
    exec(
        db,
        "variants",
        format!(
            "INSERT INTO variants (shop_id, id, product_id, title, price, stock, created_at, updated_at) \
             SELECT 'shp' || (1000000000 + n), 'var' || (1000000000 + n), 'prd' || (1000000000 + n), 'Mặc định', \
             50000 + (n % 20) * 10000, 1000000, {ms0}, {ms0} {linked}"
        ),
    )
    .await?;
    // Five programmes with room for every subsidy; `spent` is set from the records below.
    for i in 0..5 {
        exec(
            db,
            "programmes",
            format!(
                "INSERT INTO programmes (id, province_code, name, funding_source, budget, created_at) \
                 VALUES ('prg{i}', '{p}', 'Chương trình {i}', 'Kế hoạch tỉnh', 1000000000000000, {ms0})"
            ),
        )
        .await?;
    }
    // Support records: enterprises with n % 10 < 7, dates over the two years, mostly closed,
    // 5 % rejected, 2 % voided; one in six outside any programme.
    let ent_of = format!("(10 * ((s.n * 104729) % {}) + s.n % 7)", (e / 10).max(1));
    exec(
        db,
        "support_records",
        format!(
            "INSERT INTO support_records (id, province_code, enterprise_id, programme_id, programme_name, kind, provider, \
             contract_value, subsidy, date, day, status, voided, void_reason, created_at, updated_at) \
             SELECT 'rec' || (1000000000 + s.n), '{p}', 'ent' || (1000000000 + {ent_of}), \
             CASE WHEN s.n % 6 = 5 THEN NULL ELSE 'prg' || (s.n % 6) END, \
             CASE WHEN s.n % 6 = 5 THEN 'Hỗ trợ khác' ELSE NULL END, \
             CASE s.n % 9 WHEN 0 THEN 'TRAINING' WHEN 1 THEN 'CONSULTING' WHEN 2 THEN 'STOREFRONT' WHEN 3 THEN 'E_INVOICE' \
               WHEN 4 THEN 'DIGITAL_SIGNATURE' WHEN 5 THEN 'CLOUD_SOFTWARE' WHEN 6 THEN 'MARKETPLACE' \
               WHEN 7 THEN 'FINANCING' ELSE 'OTHER' END, 'Nhà cung cấp ' || (s.n % 50), \
             20000000 + (s.n % 10) * 1000000, (s.n % 10) * 500000, d.date, d.day, \
             CASE WHEN s.n % 20 = 0 THEN 'rejected' WHEN s.n % 4 = 1 THEN 'disbursed' ELSE 'closed' END, \
             s.n % 50 = 7, CASE WHEN s.n % 50 = 7 THEN 'Nhập trùng' ELSE NULL END, {ms0}, {ms0} \
             FROM gen_seq s JOIN gen_days d ON d.i = (s.n * 31) % {DAYS} WHERE s.n < {r}"
        ),
    )
    .await?;
    exec(
        db,
        "programme spent",
        "UPDATE programmes SET spent = (SELECT COALESCE(SUM(r.subsidy), 0) FROM support_records r \
         WHERE r.programme_id = programmes.id AND r.voided = FALSE AND r.status <> 'rejected')"
            .into(),
    )
    .await?;
    // Orders on the linked shops (n % 5 < 2), spread over the two years; 5 % cancelled.
    let shop_of = format!("(5 * ((n * 7919) % {}) + n % 2)", (e / 5).max(1));
    let sid = format!("'shp' || (1000000000 + {shop_of})");
    let total = "(100000 + (n % 50) * 10000)";
    exec(
        db,
        "orders",
        format!(
            "INSERT INTO orders (shop_id, id, number, status, payment_method, payment_status, customer_name, \
             customer_phone, address_line, province_code, subtotal, shipping_fee, total, currency, created_at, updated_at) \
             SELECT {sid}, 'ord' || (1000000000 + n), 1000 + n, \
             CASE WHEN n % 20 = 3 THEN 'CANCELLED' WHEN n % 20 = 4 THEN 'PENDING' ELSE 'DELIVERED' END, \
             CASE n % 3 WHEN 0 THEN 'COD' WHEN 1 THEN 'BANK_TRANSFER' ELSE 'CARD' END, \
             CASE WHEN n % 20 = 3 THEN 'FAILED' WHEN n % 20 = 4 THEN 'UNPAID' ELSE 'PAID' END, \
             'Khách ' || n, '09' || (10000000 + n % 89999999), 'Số ' || (n % 300) || ' đường Lê Lợi', '{p}', \
             {total}, 0, {total}, 'VND', {ms0} + (n * 104723) % {span_ms}, {ms0} + (n * 104723) % {span_ms} \
             FROM gen_seq WHERE n < {o}"
        ),
    )
    .await?;
    exec(
        db,
        "order_lines",
        format!(
            "INSERT INTO order_lines (shop_id, order_id, line_no, product_id, variant_id, title, variant_title, \
             unit_price, quantity, total) \
             SELECT {sid}, 'ord' || (1000000000 + n), 1, 'prd' || (1000000000 + {shop_of}), \
             'var' || (1000000000 + {shop_of}), 'Trà sen', 'Mặc định', {total}, 1, {total} \
             FROM gen_seq WHERE n < {o}"
        ),
    )
    .await?;
    exec(db, "cleanup", "DROP TABLE gen_seq".into()).await?;
    exec(db, "cleanup", "DROP TABLE gen_days".into()).await?;
    choso_services::support::totals::rebuild(db, Some(p))
        .await
        .map_err(|e| format!("totals: {e}"))?;
    exec(db, "analyze", "ANALYZE".into()).await?;
    Ok(Generated {
        enterprises: count(db, "enterprises").await?,
        records: count(db, "support_records").await?,
        orders: count(db, "orders").await?,
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// `province-dashboard [--scales 1,10,100] [--backend sqlite|postgres|both] [--runs N]`.
pub async fn run_cli(args: &[String]) -> Result<(), String> {
    let mut scales = vec![1_i64, 10, 100];
    let mut backends = vec![crate::server::Backend::Sqlite];
    let mut runs = 20_usize;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--scales" => {
                scales = it
                    .next()
                    .ok_or("--scales needs a list, e.g. 1,10,100")?
                    .split(',')
                    .map(|s| s.trim().parse::<i64>().map_err(err))
                    .collect::<Result<_, _>>()?;
            }
            "--runs" => {
                runs = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|n| *n > 0)
                    .ok_or("--runs needs a positive number")?;
            }
            "--backend" => {
                use crate::server::Backend::*;
                backends = match it.next().map(String::as_str) {
                    Some("sqlite") => vec![Sqlite],
                    Some("postgres") => vec![Postgres],
                    Some("both") => vec![Sqlite, Postgres],
                    other => return Err(format!("unknown backend {other:?}")),
                }
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let staff = choso_services::accounts::User {
        id: "bench-staff".into(),
        email: "staff@bench.choso.vn".into(),
        full_name: "Cán bộ".into(),
        role: choso_services::accounts::Role::ProvinceStaff,
        province_code: Some(PROVINCE.into()),
        created_at: 0,
    };
    for backend in backends {
        println!("\n== province dashboard on {backend:?}, {runs} runs per scale");
        println!(
            "{:>6} {:>12} {:>12} {:>12} {:>10} {:>12} {:>12} {:>9}",
            "scale", "enterprises", "records", "orders", "gen s", "median ms", "worst ms", "growth"
        );
        let mut base_ms = None;
        for &k in &scales {
            let Some(fresh) = crate::server::fresh_database(backend)? else {
                println!("skipped: set CHOSO_BENCH_POSTGRES_URL or CHOSO_TEST_POSTGRES_URL");
                break;
            };
            let db = Db::connect_and_migrate(&fresh.url).await.map_err(err)?;
            let g = generate(&db, k).await?;
            let mut times = Vec::with_capacity(runs);
            let mut last = None;
            for _ in 0..runs {
                let t = Instant::now();
                let d = choso_services::support::dashboard::dashboard(&db, &staff, PROVINCE)
                    .await
                    .map_err(err)?;
                times.push(t.elapsed().as_secs_f64() * 1000.0);
                last = Some(d);
            }
            let worst = times.iter().copied().fold(0.0, f64::max);
            let med = median(&mut times);
            let growth = match base_ms {
                Some(b) if b > 0.0 => format!("{:.1}×", med / b),
                _ => {
                    base_ms = Some(med);
                    "1.0×".into()
                }
            };
            println!(
                "{:>5}× {:>12} {:>12} {:>12} {:>10.1} {:>12.1} {:>12.1} {:>9}",
                k, g.enterprises, g.records, g.orders, g.seconds, med, worst, growth
            );
            if let Some(d) = last {
                println!(
                    "        supported {} · live stores {} · with orders {} · orders after support {} · \
                     revenue after support {} ₫",
                    d.supported_enterprises,
                    d.with_live_store,
                    d.with_online_orders,
                    d.orders_after_support,
                    d.revenue_after_support
                );
            }
            db.close().await;
            fresh.remove();
        }
    }
    Ok(())
}
