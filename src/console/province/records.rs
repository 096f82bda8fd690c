//! Programmes and support records: the programme list and form (`records::create_programme`),
//! the support record form (`records::record_support`, whose `SUBSIDY_CAP_EXCEEDED` shows next
//! to the subsidy), a record's page with its audit log, the workflow buttons (only the moves
//! `Status::can_become` allows) and voiding with a reason.

use axum::{
    extract::{Path, Query},
    response::Response,
};
use choso_services::{
    Error, UserError,
    support::{
        self, NewProgramme, NewSupport, Programme, Status, SupportKind, SupportRecord, records,
    },
    text::format_vnd,
};
use serde_json::{Value, json};

use super::{Staff, enterprise::PQuery, enterprise_json, opt, options, today};
use crate::console::{
    form::{FormErrors, Posted},
    owner::money_input,
};

/// Every status, in workflow order (the buttons offer those `can_become` allows).
const STATUSES: [Status; 7] = Status::ALL;

fn status_label(st: &Staff, s: Status) -> String {
    st.label("statuses", s.as_str(), s.as_str())
}

/// A record as pages show it, with the workflow moves allowed from its status.
pub fn record_json(st: &Staff, r: &SupportRecord) -> Value {
    let moves: Vec<Value> = if r.voided {
        Vec::new()
    } else {
        STATUSES
            .iter()
            .filter(|to| r.status.can_become(**to))
            .map(|to| json!({ "to": to.as_str(), "label": st.label("moves", to.as_str(), to.as_str()) }))
            .collect()
    };
    json!({
        "id": r.id,
        "kind": st.label("kinds", r.kind.as_str(), r.kind.label_vi()),
        "programme": r.programme,
        "provider": r.provider,
        "contract_value": r.contract_value.map(format_vnd),
        "subsidy": r.subsidy.map(format_vnd),
        "date": r.date,
        "status": r.status.as_str(),
        "status_label": status_label(st, r.status),
        "note": r.note,
        "voided": r.voided,
        "void_reason": r.void_reason,
        "counts": r.counts(),
        "moves": moves,
        "url": format!("/console/province/records/{}", r.id),
        "enterprise_url": format!("/console/province/enterprises/{}", r.enterprise_id),
    })
}

fn programme_json(p: &Programme) -> Value {
    json!({
        "id": p.id, "name": p.name, "funding_source": p.funding_source,
        "decision_number": p.decision_number, "decision_date": p.decision_date,
        "start_date": p.start_date, "end_date": p.end_date,
        "budget": format_vnd(p.budget), "spent": format_vnd(p.spent),
        "remaining": format_vnd(p.remaining()),
        "spent_percent": if p.budget > 0 { (p.spent * 100 / p.budget).clamp(0, 100) } else { 0 },
        "max_share_percent": p.max_share_percent,
        "cap_micro": p.cap_micro.map(format_vnd), "cap_small": p.cap_small.map(format_vnd),
        "cap_medium": p.cap_medium.map(format_vnd),
    })
}

// ---------------------------------------------------------------------------------------------
// Programmes
// ---------------------------------------------------------------------------------------------

pub async fn programmes(st: Staff, Query(q): Query<PQuery>) -> Response {
    let Some(province) = st.province(&q.p) else {
        return st.pick();
    };
    match records::programmes(&st.st.db, st.user(), &province).await {
        Ok(list) => st.show(
            "province/programmes.html",
            &province,
            json!({ "programmes": list.iter().map(programme_json).collect::<Vec<_>>() }),
        ),
        Err(e) => st.fail(e),
    }
}

const PROGRAMME_FORM: &str = "province/programme_form.html";

pub async fn programme_form(st: Staff, Query(q): Query<PQuery>) -> Response {
    let Some(province) = st.province(&q.p) else {
        return st.pick();
    };
    st.show(
        PROGRAMME_FORM,
        &province,
        json!({ "form": { "p": province }, "errors": {} }),
    )
}

