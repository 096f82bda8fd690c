//! Crash in the middle of a checkout load: the real `choso` binary takes many concurrent
//! `placeOrder` calls (each with its own idempotency key) and is killed with SIGKILL while
//! they are in flight, then restarted on the same database. After the restart:
//! - every order a client saw confirmed exists, with exactly the lines it was placed with;
//! - every order that exists was sent by a client (no phantom), has its lines and one stock
//!   movement per line of the same quantity;
//! - each variant's stock is its initial stock minus the quantities of the orders that exist;
//! - retrying the requests that got no answer (same idempotency keys) creates each order at
//!   most once, and the invariants still hold;
//! - on SQLite, `PRAGMA integrity_check` is `ok`.
//!
//! Runs on SQLite and, with `CHOSO_TEST_POSTGRES_URL`, on a fresh PostgreSQL database (the
//! PostgreSQL half fails instead of skipping when `CI` is set).

#[path = "api/helpers.rs"]
mod helpers;

#[path = "faults_common/mod.rs"]
mod common;

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use choso_services::Backend;
use common::{
    ChildServer, PLACE, Rng, Spawn, local_id, order_input, post_gql, seed_shop, snapshot,
};
use serde_json::json;

const CLIENTS: u64 = 12;
const INITIAL_STOCK: i64 = 1_000_000;

/// What the clients saw.
#[derive(Default)]
struct Seen {
    /// Idempotency key → the lines sent.
    sent: HashMap<String, Vec<(String, i64)>>,
    /// Idempotency key → the order id the server confirmed.
    confirmed: HashMap<String, String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite() {
    crash_during_checkout(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres() {
    crash_during_checkout(Backend::Postgres).await;
}

async fn crash_during_checkout(backend: Backend) {
    let dir = common::temp_dir("crash");
    let Some((url, _pg_drop)) = helpers::fresh_database(backend, &dir).await else {
        return;
    };
    let server = ChildServer::start(&url, &dir, &Spawn::default()).await;
    let shop = seed_shop(&server.base, 4, INITIAL_STOCK).await;

    // The load: CLIENTS loops of placeOrder until the server dies.
    let seen = Arc::new(Mutex::new(Seen::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let confirmed = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let (seen, stop, confirmed) = (seen.clone(), stop.clone(), confirmed.clone());
        let (base, slug, variants) = (
            server.base.clone(),
            shop.slug.clone(),
            shop.variants.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client");
            let mut rng = Rng::new(c + 1);
            for n in 0.. {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                // 1 to 3 distinct variants, 1 to 3 of each.
                let mut lines = Vec::new();
                let first = rng.below(variants.len() as u64) as usize;
                for k in 0..=rng.below(3) as usize {
                    let v = &variants[(first + k) % variants.len()].0;
                    lines.push((v.clone(), 1 + rng.below(3) as i64));
                }
                let key = format!("c{c}-{n}");
                seen.lock()
                    .expect("lock")
                    .sent
                    .insert(key.clone(), lines.clone());
                let input = order_input(&slug, &lines, Some(&key));
                match post_gql(&client, &base, None, PLACE, json!({ "i": input })).await {
                    Ok((200, v)) => {
                        let o = &v["data"]["placeOrder"]["order"];
                        let id = o["id"]
                            .as_str()
                            .unwrap_or_else(|| panic!("placeOrder answered without an order: {v}"));
                        seen.lock()
                            .expect("lock")
                            .confirmed
                            .insert(key, local_id(id));
                        confirmed.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok((status, v)) => panic!("placeOrder answered HTTP {status}: {v}"),
                    // The server died under this request: the client does not know.
                    Err(_) => break,
                }
            }
        }));
    }

    // Kill once a good number of orders went through (or after 20 s at most).
    let start = Instant::now();
    while confirmed.load(Ordering::Relaxed) < 150 && start.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill9();
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.expect("a client task panicked");
    }
    let (sent, confirmed) = {
        let s = seen.lock().expect("lock");
        (s.sent.clone(), s.confirmed.clone())
    };
    let in_doubt: Vec<&String> = sent
        .keys()
        .filter(|k| !confirmed.contains_key(*k))
        .collect();
    assert!(
        confirmed.len() >= 20,
        "only {} orders before the kill",
        confirmed.len()
    );
    assert!(
        !in_doubt.is_empty(),
        "the kill hit no request in flight: it was not in the middle of the load"
    );
    println!(
        "{backend:?}: {} confirmed, {} in flight at the kill",
        confirmed.len(),
        in_doubt.len()
    );

    // Restart on the same database.
    let server = ChildServer::start(&url, &dir, &Spawn::default()).await;
    let snap = snapshot(&url, &shop.id).await;
    check_against_clients(&snap, &sent, &confirmed);
    snap.assert_consistent(&shop.variants);
    let before_retry = snap.orders.len();

    // The clients that got no answer retry with the same keys: one order per key, at most.
    let client = reqwest::Client::new();
    let mut retried = HashMap::new();
    for key in &in_doubt {
        let input = order_input(&shop.slug, &sent[*key], Some(key));
        let (status, v) = post_gql(&client, &server.base, None, PLACE, json!({ "i": input }))
            .await
            .expect("retry after restart");
        assert_eq!(status, 200, "{v}");
        let id = v["data"]["placeOrder"]["order"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("retry of {key} failed: {v}"));
        retried.insert((*key).clone(), local_id(id));
    }
    let snap = snapshot(&url, &shop.id).await;
    let mut all_confirmed = confirmed.clone();
    all_confirmed.extend(retried);
    check_against_clients(&snap, &sent, &all_confirmed);
    snap.assert_consistent(&shop.variants);
    assert_eq!(
        snap.orders.len(),
        all_confirmed.len(),
        "after the retries every key sent has exactly one order"
    );
    assert!(snap.orders.len() >= before_retry);
    assert!(server.panics().is_empty(), "{}", server.log());
    server.stop();

    if backend == Backend::Sqlite {
        assert_eq!(common::sqlite_integrity(&url).await, "ok");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Confirmed orders exist with their lines; every stored order was sent by a client, once.
fn check_against_clients(
    snap: &common::Snapshot,
    sent: &HashMap<String, Vec<(String, i64)>>,
    confirmed: &HashMap<String, String>,
) {
    for (key, id) in confirmed {
        let o = snap
            .orders
            .get(id)
            .unwrap_or_else(|| panic!("confirmed order {id} ({key}) is lost"));
        assert_eq!(o.key.as_deref(), Some(key.as_str()));
        let want: HashMap<String, i64> = sent[key].iter().map(|(v, q)| (local_id(v), *q)).collect();
        assert_eq!(o.lines, want, "order {id} ({key}) lost or changed lines");
    }
    let mut keys = HashSet::new();
    for o in snap.orders.values() {
        let key = o.key.as_deref().expect("every test order has a key");
        assert!(
            sent.contains_key(key),
            "order {} with key {key} was never sent",
            o.id
        );
        assert!(keys.insert(key), "two orders for key {key}");
        let want: HashMap<String, i64> = sent[key].iter().map(|(v, q)| (local_id(v), *q)).collect();
        assert_eq!(o.lines, want, "order {} ({key}) has other lines", o.id);
    }
}
