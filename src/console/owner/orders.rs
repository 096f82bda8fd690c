//! Orders: the inbox with filters (status, payment status, order number or phone) that
//! receives new orders without a reload — `GET …/orders/live` is a server-sent-events stream
//! fed by the live order feed (`db.feed()`, across processes on PostgreSQL) — the order
//! page with its history, buttons for the lifecycle moves the order allows
//! (`Status::can_become`), mark paid, and cancel with a reason.

use std::{convert::Infallible, time::Duration};

use axum::{
    extract::{Path, Query},
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
};
use choso_services::{
    Error,
    orders::{self, Order, OrderFilter, PaymentMethod, PaymentStatus, Status},
    provinces,
    text::format_vnd,
};
use futures_util::stream::{self, Stream};
use serde::Deserialize;
use serde_json::{Value, json};

use super::ShopCx;
use crate::console::form::{FormErrors, Posted};

const ALL_STATUSES: [Status; 5] = [
    Status::Pending,
    Status::Confirmed,
    Status::Shipped,
    Status::Delivered,
    Status::Cancelled,
];

fn local_time(ms: i64) -> String {
    // Vietnam time (UTC+7) as "dd/mm/yyyy hh:mm".
    let s = choso_services::ids::rfc3339(ms + orders::VN_OFFSET_MS);
    match (s.get(0..4), s.get(5..7), s.get(8..10), s.get(11..16)) {
        (Some(y), Some(m), Some(d), Some(hm)) => format!("{d}/{m}/{y} {hm}"),
        _ => s,
    }
}

/// An order as a row of the inbox (also the live event's data).
fn row(cx: &ShopCx, o: &Order) -> Value {
    json!({
        "id": o.id, "number": o.display_number(), "url": cx.link(&format!("/orders/{}", o.id)),
        "created": local_time(o.created_at), "customer": o.customer_name, "phone": o.customer_phone,
        "total": format_vnd(o.total), "status": o.status.as_str(),
        "status_label": cx.text(&format!("orders.status.{}", o.status.as_str())).unwrap_or_default(),
        "payment_status": o.payment_status.as_str(),
        "payment_label": cx.text(&format!("orders.payment.{}", o.payment_status.as_str())).unwrap_or_default(),
        "method_label": cx.text(&format!("orders.method.{}", o.payment_method.as_str())).unwrap_or_default(),
        "flagged": o.flagged,
    })
}

#[derive(Deserialize, Default)]
pub struct InboxQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    payment: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    after: String,
    #[serde(default)]
    published: String,
}

pub async fn inbox(cx: ShopCx, Query(q): Query<InboxQuery>) -> Response {
    let filter = OrderFilter {
        status: Status::parse(&q.status),
        payment_status: PaymentStatus::parse(&q.payment),
        query: Some(q.q.clone()).filter(|s| !s.trim().is_empty()),
        first: Some(50),
        after: Some(q.after.clone()).filter(|s| !s.is_empty()),
        ..Default::default()
    };
    let page = match orders::list(&cx.st.db, &cx.scope, &filter).await {
        Ok(p) => p,
        Err(e) => return cx.fail(e),
    };
    let rows: Vec<Value> = page.items.iter().map(|(o, _)| row(&cx, o)).collect();
    let next = page
        .has_next_page
        .then(|| page.items.last().map(|(_, c)| c.clone()))
        .flatten()
        .map(|c| {
            format!(
                "?status={}&payment={}&q={}&after={c}",
                q.status,
                q.payment,
                crate::console::ctx::urlencode(&q.q)
            )
        });
    // New orders are only inserted live into the unfiltered first page.
    let live = filter.status.is_none()
        && filter.payment_status.is_none()
        && filter.query.is_none()
        && filter.after.is_none();
    let statuses: Vec<(String, String)> = ALL_STATUSES
        .iter()
        .map(|s| {
            (
                s.as_str().to_string(),
                cx.text(&format!("orders.status.{}", s.as_str()))
                    .unwrap_or_default(),
            )
        })
        .collect();
    let payments: Vec<(String, String)> = ["UNPAID", "PENDING", "PAID", "REFUNDED", "FAILED"]
        .iter()
        .map(|s| {
            (
                s.to_string(),
                cx.text(&format!("orders.payment.{s}")).unwrap_or_default(),
            )
        })
        .collect();
    cx.show(
        "owner/orders.html",
        json!({ "orders": rows, "next": next, "live": live, "statuses": statuses, "payments": payments,
                "filter": { "status": q.status, "payment": q.payment, "q": q.q }, "just_published": q.published == "1" }),
    )
}

/// The live stream: one `order` event (the inbox row as JSON) per order placed in this
/// shop, and a keep-alive comment every 15 s.
pub async fn live(cx: ShopCx) -> Response {
    let rx = cx.st.db.feed().subscribe();
    let shop_id = cx.shop.id.clone();
    let cx = std::sync::Arc::new(cx);
    let events = stream::unfold(rx, move |mut rx| {
        let shop_id = shop_id.clone();
        let cx = cx.clone();
        async move {
            loop {
                match rx.recv().await {
                    Ok(ev) if ev.shop_id == shop_id => {
                        match orders::get(&cx.st.db, &shop_id, &ev.order_id).await {
                            Ok(Some(o)) => {
                                let data = row(&cx, &o).to_string();
                                let e = Event::default().event("order").id(o.id.clone()).data(data);
                                return Some((Ok::<Event, Infallible>(e), rx));
                            }
                            Ok(None) => continue,
                            Err(e) => {
                                tracing::warn!(error = %e, "live inbox could not read an order");
                                continue;
                            }
                        }
                    }
                    Ok(_) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "live inbox lagged");
                        continue;
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                }
            }
        }
    });
    sse(events)
}

