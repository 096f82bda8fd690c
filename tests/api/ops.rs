//! Operations: health, readiness, metrics, request ids, graceful shutdown.

use crate::{helpers::TestApp, storage_tests};

storage_tests!(health_ready_and_metrics, graceful_stop_closes_the_database);

async fn health_ready_and_metrics(app: TestApp) {
    let r = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let id = r
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    assert_eq!(
        id.as_deref().map(str::len),
        Some(26),
        "a ULID request id is returned"
    );
    let r = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    app.gql("{ me { id } }", serde_json::json!({})).await;
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(
            "choso_http_requests_total{route=\"/healthz\",method=\"GET\",status=\"200\"} 1"
        ),
        "{text}"
    );
    assert!(text.contains(
        "choso_http_requests_total{route=\"/graphql\",method=\"POST\",status=\"200\"} 1"
    ));
    assert!(text.contains("choso_http_request_duration_seconds_bucket{route=\"/graphql\",method=\"POST\",le=\"+Inf\"} 1"));
    assert!(text.contains("# TYPE choso_http_request_duration_seconds histogram"));
    let r = app
        .client
        .get(app.url("/no/such/page"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

async fn graceful_stop_closes_the_database(mut app: TestApp) {
    // A request in flight when the stop begins still gets its answer.
    let client = app.client.clone();
    let url = app.url("/graphql");
    let inflight = tokio::spawn(async move {
        client
            .post(url)
            .json(&serde_json::json!({ "query": "mutation { login(input: {email: \"a@b.vn\", password: \"whatever1\"}) { userErrors { code } } }" }))
            .send()
            .await
            .map(|r| r.status().as_u16())
    });
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let db = app.db.clone();
    app.stop().await;
    assert_eq!(inflight.await.unwrap().ok(), Some(200));
    assert!(db.ping().await.is_err(), "the pools are closed");
    assert!(
        app.client.get(app.url("/healthz")).send().await.is_err(),
        "no longer listening"
    );
}
