//! `/console/province/enterprises`: the register of a province, searched by name or tax code
//! (diacritics folded by the service), filtered by sector, size, consent and support, and paged
//! by id (`after`), through `support::list_filtered`.

use axum::{extract::Query, response::Response};
use choso_services::{Error, support};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Staff, enterprise_json, opt, options};
use crate::console::{ctx::urlencode, form::FormErrors};

/// Enterprises per page.
pub const PAGE: i64 = 25;

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RegisterQuery {
    p: String,
    q: String,
    sector: String,
    size: String,
    consent: String,
    supported: String,
    after: String,
    imported: String,
}

fn yes_no(s: &str) -> Option<bool> {
    match s {
        "yes" => Some(true),
        "no" => Some(false),
        _ => None,
    }
}

pub async fn list(st: Staff, Query(q): Query<RegisterQuery>) -> Response {
    let Some(province) = st.province(&q.p) else {
        return st.pick();
    };
    let mut errors = FormErrors::new();
    let size_class = match opt(&q.size) {
        Some(s) => match support::SizeClass::parse(&s) {
            Some(c) => Some(c),
            None => {
                errors.add(
                    "size",
                    st.text("province.errors.INVALID_SIZE_CLASS")
                        .unwrap_or_default(),
                );
                None
            }
        },
        None => None,
    };
    let filter = support::RegisterFilter {
        query: opt(&q.q),
        sector: opt(&q.sector),
        size_class,
        consent: yes_no(&q.consent),
        supported: yes_no(&q.supported),
    };
    let form = json!({ "q": q.q, "sector": q.sector, "size": q.size, "consent": q.consent, "supported": q.supported });
    let base = json!({ "form": form, "options": options(&st), "rows": [], "next": null, "first_page": q.after.is_empty() });
    if !errors.is_empty() {
        return st.rerender("province/register.html", &province, base, &errors);
    }
    let rows = match support::list_filtered(
        &st.st.db,
        st.user(),
        &province,
        &filter,
        Some(PAGE + 1),
        opt(&q.after).as_deref(),
    )
    .await
    {
        Ok(r) => r,
        Err(Error::Invalid(errs)) => {
            return st.rerender(
                "province/register.html",
                &province,
                base,
                &st.form_errors(&errs),
            );
        }
        Err(e) => return st.fail(e),
    };
    let more = rows.len() as i64 > PAGE;
    let shown: Vec<Value> = rows
        .iter()
        .take(PAGE as usize)
        .map(|e| enterprise_json(&st, e))
        .collect();
    // The filters as a query string, for the pager's links.
    let mut qs = format!("?p={}", urlencode(&province));
    for (k, v) in [
        ("q", &q.q),
        ("sector", &q.sector),
        ("size", &q.size),
        ("consent", &q.consent),
        ("supported", &q.supported),
    ] {
        if !v.is_empty() {
            qs.push_str(&format!("&{k}={}", urlencode(v)));
        }
    }
    let next = more
        .then(|| rows.get(PAGE as usize - 1))
        .flatten()
        .map(|last| {
            format!(
                "/console/province/enterprises{qs}&after={}",
                urlencode(&last.id)
            )
        });
    let mut v = base;
    if let Some(o) = v.as_object_mut() {
        o.insert("rows".into(), Value::Array(shown));
        o.insert("next".into(), json!(next));
        o.insert(
            "first_url".into(),
            json!(format!("/console/province/enterprises{qs}")),
        );
        o.insert("errors".into(), json!({}));
        o.insert("imported".into(), json!(opt(&q.imported)));
    }
    st.show("province/register.html", &province, v)
}
