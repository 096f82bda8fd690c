//! Card payments through Stripe Checkout on the shop's connected account (async-stripe).
//!
//! - [`start_checkout`] creates a Checkout Session for a card order as a direct charge on the
//!   shop's connected account (`Stripe-Account` header), in VND (a zero-decimal currency: amounts
//!   are whole đồng), and stores the session id, its address and its expiry on the order. If
//!   Stripe cannot be reached or refuses, the order is cancelled at once (its stock returns)
//!   and the customer is asked to choose another method.
//! - [`handle_webhook`] verifies `Stripe-Signature` (HMAC-SHA256 with the platform's endpoint
//!   secret, 5-minute tolerance) and handles `checkout.session.completed` (PAID, or a flag when
//!   the amount or currency is not the order's), `checkout.session.expired` (cancels a pending
//!   order, returning its stock) and `charge.refunded` (REFUNDED, or a flag for a partial
//!   refund). Other event types are answered and ignored.
//! - [`refund`] refunds a paid card order in full (members).
//! - [`expire_overdue`] cancels card orders that stayed unpaid past their deadline (a worker).
//!
//! # Trust
//! Connect delivers events of every connected account to the platform endpoint, so a signed
//! event proves only that it came from Stripe, not that it concerns the order it names: a shop
//! owner could create a session on their own account with another shop's order id in its
//! metadata. A session event is therefore applied only when its session id is the one stored on
//! the order by [`start_checkout`], and (when the event names a connected account) that account
//! is the shop's. Refund events are matched by the payment intent stored from such a session.
//!
//! # Processing each event once
//! Every applied event id is claimed in `payment_events` (primary key shop, provider, event id)
//! *before* its effect, so of two concurrent deliveries of one event only one proceeds; a
//! replay answers [`WebhookOutcome::Duplicate`] and changes nothing. The effect itself is also
//! guarded by the order's current state, so re-running it can never pay twice or cancel twice:
//! payment is recorded only while the payment is still pending (or failed after a
//! cancellation), a refund only while it is paid, and cancellation goes through
//! `orders::transition`, whose `UPDATE … WHERE status = <the status read>` lets exactly one
//! caller return the stock. If the effect fails with a fault (e.g. the database is down), the
//! claim is released again and the error is returned, so the handler answers 5xx and Stripe's
//! retry applies the event later; the state guards make that retry safe even if part of the
//! effect had already been committed.

use std::{
    collections::HashMap,
    sync::{Mutex, Once, OnceLock},
    time::Duration,
};

use sqlx::Row;
use stripe::{Client, ClientBuilder, IdempotencyKey, RequestStrategy, StripeError, StripeRequest};
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionLineItemsPriceData,
    CreateCheckoutSessionPaymentIntentData, ProductData,
};
use stripe_shared::{
    CheckoutSession, CheckoutSessionLocale, CheckoutSessionMode, CheckoutSessionPaymentStatus,
};
use stripe_types::Currency;
use stripe_webhook::{EventObject, Webhook, WebhookError};

use crate::{
    db::Db,
    error::{Error, Result},
    ids::now_ms,
    orders::{self, Order, PaymentMethod, PaymentStatus, Status},
    shops::{self, Shop},
    tenancy::{ShopId, ShopScope},
};

/// Platform Stripe settings (from `CHOSO_STRIPE_*`).
#[derive(Debug, Clone)]
pub struct StripeConfig {
    pub secret_key: String,
    pub webhook_secret: String,
    /// `CHOSO_STRIPE_API_BASE` (a local double in tests); None = Stripe itself.
    pub api_base: Option<String>,
    /// Minutes an unpaid card order waits before it is cancelled (and the session expires).
    pub expire_after_minutes: i64,
}

/// What a webhook call did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookOutcome {
    Processed(&'static str),
    Duplicate,
    Ignored,
}

/// The provider name in `payment_events`.
const PROVIDER: &str = "stripe";
/// Stripe accepts session expiries from 30 minutes to 24 hours ahead.
const MIN_EXPIRY_MINUTES: i64 = 30;
const MAX_EXPIRY_MINUTES: i64 = 24 * 60;
/// Overdue orders are cancelled this long after their session's expiry, so that a payment
/// completed in the session's last moments is reported by its webhook first.
const EXPIRY_GRACE_MS: i64 = 2 * 60 * 1000;
/// Per-attempt timeout of calls to Stripe.
const STRIPE_TIMEOUT: Duration = Duration::from_secs(20);

