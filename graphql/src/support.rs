//! Province digital-transformation support in GraphQL: the enterprise register, programmes,
//! support records with their workflow and audit log, onboarding invites, the province
//! dashboard, exports and import. Access is checked in `choso_services::support`: staff of the
//! province or admins (`FORBIDDEN` otherwise), owners only their own enterprise.

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use std::collections::HashMap;

use async_graphql::Result as GqlResult;
use choso_services::{
    ShopId,
    accounts::Role,
    support::{
        self as svc, LegalForm as SvcLegalForm, SizeClass as SvcSizeClass, Status as SvcStatus,
        SupportKind as SvcKind, dashboard as dash, exchange,
        readiness::{self, Framework as SvcFramework},
        records,
    },
};

use crate::{
    context::{base_url, db, require_user},
    error::{OrTopLevel, UserError, payload},
    scalars::{DateTime, Decimal, Money},
    shops::Shop,
};

macro_rules! mirror_enum {
    ($name:ident, $svc:ident, [$($v:ident),* $(,)?]) => {
        #[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
        pub enum $name { $($v),* }
        impl From<$name> for $svc {
            fn from(x: $name) -> Self { match x { $($name::$v => $svc::$v),* } }
        }
        impl From<$svc> for $name {
            fn from(x: $svc) -> Self { match x { $($svc::$v => $name::$v),* } }
        }
    };
}

mirror_enum!(
    SupportKind,
    SvcKind,
    [
        Training,
        Consulting,
        Storefront,
        EInvoice,
        DigitalSignature,
        CloudSoftware,
        Marketplace,
        Financing,
        Other
    ]
);
mirror_enum!(
    LegalForm,
    SvcLegalForm,
    [Company, Cooperative, HouseholdBusiness]
);
mirror_enum!(SizeClass, SvcSizeClass, [Micro, Small, Medium]);

/// The framework a readiness assessment was made under.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum ReadinessFramework {
    /// Decision 1970/QĐ-BTTTT (2021): six pillars, levels 0–5.
    #[graphql(name = "DBI_2021")]
    Dbi2021,
    /// Decision 2158/QĐ-BTTTT (2023): seven pillars P1–P7, levels 0–5.
    #[graphql(name = "DBI_2023")]
    Dbi2023,
    /// Decision 1567/QĐ-BKHCN (2025): a score of the digital tools in use.
    #[graphql(name = "DBI_2025")]
    Dbi2025,
}

impl From<ReadinessFramework> for SvcFramework {
    fn from(x: ReadinessFramework) -> Self {
        match x {
            ReadinessFramework::Dbi2021 => SvcFramework::Dbi2021,
            ReadinessFramework::Dbi2023 => SvcFramework::Dbi2023,
            ReadinessFramework::Dbi2025 => SvcFramework::Dbi2025,
        }
    }
}

impl From<SvcFramework> for ReadinessFramework {
    fn from(x: SvcFramework) -> Self {
        match x {
            SvcFramework::Dbi2021 => ReadinessFramework::Dbi2021,
            SvcFramework::Dbi2023 => ReadinessFramework::Dbi2023,
            SvcFramework::Dbi2025 => ReadinessFramework::Dbi2025,
        }
    }
}
mirror_enum!(
    SupportStatus,
    SvcStatus,
    [
        Applied, Approved, Contracted, Disbursed, Reported, Closed, Rejected
    ]
);

/// An enterprise of the register, with what a list page preloaded for all its rows (so the
/// children of a page cost one statement each, not one per enterprise).
pub struct Enterprise(pub svc::Enterprise, pub Preload);

#[derive(Default)]
pub struct Preload {
    shops: Option<Vec<Shop>>,
    supports: Option<Vec<records::SupportRecord>>,
    readiness: Option<Vec<readiness::Assessment>>,
}

impl Enterprise {
    pub fn new(e: svc::Enterprise) -> Self {
        Enterprise(e, Preload::default())
    }

