//! The province staff side of the console, under `/console/province`: the register of
//! enterprises ([`register`]), an enterprise's page and forms ([`enterprise`]), programmes and
//! support records ([`records`]), readiness assessments ([`readiness`]), CSV/JSON exchange
//! ([`exchange`]) and the dashboard with server-drawn charts ([`dashboard`]).
//!
//! Every page goes through `choso_services::support`, which checks access (staff see their
//! own province only, admins any) and never returns customer data; the handlers here only
//! read forms and shape pages. [`Staff`] is the extractor of these pages: a signed-in admin or
//! province staff member (anyone else gets the 403 page). The province of a page is `?p=` (a
//! hidden `p` in forms), by default the staff member's own; an admin without one picks it.
//! Strings are `t.province.*` (`themes/console/locales/province.{vi,en}.json`), styles
//! `static/province.css`, templates `templates/province/`.

pub mod dashboard;
pub mod enterprise;
pub mod exchange;
pub mod readiness;
pub mod records;
pub mod register;

use axum::{
    Router,
    extract::{DefaultBodyLimit, FromRequestParts},
    http::request::Parts,
    response::Response,
    routing::{get, post},
};
use choso_services::{Error, UserError, accounts::Role, provinces, support};
use serde_json::{Value, json};

use super::{
    ctx::{Ctx, Signed, urlencode},
    form::{self, FormErrors},
};
use crate::server::AppState;

/// The province staff routes, relative to `/console`.
pub fn routes() -> Router<AppState> {
    let imports = DefaultBodyLimit::max(8 * 1024 * 1024);
    Router::new()
        .route("/province", get(dashboard::landing))
        .route("/province/dashboard", get(dashboard::dashboard))
        .route("/province/enterprises", get(register::list))
        .route(
            "/province/enterprises/new",
            get(enterprise::new_form).post(enterprise::create),
        )
        .route("/province/enterprises/{id}", get(enterprise::show))
        .route(
            "/province/enterprises/{id}/edit",
            get(enterprise::edit_form).post(enterprise::save),
        )
        .route(
            "/province/enterprises/{id}/invite",
            post(enterprise::invite),
        )
        .route(
            "/province/enterprises/{id}/support",
            get(records::support_form).post(records::support_create),
        )
        .route(
            "/province/enterprises/{id}/readiness",
            get(readiness::form).post(readiness::create),
        )
        .route("/province/records/{id}", get(records::show))
        .route("/province/records/{id}/status", post(records::status))
        .route("/province/records/{id}/void", post(records::void))
        .route("/province/programmes", get(records::programmes))
        .route(
            "/province/programmes/new",
            get(records::programme_form).post(records::programme_create),
        )
        .route(
            "/province/import",
            get(exchange::import_form)
                .post(exchange::import)
                .layer(imports),
        )
        .route("/province/export.csv", get(exchange::export_csv))
        .route("/province/export.json", get(exchange::export_json))
}

/// A signed-in admin or province staff member.
pub struct Staff {
    pub s: Signed,
}

impl std::ops::Deref for Staff {
    type Target = Ctx;
    fn deref(&self) -> &Ctx {
        &self.s.cx
    }
}

impl FromRequestParts<AppState> for Staff {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Staff, Response> {
        let s = Signed::from_request_parts(parts, st).await?;
        match support::require_staff(&s.user) {
            Ok(()) => Ok(Staff { s }),
            Err(e) => Err(s.fail(e)),
        }
    }
}

