//! Province digital-transformation support: the enterprise register (with the owner's consent
//! to share sales figures), the shops linked to each enterprise through onboarding invites,
//! programmes and support records ([`records`]), and the dashboard and exports
//! ([`dashboard`], [`exchange`]).
//!
//! Who sees what: province staff only their province (anything else is `Forbidden`), platform
//! admins every province, shop owners only their own enterprise ([`my_enterprise`]) and its
//! consent. Nothing here reads or returns customer data: sales figures come from the
//! per-enterprise daily aggregates (`enterprise_daily`) kept by [`on_order`], and only for
//! enterprises that consent.
//!
//! The dashboard reads province-level running totals ([`province_totals`]); every function
//! here that changes what an enterprise contributes to them (creating or editing it, consent,
//! linking a shop, publishing or unpublishing one, orders and cancellations) moves its
//! contribution in the same transaction.

pub mod dashboard;
pub mod exchange;
pub mod province_totals;
pub mod readiness;
pub mod records;
pub mod totals;

use std::sync::LazyLock;

use sqlx::{Row, any::AnyRow};

use province_totals::Of;

use crate::{
    accounts::{Role, User},
    db::{Db, Tx, bool_col},
    error::{Error, Result, UserError},
    ids::{new_id, now_ms, random_hex, rfc3339},
    provinces,
    tenancy::ShopId,
    text::{Email, Phone, TaxCode, TaxCodeKind, clean, fold},
};

pub use records::{
    AuditEntry, NewProgramme, NewSupport, Programme, Status, SupportKind, SupportRecord,
};

pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_PAGE: i64 = 100;
pub const DEFAULT_PAGE: i64 = 20;
/// How long an onboarding invite can be used.
pub const INVITE_TTL_MS: i64 = 90 * 24 * 3600 * 1000;
const DAY_MS: i64 = 86_400_000;
/// Vietnam is UTC+7 all year: calendar days are counted in that zone.
const VN_OFFSET_MS: i64 = 7 * 3600 * 1000;

/// The Vietnamese calendar day (days since 1970-01-01) of a Unix-ms instant.
pub fn vn_day(ms: i64) -> i64 {
    (ms + VN_OFFSET_MS).div_euclid(DAY_MS)
}

/// `YYYY-MM-DD` of a day number.
pub fn day_to_date(day: i64) -> String {
    rfc3339(day * DAY_MS).chars().take(10).collect()
}

/// The day number of a `YYYY-MM-DD` date, if it is one.
pub fn date_to_day(date: &str) -> Option<i64> {
    let d = date.trim();
    if d.len() != 10 {
        return None;
    }
    crate::ids::parse_datetime(d).map(|ms| ms.div_euclid(DAY_MS))
}

/// Legal form of an enterprise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum LegalForm {
    Company,
    Cooperative,
    HouseholdBusiness,
}

impl LegalForm {
    pub const ALL: [LegalForm; 3] = [
        LegalForm::Company,
        LegalForm::Cooperative,
        LegalForm::HouseholdBusiness,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            LegalForm::Company => "COMPANY",
            LegalForm::Cooperative => "COOPERATIVE",
            LegalForm::HouseholdBusiness => "HOUSEHOLD_BUSINESS",
        }
    }
    pub fn label_vi(self) -> &'static str {
        match self {
            LegalForm::Company => "Công ty",
            LegalForm::Cooperative => "Hợp tác xã",
            LegalForm::HouseholdBusiness => "Hộ kinh doanh",
        }
    }
    /// The code or the Vietnamese label, ignoring case and diacritics.
    pub fn parse(s: &str) -> Option<LegalForm> {
        let k = fold(s);
        LegalForm::ALL.into_iter().find(|f| {
            k == fold(f.as_str())
                || k == fold(f.label_vi())
                || k == fold(&f.as_str().replace('_', " "))
        })
    }
}

/// Size class under Decree 80/2021/NĐ-CP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum SizeClass {
    Micro,
    Small,
    Medium,
}

impl SizeClass {
    pub const ALL: [SizeClass; 3] = [SizeClass::Micro, SizeClass::Small, SizeClass::Medium];
    pub fn as_str(self) -> &'static str {
        match self {
            SizeClass::Micro => "MICRO",
            SizeClass::Small => "SMALL",
            SizeClass::Medium => "MEDIUM",
        }
    }
    pub fn label_vi(self) -> &'static str {
        match self {
            SizeClass::Micro => "Siêu nhỏ",
            SizeClass::Small => "Nhỏ",
            SizeClass::Medium => "Vừa",
        }
    }
    pub fn parse(s: &str) -> Option<SizeClass> {
        let k = fold(s);
        SizeClass::ALL
            .into_iter()
            .find(|c| k == fold(c.as_str()) || k == fold(c.label_vi()))
    }
}

/// The sections of the Vietnamese standard industrial classification (VSIC 2018, Decision
/// 27/2018/QĐ-TTg).
pub const VSIC_SECTIONS: &[(&str, &str)] = &[
    ("A", "Nông nghiệp, lâm nghiệp và thủy sản"),
    ("B", "Khai khoáng"),
    ("C", "Công nghiệp chế biến, chế tạo"),
    (
        "D",
        "Sản xuất và phân phối điện, khí đốt, nước nóng, hơi nước và điều hòa không khí",
    ),
    (
        "E",
        "Cung cấp nước; hoạt động quản lý và xử lý rác thải, nước thải",
    ),
    ("F", "Xây dựng"),
    (
        "G",
        "Bán buôn và bán lẻ; sửa chữa ô tô, mô tô, xe máy và xe có động cơ khác",
    ),
    ("H", "Vận tải kho bãi"),
    ("I", "Dịch vụ lưu trú và ăn uống"),
    ("J", "Thông tin và truyền thông"),
    ("K", "Hoạt động tài chính, ngân hàng và bảo hiểm"),
    ("L", "Hoạt động kinh doanh bất động sản"),
    ("M", "Hoạt động chuyên môn, khoa học và công nghệ"),
    ("N", "Hoạt động hành chính và dịch vụ hỗ trợ"),
    (
        "O",
        "Hoạt động của Đảng Cộng sản, tổ chức chính trị - xã hội, quản lý nhà nước, an ninh quốc phòng; bảo đảm xã hội bắt buộc",
    ),
    ("P", "Giáo dục và đào tạo"),
    ("Q", "Y tế và hoạt động trợ giúp xã hội"),
    ("R", "Nghệ thuật, vui chơi và giải trí"),
    ("S", "Hoạt động dịch vụ khác"),
    (
        "T",
        "Hoạt động làm thuê các công việc trong các hộ gia đình, sản xuất sản phẩm vật chất và dịch vụ tự tiêu dùng của hộ gia đình",
    ),
    ("U", "Hoạt động của các tổ chức và cơ quan quốc tế"),
];

