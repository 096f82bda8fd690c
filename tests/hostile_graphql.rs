//! Hostile input to `POST /graphql`: random documents built from the real schema's names
//! (fields, arguments, types, from `choso schema`) mixed with GraphQL punctuation and
//! garbage, with random variables (any JSON), plus hand-made worst cases (deep nesting, many
//! aliases, big batches, deep JSON, bytes that are not UTF-8, wrong content types). Every
//! answer must be JSON with an HTTP status below 500, and the server must still answer
//! `/healthz` afterwards: no panic, no 500. Runs the in-process server on SQLite with a
//! seeded shop, so resolvers reach real data.

#[path = "api/helpers.rs"]
mod helpers;

use std::collections::BTreeSet;

use choso_services::Backend;
use proptest::{
    prelude::*,
    test_runner::{Config, TestCaseError, TestRunner},
};
use serde_json::{Value, json};

/// The names in the schema's SDL (identifiers), for documents that get past the parser.
fn schema_words() -> Vec<String> {
    let sdl = choso_graphql::sdl();
    let mut words = BTreeSet::new();
    for w in sdl.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
        if !w.is_empty() && !w.starts_with(|c: char| c.is_ascii_digit()) {
            words.insert(w.to_string());
        }
    }
    words.into_iter().collect()
}

fn token(words: Vec<String>) -> impl Strategy<Value = String> {
    let punct = prop::sample::select(vec![
        "{",
        "}",
        "{",
        "}",
        "(",
        ")",
        ":",
        "$",
        "!",
        "[",
        "]",
        "...",
        "@",
        "=",
        ",",
        "\"",
        "#",
        "on",
        "query",
        "mutation",
        "subscription",
        "fragment",
        "true",
        "null",
        "__typename",
        "__schema",
        "__type",
    ]);
    prop_oneof![
        5 => prop::sample::select(words),
        3 => punct.prop_map(str::to_string),
        1 => any::<i64>().prop_map(|n| n.to_string()),
        1 => "\"[^\"\\\\]{0,12}\"",
        1 => any::<String>(),
    ]
}

fn document(words: Vec<String>) -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec![
            "",
            "query ",
            "mutation ",
            "query Q($a: String, $b: Int) ",
            "{ shop(slug: \"SLUG\") ",
            "{ shop(slug: \"SLUG\") { products(first: 3) { edges { node ",
        ]),
        prop::collection::vec(token(words), 0..40),
        0usize..4,
    )
        .prop_map(|(head, toks, closing)| {
            format!("{head}{{ {} {}", toks.join(" "), "}".repeat(closing))
        })
}

