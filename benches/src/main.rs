//! choso-bench: a load generator for Choso.
//!
//! It starts the release `choso` binary as a child process (on SQLite in a temp folder, or on
//! a fresh PostgreSQL database), seeds shops and products through the public API, then drives
//! each scenario with N concurrent clients for a fixed time and prints requests per second,
//! p50/p99/p99.9 latency, errors, the server's peak memory (VmHWM), and the ratio of each
//! scenario's throughput to `/healthz` measured in the same run.
//!
//! Usage: `cargo build --release && cargo run --release -p choso-bench -- [scenario…]
//!        [--backend sqlite|postgres|both] [--seconds N] [--connections N] [--shops N] [--products N]`
//! Scenarios: healthz, home-page, product-page, graphql-products, place-order (default: all).
//! `choso-bench province-dashboard` times the province dashboard at 1×, 10× and 100× data
//! (see `province.rs`). PostgreSQL: `CHOSO_BENCH_POSTGRES_URL`
//! or `CHOSO_TEST_POSTGRES_URL` (a server database to create the bench database from).

mod load;
mod province;
mod server;

use std::time::Duration;

use serde_json::json;

use crate::{
    load::{Outcome, Request, run},
    server::{Backend, ChildServer},
};

struct Args {
    scenarios: Vec<String>,
    backends: Vec<Backend>,
    seconds: u64,
    connections: usize,
    shops: usize,
    products: usize,
}

const ALL: &[&str] = &[
    "healthz",
    "home-page",
    "product-page",
    "graphql-products",
    "place-order",
];

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        scenarios: vec![],
        backends: vec![Backend::Sqlite, Backend::Postgres],
        seconds: 10,
        connections: 32,
        shops: 10,
        products: 50,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut num = |name: &str| -> Result<usize, String> {
            it.next()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("{name} needs a number"))
        };
        match arg.as_str() {
            "--seconds" => a.seconds = num("--seconds")? as u64,
            "--connections" => a.connections = num("--connections")?,
            "--shops" => a.shops = num("--shops")?,
            "--products" => a.products = num("--products")?,
            "--backend" => {
                a.backends = match it.next().as_deref() {
                    Some("sqlite") => vec![Backend::Sqlite],
                    Some("postgres") => vec![Backend::Postgres],
                    Some("both") => vec![Backend::Sqlite, Backend::Postgres],
                    other => return Err(format!("unknown backend {other:?}")),
                }
            }
            s if ALL.contains(&s) => a.scenarios.push(s.to_string()),
            other => {
                return Err(format!(
                    "unknown argument {other:?}; scenarios: {}",
                    ALL.join(", ")
                ));
            }
        }
    }
    if a.scenarios.is_empty() {
        a.scenarios = ALL.iter().map(|s| s.to_string()).collect();
    }
    if !a.scenarios.iter().any(|s| s == "healthz") {
        a.scenarios.insert(0, "healthz".into());
    }
    Ok(a)
}

#[tokio::main]
async fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.first().map(String::as_str) == Some("province-dashboard") {
        if let Err(e) = province::run_cli(&argv[1..]).await {
            eprintln!("{e}");
            std::process::exit(1);
        }
        return;
    }
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    for backend in &args.backends {
        let server = match ChildServer::start(*backend).await {
            Ok(Some(s)) => s,
            Ok(None) => {
                println!(
                    "\n== {backend:?}: skipped (set CHOSO_BENCH_POSTGRES_URL or CHOSO_TEST_POSTGRES_URL)"
                );
                continue;
            }
            Err(e) => {
                eprintln!("cannot start choso on {backend:?}: {e}");
                std::process::exit(1);
            }
        };
        let seeded = match server::seed(&server.base, args.shops, args.products).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("seeding failed: {e}");
                std::process::exit(1);
            }
        };
        println!(
            "\n== {backend:?}: {} shops × {} products, {} connections, {} s per scenario",
            args.shops, args.products, args.connections, args.seconds
        );
        println!(
            "{:<20} {:>10} {:>9} {:>9} {:>9} {:>7} {:>8}",
            "scenario", "req/s", "p50 ms", "p99 ms", "p99.9 ms", "errors", "ratio"
        );
        let mut healthz_rps = None;
        for scenario in &args.scenarios {
            let make = request_for(scenario, &server.base, &seeded);
            let out: Outcome = run(make, args.connections, Duration::from_secs(args.seconds)).await;
            let ratio = match healthz_rps {
                Some(h) if h > 0.0 => format!("{:.3}", out.rps() / h),
                _ => "1.000".to_string(),
            };
            if scenario == "healthz" {
                healthz_rps = Some(out.rps());
            }
            println!(
                "{:<20} {:>10.0} {:>9.2} {:>9.2} {:>9.2} {:>7} {:>8}",
                scenario,
                out.rps(),
                out.percentile(50.0),
                out.percentile(99.0),
                out.percentile(99.9),
                out.errors,
                ratio
            );
        }
        println!(
            "server peak memory (VmHWM): {:.1} MB",
            server.peak_memory_mb()
        );
        server.stop();
    }
}

fn request_for(
    scenario: &str,
    base: &str,
    seeded: &server::Seeded,
) -> Box<dyn Fn(usize) -> Request + Send + Sync> {
    let base = base.to_string();
    let slugs = seeded.slugs.clone();
    match scenario {
        "graphql-products" => Box::new(move |i| {
            let slug = &slugs[i % slugs.len()];
            let q = "query($s: String!) { shop(slug: $s) { products(first: 20) { edges { node { id title handle priceRange { min { amount } max { amount } } variants { id title price { amount formatted } available } } } } } }";
            Request::post_json(
                format!("{base}/graphql"),
                json!({ "query": q, "variables": { "s": slug } }),
            )
        }),
        "home-page" => {
            Box::new(move |i| Request::get(format!("{base}/s/{}/", slugs[i % slugs.len()])))
        }
        "product-page" => {
            let handles = seeded.handles.clone();
            Box::new(move |i| {
                let s = i % slugs.len();
                let hs = &handles[s];
                Request::get(format!(
                    "{base}/s/{}/products/{}",
                    slugs[s],
                    hs[(i / slugs.len()) % hs.len()]
                ))
            })
        }
        "place-order" => {
            let variants = seeded.variants.clone();
            Box::new(move |i| {
                let s = i % slugs.len();
                let vs = &variants[s];
                let q = "mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { order { number total { amount } } userErrors { code } } }";
                let input = json!({
                    "shopSlug": slugs[s],
                    "lines": [{ "variantId": vs[i % vs.len()], "quantity": 1 }, { "variantId": vs[(i * 7 + 3) % vs.len()], "quantity": 2 }],
                    "customer": { "name": "Khách Bench", "phone": "0912345678" },
                    "shippingAddress": { "line1": "1 Lê Lợi", "provinceCode": "46" },
                    "paymentMethod": "COD"
                });
                Request::post_json(
                    format!("{base}/graphql"),
                    json!({ "query": q, "variables": { "i": input } }),
                )
            })
        }
        _ => Box::new(move |_| Request::get(format!("{base}/healthz"))),
    }
}
