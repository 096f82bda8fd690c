//! Province digital-transformation support in GraphQL: the enterprise register, programmes,
//! support records with their workflow and audit log, onboarding invites, the province
//! dashboard, exports and import. Access is checked in `choso_services::support`: staff of the
//! province or admins (`FORBIDDEN` otherwise), owners only their own enterprise.

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use choso_services::support::{
    self as svc, LegalForm as SvcLegalForm, SizeClass as SvcSizeClass, Status as SvcStatus,
    SupportKind as SvcKind, dashboard as dash, exchange, records,
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
mirror_enum!(
    SupportStatus,
    SvcStatus,
    [
        Applied, Approved, Contracted, Disbursed, Reported, Closed, Rejected
    ]
);

/// An enterprise of the register.
pub struct Enterprise(pub svc::Enterprise);

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
    async fn sales(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<EnterpriseSales>> {
        Ok(svc::sales(db(ctx), &self.0)
            .await
            .gql()?
            .map(|s| EnterpriseSales {
                orders: s.orders,
                revenue: Money::vnd(s.revenue),
                orders_after_support: s.orders_after_support,
                revenue_after_support: Money::vnd(s.revenue_after_support),
            }))
    }
    /// The shops linked to the enterprise.
    async fn shops(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Shop>> {
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
        Ok(svc::list(
            db(ctx),
            user,
            &province_code,
            first.map(i64::from),
            after.as_deref(),
            query.as_deref(),
        )
        .await
        .gql()?
        .into_iter()
        .map(Enterprise)
        .collect())
    }

    /// One enterprise (staff of its province, admins, its owner).
    async fn enterprise(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Enterprise> {
        let user = require_user(ctx).gql()?;
        Ok(Enterprise(svc::get(db(ctx), user, &id).await.gql()?))
    }

    /// The signed-in shop owner's enterprise, if their shops are linked to one.
    async fn my_enterprise(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Enterprise>> {
        let user = require_user(ctx).gql()?;
        Ok(svc::my_enterprise(db(ctx), user)
            .await
            .gql()?
            .map(Enterprise))
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
        enterprise: e.map(Enterprise),
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
