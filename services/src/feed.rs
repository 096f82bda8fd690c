//! The live order feed: "an order was placed in shop S". In one process it is a broadcast
//! channel; on PostgreSQL the event goes through `NOTIFY choso_orders` and every process's
//! listener forwards it into its own channel, so a subscriber on one node sees orders placed
//! on another.

use std::sync::Arc;

use tokio::sync::broadcast;

use crate::tenancy::ShopId;

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

    /// Parses a NOTIFY payload `shop:order`.
    pub fn parse(payload: &str) -> Option<OrderPlaced> {
        let (s, o) = payload.split_once(':')?;
        Some(OrderPlaced {
            shop_id: ShopId::new(s),
            order_id: o.to_string(),
        })
    }
}

/// Adds to a transaction's batch the NOTIFY announcing an order on PostgreSQL: sent if and
/// when the transaction commits; every process's listener, this one's included, delivers it.
pub fn publish_in(shop: &ShopId, order_id: &str, batch: &mut crate::sql_batch::Batch) {
    batch.push(
        "SELECT pg_notify($1, $2)",
        crate::args![CHANNEL, format!("{}:{}", shop.as_str(), order_id)],
    );
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
                                    if let Some(ev) = Feed::parse(n.payload()) {
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
