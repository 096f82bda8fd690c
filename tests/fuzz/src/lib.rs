//! The checks behind the cargo-fuzz targets (`fuzz_targets/*.rs`, one line each) and behind
//! the workspace test that replays the committed seeds and regressions on every `cargo test`
//! (`tests/fuzz_replay.rs`, which includes this file by path; it may use only what the
//! `choso` package's tests can reach). Each check takes the fuzzer's bytes, drives the
//! production code and panics when an invariant breaks: a panic is what libFuzzer reports.
//!
//! - [`text`]: the value parsers (slug, phone, tax code, đồng, e-mail) and the text functions
//!   (NFC, clean, fold, slugify, Markdown) never panic, and what they accept round-trips.
//! - [`vietqr`]: decoding any payload never panics; a decoded transfer encodes to a payload
//!   that decodes to it; a transfer built from the bytes encodes and decodes back.
//! - [`csv`]: the CSV reader never panics, gives one field per header, and what the writer
//!   writes reads back the same.
//! - [`App::csv_import`]: a product import of any bytes into a real shop (SQLite) answers a
//!   report or user errors, never a fault; with errors and no skipping nothing is written,
//!   otherwise the rows written are exactly the ones reported.
//! - [`App::graphql`]: any body posted to `/graphql` through the production router (raw, or a
//!   document and variables, anonymous or signed in as the shop's owner or province staff)
//!   answers JSON with a status below 500 and no `INTERNAL` error.

use std::{
    net::SocketAddr,
    path::PathBuf,
    sync::{Mutex, OnceLock},
};

use axum::{
    body::Body,
    extract::ConnectInfo,
    http::{Request, StatusCode, header},
};
use choso::server::{AppState, Service, service};
use choso_services::{
    Db, Error,
    catalog::import::import_products,
    csv as csv_format, markdown,
    text::{self, Email, Phone, Slug, TaxCode, Vnd},
    vietqr::{self, Transfer},
};
use serde_json::{Value, json};
use tower::ServiceExt;

/// Text parsers and functions: no panic; accepted values round-trip; outputs keep their shape.
pub fn text(data: &[u8]) {
    let s = String::from_utf8_lossy(data);
    let s = s.as_ref();

    let n = text::nfc(s);
    assert_eq!(text::nfc(&n), n, "nfc is idempotent");
    let c = text::clean(s);
    assert_eq!(text::clean(&c), c, "clean is idempotent");
    assert_eq!(c.trim(), c, "clean trims");
    assert!(
        !c.contains("  ") && !c.chars().any(char::is_control),
        "{c:?}"
    );
    let f = text::fold(s);
    assert_eq!(text::fold(&f), f, "fold is idempotent");
    assert!(
        !f.starts_with(' ') && !f.ends_with(' ') && !f.contains("  "),
        "{f:?}"
    );
    assert!(!f.contains(['Đ', 'đ', 'Ð', 'ð']), "fold leaves no đ: {f:?}");
    let slug = text::slugify(s);
    assert!(slug.len() <= text::SLUG_MAX_LEN);
    assert_eq!(text::slugify(&slug), slug, "slugify is idempotent");
    if !slug.is_empty() {
        let parsed = Slug::parse(&slug);
        assert!(parsed.is_ok(), "slugify made an invalid slug {slug:?}");
    }

    if let Ok(slug) = Slug::parse(s) {
        assert_eq!(slug.as_str(), s, "a slug is taken as given");
        assert_eq!(text::slugify(s), s, "a valid slug is its own slug");
    }
    if let Ok(p) = Phone::parse(s) {
        assert!(
            p.as_str().starts_with("+84") && p.as_str().len() == 12,
            "{p:?}"
        );
        assert_eq!(
            Phone::parse(p.as_str()).as_ref(),
            Ok(&p),
            "E.164 form re-parses"
        );
        assert_eq!(
            Phone::parse(&p.local()).as_ref(),
            Ok(&p),
            "local form re-parses"
        );
    }
    if let Ok(t) = TaxCode::parse(s) {
        assert_eq!(
            TaxCode::parse(t.as_str()).as_ref(),
            Ok(&t),
            "tax code re-parses"
        );
    }
    if let Ok(v) = Vnd::parse(s) {
        assert!((0..=Vnd::MAX).contains(&v.amount()));
        assert_eq!(
            Vnd::parse(&v.amount().to_string()),
            Ok(v),
            "plain digits re-parse"
        );
        let shown = v.formatted();
        let digits: String = shown.chars().filter(char::is_ascii_digit).collect();
        assert_eq!(digits.parse::<i64>().ok(), Some(v.amount()), "{shown:?}");
    }
    if data.len() >= 8 {
        let mut eight = [0u8; 8];
        eight.copy_from_slice(&data[..8]);
        let amount = i64::from_le_bytes(eight);
        let shown = text::format_vnd(amount);
        let digits: String = shown.chars().filter(char::is_ascii_digit).collect();
        assert_eq!(
            digits.parse::<u64>().ok(),
            Some(amount.unsigned_abs()),
            "{shown:?}"
        );
        assert_eq!(
            Vnd::from_i64(amount).is_ok(),
            (0..=Vnd::MAX).contains(&amount)
        );
    }
    if let Ok(e) = Email::parse(s) {
        assert!(
            e.as_str().len() <= 254 && e.as_str().matches('@').count() == 1,
            "{e:?}"
        );
        assert_eq!(
            Email::parse(e.as_str()).as_ref(),
            Ok(&e),
            "e-mail re-parses"
        );
    }

    markdown_is_safe(s, &markdown::to_html(s));
    let plain = markdown::to_plain(s, 160);
    assert!(plain.chars().count() <= 160, "{plain:?}");
}

