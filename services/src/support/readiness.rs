//! Digital-transformation readiness assessments of an enterprise, each stored with the
//! framework it was made under so that progress over time stays comparable:
//!
//! - `DBI_2021`: Decision 1970/QĐ-BTTTT, six pillars, levels 0–5 (overall and per pillar);
//! - `DBI_2023`: Decision 2158/QĐ-BTTTT, seven pillars (`P1`…`P7`), levels 0–5;
//! - `DBI_2025`: Decision 1567/QĐ-BKHCN, a score of the digital tools the firm actually uses
//!   (by number and integration); the level is optional.
//!
//! For enterprises that consent to share sales figures, the indicators the platform can
//! measure itself (orders taken online, the share paid digitally, months with orders) are
//! offered to pre-fill a form ([`indicators`]) and stored with each assessment as measured on
//! its day. Only staff of the enterprise's province (and admins) read or write assessments.

use std::collections::{BTreeSet, HashMap};

use sqlx::{Row, any::AnyRow};

use super::{
    Enterprise, date_to_day, day_to_date, load_for_staff, require_province, require_staff,
    user_error, vn_day,
};
use crate::{
    accounts::User,
    db::{Db, placeholders},
    error::{Error, Result, UserError},
    ids::{new_id, now_ms},
    text::clean,
};

/// The assessment framework an assessment was made under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Framework {
    Dbi2021,
    Dbi2023,
    Dbi2025,
}

/// The six pillars of the 2021 DBI scale (key, Vietnamese name).
pub const DBI_2021_PILLARS: [(&str, &str); 6] = [
    ("CUSTOMER_EXPERIENCE", "Trải nghiệm số cho khách hàng"),
    ("STRATEGY", "Chiến lược"),
    ("INFRASTRUCTURE_TECHNOLOGY", "Hạ tầng và công nghệ số"),
    ("OPERATIONS", "Vận hành"),
    ("CULTURE", "Chuyển đổi văn hoá doanh nghiệp"),
    ("DATA_ASSETS", "Dữ liệu và tài sản thông tin"),
];

/// The names of levels 0–5 on the DBI scales.
pub const LEVEL_NAMES: [&str; 6] = [
    "Chưa chuyển đổi số",
    "Khởi động",
    "Bắt đầu",
    "Hình thành",
    "Nâng cao",
    "Dẫn dắt",
];

pub const MAX_LEVEL: i64 = 5;
/// Upper bound of a 2025 score (a sanity limit, not the framework's own scale).
pub const MAX_SCORE: i64 = 1000;
const MAX_NOTE_CHARS: usize = 2000;

impl Framework {
    pub const ALL: [Framework; 3] = [Framework::Dbi2021, Framework::Dbi2023, Framework::Dbi2025];

    pub fn as_str(self) -> &'static str {
        match self {
            Framework::Dbi2021 => "DBI_2021",
            Framework::Dbi2023 => "DBI_2023",
            Framework::Dbi2025 => "DBI_2025",
        }
    }

    pub fn parse(s: &str) -> Option<Framework> {
        Framework::ALL
            .into_iter()
            .find(|f| f.as_str().eq_ignore_ascii_case(s.trim()))
    }

    /// The decision that set the framework.
    pub fn decision(self) -> &'static str {
        match self {
            Framework::Dbi2021 => "1970/QĐ-BTTTT (2021)",
            Framework::Dbi2023 => "2158/QĐ-BTTTT (2023)",
            Framework::Dbi2025 => "1567/QĐ-BKHCN (2025)",
        }
    }

    /// The pillar keys an assessment may score (empty: none).
    pub fn pillars(self) -> Vec<&'static str> {
        match self {
            Framework::Dbi2021 => DBI_2021_PILLARS.iter().map(|(k, _)| *k).collect(),
            Framework::Dbi2023 => vec!["P1", "P2", "P3", "P4", "P5", "P6", "P7"],
            Framework::Dbi2025 => Vec::new(),
        }
    }

    /// Whether the overall level (0–5) is required (2021, 2023) or optional (2025).
    pub fn level_required(self) -> bool {
        self != Framework::Dbi2025
    }

    /// Whether a score is required (2025).
    pub fn score_required(self) -> bool {
        self == Framework::Dbi2025
    }
}

/// A pillar's level.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Pillar {
    pub key: String,
    pub level: i64,
}

