//! One benchmark run on one backend: a fresh database, its data (seeded through the API, or
//! generated at scale before the server starts), the server, every scenario in turn with its
//! ratio to `/healthz` of the same run, the server's peak memory, and after ordering load the
//! oversell check. Prints as it goes and returns the figures (the growth report compares two).

use std::{sync::Arc, time::Duration};

use choso_services::Db;

use crate::{
    dataset::DataSet,
    load, scale, scenarios,
    server::{self, Backend, ChildServer},
    sql::err,
    stock::{self, StockCheck},
};

/// Where the data comes from.
#[derive(Debug, Clone, Copy)]
pub enum Data {
    /// Shops and products created through the GraphQL API (small runs).
    Api { shops: usize, products: usize },
    /// The scale generator, before the server starts.
    Scale(scale::Config),
}

#[derive(Debug, Clone)]
pub struct Options {
    pub scenarios: Vec<String>,
    pub seconds: u64,
    /// Unmeasured seconds before each scenario's measurement.
    pub warmup: u64,
    pub connections: usize,
    pub keep: bool,
}

/// One scenario's figures (what the growth report compares).
pub struct Row {
    pub name: String,
    pub rps: f64,
    pub p99: f64,
    pub errors: usize,
}

pub struct Report {
    pub rows: Vec<Row>,
    pub peak_mb: f64,
    pub stock: Option<StockCheck>,
}

/// Runs every scenario on `backend` over `data`; `None` when the backend is not configured.
pub async fn run(backend: Backend, data: Data, opts: &Options) -> Result<Option<Report>, String> {
    let Some(fresh) = server::fresh_database(backend)? else {
        println!(
            "\n== {backend:?}: skipped (set CHOSO_BENCH_POSTGRES_URL or CHOSO_TEST_POSTGRES_URL)"
        );
        return Ok(None);
    };
    let generated = match data {
        Data::Scale(cfg) => {
            println!(
                "\n== {backend:?}: generating {} shops × {} products × {} orders",
                cfg.shops, cfg.products, cfg.orders
            );
            let made = async {
                let db = Db::connect_and_migrate(&fresh.url).await.map_err(err)?;
                let g = scale::generate(&db, cfg).await;
                db.close().await;
                g
            }
            .await;
            match made {
                Ok(g) => {
                    print_counts(&g);
                    Some(g.dataset)
                }
                Err(e) => {
                    fresh.remove();
                    return Err(e);
                }
            }
        }
        Data::Api { .. } => None,
    };
    let server = match ChildServer::start(fresh).await {
        Ok(s) => s,
        Err(e) => return Err(format!("cannot start choso on {backend:?}: {e}")),
    };
    let data_set = match (generated, data) {
        (Some(d), _) => Ok(d),
        (None, Data::Api { shops, products }) => server::seed(&server.base, shops, products)
            .await
            .map_err(|e| format!("seeding failed: {e}")),
        (None, Data::Scale(_)) => Err("no generated data".to_string()),
    };
    let data_set = match data_set {
        Ok(d) => d,
        Err(e) => {
            server.stop(opts.keep);
            return Err(e);
        }
    };
    let report = measure(backend, &server, Arc::new(data_set), data, opts).await;
    server.stop(opts.keep);
    report.map(Some)
}

pub fn print_counts(g: &scale::Generated) {
    let counts: Vec<String> = g
        .counts
        .iter()
        .map(|(t, n)| format!("{t} {}", thousands(*n)))
        .collect();
    println!("   {}", counts.join(" · "));
    println!("   generated in {:.1} s", g.seconds);
}

/// `1234567` → `1,234,567`.
pub fn thousands(n: i64) -> String {
    let s = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

async fn measure(
    backend: Backend,
    server: &ChildServer,
    data: Arc<DataSet>,
    data_kind: Data,
    opts: &Options,
) -> Result<Report, String> {
    println!(
        "\n== {backend:?}: {} shops ({}), {} connections, {} s per scenario after {} s of warm-up",
        data.slugs.len(),
        match data_kind {
            Data::Api { .. } => "seeded through the API",
            Data::Scale(_) => "scale data set",
        },
        opts.connections,
        opts.seconds,
        opts.warmup
    );
    println!(
        "{:<24} {:>9} {:>9} {:>9} {:>9} {:>7} {:>7} {:>12}",
        "scenario", "req/s", "p50 ms", "p99 ms", "p99.9 ms", "errors", "ratio", "RSS/peak MB"
    );
    let started = choso_services::ids::now_ms();
    let mut rows: Vec<Row> = Vec::new();
    let mut healthz = None;
    let mut ordered = false;
    let mut orders_ok = 0;
    for name in &opts.scenarios {
        let Some(scenario) = scenarios::build(name, &server.base, &data) else {
            println!("{name:<24} (not available with this data set)");
            continue;
        };
        ordered |= scenarios::ORDERING.contains(&name.as_str());
        let out = load::run(
            scenario,
            opts.connections,
            Duration::from_secs(opts.warmup),
            Duration::from_secs(opts.seconds),
        )
        .await;
        let rps = out.rps();
        if scenarios::ORDERING.contains(&name.as_str()) {
            orders_ok += out.latencies_us.len() + out.warmup_ok;
        }
        if name == "healthz" {
            healthz = Some(rps);
        }
        let ratio = match healthz {
            Some(h) if h > 0.0 => rps / h,
            _ => 0.0,
        };
        println!(
            "{:<24} {:>9.0} {:>9.2} {:>9.2} {:>9.2} {:>7} {:>7.3} {:>5.0}/{:<6.0}",
            name,
            rps,
            out.percentile(50.0),
            out.percentile(99.0),
            out.percentile(99.9),
            out.errors,
            ratio,
            server.memory_mb(),
            server.peak_memory_mb()
        );
        if let Some(e) = &out.first_error {
            println!("    first error: {e}");
        }
        rows.push(Row {
            name: name.clone(),
            rps,
            p99: out.percentile(99.0),
            errors: out.errors,
        });
    }
    let peak_mb = server.peak_memory_mb();
    println!("server peak memory (VmHWM): {peak_mb:.1} MB");
    let stock = if ordered {
        let c = stock::check(server.database_url(), started).await?;
        println!("{c} ({orders_ok} ordering operations succeeded)");
        // The outbox is delivered a moment after its orders commit.
        tokio::time::sleep(Duration::from_secs(2)).await;
        println!(
            "e-mails delivered over SMTP during the run: {}",
            server.mails_delivered()
        );
        Some(c)
    } else {
        None
    };
    Ok(Report {
        rows,
        peak_mb,
        stock,
    })
}
