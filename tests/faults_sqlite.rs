//! A full disk under the SQLite server: writes answer a clear error, reads keep working,
//! writes resume by themselves once there is room again, nothing is corrupted.
//!
//! How the disk fills up: the tests run as root, and root ignores file permissions, so a
//! `chmod 0444` database stays writable; a small filesystem needs a mount. Instead the test
//! lowers the running server's `RLIMIT_FSIZE` (with `prlimit(2)`) to the size its database
//! files have now. From then on every write that would grow the database or its WAL fails
//! inside the kernel (the child ignores SIGXFSZ, as a server sees ENOSPC rather than a
//! signal on a full disk), so SQLite meets a real failing `write(2)` on the server's own
//! write path, half-way through real transactions. `PRAGMA max_page_count` would only limit
//! the test's own connection, and a `mode=ro` URL only refuses writes before they start.
//!
//! Asserted: while full, `placeOrder` answers HTTP 200 with a top-level GraphQL error of code
//! `UNAVAILABLE` (or HTTP 503), never a 500 or a panic; the GraphQL product list, the
//! storefront home page and `/readyz` still answer 200; after raising the limit again orders
//! go through without a restart; confirmed orders and stock agree
//! (`Snapshot::assert_consistent`), and `PRAGMA integrity_check` is `ok` after a clean stop.

#[path = "faults_common/mod.rs"]
mod common;

use std::time::Duration;

use common::{ChildServer, PLACE, Spawn, local_id, order_input, post_gql, seed_shop, snapshot};
use serde_json::{Value, json};

/// Sets the file-size limit of a running process (None: unlimited).
fn set_fsize_limit(pid: u32, bytes: Option<u64>) {
    let lim = libc::rlimit {
        rlim_cur: bytes.unwrap_or(libc::RLIM_INFINITY),
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: prlimit(2) with a valid rlimit and no old-value pointer.
    let rc = unsafe {
        libc::prlimit(
            pid as libc::pid_t,
            libc::RLIMIT_FSIZE,
            &lim,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(rc, 0, "prlimit: {}", std::io::Error::last_os_error());
}

fn file_len(p: &std::path::Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

/// An order's outcome: Ok(order id) or Err(the whole answer) for a clean refusal.
async fn place(
    client: &reqwest::Client,
    server: &ChildServer,
    slug: &str,
    lines: &[(String, i64)],
    key: &str,
) -> Result<String, Value> {
    let input = order_input(slug, lines, Some(key));
    let (status, v) = post_gql(client, &server.base, None, PLACE, json!({ "i": input }))
        .await
        .expect("the server answers");
    if status == 200
        && let Some(id) = v["data"]["placeOrder"]["order"]["id"].as_str()
    {
        return Ok(local_id(id));
    }
    let code = v["errors"][0]["extensions"]["code"].as_str();
    assert!(
        (status == 200 && code == Some("UNAVAILABLE")) || status == 503,
        "a write on a full disk must be refused cleanly (200 + UNAVAILABLE or 503), got HTTP {status}: {v}"
    );
    Err(v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disk_full_refuses_writes_keeps_reads_and_recovers() {
    let dir = common::temp_dir("diskfull");
    let db_file = dir.join("choso.db");
    let url = format!("sqlite://{}?mode=rwc", db_file.display());
    let server = ChildServer::start(
        &url,
        &dir,
        &Spawn {
            ignore_sigxfsz: true,
            ..Spawn::default()
        },
    )
    .await;
    let shop = seed_shop(&server.base, 3, 100_000).await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let lines = |n: usize| vec![(shop.variants[n % 3].0.clone(), 1 + (n % 2) as i64)];
    let mut confirmed: Vec<(String, String)> = Vec::new();
    for n in 0..5 {
        let key = format!("before-{n}");
        let id = place(&client, &server, &shop.slug, &lines(n), &key)
            .await
            .expect("orders go through before the disk is full");
        confirmed.push((key, id));
    }

    // The disk is full: no database file may grow any more.
    let wal = dir.join("choso.db-wal");
    let limit = file_len(&db_file).max(file_len(&wal));
    set_fsize_limit(server.pid(), Some(limit));
    let mut refusal = None;
    for n in 0..3000 {
        let key = format!("full-{n}");
        match place(&client, &server, &shop.slug, &lines(n), &key).await {
            Ok(id) => confirmed.push((key, id)),
            Err(v) => {
                refusal = Some(v);
                break;
            }
        }
    }
    let refusal = refusal.expect("writes must start failing once the files cannot grow");
    println!("refused after {} orders: {refusal}", confirmed.len());
    // Still full: every further write is refused cleanly too.
    for n in 0..5 {
        let _ = place(
            &client,
            &server,
            &shop.slug,
            &lines(n),
            &format!("still-{n}"),
        )
        .await
        .map(|id| confirmed.push((format!("still-{n}"), id)));
    }

    // Reads keep working.
    let (status, v) = post_gql(
        &client,
        &server.base,
        None,
        "query($s: String!) { shop(slug: $s) { name products(first: 10) { edges { node { title variants { stock } } } } } }",
        json!({ "s": shop.slug }),
    )
    .await
    .expect("read while full");
    assert_eq!(status, 200, "{v}");
    assert!(v.get("errors").is_none(), "{v}");
    assert_eq!(
        v["data"]["shop"]["products"]["edges"]
            .as_array()
            .map(Vec::len),
        Some(3),
        "{v}"
    );
    for path in [format!("/s/{}", shop.slug), "/readyz".to_string()] {
        let r = client.get(server.url(&path)).send().await.expect("read");
        assert_eq!(
            r.status().as_u16(),
            200,
            "GET {path} while the disk is full"
        );
    }

    // Room again: writes resume without a restart.
    set_fsize_limit(server.pid(), None);
    let mut resumed = false;
    for n in 0..20 {
        let key = format!("after-{n}");
        if let Ok(id) = place(&client, &server, &shop.slug, &lines(n), &key).await {
            confirmed.push((key, id));
            resumed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(resumed, "writes did not resume once the disk had room");
    assert!(server.panics().is_empty(), "{}", server.log());
    server.stop();

    let snap = snapshot(&url, &shop.id).await;
    for (key, id) in &confirmed {
        let o = snap
            .orders
            .get(id)
            .unwrap_or_else(|| panic!("confirmed order {id} ({key}) is lost"));
        assert_eq!(o.key.as_deref(), Some(key.as_str()));
    }
    assert_eq!(
        snap.orders.len(),
        confirmed.len(),
        "a refused order must leave nothing behind"
    );
    snap.assert_consistent(&shop.variants);
    assert_eq!(common::sqlite_integrity(&url).await, "ok");
    let _ = std::fs::remove_dir_all(&dir);
}
