//! Shops: creation and slugs, settings, payments, members and roles, onboarding, publishing.

use serde_json::{Value, json};

use crate::{
    helpers::{TestApp, codes, error_code},
    storage_tests,
};

pub const CREATE_SHOP: &str = "mutation($i: CreateShopInput!) { createShop(input: $i) { shop { id slug name published theme currencyCode provinceCode url viewerRole } userErrors { field message code } } }";

/// Registers an owner and creates a shop; returns (token, shop id).
pub async fn owner_with_shop(app: &TestApp, email: &str, name: &str) -> (String, String) {
    let (token, _) = app.register(email).await;
    let v = app
        .gql_as(
            &token,
            CREATE_SHOP,
            json!({ "i": { "name": name, "provinceCode": "46" } }),
        )
        .await;
    assert_eq!(v["data"]["createShop"]["userErrors"], json!([]), "{v}");
    (
        token,
        v["data"]["createShop"]["shop"]["id"]
            .as_str()
            .unwrap()
            .to_string(),
    )
}

/// Creates a published product with one variant; returns (product id, variant id).
pub async fn product(
    app: &TestApp,
    token: &str,
    shop: &str,
    title: &str,
    price: &str,
    stock: i64,
) -> (String, String) {
    let v = app
        .gql_as(
            token,
            "mutation($s: ID!, $i: ProductInput!) { createProduct(shopId: $s, input: $i) { product { id variants { id } } userErrors { field code message } } }",
            json!({ "s": shop, "i": { "title": title, "published": true, "variants": [{ "price": price, "stock": stock }] } }),
        )
        .await;
    let p = &v["data"]["createProduct"];
    assert_eq!(p["userErrors"], json!([]), "{v}");
    (
        p["product"]["id"].as_str().unwrap().to_string(),
        p["product"]["variants"][0]["id"]
            .as_str()
            .unwrap()
            .to_string(),
    )
}

/// Makes a shop publishable and publishes it.
pub async fn publish(app: &TestApp, token: &str, shop: &str) {
    let v = app
        .gql_as(
            token,
            "mutation($s: ID!) { updateShop(shopId: $s, input: { theme: \"warm\", phone: \"0905123456\" }) { userErrors { code } } }",
            json!({ "s": shop }),
        )
        .await;
    assert_eq!(v["data"]["updateShop"]["userErrors"], json!([]), "{v}");
    let v = app
        .gql_as(token, "mutation($s: ID!) { publishShop(shopId: $s) { shop { published } userErrors { code message } } }", json!({ "s": shop }))
        .await;
    assert_eq!(v["data"]["publishShop"]["shop"]["published"], true, "{v}");
}

storage_tests!(
    create_shop_makes_slug_and_owner,
    slug_rules,
    shop_bad_input_changes_nothing,
    settings_and_payments,
    members_and_roles,
    onboarding_and_publish,
    unpublished_shops_are_hidden,
);

async fn create_shop_makes_slug_and_owner(app: TestApp) {
    let (token, _) = app.register("owner@example.vn").await;
    let v = app
        .gql_as(
            &token,
            CREATE_SHOP,
            json!({ "i": { "name": "  Trà Cung Đình Huế ", "provinceCode": "46" } }),
        )
        .await;
    let s = &v["data"]["createShop"]["shop"];
    assert_eq!(s["slug"], "tra-cung-dinh-hue", "{v}");
    assert_eq!(s["name"], "Trà Cung Đình Huế");
    assert_eq!(s["published"], false);
    assert_eq!(s["currencyCode"], "VND");
    assert_eq!(s["viewerRole"], "OWNER");
    assert_eq!(s["url"], app.url("/s/tra-cung-dinh-hue/"));
    let me = app
        .gql_as(&token, "{ me { shops { slug viewerRole } } }", json!({}))
        .await;
    assert_eq!(
        me["data"]["me"]["shops"],
        json!([{ "slug": "tra-cung-dinh-hue", "viewerRole": "OWNER" }])
    );
    // Đ, đ and the look-alike Ð all fold to d.
    let v = app
        .gql_as(
            &token,
            CREATE_SHOP,
            json!({ "i": { "name": "ÐẶC SẢN đồng tháp" } }),
        )
        .await;
    assert_eq!(
        v["data"]["createShop"]["shop"]["slug"], "dac-san-dong-thap",
        "{v}"
    );
    // Anonymous callers cannot create shops.
    let v = app.gql(CREATE_SHOP, json!({ "i": { "name": "X" } })).await;
    assert_eq!(error_code(&v).as_deref(), Some("UNAUTHENTICATED"));
}

