//! Posted console forms: [`Posted`] reads a URL-encoded or multipart body and refuses it
//! with a 403 page unless its `csrf` field matches this browser's token; [`FormErrors`]
//! turns the services' user errors into messages keyed by field, for templates to show next
//! to each field (with the typed values given back through [`Posted::values`]).

use std::collections::BTreeMap;

use axum::{
    body::Bytes,
    extract::{FromRequest, FromRequestParts, Multipart, Request},
    http::{StatusCode, header, request::Parts},
    response::Response,
};
use choso_services::{Error, UserError};
use serde_json::{Map, Value};

use super::ctx::{Ctx, SESSION_COOKIE};
use crate::{
    server::AppState,
    storefront::security::{self, SID_COOKIE},
};

/// An uploaded file of a multipart form.
pub struct FileField {
    pub name: String,
    pub file_name: String,
    pub bytes: Bytes,
}

/// A posted form whose CSRF token has been checked.
pub struct Posted {
    pub fields: Vec<(String, String)>,
    pub files: Vec<FileField>,
}

impl Posted {
    /// The first value of a field, or `""`.
    pub fn get(&self, name: &str) -> &str {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }
    /// Every value of a repeated field, in order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.fields
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
    /// A trimmed value, `None` when blank.
    pub fn opt(&self, name: &str) -> Option<String> {
        let v = self.get(name).trim();
        (!v.is_empty()).then(|| v.to_string())
    }
    /// A checkbox.
    pub fn checked(&self, name: &str) -> bool {
        matches!(self.get(name), "on" | "true" | "1" | "yes")
    }
    /// A non-empty uploaded file.
    pub fn file(&self, name: &str) -> Option<&FileField> {
        self.files
            .iter()
            .find(|f| f.name == name && !f.bytes.is_empty())
    }
    /// The typed values (first of each name, `csrf` left out) to give back to the form.
    pub fn values(&self) -> Value {
        let mut m = Map::new();
        for (k, v) in &self.fields {
            if k != "csrf" && !m.contains_key(k) {
                m.insert(k.clone(), Value::String(v.clone()));
            }
        }
        Value::Object(m)
    }
}

fn csrf_ok(st: &AppState, headers: &axum::http::HeaderMap, token: &str) -> bool {
    if token.is_empty() {
        return false;
    }
    let by_session = security::cookie(headers, SESSION_COOKIE)
        .filter(|t| !t.is_empty())
        .is_some_and(|t| {
            security::same(
                &security::console_csrf(&st.secret, &format!("s:{t}")),
                token,
            )
        });
    let by_visitor = security::cookie(headers, SID_COOKIE)
        .and_then(|v| security::verify_sid(&st.secret, &v))
        .is_some_and(|sid| {
            security::same(
                &security::console_csrf(&st.secret, &format!("v:{sid}")),
                token,
            )
        });
    by_session || by_visitor
}

impl FromRequest<AppState> for Posted {
    type Rejection = Response;

    async fn from_request(req: Request, st: &AppState) -> Result<Posted, Response> {
        let multipart = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("multipart/form-data"));
        let (mut parts, body) = req.into_parts();
        let mut posted = Posted {
            fields: Vec::new(),
            files: Vec::new(),
        };
        let req = Request::from_parts(parts.clone(), body);
        if multipart {
            let mut mp = match Multipart::from_request(req, st).await {
                Ok(m) => m,
                Err(_) => return Err(refuse(&mut parts, st, StatusCode::BAD_REQUEST).await),
            };
            loop {
                match mp.next_field().await {
                    Ok(Some(f)) => {
                        let name = f.name().unwrap_or("").to_string();
                        match f.file_name().map(str::to_string) {
                            Some(file_name) => match f.bytes().await {
                                Ok(bytes) => posted.files.push(FileField {
                                    name,
                                    file_name,
                                    bytes,
                                }),
                                Err(_) => {
                                    return Err(refuse(&mut parts, st, TOO_LARGE).await);
                                }
                            },
                            None => match f.text().await {
                                Ok(t) => posted.fields.push((name, t)),
                                Err(_) => {
                                    return Err(refuse(&mut parts, st, TOO_LARGE).await);
                                }
                            },
                        }
                    }
                    Ok(None) => break,
                    Err(_) => return Err(refuse(&mut parts, st, TOO_LARGE).await),
                }
            }
        } else {
            match Bytes::from_request(req, st).await {
                Ok(b) => posted.fields = urlencoded_pairs(&b),
                Err(_) => return Err(refuse(&mut parts, st, TOO_LARGE).await),
            }
        }
        if !csrf_ok(st, &parts.headers, posted.get("csrf")) {
            return Err(refuse(&mut parts, st, StatusCode::FORBIDDEN).await);
        }
        Ok(posted)
    }
}

