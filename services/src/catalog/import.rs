//! Bulk product import from the CSV an owner exports from Excel (UTF-8 with or without BOM,
//! comma or semicolon; headers in Vietnamese or English). Rows are matched by SKU: a known
//! SKU updates its variant (price, compare-at price, title, stock as a recorded movement), a
//! new SKU becomes a variant of the product with the row's handle or title (created if
//! needed). Every row is checked first; with any bad row nothing is written unless the owner
//! asks to skip bad rows. All writes happen in one transaction.

use std::collections::{BTreeMap, HashMap, HashSet};

use sqlx::Row;

use super::{
    CleanVariant, MAX_STOCK, check_description, check_price, check_sku, check_title,
    free_handle_tx, insert_variant, record_movement,
};
use crate::{
    csv::{self, Table},
    db::Db,
    error::{Error, Result},
    ids::{new_id, now_ms},
    tenancy::ShopScope,
    text::{fold, slugify},
};

/// Most rows one import takes.
pub const MAX_IMPORT_ROWS: usize = 10_000;

/// Accepted header names for each column (compared folded: case and diacritics ignored).
const SKU: &[&str] = &["sku", "ma sku", "ma hang", "ma san pham"];
const TITLE: &[&str] = &["title", "name", "product", "ten san pham", "ten"];
const VARIANT: &[&str] = &["variant", "variant title", "phan loai", "bien the"];
const PRICE: &[&str] = &["price", "gia", "gia ban", "gia ban vnd", "gia vnd"];
const COMPARE: &[&str] = &["compare at price", "compare at", "gia goc", "gia niem yet"];
const STOCK: &[&str] = &["stock", "quantity", "ton kho", "so luong"];
const DESCRIPTION: &[&str] = &["description", "mo ta"];
const PUBLISHED: &[&str] = &["published", "hien thi", "dang ban"];
const HANDLE: &[&str] = &["handle", "duong dan"];

/// A problem with one row (`row` is the line in the file; the header is line 1).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RowError {
    pub row: usize,
    pub column: String,
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportReport {
    pub created_products: i64,
    pub created_variants: i64,
    pub updated_variants: i64,
    /// Rows left out because they were wrong (only with `skip_invalid_rows`).
    pub skipped_rows: i64,
    pub errors: Vec<RowError>,
}

#[derive(Debug, Clone)]
struct Parsed {
    line: usize,
    sku: String,
    title: Option<String>,
    handle: Option<String>,
    description: Option<String>,
    published: Option<bool>,
    variant: CleanVariant,
    has_price: bool,
    has_stock: bool,
}

fn column(table: &Table, names: &[&str]) -> Option<usize> {
    names.iter().find_map(|n| table.column(n))
}

fn parse_bool(v: &str) -> Option<bool> {
    match fold(v).as_str() {
        "1" | "co" | "yes" | "true" | "x" | "hien thi" | "dang ban" => Some(true),
        "0" | "khong" | "no" | "false" | "an" => Some(false),
        _ => None,
    }
}