async fn slug_rules(app: TestApp) {
    let (token, _) = app.register("owner@example.vn").await;
    let first = app
        .gql_as(
            &token,
            CREATE_SHOP,
            json!({ "i": { "name": "Cà phê Hội An" } }),
        )
        .await;
    assert_eq!(first["data"]["createShop"]["shop"]["slug"], "ca-phe-hoi-an");
    let (other, _) = app.register("other@example.vn").await;
    let v = app
        .gql_as(
            &other,
            CREATE_SHOP,
            json!({ "i": { "name": "CÀ PHÊ HỘI AN" } }),
        )
        .await;
    let p = &v["data"]["createShop"];
    assert_eq!(codes(p), vec!["SLUG_TAKEN"]);
    assert!(
        p["userErrors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("ca-phe-hoi-an-2"),
        "{v}"
    );
    let v = app
        .gql_as(
            &other,
            CREATE_SHOP,
            json!({ "i": { "name": "CÀ PHÊ HỘI AN", "slug": "ca-phe-hoi-an-2" } }),
        )
        .await;
    assert_eq!(
        v["data"]["createShop"]["shop"]["slug"], "ca-phe-hoi-an-2",
        "{v}"
    );
    for reserved in ["admin", "api", "graphql", "www", "console", "static", "s"] {
        let v = app
            .gql_as(
                &other,
                CREATE_SHOP,
                json!({ "i": { "name": "Shop", "slug": reserved } }),
            )
            .await;
        assert_eq!(
            codes(&v["data"]["createShop"]),
            vec!["SLUG_RESERVED"],
            "{reserved}"
        );
    }
    for bad in [
        "Has Space",
        "-lead",
        "trail-",
        "dou--ble",
        "ÿ",
        &"a".repeat(61),
    ] {
        let v = app
            .gql_as(
                &other,
                CREATE_SHOP,
                json!({ "i": { "name": "Shop", "slug": bad } }),
            )
            .await;
        assert_eq!(
            codes(&v["data"]["createShop"]),
            vec!["INVALID_SLUG"],
            "{bad}: {v}"
        );
    }
    assert_eq!(app.count("shops").await, 2);
}

async fn shop_bad_input_changes_nothing(app: TestApp) {
    let (token, _) = app.register("owner@example.vn").await;
    let cases = [
        (json!({ "name": "" }), "REQUIRED"),
        (json!({ "name": "   " }), "REQUIRED"),
        (json!({ "name": "x".repeat(101) }), "TOO_LONG"),
        (json!({ "name": "!!!" }), "INVALID_SLUG"),
        (
            json!({ "name": "Shop", "provinceCode": "49" }),
            "INVALID_PROVINCE",
        ),
        (
            json!({ "name": "Shop", "provinceCode": "99" }),
            "INVALID_PROVINCE",
        ),
        (json!({ "name": "Shop", "theme": "neon" }), "INVALID_THEME"),
        (json!({ "name": "Shop", "phone": "12345" }), "INVALID_PHONE"),
        (
            json!({ "name": "Shop", "phone": "02438254780" }),
            "INVALID_PHONE",
        ),
        (json!({ "name": "Shop", "email": "nope" }), "INVALID_EMAIL"),
    ];
    for (input, code) in cases {
        let v = app.gql_as(&token, CREATE_SHOP, json!({ "i": input })).await;
        assert!(
            codes(&v["data"]["createShop"]).contains(&code.to_string()),
            "{input} → {v}"
        );
    }
    // A pre-2025 province code is refused with the unit it became part of.
    let v = app
        .gql_as(
            &token,
            CREATE_SHOP,
            json!({ "i": { "name": "Shop", "provinceCode": "49" } }),
        )
        .await;
    assert!(
        v["data"]["createShop"]["userErrors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Đà Nẵng"),
        "{v}"
    );
    assert_eq!(app.count("shops").await, 0);
    assert_eq!(app.count("shop_members").await, 0);
}

const UPDATE_SHOP: &str = "mutation($s: ID!, $i: UpdateShopInput!) { updateShop(shopId: $s, input: $i) { shop { name description phone email address { line1 ward provinceCode provinceName } theme themeSettings { primaryColor heroText } language shippingFee { amount formatted } freeShippingOver { amount } } userErrors { field code } } }";
const PAYMENTS: &str = "mutation($s: ID!, $i: ShopPaymentsInput!) { updateShopPayments(shopId: $s, input: $i) { shop { paymentMethods payments { cod bankBin bankName bankAccountNumber bankAccountName stripeAccountId vietqrTestPayload } } userErrors { field code message } } }";

async fn settings_and_payments(app: TestApp) {
    let (token, shop) = owner_with_shop(&app, "owner@example.vn", "Bánh Bèo Bà Đỏ").await;
    let v = app
        .gql_as(
            &token,
            UPDATE_SHOP,
            json!({ "s": shop, "i": { "description": "Bánh bèo, bánh nậm, bánh lọc", "phone": "090 512 3456", "email": "BA.DO@example.vn",
                    "addressLine": "12 Chi Lăng", "ward": "Phú Xuân", "provinceCode": "46", "theme": "grid",
                    "primaryColor": "#B5452F", "heroText": "Ngon như ở nhà", "language": "en", "shippingFee": "25000", "freeShippingOver": "300000" } }),
        )
        .await;
    let s = &v["data"]["updateShop"]["shop"];
    assert_eq!(v["data"]["updateShop"]["userErrors"], json!([]), "{v}");
    assert_eq!(s["phone"], "+84905123456");
    assert_eq!(s["email"], "ba.do@example.vn");
    assert_eq!(s["address"]["provinceName"], "Huế");
    assert_eq!(s["themeSettings"]["primaryColor"], "#b5452f");
    assert_eq!(
        s["shippingFee"],
        json!({ "amount": "25000", "formatted": "25.000\u{a0}₫" })
    );
    assert_eq!(s["freeShippingOver"]["amount"], "300000");
    // Bad settings are refused and nothing changes.
    for (input, code) in [
        (json!({ "primaryColor": "red" }), "INVALID_COLOR"),
        (json!({ "language": "fr" }), "INVALID_LANGUAGE"),
        (json!({ "shippingFee": "-1" }), "INVALID_PRICE"),
        (json!({ "shippingFee": "1.5" }), "INVALID_PRICE"),
        (json!({ "logoUrl": "javascript:alert(1)" }), "INVALID_URL"),
        (json!({ "theme": "nope" }), "INVALID_THEME"),
        (json!({ "name": "" }), "REQUIRED"),
    ] {
        let v = app
            .gql_as(&token, UPDATE_SHOP, json!({ "s": shop, "i": input }))
            .await;
        assert!(
            codes(&v["data"]["updateShop"]).contains(&code.to_string()),
            "{input}: {v}"
        );
    }
    let again = app
        .gql_as(&token, UPDATE_SHOP, json!({ "s": shop, "i": {} }))
        .await;
    assert_eq!(
        again["data"]["updateShop"]["shop"], *s,
        "refused updates changed nothing"
    );

    // Payments: bank account for VietQR.
    let v = app
        .gql_as(&token, PAYMENTS, json!({ "s": shop, "i": { "bankBin": "970436", "bankAccountNumber": "0011 0012 34567", "bankAccountName": "Nguyễn Thị Đỏ" } }))
        .await;
    let p = &v["data"]["updateShopPayments"]["shop"];
    assert_eq!(p["payments"]["bankName"], "Vietcombank", "{v}");
    assert_eq!(p["payments"]["bankAccountNumber"], "0011001234567");
    assert_eq!(p["payments"]["bankAccountName"], "NGUYEN THI DO");
    assert_eq!(
        p["payments"]["vietqrTestPayload"],
        "00020101021138570010A00000072701270006970436011300110012345670208QRIBFTTA53037045802VN6304E8DB"
    );
    assert_eq!(p["paymentMethods"], json!(["COD", "BANK_TRANSFER"]));
    for (input, code) in [
        (json!({ "bankBin": "123456" }), "INVALID_BANK"),
        (
            json!({ "bankAccountNumber": "12ab" }),
            "INVALID_ACCOUNT_NUMBER",
        ),
        (
            json!({ "bankAccountName": "Nguyen 123" }),
            "INVALID_ACCOUNT_NAME",
        ),
        (
            json!({ "stripeAccountId": "acc_123" }),
            "INVALID_STRIPE_ACCOUNT",
        ),
        (json!({ "bankAccountName": "" }), "BANK_INCOMPLETE"),
    ] {
        let v = app
            .gql_as(&token, PAYMENTS, json!({ "s": shop, "i": input }))
            .await;
        assert!(
            codes(&v["data"]["updateShopPayments"]).contains(&code.to_string()),
            "{input}: {v}"
        );
    }
    let v = app
        .gql_as(
            &token,
            PAYMENTS,
            json!({ "s": shop, "i": { "cod": false, "stripeAccountId": "acct_1AbC2dEf" } }),
        )
        .await;
    assert_eq!(
        v["data"]["updateShopPayments"]["shop"]["paymentMethods"],
        json!(["BANK_TRANSFER", "CARD"]),
        "{v}"
    );
}

async fn members_and_roles(app: TestApp) {
    let (owner, shop) = owner_with_shop(&app, "owner@example.vn", "Gốm Bàu Trúc").await;
    let (staff, _) = app.register("staff@example.vn").await;
    let add = "mutation($s: ID!, $e: String!, $r: ShopRole!) { addShopMember(shopId: $s, email: $e, role: $r) { member { email role } userErrors { code } } }";
    let v = app
        .gql_as(
            &owner,
            add,
            json!({ "s": shop, "e": "nobody@example.vn", "r": "STAFF" }),
        )
        .await;
    assert_eq!(codes(&v["data"]["addShopMember"]), vec!["USER_NOT_FOUND"]);
    let v = app
        .gql_as(
            &owner,
            add,
            json!({ "s": shop, "e": " STAFF@example.vn", "r": "STAFF" }),
        )
        .await;
    assert_eq!(
        v["data"]["addShopMember"]["member"],
        json!({ "email": "staff@example.vn", "role": "STAFF" }),
        "{v}"
    );
    let v = app
        .gql_as(
            &owner,
            add,
            json!({ "s": shop, "e": "staff@example.vn", "r": "STAFF" }),
        )
        .await;
    assert_eq!(codes(&v["data"]["addShopMember"]), vec!["ALREADY_MEMBER"]);
    // Staff manage products but not members or payments or settings.
    let (_, _) = crate::shops::product(&app, &staff, &shop, "Bình gốm", "350000", 3).await;
    let v = app
        .gql_as(
            &staff,
            add,
            json!({ "s": shop, "e": "owner@example.vn", "r": "OWNER" }),
        )
        .await;
    assert_eq!(error_code(&v).as_deref(), Some("FORBIDDEN"), "{v}");
    let v = app
        .gql_as(
            &staff,
            PAYMENTS,
            json!({ "s": shop, "i": { "cod": false } }),
        )
        .await;
    assert_eq!(error_code(&v).as_deref(), Some("FORBIDDEN"));
    let v = app.gql_as(&staff, "query($s: String!) { shop(slug: $s) { viewerRole members { email role } payments { cod } } }", json!({ "s": "gom-bau-truc" })).await;
    assert_eq!(v["data"]["shop"]["viewerRole"], "STAFF", "{v}");
    assert_eq!(
        error_code(&v).as_deref(),
        Some("FORBIDDEN"),
        "payments are owner-only: {v}"
    );
    // The last owner cannot be removed; staff can be.
    let members = app
        .gql_as(
            &owner,
            "query { shop(slug: \"gom-bau-truc\") { members { userId email role } } }",
            json!({}),
        )
        .await;
    let list = members["data"]["shop"]["members"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(list.len(), 2);
    let id_of = |email: &str| {
        list.iter().find(|m| m["email"] == email).unwrap()["userId"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let remove = "mutation($s: ID!, $u: String!) { removeShopMember(shopId: $s, userId: $u) { ok userErrors { code } } }";
    let v = app
        .gql_as(
            &owner,
            remove,
            json!({ "s": shop, "u": id_of("owner@example.vn") }),
        )
        .await;
    assert_eq!(codes(&v["data"]["removeShopMember"]), vec!["LAST_OWNER"]);
    let v = app
        .gql_as(
            &owner,
            remove,
            json!({ "s": shop, "u": id_of("staff@example.vn") }),
        )
        .await;
    assert_eq!(v["data"]["removeShopMember"]["ok"], true);
    let v = app.gql_as(&staff, "mutation($s: ID!, $i: ProductInput!) { createProduct(shopId: $s, input: $i) { userErrors { code } } }",
        json!({ "s": shop, "i": { "title": "X", "variants": [{ "price": "1", "stock": 1 }] } })).await;
    assert_eq!(
        error_code(&v).as_deref(),
        Some("FORBIDDEN"),
        "removed staff lose access"
    );
}

const ONBOARDING: &str =
    "query($s: String!) { shop(slug: $s) { onboarding { steps { key title done } ready } } }";

fn steps(v: &Value) -> Vec<(String, bool)> {
    v["data"]["shop"]["onboarding"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["key"].as_str().unwrap().to_string(),
                s["done"].as_bool().unwrap(),
            )
        })
        .collect()
}

async fn onboarding_and_publish(app: TestApp) {
    let (token, _) = app.register("owner@example.vn").await;
    let v = app
        .gql_as(
            &token,
            CREATE_SHOP,
            json!({ "i": { "name": "Mắm Nêm Ông Ba" } }),
        )
        .await;
    let shop = v["data"]["createShop"]["shop"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let v = app
        .gql_as(&token, ONBOARDING, json!({ "s": "mam-nem-ong-ba" }))
        .await;
    assert_eq!(
        steps(&v),
        vec![
            ("contact".into(), false),
            ("product".into(), false),
            ("payment".into(), true),
            ("theme".into(), false)
        ]
    );
    let publish = "mutation($s: ID!) { publishShop(shopId: $s) { shop { published } userErrors { code message } } }";
    let v = app.gql_as(&token, publish, json!({ "s": shop })).await;
    assert_eq!(codes(&v["data"]["publishShop"]), vec!["NOT_READY"]);
    let msg = v["data"]["publishShop"]["userErrors"][0]["message"]
        .as_str()
        .unwrap();
    assert!(
        msg.contains("contact")
            && msg.contains("product")
            && msg.contains("theme")
            && !msg.contains("payment"),
        "{msg}"
    );
    // An out-of-stock or unpublished product does not count.
    crate::shops::product(&app, &token, &shop, "Hết hàng", "10000", 0).await;
    app.gql_as(&token, "mutation($s: ID!, $i: ProductInput!) { createProduct(shopId: $s, input: $i) { userErrors { code } } }",
        json!({ "s": shop, "i": { "title": "Nháp", "published": false, "variants": [{ "price": "1000", "stock": 5 }] } })).await;
    let v = app
        .gql_as(&token, ONBOARDING, json!({ "s": "mam-nem-ong-ba" }))
        .await;
    assert_eq!(steps(&v)[1], ("product".into(), false));
    crate::shops::product(&app, &token, &shop, "Mắm nêm 500ml", "45000", 12).await;
    // With no payment method the shop is not ready either.
    app.gql_as(
        &token,
        PAYMENTS,
        json!({ "s": shop, "i": { "cod": false } }),
    )
    .await;
    crate::shops::publish_attempt_fails(&app, &token, &shop).await;
    app.gql_as(&token, PAYMENTS, json!({ "s": shop, "i": { "cod": true } }))
        .await;
    crate::shops::publish(&app, &token, &shop).await;
    let v = app
        .gql_as(&token, ONBOARDING, json!({ "s": "mam-nem-ong-ba" }))
        .await;
    assert_eq!(v["data"]["shop"]["onboarding"]["ready"], true);
    // A published shop keeps a payment method.
    let v = app
        .gql_as(
            &token,
            PAYMENTS,
            json!({ "s": shop, "i": { "cod": false } }),
        )
        .await;
    assert_eq!(
        codes(&v["data"]["updateShopPayments"]),
        vec!["NO_PAYMENT_METHOD"]
    );
    let v = app
        .gql_as(
            &token,
            "mutation($s: ID!) { unpublishShop(shopId: $s) { shop { published } } }",
            json!({ "s": shop }),
        )
        .await;
    assert_eq!(v["data"]["unpublishShop"]["shop"]["published"], false);
}

pub async fn publish_attempt_fails(app: &TestApp, token: &str, shop: &str) {
    app.gql_as(token, "mutation($s: ID!) { updateShop(shopId: $s, input: { theme: \"minimal\", email: \"a@b.vn\" }) { userErrors { code } } }", json!({ "s": shop })).await;
    let v = app
        .gql_as(
            token,
            "mutation($s: ID!) { publishShop(shopId: $s) { userErrors { code message } } }",
            json!({ "s": shop }),
        )
        .await;
    assert_eq!(codes(&v["data"]["publishShop"]), vec!["NOT_READY"], "{v}");
    assert!(
        v["data"]["publishShop"]["userErrors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("payment")
    );
}

async fn unpublished_shops_are_hidden(app: TestApp) {
    let (token, shop) = owner_with_shop(&app, "owner@example.vn", "Nón Lá Huế").await;
    crate::shops::product(&app, &token, &shop, "Nón bài thơ", "120000", 5).await;
    let q = "{ shop(slug: \"non-la-hue\") { name products(first: 5) { edges { node { title variants { stock } } } } } }";
    assert_eq!(app.gql(q, json!({})).await["data"]["shop"], json!(null));
    let (other, _) = app.register("other@example.vn").await;
    assert_eq!(
        app.gql_as(&other, q, json!({})).await["data"]["shop"],
        json!(null)
    );
    let mine = app.gql_as(&token, q, json!({})).await;
    assert_eq!(
        mine["data"]["shop"]["products"]["edges"][0]["node"]["variants"][0]["stock"], 5,
        "members preview"
    );
    publish(&app, &token, &shop).await;
    let public = app.gql(q, json!({})).await;
    assert_eq!(public["data"]["shop"]["name"], "Nón Lá Huế");
    assert_eq!(
        public["data"]["shop"]["products"]["edges"][0]["node"]["variants"][0]["stock"],
        json!(null),
        "no stock counts for the public"
    );
}