/// Documents that usually pass validation (real fields of `Shop`), so resolvers run too.
fn valid_document() -> impl Strategy<Value = String> {
    let fields = prop::sample::select(vec![
        "id",
        "name",
        "slug",
        "published",
        "theme",
        "currencyCode",
        "provinceCode",
        "url",
        "__typename",
        "viewerRole",
    ]);
    (
        prop::collection::vec(fields, 1..6),
        prop::sample::select(vec!["SLUG", "", "khong-co", "ĐẶC-SẢN", "a\\u0000b"]),
    )
        .prop_map(|(f, slug)| format!("{{ shop(slug: \"{slug}\") {{ {} }} }}", f.join(" ")))
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        any::<String>().prop_map(Value::from),
        "[0-9]{1,30}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::btree_map("[a-zA-Z]{1,8}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Posts a raw body; the answer must be JSON with a status below 500.
async fn post_raw(
    client: &reqwest::Client,
    url: &str,
    content_type: &str,
    body: Vec<u8>,
) -> Result<(), String> {
    let resp = client
        .post(url)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .map_err(|e| format!("no answer (server panicked or closed): {e}"))?;
    let status = resp.status();
    let text = resp.text().await.map_err(|e| e.to_string())?;
    if status.is_server_error() {
        return Err(format!("HTTP {status}: {text}"));
    }
    serde_json::from_str::<Value>(&text)
        .map_err(|e| format!("HTTP {status}, not JSON ({e}): {text}"))?;
    Ok(())
}

#[test]
fn random_documents_and_variables_never_break_the_server() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let app = rt.block_on(helpers::spawn_app(Backend::Sqlite));
    let (token, shop_slug) = rt.block_on(async {
        let (token, _) = app.register("fuzz@example.vn").await;
        let v = app
            .gql_as(
                &token,
                "mutation { createShop(input: { name: \"Tiệm Thử\", provinceCode: \"46\" }) { shop { slug } } }",
                json!({}),
            )
            .await;
        (token, v["data"]["createShop"]["shop"]["slug"].as_str().unwrap_or("").to_string())
    });
    let url = app.url("/graphql");
    let client = app.client.clone();
    let words = schema_words();
    assert!(
        words.iter().any(|w| w == "placeOrder"),
        "the schema's names are used"
    );

    let mut runner = TestRunner::new(Config {
        cases: 300,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (
        prop_oneof![3 => document(words), 1 => valid_document()],
        prop::collection::btree_map("[a-z]{1,3}", json_value(), 0..4),
        any::<bool>(),
        any::<bool>(),
    );
    let executed = std::sync::atomic::AtomicUsize::new(0);
    let result = runner.run(&strategy, |(doc, vars, authed, batch)| {
        let doc = doc.replace("SLUG", &shop_slug);
        let one = json!({ "query": doc, "variables": vars });
        let body = if batch {
            json!([one.clone(), one])
        } else {
            one
        };
        rt.block_on(async {
            let mut req = client.post(&url).json(&body);
            if authed {
                req = req.bearer_auth(&token);
            }
            let resp = req
                .send()
                .await
                .map_err(|e| TestCaseError::fail(format!("no answer (server panicked?): {e}")))?;
            let status = resp.status();
            let text = resp
                .text()
                .await
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(
                !status.is_server_error(),
                "HTTP {} for {}: {}",
                status,
                body,
                text
            );
            let answer = serde_json::from_str::<Value>(&text);
            prop_assert!(answer.is_ok(), "not JSON for {}: {}", body, text);
            if answer.is_ok_and(|v| v.get("data").is_some_and(|d| !d.is_null())) {
                executed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            Ok(())
        })
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    // Some random documents got past parsing and validation into the resolvers.
    let executed = executed.into_inner();
    println!("{executed} of 300 random documents executed");
    assert!(executed > 0, "no random document was ever executed");

    // Worst cases made by hand.
    let deep = format!("{}{}", "{ me ".repeat(5_000), "}".repeat(5_000));
    let deep_list = format!(
        "{{ shop(slug: {}\"x\"{}) {{ id }} }}",
        "[".repeat(20_000),
        "]".repeat(20_000)
    );
    let aliases: String = (0..5_000).map(|i| format!("a{i}: me {{ id }} ")).collect();
    let deep_json = format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000));
    let batch: Vec<Value> = (0..500)
        .map(|_| json!({ "query": "{ me { id } }" }))
        .collect();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("application/json", json!({ "query": deep }).to_string().into_bytes()),
        ("application/json", json!({ "query": deep_list }).to_string().into_bytes()),
        ("application/json", json!({ "query": format!("{{ {aliases} }}") }).to_string().into_bytes()),
        ("application/json", format!("{{\"query\":\"{{ me {{ id }} }}\",\"variables\":{{\"a\":{deep_json}}}}}").into_bytes()),
        ("application/json", deep_json.clone().into_bytes()),
        ("application/json", serde_json::to_vec(&batch).unwrap_or_default()),
        ("application/json", b"[]".to_vec()),
        ("application/json", b"null".to_vec()),
        ("application/json", b"{\"query\": 5}".to_vec()),
        ("application/json", b"{\"query\": \"{ me { id } }\", \"variables\": \"x\"}".to_vec()),
        ("application/json", b"{\"query\": \"query($a: Int!) { shop(slug: $a) { id } }\", \"variables\": {\"a\": 99999999999999999999}}".to_vec()),
        ("application/json", vec![0xff, 0xfe, b'{', 0x80, b'}']),
        ("application/json", b"{\"query\":\"{ me { id } }\"".to_vec()),
        ("text/plain", b"{ me { id } }".to_vec()),
        ("application/graphql", b"{ me { id } }".to_vec()),
        ("application/x-www-form-urlencoded", b"query=%7B+me+%7B+id+%7D+%7D".to_vec()),
        ("application/json", json!({ "query": "{ __schema { types { fields { type { ofType { ofType { ofType { name } } } } } } } }" }).to_string().into_bytes()),
        ("application/json", json!({ "query": "subscription { orderPlaced(shopId: \"x\") { id } }" }).to_string().into_bytes()),
    ];
    rt.block_on(async {
        for (ct, body) in cases {
            let shown = String::from_utf8_lossy(&body[..body.len().min(120)]).to_string();
            if let Err(e) = post_raw(&client, &url, ct, body).await {
                panic!("{ct} {shown}…: {e}");
            }
        }
        let r = client
            .get(app.url("/healthz"))
            .send()
            .await
            .expect("/healthz");
        assert_eq!(r.status().as_u16(), 200);
    });
    drop(app);
}