pub async fn programme_create(st: Staff, f: Posted) -> Response {
    let Some(province) = st.province(f.get("p")) else {
        return st.pick();
    };
    let extra = json!({ "form": f.values() });
    let share = match opt(f.get("maxShareOfContract")) {
        Some(s) => match s.trim_end_matches('%').trim().parse::<i64>() {
            Ok(v) => Some(v),
            Err(_) => {
                let mut errors = FormErrors::new();
                errors.add(
                    "maxShareOfContract",
                    st.text("province.errors.INVALID_PERCENT")
                        .unwrap_or_default(),
                );
                return st.rerender(PROGRAMME_FORM, &province, extra, &errors);
            }
        },
        None => None,
    };
    let money = |name: &str| opt(f.get(name)).map(|v| money_input(&v));
    let input = NewProgramme {
        province_code: province.clone(),
        name: f.get("name").to_string(),
        funding_source: opt(f.get("fundingSource")),
        decision_number: opt(f.get("decisionNumber")),
        decision_date: opt(f.get("decisionDate")),
        start_date: opt(f.get("startDate")),
        end_date: opt(f.get("endDate")),
        budget: money_input(f.get("budget")),
        max_share_percent: share,
        cap_micro: money("capMicro"),
        cap_small: money("capSmall"),
        cap_medium: money("capMedium"),
    };
    match records::create_programme(&st.st.db, st.user(), input).await {
        Ok(_) => st.redirect(&format!(
            "/console/province/programmes?p={}",
            crate::console::ctx::urlencode(&province)
        )),
        Err(e) => st.refused(
            PROGRAMME_FORM,
            &province,
            extra,
            e,
            &[("provinceCode", "_form")],
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Support records
// ---------------------------------------------------------------------------------------------

const SUPPORT_FORM: &str = "province/support_form.html";

/// The enterprise of the path and what the support form shows besides the typed values.
async fn support_context(st: &Staff, id: &str) -> Result<(support::Enterprise, Value), Response> {
    let e = support::get(&st.st.db, st.user(), id)
        .await
        .map_err(|e| st.fail(e))?;
    support::require_province(st.user(), &e.province_code).map_err(|err| st.fail(err))?;
    let progs = records::programmes(&st.st.db, st.user(), &e.province_code)
        .await
        .map_err(|err| st.fail(err))?;
    let statuses: Vec<(String, String)> = STATUSES
        .iter()
        .filter(|s| **s != Status::Rejected)
        .map(|s| (s.as_str().to_string(), status_label(st, *s)))
        .collect();
    let progs_opts: Vec<(String, String)> = progs
        .iter()
        .map(|p| (p.id.clone(), p.name.clone()))
        .collect();
    let ctx = json!({
        "enterprise": enterprise_json(st, &e),
        "options": options(st),
        "programmes": progs.iter().map(programme_json).collect::<Vec<_>>(),
        "programme_options": progs_opts,
        "statuses": statuses,
    });
    Ok((e, ctx))
}

fn merge(mut base: Value, more: Value) -> Value {
    if let (Some(b), Value::Object(m)) = (base.as_object_mut(), more) {
        b.extend(m);
    }
    base
}

pub async fn support_form(st: Staff, Path(id): Path<String>) -> Response {
    let (e, ctx) = match support_context(&st, &id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    st.show(
        SUPPORT_FORM,
        &e.province_code,
        merge(
            ctx,
            json!({ "form": { "date": today(), "status": "applied", "kind": "" }, "errors": {} }),
        ),
    )
}

pub async fn support_create(st: Staff, Path(id): Path<String>, f: Posted) -> Response {
    let (e, ctx) = match support_context(&st, &id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let extra = merge(ctx, json!({ "form": f.values() }));
    let mut errors = FormErrors::new();
    let kind = match opt(f.get("kind")) {
        Some(k) => SupportKind::parse(&k).or_else(|| {
            errors.add(
                "kind",
                st.text("province.errors.INVALID_KIND").unwrap_or_default(),
            );
            None
        }),
        None => {
            errors.add("kind", st.text("errors.REQUIRED").unwrap_or_default());
            None
        }
    };
    let status = match opt(f.get("status")) {
        Some(s) => Status::parse(&s).or_else(|| {
            errors.add(
                "status",
                st.text("province.errors.INVALID_TRANSITION")
                    .unwrap_or_default(),
            );
            None
        }),
        None => None,
    };
    if !errors.is_empty() {
        return st.rerender(SUPPORT_FORM, &e.province_code, extra, &errors);
    }
    let input = NewSupport {
        enterprise_id: e.id.clone(),
        kind,
        programme: None,
        programme_id: opt(f.get("programmeId")),
        date: f.get("date").to_string(),
        subsidy: opt(f.get("subsidy")).map(|v| money_input(&v)),
        contract_value: opt(f.get("contractValue")).map(|v| money_input(&v)),
        provider: opt(f.get("provider")),
        note: opt(f.get("note")),
        status,
    };
    match records::record_support(&st.st.db, st.user(), input).await {
        Ok(_) => st.redirect(&format!(
            "/console/province/enterprises/{}?done=recorded#records",
            e.id
        )),
        Err(err) => st.refused(SUPPORT_FORM, &e.province_code, extra, err, &[]),
    }
}

// ---------------------------------------------------------------------------------------------
// A record: audit log, workflow, voiding
// ---------------------------------------------------------------------------------------------

/// The fields that changed between two audited states, as `field: before → after`.
fn changes(st: &Staff, before: Option<&str>, after: Option<&str>) -> Vec<Value> {
    let parse = |s: Option<&str>| -> serde_json::Map<String, Value> {
        s.and_then(|t| serde_json::from_str::<Value>(t).ok())
            .and_then(|v| v.as_object().cloned())
            .unwrap_or_default()
    };
    let (b, a) = (parse(before), parse(after));
    let shown = |k: &str, v: Option<&Value>| -> String {
        match (k, v) {
            (_, None | Some(Value::Null)) => "—".to_string(),
            ("subsidy" | "contract_value", Some(Value::Number(n))) => {
                n.as_i64().map(format_vnd).unwrap_or_else(|| n.to_string())
            }
            ("status", Some(Value::String(s))) => Status::parse(s)
                .map(|s| status_label(st, s))
                .unwrap_or_else(|| s.clone()),
            (_, Some(Value::String(s))) => s.clone(),
            (_, Some(v)) => v.to_string(),
        }
    };
    const FIELDS: [&str; 10] = [
        "status",
        "voided",
        "void_reason",
        "subsidy",
        "contract_value",
        "programme",
        "kind",
        "provider",
        "date",
        "note",
    ];
    FIELDS
        .iter()
        .filter(|k| b.get(**k) != a.get(**k))
        .map(|k| {
            json!({
                "field": st.label("fields", k, k),
                "before": if b.is_empty() { None } else { Some(shown(k, b.get(*k))) },
                "after": shown(k, a.get(*k)),
            })
        })
        .collect()
}

async fn record_page(st: &Staff, id: &str, errors: &FormErrors, form: Value) -> Response {
    let r = match records::get_record(&st.st.db, st.user(), id).await {
        Ok(r) => r,
        Err(e) => return st.fail(e),
    };
    let e = match support::get(&st.st.db, st.user(), &r.enterprise_id).await {
        Ok(e) => e,
        Err(err) => return st.fail(err),
    };
    let log = match records::audit_log(&st.st.db, &r).await {
        Ok(l) => l,
        Err(err) => return st.fail(err),
    };
    let log: Vec<Value> = log
        .iter()
        .map(|a| {
            json!({
                "at": Staff::when(a.at),
                "actor": a.actor_name.clone().unwrap_or_else(|| st.text("province.record.system").unwrap_or_default()),
                "action": st.label("actions", &a.action, &a.action),
                "changes": changes(st, a.before.as_deref(), a.after.as_deref()),
            })
        })
        .collect();
    let extra = json!({
        "r": record_json(st, &r),
        "enterprise": enterprise_json(st, &e),
        "log": log,
        "form": form,
    });
    if errors.is_empty() {
        st.show(
            "province/record.html",
            &r.province_code,
            merge(extra, json!({ "errors": {} })),
        )
    } else {
        st.rerender("province/record.html", &r.province_code, extra, errors)
    }
}

pub async fn show(st: Staff, Path(id): Path<String>, Query(q): Query<PQuery>) -> Response {
    record_page(
        &st,
        &id,
        &FormErrors::new(),
        json!({ "done": opt(&q.done) }),
    )
    .await
}

/// A workflow move (`to`), back to the enterprise page; a refused move shows on the record.
pub async fn status(st: Staff, Path(id): Path<String>, f: Posted) -> Response {
    let Some(to) = Status::parse(f.get("to")) else {
        let mut errors = FormErrors::new();
        errors.add(
            "status",
            st.text("province.errors.INVALID_TRANSITION")
                .unwrap_or_default(),
        );
        return record_page(&st, &id, &errors, f.values()).await;
    };
    match records::update_status(&st.st.db, st.user(), &id, to, opt(f.get("note"))).await {
        Ok(r) => st.redirect(&format!(
            "/console/province/enterprises/{}?done=moved#records",
            r.enterprise_id
        )),
        Err(Error::Invalid(errs)) => record_page(&st, &id, &refusal(&st, &errs), f.values()).await,
        Err(e) => st.fail(e),
    }
}

/// Voids a record with the reason given.
pub async fn void(st: Staff, Path(id): Path<String>, f: Posted) -> Response {
    match records::void_record(&st.st.db, st.user(), &id, f.get("reason")).await {
        Ok(r) => st.redirect(&format!("/console/province/records/{}?done=voided", r.id)),
        Err(Error::Invalid(errs)) => record_page(&st, &id, &refusal(&st, &errs), f.values()).await,
        Err(e) => st.fail(e),
    }
}

fn refusal(st: &Staff, errs: &[UserError]) -> FormErrors {
    let mut f = st.form_errors(errs);
    f.rename("recordId", "reason");
    f
}
