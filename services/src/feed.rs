//! The live order feed: "an order was placed in shop S". In one process it is a broadcast
//! channel; on PostgreSQL the event also goes through `NOTIFY choso_orders` and every other
//! process's listener forwards it into its own channel, so a subscriber on one node sees
//! orders placed on another.

use std::sync::Arc;

use tokio::sync::broadcast;

use crate::{
    db::{Backend, Db},
    tenancy::ShopId,
};

pub const CHANNEL: &str = "choso_orders";

/// An order was placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderPlaced {
    pub shop_id: ShopId,
    pub order_id: String,
}

/// The process-wide feed (held by [`Db`](crate::Db)).
#[derive(Debug, Clone)]
pub struct Feed {
    tx: Arc<broadcast::Sender<OrderPlaced>>,
}

impl Default for Feed {
    fn default() -> Self {
        Feed {
            tx: Arc::new(broadcast::channel(1024).0),
        }
    }
}

impl Feed {
    pub fn subscribe(&self) -> broadcast::Receiver<OrderPlaced> {
        self.tx.subscribe()
    }

    /// Delivers to this process's subscribers.
    pub fn deliver(&self, ev: OrderPlaced) {
        let _ = self.tx.send(ev);
    }

    /// Parses a NOTIFY payload `node shop:order` ([`order_committed`]'s) into the process
    /// that sent it and the order.
    pub fn parse(payload: &str) -> Option<(&str, OrderPlaced)> {
        let (node, rest) = payload.split_once(' ')?;
        let (s, o) = rest.split_once(':')?;
        Some((
            node,
            OrderPlaced {
                shop_id: ShopId::new(s),
                order_id: o.to_string(),
            },
        ))
    }
}

/// After an order committed: this process's subscribers hear of it at once and, on
/// PostgreSQL, the other processes hear of it and of its shop's new stock through two
/// NOTIFYs sent after the commit, in a statement of their own (the order's answer does not
/// wait for it).
///
/// Not in the order's transaction: a transaction that has notified takes PostgreSQL's
/// cluster-wide notification lock when it commits and holds it through its WAL flush, so
/// orders committed one at a time, every shop's behind every other's (`benches/README.md`,
/// session 10). The price: a process that dies between an order's commit and this NOTIFY
/// leaves the other processes unaware of that order — their caches show that shop's stock
/// as it was until its next change, their live feeds miss the order (a reload lists it);
/// the order itself, its stock and its emails are committed.
pub fn order_committed(db: &Db, shop: &ShopId, order_id: &str) {
    db.feed().deliver(OrderPlaced {
        shop_id: shop.clone(),
        order_id: order_id.to_string(),
    });
    if db.backend() != Backend::Postgres {
        return;
    }
    let Ok(rt) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let versions = db.versions();
    let order = format!("{} {}:{order_id}", versions.node(), shop.as_str());
    let stock = versions.stock_payload(shop.as_str());
    let pool = db.write().clone();
    rt.spawn(async move {
        // Notifications are not durable (a listener hears them only while connected), so
        // their transaction need not wait for its commit record to reach the disk.
        let sent = sqlx::query(
            "SELECT set_config('synchronous_commit', 'off', true), pg_notify($1, $2), pg_notify($3, $4)",
        )
        .bind(crate::versions::CHANNEL)
        .bind(stock)
        .bind(CHANNEL)
        .bind(order)
        .execute(&pool)
        .await;
        if let Err(e) = sent {
            tracing::warn!(error = %e, "NOTIFY of a placed order failed");
        }
    });
}

/// On PostgreSQL: listens for `choso_orders` and forwards into this process's feed,
/// reconnecting after errors. Runs until the process ends.
pub fn spawn_listener(
    url: String,
    feed: Feed,
    versions: crate::versions::Versions,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match sqlx::postgres::PgListener::connect(&url).await {
                Ok(mut l) => {
                    if let Err(e) = l.listen_all([CHANNEL, crate::versions::CHANNEL]).await {
                        tracing::warn!(error = %e, "LISTEN failed");
                    } else {
                        // Shop changes announced while we were not listening are lost.
                        versions.bump_all();
                        loop {
                            match l.recv().await {
                                Ok(n) if n.channel() == crate::versions::CHANNEL => {
                                    versions.apply_notification(n.payload());
                                }
                                Ok(n) => {
                                    // This process delivered its own orders already.
                                    if let Some((node, ev)) = Feed::parse(n.payload())
                                        && node != versions.node()
                                    {
                                        feed.deliver(ev);
                                    }
                                }
                                Err(e) => {
                                    tracing::warn!(error = %e, "order feed listener lost its connection");
                                    break;
                                }
                            }
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "order feed listener cannot connect"),
            }
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
    })
}
