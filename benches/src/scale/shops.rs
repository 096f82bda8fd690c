//! Accounts and shops of the scale data set: the province staff account and the first owner
//! through `accounts::create_user` (argon2id, as the server hashes), the other owners with the
//! same password hash, one published shop per owner (bank transfer and cash on delivery on,
//! shipping 30.000 ₫ and free from 500.000 ₫, themes in turn), and at the end one live
//! session per owner: the first and last owner and the staff sign in with
//! `accounts::login`, the others get tokens stored as the services store them (SHA-256).

use choso_services::{
    Db,
    accounts::{self, NewUser, Role},
    banks,
    ids::{now_ms, random_hex, sha256_hex},
    shops::{THEMES, bank_account_name},
    text::{Email, Phone, clean, nfc, slugify},
};
use sqlx::Row;

use super::{
    Config, DAY_MS, FREE_SHIPPING_OVER, GenShop, PASSWORD, PROVINCE, Plan, SHIPPING_FEE, kind,
    names,
};
use crate::sql::{self, err, insert_rows, opt_text, text, work_table};

pub fn owner_email(s: usize) -> String {
    format!("owner{s}@gen.choso.vn")
}

pub const STAFF_EMAIL: &str = "canbo.hue@gen.choso.vn";

fn email(s: &str) -> Result<String, String> {
    Email::parse(s).map(Email::into_string).map_err(err)
}

