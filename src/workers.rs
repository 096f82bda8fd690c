//! Background workers started with the server: delivering the email outbox, expiring unpaid
//! card orders. (They stop when
//! the server stops; on many nodes each runs them, and their effects are conditional updates,
//! so running twice changes nothing.)

use std::{sync::Arc, time::Duration};

use choso_services::{Db, ids::now_ms, notify::MailConfig, stripe::StripeConfig};
use tokio::{sync::watch, task::JoinHandle};

/// How often unpaid card orders are checked.
pub const EXPIRY_EVERY: Duration = Duration::from_secs(30);

/// Starts the workers. They stop between two batches once `stop` turns true, so a graceful
/// shutdown never interrupts a message between its claim and its outcome.
pub fn spawn(
    db: Db,
    stripe: Option<Arc<StripeConfig>>,
    mail: MailConfig,
    mail_poll: Duration,
    stop: watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    let mut out = Vec::new();
    let mail_db = db.clone();
    let mut mail_stop = stop.clone();
    out.push(tokio::spawn(async move {
        let mut tick = tokio::time::interval(mail_poll);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = mail_stop.changed() => return,
            }
            if *mail_stop.borrow() {
                return;
            }
            // Drain what is due, then wait for the next tick.
            loop {
                match choso_services::notify::deliver_due(&mail_db, &mail).await {
                    Ok((sent, 0)) if sent > 0 => continue,
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "email worker failed");
                        break;
                    }
                }
            }
        }
    }));
    if let Some(cfg) = stripe {
        let mut stop = stop;
        out.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(EXPIRY_EVERY);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stop.changed() => return,
                }
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