/// What the platform measures of a consenting enterprise's shops.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Indicators {
    /// The day (`YYYY-MM-DD`, Vietnam time) the figures were measured.
    pub measured_on: String,
    /// Orders taken online through the enterprise's shops in the last 90 days (cancelled
    /// orders excluded).
    pub online_orders_90d: i64,
    /// Of those, the percentage paid by bank transfer or card (none: no orders).
    pub digital_payment_percent: Option<i64>,
    /// Calendar months with at least one order, since the first.
    pub months_active: i64,
    /// Whether a linked shop is published.
    pub live_store: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Assessment {
    pub id: String,
    pub enterprise_id: String,
    pub province_code: String,
    pub framework: Framework,
    pub assessed_on: String,
    pub level: Option<i64>,
    pub score: Option<i64>,
    pub pillars: Vec<Pillar>,
    pub note: Option<String>,
    /// The platform's indicators on the day it was recorded (consenting firms only).
    pub measured: Option<Indicators>,
    pub created_by: Option<String>,
    pub created_at: i64,
}

/// A new assessment, as typed.
#[derive(Debug, Clone, Default)]
pub struct NewAssessment {
    pub enterprise_id: String,
    pub framework: Option<Framework>,
    pub assessed_on: String,
    pub level: Option<i64>,
    pub score: Option<i64>,
    pub pillars: Vec<Pillar>,
    pub note: Option<String>,
}

fn f(name: &str) -> Vec<String> {
    vec!["input".to_string(), name.to_string()]
}

/// Checks an assessment against its framework's rules; every problem is reported.
fn validate(input: &NewAssessment, today: i64) -> std::result::Result<Framework, Vec<UserError>> {
    let mut errors = Vec::new();
    let Some(fw) = input.framework else {
        return Err(vec![user_error(
            f("framework"),
            "INVALID_FRAMEWORK",
            "Choose the framework the assessment was made under (DBI_2021, DBI_2023 or DBI_2025).",
        )]);
    };
    match date_to_day(input.assessed_on.trim()) {
        None => errors.push(user_error(
            f("assessedOn"),
            "INVALID_DATE",
            format!("{:?} is not a date: write YYYY-MM-DD.", input.assessed_on),
        )),
        Some(d) if d > today => errors.push(user_error(
            f("assessedOn"),
            "INVALID_DATE",
            "An assessment cannot be dated in the future.",
        )),
        Some(_) => {}
    }
    match input.level {
        None if fw.level_required() => errors.push(user_error(
            f("level"),
            "REQUIRED",
            format!("A {} assessment has an overall level (0–5).", fw.as_str()),
        )),
        Some(l) if !(0..=MAX_LEVEL).contains(&l) => errors.push(user_error(
            f("level"),
            "INVALID_LEVEL",
            format!("Levels go from 0 to {MAX_LEVEL}; {l} is not one."),
        )),
        _ => {}
    }
    match input.score {
        None if fw.score_required() => errors.push(user_error(
            f("score"),
            "REQUIRED",
            format!("A {} assessment has a score.", fw.as_str()),
        )),
        Some(s) if !(0..=MAX_SCORE).contains(&s) => errors.push(user_error(
            f("score"),
            "INVALID_SCORE",
            format!("A score is between 0 and {MAX_SCORE}."),
        )),
        _ => {}
    }
    let allowed = fw.pillars();
    let mut seen = BTreeSet::new();
    for (i, p) in input.pillars.iter().enumerate() {
        let field = vec!["input".to_string(), "pillars".to_string(), i.to_string()];
        let key = p.key.trim().to_ascii_uppercase();
        if !allowed.contains(&key.as_str()) {
            errors.push(user_error(
                field.clone(),
                "INVALID_PILLAR",
                if allowed.is_empty() {
                    format!("{} assessments have no pillars.", fw.as_str())
                } else {
                    format!(
                        "{:?} is not a pillar of {}: use {}.",
                        p.key,
                        fw.as_str(),
                        allowed.join(", ")
                    )
                },
            ));
        } else if !seen.insert(key) {
            errors.push(user_error(
                field.clone(),
                "DUPLICATE_PILLAR",
                format!("Pillar {} is given twice.", p.key.trim()),
            ));
        }
        if !(0..=MAX_LEVEL).contains(&p.level) {
            errors.push(user_error(
                field,
                "INVALID_LEVEL",
                format!("Levels go from 0 to {MAX_LEVEL}; {} is not one.", p.level),
            ));
        }
    }
    if input
        .note
        .as_deref()
        .is_some_and(|n| n.chars().count() > MAX_NOTE_CHARS)
    {
        errors.push(user_error(
            f("note"),
            "TOO_LONG",
            format!("A note has at most {MAX_NOTE_CHARS} characters."),
        ));
    }
    if errors.is_empty() {
        Ok(fw)
    } else {
        Err(errors)
    }
}