/// The only markup `to_html` may write: its own tags, `href`s to http(s) (any case) or site
/// paths.
fn markdown_is_safe(src: &str, html: &str) {
    const TAGS: &[&str] = &[
        "p", "/p", "br", "h3", "/h3", "h4", "/h4", "h5", "/h5", "ul", "/ul", "ol", "/ol", "li",
        "/li", "strong", "/strong", "em", "/em", "/a",
    ];
    let mut rest = html;
    while let Some(open) = rest.find(['<', '>']) {
        assert_eq!(
            &rest[open..=open],
            "<",
            "a bare '>' in {html:?} from {src:?}"
        );
        let close = rest[open..]
            .find('>')
            .unwrap_or_else(|| panic!("an unclosed '<' in {html:?} from {src:?}"));
        let tag = &rest[open + 1..open + close];
        let ok = TAGS.contains(&tag)
            || tag
                .strip_prefix("ol start=\"")
                .and_then(|t| t.strip_suffix('"'))
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            || tag
                .strip_prefix("a href=\"")
                .and_then(|t| t.strip_suffix("\" rel=\"nofollow ugc noopener\""))
                .is_some_and(|href| {
                    // Schemes are compared in any case, as browsers do.
                    let lower = href.to_ascii_lowercase();
                    !href.contains(['"', '<', '>', ' '])
                        && (lower.starts_with("http://")
                            || lower.starts_with("https://")
                            || href.starts_with('/')
                                && !href.starts_with("//")
                                && !href.starts_with("/\\"))
                });
        assert!(ok, "Markdown wrote <{tag}> in {html:?} from {src:?}");
        rest = &rest[open + close + 1..];
    }
}