/// The Vietnamese name of a VSIC section letter.
pub fn sector_name(letter: &str) -> Option<&'static str> {
    VSIC_SECTIONS
        .iter()
        .find(|(l, _)| *l == letter)
        .map(|(_, n)| *n)
}

/// Reads a sector: the letter A–U, optionally followed by a separator and its name
/// (`"C - Công nghiệp chế biến"`), or the exact Vietnamese name.
pub fn parse_sector(s: &str) -> Option<&'static str> {
    let t = s.trim();
    let mut chars = t.chars();
    if let Some(c) = chars.next() {
        let rest = chars.as_str();
        if c.is_ascii_alphabetic() && (rest.is_empty() || !rest.starts_with(char::is_alphanumeric))
        {
            let up = c.to_ascii_uppercase().to_string();
            if let Some((l, _)) = VSIC_SECTIONS.iter().find(|(l, _)| *l == up) {
                return Some(l);
            }
        }
    }
    let k = fold(t);
    VSIC_SECTIONS
        .iter()
        .find(|(_, n)| fold(n) == k)
        .map(|(l, _)| *l)
}

/// An enterprise of the register. No customer data: the contact is the enterprise's own.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Enterprise {
    pub id: String,
    pub province_code: String,
    pub name: String,
    pub tax_code: Option<String>,
    pub legal_form: Option<LegalForm>,
    pub sector: Option<String>,
    pub size_class: Option<SizeClass>,
    pub ward: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub consent_share_sales: bool,
    pub consent_recorded_by: Option<String>,
    pub consent_recorded_at: Option<i64>,
    pub consent_withdrawn_by: Option<String>,
    pub consent_withdrawn_at: Option<i64>,
    /// Day number of the first (not voided, not rejected) support record.
    pub first_support_day: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Running totals kept with every order and support record (never shown raw: sales
    /// figures go out only through [`sales`], which checks consent).
    #[serde(skip)]
    pub tally: Tally,
}

/// An enterprise's running totals: support (counted records and their subsidies) and sales of
/// its linked shops (cancelled orders taken out), in total, from the first support on, and in
/// the [`dashboard::WINDOW_DAYS`] days before and from it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub support_records: i64,
    pub support_subsidy: i64,
    pub orders_total: i64,
    pub revenue_total: i64,
    pub orders_since: i64,
    pub revenue_since: i64,
    pub orders_before: i64,
    pub revenue_before: i64,
    pub orders_after: i64,
    pub revenue_after: i64,
}

pub(crate) const ENT_COLS: &str = "e.id, e.province_code, e.name, e.tax_code, e.legal_form, e.sector, e.size_class, \
    e.ward, e.phone, e.email, e.consent_share_sales, e.consent_recorded_by, e.consent_recorded_at, \
    e.consent_withdrawn_by, e.consent_withdrawn_at, e.first_support_day, e.created_at, e.updated_at, \
    e.support_records, e.support_subsidy, e.orders_total, e.revenue_total, e.orders_since, e.revenue_since, \
    e.orders_before, e.revenue_before, e.orders_after, e.revenue_after";

pub(crate) fn ent_from_row(r: &AnyRow) -> Result<Enterprise> {
    let lf: Option<String> = r.try_get("legal_form")?;
    let sc: Option<String> = r.try_get("size_class")?;
    Ok(Enterprise {
        id: r.try_get("id")?,
        province_code: r.try_get("province_code")?,
        name: r.try_get("name")?,
        tax_code: r.try_get("tax_code")?,
        legal_form: lf.as_deref().and_then(LegalForm::parse),
        sector: r.try_get("sector")?,
        size_class: sc.as_deref().and_then(SizeClass::parse),
        ward: r.try_get("ward")?,
        phone: r.try_get("phone")?,
        email: r.try_get("email")?,
        consent_share_sales: bool_col(r, "consent_share_sales")?,
        consent_recorded_by: r.try_get("consent_recorded_by")?,
        consent_recorded_at: r.try_get("consent_recorded_at")?,
        consent_withdrawn_by: r.try_get("consent_withdrawn_by")?,
        consent_withdrawn_at: r.try_get("consent_withdrawn_at")?,
        first_support_day: r.try_get("first_support_day")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        tally: Tally {
            support_records: r.try_get("support_records")?,
            support_subsidy: r.try_get("support_subsidy")?,
            orders_total: r.try_get("orders_total")?,
            revenue_total: r.try_get("revenue_total")?,
            orders_since: r.try_get("orders_since")?,
            revenue_since: r.try_get("revenue_since")?,
            orders_before: r.try_get("orders_before")?,
            revenue_before: r.try_get("revenue_before")?,
            orders_after: r.try_get("orders_after")?,
            revenue_after: r.try_get("revenue_after")?,
        },
    })
}

// ---------------------------------------------------------------------------------------------
// Access
// ---------------------------------------------------------------------------------------------

/// Admins, or province staff (of any province): otherwise `Forbidden`.
pub fn require_staff(user: &User) -> Result<()> {
    match user.role {
        Role::Admin | Role::ProvinceStaff => Ok(()),
        Role::Merchant => Err(Error::Forbidden),
    }
}

/// Admins, or staff of exactly this province: otherwise `Forbidden`.
pub fn require_province(user: &User, province: &str) -> Result<()> {
    match user.role {
        Role::Admin => Ok(()),
        Role::ProvinceStaff if user.province_code.as_deref() == Some(province.trim()) => Ok(()),
        _ => Err(Error::Forbidden),
    }
}

