//! Shared by the fault tests (`tests/faults_*.rs`): the real `choso` binary as a child
//! process over a database that outlives it, seeding a published shop through the public
//! GraphQL API, the checkout requests, and direct checks of what the database holds.
//!
//! The child's stderr goes to a file in the test's folder so a test can prove that the server
//! never panicked (`panics()`).

#![allow(dead_code)]

use std::{
    collections::HashMap,
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use choso_services::Db;
use serde_json::{Value, json};
use sqlx::Row;

/// A `choso serve` child process.
pub struct ChildServer {
    pub base: String,
    pub port: u16,
    child: Child,
    stderr: PathBuf,
}

/// How to start the child (besides the database and folder).
#[derive(Default)]
pub struct Spawn {
    /// Extra environment (`CHOSO_*` limits).
    pub env: Vec<(String, String)>,
    /// Ignore SIGXFSZ in the child, so a file-size limit makes writes fail with an error
    /// (like a full disk) instead of killing the process.
    pub ignore_sigxfsz: bool,
}

/// A free local port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The database id from a GraphQL id (`{shop}:{id}`).
pub fn local_id(gid: &str) -> String {
    gid.rsplit(':').next().unwrap_or(gid).to_string()
}

/// A new temp folder for one test.
pub fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("choso-{tag}-{}", ulid::Ulid::generate()));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