/// VietQR: decode never panics; what decodes re-encodes to the same transfer; a transfer made
/// from the bytes round-trips.
pub fn vietqr(data: &[u8]) {
    let payload = String::from_utf8_lossy(data);
    if let Ok(d) = vietqr::decode(&payload)
        && d.service == vietqr::SERVICE_TO_ACCOUNT
    {
        let t = d.transfer();
        if let Ok(again) = vietqr::encode(&t) {
            let back = vietqr::decode(&again).expect("an encoded payload decodes");
            assert_eq!(back.transfer(), as_encoded(&t), "{payload:?}");
        }
    }

    // A transfer from the bytes: BIN from the first 3, account from the next 1–19 digits,
    // amount from the next 8, purpose from the rest.
    let Some((head, rest)) = data.split_first_chunk::<12>() else {
        return;
    };
    let bin = format!(
        "{:06}",
        u32::from_le_bytes([head[0], head[1], head[2], 0]) % 1_000_000
    );
    let account_len = usize::from(head[3] % 21);
    let account: String = rest
        .iter()
        .take(account_len)
        .map(|b| char::from(b'0' + b % 10))
        .collect();
    let amount = i64::from_le_bytes([
        head[4], head[5], head[6], head[7], head[8], head[9], head[10], head[11],
    ]);
    let amount = (head[4] & 1 == 1).then_some(amount);
    let purpose = String::from_utf8_lossy(rest.get(account_len..).unwrap_or_default()).into_owned();
    let t = Transfer {
        bin,
        account,
        amount,
        purpose: (!purpose.is_empty()).then_some(purpose),
    };
    match vietqr::encode(&t) {
        Ok(p) => {
            assert!(p.is_ascii(), "{p:?}");
            let d = vietqr::decode(&p).unwrap_or_else(|e| panic!("{p:?} does not decode: {e}"));
            assert_eq!(d.transfer(), as_encoded(&t), "{p:?}");
            assert_eq!(d.dynamic, t.amount.is_some());
            assert_eq!((d.currency.as_str(), d.country.as_str()), ("704", "VN"));
        }
        Err(e) => {
            // Refused for a reason the transfer shows.
            let account_ok = (1..=19).contains(&t.account.len());
            let amount_ok = t.amount.is_none_or(|a| a > 0 && a <= 9_999_999_999_999);
            assert!(
                !account_ok || !amount_ok || choso_services::banks::by_bin(&t.bin).is_none(),
                "{t:?} refused: {e}"
            );
        }
    }
}

/// The transfer a payload encoded from `t` describes: its purpose folded, or none when
/// folding leaves nothing.
fn as_encoded(t: &Transfer) -> Transfer {
    Transfer {
        purpose: t
            .purpose
            .as_deref()
            .map(vietqr::fold_purpose)
            .filter(|p| !p.is_empty()),
        ..t.clone()
    }
}

/// CSV: no panic, one field per header, and a table written out reads back the same, except
/// that a field Excel would run as a formula comes back behind a `'` (the writer's guard).
pub fn csv(data: &[u8]) {
    let Ok(table) = csv_format::parse_bytes(data) else {
        return;
    };
    for row in &table.rows {
        assert_eq!(row.fields.len(), table.headers.len(), "line {}", row.line);
        assert!(
            row.fields.iter().any(|f| !f.is_empty()),
            "empty rows are dropped"
        );
    }
    // Guarding can make two names one (`-` and `'-`): then the rows are written under plain
    // names, and the names themselves are checked only when none needs the guard.
    let guarded_names = table.headers.iter().any(|h| formula_start(h));
    let plain: Vec<String> = (1..=table.headers.len()).map(|i| format!("c{i}")).collect();
    let names = if guarded_names {
        &plain
    } else {
        &table.headers
    };
    let headers: Vec<&str> = names.iter().map(String::as_str).collect();
    let rows: Vec<Vec<String>> = table.rows.iter().map(|r| r.fields.clone()).collect();
    for delimiter in [',', ';', '\t'] {
        let written = csv_format::write(&headers, &rows, delimiter);
        let again = csv_format::parse(&written)
            .unwrap_or_else(|e| panic!("written CSV does not read back ({e}): {written:?}"));
        assert_eq!(again.rows.len(), rows.len(), "{written:?}");
        assert_eq!(&again.headers, names, "{written:?}");
        let pairs = rows
            .iter()
            .zip(&again.rows)
            .flat_map(|(r, a)| r.iter().zip(&a.fields));
        for (original, back) in pairs {
            read_back_as(original, back, &written);
        }
    }
}

/// Whether Excel would run a cell starting so as a formula (what the writer guards).
fn formula_start(f: &str) -> bool {
    match f.chars().next() {
        Some('=' | '@' | '\t' | '\r') => true,
        Some('+' | '-') => {
            let body = &f[1..];
            !(body.bytes().any(|b| b.is_ascii_digit())
                && body
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b == b'.' || b == b','))
        }
        _ => false,
    }
}

