//! Accounts: register, login, me, logout, and every kind of bad input.

use serde_json::json;

use crate::{
    helpers::{TestApp, codes, error_code},
    storage_tests,
};

const REGISTER: &str = "mutation($i: RegisterInput!) { register(input: $i) { token user { id email fullName role } userErrors { field message code } } }";
const LOGIN: &str = "mutation($i: LoginInput!) { login(input: $i) { token user { email } userErrors { field message code } } }";
const ME: &str = "{ me { id email fullName role } }";

storage_tests!(
    register_login_me_logout,
    register_refuses_bad_input_and_changes_nothing,
    email_taken_is_case_and_space_insensitive,
    wrong_password_and_unknown_email_look_the_same,
    login_is_throttled_per_account,
    bad_tokens_are_anonymous,
);

async fn register_login_me_logout(app: TestApp) {
    let v = app
        .gql(
            REGISTER,
            json!({ "i": { "email": "  Chu.Tiem@Example.VN ", "password": "trà-sen-ngon-2025", "fullName": "  Trần  Thị Hoà " } }),
        )
        .await;
    let p = &v["data"]["register"];
    assert_eq!(p["userErrors"], json!([]), "{v}");
    assert_eq!(p["user"]["email"], "chu.tiem@example.vn");
    assert_eq!(p["user"]["fullName"], "Trần Thị Hoà");
    assert_eq!(p["user"]["role"], "merchant");
    let token = p["token"].as_str().unwrap().to_string();

    let me = app.gql_as(&token, ME, json!({})).await;
    assert_eq!(me["data"]["me"]["email"], "chu.tiem@example.vn");
    assert_eq!(app.gql(ME, json!({})).await["data"]["me"], json!(null));

    let v = app
        .gql(
            LOGIN,
            json!({ "i": { "email": "CHU.TIEM@example.vn", "password": "trà-sen-ngon-2025" } }),
        )
        .await;
    let second = v["data"]["login"]["token"]
        .as_str()
        .expect("login token")
        .to_string();
    assert_ne!(second, token);

    let out = app
        .gql_as(&token, "mutation { logout { ok } }", json!({}))
        .await;
    assert_eq!(out["data"]["logout"]["ok"], true);
    assert_eq!(
        app.gql_as(&token, ME, json!({})).await["data"]["me"],
        json!(null),
        "revoked"
    );
    assert_eq!(
        app.gql_as(&second, ME, json!({})).await["data"]["me"]["email"],
        "chu.tiem@example.vn",
        "other sessions live on"
    );
    // Passwords and tokens are not stored in clear.
    use sqlx::Row;
    let row = sqlx::query("SELECT password_hash FROM users")
        .fetch_one(app.db.read())
        .await
        .unwrap();
    let hash: String = row.get("password_hash");
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    let n = sqlx::query("SELECT COUNT(*) AS n FROM sessions WHERE token_hash = $1")
        .bind(second.clone())
        .fetch_one(app.db.read())
        .await
        .unwrap();
    assert_eq!(n.get::<i64, _>("n"), 0);
}

async fn register_refuses_bad_input_and_changes_nothing(app: TestApp) {
    let long_name = "Đ".repeat(101);
    let long_pw = "x1".repeat(65);
    let long_email = format!("{}@example.vn", "a".repeat(250));
    let cases: Vec<(serde_json::Value, &str)> = vec![
        (
            json!({ "email": "", "password": "correct horse battery", "fullName": "A" }),
            "INVALID_EMAIL",
        ),
        (
            json!({ "email": "not-an-email", "password": "correct horse battery", "fullName": "A" }),
            "INVALID_EMAIL",
        ),
        (
            json!({ "email": "a@b@c.vn", "password": "correct horse battery", "fullName": "A" }),
            "INVALID_EMAIL",
        ),
        (
            json!({ "email": long_email, "password": "correct horse battery", "fullName": "A" }),
            "INVALID_EMAIL",
        ),
        (
            json!({ "email": "a@example.vn", "password": "", "fullName": "A" }),
            "WEAK_PASSWORD",
        ),
        (
            json!({ "email": "a@example.vn", "password": "short1", "fullName": "A" }),
            "WEAK_PASSWORD",
        ),
        (
            json!({ "email": "a@example.vn", "password": "12345678", "fullName": "A" }),
            "WEAK_PASSWORD",
        ),
        (
            json!({ "email": "a@example.vn", "password": "aaaaaaaaaaaa", "fullName": "A" }),
            "WEAK_PASSWORD",
        ),
        (
            json!({ "email": "a@example.vn", "password": long_pw, "fullName": "A" }),
            "PASSWORD_TOO_LONG",
        ),
        (
            json!({ "email": "a@example.vn", "password": "correct horse battery", "fullName": "   " }),
            "REQUIRED",
        ),
        (
            json!({ "email": "a@example.vn", "password": "correct horse battery", "fullName": long_name }),
            "TOO_LONG",
        ),
        (
            json!({ "email": "a@example.vn", "password": "correct horse battery", "fullName": "A", "inviteCode": "NOPE-1234" }),
            "INVALID_INVITE_CODE",
        ),
    ];
    for (input, code) in cases {
        let v = app.gql(REGISTER, json!({ "i": input })).await;
        let p = &v["data"]["register"];
        assert!(
            codes(p).contains(&code.to_string()),
            "expected {code} for {input}: {v}"
        );
        assert_eq!(p["token"], json!(null));
        assert!(p["userErrors"][0]["field"].is_array(), "{v}");
    }
    assert_eq!(app.count("users").await, 0);
    assert_eq!(app.count("sessions").await, 0);
}

