//! Transactional email through an outbox. Services write a row (kind, recipient, data) in
//! the same transaction as the event that causes the email, so no email is promised for an
//! event that did not happen and none is lost for one that did. A worker ([`deliver_due`])
//! renders the minijinja templates in `themes/email/` (HTML and a plain-text alternative,
//! in the shop's language) and sends with lettre's async SMTP transport, retrying with
//! exponential backoff; after the last attempt the message is `failed` until an admin
//! retries it. Without SMTP the messages are written as `.eml` files.

use std::{path::PathBuf, sync::Arc};

use futures_util::StreamExt;
use include_dir::{Dir, include_dir};
use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Mailbox, MultiPart},
    transport::smtp::PoolConfig,
};
use serde_json::{Value, json};
use sqlx::Row;

use crate::{
    db::{Backend, Db, Tx},
    error::{Error, Result},
    ids::{new_id, now_ms, rfc3339},
    shops::Shop,
    sql_batch::Batch,
    text::format_vnd,
};

static TEMPLATES: Dir = include_dir!("$CARGO_MANIFEST_DIR/../themes/email");

/// Attempts before a message is left `failed`.
/// Messages claimed at a time.
const BATCH: i64 = 64;
/// Messages being sent at once (and the most SMTP connections kept open).
pub const IN_FLIGHT: usize = 16;
pub const MAX_ATTEMPTS: i64 = 8;
/// How long a claimed message is reserved for the worker that claimed it.
const LEASE_MS: i64 = 60_000;

/// Where mail goes.
#[derive(Clone)]
pub enum Mailer {
    Smtp(Arc<AsyncSmtpTransport<Tokio1Executor>>),
    /// `.eml` files in this folder (no SMTP configured).
    Files(PathBuf),
}

/// Mail settings of the process.
#[derive(Clone)]
pub struct MailConfig {
    pub mailer: Mailer,
    /// The address mail is sent from, e.g. `no-reply@choso.vn`.
    pub from: String,
    /// The public base address for links.
    pub base_url: String,
    /// First retry delay; each further attempt waits twice as long (capped at an hour).
    pub retry_base_ms: i64,
}

impl MailConfig {
    /// From `CHOSO_SMTP_URL` (`smtp://user:pass@host:587?tls=required`, `smtps://…`), or
    /// files under `{data_dir}/mail/` when it is unset.
    pub fn new(
        smtp_url: Option<&str>,
        from: &str,
        data_dir: &std::path::Path,
        base_url: &str,
    ) -> Result<MailConfig> {
        let mailer = match smtp_url.filter(|u| !u.is_empty()) {
            Some(url) => Mailer::Smtp(Arc::new(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| Error::Internal(format!("CHOSO_SMTP_URL: {e}")))?
                    .timeout(Some(std::time::Duration::from_secs(20)))
                    .pool_config(PoolConfig::new().max_size(IN_FLIGHT as u32))
                    .build(),
            )),
            None => Mailer::Files(data_dir.join("mail")),
        };
        Ok(MailConfig {
            mailer,
            from: from.to_string(),
            base_url: base_url.trim_end_matches('/').to_string(),
            retry_base_ms: 5_000,
        })
    }
}

/// Writes one message into the outbox, inside the caller's transaction.
pub async fn enqueue(
    tx: &mut Tx,
    shop: Option<&str>,
    kind: &str,
    recipient: &str,
    payload: &Value,
) -> Result<()> {
    let mut b = Batch::new();
    enqueue_in(&mut b, shop, kind, recipient, payload);
    b.run(tx).await?;
    Ok(())
}

/// [`enqueue`] as a statement of a batch.
pub(crate) fn enqueue_in(
    b: &mut Batch,
    shop: Option<&str>,
    kind: &str,
    recipient: &str,
    payload: &Value,
) {
    enqueue_many_in(b, shop, &[(kind, recipient)], payload);
}