/// Records an assessment (staff of the enterprise's province, admins).
pub async fn record(db: &Db, user: &User, input: NewAssessment) -> Result<Assessment> {
    let e = load_for_staff(db, user, &input.enterprise_id).await?;
    let now = now_ms();
    let fw = validate(&input, vn_day(now)).map_err(Error::Invalid)?;
    let measured = indicators_of(db, &e).await?;
    let a = Assessment {
        id: new_id(),
        enterprise_id: e.id.clone(),
        province_code: e.province_code.clone(),
        framework: fw,
        assessed_on: input.assessed_on.trim().to_string(),
        level: input.level,
        score: input.score,
        pillars: input
            .pillars
            .iter()
            .map(|p| Pillar {
                key: p.key.trim().to_ascii_uppercase(),
                level: p.level,
            })
            .collect(),
        note: input.note.map(|n| clean(&n)).filter(|n| !n.is_empty()),
        measured,
        created_by: Some(user.id.clone()),
        created_at: now,
    };
    sqlx::query(
        "INSERT INTO readiness_assessments (id, province_code, enterprise_id, framework, assessed_on, level, score, \
         pillars_json, note, measured_json, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(a.id.clone())
    .bind(a.province_code.clone())
    .bind(a.enterprise_id.clone())
    .bind(fw.as_str())
    .bind(a.assessed_on.clone())
    .bind(a.level)
    .bind(a.score)
    .bind(serde_json::to_string(&a.pillars).map_err(|e| Error::Internal(e.to_string()))?)
    .bind(a.note.clone())
    .bind(
        a.measured
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| Error::Internal(e.to_string()))?,
    )
    .bind(a.created_by.clone())
    .bind(a.created_at)
    .execute(db.write())
    .await?;
    Ok(a)
}

const COLS: &str = "id, province_code, enterprise_id, framework, assessed_on, level, score, pillars_json, note, \
    measured_json, created_by, created_at";

fn from_row(r: &AnyRow) -> Result<Assessment> {
    let fw: String = r.try_get("framework")?;
    let pillars: Option<String> = r.try_get("pillars_json")?;
    let measured: Option<String> = r.try_get("measured_json")?;
    Ok(Assessment {
        id: r.try_get("id")?,
        province_code: r.try_get("province_code")?,
        enterprise_id: r.try_get("enterprise_id")?,
        framework: Framework::parse(&fw)
            .ok_or_else(|| Error::Internal(format!("unknown readiness framework {fw}")))?,
        assessed_on: r.try_get("assessed_on")?,
        level: r.try_get("level")?,
        score: r.try_get("score")?,
        pillars: pillars
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| Error::Internal(format!("pillars: {e}")))?
            .unwrap_or_default(),
        note: r.try_get("note")?,
        measured: measured
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| Error::Internal(format!("measured: {e}")))?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
    })
}

/// An enterprise's assessments, oldest first (staff of its province, admins).
pub async fn for_enterprise(db: &Db, user: &User, e: &Enterprise) -> Result<Vec<Assessment>> {
    require_staff(user)?;
    require_province(user, &e.province_code)?;
    Ok(
        for_enterprises(db, &e.province_code, std::slice::from_ref(&e.id))
            .await?
            .remove(&e.id)
            .unwrap_or_default(),
    )
}