    /// A page of enterprises with the children the query asks for loaded in one statement
    /// each (province staff and admins only reach lists).
    async fn page(ctx: &Context<'_>, list: Vec<svc::Enterprise>) -> GqlResult<Vec<Enterprise>> {
        let Some(first) = list.first() else {
            return Ok(Vec::new());
        };
        let province = first.province_code.clone();
        let ids: Vec<String> = list.iter().map(|e| e.id.clone()).collect();
        let look = ctx.look_ahead();
        let mut shops: HashMap<String, Vec<Shop>> = HashMap::new();
        if look.field("shops").exists() {
            let by_ent = svc::shop_ids_for(db(ctx), &province, &ids).await.gql()?;
            let all: Vec<ShopId> = by_ent.values().flatten().cloned().collect();
            let admin = require_user(ctx).gql()?.role == Role::Admin;
            let found: HashMap<ShopId, choso_services::shops::Shop> =
                choso_services::shops::get_many(db(ctx), &all)
                    .await
                    .gql()?
                    .into_iter()
                    .map(|s| (s.id.clone(), s))
                    .collect();
            for (e, sids) in by_ent {
                let v = sids
                    .iter()
                    .filter_map(|id| found.get(id).cloned())
                    .map(|s| Shop {
                        shop: s,
                        role: admin.then_some(choso_services::tenancy::MemberRole::Owner),
                    })
                    .collect();
                shops.insert(e, v);
            }
        }
        let mut supports = if look.field("supports").exists() {
            records::for_enterprises(db(ctx), &province, &ids)
                .await
                .gql()?
        } else {
            HashMap::new()
        };
        let mut ready = if look.field("readiness").exists() {
            readiness::for_enterprises(db(ctx), &province, &ids)
                .await
                .gql()?
        } else {
            HashMap::new()
        };
        Ok(list
            .into_iter()
            .map(|e| {
                let p = Preload {
                    shops: shops.remove(&e.id),
                    supports: supports.remove(&e.id),
                    readiness: ready.remove(&e.id),
                };
                Enterprise(e, p)
            })
            .collect())
    }
}

/// A pillar's level in an assessment.
#[derive(SimpleObject)]
pub struct ReadinessPillar {
    pub key: String,
    pub level: i64,
}

#[derive(InputObject)]
pub struct ReadinessPillarInput {
    pub key: String,
    pub level: i64,
}

/// What the platform measures of a consenting enterprise's shops.
#[derive(SimpleObject)]
pub struct ReadinessIndicators {
    pub measured_on: String,
    /// Orders taken online in the last 90 days (cancelled ones excluded).
    #[graphql(name = "onlineOrders90d")]
    pub online_orders_90d: i64,
    /// Percentage of those paid by bank transfer or card (null: no orders).
    pub digital_payment_percent: Option<i64>,
    /// Calendar months with at least one order.
    pub months_active: i64,
    pub live_store: bool,
}

impl From<readiness::Indicators> for ReadinessIndicators {
    fn from(i: readiness::Indicators) -> Self {
        ReadinessIndicators {
            measured_on: i.measured_on,
            online_orders_90d: i.online_orders_90d,
            digital_payment_percent: i.digital_payment_percent,
            months_active: i.months_active,
            live_store: i.live_store,
        }
    }
}

/// A readiness assessment, under the framework it was made with.
#[derive(SimpleObject)]
pub struct ReadinessAssessment {
    pub id: ID,
    pub framework: ReadinessFramework,
    /// The decision that set the framework, e.g. "1970/QĐ-BTTTT (2021)".
    pub decision: String,
    pub assessed_on: String,
    pub level: Option<i64>,
    /// The Vietnamese name of the level.
    pub level_name: Option<String>,
    pub score: Option<i64>,
    pub pillars: Vec<ReadinessPillar>,
    pub note: Option<String>,
    /// The platform's indicators on the day it was recorded (consenting firms only).
    pub measured: Option<ReadinessIndicators>,
    pub created_at: DateTime,
}

impl From<readiness::Assessment> for ReadinessAssessment {
    fn from(a: readiness::Assessment) -> Self {
        ReadinessAssessment {
            id: ID(a.id),
            framework: a.framework.into(),
            decision: a.framework.decision().to_string(),
            assessed_on: a.assessed_on,
            level: a.level,
            level_name: a
                .level
                .and_then(|l| usize::try_from(l).ok())
                .and_then(|l| readiness::LEVEL_NAMES.get(l))
                .map(|s| s.to_string()),
            score: a.score,
            pillars: a
                .pillars
                .into_iter()
                .map(|p| ReadinessPillar {
                    key: p.key,
                    level: p.level,
                })
                .collect(),
            note: a.note,
            measured: a.measured.map(Into::into),
            created_at: DateTime(a.created_at),
        }
    }
}