/// Several messages with the same data (kind, recipient each), as one statement of a batch.
pub(crate) fn enqueue_many_in(
    b: &mut Batch,
    shop: Option<&str>,
    messages: &[(&str, &str)],
    payload: &Value,
) {
    let (payload, now) = (payload.to_string(), now_ms());
    b.push_values(
        "INSERT INTO outbox (id, shop_id, kind, recipient, payload, status, attempts, next_attempt_at, created_at)",
        "($1, $2, $3, $4, $5, 'pending', 0, $6, $6)",
        messages
            .iter()
            .map(|(kind, to)| crate::args![new_id(), shop, *kind, *to, payload.clone(), now])
            .collect(),
    );
}

/// What every message from a shop carries.
fn shop_part(shop: &Shop) -> Value {
    json!({
        "shop_name": shop.name,
        "lang": if shop.language == "en" { "en" } else { "vi" },
        "color": shop.primary_color.clone().unwrap_or_else(|| "#8a3b12".into()),
        "reply_to": shop.email,
        "slug": shop.slug,
    })
}

fn merge(mut a: Value, b: Value) -> Value {
    if let (Some(a), Value::Object(b)) = (a.as_object_mut(), b) {
        a.extend(b);
    }
    a
}

/// The data of an order for its emails.
#[allow(clippy::too_many_arguments)]
pub fn order_data(
    shop: &Shop,
    number: i64,
    customer_name: &str,
    lines: &[(String, String, i64, i64)],
    shipping: i64,
    total: i64,
    method: &str,
    transfer_note: Option<String>,
) -> Value {
    merge(
        shop_part(shop),
        json!({
            "number": format!("#{number}"),
            "number_plain": number,
            "customer_name": customer_name,
            "lines": lines.iter().map(|(t, v, q, tot)| json!({ "title": t, "variant_title": v, "quantity": q, "total": format_vnd(*tot) })).collect::<Vec<_>>(),
            "shipping": format_vnd(shipping),
            "total": format_vnd(total),
            "payment_method": method,
            "transfer_note": transfer_note,
        }),
    )
}

/// Emails for a new order, as statements of the order's batch: the customer's confirmation
/// (when an email was given) and a notice to each member (`members`, read with
/// [`MEMBER_EMAILS`] in the same transaction).
pub(crate) fn order_placed(
    b: &mut Batch,
    shop: &Shop,
    customer_email: Option<&str>,
    members: &[String],
    data: &Value,
) {
    let messages: Vec<(&str, &str)> = customer_email
        .map(|to| ("order_confirmation", to))
        .into_iter()
        .chain(members.iter().map(|email| ("new_order", email.as_str())))
        .collect();
    enqueue_many_in(b, Some(shop.id.as_str()), &messages, data);
}

/// The statement reading who [`order_placed`] tells of a new order: the shop's members,
/// `email` in each row.
pub(crate) const MEMBER_EMAILS: &str = "SELECT u.email FROM shop_members m JOIN users u ON u.id = m.user_id \
    WHERE m.shop_id = $1 ORDER BY u.email";

/// The customer's email about a status change.
pub async fn status_changed(tx: &mut Tx, shop: &Shop, to: &str, data: Value) -> Result<()> {
    enqueue(
        tx,
        Some(shop.id.as_str()),
        "status_changed",
        to,
        &merge(shop_part(shop), data),
    )
    .await
}

/// The email telling someone they were added to a shop.
pub async fn staff_invite(
    tx: &mut Tx,
    shop: &Shop,
    to: &str,
    inviter: &str,
    role: &str,
) -> Result<()> {
    let data = merge(shop_part(shop), json!({ "inviter": inviter, "role": role }));
    enqueue(tx, Some(shop.id.as_str()), "staff_invite", to, &data).await
}

/// The password reset email (platform-level, Vietnamese and English).
pub async fn password_reset(tx: &mut Tx, to: &str, token: &str) -> Result<()> {
    let data = json!({ "shop_name": "Choso", "lang": "vi", "color": "#8a3b12", "token": token });
    enqueue(tx, None, "password_reset", to, &data).await
}

