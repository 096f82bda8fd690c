//! The load loop: N concurrent clients repeat a scenario's operation, first for a warm-up
//! that is not measured, then until the time is up; latencies are kept per operation so
//! percentiles are exact.
//!
//! An operation is one request or a short sequence (the storefront checkout: add to cart,
//! add to cart, place the order), timed from its first request to its last answer. It counts
//! as an error when any of its requests fails or answers other than expected: a non-2xx
//! status; for GraphQL, an answer holding `errors` or a `userErrors` entry (a `"code":`); for
//! a form post, anything but a redirect to the expected page. Scenarios that post storefront
//! forms first open a page once per client, untimed, for a visitor cookie and its CSRF token.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use reqwest::header;

/// What a successful answer looks like.
#[derive(Debug, Clone, Copy)]
pub enum Expect {
    /// Any 2xx.
    Ok,
    /// 2xx, and neither `errors` nor a user error in the body.
    Graphql,
    /// A redirect whose `Location` holds this text (and no `error=`).
    RedirectTo(&'static str),
}

/// One request to send.
pub struct Request {
    pub url: String,
    pub json: Option<serde_json::Value>,
    pub form: Option<Vec<(&'static str, String)>>,
    pub bearer: Option<Arc<str>>,
    pub expect: Expect,
}

impl Request {
    pub fn get(url: String) -> Request {
        Request {
            url,
            json: None,
            form: None,
            bearer: None,
            expect: Expect::Ok,
        }
    }
    pub fn graphql(url: String, body: serde_json::Value) -> Request {
        Request {
            json: Some(body),
            expect: Expect::Graphql,
            ..Request::get(url)
        }
    }
    pub fn form(url: String, fields: Vec<(&'static str, String)>, to: &'static str) -> Request {
        Request {
            form: Some(fields),
            expect: Expect::RedirectTo(to),
            ..Request::get(url)
        }
    }
    pub fn bearer(mut self, token: Arc<str>) -> Request {
        self.bearer = Some(token);
        self
    }
}

/// A storefront visitor: its cookie and CSRF token (empty for scenarios without forms).
#[derive(Debug, Clone, Default)]
pub struct Visitor {
    pub cookie: String,
    pub csrf: String,
}

impl Visitor {
    /// Keeps the cookies an answer sets, as a browser would (the storefront's cart is one):
    /// a new value replaces the old one of the same name, an empty one deletes it.
    pub fn keep_cookies(&mut self, headers: &header::HeaderMap) {
        for set in headers.get_all(header::SET_COOKIE) {
            let Some((name, value)) = set
                .to_str()
                .ok()
                .and_then(|s| s.split(';').next())
                .and_then(|kv| kv.split_once('='))
            else {
                continue;
            };
            let mut jar: Vec<&str> = self
                .cookie
                .split("; ")
                .filter(|kv| !kv.is_empty() && kv.split_once('=').map(|(n, _)| n) != Some(name))
                .collect();
            let new = format!("{name}={value}");
            if !value.is_empty() {
                jar.push(&new);
            }
            self.cookie = jar.join("; ");
        }
    }
}

/// The operation number `i` (as a list of requests) of a client with `Visitor`.
pub type MakeOp = Box<dyn Fn(&Visitor, usize) -> Vec<Request> + Send + Sync>;

/// A scenario: its operations, and the page each client opens first (`client number → URL`)
/// when it needs a visitor.
pub struct Scenario {
    pub make: MakeOp,
    pub visitor_page: Option<Box<dyn Fn(usize) -> String + Send + Sync>>,
}

impl Scenario {
    pub fn simple(make: impl Fn(usize) -> Request + Send + Sync + 'static) -> Scenario {
        Scenario {
            make: Box::new(move |_, i| vec![make(i)]),
            visitor_page: None,
        }
    }
}

pub struct Outcome {
    pub latencies_us: Vec<u64>,
    pub errors: usize,
    /// Operations that succeeded during the warm-up (not measured).
    pub warmup_ok: usize,
    pub elapsed: Duration,
    /// What went wrong first, for the report.
    pub first_error: Option<String>,
}

impl Outcome {
    pub fn rps(&self) -> f64 {
        self.latencies_us.len() as f64 / self.elapsed.as_secs_f64()
    }
    /// Latency percentile in milliseconds.
    pub fn percentile(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        let idx = ((p / 100.0) * (self.latencies_us.len() - 1) as f64).round() as usize;
        self.latencies_us[idx.min(self.latencies_us.len() - 1)] as f64 / 1000.0
    }
}

pub fn client(connections: usize) -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("http client")
}

/// Checks one answer; `Err` says what was wrong.
async fn check(req: &Request, resp: reqwest::Response) -> Result<(), String> {
    let status = resp.status();
    match req.expect {
        Expect::RedirectTo(to) => {
            let location = resp
                .headers()
                .get(header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .unwrap_or("")
                .to_string();
            if status.is_redirection() && location.contains(to) && !location.contains("error=") {
                Ok(())
            } else {
                let body = resp.text().await.unwrap_or_default();
                Err(format!(
                    "{} {status} → {location:?}: {}",
                    req.url,
                    snippet(&body)
                ))
            }
        }
        Expect::Ok | Expect::Graphql => {
            let body = resp.bytes().await.map_err(|e| e.to_string())?;
            let graphql_error = matches!(req.expect, Expect::Graphql)
                && (contains(&body, b"\"errors\":") || contains(&body, b"\"code\":"));
            if status.is_success() && !graphql_error {
                Ok(())
            } else {
                Err(format!(
                    "{} {status}: {}",
                    req.url,
                    snippet(&String::from_utf8_lossy(&body))
                ))
            }
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn snippet(s: &str) -> String {
    s.chars().take(300).collect()
}

/// Sends one request as `visitor`.
async fn send(
    client: &reqwest::Client,
    visitor: &Visitor,
    req: &Request,
) -> Result<reqwest::Response, String> {
    let mut b = match (&req.json, &req.form) {
        (Some(j), _) => client.post(&req.url).json(j),
        (None, Some(f)) => client.post(&req.url).form(f),
        (None, None) => client.get(&req.url),
    };
    if let Some(t) = &req.bearer {
        b = b.bearer_auth(t);
    }
    if !visitor.cookie.is_empty() {
        b = b.header(header::COOKIE, &visitor.cookie);
    }
    b.send().await.map_err(|e| format!("{}: {e}", req.url))
}

/// Opens `url` as a new visitor: its `choso_sid` cookie and the page's CSRF token.
pub async fn new_visitor(client: &reqwest::Client, url: &str) -> Result<Visitor, String> {
    let resp = client.get(url).send().await.map_err(|e| e.to_string())?;
    let cookie = resp
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("choso_sid="))
        .and_then(|v| v.split(';').next())
        .ok_or_else(|| format!("{url}: no visitor cookie"))?
        .to_string();
    let body = resp.text().await.map_err(|e| e.to_string())?;
    let marker = "name=\"csrf\" value=\"";
    let csrf = body
        .find(marker)
        .map(|i| &body[i + marker.len()..])
        .and_then(|rest| rest.split('"').next())
        .ok_or_else(|| format!("{url}: no CSRF token on the page"))?
        .to_string();
    Ok(Visitor { cookie, csrf })
}

/// Runs the scenario from `connections` clients for `warmup` (not measured: caches fill,
/// connections open) and then for `duration`.
pub async fn run(
    scenario: Scenario,
    connections: usize,
    warmup: Duration,
    duration: Duration,
) -> Outcome {
    let scenario = Arc::new(scenario);
    let client = client(connections);
    // Visitors first (untimed), so every client starts at once.
    let mut visitors = Vec::with_capacity(connections);
    let mut first_error = None;
    for c in 0..connections {
        match &scenario.visitor_page {
            Some(page) => match new_visitor(&client, &page(c)).await {
                Ok(v) => visitors.push(Some(v)),
                Err(e) => {
                    first_error.get_or_insert(e);
                    visitors.push(None);
                }
            },
            None => visitors.push(Some(Visitor::default())),
        }
    }
    let measured_from = Instant::now() + warmup;
    let deadline = measured_from + duration;
    let mut tasks = Vec::new();
    for (c, visitor) in visitors.into_iter().enumerate() {
        let (scenario, client) = (scenario.clone(), client.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0usize;
            let mut warm = 0usize;
            let mut first_error = None;
            let Some(mut visitor) = visitor else {
                return (lat, 1, warm, first_error);
            };
            let mut i = c;
            while Instant::now() < deadline {
                let op = (scenario.make)(&visitor, i);
                i += connections;
                let t = Instant::now();
                let mut outcome = Ok(());
                for req in &op {
                    outcome = match send(&client, &visitor, req).await {
                        Ok(resp) => {
                            visitor.keep_cookies(resp.headers());
                            check(req, resp).await
                        }
                        Err(e) => Err(e),
                    };
                    if outcome.is_err() {
                        break;
                    }
                }
                match outcome {
                    Ok(()) if t < measured_from => warm += 1,
                    Ok(()) => lat.push(t.elapsed().as_micros() as u64),
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert(e);
                    }
                }
            }
            (lat, errors, warm, first_error)
        }));
    }
    let mut latencies_us = Vec::new();
    let mut errors = 0;
    let mut warmup_ok = 0;
    for t in tasks {
        if let Ok((l, e, w, fe)) = t.await {
            latencies_us.extend(l);
            errors += e;
            warmup_ok += w;
            if first_error.is_none() {
                first_error = fe;
            }
        }
    }
    let elapsed = measured_from.elapsed();
    latencies_us.sort_unstable();
    Outcome {
        latencies_us,
        errors,
        warmup_ok,
        elapsed,
        first_error,
    }
}
