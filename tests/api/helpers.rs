//! The test harness (zero-to-production style): `spawn_app(backend)` starts the real server
//! on 127.0.0.1:0 over a fresh database; `storage_tests!` runs each test body on SQLite and
//! on PostgreSQL.
//!
//! PostgreSQL: `CHOSO_TEST_POSTGRES_URL` names a server database the tests may create
//! databases from (e.g. `postgres://postgres@127.0.0.1:5432/postgres`); each test gets its
//! own `choso_test_…` database, dropped afterwards. Without the variable the PostgreSQL half
//! is skipped locally, and fails when `CI` is set: CI must never pass it silently.

#![allow(dead_code)]

use std::path::PathBuf;

use choso::{config::Config, server::Server};
use choso_services::{Backend, Db};
use serde_json::{Value, json};

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub backend: Backend,
    pub db: Db,
    pub database_url: String,
    pub data_dir: PathBuf,
    server: Option<Server>,
    _pg_drop: Option<PgDrop>,
}

/// Drops a per-test PostgreSQL database when it goes out of scope.
pub struct PgDrop {
    admin: String,
    name: String,
}

/// Runs each named `async fn(TestApp)` as two tests: `<name>::sqlite` and `<name>::postgres`.
#[macro_export]
macro_rules! storage_tests {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let app = $crate::helpers::spawn_app(choso_services::Backend::Sqlite).await;
                    super::$name(app).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if let Some(app) = $crate::helpers::spawn_postgres_app().await {
                        super::$name(app).await;
                    }
                }
            }
        )*
    };
}

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("choso-test-{}", ulid::Ulid::generate()));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// A fresh database URL for the backend (creating the PostgreSQL database), plus what to drop.
pub async fn fresh_database(
    backend: Backend,
    dir: &std::path::Path,
) -> Option<(String, Option<PgDrop>)> {
    match backend {
        Backend::Sqlite => Some((
            format!("sqlite://{}/choso.db?mode=rwc", dir.display()),
            None,
        )),
        Backend::Postgres => {
            let Ok(admin) = std::env::var("CHOSO_TEST_POSTGRES_URL") else {
                if std::env::var("CI").is_ok() {
                    panic!(
                        "CHOSO_TEST_POSTGRES_URL must be set in CI: PostgreSQL tests may not be skipped"
                    );
                }
                eprintln!(
                    "CHOSO_TEST_POSTGRES_URL not set: skipping the PostgreSQL run of this test"
                );
                return None;
            };
            let name = format!(
                "choso_test_{}",
                ulid::Ulid::generate().to_string().to_lowercase()
            );
            let db = Db::connect(&admin).await.unwrap_or_else(|e| {
                panic!("cannot reach PostgreSQL at CHOSO_TEST_POSTGRES_URL: {e}")
            });
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(db.write())
                .await
                .expect("create test database");
            db.close().await;
            let url = with_database(&admin, &name);
            Some((url, Some(PgDrop { admin, name })))
        }
    }
}

/// `url` with its database name replaced by `name`.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let new_base = match base[scheme_end..].find('/') {
        Some(i) => format!("{}/{}", &base[..scheme_end + i], name),
        None => format!("{base}/{name}"),
    };
    match query {
        Some(q) => format!("{new_base}?{q}"),
        None => new_base,
    }
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {})
        .await
        .expect("PostgreSQL runs are spawned with spawn_postgres_app")
}

pub async fn spawn_postgres_app() -> Option<TestApp> {
    spawn_app_with(Backend::Postgres, |_| {}).await
}

/// Spawns the app, letting the test adjust the configuration.
pub async fn spawn_app_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Option<TestApp> {
    let dir = temp_dir();
    let (url, pg_drop) = fresh_database(backend, &dir).await?;
    let mut config = Config::for_database(url.clone(), dir.join("data"));
    adjust(&mut config);
    let server = Server::start(config).await.expect("server starts");
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http client");
    Some(TestApp {
        base: server.base_url.clone(),
        client,
        backend,
        db: server.db.clone(),
        database_url: url,
        data_dir: dir,
        server: Some(server),
        _pg_drop: pg_drop,
    })
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// POSTs a GraphQL document, anonymously or with a bearer token; returns the JSON answer.
    pub async fn gql_with(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let mut req = self
            .client
            .post(self.url("/graphql"))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.expect("request sent");
        assert!(
            resp.status().is_success(),
            "GraphQL answered HTTP {}",
            resp.status()
        );
        resp.json().await.expect("JSON answer")
    }

    pub async fn gql(&self, query: &str, variables: Value) -> Value {
        self.gql_with(None, query, variables).await
    }

    pub async fn gql_as(&self, token: &str, query: &str, variables: Value) -> Value {
        self.gql_with(Some(token), query, variables).await
    }

    /// Registers a merchant; returns (token, user id).
    pub async fn register(&self, email: &str) -> (String, String) {
        let v = self
            .gql(
                "mutation($i: RegisterInput!) { register(input: $i) { token user { id } userErrors { code message } } }",
                json!({ "i": { "email": email, "password": "correct horse battery", "fullName": "Nguyễn Văn A" } }),
            )
            .await;
        let p = &v["data"]["register"];
        assert_eq!(p["userErrors"], json!([]), "register failed: {v}");
        (
            p["token"].as_str().expect("token").to_string(),
            p["user"]["id"].as_str().expect("id").to_string(),
        )
    }

    /// Counts rows of a table (to prove a refused mutation changed nothing).
    pub async fn count(&self, table: &str) -> i64 {
        use sqlx::Row;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) AS n FROM {table}"
        )))
        .fetch_one(self.db.read())
        .await
        .expect("count");
        row.try_get("n").expect("n")
    }

    /// Stops the server gracefully (in-flight requests finish, the database is closed).
    pub async fn stop(&mut self) {
        if let Some(s) = self.server.take() {
            s.stop().await.expect("graceful stop");
        }
    }
}

/// The `code`s of a payload's userErrors.
pub fn codes(payload: &Value) -> Vec<String> {
    payload["userErrors"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e["code"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// The `extensions.code` of the first top-level error.
pub fn error_code(v: &Value) -> Option<String> {
    v["errors"][0]["extensions"]["code"]
        .as_str()
        .map(String::from)
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

impl Drop for PgDrop {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        // Runs on its own thread and runtime: Drop cannot await.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(rt) = rt {
                rt.block_on(async move {
                    if let Ok(db) = Db::connect(&admin).await {
                        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                        )))
                        .execute(db.write())
                        .await;
                        db.close().await;
                    }
                });
            }
        })
        .join();
    }
}
