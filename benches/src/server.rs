//! The server under test: a fresh database per run (an SQLite file, or a PostgreSQL database
//! dropped afterwards), the release `choso` binary as a child process on a free port, and the
//! seeding of shops and products through its public GraphQL API (the small data set).

use std::{
    net::TcpListener,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::{Value, json};

use crate::{dataset::DataSet, smtp_sink::SmtpSink};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct ChildServer {
    pub base: String,
    child: Child,
    fresh: FreshDb,
    /// Where the server delivers its e-mails.
    mail: SmtpSink,
}

fn choso_binary() -> std::path::PathBuf {
    if let Ok(p) = std::env::var("CHOSO_BIN") {
        return p.into();
    }
    let exe = std::env::current_exe().unwrap_or_default();
    exe.parent()
        .map(|d| d.join("choso"))
        .unwrap_or_else(|| "target/release/choso".into())
}

impl ChildServer {
    /// Starts the server on a database (made by [`fresh_database`]); it owns the database
    /// from now on and removes it when stopped.
    pub async fn start(fresh: FreshDb) -> Result<ChildServer, String> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let mail = match SmtpSink::start().await {
            Ok(m) => m,
            Err(e) => {
                fresh.remove();
                return Err(format!("cannot start the SMTP sink: {e}"));
            }
        };
        let bin = choso_binary();
        let child = Command::new(&bin)
            .args([
                "serve",
                "--addr",
                &format!("127.0.0.1:{port}"),
                "--database-url",
                &fresh.url,
                "--data-dir",
            ])
            .arg(fresh.dir.join("data"))
            .env("RUST_LOG", "warn")
            .env("CHOSO_SMTP_URL", format!("smtp://{}", mail.addr))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| {
                format!(
                    "cannot run {} (build it with `cargo build --release`): {e}",
                    bin.display()
                )
            })?;
        let server = ChildServer {
            base: format!("http://127.0.0.1:{port}"),
            child,
            fresh,
            mail,
        };
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(60) {
            if let Ok(r) = reqwest::get(format!("{}/readyz", server.base)).await
                && r.status().is_success()
            {
                return Ok(server);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        server.stop(false);
        Err("the server did not become ready in 60 s".into())
    }

    /// The database the server runs on.
    pub fn database_url(&self) -> &str {
        &self.fresh.url
    }

    /// E-mails the server has delivered so far.
    pub fn mails_delivered(&self) -> u64 {
        self.mail.messages()
    }

    /// Peak resident memory of the server so far, in MB.
    pub fn peak_memory_mb(&self) -> f64 {
        self.status_mb("VmHWM:")
    }

    /// Resident memory of the server now, in MB.
    pub fn memory_mb(&self) -> f64 {
        self.status_mb("VmRSS:")
    }

    fn status_mb(&self, field: &str) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with(field))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
            .unwrap_or(0.0)
    }

    /// Stops the server and removes its database, unless `keep` (then it says where it is).
    pub fn stop(mut self, keep: bool) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if keep {
            println!("kept the database: {}", self.fresh.url);
        } else {
            self.fresh.remove();
        }
    }
}

async fn gql(
    client: &reqwest::Client,
    base: &str,
    token: Option<&str>,
    query: &str,
    vars: Value,
) -> Result<Value, String> {
    let mut req = client
        .post(format!("{base}/graphql"))
        .json(&json!({ "query": query, "variables": vars }));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let v: Value = req
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    if v.get("errors").is_some() {
        return Err(v.to_string());
    }
    Ok(v)
}

