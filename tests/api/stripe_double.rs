//! A local double of the Stripe API on 127.0.0.1:0, speaking Stripe's wire format: form-encoded
//! requests, complete JSON objects back (complete enough for async-stripe's typed responses),
//! Stripe's error JSON on failure. It records every request it receives (path, body, the
//! `Stripe-Account`, `Authorization` and `Idempotency-Key` headers) and can be switched to fail.
//!
//! Endpoints: `POST /v1/checkout/sessions` and `POST /v1/refunds`. The fixtures it builds
//! ([`checkout_session`], [`charge`], [`event`]) also serve the webhook tests.

#![allow(dead_code)]

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use axum::{
    Json, Router,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::post,
};
use serde_json::{Value, json};

/// One request the double received.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub body: String,
    /// The decoded form fields, in order.
    pub form: Vec<(String, String)>,
    pub account: Option<String>,
    pub authorization: Option<String>,
    pub idempotency_key: Option<String>,
}

impl Received {
    /// The value of a form field, e.g. `line_items[0][price_data][currency]`.
    pub fn field(&self, key: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// How the double fails when told to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// HTTP 500 with Stripe's `api_error` JSON.
    ServerError,
    /// HTTP 400 with Stripe's `invalid_request_error` JSON (e.g. the account cannot take charges).
    InvalidRequest,
    /// HTTP 502 with a body that is not JSON (a proxy in the way).
    BadGateway,
}

#[derive(Default)]
struct Inner {
    received: Mutex<Vec<Received>>,
    sessions: Mutex<HashMap<String, Value>>,
    failure: Mutex<Option<Failure>>,
    counter: AtomicU64,
}

pub struct StripeDouble {
    /// The base address, ending with '/' (what `CHOSO_STRIPE_API_BASE` is set to).
    pub base: String,
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for StripeDouble {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl StripeDouble {
    pub async fn start() -> StripeDouble {
        let inner = Arc::new(Inner::default());
        let app = Router::new()
            .route("/v1/checkout/sessions", post(create_session))
            .route("/v1/checkout/sessions/{id}/expire", post(expire_session))
            .route("/v1/refunds", post(create_refund))
            .fallback(unknown)
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the Stripe double");
        let addr = listener.local_addr().expect("address");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        StripeDouble {
            base: format!("http://{addr}/"),
            inner,
            task,
        }
    }

    /// Makes every following request fail (None: succeed again).
    pub fn fail_with(&self, failure: Option<Failure>) {
        *self.inner.failure.lock().unwrap() = failure;
    }

    /// Every request received so far.
    pub fn received(&self) -> Vec<Received> {
        self.inner.received.lock().unwrap().clone()
    }

    /// The requests received on one path.
    pub fn received_on(&self, path: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }

    /// A session the double created, as it answered it.
    pub fn session(&self, id: &str) -> Value {
        self.inner
            .sessions
            .lock()
            .unwrap()
            .get(id)
            .cloned()
            .unwrap_or_else(|| panic!("no session {id}"))
    }

    /// The last session created.
    pub fn last_session(&self) -> Value {
        let last = self.received_on("/v1/checkout/sessions").len();
        assert!(last > 0, "no Checkout Session was created");
        let sessions = self.inner.sessions.lock().unwrap();
        sessions
            .values()
            .find(|s| s["_n"] == json!(last))
            .cloned()
            .expect("last session")
    }
}

fn record(inner: &Inner, path: &str, headers: &HeaderMap, body: &str) {
    let h = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    inner.received.lock().unwrap().push(Received {
        path: path.to_string(),
        body: body.to_string(),
        form: parse_form(body),
        account: h("stripe-account"),
        authorization: h("authorization"),
        idempotency_key: h("idempotency-key"),
    });
}

fn failure(inner: &Inner) -> Option<Response> {
    let f = (*inner.failure.lock().unwrap())?;
    Some(match f {
        Failure::ServerError => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({ "error": { "type": "api_error", "message": "An unknown error occurred (double)." } })),
        )
            .into_response(),
        Failure::InvalidRequest => (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": {
                "type": "invalid_request_error",
                "code": "account_invalid",
                "message": "The provided key does not have access to account (double).",
                "doc_url": "https://stripe.com/docs/error-codes/account-invalid",
                "request_log_url": null
            } })),
        )
            .into_response(),
        Failure::BadGateway => (StatusCode::BAD_GATEWAY, "<html>502 Bad Gateway</html>").into_response(),
    })
}