/// `Some(trimmed)` unless blank.
pub fn opt(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

impl Staff {
    pub fn user(&self) -> &choso_services::accounts::User {
        &self.s.user
    }

    /// The province a page is about: `p` when given (the services refuse one that is not the
    /// staff member's), else the staff member's own; `None` for an admin who has not chosen.
    pub fn province(&self, p: &str) -> Option<String> {
        opt(p).or_else(|| match self.user().role {
            Role::ProvinceStaff => self.user().province_code.clone(),
            _ => None,
        })
    }

    /// What every province page gets: `prov` (code, name, `q` = `?p=…`), `is_admin`,
    /// `province_css`, plus `extra`.
    pub fn with(&self, province: &str, extra: Value) -> Value {
        let mut v = extra;
        if let Some(o) = v.as_object_mut() {
            o.insert(
                "prov".into(),
                json!({
                    "code": province,
                    "name": provinces::get(province).map(|p| p.name.clone()).unwrap_or_else(|| province.to_string()),
                    "q": format!("?p={}", urlencode(province)),
                }),
            );
            o.insert(
                "is_admin".into(),
                Value::Bool(self.user().role == Role::Admin),
            );
            o.insert(
                "province_css".into(),
                json!(self.theme.asset_urls.get("province.css")),
            );
        }
        v
    }

    /// A province page (200).
    pub fn show(&self, template: &str, province: &str, extra: Value) -> Response {
        self.page(template, self.with(province, extra))
    }

    /// The province picker of an admin who has not chosen one; links keep the current path.
    pub fn pick(&self) -> Response {
        let path = self.uri.split('?').next().unwrap_or("/console/province");
        let list: Vec<Value> = provinces::all()
            .iter()
            .map(|p| json!({ "code": p.code, "name": p.name, "url": format!("{path}?p={}", urlencode(&p.code)) }))
            .collect();
        self.page(
            "province/pick.html",
            json!({ "provinces": list, "province_css": self.theme.asset_urls.get("province.css") }),
        )
    }

    /// A user error in the page's language: `province.errors.{CODE}`, else `errors.{CODE}`,
    /// else the service's own message.
    pub fn message(&self, u: &UserError) -> String {
        self.text(&format!("province.errors.{}", u.code))
            .unwrap_or_else(|| self.s.cx.message(u))
    }

    /// Messages by field of a service refusal (see [`FormErrors::key`]).
    pub fn form_errors(&self, errs: &[UserError]) -> FormErrors {
        let mut f = FormErrors::new();
        for u in errs {
            f.add(&FormErrors::key(&u.field), self.message(u));
        }
        f
    }

    /// A refused form: `Invalid` re-renders it (422) with the typed values and the errors
    /// next to their fields (`renames`: service field → form field); anything else is the
    /// one error mapping.
    pub fn refused(
        &self,
        template: &str,
        province: &str,
        extra: Value,
        e: Error,
        renames: &[(&str, &str)],
    ) -> Response {
        match e {
            Error::Invalid(errs) => {
                let mut f = self.form_errors(&errs);
                for (from, to) in renames {
                    f.rename(from, to);
                }
                self.rerender(template, province, extra, &f)
            }
            e => self.fail(e),
        }
    }

    /// A form refused by a check of the handler.
    pub fn rerender(
        &self,
        template: &str,
        province: &str,
        extra: Value,
        errors: &FormErrors,
    ) -> Response {
        form::rerender(self, template, self.with(province, extra), errors)
    }

    /// A label of the locale (`province.{group}.{code}`), else the service's Vietnamese one.
    pub fn label(&self, group: &str, code: &str, vi: &str) -> String {
        self.text(&format!("province.{group}.{code}"))
            .unwrap_or_else(|| vi.to_string())
    }

    /// `YYYY-MM-DD HH:MM` (Vietnam time) of a Unix-ms instant.
    pub fn when(ms: i64) -> String {
        let vn = choso_services::ids::rfc3339(ms + 7 * 3600 * 1000);
        vn.get(..16).unwrap_or(&vn).replace('T', " ")
    }
}

/// Today's date in Vietnam (`YYYY-MM-DD`).
pub fn today() -> String {
    support::day_to_date(support::vn_day(choso_services::ids::now_ms()))
}

/// `[[code, label], …]` options of the enterprise's enums, in the page's language.
pub fn options(st: &Staff) -> Value {
    use support::{LegalForm, SizeClass, SupportKind};
    let legal: Vec<(String, String)> = LegalForm::ALL
        .iter()
        .map(|l| {
            (
                l.as_str().to_string(),
                st.label("legal_forms", l.as_str(), l.label_vi()),
            )
        })
        .collect();
    let sizes: Vec<(String, String)> = SizeClass::ALL
        .iter()
        .map(|s| {
            (
                s.as_str().to_string(),
                st.label("sizes", s.as_str(), s.label_vi()),
            )
        })
        .collect();
    let sectors: Vec<(String, String)> = support::VSIC_SECTIONS
        .iter()
        .map(|(l, n)| (l.to_string(), format!("{l} – {n}")))
        .collect();
    let kinds: Vec<(String, String)> = SupportKind::ALL
        .iter()
        .map(|k| {
            (
                k.as_str().to_string(),
                st.label("kinds", k.as_str(), k.label_vi()),
            )
        })
        .collect();
    json!({ "legal_forms": legal, "sizes": sizes, "sectors": sectors, "kinds": kinds })
}

/// An enterprise as the register and its page show it (no sales figures: see
/// `enterprise::show`, which adds them only through `support::sales`).
pub fn enterprise_json(st: &Staff, e: &support::Enterprise) -> Value {
    json!({
        "id": e.id,
        "name": e.name,
        "tax_code": e.tax_code,
        "legal_form": e.legal_form.map(|l| st.label("legal_forms", l.as_str(), l.label_vi())),
        "legal_form_code": e.legal_form.map(|l| l.as_str()),
        "sector": e.sector,
        "sector_name": e.sector.as_deref().and_then(support::sector_name),
        "size": e.size_class.map(|s| st.label("sizes", s.as_str(), s.label_vi())),
        "size_code": e.size_class.map(|s| s.as_str()),
        "ward": e.ward,
        "phone": e.phone.as_deref().map(|p| p.replacen("+84", "0", 1)),
        "email": e.email,
        "consent": e.consent_share_sales,
        "consent_recorded_at": e.consent_recorded_at.map(Staff::when),
        "consent_withdrawn_at": e.consent_withdrawn_at.map(Staff::when),
        "first_support": e.first_support_day.map(support::day_to_date),
        "supported": e.first_support_day.is_some(),
        "support_records": e.tally.support_records,
        "support_subsidy": choso_services::text::format_vnd(e.tally.support_subsidy),
        "province_code": e.province_code,
        "url": format!("/console/province/enterprises/{}", e.id),
    })
}