fn status_label(lang: &str, s: &str) -> &'static str {
    match (s, lang == "en") {
        ("CONFIRMED", false) => "đã được xác nhận",
        ("SHIPPED", false) => "đang được giao",
        ("DELIVERED", false) => "đã giao thành công",
        ("CANCELLED", false) => "đã bị huỷ",
        ("CONFIRMED", true) => "confirmed",
        ("SHIPPED", true) => "on its way",
        ("DELIVERED", true) => "delivered",
        ("CANCELLED", true) => "cancelled",
        _ => "",
    }
}

fn next_steps(lang: &str, method: &str) -> &'static str {
    match (method, lang == "en") {
        ("COD", false) => {
            "Cửa hàng sẽ gọi điện xác nhận và giao hàng. Bạn trả tiền mặt khi nhận hàng."
        }
        ("BANK_TRANSFER", false) => {
            "Vui lòng chuyển khoản đúng số tiền với nội dung bên dưới. Đơn được xác nhận khi cửa hàng nhận được tiền."
        }
        ("CARD", false) => "Khi Stripe xác nhận thanh toán, cửa hàng sẽ chuẩn bị đơn hàng.",
        ("COD", true) => "The shop will call to confirm and deliver. You pay in cash on delivery.",
        ("BANK_TRANSFER", true) => {
            "Please transfer the exact amount with the note below. The order is confirmed when the money arrives."
        }
        ("CARD", true) => "Once Stripe confirms the payment, the shop prepares your order.",
        _ => "",
    }
}

/// The email templates, compiled once.
fn templates() -> &'static minijinja::Environment<'static> {
    static ENV: std::sync::OnceLock<minijinja::Environment<'static>> = std::sync::OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = minijinja::Environment::new();
        env.set_loader(|name| {
            Ok(TEMPLATES
                .get_file(name)
                .and_then(|f| f.contents_utf8())
                .map(str::to_string))
        });
        env
    })
}

/// Subject, text and HTML of a message.
pub fn render(kind: &str, data: &Value, base_url: &str) -> Result<(String, String, String)> {
    let lang = data["lang"].as_str().unwrap_or("vi").to_string();
    let en = lang == "en";
    let shop = data["shop_name"].as_str().unwrap_or("Choso");
    let number = data["number"].as_str().unwrap_or("");
    let slug = data["slug"].as_str().unwrap_or("");
    let mut extra = json!({
        "track_url": format!("{base_url}/s/{slug}/track?number={}", data["number_plain"]),
        "console_url": format!("{base_url}/console"),
        "next_steps": next_steps(&lang, data["payment_method"].as_str().unwrap_or("")),
        "status_label": status_label(&lang, data["status"].as_str().unwrap_or("")),
        "reset_url": format!("{base_url}/console/reset?token={}", data["token"].as_str().unwrap_or("")),
    });
    let subject = match (kind, en) {
        ("order_confirmation", false) => format!("Xác nhận đơn hàng {number} – {shop}"),
        ("order_confirmation", true) => format!("Order {number} confirmed – {shop}"),
        ("new_order", false) => format!(
            "Đơn hàng mới {number} – {}",
            data["total"].as_str().unwrap_or("")
        ),
        ("new_order", true) => format!(
            "New order {number} – {}",
            data["total"].as_str().unwrap_or("")
        ),
        ("status_changed", false) => format!(
            "Đơn hàng {number} {}",
            extra["status_label"].as_str().unwrap_or("")
        ),
        ("status_changed", true) => format!(
            "Order {number} is {}",
            extra["status_label"].as_str().unwrap_or("")
        ),
        ("staff_invite", false) => format!("Bạn được thêm vào cửa hàng {shop}"),
        ("staff_invite", true) => format!("You were added to {shop}"),
        ("password_reset", _) => "Đặt lại mật khẩu Choso / Reset your Choso password".to_string(),
        _ => return Err(Error::Internal(format!("unknown email kind {kind}"))),
    };
    extra["subject"] = json!(subject);
    let ctx = merge(data.clone(), extra);
    let env = templates();
    let value = minijinja::Value::from(minijinja::value::Serde(&ctx));
    let render = |name: String| -> Result<String> {
        env.get_template(&name)
            .and_then(|t| t.render(value.clone()))
            .map_err(|e| Error::Internal(format!("email template {name}: {e}")))
    };
    Ok((
        subject,
        render(format!("{kind}.txt"))?,
        render(format!("{kind}.html"))?,
    ))
}