/// A field read back from what [`csv_format::write`] wrote: the same, or guarded by a `'`
/// when it would start a formula; and nothing read back starts one.
fn read_back_as(original: &str, back: &str, written: &str) {
    let same = back == original;
    let guarded = back.strip_prefix('\'') == Some(original) && formula_start(original);
    assert!(
        same || guarded,
        "{original:?} read back as {back:?} from {written:?}"
    );
    assert!(
        !formula_start(back),
        "{back:?} would run as a formula: {written:?}"
    );
}

/// One app over a seeded SQLite file, shared by every input of a process.
pub struct App {
    rt: tokio::runtime::Runtime,
    db: Db,
    /// The production service, built once (a clone per request is a reference count).
    app: Service,
    owner: choso_services::accounts::User,
    owner_token: String,
    staff_token: String,
    shop_id: String,
    /// One input at a time (libFuzzer is single-threaded; the replay test is not).
    lock: Mutex<()>,
}

static APP: OnceLock<App> = OnceLock::new();

impl App {
    /// The process's app, started on first use: a fresh SQLite file in the temp folder with
    /// the demo shop, its owner and the province's staff signed in.
    pub fn get() -> &'static App {
        APP.get_or_init(App::start)
    }

    fn start() -> App {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let dir: PathBuf = std::env::temp_dir().join(format!("choso-fuzz-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp folder");
        let url = format!("sqlite://{}/choso.db?mode=rwc", dir.display());
        let (db, app, owner, owner_token, staff_token, shop_id) = rt.block_on(async move {
            let db = Db::connect_and_migrate(&url).await.expect("database");
            choso::demo::seed_if_empty(&db).await.expect("demo shop");
            let config = choso::config::Config::for_database(url, dir.join("data"));
            let app = service(
                AppState::new(config, db.clone(), "http://127.0.0.1:8080")
                    .await
                    .expect("state"),
            );
            let owner = choso_services::accounts::find_by_email(&db, choso::demo::DEMO_EMAIL)
                .await
                .expect("owner")
                .expect("the demo owner exists");
            let owner_token = login(&app, choso::demo::DEMO_EMAIL).await;
            let staff_token = login(&app, choso::demo::DEMO_STAFF_EMAIL).await;
            let query = format!("{{ shop(slug: \"{}\") {{ id }} }}", choso::demo::DEMO_SLUG);
            let body = json!({ "query": query }).to_string().into_bytes();
            let (_, v) = post(&app, None, body).await;
            let shop_id = v["data"]["shop"]["id"]
                .as_str()
                .expect("shop id")
                .to_string();
            (db, app, owner, owner_token, staff_token, shop_id)
        });
        App {
            rt,
            db,
            app,
            owner,
            owner_token,
            staff_token,
            shop_id,
            lock: Mutex::new(()),
        }
    }

    /// GraphQL: the first byte says who asks (bit 0 the owner, bit 1 staff) and how (bit 2 a
    /// batch of two, bit 3 the rest is the raw body); otherwise the rest is a document, then
    /// after a NUL byte the variables as JSON (kept as a string when they are not JSON).
    /// `SLUG` and `SHOP` in the document become the demo shop's slug and id.
    pub fn graphql(&self, data: &[u8]) {
        let Some((&flags, rest)) = data.split_first() else {
            return;
        };
        let token = match flags & 3 {
            1 => Some(self.owner_token.as_str()),
            2 => Some(self.staff_token.as_str()),
            _ => None,
        };
        let body = if flags & 8 != 0 {
            rest.to_vec()
        } else {
            let (doc, vars) = match rest.iter().position(|&b| b == 0) {
                Some(at) => (&rest[..at], Some(&rest[at + 1..])),
                None => (rest, None),
            };
            let doc = String::from_utf8_lossy(doc)
                .replace("SLUG", choso::demo::DEMO_SLUG)
                .replace("SHOP", &self.shop_id);
            let vars = vars.map(|v| {
                serde_json::from_slice::<Value>(v)
                    .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(v).into_owned()))
            });
            let one = json!({ "query": doc, "variables": vars });
            let body = if flags & 4 != 0 {
                json!([one.clone(), one])
            } else {
                one
            };
            body.to_string().into_bytes()
        };
        let _one = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let (_, answer) = self.rt.block_on(post(&self.app, token, body));
        let answers = match &answer {
            Value::Array(a) => a.iter().collect(),
            one => vec![one],
        };
        for a in answers {
            for e in a["errors"].as_array().into_iter().flatten() {
                assert_ne!(e["extensions"]["code"], "INTERNAL", "a fault: {answer}");
            }
        }
    }

    /// A product import of the bytes (after a first byte whose bit 0 asks to skip bad rows)
    /// into the demo shop, through the service the console and GraphQL call.
    pub fn csv_import(&self, data: &[u8]) {
        let Some((&flags, bytes)) = data.split_first() else {
            return;
        };
        let skip = flags & 1 == 1;
        let _one = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        self.rt.block_on(async {
            let shop = choso_services::ShopId::new(self.shop_id.clone());
            let scope = choso_services::shops::authorize(
                &self.db,
                &self.owner,
                &shop,
                choso_services::MemberRole::Staff,
            )
            .await
            .expect("the owner may import");
            let before = self.counts().await;
            let r = import_products(&self.db, &scope, bytes, skip).await;
            let after = self.counts().await;
            match r {
                Ok(report) => {
                    if !report.errors.is_empty() && !skip {
                        assert_eq!(after, before, "a refused import wrote: {report:?}");
                        assert_eq!((report.created_products, report.created_variants), (0, 0));
                    } else {
                        assert_eq!(
                            (after.0 - before.0, after.1 - before.1),
                            (report.created_products, report.created_variants),
                            "rows written are the rows reported: {report:?}"
                        );
                    }
                    assert!(report.updated_variants >= 0 && report.skipped_rows >= 0);
                }
                Err(Error::Invalid(errors)) => {
                    assert!(!errors.is_empty());
                    assert_eq!(after, before, "a refused import wrote: {errors:?}");
                }
                Err(e) => panic!("import of {} bytes failed with a fault: {e}", bytes.len()),
            }
        });
    }

    /// (products, variants) of the demo shop.
    async fn counts(&self) -> (i64, i64) {
        let count = |table: &'static str| {
            let sql = format!("SELECT COUNT(*) FROM {table} WHERE shop_id = $1");
            let shop = self.shop_id.clone();
            async move {
                sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql))
                    .bind(shop)
                    .fetch_one(self.db.read())
                    .await
                    .expect("count")
            }
        };
        (count("products").await, count("variants").await)
    }
}

