//! The growth report: the same scenarios on the scale data set at a small and a large number
//! of shops (same data per shop), on each backend; per scenario the p99 latency at both sizes
//! and their ratio (target ≤ 2×: no statement whose cost grows with the platform), the
//! throughput at both, the server's peak memory with the large set (target < 100 MB), and the
//! oversell check after ordering load.

use crate::{
    runner::{self, Data, Options, Report},
    scale,
    server::Backend,
};

pub const P99_GROWTH_TARGET: f64 = 2.0;
pub const MEMORY_TARGET_MB: f64 = 100.0;

/// Runs both sizes on every backend and prints the comparison.
pub async fn run(
    backends: &[Backend],
    small: scale::Config,
    large: scale::Config,
    opts: &Options,
) -> Result<(), String> {
    let mut summaries = Vec::new();
    for &backend in backends {
        let Some(a) = runner::run(backend, Data::Scale(small), opts).await? else {
            continue;
        };
        let Some(b) = runner::run(backend, Data::Scale(large), opts).await? else {
            continue;
        };
        summaries.push((backend, a, b));
    }
    for (backend, a, b) in &summaries {
        print(*backend, small.shops, large.shops, a, b);
    }
    Ok(())
}

fn print(backend: Backend, small: usize, large: usize, a: &Report, b: &Report) {
    println!(
        "\n== growth on {backend:?}: {small} → {large} shops (p99 may grow at most {P99_GROWTH_TARGET}×)"
    );
    println!(
        "{:<24} {:>10} {:>10} {:>8} {:>10} {:>10} {:>8}  verdict",
        "scenario", "p99 small", "p99 large", "growth", "req/s sm", "req/s lg", "errors"
    );
    for ra in &a.rows {
        let Some(rb) = b.rows.iter().find(|r| r.name == ra.name) else {
            continue;
        };
        let growth = if ra.p99 > 0.0 { rb.p99 / ra.p99 } else { 0.0 };
        println!(
            "{:<24} {:>10.2} {:>10.2} {:>7.2}× {:>10.0} {:>10.0} {:>8}  {}",
            ra.name,
            ra.p99,
            rb.p99,
            growth,
            ra.rps,
            rb.rps,
            ra.errors + rb.errors,
            if growth <= P99_GROWTH_TARGET {
                "ok"
            } else {
                "GROWS"
            }
        );
    }
    println!(
        "server peak memory: {:.1} MB with {small} shops, {:.1} MB with {large} shops (target < {MEMORY_TARGET_MB} MB: {})",
        a.peak_mb,
        b.peak_mb,
        if b.peak_mb < MEMORY_TARGET_MB {
            "ok"
        } else {
            "OVER"
        }
    );
    for (size, r) in [(small, a), (large, b)] {
        if let Some(c) = &r.stock {
            println!("{size} shops: {c}");
        }
    }
}
