//! Accounts: registration, login, bearer sessions, roles.
//!
//! Passwords are hashed with argon2id (in a blocking task, at most one per core at a time).
//! Session tokens are 256 random bits, given to the client once and stored only as their
//! SHA-256, with an expiry; logout revokes. Failed logins are counted per account and per
//! client address in the database (so the limit holds across processes) and refused with
//! `TOO_MANY_ATTEMPTS` past the limit.
//! A wrong password and an unknown email give the same `INVALID_CREDENTIALS`.

use argon2::{Argon2, PasswordHasher, PasswordVerifier, password_hash::phc::PasswordHash};
use sqlx::{Row, any::AnyRow};

use crate::{
    db::Db,
    error::{Error, Result, UserError},
    ids::{new_id, now_ms, random_hex, sha256_hex},
    provinces,
    text::{Email, clean},
};

/// How long a session token lives.
pub const SESSION_TTL_MS: i64 = 30 * 24 * 3600 * 1000;
/// Window in which failed logins are counted.
pub const FAILURE_WINDOW_MS: i64 = 15 * 60 * 1000;
/// Failed logins allowed per account in the window.
pub const MAX_FAILURES_PER_ACCOUNT: i64 = 5;
/// Failed logins allowed per client address in the window.
pub const MAX_FAILURES_PER_ADDRESS: i64 = 30;
pub const MIN_PASSWORD_CHARS: usize = 8;
pub const MAX_PASSWORD_CHARS: usize = 128;
pub const MAX_NAME_CHARS: usize = 100;

/// A platform-level role. Shop roles (owner, staff) are memberships, see `shops`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Role {
    /// A business owner or shop staff member: signs up on their own.
    Merchant,
    /// Platform administrator: every province, every shop.
    Admin,
    /// Province staff: the support register and dashboard of one province.
    ProvinceStaff,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Merchant => "merchant",
            Role::Admin => "admin",
            Role::ProvinceStaff => "province_staff",
        }
    }
    pub fn parse(s: &str) -> Option<Role> {
        match s.trim() {
            "merchant" => Some(Role::Merchant),
            "admin" => Some(Role::Admin),
            "province_staff" => Some(Role::ProvinceStaff),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct User {
    pub id: String,
    pub email: String,
    pub full_name: String,
    pub role: Role,
    /// Set for province staff: the province they may see.
    pub province_code: Option<String>,
    pub created_at: i64,
}

impl User {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    fn from_row(row: &AnyRow) -> Result<User> {
        let role: String = row.try_get("role")?;
        Ok(User {
            id: row.try_get("id")?,
            email: row.try_get("email")?,
            full_name: row.try_get("full_name")?,
            role: Role::parse(&role)
                .ok_or_else(|| Error::Internal(format!("unknown role {role}")))?,
            province_code: row.try_get("province_code")?,
            created_at: row.try_get("created_at")?,
        })
    }
}

/// A signed-in session: the token is shown once, to the client that signed in.
#[derive(Debug, Clone)]
pub struct Session {
    pub token: String,
    pub user: User,
    pub expires_at: i64,
}

#[derive(Debug, Clone, Default)]
pub struct RegisterInput {
    pub email: String,
    pub password: String,
    pub full_name: String,
    pub invite_code: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: String,
    pub password: String,
    pub full_name: String,
    pub role: Role,
    pub province_code: Option<String>,
}

/// Checks a new password: length limits and the obvious weak ones.
pub fn check_password(password: &str, email: &str, field: &[&str]) -> Option<UserError> {
    let chars = password.chars().count();
    if chars > MAX_PASSWORD_CHARS {
        return Some(UserError::new(
            field,
            "PASSWORD_TOO_LONG",
            format!("Password must be at most {MAX_PASSWORD_CHARS} characters."),
        ));
    }
    if chars < MIN_PASSWORD_CHARS {
        return Some(UserError::new(
            field,
            "WEAK_PASSWORD",
            format!("Password must be at least {MIN_PASSWORD_CHARS} characters."),
        ));
    }
    const COMMON: &[&str] = &[
        "password",
        "password1",
        "12345678",
        "123456789",
        "1234567890",
        "qwertyui",
        "qwerty123",
        "iloveyou",
        "matkhau123",
        "matkhau1",
        "abc12345",
        "11111111",
        "00000000",
        "88888888",
    ];
    let lower = password.to_lowercase();
    let first = password.chars().next();
    let local = email.trim().to_lowercase();
    let local = local.split('@').next().unwrap_or("");
    if COMMON.contains(&lower.as_str())
        || password.chars().all(|c| Some(c) == first)
        || (!local.is_empty() && lower == local)
        || lower == email.trim().to_lowercase()
    {
        return Some(UserError::new(
            field,
            "WEAK_PASSWORD",
            "This password is too easy to guess: choose a longer or less common one.",
        ));
    }
    None
}

fn check_name(full_name: &str, errors: &mut Vec<UserError>) -> String {
    let name = clean(full_name);
    if name.is_empty() {
        errors.push(UserError::new(
            &["input", "fullName"],
            "REQUIRED",
            "Full name is required.",
        ));
    } else if name.chars().count() > MAX_NAME_CHARS {
        errors.push(UserError::new(
            &["input", "fullName"],
            "TOO_LONG",
            format!("Full name must be at most {MAX_NAME_CHARS} characters."),
        ));
    }
    name
}

async fn hash_password(password: String) -> Result<String> {
    in_turn(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| Error::Internal(format!("password hashing failed: {e}")))
    })
    .await?
}