const SHIPPING_LINE: &str = "Phí vận chuyển";

/// Installs rustls' ring crypto provider for the process (once; a provider installed by
/// someone else is kept).
fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// Clients by (secret key, base address).
type Clients = Mutex<HashMap<(String, Option<String>), Client>>;

/// One client per (key, base address), reused across calls (it keeps a connection pool).
fn client(cfg: &StripeConfig) -> Result<Client, StripeError> {
    static CLIENTS: OnceLock<Clients> = OnceLock::new();
    let base = cfg
        .api_base
        .as_deref()
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .map(|b| {
            // The client builds "{base}v1/…": the base must end with '/'.
            if b.ends_with('/') {
                b.to_string()
            } else {
                format!("{b}/")
            }
        });
    let key = (cfg.secret_key.clone(), base.clone());
    let clients = CLIENTS.get_or_init(Default::default);
    if let Some(c) = clients.lock().ok().and_then(|m| m.get(&key).cloned()) {
        return Ok(c);
    }
    install_crypto_provider();
    let mut builder = ClientBuilder::new(cfg.secret_key.clone()).timeout(STRIPE_TIMEOUT);
    if let Some(b) = base {
        builder = builder.url(b);
    }
    let c = builder.build()?;
    if let Ok(mut m) = clients.lock() {
        m.insert(key, c.clone());
    }
    Ok(c)
}

/// A line's name on the Checkout page: "Áo dài – Đỏ / M" (the title alone for the default
/// variant of a product without options, titled "Mặc định").
fn line_name(title: &str, variant_title: &str) -> String {
    let v = variant_title.trim();
    if v.is_empty() || v == "Mặc định" || v.eq_ignore_ascii_case("default") || v == title {
        title.to_string()
    } else {
        format!("{title} – {v}")
    }
}

fn price_line(
    currency: &Currency,
    name: String,
    unit_amount: i64,
    quantity: i64,
) -> CreateCheckoutSessionLineItems {
    let mut pd = CreateCheckoutSessionLineItemsPriceData::new(currency.clone());
    pd.unit_amount = Some(unit_amount);
    pd.product_data = Some(ProductData::new(name));
    let mut li = CreateCheckoutSessionLineItems::new();
    li.price_data = Some(pd);
    li.quantity = Some(quantity.max(1) as u64);
    li
}

fn order_metadata(shop: &Shop, order: &Order) -> HashMap<String, String> {
    HashMap::from([
        ("shop_id".to_string(), shop.id.as_str().to_string()),
        ("order_id".to_string(), order.id.clone()),
        ("order_number".to_string(), order.number.to_string()),
    ])
}

/// The minutes an unpaid card order (and its session) stays open, within Stripe's limits.
fn expiry_minutes(cfg: &StripeConfig) -> i64 {
    cfg.expire_after_minutes
        .clamp(MIN_EXPIRY_MINUTES, MAX_EXPIRY_MINUTES)
}