async fn create_session(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    record(&inner, "/v1/checkout/sessions", &headers, &body);
    if let Some(r) = failure(&inner) {
        return r;
    }
    let form = parse_form(&body);
    let get = |k: &str| {
        form.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    if get("mode").as_deref() != Some("payment") || get("success_url").is_none() {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": { "type": "invalid_request_error", "message": "Missing required param: mode/success_url." } })),
        )
            .into_response();
    }
    let mut total = 0i64;
    let mut i = 0;
    while let Some(amount) = get(&format!("line_items[{i}][price_data][unit_amount]")) {
        let q: i64 = get(&format!("line_items[{i}][quantity]"))
            .and_then(|q| q.parse().ok())
            .unwrap_or(1);
        total += amount.parse::<i64>().unwrap_or(0) * q;
        i += 1;
    }
    let n = inner.counter.fetch_add(1, Ordering::SeqCst) + 1;
    let id = format!("cs_test_a1{n:04}ChosoDouble");
    let metadata: serde_json::Map<String, Value> = form
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix("metadata[")
                .and_then(|k| k.strip_suffix(']'))
                .map(|k| (k.to_string(), json!(v)))
        })
        .collect();
    let now = chrono_now();
    let expires_at = get("expires_at")
        .and_then(|e| e.parse::<i64>().ok())
        .unwrap_or(now + 86_400);
    let mut s = checkout_session(&SessionFixture {
        id: id.clone(),
        amount_total: total,
        currency: get("line_items[0][price_data][currency]").unwrap_or_else(|| "vnd".into()),
        metadata: Value::Object(metadata),
        client_reference_id: get("client_reference_id"),
        customer_email: get("customer_email"),
        success_url: get("success_url"),
        cancel_url: get("cancel_url"),
        expires_at,
        status: "open",
        payment_status: "unpaid",
        payment_intent: None,
    });
    s["_n"] = json!(n);
    inner.sessions.lock().unwrap().insert(id, s.clone());
    if let Some(o) = s.as_object_mut() {
        o.remove("_n");
    }
    Json(s).into_response()
}

async fn expire_session(
    State(inner): State<Arc<Inner>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let path = format!("/v1/checkout/sessions/{id}/expire");
    record(&inner, &path, &headers, &body);
    if let Some(r) = failure(&inner) {
        return r;
    }
    let mut sessions = inner.sessions.lock().unwrap();
    let Some(s) = sessions.get_mut(&id) else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": { "type": "invalid_request_error", "code": "resource_missing", "message": format!("No such checkout.session: '{id}'") } })),
        )
            .into_response();
    };
    s["status"] = json!("expired");
    let mut out = s.clone();
    if let Some(o) = out.as_object_mut() {
        o.remove("_n");
    }
    Json(out).into_response()
}

async fn create_refund(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    record(&inner, "/v1/refunds", &headers, &body);
    if let Some(r) = failure(&inner) {
        return r;
    }
    let form = parse_form(&body);
    let get = |k: &str| {
        form.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    let Some(pi) = get("payment_intent").or_else(|| get("charge")) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": { "type": "invalid_request_error", "message": "One of `charge` or `payment_intent` is required." } })),
        )
            .into_response();
    };
    let n = inner.counter.fetch_add(1, Ordering::SeqCst) + 1;
    let amount = get("amount")
        .and_then(|a| a.parse::<i64>().ok())
        .unwrap_or(250_000);
    let metadata: serde_json::Map<String, Value> = form
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix("metadata[")
                .and_then(|k| k.strip_suffix(']'))
                .map(|k| (k.to_string(), json!(v)))
        })
        .collect();
    Json(json!({
        "id": format!("re_test_{n:04}ChosoDouble"),
        "object": "refund",
        "amount": amount,
        "balance_transaction": format!("txn_test_{n:04}"),
        "charge": format!("ch_test_for_{pi}"),
        "created": chrono_now(),
        "currency": "vnd",
        "description": null,
        "destination_details": null,
        "failure_balance_transaction": null,
        "failure_reason": null,
        "instructions_email": null,
        "metadata": metadata,
        "next_action": null,
        "payment_intent": pi,
        "pending_reason": null,
        "presentment_details": null,
        "reason": null,
        "receipt_number": null,
        "source_transfer_reversal": null,
        "status": "succeeded",
        "transfer_reversal": null
    }))
    .into_response()
}