/// Checks every row; returns the good rows and the errors.
fn check_rows(table: &Table) -> (Vec<Parsed>, Vec<RowError>) {
    let mut errors = Vec::new();
    let mut out = Vec::new();
    let c = |names| column(table, names);
    let (sku_c, title_c, var_c, price_c, cmp_c, stock_c, desc_c, pub_c, handle_c) = (
        c(SKU),
        c(TITLE),
        c(VARIANT),
        c(PRICE),
        c(COMPARE),
        c(STOCK),
        c(DESCRIPTION),
        c(PUBLISHED),
        c(HANDLE),
    );
    let Some(sku_c) = sku_c else {
        errors.push(RowError {
            row: 1,
            column: "sku".into(),
            code: "MISSING_COLUMN".into(),
            message:
                "The file needs a SKU column (\"SKU\" or \"Mã SKU\"): rows are matched by SKU."
                    .into(),
        });
        return (out, errors);
    };
    let mut seen: HashMap<String, usize> = HashMap::new();
    for row in &table.rows {
        let get = |c: Option<usize>| {
            c.and_then(|i| row.fields.get(i))
                .map(|s| s.trim())
                .filter(|s| !s.is_empty())
        };
        let mut row_errors: Vec<(String, String, String)> = Vec::new();
        let mut err = |col: &str, code: &str, msg: String| {
            row_errors.push((col.to_string(), code.to_string(), msg))
        };
        let mut local = Vec::new();
        let sku = match get(Some(sku_c)) {
            None => {
                err("sku", "REQUIRED", "Every row needs a SKU.".into());
                String::new()
            }
            Some(s) => check_sku(s, &[], &mut local).unwrap_or_default(),
        };
        for e in local.drain(..) {
            err("sku", &e.code, e.message);
        }
        if !sku.is_empty()
            && let Some(first) = seen.insert(sku.clone(), row.line)
        {
            err(
                "sku",
                "DUPLICATE_SKU",
                format!("SKU {sku:?} is also on line {first}."),
            );
        }
        let title = get(title_c).map(|t| check_title(t, &[], &mut local));
        for e in local.drain(..) {
            err("title", &e.code, e.message);
        }
        let price = get(price_c).map(|p| check_price(p, &[], &mut local));
        for e in local.drain(..) {
            err("price", "INVALID_PRICE", e.message);
        }
        let compare = get(cmp_c).map(|p| check_price(p, &[], &mut local));
        for e in local.drain(..) {
            err("compareAtPrice", "INVALID_PRICE", e.message);
        }
        if let (Some(p), Some(c)) = (price, compare)
            && c <= p
        {
            err(
                "compareAtPrice",
                "INVALID_PRICE",
                "The compare-at price must be higher than the price.".into(),
            );
        }
        let stock = match get(stock_c) {
            None => None,
            Some(s) => match s.replace(['.', ' '], "").parse::<i64>() {
                Ok(n) if (0..=MAX_STOCK).contains(&n) => Some(n),
                _ => {
                    err(
                        "stock",
                        "INVALID_STOCK",
                        format!("{s:?} is not a stock count (a whole number from 0)."),
                    );
                    None
                }
            },
        };
        let description = get(desc_c).map(|d| check_description(d, &[], &mut local));
        for e in local.drain(..) {
            err("description", &e.code, e.message);
        }
        let published = match get(pub_c) {
            None => None,
            Some(v) => match parse_bool(v) {
                Some(b) => Some(b),
                None => {
                    err(
                        "published",
                        "INVALID_BOOLEAN",
                        format!("{v:?}: write có/không or yes/no."),
                    );
                    None
                }
            },
        };
        let handle = match get(handle_c) {
            None => None,
            Some(h) => match crate::text::Slug::parse(&h.to_lowercase()) {
                Ok(s) => Some(s.into_string()),
                Err(e) => {
                    err("handle", "INVALID_HANDLE", e.to_string());
                    None
                }
            },
        };
        let variant_title = get(var_c).map(crate::text::clean);
        if row_errors.is_empty() {
            out.push(Parsed {
                line: row.line,
                sku,
                title,
                handle,
                description,
                published,
                variant: CleanVariant {
                    title: variant_title.unwrap_or_else(|| "Mặc định".to_string()),
                    sku: None,
                    options: vec![],
                    price: price.unwrap_or(0),
                    compare_at_price: compare,
                    stock: stock.unwrap_or(0),
                    track_inventory: true,
                },
                has_price: price.is_some(),
                has_stock: stock.is_some(),
            });
        } else {
            errors.extend(
                row_errors
                    .into_iter()
                    .map(|(column, code, message)| RowError {
                        row: row.line,
                        column,
                        code,
                        message,
                    }),
            );
        }
    }
    (out, errors)
}