/// Creates the Checkout Session of a card order on the shop's connected account and stores
/// its id, address and expiry on the order. On failure the order is cancelled (stock returns)
/// and a `PAYMENT_PROVIDER_ERROR` user error asks for another payment method.
pub async fn start_checkout(
    db: &Db,
    cfg: &StripeConfig,
    shop: &Shop,
    order: &Order,
    success_url: &str,
    cancel_url: &str,
) -> Result<Order> {
    if order.shop_id != shop.id || order.payment_method != PaymentMethod::Card {
        return Err(Error::Internal(format!(
            "start_checkout called for order {} that is not a card order of shop {}",
            order.id, shop.id
        )));
    }
    // A retried request for an order that already has its session gets that session.
    if order.stripe_session_id.is_some() && order.checkout_url.is_some() {
        return Ok(order.clone());
    }
    // A retry of an order whose card payment could not start: it was cancelled, say so again.
    if order.status == Status::Cancelled {
        return Err(provider_error());
    }
    if order.payment_status != PaymentStatus::Pending {
        return Ok(order.clone());
    }
    let Some(account) = shop.stripe_account_id.clone() else {
        return fail_checkout(db, order, "the shop has no Stripe account").await;
    };
    let currency = Currency::VND;
    if !order.currency.eq_ignore_ascii_case("VND") {
        return Err(Error::Internal(format!(
            "card payments are in VND; order {} is in {}",
            order.id, order.currency
        )));
    }
    let mut items: Vec<CreateCheckoutSessionLineItems> = order
        .lines
        .iter()
        .map(|l| {
            price_line(
                &currency,
                line_name(&l.title, &l.variant_title),
                l.unit_price,
                l.quantity,
            )
        })
        .collect();
    if order.shipping_fee > 0 {
        items.push(price_line(
            &currency,
            SHIPPING_LINE.to_string(),
            order.shipping_fee,
            1,
        ));
    }
    let minutes = expiry_minutes(cfg);
    let expires_at_s = now_ms() / 1000 + minutes * 60;
    let metadata = order_metadata(shop, order);
    let mut pi = CreateCheckoutSessionPaymentIntentData::new();
    pi.metadata = Some(metadata.clone());
    pi.description = Some(
        format!("{} – {}", order.display_number(), shop.name)
            .chars()
            .take(300)
            .collect(),
    );
    let mut req = CreateCheckoutSession::new()
        .mode(CheckoutSessionMode::Payment)
        .line_items(items)
        .client_reference_id(order.id.clone())
        .metadata(metadata)
        .payment_intent_data(pi)
        .expires_at(expires_at_s)
        .locale(CheckoutSessionLocale::Vi)
        .success_url(success_url)
        .cancel_url(cancel_url);
    if let Some(email) = &order.customer_email {
        req = req.customer_email(email.clone());
    }
    let sent = match client(cfg) {
        Ok(c) => {
            req.customize()
                .account_id(account.as_str().into())
                .send(&c)
                .await
        }
        Err(e) => Err(e),
    };
    let session = match sent {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, shop = %shop.id, order = %order.id, "Stripe Checkout Session could not be created");
            return fail_checkout(db, order, "card payment could not start").await;
        }
    };
    let Some(url) = session.url.clone() else {
        tracing::error!(shop = %shop.id, order = %order.id, session = %session.id, "Stripe Checkout Session has no address");
        return fail_checkout(db, order, "card payment could not start").await;
    };
    let expires_at_ms = session.expires_at.saturating_mul(1000);
    match orders::set_card_session(db, order, session.id.as_str(), &url, expires_at_ms).await {
        Ok(o) => Ok(o),
        Err(e) => {
            // Without its session stored the order could never be paid: do not leave it holding stock.
            tracing::error!(error = %e, order = %order.id, session = %session.id, "storing the Stripe session failed");
            if let Err(e2) = orders::transition(
                db,
                order,
                Status::Cancelled,
                Some("card payment could not start".into()),
                None,
            )
            .await
            {
                tracing::error!(error = %e2, order = %order.id, "cancelling the order after a failed checkout failed too");
            }
            Err(e)
        }
    }
}

/// Cancels an order whose card payment could not start, and tells the customer.
async fn fail_checkout(db: &Db, order: &Order, note: &str) -> Result<Order> {
    if let Err(e) =
        orders::transition(db, order, Status::Cancelled, Some(note.to_string()), None).await
    {
        tracing::error!(error = %e, order = %order.id, "cancelling the order after a failed checkout failed");
    }
    Err(provider_error())
}

fn provider_error() -> Error {
    Error::user(
        &["input", "paymentMethod"],
        "PAYMENT_PROVIDER_ERROR",
        "Card payment is unavailable right now; choose another method.",
    )
}

