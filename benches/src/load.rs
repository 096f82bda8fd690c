//! The load loop: N concurrent clients send requests until the time is up; latencies are
//! kept per request so percentiles are exact.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

/// One request to send.
pub struct Request {
    pub url: String,
    pub body: Option<serde_json::Value>,
}

impl Request {
    pub fn get(url: String) -> Request {
        Request { url, body: None }
    }
    pub fn post_json(url: String, body: serde_json::Value) -> Request {
        Request {
            url,
            body: Some(body),
        }
    }
}

pub struct Outcome {
    pub latencies_us: Vec<u64>,
    pub errors: usize,
    pub elapsed: Duration,
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

/// Runs `make(i)` requests from `connections` clients for `duration`. A request counts as an
/// error when it fails, answers non-2xx, or answers GraphQL `errors`.
pub async fn run(
    make: Box<dyn Fn(usize) -> Request + Send + Sync>,
    connections: usize,
    duration: Duration,
) -> Outcome {
    let make = Arc::new(make);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .build()
        .expect("http client");
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = Vec::new();
    for c in 0..connections {
        let (make, client) = (make.clone(), client.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0usize;
            let mut i = c;
            while Instant::now() < deadline {
                let req = make(i);
                i += connections;
                let t = Instant::now();
                let sent = match &req.body {
                    Some(b) => client.post(&req.url).json(b).send().await,
                    None => client.get(&req.url).send().await,
                };
                let ok = match sent {
                    Ok(r) if r.status().is_success() => match r.bytes().await {
                        Ok(b) => {
                            !(req.body.is_some()
                                && (b.windows(9).any(|w| w == b"\"errors\":")
                                    || b.windows(7).any(|w| w == b"\"code\":")))
                        }
                        Err(_) => false,
                    },
                    _ => false,
                };
                if ok {
                    lat.push(t.elapsed().as_micros() as u64);
                } else {
                    errors += 1;
                }
            }
            (lat, errors)
        }));
    }
    let mut latencies_us = Vec::new();
    let mut errors = 0;
    for t in tasks {
        if let Ok((l, e)) = t.await {
            latencies_us.extend(l);
            errors += e;
        }
    }
    let elapsed = start.elapsed();
    latencies_us.sort_unstable();
    Outcome {
        latencies_us,
        errors,
        elapsed,
    }
}
