//! Exports (CSV for Excel with Vietnamese headers, JSON for the province's open-data portal)
//! and the CSV import of the register. Exports carry no customer data, and sales figures only
//! for enterprises that consent. An import is checked whole before anything is written: one
//! bad row and nothing is imported; what is imported moves the province's totals in the same
//! transaction (`province_totals`).

use std::collections::HashMap;

use super::{
    ENT_COLS, Enterprise, EnterpriseFields, LegalForm, SizeClass, blank_enterprise, by_tax_code,
    day_to_date, ent_from_row, insert,
    province_totals::{self, Of},
    require_province, sector_name, tax_code_taken, update_row, user_error,
};
use crate::{
    accounts::User,
    csv,
    db::Db,
    error::{Error, Result, UserError},
    ids::{now_ms, rfc3339},
    provinces,
};

pub const H_NAME: &str = "Tên doanh nghiệp";
pub const H_TAX: &str = "Mã số thuế";
pub const H_FORM: &str = "Loại hình";
pub const H_SECTOR: &str = "Ngành (VSIC)";
pub const H_SECTOR_NAME: &str = "Tên ngành";
pub const H_SIZE: &str = "Quy mô";
pub const H_PROVINCE: &str = "Tỉnh/thành phố";
pub const H_WARD: &str = "Phường/xã";
pub const H_PHONE: &str = "Điện thoại";
pub const H_EMAIL: &str = "Email";
pub const H_CONSENT: &str = "Đồng ý chia sẻ doanh số";
pub const H_SUPPORTS: &str = "Số lần hỗ trợ";
pub const H_FIRST: &str = "Ngày hỗ trợ đầu tiên";
pub const H_ORDERS: &str = "Đơn hàng sau hỗ trợ";
pub const H_REVENUE: &str = "Doanh thu sau hỗ trợ (đồng)";

pub const HEADERS: &[&str] = &[
    H_NAME,
    H_TAX,
    H_FORM,
    H_SECTOR,
    H_SECTOR_NAME,
    H_SIZE,
    H_PROVINCE,
    H_WARD,
    H_PHONE,
    H_EMAIL,
    H_CONSENT,
    H_SUPPORTS,
    H_FIRST,
    H_ORDERS,
    H_REVENUE,
];

/// One enterprise with its support count and (consenting only) sales after support.
struct ExportRow {
    e: Enterprise,
    supports: i64,
    orders_after: Option<i64>,
    revenue_after: Option<i64>,
}

async fn export_rows(db: &Db, province: &str) -> Result<Vec<ExportRow>> {
    let sql =
        format!("SELECT {ENT_COLS} FROM enterprises e WHERE e.province_code = $1 ORDER BY e.id");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(province.to_string())
        .fetch_all(db.read())
        .await?;
    rows.iter()
        .map(|r| {
            let e = ent_from_row(r)?;
            let share = e.consent_share_sales && e.first_support_day.is_some();
            Ok(ExportRow {
                supports: e.tally.support_records,
                orders_after: share.then_some(e.tally.orders_since),
                revenue_after: share.then_some(e.tally.revenue_since),
                e,
            })
        })
        .collect()
}

/// The register of a province as CSV for Excel (UTF-8 BOM, CRLF, Vietnamese headers).
pub async fn export_csv(db: &Db, user: &User, province: &str) -> Result<String> {
    require_province(user, province)?;
    let p = province.trim();
    let pname = provinces::get(p)
        .map(|x| x.name.clone())
        .unwrap_or_default();
    let rows: Vec<Vec<String>> = export_rows(db, p)
        .await?
        .into_iter()
        .map(|x| {
            let e = x.e;
            vec![
                e.name,
                e.tax_code.unwrap_or_default(),
                e.legal_form
                    .map(|l| l.label_vi().to_string())
                    .unwrap_or_default(),
                e.sector.clone().unwrap_or_default(),
                e.sector
                    .as_deref()
                    .and_then(sector_name)
                    .unwrap_or_default()
                    .to_string(),
                e.size_class
                    .map(|s| s.label_vi().to_string())
                    .unwrap_or_default(),
                pname.clone(),
                e.ward.unwrap_or_default(),
                e.phone.unwrap_or_default(),
                e.email.unwrap_or_default(),
                if e.consent_share_sales {
                    "Có"
                } else {
                    "Không"
                }
                .to_string(),
                x.supports.to_string(),
                e.first_support_day.map(day_to_date).unwrap_or_default(),
                x.orders_after.map(|v| v.to_string()).unwrap_or_default(),
                x.revenue_after.map(|v| v.to_string()).unwrap_or_default(),
            ]
        })
        .collect();
    Ok(csv::write(HEADERS, &rows, ','))
}