/// Refunds a paid card order in full on the shop's connected account (members).
pub async fn refund(
    db: &Db,
    cfg: &StripeConfig,
    scope: &ShopScope,
    order_id: &str,
) -> Result<Order> {
    let order = orders::for_member(db, scope, order_id).await?;
    let intent = match (
        &order.payment_method,
        &order.payment_status,
        &order.stripe_payment_intent,
    ) {
        (PaymentMethod::Card, PaymentStatus::Paid, Some(pi)) => pi.clone(),
        _ => {
            return Err(Error::user(
                &["orderId"],
                "NOT_REFUNDABLE",
                "Only a paid card order can be refunded here.",
            ));
        }
    };
    let Some(shop) = shops::get(db, &order.shop_id).await? else {
        return Err(Error::NotFound("shop"));
    };
    let Some(account) = shop.stripe_account_id.clone() else {
        return Err(Error::user(
            &["orderId"],
            "PAYMENT_PROVIDER_ERROR",
            "The shop has no Stripe account connected any more; refund the customer in the Stripe dashboard.",
        ));
    };
    let mut req = stripe_core::refund::CreateRefund::new().payment_intent(intent.clone());
    req = req.metadata(order_metadata(&shop, &order));
    // The same key for every refund of this order: Stripe answers a repeated request with the
    // refund it already made instead of refunding twice.
    let key = IdempotencyKey::new(format!("choso-refund-{}-{}", order.shop_id, order.id))
        .map_err(|e| Error::Internal(e.to_string()))?;
    let sent = match client(cfg) {
        Ok(c) => {
            req.customize()
                .account_id(account.as_str().into())
                .request_strategy(RequestStrategy::Idempotent(key))
                .send(&c)
                .await
        }
        Err(e) => Err(e),
    };
    match sent {
        Ok(r) => {
            tracing::info!(shop = %order.shop_id, order = %order.id, refund = %r.id, "card payment refunded");
            // A charge.refunded webhook may have recorded it meanwhile.
            let now = orders::get(db, &order.shop_id, &order.id)
                .await?
                .ok_or(Error::NotFound("order"))?;
            if now.payment_status != PaymentStatus::Paid {
                return Ok(now);
            }
            orders::record_payment(
                db,
                &now,
                PaymentStatus::Refunded,
                Some("refunded"),
                Some(scope.user_id()),
            )
            .await
        }
        Err(e) => {
            tracing::error!(error = %e, shop = %order.shop_id, order = %order.id, "Stripe refund failed");
            Err(Error::user(
                &["orderId"],
                "PAYMENT_PROVIDER_ERROR",
                "Stripe did not accept the refund; try again later or refund in the Stripe dashboard.",
            ))
        }
    }
}

/// The `Stripe-Signature` header Stripe would send for `payload` signed with `secret` at
/// `timestamp` (Unix seconds): for tests and tools that replay events.
pub fn signature_header(payload: &str, secret: &str, timestamp: i64) -> String {
    Webhook::generate_test_header(payload, secret, Some(timestamp))
}

/// Verifies and applies one webhook call (the raw body and its `Stripe-Signature` header).
pub async fn handle_webhook(
    db: &Db,
    cfg: &StripeConfig,
    payload: &str,
    signature: &str,
) -> Result<WebhookOutcome> {
    if cfg.webhook_secret.is_empty() {
        tracing::error!("a Stripe webhook arrived but CHOSO_STRIPE_WEBHOOK_SECRET is not set");
        return Err(Error::Unavailable);
    }
    let event = Webhook::construct_event(payload, signature, &cfg.webhook_secret).map_err(|e| {
        let why = match &e {
            WebhookError::BadTimestamp(_) => "The signature is too old.",
            WebhookError::BadParse(_) => "The event could not be read.",
            _ => "The signature does not match.",
        };
        tracing::warn!(error = %e, "Stripe webhook refused");
        Error::user(&["signature"], "INVALID_SIGNATURE", why)
    })?;
    let id = event.id.as_str().to_string();
    let account = event.account.clone();
    match event.data.object {
        EventObject::CheckoutSessionCompleted(s) => {
            session_completed(db, &id, account.as_deref(), &s).await
        }
        EventObject::CheckoutSessionExpired(s) => {
            session_expired(db, &id, account.as_deref(), &s).await
        }
        EventObject::ChargeRefunded(c) => charge_refunded(db, &id, account.as_deref(), &c).await,
        _ => {
            tracing::debug!(event = %id, kind = %event.type_.as_str(), "Stripe event ignored");
            Ok(WebhookOutcome::Ignored)
        }
    }
}