async fn email_taken_is_case_and_space_insensitive(app: TestApp) {
    app.register("owner@example.vn").await;
    let v = app
        .gql(REGISTER, json!({ "i": { "email": " OWNER@example.VN", "password": "another good one", "fullName": "B" } }))
        .await;
    assert_eq!(codes(&v["data"]["register"]), vec!["EMAIL_TAKEN"]);
    assert_eq!(app.count("users").await, 1);
}

async fn wrong_password_and_unknown_email_look_the_same(app: TestApp) {
    app.register("owner@example.vn").await;
    let wrong = app
        .gql(
            LOGIN,
            json!({ "i": { "email": "owner@example.vn", "password": "not the password" } }),
        )
        .await;
    let unknown = app
        .gql(
            LOGIN,
            json!({ "i": { "email": "nobody@example.vn", "password": "not the password" } }),
        )
        .await;
    assert_eq!(wrong["data"]["login"], unknown["data"]["login"]);
    assert_eq!(codes(&wrong["data"]["login"]), vec!["INVALID_CREDENTIALS"]);
    for bad in [
        json!({ "email": "", "password": "" }),
        json!({ "email": "x", "password": "y".repeat(10_000) }),
    ] {
        let v = app.gql(LOGIN, json!({ "i": bad })).await;
        assert_eq!(
            codes(&v["data"]["login"]),
            vec!["INVALID_CREDENTIALS"],
            "{v}"
        );
    }
}

async fn login_is_throttled_per_account(app: TestApp) {
    app.register("owner@example.vn").await;
    for _ in 0..5 {
        let v = app
            .gql(
                LOGIN,
                json!({ "i": { "email": "owner@example.vn", "password": "guess guess guess" } }),
            )
            .await;
        assert_eq!(codes(&v["data"]["login"]), vec!["INVALID_CREDENTIALS"]);
    }
    // Even the right password is refused while the account is throttled.
    let v = app
        .gql(
            LOGIN,
            json!({ "i": { "email": "owner@example.vn", "password": "correct horse battery" } }),
        )
        .await;
    assert_eq!(codes(&v["data"]["login"]), vec!["TOO_MANY_ATTEMPTS"], "{v}");
    // Another account is not affected by this account's failures.
    app.register("other@example.vn").await;
    let v = app
        .gql(
            LOGIN,
            json!({ "i": { "email": "other@example.vn", "password": "correct horse battery" } }),
        )
        .await;
    assert_eq!(codes(&v["data"]["login"]), Vec::<String>::new(), "{v}");
}

async fn bad_tokens_are_anonymous(app: TestApp) {
    for token in [
        "",
        "garbage",
        "chs_0000000000000000000000000000000000000000000000000000000000000000",
    ] {
        let v = app.gql_as(token, ME, json!({})).await;
        assert_eq!(v["data"]["me"], json!(null), "{v}");
    }
    let v = app
        .gql_as("garbage", "mutation { logout { ok } }", json!({}))
        .await;
    assert_eq!(error_code(&v).as_deref(), Some("UNAUTHENTICATED"), "{v}");
}

/// Per-address throttling: many accounts guessed from one address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_is_throttled_per_address() {
    let app = crate::helpers::spawn_app(choso_services::Backend::Sqlite).await;
    app.register("owner@example.vn").await;
    for i in 0..30 {
        let v = app
            .gql(LOGIN, json!({ "i": { "email": format!("guess{i}@example.vn"), "password": "guess guess" } }))
            .await;
        assert_eq!(codes(&v["data"]["login"]), vec!["INVALID_CREDENTIALS"]);
    }
    let v = app
        .gql(
            LOGIN,
            json!({ "i": { "email": "owner@example.vn", "password": "correct horse battery" } }),
        )
        .await;
    assert_eq!(codes(&v["data"]["login"]), vec!["TOO_MANY_ATTEMPTS"], "{v}");
}
