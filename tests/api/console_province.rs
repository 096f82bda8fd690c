//! The province staff side of the console (`/console/province/…`) as a browser without
//! JavaScript sees it: staff of one province cannot read or change another's register,
//! merchants get 403, forms show errors next to their fields and keep what was typed,
//! programme rules refuse a subsidy (`SUBSIDY_CAP_EXCEEDED`), the workflow buttons offer only
//! allowed moves, CSV import is all or nothing and exports download, and the dashboard's
//! figures and charts follow the support records.

use choso_services::{
    accounts::{self, Role, User},
    support::{self, RegisterFilter, SizeClass},
};
use reqwest::StatusCode;

use crate::{
    console::{Browser, Page},
    helpers::TestApp,
    orders::{PLACE, order_input},
    shops::{CREATE_SHOP, product, publish},
    storage_tests,
    support::staff,
};

const PASSWORD: &str = "province staff pw";

/// A staff user (or admin, or merchant) signed in to the console.
async fn signed_in<'a>(
    app: &'a TestApp,
    email: &str,
    role: Role,
    province: Option<&str>,
) -> Browser<'a> {
    staff(app, email, role, province).await;
    let mut b = Browser::new(app);
    let p = b
        .submit(
            "/console/login",
            "/console/login",
            &[("email", email), ("password", PASSWORD), ("next", "")],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "sign-in: {}", p.body);
    b
}

async fn hue(app: &TestApp) -> Browser<'_> {
    signed_in(app, "canbo@hue.gov.vn", Role::ProvinceStaff, Some("46")).await
}

async fn login(app: &TestApp, email: &str) -> User {
    accounts::login(&app.db, email, PASSWORD, None)
        .await
        .expect("login")
        .user
}

/// Adds an enterprise through the form; returns its id.
async fn add_enterprise(b: &mut Browser<'_>, fields: &[(&str, &str)]) -> String {
    let mut all = vec![("p", "46")];
    all.extend_from_slice(fields);
    let p = b
        .submit(
            "/console/province/enterprises/new",
            "/console/province/enterprises/new",
            &all,
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "create: {}", p.body);
    let loc = p.location.expect("a location");
    let id = loc
        .trim_start_matches("/console/province/enterprises/")
        .split('?')
        .next()
        .unwrap_or_default()
        .to_string();
    assert!(!id.is_empty(), "{loc}");
    id
}

/// Adds a programme through the form; returns its id (read back from the support form).
async fn add_programme(b: &mut Browser<'_>, enterprise: &str, fields: &[(&str, &str)]) -> String {
    let mut all = vec![("p", "46")];
    all.extend_from_slice(fields);
    let p = b
        .submit(
            "/console/province/programmes/new?p=46",
            "/console/province/programmes/new",
            &all,
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "programme: {}", p.body);
    let form = b
        .get(&format!(
            "/console/province/enterprises/{enterprise}/support"
        ))
        .await;
    let marker = "<option value=\"";
    form.body
        .split("name=\"programmeId\"")
        .nth(1)
        .and_then(|s| s.split(marker).nth(2))
        .and_then(|s| s.split('"').next())
        .expect("a programme option")
        .to_string()
}

async fn record(b: &mut Browser<'_>, enterprise: &str, fields: &[(&str, &str)]) -> Page {
    let path = format!("/console/province/enterprises/{enterprise}/support");
    b.submit(&path, &path, fields).await
}

/// The `data-figure` value of the dashboard's headline figure `name`.
fn figure(body: &str, name: &str) -> String {
    let marker = format!("data-figure=\"{name}\">");
    body.split(&marker)
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap_or_else(|| panic!("no figure {name}"))
        .to_string()
}

storage_tests!(
    staff_of_another_province_and_merchants_are_refused,
    enterprise_form_errors_sit_next_to_their_fields,
    register_searches_filters_and_pages,
    subsidy_over_the_programme_rules_is_refused_next_to_the_subsidy,
    workflow_buttons_offer_only_allowed_moves,
    csv_import_is_all_or_nothing_and_exports_download,
    dashboard_figures_and_charts_follow_support,
    readiness_invites_and_languages,
    a_linked_shop_shows_sales_only_with_consent_and_no_customer_data,
);