/// Creates `shops` published shops with `products` products of two variants each, all owned
/// by one account registered through the API.
pub async fn seed(base: &str, shops: usize, products: usize) -> Result<DataSet, String> {
    let client = reqwest::Client::new();
    let v = gql(
        &client,
        base,
        None,
        "mutation { register(input: { email: \"bench@choso.vn\", password: \"bench password 1\", fullName: \"Bench\" }) { token } }",
        json!({}),
    )
    .await?;
    let token = v["data"]["register"]["token"]
        .as_str()
        .ok_or("no token")?
        .to_string();
    let mut slugs = Vec::new();
    let mut variants = Vec::new();
    let mut handles = Vec::new();
    for s in 0..shops {
        let mut shop_variants = Vec::new();
        let mut shop_handles = Vec::new();
        let v = gql(
            &client,
            base,
            Some(&token),
            "mutation($n: String!) { createShop(input: { name: $n, phone: \"0905123456\", theme: \"grid\", provinceCode: \"46\" }) { shop { id slug } userErrors { message } } }",
            json!({ "n": format!("Cửa hàng số {s}") }),
        )
        .await?;
        let shop = v["data"]["createShop"]["shop"]["id"]
            .as_str()
            .ok_or_else(|| v.to_string())?
            .to_string();
        slugs.push(
            v["data"]["createShop"]["shop"]["slug"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        );
        for p in 0..products {
            let v = gql(
                &client,
                base,
                Some(&token),
                "mutation($s: ID!, $i: ProductInput!) { createProduct(shopId: $s, input: $i) { product { handle variants { id } } userErrors { message } } }",
                json!({ "s": shop, "i": { "title": format!("Sản phẩm {p} của cửa hàng {s}"), "description": "Đặc sản địa phương, đóng gói cẩn thận.", "published": true,
                    "images": [{ "url": format!("https://img.example.vn/{s}/{p}.jpg") }],
                    "variants": [{ "title": "Nhỏ", "sku": format!("S{p}"), "price": "45000", "stock": 1_000_000 }, { "title": "Lớn", "sku": format!("L{p}"), "price": "85000", "compareAtPrice": "99000", "stock": 1_000_000 }] } }),
            )
            .await?;
            shop_handles.push(
                v["data"]["createProduct"]["product"]["handle"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            );
            for var in v["data"]["createProduct"]["product"]["variants"]
                .as_array()
                .into_iter()
                .flatten()
            {
                shop_variants.push(var["id"].as_str().unwrap_or_default().to_string());
            }
        }
        variants.push(shop_variants);
        handles.push(shop_handles);
        gql(
            &client,
            base,
            Some(&token),
            "mutation($s: ID!) { publishShop(shopId: $s) { userErrors { message } } }",
            json!({ "s": shop }),
        )
        .await?;
    }
    Ok(DataSet {
        owner_tokens: vec![token; slugs.len()],
        slugs,
        variants,
        handles,
        staff: None,
        search_words: ["sản phẩm", "san pham 1", "cửa hàng"]
            .iter()
            .map(|w| w.to_string())
            .collect(),
    })
}

/// A database made for one run, and how to remove it.
pub struct FreshDb {
    pub url: String,
    /// The run's temp folder (the SQLite file, the server's data directory).
    pub dir: std::path::PathBuf,
    /// On PostgreSQL: the server URL to drop it from, and its name.
    pg: Option<(String, String)>,
}

impl FreshDb {
    /// Deletes the database and the temp folder.
    pub fn remove(&self) {
        if let Some((admin, name)) = &self.pg {
            let dropped = Command::new("psql")
                .args([
                    admin.as_str(),
                    "-qc",
                    &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                ])
                .status();
            if !matches!(dropped, Ok(s) if s.success()) {
                eprintln!("could not drop the bench database {name}");
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A new, empty database for a run: an SQLite file in a new temp folder, or a new database on
/// the PostgreSQL server named by `CHOSO_BENCH_POSTGRES_URL` / `CHOSO_TEST_POSTGRES_URL`
/// (`None` when neither is set).
pub fn fresh_database(backend: Backend) -> Result<Option<FreshDb>, String> {
    let dir = std::env::temp_dir().join(format!("choso-bench-{}", ulid::Ulid::generate()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let (url, pg) = match backend {
        Backend::Sqlite => (
            format!("sqlite://{}/bench.db?mode=rwc", dir.display()),
            None,
        ),
        Backend::Postgres => {
            let Some(admin) = std::env::var("CHOSO_BENCH_POSTGRES_URL")
                .or_else(|_| std::env::var("CHOSO_TEST_POSTGRES_URL"))
                .ok()
            else {
                let _ = std::fs::remove_dir_all(&dir);
                return Ok(None);
            };
            let name = format!(
                "choso_bench_{}",
                ulid::Ulid::generate().to_string().to_lowercase()
            );
            let status = Command::new("psql")
                .args([admin.as_str(), "-qc", &format!("CREATE DATABASE {name}")])
                .status()
                .map_err(|e| format!("psql: {e}"))?;
            if !status.success() {
                return Err("CREATE DATABASE failed".into());
            }
            let base = admin
                .rsplit_once('/')
                .map(|(b, _)| b.to_string())
                .unwrap_or_else(|| admin.clone());
            (format!("{base}/{name}"), Some((admin, name)))
        }
    };
    Ok(Some(FreshDb { url, dir, pg }))
}
