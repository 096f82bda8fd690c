//! The province side of the scale data set, all in Huế (46): an enterprise behind every shop
//! (linked as an owner's invite would link it) and as many without a shop, 60 % consenting to
//! share sales; three programmes; three support records over the last year for seven in ten
//! enterprises (5 % rejected, 2 % voided, one in three outside any programme); the automatic
//! STOREFRONT record each linked enterprise got when its shop went live; and then the running
//! totals the dashboard reads, rebuilt by `support::totals::rebuild` from the orders and
//! records (what the order and record transactions keep one change at a time).

use choso_services::{
    Db,
    support::{self, totals},
    text::{clean, fold},
};

use super::{DAY_MS, PROVINCE, Plan, kind, names};
use crate::sql::{exec, insert_rows, text, ulid_sql, work_table};

const LEGAL: &[&str] = &["COMPANY", "HOUSEHOLD_BUSINESS", "COOPERATIVE"];
const SIZES: &[&str] = &["MICRO", "MICRO", "SMALL", "MEDIUM"];
const SECTORS: &str = "ABCDEFGHIJKLMNOPQRSTU";
const KINDS: &[&str] = &[
    "TRAINING",
    "CONSULTING",
    "E_INVOICE",
    "DIGITAL_SIGNATURE",
    "CLOUD_SOFTWARE",
    "MARKETPLACE",
    "FINANCING",
    "OTHER",
];