#[derive(InputObject)]
pub struct ReadinessInput {
    pub enterprise_id: ID,
    pub framework: ReadinessFramework,
    /// YYYY-MM-DD.
    pub assessed_on: String,
    /// Overall level 0–5 (required for DBI_2021 and DBI_2023).
    pub level: Option<i64>,
    /// The DBI_2025 score (required for it).
    pub score: Option<i64>,
    #[graphql(default)]
    pub pillars: Vec<ReadinessPillarInput>,
    pub note: Option<String>,
}

#[derive(SimpleObject)]
pub struct ReadinessPayload {
    pub assessment: Option<ReadinessAssessment>,
    pub user_errors: Vec<UserError>,
}

/// Sales figures of a consenting enterprise (from daily aggregates).
#[derive(SimpleObject)]
pub struct EnterpriseSales {
    pub orders: i64,
    pub revenue: Money,
    pub orders_after_support: i64,
    pub revenue_after_support: Money,
}

#[Object]
impl Enterprise {
    async fn id(&self) -> &str {
        &self.0.id
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn tax_code(&self) -> Option<&str> {
        self.0.tax_code.as_deref()
    }
    async fn province_code(&self) -> &str {
        &self.0.province_code
    }
    /// VSIC section letter A–U.
    async fn sector(&self) -> Option<&str> {
        self.0.sector.as_deref()
    }
    /// The Vietnamese name of the sector.
    async fn sector_name(&self) -> Option<&str> {
        self.0.sector.as_deref().and_then(svc::sector_name)
    }
    async fn legal_form(&self) -> Option<LegalForm> {
        self.0.legal_form.map(Into::into)
    }
    async fn size_class(&self) -> Option<SizeClass> {
        self.0.size_class.map(Into::into)
    }
    async fn ward(&self) -> Option<&str> {
        self.0.ward.as_deref()
    }
    async fn phone(&self) -> Option<&str> {
        self.0.phone.as_deref()
    }
    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }
    async fn consent_share_sales(&self) -> bool {
        self.0.consent_share_sales
    }
    /// Who recorded the consent (user id) and when.
    async fn consent_recorded_by(&self) -> Option<&str> {
        self.0.consent_recorded_by.as_deref()
    }
    async fn consent_recorded_at(&self) -> Option<DateTime> {
        self.0.consent_recorded_at.map(DateTime)
    }
    async fn consent_withdrawn_at(&self) -> Option<DateTime> {
        self.0.consent_withdrawn_at.map(DateTime)
    }
    /// The date of the first support record (not voided, not rejected).
    async fn first_support_date(&self) -> Option<String> {
        self.0.first_support_day.map(svc::day_to_date)
    }
    /// Sales figures; null unless the enterprise consents to share them.
    async fn sales(&self) -> Option<EnterpriseSales> {
        svc::sales(&self.0).map(|s| EnterpriseSales {
            orders: s.orders,
            revenue: Money::vnd(s.revenue),
            orders_after_support: s.orders_after_support,
            revenue_after_support: Money::vnd(s.revenue_after_support),
        })
    }
    /// The shops linked to the enterprise.
    async fn shops(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Shop>> {
        if let Some(s) = &self.1.shops {
            return Ok(s.clone());
        }
        let mut out = Vec::new();
        for id in svc::shop_ids(db(ctx), &self.0).await.gql()? {
            if let Some(s) = choso_services::shops::get(db(ctx), &id).await.gql()? {
                out.push(Shop::for_viewer(ctx, s).await?);
            }
        }
        Ok(out)
    }
    /// Its support records (voided ones included, marked).
    async fn supports(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<SupportRecord>> {
        if let Some(r) = &self.1.supports {
            return Ok(r.iter().cloned().map(SupportRecord).collect());
        }
        Ok(records::for_enterprise(db(ctx), &self.0)
            .await
            .gql()?
            .into_iter()
            .map(SupportRecord)
            .collect())
    }
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
    /// Readiness assessments, oldest first (staff of its province, admins).
    async fn readiness(&self, ctx: &Context<'_>) -> GqlResult<Vec<ReadinessAssessment>> {
        let list = match &self.1.readiness {
            Some(r) => r.clone(),
            None => {
                let user = require_user(ctx).gql()?;
                readiness::for_enterprise(db(ctx), user, &self.0)
                    .await
                    .gql()?
            }
        };
        Ok(list.into_iter().map(Into::into).collect())
    }
    /// What the platform measures today, to pre-fill an assessment; null unless the
    /// enterprise consents to share sales figures (staff of its province, admins).
    async fn measured_indicators(
        &self,
        ctx: &Context<'_>,
    ) -> GqlResult<Option<ReadinessIndicators>> {
        let user = require_user(ctx).gql()?;
        Ok(readiness::indicators(db(ctx), user, &self.0)
            .await
            .gql()?
            .map(Into::into))
    }
}

/// A support record.
pub struct SupportRecord(pub records::SupportRecord);

#[derive(SimpleObject)]
pub struct AuditEntry {
    pub at: DateTime,
    pub actor_id: Option<String>,
    pub actor_name: Option<String>,
    pub action: String,
    /// The record before the change, as JSON.
    pub before: Option<String>,
    /// The record after the change, as JSON.
    pub after: Option<String>,
}

#[Object]
impl SupportRecord {
    async fn id(&self) -> &str {
        &self.0.id
    }
    async fn enterprise_id(&self) -> &str {
        &self.0.enterprise_id
    }
    async fn kind(&self) -> SupportKind {
        self.0.kind.into()
    }
    async fn programme(&self) -> Option<&str> {
        self.0.programme.as_deref()
    }
    async fn programme_id(&self) -> Option<&str> {
        self.0.programme_id.as_deref()
    }
    async fn date(&self) -> &str {
        &self.0.date
    }
    async fn subsidy(&self) -> Option<Money> {
        self.0.subsidy.map(Money::vnd)
    }
    async fn contract_value(&self) -> Option<Money> {
        self.0.contract_value.map(Money::vnd)
    }
    async fn provider(&self) -> Option<&str> {
        self.0.provider.as_deref()
    }
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }
    async fn status(&self) -> SupportStatus {
        self.0.status.into()
    }
    async fn voided(&self) -> bool {
        self.0.voided
    }
    async fn void_reason(&self) -> Option<&str> {
        self.0.void_reason.as_deref()
    }
    /// Every change of the record, oldest first.
    async fn audit_log(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<AuditEntry>> {
        Ok(records::audit_log(db(ctx), &self.0)
            .await
            .gql()?
            .into_iter()
            .map(|a| AuditEntry {
                at: DateTime(a.at),
                actor_id: a.actor_id,
                actor_name: a.actor_name,
                action: a.action,
                before: a.before,
                after: a.after,
            })
            .collect())
    }
}

/// A support programme.
pub struct Programme(pub records::Programme);

#[Object]
impl Programme {
    async fn id(&self) -> &str {
        &self.0.id
    }
    async fn province_code(&self) -> &str {
        &self.0.province_code
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn funding_source(&self) -> Option<&str> {
        self.0.funding_source.as_deref()
    }
    async fn decision_number(&self) -> Option<&str> {
        self.0.decision_number.as_deref()
    }
    async fn decision_date(&self) -> Option<&str> {
        self.0.decision_date.as_deref()
    }
    async fn start_date(&self) -> Option<&str> {
        self.0.start_date.as_deref()
    }
    async fn end_date(&self) -> Option<&str> {
        self.0.end_date.as_deref()
    }
    async fn budget(&self) -> Money {
        Money::vnd(self.0.budget)
    }
    async fn spent(&self) -> Money {
        Money::vnd(self.0.spent)
    }
    async fn remaining(&self) -> Money {
        Money::vnd(self.0.remaining())
    }
    /// Largest subsidy as a percentage of the contract value.
    async fn max_share_of_contract(&self) -> Option<i64> {
        self.0.max_share_percent
    }
    async fn cap_micro(&self) -> Option<Money> {
        self.0.cap_micro.map(Money::vnd)
    }
    async fn cap_small(&self) -> Option<Money> {
        self.0.cap_small.map(Money::vnd)
    }
    async fn cap_medium(&self) -> Option<Money> {
        self.0.cap_medium.map(Money::vnd)
    }
}

#[derive(SimpleObject)]
pub struct BreakdownGroup {
    pub key: String,
    pub label: String,
    pub enterprises: i64,
    pub supported_enterprises: i64,
    pub records: i64,
    pub subsidy: Money,
}

fn groups(v: Vec<dash::Group>) -> Vec<BreakdownGroup> {
    v.into_iter()
        .map(|g| BreakdownGroup {
            key: g.key,
            label: g.label,
            enterprises: g.enterprises,
            supported_enterprises: g.supported_enterprises,
            records: g.records,
            subsidy: Money::vnd(g.subsidy),
        })
        .collect()
}

#[derive(SimpleObject)]
pub struct Breakdowns {
    pub by_ward: Vec<BreakdownGroup>,
    pub by_sector: Vec<BreakdownGroup>,
    pub by_size: Vec<BreakdownGroup>,
    pub by_programme: Vec<BreakdownGroup>,
    pub by_kind: Vec<BreakdownGroup>,
    pub by_month: Vec<BreakdownGroup>,
}

#[derive(SimpleObject)]
pub struct Funnel {
    pub supported: i64,
    pub shop_created: i64,
    pub published: i64,
    pub first_order: i64,
    pub repeat_orders: i64,
}

#[derive(SimpleObject)]
pub struct BeforeAfter {
    pub enterprises: i64,
    pub window_days: i64,
    pub orders_before: i64,
    pub orders_after: i64,
    pub revenue_before: Money,
    pub revenue_after: Money,
}

#[derive(SimpleObject)]
pub struct ProvinceDashboard {
    pub province_code: String,
    pub enterprises: i64,
    pub supported_enterprises: i64,
    pub with_live_store: i64,
    pub with_online_orders: i64,
    pub orders_after_support: i64,
    pub revenue_after_support: Money,
    pub breakdowns: Breakdowns,
    pub funnel: Funnel,
    pub before_after: BeforeAfter,
}

impl From<dash::Dashboard> for ProvinceDashboard {
    fn from(d: dash::Dashboard) -> Self {
        ProvinceDashboard {
            province_code: d.province_code,
            enterprises: d.enterprises,
            supported_enterprises: d.supported_enterprises,
            with_live_store: d.with_live_store,
            with_online_orders: d.with_online_orders,
            orders_after_support: d.orders_after_support,
            revenue_after_support: Money::vnd(d.revenue_after_support),
            breakdowns: Breakdowns {
                by_ward: groups(d.breakdowns.by_ward),
                by_sector: groups(d.breakdowns.by_sector),
                by_size: groups(d.breakdowns.by_size),
                by_programme: groups(d.breakdowns.by_programme),
                by_kind: groups(d.breakdowns.by_kind),
                by_month: groups(d.breakdowns.by_month),
            },
            funnel: Funnel {
                supported: d.funnel.supported,
                shop_created: d.funnel.shop_created,
                published: d.funnel.published,
                first_order: d.funnel.first_order,
                repeat_orders: d.funnel.repeat_orders,
            },
            before_after: BeforeAfter {
                enterprises: d.before_after.enterprises,
                window_days: d.before_after.window_days,
                orders_before: d.before_after.orders_before,
                orders_after: d.before_after.orders_after,
                revenue_before: Money::vnd(d.before_after.revenue_before),
                revenue_after: Money::vnd(d.before_after.revenue_after),
            },
        }
    }
}

#[derive(Default)]
pub struct SupportQuery;

#[Object]
impl SupportQuery {
    /// A province's enterprises (staff of that province, admins), paged by id; `query`
    /// matches names (ignoring diacritics) and tax codes.
    async fn enterprises(
        &self,
        ctx: &Context<'_>,
        province_code: String,
        first: Option<i32>,
        after: Option<String>,
        query: Option<String>,
    ) -> async_graphql::Result<Vec<Enterprise>> {
        let user = require_user(ctx).gql()?;
        let list = svc::list(
            db(ctx),
            user,
            &province_code,
            first.map(i64::from),
            after.as_deref(),
            query.as_deref(),
        )
        .await
        .gql()?;
        Enterprise::page(ctx, list).await
    }

    /// One enterprise (staff of its province, admins, its owner).
    async fn enterprise(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Enterprise> {
        let user = require_user(ctx).gql()?;
        Ok(Enterprise::new(svc::get(db(ctx), user, &id).await.gql()?))
    }

    /// The signed-in shop owner's enterprise, if their shops are linked to one.
    async fn my_enterprise(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Enterprise>> {
        let user = require_user(ctx).gql()?;
        Ok(svc::my_enterprise(db(ctx), user)
            .await
            .gql()?
            .map(Enterprise::new))
    }

    /// A province's programmes with their spent and remaining budget.
    async fn programmes(
        &self,
        ctx: &Context<'_>,
        province_code: String,
    ) -> async_graphql::Result<Vec<Programme>> {
        let user = require_user(ctx).gql()?;
        Ok(records::programmes(db(ctx), user, &province_code)
            .await
            .gql()?
            .into_iter()
            .map(Programme)
            .collect())
    }

    /// One support record (staff of its province, admins).
    async fn support_record(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<SupportRecord> {
        let user = require_user(ctx).gql()?;
        Ok(SupportRecord(
            records::get_record(db(ctx), user, &id).await.gql()?,
        ))
    }

    /// The province's impact dashboard (staff of that province, admins).
    async fn province_dashboard(
        &self,
        ctx: &Context<'_>,
        province_code: String,
    ) -> async_graphql::Result<ProvinceDashboard> {
        let user = require_user(ctx).gql()?;
        Ok(dash::dashboard(db(ctx), user, &province_code)
            .await
            .gql()?
            .into())
    }

    /// The register as CSV for Excel (UTF-8 with BOM, Vietnamese headers).
    async fn export_enterprises_csv(
        &self,
        ctx: &Context<'_>,
        province_code: String,
    ) -> async_graphql::Result<String> {
        let user = require_user(ctx).gql()?;
        exchange::export_csv(db(ctx), user, &province_code)
            .await
            .gql()
    }

    /// The register as JSON for the open-data portal.
    async fn export_enterprises_json(
        &self,
        ctx: &Context<'_>,
        province_code: String,
    ) -> async_graphql::Result<String> {
        let user = require_user(ctx).gql()?;
        exchange::export_json(db(ctx), user, &province_code)
            .await
            .gql()
    }
}

#[derive(InputObject)]
pub struct EnterpriseInput {
    pub name: String,
    pub tax_code: Option<String>,
    pub province_code: String,
    /// VSIC section letter A–U.
    pub sector: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub consent_share_sales: Option<bool>,
    pub legal_form: Option<LegalForm>,
    pub size_class: Option<SizeClass>,
    pub ward: Option<String>,
}

#[derive(InputObject)]
pub struct EnterpriseUpdateInput {
    pub name: Option<String>,
    pub tax_code: Option<String>,
    pub sector: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub consent_share_sales: Option<bool>,
    pub legal_form: Option<LegalForm>,
    pub size_class: Option<SizeClass>,
    pub ward: Option<String>,
}

#[derive(InputObject)]
pub struct SupportInput {
    pub enterprise_id: ID,
    pub kind: SupportKind,
    /// A programme name (linked when the province has a programme of that name).
    pub programme: Option<String>,
    pub date: String,
    pub subsidy: Option<Decimal>,
    pub note: Option<String>,
    pub programme_id: Option<ID>,
    pub provider: Option<String>,
    pub contract_value: Option<Decimal>,
    pub status: Option<SupportStatus>,
}

#[derive(InputObject)]
pub struct ProgrammeInput {
    pub province_code: String,
    pub name: String,
    pub funding_source: Option<String>,
    pub decision_number: Option<String>,
    pub decision_date: Option<String>,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    pub budget: Decimal,
    /// Largest subsidy as a percentage (1–100) of the contract value.
    pub max_share_of_contract: Option<i64>,
    pub cap_micro: Option<Decimal>,
    pub cap_small: Option<Decimal>,
    pub cap_medium: Option<Decimal>,
}

#[derive(SimpleObject)]
pub struct EnterprisePayload {
    pub enterprise: Option<Enterprise>,
    pub user_errors: Vec<UserError>,
}

#[derive(SimpleObject)]
pub struct SupportPayload {
    pub record: Option<SupportRecord>,
    pub user_errors: Vec<UserError>,
}

#[derive(SimpleObject)]
pub struct ProgrammePayload {
    pub programme: Option<Programme>,
    pub user_errors: Vec<UserError>,
}

#[derive(SimpleObject)]
pub struct InvitePayload {
    pub code: Option<String>,
    pub url: Option<String>,
    pub expires_at: Option<DateTime>,
    pub user_errors: Vec<UserError>,
}

#[derive(SimpleObject)]
pub struct ImportPayload {
    pub created: i64,
    pub updated: i64,
    pub user_errors: Vec<UserError>,
}

fn enterprise_payload(
    r: choso_services::Result<svc::Enterprise>,
) -> async_graphql::Result<EnterprisePayload> {
    let (e, user_errors) = payload(r)?;
    Ok(EnterprisePayload {
        enterprise: e.map(Enterprise::new),
        user_errors,
    })
}

fn support_payload(
    r: choso_services::Result<records::SupportRecord>,
) -> async_graphql::Result<SupportPayload> {
    let (rec, user_errors) = payload(r)?;
    Ok(SupportPayload {
        record: rec.map(SupportRecord),
        user_errors,
    })
}

fn fields_of(u: EnterpriseUpdateInput) -> svc::EnterpriseFields {
    svc::EnterpriseFields {
        name: u.name,
        tax_code: u.tax_code,
        legal_form: u.legal_form.map(Into::into),
        sector: u.sector,
        size_class: u.size_class.map(Into::into),
        ward: u.ward,
        phone: u.phone,
        email: u.email,
        consent_share_sales: u.consent_share_sales,
    }
}

#[derive(Default)]
pub struct SupportMutation;

#[Object]
impl SupportMutation {
    /// Registers an enterprise (staff of its province, admins).
    async fn create_enterprise(
        &self,
        ctx: &Context<'_>,
        input: EnterpriseInput,
    ) -> async_graphql::Result<EnterprisePayload> {
        let user = require_user(ctx).gql()?;
        let new = svc::NewEnterprise {
            province_code: input.province_code,
            fields: fields_of(EnterpriseUpdateInput {
                name: Some(input.name),
                tax_code: input.tax_code,
                sector: input.sector,
                phone: input.phone,
                email: input.email,
                consent_share_sales: input.consent_share_sales,
                legal_form: input.legal_form,
                size_class: input.size_class,
                ward: input.ward,
            }),
        };
        enterprise_payload(svc::create_enterprise(db(ctx), user, new).await)
    }

    /// Changes an enterprise (staff of its province, admins).
    async fn update_enterprise(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: EnterpriseUpdateInput,
    ) -> async_graphql::Result<EnterprisePayload> {
        let user = require_user(ctx).gql()?;
        enterprise_payload(svc::update_enterprise(db(ctx), user, &id, fields_of(input)).await)
    }

    /// The owner withdraws the consent to share sales figures with the province.
    async fn withdraw_consent(
        &self,
        ctx: &Context<'_>,
        enterprise_id: ID,
    ) -> async_graphql::Result<EnterprisePayload> {
        let user = require_user(ctx).gql()?;
        enterprise_payload(svc::withdraw_consent(db(ctx), user, &enterprise_id).await)
    }

    /// Creates a support programme (staff of its province, admins).
    async fn create_programme(
        &self,
        ctx: &Context<'_>,
        input: ProgrammeInput,
    ) -> async_graphql::Result<ProgrammePayload> {
        let user = require_user(ctx).gql()?;
        let r = records::create_programme(
            db(ctx),
            user,
            records::NewProgramme {
                province_code: input.province_code,
                name: input.name,
                funding_source: input.funding_source,
                decision_number: input.decision_number,
                decision_date: input.decision_date,
                start_date: input.start_date,
                end_date: input.end_date,
                budget: input.budget.0,
                max_share_percent: input.max_share_of_contract,
                cap_micro: input.cap_micro.map(|d| d.0),
                cap_small: input.cap_small.map(|d| d.0),
                cap_medium: input.cap_medium.map(|d| d.0),
            },
        )
        .await;
        let (p, user_errors) = payload(r)?;
        Ok(ProgrammePayload {
            programme: p.map(Programme),
            user_errors,
        })
    }

    /// Records support given to an enterprise; `SUBSIDY_CAP_EXCEEDED` over the programme's rules.
    async fn record_support(
        &self,
        ctx: &Context<'_>,
        input: SupportInput,
    ) -> async_graphql::Result<SupportPayload> {
        let user = require_user(ctx).gql()?;
        let r = records::record_support(
            db(ctx),
            user,
            records::NewSupport {
                enterprise_id: input.enterprise_id.to_string(),
                kind: Some(input.kind.into()),
                programme: input.programme,
                programme_id: input.programme_id.map(|i| i.to_string()),
                date: input.date,
                subsidy: input.subsidy.map(|d| d.0),
                contract_value: input.contract_value.map(|d| d.0),
                provider: input.provider,
                note: input.note,
                status: input.status.map(Into::into),
            },
        )
        .await;
        support_payload(r)
    }

    /// Moves a record along applied → approved → contracted → disbursed → reported → closed
    /// (or rejected); `INVALID_TRANSITION` otherwise.
    async fn update_support_status(
        &self,
        ctx: &Context<'_>,
        record_id: ID,
        status: SupportStatus,
        note: Option<String>,
    ) -> async_graphql::Result<SupportPayload> {
        let user = require_user(ctx).gql()?;
        support_payload(
            records::update_status(db(ctx), user, &record_id, status.into(), note).await,
        )
    }

    /// Voids a record with a reason (nothing is deleted).
    async fn void_support_record(
        &self,
        ctx: &Context<'_>,
        record_id: ID,
        reason: String,
    ) -> async_graphql::Result<SupportPayload> {
        let user = require_user(ctx).gql()?;
        support_payload(records::void_record(db(ctx), user, &record_id, &reason).await)
    }

    /// Records a readiness assessment under its framework (staff of the province, admins).
    async fn record_readiness(
        &self,
        ctx: &Context<'_>,
        input: ReadinessInput,
    ) -> GqlResult<ReadinessPayload> {
        let user = require_user(ctx).gql()?;
        let r = readiness::record(
            db(ctx),
            user,
            readiness::NewAssessment {
                enterprise_id: input.enterprise_id.to_string(),
                framework: Some(input.framework.into()),
                assessed_on: input.assessed_on,
                level: input.level,
                score: input.score,
                pillars: input
                    .pillars
                    .into_iter()
                    .map(|p| readiness::Pillar {
                        key: p.key,
                        level: p.level,
                    })
                    .collect(),
                note: input.note,
            },
        )
        .await;
        let (a, user_errors) = payload(r)?;
        Ok(ReadinessPayload {
            assessment: a.map(Into::into),
            user_errors,
        })
    }

    /// An invite code for the enterprise's owner to register with (`RegisterInput.inviteCode`).
    async fn create_onboarding_invite(
        &self,
        ctx: &Context<'_>,
        enterprise_id: ID,
    ) -> async_graphql::Result<InvitePayload> {
        let user = require_user(ctx).gql()?;
        let (inv, user_errors) = payload(svc::create_invite(db(ctx), user, &enterprise_id).await)?;
        let base = base_url(ctx);
        Ok(InvitePayload {
            url: inv
                .as_ref()
                .map(|i| format!("{base}/console/signup?invite={}", i.code)),
            expires_at: inv.as_ref().map(|i| DateTime(i.expires_at)),
            code: inv.map(|i| i.code),
            user_errors,
        })
    }

    /// Imports enterprises from CSV (UTF-8, with or without BOM): all rows or none.
    async fn import_enterprises_csv(
        &self,
        ctx: &Context<'_>,
        province_code: String,
        csv: String,
    ) -> async_graphql::Result<ImportPayload> {
        let user = require_user(ctx).gql()?;
        let (r, user_errors) =
            payload(exchange::import_csv(db(ctx), user, &province_code, csv.as_bytes()).await)?;
        let r = r.unwrap_or_default();
        Ok(ImportPayload {
            created: r.created,
            updated: r.updated,
            user_errors,
        })
    }
}
