//! Province digital-transformation support: the register and its bad inputs, province
//! isolation on every query and mutation, consent, programme rules (share, size caps, budget),
//! the record workflow and audit log, invites and the automatic STOREFRONT record, the
//! dashboard from real orders, and the CSV round trip.

use choso_services::accounts::{NewUser, Role, create_user};
use serde_json::{Value, json};

use crate::{
    helpers::{TestApp, codes, error_code},
    orders::{PLACE, order_input},
    shops::{CREATE_SHOP, product, publish},
    storage_tests,
};

pub const CREATE: &str = "mutation($i: EnterpriseInput!) { createEnterprise(input: $i) { enterprise { id name taxCode provinceCode sector sectorName legalForm sizeClass consentShareSales } userErrors { field code message } } }";
pub const RECORD: &str = "mutation($i: SupportInput!) { recordSupport(input: $i) { record { id kind programme status date subsidy { amount } } userErrors { field code message } } }";
pub const PROGRAMME: &str = "mutation($i: ProgrammeInput!) { createProgramme(input: $i) { programme { id name budget { amount } spent { amount } remaining { amount } } userErrors { field code message } } }";
pub const STATUS: &str = "mutation($r: ID!, $s: SupportStatus!) { updateSupportStatus(recordId: $r, status: $s) { record { status } userErrors { code } } }";
pub const DASH: &str = "query($p: String!) { provinceDashboard(provinceCode: $p) { enterprises supportedEnterprises withLiveStore withOnlineOrders ordersAfterSupport revenueAfterSupport { amount formatted } funnel { supported shopCreated published firstOrder repeatOrders } beforeAfter { enterprises ordersBefore ordersAfter revenueAfter { amount } } breakdowns { bySector { key label enterprises } byKind { key records } byMonth { key records } byWard { key enterprises } bySize { key } byProgramme { key } } } }";

/// Creates a user of a role directly and signs it in; returns the token.
pub async fn staff(app: &TestApp, email: &str, role: Role, province: Option<&str>) -> String {
    create_user(
        &app.db,
        NewUser {
            email: email.to_string(),
            password: "province staff pw".to_string(),
            full_name: "Cán bộ Sở".to_string(),
            role,
            province_code: province.map(str::to_string),
        },
    )
    .await
    .expect("user created");
    let v = app
        .gql(
            "mutation($i: LoginInput!) { login(input: $i) { token userErrors { code } } }",
            json!({ "i": { "email": email, "password": "province staff pw" } }),
        )
        .await;
    v["data"]["login"]["token"]
        .as_str()
        .expect("token")
        .to_string()
}

pub async fn hue_staff(app: &TestApp) -> String {
    staff(app, "staff@hue.gov.vn", Role::ProvinceStaff, Some("46")).await
}

async fn create(app: &TestApp, token: &str, input: Value) -> Value {
    app.gql_as(token, CREATE, json!({ "i": input })).await["data"]["createEnterprise"].clone()
}

/// Updates an enterprise as `t`; the update must be accepted.
pub async fn update_enterprise(app: &TestApp, t: &str, e: &str, input: Value) {
    let v = app
        .gql_as(
            t,
            "mutation($e: ID!, $i: EnterpriseUpdateInput!) { updateEnterprise(id: $e, input: $i) { userErrors { code } } }",
            json!({ "e": e, "i": input }),
        )
        .await;
    assert_eq!(
        v["data"]["updateEnterprise"]["userErrors"],
        json!([]),
        "{v}"
    );
}

/// Creates an enterprise in Huế and returns its id.
pub async fn enterprise(app: &TestApp, token: &str, name: &str, tax: &str, extra: Value) -> String {
    let mut input = json!({ "name": name, "taxCode": tax, "provinceCode": "46", "sector": "C" });
    if let (Some(i), Some(e)) = (input.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            i.insert(k.clone(), v.clone());
        }
    }
    let p = create(app, token, input).await;
    assert_eq!(p["userErrors"], json!([]), "{p}");
    p["enterprise"]["id"].as_str().unwrap().to_string()
}

storage_tests!(
    register_and_bad_inputs,
    other_provinces_are_forbidden,
    programme_rules_and_workflow,
    invite_publish_orders_dashboard_and_consent,
    csv_round_trip,
    concurrent_edits_of_an_enterprise_all_land,
);

