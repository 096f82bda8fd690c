//! The register's CSV import (`exchange::import_csv`: every row checked first, errors listed
//! by row and column, nothing written unless all rows are good) and its exports: CSV for Excel
//! (`exchange::export_csv`, UTF-8 with BOM, Vietnamese headers) and JSON for the open-data
//! portal (`exchange::export_json`), both downloaded as files.

use axum::{
    extract::Query,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use choso_services::{Error, support::exchange};
use serde_json::{Value, json};

use super::{Staff, enterprise::PQuery, opt, today};
use crate::console::form::{FormErrors, Posted};

const FORM: &str = "province/import.html";

fn headers() -> Vec<&'static str> {
    exchange::HEADERS.to_vec()
}

pub async fn import_form(st: Staff, Query(q): Query<PQuery>) -> Response {
    let Some(province) = st.province(&q.p) else {
        return st.pick();
    };
    st.show(
        FORM,
        &province,
        json!({ "form": { "p": province }, "errors": {}, "rows": [], "headers": headers(), "result": null }),
    )
}

pub async fn import(st: Staff, f: Posted) -> Response {
    let Some(province) = st.province(f.get("p")) else {
        return st.pick();
    };
    let form = json!({ "p": province });
    let Some(file) = f.file("csv") else {
        let mut errors = FormErrors::new();
        errors.add(
            "csv",
            st.text("province.errors.NO_FILE").unwrap_or_default(),
        );
        return st.rerender(
            FORM,
            &province,
            json!({ "form": form, "rows": [], "headers": headers(), "result": null }),
            &errors,
        );
    };
    match exchange::import_csv(&st.st.db, st.user(), &province, &file.bytes).await {
        Ok(r) => st.show(
            FORM,
            &province,
            json!({ "form": form, "errors": {}, "rows": [], "headers": headers(),
                    "result": { "created": r.created, "updated": r.updated, "file": file.file_name } }),
        ),
        Err(Error::Invalid(errs)) => {
            // Row errors (`csv`, `line N`, column) go in a table; others next to the file field.
            let mut rows: Vec<Value> = Vec::new();
            let mut errors = FormErrors::new();
            for u in &errs {
                match (u.field.get(1), u.field.get(2)) {
                    (Some(line), col) if line.starts_with("line ") => rows.push(json!({
                        "line": line.trim_start_matches("line "),
                        "column": col,
                        "message": st.message(u),
                        "detail": u.message,
                    })),
                    _ => errors.add("csv", st.message(u)),
                }
            }
            if !rows.is_empty() {
                errors.add(
                    "csv",
                    st.text("province.import.rows_refused").unwrap_or_default(),
                );
            }
            st.rerender(
                FORM,
                &province,
                json!({ "form": form, "rows": rows, "headers": headers(), "result": null, "file": file.file_name }),
                &errors,
            )
        }
        Err(e) => st.fail(e),
    }
}

/// A download through the console's answer headers (security headers, no caching).
fn download(st: &Staff, body: String, mime: &'static str, file: &str) -> Response {
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    st.finish(resp)
}

/// A safe file name part from a province code.
fn file_part(p: &str) -> String {
    p.chars().filter(char::is_ascii_alphanumeric).collect()
}

pub async fn export_csv(st: Staff, Query(q): Query<PQuery>) -> Response {
    let Some(province) = st.province(&q.p) else {
        return st.pick();
    };
    match exchange::export_csv(&st.st.db, st.user(), &province).await {
        Ok(csv) => download(
            &st,
            csv,
            "text/csv; charset=utf-8",
            &format!("doanh-nghiep-{}-{}.csv", file_part(&province), today()),
        ),
        Err(e) => st.fail(e),
    }
}

pub async fn export_json(st: Staff, Query(q): Query<PQuery>) -> Response {
    let Some(province) = opt(&q.p).or_else(|| st.province("")) else {
        return st.pick();
    };
    match exchange::export_json(&st.st.db, st.user(), &province).await {
        Ok(doc) => download(
            &st,
            doc,
            "application/json; charset=utf-8",
            &format!("doanh-nghiep-{}-{}.json", file_part(&province), today()),
        ),
        Err(e) => st.fail(e),
    }
}