/// A header-safe display name: no control characters, bounded length.
fn header_safe(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(100).collect()
}

/// Builds the MIME message.
pub fn build(
    cfg: &MailConfig,
    id: &str,
    to: &str,
    data: &Value,
    subject: &str,
    text: String,
    html: String,
) -> Result<Message> {
    let shop = data["shop_name"].as_str().unwrap_or("Choso");
    let from_name = if shop == "Choso" {
        "Choso".to_string()
    } else {
        format!("{} via Choso", header_safe(shop))
    };
    let from: Mailbox = Mailbox::new(
        Some(from_name),
        cfg.from
            .parse()
            .map_err(|e| Error::Internal(format!("CHOSO_MAIL_FROM: {e}")))?,
    );
    let to: Mailbox = to
        .parse()
        .map_err(|e| Error::Internal(format!("bad recipient {to}: {e}")))?;
    let domain = cfg.from.rsplit('@').next().unwrap_or("choso.local");
    let mut b = Message::builder()
        .from(from)
        .to(to)
        .subject(header_safe(subject))
        .date_now()
        .message_id(Some(format!("<{}@{domain}>", id.to_lowercase())));
    if let Some(reply) = data["reply_to"].as_str()
        && let Ok(r) = reply.parse::<Mailbox>()
    {
        b = b.reply_to(r);
    }
    b.multipart(MultiPart::alternative_plain_html(text, html))
        .map_err(|e| Error::Internal(format!("email: {e}")))
}

async fn send(cfg: &MailConfig, id: &str, msg: Message) -> std::result::Result<(), String> {
    match &cfg.mailer {
        Mailer::Smtp(t) => t.send(msg).await.map(|_| ()).map_err(|e| e.to_string()),
        Mailer::Files(dir) => {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| e.to_string())?;
            tokio::fs::write(
                dir.join(format!("{}.eml", id.to_lowercase())),
                msg.formatted(),
            )
            .await
            .map_err(|e| e.to_string())
        }
    }
}