/// Creates the staff account, the owners and their shops; returns the plan the other steps use.
pub async fn accounts_and_shops(db: &Db, cfg: Config) -> Result<Plan, String> {
    let now = now_ms();
    let staff = accounts::create_user(
        db,
        NewUser {
            email: STAFF_EMAIL.into(),
            password: PASSWORD.into(),
            full_name: "Cán bộ Sở Khoa học và Công nghệ".into(),
            role: Role::ProvinceStaff,
            province_code: Some(PROVINCE.into()),
        },
    )
    .await
    .map_err(|e| format!("staff account: {e}"))?;
    let first = accounts::create_user(
        db,
        NewUser {
            email: owner_email(0),
            password: PASSWORD.into(),
            full_name: names::person(0),
            role: Role::Merchant,
            province_code: None,
        },
    )
    .await
    .map_err(|e| format!("owner account: {e}"))?;
    let hash: String = sqlx::query("SELECT password_hash FROM users WHERE id = $1")
        .bind(first.id.clone())
        .fetch_one(db.read())
        .await
        .map_err(err)?
        .try_get("password_hash")
        .map_err(err)?;
    let first_created = now - 400 * DAY_MS;
    let mut shops = Vec::with_capacity(cfg.shops);
    let mut users = Vec::new();
    let mut shop_rows = Vec::new();
    let mut members = Vec::new();
    let mut gen_rows = Vec::new();
    let bank_list = banks::all();
    for s in 0..cfg.shops {
        let created = first_created + s as i64 * 60_000;
        let owner_id = if s == 0 {
            first.id.clone()
        } else {
            let id = sql::ulid(created - 600_000, kind::USER, s as i64);
            users.push(format!(
                "({}, {}, {}, {}, 'merchant', NULL, {})",
                text(&id),
                text(&email(&owner_email(s))?),
                text(&hash),
                text(&clean(&names::person(s))),
                created - 600_000
            ));
            id
        };
        let name = clean(&names::shop_name(s));
        let slug = slugify(&name);
        let id = sql::ulid(created, kind::SHOP, s as i64);
        let phone = Phone::parse(&format!("09{:08}", 10_000_000 + s))
            .map_err(err)?
            .into_string();
        let bank = bank_list
            .get(s % bank_list.len().max(1))
            .ok_or("no bank list")?;
        let holder = bank_account_name(&names::person(s));
        let published = created + DAY_MS;
        shop_rows.push(format!(
            "({id}, {slug}, {name}, {desc}, {phone}, {email}, {addr}, {ward}, '{PROVINCE}', {theme}, TRUE, {hero}, \
             {SHIPPING_FEE}, {FREE_SHIPPING_OVER}, TRUE, {bin}, {acct}, {holder}, TRUE, {published}, {created}, {published}, {seq})",
            id = text(&id),
            slug = text(&slug),
            name = text(&name),
            desc = text(&nfc(
                format!(
                    "Đặc sản {} chính gốc, gói quà theo yêu cầu.",
                    names::region(s)
                )
                .trim()
            )),
            phone = text(&phone),
            email = text(&email(&format!("shop{s}@gen.choso.vn"))?),
            addr = text(&clean(&names::address(s))),
            ward = text(&clean(&format!("Phường {}", names::region(s + 3)))),
            theme = text(THEMES[s % THEMES.len()]),
            hero = text(&nfc("Quà quê, gửi tận nhà")),
            bin = text(bank.bin),
            acct = text(&format!("{}", 100_000_000_000_i64 + s as i64)),
            holder = opt_text(holder.as_deref()),
            seq = 1000 + cfg.orders,
        ));
        members.push(format!(
            "({}, {}, 'owner', {created})",
            text(&id),
            text(&owner_id)
        ));
        gen_rows.push(format!(
            "({s}, {}, {}, {created})",
            text(&id),
            text(&owner_id)
        ));
        shops.push(GenShop {
            id,
            slug,
            owner_id,
            created_at: created,
        });
    }
    insert_rows(
        db,
        "users",
        "id, email, password_hash, full_name, role, province_code, created_at",
        &users,
        500,
    )
    .await?;
    insert_rows(
        db,
        "shops",
        "id, slug, name, description, phone, email, address_line, ward, province_code, theme, theme_chosen, \
         hero_text, shipping_fee, free_shipping_over, cod_enabled, bank_bin, bank_account_number, \
         bank_account_name, published, published_at, created_at, updated_at, order_seq",
        &shop_rows,
        200,
    )
    .await?;
    insert_rows(
        db,
        "shop_members",
        "shop_id, user_id, role, created_at",
        &members,
        500,
    )
    .await?;
    work_table(
        db,
        "gen_shops",
        "(i BIGINT PRIMARY KEY, id TEXT NOT NULL, owner_id TEXT NOT NULL, \
         created_at BIGINT NOT NULL)",
    )
    .await?;
    insert_rows(
        db,
        "gen_shops",
        "i, id, owner_id, created_at",
        &gen_rows,
        500,
    )
    .await?;
    Ok(Plan {
        cfg,
        now,
        shops,
        staff_id: staff.id,
        handles: Vec::new(),
    })
}

/// Signed-in tokens: one per shop's owner, and the staff's.
pub struct Tokens {
    pub owners: Vec<String>,
    pub staff: String,
}

/// Opens the sessions the benchmark signs in with.
pub async fn sessions(db: &Db, plan: &Plan) -> Result<Tokens, String> {
    let login = |email: String| async move {
        accounts::login(db, &email, PASSWORD, None)
            .await
            .map(|s| s.token)
            .map_err(|e| format!("login {email}: {e}"))
    };
    let staff = login(STAFF_EMAIL.to_string()).await?;
    let last = plan.shops.len() - 1;
    let now = now_ms();
    let mut owners = Vec::with_capacity(plan.shops.len());
    let mut rows = Vec::new();
    for (s, shop) in plan.shops.iter().enumerate() {
        if s == 0 || s == last {
            owners.push(login(owner_email(s)).await?);
        } else {
            let token = format!("chs_{}", random_hex(32));
            rows.push(format!(
                "({}, {}, {now}, {})",
                text(&sha256_hex(&token)),
                text(&shop.owner_id),
                now + accounts::SESSION_TTL_MS
            ));
            owners.push(token);
        }
    }
    insert_rows(
        db,
        "sessions",
        "token_hash, user_id, created_at, expires_at",
        &rows,
        500,
    )
    .await?;
    Ok(Tokens { owners, staff })
}
