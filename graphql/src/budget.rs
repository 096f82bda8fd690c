//! Fairness between tenants: every shop's GraphQL traffic draws from a leaky bucket of cost
//! units, so one shop's heavy traffic cannot starve the others. A request that reaches a shop
//! (`shop(slug:)`, `placeOrder`, any member action) is admitted while the shop's bucket is not
//! over its capacity, and refused with `THROTTLED` and a retry delay otherwise; after it runs,
//! its actual cost (the number of values it returned, see [`crate::cost`]) is added to the
//! bucket of every shop it touched. Buckets drain at a constant rate.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Instant,
};

use async_graphql::Context;
use choso_services::Error;

/// How big a shop's bucket is and how fast it drains.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BudgetConfig {
    /// Units a shop may be ahead by (bursts).
    pub capacity: f64,
    /// Units drained per second (the sustained rate).
    pub per_second: f64,
}

impl Default for BudgetConfig {
    fn default() -> Self {
        BudgetConfig {
            capacity: 200_000.0,
            per_second: 100_000.0,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    level: f64,
    at: Instant,
}

/// The buckets of every shop this process serves.
#[derive(Debug)]
pub struct Budget {
    config: BudgetConfig,
    shops: Mutex<HashMap<String, Bucket>>,
}

/// Drained buckets are forgotten once this many shops are tracked.
const PRUNE_AT: usize = 50_000;

impl Budget {
    pub fn new(config: BudgetConfig) -> Arc<Budget> {
        Arc::new(Budget {
            config,
            shops: Mutex::new(HashMap::new()),
        })
    }

    fn drained(&self, b: Bucket, now: Instant) -> Bucket {
        let secs = now.saturating_duration_since(b.at).as_secs_f64();
        Bucket {
            level: (b.level - secs * self.config.per_second).max(0.0),
            at: now,
        }
    }

    /// Units left before the shop is throttled (negative: over capacity).
    pub fn left(&self, shop: &str) -> f64 {
        let now = Instant::now();
        let level = self
            .shops
            .lock()
            .ok()
            .and_then(|m| m.get(shop).copied())
            .map(|b| self.drained(b, now).level)
            .unwrap_or(0.0);
        self.config.capacity - level
    }

    /// Admits a request for the shop, or says how many seconds to wait.
    pub fn admit(&self, shop: &str) -> Result<(), u64> {
        let left = self.left(shop);
        if left >= 0.0 {
            Ok(())
        } else {
            Err(((-left) / self.config.per_second).ceil().max(1.0) as u64)
        }
    }

    /// Adds a request's cost to the shop's bucket; returns the units left.
    pub fn charge(&self, shop: &str, cost: f64) -> f64 {
        let now = Instant::now();
        let Ok(mut m) = self.shops.lock() else {
            return self.config.capacity;
        };
        if m.len() >= PRUNE_AT {
            let cfg = self.config;
            m.retain(|_, b| {
                b.level - now.saturating_duration_since(b.at).as_secs_f64() * cfg.per_second > 0.0
            });
        }
        let b = m.entry(shop.to_string()).or_insert(Bucket {
            level: 0.0,
            at: now,
        });
        *b = self.drained(*b, now);
        b.level += cost.max(0.0);
        self.config.capacity - b.level
    }
}

/// Admits the request for a shop it is about to reach (`THROTTLED` with a retry delay when the
/// shop's bucket is over capacity) and records the shop for charging and caching.
pub fn admit(ctx: &Context<'_>, shop_id: &str) -> Result<(), Error> {
    if let Some(b) = ctx.data_opt::<Arc<Budget>>() {
        b.admit(shop_id).map_err(Error::Throttled)?;
    }
    crate::context::touched(ctx, shop_id);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_fill_drain_and_stay_apart() {
        let b = Budget::new(BudgetConfig {
            capacity: 100.0,
            per_second: 10.0,
        });
        assert_eq!(b.admit("a"), Ok(()));
        assert!(b.charge("a", 150.0) < 0.0);
        let wait = b.admit("a").expect_err("over capacity");
        assert!((5..=6).contains(&wait), "{wait}");
        assert_eq!(b.admit("b"), Ok(()), "another shop is not affected");
        assert!((b.left("b") - 100.0).abs() < f64::EPSILON);
    }
}