/// The register of a province as JSON for the open-data portal: no contact details, no
/// customer data, sales only for consenting enterprises.
pub async fn export_json(db: &Db, user: &User, province: &str) -> Result<String> {
    require_province(user, province)?;
    let p = province.trim();
    let list: Vec<serde_json::Value> = export_rows(db, p)
        .await?
        .into_iter()
        .map(|x| {
            let e = x.e;
            serde_json::json!({
                "id": e.id,
                "name": e.name,
                "taxCode": e.tax_code,
                "legalForm": e.legal_form.map(LegalForm::as_str),
                "sector": e.sector,
                "sectorName": e.sector.as_deref().and_then(sector_name),
                "sizeClass": e.size_class.map(SizeClass::as_str),
                "ward": e.ward,
                "consentShareSales": e.consent_share_sales,
                "supportRecords": x.supports,
                "firstSupportDate": e.first_support_day.map(day_to_date),
                "ordersAfterSupport": x.orders_after,
                "revenueAfterSupportVnd": x.revenue_after,
            })
        })
        .collect();
    let doc = serde_json::json!({
        "provinceCode": p,
        "provinceName": provinces::get(p).map(|x| x.name.clone()),
        "generatedAt": rfc3339(now_ms()),
        "currency": "VND",
        "enterprises": list,
    });
    serde_json::to_string_pretty(&doc).map_err(|e| Error::Internal(format!("JSON export: {e}")))
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportResult {
    pub created: i64,
    pub updated: i64,
}

fn parse_bool(s: &str) -> Option<bool> {
    match crate::text::fold(s).as_str() {
        "co" | "x" | "yes" | "true" | "1" | "dong y" => Some(true),
        "khong" | "no" | "false" | "0" | "" => Some(false),
        _ => None,
    }
}

/// Imports enterprises of a province from CSV (UTF-8 with or without BOM). Rows whose tax code
/// is already registered in the province update that enterprise (consent is never changed by
/// an update: only the owner withdraws it and staff record it one by one); other rows create
/// enterprises. Every row is checked first; any error and nothing is written.
pub async fn import_csv(db: &Db, user: &User, province: &str, data: &[u8]) -> Result<ImportResult> {
    let checked = check_import(db, user, province, data).await?;
    write_import(db, user, checked).await
}

/// An import checked against the register, ready to write: the enterprises it creates, and
/// the ones it updates, each with the version it was read at.
#[derive(Debug)]
struct CheckedImport {
    creates: Vec<Enterprise>,
    updates: Vec<(i64, Enterprise)>,
}

/// The reading half of [`import_csv`]: parses and checks every row and reads the enterprises
/// it updates (outside any transaction: a file of thousands of rows takes no lock meanwhile).
async fn check_import(db: &Db, user: &User, province: &str, data: &[u8]) -> Result<CheckedImport> {
    super::require_staff(user)?;
    let p = province.trim().to_string();
    if !provinces::is_valid(&p) {
        return Err(Error::user(
            &["provinceCode"],
            "INVALID_PROVINCE",
            format!("{p:?} is not one of the 34 province codes."),
        ));
    }
    require_province(user, &p)?;
    let table =
        csv::parse_bytes(data).map_err(|e| Error::user(&["csv"], e.code(), e.to_string()))?;
    if !table.has(H_NAME) {
        return Err(Error::user(
            &["csv"],
            "MISSING_COLUMN",
            format!("The first line must name the columns; \"{H_NAME}\" is required."),
        ));
    }
    let col = |h: &str| table.column(h);
    let (c_name, c_tax, c_form, c_sector, c_size, c_ward, c_phone, c_email, c_consent) = (
        col(H_NAME),
        col(H_TAX),
        col(H_FORM),
        col(H_SECTOR),
        col(H_SIZE),
        col(H_WARD),
        col(H_PHONE),
        col(H_EMAIL),
        col(H_CONSENT),
    );
    let now = now_ms();
    let mut errors: Vec<UserError> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut creates = Vec::new();
    let mut updates = Vec::new();
    for row in &table.rows {
        let get = |c: Option<usize>| {
            c.and_then(|i| row.fields.get(i))
                .map(|s| s.trim().to_string())
        };
        let line = row.line;
        let path =
            move |name: &str| vec!["csv".to_string(), format!("line {line}"), name.to_string()];
        let mut row_errors = Vec::new();
        let legal_form = match get(c_form).filter(|s| !s.is_empty()) {
            Some(v) => match LegalForm::parse(&v) {
                Some(l) => Some(l),
                None => {
                    row_errors.push(user_error(
                        path(H_FORM),
                        "INVALID_LEGAL_FORM",
                        format!("{v:?}: write Công ty, Hợp tác xã or Hộ kinh doanh."),
                    ));
                    None
                }
            },
            None => None,
        };
        let size_class = match get(c_size).filter(|s| !s.is_empty()) {
            Some(v) => match SizeClass::parse(&v) {
                Some(s) => Some(s),
                None => {
                    row_errors.push(user_error(
                        path(H_SIZE),
                        "INVALID_SIZE_CLASS",
                        format!("{v:?}: write Siêu nhỏ, Nhỏ or Vừa."),
                    ));
                    None
                }
            },
            None => None,
        };
        let consent = match get(c_consent) {
            Some(v) => match parse_bool(&v) {
                Some(b) => b,
                None => {
                    row_errors.push(user_error(
                        path(H_CONSENT),
                        "INVALID_VALUE",
                        format!("{v:?}: write Có or Không."),
                    ));
                    false
                }
            },
            None => false,
        };
        let fields = EnterpriseFields {
            name: Some(get(c_name).unwrap_or_default()),
            tax_code: get(c_tax),
            legal_form,
            sector: get(c_sector),
            size_class,
            ward: get(c_ward),
            phone: get(c_phone),
            email: get(c_email),
            consent_share_sales: None,
        };
        // Field names in errors are the CSV headers.
        let header_of = |name: &str| match name {
            "name" => H_NAME,
            "taxCode" => H_TAX,
            "sector" => H_SECTOR,
            "ward" => H_WARD,
            "phone" => H_PHONE,
            "email" => H_EMAIL,
            _ => H_NAME,
        };
        let field_path = move |name: &str| path(header_of(name));
        let mut e = blank_enterprise(&p, now);
        super::apply_fields(&mut e, &fields, &field_path, &mut row_errors);
        if row_errors.is_empty()
            && let Some(tc) = e.tax_code.clone()
        {
            if let Some(first) = seen.insert(tc.clone(), line) {
                row_errors.push(user_error(
                    path(H_TAX),
                    "DUPLICATE_ROW",
                    format!("Tax code {tc} is also on line {first}."),
                ));
            } else if let Some((id, other_province)) = by_tax_code(db, &tc).await? {
                if other_province != p {
                    row_errors.push(tax_code_taken(path(H_TAX), &tc));
                } else if let Some(mut existing) = super::load(db, &id).await? {
                    super::apply_fields(&mut existing, &fields, &field_path, &mut row_errors);
                    let read_at = existing.updated_at;
                    existing.updated_at = super::next_version(read_at, now);
                    updates.push((read_at, existing));
                    errors.extend(row_errors.into_iter().map(|mut u| {
                        u.message = format!("Dòng {line}: {}", u.message);
                        u
                    }));
                    continue;
                }
            }
        }
        if consent {
            e.consent_share_sales = true;
            e.consent_recorded_by = Some(user.id.clone());
            e.consent_recorded_at = Some(now);
        }
        if row_errors.is_empty() {
            creates.push(e);
        }
        errors.extend(row_errors.into_iter().map(|mut u| {
            u.message = format!("Dòng {line}: {}", u.message);
            u
        }));
    }
    if !errors.is_empty() {
        return Err(Error::Invalid(errors));
    }
    Ok(CheckedImport { creates, updates })
}

/// The writing half of [`import_csv`], in one transaction: an enterprise changed since
/// [`check_import`] read it fails the whole import (`EDIT_CONFLICT`), since writing it would
/// undo that change.
async fn write_import(db: &Db, user: &User, checked: CheckedImport) -> Result<ImportResult> {
    let CheckedImport { creates, updates } = checked;
    let mut tx = db.begin().await?;
    // The updated enterprises' contributions to the province's totals come out before the
    // changes (locking them all first), and every written enterprise's goes in after.
    let updated: Vec<String> = updates.iter().map(|(_, e)| e.id.clone()).collect();
    province_totals::retract(&mut tx, Of::Enterprises(&updated)).await?;
    for (read_at, e) in &updates {
        if !update_row(&mut tx, e, *read_at).await? {
            // Changed since this import read it: writing it would undo that change.
            return Err(Error::user(
                &["csv"],
                "EDIT_CONFLICT",
                format!(
                    "{} was changed while the file was being imported; nothing was imported. Import the file again.",
                    e.name
                ),
            ));
        }
    }
    for e in &creates {
        if let Err(err) = insert(&mut tx, e, &user.id).await {
            if err.unique_violation().is_some() {
                return Err(Error::Invalid(vec![tax_code_taken(
                    vec!["csv".to_string()],
                    e.tax_code.as_deref().unwrap_or_default(),
                )]));
            }
            return Err(err);
        }
    }
    let written: Vec<String> = updated
        .into_iter()
        .chain(creates.iter().map(|e| e.id.clone()))
        .collect();
    province_totals::add(&mut tx, Of::Enterprises(&written)).await?;
    tx.commit().await?;
    Ok(ImportResult {
        created: creates.len() as i64,
        updated: updates.len() as i64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::support::load;

    /// An enterprise edited between the import's check and its write fails the whole import
    /// with `EDIT_CONFLICT`: the edit stays, and no row of the file is written (not even the
    /// one creating another enterprise).
    #[tokio::test]
    async fn an_import_overtaken_by_an_edit_writes_nothing() {
        let (dir, db, staff) = crate::support::tests::db_with_staff("import").await;
        let e = crate::support::tests::song_hy(
            &db,
            &staff,
            EnterpriseFields {
                tax_code: Some("0300588569".into()),
                ..Default::default()
            },
        )
        .await;
        let file = format!(
            "{H_NAME},{H_TAX},{H_EMAIL}\nMè xửng Song Hỷ,0300588569,lienhe@songhy.vn\nBánh ép Huế,,\n"
        );
        let checked = check_import(&db, &staff, "46", file.as_bytes())
            .await
            .expect("the file checks");
        assert_eq!((checked.creates.len(), checked.updates.len()), (1, 1));
        crate::support::tests::set_phone(&db, &staff, &e.id)
            .await
            .expect("an edit in between");
        match write_import(&db, &staff, checked).await {
            Err(Error::Invalid(errors)) => {
                assert_eq!(errors.len(), 1, "{errors:?}");
                assert_eq!(errors[0].code, "EDIT_CONFLICT", "{errors:?}");
            }
            other => panic!("the import should conflict: {other:?}"),
        }
        let now = load(&db, &e.id).await.expect("load").expect("found");
        assert!(now.phone.is_some(), "the edit stays");
        assert_eq!(now.email, None, "the import's change is not written");
        let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM enterprises")
            .fetch_one(db.read())
            .await
            .expect("count");
        assert_eq!(count, 1, "the import's new enterprise is not written");
        // The same file imported again, from the edited row, lands (and keeps the edit).
        let done = import_csv(&db, &staff, "46", file.as_bytes())
            .await
            .expect("imported again");
        assert_eq!(
            done,
            ImportResult {
                created: 1,
                updated: 1
            }
        );
        let now = load(&db, &e.id).await.expect("load").expect("found");
        assert!(now.phone.is_some() && now.email.is_some());
        drop(db);
        let _ = std::fs::remove_dir_all(dir);
    }
}
