//! Background workers started with the server: expiring unpaid card orders. (They stop when
//! the server stops; on many nodes each runs them, and their effects are conditional updates,
//! so running twice changes nothing.)

use std::{sync::Arc, time::Duration};

use choso_services::{Db, ids::now_ms, stripe::StripeConfig};
use tokio::task::JoinHandle;

/// How often unpaid card orders are checked.
pub const EXPIRY_EVERY: Duration = Duration::from_secs(30);

pub fn spawn(db: Db, stripe: Option<Arc<StripeConfig>>) -> Vec<JoinHandle<()>> {
    let mut out = Vec::new();
    if let Some(cfg) = stripe {
        out.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(EXPIRY_EVERY);
            loop {
                tick.tick().await;
                match choso_services::stripe::expire_overdue(&db, &cfg, now_ms()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(cancelled = n, "expired unpaid card orders"),
                    Err(e) => tracing::warn!(error = %e, "card order expiry failed"),
                }
            }
        }));
    }
    out
}
