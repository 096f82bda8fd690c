//! Programmes (budget, subsidy rules) and support records (the status workflow, voiding, the
//! audit log). A record's subsidy counts against its programme's budget while the record is
//! neither voided nor rejected; the programme's `spent` is kept by one conditional update in
//! the record's transaction, so two records can never overspend the budget together. Every
//! change of a record also moves the running totals it feeds, in its transaction: the
//! enterprise's support counters and first support day (with its sales windows), the
//! per-group totals (`regroup`), and the province's totals (`province_totals`: the
//! enterprise's contribution is taken out before the change and put back after it).

use sqlx::{Row, any::AnyRow};

use super::{
    Enterprise, SizeClass, date_to_day, day_to_date, load_for_staff,
    province_totals::{self, Of},
    require_province, require_staff, user_error, vn_day,
};
use crate::{
    accounts::User,
    db::{Db, Tx, bool_col},
    error::{Error, Result, UserError},
    ids::{new_id, now_ms},
    text::{Vnd, clean, fold},
};

/// Kinds of support (contract enum `SupportKind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum SupportKind {
    Training,
    Consulting,
    Storefront,
    EInvoice,
    DigitalSignature,
    CloudSoftware,
    Marketplace,
    Financing,
    Other,
}

impl SupportKind {
    pub const ALL: [SupportKind; 9] = [
        SupportKind::Training,
        SupportKind::Consulting,
        SupportKind::Storefront,
        SupportKind::EInvoice,
        SupportKind::DigitalSignature,
        SupportKind::CloudSoftware,
        SupportKind::Marketplace,
        SupportKind::Financing,
        SupportKind::Other,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            SupportKind::Training => "TRAINING",
            SupportKind::Consulting => "CONSULTING",
            SupportKind::Storefront => "STOREFRONT",
            SupportKind::EInvoice => "E_INVOICE",
            SupportKind::DigitalSignature => "DIGITAL_SIGNATURE",
            SupportKind::CloudSoftware => "CLOUD_SOFTWARE",
            SupportKind::Marketplace => "MARKETPLACE",
            SupportKind::Financing => "FINANCING",
            SupportKind::Other => "OTHER",
        }
    }
    pub fn label_vi(self) -> &'static str {
        match self {
            SupportKind::Training => "Đào tạo",
            SupportKind::Consulting => "Tư vấn",
            SupportKind::Storefront => "Cửa hàng trực tuyến",
            SupportKind::EInvoice => "Hóa đơn điện tử",
            SupportKind::DigitalSignature => "Chữ ký số",
            SupportKind::CloudSoftware => "Phần mềm điện toán đám mây",
            SupportKind::Marketplace => "Sàn thương mại điện tử",
            SupportKind::Financing => "Tài chính",
            SupportKind::Other => "Khác",
        }
    }
    pub fn parse(s: &str) -> Option<SupportKind> {
        SupportKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s.trim())
    }
}

/// The status workflow: applied → approved → contracted → disbursed → reported → closed, or
/// rejected (from applied, approved or contracted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Status {
    Applied,
    Approved,
    Contracted,
    Disbursed,
    Reported,
    Closed,
    Rejected,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Applied => "applied",
            Status::Approved => "approved",
            Status::Contracted => "contracted",
            Status::Disbursed => "disbursed",
            Status::Reported => "reported",
            Status::Closed => "closed",
            Status::Rejected => "rejected",
        }
    }
    /// Every status, in workflow order.
    pub const ALL: [Status; 7] = [
        Status::Applied,
        Status::Approved,
        Status::Contracted,
        Status::Disbursed,
        Status::Reported,
        Status::Closed,
        Status::Rejected,
    ];

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL
            .into_iter()
            .find(|x| x.as_str().eq_ignore_ascii_case(s.trim()))
    }
    /// Whether the workflow allows going from `self` to `to`.
    pub fn can_become(self, to: Status) -> bool {
        use Status::*;
        matches!(
            (self, to),
            (Applied, Approved)
                | (Approved, Contracted)
                | (Contracted, Disbursed)
                | (Disbursed, Reported)
                | (Reported, Closed)
                | (Applied | Approved | Contracted, Rejected)
        )
    }
}

/// A support programme of a province.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Programme {
    pub id: String,
    pub province_code: String,
    pub name: String,
    pub funding_source: Option<String>,
    pub decision_number: Option<String>,
    pub decision_date: Option<String>,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    pub budget: i64,
    pub spent: i64,
    /// Largest subsidy as a percentage of the contract value.
    pub max_share_percent: Option<i64>,
    pub cap_micro: Option<i64>,
    pub cap_small: Option<i64>,
    pub cap_medium: Option<i64>,
    pub created_at: i64,
}

