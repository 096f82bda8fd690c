//! Orders: placing them without overselling, order numbers, idempotent retries, the status
//! lifecycle with its history, payment status, member listing and the public tracking view,
//! and sales figures.
//!
//! Placing an order is one transaction that starts with its write (the shop's order
//! counter), takes stock with one conditional `UPDATE … WHERE stock >= q` per line, and
//! inserts the order, its lines, the stock movements, its emails and the province's running
//! totals, in two batches of statements. If any line is short, nothing is taken. On SQLite
//! orders are group-committed (`group_commit`). The order row is also the first entry of its
//! history (see [`events`]): no `order_events` row is written for the placement.

use std::{collections::BTreeMap, sync::Arc};

use sqlx::{Row, any::AnyRow};

use crate::{
    args, catalog,
    db::{Backend, Db, Tx, bool_col},
    error::{Error, Result, UserError},
    feed,
    ids::{new_id, now_ms, sha256_hex},
    provinces,
    shops::{self, Shop},
    sql_batch::Batch,
    tenancy::{ShopId, ShopScope},
    text::{Email, Phone, clean},
    vietqr,
};

pub mod group_commit;

pub const MAX_LINES: usize = 50;
pub const MAX_QUANTITY: i64 = 999;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Status {
    Pending,
    Confirmed,
    Shipped,
    Delivered,
    Cancelled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "PENDING",
            Status::Confirmed => "CONFIRMED",
            Status::Shipped => "SHIPPED",
            Status::Delivered => "DELIVERED",
            Status::Cancelled => "CANCELLED",
        }
    }
    pub fn parse(s: &str) -> Option<Status> {
        Some(match s {
            "PENDING" => Status::Pending,
            "CONFIRMED" => Status::Confirmed,
            "SHIPPED" => Status::Shipped,
            "DELIVERED" => Status::Delivered,
            "CANCELLED" => Status::Cancelled,
            _ => return None,
        })
    }
    /// The allowed moves of the lifecycle.
    pub fn can_become(self, to: Status) -> bool {
        matches!(
            (self, to),
            (Status::Pending, Status::Confirmed)
                | (Status::Confirmed, Status::Shipped)
                | (Status::Shipped, Status::Delivered)
                | (Status::Pending, Status::Cancelled)
                | (Status::Confirmed, Status::Cancelled)
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum PaymentMethod {
    Cod,
    BankTransfer,
    Card,
}

impl PaymentMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentMethod::Cod => "COD",
            PaymentMethod::BankTransfer => "BANK_TRANSFER",
            PaymentMethod::Card => "CARD",
        }
    }
    pub fn parse(s: &str) -> Option<PaymentMethod> {
        Some(match s {
            "COD" => PaymentMethod::Cod,
            "BANK_TRANSFER" => PaymentMethod::BankTransfer,
            "CARD" => PaymentMethod::Card,
            _ => return None,
        })
    }
    pub fn enabled_for(self, shop: &Shop) -> bool {
        match self {
            PaymentMethod::Cod => shop.cod_enabled,
            PaymentMethod::BankTransfer => shop.bank_enabled(),
            PaymentMethod::Card => shop.card_enabled(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum PaymentStatus {
    Unpaid,
    Pending,
    Paid,
    Refunded,
    Failed,
}

impl PaymentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Unpaid => "UNPAID",
            PaymentStatus::Pending => "PENDING",
            PaymentStatus::Paid => "PAID",
            PaymentStatus::Refunded => "REFUNDED",
            PaymentStatus::Failed => "FAILED",
        }
    }
    pub fn parse(s: &str) -> Option<PaymentStatus> {
        Some(match s {
            "UNPAID" => PaymentStatus::Unpaid,
            "PENDING" => PaymentStatus::Pending,
            "PAID" => PaymentStatus::Paid,
            "REFUNDED" => PaymentStatus::Refunded,
            "FAILED" => PaymentStatus::Failed,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Line {
    pub line_no: i64,
    pub product_id: String,
    pub variant_id: String,
    pub title: String,
    pub variant_title: String,
    pub sku: Option<String>,
    pub unit_price: i64,
    pub quantity: i64,
    pub total: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Order {
    pub shop_id: ShopId,
    pub id: String,
    pub number: i64,
    pub status: Status,
    pub payment_method: PaymentMethod,
    pub payment_status: PaymentStatus,
    pub customer_name: String,
    pub customer_phone: String,
    pub customer_email: Option<String>,
    pub address_line: String,
    pub ward: Option<String>,
    pub province_code: String,
    pub note: Option<String>,
    pub subtotal: i64,
    pub shipping_fee: i64,
    pub total: i64,
    pub currency: String,
    pub vietqr_payload: Option<String>,
    pub stripe_session_id: Option<String>,
    pub stripe_payment_intent: Option<String>,
    pub checkout_url: Option<String>,
    pub expires_at: Option<i64>,
    pub flagged: bool,
    pub flag_reason: Option<String>,
    pub cancel_reason: Option<String>,
    pub paid_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub lines: Vec<Line>,
}

impl Order {
    /// `#1001`.
    pub fn display_number(&self) -> String {
        format!("#{}", self.number)
    }
}

/// The transfer note customers write for an order (matched by reconciliation).
pub fn transfer_note(number: i64) -> String {
    format!("DH{number}")
}

const ORDER_COLUMNS: &str = "shop_id, id, number, status, payment_method, payment_status, customer_name, customer_phone, \
    customer_email, address_line, ward, province_code, note, subtotal, shipping_fee, total, currency, vietqr_payload, \
    stripe_session_id, stripe_payment_intent, checkout_url, expires_at, flagged, flag_reason, cancel_reason, paid_at, \
    created_at, updated_at";

fn order_from_row(r: &AnyRow) -> Result<Order> {
    let status: String = r.try_get("status")?;
    let method: String = r.try_get("payment_method")?;
    let pstatus: String = r.try_get("payment_status")?;
    let bad = |what: &str, v: &str| Error::Internal(format!("unknown {what} {v}"));
    Ok(Order {
        shop_id: ShopId::new(r.try_get::<String, _>("shop_id")?),
        id: r.try_get("id")?,
        number: r.try_get("number")?,
        status: Status::parse(&status).ok_or_else(|| bad("status", &status))?,
        payment_method: PaymentMethod::parse(&method).ok_or_else(|| bad("method", &method))?,
        payment_status: PaymentStatus::parse(&pstatus)
            .ok_or_else(|| bad("payment status", &pstatus))?,
        customer_name: r.try_get("customer_name")?,
        customer_phone: r.try_get("customer_phone")?,
        customer_email: r.try_get("customer_email")?,
        address_line: r.try_get("address_line")?,
        ward: r.try_get("ward")?,
        province_code: r.try_get("province_code")?,
        note: r.try_get("note")?,
        subtotal: r.try_get("subtotal")?,
        shipping_fee: r.try_get("shipping_fee")?,
        total: r.try_get("total")?,
        currency: r.try_get("currency")?,
        vietqr_payload: r.try_get("vietqr_payload")?,
        stripe_session_id: r.try_get("stripe_session_id")?,
        stripe_payment_intent: r.try_get("stripe_payment_intent")?,
        checkout_url: r.try_get("checkout_url")?,
        expires_at: r.try_get("expires_at")?,
        flagged: bool_col(r, "flagged")?,
        flag_reason: r.try_get("flag_reason")?,
        cancel_reason: r.try_get("cancel_reason")?,
        paid_at: r.try_get("paid_at")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        lines: vec![],
    })
}

fn line_from_row(r: &AnyRow) -> Result<Line> {
    Ok(Line {
        line_no: r.try_get("line_no")?,
        product_id: r.try_get("product_id")?,
        variant_id: r.try_get("variant_id")?,
        title: r.try_get("title")?,
        variant_title: r.try_get("variant_title")?,
        sku: r.try_get("sku")?,
        unit_price: r.try_get("unit_price")?,
        quantity: r.try_get("quantity")?,
        total: r.try_get("total")?,
    })
}

// ---------------------------------------------------------------- placing orders

#[derive(Debug, Clone)]
pub struct LineInput {
    /// The variant's shop (from its composite id) and its own id.
    pub shop_id: ShopId,
    pub variant_id: String,
    pub quantity: i64,
}

#[derive(Debug, Clone)]
pub struct PlaceOrder {
    pub shop_slug: String,
    pub lines: Vec<LineInput>,
    pub customer_name: String,
    pub customer_phone: String,
    pub customer_email: Option<String>,
    pub address_line: String,
    pub ward: Option<String>,
    pub province_code: String,
    pub payment_method: PaymentMethod,
    pub idempotency_key: Option<String>,
    pub note: Option<String>,
}

/// Checked customer and address fields.
#[derive(Debug, Clone)]
struct Contact {
    name: String,
    phone: String,
    email: Option<String>,
    address: String,
    ward: Option<String>,
    province: String,
    note: Option<String>,
}

fn check_contact(p: &PlaceOrder, errors: &mut Vec<UserError>) -> Contact {
    let name = clean(&p.customer_name);
    if name.is_empty() {
        errors.push(UserError::new(
            &["input", "customer", "name"],
            "REQUIRED",
            "Your name is required.",
        ));
    } else if name.chars().count() > 100 {
        errors.push(UserError::new(
            &["input", "customer", "name"],
            "TOO_LONG",
            "At most 100 characters.",
        ));
    }
    let phone = match Phone::parse(&p.customer_phone) {
        Ok(ph) => ph.into_string(),
        Err(e) => {
            errors.push(UserError::new(
                &["input", "customer", "phone"],
                e.code(),
                e.to_string(),
            ));
            String::new()
        }
    };
    let email = match p
        .customer_email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        Some(e) => match Email::parse(e) {
            Ok(e) => Some(e.into_string()),
            Err(e) => {
                errors.push(UserError::new(
                    &["input", "customer", "email"],
                    e.code(),
                    e.to_string(),
                ));
                None
            }
        },
        None => None,
    };
    let address = clean(&p.address_line);
    if address.is_empty() {
        errors.push(UserError::new(
            &["input", "shippingAddress", "line1"],
            "REQUIRED",
            "The delivery address is required.",
        ));
    } else if address.chars().count() > 200 {
        errors.push(UserError::new(
            &["input", "shippingAddress", "line1"],
            "TOO_LONG",
            "At most 200 characters.",
        ));
    }
    let ward = p.ward.as_deref().map(clean).filter(|w| !w.is_empty());
    if ward.as_ref().is_some_and(|w| w.chars().count() > 100) {
        errors.push(UserError::new(
            &["input", "shippingAddress", "ward"],
            "TOO_LONG",
            "At most 100 characters.",
        ));
    }
    let province = p.province_code.trim().to_string();
    if !provinces::is_valid(&province) {
        errors.push(UserError::new(
            &["input", "shippingAddress", "provinceCode"],
            "INVALID_PROVINCE",
            "Choose one of the 34 provinces.",
        ));
    }
    let note = p.note.as_deref().map(clean).filter(|n| !n.is_empty());
    if note.as_ref().is_some_and(|n| n.chars().count() > 500) {
        errors.push(UserError::new(
            &["input", "note"],
            "TOO_LONG",
            "At most 500 characters.",
        ));
    }
    Contact {
        name,
        phone,
        email,
        address,
        ward,
        province,
        note,
    }
}

/// A stable hash of what was asked, to tell a retry from a different order with the same key.
fn request_hash(
    shop: &ShopId,
    lines: &BTreeMap<String, i64>,
    c: &Contact,
    method: PaymentMethod,
) -> String {
    let mut s = format!("{}|{}|", shop.as_str(), method.as_str());
    for (v, q) in lines {
        s.push_str(&format!("{v}x{q};"));
    }
    s.push_str(&format!(
        "|{}|{}|{}|{}|{}|{}|{}",
        c.name,
        c.phone,
        c.email.as_deref().unwrap_or(""),
        c.address,
        c.ward.as_deref().unwrap_or(""),
        c.province,
        c.note.as_deref().unwrap_or("")
    ));
    sha256_hex(&s)
}

/// Places an order (the API's `placeOrder` and the storefront checkout). Card orders come
/// back without a checkout address: the caller creates the Stripe session (see `payments`).
pub async fn place_order(db: &Db, p: PlaceOrder) -> Result<Order> {
    let plan = plan_order(db, p).await?;
    let written = match db.backend() {
        Backend::Sqlite => db.order_commits().submit(db, plan.clone()).await,
        Backend::Postgres => {
            // No NOTIFY in here: the other processes hear of the order after its commit
            // (`feed::order_committed`, called by `settle`).
            let mut tx = db.begin().await?;
            match write_order(&mut tx, &plan).await {
                Ok(Written::Placed(o)) => {
                    tx.commit().await?;
                    Ok(Written::Placed(o))
                }
                other => other,
            }
        }
    };
    settle(db, &plan, written).await
}

/// Checks and prices an order: the shop, the lines (merged by variant), the contact, the
/// payment method; prices are the server's, never the client's. Reads only.
pub(crate) async fn plan_order(db: &Db, p: PlaceOrder) -> Result<Arc<Plan>> {
    let Some(shop) = crate::shop_cache::by_slug(db, &p.shop_slug)
        .await?
        .filter(|s| s.published)
    else {
        return Err(Error::user(
            &["input", "shopSlug"],
            "SHOP_NOT_FOUND",
            "There is no open shop at this address.",
        ));
    };
    let mut errors = Vec::new();
    if p.lines.is_empty() {
        errors.push(UserError::new(
            &["input", "lines"],
            "EMPTY_ORDER",
            "The order has no items.",
        ));
    }
    if p.lines.len() > MAX_LINES {
        errors.push(UserError::new(
            &["input", "lines"],
            "TOO_MANY_LINES",
            format!("At most {MAX_LINES} lines per order."),
        ));
    }
    // Merge lines of the same variant; check quantities and ownership.
    let mut wanted: BTreeMap<String, i64> = BTreeMap::new();
    for (i, l) in p.lines.iter().enumerate() {
        let f = ["input".to_string(), "lines".to_string(), i.to_string()];
        let fr: Vec<&str> = f.iter().map(String::as_str).collect();
        if !(1..=MAX_QUANTITY).contains(&l.quantity) {
            errors.push(UserError::new(
                &[fr[0], fr[1], fr[2], "quantity"],
                "INVALID_QUANTITY",
                format!("Quantity is 1 to {MAX_QUANTITY}."),
            ));
            continue;
        }
        if l.shop_id != shop.id {
            errors.push(UserError::new(
                &[fr[0], fr[1], fr[2], "variantId"],
                "VARIANT_NOT_FOUND",
                "This item is not sold by this shop.",
            ));
            continue;
        }
        *wanted.entry(l.variant_id.clone()).or_default() += l.quantity;
    }
    if wanted.values().any(|q| *q > MAX_QUANTITY) {
        errors.push(UserError::new(
            &["input", "lines"],
            "INVALID_QUANTITY",
            format!("At most {MAX_QUANTITY} of one item."),
        ));
    }
    let contact = check_contact(&p, &mut errors);
    if !p.payment_method.enabled_for(&shop) {
        errors.push(UserError::new(
            &["input", "paymentMethod"],
            "PAYMENT_METHOD_UNAVAILABLE",
            "This shop does not take this payment method.",
        ));
    }
    let key = p
        .idempotency_key
        .as_deref()
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_string);
    if key.as_ref().is_some_and(|k| k.len() > 100) {
        errors.push(UserError::new(
            &["input", "idempotencyKey"],
            "TOO_LONG",
            "At most 100 characters.",
        ));
    }
    // The variants with their products' titles, in one read or from memory (prices are the
    // server's, never the client's).
    let stock_version = db.versions().stock(shop.id.as_str());
    let ids: Vec<String> = wanted.keys().cloned().collect();
    let mut on_sale = crate::for_sale_cache::for_sale(db, &shop.id, &ids).await?;
    let mut priced = Vec::new();
    for (vid, q) in &wanted {
        let Some(found) = on_sale.remove(vid) else {
            errors.push(UserError::new(
                &["input", "lines"],
                "VARIANT_NOT_FOUND",
                format!("Item {vid} is not sold by this shop."),
            ));
            continue;
        };
        match found.product_title {
            Some(product_title) if !found.variant.archived => priced.push(Priced {
                variant: found.variant,
                product_title,
                quantity: *q,
            }),
            _ => errors.push(UserError::new(
                &["input", "lines"],
                "VARIANT_NOT_FOUND",
                format!("{} is no longer for sale.", found.variant.title),
            )),
        }
    }
    if !errors.is_empty() {
        return Err(Error::Invalid(errors));
    }
    // A retry under a key already used is not looked up first (a read per order, for the
    // rare retry): writing it fails on the key's unique index, or finds the stock gone, and
    // `settle` answers with the order placed under the key.
    let hash = request_hash(&shop.id, &wanted, &contact, p.payment_method);
    let subtotal: i64 = priced.iter().map(|p| p.variant.price * p.quantity).sum();
    let shipping = shop.shipping_for(subtotal);
    let total = subtotal + shipping;
    let payment_status = match p.payment_method {
        PaymentMethod::Cod => PaymentStatus::Unpaid,
        PaymentMethod::BankTransfer | PaymentMethod::Card => PaymentStatus::Pending,
    };
    Ok(Arc::new(Plan {
        id: new_id(),
        now: now_ms(),
        shop,
        priced,
        contact,
        method: p.payment_method,
        payment_status,
        subtotal,
        shipping,
        total,
        key,
        hash,
        stock_version,
    }))
}

/// Answers for a written (or refused) order: the order, `OUT_OF_STOCK` for each line short of
/// stock, or — for a retry, found by the key's unique index or by the stock it took being
/// gone — the order already placed under the same key.
pub(crate) async fn settle(db: &Db, plan: &Plan, written: Result<Written>) -> Result<Order> {
    let shop = &plan.shop;
    match written {
        Ok(Written::Placed(placed)) => {
            db.versions().bump_ordered(shop.id.as_str());
            crate::for_sale_cache::taken(db, &shop.id, plan.stock_version, &placed.left);
            feed::order_committed(db, &shop.id, &placed.order.id);
            Ok(placed.order)
        }
        Ok(Written::Short(short)) => {
            // A retry of an order that took the last items: its order, not OUT_OF_STOCK.
            if let Some(k) = &plan.key
                && let Some(existing) = by_idempotency_key(db, &shop.id, k).await?
            {
                return replay(existing, &plan.hash);
            }
            let now_stock = catalog::variants_by_ids(db, &shop.id, &short).await?;
            let errors = short
                .iter()
                .map(|vid| {
                    let (title, left) = now_stock
                        .get(vid)
                        .map(|v| (v.title.clone(), v.stock))
                        .unwrap_or_default();
                    let product = plan
                        .priced
                        .iter()
                        .find(|p| &p.variant.id == vid)
                        .map(|p| p.product_title.clone())
                        .unwrap_or_default();
                    let gid = format!("{}:{vid}", shop.id);
                    UserError::new(
                        &["input", "lines", &gid],
                        "OUT_OF_STOCK",
                        format!("{product} ({title}): only {left} left."),
                    )
                })
                .collect();
            Err(Error::Invalid(errors))
        }
        Err(e) => {
            if let (Some(c), Some(k)) = (e.unique_violation(), &plan.key)
                && c.contains("idempotency")
            {
                // A concurrent retry with the same key won: answer with its order.
                let existing = by_idempotency_key(db, &shop.id, k).await?.ok_or(e)?;
                return replay(existing, &plan.hash);
            }
            Err(e)
        }
    }
}

/// An order checked and priced, ready to be written.
#[derive(Debug)]
pub(crate) struct Plan {
    id: String,
    now: i64,
    shop: Arc<Shop>,
    priced: Vec<Priced>,
    contact: Contact,
    method: PaymentMethod,
    payment_status: PaymentStatus,
    subtotal: i64,
    shipping: i64,
    total: i64,
    key: Option<String>,
    hash: String,
    /// The shop's stock version before the order was written (`for_sale_cache::taken`).
    stock_version: crate::versions::Version,
}

/// One line of a [`Plan`]: the variant as read before the order, its product's title, how many.
#[derive(Debug)]
pub(crate) struct Priced {
    variant: catalog::Variant,
    product_title: String,
    quantity: i64,
}

/// An order written, and the stock its lines left: per variant, when it tracks stock.
#[derive(Debug)]
pub(crate) struct Placed {
    pub(crate) order: Order,
    pub(crate) left: Vec<(String, Option<i64>)>,
}

/// What writing a [`Plan`] did.
#[derive(Debug)]
pub(crate) enum Written {
    Placed(Box<Placed>),
    /// Nothing: these variants had too little stock left.
    Short(Vec<String>),
}

/// Writes a planned order in `tx` on PostgreSQL in two steps: the first takes the shop's
/// order counter (which serialises numbers per shop), each line's stock only if enough is
/// left, and reads whom to tell, in one statement ([`take_statement`]); the second writes the
/// order, its lines, the stock movements, the e-mails and the province's running totals
/// ([`after_taking`]). A `Short` leaves the transaction for the caller to roll back. (On
/// SQLite the group commit runs the same steps for many orders at once, each in a savepoint
/// of its own: [`take_direct`].)
pub(crate) async fn write_order(tx: &mut Tx, plan: &Plan) -> Result<Written> {
    let (sql, args) = take_statement(plan);
    let rows = crate::sql_batch::bind(sqlx::query(sqlx::AssertSqlSafe(sql)), args)
        .fetch_all(&mut **tx)
        .await?;
    let n = plan.priced.len();
    let mut number = None;
    let mut lines = vec![None; n];
    let mut members = Vec::new();
    for r in rows {
        let part: i64 = r.try_get("part")?;
        match usize::try_from(part) {
            Ok(0) => number = Some(r.try_get::<i64, _>("order_seq")?),
            Ok(i) if (1..=n).contains(&i) => {
                lines[i - 1] = Some(if bool_col(&r, "track_inventory")? {
                    Some(r.try_get::<i64, _>("stock")?)
                } else {
                    None
                })
            }
            Ok(i) if i == n + 1 => members.push(r.try_get::<String, _>("email")?),
            _ => {
                return Err(Error::Internal(format!(
                    "an order's first statement answered part {part}"
                )));
            }
        }
    }
    let taken = TakeAnswer {
        number: number.ok_or(Error::NotFound("shop"))?,
        lines,
        members,
    };
    match after_taking(plan, taken)? {
        Taken::Short(short) => Ok(Written::Short(short)),
        Taken::Ready(order, write) => {
            write.run(tx).await?;
            Ok(Written::Placed(order))
        }
    }
}

/// What an order's first statements answered ([`take_batch`], or [`take_statement`]).
#[derive(Debug)]
pub(crate) struct TakeAnswer {
    /// The order's number: the shop's counter, incremented.
    number: i64,
    /// Per line: `None` when its stock was not taken (too little left); else the stock left,
    /// when the variant tracks it.
    lines: Vec<Option<Option<i64>>>,
    /// The shop's members, to tell of the order.
    members: Vec<String>,
}

/// Runs an order's first batch ([`take_batch`]) on the order writer's own SQLite connection
/// and reads what it answered.
pub(crate) fn take_direct(
    conn: &mut crate::sqlite_direct::Direct,
    plan: &Plan,
) -> Result<TakeAnswer> {
    use crate::sqlite_direct::Value;
    let batch = take_batch(plan);
    let mut answers = Vec::with_capacity(batch.len());
    for (sql, args) in batch.statements() {
        answers.push(conn.query(sql, args)?);
    }
    let odd = |what: &str| Error::Internal(format!("an order's first batch answered {what}"));
    let n = plan.priced.len();
    if answers.len() != n + 2 {
        return Err(odd("the wrong number of statements"));
    }
    let number = match answers[0].first().and_then(|r| r.first()) {
        Some(Value::Int(v)) => *v,
        None => return Err(Error::NotFound("shop")),
        Some(_) => return Err(odd("a number that is not one")),
    };
    let lines = answers[1..=n]
        .iter()
        .map(|rows| match rows.first().map(Vec::as_slice) {
            None => Ok(None),
            Some([_, Value::Int(0)]) => Ok(Some(None)),
            Some([Value::Int(stock), Value::Int(_)]) => Ok(Some(Some(*stock))),
            Some(_) => Err(odd("a stock that is not a number")),
        })
        .collect::<Result<Vec<_>>>()?;
    let members = member_emails(&answers[n + 1])?;
    Ok(TakeAnswer {
        number,
        lines,
        members,
    })
}

/// The e-mails [`crate::notify::MEMBER_EMAILS`] answered on the order writer's connection.
fn member_emails(rows: &[Vec<crate::sqlite_direct::Value>]) -> Result<Vec<String>> {
    rows.iter()
        .map(|r| match r.first() {
            Some(crate::sqlite_direct::Value::Text(email)) => Ok(email.clone()),
            _ => Err(Error::Internal(
                "an order's members answered a member without an e-mail".into(),
            )),
        })
        .collect()
}

/// Writes an order on the order writer's own SQLite connection without a savepoint of its
/// own: the group commit's first pass (`group_commit`). It reads first — the shop's order
/// counter, each line's stock, the members to tell — and writes nothing when a line is short,
/// so a short order needs no undoing; then it takes the number and the stock (each statement
/// must change its one row) and writes the order. The savepoint it does without made SQLite
/// copy every page the order touched into a journal in memory, and the `RETURNING` of the
/// statements [`take_direct`] runs builds a temporary table each time: together about a
/// fifth of the writer's time. On any error the order may be half written: the caller rolls
/// the whole transaction back and writes the group again with [`take_direct`], each order in
/// a savepoint.
pub(crate) fn write_direct_unguarded(
    conn: &mut crate::sqlite_direct::Direct,
    plan: &Plan,
) -> Result<Written> {
    use crate::{sql_batch::Arg, sqlite_direct::Value};
    let shop_id = plan.shop.id.as_str();
    let odd = |what: &str| Error::Internal(format!("an order's checks answered {what}"));
    let number = match conn
        .query(
            "SELECT order_seq FROM shops WHERE id = $1",
            &[Arg::from(shop_id)],
        )?
        .first()
        .and_then(|r| r.first())
    {
        Some(Value::Int(v)) => *v + 1,
        None => return Err(Error::NotFound("shop")),
        Some(_) => return Err(odd("a number that is not one")),
    };
    let mut take = Batch::new();
    take.push(
        "UPDATE shops SET order_seq = order_seq + 1 WHERE id = $1",
        args![shop_id],
    );
    let mut lines = Vec::with_capacity(plan.priced.len());
    for Priced {
        variant: v,
        quantity: q,
        ..
    } in &plan.priced
    {
        let rows = conn.query(
            "SELECT stock, track_inventory FROM variants WHERE shop_id = $1 AND id = $2 AND archived = FALSE",
            &[Arg::from(shop_id), Arg::from(&v.id)],
        )?;
        lines.push(match rows.first().map(Vec::as_slice) {
            None => None,
            Some([_, Value::Int(0)]) => Some(None),
            Some([Value::Int(stock), Value::Int(_)]) if *stock >= *q => Some(Some(*stock - *q)),
            Some([Value::Int(_), Value::Int(_)]) => None,
            Some(_) => return Err(odd("a stock that is not a number")),
        });
        // A row that no longer meets the condition is not changed (and the order fails below
        // instead of overselling).
        take.push(TAKE_STOCK, args![*q, plan.now, shop_id, &v.id]);
    }
    let members = member_emails(&conn.query(crate::notify::MEMBER_EMAILS, &[Arg::from(shop_id)])?)?;
    let taken = TakeAnswer {
        number,
        lines,
        members,
    };
    match after_taking(plan, taken)? {
        Taken::Short(short) => Ok(Written::Short(short)),
        Taken::Ready(order, write) => {
            for (sql, args) in take.statements() {
                conn.query(sql, args)?;
                if conn.changes() != 1 {
                    return Err(Error::Internal(
                        "an order's number or stock changed between its checks and its writes"
                            .into(),
                    ));
                }
            }
            for (sql, args) in write.statements() {
                conn.query(sql, args)?;
            }
            Ok(Written::Placed(order))
        }
    }
}

/// What the first batch of an order found.
#[derive(Debug)]
pub(crate) enum Taken {
    /// The stock was taken: the order, and the batch that writes it.
    Ready(Box<Placed>, Batch),
    /// Nothing may be written: these variants had too little stock left.
    Short(Vec<String>),
}

/// Takes a line's stock (`$1` of variant `$4` of shop `$3`, at `$2`) only if enough is left and
/// the variant is on sale: SQLite's order writer, both passes.
const TAKE_STOCK: &str = "UPDATE variants SET stock = CASE WHEN track_inventory = TRUE THEN stock - $1 ELSE stock END, \
    updated_at = $2 WHERE shop_id = $3 AND id = $4 AND archived = FALSE AND (track_inventory = FALSE OR stock >= $1)";

/// An order's first batch: the shop's order number, the stock of each line (taken only if
/// enough is left), the members to tell. Undoing it when the order is `Short` is the caller's.
pub(crate) fn take_batch(plan: &Plan) -> Batch {
    let shop_id = plan.shop.id.as_str();
    let mut take = Batch::new();
    take.push(
        "UPDATE shops SET order_seq = order_seq + 1 WHERE id = $1 RETURNING order_seq",
        args![shop_id],
    );
    for Priced {
        variant: v,
        quantity: q,
        ..
    } in &plan.priced
    {
        take.push(
            format!("{TAKE_STOCK} RETURNING stock, track_inventory"),
            args![*q, plan.now, shop_id, &v.id],
        );
    }
    take.push(crate::notify::MEMBER_EMAILS, args![shop_id]);
    take
}

/// [`take_batch`] as one statement, for PostgreSQL, where each statement is a round trip:
/// the order number, then each line's stock, as data-modifying `WITH`s that the final
/// `SELECT` reads in that order (the shop's row is locked first, as in the batch), and the
/// members. Each row carries its statement's place in the batch (`part`) and the columns
/// [`after_taking`] reads, so parting the rows by `part` gives what the batch would answer.
fn take_statement(plan: &Plan) -> (String, Vec<crate::sql_batch::Arg>) {
    let mut args = args![plan.shop.id.as_str(), plan.now];
    let mut with = vec![
        "n AS (UPDATE shops SET order_seq = order_seq + 1 WHERE id = $1 RETURNING order_seq)"
            .to_string(),
    ];
    let mut select = vec![
        "SELECT 0::bigint AS part, order_seq::bigint AS order_seq, NULL::bigint AS stock, \
         NULL::boolean AS track_inventory, NULL::text AS email FROM n"
            .to_string(),
    ];
    for (i, p) in plan.priced.iter().enumerate() {
        let (q, v) = (args.len() + 1, args.len() + 2);
        args.extend(args![p.quantity, &p.variant.id]);
        with.push(format!(
            "l{i} AS (UPDATE variants SET stock = CASE WHEN track_inventory = TRUE THEN stock - ${q} ELSE stock END, \
             updated_at = $2 WHERE shop_id = $1 AND id = ${v} AND archived = FALSE \
             AND (track_inventory = FALSE OR stock >= ${q}) RETURNING stock, track_inventory)"
        ));
        select.push(format!(
            "SELECT {}::bigint, NULL::bigint, stock::bigint, track_inventory, NULL::text FROM l{i}",
            i + 1
        ));
    }
    select.push(format!(
        "SELECT {}::bigint, NULL::bigint, NULL::bigint, NULL::boolean, m.email FROM ({}) m",
        plan.priced.len() + 1,
        crate::notify::MEMBER_EMAILS
    ));
    let sql = format!(
        "WITH {} SELECT * FROM ({}) t ORDER BY part, email",
        with.join(", "),
        select.join(" UNION ALL ")
    );
    (sql, args)
}

/// Builds the order and its second batch from what its first batch answered.
pub(crate) fn after_taking(plan: &Plan, taken: TakeAnswer) -> Result<Taken> {
    let Plan {
        id,
        now,
        shop,
        priced,
        contact,
        method,
        payment_status,
        subtotal,
        shipping,
        total,
        key,
        hash,
        stock_version: _,
    } = plan;
    let (id, now, subtotal, shipping, total) = (id.clone(), *now, *subtotal, *shipping, *total);
    let shop_id = shop.id.as_str();
    let TakeAnswer {
        number,
        lines: taken,
        members,
    } = taken;
    if taken.len() != priced.len() {
        return Err(Error::Internal(format!(
            "an order's first batch answered for {} lines of {}",
            taken.len(),
            priced.len()
        )));
    }
    let mut short = Vec::new();
    // Per line: the stock left, when the variant tracks inventory.
    let mut left: Vec<Option<i64>> = Vec::new();
    for (Priced { variant: v, .. }, line) in priced.iter().zip(taken) {
        match line {
            Some(l) => left.push(l),
            None => short.push(v.id.clone()),
        }
    }
    if !short.is_empty() {
        return Ok(Taken::Short(short));
    }
    let vietqr_payload = match method {
        PaymentMethod::BankTransfer => match (&shop.bank_bin, &shop.bank_account_number) {
            (Some(bin), Some(acct)) => Some(
                vietqr::encode(&vietqr::Transfer {
                    bin: bin.clone(),
                    account: acct.clone(),
                    amount: Some(total),
                    purpose: Some(transfer_note(number)),
                })
                .map_err(|e| Error::Internal(format!("VietQR: {e}")))?,
            ),
            _ => None,
        },
        _ => None,
    };
    let lines: Vec<Line> = priced
        .iter()
        .enumerate()
        .map(|(i, p)| Line {
            line_no: i as i64 + 1,
            product_id: p.variant.product_id.clone(),
            variant_id: p.variant.id.clone(),
            title: p.product_title.clone(),
            variant_title: p.variant.title.clone(),
            sku: p.variant.sku.clone(),
            unit_price: p.variant.price,
            quantity: p.quantity,
            total: p.variant.price * p.quantity,
        })
        .collect();
    let order = Order {
        shop_id: shop.id.clone(),
        id: id.clone(),
        number,
        status: Status::Pending,
        payment_method: *method,
        payment_status: *payment_status,
        customer_name: contact.name.clone(),
        customer_phone: contact.phone.clone(),
        customer_email: contact.email.clone(),
        address_line: contact.address.clone(),
        ward: contact.ward.clone(),
        province_code: contact.province.clone(),
        note: contact.note.clone(),
        subtotal,
        shipping_fee: shipping,
        total,
        currency: shop.currency.clone(),
        vietqr_payload,
        stripe_session_id: None,
        stripe_payment_intent: None,
        checkout_url: None,
        expires_at: None,
        flagged: false,
        flag_reason: None,
        cancel_reason: None,
        paid_at: None,
        created_at: now,
        updated_at: now,
        lines,
    };
    // The second batch writes the order, its lines, the stock movements, the emails and the
    // province's running totals: effects, which PostgreSQL gets as two statements (the
    // province's totals read the enterprise's new ones). The placement's history entry is
    // the order row itself ([`events`]).
    let mut write = Batch::of_effects();
    write.push(
        "INSERT INTO orders (shop_id, id, number, status, payment_method, payment_status, customer_name, customer_phone, \
         customer_email, address_line, ward, province_code, note, subtotal, shipping_fee, total, currency, idempotency_key, \
         request_hash, vietqr_payload, created_at, updated_at) \
         VALUES ($1, $2, $3, 'PENDING', $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $20)",
        args![
            shop_id,
            &id,
            number,
            method.as_str(),
            payment_status.as_str(),
            &order.customer_name,
            &order.customer_phone,
            order.customer_email.clone(),
            &order.address_line,
            order.ward.clone(),
            &order.province_code,
            order.note.clone(),
            subtotal,
            shipping,
            total,
            &order.currency,
            key.clone(),
            hash,
            order.vietqr_payload.clone(),
            now,
        ],
    );
    write.push_values(
        "INSERT INTO order_lines (shop_id, order_id, line_no, product_id, variant_id, title, variant_title, sku, unit_price, quantity, total)",
        "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        order
            .lines
            .iter()
            .map(|l| {
                args![
                    shop_id,
                    &id,
                    l.line_no,
                    &l.product_id,
                    &l.variant_id,
                    &l.title,
                    &l.variant_title,
                    l.sku.clone(),
                    l.unit_price,
                    l.quantity,
                    l.total,
                ]
            })
            .collect(),
    );
    let moves: Vec<(&str, i64, i64)> = order
        .lines
        .iter()
        .zip(&left)
        .filter_map(|(l, left)| left.map(|after| (l.variant_id.as_str(), -l.quantity, after)))
        .collect();
    catalog::movements_in(&mut write, &shop.id, &moves, "order", None, None, Some(&id));
    let mail = crate::notify::order_data(
        shop,
        number,
        &contact.name,
        &order
            .lines
            .iter()
            .map(|l| {
                (
                    l.title.clone(),
                    l.variant_title.clone(),
                    l.quantity,
                    l.total,
                )
            })
            .collect::<Vec<_>>(),
        shipping,
        total,
        method.as_str(),
        (*method == PaymentMethod::BankTransfer).then(|| transfer_note(number)),
    );
    crate::notify::order_placed(&mut write, shop, contact.email.as_deref(), &members, &mail);
    crate::support::on_order(&mut write, &shop.id, total, now);
    let left = priced
        .iter()
        .zip(left)
        .map(|(p, left)| (p.variant.id.clone(), left))
        .collect();
    Ok(Taken::Ready(Box::new(Placed { order, left }), write))
}

fn replay(existing: (Order, Option<String>), hash: &str) -> Result<Order> {
    let (order, stored) = existing;
    if stored.as_deref() == Some(hash) {
        Ok(order)
    } else {
        Err(Error::user(
            &["input", "idempotencyKey"],
            "IDEMPOTENCY_CONFLICT",
            "This idempotency key was used for a different order.",
        ))
    }
}

/// The order placed with an idempotency key, if any.
pub async fn find_by_key(db: &Db, shop: &ShopId, key: &str) -> Result<Option<Order>> {
    Ok(by_idempotency_key(db, shop, key).await?.map(|(o, _)| o))
}

async fn by_idempotency_key(
    db: &Db,
    shop: &ShopId,
    key: &str,
) -> Result<Option<(Order, Option<String>)>> {
    let sql = format!(
        "SELECT {ORDER_COLUMNS}, request_hash FROM orders WHERE shop_id = $1 AND idempotency_key = $2"
    );
    // A reader sees every committed order (on SQLite a read takes a fresh WAL snapshot); an
    // order of the same key still being written is caught by the key's unique index and
    // answered from here once committed. Reading through SQLite's one writer instead made
    // every order with a key queue behind the group commit for this lookup.
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(shop.as_str().to_string())
        .bind(key.to_string())
        .fetch_optional(db.read())
        .await?;
    let Some(row) = row else { return Ok(None) };
    let mut order = order_from_row(&row)?;
    order.lines = lines_of(db, shop, &order.id).await?;
    Ok(Some((order, row.try_get("request_hash")?)))
}

#[allow(clippy::too_many_arguments)]
async fn add_event(
    tx: &mut Tx,
    shop: &ShopId,
    order_id: &str,
    kind: &str,
    from: Option<&str>,
    to: Option<&str>,
    note: Option<&str>,
    actor: Option<&str>,
) -> Result<()> {
    let mut b = Batch::new();
    event_in(&mut b, shop, order_id, kind, from, to, note, actor);
    b.run(tx).await?;
    Ok(())
}

/// [`add_event`] as a statement of a batch.
#[allow(clippy::too_many_arguments)]
fn event_in(
    b: &mut Batch,
    shop: &ShopId,
    order_id: &str,
    kind: &str,
    from: Option<&str>,
    to: Option<&str>,
    note: Option<&str>,
    actor: Option<&str>,
) {
    b.push(
        "INSERT INTO order_events (shop_id, id, order_id, kind, from_status, to_status, note, actor_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        args![shop.as_str(), new_id(), order_id, kind, from, to, note, actor, now_ms()],
    );
}

// ---------------------------------------------------------------- reading

async fn lines_of(db: &Db, shop: &ShopId, order_id: &str) -> Result<Vec<Line>> {
    let rows = sqlx::query(
        "SELECT line_no, product_id, variant_id, title, variant_title, sku, unit_price, quantity, total FROM order_lines \
         WHERE shop_id = $1 AND order_id = $2 ORDER BY line_no",
    )
    .bind(shop.as_str().to_string())
    .bind(order_id.to_string())
    .fetch_all(db.read())
    .await?;
    rows.iter().map(line_from_row).collect()
}

/// The lines of several orders in one statement.
pub async fn lines_for(
    db: &Db,
    shop: &ShopId,
    order_ids: &[String],
) -> Result<std::collections::HashMap<String, Vec<Line>>> {
    let mut out: std::collections::HashMap<String, Vec<Line>> = std::collections::HashMap::new();
    if order_ids.is_empty() {
        return Ok(out);
    }
    let ph: Vec<String> = (0..order_ids.len())
        .map(|i| format!("${}", i + 2))
        .collect();
    let sql = format!(
        "SELECT order_id, line_no, product_id, variant_id, title, variant_title, sku, unit_price, quantity, total FROM order_lines \
         WHERE shop_id = $1 AND order_id IN ({}) ORDER BY order_id, line_no",
        ph.join(", ")
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(shop.as_str().to_string());
    for id in order_ids {
        q = q.bind(id.clone());
    }
    for r in q.fetch_all(db.read()).await? {
        let oid: String = r.try_get("order_id")?;
        out.entry(oid).or_default().push(line_from_row(&r)?);
    }
    Ok(out)
}

/// An order with its lines (no access check: callers hold a scope or are the payment flow).
pub async fn get(db: &Db, shop: &ShopId, id: &str) -> Result<Option<Order>> {
    let sql = format!("SELECT {ORDER_COLUMNS} FROM orders WHERE shop_id = $1 AND id = $2");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(shop.as_str().to_string())
        .bind(id.to_string())
        .fetch_optional(db.write())
        .await?;
    let Some(row) = row else { return Ok(None) };
    let mut o = order_from_row(&row)?;
    o.lines = lines_of(db, shop, id).await?;
    Ok(Some(o))
}

/// An order by its number.
pub async fn by_number(db: &Db, shop: &ShopId, number: i64) -> Result<Option<Order>> {
    let sql = format!("SELECT {ORDER_COLUMNS} FROM orders WHERE shop_id = $1 AND number = $2");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(shop.as_str().to_string())
        .bind(number)
        .fetch_optional(db.read())
        .await?;
    let Some(row) = row else { return Ok(None) };
    let mut o = order_from_row(&row)?;
    o.lines = lines_of(db, shop, &o.id).await?;
    Ok(Some(o))
}

/// `#1001`, `1001` → 1001.
pub fn parse_number(s: &str) -> Option<i64> {
    s.trim()
        .trim_start_matches('#')
        .trim()
        .parse()
        .ok()
        .filter(|n| *n > 0)
}

/// The public tracking view: number and phone must both match. Personal data is the
/// caller's to withhold (the GraphQL type shows none of it).
pub async fn track(db: &Db, shop_slug: &str, number: &str, phone: &str) -> Result<Option<Order>> {
    let (Some(n), Ok(phone)) = (parse_number(number), Phone::parse(phone)) else {
        return Ok(None);
    };
    let Some(shop) = shops::by_slug(db, shop_slug).await?.filter(|s| s.published) else {
        return Ok(None);
    };
    Ok(by_number(db, &shop.id, n)
        .await?
        .filter(|o| o.customer_phone == phone.as_str()))
}

/// A member's view of one order.
pub async fn for_member(db: &Db, scope: &ShopScope, id: &str) -> Result<Order> {
    get(db, scope.shop_id(), id)
        .await?
        .ok_or(Error::NotFound("order"))
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Event {
    pub id: String,
    pub kind: String,
    pub from_status: Option<String>,
    pub to_status: Option<String>,
    pub note: Option<String>,
    pub actor_id: Option<String>,
    pub actor_name: Option<String>,
    pub created_at: i64,
}

/// The order's history, oldest first. It starts with the placement, made from the order
/// itself (its id, `created_at` and the customer's note; status `PENDING`, no actor): the
/// order row holds all that entry would, and writing it again as an `order_events` row cost
/// every order three more B-trees (the table, its primary key, its order index; migration
/// 0012). The changes after it are `order_events` rows, whose ids are made later than the
/// order's and sort after it. The callers have read `order` through `scope` already.
pub async fn events(db: &Db, scope: &ShopScope, order: &Order) -> Result<Vec<Event>> {
    if &order.shop_id != scope.shop_id() {
        return Err(Error::NotFound("order"));
    }
    let placed = Event {
        id: order.id.clone(),
        kind: "status".into(),
        from_status: None,
        to_status: Some(Status::Pending.as_str().into()),
        note: order.note.clone(),
        actor_id: None,
        actor_name: None,
        created_at: order.created_at,
    };
    let rows = sqlx::query(
        "SELECT e.id, e.kind, e.from_status, e.to_status, e.note, e.actor_id, u.full_name, e.created_at FROM order_events e \
         LEFT JOIN users u ON u.id = e.actor_id WHERE e.shop_id = $1 AND e.order_id = $2 ORDER BY e.id",
    )
    .bind(scope.shop_id().as_str().to_string())
    .bind(order.id.clone())
    .fetch_all(db.read())
    .await?;
    let changes = rows.iter().map(|r| {
        Ok(Event {
            id: r.try_get("id")?,
            kind: r.try_get("kind")?,
            from_status: r.try_get("from_status")?,
            to_status: r.try_get("to_status")?,
            note: r.try_get("note")?,
            actor_id: r.try_get("actor_id")?,
            actor_name: r.try_get("full_name")?,
            created_at: r.try_get("created_at")?,
        })
    });
    std::iter::once(Ok(placed)).chain(changes).collect()
}

#[derive(Debug, Clone, Default)]
pub struct OrderFilter {
    pub status: Option<Status>,
    pub payment_status: Option<PaymentStatus>,
    pub from: Option<i64>,
    pub to: Option<i64>,
    /// An order number (`#1001`) or a phone number.
    pub query: Option<String>,
    pub first: Option<i64>,
    pub after: Option<String>,
}

/// Orders newest first, with filters; cursors are order ids.
pub async fn list(db: &Db, scope: &ShopScope, f: &OrderFilter) -> Result<catalog::Page<Order>> {
    let first = catalog::page_size(f.first)?;
    let mut sql = format!("SELECT {ORDER_COLUMNS} FROM orders WHERE shop_id = $1");
    let mut texts: Vec<String> = vec![scope.shop_id().as_str().to_string()];
    let mut nums: Vec<i64> = vec![];
    // Text parameters come first ($1…$k), numbers after; the SQL is built to match.
    let mut text_clause = String::new();
    if let Some(s) = f.status {
        texts.push(s.as_str().to_string());
        text_clause.push_str(&format!(" AND status = ${}", texts.len()));
    }
    if let Some(s) = f.payment_status {
        texts.push(s.as_str().to_string());
        text_clause.push_str(&format!(" AND payment_status = ${}", texts.len()));
    }
    if let Some(a) = f.after.as_deref().filter(|a| !a.is_empty()) {
        if a.len() != 26 || !a.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(Error::user(
                &["after"],
                "INVALID_CURSOR",
                "This cursor is not one this list gave out.",
            ));
        }
        texts.push(a.to_string());
        text_clause.push_str(&format!(" AND id < ${}", texts.len()));
    }
    let mut num_clause = String::new();
    if let Some(q) = f.query.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        if let Ok(p) = Phone::parse(q) {
            texts.push(p.into_string());
            text_clause.push_str(&format!(" AND customer_phone = ${}", texts.len()));
        } else if let Some(n) = parse_number(q) {
            nums.push(n);
            num_clause.push_str(" AND number = $N");
        } else {
            return Ok(catalog::Page {
                items: vec![],
                has_next_page: false,
            });
        }
    }
    if let Some(from) = f.from {
        nums.push(from);
        num_clause.push_str(" AND created_at >= $N");
    }
    if let Some(to) = f.to {
        nums.push(to);
        num_clause.push_str(" AND created_at < $N");
    }
    sql.push_str(&text_clause);
    let mut n = texts.len();
    let num_clause = num_clause
        .split("$N")
        .enumerate()
        .map(|(i, part)| {
            if i == 0 {
                part.to_string()
            } else {
                n += 1;
                format!("${n}{part}")
            }
        })
        .collect::<String>();
    sql.push_str(&num_clause);
    sql.push_str(&format!(" ORDER BY id DESC LIMIT {}", first + 1));
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for t in texts {
        q = q.bind(t);
    }
    for v in nums {
        q = q.bind(v);
    }
    let rows = q.fetch_all(db.read()).await?;
    let has_next_page = rows.len() as i64 > first;
    let mut orders: Vec<Order> = rows
        .iter()
        .take(first as usize)
        .map(order_from_row)
        .collect::<Result<_>>()?;
    let ids: Vec<String> = orders.iter().map(|o| o.id.clone()).collect();
    let mut lines = lines_for(db, scope.shop_id(), &ids).await?;
    for o in &mut orders {
        o.lines = lines.remove(&o.id).unwrap_or_default();
    }
    Ok(catalog::Page {
        items: orders
            .into_iter()
            .map(|o| {
                let c = o.id.clone();
                (o, c)
            })
            .collect(),
        has_next_page,
    })
}

// ---------------------------------------------------------------- lifecycle

/// Moves an order along its lifecycle (members). Cancelling returns the stock. Delivering a
/// cash-on-delivery order marks it paid.
pub async fn update_status(
    db: &Db,
    scope: &ShopScope,
    order_id: &str,
    to: Status,
    note: Option<String>,
) -> Result<Order> {
    let order = for_member(db, scope, order_id).await?;
    transition(db, &order, to, note, Some(scope.user_id())).await
}

/// The transition itself (also used by payment flows, e.g. an expired Stripe session).
pub async fn transition(
    db: &Db,
    order: &Order,
    to: Status,
    note: Option<String>,
    actor: Option<&str>,
) -> Result<Order> {
    let shop = &order.shop_id;
    if !order.status.can_become(to) {
        return Err(Error::user(
            &["status"],
            "INVALID_TRANSITION",
            format!(
                "An order that is {} cannot become {}.",
                order.status.as_str(),
                to.as_str()
            ),
        ));
    }
    let note = note
        .map(|n| clean(&n))
        .filter(|n| !n.is_empty())
        .map(|n| n.chars().take(500).collect::<String>());
    if to == Status::Cancelled && note.is_none() && actor.is_some() {
        return Err(Error::user(
            &["note"],
            "REASON_REQUIRED",
            "Say why the order is cancelled.",
        ));
    }
    let now = now_ms();
    let mut tx = db.begin().await?;
    let n = sqlx::query(
        "UPDATE orders SET status = $1, updated_at = $2, cancel_reason = CASE WHEN $1 = 'CANCELLED' THEN $3 ELSE cancel_reason END \
         WHERE shop_id = $4 AND id = $5 AND status = $6",
    )
    .bind(to.as_str().to_string())
    .bind(now)
    .bind(note.clone())
    .bind(shop.as_str().to_string())
    .bind(order.id.clone())
    .bind(order.status.as_str().to_string())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if n == 0 {
        return Err(Error::user(
            &["status"],
            "INVALID_TRANSITION",
            "The order changed meanwhile: reload it.",
        ));
    }
    add_event(
        &mut tx,
        shop,
        &order.id,
        "status",
        Some(order.status.as_str()),
        Some(to.as_str()),
        note.as_deref(),
        actor,
    )
    .await?;
    if to == Status::Cancelled {
        for l in &order.lines {
            let row = sqlx::query(
                "UPDATE variants SET stock = stock + $1, updated_at = $2 WHERE shop_id = $3 AND id = $4 AND track_inventory = TRUE RETURNING stock",
            )
            .bind(l.quantity)
            .bind(now)
            .bind(shop.as_str().to_string())
            .bind(l.variant_id.clone())
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(r) = row {
                let after: i64 = r.try_get("stock")?;
                catalog::record_movement(
                    &mut tx,
                    shop,
                    &l.variant_id,
                    l.quantity,
                    after,
                    "cancel",
                    None,
                    actor,
                    Some(&order.id),
                )
                .await?;
            }
        }
        if order.payment_status == PaymentStatus::Pending {
            set_payment(&mut tx, order, PaymentStatus::Failed, None, actor, now).await?;
        }
        crate::support::on_order_cancelled(&mut tx, shop, order.total, order.created_at).await?;
    }
    if let Some(email) = &order.customer_email
        && let Some(shop_row) = shops::get(db, shop).await?
    {
        let data = serde_json::json!({
            "number": order.display_number(), "number_plain": order.number, "customer_name": order.customer_name,
            "status": to.as_str(), "note": if to == Status::Cancelled { note.clone() } else { None },
        });
        crate::notify::status_changed(&mut tx, &shop_row, email, data).await?;
    }
    if to == Status::Delivered
        && order.payment_method == PaymentMethod::Cod
        && order.payment_status == PaymentStatus::Unpaid
    {
        set_payment(
            &mut tx,
            order,
            PaymentStatus::Paid,
            Some("cash collected on delivery"),
            actor,
            now,
        )
        .await?;
    }
    tx.commit().await?;
    if to == Status::Cancelled {
        // Its stock came back.
        crate::versions::stock_changed(db, shop).await;
    }
    get(db, shop, &order.id)
        .await?
        .ok_or(Error::NotFound("order"))
}

/// Moves the payment status from what `order` says it is; false (and no event) if it changed
/// meanwhile, so a notification processed twice cannot pay twice.
async fn set_payment(
    tx: &mut Tx,
    order: &Order,
    to: PaymentStatus,
    note: Option<&str>,
    actor: Option<&str>,
    now: i64,
) -> Result<bool> {
    let n = sqlx::query(
        "UPDATE orders SET payment_status = $1, paid_at = CASE WHEN $1 = 'PAID' THEN $2 ELSE paid_at END, updated_at = $2 \
         WHERE shop_id = $3 AND id = $4 AND payment_status = $5",
    )
    .bind(to.as_str().to_string())
    .bind(now)
    .bind(order.shop_id.as_str().to_string())
    .bind(order.id.clone())
    .bind(order.payment_status.as_str().to_string())
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if n == 0 {
        return Ok(false);
    }
    add_event(
        tx,
        &order.shop_id,
        &order.id,
        "payment",
        Some(order.payment_status.as_str()),
        Some(to.as_str()),
        note,
        actor,
    )
    .await?;
    Ok(true)
}

/// Marks a cash or bank-transfer order paid (members).
pub async fn mark_paid(
    db: &Db,
    scope: &ShopScope,
    order_id: &str,
    note: Option<String>,
) -> Result<Order> {
    let order = for_member(db, scope, order_id).await?;
    if order.payment_method == PaymentMethod::Card {
        return Err(Error::user(
            &["orderId"],
            "INVALID_PAYMENT_TRANSITION",
            "Card payments are marked paid by Stripe.",
        ));
    }
    if order.status == Status::Cancelled
        || matches!(
            order.payment_status,
            PaymentStatus::Paid | PaymentStatus::Refunded
        )
    {
        return Err(Error::user(
            &["orderId"],
            "INVALID_PAYMENT_TRANSITION",
            format!(
                "An order whose payment is {} cannot be marked paid.",
                order.payment_status.as_str()
            ),
        ));
    }
    let note = note.map(|n| clean(&n)).filter(|n| !n.is_empty());
    record_payment(
        db,
        &order,
        PaymentStatus::Paid,
        note.as_deref().or(Some("marked paid")),
        Some(scope.user_id()),
    )
    .await
}

/// Sets the payment status with a history event (payment flows and members). If the status
/// changed since `order` was read, nothing happens and the current order is returned.
pub async fn record_payment(
    db: &Db,
    order: &Order,
    to: PaymentStatus,
    note: Option<&str>,
    actor: Option<&str>,
) -> Result<Order> {
    let mut tx = db.begin().await?;
    if set_payment(&mut tx, order, to, note, actor, now_ms()).await? {
        tx.commit().await?;
    } else {
        tx.rollback().await?;
    }
    get(db, &order.shop_id, &order.id)
        .await?
        .ok_or(Error::NotFound("order"))
}

/// Flags an order for a member to look at (e.g. a transfer of the wrong amount).
pub async fn flag(db: &Db, order: &Order, reason: &str) -> Result<()> {
    let mut tx = db.begin().await?;
    sqlx::query("UPDATE orders SET flagged = TRUE, flag_reason = $1, updated_at = $2 WHERE shop_id = $3 AND id = $4")
        .bind(reason.to_string())
        .bind(now_ms())
        .bind(order.shop_id.as_str().to_string())
        .bind(order.id.clone())
        .execute(&mut *tx)
        .await?;
    add_event(
        &mut tx,
        &order.shop_id,
        &order.id,
        "flag",
        None,
        None,
        Some(reason),
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Stores what the card payment flow learnt (session, checkout address, expiry).
pub async fn set_card_session(
    db: &Db,
    order: &Order,
    session_id: &str,
    url: &str,
    expires_at: i64,
) -> Result<Order> {
    sqlx::query(
        "UPDATE orders SET stripe_session_id = $1, checkout_url = $2, expires_at = $3, updated_at = $4 WHERE shop_id = $5 AND id = $6",
    )
    .bind(session_id.to_string())
    .bind(url.to_string())
    .bind(expires_at)
    .bind(now_ms())
    .bind(order.shop_id.as_str().to_string())
    .bind(order.id.clone())
    .execute(db.write())
    .await?;
    get(db, &order.shop_id, &order.id)
        .await?
        .ok_or(Error::NotFound("order"))
}

/// Stores the payment intent of a paid card order (needed for refunds).
pub async fn set_payment_intent(db: &Db, order: &Order, intent: &str) -> Result<()> {
    sqlx::query("UPDATE orders SET stripe_payment_intent = $1 WHERE shop_id = $2 AND id = $3")
        .bind(intent.to_string())
        .bind(order.shop_id.as_str().to_string())
        .bind(order.id.clone())
        .execute(db.write())
        .await?;
    Ok(())
}

/// The expiry worker's query; its conditions are those of the partial index
/// `orders_expiry_idx`, which holds only these orders (migration 0011).
const EXPIRED_CARD_ORDERS: &str = "SELECT shop_id, id FROM orders WHERE payment_method = 'CARD' \
     AND payment_status = 'PENDING' AND status = 'PENDING' AND expires_at IS NOT NULL \
     AND expires_at < $1 ORDER BY expires_at LIMIT $2";

/// Card orders still unpaid after their deadline (the expiry worker cancels them).
pub async fn expired_card_orders(db: &Db, now: i64, limit: i64) -> Result<Vec<(ShopId, String)>> {
    let rows = sqlx::query(EXPIRED_CARD_ORDERS)
        .bind(now)
        .bind(limit)
        .fetch_all(db.read())
        .await?;
    rows.iter()
        .map(|r| {
            Ok((
                ShopId::new(r.try_get::<String, _>("shop_id")?),
                r.try_get("id")?,
            ))
        })
        .collect()
}

/// The best sellers of a period: the shop's orders of the period first (by their creation
/// index), then their lines.
const TOP_PRODUCTS: &str = "SELECT l.product_id, MAX(l.title) AS title, CAST(SUM(l.quantity) AS BIGINT) AS qty, \
     CAST(SUM(l.total) AS BIGINT) AS revenue FROM order_lines l JOIN orders o ON o.shop_id = l.shop_id AND o.id = l.order_id \
     WHERE l.shop_id = $1 AND o.status <> 'CANCELLED' AND o.created_at >= $2 AND o.created_at < $3 \
     GROUP BY l.product_id ORDER BY revenue DESC, qty DESC LIMIT 10";

/// [`product_has_orders`], asked through the product's variants: a line's variant belongs
/// to the line's product, and the lines are indexed by variant (the index a variant's
/// deletion needs anyway); the first line found answers.
const PRODUCT_ORDERED: &str = "SELECT 1 AS n FROM order_lines WHERE shop_id = $1 \
     AND variant_id IN (SELECT id FROM variants WHERE shop_id = $1 AND product_id = $2) LIMIT 1";

/// Whether any order references a product (then it is archived rather than deleted).
pub async fn product_has_orders(db: &Db, shop: &ShopId, product_id: &str) -> Result<bool> {
    let row = sqlx::query(PRODUCT_ORDERED)
        .bind(shop.as_str().to_string())
        .bind(product_id.to_string())
        .fetch_optional(db.read())
        .await?;
    Ok(row.is_some())
}

// ---------------------------------------------------------------- payment notifications

/// Records a processed payment notification; false if it was already processed.
pub async fn claim_payment_event(
    db: &Db,
    shop: &ShopId,
    provider: &str,
    event_id: &str,
    order_id: Option<&str>,
    outcome: &str,
    amount: Option<i64>,
) -> Result<bool> {
    let res = sqlx::query(
        "INSERT INTO payment_events (shop_id, provider, event_id, order_id, outcome, amount, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(shop.as_str().to_string())
    .bind(provider.to_string())
    .bind(event_id.to_string())
    .bind(order_id.map(str::to_string))
    .bind(outcome.to_string())
    .bind(amount)
    .bind(now_ms())
    .execute(db.write())
    .await;
    match res {
        Ok(_) => Ok(true),
        Err(e) => {
            let e = Error::from(e);
            if e.unique_violation().is_some() {
                Ok(false)
            } else {
                Err(e)
            }
        }
    }
}

// ---------------------------------------------------------------- statistics

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct TopProduct {
    pub product_id: String,
    pub title: String,
    pub quantity: i64,
    pub revenue: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    pub orders: i64,
    pub revenue: i64,
    pub average_order_value: i64,
    pub top_products: Vec<TopProduct>,
    /// (day as YYYY-MM-DD in Vietnam time, orders, revenue)
    pub by_day: Vec<(String, i64, i64)>,
}

/// Vietnam is UTC+7 all year.
pub const VN_OFFSET_MS: i64 = 7 * 3600 * 1000;

/// Orders (not cancelled) and their revenue between `from` and `to` (Unix ms).
pub async fn stats(db: &Db, scope: &ShopScope, from: i64, to: i64) -> Result<Stats> {
    let shop = scope.shop_id().as_str().to_string();
    let row = sqlx::query(
        "SELECT COUNT(*) AS n, CAST(COALESCE(SUM(total), 0) AS BIGINT) AS revenue FROM orders \
         WHERE shop_id = $1 AND status <> 'CANCELLED' AND created_at >= $2 AND created_at < $3",
    )
    .bind(shop.clone())
    .bind(from)
    .bind(to)
    .fetch_one(db.read())
    .await?;
    let orders: i64 = row.try_get("n")?;
    let revenue: i64 = row.try_get("revenue")?;
    let top = sqlx::query(TOP_PRODUCTS)
        .bind(shop.clone())
        .bind(from)
        .bind(to)
        .fetch_all(db.read())
        .await?;
    let top_products = top
        .iter()
        .map(|r| {
            Ok(TopProduct {
                product_id: r.try_get("product_id")?,
                title: r.try_get("title")?,
                quantity: r.try_get("qty")?,
                revenue: r.try_get("revenue")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let days = sqlx::query(
        "SELECT CAST((created_at + $4) / 86400000 AS BIGINT) AS day, COUNT(*) AS n, CAST(COALESCE(SUM(total), 0) AS BIGINT) AS revenue \
         FROM orders WHERE shop_id = $1 AND status <> 'CANCELLED' AND created_at >= $2 AND created_at < $3 \
         GROUP BY CAST((created_at + $4) / 86400000 AS BIGINT) ORDER BY day",
    )
    .bind(shop)
    .bind(from)
    .bind(to)
    .bind(VN_OFFSET_MS)
    .fetch_all(db.read())
    .await?;
    let by_day = days
        .iter()
        .map(|r| {
            let day: i64 = r.try_get("day")?;
            let date = time::OffsetDateTime::from_unix_timestamp(day * 86400)
                .map(|d| d.date().to_string())
                .unwrap_or_default();
            Ok((date, r.try_get("n")?, r.try_get("revenue")?))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Stats {
        orders,
        revenue,
        average_order_value: if orders > 0 { revenue / orders } else { 0 },
        top_products,
        by_day,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Neither the best sellers of a period nor the "was this product ever ordered" check
    /// walks the shop's order lines: the first reads the period's orders by their creation
    /// index, the second looks up the product's variants in the lines' variant index.
    #[tokio::test]
    async fn product_statistics_read_bounded_ranges() {
        let (dir, db) = crate::db::temp_sqlite("product-plans", true).await;
        let top = crate::db::query_plan(&db, TOP_PRODUCTS, &["s", "0", "1"]).await;
        assert!(
            top.first().is_some_and(|d| d.contains(
                "o USING INDEX orders_created_idx (shop_id=? AND created_at>? AND created_at<?)"
            )),
            "{top:?}"
        );
        let ordered = crate::db::query_plan(&db, PRODUCT_ORDERED, &["s", "p"]).await;
        assert!(
            ordered
                .iter()
                .any(|d| d.contains("order_lines USING COVERING INDEX order_lines_variant_idx (shop_id=? AND variant_id=?)")),
            "{ordered:?}"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    /// The expiry worker's query implies the partial index's conditions, so it is answered
    /// from that index (SQLite's plan names it) rather than by a scan of every order: a
    /// condition changed on one side only would quietly stop the index from being used.
    #[tokio::test]
    async fn the_expiry_query_reads_its_partial_index() {
        let (dir, db) = crate::db::temp_sqlite("expiry", true).await;
        let plan = crate::db::query_plan(&db, EXPIRED_CARD_ORDERS, &["0", "10"]).await;
        assert!(
            plan.iter()
                .any(|d| d.contains("USING INDEX orders_expiry_idx")),
            "{plan:?}"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    /// Migration 0012 takes out the placement rows written before the history read the
    /// placement from the order row, and no other event.
    #[tokio::test]
    async fn migration_0012_removes_only_the_stored_placements() {
        let (dir, db) = crate::db::temp_sqlite("placements", false).await;
        crate::db::migrate_to(&db, 11).await;
        // Events of an order that is not there: the rows alone are what the migration reads.
        crate::db::seed_without_foreign_keys(
            &db,
            "INSERT INTO order_events (shop_id, id, order_id, kind, from_status, to_status, created_at) VALUES \
             ('s', 'e1', 'o', 'status', NULL, 'PENDING', 0), \
             ('s', 'e2', 'o', 'status', 'PENDING', 'CONFIRMED', 0), \
             ('s', 'e3', 'o', 'payment', 'UNPAID', 'PAID', 0), \
             ('s', 'e4', 'o', 'flag', NULL, NULL, 0), \
             ('s', 'e5', 'o', 'status', 'CONFIRMED', 'CANCELLED', 0)",
        )
        .await;
        db.migrate().await.expect("migrate");
        let left: Vec<String> = sqlx::query("SELECT id FROM order_events ORDER BY id")
            .fetch_all(db.read())
            .await
            .expect("events")
            .iter()
            .map(|r| r.try_get("id").expect("id"))
            .collect();
        assert_eq!(left, ["e2", "e3", "e4", "e5"]);
        let _ = std::fs::remove_dir_all(dir);
    }
}