pub async fn generate(db: &Db, plan: &Plan) -> Result<(), String> {
    let n = plan.shops.len();
    let now = plan.now;
    let registered = now - 420 * DAY_MS;
    let staff = text(&plan.staff_id);
    // Days of the last year, with their dates as the services write them.
    let today = support::vn_day(now);
    work_table(
        db,
        "gen_days",
        "(i BIGINT PRIMARY KEY, day BIGINT NOT NULL, date TEXT NOT NULL)",
    )
    .await?;
    let days: Vec<String> = (0..365)
        .map(|i| {
            let d = today - 365 + i;
            format!("({i}, {d}, '{}')", support::day_to_date(d))
        })
        .collect();
    insert_rows(db, "gen_days", "i, day, date", &days, 400).await?;
    // Enterprises: j < n is the business behind shop j.
    work_table(db, "gen_ent", "(j BIGINT PRIMARY KEY, id TEXT NOT NULL)").await?;
    let mut ents = Vec::with_capacity(2 * n);
    let mut ent_ids = Vec::with_capacity(2 * n);
    for j in 0..2 * n {
        let id = crate::sql::ulid(registered + j as i64 * 1000, kind::ENTERPRISE, j as i64);
        let legal = LEGAL[j % LEGAL.len()];
        let raw = match (legal, j < n) {
            ("COMPANY", true) => format!("Công ty TNHH {}", names::shop_name(j)),
            ("HOUSEHOLD_BUSINESS", _) => format!("Hộ kinh doanh {}", names::person(j)),
            ("COMPANY", false) => format!("Công ty Cổ phần {} {}", names::region(j), j + 1),
            _ => format!("Hợp tác xã {} {}", names::region(j + 2), j + 1),
        };
        let name = clean(&raw);
        // `support::search_key`: the folded name and tax code (none here).
        let key = fold(&format!("{name} "));
        let consent = j % 10 < 6;
        let sector_at = j % SECTORS.len();
        ents.push(format!(
            "({}, '{PROVINCE}', {}, {}, '{legal}', '{}', '{}', {}, {consent}, {}, {}, {staff}, {registered}, {registered})",
            text(&id),
            text(&name),
            text(&key),
            &SECTORS[sector_at..sector_at + 1],
            SIZES[j % SIZES.len()],
            text(&clean(&format!("Phường {}", names::region(j / 3)))),
            if consent { staff.clone() } else { "NULL".into() },
            if consent { registered.to_string() } else { "NULL".into() },
        ));
        ent_ids.push(format!("({j}, {})", text(&id)));
    }
    insert_rows(
        db,
        "enterprises",
        "id, province_code, name, search_key, legal_form, sector, size_class, ward, consent_share_sales, \
         consent_recorded_by, consent_recorded_at, created_by, created_at, updated_at",
        &ents,
        500,
    )
    .await?;
    insert_rows(db, "gen_ent", "j, id", &ent_ids, 1000).await?;
    exec(
        db,
        "enterprise_shops",
        format!(
            "INSERT INTO enterprise_shops (shop_id, enterprise_id, province_code, created_at) \
             SELECT sh.id, e.id, '{PROVINCE}', sh.created_at FROM gen_shops sh JOIN gen_ent e ON e.j = sh.i"
        ),
    )
    .await?;
    let programmes = [
        "Chương trình hỗ trợ chuyển đổi số doanh nghiệp nhỏ và vừa",
        "Đề án thương mại điện tử tỉnh",
        "Chương trình khuyến công",
    ];
    let mut rows = Vec::new();
    let mut programme_of = Vec::new();
    for (i, name) in programmes.iter().enumerate() {
        let id = text(&crate::sql::ulid(registered, kind::PROGRAMME, i as i64));
        programme_of.push(format!("WHEN {i} THEN {id}"));
        rows.push(format!(
            "({id}, '{PROVINCE}', {}, {}, 1000000000000000, {staff}, {registered})",
            text(&clean(name)),
            text(&clean("Ngân sách tỉnh")),
        ));
    }
    insert_rows(
        db,
        "programmes",
        "id, province_code, name, funding_source, budget, created_by, created_at",
        &rows,
        10,
    )
    .await?;
    // Three records for seven in ten enterprises.
    let kinds: Vec<String> = KINDS
        .iter()
        .enumerate()
        .map(|(i, k)| format!("WHEN {i} THEN '{k}'"))
        .collect();
    exec(
        db,
        "support_records",
        format!(
            "INSERT INTO support_records (id, province_code, enterprise_id, programme_id, programme_name, kind, provider, \
             contract_value, subsidy, date, day, status, voided, void_reason, created_by, created_at, updated_at) \
             SELECT {id}, '{PROVINCE}', x.enterprise_id, \
             CASE x.r {programme_of} ELSE NULL END, \
             CASE WHEN x.r = 2 THEN {other} ELSE NULL END, \
             CASE x.n % {nk} {kinds} END, 'Nhà cung cấp ' || (x.n % 50), \
             20000000 + (x.n % 10) * 1000000, (x.n % 10) * 500000, x.date, x.day, \
             CASE WHEN x.n % 20 = 0 THEN 'rejected' WHEN x.n % 4 = 1 THEN 'disbursed' ELSE 'closed' END, \
             x.n % 50 = 7, CASE WHEN x.n % 50 = 7 THEN {dup} ELSE NULL END, {staff}, x.at, x.at FROM \
             (SELECT s.n, s.n % 3 AS r, e.id AS enterprise_id, d.date, d.day, d.day * {DAY_MS} - 25200000 + 36000000 AS at \
              FROM gen_seq s JOIN gen_ent e ON e.j = s.n / 3 JOIN gen_days d ON d.i = (s.n * 31) % 365 \
              WHERE s.n < {records} AND (s.n / 3) % 10 < 7) x",
            id = ulid_sql("x.at", kind::RECORD, "x.n"),
            other = text(&clean("Hỗ trợ khác")),
            dup = text(&clean("Nhập trùng")),
            nk = KINDS.len(),
            kinds = kinds.join(" "),
            programme_of = programme_of[..2].join(" "),
            records = 6 * n,
        ),
    )
    .await?;
    // The STOREFRONT record of each linked enterprise, made when its shop was published.
    exec(
        db,
        "storefront records",
        format!(
            "INSERT INTO support_records (id, province_code, enterprise_id, kind, date, day, status, note, voided, auto_key, \
             created_at, updated_at) \
             SELECT {id}, '{PROVINCE}', x.enterprise_id, 'STOREFRONT', x.date, x.day, 'closed', 'auto', FALSE, \
             'storefront:' || x.enterprise_id, x.at, x.at FROM \
             (SELECT e.id AS enterprise_id, sh.created_at + {DAY_MS} AS at, 1000000000 + sh.i AS num, \
              (sh.created_at + {DAY_MS} + 25200000) / {DAY_MS} AS day, '' AS date \
              FROM gen_shops sh JOIN gen_ent e ON e.j = sh.i) x",
            id = ulid_sql("x.at", kind::RECORD, "x.num"),
        ),
    )
    .await?;
    // Their dates (the shops were published before the calendar above begins).
    let rows = sqlx::query("SELECT DISTINCT day FROM support_records WHERE kind = 'STOREFRONT'")
        .fetch_all(db.read())
        .await
        .map_err(crate::sql::err)?;
    for r in rows {
        let day: i64 = sqlx::Row::try_get(&r, "day").map_err(crate::sql::err)?;
        exec(
            db,
            "storefront dates",
            format!(
                "UPDATE support_records SET date = '{}' WHERE kind = 'STOREFRONT' AND day = {day}",
                support::day_to_date(day)
            ),
        )
        .await?;
    }
    exec(
        db,
        "programme spent",
        "UPDATE programmes SET spent = (SELECT COALESCE(SUM(r.subsidy), 0) FROM support_records r \
         WHERE r.programme_id = programmes.id AND r.voided = FALSE AND r.status <> 'rejected')"
            .into(),
    )
    .await?;
    totals::rebuild(db, None)
        .await
        .map_err(|e| format!("totals: {e}"))?;
    Ok(())
}