/// Whether `password` matches `hash` (`None`: the email is unknown, and the password is
/// checked against [`dummy_hash`] so that the answer takes as long).
async fn verify_password(password: String, hash: Option<String>) -> Result<bool> {
    in_turn(move || {
        let hash = hash.unwrap_or_else(|| dummy_hash().to_string());
        let Ok(parsed) = PasswordHash::new(&hash) else {
            return false;
        };
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
    .await
}

/// Runs password hashing (`f`) on a blocking thread once a turn is free: argon2 takes 19 MiB
/// and tens of milliseconds of a core per password, and with a thread for each sign-in of a
/// flood the server's memory grew without bound (200 sign-ins, 100 at a time, took 2 GB). At
/// most one per core hashes at a time; the others wait for a turn, holding no thread.
async fn in_turn<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    static TURNS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    let turns = TURNS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        tokio::sync::Semaphore::new(cores.clamp(1, MAX_HASHING))
    });
    let _turn = turns.acquire().await.map_err(|_| Error::Unavailable)?;
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Internal(format!("hashing task failed: {e}")))
}

/// At most this many passwords are hashed at once, however many cores ([`in_turn`]).
const MAX_HASHING: usize = 4;

/// A hash of a random password, verified against when the email is unknown so that the
/// answer takes as long as for a known email.
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| {
        Argon2::default()
            .hash_password(random_hex(16).as_bytes())
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

/// Signs up a merchant account and signs it in.
pub async fn register(db: &Db, input: RegisterInput) -> Result<Session> {
    let mut errors = Vec::new();
    let email = match Email::parse(&input.email) {
        Ok(e) => Some(e),
        Err(e) => {
            errors.push(UserError::new(&["input", "email"], e.code(), e.to_string()));
            None
        }
    };
    if let Some(e) = check_password(&input.password, &input.email, &["input", "password"]) {
        errors.push(e);
    }
    let name = check_name(&input.full_name, &mut errors);
    if let Some(code) = input
        .invite_code
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        // Province onboarding invites are issued with enterprises (support module); until one
        // is issued no code can match, so any code is refused rather than ignored.
        if !invite_exists(db, code).await? {
            errors.push(UserError::new(
                &["input", "inviteCode"],
                "INVALID_INVITE_CODE",
                "This invite code is unknown or has expired.",
            ));
        }
    }
    let (Some(email), true) = (email, errors.is_empty()) else {
        return Err(Error::Invalid(errors));
    };
    if email_taken(db, email.as_str()).await? {
        return Err(email_taken_error());
    }
    let hash = hash_password(input.password).await?;
    let user = insert_user(db, email.as_str(), &hash, &name, Role::Merchant, None).await?;
    if let Some(code) = input
        .invite_code
        .as_deref()
        .filter(|c| !c.trim().is_empty())
    {
        crate::support::redeem_invite(db, &user.id, code).await?;
    }
    start_session(db, user).await
}