/// An enterprise by id, without any access check (internal).
pub(crate) async fn load(db: &Db, id: &str) -> Result<Option<Enterprise>> {
    load_from(db.read(), id).await
}

/// [`load`] through `ex` (a pool, or a transaction's connection).
async fn load_from<'e>(
    ex: impl sqlx::Executor<'e, Database = sqlx::Any>,
    id: &str,
) -> Result<Option<Enterprise>> {
    let sql = format!("SELECT {ENT_COLS} FROM enterprises e WHERE e.id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id.trim().to_string())
        .fetch_optional(ex)
        .await?;
    row.as_ref().map(ent_from_row).transpose()
}

/// An enterprise the staff user may act on: `NotFound` or `Forbidden` otherwise.
pub(crate) async fn load_for_staff(db: &Db, user: &User, id: &str) -> Result<Enterprise> {
    require_staff(user)?;
    let e = load(db, id).await?.ok_or(Error::NotFound("enterprise"))?;
    require_province(user, &e.province_code)?;
    Ok(e)
}

/// Whether the user owns a shop linked to the enterprise, or registered with its invite.
pub async fn is_owner_of(db: &Db, user_id: &str, enterprise_id: &str) -> Result<bool> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM enterprise_shops es JOIN shop_members m ON m.shop_id = es.shop_id \
         WHERE m.user_id = $1 AND m.role = 'owner' AND es.enterprise_id = $2",
    )
    .bind(user_id.to_string())
    .bind(enterprise_id.to_string())
    .fetch_one(db.read())
    .await?;
    if row.try_get::<i64, _>("n")? > 0 {
        return Ok(true);
    }
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM invite_redemptions WHERE user_id = $1 AND enterprise_id = $2",
    )
    .bind(user_id.to_string())
    .bind(enterprise_id.to_string())
    .fetch_one(db.read())
    .await?;
    Ok(row.try_get::<i64, _>("n")? > 0)
}

/// An enterprise the user may read: staff of its province, admins, or its owner.
pub async fn get(db: &Db, user: &User, id: &str) -> Result<Enterprise> {
    let e = load(db, id).await?.ok_or(Error::NotFound("enterprise"))?;
    if require_province(user, &e.province_code).is_ok() || is_owner_of(db, &user.id, &e.id).await? {
        Ok(e)
    } else {
        Err(Error::Forbidden)
    }
}