async fn staff_of_another_province_and_merchants_are_refused(app: TestApp) {
    let mut hue = hue(&app).await;
    let id = add_enterprise(
        &mut hue,
        &[
            ("name", "Cà phê Hạt Mộc"),
            ("taxCode", "0300588569"),
            ("sector", "I"),
        ],
    )
    .await;
    // /console leads staff to their side.
    let home = hue.get("/console").await;
    assert_eq!(home.status, StatusCode::SEE_OTHER);
    assert_eq!(home.location.as_deref(), Some("/console/province"));
    let own = hue.get("/console/province").await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.body);
    assert!(own.body.contains("Thừa Thiên Huế") || own.body.contains("Huế"));
    let mut hanoi = signed_in(&app, "canbo@hanoi.gov.vn", Role::ProvinceStaff, Some("01")).await;
    let before = app.count("enterprises").await;
    for path in [
        "/console/province/enterprises?p=46".to_string(),
        "/console/province/dashboard?p=46".to_string(),
        "/console/province?p=46".to_string(),
        "/console/province/programmes?p=46".to_string(),
        "/console/province/export.csv?p=46".to_string(),
        "/console/province/export.json?p=46".to_string(),
        format!("/console/province/enterprises/{id}"),
        format!("/console/province/enterprises/{id}/edit"),
        format!("/console/province/enterprises/{id}/support"),
        format!("/console/province/enterprises/{id}/readiness"),
    ] {
        let p = hanoi.get(&path).await;
        assert_eq!(p.status, StatusCode::FORBIDDEN, "GET {path}");
        assert!(!p.body.contains("Hạt Mộc"), "GET {path} leaks the name");
    }
    // Their own register is theirs, and empty.
    let own = hanoi.get("/console/province/enterprises").await;
    assert_eq!(own.status, StatusCode::OK);
    assert!(!own.body.contains("Hạt Mộc"));
    let csrf = own.csrf();
    for (path, fields) in [
        (
            "/console/province/enterprises/new".to_string(),
            vec![("p", "46"), ("name", "Xâm nhập")],
        ),
        (
            format!("/console/province/enterprises/{id}/edit"),
            vec![("name", "Đổi tên")],
        ),
        (
            format!("/console/province/enterprises/{id}/support"),
            vec![("kind", "TRAINING"), ("date", "2025-08-01")],
        ),
        (format!("/console/province/enterprises/{id}/invite"), vec![]),
        (
            "/console/province/programmes/new".to_string(),
            vec![("p", "46"), ("name", "X"), ("budget", "1000")],
        ),
    ] {
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend(fields);
        let p = hanoi.post(&path, &all).await;
        assert_eq!(p.status, StatusCode::FORBIDDEN, "POST {path}: {}", p.body);
    }
    assert_eq!(app.count("enterprises").await, before);
    assert_eq!(app.count("programmes").await, 0);
    assert_eq!(app.count("enterprise_invites").await, 0);
    let page = hue
        .get(&format!("/console/province/enterprises/{id}"))
        .await;
    assert!(page.body.contains("Cà phê Hạt Mộc") && !page.body.contains("Đổi tên"));
    // A merchant has no province side at all.
    let mut owner = Browser::new(&app);
    owner.sign_up("chu@example.vn").await;
    for path in [
        "/console/province".to_string(),
        "/console/province/enterprises?p=46".to_string(),
        "/console/province/dashboard".to_string(),
        format!("/console/province/enterprises/{id}"),
    ] {
        let p = owner.get(&path).await;
        assert_eq!(p.status, StatusCode::FORBIDDEN, "merchant GET {path}");
    }
    // Signed out: to the sign-in page.
    let mut anon = Browser::new(&app);
    let p = anon.get("/console/province/enterprises").await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert!(
        p.location
            .unwrap_or_default()
            .starts_with("/console/login?next=")
    );
}

