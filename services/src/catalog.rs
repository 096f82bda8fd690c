//! The catalog: products, variants (option values, SKU, price, stock), images, stock
//! movements, manual collections, search and stable cursor pagination.
//!
//! Reads take a [`ShopId`] and a [`Visibility`]: the public sees published, unarchived
//! products of published shops and no stock counts; members see everything. Writes take a
//! checked [`ShopScope`]. Stock only changes through conditional statements that record a
//! movement in the same transaction.

pub mod import;

use std::collections::HashMap;

use sqlx::{Row, any::AnyRow};

use crate::{
    db::{Db, Tx, bool_col, placeholders},
    error::{Error, Result, UserError},
    ids::{new_id, now_ms},
    shops::check_url,
    tenancy::{ShopId, ShopScope},
    text::{Vnd, clean, fold, nfc, slugify},
};

pub const MAX_PAGE: i64 = 100;
pub const DEFAULT_PAGE: i64 = 20;
pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_DESCRIPTION_CHARS: usize = 20_000;
pub const MAX_VARIANTS: usize = 100;
pub const MAX_IMAGES: usize = 20;
pub const MAX_STOCK: i64 = 1_000_000_000;

/// Who is reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    /// Published, unarchived products only.
    Public,
    /// A member: everything, archived on request.
    Member,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Product {
    pub shop_id: ShopId,
    pub id: String,
    pub handle: String,
    pub title: String,
    pub description: String,
    pub option_names: Vec<String>,
    pub published: bool,
    pub archived: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Variant {
    pub shop_id: ShopId,
    pub id: String,
    pub product_id: String,
    pub title: String,
    pub sku: Option<String>,
    pub options: Vec<String>,
    pub price: i64,
    pub compare_at_price: Option<i64>,
    pub stock: i64,
    pub track_inventory: bool,
    pub position: i64,
    /// Hidden from customers and not for sale; kept for order history.
    pub archived: bool,
}

impl Variant {
    /// Can be bought now.
    pub fn available(&self) -> bool {
        !self.archived && (!self.track_inventory || self.stock > 0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Image {
    pub id: String,
    pub product_id: String,
    pub url: String,
    pub alt: String,
    pub position: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StockMovement {
    pub id: String,
    pub variant_id: String,
    pub delta: i64,
    pub stock_after: i64,
    pub reason: String,
    pub note: Option<String>,
    pub actor_id: Option<String>,
    pub ref_id: Option<String>,
    pub created_at: i64,
}

const PRODUCT_COLUMNS: &str = "shop_id, id, handle, title, description, option1_name, option2_name, option3_name, \
    published, archived, created_at, updated_at";
const VARIANT_COLUMNS: &str = "shop_id, id, product_id, title, sku, option1, option2, option3, price, \
    compare_at_price, stock, track_inventory, position, archived";

fn product_from_row(r: &AnyRow) -> Result<Product> {
    let option_names = ["option1_name", "option2_name", "option3_name"]
        .iter()
        .filter_map(|c| r.try_get::<Option<String>, _>(*c).ok().flatten())
        .collect();
    Ok(Product {
        shop_id: ShopId::new(r.try_get::<String, _>("shop_id")?),
        id: r.try_get("id")?,
        handle: r.try_get("handle")?,
        title: r.try_get("title")?,
        description: r.try_get("description")?,
        option_names,
        published: bool_col(r, "published")?,
        archived: bool_col(r, "archived")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn variant_from_row(r: &AnyRow) -> Result<Variant> {
    let options = ["option1", "option2", "option3"]
        .iter()
        .filter_map(|c| r.try_get::<Option<String>, _>(*c).ok().flatten())
        .collect();
    Ok(Variant {
        shop_id: ShopId::new(r.try_get::<String, _>("shop_id")?),
        id: r.try_get("id")?,
        product_id: r.try_get("product_id")?,
        title: r.try_get("title")?,
        sku: r.try_get("sku")?,
        options,
        price: r.try_get("price")?,
        compare_at_price: r.try_get("compare_at_price")?,
        stock: r.try_get("stock")?,
        track_inventory: bool_col(r, "track_inventory")?,
        position: r.try_get("position")?,
        archived: bool_col(r, "archived")?,
    })
}

// ---------------------------------------------------------------- input checks

#[derive(Debug, Clone, Default)]
pub struct VariantInput {
    pub title: Option<String>,
    pub sku: Option<String>,
    pub price: String,
    pub compare_at_price: Option<String>,
    pub stock: i64,
    pub track_inventory: Option<bool>,
    pub options: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default)]
pub struct ImageInput {
    pub url: String,
    pub alt: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct ProductInput {
    pub title: String,
    pub description: Option<String>,
    pub handle: Option<String>,
    pub published: Option<bool>,
    pub option_names: Option<Vec<String>>,
    pub variants: Vec<VariantInput>,
    pub images: Option<Vec<ImageInput>>,
}

/// A checked variant, ready to store.
#[derive(Debug, Clone)]
struct CleanVariant {
    title: String,
    sku: Option<String>,
    options: Vec<String>,
    price: i64,
    compare_at_price: Option<i64>,
    stock: i64,
    track_inventory: bool,
}

fn check_title(v: &str, field: &[&str], errors: &mut Vec<UserError>) -> String {
    let t = clean(v);
    if t.is_empty() {
        errors.push(UserError::new(field, "REQUIRED", "A title is required."));
    } else if t.chars().count() > MAX_TITLE_CHARS {
        errors.push(UserError::new(
            field,
            "TOO_LONG",
            format!("At most {MAX_TITLE_CHARS} characters."),
        ));
    }
    t
}

fn check_description(v: &str, field: &[&str], errors: &mut Vec<UserError>) -> String {
    let d = nfc(v.trim()).replace("\r\n", "\n");
    if d.chars().count() > MAX_DESCRIPTION_CHARS {
        errors.push(UserError::new(
            field,
            "TOO_LONG",
            format!("At most {MAX_DESCRIPTION_CHARS} characters."),
        ));
    }
    d
}

/// A SKU: letters, digits and `-_./`, at most 64 characters.
pub fn check_sku(v: &str, field: &[&str], errors: &mut Vec<UserError>) -> Option<String> {
    let s = v.trim();
    if s.is_empty() {
        return None;
    }
    if s.len() > 64
        || !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
    {
        errors.push(UserError::new(
            field,
            "INVALID_SKU",
            "A SKU has at most 64 letters, digits or - _ . /",
        ));
        return None;
    }
    Some(s.to_string())
}

fn check_price(v: &str, field: &[&str], errors: &mut Vec<UserError>) -> i64 {
    match Vnd::parse(v) {
        Ok(p) => p.amount(),
        Err(e) => {
            errors.push(UserError::new(field, "INVALID_PRICE", e.to_string()));
            0
        }
    }
}

fn check_stock(v: i64, field: &[&str], errors: &mut Vec<UserError>) -> i64 {
    if !(0..=MAX_STOCK).contains(&v) {
        errors.push(UserError::new(
            field,
            "INVALID_STOCK",
            "Stock is a whole number from 0.",
        ));
    }
    v
}

fn check_option_names(
    names: &[String],
    field: &[&str],
    errors: &mut Vec<UserError>,
) -> Vec<String> {
    if names.len() > 3 {
        errors.push(UserError::new(
            field,
            "TOO_MANY_OPTIONS",
            "A product has at most 3 options (e.g. size, colour).",
        ));
    }
    names
        .iter()
        .take(3)
        .map(|n| {
            let n = clean(n);
            if n.is_empty() || n.chars().count() > 50 {
                errors.push(UserError::new(
                    field,
                    "INVALID_OPTION",
                    "Option names have 1 to 50 characters.",
                ));
            }
            n
        })
        .collect()
}

fn check_variant(
    v: &VariantInput,
    option_count: usize,
    field: &[String],
    errors: &mut Vec<UserError>,
) -> CleanVariant {
    let push = |errors: &mut Vec<UserError>, name: &str, code: &str, msg: String| {
        let path = field.iter().cloned().chain([name.to_string()]).collect();
        errors.push(UserError {
            field: path,
            message: msg,
            code: code.to_string(),
        });
    };
    let mut local = Vec::new();
    let price = check_price(&v.price, &[], &mut local);
    for e in local.drain(..) {
        push(errors, "price", &e.code, e.message);
    }
    let compare_at_price = match v
        .compare_at_price
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(c) => {
            let c = check_price(c, &[], &mut local);
            for e in local.drain(..) {
                push(errors, "compareAtPrice", &e.code, e.message);
            }
            if c != 0 && c <= price {
                push(
                    errors,
                    "compareAtPrice",
                    "INVALID_PRICE",
                    "The compare-at price must be higher than the price.".into(),
                );
            }
            Some(c)
        }
        None => None,
    };
    let stock = check_stock(v.stock, &[], &mut local);
    for e in local.drain(..) {
        push(errors, "stock", &e.code, e.message);
    }
    let sku = v.sku.as_deref().and_then(|s| check_sku(s, &[], &mut local));
    for e in local.drain(..) {
        push(errors, "sku", &e.code, e.message);
    }
    let options: Vec<String> = v
        .options
        .clone()
        .unwrap_or_default()
        .iter()
        .map(|o| clean(o))
        .collect();
    if options.len() != option_count
        || options
            .iter()
            .any(|o| o.is_empty() || o.chars().count() > 100)
    {
        push(
            errors,
            "options",
            "INVALID_OPTION",
            format!(
                "Give one value (1 to 100 characters) for each of the product's {option_count} options."
            ),
        );
    }
    let title = match v.title.as_deref().map(clean).filter(|t| !t.is_empty()) {
        Some(t) if t.chars().count() > MAX_TITLE_CHARS => {
            push(
                errors,
                "title",
                "TOO_LONG",
                format!("At most {MAX_TITLE_CHARS} characters."),
            );
            t
        }
        Some(t) => t,
        None if !options.is_empty() => options.join(" / "),
        None => "Mặc định".to_string(),
    };
    CleanVariant {
        title,
        sku,
        options,
        price,
        compare_at_price,
        stock,
        track_inventory: v.track_inventory.unwrap_or(true),
    }
}

fn check_images(images: &[ImageInput], errors: &mut Vec<UserError>) -> Vec<(String, String)> {
    if images.len() > MAX_IMAGES {
        errors.push(UserError::new(
            &["input", "images"],
            "TOO_MANY_IMAGES",
            format!("At most {MAX_IMAGES} images."),
        ));
    }
    images
        .iter()
        .enumerate()
        .map(|(i, img)| {
            let idx = i.to_string();
            let url = check_url(&img.url, &["input", "images", &idx, "url"], errors);
            let alt = clean(img.alt.as_deref().unwrap_or(""));
            (url, alt.chars().take(200).collect())
        })
        .collect()
}

async fn sku_taken(
    db: &Db,
    shop: &ShopId,
    sku: &str,
    except_variant: Option<&str>,
) -> Result<bool> {
    let row = sqlx::query("SELECT id FROM variants WHERE shop_id = $1 AND sku = $2")
        .bind(shop.as_str().to_string())
        .bind(sku.to_string())
        .fetch_optional(db.read())
        .await?;
    Ok(match row {
        Some(r) => Some(r.try_get::<String, _>("id")?.as_str()) != except_variant,
        None => false,
    })
}

async fn handle_taken(db: &Db, shop: &ShopId, handle: &str, except: Option<&str>) -> Result<bool> {
    let row = sqlx::query("SELECT id FROM products WHERE shop_id = $1 AND handle = $2")
        .bind(shop.as_str().to_string())
        .bind(handle.to_string())
        .fetch_optional(db.read())
        .await?;
    Ok(match row {
        Some(r) => Some(r.try_get::<String, _>("id")?.as_str()) != except,
        None => false,
    })
}

/// A free handle made from `base` (`base`, `base-2`, …).
async fn free_handle(db: &Db, shop: &ShopId, base: &str) -> Result<String> {
    let base = if base.is_empty() {
        "san-pham".to_string()
    } else {
        base.to_string()
    };
    if !handle_taken(db, shop, &base, None).await? {
        return Ok(base);
    }
    for n in 2..10_000 {
        let h = format!(
            "{}-{n}",
            base.chars()
                .take(54)
                .collect::<String>()
                .trim_end_matches('-')
        );
        if !handle_taken(db, shop, &h, None).await? {
            return Ok(h);
        }
    }
    Ok(format!("{base}-{}", new_id().to_lowercase()))
}

/// A free handle made from `base`, looked up inside a transaction.
async fn free_handle_tx(tx: &mut Tx, shop: &ShopId, base: &str) -> Result<String> {
    let rows = sqlx::query(
        "SELECT handle FROM products WHERE shop_id = $1 AND (handle = $2 OR handle LIKE $3)",
    )
    .bind(shop.as_str().to_string())
    .bind(base.to_string())
    .bind(format!("{base}-%"))
    .fetch_all(&mut **tx)
    .await?;
    let taken: std::collections::HashSet<String> = rows
        .iter()
        .filter_map(|r| r.try_get::<String, _>("handle").ok())
        .collect();
    if !taken.contains(base) {
        return Ok(base.to_string());
    }
    let stem: String = base
        .chars()
        .take(54)
        .collect::<String>()
        .trim_end_matches('-')
        .to_string();
    Ok((2..)
        .map(|n| format!("{stem}-{n}"))
        .find(|h| !taken.contains(h))
        .unwrap_or_else(|| format!("{stem}-{}", new_id().to_lowercase())))
}

fn check_handle(v: &str, field: &[&str], errors: &mut Vec<UserError>) -> String {
    let h = v.trim().to_lowercase();
    match crate::text::Slug::parse(&h) {
        Ok(s) => s.into_string(),
        Err(e) => {
            errors.push(UserError::new(field, "INVALID_HANDLE", e.to_string()));
            h
        }
    }
}

// ---------------------------------------------------------------- writes

/// Creates a product with its variants (and their initial stock movements) in one transaction.
pub async fn create_product(db: &Db, scope: &ShopScope, input: ProductInput) -> Result<Product> {
    let shop = scope.shop_id();
    let mut errors = Vec::new();
    let title = check_title(&input.title, &["input", "title"], &mut errors);
    let description = check_description(
        input.description.as_deref().unwrap_or(""),
        &["input", "description"],
        &mut errors,
    );
    let option_names = check_option_names(
        input.option_names.as_deref().unwrap_or(&[]),
        &["input", "optionNames"],
        &mut errors,
    );
    let handle = input
        .handle
        .as_deref()
        .filter(|h| !h.trim().is_empty())
        .map(|h| check_handle(h, &["input", "handle"], &mut errors));
    if input.variants.is_empty() {
        errors.push(UserError::new(
            &["input", "variants"],
            "VARIANTS_REQUIRED",
            "A product needs at least one variant (price and stock).",
        ));
    }
    if input.variants.len() > MAX_VARIANTS {
        errors.push(UserError::new(
            &["input", "variants"],
            "TOO_MANY_VARIANTS",
            format!("At most {MAX_VARIANTS} variants."),
        ));
    }
    let variants: Vec<CleanVariant> = input
        .variants
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let field = vec!["input".to_string(), "variants".to_string(), i.to_string()];
            check_variant(v, option_names.len(), &field, &mut errors)
        })
        .collect();
    let images = check_images(input.images.as_deref().unwrap_or(&[]), &mut errors);
    check_duplicate_skus(&variants, &mut errors);
    if errors.is_empty() {
        for (i, v) in variants.iter().enumerate() {
            if let Some(sku) = &v.sku
                && sku_taken(db, shop, sku, None).await?
            {
                errors.push(UserError::new(
                    &["input", "variants", &i.to_string(), "sku"],
                    "SKU_TAKEN",
                    format!("SKU {sku:?} is already used in this shop."),
                ));
            }
        }
    }
    let handle = match handle {
        Some(h) if errors.is_empty() && handle_taken(db, shop, &h, None).await? => {
            errors.push(UserError::new(
                &["input", "handle"],
                "HANDLE_TAKEN",
                format!("Another product uses the handle {h:?}."),
            ));
            h
        }
        Some(h) => h,
        None if errors.is_empty() => free_handle(db, shop, &slugify(&title)).await?,
        None => String::new(),
    };
    if !errors.is_empty() {
        return Err(Error::Invalid(errors));
    }
    let id = new_id();
    let now = now_ms();
    let mut tx = db.begin().await?;
    let sql = format!(
        "INSERT INTO products (shop_id, id, handle, title, description, title_key, body_key, option1_name, \
         option2_name, option3_name, published, archived, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, FALSE, $12, $12) RETURNING {PRODUCT_COLUMNS}"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(shop.as_str().to_string())
        .bind(id.clone())
        .bind(handle)
        .bind(title.clone())
        .bind(description.clone())
        .bind(fold(&title))
        .bind(fold(&description))
        .bind(option_names.first().cloned())
        .bind(option_names.get(1).cloned())
        .bind(option_names.get(2).cloned())
        .bind(input.published.unwrap_or(false))
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| constraint_to_user(Error::from(e)))?;
    for (i, v) in variants.iter().enumerate() {
        insert_variant(&mut tx, scope, &id, v, i as i64, now).await?;
    }
    replace_images(&mut tx, shop, &id, &images).await?;
    tx.commit().await?;
    product_from_row(&row)
}

fn check_duplicate_skus(variants: &[CleanVariant], errors: &mut Vec<UserError>) {
    let mut seen = std::collections::HashSet::new();
    for (i, v) in variants.iter().enumerate() {
        if let Some(s) = &v.sku
            && !seen.insert(s.clone())
        {
            errors.push(UserError::new(
                &["input", "variants", &i.to_string(), "sku"],
                "SKU_TAKEN",
                format!("SKU {s:?} is given twice."),
            ));
        }
    }
}

/// Turns unique violations lost to a race into the user errors the checks would have given.
fn constraint_to_user(e: Error) -> Error {
    match e.unique_violation() {
        Some(c) if c.contains("sku") => Error::user(
            &["input", "variants"],
            "SKU_TAKEN",
            "A SKU is already used in this shop.",
        ),
        Some(c) if c.contains("handle") => Error::user(
            &["input", "handle"],
            "HANDLE_TAKEN",
            "Another product uses this handle.",
        ),
        _ => e,
    }
}

async fn insert_variant(
    tx: &mut Tx,
    scope: &ShopScope,
    product_id: &str,
    v: &CleanVariant,
    position: i64,
    now: i64,
) -> Result<String> {
    let vid = new_id();
    sqlx::query(
        "INSERT INTO variants (shop_id, id, product_id, title, sku, option1, option2, option3, price, \
         compare_at_price, stock, track_inventory, position, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14)",
    )
    .bind(scope.shop_id().as_str().to_string())
    .bind(vid.clone())
    .bind(product_id.to_string())
    .bind(v.title.clone())
    .bind(v.sku.clone())
    .bind(v.options.first().cloned())
    .bind(v.options.get(1).cloned())
    .bind(v.options.get(2).cloned())
    .bind(v.price)
    .bind(v.compare_at_price)
    .bind(v.stock)
    .bind(v.track_inventory)
    .bind(position)
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(|e| constraint_to_user(Error::from(e)))?;
    if v.stock != 0 {
        record_movement(
            tx,
            scope.shop_id(),
            &vid,
            v.stock,
            v.stock,
            "initial",
            None,
            Some(scope.user_id()),
            None,
        )
        .await?;
    }
    Ok(vid)
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn record_movement(
    tx: &mut Tx,
    shop: &ShopId,
    variant_id: &str,
    delta: i64,
    stock_after: i64,
    reason: &str,
    note: Option<String>,
    actor: Option<&str>,
    ref_id: Option<&str>,
) -> Result<()> {
    let mut b = crate::sql_batch::Batch::new();
    movement_in(
        &mut b,
        shop,
        variant_id,
        delta,
        stock_after,
        reason,
        note,
        actor,
        ref_id,
    );
    b.run(tx).await?;
    Ok(())
}

/// [`record_movement`] as a statement of a batch.
#[allow(clippy::too_many_arguments)]
pub(crate) fn movement_in(
    b: &mut crate::sql_batch::Batch,
    shop: &ShopId,
    variant_id: &str,
    delta: i64,
    stock_after: i64,
    reason: &str,
    note: Option<String>,
    actor: Option<&str>,
    ref_id: Option<&str>,
) {
    movements_in(
        b,
        shop,
        &[(variant_id, delta, stock_after)],
        reason,
        note,
        actor,
        ref_id,
    );
}

/// Stock movements of several variants (variant, delta, stock after) for the same reason, as
/// one statement of a batch (an order's lines).
pub(crate) fn movements_in(
    b: &mut crate::sql_batch::Batch,
    shop: &ShopId,
    moves: &[(&str, i64, i64)],
    reason: &str,
    note: Option<String>,
    actor: Option<&str>,
    ref_id: Option<&str>,
) {
    let now = now_ms();
    b.push_values(
        "INSERT INTO stock_movements (shop_id, id, variant_id, delta, stock_after, reason, note, actor_id, ref_id, created_at)",
        "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        moves
            .iter()
            .map(|(variant_id, delta, after)| {
                crate::args![
                    shop.as_str(),
                    new_id(),
                    *variant_id,
                    *delta,
                    *after,
                    reason,
                    note.clone(),
                    actor,
                    ref_id,
                    now
                ]
            })
            .collect(),
    );
}

async fn replace_images(
    tx: &mut Tx,
    shop: &ShopId,
    product_id: &str,
    images: &[(String, String)],
) -> Result<()> {
    sqlx::query("DELETE FROM product_images WHERE shop_id = $1 AND product_id = $2")
        .bind(shop.as_str().to_string())
        .bind(product_id.to_string())
        .execute(&mut **tx)
        .await?;
    for (i, (url, alt)) in images.iter().enumerate() {
        sqlx::query("INSERT INTO product_images (shop_id, id, product_id, url, alt, position) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(shop.as_str().to_string())
            .bind(new_id())
            .bind(product_id.to_string())
            .bind(url.clone())
            .bind(alt.clone())
            .bind(i as i64)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

#[derive(Debug, Clone, Default)]
pub struct ProductUpdate {
    pub title: Option<String>,
    pub description: Option<String>,
    pub handle: Option<String>,
    pub published: Option<bool>,
    pub option_names: Option<Vec<String>>,
    pub images: Option<Vec<ImageInput>>,
}

/// Updates a product's own fields (variants have their own mutations).
pub async fn update_product(
    db: &Db,
    scope: &ShopScope,
    product_id: &str,
    upd: ProductUpdate,
) -> Result<Product> {
    let shop = scope.shop_id();
    let mut p = product(db, shop, product_id, Visibility::Member)
        .await?
        .ok_or(Error::NotFound("product"))?;
    let mut errors = Vec::new();
    if let Some(t) = &upd.title {
        p.title = check_title(t, &["input", "title"], &mut errors);
    }
    if let Some(d) = &upd.description {
        p.description = check_description(d, &["input", "description"], &mut errors);
    }
    if let Some(h) = &upd.handle {
        let h = check_handle(h, &["input", "handle"], &mut errors);
        if errors.is_empty() && handle_taken(db, shop, &h, Some(product_id)).await? {
            errors.push(UserError::new(
                &["input", "handle"],
                "HANDLE_TAKEN",
                format!("Another product uses the handle {h:?}."),
            ));
        }
        p.handle = h;
    }
    if let Some(names) = &upd.option_names {
        let names = check_option_names(names, &["input", "optionNames"], &mut errors);
        if names.len() != p.option_names.len() {
            errors.push(UserError::new(
                &["input", "optionNames"],
                "INVALID_OPTION",
                "Options can be renamed here, not added or removed: the variants carry one value per option.",
            ));
        }
        p.option_names = names;
    }
    if let Some(pubd) = upd.published {
        p.published = pubd;
    }
    let images = upd
        .images
        .as_ref()
        .map(|imgs| check_images(imgs, &mut errors));
    if !errors.is_empty() {
        return Err(Error::Invalid(errors));
    }
    let mut tx = db.begin().await?;
    sqlx::query(
        "UPDATE products SET title = $1, description = $2, handle = $3, title_key = $4, body_key = $5, \
         option1_name = $6, option2_name = $7, option3_name = $8, published = $9, updated_at = $10 \
         WHERE shop_id = $11 AND id = $12",
    )
    .bind(p.title.clone())
    .bind(p.description.clone())
    .bind(p.handle.clone())
    .bind(fold(&p.title))
    .bind(fold(&p.description))
    .bind(p.option_names.first().cloned())
    .bind(p.option_names.get(1).cloned())
    .bind(p.option_names.get(2).cloned())
    .bind(p.published)
    .bind(now_ms())
    .bind(shop.as_str().to_string())
    .bind(product_id.to_string())
    .execute(&mut *tx)
    .await
    .map_err(|e| constraint_to_user(Error::from(e)))?;
    if let Some(images) = images {
        replace_images(&mut tx, shop, product_id, &images).await?;
    }
    tx.commit().await?;
    product(db, shop, product_id, Visibility::Member)
        .await?
        .ok_or(Error::NotFound("product"))
}

/// Archives (hides everywhere, keeps for order history) or restores a product.
pub async fn set_archived(
    db: &Db,
    scope: &ShopScope,
    product_id: &str,
    archived: bool,
) -> Result<Product> {
    let n = sqlx::query(
        "UPDATE products SET archived = $1, updated_at = $2 WHERE shop_id = $3 AND id = $4",
    )
    .bind(archived)
    .bind(now_ms())
    .bind(scope.shop_id().as_str().to_string())
    .bind(product_id.to_string())
    .execute(db.write())
    .await?
    .rows_affected();
    if n == 0 {
        return Err(Error::NotFound("product"));
    }
    product(db, scope.shop_id(), product_id, Visibility::Member)
        .await?
        .ok_or(Error::NotFound("product"))
}

/// What `delete_product` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deleted {
    Deleted,
    /// Orders reference the product: it was archived instead.
    Archived,
}

/// Deletes a product with its variants, images, stock history and collection places; a
/// product that orders reference is archived instead, so order history stays whole.
pub async fn delete_product(db: &Db, scope: &ShopScope, product_id: &str) -> Result<Deleted> {
    let shop = scope.shop_id();
    if product(db, shop, product_id, Visibility::Member)
        .await?
        .is_none()
    {
        return Err(Error::NotFound("product"));
    }
    if crate::orders::product_has_orders(db, shop, product_id).await? {
        set_archived(db, scope, product_id, true).await?;
        return Ok(Deleted::Archived);
    }
    let s = shop.as_str().to_string();
    let p = product_id.to_string();
    let mut tx = db.begin().await?;
    sqlx::query("DELETE FROM collection_products WHERE shop_id = $1 AND product_id = $2")
        .bind(s.clone())
        .bind(p.clone())
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM stock_movements WHERE shop_id = $1 AND variant_id IN (SELECT id FROM variants WHERE shop_id = $1 AND product_id = $2)")
        .bind(s.clone())
        .bind(p.clone())
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM variants WHERE shop_id = $1 AND product_id = $2")
        .bind(s.clone())
        .bind(p.clone())
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM product_images WHERE shop_id = $1 AND product_id = $2")
        .bind(s.clone())
        .bind(p.clone())
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM products WHERE shop_id = $1 AND id = $2")
        .bind(s)
        .bind(p)
        .execute(&mut *tx)
        .await?;
    // (An order placed meanwhile on PostgreSQL makes the variant delete fail on its foreign
    // key: the whole delete is refused rather than breaking the order.)
    tx.commit().await?;
    Ok(Deleted::Deleted)
}

/// Adds a variant to a product.
pub async fn add_variant(
    db: &Db,
    scope: &ShopScope,
    product_id: &str,
    input: VariantInput,
) -> Result<Variant> {
    let shop = scope.shop_id();
    let p = product(db, shop, product_id, Visibility::Member)
        .await?
        .ok_or(Error::NotFound("product"))?;
    let existing = variants_for(db, shop, &[product_id.to_string()])
        .await?
        .remove(product_id)
        .unwrap_or_default();
    let mut errors = Vec::new();
    if existing.len() >= MAX_VARIANTS {
        errors.push(UserError::new(
            &["input"],
            "TOO_MANY_VARIANTS",
            format!("At most {MAX_VARIANTS} variants."),
        ));
    }
    let v = check_variant(
        &input,
        p.option_names.len(),
        &["input".to_string()],
        &mut errors,
    );
    if let Some(sku) = &v.sku
        && errors.is_empty()
        && sku_taken(db, shop, sku, None).await?
    {
        errors.push(UserError::new(
            &["input", "sku"],
            "SKU_TAKEN",
            format!("SKU {sku:?} is already used in this shop."),
        ));
    }
    if !errors.is_empty() {
        return Err(Error::Invalid(errors));
    }
    let position = existing.iter().map(|v| v.position + 1).max().unwrap_or(0);
    let mut tx = db.begin().await?;
    let vid = insert_variant(&mut tx, scope, product_id, &v, position, now_ms()).await?;
    tx.commit().await?;
    variant(db, shop, &vid)
        .await?
        .ok_or(Error::NotFound("variant"))
}

#[derive(Debug, Clone, Default)]
pub struct VariantUpdate {
    pub title: Option<String>,
    pub sku: Option<String>,
    pub price: Option<String>,
    pub compare_at_price: Option<String>,
    pub track_inventory: Option<bool>,
    pub options: Option<Vec<String>>,
}

/// Updates a variant (stock changes go through [`adjust_stock`]).
pub async fn update_variant(
    db: &Db,
    scope: &ShopScope,
    variant_id: &str,
    upd: VariantUpdate,
) -> Result<Variant> {
    let shop = scope.shop_id();
    let mut v = variant(db, shop, variant_id)
        .await?
        .ok_or(Error::NotFound("variant"))?;
    let p = product(db, shop, &v.product_id, Visibility::Member)
        .await?
        .ok_or(Error::NotFound("product"))?;
    let mut errors = Vec::new();
    if let Some(t) = &upd.title {
        v.title = check_title(t, &["input", "title"], &mut errors);
    }
    if let Some(s) = &upd.sku {
        v.sku = check_sku(s, &["input", "sku"], &mut errors);
        if let Some(sku) = &v.sku
            && errors.is_empty()
            && sku_taken(db, shop, sku, Some(variant_id)).await?
        {
            errors.push(UserError::new(
                &["input", "sku"],
                "SKU_TAKEN",
                format!("SKU {sku:?} is already used in this shop."),
            ));
        }
    }
    if let Some(pr) = &upd.price {
        v.price = check_price(pr, &["input", "price"], &mut errors);
    }
    if let Some(c) = &upd.compare_at_price {
        v.compare_at_price = if c.trim().is_empty() {
            None
        } else {
            Some(check_price(c, &["input", "compareAtPrice"], &mut errors))
        };
    }
    if let Some(c) = v.compare_at_price
        && c <= v.price
        && errors.is_empty()
    {
        errors.push(UserError::new(
            &["input", "compareAtPrice"],
            "INVALID_PRICE",
            "The compare-at price must be higher than the price.",
        ));
    }
    if let Some(t) = upd.track_inventory {
        v.track_inventory = t;
    }
    if let Some(opts) = &upd.options {
        let opts: Vec<String> = opts.iter().map(|o| clean(o)).collect();
        if opts.len() != p.option_names.len()
            || opts.iter().any(|o| o.is_empty() || o.chars().count() > 100)
        {
            errors.push(UserError::new(
                &["input", "options"],
                "INVALID_OPTION",
                "Give one value for each of the product's options.",
            ));
        }
        v.options = opts;
    }
    if !errors.is_empty() {
        return Err(Error::Invalid(errors));
    }
    sqlx::query(
        "UPDATE variants SET title = $1, sku = $2, price = $3, compare_at_price = $4, track_inventory = $5, \
         option1 = $6, option2 = $7, option3 = $8, updated_at = $9 WHERE shop_id = $10 AND id = $11",
    )
    .bind(v.title.clone())
    .bind(v.sku.clone())
    .bind(v.price)
    .bind(v.compare_at_price)
    .bind(v.track_inventory)
    .bind(v.options.first().cloned())
    .bind(v.options.get(1).cloned())
    .bind(v.options.get(2).cloned())
    .bind(now_ms())
    .bind(shop.as_str().to_string())
    .bind(variant_id.to_string())
    .execute(db.write())
    .await
    .map_err(|e| constraint_to_user(Error::from(e)))?;
    variant(db, shop, variant_id)
        .await?
        .ok_or(Error::NotFound("variant"))
}

/// Archives a variant (hidden, not for sale, kept for order history) or restores it. A product
/// keeps at least one variant for sale.
pub async fn set_variant_archived(
    db: &Db,
    scope: &ShopScope,
    variant_id: &str,
    archived: bool,
) -> Result<Variant> {
    let shop = scope.shop_id();
    let v = variant(db, shop, variant_id)
        .await?
        .ok_or(Error::NotFound("variant"))?;
    if archived && !v.archived {
        let live = variants_for(db, shop, std::slice::from_ref(&v.product_id))
            .await?
            .remove(&v.product_id)
            .unwrap_or_default()
            .iter()
            .filter(|x| !x.archived)
            .count();
        if live <= 1 {
            return Err(Error::user(
                &["variantId"],
                "LAST_VARIANT",
                "A product keeps at least one variant: archive the product instead.",
            ));
        }
    }
    sqlx::query(
        "UPDATE variants SET archived = $1, updated_at = $2 WHERE shop_id = $3 AND id = $4",
    )
    .bind(archived)
    .bind(now_ms())
    .bind(shop.as_str().to_string())
    .bind(variant_id.to_string())
    .execute(db.write())
    .await?;
    variant(db, shop, variant_id)
        .await?
        .ok_or(Error::NotFound("variant"))
}

/// Changes stock by `delta` with one conditional statement (never below zero) and records
/// the movement in the same transaction.
pub async fn adjust_stock(
    db: &Db,
    scope: &ShopScope,
    variant_id: &str,
    delta: i64,
    reason: &str,
    note: Option<String>,
) -> Result<Variant> {
    let shop = scope.shop_id();
    let reason = clean(reason);
    if !(1..=40).contains(&reason.chars().count()) {
        return Err(Error::user(
            &["reason"],
            "INVALID_REASON",
            "Say why the stock changes (1 to 40 characters), e.g. restock, damaged, count.",
        ));
    }
    if delta == 0 || delta.abs() > MAX_STOCK {
        return Err(Error::user(
            &["delta"],
            "INVALID_STOCK",
            "The change is a non-zero whole number.",
        ));
    }
    let note = note
        .map(|n| clean(&n))
        .filter(|n| !n.is_empty())
        .map(|n| n.chars().take(500).collect());
    let mut tx = db.begin().await?;
    let row = sqlx::query(
        "UPDATE variants SET stock = stock + $1, updated_at = $2 WHERE shop_id = $3 AND id = $4 AND stock + $1 >= 0 \
         AND stock + $1 <= $5 RETURNING stock",
    )
    .bind(delta)
    .bind(now_ms())
    .bind(shop.as_str().to_string())
    .bind(variant_id.to_string())
    .bind(MAX_STOCK)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        drop(tx);
        let v = variant(db, shop, variant_id)
            .await?
            .ok_or(Error::NotFound("variant"))?;
        return Err(Error::user(
            &["delta"],
            "INSUFFICIENT_STOCK",
            format!("Stock is {}: it cannot go below zero.", v.stock),
        ));
    };
    let after: i64 = row.try_get("stock")?;
    record_movement(
        &mut tx,
        shop,
        variant_id,
        delta,
        after,
        &reason,
        note,
        Some(scope.user_id()),
        None,
    )
    .await?;
    tx.commit().await?;
    variant(db, shop, variant_id)
        .await?
        .ok_or(Error::NotFound("variant"))
}

/// A variant's movements, newest first: a range of the movements' primary key
/// (shop, variant, id).
const VARIANT_MOVEMENTS: &str = "SELECT id, variant_id, delta, stock_after, reason, note, actor_id, ref_id, created_at \
     FROM stock_movements WHERE shop_id = $1 AND variant_id = $2 ORDER BY id DESC LIMIT $3";

/// The latest stock movements of a variant, newest first.
pub async fn stock_movements(
    db: &Db,
    scope: &ShopScope,
    variant_id: &str,
    limit: i64,
) -> Result<Vec<StockMovement>> {
    let rows = sqlx::query(VARIANT_MOVEMENTS)
        .bind(scope.shop_id().as_str().to_string())
        .bind(variant_id.to_string())
        .bind(limit.clamp(1, 500))
        .fetch_all(db.read())
        .await?;
    rows.iter()
        .map(|r| {
            Ok(StockMovement {
                id: r.try_get("id")?,
                variant_id: r.try_get("variant_id")?,
                delta: r.try_get("delta")?,
                stock_after: r.try_get("stock_after")?,
                reason: r.try_get("reason")?,
                note: r.try_get("note")?,
                actor_id: r.try_get("actor_id")?,
                ref_id: r.try_get("ref_id")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .collect()
}

// ---------------------------------------------------------------- reads

fn visible_clause(vis: Visibility) -> &'static str {
    match vis {
        Visibility::Public => " AND published = TRUE AND archived = FALSE",
        Visibility::Member => "",
    }
}

/// A product by id.
pub async fn product(db: &Db, shop: &ShopId, id: &str, vis: Visibility) -> Result<Option<Product>> {
    let sql = format!(
        "SELECT {PRODUCT_COLUMNS} FROM products WHERE shop_id = $1 AND id = $2{}",
        visible_clause(vis)
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(shop.as_str().to_string())
        .bind(id.to_string())
        .fetch_optional(db.read())
        .await?;
    row.as_ref().map(product_from_row).transpose()
}

/// A product by handle.
pub async fn product_by_handle(
    db: &Db,
    shop: &ShopId,
    handle: &str,
    vis: Visibility,
) -> Result<Option<Product>> {
    let sql = format!(
        "SELECT {PRODUCT_COLUMNS} FROM products WHERE shop_id = $1 AND handle = $2{}",
        visible_clause(vis)
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(shop.as_str().to_string())
        .bind(handle.trim().to_lowercase())
        .fetch_optional(db.read())
        .await?;
    row.as_ref().map(product_from_row).transpose()
}

/// A variant by id.
pub async fn variant(db: &Db, shop: &ShopId, id: &str) -> Result<Option<Variant>> {
    let sql = format!("SELECT {VARIANT_COLUMNS} FROM variants WHERE shop_id = $1 AND id = $2");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(shop.as_str().to_string())
        .bind(id.to_string())
        .fetch_optional(db.read())
        .await?;
    row.as_ref().map(variant_from_row).transpose()
}

/// One shop's rows whose `column` is one of `keys`, in one statement: `select` is the
/// statement up to `WHERE`, `rest` what follows the key list (filters, order). Nothing when
/// `keys` is empty.
async fn rows_in(
    db: &Db,
    select: &str,
    shop: &ShopId,
    column: &str,
    keys: &[String],
    rest: &str,
) -> Result<Vec<AnyRow>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    // `t.column` (a join) takes the shop from the same table.
    let shop_column = match column.split_once('.') {
        Some((table, _)) => format!("{table}.shop_id"),
        None => "shop_id".to_string(),
    };
    let sql = format!(
        "{select} WHERE {shop_column} = $1 AND {column} IN ({}){rest}",
        placeholders(1, keys.len())
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(shop.as_str().to_string());
    for k in keys {
        q = q.bind(k.clone());
    }
    Ok(q.fetch_all(db.read()).await?)
}

/// Variants by id, in one statement (ids of other shops find nothing).
pub async fn variants_by_ids(
    db: &Db,
    shop: &ShopId,
    ids: &[String],
) -> Result<HashMap<String, Variant>> {
    let select = format!("SELECT {VARIANT_COLUMNS} FROM variants");
    let rows = rows_in(db, &select, shop, "id", ids, "").await?;
    rows.iter()
        .map(|r| variant_from_row(r).map(|v| (v.id.clone(), v)))
        .collect()
}

/// A variant and, when its product is on sale (published, not archived), that product's
/// title and handle: what an order needs to price and describe a line, and what a cart shows.
#[derive(Debug, Clone)]
pub struct ForSale {
    pub variant: Variant,
    /// The product's title, when the product is on sale (published, not archived).
    pub product_title: Option<String>,
    /// The product's handle, when the product is on sale.
    pub product_handle: Option<String>,
}

/// [`for_sale`]'s statement up to `WHERE`: the variant's columns (as `v.`) and, when its
/// product is on sale, the product's title and handle.
static FOR_SALE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let columns = VARIANT_COLUMNS
        .split(',')
        .map(|c| format!("v.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "SELECT {columns}, CASE WHEN p.published = TRUE AND p.archived = FALSE THEN p.title END AS product_title, \
         CASE WHEN p.published = TRUE AND p.archived = FALSE THEN p.handle END AS product_handle \
         FROM variants v JOIN products p ON p.shop_id = v.shop_id AND p.id = v.product_id"
    )
});

/// Variants by id with their products' titles, in one statement (one read where an order
/// took two; the product's description, which an order never shows, is not read).
pub async fn for_sale(db: &Db, shop: &ShopId, ids: &[String]) -> Result<HashMap<String, ForSale>> {
    let rows = rows_in(db, &FOR_SALE, shop, "v.id", ids, "").await?;
    rows.iter()
        .map(|r| {
            let variant = variant_from_row(r)?;
            let product_title = r.try_get("product_title")?;
            let product_handle = r.try_get("product_handle")?;
            Ok((
                variant.id.clone(),
                ForSale {
                    variant,
                    product_title,
                    product_handle,
                },
            ))
        })
        .collect()
}

/// The variants of several products, in one statement (data loaders).
pub async fn variants_for(
    db: &Db,
    shop: &ShopId,
    product_ids: &[String],
) -> Result<HashMap<String, Vec<Variant>>> {
    let select = format!("SELECT {VARIANT_COLUMNS} FROM variants");
    let order = " ORDER BY product_id, position, id";
    let mut out: HashMap<String, Vec<Variant>> = HashMap::new();
    for r in rows_in(db, &select, shop, "product_id", product_ids, order).await? {
        let v = variant_from_row(&r)?;
        out.entry(v.product_id.clone()).or_default().push(v);
    }
    Ok(out)
}

/// The images of several products, in one statement (data loaders).
pub async fn images_for(
    db: &Db,
    shop: &ShopId,
    product_ids: &[String],
) -> Result<HashMap<String, Vec<Image>>> {
    let select = "SELECT id, product_id, url, alt, position FROM product_images";
    let order = " ORDER BY product_id, position";
    let mut out: HashMap<String, Vec<Image>> = HashMap::new();
    for r in rows_in(db, select, shop, "product_id", product_ids, order).await? {
        let img = Image {
            id: r.try_get("id")?,
            product_id: r.try_get("product_id")?,
            url: r.try_get("url")?,
            alt: r.try_get("alt")?,
            position: r.try_get("position")?,
        };
        out.entry(img.product_id.clone()).or_default().push(img);
    }
    Ok(out)
}

/// A page of a list, with the cursor of each item.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<(T, String)>,
    pub has_next_page: bool,
}

#[derive(Debug, Clone, Default)]
pub struct ProductQuery {
    pub first: Option<i64>,
    pub after: Option<String>,
    /// Free text: folded, every word must match the title or the description.
    pub query: Option<String>,
    pub include_archived: bool,
}

/// Checks a page size.
pub fn page_size(first: Option<i64>) -> Result<i64> {
    match first {
        None => Ok(DEFAULT_PAGE),
        Some(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
        Some(_) => Err(Error::user(
            &["first"],
            "INVALID_PAGE_SIZE",
            format!("first must be between 1 and {MAX_PAGE}."),
        )),
    }
}

/// Lists products newest first, or by relevance when searching. Cursors are stable when
/// products are added between pages (they are keyed by (rank, id), ids grow with time).
pub async fn list_products(
    db: &Db,
    shop: &ShopId,
    vis: Visibility,
    q: &ProductQuery,
) -> Result<Page<Product>> {
    let first = page_size(q.first)?;
    let folded = q.query.as_deref().map(fold).unwrap_or_default();
    let terms: Vec<String> = folded
        .split(' ')
        .filter(|t| !t.is_empty())
        .take(8)
        .map(str::to_string)
        .collect();
    let mut sql = format!("SELECT {PRODUCT_COLUMNS}, ");
    let mut params: Vec<String> = vec![shop.as_str().to_string()];
    let mut where_ = String::from("shop_id = $1");
    where_.push_str(visible_clause(vis));
    if vis == Visibility::Member && !q.include_archived {
        where_.push_str(" AND archived = FALSE");
    }
    let rank_expr = if terms.is_empty() {
        "0".to_string()
    } else {
        // Rank 0: the whole phrase in the title; 1: every word in the title; 2: elsewhere.
        params.push(format!("%{folded}%"));
        let phrase = params.len();
        let mut title_all = Vec::new();
        for t in &terms {
            params.push(format!("%{t}%"));
            let n = params.len();
            title_all.push(format!("title_key LIKE ${n}"));
            where_.push_str(&format!(" AND (title_key LIKE ${n} OR body_key LIKE ${n})"));
        }
        format!(
            "CASE WHEN title_key LIKE ${phrase} THEN 0 WHEN {} THEN 1 ELSE 2 END",
            title_all.join(" AND ")
        )
    };
    sql.push_str(&rank_expr);
    sql.push_str(" AS rank FROM products WHERE ");
    sql.push_str(&where_);
    if let Some(after) = q.after.as_deref().filter(|a| !a.is_empty()) {
        let (rank, id) = parse_cursor(after)?;
        params.push(id);
        let n = params.len();
        sql.push_str(&format!(
            " AND (({rank_expr}) > {rank} OR (({rank_expr}) = {rank} AND id < ${n}))"
        ));
    }
    sql.push_str(&format!(" ORDER BY rank, id DESC LIMIT {}", first + 1));
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for p in params {
        query = query.bind(p);
    }
    let rows = query.fetch_all(db.read()).await?;
    let has_next_page = rows.len() as i64 > first;
    let items = rows
        .iter()
        .take(first as usize)
        .map(|r| {
            let p = product_from_row(r)?;
            let rank: i64 = r.try_get("rank")?;
            let cursor = format!("{rank}.{}", p.id);
            Ok((p, cursor))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Page {
        items,
        has_next_page,
    })
}

fn parse_cursor(c: &str) -> Result<(i64, String)> {
    let bad = || {
        Error::user(
            &["after"],
            "INVALID_CURSOR",
            "This cursor is not one this list gave out.",
        )
    };
    let (rank, id) = c.split_once('.').ok_or_else(bad)?;
    let rank: i64 = rank.parse().map_err(|_| bad())?;
    if !(0..=2).contains(&rank) || id.len() != 26 || !id.chars().all(|c| c.is_ascii_alphanumeric())
    {
        return Err(bad());
    }
    Ok((rank, id.to_string()))
}

// ---------------------------------------------------------------- collections

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Collection {
    pub id: String,
    pub handle: String,
    pub title: String,
    pub description: String,
    pub featured: bool,
    pub position: i64,
}

fn collection_from_row(r: &AnyRow) -> Result<Collection> {
    Ok(Collection {
        id: r.try_get("id")?,
        handle: r.try_get("handle")?,
        title: r.try_get("title")?,
        description: r.try_get("description")?,
        featured: bool_col(r, "featured")?,
        position: r.try_get("position")?,
    })
}

#[derive(Debug, Clone, Default)]
pub struct CollectionInput {
    pub title: Option<String>,
    pub handle: Option<String>,
    pub description: Option<String>,
    pub featured: Option<bool>,
    /// The products, in display order (replaces the list when given).
    pub product_ids: Option<Vec<String>>,
}

/// The shop's collections in menu order.
pub async fn collections(db: &Db, shop: &ShopId) -> Result<Vec<Collection>> {
    let rows = sqlx::query(
        "SELECT id, handle, title, description, featured, position FROM collections WHERE shop_id = $1 ORDER BY position, id",
    )
    .bind(shop.as_str().to_string())
    .fetch_all(db.read())
    .await?;
    rows.iter().map(collection_from_row).collect()
}

pub async fn collection_by_handle(
    db: &Db,
    shop: &ShopId,
    handle: &str,
) -> Result<Option<Collection>> {
    let row = sqlx::query(
        "SELECT id, handle, title, description, featured, position FROM collections WHERE shop_id = $1 AND handle = $2",
    )
    .bind(shop.as_str().to_string())
    .bind(handle.trim().to_lowercase())
    .fetch_optional(db.read())
    .await?;
    row.as_ref().map(collection_from_row).transpose()
}

async fn collection_by_id(db: &Db, shop: &ShopId, id: &str) -> Result<Option<Collection>> {
    let row = sqlx::query(
        "SELECT id, handle, title, description, featured, position FROM collections WHERE shop_id = $1 AND id = $2",
    )
    .bind(shop.as_str().to_string())
    .bind(id.to_string())
    .fetch_optional(db.read())
    .await?;
    row.as_ref().map(collection_from_row).transpose()
}

/// The products of a collection, in its order.
pub async fn collection_products(
    db: &Db,
    shop: &ShopId,
    collection_id: &str,
    vis: Visibility,
) -> Result<Vec<Product>> {
    let cols: String = PRODUCT_COLUMNS
        .split(", ")
        .map(|c| format!("p.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let extra = match vis {
        Visibility::Public => " AND p.published = TRUE AND p.archived = FALSE",
        Visibility::Member => "",
    };
    let sql = format!(
        "SELECT {cols} FROM collection_products cp JOIN products p ON p.shop_id = cp.shop_id AND p.id = cp.product_id \
         WHERE cp.shop_id = $1 AND cp.collection_id = $2{extra} ORDER BY cp.position"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(shop.as_str().to_string())
        .bind(collection_id.to_string())
        .fetch_all(db.read())
        .await?;
    rows.iter().map(product_from_row).collect()
}

/// Creates a collection (title required) or updates one (`id` given).
pub async fn save_collection(
    db: &Db,
    scope: &ShopScope,
    id: Option<&str>,
    input: CollectionInput,
) -> Result<Collection> {
    let shop = scope.shop_id();
    let existing = match id {
        Some(id) => Some(
            collection_by_id(db, shop, id)
                .await?
                .ok_or(Error::NotFound("collection"))?,
        ),
        None => None,
    };
    let mut errors = Vec::new();
    let title = match (&input.title, &existing) {
        (Some(t), _) => check_title(t, &["input", "title"], &mut errors),
        (None, Some(c)) => c.title.clone(),
        (None, None) => check_title("", &["input", "title"], &mut errors),
    };
    let description = match (&input.description, &existing) {
        (Some(d), _) => check_description(d, &["input", "description"], &mut errors),
        (None, Some(c)) => c.description.clone(),
        (None, None) => String::new(),
    };
    let handle = match (&input.handle, &existing) {
        (Some(h), _) => check_handle(h, &["input", "handle"], &mut errors),
        (None, Some(c)) => c.handle.clone(),
        (None, None) => {
            let h = slugify(&title);
            if h.is_empty() {
                "bo-suu-tap".to_string()
            } else {
                h
            }
        }
    };
    if errors.is_empty()
        && let Some(other) = collection_by_handle(db, shop, &handle).await?
        && Some(other.id.as_str()) != id
    {
        errors.push(UserError::new(
            &["input", "handle"],
            "HANDLE_TAKEN",
            format!("Another collection uses the handle {handle:?}."),
        ));
    }
    let product_ids = input.product_ids.clone();
    if let Some(ids) = &product_ids {
        if ids.len() > 500 {
            errors.push(UserError::new(
                &["input", "productIds"],
                "TOO_MANY_PRODUCTS",
                "At most 500 products in a collection.",
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for (i, pid) in ids.iter().enumerate() {
            if !seen.insert(pid) {
                errors.push(UserError::new(
                    &["input", "productIds", &i.to_string()],
                    "DUPLICATE_PRODUCT",
                    "A product is listed twice.",
                ));
            } else if product(db, shop, pid, Visibility::Member).await?.is_none() {
                errors.push(UserError::new(
                    &["input", "productIds", &i.to_string()],
                    "PRODUCT_NOT_FOUND",
                    "No such product in this shop.",
                ));
            }
        }
    }
    if !errors.is_empty() {
        return Err(Error::Invalid(errors));
    }
    let featured = input
        .featured
        .or(existing.as_ref().map(|c| c.featured))
        .unwrap_or(false);
    let cid = id.map(str::to_string).unwrap_or_else(new_id);
    let mut tx = db.begin().await?;
    if existing.is_some() {
        sqlx::query("UPDATE collections SET title = $1, handle = $2, description = $3, featured = $4 WHERE shop_id = $5 AND id = $6")
            .bind(title)
            .bind(handle)
            .bind(description)
            .bind(featured)
            .bind(shop.as_str().to_string())
            .bind(cid.clone())
            .execute(&mut *tx)
            .await?;
    } else {
        sqlx::query(
            "INSERT INTO collections (shop_id, id, handle, title, description, featured, position, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, (SELECT COUNT(*) FROM collections WHERE shop_id = $1), $7)",
        )
        .bind(shop.as_str().to_string())
        .bind(cid.clone())
        .bind(handle)
        .bind(title)
        .bind(description)
        .bind(featured)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
    }
    if let Some(ids) = product_ids {
        sqlx::query("DELETE FROM collection_products WHERE shop_id = $1 AND collection_id = $2")
            .bind(shop.as_str().to_string())
            .bind(cid.clone())
            .execute(&mut *tx)
            .await?;
        for (i, pid) in ids.iter().enumerate() {
            sqlx::query("INSERT INTO collection_products (shop_id, collection_id, product_id, position) VALUES ($1, $2, $3, $4)")
                .bind(shop.as_str().to_string())
                .bind(cid.clone())
                .bind(pid.clone())
                .bind(i as i64)
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await?;
    collection_by_id(db, shop, &cid)
        .await?
        .ok_or(Error::NotFound("collection"))
}

/// Deletes a collection (products stay).
pub async fn delete_collection(db: &Db, scope: &ShopScope, id: &str) -> Result<()> {
    let shop = scope.shop_id().as_str().to_string();
    let mut tx = db.begin().await?;
    sqlx::query("DELETE FROM collection_products WHERE shop_id = $1 AND collection_id = $2")
        .bind(shop.clone())
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?;
    let n = sqlx::query("DELETE FROM collections WHERE shop_id = $1 AND id = $2")
        .bind(shop)
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if n == 0 {
        return Err(Error::NotFound("collection"));
    }
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A movement's columns in the table's order: shop, id, variant, delta, stock after, reason,
    /// note, actor, reference, time.
    type Movement<S> = (S, S, S, i64, i64, S, Option<S>, Option<S>, Option<S>, i64);

    /// The movements' B-trees on SQLite (the table, and each index with a page of its own).
    async fn movement_btrees(db: &Db) -> Vec<String> {
        sqlx::query(
            "SELECT name FROM sqlite_schema WHERE tbl_name = 'stock_movements' AND rootpage > 0 ORDER BY name",
        )
        .fetch_all(db.read())
        .await
        .expect("schema")
        .iter()
        .map(|r| r.try_get("name").expect("name"))
        .collect()
    }

    /// A variant's stock history is a range of the movements' primary key, in the order the
    /// history is listed (SQLite's plan names the key and sorts nothing), and a movement
    /// writes one B-tree: the table is its key.
    #[tokio::test]
    async fn a_variants_history_is_a_range_of_the_movements_key() {
        let (dir, db) = crate::db::temp_sqlite("movements-plan", true).await;
        let plan = crate::db::query_plan(&db, VARIANT_MOVEMENTS, &["s", "v", "50"]).await;
        assert!(
            plan.iter()
                .any(|d| d.contains("USING PRIMARY KEY (shop_id=? AND variant_id=?)")),
            "{plan:?}"
        );
        assert!(!plan.iter().any(|d| d.contains("TEMP B-TREE")), "{plan:?}");
        assert_eq!(movement_btrees(&db).await, ["stock_movements"]);
        let _ = std::fs::remove_dir_all(dir);
    }

    /// Migration 0013 re-keys the movements by variant and keeps every one of them, with
    /// every column; the index it replaces is gone.
    #[tokio::test]
    async fn migration_0013_keeps_every_movement() {
        let (dir, db) = crate::db::temp_sqlite("movements-rekey", false).await;
        crate::db::migrate_to(&db, 12).await;
        assert_eq!(
            movement_btrees(&db).await,
            [
                "sqlite_autoindex_stock_movements_1",
                "stock_movements",
                "stock_movements_variant_idx"
            ]
        );
        let rows: [Movement<&str>; 5] = [
            (
                "s1",
                "m1",
                "v2",
                10,
                10,
                "initial",
                None,
                Some("u1"),
                None,
                1,
            ),
            (
                "s1",
                "m2",
                "v1",
                5,
                5,
                "import",
                Some("lô đầu"),
                Some("u1"),
                None,
                2,
            ),
            ("s1", "m3", "v2", -2, 8, "order", None, None, Some("o1"), 3),
            (
                "s2",
                "m4",
                "v1",
                7,
                7,
                "adjustment",
                Some("kiểm kho"),
                Some("u2"),
                None,
                4,
            ),
            (
                "s1",
                "m5",
                "v2",
                2,
                10,
                "cancel",
                None,
                Some("u1"),
                Some("o1"),
                5,
            ),
        ];
        let text = |v: Option<&str>| v.map_or("NULL".to_string(), |v| format!("'{v}'"));
        let values: Vec<String> = rows
            .iter()
            .map(|&(s, i, v, d, a, r, n, u, o, t)| {
                format!(
                    "('{s}', '{i}', '{v}', {d}, {a}, '{r}', {}, {}, {}, {t})",
                    text(n),
                    text(u),
                    text(o)
                )
            })
            .collect();
        // Variants without their shops and products: the movements' own foreign key is the
        // one the copy checks.
        crate::db::seed_without_foreign_keys(
            &db,
            &format!(
                "INSERT INTO variants (shop_id, id, product_id, title, price, created_at, updated_at) \
                 VALUES ('s1', 'v1', 'p', 'A', 1, 0, 0), ('s1', 'v2', 'p', 'B', 1, 0, 0), ('s2', 'v1', 'p', 'A', 1, 0, 0); \
                 INSERT INTO stock_movements (shop_id, id, variant_id, delta, stock_after, reason, note, actor_id, ref_id, created_at) \
                 VALUES {}",
                values.join(", ")
            ),
        )
        .await;
        db.migrate().await.expect("migrate");
        assert_eq!(movement_btrees(&db).await, ["stock_movements"]);
        let after: Vec<Movement<String>> = sqlx::query_as(
            "SELECT shop_id, id, variant_id, delta, stock_after, reason, note, actor_id, ref_id, created_at \
             FROM stock_movements ORDER BY id",
        )
        .fetch_all(db.read())
        .await
        .expect("movements");
        let expected: Vec<Movement<String>> = rows
            .iter()
            .map(|&(s, i, v, d, a, r, n, u, o, t)| {
                (
                    s.into(),
                    i.into(),
                    v.into(),
                    d,
                    a,
                    r.into(),
                    n.map(Into::into),
                    u.map(Into::into),
                    o.map(Into::into),
                    t,
                )
            })
            .collect();
        assert_eq!(after, expected);
        let history: Vec<String> = sqlx::query(VARIANT_MOVEMENTS)
            .bind("s1")
            .bind("v2")
            .bind(50_i64)
            .fetch_all(db.read())
            .await
            .expect("history")
            .iter()
            .map(|r| r.try_get("id").expect("id"))
            .collect();
        assert_eq!(history, ["m5", "m3", "m1"]);
        let _ = std::fs::remove_dir_all(dir);
    }
}
