//! One enterprise: its page (fields, consent, linked shops, support records with the workflow
//! buttons the service allows, readiness assessments and their progress, sales figures only
//! when `support::sales` gives them), the add and edit forms, and onboarding invites.

use axum::{
    extract::{Path, Query},
    response::Response,
};
use choso_services::{
    shops,
    support::{self, EnterpriseFields, LegalForm, NewEnterprise, SizeClass, readiness, records},
    text::format_vnd,
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Staff, enterprise_json, opt, options, records::record_json};
use crate::console::{
    charts::{self, Chart, Datum},
    form::{FormErrors, Posted},
};

const FORM: &str = "province/enterprise_form.html";

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PQuery {
    pub p: String,
    pub done: String,
}

/// The typed fields of the form (empty strings clear optional fields on an update; an
/// unknown legal form or size class is refused next to its field).
fn fields(st: &Staff, f: &Posted, errors: &mut FormErrors) -> EnterpriseFields {
    let legal_form = match opt(f.get("legalForm")) {
        Some(v) => LegalForm::parse(&v).or_else(|| {
            errors.add(
                "legalForm",
                st.text("province.errors.INVALID_LEGAL_FORM")
                    .unwrap_or_default(),
            );
            None
        }),
        None => None,
    };
    let size_class = match opt(f.get("sizeClass")) {
        Some(v) => SizeClass::parse(&v).or_else(|| {
            errors.add(
                "sizeClass",
                st.text("province.errors.INVALID_SIZE_CLASS")
                    .unwrap_or_default(),
            );
            None
        }),
        None => None,
    };
    EnterpriseFields {
        name: Some(f.get("name").to_string()),
        tax_code: Some(f.get("taxCode").to_string()),
        legal_form,
        sector: Some(f.get("sector").to_string()),
        size_class,
        ward: Some(f.get("ward").to_string()),
        phone: Some(f.get("phone").to_string()),
        email: Some(f.get("email").to_string()),
        consent_share_sales: Some(f.checked("consentShareSales")),
    }
}

pub async fn new_form(st: Staff, Query(q): Query<PQuery>) -> Response {
    let Some(province) = st.province(&q.p) else {
        return st.pick();
    };
    st.show(
        FORM,
        &province,
        json!({ "form": { "p": province }, "errors": {}, "options": options(&st), "editing": null }),
    )
}

pub async fn create(st: Staff, f: Posted) -> Response {
    let Some(province) = st.province(f.get("p")) else {
        return st.pick();
    };
    let extra = json!({ "form": f.values(), "options": options(&st), "editing": null });
    let mut errors = FormErrors::new();
    let fields = fields(&st, &f, &mut errors);
    if !errors.is_empty() {
        return st.rerender(FORM, &province, extra, &errors);
    }
    let input = NewEnterprise {
        province_code: province.clone(),
        fields,
    };
    match support::create_enterprise(&st.st.db, st.user(), input).await {
        Ok(e) => st.redirect(&format!(
            "/console/province/enterprises/{}?done=created",
            e.id
        )),
        Err(e) => st.refused(FORM, &province, extra, e, &[("provinceCode", "_form")]),
    }
}

/// The enterprise of the path, for staff of its province (and admins).
async fn load(st: &Staff, id: &str) -> Result<support::Enterprise, Response> {
    let e = support::get(&st.st.db, st.user(), id)
        .await
        .map_err(|e| st.fail(e))?;
    support::require_province(st.user(), &e.province_code).map_err(|err| st.fail(err))?;
    Ok(e)
}

pub async fn edit_form(st: Staff, Path(id): Path<String>) -> Response {
    let e = match load(&st, &id).await {
        Ok(e) => e,
        Err(r) => return r,
    };
    let form = json!({
        "name": e.name, "taxCode": e.tax_code, "legalForm": e.legal_form.map(|l| l.as_str()),
        "sector": e.sector, "sizeClass": e.size_class.map(|s| s.as_str()), "ward": e.ward,
        "phone": e.phone.as_deref().map(|p| p.replacen("+84", "0", 1)), "email": e.email,
        "consentShareSales": if e.consent_share_sales { "on" } else { "" },
    });
    st.show(
        FORM,
        &e.province_code,
        json!({ "form": form, "errors": {}, "options": options(&st), "editing": enterprise_json(&st, &e) }),
    )
}

pub async fn save(st: Staff, Path(id): Path<String>, f: Posted) -> Response {
    let e = match load(&st, &id).await {
        Ok(e) => e,
        Err(r) => return r,
    };
    let extra =
        json!({ "form": f.values(), "options": options(&st), "editing": enterprise_json(&st, &e) });
    let mut errors = FormErrors::new();
    let fields = fields(&st, &f, &mut errors);
    if !errors.is_empty() {
        return st.rerender(FORM, &e.province_code, extra, &errors);
    }
    match support::update_enterprise(&st.st.db, st.user(), &e.id, fields).await {
        Ok(e) => st.redirect(&format!(
            "/console/province/enterprises/{}?done=saved",
            e.id
        )),
        Err(err) => st.refused(FORM, &e.province_code, extra, err, &[]),
    }
}

