//! The command line: `choso schema`, `choso migrate`, `choso user create`.

use std::process::Command;

use serde_json::json;

use crate::helpers::{TestApp, codes, fresh_database, spawn_app_with};
use choso_services::Backend;

fn choso() -> Command {
    Command::new(env!("CARGO_BIN_EXE_choso"))
}

#[test]
fn schema_prints_the_contract_names() {
    let out = choso().arg("schema").output().unwrap();
    assert!(out.status.success());
    let sdl = String::from_utf8(out.stdout).unwrap();
    for name in [
        "type Query",
        "me: User",
        "register(input: RegisterInput!): AuthPayload!",
        "login(input: LoginInput!): AuthPayload!",
        "type UserError",
    ] {
        assert!(sdl.contains(name), "missing {name}");
    }
}

async fn migrate_and_create_users(backend: Backend) {
    let dir = std::env::temp_dir().join(format!("choso-cli-{}", ulid::Ulid::generate()));
    std::fs::create_dir_all(&dir).unwrap();
    let Some((url, _drop)) = fresh_database(backend, &dir).await else {
        return;
    };
    let out = choso()
        .args(["migrate", "--database-url", &url])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = choso()
        .args([
            "user",
            "create",
            "--email",
            "Staff@Hue.gov.vn",
            "--password",
            "province staff pw",
            "--role",
            "province_staff",
            "--province",
            "46",
            "--database-url",
            &url,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Refusals: a bad province, a missing province, a duplicate, an unknown role.
    for args in [
        vec![
            "--email",
            "x@hue.gov.vn",
            "--role",
            "province_staff",
            "--province",
            "02",
        ],
        vec!["--email", "x@hue.gov.vn", "--role", "province_staff"],
        vec![
            "--email",
            "staff@hue.gov.vn",
            "--role",
            "province_staff",
            "--province",
            "46",
        ],
        vec!["--email", "x@hue.gov.vn", "--role", "king"],
        vec![
            "--email",
            "x@hue.gov.vn",
            "--role",
            "admin",
            "--province",
            "46",
        ],
    ] {
        let mut cmd = choso();
        cmd.args([
            "user",
            "create",
            "--password",
            "province staff pw",
            "--database-url",
            &url,
        ])
        .args(&args);
        let out = cmd.output().unwrap();
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(!out.stderr.is_empty());
    }
    let app: TestApp = spawn_app_with(backend, |c| c.database_url = url.clone())
        .await
        .unwrap();
    let v = app
        .gql(
            "mutation { login(input: {email: \"staff@hue.gov.vn\", password: \"province staff pw\"}) { token user { role } userErrors { code } } }",
            json!({}),
        )
        .await;
    assert_eq!(codes(&v["data"]["login"]), Vec::<String>::new(), "{v}");
    let token = v["data"]["login"]["token"].as_str().unwrap().to_string();
    let me = app
        .gql_as(&token, "{ me { role provinceCode } }", json!({}))
        .await;
    assert_eq!(
        me["data"]["me"],
        json!({ "role": "province_staff", "provinceCode": "46" })
    );
    assert_eq!(app.count("users").await, 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_and_user_create_sqlite() {
    migrate_and_create_users(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_and_user_create_postgres() {
    migrate_and_create_users(Backend::Postgres).await;
}
