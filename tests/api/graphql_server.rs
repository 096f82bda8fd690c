//! The GraphQL server itself: GraphiQL offline, limits, malformed requests, error shapes,
//! the subscriptions endpoint.

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest, http::HeaderValue};

use crate::helpers::spawn_app;
use choso_services::Backend;

#[tokio::test]
async fn graphiql_is_served_with_its_assets_and_no_cdn() {
    let app = spawn_app(Backend::Sqlite).await;
    let html = app.client.get(app.url("/graphql")).send().await.unwrap();
    assert_eq!(html.status(), 200);
    let body = html.text().await.unwrap();
    assert!(
        !body.contains("unpkg.com") && !body.contains("cdn") && !body.contains("esm.sh"),
        "{body}"
    );
    let mut srcs = Vec::new();
    for attr in ["src=\"", "href=\""] {
        for part in body.split(attr).skip(1) {
            srcs.push(part.split('"').next().unwrap().to_string());
        }
    }
    assert!(srcs.iter().any(|s| s.ends_with(".js")), "{srcs:?}");
    for src in srcs.iter().filter(|s| s.starts_with("/graphql/assets/")) {
        let r = app.client.get(app.url(src)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{src}");
        assert!(r.bytes().await.unwrap().len() > 10, "{src}");
    }
    let missing = app
        .client
        .get(app.url("/graphql/assets/nope.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn malformed_requests_get_graphql_errors_not_500() {
    let app = spawn_app(Backend::Sqlite).await;
    // Not JSON.
    let r = app
        .client
        .post(app.url("/graphql"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["errors"][0]["extensions"]["code"], "BAD_REQUEST");
    // Syntax error, unknown field, wrong variable type.
    for (q, vars) in [
        ("{ me { id ", json!({})),
        ("{ me { nope } }", json!({})),
        ("{ nope }", json!({})),
        (
            "mutation($i: LoginInput!) { login(input: $i) { token } }",
            json!({ "i": 42 }),
        ),
        ("mutation { login(input: {}) { token } }", json!({})),
    ] {
        let v = app.gql(q, vars).await;
        assert!(
            v["errors"].as_array().is_some_and(|e| !e.is_empty()),
            "{q}: {v}"
        );
        assert!(v.get("data").is_none() || v["data"].is_null(), "{q}: {v}");
    }
}

#[tokio::test]
async fn deep_and_huge_requests_are_refused() {
    let app = spawn_app(Backend::Sqlite).await;
    // Too deep: nested introspection.
    let mut q = String::from("{ __schema { types { ");
    let mut tail = String::from(" } } }");
    for _ in 0..15 {
        q.push_str("fields { type { ");
        tail.push_str(" } }");
    }
    q.push_str("name");
    q.push_str(&tail);
    let v = app.gql(&q, json!({})).await;
    let msg = v["errors"][0]["message"].as_str().unwrap_or("");
    assert!(msg.contains("nested too deep"), "{v}");
    // Body over the limit: 413.
    let big = "x".repeat(2 * 1024 * 1024);
    let r = app
        .client
        .post(app.url("/graphql"))
        .header("content-type", "application/json")
        .body(json!({ "query": format!("# {big}\n{{ me {{ id }} }}") }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    // Many aliases: complexity limit.
    let fields: String = (0..3000).map(|i| format!("a{i}: me {{ id }} ")).collect();
    let v = app.gql(&format!("{{ {fields} }}"), json!({})).await;
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("too complex"),
        "{:.300}",
        v.to_string()
    );
}

#[tokio::test]
async fn batch_requests_work() {
    let app = spawn_app(Backend::Sqlite).await;
    let r = app
        .client
        .post(app.url("/graphql"))
        .json(&json!([{ "query": "{ __typename }" }, { "query": "{ me { id } }" }]))
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v[0]["data"]["__typename"], "Query");
    assert_eq!(v[1]["data"]["me"], json!(null));
}

#[tokio::test]
async fn subscription_endpoint_speaks_graphql_transport_ws() {
    let app = spawn_app(Backend::Sqlite).await;
    let (token, _) = app.register("ws@example.vn").await;
    let url = app.url("/graphql/ws").replace("http://", "ws://");
    let mut req = url.into_client_request().unwrap();
    req.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static("graphql-transport-ws"),
    );
    let (mut ws, resp) = tokio_tungstenite::connect_async(req)
        .await
        .expect("websocket");
    assert_eq!(
        resp.headers()
            .get("sec-websocket-protocol")
            .and_then(|v| v.to_str().ok()),
        Some("graphql-transport-ws")
    );
    ws.send(Message::text(
        json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } }).to_string(),
    ))
    .await
    .unwrap();
    let ack = ws.next().await.unwrap().unwrap();
    let ack: Value = serde_json::from_str(ack.to_text().unwrap()).unwrap();
    assert_eq!(ack["type"], "connection_ack");
    // Queries work over the socket too, authenticated by the connection payload.
    ws.send(Message::text(
        json!({ "id": "1", "type": "subscribe", "payload": { "query": "{ me { email } }" } })
            .to_string(),
    ))
    .await
    .unwrap();
    let next = ws.next().await.unwrap().unwrap();
    let next: Value = serde_json::from_str(next.to_text().unwrap()).unwrap();
    assert_eq!(next["type"], "next", "{next}");
    assert_eq!(next["payload"]["data"]["me"]["email"], "ws@example.vn");
}