/// The order a session belongs to, if the session is the one stored on it and the event's
/// account is the shop's.
async fn order_of_session(
    db: &Db,
    account: Option<&str>,
    s: &CheckoutSession,
) -> Result<Option<Order>> {
    let meta = s.metadata.as_ref();
    let shop_id = meta.and_then(|m| m.get("shop_id")).cloned();
    let order_id = meta
        .and_then(|m| m.get("order_id"))
        .cloned()
        .or_else(|| s.client_reference_id.clone());
    let found = match (shop_id, order_id) {
        (Some(shop), Some(order)) => Some((ShopId::new(shop), order)),
        _ => by_session_id(db, s.id.as_str()).await?,
    };
    let Some((shop_id, order_id)) = found else {
        tracing::warn!(session = %s.id, "Stripe session names no order of ours");
        return Ok(None);
    };
    let Some(order) = orders::get(db, &shop_id, &order_id).await? else {
        tracing::warn!(session = %s.id, shop = %shop_id, order = %order_id, "Stripe session names an unknown order");
        return Ok(None);
    };
    if order.stripe_session_id.as_deref() != Some(s.id.as_str()) {
        tracing::warn!(session = %s.id, order = %order.id, stored = ?order.stripe_session_id, "Stripe session is not the order's session");
        return Ok(None);
    }
    if let Some(acct) = account {
        let shop = shops::get(db, &shop_id).await?;
        if shop.as_ref().and_then(|s| s.stripe_account_id.as_deref()) != Some(acct) {
            tracing::warn!(session = %s.id, order = %order.id, account = acct, "Stripe event from another account than the shop's");
            return Ok(None);
        }
    }
    Ok(Some(order))
}

async fn by_session_id(db: &Db, session_id: &str) -> Result<Option<(ShopId, String)>> {
    let row = sqlx::query("SELECT shop_id, id FROM orders WHERE stripe_session_id = $1")
        .bind(session_id.to_string())
        .fetch_optional(db.read())
        .await?;
    row.map(|r| {
        Ok((
            ShopId::new(r.try_get::<String, _>("shop_id")?),
            r.try_get("id")?,
        ))
    })
    .transpose()
}

/// Claims the event for the order; false when it was already processed.
async fn claim(
    db: &Db,
    event_id: &str,
    order: &Order,
    outcome: &str,
    amount: Option<i64>,
) -> Result<bool> {
    orders::claim_payment_event(
        db,
        &order.shop_id,
        PROVIDER,
        event_id,
        Some(&order.id),
        outcome,
        amount,
    )
    .await
}

/// Releases a claim whose effect failed, so that Stripe's retry applies the event.
async fn release(db: &Db, event_id: &str, shop: &ShopId) {
    let res = sqlx::query(
        "DELETE FROM payment_events WHERE shop_id = $1 AND provider = $2 AND event_id = $3",
    )
    .bind(shop.as_str().to_string())
    .bind(PROVIDER.to_string())
    .bind(event_id.to_string())
    .execute(db.write())
    .await;
    if let Err(e) = res {
        tracing::error!(error = %e, event = event_id, shop = %shop, "releasing a Stripe event claim failed: the event stays marked processed without its effect");
    }
}

/// Runs the effect of a claimed event; on a fault releases the claim and returns the fault.
async fn apply<F>(db: &Db, event_id: &str, order: &Order, effect: F) -> Result<WebhookOutcome>
where
    F: std::future::Future<Output = Result<&'static str>>,
{
    match effect.await {
        Ok(what) => {
            tracing::info!(event = event_id, shop = %order.shop_id, order = %order.id, outcome = what, "Stripe event processed");
            Ok(WebhookOutcome::Processed(what))
        }
        Err(e) => {
            tracing::error!(error = %e, event = event_id, order = %order.id, "applying a Stripe event failed");
            release(db, event_id, &order.shop_id).await;
            Err(e)
        }
    }
}

