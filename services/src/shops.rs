//! Shops: creation (slug rules), settings, members and roles, payment settings, the
//! onboarding checklist, publishing. [`authorize`] is the only way to get a [`ShopScope`].

use sqlx::{Row, any::AnyRow};

use crate::{
    accounts::{self, User},
    banks,
    db::{Db, bool_col},
    error::{Error, Result, UserError},
    ids::{new_id, now_ms},
    provinces,
    tenancy::{MemberRole, ShopId, ShopScope},
    text::{Email, Phone, Slug, Vnd, clean, fold, slugify},
};

/// The storefront themes.
pub const THEMES: &[&str] = &["warm", "grid", "minimal"];
pub const DEFAULT_THEME: &str = "warm";
/// Slugs that would collide with the platform's own paths or names.
pub const RESERVED_SLUGS: &[&str] = &[
    "admin", "api", "graphql", "www", "console", "static", "s", "assets", "uploads", "healthz",
    "readyz", "metrics", "webhooks", "mail", "login", "logout", "register", "signup", "account",
    "choso", "help", "support", "status", "docs", "app", "cdn", "media",
];
pub const MAX_NAME_CHARS: usize = 100;
pub const MAX_DESCRIPTION_CHARS: usize = 5_000;

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Shop {
    pub id: ShopId,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub address_line: Option<String>,
    pub ward: Option<String>,
    pub province_code: Option<String>,
    pub logo_url: Option<String>,
    pub banner_url: Option<String>,
    pub theme: String,
    pub theme_chosen: bool,
    pub primary_color: Option<String>,
    pub accent_color: Option<String>,
    pub hero_text: Option<String>,
    pub language: String,
    pub currency: String,
    pub shipping_fee: i64,
    pub free_shipping_over: Option<i64>,
    pub cod_enabled: bool,
    pub bank_bin: Option<String>,
    pub bank_account_number: Option<String>,
    pub bank_account_name: Option<String>,
    pub stripe_account_id: Option<String>,
    pub published: bool,
    pub published_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Shop {
    /// Bank transfer by VietQR is possible (all three bank fields are set).
    pub fn bank_enabled(&self) -> bool {
        self.bank_bin.is_some()
            && self.bank_account_number.is_some()
            && self.bank_account_name.is_some()
    }
    /// Card payments through the shop's Stripe connected account.
    pub fn card_enabled(&self) -> bool {
        self.stripe_account_id.is_some()
    }
    pub fn any_payment_method(&self) -> bool {
        self.cod_enabled || self.bank_enabled() || self.card_enabled()
    }
    /// The shipping fee for an order of `subtotal`.
    pub fn shipping_for(&self, subtotal: i64) -> i64 {
        match self.free_shipping_over {
            Some(t) if subtotal >= t => 0,
            _ => self.shipping_fee,
        }
    }
}

pub(crate) const SHOP_COLUMNS: &str = "id, slug, name, description, phone, email, address_line, ward, \
    province_code, logo_url, banner_url, theme, theme_chosen, primary_color, accent_color, hero_text, \
    language, currency, shipping_fee, free_shipping_over, cod_enabled, bank_bin, bank_account_number, \
    bank_account_name, stripe_account_id, published, published_at, created_at, updated_at";

fn from_row(r: &AnyRow) -> Result<Shop> {
    Ok(Shop {
        id: ShopId::new(r.try_get::<String, _>("id")?),
        slug: r.try_get("slug")?,
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        phone: r.try_get("phone")?,
        email: r.try_get("email")?,
        address_line: r.try_get("address_line")?,
        ward: r.try_get("ward")?,
        province_code: r.try_get("province_code")?,
        logo_url: r.try_get("logo_url")?,
        banner_url: r.try_get("banner_url")?,
        theme: r.try_get("theme")?,
        theme_chosen: bool_col(r, "theme_chosen")?,
        primary_color: r.try_get("primary_color")?,
        accent_color: r.try_get("accent_color")?,
        hero_text: r.try_get("hero_text")?,
        language: r.try_get("language")?,
        currency: r.try_get("currency")?,
        shipping_fee: r.try_get("shipping_fee")?,
        free_shipping_over: r.try_get("free_shipping_over")?,
        cod_enabled: bool_col(r, "cod_enabled")?,
        bank_bin: r.try_get("bank_bin")?,
        bank_account_number: r.try_get("bank_account_number")?,
        bank_account_name: r.try_get("bank_account_name")?,
        stripe_account_id: r.try_get("stripe_account_id")?,
        published: bool_col(r, "published")?,
        published_at: r.try_get("published_at")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// A shop by id.
pub async fn get(db: &Db, id: &ShopId) -> Result<Option<Shop>> {
    let sql = format!("SELECT {SHOP_COLUMNS} FROM shops WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id.as_str().to_string())
        .fetch_optional(db.read())
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// Shops by id, in one statement (those that exist, in id order).
pub async fn get_many(db: &Db, ids: &[ShopId]) -> Result<Vec<Shop>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT {SHOP_COLUMNS} FROM shops WHERE id IN ({}) ORDER BY id",
        crate::db::placeholders(0, ids.len())
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for id in ids {
        q = q.bind(id.as_str().to_string());
    }
    q.fetch_all(db.read()).await?.iter().map(from_row).collect()
}

/// How many shops the platform has.
pub async fn count(db: &Db) -> Result<i64> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM shops")
        .fetch_one(db.read())
        .await?;
    Ok(row.try_get("n")?)
}

/// A shop by slug.
pub async fn by_slug(db: &Db, slug: &str) -> Result<Option<Shop>> {
    let sql = format!("SELECT {SHOP_COLUMNS} FROM shops WHERE slug = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(slug.trim().to_lowercase())
        .fetch_optional(db.read())
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// The shops a user is a member of, with their role, oldest first.
pub async fn for_user(db: &Db, user_id: &str) -> Result<Vec<(Shop, MemberRole)>> {
    let cols: String = SHOP_COLUMNS
        .split(", ")
        .map(|c| format!("s.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT {cols}, m.role AS member_role FROM shop_members m JOIN shops s ON s.id = m.shop_id \
         WHERE m.user_id = $1 ORDER BY s.id"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(user_id.to_string())
        .fetch_all(db.read())
        .await?;
    rows.iter()
        .map(|r| {
            let role: String = r.try_get("member_role")?;
            Ok((
                from_row(r)?,
                MemberRole::parse(&role).unwrap_or(MemberRole::Staff),
            ))
        })
        .collect()
}

/// The role of a user in a shop, if a member.
pub async fn member_role(db: &Db, shop_id: &ShopId, user_id: &str) -> Result<Option<MemberRole>> {
    let row = sqlx::query("SELECT role FROM shop_members WHERE shop_id = $1 AND user_id = $2")
        .bind(shop_id.as_str().to_string())
        .bind(user_id.to_string())
        .fetch_optional(db.read())
        .await?;
    Ok(row
        .map(|r| r.try_get::<String, _>("role"))
        .transpose()?
        .and_then(|r| MemberRole::parse(&r)))
}

/// Checks that `user` may act on the shop with at least `need` (owner ⊇ staff). Platform
/// admins act as owners. A shop that does not exist is `NotFound`; a non-member `Forbidden`.
pub async fn authorize(
    db: &Db,
    user: &User,
    shop_id: &ShopId,
    need: MemberRole,
) -> Result<ShopScope> {
    let role = member_role(db, shop_id, &user.id).await?;
    let role = match role {
        Some(r) => r,
        None if user.is_admin() => {
            if get(db, shop_id).await?.is_none() {
                return Err(Error::NotFound("shop"));
            }
            MemberRole::Owner
        }
        None => {
            return Err(if get(db, shop_id).await?.is_none() {
                Error::NotFound("shop")
            } else {
                Error::Forbidden
            });
        }
    };
    if need == MemberRole::Owner && role != MemberRole::Owner {
        return Err(Error::Forbidden);
    }
    Ok(ShopScope::new(
        shop_id.clone(),
        user.id.clone(),
        role,
        crate::versions::ChangeGuard::new(db, shop_id),
    ))
}

#[derive(Debug, Clone, Default)]
pub struct NewShop {
    pub name: String,
    pub slug: Option<String>,
    pub theme: Option<String>,
    pub province_code: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
}

fn check_name(name: &str, field: &[&str], errors: &mut Vec<UserError>) -> String {
    let name = clean(name);
    if name.is_empty() {
        errors.push(UserError::new(field, "REQUIRED", "The shop needs a name."));
    } else if name.chars().count() > MAX_NAME_CHARS {
        errors.push(UserError::new(
            field,
            "TOO_LONG",
            format!("A shop name has at most {MAX_NAME_CHARS} characters."),
        ));
    }
    name
}

fn check_theme(theme: &str, field: &[&str], errors: &mut Vec<UserError>) -> String {
    let t = theme.trim().to_lowercase();
    if !THEMES.contains(&t.as_str()) {
        errors.push(UserError::new(
            field,
            "INVALID_THEME",
            format!(
                "Unknown theme {theme:?}: choose one of {}.",
                THEMES.join(", ")
            ),
        ));
    }
    t
}

fn check_province(code: &str, field: &[&str], errors: &mut Vec<UserError>) -> String {
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
        errors.push(UserError::new(
            field,
            "INVALID_PROVINCE",
            format!("{c:?} is not one of the 34 province codes.{hint}"),
        ));
    }
    c
}

fn optional<T>(
    v: Option<&str>,
    field: &[&str],
    errors: &mut Vec<UserError>,
    parse: impl Fn(&str) -> std::result::Result<T, crate::text::TextError>,
) -> Option<T> {
    let v = v.map(str::trim).filter(|s| !s.is_empty())?;
    match parse(v) {
        Ok(x) => Some(x),
        Err(e) => {
            errors.push(UserError::new(field, e.code(), e.to_string()));
            None
        }
    }
}

async fn slug_taken(db: &Db, slug: &str) -> Result<bool> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM shops WHERE slug = $1")
        .bind(slug.to_string())
        .fetch_one(db.read())
        .await?;
    Ok(row.try_get::<i64, _>("n")? > 0)
}

/// A free slug close to `slug` (`slug-2`, `slug-3`, …).
pub async fn suggest_slug(db: &Db, slug: &str) -> Result<String> {
    let base: String = slug
        .chars()
        .take(55)
        .collect::<String>()
        .trim_end_matches('-')
        .to_string();
    for n in 2..1000 {
        let candidate = format!("{base}-{n}");
        if !RESERVED_SLUGS.contains(&candidate.as_str()) && !slug_taken(db, &candidate).await? {
            return Ok(candidate);
        }
    }
    Ok(format!("{base}-{}", &new_id()[20..].to_lowercase()))
}

async fn slug_taken_error(db: &Db, slug: &str) -> Result<Error> {
    let suggestion = suggest_slug(db, slug).await?;
    Ok(Error::user(
        &["input", "slug"],
        "SLUG_TAKEN",
        format!("The address {slug:?} is taken. {suggestion:?} is free."),
    ))
}

/// Creates a shop; the creator becomes its owner.
pub async fn create_shop(db: &Db, user: &User, input: NewShop) -> Result<Shop> {
    let mut errors = Vec::new();
    let name = check_name(&input.name, &["input", "name"], &mut errors);
    let slug = match input
        .slug
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(s) => match Slug::parse(&s.to_lowercase()) {
            Ok(s) => Some(s.into_string()),
            Err(e) => {
                errors.push(UserError::new(&["input", "slug"], e.code(), e.to_string()));
                None
            }
        },
        None => {
            let s = slugify(&name);
            if s.is_empty() && !name.is_empty() {
                errors.push(UserError::new(
                    &["input", "name"],
                    "INVALID_SLUG",
                    "The name has no letters or digits to make a web address from: give a slug.",
                ));
                None
            } else {
                Some(s)
            }
        }
    };
    if let Some(s) = &slug
        && RESERVED_SLUGS.contains(&s.as_str())
    {
        errors.push(UserError::new(
            &["input", "slug"],
            "SLUG_RESERVED",
            format!("{s:?} is reserved: choose another address."),
        ));
    }
    let theme = input
        .theme
        .as_deref()
        .map(|t| check_theme(t, &["input", "theme"], &mut errors));
    let province = input
        .province_code
        .as_deref()
        .filter(|c| !c.trim().is_empty())
        .map(|c| check_province(c, &["input", "provinceCode"], &mut errors));
    let phone = optional(
        input.phone.as_deref(),
        &["input", "phone"],
        &mut errors,
        Phone::parse,
    );
    let email = optional(
        input.email.as_deref(),
        &["input", "email"],
        &mut errors,
        Email::parse,
    );
    if !errors.is_empty() {
        return Err(Error::Invalid(errors));
    }
    let slug = slug.unwrap_or_default();
    if slug_taken(db, &slug).await? {
        return Err(slug_taken_error(db, &slug).await?);
    }
    let id = new_id();
    let now = now_ms();
    let mut tx = db.begin().await?;
    let sql = format!(
        "INSERT INTO shops (id, slug, name, phone, email, province_code, theme, theme_chosen, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING {SHOP_COLUMNS}"
    );
    let inserted = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id.clone())
        .bind(slug.clone())
        .bind(name)
        .bind(phone.map(Phone::into_string))
        .bind(email.map(Email::into_string))
        .bind(province)
        .bind(theme.clone().unwrap_or_else(|| DEFAULT_THEME.to_string()))
        .bind(theme.is_some())
        .bind(now)
        .fetch_one(&mut *tx)
        .await;
    let row = match inserted {
        Ok(r) => r,
        Err(e) => {
            let e = Error::from(e);
            if e.unique_violation().is_some() {
                drop(tx);
                return Err(slug_taken_error(db, &slug).await?);
            }
            return Err(e);
        }
    };
    sqlx::query("INSERT INTO shop_members (shop_id, user_id, role, created_at) VALUES ($1, $2, 'owner', $3)")
        .bind(id.clone())
        .bind(user.id.clone())
        .bind(now)
        .execute(&mut *tx)
        .await?;
    crate::support::on_shop_created(&mut tx, &user.id, &id).await?;
    tx.commit().await?;
    from_row(&row)
}

/// Settings changes. `None` leaves a field as it is; `Some("")` clears an optional one.
#[derive(Debug, Clone, Default)]
pub struct ShopUpdate {
    pub name: Option<String>,
    pub description: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub address_line: Option<String>,
    pub ward: Option<String>,
    pub province_code: Option<String>,
    pub logo_url: Option<String>,
    pub banner_url: Option<String>,
    pub theme: Option<String>,
    pub primary_color: Option<String>,
    pub accent_color: Option<String>,
    pub hero_text: Option<String>,
    pub language: Option<String>,
    pub shipping_fee: Option<String>,
    pub free_shipping_over: Option<String>,
}

/// Checks an image address: http(s) or one of our uploads.
pub fn check_url(url: &str, field: &[&str], errors: &mut Vec<UserError>) -> String {
    let u = url.trim().to_string();
    let ok = (u.starts_with("https://") || u.starts_with("http://") || u.starts_with("/uploads/"))
        && u.len() <= 2000
        && !u
            .chars()
            .any(|c| c.is_whitespace() || c == '"' || c == '<' || c == '>');
    if !ok {
        errors.push(UserError::new(
            field,
            "INVALID_URL",
            "Give an http(s) address or an uploaded image.",
        ));
    }
    u
}

fn check_color(c: &str, field: &[&str], errors: &mut Vec<UserError>) -> String {
    let c = c.trim().to_lowercase();
    let ok = c.len() == 7 && c.starts_with('#') && c[1..].chars().all(|x| x.is_ascii_hexdigit());
    if !ok {
        errors.push(UserError::new(
            field,
            "INVALID_COLOR",
            "Colours are written #rrggbb, e.g. #b5452f.",
        ));
    }
    c
}

fn check_text(v: &str, max: usize, field: &[&str], errors: &mut Vec<UserError>) -> String {
    let v = crate::text::nfc(v.trim());
    if v.chars().count() > max {
        errors.push(UserError::new(
            field,
            "TOO_LONG",
            format!("At most {max} characters."),
        ));
    }
    v
}

fn check_money(v: &str, field: &[&str], errors: &mut Vec<UserError>) -> i64 {
    match Vnd::parse(v) {
        Ok(x) => x.amount(),
        Err(e) => {
            errors.push(UserError::new(field, e.code(), e.to_string()));
            0
        }
    }
}

/// Updates shop settings (owners).
pub async fn update_shop(db: &Db, scope: &ShopScope, upd: ShopUpdate) -> Result<Shop> {
    require_owner(scope)?;
    let mut shop = get(db, scope.shop_id())
        .await?
        .ok_or(Error::NotFound("shop"))?;
    let mut errors = Vec::new();
    let f = |name: &'static str| ["input", name];
    let clear = |v: &str| v.trim().is_empty();
    if let Some(v) = &upd.name {
        shop.name = check_name(v, &f("name"), &mut errors);
    }
    if let Some(v) = &upd.description {
        shop.description = check_text(v, MAX_DESCRIPTION_CHARS, &f("description"), &mut errors);
    }
    if let Some(v) = &upd.phone {
        shop.phone = if clear(v) {
            None
        } else {
            optional(Some(v), &f("phone"), &mut errors, Phone::parse).map(Phone::into_string)
        };
    }
    if let Some(v) = &upd.email {
        shop.email = if clear(v) {
            None
        } else {
            optional(Some(v), &f("email"), &mut errors, Email::parse).map(Email::into_string)
        };
    }
    if let Some(v) = &upd.address_line {
        shop.address_line = if clear(v) {
            None
        } else {
            Some(check_text(v, 200, &f("addressLine"), &mut errors))
        };
    }
    if let Some(v) = &upd.ward {
        shop.ward = if clear(v) {
            None
        } else {
            Some(check_text(v, 100, &f("ward"), &mut errors))
        };
    }
    if let Some(v) = &upd.province_code {
        shop.province_code = if clear(v) {
            None
        } else {
            Some(check_province(v, &f("provinceCode"), &mut errors))
        };
    }
    if let Some(v) = &upd.logo_url {
        shop.logo_url = if clear(v) {
            None
        } else {
            Some(check_url(v, &f("logoUrl"), &mut errors))
        };
    }
    if let Some(v) = &upd.banner_url {
        shop.banner_url = if clear(v) {
            None
        } else {
            Some(check_url(v, &f("bannerUrl"), &mut errors))
        };
    }
    if let Some(v) = &upd.theme {
        shop.theme = check_theme(v, &f("theme"), &mut errors);
        shop.theme_chosen = true;
    }
    if let Some(v) = &upd.primary_color {
        shop.primary_color = if clear(v) {
            None
        } else {
            Some(check_color(v, &f("primaryColor"), &mut errors))
        };
    }
    if let Some(v) = &upd.accent_color {
        shop.accent_color = if clear(v) {
            None
        } else {
            Some(check_color(v, &f("accentColor"), &mut errors))
        };
    }
    if let Some(v) = &upd.hero_text {
        shop.hero_text = if clear(v) {
            None
        } else {
            Some(check_text(v, 200, &f("heroText"), &mut errors))
        };
    }
    if let Some(v) = &upd.language {
        let l = v.trim().to_lowercase();
        if l != "vi" && l != "en" {
            errors.push(UserError::new(
                &f("language"),
                "INVALID_LANGUAGE",
                "Language is vi or en.",
            ));
        }
        shop.language = l;
    }
    if let Some(v) = &upd.shipping_fee {
        shop.shipping_fee = check_money(v, &f("shippingFee"), &mut errors);
    }
    if let Some(v) = &upd.free_shipping_over {
        shop.free_shipping_over = if clear(v) {
            None
        } else {
            Some(check_money(v, &f("freeShippingOver"), &mut errors))
        };
    }
    if !errors.is_empty() {
        return Err(Error::Invalid(errors));
    }
    sqlx::query(
        "UPDATE shops SET name = $1, description = $2, phone = $3, email = $4, address_line = $5, ward = $6, \
         province_code = $7, logo_url = $8, banner_url = $9, theme = $10, theme_chosen = $11, primary_color = $12, \
         accent_color = $13, hero_text = $14, language = $15, shipping_fee = $16, free_shipping_over = $17, \
         updated_at = $18 WHERE id = $19",
    )
    .bind(shop.name.clone())
    .bind(shop.description.clone())
    .bind(shop.phone.clone())
    .bind(shop.email.clone())
    .bind(shop.address_line.clone())
    .bind(shop.ward.clone())
    .bind(shop.province_code.clone())
    .bind(shop.logo_url.clone())
    .bind(shop.banner_url.clone())
    .bind(shop.theme.clone())
    .bind(shop.theme_chosen)
    .bind(shop.primary_color.clone())
    .bind(shop.accent_color.clone())
    .bind(shop.hero_text.clone())
    .bind(shop.language.clone())
    .bind(shop.shipping_fee)
    .bind(shop.free_shipping_over)
    .bind(now_ms())
    .bind(scope.shop_id().as_str().to_string())
    .execute(db.write())
    .await?;
    get(db, scope.shop_id())
        .await?
        .ok_or(Error::NotFound("shop"))
}

fn require_owner(scope: &ShopScope) -> Result<()> {
    if scope.role() == MemberRole::Owner {
        Ok(())
    } else {
        Err(Error::Forbidden)
    }
}

/// Payment settings changes: `None` leaves a field; `Some("")` clears it.
#[derive(Debug, Clone, Default)]
pub struct PaymentsUpdate {
    pub cod: Option<bool>,
    pub bank_bin: Option<String>,
    pub bank_account_number: Option<String>,
    pub bank_account_name: Option<String>,
    pub stripe_account_id: Option<String>,
}

/// An account holder's name as banks print it: capitals, no diacritics ("NGUYEN VAN A").
pub fn bank_account_name(v: &str) -> Option<String> {
    let folded = fold(v).to_uppercase();
    let ok = !folded.is_empty()
        && folded.len() <= 50
        && folded.chars().all(|c| c.is_ascii_uppercase() || c == ' ')
        && fold(v).split(' ').count() == clean(v).split(' ').count();
    ok.then_some(folded)
}

/// Updates payment methods (owners only).
pub async fn update_payments(db: &Db, scope: &ShopScope, upd: PaymentsUpdate) -> Result<Shop> {
    require_owner(scope)?;
    let mut shop = get(db, scope.shop_id())
        .await?
        .ok_or(Error::NotFound("shop"))?;
    let mut errors = Vec::new();
    let f = |name: &'static str| ["input", name];
    if let Some(c) = upd.cod {
        shop.cod_enabled = c;
    }
    if let Some(v) = &upd.bank_bin {
        let v = v.trim();
        shop.bank_bin = if v.is_empty() {
            None
        } else if banks::by_bin(v).is_some() {
            Some(v.to_string())
        } else {
            errors.push(UserError::new(
                &f("bankBin"),
                "INVALID_BANK",
                format!("{v:?} is not the BIN of a Vietnamese bank we know."),
            ));
            None
        };
    }
    if let Some(v) = &upd.bank_account_number {
        let v: String = v.chars().filter(|c| !c.is_whitespace()).collect();
        shop.bank_account_number = if v.is_empty() {
            None
        } else if (6..=19).contains(&v.len()) && v.chars().all(|c| c.is_ascii_digit()) {
            Some(v)
        } else {
            errors.push(UserError::new(
                &f("bankAccountNumber"),
                "INVALID_ACCOUNT_NUMBER",
                "An account number is 6 to 19 digits.",
            ));
            None
        };
    }
    if let Some(v) = &upd.bank_account_name {
        shop.bank_account_name = if v.trim().is_empty() {
            None
        } else if let Some(n) = bank_account_name(v) {
            Some(n)
        } else {
            errors.push(UserError::new(
                &f("bankAccountName"),
                "INVALID_ACCOUNT_NAME",
                "Write the account holder's name as the bank prints it: letters only, e.g. NGUYEN VAN A.",
            ));
            None
        };
    }
    if let Some(v) = &upd.stripe_account_id {
        let v = v.trim();
        shop.stripe_account_id = if v.is_empty() {
            None
        } else if v.len() <= 64
            && v.strip_prefix("acct_")
                .is_some_and(|r| !r.is_empty() && r.chars().all(|c| c.is_ascii_alphanumeric()))
        {
            Some(v.to_string())
        } else {
            errors.push(UserError::new(
                &f("stripeAccountId"),
                "INVALID_STRIPE_ACCOUNT",
                "A Stripe connected account id looks like acct_1AbC…",
            ));
            None
        };
    }
    if errors.is_empty() {
        let set = [
            &shop.bank_bin,
            &shop.bank_account_number,
            &shop.bank_account_name,
        ]
        .iter()
        .filter(|x| x.is_some())
        .count();
        if set != 0 && set != 3 {
            errors.push(UserError::new(
                &["input"],
                "BANK_INCOMPLETE",
                "Bank transfer needs the bank, the account number and the account holder's name.",
            ));
        }
    }
    if errors.is_empty() && shop.published && !shop.any_payment_method() {
        errors.push(UserError::new(
            &["input"],
            "NO_PAYMENT_METHOD",
            "A published shop needs at least one payment method: unpublish it first.",
        ));
    }
    if !errors.is_empty() {
        return Err(Error::Invalid(errors));
    }
    sqlx::query(
        "UPDATE shops SET cod_enabled = $1, bank_bin = $2, bank_account_number = $3, bank_account_name = $4, \
         stripe_account_id = $5, updated_at = $6 WHERE id = $7",
    )
    .bind(shop.cod_enabled)
    .bind(shop.bank_bin.clone())
    .bind(shop.bank_account_number.clone())
    .bind(shop.bank_account_name.clone())
    .bind(shop.stripe_account_id.clone())
    .bind(now_ms())
    .bind(scope.shop_id().as_str().to_string())
    .execute(db.write())
    .await?;
    get(db, scope.shop_id())
        .await?
        .ok_or(Error::NotFound("shop"))
}

/// One item of the onboarding checklist.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Step {
    pub key: &'static str,
    pub title: &'static str,
    pub done: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Onboarding {
    pub steps: Vec<Step>,
    pub ready: bool,
}

/// What is done and what is missing before the shop can be published.
pub async fn onboarding(db: &Db, shop: &Shop) -> Result<Onboarding> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM products p WHERE p.shop_id = $1 AND p.published = TRUE AND p.archived = FALSE \
         AND EXISTS (SELECT 1 FROM variants v WHERE v.shop_id = p.shop_id AND v.product_id = p.id \
                     AND (v.stock > 0 OR v.track_inventory = FALSE))",
    )
    .bind(shop.id.as_str().to_string())
    .fetch_one(db.read())
    .await?;
    let has_product = row.try_get::<i64, _>("n")? > 0;
    let vi = shop.language != "en";
    let steps = vec![
        Step {
            key: "contact",
            title: if vi {
                "Thêm số điện thoại hoặc email liên hệ"
            } else {
                "Add a contact phone or email"
            },
            done: shop.phone.is_some() || shop.email.is_some(),
        },
        Step {
            key: "product",
            title: if vi {
                "Đăng ít nhất một sản phẩm còn hàng"
            } else {
                "Publish at least one product in stock"
            },
            done: has_product,
        },
        Step {
            key: "payment",
            title: if vi {
                "Chọn phương thức thanh toán"
            } else {
                "Choose a payment method"
            },
            done: shop.any_payment_method(),
        },
        Step {
            key: "theme",
            title: if vi {
                "Chọn giao diện cửa hàng"
            } else {
                "Choose a theme"
            },
            done: shop.theme_chosen,
        },
    ];
    let ready = steps.iter().all(|s| s.done);
    Ok(Onboarding { steps, ready })
}

/// Publishes the shop, or answers `NOT_READY` naming the missing steps.
pub async fn publish(db: &Db, scope: &ShopScope) -> Result<Shop> {
    require_owner(scope)?;
    let shop = get(db, scope.shop_id())
        .await?
        .ok_or(Error::NotFound("shop"))?;
    let ob = onboarding(db, &shop).await?;
    if !ob.ready {
        let missing: Vec<&str> = ob.steps.iter().filter(|s| !s.done).map(|s| s.key).collect();
        return Err(Error::user(
            &["shopId"],
            "NOT_READY",
            format!(
                "The shop is not ready to publish; missing: {}.",
                missing.join(", ")
            ),
        ));
    }
    set_published(db, scope, true).await
}

/// Takes the shop off line (its pages answer 404 to the public).
pub async fn unpublish(db: &Db, scope: &ShopScope) -> Result<Shop> {
    require_owner(scope)?;
    set_published(db, scope, false).await
}

async fn set_published(db: &Db, scope: &ShopScope, published: bool) -> Result<Shop> {
    let now = now_ms();
    let mut tx = db.begin().await?;
    crate::support::before_shop_published(&mut tx, scope.shop_id()).await?;
    sqlx::query(
        "UPDATE shops SET published = $1, published_at = CASE WHEN $1 THEN COALESCE(published_at, $2) ELSE published_at END, \
         updated_at = $2 WHERE id = $3",
    )
    .bind(published)
    .bind(now)
    .bind(scope.shop_id().as_str().to_string())
    .execute(&mut *tx)
    .await?;
    crate::support::on_shop_published(&mut tx, scope.shop_id(), published).await?;
    tx.commit().await?;
    get(db, scope.shop_id())
        .await?
        .ok_or(Error::NotFound("shop"))
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Member {
    pub user_id: String,
    pub email: String,
    pub full_name: String,
    pub role: MemberRole,
    pub created_at: i64,
}

/// The members of a shop (any member may see who else is).
pub async fn members(db: &Db, scope: &ShopScope) -> Result<Vec<Member>> {
    let rows = sqlx::query(
        "SELECT m.user_id, u.email, u.full_name, m.role, m.created_at FROM shop_members m \
         JOIN users u ON u.id = m.user_id WHERE m.shop_id = $1 ORDER BY m.created_at, u.email",
    )
    .bind(scope.shop_id().as_str().to_string())
    .fetch_all(db.read())
    .await?;
    rows.iter()
        .map(|r| {
            let role: String = r.try_get("role")?;
            Ok(Member {
                user_id: r.try_get("user_id")?,
                email: r.try_get("email")?,
                full_name: r.try_get("full_name")?,
                role: MemberRole::parse(&role).unwrap_or(MemberRole::Staff),
                created_at: r.try_get("created_at")?,
            })
        })
        .collect()
}

/// Adds a member by email (owners only). The person must have an account.
pub async fn add_member(
    db: &Db,
    scope: &ShopScope,
    email: &str,
    role: MemberRole,
) -> Result<Member> {
    require_owner(scope)?;
    let email = Email::parse(email).map_err(|e| Error::text(&["email"], e))?;
    let Some(user) = accounts::find_by_email(db, email.as_str()).await? else {
        return Err(Error::user(
            &["email"],
            "USER_NOT_FOUND",
            "No account uses this email: ask them to sign up first, then add them.",
        ));
    };
    if member_role(db, scope.shop_id(), &user.id).await?.is_some() {
        return Err(Error::user(
            &["email"],
            "ALREADY_MEMBER",
            "This person is already a member of the shop.",
        ));
    }
    let now = now_ms();
    let shop = get(db, scope.shop_id())
        .await?
        .ok_or(Error::NotFound("shop"))?;
    let inviter = accounts::get_user(db, scope.user_id())
        .await?
        .map(|u| u.full_name)
        .unwrap_or_default();
    let mut tx = db.begin().await?;
    sqlx::query(
        "INSERT INTO shop_members (shop_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(scope.shop_id().as_str().to_string())
    .bind(user.id.clone())
    .bind(role.as_str().to_string())
    .bind(now)
    .execute(&mut *tx)
    .await?;
    crate::notify::staff_invite(&mut tx, &shop, &user.email, &inviter, role.as_str()).await?;
    tx.commit().await?;
    Ok(Member {
        user_id: user.id,
        email: user.email,
        full_name: user.full_name,
        role,
        created_at: now,
    })
}

/// Removes a member (owners only); the last owner cannot be removed.
pub async fn remove_member(db: &Db, scope: &ShopScope, user_id: &str) -> Result<()> {
    require_owner(scope)?;
    let Some(role) = member_role(db, scope.shop_id(), user_id).await? else {
        return Err(Error::user(
            &["userId"],
            "NOT_A_MEMBER",
            "This person is not a member of the shop.",
        ));
    };
    let mut tx = db.begin().await?;
    sqlx::query("DELETE FROM shop_members WHERE shop_id = $1 AND user_id = $2")
        .bind(scope.shop_id().as_str().to_string())
        .bind(user_id.to_string())
        .execute(&mut *tx)
        .await?;
    if role == MemberRole::Owner {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM shop_members WHERE shop_id = $1 AND role = 'owner'",
        )
        .bind(scope.shop_id().as_str().to_string())
        .fetch_one(&mut *tx)
        .await?;
        if row.try_get::<i64, _>("n")? == 0 {
            tx.rollback().await?;
            return Err(Error::user(
                &["userId"],
                "LAST_OWNER",
                "A shop keeps at least one owner.",
            ));
        }
    }
    tx.commit().await?;
    Ok(())
}

/// The shop a custom domain points to.
pub async fn shop_for_domain(db: &Db, domain: &str) -> Result<Option<ShopId>> {
    let row = sqlx::query("SELECT shop_id FROM shop_domains WHERE domain = $1")
        .bind(domain.trim().trim_end_matches('.').to_lowercase())
        .fetch_optional(db.read())
        .await?;
    Ok(row
        .map(|r| r.try_get::<String, _>("shop_id"))
        .transpose()?
        .map(ShopId::new))
}

/// A shop's custom domains.
pub async fn domains(db: &Db, shop: &ShopId) -> Result<Vec<String>> {
    let rows = sqlx::query("SELECT domain FROM shop_domains WHERE shop_id = $1 ORDER BY domain")
        .bind(shop.as_str().to_string())
        .fetch_all(db.read())
        .await?;
    rows.iter().map(|r| Ok(r.try_get("domain")?)).collect()
}

/// A host name a shop may use: letters, digits and `-` in dot-separated labels.
pub fn check_domain(v: &str) -> Option<String> {
    let d = v.trim().trim_end_matches('.').to_lowercase();
    let d = d
        .strip_prefix("https://")
        .or_else(|| d.strip_prefix("http://"))
        .unwrap_or(&d)
        .trim_end_matches('/')
        .to_string();
    let labels: Vec<&str> = d.split('.').collect();
    let ok = d.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.chars().all(|c| c.is_ascii_alphabetic()));
    ok.then_some(d)
}

/// Points a custom domain at the shop (owners).
pub async fn add_domain(db: &Db, scope: &ShopScope, domain: &str) -> Result<Vec<String>> {
    require_owner(scope)?;
    let Some(d) = check_domain(domain) else {
        return Err(Error::user(
            &["domain"],
            "INVALID_DOMAIN",
            "Give a host name such as shop.example.vn.",
        ));
    };
    if let Some(owner) = shop_for_domain(db, &d).await? {
        let code = if &owner == scope.shop_id() {
            "DOMAIN_ALREADY_ADDED"
        } else {
            "DOMAIN_TAKEN"
        };
        return Err(Error::user(
            &["domain"],
            code,
            "This domain is already used.",
        ));
    }
    if domains(db, scope.shop_id()).await?.len() >= 5 {
        return Err(Error::user(
            &["domain"],
            "TOO_MANY_DOMAINS",
            "A shop has at most 5 domains.",
        ));
    }
    let res =
        sqlx::query("INSERT INTO shop_domains (domain, shop_id, created_at) VALUES ($1, $2, $3)")
            .bind(d)
            .bind(scope.shop_id().as_str().to_string())
            .bind(now_ms())
            .execute(db.write())
            .await;
    if let Err(e) = res {
        let e = Error::from(e);
        return Err(if e.unique_violation().is_some() {
            Error::user(&["domain"], "DOMAIN_TAKEN", "This domain is already used.")
        } else {
            e
        });
    }
    domains(db, scope.shop_id()).await
}

/// Removes a custom domain (owners).
pub async fn remove_domain(db: &Db, scope: &ShopScope, domain: &str) -> Result<Vec<String>> {
    require_owner(scope)?;
    let d = domain.trim().trim_end_matches('.').to_lowercase();
    let n = sqlx::query("DELETE FROM shop_domains WHERE domain = $1 AND shop_id = $2")
        .bind(d)
        .bind(scope.shop_id().as_str().to_string())
        .execute(db.write())
        .await?
        .rows_affected();
    if n == 0 {
        return Err(Error::user(
            &["domain"],
            "DOMAIN_NOT_FOUND",
            "The shop does not use this domain.",
        ));
    }
    domains(db, scope.shop_id()).await
}