/// The enterprise of a shop owner (linked through their shops or their invite), if any.
pub async fn my_enterprise(db: &Db, user: &User) -> Result<Option<Enterprise>> {
    let sql = format!(
        "SELECT {ENT_COLS} FROM enterprises e WHERE e.id IN ( \
            SELECT es.enterprise_id FROM enterprise_shops es JOIN shop_members m ON m.shop_id = es.shop_id \
            WHERE m.user_id = $1 AND m.role = 'owner') \
         OR e.id IN (SELECT r.enterprise_id FROM invite_redemptions r WHERE r.user_id = $1) \
         ORDER BY e.id LIMIT 1"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(user.id.clone())
        .fetch_optional(db.read())
        .await?;
    row.as_ref().map(ent_from_row).transpose()
}

// ---------------------------------------------------------------------------------------------
// Register
// ---------------------------------------------------------------------------------------------

/// The fields of an enterprise as typed by a user (GraphQL input or a CSV row).
#[derive(Debug, Clone, Default)]
pub struct EnterpriseFields {
    pub name: Option<String>,
    pub tax_code: Option<String>,
    pub legal_form: Option<LegalForm>,
    pub sector: Option<String>,
    pub size_class: Option<SizeClass>,
    pub ward: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub consent_share_sales: Option<bool>,
}

/// A new enterprise (`createEnterprise`).
#[derive(Debug, Clone, Default)]
pub struct NewEnterprise {
    pub province_code: String,
    pub fields: EnterpriseFields,
}

pub(crate) fn user_error(field: Vec<String>, code: &str, message: impl Into<String>) -> UserError {
    UserError {
        field,
        message: message.into(),
        code: code.to_string(),
    }
}

fn check_province(code: &str, field: Vec<String>, errors: &mut Vec<UserError>) -> String {
    let c = code.trim().to_string();
    if !provinces::is_valid(&c) {
        let hint = provinces::from_former(&c)
            .map(|p| {
                format!(
                    " Since 1 July 2025 that province is part of {} ({}).",
                    p.name, p.code
                )
            })
            .unwrap_or_default();
        errors.push(user_error(
            field,
            "INVALID_PROVINCE",
            format!("{c:?} is not one of the 34 province codes.{hint}"),
        ));
    }
    c
}

/// Checks the fields onto `e` (`None` keeps a value; an empty string clears an optional one).
/// `path(name)` gives the error path of a field.
pub(crate) fn apply_fields(
    e: &mut Enterprise,
    f: &EnterpriseFields,
    path: &dyn Fn(&str) -> Vec<String>,
    errors: &mut Vec<UserError>,
) {
    let blank = |v: &str| v.trim().is_empty();
    if let Some(n) = &f.name {
        let n = clean(n);
        if n.is_empty() {
            errors.push(user_error(
                path("name"),
                "REQUIRED",
                "The enterprise needs a name.",
            ));
        } else if n.chars().count() > MAX_NAME_CHARS {
            errors.push(user_error(
                path("name"),
                "TOO_LONG",
                format!("A name has at most {MAX_NAME_CHARS} characters."),
            ));
        }
        e.name = n;
    }
    if let Some(l) = f.legal_form {
        e.legal_form = Some(l);
    }
    if let Some(s) = f.size_class {
        e.size_class = Some(s);
    }
    if let Some(t) = &f.tax_code {
        e.tax_code = if blank(t) {
            None
        } else {
            match TaxCode::parse(t) {
                Ok(tc) => Some(tc.into_string()),
                Err(err) => {
                    errors.push(user_error(path("taxCode"), err.code(), err.to_string()));
                    None
                }
            }
        };
    }
    // A 12-digit personal number is the household business's code; companies and
    // cooperatives have the 10-digit (or branch 10-3) enterprise code.
    if let (Some(tc), Some(lf)) = (&e.tax_code, e.legal_form)
        && lf != LegalForm::HouseholdBusiness
        && TaxCode::parse(tc).map(|t| t.kind()) == Ok(TaxCodeKind::Personal)
    {
        errors.push(user_error(
            path("taxCode"),
            "INVALID_TAX_CODE",
            "invalid tax code: a 12-digit personal number is only for household businesses; companies and cooperatives have a 10-digit code (or 10-3 for a branch)",
        ));
    }
    if let Some(s) = &f.sector {
        e.sector = if blank(s) {
            None
        } else {
            match parse_sector(s) {
                Some(l) => Some(l.to_string()),
                None => {
                    errors.push(user_error(
                        path("sector"),
                        "INVALID_SECTOR",
                        format!("{s:?} is not a VSIC section: give a letter from A to U."),
                    ));
                    None
                }
            }
        };
    }
    if let Some(w) = &f.ward {
        let w = clean(w);
        if w.chars().count() > 100 {
            errors.push(user_error(
                path("ward"),
                "TOO_LONG",
                "A ward name has at most 100 characters.",
            ));
        }
        e.ward = (!w.is_empty()).then_some(w);
    }
    if let Some(p) = &f.phone {
        e.phone = if blank(p) {
            None
        } else {
            match Phone::parse(p) {
                Ok(p) => Some(p.into_string()),
                Err(err) => {
                    errors.push(user_error(path("phone"), err.code(), err.to_string()));
                    None
                }
            }
        };
    }
    if let Some(m) = &f.email {
        e.email = if blank(m) {
            None
        } else {
            match Email::parse(m) {
                Ok(m) => Some(m.into_string()),
                Err(err) => {
                    errors.push(user_error(path("email"), err.code(), err.to_string()));
                    None
                }
            }
        };
    }
}

fn input_path(name: &str) -> Vec<String> {
    vec!["input".to_string(), name.to_string()]
}

pub(crate) fn search_key(e: &Enterprise) -> String {
    fold(&format!(
        "{} {}",
        e.name,
        e.tax_code.as_deref().unwrap_or_default()
    ))
}

pub(crate) fn tax_code_taken(field: Vec<String>, code: &str) -> UserError {
    user_error(
        field,
        "TAX_CODE_TAKEN",
        format!("An enterprise with tax code {code} is already registered."),
    )
}

/// The enterprise holding a tax code, if any (id, province).
pub(crate) async fn by_tax_code(db: &Db, code: &str) -> Result<Option<(String, String)>> {
    let row = sqlx::query("SELECT id, province_code FROM enterprises WHERE tax_code = $1")
        .bind(code.to_string())
        .fetch_optional(db.read())
        .await?;
    Ok(match row {
        Some(r) => Some((r.try_get("id")?, r.try_get("province_code")?)),
        None => None,
    })
}

pub(crate) fn blank_enterprise(province: &str, now: i64) -> Enterprise {
    Enterprise {
        id: new_id(),
        province_code: province.to_string(),
        name: String::new(),
        tax_code: None,
        legal_form: None,
        sector: None,
        size_class: None,
        ward: None,
        phone: None,
        email: None,
        consent_share_sales: false,
        consent_recorded_by: None,
        consent_recorded_at: None,
        consent_withdrawn_by: None,
        consent_withdrawn_at: None,
        first_support_day: None,
        created_at: now,
        updated_at: now,
        tally: Tally::default(),
    }
}

pub(crate) async fn insert(tx: &mut Tx, e: &Enterprise, by: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO enterprises (id, province_code, name, search_key, tax_code, legal_form, sector, size_class, \
         ward, phone, email, consent_share_sales, consent_recorded_by, consent_recorded_at, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16)",
    )
    .bind(e.id.clone())
    .bind(e.province_code.clone())
    .bind(e.name.clone())
    .bind(search_key(e))
    .bind(e.tax_code.clone())
    .bind(e.legal_form.map(|l| l.as_str().to_string()))
    .bind(e.sector.clone())
    .bind(e.size_class.map(|s| s.as_str().to_string()))
    .bind(e.ward.clone())
    .bind(e.phone.clone())
    .bind(e.email.clone())
    .bind(e.consent_share_sales)
    .bind(e.consent_recorded_by.clone())
    .bind(e.consent_recorded_at)
    .bind(by.to_string())
    .bind(e.created_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Writes an enterprise's own fields, only if its row is still the one read (its `updated_at`
/// is `read_at`): answers whether it was. A change made from a read that another change has
/// overtaken would undo that change (a withdrawn consent given back by an edit of the phone
/// number). Changes that read the row under its lock ([`locked`]) cannot be overtaken; the
/// CSV import, which reads before its transaction, can, and refuses.
pub(crate) async fn update_row(tx: &mut Tx, e: &Enterprise, read_at: i64) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE enterprises SET name = $1, search_key = $2, tax_code = $3, legal_form = $4, sector = $5, \
         size_class = $6, ward = $7, phone = $8, email = $9, consent_share_sales = $10, consent_recorded_by = $11, \
         consent_recorded_at = $12, consent_withdrawn_by = $13, consent_withdrawn_at = $14, updated_at = $15 WHERE id = $16 AND updated_at = $17",
    )
    .bind(e.name.clone())
    .bind(search_key(e))
    .bind(e.tax_code.clone())
    .bind(e.legal_form.map(|l| l.as_str().to_string()))
    .bind(e.sector.clone())
    .bind(e.size_class.map(|s| s.as_str().to_string()))
    .bind(e.ward.clone())
    .bind(e.phone.clone())
    .bind(e.email.clone())
    .bind(e.consent_share_sales)
    .bind(e.consent_recorded_by.clone())
    .bind(e.consent_recorded_at)
    .bind(e.consent_withdrawn_by.clone())
    .bind(e.consent_withdrawn_at)
    .bind(e.updated_at)
    .bind(e.id.clone())
    .bind(read_at)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The `updated_at` of an enterprise changed at `now` whose row said `read_at`: later than
/// `read_at` even within the same millisecond, so that [`update_row`] sees every change.
pub(crate) fn next_version(read_at: i64, now: i64) -> i64 {
    now.max(read_at + 1)
}

/// Turns a unique violation on the tax code into `TAX_CODE_TAKEN`.
fn map_unique(e: Error, field: Vec<String>, code: Option<&str>) -> Error {
    match e.unique_violation() {
        Some(c) if c.contains("tax_code") => {
            Error::Invalid(vec![tax_code_taken(field, code.unwrap_or_default())])
        }
        _ => e,
    }
}

/// Sets or withdraws consent on `e`, recording who and when.
fn set_consent(e: &mut Enterprise, consent: bool, by: &str, now: i64) {
    if consent && !e.consent_share_sales {
        e.consent_share_sales = true;
        e.consent_recorded_by = Some(by.to_string());
        e.consent_recorded_at = Some(now);
    } else if !consent && e.consent_share_sales {
        e.consent_share_sales = false;
        e.consent_withdrawn_by = Some(by.to_string());
        e.consent_withdrawn_at = Some(now);
    }
}

/// Registers an enterprise (staff of its province, admins).
pub async fn create_enterprise(db: &Db, user: &User, input: NewEnterprise) -> Result<Enterprise> {
    require_staff(user)?;
    let mut errors = Vec::new();
    let province = check_province(
        &input.province_code,
        input_path("provinceCode"),
        &mut errors,
    );
    if errors.is_empty() {
        require_province(user, &province)?;
    }
    let now = now_ms();
    let mut e = blank_enterprise(&province, now);
    let mut fields = input.fields.clone();
    fields.name = Some(fields.name.unwrap_or_default());
    apply_fields(&mut e, &fields, &input_path, &mut errors);
    if !errors.is_empty() {
        return Err(Error::Invalid(errors));
    }
    if let Some(tc) = &e.tax_code
        && by_tax_code(db, tc).await?.is_some()
    {
        return Err(Error::Invalid(vec![tax_code_taken(
            input_path("taxCode"),
            tc,
        )]));
    }
    if fields.consent_share_sales == Some(true) {
        set_consent(&mut e, true, &user.id, now);
    }
    let mut tx = db.begin().await?;
    insert(&mut tx, &e, &user.id)
        .await
        .map_err(|err| map_unique(err, input_path("taxCode"), e.tax_code.as_deref()))?;
    province_totals::add(&mut tx, Of::Enterprise(&e.id)).await?;
    tx.commit().await?;
    Ok(e)
}

/// Changes an enterprise (staff of its province, admins). The province does not change.
pub async fn update_enterprise(
    db: &Db,
    user: &User,
    id: &str,
    fields: EnterpriseFields,
) -> Result<Enterprise> {
    let id = load_for_staff(db, user, id).await?.id;
    let mut tx = db.begin().await?;
    let mut e = locked(&mut tx, &id).await?;
    let read_at = e.updated_at;
    let mut errors = Vec::new();
    apply_fields(&mut e, &fields, &input_path, &mut errors);
    if !errors.is_empty() {
        return Err(Error::Invalid(errors));
    }
    if let Some(tc) = &e.tax_code
        && let Some((other, _)) = by_tax_code(db, tc).await?
        && other != e.id
    {
        return Err(Error::Invalid(vec![tax_code_taken(
            input_path("taxCode"),
            tc,
        )]));
    }
    let now = now_ms();
    if let Some(c) = fields.consent_share_sales {
        set_consent(&mut e, c, &user.id, now);
    }
    e.updated_at = next_version(read_at, now);
    update_locked(&mut tx, &e, read_at)
        .await
        .map_err(|err| map_unique(err, input_path("taxCode"), e.tax_code.as_deref()))?;
    province_totals::add(&mut tx, Of::Enterprise(&e.id)).await?;
    tx.commit().await?;
    Ok(e)
}

/// The owner withdraws the consent to share sales figures: from then on no view shows them.
pub async fn withdraw_consent(db: &Db, user: &User, enterprise_id: &str) -> Result<Enterprise> {
    let id = load(db, enterprise_id)
        .await?
        .ok_or(Error::NotFound("enterprise"))?
        .id;
    if !is_owner_of(db, &user.id, &id).await? {
        return Err(Error::Forbidden);
    }
    let mut tx = db.begin().await?;
    let mut e = locked(&mut tx, &id).await?;
    let read_at = e.updated_at;
    let now = now_ms();
    set_consent(&mut e, false, &user.id, now);
    e.updated_at = next_version(read_at, now);
    update_locked(&mut tx, &e, read_at).await?;
    province_totals::add(&mut tx, Of::Enterprise(&e.id)).await?;
    tx.commit().await?;
    Ok(e)
}

/// Locks an enterprise in `tx` and takes its contribution out of the province's totals
/// (`province_totals::retract`), then reads it there: the row a change is made from is the
/// one it writes over, whatever other changes run at the same time (PostgreSQL holds the row
/// lock until the end of `tx`; on SQLite `tx` holds the one writer).
async fn locked(tx: &mut Tx, id: &str) -> Result<Enterprise> {
    province_totals::retract(tx, Of::Enterprise(id)).await?;
    load_from(&mut **tx, id)
        .await?
        .ok_or(Error::NotFound("enterprise"))
}

/// [`update_row`] for a row read under its lock ([`locked`]), which nothing can have changed.
async fn update_locked(tx: &mut Tx, e: &Enterprise, read_at: i64) -> Result<()> {
    if update_row(tx, e, read_at).await? {
        Ok(())
    } else {
        Err(Error::Internal(format!(
            "enterprise {} changed while locked",
            e.id
        )))
    }
}

/// A page of a province's enterprises, by id; `query` matches folded names and tax codes.
pub async fn list(
    db: &Db,
    user: &User,
    province: &str,
    first: Option<i64>,
    after: Option<&str>,
    query: Option<&str>,
) -> Result<Vec<Enterprise>> {
    require_province(user, province)?;
    let limit = first.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
    let q = query.map(fold).unwrap_or_default();
    let sql = format!(
        "SELECT {ENT_COLS} FROM enterprises e WHERE e.province_code = $1 AND e.id > $2 \
         AND e.search_key LIKE '%' || $3 || '%' ORDER BY e.id LIMIT $4"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(province.trim().to_string())
        .bind(after.map(str::trim).unwrap_or_default().to_string())
        .bind(q)
        .bind(limit)
        .fetch_all(db.read())
        .await?;
    rows.iter().map(ent_from_row).collect()
}

/// The register's filters (each `None` lets every enterprise through): the folded `query` of
/// [`list`], a VSIC section letter, a size class, consent to share sales figures, and whether
/// the enterprise has counted support (a first support day).
#[derive(Debug, Clone, Default)]
pub struct RegisterFilter {
    pub query: Option<String>,
    pub sector: Option<String>,
    pub size_class: Option<SizeClass>,
    pub consent: Option<bool>,
    pub supported: Option<bool>,
}

/// A page of a province's enterprises by id, like [`list`], narrowed by `filter` (staff of the
/// province, admins). An unknown sector letter is `INVALID_SECTOR` on `sector`.
pub async fn list_filtered(
    db: &Db,
    user: &User,
    province: &str,
    filter: &RegisterFilter,
    first: Option<i64>,
    after: Option<&str>,
) -> Result<Vec<Enterprise>> {
    require_province(user, province)?;
    let limit = first.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
    let mut sql = format!(
        "SELECT {ENT_COLS} FROM enterprises e WHERE e.province_code = $1 AND e.id > $2 \
         AND e.search_key LIKE '%' || $3 || '%'"
    );
    let mut binds = vec![
        province.trim().to_string(),
        after.map(str::trim).unwrap_or_default().to_string(),
        filter.query.as_deref().map(fold).unwrap_or_default(),
    ];
    if let Some(s) = filter.sector.as_deref().filter(|s| !s.trim().is_empty()) {
        let letter = parse_sector(s).ok_or_else(|| {
            Error::user(
                &["sector"],
                "INVALID_SECTOR",
                format!("{s:?} is not a VSIC section: give a letter from A to U."),
            )
        })?;
        binds.push(letter.to_string());
        sql.push_str(&format!(" AND e.sector = ${}", binds.len()));
    }
    if let Some(c) = filter.size_class {
        binds.push(c.as_str().to_string());
        sql.push_str(&format!(" AND e.size_class = ${}", binds.len()));
    }
    match filter.consent {
        Some(true) => sql.push_str(" AND e.consent_share_sales = TRUE"),
        Some(false) => sql.push_str(" AND e.consent_share_sales = FALSE"),
        None => {}
    }
    match filter.supported {
        Some(true) => sql.push_str(" AND e.first_support_day IS NOT NULL"),
        Some(false) => sql.push_str(" AND e.first_support_day IS NULL"),
        None => {}
    }
    sql.push_str(&format!(" ORDER BY e.id LIMIT ${}", binds.len() + 1));
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for b in binds {
        q = q.bind(b);
    }
    let rows = q.bind(limit).fetch_all(db.read()).await?;
    rows.iter().map(ent_from_row).collect()
}

/// The ids of the shops linked to an enterprise.
pub async fn shop_ids(db: &Db, e: &Enterprise) -> Result<Vec<ShopId>> {
    let rows = sqlx::query(
        "SELECT shop_id FROM enterprise_shops WHERE province_code = $1 AND enterprise_id = $2 ORDER BY shop_id",
    )
    .bind(e.province_code.clone())
    .bind(e.id.clone())
    .fetch_all(db.read())
    .await?;
    rows.iter()
        .map(|r| Ok(ShopId::new(r.try_get::<String, _>("shop_id")?)))
        .collect()
}

/// Sales figures of a consenting enterprise, from the daily aggregates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Sales {
    pub orders: i64,
    pub revenue: i64,
    pub orders_after_support: i64,
    pub revenue_after_support: i64,
}

/// The enterprise's sales figures, or `None` when it does not consent to share them (read
/// from its running totals: no query).
pub fn sales(e: &Enterprise) -> Option<Sales> {
    e.consent_share_sales.then_some(Sales {
        orders: e.tally.orders_total,
        revenue: e.tally.revenue_total,
        orders_after_support: e.tally.orders_since,
        revenue_after_support: e.tally.revenue_since,
    })
}

/// The shops linked to each of these enterprises (one statement), by enterprise id.
pub async fn shop_ids_for(
    db: &Db,
    province: &str,
    enterprise_ids: &[String],
) -> Result<std::collections::HashMap<String, Vec<ShopId>>> {
    let mut out: std::collections::HashMap<String, Vec<ShopId>> = enterprise_ids
        .iter()
        .map(|id| (id.clone(), Vec::new()))
        .collect();
    if enterprise_ids.is_empty() {
        return Ok(out);
    }
    let sql = format!(
        "SELECT enterprise_id, shop_id FROM enterprise_shops WHERE province_code = $1 AND enterprise_id IN ({}) \
         ORDER BY shop_id",
        crate::db::placeholders(1, enterprise_ids.len())
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(province.to_string());
    for id in enterprise_ids {
        q = q.bind(id.clone());
    }
    for r in q.fetch_all(db.read()).await? {
        let e: String = r.try_get("enterprise_id")?;
        out.entry(e)
            .or_default()
            .push(ShopId::new(r.try_get::<String, _>("shop_id")?));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Invites and the hooks called by accounts, shops and orders
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Invite {
    pub code: String,
    pub enterprise_id: String,
    pub expires_at: i64,
}

fn normalize_code(code: &str) -> String {
    code.trim().to_uppercase()
}

/// Creates an onboarding invite for an enterprise (staff of its province, admins).
pub async fn create_invite(db: &Db, user: &User, enterprise_id: &str) -> Result<Invite> {
    let e = load_for_staff(db, user, enterprise_id).await?;
    let now = now_ms();
    let inv = Invite {
        code: random_hex(10).to_uppercase(),
        enterprise_id: e.id.clone(),
        expires_at: now + INVITE_TTL_MS,
    };
    sqlx::query(
        "INSERT INTO enterprise_invites (code, province_code, enterprise_id, created_by, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(inv.code.clone())
    .bind(e.province_code.clone())
    .bind(e.id.clone())
    .bind(user.id.clone())
    .bind(now)
    .bind(inv.expires_at)
    .execute(db.write())
    .await?;
    Ok(inv)
}

/// Whether an invite code is live (used by `accounts::register`).
pub async fn invite_valid(db: &Db, code: &str) -> Result<bool> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM enterprise_invites WHERE code = $1 AND expires_at > $2",
    )
    .bind(normalize_code(code))
    .bind(now_ms())
    .fetch_one(db.read())
    .await?;
    Ok(row.try_get::<i64, _>("n")? > 0)
}

/// Records that a new account registered with an invite: the shops it creates get linked.
pub async fn redeem_invite(db: &Db, user_id: &str, code: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO invite_redemptions (user_id, enterprise_id, code, created_at) \
         SELECT $1, i.enterprise_id, i.code, $3 FROM enterprise_invites i WHERE i.code = $2 \
         ON CONFLICT (user_id) DO NOTHING",
    )
    .bind(user_id.to_string())
    .bind(normalize_code(code))
    .bind(now_ms())
    .execute(db.write())
    .await?;
    Ok(())
}

/// Called by `shops::create_shop` in its transaction: links the new shop to the enterprise
/// whose invite its owner registered with, if any (moving the enterprise's contribution to the
/// province's totals: a linked shop counts in the funnel).
pub async fn on_shop_created(tx: &mut Tx, user_id: &str, shop_id: &str) -> Result<()> {
    province_totals::retract(tx, Of::Redeemer(user_id)).await?;
    sqlx::query(
        "INSERT INTO enterprise_shops (shop_id, enterprise_id, province_code, created_at) \
         SELECT $2, r.enterprise_id, e.province_code, $3 FROM invite_redemptions r \
         JOIN enterprises e ON e.id = r.enterprise_id WHERE r.user_id = $1 \
         ON CONFLICT (shop_id) DO NOTHING",
    )
    .bind(user_id.to_string())
    .bind(shop_id.to_string())
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    province_totals::add(tx, Of::Redeemer(user_id)).await
}

/// Called by `shops::set_published` in its transaction before it changes the shop's
/// `published` flag: locks the shop's row, then its enterprise's (the order in which placing an
/// order takes them), and takes the enterprise's contribution out of the province's totals.
/// One round trip on SQLite; nothing but the shop's lock when the shop is not linked.
pub async fn before_shop_published(tx: &mut Tx, shop_id: &ShopId) -> Result<()> {
    let mut b = crate::sql_batch::Batch::new();
    b.push(
        "UPDATE shops SET updated_at = updated_at WHERE id = $1",
        crate::args![shop_id.as_str()],
    );
    province_totals::retract_in(&mut b, Of::Shop(shop_id.as_str()));
    b.run(tx).await?;
    Ok(())
}

/// Called by `shops::set_published` in its transaction after it changed the shop's
/// `published` flag (after [`before_shop_published`]): when the shop went live, a linked
/// enterprise gets its STOREFRONT support record, completed (status closed, note "auto"),
/// once; then the enterprise's contribution goes back into the province's totals.
pub async fn on_shop_published(tx: &mut Tx, shop_id: &ShopId, published: bool) -> Result<()> {
    if published {
        let row = sqlx::query("SELECT enterprise_id FROM enterprise_shops WHERE shop_id = $1")
            .bind(shop_id.as_str().to_string())
            .fetch_optional(&mut **tx)
            .await?;
        if let Some(row) = row {
            let enterprise_id: String = row.try_get("enterprise_id")?;
            records::auto_storefront(tx, &enterprise_id).await?;
        }
    }
    province_totals::add(tx, Of::Shop(shop_id.as_str())).await
}

/// Called by `orders::place_order` for its transaction's batch: adds the order to the running
/// totals of the enterprise the shop is linked to, if any.
pub(crate) fn on_order(b: &mut crate::sql_batch::Batch, shop_id: &ShopId, total: i64, now: i64) {
    count_order_in(b, shop_id, vn_day(now), 1, total)
}

/// Called by `orders::transition` in its transaction when an order is cancelled: takes it out
/// of the totals of the day it was placed.
pub async fn on_order_cancelled(
    tx: &mut Tx,
    shop_id: &ShopId,
    total: i64,
    placed_at: i64,
) -> Result<()> {
    count_order(tx, shop_id, vn_day(placed_at), -1, -total).await
}

/// Adds `orders` and `revenue` (negative to take out) on `day` to the enterprise's daily
/// aggregate, to its running totals and to the province's: three indexed statements (one round
/// trip on SQLite), which change nothing when the shop is not linked to an enterprise.
async fn count_order(
    tx: &mut Tx,
    shop_id: &ShopId,
    day: i64,
    orders: i64,
    revenue: i64,
) -> Result<()> {
    let mut b = crate::sql_batch::Batch::new();
    count_order_in(&mut b, shop_id, day, orders, revenue);
    b.run(tx).await?;
    Ok(())
}

/// The statement adding an order to its enterprise's own totals: arguments (shop id, orders,
/// revenue, day, window).
static COUNT_ORDER: LazyLock<String> = LazyLock::new(|| {
    let [since, before, after] = province_totals::window_conditions("");
    let add =
        |col: &str, w: &str, v: &str| format!("{col} = {col} + CASE WHEN {w} THEN {v} ELSE 0 END");
    format!(
        "UPDATE enterprises SET orders_total = orders_total + $2, revenue_total = revenue_total + $3, \
         {}, {}, {}, {}, {}, {} WHERE id = (SELECT enterprise_id FROM enterprise_shops WHERE shop_id = $1)",
        add("orders_since", &since, "$2"),
        add("revenue_since", &since, "$3"),
        add("orders_before", &before, "$2"),
        add("revenue_before", &before, "$3"),
        add("orders_after", &after, "$2"),
        add("revenue_after", &after, "$3"),
    )
});

/// [`count_order`] as statements of a batch: the daily aggregate, the enterprise's own totals,
/// then the difference they made to the province's totals (only the enterprise's slotted
/// `'all'` row: see [`province_totals`]).
pub(crate) fn count_order_in(
    b: &mut crate::sql_batch::Batch,
    shop_id: &ShopId,
    day: i64,
    orders: i64,
    revenue: i64,
) {
    b.push(
        "INSERT INTO enterprise_daily (province_code, enterprise_id, day, orders, revenue) \
         SELECT es.province_code, es.enterprise_id, $2, $3, $4 FROM enterprise_shops es WHERE es.shop_id = $1 \
         ON CONFLICT (province_code, enterprise_id, day) DO UPDATE SET \
         orders = enterprise_daily.orders + excluded.orders, revenue = enterprise_daily.revenue + excluded.revenue",
        crate::args![shop_id.as_str(), day, orders, revenue],
    );
    b.push(
        COUNT_ORDER.as_str(),
        crate::args![
            shop_id.as_str(),
            orders,
            revenue,
            day,
            dashboard::WINDOW_DAYS
        ],
    );
    // It reads the enterprise's totals just written: a run of effects of its own.
    b.new_run();
    province_totals::order_delta_in(
        b,
        shop_id.as_str(),
        day,
        orders,
        revenue,
        dashboard::WINDOW_DAYS,
    );
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A fresh migrated SQLite database and a staff account of Huế (46); the folder is the
    /// caller's to remove.
    pub(crate) async fn db_with_staff(name: &str) -> (std::path::PathBuf, Db, User) {
        let (dir, db) = crate::db::temp_sqlite(name, true).await;
        let staff = crate::accounts::create_user(
            &db,
            crate::accounts::NewUser {
                email: "canbo@hue.gov.vn".into(),
                password: "một mật khẩu dài".into(),
                full_name: "Cán Bộ".into(),
                role: crate::accounts::Role::ProvinceStaff,
                province_code: Some("46".into()),
            },
        )
        .await
        .expect("staff");
        (dir, db, staff)
    }

    /// An enterprise of Huế named Mè xửng Song Hỷ, with `fields` besides, created by staff.
    pub(crate) async fn song_hy(db: &Db, staff: &User, fields: EnterpriseFields) -> Enterprise {
        create_enterprise(
            db,
            staff,
            NewEnterprise {
                province_code: "46".into(),
                fields: EnterpriseFields {
                    name: Some("Mè xửng Song Hỷ".into()),
                    ..fields
                },
            },
        )
        .await
        .expect("enterprise")
    }

    /// Staff set the enterprise's phone to 0912345678 (`update_enterprise`).
    pub(crate) async fn set_phone(db: &Db, staff: &User, id: &str) -> Result<Enterprise> {
        update_enterprise(
            db,
            staff,
            id,
            EnterpriseFields {
                phone: Some("0912345678".into()),
                ..Default::default()
            },
        )
        .await
    }

    #[test]
    fn parsing() {
        assert_eq!(parse_sector("c"), Some("C"));
        assert_eq!(parse_sector("G - Bán buôn"), Some("G"));
        assert_eq!(parse_sector("Xây dựng"), Some("F"));
        assert_eq!(parse_sector("Z"), None);
        assert_eq!(parse_sector("Cafe"), None);
        assert_eq!(VSIC_SECTIONS.len(), 21);
        assert_eq!(
            LegalForm::parse("Hộ kinh doanh"),
            Some(LegalForm::HouseholdBusiness)
        );
        assert_eq!(
            LegalForm::parse("household_business"),
            Some(LegalForm::HouseholdBusiness)
        );
        assert_eq!(SizeClass::parse("Siêu nhỏ"), Some(SizeClass::Micro));
        assert_eq!(SizeClass::parse("nho"), Some(SizeClass::Small));
        assert_eq!(date_to_day("1970-01-02"), Some(1));
        assert_eq!(day_to_date(1), "1970-01-02");
        assert_eq!(date_to_day("2025-13-01"), None);
        assert_eq!(vn_day(17 * 3600 * 1000), 1);
    }

    /// A change made from a read that another change overtook writes nothing (it would undo
    /// that change: here give back a withdrawn consent); `update_enterprise` reads the row
    /// under its lock, so the same edit made through it keeps the withdrawal.
    #[tokio::test]
    async fn an_overtaken_change_writes_nothing_and_an_edit_reads_under_the_lock() {
        let (dir, db, staff) = db_with_staff("ent").await;
        let e = song_hy(
            &db,
            &staff,
            EnterpriseFields {
                consent_share_sales: Some(true),
                ..Default::default()
            },
        )
        .await;
        let stale = load(&db, &e.id).await.expect("load").expect("found");
        let withdrawn = update_enterprise(
            &db,
            &staff,
            &e.id,
            EnterpriseFields {
                consent_share_sales: Some(false),
                ..Default::default()
            },
        )
        .await
        .expect("withdrawn");
        assert!(withdrawn.updated_at > stale.updated_at);
        // A phone number edited from the read before the withdrawal.
        let mut edited = stale.clone();
        edited.phone = Some("+84912345678".into());
        edited.updated_at = next_version(stale.updated_at, now_ms());
        let mut tx = db.begin().await.expect("begin");
        assert!(
            !update_row(&mut tx, &edited, stale.updated_at)
                .await
                .expect("update")
        );
        tx.commit().await.expect("commit");
        let now = load(&db, &e.id).await.expect("load").expect("found");
        assert!(!now.consent_share_sales);
        assert_eq!(now.phone, None);
        // The same edit through `update_enterprise` keeps the withdrawal.
        let edited = set_phone(&db, &staff, &e.id).await.expect("edited");
        let phone = crate::text::Phone::parse("0912345678")
            .expect("a phone")
            .into_string();
        assert_eq!(edited.phone.as_deref(), Some(phone.as_str()));
        assert!(!edited.consent_share_sales);
        let now = load(&db, &e.id).await.expect("load").expect("found");
        assert_eq!(
            (now.phone.as_deref(), now.consent_share_sales),
            (Some(phone.as_str()), false)
        );
        drop(db);
        let _ = std::fs::remove_dir_all(dir);
    }
}