impl Programme {
    pub fn remaining(&self) -> i64 {
        self.budget - self.spent
    }
    /// The yearly cap per enterprise for a size class; for an unknown class the strictest cap.
    pub fn cap_for(&self, size: Option<SizeClass>) -> Option<i64> {
        match size {
            Some(SizeClass::Micro) => self.cap_micro,
            Some(SizeClass::Small) => self.cap_small,
            Some(SizeClass::Medium) => self.cap_medium,
            None => [self.cap_micro, self.cap_small, self.cap_medium]
                .into_iter()
                .flatten()
                .min(),
        }
    }
}

const PROG_COLS: &str = "id, province_code, name, funding_source, decision_number, decision_date, start_date, \
    end_date, budget, spent, max_share_percent, cap_micro, cap_small, cap_medium, created_at";

fn prog_from_row(r: &AnyRow) -> Result<Programme> {
    Ok(Programme {
        id: r.try_get("id")?,
        province_code: r.try_get("province_code")?,
        name: r.try_get("name")?,
        funding_source: r.try_get("funding_source")?,
        decision_number: r.try_get("decision_number")?,
        decision_date: r.try_get("decision_date")?,
        start_date: r.try_get("start_date")?,
        end_date: r.try_get("end_date")?,
        budget: r.try_get("budget")?,
        spent: r.try_get("spent")?,
        max_share_percent: r.try_get("max_share_percent")?,
        cap_micro: r.try_get("cap_micro")?,
        cap_small: r.try_get("cap_small")?,
        cap_medium: r.try_get("cap_medium")?,
        created_at: r.try_get("created_at")?,
    })
}

#[derive(Debug, Clone, Default)]
pub struct NewProgramme {
    pub province_code: String,
    pub name: String,
    pub funding_source: Option<String>,
    pub decision_number: Option<String>,
    pub decision_date: Option<String>,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    pub budget: String,
    pub max_share_percent: Option<i64>,
    pub cap_micro: Option<String>,
    pub cap_small: Option<String>,
    pub cap_medium: Option<String>,
}

fn f(name: &str) -> Vec<String> {
    vec!["input".to_string(), name.to_string()]
}

fn opt_text(
    v: Option<&str>,
    max: usize,
    name: &str,
    errors: &mut Vec<UserError>,
) -> Option<String> {
    let v = clean(v?);
    if v.chars().count() > max {
        errors.push(user_error(
            f(name),
            "TOO_LONG",
            format!("At most {max} characters."),
        ));
    }
    (!v.is_empty()).then_some(v)
}

fn opt_date(v: Option<&str>, name: &str, errors: &mut Vec<UserError>) -> Option<String> {
    let v = v.map(str::trim).filter(|s| !s.is_empty())?;
    if date_to_day(v).is_none() {
        errors.push(user_error(
            f(name),
            "INVALID_DATE",
            format!("{v:?} is not a date: write YYYY-MM-DD."),
        ));
        return None;
    }
    Some(v.to_string())
}

fn opt_money(v: Option<&str>, name: &str, errors: &mut Vec<UserError>) -> Option<i64> {
    let v = v.map(str::trim).filter(|s| !s.is_empty())?;
    match Vnd::parse(v) {
        Ok(x) => Some(x.amount()),
        Err(e) => {
            errors.push(user_error(f(name), e.code(), e.to_string()));
            None
        }
    }
}

