//! Card payments through Stripe Checkout on the shop's connected account (async-stripe).
//! INTERFACE SKELETON: bodies are being written (see the helper brief); signatures are fixed.

use crate::{
    db::Db,
    error::{Error, Result},
    orders::Order,
    shops::Shop,
    tenancy::ShopScope,
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

pub async fn start_checkout(_db: &Db, _cfg: &StripeConfig, _shop: &Shop, _order: &Order, _success_url: &str, _cancel_url: &str) -> Result<Order> {
    Err(Error::Internal("not yet".into()))
}

pub async fn refund(_db: &Db, _cfg: &StripeConfig, _scope: &ShopScope, _order_id: &str) -> Result<Order> {
    Err(Error::Internal("not yet".into()))
}

pub async fn handle_webhook(_db: &Db, _cfg: &StripeConfig, _payload: &str, _signature: &str) -> Result<WebhookOutcome> {
    Err(Error::Internal("not yet".into()))
}

pub async fn expire_overdue(_db: &Db, _cfg: &StripeConfig, _now: i64) -> Result<usize> {
    Ok(0)
}