async fn session_completed(
    db: &Db,
    event_id: &str,
    account: Option<&str>,
    s: &CheckoutSession,
) -> Result<WebhookOutcome> {
    if s.payment_status != CheckoutSessionPaymentStatus::Paid {
        // Card payments are paid at completion; anything else has nothing to record yet.
        return Ok(WebhookOutcome::Ignored);
    }
    let Some(order) = order_of_session(db, account, s).await? else {
        return Ok(WebhookOutcome::Ignored);
    };
    let amount = s.amount_total;
    let amount_ok = amount == Some(order.total) && s.currency.as_ref() == Some(&Currency::VND);
    if !claim(
        db,
        event_id,
        &order,
        if amount_ok { "paid" } else { "amount_mismatch" },
        amount,
    )
    .await?
    {
        return Ok(WebhookOutcome::Duplicate);
    }
    let intent = s
        .payment_intent
        .as_ref()
        .map(|p| p.id().as_str().to_string());
    apply(db, event_id, &order, async {
        // Fresh state: the guard below decides, not the copy read before the claim.
        let order = orders::get(db, &order.shop_id, &order.id).await?.ok_or(Error::NotFound("order"))?;
        if let Some(pi) = &intent {
            orders::set_payment_intent(db, &order, pi).await?;
        }
        if matches!(order.payment_status, PaymentStatus::Paid | PaymentStatus::Refunded) {
            return Ok("already paid");
        }
        if !amount_ok {
            let currency = s.currency.as_ref().map(|c| c.to_string()).unwrap_or_default();
            let reason = format!(
                "Stripe reported a payment of {} {} for an order of {} {}: check it in Stripe before shipping.",
                amount.unwrap_or(0),
                currency.to_uppercase(),
                order.total,
                order.currency
            );
            orders::flag(db, &order, &reason).await?;
            return Ok("amount mismatch flagged");
        }
        orders::record_payment(db, &order, PaymentStatus::Paid, Some("paid by card (Stripe)"), None).await?;
        if order.status == Status::Cancelled {
            orders::flag(db, &order, "Paid by card after the order was cancelled: refund the customer or fulfil the order.").await?;
            return Ok("paid after cancellation flagged");
        }
        Ok("paid")
    })
    .await
}

async fn session_expired(
    db: &Db,
    event_id: &str,
    account: Option<&str>,
    s: &CheckoutSession,
) -> Result<WebhookOutcome> {
    let Some(order) = order_of_session(db, account, s).await? else {
        return Ok(WebhookOutcome::Ignored);
    };
    if !claim(db, event_id, &order, "expired", None).await? {
        return Ok(WebhookOutcome::Duplicate);
    }
    apply(db, event_id, &order, async {
        let order = orders::get(db, &order.shop_id, &order.id)
            .await?
            .ok_or(Error::NotFound("order"))?;
        cancel_unpaid(db, &order, "Stripe session expired").await
    })
    .await
}

/// Cancels a card order that is still pending and unpaid (its stock returns); a no-op for any
/// other state, including a concurrent cancellation.
async fn cancel_unpaid(db: &Db, order: &Order, note: &str) -> Result<&'static str> {
    if order.status != Status::Pending || order.payment_status != PaymentStatus::Pending {
        return Ok("nothing to cancel");
    }
    match orders::transition(db, order, Status::Cancelled, Some(note.to_string()), None).await {
        Ok(_) => Ok("cancelled"),
        // Someone else moved the order first (the guard of `transition`): nothing to do.
        Err(Error::Invalid(_)) => Ok("nothing to cancel"),
        Err(e) => Err(e),
    }
}

async fn charge_refunded(
    db: &Db,
    event_id: &str,
    account: Option<&str>,
    c: &stripe_shared::Charge,
) -> Result<WebhookOutcome> {
    let Some(intent) = c
        .payment_intent
        .as_ref()
        .map(|p| p.id().as_str().to_string())
    else {
        return Ok(WebhookOutcome::Ignored);
    };
    let found = by_payment_intent(db, &intent, account).await?;
    let Some((shop_id, order_id)) = found.into_iter().next() else {
        tracing::warn!(event = event_id, intent = %intent, "Stripe refund for a payment intent of no order");
        return Ok(WebhookOutcome::Ignored);
    };
    let Some(order) = orders::get(db, &shop_id, &order_id).await? else {
        return Ok(WebhookOutcome::Ignored);
    };
    let full = c.refunded || c.amount_refunded >= c.amount;
    if !claim(
        db,
        event_id,
        &order,
        if full {
            "refunded"
        } else {
            "partially_refunded"
        },
        Some(c.amount_refunded),
    )
    .await?
    {
        return Ok(WebhookOutcome::Duplicate);
    }
    apply(db, event_id, &order, async {
        let order = orders::get(db, &order.shop_id, &order.id)
            .await?
            .ok_or(Error::NotFound("order"))?;
        if order.payment_status != PaymentStatus::Paid {
            return Ok("nothing to refund");
        }
        if !full {
            let reason = format!(
                "Partly refunded in Stripe: {} of {} {}.",
                c.amount_refunded, c.amount, order.currency
            );
            orders::flag(db, &order, &reason).await?;
            return Ok("partial refund flagged");
        }
        orders::record_payment(
            db,
            &order,
            PaymentStatus::Refunded,
            Some("refunded in Stripe"),
            None,
        )
        .await?;
        Ok("refunded")
    })
    .await
}

