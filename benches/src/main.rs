//! choso-bench: a load generator for Choso.
//!
//! It starts the release `choso` binary as a child process (on SQLite in a temp folder, or on
//! a fresh PostgreSQL database, dropped afterwards), gives it data — a few shops seeded
//! through the public API, or the platform-scale data set generated into the database before
//! the server starts (`scale/`) — then drives each scenario with N concurrent clients for a
//! fixed time and prints requests per second, p50/p99/p99.9 latency, errors, the server's peak
//! memory (VmHWM), and the ratio of each scenario's throughput to `/healthz` measured in the
//! same run.
//!
//! ```text
//! choso-bench [scenario…] [--backend sqlite|postgres|both] [--seconds N] [--warmup N] [--connections N]
//!             [--data api|scale] [--shops N] [--products N] [--orders N] [--keep]
//! choso-bench growth [scenario…] [--small 10] [--large 1000] [same options]
//! choso-bench generate [--shops N] [--products N] [--orders N] [--backend …] [--keep]
//! choso-bench province-dashboard [--scales 1,10,100] [--backend …] [--runs N]
//! ```
//! Scenarios: see `scenarios.rs` (default: all). PostgreSQL: `CHOSO_BENCH_POSTGRES_URL` or
//! `CHOSO_TEST_POSTGRES_URL` (a server database to create the bench databases from).

mod dataset;
mod growth;
mod load;
mod province;
mod runner;
mod scale;
mod scenarios;
mod server;
mod smtp_sink;
mod sql;
mod stock;

use runner::{Data, Options};
use server::Backend;

/// The command line, parsed.
struct Args {
    command: Command,
    opts: Options,
    backends: Vec<Backend>,
    data_scale: bool,
    shops: Option<usize>,
    products: Option<usize>,
    orders: usize,
    small: usize,
    large: usize,
}

#[derive(PartialEq)]
enum Command {
    Run,
    Growth,
    Generate,
}

fn parse_args(argv: &[String]) -> Result<Args, String> {
    let mut it = argv.iter().peekable();
    let command = match it.peek().map(|s| s.as_str()) {
        Some("growth") => {
            it.next();
            Command::Growth
        }
        Some("generate") => {
            it.next();
            Command::Generate
        }
        _ => Command::Run,
    };
    let mut a = Args {
        data_scale: command != Command::Run,
        command,
        opts: Options {
            scenarios: vec![],
            seconds: 10,
            warmup: 2,
            connections: 32,
            keep: false,
        },
        backends: vec![Backend::Sqlite, Backend::Postgres],
        shops: None,
        products: None,
        orders: 1_000,
        small: 10,
        large: 1_000,
    };
    while let Some(arg) = it.next() {
        let mut num = |name: &str| -> Result<usize, String> {
            it.next()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("{name} needs a number"))
        };
        match arg.as_str() {
            "--seconds" => a.opts.seconds = num("--seconds")? as u64,
            "--warmup" => a.opts.warmup = num("--warmup")? as u64,
            "--connections" => a.opts.connections = num("--connections")?.max(1),
            "--shops" => a.shops = Some(num("--shops")?),
            "--products" => a.products = Some(num("--products")?),
            "--orders" => a.orders = num("--orders")?,
            "--small" => a.small = num("--small")?,
            "--large" => a.large = num("--large")?,
            "--keep" => a.opts.keep = true,
            "--data" => {
                a.data_scale = match it.next().map(String::as_str) {
                    Some("api") => false,
                    Some("scale") => true,
                    other => return Err(format!("unknown data {other:?} (api or scale)")),
                }
            }
            "--backend" => {
                a.backends = match it.next().map(String::as_str) {
                    Some("sqlite") => vec![Backend::Sqlite],
                    Some("postgres") => vec![Backend::Postgres],
                    Some("both") => vec![Backend::Sqlite, Backend::Postgres],
                    other => return Err(format!("unknown backend {other:?}")),
                }
            }
            s if scenarios::ALL.contains(&s) => a.opts.scenarios.push(s.to_string()),
            other => {
                return Err(format!(
                    "unknown argument {other:?}; scenarios: {}",
                    scenarios::ALL.join(", ")
                ));
            }
        }
    }
    if a.opts.scenarios.is_empty() {
        a.opts.scenarios = scenarios::ALL.iter().map(|s| s.to_string()).collect();
    }
    if !a.opts.scenarios.iter().any(|s| s == "healthz") {
        a.opts.scenarios.insert(0, "healthz".into());
    }
    Ok(a)
}

fn fail(e: impl std::fmt::Display) -> ! {
    eprintln!("{e}");
    std::process::exit(1);
}

#[tokio::main]
async fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.first().map(String::as_str) == Some("province-dashboard") {
        if let Err(e) = province::run_cli(&argv[1..]).await {
            fail(e);
        }
        return;
    }
    let args = match parse_args(&argv) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let scale_cfg = |shops: usize| scale::Config {
        shops,
        products: args.products.unwrap_or(100),
        orders: args.orders,
    };
    match args.command {
        Command::Growth => {
            let r = growth::run(
                &args.backends,
                scale_cfg(args.small),
                scale_cfg(args.large),
                &args.opts,
            )
            .await;
            if let Err(e) = r {
                fail(e);
            }
        }
        Command::Generate => {
            for &backend in &args.backends {
                if let Err(e) = generate_only(
                    backend,
                    scale_cfg(args.shops.unwrap_or(1_000)),
                    args.opts.keep,
                )
                .await
                {
                    fail(e);
                }
            }
        }
        Command::Run => {
            let data = if args.data_scale {
                Data::Scale(scale_cfg(args.shops.unwrap_or(1_000)))
            } else {
                Data::Api {
                    shops: args.shops.unwrap_or(10),
                    products: args.products.unwrap_or(50),
                }
            };
            for &backend in &args.backends {
                if let Err(e) = runner::run(backend, data, &args.opts).await {
                    fail(e);
                }
            }
        }
    }
}

/// `generate`: makes the scale data set and prints its counts and time, without a server.
async fn generate_only(backend: Backend, cfg: scale::Config, keep: bool) -> Result<(), String> {
    let Some(fresh) = server::fresh_database(backend)? else {
        println!("{backend:?}: skipped (no PostgreSQL URL)");
        return Ok(());
    };
    println!(
        "\n== {backend:?}: generating {} shops × {} products × {} orders",
        cfg.shops, cfg.products, cfg.orders
    );
    let db = choso_services::Db::connect_and_migrate(&fresh.url)
        .await
        .map_err(sql::err)?;
    let made = scale::generate(&db, cfg).await;
    db.close().await;
    match made {
        Ok(g) => runner::print_counts(&g),
        Err(e) => {
            fresh.remove();
            return Err(e);
        }
    }
    if keep {
        println!("kept the database: {}", fresh.url);
    } else {
        fresh.remove();
    }
    Ok(())
}