pub async fn invite(st: Staff, Path(id): Path<String>, _f: Posted) -> Response {
    let e = match load(&st, &id).await {
        Ok(e) => e,
        Err(r) => return r,
    };
    match support::create_invite(&st.st.db, st.user(), &e.id).await {
        Ok(inv) => {
            let path = format!("/console/signup?invite={}", inv.code);
            st.show(
                "province/invite.html",
                &e.province_code,
                json!({
                    "enterprise": enterprise_json(&st, &e),
                    "code": inv.code,
                    "expires": Staff::when(inv.expires_at),
                    "link": format!("{}{path}", st.st.base_url.trim_end_matches('/')),
                    "path": path,
                }),
            )
        }
        Err(err) => st.fail(err),
    }
}

/// An assessment as the page shows it.
fn assessment_json(st: &Staff, a: &readiness::Assessment) -> Value {
    let pillar_name = |k: &str| {
        readiness::DBI_2021_PILLARS
            .iter()
            .find(|(key, _)| *key == k)
            .map(|(_, n)| n.to_string())
            .unwrap_or_else(|| k.to_string())
    };
    json!({
        "framework": a.framework.as_str(),
        "decision": a.framework.decision(),
        "assessed_on": a.assessed_on,
        "level": a.level,
        "level_name": a.level.and_then(|l| readiness::LEVEL_NAMES.get(l as usize)).map(|n| st.label("levels", &a.level.unwrap_or_default().to_string(), n)),
        "score": a.score,
        "pillars": a.pillars.iter().map(|p| json!({ "name": pillar_name(&p.key), "level": p.level })).collect::<Vec<_>>(),
        "note": a.note,
        "measured": a.measured,
    })
}

pub async fn show(st: Staff, Path(id): Path<String>, Query(q): Query<PQuery>) -> Response {
    let e = match load(&st, &id).await {
        Ok(e) => e,
        Err(r) => return r,
    };
    let db = &st.st.db;
    let mut shop_list = Vec::new();
    match support::shop_ids(db, &e).await {
        Ok(ids) => {
            for sid in ids {
                match shops::get(db, &sid).await {
                    Ok(Some(s)) => shop_list.push(json!({ "name": s.name, "slug": s.slug, "published": s.published, "url": format!("/s/{}/", s.slug) })),
                    Ok(None) => {}
                    Err(err) => return st.fail(err),
                }
            }
        }
        Err(err) => return st.fail(err),
    }
    let recs = match records::for_enterprise(db, &e).await {
        Ok(r) => r,
        Err(err) => return st.fail(err),
    };
    let assessments = match readiness::for_enterprise(db, st.user(), &e).await {
        Ok(a) => a,
        Err(err) => return st.fail(err),
    };
    let progress: Vec<Datum> = assessments
        .iter()
        .filter_map(|a| {
            a.level.map(|l| {
                Datum::count(format!("{} ({})", a.assessed_on, a.framework.as_str()), l)
                    .short(a.assessed_on.get(..7).unwrap_or(&a.assessed_on).to_string())
            })
        })
        .collect();
    let title = st.text("province.readiness.progress").unwrap_or_default();
    let label_h = st
        .text("province.readiness.assessed_on")
        .unwrap_or_default();
    let value_h = st.text("province.readiness.level").unwrap_or_default();
    let empty = st.text("province.charts.empty").unwrap_or_default();
    let chart = (progress.len() > 1).then(|| {
        charts::bars(
            &Chart {
                id: "readiness-progress",
                title: &title,
                label_header: &label_h,
                value_header: &value_h,
                empty: &empty,
            },
            &progress,
        )
    });
    let sales = support::sales(&e).map(|s| {
        json!({
            "orders": s.orders, "revenue": format_vnd(s.revenue),
            "orders_after_support": s.orders_after_support,
            "revenue_after_support": format_vnd(s.revenue_after_support),
        })
    });
    st.show(
        "province/enterprise.html",
        &e.province_code,
        json!({
            "e": enterprise_json(&st, &e),
            "shops": shop_list,
            "records": recs.iter().map(|r| record_json(&st, r)).collect::<Vec<_>>(),
            "assessments": assessments.iter().rev().map(|a| assessment_json(&st, a)).collect::<Vec<_>>(),
            "progress_chart": chart,
            "sales": sales,
            "done": opt(&q.done),
        }),
    )
}
