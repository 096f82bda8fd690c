//! Storefront websites over HTTP: pages, escaping, headers, cart, checkout, confirmation,
//! tracking, routing by host. (The browser walk-through is `tests/browser.rs`.)

use serde_json::json;

use crate::{
    helpers::{TestApp, spawn_app_with},
    orders::PLACE,
    shops::{owner_with_shop, product, publish},
    storage_tests,
};

/// A tiny browser: keeps cookies, follows nothing by itself.
pub struct Visitor {
    client: reqwest::Client,
    cookies: Vec<(String, String)>,
    pub base: String,
    host: Option<String>,
}

pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
    pub headers: reqwest::header::HeaderMap,
}

impl Page {
    /// The value of the first hidden input named `name`.
    pub fn input(&self, name: &str) -> String {
        let at = self
            .body
            .find(&format!("name=\"{name}\""))
            .unwrap_or_else(|| panic!("no input {name}"));
        let tag_start = self.body[..at].rfind('<').unwrap();
        let tag_end = at + self.body[at..].find('>').unwrap();
        let tag = &self.body[tag_start..tag_end];
        let v = tag.find("value=\"").map(|i| &tag[i + 7..]).unwrap_or("");
        v[..v.find('"').unwrap_or(0)].to_string()
    }
}

impl Visitor {
    pub fn new(app: &TestApp) -> Visitor {
        Visitor {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: vec![],
            base: app.base.clone(),
            host: None,
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn finish(&mut self, r: reqwest::Response) -> Page {
        for sc in r.headers().get_all("set-cookie") {
            let s = sc.to_str().unwrap();
            let (kv, _) = s.split_once(';').unwrap_or((s, ""));
            let (k, v) = kv.split_once('=').unwrap();
            self.cookies.retain(|(n, _)| n != k);
            self.cookies.push((k.to_string(), v.to_string()));
        }
        Page {
            status: r.status().as_u16(),
            location: r
                .headers()
                .get("location")
                .map(|l| l.to_str().unwrap().to_string()),
            headers: r.headers().clone(),
            body: r.text().await.unwrap(),
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let mut req = self
            .client
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header());
        if let Some(h) = &self.host {
            req = req.header("host", h);
        }
        let r = req.send().await.unwrap();
        self.finish(r).await
    }

    /// Adds `quantity` of a variant to the cart of shop `tiem`, with the page's token.
    pub async fn add_to_cart(&mut self, csrf: &str, variant: &str, quantity: &str) -> Page {
        self.post(
            "/s/tiem/cart/add",
            &[
                ("csrf", csrf),
                ("variant_id", variant),
                ("quantity", quantity),
            ],
        )
        .await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let mut req = self
            .client
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .form(form);
        if let Some(h) = &self.host {
            req = req.header("host", h);
        }
        let r = req.send().await.unwrap();
        self.finish(r).await
    }
}

/// A published shop `tiem` with a product; returns (token, shop id, variant id).
async fn shop_with_product(app: &TestApp, theme: &str) -> (String, String, String) {
    let (token, shop) = owner_with_shop(app, "owner@example.vn", "Tiệm").await;
    let (_, variant) = product(app, &token, &shop, "Bánh pía", "60000", 5).await;
    publish(app, &token, &shop).await;
    app.gql_as(&token, "mutation($s: ID!, $t: String!) { updateShop(shopId: $s, input: { theme: $t }) { userErrors { code } } }", json!({ "s": shop, "t": theme })).await;
    (token, shop, variant)
}

storage_tests!(
    pages_render_in_every_theme_and_escape_everything,
    cart_checkout_confirmation_and_tracking,
    unpublished_and_hosts,
    cached_pages_stay_personal_and_fresh,
    a_cart_lives_in_its_shops_cookie,
    a_cart_holds_fifty_items,
    a_cart_is_not_shown_empty_when_the_database_fails,
    a_cart_follows_sales_cancellations_and_price_changes
);

/// Putting an item in a cart answers from the variant kept in memory
/// (`choso_services::for_sale_cache`) and still sees every change: the order that took the
/// last units (placed by this server, which lowers what it keeps), the cancellation that
/// brings them back, a price change that the next order is charged.
async fn a_cart_follows_sales_cancellations_and_price_changes(app: TestApp) {
    let (token, _, variant) = shop_with_product(&app, "grid").await;
    let mut v = Visitor::new(&app);
    let csrf = v.get("/s/tiem/products/banh-pia").await.input("csrf");
    let add = async |v: &mut Visitor| {
        let p = v.add_to_cart(&csrf, &variant, "1").await;
        assert_eq!(p.status, 303, "{}", p.body);
        p.location.unwrap_or_default()
    };
    // Read, then kept: both adds go to the cart.
    for _ in 0..2 {
        assert_eq!(add(&mut v).await, "/s/tiem/cart");
    }
    // Another customer takes all five.
    let placed = app
        .gql(
            PLACE,
            json!({ "i": crate::orders::order_input(&variant, 5) }),
        )
        .await;
    assert_eq!(
        placed["data"]["placeOrder"]["userErrors"],
        json!([]),
        "{placed}"
    );
    let order = placed["data"]["placeOrder"]["order"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        add(&mut v).await,
        "/s/tiem/products/banh-pia?error=OUT_OF_STOCK",
        "a sold-out item went into the cart"
    );
    // The order is cancelled: its five are for sale again.
    let c = app
        .gql_as(
            &token,
            "mutation($o: ID!) { cancelOrder(orderId: $o, reason: \"Khách đổi ý\") { userErrors { code } } }",
            json!({ "o": order }),
        )
        .await;
    assert_eq!(c["data"]["cancelOrder"]["userErrors"], json!([]), "{c}");
    assert_eq!(add(&mut v).await, "/s/tiem/cart");
    // Two more sold here, one at a time: three left, still for sale.
    for _ in 0..2 {
        let p = app
            .gql(
                PLACE,
                json!({ "i": crate::orders::order_input(&variant, 1) }),
            )
            .await;
        assert_eq!(p["data"]["placeOrder"]["userErrors"], json!([]), "{p}");
    }
    assert_eq!(add(&mut v).await, "/s/tiem/cart");
    // A new price: the next order is charged it.
    let u = app
        .gql_as(
            &token,
            "mutation($v: ID!) { updateVariant(variantId: $v, input: { price: \"75000\" }) { userErrors { code } } }",
            json!({ "v": variant }),
        )
        .await;
    assert_eq!(u["data"]["updateVariant"]["userErrors"], json!([]), "{u}");
    let p = app
        .gql(
            PLACE,
            json!({ "i": crate::orders::order_input(&variant, 3) }),
        )
        .await;
    assert_eq!(
        p["data"]["placeOrder"]["order"]["subtotal"]["amount"],
        json!("225000"),
        "{p}"
    );
    assert_eq!(
        add(&mut v).await,
        "/s/tiem/products/banh-pia?error=OUT_OF_STOCK",
        "the last three were sold"
    );
}

/// When the catalog cannot be read, the cart page and the checkout page answer 503 rather
/// than an empty cart (which a visitor would take for a lost one); the cart cookie is kept.
async fn a_cart_is_not_shown_empty_when_the_database_fails(app: TestApp) {
    let (_, _, variant) = shop_with_product(&app, "default").await;
    let mut v = Visitor::new(&app);
    let csrf = v.get("/s/tiem/products/banh-pia").await.input("csrf");
    let added = v.add_to_cart(&csrf, &variant, "2").await;
    assert_eq!(added.status, 303);
    assert_eq!(cart_count(&v.get("/s/tiem/cart").await), 2);
    app.db.close().await;
    for path in ["/s/tiem/cart", "/s/tiem/checkout"] {
        let page = v.get(path).await;
        assert_eq!(page.status, 503, "{path}: {}", page.body);
        assert!(
            !page.headers.contains_key("set-cookie")
                || !page.headers["set-cookie"]
                    .to_str()
                    .unwrap()
                    .starts_with("choso_cart="),
            "{path} changed the cart cookie"
        );
    }
}

/// A cart holds 50 distinct items (the cookie stays well under a browser's 4 KB); the 51st is
/// refused with the reason, and more of an item already in the cart is still taken.
async fn a_cart_holds_fifty_items(app: TestApp) {
    let (token, shop) = owner_with_shop(&app, "owner@example.vn", "Tiệm").await;
    let variants: Vec<serde_json::Value> = (0..51)
        .map(|i| json!({ "title": format!("Cỡ {i}"), "price": "1000", "stock": 5 }))
        .collect();
    let v = app
        .gql_as(
            &token,
            "mutation($s: ID!, $i: ProductInput!) { createProduct(shopId: $s, input: $i) { product { variants { id } } userErrors { code } } }",
            json!({ "s": shop, "i": { "title": "Nút áo", "published": true, "variants": variants } }),
        )
        .await;
    let ids: Vec<String> = v["data"]["createProduct"]["product"]["variants"]
        .as_array()
        .expect("variants")
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 51, "{v}");
    publish(&app, &token, &shop).await;
    let mut v = Visitor::new(&app);
    let csrf = v.get("/s/tiem/products/nut-ao").await.input("csrf");
    for id in &ids[..50] {
        let r = v.add_to_cart(&csrf, id, "1").await;
        assert_eq!(r.location.as_deref(), Some("/s/tiem/cart"));
    }
    let cookie = &v.cookies.iter().find(|(k, _)| k == "choso_cart").unwrap().1;
    assert!(cookie.len() < 2500, "{} bytes", cookie.len());
    let full = v.add_to_cart(&csrf, &ids[50], "1").await;
    assert_eq!(
        full.location.as_deref(),
        Some("/s/tiem/products/nut-ao?error=CART_FULL")
    );
    let shown = v.get("/s/tiem/products/nut-ao?error=CART_FULL").await;
    assert!(
        shown.body.contains("Giỏ hàng đã đầy."),
        "the reason, in Vietnamese"
    );
    let more = v.add_to_cart(&csrf, &ids[0], "2").await;
    assert_eq!(more.location.as_deref(), Some("/s/tiem/cart"));
    assert_eq!(cart_count(&v.get("/s/tiem/cart").await), 52);
    // Changing a line: a quantity sets it, 0 removes it; bad input changes nothing.
    let update = |id: &str, qty: &str| {
        vec![
            ("csrf".to_string(), csrf.clone()),
            ("variant_id".to_string(), id.to_string()),
            ("quantity".to_string(), qty.to_string()),
        ]
    };
    let refused = v
        .post(
            "/s/tiem/cart/update",
            &[("variant_id", &ids[1]), ("quantity", "5")],
        )
        .await;
    assert_eq!(refused.status, 403, "no CSRF token");
    for (id, qty, count) in [
        (ids[1].as_str(), "5", 56),
        (ids[1].as_str(), "abc", 56),
        (ids[1].as_str(), "-3", 56),
        (ids[1].as_str(), "1000", 56),
        ("NOSUCHVARIANT", "2", 56),
        (ids[1].as_str(), "0", 51),
    ] {
        let form = update(id, qty);
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let r = v.post("/s/tiem/cart/update", &form).await;
        assert_eq!(r.location.as_deref(), Some("/s/tiem/cart"), "{id} {qty}");
        assert_eq!(cart_count(&v.get("/s/tiem/").await), count, "{id} {qty}");
    }
}

fn cart_count(p: &Page) -> usize {
    let at = p
        .body
        .find("<span class=\"cart-count\" aria-hidden=\"true\">")
        .expect("a cart count")
        + 44;
    p.body[at..at + p.body[at..].find('<').unwrap()]
        .parse()
        .unwrap()
}

/// The cart is kept in the visitor's browser, one signed cookie per shop: it holds for its
/// own shop only, a cookie changed by hand is no cart (and no error), a product deleted
/// while in a cart leaves it (and no longer fails to delete), and the order empties it.
async fn a_cart_lives_in_its_shops_cookie(app: TestApp) {
    let (token, shop, gone) = shop_with_product(&app, "grid").await;
    let (kept_product, kept) = product(&app, &token, &shop, "Bánh ít", "15000", 10).await;
    let (token_b, shop_b) = owner_with_shop(&app, "b@example.vn", "Tiệm Khác").await;
    product(&app, &token_b, &shop_b, "Trà", "30000", 5).await;
    publish(&app, &token_b, &shop_b).await;
    let mut v = Visitor::new(&app);
    let csrf = v.get("/s/tiem/products/banh-pia").await.input("csrf");
    for (variant, qty) in [(&gone, "2"), (&kept, "1"), (&kept, "3")] {
        let added = v.add_to_cart(&csrf, variant, qty).await;
        assert_eq!(added.status, 303);
        let set = added.headers["set-cookie"].to_str().unwrap();
        assert!(
            set.starts_with("choso_cart=")
                && set.contains("; Path=/s/tiem;")
                && set.contains("HttpOnly")
                && set.contains("SameSite=Lax"),
            "{set}"
        );
    }
    assert_eq!(cart_count(&v.get("/s/tiem/").await), 6);
    // Another shop on the same host does not take this cart for its own.
    assert_eq!(cart_count(&v.get("/s/tiem-khac/").await), 0);
    // Bad input is refused and changes nothing: a bad quantity goes back to the product
    // with the reason, an item that is not for sale here back to the cart.
    for (variant, qty, back) in [
        (
            kept.as_str(),
            "0",
            "/s/tiem/products/banh-it?error=INVALID_QUANTITY",
        ),
        (
            kept.as_str(),
            "1000000",
            "/s/tiem/products/banh-it?error=INVALID_QUANTITY",
        ),
        ("NOSUCHVARIANT", "1", "/s/tiem/cart"),
        ("../../x", "1", "/s/tiem/cart"),
    ] {
        let r = v.add_to_cart(&csrf, variant, qty).await;
        assert_eq!(
            (r.status, r.location.as_deref()),
            (303, Some(back)),
            "{variant} {qty}"
        );
        assert!(r.headers.get("set-cookie").is_none(), "{variant} {qty}");
    }
    assert_eq!(cart_count(&v.get("/s/tiem/").await), 6);
    // A cookie changed by hand is no cart.
    let real = v.cookies.clone();
    for c in v.cookies.iter_mut().filter(|(k, _)| k == "choso_cart") {
        c.1 = c.1.replacen(":2-", ":9-", 1);
    }
    assert_ne!(v.cookies, real);
    let cart = v.get("/s/tiem/cart").await;
    assert_eq!((cart.status, cart_count(&cart)), (200, 0));
    v.cookies = real;
    // The owner deletes a product that is in the cart: the cart page leaves it out and
    // keeps the rest, in the cookie too.
    let deleted = app
        .gql_as(
            &token,
            "mutation($p: ID!) { deleteProduct(productId: $p) { deleted userErrors { code } } }",
            json!({ "p": product_id_of(&app, "tiem", "banh-pia").await }),
        )
        .await;
    assert_eq!(
        deleted["data"]["deleteProduct"]["deleted"], true,
        "{deleted}"
    );
    let cart = v.get("/s/tiem/cart").await;
    assert!(
        cart.body.contains("Bánh ít") && !cart.body.contains("Bánh pía"),
        "{}",
        cart.body
    );
    assert_eq!(cart_count(&cart), 4);
    assert_eq!(
        cart_count(&v.get("/s/tiem/").await),
        4,
        "the cookie lost the line too"
    );
    let checkout = v.get("/s/tiem/checkout").await;
    let placed = v
        .post(
            "/s/tiem/checkout",
            &[
                ("csrf", &csrf),
                ("key", &checkout.input("key")),
                ("name", "Lê Thị Khách"),
                ("phone", "0912345678"),
                ("line1", "5 Trần Hưng Đạo"),
                ("province", "46"),
                ("payment_method", "COD"),
            ],
        )
        .await;
    assert_eq!(placed.status, 303);
    assert!(
        placed
            .location
            .as_deref()
            .unwrap()
            .starts_with("/s/tiem/orders/1001?k="),
        "{:?}",
        placed.location
    );
    assert!(
        placed.headers["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0"),
        "the order empties the cart"
    );
    assert_eq!(cart_count(&v.get("/s/tiem/").await), 0);
    let order = app
        .gql_as(
            &token,
            "{ shop(slug: \"tiem\") { orders(first: 1) { edges { node { lines { title quantity } } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        order["data"]["shop"]["orders"]["edges"][0]["node"]["lines"],
        json!([{ "title": "Bánh ít", "quantity": 4 }]),
        "{order} ({kept_product})"
    );
}

/// A product's id (without its shop) by handle.
async fn product_id_of(app: &TestApp, slug: &str, handle: &str) -> String {
    let v = app
        .gql(
            "query($s: String!, $h: String!) { shop(slug: $s) { product(handle: $h) { id } } }",
            json!({ "s": slug, "h": handle }),
        )
        .await;
    v["data"]["shop"]["product"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Product and home pages come from the page cache after the first visit: every visitor still
/// gets their own CSRF token, nonce and cart count, and any change to the shop shows at once.
async fn cached_pages_stay_personal_and_fresh(app: TestApp) {
    let (token, shop, variant) = shop_with_product(&app, "warm").await;
    let mut a = Visitor::new(&app);
    let mut b = Visitor::new(&app);
    let pa = a.get("/s/tiem/products/banh-pia").await;
    let pb = b.get("/s/tiem/products/banh-pia").await;
    assert_eq!((pa.status, pb.status), (200, 200));
    let (ca, cb) = (pa.input("csrf"), pb.input("csrf"));
    assert_ne!(ca, cb, "each visitor has their own token");
    assert!(ca.len() >= 16 && !ca.starts_with("choso"), "{ca}");
    let nonce = |p: &Page| {
        let csp = p.headers["content-security-policy"]
            .to_str()
            .unwrap()
            .to_string();
        let n = csp
            .split("'nonce-")
            .nth(1)
            .unwrap()
            .split('\'')
            .next()
            .unwrap()
            .to_string();
        assert!(
            p.body.contains(&format!("nonce=\"{n}\"")),
            "the page uses its own nonce"
        );
        n
    };
    assert_ne!(nonce(&pa), nonce(&pb));
    assert!(!pa.body.contains("chosoCART") && !pb.body.contains("chosoNONCE"));
    // B's token works for B (and A's does not).
    let refused = b.add_to_cart(&ca, &variant, "1").await;
    assert_eq!(refused.status, 403);
    let added = b.add_to_cart(&cb, &variant, "2").await;
    assert_eq!(added.status, 303);
    let again = b.get("/s/tiem/products/banh-pia").await;
    assert!(
        again
            .body
            .contains("<span class=\"cart-count\" aria-hidden=\"true\">2</span>"),
        "B's header counts B's cart"
    );
    let other = a.get("/s/tiem/products/banh-pia").await;
    assert!(
        other
            .body
            .contains("<span class=\"cart-count\" aria-hidden=\"true\">0</span>")
    );
    // Search pages too come from the cache, per query, each visitor with their own token.
    let found = a.get("/s/tiem/search?q=s%E1%BA%A7u+ri%C3%AAng").await;
    assert!(!found.body.contains("Bánh pía"), "nothing matches yet");
    let found = a.get("/s/tiem/search?q=banh").await;
    let again = b.get("/s/tiem/search?q=banh").await;
    assert!(found.body.contains("Bánh pía") && again.body.contains("Bánh pía"));
    assert!(
        found.body.contains("value=\"banh\""),
        "the query in its box"
    );
    assert_ne!(nonce(&found), nonce(&again));
    assert!(
        again
            .body
            .contains("<span class=\"cart-count\" aria-hidden=\"true\">2</span>"),
        "B's own cart count on a cached search page"
    );
    // A hostile query is a cache key like any other: cut to 100 characters, shown escaped, and
    // the second visitor's copy (from the cache) is the same page with their own marks.
    let hostile = format!("{}{}", "|<b>x</b>\"'".repeat(40), "tail");
    let url = format!("/s/tiem/search?q={}", urlencoding(&hostile));
    let (first, cached) = (a.get(&url).await, b.get(&url).await);
    for page in [&first, &cached] {
        assert_eq!(page.status, 200);
        assert!(!page.body.contains("<b>x</b>") && !page.body.contains("tail"));
        let shown = page
            .body
            .split("value=\"")
            .find(|p| p.starts_with('|'))
            .unwrap_or("");
        assert!(
            shown.starts_with("|&lt;b&gt;x"),
            "escaped in the box: {}",
            &shown[..shown.len().min(200)]
        );
    }
    assert_ne!(nonce(&first), nonce(&cached));
    // A change by the owner shows on the next visit.
    let pid = app
        .gql(
            "{ shop(slug: \"tiem\") { products(first: 1) { edges { node { id } } } } }",
            json!({}),
        )
        .await["data"]["shop"]["products"]["edges"][0]["node"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.gql_as(
        &token,
        "mutation($p: ID!) { updateProduct(productId: $p, input: { title: \"Bánh pía sầu riêng\" }) { userErrors { code } } }",
        json!({ "p": pid }),
    )
    .await;
    assert!(
        a.get("/s/tiem/products/banh-pia")
            .await
            .body
            .contains("Bánh pía sầu riêng")
    );
    assert!(a.get("/s/tiem/").await.body.contains("Bánh pía sầu riêng"));
    let found = a.get("/s/tiem/search?q=s%E1%BA%A7u+ri%C3%AAng").await;
    assert!(found.body.contains("Bánh pía sầu riêng"), "{}", found.body);
    assert!(
        a.get("/s/tiem/search?q=banh")
            .await
            .body
            .contains("Bánh pía sầu riêng")
    );
    // An order that sells out shows as sold out on the next visit.
    let v = app
        .gql(
            PLACE,
            json!({ "i": crate::orders::order_input(&variant, 5) }),
        )
        .await;
    assert_eq!(v["data"]["placeOrder"]["userErrors"], json!([]), "{v}");
    assert!(
        !other.body.contains("Hết hàng"),
        "in stock before the order"
    );
    let sold = a.get("/s/tiem/products/banh-pia").await;
    assert!(sold.body.contains("Hết hàng"), "sold out after it");
    let _ = shop;
}

async fn pages_render_in_every_theme_and_escape_everything(app: TestApp) {
    let (token, shop, _) = shop_with_product(&app, "warm").await;
    let v = app
        .gql_as(
            &token,
            "mutation($s: ID!, $i: ProductInput!) { createProduct(shopId: $s, input: $i) { product { handle } userErrors { code } } }",
            json!({ "s": shop, "i": { "title": "<img src=x onerror=alert(1)>", "description": "<script>alert(2)</script> **đậm**", "published": true,
                "variants": [{ "price": "99000", "compareAtPrice": "120000", "stock": 3 }] } }),
        )
        .await;
    let xss = v["data"]["createProduct"]["product"]["handle"]
        .as_str()
        .unwrap()
        .to_string();
    for theme in ["warm", "grid", "minimal"] {
        app.gql_as(&token, "mutation($s: ID!, $t: String!) { updateShop(shopId: $s, input: { theme: $t }) { userErrors { code } } }", json!({ "s": shop, "t": theme })).await;
        let mut visitor = Visitor::new(&app);
        for path in [
            "/s/tiem/",
            &format!("/s/tiem/products/{xss}"),
            "/s/tiem/search?q=img",
            "/s/tiem/cart",
            "/s/tiem/track",
        ] {
            let p = visitor.get(path).await;
            assert_eq!(p.status, 200, "{theme} {path}");
            assert!(
                !p.body.contains("<img src=x"),
                "{theme} {path}: unescaped product name"
            );
            assert!(
                !p.body.contains("<script>alert"),
                "{theme} {path}: unescaped script"
            );
            let csp = p.headers["content-security-policy"].to_str().unwrap();
            assert!(csp.contains("script-src 'self' 'nonce-"), "{csp}");
            // Every inline script and style carries the page's nonce.
            let nonce = csp
                .split("'nonce-")
                .nth(1)
                .unwrap()
                .split('\'')
                .next()
                .unwrap();
            for tag in ["<script", "<style"] {
                for part in p.body.split(tag).skip(1) {
                    let open = &part[..part.find('>').unwrap()];
                    if !open.contains("src=") {
                        assert!(
                            open.contains(&format!("nonce=\"{nonce}\"")),
                            "{theme} {path}: {tag}{open}>"
                        );
                    }
                }
            }
            assert!(p.body.contains("rel=\"canonical\""), "{theme} {path}");
        }
        let p = visitor.get(&format!("/s/tiem/products/{xss}")).await;
        assert!(
            p.body.contains("&lt;img src=x onerror=alert(1)&gt;"),
            "{theme}: the name shows as text"
        );
        assert!(
            p.body.contains("<strong>đậm</strong>"),
            "{theme}: safe Markdown"
        );
        assert!(p.body.contains("application/ld+json"), "{theme}");
        let ld = p.body.split("application/ld+json").nth(1).unwrap();
        let ld = &ld[ld.find('>').unwrap() + 1..ld.find("</script>").unwrap()];
        let data: serde_json::Value = serde_json::from_str(ld).unwrap();
        assert_eq!(data["@type"], "Product");
        assert_eq!(data["name"], "<img src=x onerror=alert(1)>");
        assert_eq!(data["offers"][0]["price"], "99000");
        assert_eq!(data["offers"][0]["priceCurrency"], "VND");
        assert_eq!(
            data["offers"][0]["availability"],
            "https://schema.org/InStock"
        );
        assert!(p.body.contains("og:title"), "{theme}");
        assert!(p.body.contains("99.000"), "{theme}: price");
        assert!(p.body.contains("120.000"), "{theme}: compare-at price");
        let css = p
            .body
            .split("rel=\"stylesheet\"")
            .next()
            .map(|_| ())
            .and(p.body.find("/static/themes/"));
        let css_at = css.unwrap_or_else(|| panic!("{theme}: a hashed stylesheet"));
        let href = &p.body[css_at..];
        let href = &href[..href.find('"').unwrap()];
        let r = app.client.get(app.url(href)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{href}");
        assert!(
            r.headers()["cache-control"]
                .to_str()
                .unwrap()
                .contains("immutable")
        );
        let missing = visitor.get("/s/tiem/products/no-such-thing").await;
        assert_eq!(missing.status, 404, "{theme}");
    }
    let mut visitor = Visitor::new(&app);
    let sm = visitor.get("/s/tiem/sitemap.xml").await;
    assert!(
        sm.body.contains(&format!("/s/tiem/products/{xss}</loc>"))
            && sm.body.contains("/s/tiem/products/banh-pia"),
        "{}",
        sm.body
    );
    let robots = visitor.get("/s/tiem/robots.txt").await;
    assert!(robots.body.contains("Sitemap: ") && robots.body.contains("/s/tiem/sitemap.xml"));
}

async fn cart_checkout_confirmation_and_tracking(app: TestApp) {
    let (token, shop, _) = shop_with_product(&app, "grid").await;
    app.gql_as(&token, "mutation($s: ID!) { updateShopPayments(shopId: $s, input: { bankBin: \"970436\", bankAccountNumber: \"0011001234567\", bankAccountName: \"NGUYEN VAN A\" }) { userErrors { code } } }", json!({ "s": shop })).await;
    let mut v = Visitor::new(&app);
    let p = v.get("/s/tiem/products/banh-pia").await;
    let csrf = p.input("csrf");
    let variant = p.input("variant_id");
    // Without the CSRF token nothing happens.
    let refused = v
        .post(
            "/s/tiem/cart/add",
            &[("variant_id", &variant), ("quantity", "2")],
        )
        .await;
    assert_eq!(refused.status, 403);
    let added = v.add_to_cart(&csrf, &variant, "2").await;
    assert_eq!(added.status, 303);
    let cart = v.get("/s/tiem/cart").await;
    assert!(
        cart.body.contains("Bánh pía") && cart.body.contains("120.000"),
        "{}",
        cart.body
    );
    assert!(
        cart.body
            .contains("<span class=\"cart-count\" aria-hidden=\"true\">2</span>"),
        "the header counts 2 units"
    );
    let form = v.get("/s/tiem/checkout").await;
    assert_eq!(form.status, 200);
    let key = form.input("key");
    assert!(form.body.contains("name=\"province\""));
    // A bad phone: the form comes back with the error next to it and what was typed.
    let bad = v
        .post(
            "/s/tiem/checkout",
            &[
                ("csrf", &csrf),
                ("key", &key),
                ("name", "Trần Văn Khách"),
                ("phone", "12345"),
                ("email", ""),
                ("line1", "12 Lê Lợi"),
                ("ward", "Phú Hội"),
                ("province", "46"),
                ("note", "Giao giờ hành chính"),
                ("payment_method", "BANK_TRANSFER"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(
        bad.body.contains("Số điện thoại"),
        "the error in Vietnamese"
    );
    assert!(
        bad.body.contains("Trần Văn Khách")
            && bad.body.contains("12 Lê Lợi")
            && bad.body.contains("Giao giờ hành chính"),
        "typed values kept"
    );
    assert_eq!(app.count("orders").await, 0);
    let good = [
        ("csrf", csrf.as_str()),
        ("key", key.as_str()),
        ("name", "Trần Văn Khách"),
        ("phone", "0912345678"),
        ("email", ""),
        ("line1", "12 Lê Lợi"),
        ("ward", "Phú Hội"),
        ("province", "46"),
        ("note", ""),
        ("payment_method", "BANK_TRANSFER"),
    ];
    let done = v.post("/s/tiem/checkout", &good).await;
    assert_eq!(done.status, 303, "{}", done.body);
    let confirmation = done.location.unwrap();
    assert!(
        confirmation.starts_with("/s/tiem/orders/1001?k="),
        "{confirmation}"
    );
    // Submitting the same form again (a double click) makes no second order.
    let again = v.post("/s/tiem/checkout", &good).await;
    assert_eq!(again.location.as_deref(), Some(confirmation.as_str()));
    assert_eq!(app.count("orders").await, 1);
    let page = v.get(&confirmation).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("#1001")
            && page.body.contains("<svg")
            && page.body.contains("DH1001")
            && page.body.contains("0011001234567"),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains("0912345678"),
        "no personal data on the page"
    );
    // Without the key the confirmation is not shown.
    assert_eq!(v.get("/s/tiem/orders/1001").await.status, 404);
    assert_eq!(v.get("/s/tiem/orders/1001?k=0000").await.status, 404);
    // The cart is empty now; the stock went down.
    assert!(
        v.get("/s/tiem/checkout").await.location.is_some(),
        "empty cart → back to the cart"
    );
    let stock = app
        .gql_as(
            &token,
            "{ shop(slug: \"tiem\") { product(handle: \"banh-pia\") { variants { stock } } } }",
            json!({}),
        )
        .await;
    assert_eq!(stock["data"]["shop"]["product"]["variants"][0]["stock"], 3);
    // Tracking.
    let t = v
        .get("/s/tiem/track?number=%231001&phone=0912+345+678")
        .await;
    assert!(
        t.body.contains("#1001") && t.body.contains("Bánh pía"),
        "{}",
        t.body
    );
    let t = v.get("/s/tiem/track?number=1001&phone=0987654321").await;
    assert!(!t.body.contains("Bánh pía"));
    // Stock re-checked in the cart: someone else buys the rest.
    let p = v.get("/s/tiem/products/banh-pia").await;
    v.post(
        "/s/tiem/cart/add",
        &[
            ("csrf", &p.input("csrf")),
            ("variant_id", &p.input("variant_id")),
            ("quantity", "3"),
        ],
    )
    .await;
    let mut input = crate::orders::order_input(
        &format!("{shop}:{variant}", variant = p.input("variant_id")),
        2,
    );
    input["shopSlug"] = json!("tiem");
    let r = app.gql(PLACE, json!({ "i": input })).await;
    assert_eq!(r["data"]["placeOrder"]["userErrors"], json!([]), "{r}");
    let cart = v.get("/s/tiem/cart").await;
    assert!(cart.body.contains("Chỉ còn 1"), "{}", cart.body);
}

async fn unpublished_and_hosts(app: TestApp) {
    let (token, shop) = owner_with_shop(&app, "owner@example.vn", "Tiệm Ẩn").await;
    product(&app, &token, &shop, "Bánh", "1000", 1).await;
    let mut v = Visitor::new(&app);
    assert_eq!(v.get("/s/tiem-an/").await.status, 404, "unpublished");
    assert_eq!(v.get("/s/no-such-shop/").await.status, 404);
    // Members preview it while signed in.
    v.cookies.push(("choso_session".into(), token.clone()));
    assert_eq!(v.get("/s/tiem-an/").await.status, 200, "member preview");
    publish(&app, &token, &shop).await;
    let mut v = Visitor::new(&app);
    assert_eq!(
        v.get("/s/tiem-an").await.status,
        200,
        "with or without the trailing slash"
    );
    // A custom domain picks the shop from the Host header.
    let r = app.gql_as(&token, "mutation($s: ID!) { addShopDomain(shopId: $s, domain: \"Banh.Example.VN\") { domains userErrors { code } } }", json!({ "s": shop })).await;
    assert_eq!(
        r["data"]["addShopDomain"]["domains"],
        json!(["banh.example.vn"]),
        "{r}"
    );
    for bad in ["not a domain", "-x.vn", "localhost"] {
        let r = app.gql_as(&token, "mutation($s: ID!, $d: String!) { addShopDomain(shopId: $s, domain: $d) { userErrors { code } } }", json!({ "s": shop, "d": bad })).await;
        assert_eq!(
            r["data"]["addShopDomain"]["userErrors"][0]["code"], "INVALID_DOMAIN",
            "{bad}"
        );
    }
    v.host = Some("banh.example.vn".into());
    let home = v.get("/").await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains("Tiệm Ẩn"));
    assert!(
        home.body.contains("href=\"/products/banh\""),
        "links start at the root on the shop's own host: {}",
        home.body
    );
    v.host = Some("unknown.example.vn".into());
    assert_eq!(v.get("/").await.status, 404);
}

/// `{slug}.{CHOSO_BASE_DOMAIN}` reaches the shop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subdomains_of_the_base_domain() {
    let app = spawn_app_with(choso_services::Backend::Sqlite, |c| {
        c.base_domain = Some("choso.test".into())
    })
    .await
    .unwrap();
    let (_token, _, _) = shop_with_product(&app, "minimal").await;
    let mut v = Visitor::new(&app);
    v.host = Some("tiem.choso.test:8080".into());
    let p = v.get("/products/banh-pia").await;
    assert_eq!(p.status, 200);
    assert!(p.body.contains("Bánh pía"));
    v.host = Some("nope.choso.test".into());
    assert_eq!(v.get("/").await.status, 404);
}

/// Percent-encodes every byte but ASCII letters and digits.
fn urlencoding(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