async fn register_and_bad_inputs(app: TestApp) {
    let t = hue_staff(&app).await;
    let p = create(
        &app,
        &t,
        json!({ "name": "  Công ty TNHH Trà Cung Đình  ", "taxCode": "0300588569", "provinceCode": "46",
                "sector": "c", "legalForm": "COMPANY", "sizeClass": "SMALL", "consentShareSales": true }),
    )
    .await;
    assert_eq!(p["userErrors"], json!([]), "{p}");
    let e = &p["enterprise"];
    assert_eq!(e["name"], "Công ty TNHH Trà Cung Đình");
    assert_eq!(e["sector"], "C");
    assert_eq!(e["sectorName"], "Công nghiệp chế biến, chế tạo");
    assert_eq!(e["consentShareSales"], true);
    // A household business may use the 12-digit personal number; a company may not.
    let hh = create(&app, &t, json!({ "name": "Hộ kinh doanh Mè Xửng", "taxCode": "046123456789", "provinceCode": "46", "legalForm": "HOUSEHOLD_BUSINESS" })).await;
    assert_eq!(hh["userErrors"], json!([]), "{hh}");
    let before = app.count("enterprises").await;
    for (input, code) in [
        (
            json!({ "name": "X", "taxCode": "0300588568", "provinceCode": "46" }),
            "INVALID_TAX_CODE",
        ),
        (
            json!({ "name": "X", "taxCode": "046123456780", "provinceCode": "46", "legalForm": "COMPANY" }),
            "INVALID_TAX_CODE",
        ),
        (
            json!({ "name": "X", "taxCode": "0300588569", "provinceCode": "46" }),
            "TAX_CODE_TAKEN",
        ),
        (
            json!({ "name": "X", "provinceCode": "99" }),
            "INVALID_PROVINCE",
        ),
        (json!({ "name": "   ", "provinceCode": "46" }), "REQUIRED"),
        (
            json!({ "name": "X", "provinceCode": "46", "sector": "Z" }),
            "INVALID_SECTOR",
        ),
        (
            json!({ "name": "X", "provinceCode": "46", "phone": "12345" }),
            "INVALID_PHONE",
        ),
    ] {
        let p = create(&app, &t, input.clone()).await;
        assert_eq!(codes(&p), vec![code.to_string()], "{input} → {p}");
        assert_eq!(p["enterprise"], Value::Null);
    }
    assert_eq!(app.count("enterprises").await, before);
    // Search folds diacritics and matches tax codes; paging by id.
    let q = "query($q: String, $a: String) { enterprises(provinceCode: \"46\", first: 1, after: $a, query: $q) { id name } }";
    let v = app.gql_as(&t, q, json!({ "q": "tra cung dinh" })).await;
    assert_eq!(
        v["data"]["enterprises"][0]["name"], "Công ty TNHH Trà Cung Đình",
        "{v}"
    );
    let v = app.gql_as(&t, q, json!({ "q": "046123" })).await;
    assert_eq!(
        v["data"]["enterprises"][0]["name"], "Hộ kinh doanh Mè Xửng",
        "{v}"
    );
    let v = app.gql_as(&t, q, json!({})).await;
    let first = v["data"]["enterprises"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let v = app.gql_as(&t, q, json!({ "a": first })).await;
    assert_eq!(v["data"]["enterprises"].as_array().unwrap().len(), 1);
    assert_ne!(v["data"]["enterprises"][0]["id"], json!(first));
    // Unauthenticated: no access at all.
    let v = app.gql(q, json!({})).await;
    assert_eq!(error_code(&v).as_deref(), Some("UNAUTHENTICATED"));
}

async fn other_provinces_are_forbidden(app: TestApp) {
    let hue = hue_staff(&app).await;
    let e = enterprise(&app, &hue, "HTX Nón Lá Phú Cam", "0101248141", json!({})).await;
    let pg = app
        .gql_as(&hue, PROGRAMME, json!({ "i": { "provinceCode": "46", "name": "Chương trình CĐS 2026", "budget": "1000000000" } }))
        .await;
    let prog = pg["data"]["createProgramme"]["programme"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app
        .gql_as(&hue, RECORD, json!({ "i": { "enterpriseId": e, "kind": "TRAINING", "date": "2026-01-15", "programmeId": prog, "subsidy": "1000000" } }))
        .await;
    let rec = r["data"]["recordSupport"]["record"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let hanoi = staff(&app, "staff@hanoi.gov.vn", Role::ProvinceStaff, Some("01")).await;
    let (merchant, _) = app.register("owner@example.vn").await;
    let tables = [
        "enterprises",
        "programmes",
        "support_records",
        "support_audit",
        "enterprise_invites",
    ];
    let mut counts = Vec::new();
    for t in tables {
        counts.push(app.count(t).await);
    }
    let attempts: Vec<(&str, Value)> = vec![
        ("{ enterprises(provinceCode: \"46\") { id } }", json!({})),
        (
            "query($id: ID!) { enterprise(id: $id) { id } }",
            json!({ "id": e }),
        ),
        (
            "{ provinceDashboard(provinceCode: \"46\") { enterprises } }",
            json!({}),
        ),
        ("{ programmes(provinceCode: \"46\") { id } }", json!({})),
        (
            "query($id: ID!) { supportRecord(id: $id) { id } }",
            json!({ "id": rec }),
        ),
        ("{ exportEnterprisesCsv(provinceCode: \"46\") }", json!({})),
        ("{ exportEnterprisesJson(provinceCode: \"46\") }", json!({})),
        (
            CREATE,
            json!({ "i": { "name": "Lấn sân", "provinceCode": "46" } }),
        ),
        (
            "mutation($id: ID!) { updateEnterprise(id: $id, input: { name: \"Đổi tên\" }) { userErrors { code } } }",
            json!({ "id": e }),
        ),
        (
            "mutation($id: ID!) { withdrawConsent(enterpriseId: $id) { userErrors { code } } }",
            json!({ "id": e }),
        ),
        (
            PROGRAMME,
            json!({ "i": { "provinceCode": "46", "name": "Lấn sân", "budget": "1" } }),
        ),
        (
            RECORD,
            json!({ "i": { "enterpriseId": e, "kind": "OTHER", "date": "2026-02-01" } }),
        ),
        (STATUS, json!({ "r": rec, "s": "APPROVED" })),
        (
            "mutation($r: ID!) { voidSupportRecord(recordId: $r, reason: \"x\") { userErrors { code } } }",
            json!({ "r": rec }),
        ),
        (
            "mutation($id: ID!) { createOnboardingInvite(enterpriseId: $id) { code userErrors { code } } }",
            json!({ "id": e }),
        ),
        (
            "mutation { importEnterprisesCsv(provinceCode: \"46\", csv: \"Tên doanh nghiệp\\nLấn sân\") { created userErrors { code } } }",
            json!({}),
        ),
    ];
    for token in [&hanoi, &merchant] {
        for (q, vars) in &attempts {
            let v = app.gql_as(token, q, vars.clone()).await;
            assert_eq!(error_code(&v).as_deref(), Some("FORBIDDEN"), "{q} → {v}");
        }
    }
    // Staff of Hà Nội can still use their own province, which shows nothing of Huế.
    let v = app
        .gql_as(&hanoi, "{ enterprises(provinceCode: \"01\") { id } provinceDashboard(provinceCode: \"01\") { enterprises } }", json!({}))
        .await;
    assert_eq!(v["data"]["enterprises"], json!([]), "{v}");
    assert_eq!(v["data"]["provinceDashboard"]["enterprises"], 0);
    for (t, n) in tables.iter().zip(counts) {
        assert_eq!(app.count(t).await, n, "{t} changed");
    }
    let v = app
        .gql_as(
            &hue,
            "query($id: ID!) { enterprise(id: $id) { name } }",
            json!({ "id": e }),
        )
        .await;
    assert_eq!(v["data"]["enterprise"]["name"], "HTX Nón Lá Phú Cam");
    // Admins see every province.
    let admin = staff(&app, "admin@choso.vn", Role::Admin, None).await;
    let v = app
        .gql_as(
            &admin,
            "{ enterprises(provinceCode: \"46\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(v["data"]["enterprises"].as_array().unwrap().len(), 1, "{v}");
}

async fn programme_rules_and_workflow(app: TestApp) {
    let t = hue_staff(&app).await;
    let small = enterprise(
        &app,
        &t,
        "Công ty Nhỏ",
        "0100109106",
        json!({ "sizeClass": "SMALL" }),
    )
    .await;
    let medium = enterprise(
        &app,
        &t,
        "Công ty Vừa",
        "0100233488",
        json!({ "sizeClass": "MEDIUM" }),
    )
    .await;
    let v = app
        .gql_as(&t, PROGRAMME, json!({ "i": {
            "provinceCode": "46", "name": "Kế hoạch hỗ trợ DNNVV (NĐ 80/2021)", "fundingSource": "Ngân sách tỉnh",
            "decisionNumber": "123/QĐ-UBND", "decisionDate": "2026-01-02", "startDate": "2026-01-01", "endDate": "2026-12-31",
            "budget": "150000000", "maxShareOfContract": 50, "capSmall": "50000000", "capMedium": "100000000" } }))
        .await;
    let p = &v["data"]["createProgramme"];
    assert_eq!(p["userErrors"], json!([]), "{v}");
    let prog = p["programme"]["id"].as_str().unwrap().to_string();
    let support = |e: &str, contract: &str, subsidy: &str| {
        json!({ "i": { "enterpriseId": e, "kind": "CONSULTING", "date": "2026-03-10", "programmeId": prog,
                       "provider": "Viettel", "contractValue": contract, "subsidy": subsidy } })
    };
    let audit_before = app.count("support_audit").await;
    // Over 50 % of the contract.
    let v = app
        .gql_as(&t, RECORD, support(&small, "60000000", "30000001"))
        .await;
    assert_eq!(
        codes(&v["data"]["recordSupport"]),
        vec!["SUBSIDY_CAP_EXCEEDED"],
        "{v}"
    );
    // Over the small-firm cap (50 % of 120 M is 60 M, but the cap is 50 M).
    let v = app
        .gql_as(&t, RECORD, support(&small, "120000000", "60000000"))
        .await;
    assert_eq!(
        codes(&v["data"]["recordSupport"]),
        vec!["SUBSIDY_CAP_EXCEEDED"],
        "{v}"
    );
    assert_eq!(app.count("support_records").await, 0);
    assert_eq!(app.count("support_audit").await, audit_before);
    // Within the rules.
    let v = app
        .gql_as(&t, RECORD, support(&small, "100000000", "50000000"))
        .await;
    assert_eq!(v["data"]["recordSupport"]["userErrors"], json!([]), "{v}");
    let rec = v["data"]["recordSupport"]["record"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(v["data"]["recordSupport"]["record"]["status"], "APPLIED");
    // The small firm's yearly cap is used up.
    let v = app
        .gql_as(&t, RECORD, support(&small, "100000000", "1000000"))
        .await;
    assert_eq!(
        codes(&v["data"]["recordSupport"]),
        vec!["SUBSIDY_CAP_EXCEEDED"],
        "{v}"
    );
    // Remaining budget: 100 M; a medium firm asking 100 M fits, then nothing is left.
    let v = app
        .gql_as(&t, RECORD, support(&medium, "200000000", "100000000"))
        .await;
    assert_eq!(v["data"]["recordSupport"]["userErrors"], json!([]), "{v}");
    let medium_rec = v["data"]["recordSupport"]["record"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let v = app
        .gql_as(&t, RECORD, support(&medium, "2000000", "1000000"))
        .await;
    assert_eq!(
        codes(&v["data"]["recordSupport"]),
        vec!["SUBSIDY_CAP_EXCEEDED"],
        "{v}"
    );
    let q = "{ programmes(provinceCode: \"46\") { spent { amount } remaining { amount } } }";
    let v = app.gql_as(&t, q, json!({})).await;
    assert_eq!(
        v["data"]["programmes"][0]["spent"]["amount"], "150000000",
        "{v}"
    );
    assert_eq!(v["data"]["programmes"][0]["remaining"]["amount"], "0");
    // Workflow: refused jumps, allowed steps, then rejection of a closed record is refused.
    let v = app
        .gql_as(&t, STATUS, json!({ "r": rec, "s": "CLOSED" }))
        .await;
    assert_eq!(
        codes(&v["data"]["updateSupportStatus"]),
        vec!["INVALID_TRANSITION"]
    );
    for s in ["APPROVED", "CONTRACTED", "DISBURSED", "REPORTED", "CLOSED"] {
        let v = app.gql_as(&t, STATUS, json!({ "r": rec, "s": s })).await;
        assert_eq!(
            v["data"]["updateSupportStatus"]["record"]["status"], s,
            "{v}"
        );
    }
    for s in ["REJECTED", "APPLIED", "CLOSED"] {
        let v = app.gql_as(&t, STATUS, json!({ "r": rec, "s": s })).await;
        assert_eq!(
            codes(&v["data"]["updateSupportStatus"]),
            vec!["INVALID_TRANSITION"],
            "{s}"
        );
    }
    // Rejecting the medium record gives its subsidy back to the budget.
    let v = app
        .gql_as(&t, STATUS, json!({ "r": medium_rec, "s": "REJECTED" }))
        .await;
    assert_eq!(
        v["data"]["updateSupportStatus"]["record"]["status"], "REJECTED",
        "{v}"
    );
    let v = app
        .gql_as(&t, STATUS, json!({ "r": medium_rec, "s": "APPROVED" }))
        .await;
    assert_eq!(
        codes(&v["data"]["updateSupportStatus"]),
        vec!["INVALID_TRANSITION"]
    );
    let v = app.gql_as(&t, q, json!({})).await;
    assert_eq!(
        v["data"]["programmes"][0]["remaining"]["amount"], "100000000",
        "{v}"
    );
    // Voiding: a reason is required; the record stays, marked, and the budget comes back.
    let void = "mutation($r: ID!, $why: String!) { voidSupportRecord(recordId: $r, reason: $why) { record { voided voidReason } userErrors { code } } }";
    let v = app.gql_as(&t, void, json!({ "r": rec, "why": " " })).await;
    assert_eq!(codes(&v["data"]["voidSupportRecord"]), vec!["REQUIRED"]);
    let v = app
        .gql_as(&t, void, json!({ "r": rec, "why": "Nhập trùng" }))
        .await;
    assert_eq!(
        v["data"]["voidSupportRecord"]["record"]["voided"], true,
        "{v}"
    );
    let v = app
        .gql_as(&t, void, json!({ "r": rec, "why": "lần nữa" }))
        .await;
    assert_eq!(
        codes(&v["data"]["voidSupportRecord"]),
        vec!["ALREADY_VOIDED"]
    );
    let v = app.gql_as(&t, q, json!({})).await;
    assert_eq!(
        v["data"]["programmes"][0]["remaining"]["amount"], "150000000",
        "{v}"
    );
    assert_eq!(app.count("support_records").await, 2);
    // The audit log: create, five status changes, void; with who, before and after.
    let v = app
        .gql_as(&t, "query($r: ID!) { supportRecord(id: $r) { auditLog { action actorName before after } } }", json!({ "r": rec }))
        .await;
    let log = v["data"]["supportRecord"]["auditLog"]
        .as_array()
        .unwrap()
        .clone();
    let actions: Vec<&str> = log.iter().map(|a| a["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        [
            "create", "status", "status", "status", "status", "status", "void"
        ],
        "{v}"
    );
    assert_eq!(log[0]["actorName"], "Cán bộ Sở");
    assert_eq!(log[0]["before"], Value::Null);
    let before: Value = serde_json::from_str(log[1]["before"].as_str().unwrap()).unwrap();
    let after: Value = serde_json::from_str(log[1]["after"].as_str().unwrap()).unwrap();
    assert_eq!(
        (before["status"].as_str(), after["status"].as_str()),
        (Some("Applied"), Some("Approved"))
    );
    // A programme given by name links it too (the contract's `programme` string).
    let v = app
        .gql_as(
            &t,
            RECORD,
            json!({ "i": { "enterpriseId": small, "kind": "TRAINING", "date": "2026-04-01",
            "programme": "kế hoạch hỗ trợ dnnvv (nđ 80/2021)", "subsidy": "0" } }),
        )
        .await;
    assert_eq!(
        v["data"]["recordSupport"]["record"]["programme"], "Kế hoạch hỗ trợ DNNVV (NĐ 80/2021)",
        "{v}"
    );
    // Bad date.
    let v = app
        .gql_as(
            &t,
            RECORD,
            json!({ "i": { "enterpriseId": small, "kind": "TRAINING", "date": "2026-02-30" } }),
        )
        .await;
    assert_eq!(
        codes(&v["data"]["recordSupport"]),
        vec!["INVALID_DATE"],
        "{v}"
    );
}

async fn invite_publish_orders_dashboard_and_consent(app: TestApp) {
    let t = hue_staff(&app).await;
    let e = enterprise(
        &app,
        &t,
        "Tiệm bánh Huế",
        "0314409058-002",
        json!({ "consentShareSales": true, "ward": "Phú Hội", "sizeClass": "MICRO" }),
    )
    .await;
    let other = enterprise(&app, &t, "Công ty Không Cửa Hàng", "0300588569", json!({})).await;
    app.gql_as(
        &t,
        RECORD,
        json!({ "i": { "enterpriseId": other, "kind": "TRAINING", "date": "2026-01-15" } }),
    )
    .await;
    let v = app
        .gql_as(&t, "mutation($e: ID!) { createOnboardingInvite(enterpriseId: $e) { code url userErrors { code } } }", json!({ "e": e }))
        .await;
    let code = v["data"]["createOnboardingInvite"]["code"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        v["data"]["createOnboardingInvite"]["url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/console/signup?invite={code}")),
        "{v}"
    );
    // An unknown code is refused at registration.
    let reg = "mutation($i: RegisterInput!) { register(input: $i) { token userErrors { code } } }";
    let v = app
        .gql(reg, json!({ "i": { "email": "x@example.vn", "password": "correct horse battery", "fullName": "X", "inviteCode": "NOPE" } }))
        .await;
    assert_eq!(codes(&v["data"]["register"]), vec!["INVALID_INVITE_CODE"]);
    let v = app
        .gql(reg, json!({ "i": { "email": "chu@example.vn", "password": "correct horse battery", "fullName": "Chủ Tiệm", "inviteCode": code.to_lowercase() } }))
        .await;
    assert_eq!(v["data"]["register"]["userErrors"], json!([]), "{v}");
    let owner = v["data"]["register"]["token"].as_str().unwrap().to_string();
    let v = app
        .gql_as(
            &owner,
            CREATE_SHOP,
            json!({ "i": { "name": "Tiệm", "provinceCode": "46" } }),
        )
        .await;
    let shop = v["data"]["createShop"]["shop"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mine = "{ myEnterprise { id name consentShareSales shops { slug } supports { kind status note } sales { orders ordersAfterSupport revenueAfterSupport { amount } } } }";
    let v = app.gql_as(&owner, mine, json!({})).await;
    assert_eq!(v["data"]["myEnterprise"]["id"], json!(e), "{v}");
    assert_eq!(
        v["data"]["myEnterprise"]["shops"],
        json!([{ "slug": "tiem" }])
    );
    assert_eq!(v["data"]["myEnterprise"]["supports"], json!([]));
    let (_, variant) = product(&app, &owner, &shop, "Bánh ép", "60000", 50).await;
    publish(&app, &owner, &shop).await;
    // Publishing again (after unpublishing) does not add a second record.
    app.gql_as(
        &owner,
        "mutation($s: ID!) { unpublishShop(shopId: $s) { userErrors { code } } }",
        json!({ "s": shop }),
    )
    .await;
    publish(&app, &owner, &shop).await;
    let v = app.gql_as(&owner, mine, json!({})).await;
    assert_eq!(
        v["data"]["myEnterprise"]["supports"],
        json!([{ "kind": "STOREFRONT", "status": "CLOSED", "note": "auto" }]),
        "{v}"
    );
    // A merchant without an enterprise has none, and cannot read one.
    let (stranger, _) = app.register("stranger@example.vn").await;
    assert_eq!(
        app.gql_as(&stranger, mine, json!({})).await["data"]["myEnterprise"],
        Value::Null
    );
    // Orders through the public API.
    for _ in 0..2 {
        let v = app
            .gql(PLACE, json!({ "i": order_input(&variant, 1) }))
            .await;
        assert_eq!(v["data"]["placeOrder"]["userErrors"], json!([]), "{v}");
    }
    let v = app.gql_as(&t, DASH, json!({ "p": "46" })).await;
    let d = &v["data"]["provinceDashboard"];
    assert_eq!(d["enterprises"], 2, "{v}");
    assert_eq!(d["supportedEnterprises"], 2);
    assert_eq!(d["withLiveStore"], 1);
    assert_eq!(d["withOnlineOrders"], 1);
    assert_eq!(d["ordersAfterSupport"], 2);
    assert_eq!(
        d["revenueAfterSupport"],
        json!({ "amount": "120000", "formatted": "120.000\u{a0}₫" })
    );
    assert_eq!(
        d["funnel"],
        json!({ "supported": 2, "shopCreated": 1, "published": 1, "firstOrder": 1, "repeatOrders": 1 })
    );
    assert_eq!(d["beforeAfter"]["enterprises"], 1);
    assert_eq!(d["beforeAfter"]["ordersBefore"], 0);
    assert_eq!(d["beforeAfter"]["ordersAfter"], 2);
    assert_eq!(d["beforeAfter"]["revenueAfter"]["amount"], "120000");
    assert_eq!(d["breakdowns"]["bySector"][0]["key"], "C");
    assert_eq!(
        d["breakdowns"]["bySector"][0]["label"],
        "Công nghiệp chế biến, chế tạo"
    );
    assert_eq!(d["breakdowns"]["bySector"][0]["enterprises"], 2);
    let kinds: Vec<&str> = d["breakdowns"]["byKind"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["key"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["STOREFRONT", "TRAINING"]);
    assert!(
        d["breakdowns"]["byWard"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["key"] == "Phú Hội")
    );
    let v = app.gql_as(&t, "query($e: ID!) { enterprise(id: $e) { sales { orders revenue { amount } } shops { slug } } }", json!({ "e": e })).await;
    assert_eq!(v["data"]["enterprise"]["sales"]["orders"], 2, "{v}");
    // No customer data anywhere in the module's answers.
    let all = app.gql_as(&t, DASH, json!({ "p": "46" })).await.to_string()
        + &app.gql_as(&t, "{ exportEnterprisesCsv(provinceCode: \"46\") exportEnterprisesJson(provinceCode: \"46\") }", json!({})).await.to_string();
    for secret in [
        "Lê Thị Khách",
        "912345678",
        "khach@example.vn",
        "Trần Hưng Đạo",
    ] {
        assert!(!all.contains(secret), "customer data {secret} leaked");
    }
    // Only the owner withdraws consent; then the figures disappear everywhere.
    let w = "mutation($e: ID!) { withdrawConsent(enterpriseId: $e) { enterprise { consentShareSales } userErrors { code } } }";
    assert_eq!(
        error_code(&app.gql_as(&stranger, w, json!({ "e": e })).await).as_deref(),
        Some("FORBIDDEN")
    );
    let v = app.gql_as(&owner, w, json!({ "e": e })).await;
    assert_eq!(
        v["data"]["withdrawConsent"]["enterprise"]["consentShareSales"], false,
        "{v}"
    );
    let v = app.gql_as(&t, DASH, json!({ "p": "46" })).await;
    let d = &v["data"]["provinceDashboard"];
    assert_eq!(d["ordersAfterSupport"], 0, "{v}");
    assert_eq!(d["revenueAfterSupport"]["amount"], "0");
    assert_eq!(d["beforeAfter"]["enterprises"], 0);
    assert_eq!(d["beforeAfter"]["ordersAfter"], 0);
    let v = app
        .gql_as(
            &t,
            "query($e: ID!) { enterprise(id: $e) { sales { orders } } }",
            json!({ "e": e }),
        )
        .await;
    assert_eq!(v["data"]["enterprise"]["sales"], Value::Null, "{v}");
    let v = app
        .gql_as(
            &t,
            "{ exportEnterprisesJson(provinceCode: \"46\") }",
            json!({}),
        )
        .await;
    let doc: Value =
        serde_json::from_str(v["data"]["exportEnterprisesJson"].as_str().unwrap()).unwrap();
    assert!(
        doc["enterprises"]
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["ordersAfterSupport"].is_null()),
        "{doc}"
    );
}

async fn csv_round_trip(app: TestApp) {
    let t = hue_staff(&app).await;
    enterprise(&app, &t, "Hợp tác xã Nón lá Tây Hồ, Phú Vang", "0101248141", json!({ "legalForm": "COOPERATIVE", "sizeClass": "MICRO", "ward": "Phú Vang", "phone": "0905123456" })).await;
    enterprise(
        &app,
        &t,
        "Hộ kinh doanh \"Mè Xửng\" Thiên Hương",
        "046123456789",
        json!({ "legalForm": "HOUSEHOLD_BUSINESS", "sector": "G", "consentShareSales": true }),
    )
    .await;
    let v = app
        .gql_as(
            &t,
            "{ exportEnterprisesCsv(provinceCode: \"46\") }",
            json!({}),
        )
        .await;
    let csv = v["data"]["exportEnterprisesCsv"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        csv.starts_with("\u{feff}Tên doanh nghiệp,Mã số thuế,Loại hình"),
        "{csv}"
    );
    assert!(
        csv.contains("\"Hợp tác xã Nón lá Tây Hồ, Phú Vang\",0101248141,Hợp tác xã,C,"),
        "{csv}"
    );
    assert!(csv.contains("Hộ kinh doanh,G,"), "{csv}");
    assert!(csv.contains("\r\n"));
    // Importing the export back updates the same enterprises: nothing new, nothing lost.
    let import = "mutation($p: String!, $c: String!) { importEnterprisesCsv(provinceCode: $p, csv: $c) { created updated userErrors { field code message } } }";
    let v = app.gql_as(&t, import, json!({ "p": "46", "c": csv })).await;
    assert_eq!(
        v["data"]["importEnterprisesCsv"],
        json!({ "created": 0, "updated": 2, "userErrors": [] }),
        "{v}"
    );
    let q = "{ enterprises(provinceCode: \"46\") { name taxCode legalForm sizeClass ward phone sector consentShareSales } }";
    let after = app.gql_as(&t, q, json!({})).await;
    assert_eq!(
        after["data"]["enterprises"][0]["name"],
        "Hợp tác xã Nón lá Tây Hồ, Phú Vang"
    );
    assert_eq!(after["data"]["enterprises"][0]["legalForm"], "COOPERATIVE");
    assert_eq!(after["data"]["enterprises"][0]["sizeClass"], "MICRO");
    assert_eq!(after["data"]["enterprises"][0]["phone"], "+84905123456");
    assert_eq!(
        after["data"]["enterprises"][1]["name"],
        "Hộ kinh doanh \"Mè Xửng\" Thiên Hương"
    );
    assert_eq!(after["data"]["enterprises"][1]["consentShareSales"], true);
    // The same CSV into another province's register is refused (tax codes taken), whole.
    let admin = staff(&app, "admin@choso.vn", Role::Admin, None).await;
    let v = app
        .gql_as(&admin, import, json!({ "p": "01", "c": csv }))
        .await;
    assert_eq!(
        codes(&v["data"]["importEnterprisesCsv"]),
        vec!["TAX_CODE_TAKEN", "TAX_CODE_TAKEN"],
        "{v}"
    );
    // An Excel sheet (semicolons, no BOM): one bad row and nothing is imported.
    let before = app.count("enterprises").await;
    let sheet = "Tên doanh nghiệp;Mã số thuế;Loại hình;Ngành (VSIC);Quy mô;Phường/xã;Đồng ý chia sẻ doanh số\r\n\
                 Công ty Cà phê Đồng Ba;0100109106;Công ty;I;Nhỏ;Đông Ba;Có\r\n\
                 Cơ sở Bún bò;0300588568;Hộ kinh doanh;I;Siêu nhỏ;Vỹ Dạ;Không\r\n\
                 ;0100233488;;;;;\r\n";
    let v = app
        .gql_as(&t, import, json!({ "p": "46", "c": sheet }))
        .await;
    let p = &v["data"]["importEnterprisesCsv"];
    assert_eq!(codes(p), vec!["INVALID_TAX_CODE", "REQUIRED"], "{v}");
    assert_eq!(
        p["userErrors"][0]["field"],
        json!(["csv", "line 3", "Mã số thuế"])
    );
    assert_eq!(app.count("enterprises").await, before);
    let fixed = sheet
        .replace("0300588568", "046987654321")
        .replace(";0100233488;", "Công ty Muối Ớt;0100233488;");
    let v = app
        .gql_as(&t, import, json!({ "p": "46", "c": fixed }))
        .await;
    assert_eq!(
        v["data"]["importEnterprisesCsv"],
        json!({ "created": 3, "updated": 0, "userErrors": [] }),
        "{v}"
    );
    let v = app.gql_as(&t, "{ enterprises(provinceCode: \"46\", query: \"ca phe dong ba\") { name sector sizeClass consentShareSales } }", json!({})).await;
    assert_eq!(
        v["data"]["enterprises"],
        json!([{ "name": "Công ty Cà phê Đồng Ba", "sector": "I", "sizeClass": "SMALL", "consentShareSales": true }])
    );
}

/// Edits of different fields of one enterprise made at the same time all land: two series
/// of edits (its name, its phone) run side by side with a withdrawal of its consent; in the
/// end each field holds its series' last value and the consent stays withdrawn (an edit made
/// from a read the withdrawal overtook would have given it back).
async fn concurrent_edits_of_an_enterprise_all_land(app: TestApp) {
    use sqlx::Row;
    let t = hue_staff(&app).await;
    let e = enterprise(
        &app,
        &t,
        "Mè xửng Song Hỷ",
        "0314409058",
        json!({ "consentShareSales": true }),
    )
    .await;
    let edit = |input: Value| update_enterprise(&app, &t, &e, input);
    let names = async {
        for i in 1..=12 {
            edit(json!({ "name": format!("Mè xửng Song Hỷ {i}") })).await;
        }
    };
    let phones = async {
        for i in 1..=12 {
            edit(json!({ "phone": format!("09123456{i:02}") })).await;
        }
    };
    let consent = async {
        for _ in 0..3 {
            edit(json!({ "sizeClass": "SMALL" })).await;
        }
        edit(json!({ "consentShareSales": false })).await;
        for _ in 0..3 {
            edit(json!({ "sizeClass": "MICRO" })).await;
        }
    };
    tokio::join!(names, phones, consent);
    let row = sqlx::query(
        "SELECT name, phone, size_class, CAST(CASE WHEN consent_share_sales THEN 1 ELSE 0 END AS BIGINT) AS consent \
         FROM enterprises WHERE id = $1",
    )
    .bind(e.clone())
    .fetch_one(app.db.read())
    .await
    .expect("the enterprise");
    let got: (String, String, String, i64) = (
        row.try_get("name").expect("name"),
        row.try_get("phone").expect("phone"),
        row.try_get("size_class").expect("size"),
        row.try_get("consent").expect("consent"),
    );
    assert_eq!(got.0, "Mè xửng Song Hỷ 12");
    assert!(got.1.ends_with("912345612"), "{}", got.1);
    assert_eq!(got.2, "MICRO");
    assert_eq!(got.3, 0, "the withdrawn consent came back");
}
