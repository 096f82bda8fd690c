//! PostgreSQL restarts under load: the real `choso` binary serves reads (`shop { products }`)
//! and checkouts (`placeOrder`) from six clients while PostgreSQL is restarted (`pg_ctl
//! restart -m fast`: connections are terminated, new ones refused for a moment). Asserted:
//! - every answer is either a success, or a clean refusal: HTTP 200 with a top-level GraphQL
//!   error of code `UNAVAILABLE`, or HTTP 503; never a 500, another error code, a dropped
//!   connection or a hang (each request has a 20 s client timeout);
//! - the outage was really hit (at least one refusal), and afterwards reads and writes
//!   succeed again and `/readyz` is 200 with no restart of choso (the pool reconnects);
//! - confirmed orders exist, and orders, stock movements and stock agree;
//! - the server never panicked.
//!
//! The PostgreSQL restarted is a throwaway cluster made for this test (`initdb` into a temp
//! folder, run as the `postgres` user on a free port) from the same PostgreSQL binaries as
//! the shared server: restarting the shared server (`pg_ctlcluster … restart`) would also
//! break whatever else uses it at that moment (other test processes on the machine). Without
//! the binaries the test is skipped with a message, unless `CI` is set, where it fails.

#[path = "faults_common/mod.rs"]
mod common;

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use common::{ChildServer, PLACE, Spawn, local_id, order_input, post_gql, seed_shop, snapshot};
use serde_json::json;

/// A private PostgreSQL cluster, stopped and removed on drop.
struct Cluster {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
}

fn pg_bin() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|b| b.join("initdb").exists() && b.join("pg_ctl").exists())
        .collect();
    versions.sort();
    versions.pop()
}