/// The assessments of several enterprises of one province in one statement (the caller has
/// checked access), oldest first, by enterprise id.
pub async fn for_enterprises(
    db: &Db,
    province: &str,
    ids: &[String],
) -> Result<HashMap<String, Vec<Assessment>>> {
    let mut out: HashMap<String, Vec<Assessment>> =
        ids.iter().map(|id| (id.clone(), Vec::new())).collect();
    if ids.is_empty() {
        return Ok(out);
    }
    let sql = format!(
        "SELECT {COLS} FROM readiness_assessments WHERE province_code = $1 AND enterprise_id IN ({}) \
         ORDER BY assessed_on, id",
        placeholders(1, ids.len())
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(province.to_string());
    for id in ids {
        q = q.bind(id.clone());
    }
    for r in q.fetch_all(db.read()).await? {
        let a = from_row(&r)?;
        out.entry(a.enterprise_id.clone()).or_default().push(a);
    }
    Ok(out)
}

/// The platform's indicators for an enterprise, to pre-fill an assessment: `None` unless it
/// consents to share sales figures (staff of its province, admins).
pub async fn indicators(db: &Db, user: &User, e: &Enterprise) -> Result<Option<Indicators>> {
    require_staff(user)?;
    require_province(user, &e.province_code)?;
    indicators_of(db, e).await
}

async fn indicators_of(db: &Db, e: &Enterprise) -> Result<Option<Indicators>> {
    if !e.consent_share_sales {
        return Ok(None);
    }
    let now = now_ms();
    let since = now - 90 * 86_400_000;
    let row = sqlx::query(
        "SELECT COUNT(*) AS n, CAST(COALESCE(SUM(CASE WHEN o.payment_method <> 'COD' THEN 1 ELSE 0 END), 0) AS BIGINT) AS digital \
         FROM enterprise_shops es JOIN orders o ON o.shop_id = es.shop_id \
         WHERE es.province_code = $1 AND es.enterprise_id = $2 AND o.created_at >= $3 AND o.status <> 'CANCELLED'",
    )
    .bind(e.province_code.clone())
    .bind(e.id.clone())
    .bind(since)
    .fetch_one(db.read())
    .await?;
    let n: i64 = row.try_get("n")?;
    let digital: i64 = row.try_get("digital")?;
    let days = sqlx::query(
        "SELECT day FROM enterprise_daily WHERE province_code = $1 AND enterprise_id = $2 AND orders > 0",
    )
    .bind(e.province_code.clone())
    .bind(e.id.clone())
    .fetch_all(db.read())
    .await?;
    let mut months = BTreeSet::new();
    for r in &days {
        let d: i64 = r.try_get("day")?;
        months.insert(day_to_date(d).chars().take(7).collect::<String>());
    }
    let live = sqlx::query(
        "SELECT COUNT(*) AS n FROM enterprise_shops es JOIN shops s ON s.id = es.shop_id \
         WHERE es.province_code = $1 AND es.enterprise_id = $2 AND s.published = TRUE",
    )
    .bind(e.province_code.clone())
    .bind(e.id.clone())
    .fetch_one(db.read())
    .await?;
    let live: i64 = live.try_get("n")?;
    Ok(Some(Indicators {
        measured_on: day_to_date(vn_day(now)),
        online_orders_90d: n,
        digital_payment_percent: (n > 0).then(|| (digital * 100 + n / 2) / n),
        months_active: months.len() as i64,
        live_store: live > 0,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(fw: Framework) -> NewAssessment {
        NewAssessment {
            enterprise_id: "e".into(),
            framework: Some(fw),
            assessed_on: "2025-06-01".into(),
            level: Some(2),
            ..Default::default()
        }
    }

    fn codes(r: std::result::Result<Framework, Vec<UserError>>) -> Vec<String> {
        r.err()
            .unwrap_or_default()
            .into_iter()
            .map(|e| e.code)
            .collect()
    }

    #[test]
    fn framework_rules() {
        let today = date_to_day("2026-01-01").unwrap_or_default();
        assert_eq!(
            validate(&input(Framework::Dbi2021), today),
            Ok(Framework::Dbi2021)
        );
        let mut a = input(Framework::Dbi2021);
        a.level = Some(6);
        a.pillars = vec![
            Pillar {
                key: "strategy".into(),
                level: 3,
            },
            Pillar {
                key: "STRATEGY".into(),
                level: 1,
            },
            Pillar {
                key: "P1".into(),
                level: 9,
            },
        ];
        assert_eq!(
            codes(validate(&a, today)),
            [
                "INVALID_LEVEL",
                "DUPLICATE_PILLAR",
                "INVALID_PILLAR",
                "INVALID_LEVEL"
            ]
        );
        let mut b = input(Framework::Dbi2025);
        b.level = None;
        assert_eq!(codes(validate(&b, today)), ["REQUIRED"]);
        b.score = Some(40);
        assert_eq!(validate(&b, today), Ok(Framework::Dbi2025));
        let mut c = input(Framework::Dbi2023);
        c.assessed_on = "2027-01-01".into();
        c.level = None;
        assert_eq!(codes(validate(&c, today)), ["INVALID_DATE", "REQUIRED"]);
        c.framework = None;
        assert_eq!(codes(validate(&c, today)), ["INVALID_FRAMEWORK"]);
        assert_eq!(Framework::parse("dbi_2023"), Some(Framework::Dbi2023));
    }
}