/// Claims due messages (leased for a minute, so several nodes never send one twice at once)
/// with one statement.
async fn claim(
    db: &Db,
    now: i64,
    limit: i64,
) -> Result<Vec<(String, String, String, String, i64)>> {
    let lock = match db.backend() {
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let sql = format!(
        "UPDATE outbox SET next_attempt_at = $3 WHERE id IN (SELECT id FROM outbox WHERE status = 'pending' \
         AND next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT $2{lock}) \
         RETURNING id, kind, recipient, payload, attempts, created_at"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(now)
        .bind(limit)
        .bind(now + LEASE_MS)
        .fetch_all(db.write())
        .await?;
    let mut out = Vec::new();
    for r in rows {
        out.push((
            r.try_get::<i64, _>("created_at")?,
            (
                r.try_get("id")?,
                r.try_get("kind")?,
                r.try_get("recipient")?,
                r.try_get("payload")?,
                r.try_get("attempts")?,
            ),
        ));
    }
    // Oldest first, as they were queued.
    out.sort_by(|a, b| (a.0, &a.1.0).cmp(&(b.0, &b.1.0)));
    Ok(out.into_iter().map(|(_, m)| m).collect())
}

/// Sends what is due, [`IN_FLIGHT`] messages at a time; returns (sent, failed attempts).
pub async fn deliver_due(db: &Db, cfg: &MailConfig) -> Result<(usize, usize)> {
    let now = now_ms();
    let (mut sent, mut failed) = (0, 0);
    let mut delivered = Vec::new();
    let claimed = claim(db, now, BATCH).await?;
    // Each message is rendered and sent on its own; up to IN_FLIGHT of them wait on the
    // SMTP server at once (one after another, a relay's round trips cap a worker at a few
    // dozen messages a second, far below what the shops can order).
    let outcomes: Vec<_> = futures_util::stream::iter(claimed.into_iter().map(
        |(id, kind, to, payload, attempts)| async move {
            let data: Value = serde_json::from_str(&payload).unwrap_or_default();
            let outcome = match render(&kind, &data, &cfg.base_url)
                .and_then(|(s, t, h)| build(cfg, &id, &to, &data, &s, t, h))
            {
                Ok(msg) => send(cfg, &id, msg).await,
                Err(e) => Err(e.to_string()),
            };
            (id, attempts, outcome)
        },
    ))
    .buffer_unordered(IN_FLIGHT)
    .collect()
    .await;
    let mut not_sent = Vec::new();
    for (id, attempts, outcome) in outcomes {
        match outcome {
            Ok(()) => delivered.push(id),
            Err(e) => not_sent.push((id, attempts, e)),
        }
    }
    // What was sent is marked first, so no failure below can have it sent twice.
    mark_sent(db, &delivered).await?;
    sent += delivered.len();
    for (id, attempts, e) in not_sent {
        let attempts = attempts + 1;
        let status = if attempts >= MAX_ATTEMPTS {
            "failed"
        } else {
            "pending"
        };
        let delay = (cfg.retry_base_ms << attempts.min(10)).min(3_600_000);
        tracing::warn!(email = %id, attempts, error = %e, "email not sent");
        sqlx::query("UPDATE outbox SET status = $1, attempts = $2, next_attempt_at = $3, last_error = $4 WHERE id = $5")
            .bind(status.to_string())
            .bind(attempts)
            .bind(now_ms() + delay)
            .bind(e.chars().take(500).collect::<String>())
            .bind(id)
            .execute(db.write())
            .await?;
        failed += 1;
    }
    Ok((sent, failed))
}

/// Marks messages sent, with one statement.
async fn mark_sent(db: &Db, ids: &[String]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "UPDATE outbox SET status = 'sent', sent_at = $1, attempts = attempts + 1 WHERE id IN ({})",
        crate::db::placeholders(1, ids.len())
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now_ms());
    for id in ids {
        q = q.bind(id.clone());
    }
    q.execute(db.write()).await?;
    Ok(())
}

/// A message as admins see it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OutboxEntry {
    pub id: String,
    pub kind: String,
    pub recipient: String,
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: String,
}

/// Messages that gave up (admins).
pub async fn failed(db: &Db, limit: i64) -> Result<Vec<OutboxEntry>> {
    let rows = sqlx::query(
        "SELECT id, kind, recipient, status, attempts, last_error, created_at FROM outbox WHERE status = 'failed' ORDER BY created_at DESC LIMIT $1",
    )
    .bind(limit.clamp(1, 500))
    .fetch_all(db.read())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(OutboxEntry {
                id: r.try_get("id")?,
                kind: r.try_get("kind")?,
                recipient: r.try_get("recipient")?,
                status: r.try_get("status")?,
                attempts: r.try_get("attempts")?,
                last_error: r.try_get("last_error")?,
                created_at: rfc3339(r.try_get("created_at")?),
            })
        })
        .collect()
}

/// Puts a failed message back in the queue (admins).
pub async fn retry(db: &Db, id: &str) -> Result<()> {
    let n = sqlx::query("UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = $1 WHERE id = $2 AND status = 'failed'")
        .bind(now_ms())
        .bind(id.to_string())
        .execute(db.write())
        .await?
        .rows_affected();
    if n == 0 {
        return Err(Error::user(
            &["id"],
            "NOT_FAILED",
            "No failed message has this id.",
        ));
    }
    Ok(())
}