impl ChildServer {
    /// Starts `choso serve` on a free port and waits until `/readyz` answers 200.
    pub async fn start(url: &str, dir: &Path, opts: &Spawn) -> ChildServer {
        let port = free_port();
        let stderr = dir.join(format!("server-{port}.log"));
        let log = std::fs::File::create(&stderr).expect("server log file");
        // Logs go to stdout, panics to stderr: both into the one file.
        let log_out = log.try_clone().expect("server log file");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_choso"));
        cmd.args(["serve", "--addr", &format!("127.0.0.1:{port}")])
            .args(["--database-url", url, "--data-dir"])
            .arg(dir.join("data"))
            .env("RUST_LOG", "warn")
            .env("RUST_BACKTRACE", "0")
            .envs(opts.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(log_out)
            .stderr(log);
        if opts.ignore_sigxfsz {
            use std::os::unix::process::CommandExt;
            // SAFETY: only async-signal-safe `signal` is called between fork and exec; an
            // ignored disposition survives exec.
            unsafe {
                cmd.pre_exec(|| {
                    libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
                    Ok(())
                });
            }
        }
        let child = cmd.spawn().expect("start the choso binary");
        let server = ChildServer {
            base: format!("http://127.0.0.1:{port}"),
            port,
            child,
            stderr,
        };
        let client = reqwest::Client::new();
        let start = Instant::now();
        loop {
            if let Ok(r) = client.get(server.url("/readyz")).send().await
                && r.status().is_success()
            {
                return server;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the server did not become ready in 60 s; its log:\n{}",
                server.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the server wrote on stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Lines of the log that report a panic.
    pub fn panics(&self) -> Vec<String> {
        self.log()
            .lines()
            .filter(|l| l.contains("panicked"))
            .map(str::to_string)
            .collect()
    }

    /// Resident memory of the server now, in kB (VmRSS from /proc).
    pub fn rss_kb(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse().ok())
            .unwrap_or(0)
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill9(mut self) {
        self.child.kill().expect("SIGKILL the server");
        self.child.wait().expect("reap the server");
    }

    /// SIGTERM, then waits for the graceful stop; asserts it exited successfully.
    pub fn stop(mut self) {
        // SAFETY: kill(2) on our own child's pid.
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        assert_eq!(rc, 0, "SIGTERM");
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                assert!(status.success(), "the server exited with {status}");
                return;
            }
            if start.elapsed() > Duration::from_secs(40) {
                let _ = self.child.kill();
                panic!("the server did not stop in 40 s after SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// POSTs a GraphQL document; returns the HTTP status and the body (JSON when it parses).
pub async fn post_gql(
    client: &reqwest::Client,
    base: &str,
    token: Option<&str>,
    query: &str,
    vars: Value,
) -> Result<(u16, Value), reqwest::Error> {
    let mut req = client
        .post(format!("{base}/graphql"))
        .json(&json!({ "query": query, "variables": vars }));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await?;
    let status = resp.status().as_u16();
    let text = resp.text().await?;
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Ok((status, body))
}

/// A GraphQL call that must succeed without errors.
pub async fn gql(base: &str, token: Option<&str>, query: &str, vars: Value) -> Value {
    let client = reqwest::Client::new();
    let (status, v) = post_gql(&client, base, token, query, vars)
        .await
        .expect("GraphQL request");
    assert_eq!(status, 200, "{v}");
    assert!(v.get("errors").is_none(), "{v}");
    v
}

/// A published shop with products, seeded through the API.
pub struct Shop {
    pub token: String,
    pub id: String,
    pub slug: String,
    /// Variant ids and their initial stock.
    pub variants: Vec<(String, i64)>,
}

/// Registers an owner, creates and publishes a shop with `products` one-variant products.
pub async fn seed_shop(base: &str, products: usize, stock: i64) -> Shop {
    let v = gql(
        base,
        None,
        "mutation($i: RegisterInput!) { register(input: $i) { token userErrors { code } } }",
        json!({ "i": { "email": "owner@example.vn", "password": "correct horse battery", "fullName": "Chủ tiệm" } }),
    )
    .await;
    let token = v["data"]["register"]["token"]
        .as_str()
        .expect("token")
        .to_string();
    let v = gql(
        base,
        Some(&token),
        "mutation($i: CreateShopInput!) { createShop(input: $i) { shop { id slug } userErrors { code } } }",
        json!({ "i": { "name": "Tiệm Lỗi", "provinceCode": "46" } }),
    )
    .await;
    let id = v["data"]["createShop"]["shop"]["id"]
        .as_str()
        .expect("shop id")
        .to_string();
    let slug = v["data"]["createShop"]["shop"]["slug"]
        .as_str()
        .expect("slug")
        .to_string();
    let mut variants = Vec::new();
    for p in 0..products {
        let v = gql(
            base,
            Some(&token),
            "mutation($s: ID!, $i: ProductInput!) { createProduct(shopId: $s, input: $i) { product { variants { id } } userErrors { code message } } }",
            json!({ "s": id, "i": { "title": format!("Bánh số {p}"), "published": true,
                "variants": [{ "price": "25000", "stock": stock }] } }),
        )
        .await;
        assert_eq!(v["data"]["createProduct"]["userErrors"], json!([]), "{v}");
        let vid = v["data"]["createProduct"]["product"]["variants"][0]["id"]
            .as_str()
            .expect("variant id")
            .to_string();
        variants.push((vid, stock));
    }
    let v = gql(
        base,
        Some(&token),
        "mutation($s: ID!) { updateShop(shopId: $s, input: { theme: \"warm\", phone: \"0905123456\" }) { userErrors { code } } }",
        json!({ "s": id }),
    )
    .await;
    assert_eq!(v["data"]["updateShop"]["userErrors"], json!([]), "{v}");
    let v = gql(
        base,
        Some(&token),
        "mutation($s: ID!) { publishShop(shopId: $s) { shop { published } userErrors { code message } } }",
        json!({ "s": id }),
    )
    .await;
    assert_eq!(v["data"]["publishShop"]["shop"]["published"], true, "{v}");
    Shop {
        token,
        id,
        slug,
        variants,
    }
}

pub const PLACE: &str = "mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { order { id number lines { variantId quantity } } userErrors { field code message } } }";

/// A cash-on-delivery order for the given (variant, quantity) lines.
pub fn order_input(slug: &str, lines: &[(String, i64)], key: Option<&str>) -> Value {
    let lines: Vec<Value> = lines
        .iter()
        .map(|(v, q)| json!({ "variantId": v, "quantity": q }))
        .collect();
    json!({
        "shopSlug": slug,
        "lines": lines,
        "customer": { "name": "Lê Thị Khách", "phone": "0912 345 678" },
        "shippingAddress": { "line1": "5 Trần Hưng Đạo", "ward": "Phú Hội", "provinceCode": "46" },
        "paymentMethod": "COD",
        "idempotencyKey": key,
    })
}

/// An order as the database holds it.
#[derive(Debug, Clone)]
pub struct StoredOrder {
    pub id: String,
    pub key: Option<String>,
    /// variant id → quantity, from `order_lines`.
    pub lines: HashMap<String, i64>,
    /// variant id → -delta, from the `order` stock movements that name this order.
    pub movements: HashMap<String, i64>,
}

/// Everything the invariants need, read straight from the database.
pub struct Snapshot {
    pub orders: HashMap<String, StoredOrder>,
    pub stock: HashMap<String, i64>,
}

pub async fn snapshot(url: &str, shop: &str) -> Snapshot {
    let db = Db::connect(url).await.expect("open the database");
    let mut orders: HashMap<String, StoredOrder> = HashMap::new();
    for r in sqlx::query("SELECT id, idempotency_key FROM orders WHERE shop_id = $1")
        .bind(shop.to_string())
        .fetch_all(db.read())
        .await
        .expect("orders")
    {
        let id: String = r.try_get("id").expect("id");
        let key: Option<String> = r.try_get("idempotency_key").expect("key");
        orders.insert(
            id.clone(),
            StoredOrder {
                id,
                key,
                lines: HashMap::new(),
                movements: HashMap::new(),
            },
        );
    }
    for r in
        sqlx::query("SELECT order_id, variant_id, quantity FROM order_lines WHERE shop_id = $1")
            .bind(shop.to_string())
            .fetch_all(db.read())
            .await
            .expect("order lines")
    {
        let oid: String = r.try_get("order_id").expect("order_id");
        let vid: String = r.try_get("variant_id").expect("variant_id");
        let q: i64 = r.try_get("quantity").expect("quantity");
        let o = orders.get_mut(&oid).expect("a line's order exists");
        *o.lines.entry(vid).or_default() += q;
    }
    for r in sqlx::query(
        "SELECT ref_id, variant_id, delta FROM stock_movements WHERE shop_id = $1 AND reason = 'order'",
    )
    .bind(shop.to_string())
    .fetch_all(db.read())
    .await
    .expect("stock movements")
    {
        let oid: Option<String> = r.try_get("ref_id").expect("ref_id");
        let vid: String = r.try_get("variant_id").expect("variant_id");
        let d: i64 = r.try_get("delta").expect("delta");
        let oid = oid.expect("an order movement names its order");
        let o = orders
            .get_mut(&oid)
            .unwrap_or_else(|| panic!("stock movement for order {oid}, which does not exist"));
        *o.movements.entry(vid).or_default() -= d;
    }
    let mut stock = HashMap::new();
    for r in sqlx::query("SELECT id, stock FROM variants WHERE shop_id = $1")
        .bind(shop.to_string())
        .fetch_all(db.read())
        .await
        .expect("variants")
    {
        stock.insert(
            r.try_get::<String, _>("id").expect("id"),
            r.try_get::<i64, _>("stock").expect("stock"),
        );
    }
    db.close().await;
    Snapshot { orders, stock }
}

impl Snapshot {
    /// Every order has lines, one stock movement per line of the same quantity, and each
    /// variant's stock is its initial stock minus the quantities of the orders that exist.
    pub fn assert_consistent(&self, initial: &[(String, i64)]) {
        let mut taken: HashMap<&str, i64> = HashMap::new();
        for o in self.orders.values() {
            assert!(!o.lines.is_empty(), "order {} has no lines", o.id);
            assert_eq!(
                o.lines, o.movements,
                "order {}: its lines and its stock movements differ",
                o.id
            );
            for (v, q) in &o.lines {
                *taken.entry(v.as_str()).or_default() += q;
            }
        }
        for (v, start) in initial {
            let v = local_id(v);
            let t = taken.get(v.as_str()).copied().unwrap_or(0);
            assert_eq!(
                self.stock.get(&v).copied(),
                Some(start - t),
                "variant {v}: initial {start}, ordered {t}"
            );
        }
    }
}

/// `PRAGMA integrity_check` on an SQLite database file (the server must be stopped or idle).
pub async fn sqlite_integrity(url: &str) -> String {
    let db = Db::connect(url).await.expect("open the database");
    let rows = sqlx::query("PRAGMA integrity_check")
        .fetch_all(db.write())
        .await
        .expect("integrity_check");
    db.close().await;
    rows.iter()
        .map(|r| r.try_get::<String, _>(0).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// A tiny deterministic generator (xorshift), so the load is the same on every run.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}
