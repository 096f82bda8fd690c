//! Orders in GraphQL: `placeOrder`, the lifecycle mutations, `trackOrder`, `Shop.orders`,
//! `Shop.stats`, and the `orderPlaced` subscription (the live order feed).

use std::sync::Arc;

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject, Subscription};
use choso_services::{
    MemberRole, ShopId,
    orders::{self, Order as SvcOrder},
    provinces, reconcile,
    stripe::{self, StripeConfig},
};
use futures_util::Stream;

use crate::{
    catalog::PageInfo,
    context::{base_url, db},
    error::{OrTopLevel, UserError, payload},
    ids::{gid, split},
    scalars::{DateTime, Money},
    shops::{scope_for, scope_or_err},
};

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum PaymentMethod {
    Cod,
    BankTransfer,
    Card,
}

impl From<PaymentMethod> for orders::PaymentMethod {
    fn from(m: PaymentMethod) -> Self {
        match m {
            PaymentMethod::Cod => orders::PaymentMethod::Cod,
            PaymentMethod::BankTransfer => orders::PaymentMethod::BankTransfer,
            PaymentMethod::Card => orders::PaymentMethod::Card,
        }
    }
}

impl From<orders::PaymentMethod> for PaymentMethod {
    fn from(m: orders::PaymentMethod) -> Self {
        match m {
            orders::PaymentMethod::Cod => PaymentMethod::Cod,
            orders::PaymentMethod::BankTransfer => PaymentMethod::BankTransfer,
            orders::PaymentMethod::Card => PaymentMethod::Card,
        }
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum OrderStatus {
    Pending,
    Confirmed,
    Shipped,
    Delivered,
    Cancelled,
}

impl From<OrderStatus> for orders::Status {
    fn from(s: OrderStatus) -> Self {
        match s {
            OrderStatus::Pending => orders::Status::Pending,
            OrderStatus::Confirmed => orders::Status::Confirmed,
            OrderStatus::Shipped => orders::Status::Shipped,
            OrderStatus::Delivered => orders::Status::Delivered,
            OrderStatus::Cancelled => orders::Status::Cancelled,
        }
    }
}

impl From<orders::Status> for OrderStatus {
    fn from(s: orders::Status) -> Self {
        match s {
            orders::Status::Pending => OrderStatus::Pending,
            orders::Status::Confirmed => OrderStatus::Confirmed,
            orders::Status::Shipped => OrderStatus::Shipped,
            orders::Status::Delivered => OrderStatus::Delivered,
            orders::Status::Cancelled => OrderStatus::Cancelled,
        }
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum PaymentStatus {
    Unpaid,
    Pending,
    Paid,
    Refunded,
    Failed,
}

impl From<orders::PaymentStatus> for PaymentStatus {
    fn from(s: orders::PaymentStatus) -> Self {
        match s {
            orders::PaymentStatus::Unpaid => PaymentStatus::Unpaid,
            orders::PaymentStatus::Pending => PaymentStatus::Pending,
            orders::PaymentStatus::Paid => PaymentStatus::Paid,
            orders::PaymentStatus::Refunded => PaymentStatus::Refunded,
            orders::PaymentStatus::Failed => PaymentStatus::Failed,
        }
    }
}

impl From<PaymentStatus> for orders::PaymentStatus {
    fn from(s: PaymentStatus) -> Self {
        match s {
            PaymentStatus::Unpaid => orders::PaymentStatus::Unpaid,
            PaymentStatus::Pending => orders::PaymentStatus::Pending,
            PaymentStatus::Paid => orders::PaymentStatus::Paid,
            PaymentStatus::Refunded => orders::PaymentStatus::Refunded,
            PaymentStatus::Failed => orders::PaymentStatus::Failed,
        }
    }
}

/// An order. `member` views show the customer's details and history; the public tracking
/// view shows none of them.
pub struct Order {
    pub order: SvcOrder,
    pub member: bool,
}

#[derive(SimpleObject)]
pub struct OrderLine {
    pub title: String,
    pub variant_title: String,
    pub sku: Option<String>,
    pub variant_id: ID,
    pub quantity: i64,
    pub unit_price: Money,
    pub total: Money,
}

#[derive(SimpleObject)]
pub struct Customer {
    pub name: String,
    pub phone: String,
    pub email: Option<String>,
}

#[derive(SimpleObject)]
pub struct ShippingAddress {
    pub line1: String,
    pub ward: Option<String>,
    pub province_code: String,
    pub province_name: Option<String>,
}

#[derive(SimpleObject)]
pub struct OrderEvent {
    pub kind: String,
    pub from: Option<String>,
    pub to: Option<String>,
    pub note: Option<String>,
    pub actor_name: Option<String>,
    pub created_at: DateTime,
}

#[Object]
impl Order {
    async fn id(&self) -> ID {
        ID(gid(&self.order.shop_id, &self.order.id))
    }
    /// `#1001`
    async fn number(&self) -> String {
        self.order.display_number()
    }
    async fn status(&self) -> OrderStatus {
        self.order.status.into()
    }
    async fn payment_method(&self) -> PaymentMethod {
        self.order.payment_method.into()
    }
    async fn payment_status(&self) -> PaymentStatus {
        self.order.payment_status.into()
    }
    async fn subtotal(&self) -> Money {
        Money::vnd(self.order.subtotal)
    }
    async fn shipping_fee(&self) -> Money {
        Money::vnd(self.order.shipping_fee)
    }
    async fn total(&self) -> Money {
        Money::vnd(self.order.total)
    }
    async fn lines(&self) -> Vec<OrderLine> {
        self.order
            .lines
            .iter()
            .map(|l| OrderLine {
                title: l.title.clone(),
                variant_title: l.variant_title.clone(),
                sku: l.sku.clone(),
                variant_id: ID(gid(&self.order.shop_id, &l.variant_id)),
                quantity: l.quantity,
                unit_price: Money::vnd(l.unit_price),
                total: Money::vnd(l.total),
            })
            .collect()
    }
    async fn created_at(&self) -> DateTime {
        DateTime(self.order.created_at)
    }
    async fn updated_at(&self) -> DateTime {
        DateTime(self.order.updated_at)
    }
    /// BANK_TRANSFER: the EMVCo payload to show as a QR code.
    async fn vietqr_payload(&self) -> Option<&str> {
        self.order.vietqr_payload.as_deref()
    }
    /// BANK_TRANSFER: what to write as the transfer note.
    async fn transfer_note(&self) -> Option<String> {
        (self.order.payment_method == orders::PaymentMethod::BankTransfer)
            .then(|| orders::transfer_note(self.order.number))
    }
    /// CARD: the Stripe Checkout address.
    async fn checkout_url(&self) -> Option<&str> {
        if self.order.payment_status == orders::PaymentStatus::Pending {
            self.order.checkout_url.as_deref()
        } else {
            None
        }
    }
    /// Members only: who ordered.
    async fn customer(&self) -> Option<Customer> {
        self.member.then(|| Customer {
            name: self.order.customer_name.clone(),
            phone: self.order.customer_phone.clone(),
            email: self.order.customer_email.clone(),
        })
    }
    /// Members only: where it goes (the public tracking view shows the province only).
    async fn shipping_address(&self) -> Option<ShippingAddress> {
        self.member.then(|| ShippingAddress {
            line1: self.order.address_line.clone(),
            ward: self.order.ward.clone(),
            province_code: self.order.province_code.clone(),
            province_name: provinces::get(&self.order.province_code).map(|p| p.name.clone()),
        })
    }
    async fn province_name(&self) -> Option<String> {
        provinces::get(&self.order.province_code).map(|p| p.name.clone())
    }
    /// Members only.
    async fn note(&self) -> Option<&str> {
        if self.member {
            self.order.note.as_deref()
        } else {
            None
        }
    }
    async fn cancel_reason(&self) -> Option<&str> {
        if self.member {
            self.order.cancel_reason.as_deref()
        } else {
            None
        }
    }
    /// Members only: set when a payment did not match (e.g. a transfer of the wrong amount).
    async fn flagged(&self) -> bool {
        self.member && self.order.flagged
    }
    async fn flag_reason(&self) -> Option<&str> {
        if self.member {
            self.order.flag_reason.as_deref()
        } else {
            None
        }
    }
    /// The statuses a member may move this order to now.
    async fn next_statuses(&self) -> Vec<OrderStatus> {
        use orders::Status::*;
        [Confirmed, Shipped, Delivered, Cancelled]
            .into_iter()
            .filter(|s| self.member && self.order.status.can_become(*s))
            .map(OrderStatus::from)
            .collect()
    }
    /// Members only: every change, oldest first.
    async fn history(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<OrderEvent>> {
        if !self.member {
            return Ok(vec![]);
        }
        let scope = scope_for(ctx, &self.order.shop_id, MemberRole::Staff).await?;
        Ok(orders::events(db(ctx), &scope, &self.order)
            .await
            .gql()?
            .into_iter()
            .map(|e| OrderEvent {
                kind: e.kind,
                from: e.from_status,
                to: e.to_status,
                note: e.note,
                actor_name: e.actor_name,
                created_at: DateTime(e.created_at),
            })
            .collect())
    }
}

#[derive(SimpleObject)]
pub struct OrderEdge {
    pub node: Order,
    pub cursor: String,
}

#[derive(SimpleObject)]
pub struct OrderConnection {
    pub edges: Vec<OrderEdge>,
    pub page_info: PageInfo,
}

/// More filters for `Shop.orders`.
#[derive(InputObject, Default)]
pub struct OrderFilter {
    pub payment_status: Option<PaymentStatus>,
    pub from: Option<DateTime>,
    pub to: Option<DateTime>,
    /// An order number (`#1001`) or the customer's phone.
    pub query: Option<String>,
}

pub async fn list(
    ctx: &Context<'_>,
    shop: &ShopId,
    first: Option<i32>,
    after: Option<String>,
    status: Option<OrderStatus>,
    filter: Option<OrderFilter>,
) -> async_graphql::Result<OrderConnection> {
    let scope = scope_for(ctx, shop, MemberRole::Staff).await?;
    let f = filter.unwrap_or_default();
    let page = orders::list(
        db(ctx),
        &scope,
        &orders::OrderFilter {
            status: status.map(Into::into),
            payment_status: f.payment_status.map(Into::into),
            from: f.from.map(|d| d.0),
            to: f.to.map(|d| d.0),
            query: f.query,
            first: first.map(i64::from),
            after,
        },
    )
    .await
    .gql()?;
    let end_cursor = page.items.last().map(|(_, c)| c.clone());
    Ok(OrderConnection {
        edges: page
            .items
            .into_iter()
            .map(|(o, cursor)| OrderEdge {
                node: Order {
                    order: o,
                    member: true,
                },
                cursor,
            })
            .collect(),
        page_info: PageInfo {
            has_next_page: page.has_next_page,
            end_cursor,
        },
    })
}

#[derive(SimpleObject)]
pub struct TopProduct {
    pub product_id: ID,
    pub title: String,
    pub quantity: i64,
    pub revenue: Money,
}

#[derive(SimpleObject)]
pub struct DayFigures {
    /// YYYY-MM-DD, Vietnam time.
    pub date: String,
    pub orders: i64,
    pub revenue: Money,
}

#[derive(SimpleObject)]
pub struct ShopStats {
    pub orders: i64,
    pub revenue: Money,
    pub average_order_value: Money,
    pub top_products: Vec<TopProduct>,
    pub revenue_by_day: Vec<DayFigures>,
}

pub async fn stats(
    ctx: &Context<'_>,
    shop: &ShopId,
    from: Option<DateTime>,
    to: Option<DateTime>,
) -> async_graphql::Result<ShopStats> {
    let scope = scope_for(ctx, shop, MemberRole::Staff).await?;
    let to = to
        .map(|d| d.0)
        .unwrap_or_else(|| choso_services::ids::now_ms() + 1);
    let from = from.map(|d| d.0).unwrap_or(to - 30 * 86_400_000);
    let s = orders::stats(db(ctx), &scope, from, to).await.gql()?;
    Ok(ShopStats {
        orders: s.orders,
        revenue: Money::vnd(s.revenue),
        average_order_value: Money::vnd(s.average_order_value),
        top_products: s
            .top_products
            .into_iter()
            .map(|t| TopProduct {
                product_id: ID(gid(shop, &t.product_id)),
                title: t.title,
                quantity: t.quantity,
                revenue: Money::vnd(t.revenue),
            })
            .collect(),
        revenue_by_day: s
            .by_day
            .into_iter()
            .map(|(date, n, r)| DayFigures {
                date,
                orders: n,
                revenue: Money::vnd(r),
            })
            .collect(),
    })
}

#[derive(InputObject)]
pub struct OrderLineInput {
    pub variant_id: ID,
    pub quantity: i32,
}

#[derive(InputObject)]
pub struct CustomerInput {
    pub name: String,
    pub phone: String,
    pub email: Option<String>,
}

#[derive(InputObject)]
pub struct AddressInput {
    pub line1: String,
    pub ward: Option<String>,
    pub province_code: String,
}

#[derive(InputObject)]
pub struct PlaceOrderInput {
    pub shop_slug: String,
    pub lines: Vec<OrderLineInput>,
    pub customer: CustomerInput,
    pub shipping_address: AddressInput,
    pub payment_method: PaymentMethod,
    pub idempotency_key: Option<String>,
    pub note: Option<String>,
}

#[derive(SimpleObject)]
pub struct OrderPayload {
    pub order: Option<Order>,
    pub user_errors: Vec<UserError>,
}

#[derive(SimpleObject)]
pub struct SecretPayload {
    /// Shown once: keep it in the bank notification settings.
    pub secret: Option<String>,
    /// Where the bank posts notifications.
    pub url: Option<String>,
    pub user_errors: Vec<UserError>,
}

#[derive(SimpleObject)]
pub struct DeletePayload {
    pub deleted: bool,
    /// True when the product was archived instead, because orders reference it.
    pub archived: bool,
    pub user_errors: Vec<UserError>,
}

fn order_payload(r: choso_services::Result<SvcOrder>) -> async_graphql::Result<OrderPayload> {
    let (o, user_errors) = payload(r)?;
    Ok(OrderPayload {
        order: o.map(|o| Order {
            order: o,
            member: true,
        }),
        user_errors,
    })
}

/// The storefront address of a shop, for payment redirects.
fn store_url(ctx: &Context<'_>, slug: &str) -> String {
    format!("{}/s/{slug}", base_url(ctx))
}

#[derive(Default)]
pub struct OrderQuery;

#[Object]
impl OrderQuery {
    /// Public order tracking: the number and the phone used must both match. Shows no
    /// personal data.
    async fn track_order(
        &self,
        ctx: &Context<'_>,
        shop_slug: String,
        number: String,
        phone: String,
    ) -> async_graphql::Result<Option<Order>> {
        let o = orders::track(db(ctx), &shop_slug, &number, &phone)
            .await
            .gql()?;
        Ok(o.map(|o| Order {
            order: o,
            member: false,
        }))
    }

    /// One order, for members of its shop.
    async fn order(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Order>> {
        let (shop, oid) = split(&id, "order").gql()?;
        let scope = scope_for(ctx, &shop, MemberRole::Staff).await?;
        match orders::for_member(db(ctx), &scope, &oid).await {
            Ok(o) => Ok(Some(Order {
                order: o,
                member: true,
            })),
            Err(choso_services::Error::NotFound(_)) => Ok(None),
            Err(e) => Err(crate::error::top_level(e)),
        }
    }
}

#[derive(Default)]
pub struct OrderMutation;

#[Object]
impl OrderMutation {
    /// Places an order. Prices and totals are computed on the server. With an
    /// `idempotencyKey`, a retry returns the same order.
    async fn place_order(
        &self,
        ctx: &Context<'_>,
        input: PlaceOrderInput,
    ) -> async_graphql::Result<OrderPayload> {
        let stripe_cfg = ctx
            .data_opt::<Option<Arc<StripeConfig>>>()
            .and_then(|c| c.clone());
        let mut lines = Vec::new();
        let mut bad = Vec::new();
        for (i, l) in input.lines.iter().enumerate() {
            match split(&l.variant_id, "variant") {
                Ok((shop_id, variant_id)) => lines.push(orders::LineInput {
                    shop_id,
                    variant_id,
                    quantity: i64::from(l.quantity),
                }),
                Err(_) => bad.push(choso_services::UserError::new(
                    &["input", "lines", &i.to_string(), "variantId"],
                    "VARIANT_NOT_FOUND",
                    "No such item.",
                )),
            }
        }
        if !bad.is_empty() {
            return order_payload(Err(choso_services::Error::Invalid(bad)));
        }
        let store = store_url(ctx, input.shop_slug.trim());
        let p = orders::PlaceOrder {
            shop_slug: input.shop_slug,
            lines,
            customer_name: input.customer.name,
            customer_phone: input.customer.phone,
            customer_email: input.customer.email,
            address_line: input.shipping_address.line1,
            ward: input.shipping_address.ward,
            province_code: input.shipping_address.province_code,
            payment_method: input.payment_method.into(),
            idempotency_key: input.idempotency_key,
            note: input.note,
        };
        let secret = ctx
            .data_opt::<crate::context::Secret>()
            .map(|s| s.0.clone())
            .unwrap_or_default();
        let r = choso_services::checkout::place(db(ctx), stripe_cfg.as_deref(), &store, &secret, p)
            .await;
        let (o, user_errors) = payload(r)?;
        // The buyer is not (necessarily) a member: show the order as the tracking view does,
        // plus nothing personal beyond what they just typed.
        Ok(OrderPayload {
            order: o.map(|o| Order {
                order: o,
                member: false,
            }),
            user_errors,
        })
    }

    /// Moves an order along PENDING → CONFIRMED → SHIPPED → DELIVERED (or CANCELLED).
    async fn update_order_status(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        status: OrderStatus,
        note: Option<String>,
    ) -> async_graphql::Result<OrderPayload> {
        let r = async {
            let (shop, oid) = split(&order_id, "order")?;
            let scope = scope_or_err(ctx, &shop, MemberRole::Staff).await?;
            orders::update_status(db(ctx), &scope, &oid, status.into(), note).await
        }
        .await;
        order_payload(r)
    }

    /// Cancels an order with a reason; its stock returns.
    async fn cancel_order(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        reason: String,
    ) -> async_graphql::Result<OrderPayload> {
        let r = async {
            let (shop, oid) = split(&order_id, "order")?;
            let scope = scope_or_err(ctx, &shop, MemberRole::Staff).await?;
            orders::update_status(
                db(ctx),
                &scope,
                &oid,
                orders::Status::Cancelled,
                Some(reason),
            )
            .await
        }
        .await;
        order_payload(r)
    }

    /// Marks a cash-on-delivery or bank-transfer order paid.
    async fn mark_order_paid(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        note: Option<String>,
    ) -> async_graphql::Result<OrderPayload> {
        let r = async {
            let (shop, oid) = split(&order_id, "order")?;
            let scope = scope_or_err(ctx, &shop, MemberRole::Staff).await?;
            orders::mark_paid(db(ctx), &scope, &oid, note).await
        }
        .await;
        order_payload(r)
    }

    /// Refunds a paid card order through Stripe.
    async fn refund_order(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
    ) -> async_graphql::Result<OrderPayload> {
        let stripe_cfg = ctx
            .data_opt::<Option<Arc<StripeConfig>>>()
            .and_then(|c| c.clone());
        let r = async {
            let (shop, oid) = split(&order_id, "order")?;
            let scope = scope_or_err(ctx, &shop, MemberRole::Staff).await?;
            let Some(cfg) = stripe_cfg else {
                return Err(choso_services::Error::user(
                    &["orderId"],
                    "NOT_REFUNDABLE",
                    "Card payments are not configured.",
                ));
            };
            stripe::refund(db(ctx), &cfg, &scope, &oid).await
        }
        .await;
        order_payload(r)
    }

    /// Makes a new secret for signed bank-transfer notifications (owners); the old one stops
    /// working.
    async fn rotate_bank_webhook_secret(
        &self,
        ctx: &Context<'_>,
        shop_id: ID,
    ) -> async_graphql::Result<SecretPayload> {
        let shop = ShopId::new(shop_id.trim());
        let r = async {
            let scope = scope_or_err(ctx, &shop, MemberRole::Owner).await?;
            reconcile::rotate_secret(db(ctx), &scope).await
        }
        .await;
        let (secret, user_errors) = payload(r)?;
        let url = secret
            .as_ref()
            .map(|_| format!("{}/webhooks/bank/{}", base_url(ctx), shop.as_str()));
        Ok(SecretPayload {
            secret,
            url,
            user_errors,
        })
    }

    /// Deletes a product; one that orders reference is archived instead.
    async fn delete_product(
        &self,
        ctx: &Context<'_>,
        product_id: ID,
    ) -> async_graphql::Result<DeletePayload> {
        let r = async {
            let (shop, pid) = split(&product_id, "product")?;
            let scope = scope_or_err(ctx, &shop, MemberRole::Staff).await?;
            choso_services::catalog::delete_product(db(ctx), &scope, &pid).await
        }
        .await;
        let (outcome, user_errors) = payload(r)?;
        Ok(DeletePayload {
            deleted: outcome == Some(choso_services::catalog::Deleted::Deleted),
            archived: outcome == Some(choso_services::catalog::Deleted::Archived),
            user_errors,
        })
    }
}

#[derive(Default)]
pub struct Subscription;

#[Subscription]
impl Subscription {
    /// Orders placed in a shop, as they happen (members of that shop).
    async fn order_placed(
        &self,
        ctx: &Context<'_>,
        shop_id: ID,
    ) -> async_graphql::Result<impl Stream<Item = Order> + use<>> {
        let scope = scope_for(ctx, &ShopId::new(shop_id.trim()), MemberRole::Staff).await?;
        let db = db(ctx).clone();
        let rx = db.feed().subscribe();
        let shop = scope.shop_id().clone();
        Ok(futures_util::stream::unfold(
            (rx, db, shop),
            |(mut rx, db, shop)| async move {
                loop {
                    match rx.recv().await {
                        Ok(ev) if ev.shop_id == shop => {
                            if let Ok(Some(o)) = orders::get(&db, &shop, &ev.order_id).await {
                                return Some((
                                    Order {
                                        order: o,
                                        member: true,
                                    },
                                    (rx, db, shop),
                                ));
                            }
                        }
                        Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                            continue;
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                    }
                }
            },
        ))
    }
}
