//! The catalog: products, variants, stock movements, search, pagination, collections, and
//! isolation between shops.

use serde_json::{Value, json};

use crate::{
    helpers::{TestApp, codes, error_code},
    shops::{owner_with_shop, product, publish},
    storage_tests,
};

const CREATE: &str = "mutation($s: ID!, $i: ProductInput!) { createProduct(shopId: $s, input: $i) { product { id handle title description descriptionHtml published optionNames priceRange { min { amount } max { amount formatted } } images { url alt } variants { id sku title options price { amount currencyCode formatted } compareAtPrice { amount } stock available trackInventory } } userErrors { field code message } } }";

storage_tests!(
    create_product_with_variants,
    product_bad_input_changes_nothing,
    variants_and_stock_movements,
    search_folds_diacritics_and_ranks_titles_first,
    pagination_is_stable,
    collections_keep_their_order,
    second_owner_cannot_touch_the_first_shop,
);

async fn create_product_with_variants(app: TestApp) {
    let (token, shop) = owner_with_shop(&app, "owner@example.vn", "Áo Dài Hội An").await;
    let v = app
        .gql_as(
            &token,
            CREATE,
            json!({ "s": shop, "i": {
                "title": "Áo dài lụa tơ tằm", "description": "**Lụa** Hà Đông\n\n<script>alert(1)</script>",
                "published": true, "optionNames": ["Size", "Màu"],
                "images": [{ "url": "https://img.example.vn/ao-dai.jpg", "alt": "Áo dài đỏ" }],
                "variants": [
                    { "options": ["M", "Đỏ"], "sku": "AD-M-DO", "price": "1250000", "compareAtPrice": "1500000", "stock": 3 },
                    { "options": ["L", "Đỏ"], "sku": "AD-L-DO", "price": 1350000, "stock": 0 },
                    { "options": ["L", "Xanh"], "price": "1350000", "stock": 0, "trackInventory": false }
                ] } }),
        )
        .await;
    let p = &v["data"]["createProduct"];
    assert_eq!(p["userErrors"], json!([]), "{v}");
    let p = &p["product"];
    assert_eq!(p["handle"], "ao-dai-lua-to-tam");
    assert_eq!(p["optionNames"], json!(["Size", "Màu"]));
    assert_eq!(p["priceRange"]["min"]["amount"], "1250000");
    assert_eq!(p["priceRange"]["max"]["formatted"], "1.350.000\u{a0}₫");
    assert!(
        p["descriptionHtml"]
            .as_str()
            .unwrap()
            .contains("<strong>Lụa</strong>")
    );
    assert!(
        !p["descriptionHtml"].as_str().unwrap().contains("<script"),
        "{}",
        p["descriptionHtml"]
    );
    let vs = p["variants"].as_array().unwrap();
    assert_eq!(vs[0]["title"], "M / Đỏ");
    assert_eq!(
        vs[0]["price"],
        json!({ "amount": "1250000", "currencyCode": "VND", "formatted": "1.250.000\u{a0}₫" })
    );
    assert_eq!(vs[0]["compareAtPrice"]["amount"], "1500000");
    assert_eq!(vs[0]["available"], true);
    assert_eq!(vs[1]["available"], false);
    assert_eq!(
        vs[2]["available"], true,
        "untracked inventory is always available"
    );
    assert!(
        vs[0]["id"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{shop}:"))
    );
    // Same title again: a free handle is chosen.
    let v = app.gql_as(&token, CREATE, json!({ "s": shop, "i": { "title": "Áo dài lụa tơ tằm", "variants": [{ "price": "1", "stock": 0 }] } })).await;
    assert_eq!(
        v["data"]["createProduct"]["product"]["handle"],
        "ao-dai-lua-to-tam-2"
    );
    let v = app.gql_as(&token, CREATE, json!({ "s": shop, "i": { "title": "X", "handle": "ao-dai-lua-to-tam", "variants": [{ "price": "1", "stock": 0 }] } })).await;
    assert_eq!(codes(&v["data"]["createProduct"]), vec!["HANDLE_TAKEN"]);
    // The initial stock is a recorded movement.
    let q = "query($h: String!) { shop(slug: \"ao-dai-hoi-an\") { product(handle: $h) { variants { stockMovements { delta stockAfter reason } } } } }";
    let v = app
        .gql_as(&token, q, json!({ "h": "ao-dai-lua-to-tam" }))
        .await;
    assert_eq!(
        v["data"]["shop"]["product"]["variants"][0]["stockMovements"],
        json!([{ "delta": 3, "stockAfter": 3, "reason": "initial" }])
    );
}

async fn product_bad_input_changes_nothing(app: TestApp) {
    let (token, shop) = owner_with_shop(&app, "owner@example.vn", "Shop").await;
    product(&app, &token, &shop, "Existing", "1000", 1).await;
    app.gql_as(&token, "mutation($v: ID!, $i: UpdateVariantInput!) { updateVariant(variantId: $v, input: $i) { userErrors { code } } }", json!({ "v": "x:y", "i": {} })).await;
    let before = (
        app.count("products").await,
        app.count("variants").await,
        app.count("stock_movements").await,
    );
    let ok_variant = json!({ "price": "1000", "stock": 1 });
    let cases = vec![
        (json!({ "title": "", "variants": [ok_variant] }), "REQUIRED"),
        (
            json!({ "title": "x".repeat(201), "variants": [ok_variant] }),
            "TOO_LONG",
        ),
        (json!({ "title": "T", "variants": [] }), "VARIANTS_REQUIRED"),
        (
            json!({ "title": "T", "variants": [{ "price": "-1", "stock": 1 }] }),
            "INVALID_PRICE",
        ),
        (
            json!({ "title": "T", "variants": [{ "price": "1000.5", "stock": 1 }] }),
            "INVALID_PRICE",
        ),
        (
            json!({ "title": "T", "variants": [{ "price": "abc", "stock": 1 }] }),
            "INVALID_PRICE",
        ),
        (
            json!({ "title": "T", "variants": [{ "price": "", "stock": 1 }] }),
            "INVALID_PRICE",
        ),
        (
            json!({ "title": "T", "variants": [{ "price": "100", "compareAtPrice": "50", "stock": 1 }] }),
            "INVALID_PRICE",
        ),
        (
            json!({ "title": "T", "variants": [{ "price": "1000", "stock": -1 }] }),
            "INVALID_STOCK",
        ),
        (
            json!({ "title": "T", "variants": [{ "price": "1000", "stock": 1, "sku": "has space" }] }),
            "INVALID_SKU",
        ),
        (
            json!({ "title": "T", "variants": [{ "price": "1", "stock": 1, "sku": "A" }, { "price": "1", "stock": 1, "sku": "A" }] }),
            "SKU_TAKEN",
        ),
        (
            json!({ "title": "T", "optionNames": ["Size"], "variants": [{ "price": "1", "stock": 1 }] }),
            "INVALID_OPTION",
        ),
        (
            json!({ "title": "T", "optionNames": ["a", "b", "c", "d"], "variants": [{ "price": "1", "stock": 1, "options": ["1","2","3","4"] }] }),
            "TOO_MANY_OPTIONS",
        ),
        (
            json!({ "title": "T", "handle": "Bad Handle", "variants": [ok_variant] }),
            "INVALID_HANDLE",
        ),
        (
            json!({ "title": "T", "images": [{ "url": "javascript:alert(1)" }], "variants": [ok_variant] }),
            "INVALID_URL",
        ),
        // Half valid: the first variant is fine, the second is not; nothing is stored.
        (
            json!({ "title": "T", "variants": [ok_variant, { "price": "-5", "stock": 1 }] }),
            "INVALID_PRICE",
        ),
    ];
    for (input, code) in cases {
        let v = app
            .gql_as(&token, CREATE, json!({ "s": shop, "i": input }))
            .await;
        let p = &v["data"]["createProduct"];
        assert!(codes(p).contains(&code.to_string()), "{input} → {v}");
        assert_eq!(p["product"], json!(null));
    }
    let after = (
        app.count("products").await,
        app.count("variants").await,
        app.count("stock_movements").await,
    );
    assert_eq!(before, after);
    // A fractional price given as a JSON number is refused too, not rounded.
    let v = app.gql_as(&token, CREATE, json!({ "s": shop, "i": { "title": "T", "variants": [{ "price": 10.5, "stock": 1 }] } })).await;
    assert_eq!(
        codes(&v["data"]["createProduct"]),
        vec!["INVALID_PRICE"],
        "{v}"
    );
}

async fn variants_and_stock_movements(app: TestApp) {
    let (token, shop) = owner_with_shop(&app, "owner@example.vn", "Shop").await;
    let (pid, vid) = product(&app, &token, &shop, "Cà phê hạt", "180000", 10).await;
    let adjust = "mutation($v: ID!, $d: Int!, $r: String!, $n: String) { adjustStock(variantId: $v, delta: $d, reason: $r, note: $n) { variant { stock } userErrors { code message } } }";
    let v = app
        .gql_as(
            &token,
            adjust,
            json!({ "v": vid, "d": -4, "r": "damaged", "n": "rơi vỡ" }),
        )
        .await;
    assert_eq!(v["data"]["adjustStock"]["variant"]["stock"], 6, "{v}");
    let v = app
        .gql_as(
            &token,
            adjust,
            json!({ "v": vid, "d": -7, "r": "sold offline" }),
        )
        .await;
    assert_eq!(codes(&v["data"]["adjustStock"]), vec!["INSUFFICIENT_STOCK"]);
    assert!(
        v["data"]["adjustStock"]["userErrors"][0]["message"]
            .as_str()
            .unwrap()
            .contains('6')
    );
    for (d, r, code) in [
        (0, "x", "INVALID_STOCK"),
        (1, "", "INVALID_REASON"),
        (1, &"r".repeat(41)[..], "INVALID_REASON"),
    ] {
        let v = app
            .gql_as(&token, adjust, json!({ "v": vid, "d": d, "r": r }))
            .await;
        assert_eq!(codes(&v["data"]["adjustStock"]), vec![code]);
    }
    app.gql_as(&token, adjust, json!({ "v": vid, "d": 20, "r": "restock" }))
        .await;
    let q = "{ shop(slug: \"shop\") { products(first: 1) { edges { node { variants { stock stockMovements { delta stockAfter reason note actorId } } } } } } }";
    let v = app.gql_as(&token, q, json!({})).await;
    let node = &v["data"]["shop"]["products"]["edges"][0]["node"]["variants"][0];
    assert_eq!(node["stock"], 26);
    let moves: Vec<(i64, i64, String)> = node["stockMovements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["delta"].as_i64().unwrap(),
                m["stockAfter"].as_i64().unwrap(),
                m["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        moves,
        vec![
            (20, 26, "restock".into()),
            (-4, 6, "damaged".into()),
            (10, 10, "initial".into())
        ]
    );
    assert!(node["stockMovements"][0]["actorId"].is_string());
    // Variants: add, update, SKU uniqueness per shop.
    let add = "mutation($p: ID!, $i: VariantInput!) { addVariant(productId: $p, input: $i) { variant { title sku price { amount } stock } userErrors { code } } }";
    let v = app.gql_as(&token, add, json!({ "p": pid, "i": { "title": "1kg", "sku": "CF-1KG", "price": "650000", "stock": 2 } })).await;
    assert_eq!(v["data"]["addVariant"]["variant"]["title"], "1kg", "{v}");
    let v = app
        .gql_as(
            &token,
            add,
            json!({ "p": pid, "i": { "title": "2kg", "sku": "CF-1KG", "price": "1", "stock": 0 } }),
        )
        .await;
    assert_eq!(codes(&v["data"]["addVariant"]), vec!["SKU_TAKEN"]);
    let upd = "mutation($v: ID!, $i: UpdateVariantInput!) { updateVariant(variantId: $v, input: $i) { variant { title sku price { amount } compareAtPrice { amount } } userErrors { code } } }";
    let v = app.gql_as(&token, upd, json!({ "v": vid, "i": { "title": "250g", "price": "190000", "compareAtPrice": "200000", "sku": "CF-250" } })).await;
    assert_eq!(
        v["data"]["updateVariant"]["variant"],
        json!({ "title": "250g", "sku": "CF-250", "price": { "amount": "190000" }, "compareAtPrice": { "amount": "200000" } }),
        "{v}"
    );
    let v = app
        .gql_as(&token, upd, json!({ "v": vid, "i": { "sku": "CF-1KG" } }))
        .await;
    assert_eq!(codes(&v["data"]["updateVariant"]), vec!["SKU_TAKEN"]);
    let v = app
        .gql_as(&token, upd, json!({ "v": vid, "i": { "price": "-3" } }))
        .await;
    assert_eq!(codes(&v["data"]["updateVariant"]), vec!["INVALID_PRICE"]);
    // Archive a variant: customers no longer see it; the last live variant stays.
    let archive_v = "mutation($v: ID!) { archiveVariant(variantId: $v) { variant { archived available } userErrors { code } } }";
    let v = app.gql_as(&token, archive_v, json!({ "v": vid })).await;
    assert_eq!(
        v["data"]["archiveVariant"]["variant"],
        json!({ "archived": true, "available": false }),
        "{v}"
    );
    let others = app
        .gql_as(
            &token,
            "{ shop(slug: \"shop\") { products { edges { node { variants { id archived } } } } } }",
            json!({}),
        )
        .await;
    let live: Vec<String> = others["data"]["shop"]["products"]["edges"][0]["node"]["variants"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["archived"] == false)
        .map(|x| x["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(live.len(), 1);
    let v = app.gql_as(&token, archive_v, json!({ "v": live[0] })).await;
    assert_eq!(codes(&v["data"]["archiveVariant"]), vec!["LAST_VARIANT"]);
    let v = app
        .gql_as(
            &token,
            "mutation($v: ID!) { unarchiveVariant(variantId: $v) { variant { archived } } }",
            json!({ "v": vid }),
        )
        .await;
    assert_eq!(v["data"]["unarchiveVariant"]["variant"]["archived"], false);
    // Update and archive the product.
    let up = "mutation($p: ID!, $i: UpdateProductInput!) { updateProduct(productId: $p, input: $i) { product { title handle description } userErrors { code } } }";
    let v = app.gql_as(&token, up, json!({ "p": pid, "i": { "title": "Cà phê Arabica Cầu Đất", "handle": "arabica-cau-dat" } })).await;
    assert_eq!(
        v["data"]["updateProduct"]["product"]["handle"], "arabica-cau-dat",
        "{v}"
    );
    let arch = "mutation($p: ID!) { archiveProduct(productId: $p) { product { archived } } }";
    let v = app.gql_as(&token, arch, json!({ "p": pid })).await;
    assert_eq!(v["data"]["archiveProduct"]["product"]["archived"], true);
    let listed = app.gql_as(&token, "{ shop(slug: \"shop\") { products { edges { node { title } } } all: products(includeArchived: true) { edges { node { archived } } } } }", json!({})).await;
    assert_eq!(listed["data"]["shop"]["products"]["edges"], json!([]));
    assert_eq!(
        listed["data"]["shop"]["all"]["edges"],
        json!([{ "node": { "archived": true } }])
    );
}

fn titles(v: &Value) -> Vec<String> {
    v["data"]["shop"]["products"]["edges"]
        .as_array()
        .unwrap_or(&vec![])
        .iter()
        .map(|e| e["node"]["title"].as_str().unwrap().to_string())
        .collect()
}

async fn search_folds_diacritics_and_ranks_titles_first(app: TestApp) {
    let (token, shop) = owner_with_shop(&app, "owner@example.vn", "Shop").await;
    let create = |title: &'static str, desc: &'static str| {
        let (app, token, shop) = (&app, token.clone(), shop.clone());
        async move {
            let v = app.gql_as(&token, CREATE, json!({ "s": shop, "i": { "title": title, "description": desc, "published": true, "variants": [{ "price": "30000", "stock": 5 }] } })).await;
            assert_eq!(v["data"]["createProduct"]["userErrors"], json!([]));
        }
    };
    create("Bánh mì", "Ăn kèm cà phê sữa buổi sáng").await;
    create("Cà phê sữa", "Pha phin").await;
    create("Trà sen", "").await;
    create("Sữa đặc Ông Thọ", "Dùng pha cà phê").await;
    publish(&app, &token, &shop).await;
    let q = "query($q: String) { shop(slug: \"shop\") { products(first: 10, query: $q) { edges { node { title } } } } }";
    for query in ["ca phe", "CÀ PHÊ", "cà phê", "Ca  Phe!"] {
        let v = app.gql(q, json!({ "q": query })).await;
        let t = titles(&v);
        assert_eq!(
            t.first().map(String::as_str),
            Some("Cà phê sữa"),
            "{query}: {v}"
        );
        assert_eq!(t.len(), 3, "{query}: {t:?}");
        assert!(
            t[1..].contains(&"Bánh mì".to_string())
                && t[1..].contains(&"Sữa đặc Ông Thọ".to_string())
        );
    }
    assert_eq!(
        titles(&app.gql(q, json!({ "q": "ong tho" })).await),
        vec!["Sữa đặc Ông Thọ"]
    );
    assert_eq!(
        titles(&app.gql(q, json!({ "q": "dac" })).await),
        vec!["Sữa đặc Ông Thọ"],
        "đ folds to d"
    );
    assert_eq!(
        titles(&app.gql(q, json!({ "q": "pizza" })).await),
        Vec::<String>::new()
    );
    assert_eq!(
        titles(&app.gql(q, json!({ "q": "%" })).await).len(),
        4,
        "no wildcard injection: % is not a term"
    );
}

async fn pagination_is_stable(app: TestApp) {
    let (token, shop) = owner_with_shop(&app, "owner@example.vn", "Shop").await;
    for i in 0..7 {
        product(&app, &token, &shop, &format!("P{i}"), "1000", 1).await;
    }
    let q = "query($a: String, $f: Int) { shop(slug: \"shop\") { products(first: $f, after: $a) { edges { cursor node { title } } pageInfo { hasNextPage endCursor } } } }";
    let page1 = app.gql_as(&token, q, json!({ "f": 3 })).await;
    assert_eq!(titles(&page1), vec!["P6", "P5", "P4"]);
    assert_eq!(
        page1["data"]["shop"]["products"]["pageInfo"]["hasNextPage"],
        true
    );
    let end = page1["data"]["shop"]["products"]["pageInfo"]["endCursor"]
        .as_str()
        .unwrap()
        .to_string();
    // Products added between pages do not shift the next page.
    product(&app, &token, &shop, "New", "1000", 1).await;
    let page2 = app.gql_as(&token, q, json!({ "f": 3, "a": end })).await;
    assert_eq!(titles(&page2), vec!["P3", "P2", "P1"]);
    let end2 = page2["data"]["shop"]["products"]["pageInfo"]["endCursor"]
        .as_str()
        .unwrap()
        .to_string();
    let page3 = app.gql_as(&token, q, json!({ "f": 3, "a": end2 })).await;
    assert_eq!(titles(&page3), vec!["P0"]);
    assert_eq!(
        page3["data"]["shop"]["products"]["pageInfo"]["hasNextPage"],
        false
    );
    for f in [0, -1, 101] {
        let v = app.gql_as(&token, q, json!({ "f": f })).await;
        assert!(
            v["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("between 1 and 100"),
            "{v}"
        );
    }
    let v = app
        .gql_as(&token, q, json!({ "f": 3, "a": "garbage" }))
        .await;
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("cursor"),
        "{v}"
    );
}

async fn collections_keep_their_order(app: TestApp) {
    let (token, shop) = owner_with_shop(&app, "owner@example.vn", "Shop").await;
    let (a, _) = product(&app, &token, &shop, "A", "1000", 1).await;
    let (b, _) = product(&app, &token, &shop, "B", "1000", 1).await;
    let (c, _) = product(&app, &token, &shop, "C", "1000", 1).await;
    let create = "mutation($s: ID!, $i: CollectionInputGql!) { createCollection(shopId: $s, input: $i) { collection { id handle title featured products { title } } userErrors { code } } }";
    let v = app.gql_as(&token, create, json!({ "s": shop, "i": { "title": "Bán chạy", "featured": true, "productIds": [c, a, b] } })).await;
    let col = &v["data"]["createCollection"]["collection"];
    assert_eq!(col["handle"], "ban-chay", "{v}");
    assert_eq!(
        col["products"],
        json!([{ "title": "C" }, { "title": "A" }, { "title": "B" }])
    );
    let cid = col["id"].as_str().unwrap().to_string();
    let upd = "mutation($c: ID!, $i: CollectionInputGql!) { updateCollection(collectionId: $c, input: $i) { collection { products { title } } userErrors { code } } }";
    let v = app
        .gql_as(
            &token,
            upd,
            json!({ "c": cid, "i": { "productIds": [b, c] } }),
        )
        .await;
    assert_eq!(
        v["data"]["updateCollection"]["collection"]["products"],
        json!([{ "title": "B" }, { "title": "C" }])
    );
    let v = app
        .gql_as(
            &token,
            upd,
            json!({ "c": cid, "i": { "productIds": [b, b] } }),
        )
        .await;
    assert_eq!(
        codes(&v["data"]["updateCollection"]),
        vec!["DUPLICATE_PRODUCT"]
    );
    let v = app
        .gql_as(
            &token,
            create,
            json!({ "s": shop, "i": { "title": "Khác", "handle": "ban-chay" } }),
        )
        .await;
    assert_eq!(codes(&v["data"]["createCollection"]), vec!["HANDLE_TAKEN"]);
    let v = app.gql_as(&token, "{ shop(slug: \"shop\") { collection(handle: \"ban-chay\") { title } collections { handle } } }", json!({})).await;
    assert_eq!(v["data"]["shop"]["collection"]["title"], "Bán chạy");
    let v = app
        .gql_as(
            &token,
            "mutation($c: ID!) { deleteCollection(collectionId: $c) { ok } }",
            json!({ "c": cid }),
        )
        .await;
    assert_eq!(v["data"]["deleteCollection"]["ok"], true);
    assert_eq!(app.count("collection_products").await, 0);
}

async fn second_owner_cannot_touch_the_first_shop(app: TestApp) {
    let (owner, shop) = owner_with_shop(&app, "owner@example.vn", "Shop Một").await;
    let (pid, vid) = product(&app, &owner, &shop, "Hàng của tôi", "50000", 5).await;
    let draft = app
        .gql_as(&owner, CREATE, json!({ "s": shop, "i": { "title": "Nháp", "published": false, "variants": [{ "price": "1", "stock": 1 }] } }))
        .await;
    let draft_handle = draft["data"]["createProduct"]["product"]["handle"]
        .as_str()
        .unwrap()
        .to_string();
    let col = app
        .gql_as(&owner, "mutation($s: ID!) { createCollection(shopId: $s, input: { title: \"C\" }) { collection { id } } }", json!({ "s": shop }))
        .await;
    let cid = col["data"]["createCollection"]["collection"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (intruder, other_shop) = owner_with_shop(&app, "intruder@example.vn", "Shop Hai").await;
    let before = snapshot(&app).await;
    let attempts: Vec<(&str, Value)> = vec![
        (
            "mutation($s: ID!) { updateShop(shopId: $s, input: { name: \"Pwned\" }) { userErrors { code } } }",
            json!({ "s": shop }),
        ),
        (
            "mutation($s: ID!) { publishShop(shopId: $s) { userErrors { code } } }",
            json!({ "s": shop }),
        ),
        (
            "mutation($s: ID!) { unpublishShop(shopId: $s) { userErrors { code } } }",
            json!({ "s": shop }),
        ),
        (
            "mutation($s: ID!) { updateShopPayments(shopId: $s, input: { cod: false }) { userErrors { code } } }",
            json!({ "s": shop }),
        ),
        (
            "mutation($s: ID!) { addShopMember(shopId: $s, email: \"intruder@example.vn\", role: OWNER) { userErrors { code } } }",
            json!({ "s": shop }),
        ),
        (
            "mutation($s: ID!) { removeShopMember(shopId: $s, userId: \"x\") { userErrors { code } } }",
            json!({ "s": shop }),
        ),
        (
            "mutation($s: ID!) { createProduct(shopId: $s, input: { title: \"X\", variants: [{ price: \"1\", stock: 1 }] }) { userErrors { code } } }",
            json!({ "s": shop }),
        ),
        (
            "mutation($p: ID!) { updateProduct(productId: $p, input: { title: \"Pwned\" }) { userErrors { code } } }",
            json!({ "p": pid }),
        ),
        (
            "mutation($p: ID!) { archiveProduct(productId: $p) { userErrors { code } } }",
            json!({ "p": pid }),
        ),
        (
            "mutation($p: ID!) { unarchiveProduct(productId: $p) { userErrors { code } } }",
            json!({ "p": pid }),
        ),
        (
            "mutation($p: ID!) { addVariant(productId: $p, input: { price: \"1\", stock: 1 }) { userErrors { code } } }",
            json!({ "p": pid }),
        ),
        (
            "mutation($v: ID!) { updateVariant(variantId: $v, input: { price: \"1\" }) { userErrors { code } } }",
            json!({ "v": vid }),
        ),
        (
            "mutation($v: ID!) { adjustStock(variantId: $v, delta: -5, reason: \"x\") { userErrors { code } } }",
            json!({ "v": vid }),
        ),
        (
            "mutation($v: ID!) { archiveVariant(variantId: $v) { userErrors { code } } }",
            json!({ "v": vid }),
        ),
        (
            "mutation($s: ID!) { importProducts(shopId: $s, csv: \"sku,price\\nX,1\\n\") { userErrors { code } } }",
            json!({ "s": shop }),
        ),
        (
            "mutation($s: ID!) { createCollection(shopId: $s, input: { title: \"X\" }) { userErrors { code } } }",
            json!({ "s": shop }),
        ),
        (
            "mutation($c: ID!) { updateCollection(collectionId: $c, input: { title: \"X\" }) { userErrors { code } } }",
            json!({ "c": cid }),
        ),
        (
            "mutation($c: ID!) { deleteCollection(collectionId: $c) { userErrors { code } } }",
            json!({ "c": cid }),
        ),
    ];
    for (q, vars) in &attempts {
        let v = app.gql_as(&intruder, q, vars.clone()).await;
        let code = error_code(&v);
        assert!(
            matches!(code.as_deref(), Some("FORBIDDEN") | Some("NOT_FOUND")),
            "{q}: {v}"
        );
    }
    // Forged ids: the first shop's product under the intruder's shop id finds nothing there.
    let forged = format!("{other_shop}:{}", pid.split(':').nth(1).unwrap());
    let v = app.gql_as(&intruder, "mutation($p: ID!) { updateProduct(productId: $p, input: { title: \"Pwned\" }) { userErrors { code } } }", json!({ "p": forged })).await;
    assert_eq!(error_code(&v).as_deref(), Some("NOT_FOUND"), "{v}");
    // Adding the first shop's product to the intruder's collection is refused.
    let v = app
        .gql_as(&intruder, "mutation($s: ID!, $p: ID!) { createCollection(shopId: $s, input: { title: \"Steal\", productIds: [$p] }) { userErrors { code } } }", json!({ "s": other_shop, "p": pid }))
        .await;
    assert_eq!(
        codes(&v["data"]["createCollection"]),
        vec!["PRODUCT_NOT_FOUND"]
    );
    // Reads: the unpublished shop is invisible; members-only fields are refused.
    let v = app
        .gql_as(
            &intruder,
            "query { shop(slug: \"shop-mot\") { name } }",
            json!({}),
        )
        .await;
    assert_eq!(v["data"]["shop"], json!(null));
    publish(&app, &owner, &shop).await;
    let before_pub = snapshot(&app).await;
    let v = app
        .gql_as(&intruder, "query($h: String!) { shop(slug: \"shop-mot\") { viewerRole product(handle: $h) { title } products(includeArchived: true) { edges { node { title variants { stock } } } } } }", json!({ "h": draft_handle }))
        .await;
    assert_eq!(v["data"]["shop"]["viewerRole"], json!(null));
    assert_eq!(
        v["data"]["shop"]["product"],
        json!(null),
        "unpublished product hidden"
    );
    assert_eq!(
        v["data"]["shop"]["products"]["edges"],
        json!([{ "node": { "title": "Hàng của tôi", "variants": [{ "stock": null }] } }])
    );
    for q in [
        "{ shop(slug: \"shop-mot\") { members { email } } }",
        "{ shop(slug: \"shop-mot\") { payments { cod } } }",
        "{ shop(slug: \"shop-mot\") { onboarding { ready } } }",
        "{ shop(slug: \"shop-mot\") { products { edges { node { variants { stockMovements { delta } } } } } } }",
    ] {
        let v = app.gql_as(&intruder, q, json!({})).await;
        assert!(
            matches!(
                error_code(&v).as_deref(),
                Some("FORBIDDEN") | Some("UNAUTHENTICATED")
            ),
            "{q}: {v}"
        );
    }
    assert_eq!(before.len(), before_pub.len());
    let after = snapshot(&app).await;
    assert_eq!(before_pub, after, "nothing changed");
    let v = app.gql_as(&owner, "{ shop(slug: \"shop-mot\") { name products { edges { node { title variants { stock price { amount } } } } } } }", json!({})).await;
    assert_eq!(v["data"]["shop"]["name"], "Shop Một");
    assert_eq!(
        v["data"]["shop"]["products"]["edges"][1]["node"]["variants"][0]["stock"],
        5
    );
}

async fn snapshot(app: &TestApp) -> Vec<i64> {
    let mut n = Vec::new();
    for t in [
        "shops",
        "shop_members",
        "products",
        "variants",
        "stock_movements",
        "collections",
        "collection_products",
        "product_images",
    ] {
        n.push(app.count(t).await);
    }
    n
}

const IMPORT: &str = "mutation($s: ID!, $c: String!, $k: Boolean) { importProducts(shopId: $s, csv: $c, skipInvalidRows: $k) { createdProducts createdVariants updatedVariants skippedRows rowErrors { row column code message } userErrors { code message } } }";

storage_tests!(import_creates_updates_and_refuses_atomically);

async fn import_creates_updates_and_refuses_atomically(app: TestApp) {
    let (token, shop) = owner_with_shop(&app, "owner@example.vn", "Shop").await;
    // Excel in Vietnamese: BOM, semicolons, Vietnamese headers, a quoted field with a newline.
    let csv = "\u{feff}Mã SKU;Tên sản phẩm;Phân loại;Giá bán;Giá gốc;Tồn kho;Mô tả;Hiển thị\r\n\
               CF-250;Cà phê Cầu Đất;250g;180000;;10;\"Rang mộc\r\nxay sẵn\";có\r\n\
               CF-500;Cà phê Cầu Đất;500g;340000;400000;5;;có\r\n\
               TRA-01;Trà Shan tuyết;Hộp;250000;;0;;không\r\n";
    let v = app
        .gql_as(&token, IMPORT, json!({ "s": shop, "c": csv }))
        .await;
    let r = &v["data"]["importProducts"];
    assert_eq!(r["rowErrors"], json!([]), "{v}");
    assert_eq!(
        (r["createdProducts"].as_i64(), r["createdVariants"].as_i64()),
        (Some(2), Some(3))
    );
    let q = "{ shop(slug: \"shop\") { products(first: 10, includeArchived: true) { edges { node { title description published variants { sku title price { amount } compareAtPrice { amount } stock } } } } } }";
    let list = app.gql_as(&token, q, json!({})).await;
    let edges = list["data"]["shop"]["products"]["edges"]
        .as_array()
        .unwrap()
        .clone();
    let cf = edges
        .iter()
        .find(|e| e["node"]["title"] == "Cà phê Cầu Đất")
        .unwrap();
    assert_eq!(cf["node"]["description"], "Rang mộc\nxay sẵn");
    assert_eq!(cf["node"]["published"], true);
    assert_eq!(
        cf["node"]["variants"][1],
        json!({ "sku": "CF-500", "title": "500g", "price": { "amount": "340000" }, "compareAtPrice": { "amount": "400000" }, "stock": 5 })
    );
    // Update by SKU (comma file this time), with one bad row: nothing changes.
    let bad = "sku,price,stock\nCF-250,190000,12\nCF-500,-1,3\nNEW-1,1000,1\n";
    let before = snapshot(&app).await;
    let v = app
        .gql_as(&token, IMPORT, json!({ "s": shop, "c": bad }))
        .await;
    let r = &v["data"]["importProducts"];
    let errs: Vec<(i64, String)> = r["rowErrors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["row"].as_i64().unwrap(),
                e["code"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        errs,
        vec![
            (3, "INVALID_PRICE".to_string()),
            (4, "REQUIRED".to_string())
        ],
        "{v}"
    );
    assert_eq!(r["updatedVariants"], 0);
    assert_eq!(snapshot(&app).await, before, "nothing half-imported");
    // The same file, skipping bad rows: the good row is applied, stock change recorded.
    let v = app
        .gql_as(&token, IMPORT, json!({ "s": shop, "c": bad, "k": true }))
        .await;
    let r = &v["data"]["importProducts"];
    assert_eq!(
        (r["updatedVariants"].as_i64(), r["skippedRows"].as_i64()),
        (Some(1), Some(2)),
        "{v}"
    );
    let list = app.gql_as(&token, "{ shop(slug: \"shop\") { product(handle: \"ca-phe-cau-dat\") { variants { sku price { amount } stock stockMovements { delta reason } } } } }", json!({})).await;
    let v0 = &list["data"]["shop"]["product"]["variants"][0];
    assert_eq!(v0["price"]["amount"], "190000");
    assert_eq!(v0["stock"], 12);
    assert_eq!(
        v0["stockMovements"][0],
        json!({ "delta": 2, "reason": "import" })
    );
    // Whole-file problems.
    for (csv, code) in [
        ("", "INVALID_CSV"),
        ("title,price\nA,1\n", "MISSING_COLUMN"),
        ("sku,title,price\n\"unterminated,A,1\n", "INVALID_CSV"),
    ] {
        let v = app
            .gql_as(&token, IMPORT, json!({ "s": shop, "c": csv }))
            .await;
        let r = &v["data"]["importProducts"];
        let all: Vec<String> = codes(r)
            .into_iter()
            .chain(
                r["rowErrors"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["code"].as_str().unwrap().to_string()),
            )
            .collect();
        assert!(all.contains(&code.to_string()), "{csv:?}: {v}");
    }
    // Duplicate SKUs within one file are caught.
    let v = app
        .gql_as(
            &token,
            IMPORT,
            json!({ "s": shop, "c": "sku,title,price\nX-1,A,1000\nX-1,B,2000\n" }),
        )
        .await;
    assert_eq!(
        v["data"]["importProducts"]["rowErrors"][0]["code"], "DUPLICATE_SKU",
        "{v}"
    );
}

storage_tests!(image_uploads_are_checked_stored_and_cached);

async fn image_uploads_are_checked_stored_and_cached(app: TestApp) {
    let (token, shop) = owner_with_shop(&app, "owner@example.vn", "Shop").await;
    let (intruder, _) = owner_with_shop(&app, "intruder@example.vn", "Other").await;
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\rIDATx\x9cc\xf8\x0f\0\0\x01\x01\0\x05\x18\xd8N\0\0\0\0IEND\xaeB`\x82".to_vec();
    let url = app.url(&format!("/api/shops/{shop}/uploads"));
    let r = app
        .client
        .post(&url)
        .bearer_auth(&token)
        .body(png.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let body: Value = r.json().await.unwrap();
    let path = body["url"].as_str().unwrap().to_string();
    assert!(
        path.starts_with(&format!("/uploads/{shop}/")) && path.ends_with(".png"),
        "{body}"
    );
    let got = app.client.get(app.url(&path)).send().await.unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.headers()["content-type"], "image/png");
    assert!(
        got.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    assert_eq!(got.bytes().await.unwrap().to_vec(), png);
    // The URL can be used as a product image.
    let v = app.gql_as(&token, CREATE, json!({ "s": shop, "i": { "title": "Ảnh", "images": [{ "url": path }], "variants": [{ "price": "1", "stock": 1 }] } })).await;
    assert_eq!(
        v["data"]["createProduct"]["product"]["images"][0]["url"],
        path
    );
    // Refusals.
    let svg = b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>".to_vec();
    let cases: Vec<(Option<&str>, Vec<u8>, u16)> = vec![
        (Some(&token), svg, 415),
        (Some(&token), vec![], 422),
        (None, png.clone(), 401),
        (Some(&intruder), png.clone(), 403),
    ];
    for (t, body, status) in cases {
        let mut req = app.client.post(&url).body(body);
        if let Some(t) = t {
            req = req.bearer_auth(t);
        }
        assert_eq!(req.send().await.unwrap().status().as_u16(), status);
    }
    // An oversize body is refused from its Content-Length before it is read, so the client
    // may see the connection close while still sending: a fresh client, and either answer.
    let mut big = png.clone();
    big.resize(6 * 1024 * 1024, 0);
    match reqwest::Client::new()
        .post(&url)
        .bearer_auth(&token)
        .body(big)
        .send()
        .await
    {
        Ok(r) => assert_eq!(r.status().as_u16(), 413),
        Err(e) => assert!(e.is_request() || e.is_body(), "{e}"),
    }
    assert_eq!(app.count("uploads").await, 1);
    for bad in [
        "/uploads/x/..%2F..%2Fchoso.db",
        "/uploads/../choso.db",
        &format!("/uploads/{shop}/nope.png"),
    ] {
        assert_eq!(
            app.client.get(app.url(bad)).send().await.unwrap().status(),
            404,
            "{bad}"
        );
    }
}