/// Creates a programme (staff of its province, admins).
pub async fn create_programme(db: &Db, user: &User, p: NewProgramme) -> Result<Programme> {
    require_staff(user)?;
    let mut errors = Vec::new();
    let province = p.province_code.trim().to_string();
    if !crate::provinces::is_valid(&province) {
        errors.push(user_error(
            f("provinceCode"),
            "INVALID_PROVINCE",
            format!("{province:?} is not one of the 34 province codes."),
        ));
        return Err(Error::Invalid(errors));
    }
    require_province(user, &province)?;
    let name = clean(&p.name);
    if name.is_empty() {
        errors.push(user_error(
            f("name"),
            "REQUIRED",
            "The programme needs a name.",
        ));
    }
    let budget = opt_money(Some(&p.budget), "budget", &mut errors).unwrap_or(0);
    let start = opt_date(p.start_date.as_deref(), "startDate", &mut errors);
    let end = opt_date(p.end_date.as_deref(), "endDate", &mut errors);
    if let (Some(s), Some(e)) = (&start, &end)
        && e < s
    {
        errors.push(user_error(
            f("endDate"),
            "INVALID_PERIOD",
            "The programme ends before it starts.",
        ));
    }
    if let Some(s) = p.max_share_percent
        && !(1..=100).contains(&s)
    {
        errors.push(user_error(
            f("maxShareOfContract"),
            "INVALID_PERCENT",
            "The share of a contract is a percentage from 1 to 100.",
        ));
    }
    let prog = Programme {
        id: new_id(),
        province_code: province,
        name,
        funding_source: opt_text(
            p.funding_source.as_deref(),
            200,
            "fundingSource",
            &mut errors,
        ),
        decision_number: opt_text(
            p.decision_number.as_deref(),
            100,
            "decisionNumber",
            &mut errors,
        ),
        decision_date: opt_date(p.decision_date.as_deref(), "decisionDate", &mut errors),
        start_date: start,
        end_date: end,
        budget,
        spent: 0,
        max_share_percent: p.max_share_percent,
        cap_micro: opt_money(p.cap_micro.as_deref(), "capMicro", &mut errors),
        cap_small: opt_money(p.cap_small.as_deref(), "capSmall", &mut errors),
        cap_medium: opt_money(p.cap_medium.as_deref(), "capMedium", &mut errors),
        created_at: now_ms(),
    };
    if !errors.is_empty() {
        return Err(Error::Invalid(errors));
    }
    let sql = format!(
        "INSERT INTO programmes ({PROG_COLS}, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(prog.id.clone())
        .bind(prog.province_code.clone())
        .bind(prog.name.clone())
        .bind(prog.funding_source.clone())
        .bind(prog.decision_number.clone())
        .bind(prog.decision_date.clone())
        .bind(prog.start_date.clone())
        .bind(prog.end_date.clone())
        .bind(prog.budget)
        .bind(prog.spent)
        .bind(prog.max_share_percent)
        .bind(prog.cap_micro)
        .bind(prog.cap_small)
        .bind(prog.cap_medium)
        .bind(prog.created_at)
        .bind(user.id.clone())
        .execute(db.write())
        .await?;
    Ok(prog)
}

/// A programme by id, without access check.
pub async fn load_programme(db: &Db, id: &str) -> Result<Option<Programme>> {
    let sql = format!("SELECT {PROG_COLS} FROM programmes WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id.trim().to_string())
        .fetch_optional(db.read())
        .await?;
    row.as_ref().map(prog_from_row).transpose()
}

/// The programmes of a province (staff of it, admins).
pub async fn programmes(db: &Db, user: &User, province: &str) -> Result<Vec<Programme>> {
    require_province(user, province)?;
    let sql = format!("SELECT {PROG_COLS} FROM programmes WHERE province_code = $1 ORDER BY id");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(province.trim().to_string())
        .fetch_all(db.read())
        .await?;
    rows.iter().map(prog_from_row).collect()
}

/// A support record.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SupportRecord {
    pub id: String,
    pub province_code: String,
    pub enterprise_id: String,
    pub programme_id: Option<String>,
    /// The programme's name (or the free text given when no programme is registered).
    pub programme: Option<String>,
    pub kind: SupportKind,
    pub provider: Option<String>,
    pub contract_value: Option<i64>,
    pub subsidy: Option<i64>,
    pub date: String,
    pub status: Status,
    pub note: Option<String>,
    pub voided: bool,
    pub void_reason: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl SupportRecord {
    /// Whether its subsidy counts against the programme budget (and it counts as support).
    pub fn counts(&self) -> bool {
        !self.voided && self.status != Status::Rejected
    }
}

const REC_COLS: &str = "r.id, r.province_code, r.enterprise_id, r.programme_id, COALESCE(p.name, r.programme_name) AS programme, \
    r.kind, r.provider, r.contract_value, r.subsidy, r.date, r.status, r.note, r.voided, r.void_reason, r.created_at, r.updated_at";
const REC_FROM: &str = "support_records r LEFT JOIN programmes p ON p.id = r.programme_id";

fn rec_from_row(r: &AnyRow) -> Result<SupportRecord> {
    let kind: String = r.try_get("kind")?;
    let status: String = r.try_get("status")?;
    Ok(SupportRecord {
        id: r.try_get("id")?,
        province_code: r.try_get("province_code")?,
        enterprise_id: r.try_get("enterprise_id")?,
        programme_id: r.try_get("programme_id")?,
        programme: r.try_get("programme")?,
        kind: SupportKind::parse(&kind)
            .ok_or_else(|| Error::Internal(format!("unknown support kind {kind}")))?,
        provider: r.try_get("provider")?,
        contract_value: r.try_get("contract_value")?,
        subsidy: r.try_get("subsidy")?,
        date: r.try_get("date")?,
        status: Status::parse(&status)
            .ok_or_else(|| Error::Internal(format!("unknown support status {status}")))?,
        note: r.try_get("note")?,
        voided: bool_col(r, "voided")?,
        void_reason: r.try_get("void_reason")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

async fn load_record(db: &Db, id: &str) -> Result<Option<SupportRecord>> {
    let sql = format!("SELECT {REC_COLS} FROM {REC_FROM} WHERE r.id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id.trim().to_string())
        .fetch_optional(db.read())
        .await?;
    row.as_ref().map(rec_from_row).transpose()
}

async fn load_record_tx(tx: &mut Tx, id: &str) -> Result<SupportRecord> {
    let sql = format!("SELECT {REC_COLS} FROM {REC_FROM} WHERE r.id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id.to_string())
        .fetch_one(&mut **tx)
        .await?;
    rec_from_row(&row)
}

/// The support records of several enterprises of one province in one statement (the caller
/// has checked access), oldest first, by enterprise id.
pub async fn for_enterprises(
    db: &Db,
    province: &str,
    ids: &[String],
) -> Result<std::collections::HashMap<String, Vec<SupportRecord>>> {
    let mut out: std::collections::HashMap<String, Vec<SupportRecord>> =
        ids.iter().map(|id| (id.clone(), Vec::new())).collect();
    if ids.is_empty() {
        return Ok(out);
    }
    let sql = format!(
        "SELECT {REC_COLS} FROM {REC_FROM} WHERE r.province_code = $1 AND r.enterprise_id IN ({}) \
         ORDER BY r.date, r.id",
        crate::db::placeholders(1, ids.len())
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(province.to_string());
    for id in ids {
        q = q.bind(id.clone());
    }
    for r in q.fetch_all(db.read()).await? {
        let rec = rec_from_row(&r)?;
        out.entry(rec.enterprise_id.clone()).or_default().push(rec);
    }
    Ok(out)
}

/// The support records of an enterprise, oldest first (the caller has checked access).
pub async fn for_enterprise(db: &Db, e: &Enterprise) -> Result<Vec<SupportRecord>> {
    let sql = format!(
        "SELECT {REC_COLS} FROM {REC_FROM} WHERE r.province_code = $1 AND r.enterprise_id = $2 ORDER BY r.date, r.id"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(e.province_code.clone())
        .bind(e.id.clone())
        .fetch_all(db.read())
        .await?;
    rows.iter().map(rec_from_row).collect()
}

/// A support record (staff of its province, admins).
pub async fn get_record(db: &Db, user: &User, id: &str) -> Result<SupportRecord> {
    require_staff(user)?;
    let r = load_record(db, id)
        .await?
        .ok_or(Error::NotFound("support record"))?;
    require_province(user, &r.province_code)?;
    Ok(r)
}

#[derive(Debug, Clone, Default)]
pub struct NewSupport {
    pub enterprise_id: String,
    pub kind: Option<SupportKind>,
    /// A programme name (the contract's `programme`): linked when a programme of the province
    /// has that name, kept as text otherwise.
    pub programme: Option<String>,
    pub programme_id: Option<String>,
    pub date: String,
    pub subsidy: Option<String>,
    pub contract_value: Option<String>,
    pub provider: Option<String>,
    pub note: Option<String>,
    pub status: Option<Status>,
}

fn cap_exceeded(field: &str, message: String) -> Error {
    Error::Invalid(vec![user_error(f(field), "SUBSIDY_CAP_EXCEEDED", message)])
}

/// Records support given to an enterprise (staff of its province, admins), applying the
/// programme's rules: share of the contract, yearly cap per size class, remaining budget.
pub async fn record_support(db: &Db, user: &User, input: NewSupport) -> Result<SupportRecord> {
    let e = load_for_staff(db, user, &input.enterprise_id).await?;
    let mut errors = Vec::new();
    let date = input.date.trim().to_string();
    let day = date_to_day(&date);
    if day.is_none() {
        errors.push(user_error(
            f("date"),
            "INVALID_DATE",
            format!("{date:?} is not a date: write YYYY-MM-DD."),
        ));
    }
    let subsidy = opt_money(input.subsidy.as_deref(), "subsidy", &mut errors);
    let contract_value = opt_money(
        input.contract_value.as_deref(),
        "contractValue",
        &mut errors,
    );
    let provider = opt_text(input.provider.as_deref(), 200, "provider", &mut errors);
    let note = opt_text(input.note.as_deref(), 2000, "note", &mut errors);
    let status = input.status.unwrap_or(Status::Applied);
    if status == Status::Rejected {
        errors.push(user_error(
            f("status"),
            "INVALID_TRANSITION",
            "A record cannot start rejected.",
        ));
    }
    let kind = input.kind.unwrap_or(SupportKind::Other);
    // The programme: by id, or by name among the province's programmes.
    let mut programme = None;
    let mut programme_name = None;
    if let Some(pid) = input
        .programme_id
        .as_deref()
        .filter(|s| !s.trim().is_empty())
    {
        match load_programme(db, pid).await? {
            Some(p) if p.province_code == e.province_code => programme = Some(p),
            Some(_) => return Err(Error::Forbidden),
            None => errors.push(user_error(
                f("programmeId"),
                "PROGRAMME_NOT_FOUND",
                "There is no such programme.",
            )),
        }
    } else if let Some(name) = opt_text(input.programme.as_deref(), 200, "programme", &mut errors) {
        let key = fold(&name);
        programme = programmes(db, user, &e.province_code)
            .await?
            .into_iter()
            .find(|p| fold(&p.name) == key);
        if programme.is_none() {
            programme_name = Some(name);
        }
    }
    if !errors.is_empty() {
        return Err(Error::Invalid(errors));
    }
    let day = day.unwrap_or_default();
    let amount = subsidy.unwrap_or(0);
    if let Some(p) = &programme
        && amount > 0
        && let Some(share) = p.max_share_percent
    {
        let Some(cv) = contract_value else {
            return Err(Error::user(
                &["input", "contractValue"],
                "CONTRACT_VALUE_REQUIRED",
                format!(
                    "The programme pays at most {share} % of a contract: give the contract value."
                ),
            ));
        };
        if (amount as i128) * 100 > (cv as i128) * (share as i128) {
            return Err(cap_exceeded(
                "subsidy",
                format!(
                    "The subsidy is over {share} % of the contract value ({}).",
                    crate::text::format_vnd(cv)
                ),
            ));
        }
    }
    let now = now_ms();
    let rec = SupportRecord {
        id: new_id(),
        province_code: e.province_code.clone(),
        enterprise_id: e.id.clone(),
        programme_id: programme.as_ref().map(|p| p.id.clone()),
        programme: programme
            .as_ref()
            .map(|p| p.name.clone())
            .or(programme_name.clone()),
        kind,
        provider,
        contract_value,
        subsidy,
        date: date.clone(),
        status,
        note,
        voided: false,
        void_reason: None,
        created_at: now,
        updated_at: now,
    };
    let mut tx = db.begin().await?;
    if let Some(p) = &programme
        && amount > 0
    {
        // The first write of the transaction: takes the budget, or nothing.
        let taken = sqlx::query(
            "UPDATE programmes SET spent = spent + $1 WHERE id = $2 AND spent + $1 <= budget",
        )
        .bind(amount)
        .bind(p.id.clone())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if taken == 0 {
            return Err(cap_exceeded(
                "subsidy",
                format!(
                    "The programme's remaining budget ({}) is less than the subsidy.",
                    crate::text::format_vnd(p.remaining().max(0))
                ),
            ));
        }
        if let Some(cap) = p.cap_for(e.size_class) {
            let year = date.get(..4).unwrap_or_default().to_string();
            let row = sqlx::query(
                "SELECT CAST(COALESCE(SUM(subsidy), 0) AS BIGINT) AS s FROM support_records \
                 WHERE province_code = $1 AND enterprise_id = $2 AND programme_id = $3 AND voided = FALSE \
                 AND status <> 'rejected' AND SUBSTR(date, 1, 4) = $4",
            )
            .bind(e.province_code.clone())
            .bind(e.id.clone())
            .bind(p.id.clone())
            .bind(year.clone())
            .fetch_one(&mut *tx)
            .await?;
            let already: i64 = row.try_get("s")?;
            if already + amount > cap {
                return Err(cap_exceeded(
                    "subsidy",
                    format!(
                        "The programme gives a {} enterprise at most {} a year; {} already granted in {year}.",
                        e.size_class
                            .map(|s| s.label_vi())
                            .unwrap_or("chưa phân loại"),
                        crate::text::format_vnd(cap),
                        crate::text::format_vnd(already)
                    ),
                ));
            }
        }
    }
    // The record moves the enterprise's support counters and maybe its first support day.
    province_totals::retract(&mut tx, Of::Enterprise(&e.id)).await?;
    sqlx::query(
        "INSERT INTO support_records (id, province_code, enterprise_id, programme_id, programme_name, kind, provider, \
         contract_value, subsidy, date, day, status, note, voided, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, FALSE, $14, $15, $15)",
    )
    .bind(rec.id.clone())
    .bind(rec.province_code.clone())
    .bind(rec.enterprise_id.clone())
    .bind(rec.programme_id.clone())
    .bind(programme_name)
    .bind(kind.as_str().to_string())
    .bind(rec.provider.clone())
    .bind(rec.contract_value)
    .bind(rec.subsidy)
    .bind(rec.date.clone())
    .bind(day)
    .bind(status.as_str().to_string())
    .bind(rec.note.clone())
    .bind(user.id.clone())
    .bind(now)
    .execute(&mut *tx)
    .await?;
    audit(&mut tx, &rec, Some(&user.id), "create", None, Some(&rec)).await?;
    refresh_first_support(&mut tx, &e.id).await?;
    province_totals::add(&mut tx, Of::Enterprise(&e.id)).await?;
    tx.commit().await?;
    Ok(rec)
}

async fn audit(
    tx: &mut Tx,
    rec: &SupportRecord,
    actor: Option<&str>,
    action: &str,
    before: Option<&SupportRecord>,
    after: Option<&SupportRecord>,
) -> Result<()> {
    regroup(tx, before, after).await?;
    let json = |r: Option<&SupportRecord>| r.and_then(|r| serde_json::to_string(r).ok());
    sqlx::query(
        "INSERT INTO support_audit (id, province_code, record_id, actor_id, at, action, before_json, after_json) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(new_id())
    .bind(rec.province_code.clone())
    .bind(rec.id.clone())
    .bind(actor.map(str::to_string))
    .bind(now_ms())
    .bind(action.to_string())
    .bind(json(before))
    .bind(json(after))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Keeps `enterprises.first_support_day` (what the dashboard reads) up to date, and when it
/// moves, recomputes the enterprise's sales totals around it from its daily aggregates (a few
/// hundred rows at most: one enterprise's days).
async fn refresh_first_support(tx: &mut Tx, enterprise_id: &str) -> Result<()> {
    let moved = sqlx::query(
        "UPDATE enterprises SET first_support_day = (SELECT MIN(day) FROM support_records \
         WHERE enterprise_id = $1 AND voided = FALSE AND status <> 'rejected') WHERE id = $1 \
         AND COALESCE(first_support_day, -1) <> COALESCE((SELECT MIN(day) FROM support_records \
         WHERE enterprise_id = $1 AND voided = FALSE AND status <> 'rejected'), -1)",
    )
    .bind(enterprise_id.to_string())
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if moved == 0 {
        return Ok(());
    }
    let sum = |col: &str, cond: &str| {
        format!(
            "(SELECT COALESCE(SUM(d.{col}), 0) FROM enterprise_daily d WHERE d.province_code = enterprises.province_code \
             AND d.enterprise_id = enterprises.id AND {cond})"
        )
    };
    let since = "d.day >= enterprises.first_support_day";
    let before =
        "d.day < enterprises.first_support_day AND d.day >= enterprises.first_support_day - $2";
    let after =
        "d.day >= enterprises.first_support_day AND d.day < enterprises.first_support_day + $2";
    let sql = format!(
        "UPDATE enterprises SET orders_since = {}, revenue_since = {}, orders_before = {}, revenue_before = {}, \
         orders_after = {}, revenue_after = {} WHERE id = $1",
        sum("orders", since),
        sum("revenue", since),
        sum("orders", before),
        sum("revenue", before),
        sum("orders", after),
        sum("revenue", after),
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(enterprise_id.to_string())
        .bind(super::dashboard::WINDOW_DAYS)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The groups a counted record adds to: (dimension, key) for the dashboard's breakdowns by
/// programme, kind and month.
fn groups_of(rec: &SupportRecord) -> [(&'static str, String); 3] {
    [
        ("programme", rec.programme.clone().unwrap_or_default()),
        ("kind", rec.kind.as_str().to_string()),
        ("month", rec.date.chars().take(7).collect()),
    ]
}

/// Moves a record's contribution in the running totals from `before` to `after` (either may
/// be absent or not counted): the enterprise's support counters and the per-group totals with
/// their distinct-enterprise counts. Called with every audited change, in its transaction.
async fn regroup(
    tx: &mut Tx,
    before: Option<&SupportRecord>,
    after: Option<&SupportRecord>,
) -> Result<()> {
    let was = before.filter(|r| r.counts());
    let is = after.filter(|r| r.counts());
    if let (Some(a), Some(b)) = (was, is)
        && a.enterprise_id == b.enterprise_id
        && a.subsidy == b.subsidy
        && groups_of(a) == groups_of(b)
    {
        return Ok(());
    }
    if let Some(r) = was {
        contribute(tx, r, -1).await?;
    }
    if let Some(r) = is {
        contribute(tx, r, 1).await?;
    }
    Ok(())
}

async fn contribute(tx: &mut Tx, rec: &SupportRecord, sign: i64) -> Result<()> {
    let subsidy = sign * rec.subsidy.unwrap_or(0);
    sqlx::query(
        "UPDATE enterprises SET support_records = support_records + $1, support_subsidy = support_subsidy + $2 \
         WHERE id = $3",
    )
    .bind(sign)
    .bind(subsidy)
    .bind(rec.enterprise_id.clone())
    .execute(&mut **tx)
    .await?;
    for (dim, key) in groups_of(rec) {
        let row = sqlx::query(
            "INSERT INTO support_group_members (province_code, dim, key, enterprise_id, records) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (province_code, dim, key, enterprise_id) \
             DO UPDATE SET records = support_group_members.records + excluded.records RETURNING records",
        )
        .bind(rec.province_code.clone())
        .bind(dim)
        .bind(key.clone())
        .bind(rec.enterprise_id.clone())
        .bind(sign)
        .fetch_one(&mut **tx)
        .await?;
        let now: i64 = row.try_get("records")?;
        // The enterprise joins the group with its first record and leaves it with its last.
        let enterprises = match (sign > 0, now) {
            (true, 1) => 1,
            (false, 0) => -1,
            _ => 0,
        };
        if now <= 0 {
            sqlx::query(
                "DELETE FROM support_group_members WHERE province_code = $1 AND dim = $2 AND key = $3 \
                 AND enterprise_id = $4",
            )
            .bind(rec.province_code.clone())
            .bind(dim)
            .bind(key.clone())
            .bind(rec.enterprise_id.clone())
            .execute(&mut **tx)
            .await?;
        }
        sqlx::query(
            "INSERT INTO support_groups (province_code, dim, key, records, subsidy, enterprises) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (province_code, dim, key) DO UPDATE SET \
             records = support_groups.records + excluded.records, subsidy = support_groups.subsidy + excluded.subsidy, \
             enterprises = support_groups.enterprises + excluded.enterprises",
        )
        .bind(rec.province_code.clone())
        .bind(dim)
        .bind(key)
        .bind(sign)
        .bind(subsidy)
        .bind(enterprises)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Gives the record's subsidy back to its programme's budget.
async fn release(tx: &mut Tx, rec: &SupportRecord) -> Result<()> {
    if let (Some(pid), Some(amount)) = (&rec.programme_id, rec.subsidy)
        && amount > 0
    {
        sqlx::query("UPDATE programmes SET spent = spent - $1 WHERE id = $2")
            .bind(amount)
            .bind(pid.clone())
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Moves a record along the workflow (`INVALID_TRANSITION` when the workflow forbids it).
pub async fn update_status(
    db: &Db,
    user: &User,
    record_id: &str,
    to: Status,
    note: Option<String>,
) -> Result<SupportRecord> {
    let before = get_record(db, user, record_id).await?;
    if before.voided || !before.status.can_become(to) {
        return Err(Error::user(
            &["status"],
            "INVALID_TRANSITION",
            format!(
                "A {} record cannot become {}.",
                if before.voided {
                    "voided"
                } else {
                    before.status.as_str()
                },
                to.as_str()
            ),
        ));
    }
    let mut errors = Vec::new();
    let note = opt_text(note.as_deref(), 2000, "note", &mut errors);
    if !errors.is_empty() {
        return Err(Error::Invalid(errors));
    }
    let now = now_ms();
    let mut tx = db.begin().await?;
    let changed = sqlx::query(
        "UPDATE support_records SET status = $1, note = COALESCE($2, note), updated_at = $3 \
         WHERE id = $4 AND status = $5 AND voided = FALSE",
    )
    .bind(to.as_str().to_string())
    .bind(note)
    .bind(now)
    .bind(before.id.clone())
    .bind(before.status.as_str().to_string())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if changed == 0 {
        return Err(Error::user(
            &["status"],
            "INVALID_TRANSITION",
            "The record changed meanwhile: reload it and try again.",
        ));
    }
    if to == Status::Rejected {
        release(&mut tx, &before).await?;
    }
    province_totals::retract(&mut tx, Of::Enterprise(&before.enterprise_id)).await?;
    let after = load_record_tx(&mut tx, &before.id).await?;
    audit(
        &mut tx,
        &after,
        Some(&user.id),
        "status",
        Some(&before),
        Some(&after),
    )
    .await?;
    refresh_first_support(&mut tx, &before.enterprise_id).await?;
    province_totals::add(&mut tx, Of::Enterprise(&before.enterprise_id)).await?;
    tx.commit().await?;
    Ok(after)
}

/// Voids a record with a reason (records are never deleted).
pub async fn void_record(
    db: &Db,
    user: &User,
    record_id: &str,
    reason: &str,
) -> Result<SupportRecord> {
    let before = get_record(db, user, record_id).await?;
    let reason = clean(reason);
    if reason.is_empty() {
        return Err(Error::user(
            &["reason"],
            "REQUIRED",
            "Give the reason for voiding the record.",
        ));
    }
    if before.voided {
        return Err(Error::user(
            &["recordId"],
            "ALREADY_VOIDED",
            "The record is already voided.",
        ));
    }
    let mut tx = db.begin().await?;
    let changed = sqlx::query(
        "UPDATE support_records SET voided = TRUE, void_reason = $1, updated_at = $2 WHERE id = $3 AND voided = FALSE",
    )
    .bind(reason)
    .bind(now_ms())
    .bind(before.id.clone())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if changed == 0 {
        return Err(Error::user(
            &["recordId"],
            "ALREADY_VOIDED",
            "The record is already voided.",
        ));
    }
    if before.counts() {
        release(&mut tx, &before).await?;
    }
    province_totals::retract(&mut tx, Of::Enterprise(&before.enterprise_id)).await?;
    let after = load_record_tx(&mut tx, &before.id).await?;
    audit(
        &mut tx,
        &after,
        Some(&user.id),
        "void",
        Some(&before),
        Some(&after),
    )
    .await?;
    refresh_first_support(&mut tx, &before.enterprise_id).await?;
    province_totals::add(&mut tx, Of::Enterprise(&before.enterprise_id)).await?;
    tx.commit().await?;
    Ok(after)
}

/// One change of a record.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditEntry {
    pub at: i64,
    pub actor_id: Option<String>,
    pub actor_name: Option<String>,
    pub action: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// The audit log of a record, oldest first (the caller has checked access to the record).
pub async fn audit_log(db: &Db, rec: &SupportRecord) -> Result<Vec<AuditEntry>> {
    let rows = sqlx::query(
        "SELECT a.at, a.actor_id, u.full_name, a.action, a.before_json, a.after_json FROM support_audit a \
         LEFT JOIN users u ON u.id = a.actor_id WHERE a.record_id = $1 ORDER BY a.at, a.id",
    )
    .bind(rec.id.clone())
    .fetch_all(db.read())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(AuditEntry {
                at: r.try_get("at")?,
                actor_id: r.try_get("actor_id")?,
                actor_name: r.try_get("full_name")?,
                action: r.try_get("action")?,
                before: r.try_get("before_json")?,
                after: r.try_get("after_json")?,
            })
        })
        .collect()
}

/// The automatic STOREFRONT record of an enterprise whose linked shop went live (once). Inside
/// the publishing transaction, which has already taken the enterprise's contribution out of
/// the province's totals and puts it back afterwards (`support::on_shop_published`).
pub(crate) async fn auto_storefront(tx: &mut Tx, enterprise_id: &str) -> Result<()> {
    let now = now_ms();
    let day = vn_day(now);
    let inserted = sqlx::query(
        "INSERT INTO support_records (id, province_code, enterprise_id, kind, date, day, status, note, voided, \
         auto_key, created_at, updated_at) \
         SELECT $1, e.province_code, e.id, 'STOREFRONT', $2, $3, 'closed', 'auto', FALSE, $4, $5, $5 \
         FROM enterprises e WHERE e.id = $6 \
         ON CONFLICT (auto_key) DO NOTHING RETURNING id",
    )
    .bind(new_id())
    .bind(day_to_date(day))
    .bind(day)
    .bind(format!("storefront:{enterprise_id}"))
    .bind(now)
    .bind(enterprise_id.to_string())
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(row) = inserted {
        let id: String = row.try_get("id")?;
        let rec = load_record_tx(tx, &id).await?;
        audit(tx, &rec, None, "auto", None, Some(&rec)).await?;
        refresh_first_support(tx, enterprise_id).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workflow() {
        use Status::*;
        assert!(Applied.can_become(Approved));
        assert!(Reported.can_become(Closed));
        assert!(Contracted.can_become(Rejected));
        assert!(!Applied.can_become(Closed));
        assert!(!Closed.can_become(Rejected));
        assert!(!Disbursed.can_become(Rejected));
        assert!(!Rejected.can_become(Applied));
    }
}