/// Orders paid through a payment intent (at most one in practice). The intent came signed
/// from Stripe, so the lookup may cross shops; when the event names a connected account only
/// that account's shops are searched.
async fn by_payment_intent(
    db: &Db,
    intent: &str,
    account: Option<&str>,
) -> Result<Vec<(ShopId, String)>> {
    let rows = match account {
        Some(acct) => {
            sqlx::query(
                "SELECT o.shop_id, o.id FROM orders o JOIN shops s ON s.id = o.shop_id \
                 WHERE o.stripe_payment_intent = $1 AND s.stripe_account_id = $2",
            )
            .bind(intent.to_string())
            .bind(acct.to_string())
            .fetch_all(db.read())
            .await?
        }
        None => {
            sqlx::query("SELECT shop_id, id FROM orders WHERE stripe_payment_intent = $1")
                .bind(intent.to_string())
                .fetch_all(db.read())
                .await?
        }
    };
    rows.iter()
        .map(|r| {
            Ok((
                ShopId::new(r.try_get::<String, _>("shop_id")?),
                r.try_get("id")?,
            ))
        })
        .collect()
}

/// Cancels card orders still unpaid past their deadline (plus a short grace, so that a
/// payment made at the last moment is reported by its webhook first); returns how many.
pub async fn expire_overdue(db: &Db, _cfg: &StripeConfig, now: i64) -> Result<usize> {
    let due = orders::expired_card_orders(db, now - EXPIRY_GRACE_MS, 100).await?;
    let mut cancelled = 0;
    for (shop, id) in due {
        let Some(order) = orders::get(db, &shop, &id).await? else {
            continue;
        };
        if order.payment_method != PaymentMethod::Card {
            continue;
        }
        if cancel_unpaid(db, &order, "card payment not completed in time").await? == "cancelled" {
            tracing::info!(shop = %shop, order = %id, "unpaid card order cancelled");
            cancelled += 1;
        }
    }
    Ok(cancelled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_names() {
        assert_eq!(line_name("Áo dài", "Đỏ, M"), "Áo dài – Đỏ, M");
        assert_eq!(line_name("Áo dài", ""), "Áo dài");
        assert_eq!(line_name("Áo dài", "Mặc định"), "Áo dài");
    }

    #[test]
    fn expiry_is_within_stripe_limits() {
        let cfg = |m| StripeConfig {
            secret_key: "sk".into(),
            webhook_secret: "wh".into(),
            api_base: None,
            expire_after_minutes: m,
        };
        assert_eq!(expiry_minutes(&cfg(5)), 30);
        assert_eq!(expiry_minutes(&cfg(60)), 60);
        assert_eq!(expiry_minutes(&cfg(100_000)), 24 * 60);
    }

    #[test]
    fn signatures_verify_and_expire() {
        let payload = r#"{"id":"evt_1","object":"event","created":1,"livemode":false,"pending_webhooks":0,"type":"x.unknown","data":{"object":{}}}"#;
        let now = now_ms() / 1000;
        let ok = signature_header(payload, "whsec_x", now);
        assert!(Webhook::construct_event(payload, &ok, "whsec_x").is_ok());
        assert!(matches!(
            Webhook::construct_event(payload, &ok, "whsec_y"),
            Err(WebhookError::BadSignature)
        ));
        let old = signature_header(payload, "whsec_x", now - 301);
        assert!(matches!(
            Webhook::construct_event(payload, &old, "whsec_x"),
            Err(WebhookError::BadTimestamp(_))
        ));
    }
}
