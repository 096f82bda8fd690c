//! Shops in GraphQL: `shop(slug)`, `User.shops`, shop settings, members, payments, the
//! onboarding checklist, publishing.

use async_graphql::{Context, Enum, InputObject, Object, SimpleObject};
use choso_services::{
    MemberRole, ShopId, banks,
    catalog::{self, ProductQuery, Visibility},
    shops::{self, NewShop, PaymentsUpdate, Shop as SvcShop, ShopUpdate},
    vietqr,
};

use crate::{
    catalog::{Collection, Product, ProductConnection, page_to_connection},
    context::{base_url, db, require_user, viewer},
    error::{OrTopLevel, UserError, payload, top_level},
    scalars::{DateTime, Money},
};

/// A shop, as seen by the current viewer (`role` is the viewer's membership, if any).
#[derive(Clone)]
pub struct Shop {
    pub shop: SvcShop,
    pub role: Option<MemberRole>,
}

impl Shop {
    /// Wraps a shop with the viewer's role in it (platform admins act as owners).
    pub async fn for_viewer(ctx: &Context<'_>, shop: SvcShop) -> async_graphql::Result<Shop> {
        let role = match &viewer(ctx).user {
            Some(u) if u.is_admin() => Some(MemberRole::Owner),
            Some(u) => shops::member_role(db(ctx), &shop.id, &u.id).await.gql()?,
            None => None,
        };
        Ok(Shop { shop, role })
    }
    fn member(&self) -> async_graphql::Result<()> {
        self.role
            .map(|_| ())
            .ok_or_else(|| top_level(choso_services::Error::Forbidden))
    }
    fn visibility(&self) -> Visibility {
        if self.role.is_some() {
            Visibility::Member
        } else {
            Visibility::Public
        }
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum ShopRole {
    Owner,
    Staff,
}

impl From<MemberRole> for ShopRole {
    fn from(r: MemberRole) -> Self {
        match r {
            MemberRole::Owner => ShopRole::Owner,
            MemberRole::Staff => ShopRole::Staff,
        }
    }
}

impl From<ShopRole> for MemberRole {
    fn from(r: ShopRole) -> Self {
        match r {
            ShopRole::Owner => MemberRole::Owner,
            ShopRole::Staff => MemberRole::Staff,
        }
    }
}

#[derive(SimpleObject)]
pub struct Address {
    pub line1: Option<String>,
    pub ward: Option<String>,
    pub province_code: Option<String>,
    pub province_name: Option<String>,
}

#[derive(SimpleObject)]
pub struct ThemeSettings {
    pub primary_color: Option<String>,
    pub accent_color: Option<String>,
    pub hero_text: Option<String>,
}

/// Payment settings (owners only).
#[derive(SimpleObject)]
pub struct ShopPayments {
    pub cod: bool,
    pub bank_bin: Option<String>,
    pub bank_name: Option<String>,
    pub bank_account_number: Option<String>,
    pub bank_account_name: Option<String>,
    pub stripe_account_id: Option<String>,
    /// A static VietQR payload for the bank account (no amount), to test with a banking app.
    pub vietqr_test_payload: Option<String>,
}

#[derive(SimpleObject)]
pub struct OnboardingStep {
    pub key: String,
    pub title: String,
    pub done: bool,
}

#[derive(SimpleObject)]
pub struct Onboarding {
    pub steps: Vec<OnboardingStep>,
    pub ready: bool,
}

#[derive(SimpleObject)]
pub struct ShopMember {
    pub user_id: String,
    pub email: String,
    pub full_name: String,
    pub role: ShopRole,
    pub since: DateTime,
}

#[Object]
impl Shop {
    async fn id(&self) -> &str {
        self.shop.id.as_str()
    }
    async fn slug(&self) -> &str {
        &self.shop.slug
    }
    async fn name(&self) -> &str {
        &self.shop.name
    }
    async fn description(&self) -> &str {
        &self.shop.description
    }
    async fn published(&self) -> bool {
        self.shop.published
    }
    async fn theme(&self) -> &str {
        &self.shop.theme
    }
    async fn theme_settings(&self) -> ThemeSettings {
        ThemeSettings {
            primary_color: self.shop.primary_color.clone(),
            accent_color: self.shop.accent_color.clone(),
            hero_text: self.shop.hero_text.clone(),
        }
    }
    async fn currency_code(&self) -> &str {
        &self.shop.currency
    }
    async fn language(&self) -> &str {
        &self.shop.language
    }
    async fn province_code(&self) -> Option<&str> {
        self.shop.province_code.as_deref()
    }
    async fn phone(&self) -> Option<&str> {
        self.shop.phone.as_deref()
    }
    async fn email(&self) -> Option<&str> {
        self.shop.email.as_deref()
    }
    async fn address(&self) -> Address {
        let p = self
            .shop
            .province_code
            .as_deref()
            .and_then(choso_services::provinces::get);
        Address {
            line1: self.shop.address_line.clone(),
            ward: self.shop.ward.clone(),
            province_code: self.shop.province_code.clone(),
            province_name: p.map(|p| p.name.clone()),
        }
    }
    async fn logo_url(&self) -> Option<&str> {
        self.shop.logo_url.as_deref()
    }
    async fn banner_url(&self) -> Option<&str> {
        self.shop.banner_url.as_deref()
    }
    async fn shipping_fee(&self) -> Money {
        Money::vnd(self.shop.shipping_fee)
    }
    /// Orders of at least this subtotal ship free.
    async fn free_shipping_over(&self) -> Option<Money> {
        self.shop.free_shipping_over.map(Money::vnd)
    }
    /// The payment methods customers can choose.
    async fn payment_methods(&self) -> Vec<crate::orders::PaymentMethod> {
        use crate::orders::PaymentMethod as P;
        let mut v = Vec::new();
        if self.shop.cod_enabled {
            v.push(P::Cod);
        }
        if self.shop.bank_enabled() {
            v.push(P::BankTransfer);
        }
        if self.shop.card_enabled() {
            v.push(P::Card);
        }
        v
    }
    /// The storefront address.
    async fn url(&self, ctx: &Context<'_>) -> String {
        format!("{}/s/{}/", base_url(ctx), self.shop.slug)
    }
    /// The viewer's role in this shop, if a member.
    async fn viewer_role(&self) -> Option<ShopRole> {
        self.role.map(ShopRole::from)
    }
    async fn created_at(&self) -> DateTime {
        DateTime(self.shop.created_at)
    }
    /// Custom domains (members).
    async fn domains(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<String>> {
        self.member()?;
        shops::domains(db(ctx), &self.shop.id).await.gql()
    }
    /// Payment settings: owners only.
    async fn payments(&self) -> async_graphql::Result<ShopPayments> {
        if self.role != Some(MemberRole::Owner) {
            return Err(top_level(choso_services::Error::Forbidden));
        }
        let s = &self.shop;
        let test = match (&s.bank_bin, &s.bank_account_number) {
            (Some(bin), Some(acct)) => vietqr::encode(&vietqr::Transfer {
                bin: bin.clone(),
                account: acct.clone(),
                amount: None,
                purpose: None,
            })
            .ok(),
            _ => None,
        };
        Ok(ShopPayments {
            cod: s.cod_enabled,
            bank_bin: s.bank_bin.clone(),
            bank_name: s
                .bank_bin
                .as_deref()
                .and_then(banks::by_bin)
                .map(|b| b.short_name.to_string()),
            bank_account_number: s.bank_account_number.clone(),
            bank_account_name: s.bank_account_name.clone(),
            stripe_account_id: s.stripe_account_id.clone(),
            vietqr_test_payload: test,
        })
    }
    /// What is left before the shop can be published (members).
    async fn onboarding(&self, ctx: &Context<'_>) -> async_graphql::Result<Onboarding> {
        self.member()?;
        let ob = shops::onboarding(db(ctx), &self.shop).await.gql()?;
        Ok(Onboarding {
            ready: ob.ready,
            steps: ob
                .steps
                .into_iter()
                .map(|s| OnboardingStep {
                    key: s.key.to_string(),
                    title: s.title.to_string(),
                    done: s.done,
                })
                .collect(),
        })
    }
    /// The shop's members (members only).
    async fn members(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ShopMember>> {
        let scope = scope_for(ctx, &self.shop.id, MemberRole::Staff).await?;
        Ok(shops::members(db(ctx), &scope)
            .await
            .gql()?
            .into_iter()
            .map(|m| ShopMember {
                user_id: m.user_id,
                email: m.email,
                full_name: m.full_name,
                role: m.role.into(),
                since: DateTime(m.created_at),
            })
            .collect())
    }
    /// Products, newest first; with `query`, by relevance (diacritics and case folded).
    #[graphql(complexity = "first.unwrap_or(20).clamp(1, 100) as usize * child_complexity + 1")]
    async fn products(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        query: Option<String>,
        #[graphql(desc = "Members: include archived products")] include_archived: Option<bool>,
    ) -> async_graphql::Result<ProductConnection> {
        let q = ProductQuery {
            first: first.map(i64::from),
            after,
            query,
            include_archived: include_archived.unwrap_or(false) && self.role.is_some(),
        };
        let page = catalog::list_products(db(ctx), &self.shop.id, self.visibility(), &q)
            .await
            .gql()?;
        page_to_connection(ctx, &self.shop.id, page, self.role.is_some()).await
    }
    /// A product by its handle.
    async fn product(
        &self,
        ctx: &Context<'_>,
        handle: String,
    ) -> async_graphql::Result<Option<Product>> {
        let p = catalog::product_by_handle(db(ctx), &self.shop.id, &handle, self.visibility())
            .await
            .gql()?;
        Ok(p.map(|p| Product::new(p, self.role.is_some())))
    }
    /// Manual collections, in menu order.
    async fn collections(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Collection>> {
        let list = catalog::collections(db(ctx), &self.shop.id).await.gql()?;
        Ok(list
            .into_iter()
            .map(|c| Collection {
                shop: self.shop.id.clone(),
                collection: c,
                member: self.role.is_some(),
            })
            .collect())
    }
    /// The shop's orders, newest first (members only).
    #[graphql(complexity = "first.unwrap_or(20).clamp(1, 100) as usize * child_complexity + 1")]
    async fn orders(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        status: Option<crate::orders::OrderStatus>,
        filter: Option<crate::orders::OrderFilter>,
    ) -> async_graphql::Result<crate::orders::OrderConnection> {
        crate::orders::list(ctx, &self.shop.id, first, after, status, filter).await
    }
    /// Sales figures over a period (members only); default: the last 30 days.
    async fn stats(
        &self,
        ctx: &Context<'_>,
        from: Option<DateTime>,
        to: Option<DateTime>,
    ) -> async_graphql::Result<crate::orders::ShopStats> {
        crate::orders::stats(ctx, &self.shop.id, from, to).await
    }
    async fn collection(
        &self,
        ctx: &Context<'_>,
        handle: String,
    ) -> async_graphql::Result<Option<Collection>> {
        let c = catalog::collection_by_handle(db(ctx), &self.shop.id, &handle)
            .await
            .gql()?;
        Ok(c.map(|c| Collection {
            shop: self.shop.id.clone(),
            collection: c,
            member: self.role.is_some(),
        }))
    }
}

/// The viewer's checked scope in a shop.
pub async fn scope_for(
    ctx: &Context<'_>,
    shop: &ShopId,
    need: MemberRole,
) -> async_graphql::Result<choso_services::ShopScope> {
    let user = require_user(ctx).gql()?;
    shops::authorize(db(ctx), user, shop, need).await.gql()
}

/// Like [`scope_for`] but for mutations: access errors stay top-level.
pub async fn scope_or_err(
    ctx: &Context<'_>,
    shop: &ShopId,
    need: MemberRole,
) -> Result<choso_services::ShopScope, choso_services::Error> {
    let user = require_user(ctx)?;
    let scope = shops::authorize(db(ctx), user, shop, need).await?;
    crate::budget::admit(ctx, shop.as_str())?;
    Ok(scope)
}

#[derive(SimpleObject)]
pub struct ShopPayload {
    pub shop: Option<Shop>,
    pub user_errors: Vec<UserError>,
}

#[derive(SimpleObject)]
pub struct MemberPayload {
    pub member: Option<ShopMember>,
    pub user_errors: Vec<UserError>,
}

#[derive(SimpleObject)]
pub struct DomainsPayload {
    pub domains: Option<Vec<String>>,
    pub user_errors: Vec<UserError>,
}

#[derive(SimpleObject)]
pub struct OkPayload {
    pub ok: bool,
    pub user_errors: Vec<UserError>,
}

#[derive(InputObject)]
pub struct CreateShopInput {
    pub name: String,
    pub slug: Option<String>,
    pub theme: Option<String>,
    pub province_code: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
}

/// Shop settings; an omitted field stays as it is, an empty string clears an optional one.
#[derive(InputObject, Default)]
pub struct UpdateShopInput {
    pub name: Option<String>,
    pub description: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub address_line: Option<String>,
    pub ward: Option<String>,
    pub province_code: Option<String>,
    pub logo_url: Option<String>,
    pub banner_url: Option<String>,
    pub theme: Option<String>,
    pub primary_color: Option<String>,
    pub accent_color: Option<String>,
    pub hero_text: Option<String>,
    /// vi or en
    pub language: Option<String>,
    pub shipping_fee: Option<crate::scalars::Decimal>,
    /// Empty string: no free shipping.
    pub free_shipping_over: Option<crate::scalars::Decimal>,
}

#[derive(InputObject)]
pub struct ShopPaymentsInput {
    pub cod: Option<bool>,
    pub bank_bin: Option<String>,
    pub bank_account_number: Option<String>,
    pub bank_account_name: Option<String>,
    pub stripe_account_id: Option<String>,
}

#[derive(Default)]
pub struct ShopQuery;

#[Object]
impl ShopQuery {
    /// A shop by slug: published shops for everyone, unpublished ones for their members.
    async fn shop(&self, ctx: &Context<'_>, slug: String) -> async_graphql::Result<Option<Shop>> {
        let Some(s) = choso_services::shop_cache::by_slug(db(ctx), &slug)
            .await
            .gql()?
        else {
            return Ok(None);
        };
        crate::budget::admit(ctx, s.id.as_str()).gql()?;
        let shop = Shop::for_viewer(ctx, std::sync::Arc::unwrap_or_clone(s)).await?;
        Ok((shop.shop.published || shop.role.is_some()).then_some(shop))
    }
}

async fn shop_payload(
    ctx: &Context<'_>,
    r: choso_services::Result<SvcShop>,
) -> async_graphql::Result<ShopPayload> {
    let (s, user_errors) = payload(r)?;
    let shop = match s {
        Some(s) => Some(Shop::for_viewer(ctx, s).await?),
        None => None,
    };
    Ok(ShopPayload { shop, user_errors })
}

fn shop_id(id: &str) -> ShopId {
    ShopId::new(id.trim())
}

#[derive(Default)]
pub struct ShopMutation;

#[Object]
impl ShopMutation {
    /// Creates a shop; the caller becomes its owner.
    async fn create_shop(
        &self,
        ctx: &Context<'_>,
        input: CreateShopInput,
    ) -> async_graphql::Result<ShopPayload> {
        let user = require_user(ctx).gql()?;
        let r = shops::create_shop(
            db(ctx),
            user,
            NewShop {
                name: input.name,
                slug: input.slug,
                theme: input.theme,
                province_code: input.province_code,
                phone: input.phone,
                email: input.email,
            },
        )
        .await;
        shop_payload(ctx, r).await
    }

    /// Changes shop settings (owners).
    async fn update_shop(
        &self,
        ctx: &Context<'_>,
        shop_id: async_graphql::ID,
        input: UpdateShopInput,
    ) -> async_graphql::Result<ShopPayload> {
        let r = async {
            let scope = scope_or_err(ctx, &self::shop_id(&shop_id), MemberRole::Owner).await?;
            let upd = ShopUpdate {
                name: input.name,
                description: input.description,
                phone: input.phone,
                email: input.email,
                address_line: input.address_line,
                ward: input.ward,
                province_code: input.province_code,
                logo_url: input.logo_url,
                banner_url: input.banner_url,
                theme: input.theme,
                primary_color: input.primary_color,
                accent_color: input.accent_color,
                hero_text: input.hero_text,
                language: input.language,
                shipping_fee: input.shipping_fee.map(|d| d.0),
                free_shipping_over: input.free_shipping_over.map(|d| d.0),
            };
            shops::update_shop(db(ctx), &scope, upd).await
        }
        .await;
        shop_payload(ctx, r).await
    }

    /// Publishes the shop, or answers NOT_READY naming what is missing.
    async fn publish_shop(
        &self,
        ctx: &Context<'_>,
        shop_id: async_graphql::ID,
    ) -> async_graphql::Result<ShopPayload> {
        let r = async {
            let scope = scope_or_err(ctx, &self::shop_id(&shop_id), MemberRole::Owner).await?;
            shops::publish(db(ctx), &scope).await
        }
        .await;
        shop_payload(ctx, r).await
    }

    /// Takes the shop off line.
    async fn unpublish_shop(
        &self,
        ctx: &Context<'_>,
        shop_id: async_graphql::ID,
    ) -> async_graphql::Result<ShopPayload> {
        let r = async {
            let scope = scope_or_err(ctx, &self::shop_id(&shop_id), MemberRole::Owner).await?;
            shops::unpublish(db(ctx), &scope).await
        }
        .await;
        shop_payload(ctx, r).await
    }

    /// Payment methods (owners).
    async fn update_shop_payments(
        &self,
        ctx: &Context<'_>,
        shop_id: async_graphql::ID,
        input: ShopPaymentsInput,
    ) -> async_graphql::Result<ShopPayload> {
        let r = async {
            let scope = scope_or_err(ctx, &self::shop_id(&shop_id), MemberRole::Owner).await?;
            shops::update_payments(
                db(ctx),
                &scope,
                PaymentsUpdate {
                    cod: input.cod,
                    bank_bin: input.bank_bin,
                    bank_account_number: input.bank_account_number,
                    bank_account_name: input.bank_account_name,
                    stripe_account_id: input.stripe_account_id,
                },
            )
            .await
        }
        .await;
        shop_payload(ctx, r).await
    }

    /// Adds a member by email (owners). The person needs an account.
    async fn add_shop_member(
        &self,
        ctx: &Context<'_>,
        shop_id: async_graphql::ID,
        email: String,
        role: ShopRole,
    ) -> async_graphql::Result<MemberPayload> {
        let r = async {
            let scope = scope_or_err(ctx, &self::shop_id(&shop_id), MemberRole::Owner).await?;
            shops::add_member(db(ctx), &scope, &email, role.into()).await
        }
        .await;
        let (m, user_errors) = payload(r)?;
        Ok(MemberPayload {
            member: m.map(|m| ShopMember {
                user_id: m.user_id,
                email: m.email,
                full_name: m.full_name,
                role: m.role.into(),
                since: DateTime(m.created_at),
            }),
            user_errors,
        })
    }

    /// Points a custom domain at the shop's storefront (owners). The domain's DNS must point
    /// at the platform; the Host header then picks the shop.
    async fn add_shop_domain(
        &self,
        ctx: &Context<'_>,
        shop_id: async_graphql::ID,
        domain: String,
    ) -> async_graphql::Result<DomainsPayload> {
        let r = async {
            let scope = scope_or_err(ctx, &self::shop_id(&shop_id), MemberRole::Owner).await?;
            shops::add_domain(db(ctx), &scope, &domain).await
        }
        .await;
        let (domains, user_errors) = payload(r)?;
        Ok(DomainsPayload {
            domains,
            user_errors,
        })
    }

    async fn remove_shop_domain(
        &self,
        ctx: &Context<'_>,
        shop_id: async_graphql::ID,
        domain: String,
    ) -> async_graphql::Result<DomainsPayload> {
        let r = async {
            let scope = scope_or_err(ctx, &self::shop_id(&shop_id), MemberRole::Owner).await?;
            shops::remove_domain(db(ctx), &scope, &domain).await
        }
        .await;
        let (domains, user_errors) = payload(r)?;
        Ok(DomainsPayload {
            domains,
            user_errors,
        })
    }

    /// Removes a member (owners); the last owner stays.
    async fn remove_shop_member(
        &self,
        ctx: &Context<'_>,
        shop_id: async_graphql::ID,
        user_id: String,
    ) -> async_graphql::Result<OkPayload> {
        let r = async {
            let scope = scope_or_err(ctx, &self::shop_id(&shop_id), MemberRole::Owner).await?;
            shops::remove_member(db(ctx), &scope, &user_id).await
        }
        .await;
        let (ok, user_errors) = payload(r)?;
        Ok(OkPayload {
            ok: ok.is_some(),
            user_errors,
        })
    }
}