const TOO_LARGE: StatusCode = StatusCode::PAYLOAD_TOO_LARGE;

/// The error page of a refused form: 400 unreadable, 403 CSRF, 413 too large.
async fn refuse(parts: &mut Parts, st: &AppState, status: StatusCode) -> Response {
    let key = match status {
        StatusCode::FORBIDDEN => "csrf",
        TOO_LARGE => "too_large",
        _ => "bad_form",
    };
    match Ctx::from_request_parts(parts, st).await {
        Ok(cx) => cx.error_page(status, key),
        Err(r) => r,
    }
}

/// `a=1&b=x+y` → pairs, percent-decoded (invalid UTF-8 replaced).
fn urlencoded_pairs(body: &[u8]) -> Vec<(String, String)> {
    fn decode(s: &[u8]) -> String {
        let mut out = Vec::with_capacity(s.len());
        let mut i = 0;
        while i < s.len() {
            match s[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < s.len() => {
                    let hex = std::str::from_utf8(&s[i + 1..i + 3])
                        .ok()
                        .and_then(|h| u8::from_str_radix(h, 16).ok());
                    match hex {
                        Some(b) => {
                            out.push(b);
                            i += 2;
                        }
                        None => out.push(b'%'),
                    }
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    body.split(|b| *b == b'&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let mut it = kv.splitn(2, |b| *b == b'=');
            let k = decode(it.next().unwrap_or(b""));
            let v = decode(it.next().unwrap_or(b""));
            (k, v)
        })
        .collect()
}

/// Re-renders a refused form: 422, `extra` (which carries `form`, the typed values, and
/// whatever else the page needs) plus `errors` by field.
pub fn rerender(cx: &Ctx, template: &str, mut extra: Value, errors: &FormErrors) -> Response {
    if let Some(o) = extra.as_object_mut() {
        o.insert("errors".into(), errors.to_value());
    }
    cx.render(StatusCode::UNPROCESSABLE_ENTITY, template, extra)
}

/// A service refusal of a form: `Invalid` re-renders the form with its errors by field;
/// everything else goes through [`Ctx::fail`].
pub fn refused(cx: &Ctx, template: &str, extra: Value, e: Error) -> Response {
    match e {
        Error::Invalid(errs) => rerender(
            cx,
            template,
            extra,
            &FormErrors::from_user_errors(cx, &errs),
        ),
        e => cx.fail(e),
    }
}

/// Messages by field for a form: the key of a service error is its field path without the
/// leading `input` (`["input","email"]` → `email`, `["input","variants","0","price"]` →
/// `variants.0.price`); errors about no field go under `_form`.
#[derive(Default)]
pub struct FormErrors(pub BTreeMap<String, String>);

impl FormErrors {
    pub fn new() -> FormErrors {
        FormErrors::default()
    }

    /// From the services' user errors, in the page's language.
    pub fn from_user_errors(cx: &Ctx, errs: &[UserError]) -> FormErrors {
        let mut f = FormErrors::new();
        for u in errs {
            let key = Self::key(&u.field);
            let msg = cx.message(u);
            f.0.entry(key).or_insert(msg);
        }
        f
    }

    /// The template key of a service field path.
    pub fn key(field: &[String]) -> String {
        let rest: Vec<&str> = field
            .iter()
            .map(String::as_str)
            .skip_while(|s| *s == "input")
            .collect();
        if rest.is_empty() {
            "_form".to_string()
        } else {
            rest.join(".")
        }
    }

    /// Adds a message (keeps the first one per field).
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0
            .entry(field.to_string())
            .or_insert_with(|| message.into());
    }

    /// Renames a key (when the form's field name differs from the service's).
    pub fn rename(&mut self, from: &str, to: &str) {
        if let Some(m) = self.0.remove(from) {
            self.0.entry(to.to_string()).or_insert(m);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn to_value(&self) -> Value {
        Value::Object(
            self.0
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urlencoded_pairs_decode() {
        let p = urlencoded_pairs(b"a=1&name=Tr%C3%A0+s%E1%BB%AFa&x=%&y=%zz&empty=");
        assert_eq!(p[0], ("a".into(), "1".into()));
        assert_eq!(p[1], ("name".into(), "Trà sữa".into()));
        assert_eq!(p[2], ("x".into(), "%".into()));
        assert_eq!(p[3], ("y".into(), "%zz".into()));
        assert_eq!(p[4], ("empty".into(), "".into()));
    }

    #[test]
    fn keys() {
        let k = |p: &[&str]| FormErrors::key(&p.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(k(&["input", "email"]), "email");
        assert_eq!(k(&["input"]), "_form");
        assert_eq!(k(&[]), "_form");
        assert_eq!(k(&["newPassword"]), "newPassword");
        assert_eq!(k(&["input", "variants", "0", "price"]), "variants.0.price");
    }
}