async fn unknown(headers: HeaderMap, uri: axum::http::Uri) -> Response {
    let _ = headers;
    (
        StatusCode::NOT_FOUND,
        Json(json!({ "error": { "type": "invalid_request_error", "message": format!("Unrecognized request URL (POST: {}) (double).", uri.path()) } })),
    )
        .into_response()
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Decodes `application/x-www-form-urlencoded` (`+` is a space, `%XX` a byte).
pub fn parse_form(body: &str) -> Vec<(String, String)> {
    fn decode(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < bytes.len() => {
                    let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                    match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                        Some(b) => {
                            out.push(b);
                            i += 2;
                        }
                        None => out.push(b'%'),
                    }
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    body.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}

/// What varies between Checkout Session fixtures.
pub struct SessionFixture {
    pub id: String,
    pub amount_total: i64,
    pub currency: String,
    pub metadata: Value,
    pub client_reference_id: Option<String>,
    pub customer_email: Option<String>,
    pub success_url: Option<String>,
    pub cancel_url: Option<String>,
    pub expires_at: i64,
    /// open, complete or expired
    pub status: &'static str,
    /// paid or unpaid
    pub payment_status: &'static str,
    pub payment_intent: Option<String>,
}

/// A complete `checkout.session` object as Stripe renders it.
pub fn checkout_session(f: &SessionFixture) -> Value {
    let created = f.expires_at - 3600;
    // Two halves: one `json!` this large exceeds the default macro recursion limit.
    let mut s = json!({
        "id": f.id,
        "object": "checkout.session",
        "adaptive_pricing": { "enabled": false },
        "after_expiration": null,
        "allow_promotion_codes": null,
        "amount_subtotal": f.amount_total,
        "amount_total": f.amount_total,
        "automatic_tax": { "enabled": false, "liability": null, "provider": null, "status": null },
        "billing_address_collection": null,
        "cancel_url": f.cancel_url,
        "client_reference_id": f.client_reference_id,
        "client_secret": null,
        "collected_information": null,
        "consent": null,
        "consent_collection": null,
        "created": created,
        "currency": f.currency,
        "currency_conversion": null,
        "custom_fields": [],
        "custom_text": { "after_submit": null, "shipping_address": null, "submit": null, "terms_of_service_acceptance": null },
        "customer": null,
        "customer_creation": "if_required",
        "customer_details": if f.payment_status == "paid" {
            json!({ "address": null, "email": f.customer_email, "name": "Nguyễn Thị Lan", "phone": null, "tax_exempt": "none", "tax_ids": [] })
        } else {
            Value::Null
        },
        "customer_email": f.customer_email,
        "discounts": [],
        "expires_at": f.expires_at,
        "invoice": null,
        "invoice_creation": null
    });
    let rest = json!({
        "livemode": false,
        "locale": "vi",
        "metadata": f.metadata,
        "mode": "payment",
        "origin_context": null,
        "payment_intent": f.payment_intent,
        "payment_link": null,
        "payment_method_collection": "if_required",
        "payment_method_configuration_details": null,
        "payment_method_options": { "card": { "request_three_d_secure": "automatic" } },
        "payment_method_types": ["card"],
        "payment_status": f.payment_status,
        "permissions": null,
        "phone_number_collection": { "enabled": false },
        "recovered_from": null,
        "saved_payment_method_options": null,
        "setup_intent": null,
        "shipping_address_collection": null,
        "shipping_cost": null,
        "shipping_options": [],
        "status": f.status,
        "submit_type": null,
        "subscription": null,
        "success_url": f.success_url,
        "total_details": { "amount_discount": 0, "amount_shipping": 0, "amount_tax": 0 },
        "ui_mode": "hosted",
        "url": if f.status == "open" { json!(format!("https://checkout.stripe.com/c/pay/{}#fidkdWxOYHwnPyd1blpxYHZxWjA0", f.id)) } else { Value::Null },
        "wallet_options": null
    });
    if let (Some(a), Value::Object(b)) = (s.as_object_mut(), rest) {
        a.extend(b);
    }
    s
}

/// A complete `charge` object (refunded in full when `amount_refunded == amount`).
pub fn charge(id: &str, payment_intent: &str, amount: i64, amount_refunded: i64) -> Value {
    json!({
        "id": id,
        "object": "charge",
        "amount": amount,
        "amount_captured": amount,
        "amount_refunded": amount_refunded,
        "application": null,
        "application_fee": null,
        "application_fee_amount": null,
        "balance_transaction": "txn_test_charge",
        "billing_details": { "address": { "city": null, "country": "VN", "line1": null, "line2": null, "postal_code": null, "state": null }, "email": null, "name": "Nguyễn Thị Lan", "phone": null, "tax_id": null },
        "calculated_statement_descriptor": "CHOSO",
        "captured": true,
        "created": chrono_now() - 600,
        "currency": "vnd",
        "customer": null,
        "description": null,
        "disputed": false,
        "failure_balance_transaction": null,
        "failure_code": null,
        "failure_message": null,
        "fraud_details": {},
        "livemode": false,
        "metadata": {},
        "on_behalf_of": null,
        "outcome": null,
        "paid": true,
        "payment_intent": payment_intent,
        "payment_method": "pm_test_card",
        "receipt_email": null,
        "receipt_number": null,
        "receipt_url": null,
        "refunded": amount_refunded >= amount,
        "review": null,
        "shipping": null,
        "source_transfer": null,
        "statement_descriptor": null,
        "statement_descriptor_suffix": null,
        "status": "succeeded",
        "transfer_data": null,
        "transfer_group": null
    })
}

/// A complete event envelope around `object`, from the connected account `account`.
pub fn event(id: &str, kind: &str, account: Option<&str>, object: Value) -> String {
    let mut e = json!({
        "id": id,
        "object": "event",
        "api_version": "2026-09-30.endive",
        "created": chrono_now(),
        "data": { "object": object },
        "livemode": false,
        "pending_webhooks": 1,
        "request": { "id": null, "idempotency_key": null },
        "type": kind
    });
    if let Some(a) = account {
        e["account"] = json!(a);
    }
    e.to_string()
}