async fn login(app: &Service, email: &str) -> String {
    let body = json!({
        "query": "mutation($i: LoginInput!) { login(input: $i) { token userErrors { code } } }",
        "variables": { "i": { "email": email, "password": choso::demo::DEMO_PASSWORD } },
    });
    let (_, v) = post(app, None, body.to_string().into_bytes()).await;
    v["data"]["login"]["token"]
        .as_str()
        .unwrap_or_else(|| panic!("{email} signs in: {v}"))
        .to_string()
}

/// Posts a body to `/graphql` through the production service; the answer must be JSON with a
/// status below 500.
async fn post(app: &Service, token: Option<&str>, body: Vec<u8>) -> (StatusCode, Value) {
    let mut req = Request::post("/graphql").header(header::CONTENT_TYPE, "application/json");
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let mut req = req.body(Body::from(body)).expect("request");
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40_000))));
    let resp = app
        .clone()
        .oneshot(req)
        .await
        .expect("the router is infallible");
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .expect("body");
    assert!(
        !status.is_server_error(),
        "HTTP {status}: {}",
        String::from_utf8_lossy(&bytes)
    );
    let v: Value = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!(
            "HTTP {status}, not JSON ({e}): {}",
            String::from_utf8_lossy(&bytes)
        )
    });
    (status, v)
}