async fn enterprise_form_errors_sit_next_to_their_fields(app: TestApp) {
    let mut b = hue(&app).await;
    let p = b
        .submit(
            "/console/province/enterprises/new",
            "/console/province/enterprises/new",
            &[
                ("p", "46"),
                ("name", "  "),
                ("taxCode", "0300588568"),
                ("legalForm", "COMPANY"),
                ("sector", "C"),
                ("sizeClass", "SMALL"),
                ("ward", "Phú Hội"),
                ("phone", "12345"),
                ("email", "not-an-email"),
                ("consentShareSales", "on"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", p.body);
    for field in ["name", "taxCode", "phone", "email"] {
        assert!(
            p.body.contains(&format!("id=\"f-{field}-error\"")),
            "an error next to {field}: {}",
            p.body
        );
    }
    assert!(p.body.contains("Mã số thuế không hợp lệ"), "in Vietnamese");
    // Everything typed is still there.
    for kept in [
        "value=\"0300588568\"",
        "value=\"12345\"",
        "value=\"not-an-email\"",
        "value=\"Phú Hội\"",
        "<option value=\"C\" selected",
        "<option value=\"SMALL\" selected",
        "<option value=\"COMPANY\" selected",
    ] {
        assert!(p.body.contains(kept), "keeps {kept}");
    }
    assert!(
        p.body
            .contains("name=\"consentShareSales\" type=\"checkbox\" checked")
    );
    assert_eq!(app.count("enterprises").await, 0);
    // Fixed, it is registered with its consent recorded.
    let id = add_enterprise(
        &mut b,
        &[
            ("name", "Mè xửng Thiên Hương"),
            ("taxCode", "0300588569"),
            ("legalForm", "COMPANY"),
            ("sector", "C"),
            ("sizeClass", "SMALL"),
            ("ward", "Phú Hội"),
            ("phone", "0905 123 456"),
            ("consentShareSales", "on"),
        ],
    )
    .await;
    let page = b
        .get(&format!("/console/province/enterprises/{id}?done=created"))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    for shown in [
        "Mè xửng Thiên Hương",
        "Đã thêm doanh nghiệp.",
        "C – Công nghiệp chế biến, chế tạo",
        "Công ty",
        "0905123456",
        "data-consent=\"yes\"",
    ] {
        assert!(page.body.contains(shown), "shows {shown}");
    }
    // A tax code already registered is refused next to it, on creation and on edit.
    let p = b
        .submit(
            "/console/province/enterprises/new",
            "/console/province/enterprises/new",
            &[("p", "46"), ("name", "Bản sao"), ("taxCode", "0300588569")],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.body.contains("id=\"f-taxCode-error\"") && p.body.contains("đã có trong sổ"));
    assert!(p.body.contains("value=\"Bản sao\""));
    let other = add_enterprise(&mut b, &[("name", "Nón lá Phú Cam")]).await;
    let edit = format!("/console/province/enterprises/{other}/edit");
    let form = b.get(&edit).await;
    assert!(
        form.body.contains("value=\"Nón lá Phú Cam\""),
        "the edit form is filled in"
    );
    let p = b
        .submit(
            &edit,
            &edit,
            &[("name", "Nón lá Phú Cam"), ("taxCode", "0300588569")],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.body.contains("id=\"f-taxCode-error\""));
    let p = b
        .submit(
            &edit,
            &edit,
            &[
                ("name", "Nón lá Phú Cam"),
                ("ward", "Thủy Xuân"),
                ("sizeClass", "MICRO"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let page = b
        .get(&format!("/console/province/enterprises/{other}"))
        .await;
    assert!(page.body.contains("Thủy Xuân") && page.body.contains("Siêu nhỏ"));
    assert!(page.body.contains("data-consent=\"no\""));
}

async fn register_searches_filters_and_pages(app: TestApp) {
    let mut b = hue(&app).await;
    let cafe = add_enterprise(
        &mut b,
        &[
            ("name", "Cà phê Hạt Mộc"),
            ("sector", "I"),
            ("sizeClass", "MICRO"),
            ("consentShareSales", "on"),
        ],
    )
    .await;
    add_enterprise(
        &mut b,
        &[
            ("name", "Mè xửng Thiên Hương"),
            ("sector", "C"),
            ("sizeClass", "SMALL"),
        ],
    )
    .await;
    add_enterprise(&mut b, &[("name", "Nón lá Phú Cam"), ("sector", "C")]).await;
    let names = |p: &Page| {
        ["Cà phê Hạt Mộc", "Mè xửng Thiên Hương", "Nón lá Phú Cam"]
            .into_iter()
            .filter(|n| p.body.contains(n))
            .collect::<Vec<_>>()
    };
    let all = b.get("/console/province/enterprises").await;
    assert_eq!(names(&all).len(), 3);
    // Diacritics folded.
    let p = b.get("/console/province/enterprises?q=ca+phe").await;
    assert_eq!(names(&p), ["Cà phê Hạt Mộc"]);
    assert!(
        p.body.contains("value=\"ca phe\""),
        "the search stays in its box"
    );
    let p = b.get("/console/province/enterprises?sector=C").await;
    assert_eq!(names(&p), ["Mè xửng Thiên Hương", "Nón lá Phú Cam"]);
    let p = b
        .get("/console/province/enterprises?sector=C&size=SMALL")
        .await;
    assert_eq!(names(&p), ["Mè xửng Thiên Hương"]);
    let p = b.get("/console/province/enterprises?consent=yes").await;
    assert_eq!(names(&p), ["Cà phê Hạt Mộc"]);
    let p = b.get("/console/province/enterprises?supported=yes").await;
    assert!(names(&p).is_empty());
    let r = record(
        &mut b,
        &cafe,
        &[("kind", "TRAINING"), ("date", "2025-08-01")],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let p = b.get("/console/province/enterprises?supported=yes").await;
    assert_eq!(names(&p), ["Cà phê Hạt Mộc"]);
    let p = b.get("/console/province/enterprises?supported=no").await;
    assert_eq!(names(&p).len(), 2);
    // A bad filter is shown next to it.
    let p = b.get("/console/province/enterprises?size=HUGE").await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.body.contains("id=\"f-size-error\""));
    let p = b.get("/console/province/enterprises?sector=Z").await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.body.contains("id=\"f-sector-error\""));
    // Paging by id: 27 more enterprises make two pages of 25.
    for i in 0..27 {
        add_enterprise(
            &mut b,
            &[
                ("name", &format!("Hộ kinh doanh số {i:02}")),
                ("sector", "G"),
            ],
        )
        .await;
    }
    let first = b.get("/console/province/enterprises?sector=G").await;
    assert_eq!(first.body.matches("<th scope=\"row\"><a href=").count(), 25);
    let next = first
        .body
        .split("rel=\"next\"")
        .next()
        .and_then(|s| s.rsplit("href=\"").next())
        .and_then(|s| s.split('"').next())
        .expect("a next link")
        .replace("&amp;", "&");
    assert!(
        next.contains("sector=G") && next.contains("after="),
        "{next}"
    );
    let second = b.get(&next).await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.body);
    assert!(
        second
            .body
            .contains("href=\"/console/province/enterprises?p=46&amp;sector=G\""),
        "back to the first page"
    );
    eprintln!(
        "NEXT {next} STATUS {} BODY {}",
        second.status,
        second
            .body
            .split("<main")
            .nth(1)
            .unwrap_or_default()
            .chars()
            .take(3000)
            .collect::<String>()
    );
    assert_eq!(second.body.matches("<th scope=\"row\"><a href=").count(), 2);
    assert!(!second.body.contains("rel=\"next\""));
    // The service function behind the filters.
    let user = login(&app, "canbo@hue.gov.vn").await;
    let f = RegisterFilter {
        size_class: Some(SizeClass::Micro),
        ..Default::default()
    };
    let l = support::list_filtered(&app.db, &user, "46", &f, Some(10), None)
        .await
        .expect("list");
    assert_eq!(
        l.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(),
        ["Cà phê Hạt Mộc"]
    );
    let f = RegisterFilter {
        sector: Some("g".into()),
        ..Default::default()
    };
    let page1 = support::list_filtered(&app.db, &user, "46", &f, Some(20), None)
        .await
        .expect("page 1");
    let page2 = support::list_filtered(&app.db, &user, "46", &f, Some(20), Some(&page1[19].id))
        .await
        .expect("page 2");
    assert_eq!((page1.len(), page2.len()), (20, 7));
    let e = support::list_filtered(&app.db, &user, "01", &f, None, None).await;
    assert!(matches!(e, Err(choso_services::Error::Forbidden)));
    let bad = RegisterFilter {
        sector: Some("Z".into()),
        ..Default::default()
    };
    let e = support::list_filtered(&app.db, &user, "46", &bad, None, None).await;
    assert!(matches!(&e, Err(choso_services::Error::Invalid(u)) if u[0].code == "INVALID_SECTOR"));
}

async fn subsidy_over_the_programme_rules_is_refused_next_to_the_subsidy(app: TestApp) {
    let mut b = hue(&app).await;
    let e = add_enterprise(
        &mut b,
        &[("name", "Bánh bèo Bà Đỏ"), ("sizeClass", "SMALL")],
    )
    .await;
    // A programme form with a bad share keeps the typed values.
    let p = b
        .submit(
            "/console/province/programmes/new?p=46",
            "/console/province/programmes/new",
            &[
                ("p", "46"),
                ("name", "SMEdx Huế 2025"),
                ("budget", "1.000.000.000"),
                ("maxShareOfContract", "năm mươi"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.body.contains("id=\"f-maxShareOfContract-error\""));
    assert!(p.body.contains("value=\"1.000.000.000\""));
    let prog = add_programme(
        &mut b,
        &e,
        &[
            ("name", "SMEdx Huế 2025"),
            ("fundingSource", "SMEdx"),
            ("budget", "1.000.000.000"),
            ("maxShareOfContract", "50"),
            ("capSmall", "50.000.000"),
            ("capMedium", "100.000.000"),
        ],
    )
    .await;
    let list = b.get("/console/province/programmes").await;
    assert!(
        list.body.contains("1.000.000.000\u{a0}₫"),
        "budget shown in VND"
    );
    // Over 50 % of the contract.
    let p = record(
        &mut b,
        &e,
        &[
            ("kind", "CONSULTING"),
            ("programmeId", &prog),
            ("provider", "Công ty Tư vấn Số"),
            ("contractValue", "80.000.000"),
            ("subsidy", "60.000.000"),
            ("date", "2025-08-01"),
            ("status", "applied"),
        ],
    )
    .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", p.body);
    let err = p
        .body
        .split("id=\"f-subsidy-error\">")
        .nth(1)
        .expect("an error next to the subsidy");
    assert!(err.starts_with("Kinh phí hỗ trợ vượt quy định"), "{err}");
    for kept in [
        "value=\"60.000.000\"",
        "value=\"80.000.000\"",
        "value=\"Công ty Tư vấn Số\"",
    ] {
        assert!(p.body.contains(kept), "keeps {kept}");
    }
    assert!(
        p.body
            .contains(&format!("<option value=\"{prog}\" selected"))
    );
    assert_eq!(app.count("support_records").await, 0);
    // Within the rules.
    let p = record(
        &mut b,
        &e,
        &[
            ("kind", "CONSULTING"),
            ("programmeId", &prog),
            ("contractValue", "80.000.000"),
            ("subsidy", "40.000.000"),
            ("date", "2025-08-01"),
        ],
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    // The yearly cap of a small firm (50.000.000 ₫): 40 + 20 is over it.
    let p = record(
        &mut b,
        &e,
        &[
            ("kind", "TRAINING"),
            ("programmeId", &prog),
            ("contractValue", "100.000.000"),
            ("subsidy", "20.000.000"),
            ("date", "2025-09-01"),
        ],
    )
    .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.body.contains("id=\"f-subsidy-error\""));
    // No contract value with a share rule: next to the contract value.
    let p = record(
        &mut b,
        &e,
        &[
            ("kind", "TRAINING"),
            ("programmeId", &prog),
            ("subsidy", "1.000.000"),
            ("date", "2025-09-01"),
        ],
    )
    .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.body.contains("id=\"f-contractValue-error\""));
    // A bad date and no kind.
    let p = record(&mut b, &e, &[("kind", ""), ("date", "01/08/2025")]).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.body.contains("id=\"f-kind-error\""));
    let p = record(&mut b, &e, &[("kind", "TRAINING"), ("date", "01/08/2025")]).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.body.contains("id=\"f-date-error\"") && p.body.contains("value=\"01/08/2025\""));
    assert_eq!(app.count("support_records").await, 1);
    let list = b.get("/console/province/programmes").await;
    assert!(
        list.body.contains("40.000.000\u{a0}₫") && list.body.contains("960.000.000\u{a0}₫"),
        "spent and remaining"
    );
}

async fn workflow_buttons_offer_only_allowed_moves(app: TestApp) {
    let mut b = hue(&app).await;
    let e = add_enterprise(&mut b, &[("name", "Tôm chua Huế")]).await;
    let p = record(
        &mut b,
        &e,
        &[
            ("kind", "TRAINING"),
            ("date", "2025-08-01"),
            ("note", "Khoá 1"),
        ],
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let moves = |body: &str| {
        [
            "approved",
            "contracted",
            "disbursed",
            "reported",
            "closed",
            "rejected",
        ]
        .into_iter()
        .filter(|m| body.contains(&format!("data-move=\"{m}\"")))
        .collect::<Vec<_>>()
    };
    let page = b.get(&format!("/console/province/enterprises/{e}")).await;
    assert_eq!(moves(&page.body), ["approved", "rejected"]);
    let rec = page
        .body
        .split("data-record=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a record")
        .to_string();
    let rec_url = format!("/console/province/records/{rec}");
    // A move the workflow does not allow is refused, on the record's page.
    let p = b
        .submit(&rec_url, &format!("{rec_url}/status"), &[("to", "closed")])
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        p.body
            .contains("Không thể chuyển hồ sơ sang trạng thái này.")
    );
    let p = b
        .submit(
            &rec_url,
            &format!("{rec_url}/status"),
            &[("to", "approved")],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let page = b.get(&format!("/console/province/enterprises/{e}")).await;
    assert_eq!(moves(&page.body), ["contracted", "rejected"]);
    assert!(page.body.contains("Đã duyệt"));
    for to in ["contracted", "disbursed"] {
        let p = b
            .submit(&rec_url, &format!("{rec_url}/status"), &[("to", to)])
            .await;
        assert_eq!(p.status, StatusCode::SEE_OTHER);
    }
    let page = b.get(&rec_url).await;
    assert_eq!(
        moves(&page.body),
        ["reported"],
        "no rejection after disbursement"
    );
    // Voiding needs a reason, shown next to the field.
    let p = b
        .submit(&rec_url, &format!("{rec_url}/void"), &[("reason", " ")])
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.body.contains("id=\"f-reason-error\""));
    let p = b
        .submit(
            &rec_url,
            &format!("{rec_url}/void"),
            &[("reason", "Nhập trùng")],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let page = b.get(&rec_url).await;
    assert!(moves(&page.body).is_empty(), "a voided record has no moves");
    assert!(page.body.contains("Nhập trùng"));
    // The audit log: created, three moves, voided; before → after.
    let log = page
        .body
        .split("<ol class=\"history\">")
        .nth(1)
        .unwrap_or_default();
    assert_eq!(log.matches("<li><strong>").count(), 5, "{log}");
    assert!(log.contains("Đã đăng ký → Đã duyệt"));
    assert!(log.contains("Cán bộ Sở"), "who");
    assert_eq!(app.count("support_records").await, 1, "nothing deleted");
}

fn csv(rows: &[&str]) -> Vec<u8> {
    let mut s = String::from(
        "\u{FEFF}Tên doanh nghiệp,Mã số thuế,Loại hình,Ngành (VSIC),Quy mô,Phường/xã,Đồng ý chia sẻ doanh số\r\n",
    );
    for r in rows {
        s.push_str(r);
        s.push_str("\r\n");
    }
    s.into_bytes()
}

async fn csv_import_is_all_or_nothing_and_exports_download(app: TestApp) {
    let mut b = hue(&app).await;
    let good = "Cà phê Hạt Mộc,0300588569,Công ty,I,Siêu nhỏ,Phú Hội,Có";
    let bad = "Mè xửng Thiên Hương,0300588568,Hộ kinh doanh,C,Nhỏ,Vỹ Dạ,Không";
    let bad_size = "Nón lá Phú Cam,,Hộ kinh doanh,C,Khổng lồ,Thủy Xuân,Không";
    let p = b
        .submit_multipart(
            "/console/province/import",
            "/console/province/import",
            &[("p", "46")],
            &[(
                "csv",
                "doanh-nghiep.csv",
                "text/csv",
                csv(&[good, bad, bad_size]),
            )],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", p.body);
    assert_eq!(app.count("enterprises").await, 0, "nothing half-imported");
    assert_eq!(
        p.body.matches("class=\"row-error\"").count(),
        2,
        "{}",
        p.body
    );
    assert!(
        p.body
            .contains("<tr class=\"row-error\"><td>3</td><td>Mã số thuế</td>")
    );
    assert!(
        p.body
            .contains("<tr class=\"row-error\"><td>4</td><td>Quy mô</td>")
    );
    assert!(p.body.contains("id=\"f-csv-error\""));
    // No file at all.
    let p = b
        .submit_multipart(
            "/console/province/import",
            "/console/province/import",
            &[("p", "46")],
            &[],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.body.contains("Hãy chọn tệp CSV."));
    // Another province's import is refused.
    let mut hanoi = signed_in(&app, "canbo@hanoi.gov.vn", Role::ProvinceStaff, Some("01")).await;
    let p = hanoi
        .submit_multipart(
            "/console/province/import",
            "/console/province/import",
            &[("p", "46")],
            &[("csv", "a.csv", "text/csv", csv(&[good]))],
        )
        .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    let fixed = "Mè xửng Thiên Hương,0101248141,Công ty,C,Nhỏ,Vỹ Dạ,Không";
    let p = b
        .submit_multipart(
            "/console/province/import",
            "/console/province/import",
            &[("p", "46")],
            &[("csv", "doanh-nghiep.csv", "text/csv", csv(&[good, fixed]))],
        )
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert!(
        p.body
            .contains("id=\"import-result\">Đã nhập: 2 doanh nghiệp mới, 0 doanh nghiệp cập nhật.")
    );
    assert_eq!(app.count("enterprises").await, 2);
    // The CSV export: a download for Excel.
    let resp = app
        .client
        .get(app.url("/console/province/export.csv"))
        .header(reqwest::header::COOKIE, cookie(&b))
        .send()
        .await
        .expect("export");
    assert_eq!(resp.status(), StatusCode::OK);
    let h = resp.headers().clone();
    assert_eq!(h[reqwest::header::CONTENT_TYPE], "text/csv; charset=utf-8");
    let cd = h[reqwest::header::CONTENT_DISPOSITION]
        .to_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        cd.starts_with("attachment; filename=\"doanh-nghiep-46-") && cd.ends_with(".csv\""),
        "{cd}"
    );
    assert_eq!(h[reqwest::header::CACHE_CONTROL], "no-store");
    let bytes = resp.bytes().await.expect("body");
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "a BOM");
    let text = String::from_utf8(bytes.to_vec()).expect("UTF-8");
    assert!(text.starts_with("\u{FEFF}Tên doanh nghiệp,Mã số thuế,Loại hình,Ngành (VSIC)"));
    assert!(
        text.contains("Cà phê Hạt Mộc,0300588569,Công ty,I,Dịch vụ lưu trú và ăn uống,Siêu nhỏ")
    );
    // JSON for the portal.
    let resp = app
        .client
        .get(app.url("/console/province/export.json"))
        .header(reqwest::header::COOKIE, cookie(&b))
        .send()
        .await
        .expect("export");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()[reqwest::header::CONTENT_TYPE],
        "application/json; charset=utf-8"
    );
    let doc: serde_json::Value = resp.json().await.expect("JSON");
    assert_eq!(doc["provinceCode"], "46");
    assert_eq!(doc["enterprises"].as_array().map(Vec::len), Some(2));
    // The exported CSV imports again (updates by tax code).
    let p = b
        .submit_multipart(
            "/console/province/import",
            "/console/province/import",
            &[("p", "46")],
            &[("csv", "export.csv", "text/csv", text.into_bytes())],
        )
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert!(
        p.body
            .contains("Đã nhập: 0 doanh nghiệp mới, 2 doanh nghiệp cập nhật.")
    );
}

fn cookie(b: &Browser<'_>) -> String {
    b.jar
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

async fn dashboard_figures_and_charts_follow_support(app: TestApp) {
    let mut b = hue(&app).await;
    let e = add_enterprise(
        &mut b,
        &[
            ("name", "Cà phê Hạt Mộc"),
            ("sector", "I"),
            ("ward", "Phú Hội"),
            ("consentShareSales", "on"),
        ],
    )
    .await;
    add_enterprise(
        &mut b,
        &[
            ("name", "<script>alert(1)</script>"),
            ("ward", "<b>Vỹ Dạ</b>"),
        ],
    )
    .await;
    let d = b.get("/console/province/dashboard").await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.body);
    assert_eq!(figure(&d.body, "enterprises"), "2");
    assert_eq!(figure(&d.body, "supported"), "0");
    assert_eq!(figure(&d.body, "revenue_after"), "0\u{a0}₫");
    assert!(d.body.contains("<svg") && d.body.contains("role=\"img\""));
    let month = d
        .body
        .split("id=\"chart-month\"")
        .nth(1)
        .unwrap_or_default();
    assert!(
        month
            .split("</figure>")
            .next()
            .unwrap_or_default()
            .contains("chart-empty"),
        "no month yet"
    );
    assert!(!d.body.contains("<script>alert(1)"), "labels escaped");
    assert!(d.body.contains("&lt;b&gt;Vỹ Dạ&lt;/b&gt;"));
    let r = record(
        &mut b,
        &e,
        &[
            ("kind", "STOREFRONT"),
            ("date", "2025-08-15"),
            ("subsidy", "5.000.000"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let d = b.get("/console/province/dashboard").await;
    assert_eq!(figure(&d.body, "supported"), "1");
    let month = d
        .body
        .split("id=\"chart-month\"")
        .nth(1)
        .and_then(|s| s.split("</figure>").next())
        .unwrap_or_default()
        .to_string();
    assert!(
        month.contains("<rect")
            && month.contains("aria-label=\"Doanh nghiệp được hỗ trợ theo tháng\""),
        "{month}"
    );
    assert!(
        month.contains("<th scope=\"row\">08/2025</th><td>1</td>"),
        "{month}"
    );
    let funnel = d
        .body
        .split("id=\"chart-funnel\"")
        .nth(1)
        .unwrap_or_default();
    assert!(funnel.contains("1 (100 %)") && funnel.contains("0 (0 %)"));
    let ward = d.body.split("id=\"chart-ward\"").nth(1).unwrap_or_default();
    assert!(ward.contains("<th scope=\"row\">Phú Hội</th><td>1</td>"));
    let sector = d
        .body
        .split("id=\"chart-sector\"")
        .nth(1)
        .unwrap_or_default();
    assert!(sector.contains("I – Dịch vụ lưu trú và ăn uống"));
    assert!(d.body.contains("id=\"chart-revenue\""));
    // The landing shows the same headline figures.
    let home = b.get("/console/province").await;
    assert_eq!(figure(&home.body, "supported"), "1");
    assert_eq!(figure(&home.body, "enterprises"), "2");
}

async fn readiness_invites_and_languages(app: TestApp) {
    let mut b = hue(&app).await;
    let e = add_enterprise(
        &mut b,
        &[("name", "Nón lá Phú Cam"), ("consentShareSales", "on")],
    )
    .await;
    let form = b
        .get(&format!("/console/province/enterprises/{e}/readiness"))
        .await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    assert!(
        form.body.contains("Số liệu do nền tảng đo"),
        "measured indicators for a consenting firm"
    );
    assert!(form.body.contains("name=\"pillar_STRATEGY\""));
    let path = format!("/console/province/enterprises/{e}/readiness");
    let p = b
        .submit(
            &path,
            &path,
            &[
                ("framework", "DBI_2021"),
                ("assessedOn", "2025-06-01"),
                ("level", ""),
                ("pillar_STRATEGY", "3"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.body.contains("id=\"f-level-error\""));
    assert!(
        p.body.contains("<option value=\"3\" selected"),
        "the pillar level is kept"
    );
    for (date, level) in [("2025-01-10", "1"), ("2025-06-01", "3")] {
        let p = b
            .submit(
                &path,
                &path,
                &[
                    ("framework", "DBI_2021"),
                    ("assessedOn", date),
                    ("level", level),
                    ("pillar_STRATEGY", "3"),
                ],
            )
            .await;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    }
    let page = b.get(&format!("/console/province/enterprises/{e}")).await;
    assert!(
        page.body.contains("id=\"readiness-progress\""),
        "progress over time"
    );
    assert!(page.body.contains("Chiến lược: 3"));
    // An invite: the code and the sign-up link.
    let p = b
        .submit(
            &format!("/console/province/enterprises/{e}"),
            &format!("/console/province/enterprises/{e}/invite"),
            &[],
        )
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert!(p.body.contains("/console/signup?invite="));
    assert_eq!(app.count("enterprise_invites").await, 1);
    // English when asked.
    let p = b.get("/console/province/enterprises?lang=en").await;
    assert!(p.body.contains("Enterprise register") && p.body.contains("<html lang=\"en\">"));
    let p = b.get("/console/province/dashboard").await;
    assert_eq!(p.status, StatusCode::OK, "the language sticks: {}", p.body);
    assert!(p.body.contains("Supported enterprises by month"));
    // An admin picks a province, then works in it.
    let mut admin = signed_in(&app, "admin@choso.vn", Role::Admin, None).await;
    let pick = admin.get("/console/province").await;
    assert_eq!(pick.status, StatusCode::OK);
    assert!(pick.body.contains("href=\"/console/province?p=46\""));
    let reg = admin.get("/console/province/enterprises?p=46").await;
    assert!(reg.body.contains("Nón lá Phú Cam"));
    let reg = admin.get("/console/province/enterprises?p=01").await;
    assert!(!reg.body.contains("Nón lá Phú Cam"));
}

async fn a_linked_shop_shows_sales_only_with_consent_and_no_customer_data(app: TestApp) {
    let mut b = hue(&app).await;
    let e = add_enterprise(
        &mut b,
        &[
            ("name", "Tiệm bánh ép"),
            ("ward", "Phú Hội"),
            ("consentShareSales", "on"),
        ],
    )
    .await;
    let page = format!("/console/province/enterprises/{e}");
    let p = b.submit(&page, &format!("{page}/invite"), &[]).await;
    assert_eq!(p.status, StatusCode::OK);
    let code = p
        .body
        .split("/console/signup?invite=")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("the invite code in the link")
        .to_string();
    assert!(p.body.contains(&format!(
        "<p class=\"invite-code\" aria-label=\"Mã mời\">{code}</p>"
    )));
    // The link opens the sign-up form with the code filled in.
    let signup = app
        .client
        .get(app.url(&format!("/console/signup?invite={code}")))
        .send()
        .await
        .expect("signup page")
        .text()
        .await
        .expect("body");
    assert!(
        signup.contains(&format!("value=\"{code}\"")),
        "the invite code is filled in"
    );
    // The owner registers with it, opens a shop, publishes, and a customer orders.
    let reg = "mutation($i: RegisterInput!) { register(input: $i) { token userErrors { code } } }";
    let v = app
        .gql(reg, serde_json::json!({ "i": { "email": "chu@example.vn", "password": "correct horse battery", "fullName": "Chủ Tiệm", "inviteCode": code } }))
        .await;
    let owner = v["data"]["register"]["token"]
        .as_str()
        .expect("token")
        .to_string();
    let v = app
        .gql_as(
            &owner,
            CREATE_SHOP,
            serde_json::json!({ "i": { "name": "Tiệm", "provinceCode": "46" } }),
        )
        .await;
    let shop = v["data"]["createShop"]["shop"]["id"]
        .as_str()
        .expect("shop")
        .to_string();
    let (_, variant) = product(&app, &owner, &shop, "Bánh ép", "60000", 50).await;
    publish(&app, &owner, &shop).await;
    let v = app
        .gql(PLACE, serde_json::json!({ "i": order_input(&variant, 2) }))
        .await;
    assert_eq!(
        v["data"]["placeOrder"]["userErrors"],
        serde_json::json!([]),
        "{v}"
    );
    let body = b.get(&page).await.body;
    assert!(
        body.contains("href=\"/s/tiem/\"") && body.contains("Đang mở bán"),
        "the linked shop"
    );
    assert!(
        body.contains("Cửa hàng trực tuyến"),
        "the automatic STOREFRONT record"
    );
    let sales = body
        .split("id=\"sales\"")
        .nth(1)
        .expect("sales figures with consent");
    // One order of two 60.000 ₫ items, placed after the first (automatic) support.
    assert_eq!(
        sales.matches("<span class=\"figure\">1</span>").count(),
        2,
        "{sales}"
    );
    assert_eq!(
        sales
            .matches("<span class=\"figure\">120.000\u{a0}₫</span>")
            .count(),
        2,
        "{sales}"
    );
    for private in [
        "Lê Thị Khách",
        "0912345678",
        "0912 345 678",
        "khach@example.vn",
        "Trần Hưng Đạo",
    ] {
        assert!(!body.contains(private), "no customer data: {private}");
    }
    let d = b.get("/console/province/dashboard").await;
    assert_eq!(figure(&d.body, "live_store"), "1");
    assert_eq!(figure(&d.body, "online_orders"), "1");
    assert!(!d.body.contains("Lê Thị Khách"));
    // Consent withdrawn (here recorded by staff): the figures disappear.
    let edit = format!("{page}/edit");
    let p = b
        .submit(
            &edit,
            &edit,
            &[("name", "Tiệm bánh ép"), ("ward", "Phú Hội")],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let body = b.get(&page).await.body;
    assert!(!body.contains("id=\"sales\"") && body.contains("id=\"sales-hidden\""));
    assert!(body.contains("data-consent=\"no\""));
}