/// Imports products from CSV bytes. With errors and `skip_invalid_rows` off, nothing is
/// written and the report lists every error.
pub async fn import_products(
    db: &Db,
    scope: &ShopScope,
    bytes: &[u8],
    skip_invalid_rows: bool,
) -> Result<ImportReport> {
    let table =
        csv::parse_bytes(bytes).map_err(|e| Error::user(&["csv"], e.code(), e.to_string()))?;
    if table.rows.len() > MAX_IMPORT_ROWS {
        return Err(Error::user(
            &["csv"],
            "TOO_MANY_ROWS",
            format!("At most {MAX_IMPORT_ROWS} rows per import: split the file."),
        ));
    }
    let (rows, mut errors) = check_rows(&table);
    let shop = scope.shop_id();
    let now = now_ms();
    let mut tx = db.begin().await?;
    // The first statement writes (SQLite discipline), and marks the shop as changed.
    sqlx::query("UPDATE shops SET updated_at = $1 WHERE id = $2")
        .bind(now)
        .bind(shop.as_str().to_string())
        .execute(&mut *tx)
        .await?;
    // Known SKUs, in chunks.
    let mut known: HashMap<String, (String, String, i64)> = HashMap::new();
    for chunk in rows.chunks(500) {
        let sql = format!(
            "SELECT id, product_id, sku, stock FROM variants WHERE shop_id = $1 AND sku IN ({})",
            super::placeholders(1, chunk.len())
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(shop.as_str().to_string());
        for r in chunk {
            q = q.bind(r.sku.clone());
        }
        for row in q.fetch_all(&mut *tx).await? {
            let sku: String = row.try_get("sku")?;
            known.insert(
                sku,
                (
                    row.try_get("id")?,
                    row.try_get("product_id")?,
                    row.try_get("stock")?,
                ),
            );
        }
    }
    // New SKUs need a title (to name or find their product) and a price.
    let mut good = Vec::new();
    for r in rows {
        if !known.contains_key(&r.sku) {
            let mut bad = false;
            if r.title.is_none() && r.handle.is_none() {
                errors.push(RowError {
                    row: r.line,
                    column: "title".into(),
                    code: "REQUIRED".into(),
                    message: format!("SKU {:?} is new: give the product's title.", r.sku),
                });
                bad = true;
            }
            if !r.has_price {
                errors.push(RowError {
                    row: r.line,
                    column: "price".into(),
                    code: "INVALID_PRICE".into(),
                    message: format!("SKU {:?} is new: give its price.", r.sku),
                });
                bad = true;
            }
            if bad {
                continue;
            }
        }
        good.push(r);
    }
    errors.sort_by_key(|e| e.row);
    let bad_rows: HashSet<usize> = errors.iter().map(|e| e.row).collect();
    if !errors.is_empty() && !skip_invalid_rows {
        tx.rollback().await?;
        return Ok(ImportReport {
            errors,
            ..Default::default()
        });
    }
    let mut report = ImportReport {
        skipped_rows: bad_rows.len() as i64,
        ..Default::default()
    };
    // Group new SKUs by product key (handle, else folded title).
    let mut groups: BTreeMap<String, Vec<&Parsed>> = BTreeMap::new();
    for r in &good {
        if let Some((vid, pid, old_stock)) = known.get(&r.sku) {
            update_known(&mut tx, scope, vid, pid, *old_stock, r, now).await?;
            report.updated_variants += 1;
        } else {
            let key = r
                .handle
                .clone()
                .unwrap_or_else(|| slugify(r.title.as_deref().unwrap_or("")));
            groups.entry(key).or_default().push(r);
        }
    }
    for (key, list) in groups {
        let first = list[0];
        let existing = sqlx::query("SELECT id FROM products WHERE shop_id = $1 AND handle = $2")
            .bind(shop.as_str().to_string())
            .bind(key.clone())
            .fetch_optional(&mut *tx)
            .await?;
        let (pid, mut position) = match existing {
            Some(row) => {
                let pid: String = row.try_get("id")?;
                let pos: i64 = sqlx::query(
                    "SELECT COUNT(*) AS n FROM variants WHERE shop_id = $1 AND product_id = $2",
                )
                .bind(shop.as_str().to_string())
                .bind(pid.clone())
                .fetch_one(&mut *tx)
                .await?
                .try_get("n")?;
                (pid, pos)
            }
            None => {
                let title = first.title.clone().unwrap_or_else(|| key.clone());
                let handle = free_handle_tx(
                    &mut tx,
                    shop,
                    if key.is_empty() { "san-pham" } else { &key },
                )
                .await?;
                let pid = new_id();
                let description = first.description.clone().unwrap_or_default();
                sqlx::query(
                    "INSERT INTO products (shop_id, id, handle, title, description, title_key, body_key, published, archived, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, FALSE, $9, $9)",
                )
                .bind(shop.as_str().to_string())
                .bind(pid.clone())
                .bind(handle)
                .bind(title.clone())
                .bind(description.clone())
                .bind(fold(&title))
                .bind(fold(&description))
                .bind(first.published.unwrap_or(false))
                .bind(now)
                .execute(&mut *tx)
                .await?;
                report.created_products += 1;
                (pid, 0)
            }
        };
        for r in list {
            let mut v = r.variant.clone();
            v.sku = Some(r.sku.clone());
            insert_variant(&mut tx, scope, &pid, &v, position, now).await?;
            position += 1;
            report.created_variants += 1;
        }
    }
    tx.commit().await?;
    report.errors = errors;
    Ok(report)
}

async fn update_known(
    tx: &mut crate::db::Tx,
    scope: &ShopScope,
    vid: &str,
    pid: &str,
    old_stock: i64,
    r: &Parsed,
    now: i64,
) -> Result<()> {
    let shop = scope.shop_id().as_str().to_string();
    let new_stock = if r.has_stock {
        r.variant.stock
    } else {
        old_stock
    };
    sqlx::query(
        "UPDATE variants SET price = CASE WHEN $1 THEN $2 ELSE price END, compare_at_price = $3, stock = $4, updated_at = $5 \
         WHERE shop_id = $6 AND id = $7",
    )
    .bind(r.has_price)
    .bind(r.variant.price)
    .bind(r.variant.compare_at_price)
    .bind(new_stock)
    .bind(now)
    .bind(shop.clone())
    .bind(vid.to_string())
    .execute(&mut **tx)
    .await?;
    if new_stock != old_stock {
        record_movement(
            tx,
            scope.shop_id(),
            vid,
            new_stock - old_stock,
            new_stock,
            "import",
            None,
            Some(scope.user_id()),
            None,
        )
        .await?;
    }
    if r.title.is_some() || r.description.is_some() || r.published.is_some() {
        sqlx::query(
            "UPDATE products SET title = COALESCE($1, title), title_key = COALESCE($2, title_key), description = COALESCE($3, description), \
             body_key = COALESCE($4, body_key), published = COALESCE($5, published), updated_at = $6 WHERE shop_id = $7 AND id = $8",
        )
        .bind(r.title.clone())
        .bind(r.title.as_deref().map(fold))
        .bind(r.description.clone())
        .bind(r.description.as_deref().map(fold))
        .bind(r.published)
        .bind(now)
        .bind(shop)
        .bind(pid.to_string())
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod hostile_input {
    //! The import's row checks on hostile CSV: any text, with or without the real headers,
    //! never panics, and every row comes back either parsed or with its errors.
    use proptest::prelude::*;

    use super::check_rows;
    use crate::csv;

    fn cell() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[0-9 .,\\-]{0,25}",
            "[a-zA-Z0-9đĐàáạảãơư ;,\"\\-]{0,20}",
            Just("9223372036854775807".to_string()),
            Just("-1".to_string()),
            Just("có".to_string()),
        ]
    }

    proptest! {
        #[test]
        fn prop_import_rows_never_panic(
            header in prop::sample::subsequence(
                vec!["SKU", "Tên sản phẩm", "Phân loại", "Giá bán", "Giá gốc", "Tồn kho",
                     "Mô tả", "Hiển thị", "Đường dẫn", "Khác"], 0..10),
            rows in prop::collection::vec(prop::collection::vec(cell(), 0..11), 0..8),
            delim in prop::sample::select(vec![',', ';']),
        ) {
            let headers: Vec<&str> = header.to_vec();
            let text = csv::write(&headers, &rows, delim);
            if let Ok(table) = csv::parse(&text) {
                let (ok, errors) = check_rows(&table);
                prop_assert!(ok.len() <= table.rows.len());
                for e in &errors {
                    prop_assert!(!e.code.is_empty() && !e.message.is_empty());
                }
                if !headers.contains(&"SKU") {
                    prop_assert!(ok.is_empty());
                }
            }
        }

        #[test]
        fn prop_import_any_text_never_panics(s in any::<String>()) {
            if let Ok(table) = csv::parse(&format!("SKU,Giá bán,Tồn kho,Hiển thị,Đường dẫn\n{s}")) {
                let _ = check_rows(&table);
            }
        }
    }
}