async fn invite_exists(db: &Db, code: &str) -> Result<bool> {
    crate::support::invite_valid(db, code).await
}

fn email_taken_error() -> Error {
    Error::user(
        &["input", "email"],
        "EMAIL_TAKEN",
        "An account with this email already exists.",
    )
}

async fn email_taken(db: &Db, email: &str) -> Result<bool> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM users WHERE email = $1")
        .bind(email.to_string())
        .fetch_one(db.read())
        .await?;
    Ok(row.try_get::<i64, _>("n")? > 0)
}

async fn insert_user(
    db: &Db,
    email: &str,
    hash: &str,
    name: &str,
    role: Role,
    province: Option<String>,
) -> Result<User> {
    let res = sqlx::query(
        "INSERT INTO users (id, email, password_hash, full_name, role, province_code, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         RETURNING id, email, full_name, role, province_code, created_at",
    )
    .bind(new_id())
    .bind(email.to_string())
    .bind(hash.to_string())
    .bind(name.to_string())
    .bind(role.as_str().to_string())
    .bind(province)
    .bind(now_ms())
    .fetch_one(db.write())
    .await;
    match res {
        Ok(row) => User::from_row(&row),
        Err(e) => {
            let e = Error::from(e);
            match e.unique_violation() {
                Some(c) if c.contains("email") => Err(email_taken_error()),
                _ => Err(e),
            }
        }
    }
}

async fn start_session(db: &Db, user: User) -> Result<Session> {
    let token = format!("chs_{}", random_hex(32));
    let now = now_ms();
    let expires_at = now + SESSION_TTL_MS;
    sqlx::query(
        "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(sha256_hex(&token))
    .bind(user.id.clone())
    .bind(now)
    .bind(expires_at)
    .execute(db.write())
    .await?;
    Ok(Session {
        token,
        user,
        expires_at,
    })
}

/// Signs in with email and password. `client` is the caller's address, for throttling.
pub async fn login(db: &Db, email: &str, password: &str, client: Option<&str>) -> Result<Session> {
    let invalid = || {
        Error::user(
            &["input"],
            "INVALID_CREDENTIALS",
            "The email or password is incorrect.",
        )
    };
    let email_norm = email.trim().to_lowercase();
    if email_norm.is_empty() || password.is_empty() || password.chars().count() > MAX_PASSWORD_CHARS
    {
        return Err(invalid());
    }
    let acct_key = format!("acct:{email_norm}");
    let addr_key = client.map(|c| format!("addr:{c}"));
    let since = now_ms() - FAILURE_WINDOW_MS;
    if failures(db, &acct_key, since).await? >= MAX_FAILURES_PER_ACCOUNT {
        return Err(too_many());
    }
    if let Some(k) = &addr_key
        && failures(db, k, since).await? >= MAX_FAILURES_PER_ADDRESS
    {
        return Err(too_many());
    }
    let row = sqlx::query(
        "SELECT id, email, full_name, role, province_code, created_at, password_hash \
         FROM users WHERE email = $1",
    )
    .bind(email_norm.clone())
    .fetch_optional(db.read())
    .await?;
    let (user, hash) = match &row {
        Some(r) => (
            Some(User::from_row(r)?),
            Some(r.try_get::<String, _>("password_hash")?),
        ),
        None => (None, None),
    };
    let ok = verify_password(password.to_string(), hash).await?;
    match (user, ok) {
        (Some(user), true) => {
            sqlx::query("DELETE FROM auth_failures WHERE key = $1")
                .bind(acct_key)
                .execute(db.write())
                .await?;
            start_session(db, user).await
        }
        _ => {
            record_failure(db, &acct_key).await?;
            if let Some(k) = &addr_key {
                record_failure(db, k).await?;
            }
            Err(invalid())
        }
    }
}

fn too_many() -> Error {
    Error::user(
        &["input"],
        "TOO_MANY_ATTEMPTS",
        "Too many failed sign-in attempts. Wait 15 minutes and try again.",
    )
}

async fn failures(db: &Db, key: &str, since: i64) -> Result<i64> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM auth_failures WHERE key = $1 AND at > $2")
        .bind(key.to_string())
        .bind(since)
        .fetch_one(db.read())
        .await?;
    Ok(row.try_get("n")?)
}

