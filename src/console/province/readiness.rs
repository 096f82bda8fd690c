//! The form that records a readiness assessment of an enterprise (`readiness::record`), under
//! the framework chosen with `?framework=` (its pillars as fields). For a consenting firm the
//! platform's measured indicators (`readiness::indicators`) are shown filled in: the service
//! stores them with the assessment as measured on its day.

use axum::{
    extract::{Path, Query},
    response::Response,
};
use choso_services::support::{
    self,
    readiness::{self, Framework, NewAssessment, Pillar},
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Staff, enterprise_json, opt, today};
use crate::console::form::{FormErrors, Posted};

const FORM: &str = "province/readiness_form.html";

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct FwQuery {
    framework: String,
}

/// The pillars of a framework as `[key, name]`.
fn pillars(fw: Framework) -> Vec<(String, String)> {
    fw.pillars()
        .into_iter()
        .map(|k| {
            let name = readiness::DBI_2021_PILLARS
                .iter()
                .find(|(key, _)| *key == k)
                .map(|(_, n)| n.to_string())
                .unwrap_or_else(|| format!("Trụ cột {}", k.trim_start_matches('P')));
            (k.to_string(), name)
        })
        .collect()
}

async fn context(
    st: &Staff,
    id: &str,
    fw: Framework,
) -> Result<(support::Enterprise, Value), Response> {
    let e = support::get(&st.st.db, st.user(), id)
        .await
        .map_err(|e| st.fail(e))?;
    support::require_province(st.user(), &e.province_code).map_err(|err| st.fail(err))?;
    let measured = readiness::indicators(&st.st.db, st.user(), &e)
        .await
        .map_err(|err| st.fail(err))?;
    let levels: Vec<(String, String)> = readiness::LEVEL_NAMES
        .iter()
        .enumerate()
        .map(|(i, n)| {
            (
                i.to_string(),
                format!("{i} – {}", st.label("levels", &i.to_string(), n)),
            )
        })
        .collect();
    let frameworks: Vec<Value> = Framework::ALL
        .iter()
        .map(|f| json!({ "code": f.as_str(), "decision": f.decision(), "current": *f == fw }))
        .collect();
    Ok((
        e.clone(),
        json!({
            "enterprise": enterprise_json(st, &e),
            "framework": { "code": fw.as_str(), "decision": fw.decision(),
                "level_required": fw.level_required(), "score_required": fw.score_required() },
            "frameworks": frameworks,
            "pillars": pillars(fw),
            "levels": levels,
            "measured": measured,
        }),
    ))
}

fn with_form(mut ctx: Value, form: Value) -> Value {
    if let Some(o) = ctx.as_object_mut() {
        o.insert("form".into(), form);
    }
    ctx
}

pub async fn form(st: Staff, Path(id): Path<String>, Query(q): Query<FwQuery>) -> Response {
    let fw = Framework::parse(&q.framework).unwrap_or(Framework::Dbi2021);
    let (e, ctx) = match context(&st, &id, fw).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let mut v = with_form(ctx, json!({ "assessedOn": today() }));
    if let Some(o) = v.as_object_mut() {
        o.insert("errors".into(), json!({}));
    }
    st.show(FORM, &e.province_code, v)
}

pub async fn create(st: Staff, Path(id): Path<String>, f: Posted) -> Response {
    let fw = Framework::parse(f.get("framework"));
    let (e, ctx) = match context(&st, &id, fw.unwrap_or(Framework::Dbi2021)).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let extra = with_form(ctx, f.values());
    let mut errors = FormErrors::new();
    let number = |name: &str, errors: &mut FormErrors| -> Option<i64> {
        let v = opt(f.get(name))?;
        match v.parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                errors.add(
                    name,
                    st.text("province.errors.NOT_A_NUMBER").unwrap_or_default(),
                );
                None
            }
        }
    };
    let level = number("level", &mut errors);
    let score = number("score", &mut errors);
    let mut fields = Vec::new();
    let mut list = Vec::new();
    for (key, _) in fw.map(pillars).unwrap_or_default() {
        let name = format!("pillar_{key}");
        if let Some(l) = number(&name, &mut errors) {
            list.push(Pillar { key, level: l });
            fields.push(name);
        }
    }
    if !errors.is_empty() {
        return st.rerender(FORM, &e.province_code, extra, &errors);
    }
    let input = NewAssessment {
        enterprise_id: e.id.clone(),
        framework: fw,
        assessed_on: f.get("assessedOn").to_string(),
        level,
        score,
        pillars: list,
        note: opt(f.get("note")),
    };
    match readiness::record(&st.st.db, st.user(), input).await {
        Ok(_) => st.redirect(&format!(
            "/console/province/enterprises/{}?done=assessed#readiness",
            e.id
        )),
        Err(err) => {
            let renames: Vec<(String, String)> = fields
                .iter()
                .enumerate()
                .map(|(i, n)| (format!("pillars.{i}"), n.clone()))
                .collect();
            let renames: Vec<(&str, &str)> = renames
                .iter()
                .map(|(a, b)| (a.as_str(), b.as_str()))
                .collect();
            st.refused(FORM, &e.province_code, extra, err, &renames)
        }
    }
}