fn as_postgres(bin: &Path, tool: &str, args: &[&str]) -> bool {
    Command::new("runuser")
        .args(["-u", "postgres", "--"])
        .arg(bin.join(tool))
        .args(args)
        .stdout(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

impl Cluster {
    fn start(bin: PathBuf) -> Cluster {
        let dir = common::temp_dir("pgrestart");
        let status = Command::new("chown")
            .args(["postgres:"])
            .arg(&dir)
            .status()
            .expect("chown");
        assert!(status.success(), "chown the cluster folder to postgres");
        let port = common::free_port();
        let cluster = Cluster { bin, dir, port };
        let data = cluster.data();
        assert!(
            as_postgres(
                &cluster.bin,
                "initdb",
                &["-D", &data, "-A", "trust", "-U", "postgres", "--no-sync"]
            ),
            "initdb"
        );
        let opts = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            cluster.dir.display()
        );
        let log = cluster.dir.join("postgres.log").display().to_string();
        assert!(
            as_postgres(
                &cluster.bin,
                "pg_ctl",
                &["-D", &data, "-o", &opts, "-l", &log, "-w", "start"]
            ),
            "start PostgreSQL"
        );
        cluster
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

/// `pg_ctl restart -m fast`, waiting until PostgreSQL accepts connections again.
fn restart(bin: &Path, data: &str) {
    assert!(
        as_postgres(bin, "pg_ctl", &["-D", data, "-m", "fast", "-w", "restart"]),
        "restart PostgreSQL"
    );
}

impl Drop for Cluster {
    fn drop(&mut self) {
        as_postgres(
            &self.bin,
            "pg_ctl",
            &["-D", &self.data(), "-m", "immediate", "stop"],
        );
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[derive(Default)]
struct Outcomes {
    ok_reads: usize,
    ok_writes: usize,
    ok_reads_after: usize,
    ok_writes_after: usize,
    refused: usize,
    bad: Vec<String>,
    confirmed: Vec<(String, String)>,
}

const READ: &str = "query($s: String!) { shop(slug: $s) { products(first: 20) { edges { node { title variants { stock } } } } } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_restart_under_load() {
    let ci = std::env::var("CI").is_ok();
    let tools = pg_bin().filter(|_| Command::new("runuser").arg("--help").output().is_ok());
    let Some(bin) = tools else {
        assert!(
            !ci,
            "CI must run the PostgreSQL restart test: initdb/pg_ctl (/usr/lib/postgresql/*/bin) and runuser are needed"
        );
        println!("skipping: no PostgreSQL binaries under /usr/lib/postgresql or no runuser");
        return;
    };
    let cluster = Cluster::start(bin);
    let url = cluster.url();
    let server = ChildServer::start(&url, &cluster.dir, &Spawn::default()).await;
    let shop = seed_shop(&server.base, 3, 1_000_000).await;

    let out = Arc::new(Mutex::new(Outcomes::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let restarted = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for c in 0..6u64 {
        let (out, stop, restarted) = (out.clone(), stop.clone(), restarted.clone());
        let (base, slug, variants) = (
            server.base.clone(),
            shop.slug.clone(),
            shop.variants.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .expect("client");
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let after = restarted.load(Ordering::Relaxed);
                let write = (c + n).is_multiple_of(2);
                let key = format!("c{c}-{n}");
                let lines = vec![(variants[(n % 3) as usize].0.clone(), 1)];
                let answer = if write {
                    let input = order_input(&slug, &lines, Some(&key));
                    post_gql(&client, &base, None, PLACE, json!({ "i": input })).await
                } else {
                    post_gql(&client, &base, None, READ, json!({ "s": slug })).await
                };
                let refused_now = {
                    let mut o = out.lock().expect("lock");
                    let refused_before = o.refused;
                    match answer {
                        Ok((200, v)) if v.get("errors").is_none() => {
                            if write {
                                let id = v["data"]["placeOrder"]["order"]["id"].as_str();
                                match id {
                                    Some(id) => o.confirmed.push((key, local_id(id))),
                                    None => o.bad.push(format!("no order: {v}")),
                                }
                                o.ok_writes += 1;
                                o.ok_writes_after += usize::from(after);
                            } else {
                                o.ok_reads += 1;
                                o.ok_reads_after += usize::from(after);
                            }
                        }
                        Ok((200, v))
                            if v["errors"][0]["extensions"]["code"].as_str()
                                == Some("UNAVAILABLE") =>
                        {
                            o.refused += 1
                        }
                        Ok((503, _)) => o.refused += 1,
                        Ok((status, v)) => o.bad.push(format!("HTTP {status}: {v}")),
                        Err(e) => o.bad.push(format!("request failed: {e}")),
                    }
                    o.refused > refused_before
                };
                if refused_now {
                    // Do not spin while the database is down.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }));
    }

    tokio::time::sleep(Duration::from_millis(800)).await;
    let before = {
        let o = out.lock().expect("lock");
        (o.ok_reads, o.ok_writes)
    };
    assert!(
        before.0 > 0 && before.1 > 0,
        "the load runs before the restart"
    );
    let (bin, data) = (cluster.bin.clone(), cluster.data());
    tokio::task::spawn_blocking(move || restart(&bin, &data))
        .await
        .expect("restart");
    restarted.store(true, Ordering::Relaxed);

    // Service resumes by itself: reads and writes succeed after the restart.
    let start = Instant::now();
    loop {
        let (r, w) = {
            let o = out.lock().expect("lock");
            (o.ok_reads_after, o.ok_writes_after)
        };
        if r >= 20 && w >= 20 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "service did not resume within 30 s of the restart: {r} reads, {w} writes"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.expect("a client task panicked");
    }
    let client = reqwest::Client::new();
    let ready = client
        .get(server.url("/readyz"))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status().as_u16(), 200);

    let o = std::mem::take(&mut *out.lock().expect("lock"));
    println!(
        "reads ok {}, writes ok {}, refused {}, bad {}",
        o.ok_reads,
        o.ok_writes,
        o.refused,
        o.bad.len()
    );
    assert!(
        o.bad.is_empty(),
        "answers that are neither a success nor a clean UNAVAILABLE/503:\n{}",
        o.bad.join("\n")
    );
    assert!(
        o.refused > 0,
        "no request met the restart: the fault was not exercised"
    );
    assert!(server.panics().is_empty(), "{}", server.log());
    let confirmed = o.confirmed;

    let snap = snapshot(&url, &shop.id).await;
    for (key, id) in &confirmed {
        let stored = snap
            .orders
            .get(id)
            .unwrap_or_else(|| panic!("confirmed order {id} ({key}) is lost"));
        assert_eq!(stored.key.as_deref(), Some(key.as_str()));
    }
    snap.assert_consistent(&shop.variants);
    server.stop();
    drop(cluster);
}