async fn record_failure(db: &Db, key: &str) -> Result<()> {
    let now = now_ms();
    let mut tx = db.begin().await?;
    sqlx::query("INSERT INTO auth_failures (id, key, at) VALUES ($1, $2, $3)")
        .bind(new_id())
        .bind(key.to_string())
        .bind(now)
        .execute(&mut *tx)
        .await?;
    // Old rows are of no use: keep the table small.
    sqlx::query("DELETE FROM auth_failures WHERE key = $1 AND at < $2")
        .bind(key.to_string())
        .bind(now - FAILURE_WINDOW_MS)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// The user a bearer token belongs to, if the token is live.
pub async fn authenticate(db: &Db, token: &str) -> Result<Option<User>> {
    if !token.starts_with("chs_") || token.len() != 68 {
        return Ok(None);
    }
    let row = sqlx::query(
        "SELECT u.id, u.email, u.full_name, u.role, u.province_code, u.created_at \
         FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $2",
    )
    .bind(sha256_hex(token))
    .bind(now_ms())
    .fetch_optional(db.read())
    .await?;
    row.as_ref().map(User::from_row).transpose()
}

/// Revokes a session token (idempotent).
pub async fn logout(db: &Db, token: &str) -> Result<()> {
    sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL")
        .bind(now_ms())
        .bind(sha256_hex(token))
        .execute(db.write())
        .await?;
    Ok(())
}

/// Revokes every session of a user (after a password reset).
pub async fn revoke_all(db: &Db, user_id: &str) -> Result<()> {
    sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL")
        .bind(now_ms())
        .bind(user_id.to_string())
        .execute(db.write())
        .await?;
    Ok(())
}

/// Creates an account of any role (the `choso user create` command, admins).
pub async fn create_user(db: &Db, new: NewUser) -> Result<User> {
    let mut errors = Vec::new();
    let email = match Email::parse(&new.email) {
        Ok(e) => Some(e),
        Err(e) => {
            errors.push(UserError::new(&["email"], e.code(), e.to_string()));
            None
        }
    };
    if let Some(e) = check_password(&new.password, &new.email, &["password"]) {
        errors.push(e);
    }
    let name = if new.full_name.trim().is_empty() {
        new.email.split('@').next().unwrap_or("").to_string()
    } else {
        check_name(&new.full_name, &mut errors)
    };
    let province = match (new.role, new.province_code.as_deref().map(str::trim)) {
        (Role::ProvinceStaff, Some(code)) if provinces::is_valid(code) => Some(code.to_string()),
        (Role::ProvinceStaff, Some(code)) => {
            errors.push(UserError::new(
                &["province"],
                "INVALID_PROVINCE",
                format!("{code} is not one of the 34 province codes."),
            ));
            None
        }
        (Role::ProvinceStaff, None) => {
            errors.push(UserError::new(
                &["province"],
                "REQUIRED",
                "Province staff need a province code.",
            ));
            None
        }
        (_, Some(_)) => {
            errors.push(UserError::new(
                &["province"],
                "INVALID_PROVINCE",
                "Only province staff are bound to a province.",
            ));
            None
        }
        (_, None) => None,
    };
    let (Some(email), true) = (email, errors.is_empty()) else {
        return Err(Error::Invalid(errors));
    };
    if email_taken(db, email.as_str()).await? {
        return Err(Error::user(
            &["email"],
            "EMAIL_TAKEN",
            "An account with this email already exists.",
        ));
    }
    let hash = hash_password(new.password).await?;
    insert_user(db, email.as_str(), &hash, &name, new.role, province).await
}

/// A user by id.
pub async fn get_user(db: &Db, id: &str) -> Result<Option<User>> {
    let row = sqlx::query(
        "SELECT id, email, full_name, role, province_code, created_at FROM users WHERE id = $1",
    )
    .bind(id.to_string())
    .fetch_optional(db.read())
    .await?;
    row.as_ref().map(User::from_row).transpose()
}

/// A user by (normalised) email.
pub async fn find_by_email(db: &Db, email: &str) -> Result<Option<User>> {
    let row = sqlx::query(
        "SELECT id, email, full_name, role, province_code, created_at FROM users WHERE email = $1",
    )
    .bind(email.trim().to_lowercase())
    .fetch_optional(db.read())
    .await?;
    row.as_ref().map(User::from_row).transpose()
}

/// How long a password reset link works.
pub const RESET_TTL_MS: i64 = 3600 * 1000;

/// Starts a password reset: when the address has an account, a single-use link valid for an
/// hour is emailed. The answer is the same either way (no hint whether the address exists).
pub async fn request_password_reset(db: &Db, email: &str) -> Result<()> {
    let email = email.trim().to_lowercase();
    let key = format!("reset:{email}");
    let since = now_ms() - FAILURE_WINDOW_MS;
    if failures(db, &key, since).await? >= MAX_FAILURES_PER_ACCOUNT {
        return Ok(());
    }
    record_failure(db, &key).await?;
    let Some(user) = find_by_email(db, &email).await? else {
        return Ok(());
    };
    let token = format!("rst_{}", random_hex(32));
    let now = now_ms();
    let mut tx = db.begin().await?;
    sqlx::query("INSERT INTO password_resets (token_hash, user_id, expires_at, created_at) VALUES ($1, $2, $3, $4)")
        .bind(sha256_hex(&token))
        .bind(user.id.clone())
        .bind(now + RESET_TTL_MS)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    crate::notify::password_reset(&mut tx, &user.email, &token).await?;
    tx.commit().await?;
    Ok(())
}

/// Sets a new password with a reset token (once, before it expires) and revokes every
/// session of the account.
pub async fn reset_password(db: &Db, token: &str, new_password: &str) -> Result<()> {
    let invalid = || {
        Error::user(
            &["token"],
            "INVALID_TOKEN",
            "This reset link is invalid or has expired: ask for a new one.",
        )
    };
    let row = sqlx::query(
        "SELECT r.user_id, u.email FROM password_resets r JOIN users u ON u.id = r.user_id \
         WHERE r.token_hash = $1 AND r.used_at IS NULL AND r.expires_at > $2",
    )
    .bind(sha256_hex(token.trim()))
    .bind(now_ms())
    .fetch_optional(db.read())
    .await?;
    let Some(row) = row else {
        return Err(invalid());
    };
    let user_id: String = row.try_get("user_id")?;
    let email: String = row.try_get("email")?;
    if let Some(e) = check_password(new_password, &email, &["newPassword"]) {
        return Err(Error::Invalid(vec![e]));
    }
    let hash = hash_password(new_password.to_string()).await?;
    let now = now_ms();
    let mut tx = db.begin().await?;
    let used = sqlx::query(
        "UPDATE password_resets SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL",
    )
    .bind(now)
    .bind(sha256_hex(token.trim()))
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if used == 0 {
        return Err(invalid());
    }
    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(hash)
        .bind(user_id.clone())
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL")
        .bind(now)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// However many passwords arrive at once, at most one per core (and never more than
    /// [`MAX_HASHING`]) is hashed at a time, and every one is answered.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn passwords_are_hashed_a_few_at_a_time() {
        static NOW: AtomicUsize = AtomicUsize::new(0);
        static MOST: AtomicUsize = AtomicUsize::new(0);
        let tasks: Vec<_> = (0..24)
            .map(|i| {
                tokio::spawn(in_turn(move || {
                    let n = NOW.fetch_add(1, Ordering::SeqCst) + 1;
                    MOST.fetch_max(n, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(10));
                    NOW.fetch_sub(1, Ordering::SeqCst);
                    i
                }))
            })
            .collect();
        let mut done = Vec::new();
        for t in tasks {
            done.push(t.await.expect("joined").expect("hashed"));
        }
        assert_eq!(done, (0..24).collect::<Vec<_>>());
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let most = MOST.load(Ordering::SeqCst);
        assert!(
            (1..=cores.clamp(1, MAX_HASHING)).contains(&most),
            "{most} at once"
        );
    }
}
