//! Slow clients and floods against the real `choso` binary (SQLite):
//! - 10,000 idle connections (fewer, with a message, if the file-descriptor hard limit is
//!   lower): the server keeps them open, its resident memory (VmRSS) stays under 150 MB and
//!   `/healthz` still answers on a new connection;
//! - `CHOSO_HEADER_TIMEOUT_SECS`: a connection that sends nothing, and one that trickles its
//!   headers (slowloris), are closed by the server;
//! - `CHOSO_MAX_CONNECTIONS`: with a limit of 20 and 60 clients at once the server never
//!   holds more than 20 client sockets, and every client is still answered in turn;
//! - `CHOSO_REQUEST_TIMEOUT_SECS`: a request body sent too slowly ends in 408;
//! - the body limit: a 2 MB GraphQL body is refused with 413;
//! - the server never panics.

#[path = "faults_common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{ChildServer, Spawn};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// Raises this process's open-file soft limit to the hard limit (children inherit it);
/// returns the limit now in force.
fn raise_nofile() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 1024;
        }
        lim.rlim_cur = lim.rlim_max;
        if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        }
    }
    lim.rlim_cur
}

/// Open sockets of a process (its TCP connections and listeners, database sockets on
/// PostgreSQL): entries of /proc/PID/fd that are sockets.
fn sockets_of(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| {
                    std::fs::read_link(e.path())
                        .map(|t| t.to_string_lossy().starts_with("socket:"))
                        .unwrap_or(false)
                })
                .count()
        })
        .unwrap_or(0)
}

/// Waits until the peer closes the connection (read gives 0 or an error, or any bytes that
/// are not a success), up to `within`; true if it closed.
async fn closed_by_server(s: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 1024];
    matches!(
        tokio::time::timeout(within, s.read(&mut buf)).await,
        Ok(Ok(0)) | Ok(Err(_))
    )
}

/// One GET over a raw connection; the status code of the answer.
async fn raw_get(s: &mut TcpStream, path: &str) -> Option<u16> {
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes())
        .await
        .ok()?;
    let mut buf = vec![0u8; 4096];
    let n = s.read(&mut buf).await.ok()?;
    let head = String::from_utf8_lossy(&buf[..n]);
    head.split_whitespace().nth(1)?.parse().ok()
}

fn server_env(pairs: &[(&str, &str)]) -> Spawn {
    Spawn {
        env: pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Spawn::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_idle_connections_stay_cheap() {
    let limit = raise_nofile();
    // The test and the server each need a descriptor per connection, plus some to spare.
    let n = 10_000usize.min(limit.saturating_sub(300) as usize);
    if n < 10_000 {
        println!("open-file hard limit is {limit}: testing {n} idle connections, not 10,000");
    }
    let dir = common::temp_dir("conns");
    let url = format!("sqlite://{}/choso.db?mode=rwc", dir.display());
    let server = ChildServer::start(
        &url,
        &dir,
        &server_env(&[("CHOSO_HEADER_TIMEOUT_SECS", "120")]),
    )
    .await;
    let base_sockets = sockets_of(server.pid());
    let addr = format!("127.0.0.1:{}", server.port);
    let mut conns = Vec::with_capacity(n);
    // In batches, so the listen backlog never overflows.
    while conns.len() < n {
        let batch = (n - conns.len()).min(200);
        let opened =
            futures_util::future::join_all((0..batch).map(|_| TcpStream::connect(&addr))).await;
        for c in opened {
            conns.push(c.expect("connect"));
        }
    }
    let start = Instant::now();
    // (A few sockets of the start-up readiness checks may close meanwhile.)
    while sockets_of(server.pid()) + 5 < base_sockets + n {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the server accepted only {} of {n} connections",
            sockets_of(server.pid()) - base_sockets
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let rss_mb = server.rss_kb() / 1024;
    println!("{n} idle connections: server VmRSS {rss_mb} MB");
    assert!(rss_mb < 150, "VmRSS {rss_mb} MB with {n} idle connections");

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let r = client
        .get(server.url("/healthz"))
        .send()
        .await
        .expect("/healthz while the idle connections are open");
    assert_eq!(r.status().as_u16(), 200);
    // The idle connections are real HTTP connections: a few of them are served too.
    for c in conns.iter_mut().step_by(n / 5) {
        assert_eq!(raw_get(c, "/healthz").await, Some(200));
    }
    drop(conns);
    assert!(server.panics().is_empty(), "{}", server.log());
    server.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_and_limits() {
    let dir = common::temp_dir("slow");
    let url = format!("sqlite://{}/choso.db?mode=rwc", dir.display());
    let server = ChildServer::start(
        &url,
        &dir,
        &server_env(&[
            ("CHOSO_HEADER_TIMEOUT_SECS", "1"),
            ("CHOSO_REQUEST_TIMEOUT_SECS", "2"),
            ("CHOSO_MAX_CONNECTIONS", "20"),
        ]),
    )
    .await;
    let addr = format!("127.0.0.1:{}", server.port);

    // Silent: closed by the header timeout.
    let mut silent = TcpStream::connect(&addr).await.expect("connect");
    assert!(
        closed_by_server(&mut silent, Duration::from_secs(15)).await,
        "a connection that sends nothing must be closed"
    );

    // Slowloris: one header byte every 200 ms never completes a request.
    let mut slow = TcpStream::connect(&addr).await.expect("connect");
    let request = b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let mut cut_off = false;
    for b in request.iter() {
        if slow.write_all(&[*b]).await.is_err() {
            cut_off = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        cut_off || closed_by_server(&mut slow, Duration::from_secs(5)).await,
        "a client trickling its headers for {} s must be cut off",
        request.len() / 5
    );

    // Connection limit: 60 clients at once, never more than 20 held, all answered in turn.
    let base_sockets = sockets_of(server.pid());
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let (peak, done, pid) = (peak.clone(), done.clone(), server.pid());
        std::thread::spawn(move || {
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                peak.fetch_max(sockets_of(pid), std::sync::atomic::Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let answers = futures_util::future::join_all((0..60).map(|_| {
        let addr = addr.clone();
        async move {
            let mut s = TcpStream::connect(&addr).await.ok()?;
            raw_get(&mut s, "/healthz").await
        }
    }))
    .await;
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    watcher.join().expect("watcher");
    assert!(
        answers.iter().all(|a| *a == Some(200)),
        "every client is answered once a slot frees: {answers:?}"
    );
    let held = peak
        .load(std::sync::atomic::Ordering::Relaxed)
        .saturating_sub(base_sockets);
    assert!(
        held <= 20,
        "the server held {held} extra sockets with a limit of 20"
    );

    // Request timeout: a body that never finishes arriving.
    let mut s = TcpStream::connect(&addr).await.expect("connect");
    s.write_all(b"POST /graphql HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"query\":")
        .await
        .expect("send head");
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(20), s.read(&mut buf))
        .await
        .expect("an answer before the client gives up")
        .expect("read");
    let head = String::from_utf8_lossy(&buf[..n]);
    assert!(head.starts_with("HTTP/1.1 408"), "{head}");

    // Body limit.
    let big = format!(
        "{{\"query\":\"{{ me {{ id }} }}\",\"variables\":{{\"x\":\"{}\"}}}}",
        "a".repeat(2 * 1024 * 1024)
    );
    let r = reqwest::Client::new()
        .post(server.url("/graphql"))
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .expect("oversized body answered");
    assert_eq!(r.status().as_u16(), 413);

    assert!(server.panics().is_empty(), "{}", server.log());
    server.stop();
    let _ = std::fs::remove_dir_all(&dir);
}