fn sse(events: impl Stream<Item = Result<Event, Infallible>> + Send + 'static) -> Response {
    let mut r = Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response();
    r.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    r
}

async fn detail_page(cx: &ShopCx, id: &str, errors: &FormErrors, form: Value) -> Response {
    let order = match orders::for_member(&cx.st.db, &cx.scope, id).await {
        Ok(o) => o,
        Err(e) => return cx.fail(e),
    };
    let events = match orders::events(&cx.st.db, &cx.scope, &order).await {
        Ok(e) => e,
        Err(e) => return cx.fail(e),
    };
    let history: Vec<Value> = events
        .iter()
        .map(|e| {
            let label = |s: &Option<String>, kind: &str| {
                s.as_deref()
                    .and_then(|v| cx.text(&format!("orders.{kind}.{v}")))
                    .unwrap_or_default()
            };
            let kind = if e.kind == "payment" { "payment" } else { "status" };
            json!({ "when": local_time(e.created_at), "kind": e.kind, "from": label(&e.from_status, kind),
                    "to": label(&e.to_status, kind), "note": e.note, "actor": e.actor_name })
        })
        .collect();
    let moves: Vec<Value> = ALL_STATUSES
        .iter()
        .filter(|s| order.status.can_become(**s) && **s != Status::Cancelled)
        .map(|s| json!({ "to": s.as_str(), "label": cx.text(&format!("orders.move.{}", s.as_str())).unwrap_or_default() }))
        .collect();
    let can_cancel = order.status.can_become(Status::Cancelled);
    let can_mark_paid = order.payment_method != PaymentMethod::Card
        && order.status != Status::Cancelled
        && !matches!(
            order.payment_status,
            PaymentStatus::Paid | PaymentStatus::Refunded
        );
    let lines: Vec<Value> = order
        .lines
        .iter()
        .map(|l| json!({ "title": l.title, "variant": l.variant_title, "sku": l.sku, "quantity": l.quantity,
                         "unit": format_vnd(l.unit_price), "total": format_vnd(l.total) }))
        .collect();
    let address = [
        Some(order.address_line.clone()),
        order.ward.clone(),
        provinces::get(&order.province_code).map(|p| p.name.clone()),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(", ");
    let mut o = row(cx, &order);
    if let Some(m) = o.as_object_mut() {
        m.insert("address".into(), json!(address));
        m.insert("email".into(), json!(order.customer_email));
        m.insert("note".into(), json!(order.note));
        m.insert("subtotal".into(), json!(format_vnd(order.subtotal)));
        m.insert("shipping".into(), json!(format_vnd(order.shipping_fee)));
        m.insert("cancel_reason".into(), json!(order.cancel_reason));
        m.insert("flag_reason".into(), json!(order.flag_reason));
        m.insert(
            "transfer_note".into(),
            json!(
                (order.payment_method == PaymentMethod::BankTransfer)
                    .then(|| orders::transfer_note(order.number))
            ),
        );
        m.insert("lines".into(), json!(lines));
    }
    let status = if errors.is_empty() {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::UNPROCESSABLE_ENTITY
    };
    cx.render(
        status,
        "owner/order.html",
        cx.with_shop(
            json!({ "order": o, "history": history, "moves": moves, "can_cancel": can_cancel,
            "can_mark_paid": can_mark_paid, "errors": errors.to_value(), "form": form }),
        ),
    )
}

pub async fn detail(cx: ShopCx, Path((_, id)): Path<(String, String)>) -> Response {
    detail_page(&cx, &id, &FormErrors::new(), json!({})).await
}

async fn after_action(cx: &ShopCx, id: &str, f: &Posted, r: Result<Order, Error>) -> Response {
    match r {
        Ok(o) => cx.redirect(&cx.link(&format!("/orders/{}", o.id))),
        Err(Error::Invalid(errs)) => {
            let mut errors = FormErrors::from_user_errors(cx, &errs);
            errors.rename("status", "_form");
            errors.rename("orderId", "_form");
            detail_page(cx, id, &errors, f.values()).await
        }
        Err(e) => cx.fail(e),
    }
}

/// A lifecycle move (`to`), with a note (`note`, required to cancel).
pub async fn status(cx: ShopCx, Path((_, id)): Path<(String, String)>, f: Posted) -> Response {
    let Some(to) = Status::parse(f.get("to")) else {
        let mut errors = FormErrors::new();
        errors.add(
            "_form",
            cx.text("errors.INVALID_TRANSITION").unwrap_or_default(),
        );
        return detail_page(&cx, &id, &errors, f.values()).await;
    };
    let r = orders::update_status(&cx.st.db, &cx.scope, &id, to, f.opt("note")).await;
    after_action(&cx, &id, &f, r).await
}

pub async fn paid(cx: ShopCx, Path((_, id)): Path<(String, String)>, f: Posted) -> Response {
    let r = orders::mark_paid(&cx.st.db, &cx.scope, &id, f.opt("note")).await;
    after_action(&cx, &id, &f, r).await
}
