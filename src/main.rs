//! The `choso` binary: parses the command line and runs it (see `choso --help`).

use clap::Parser;
use tracing_subscriber::{EnvFilter, fmt};

/// mimalloc instead of glibc's malloc: under load glibc spent about a fifth of the server's
/// CPU in its own locking and consolidation (with one arena per busy thread it also kept tens
/// of MB that no cache accounted for; limited to two arenas, the threads queued on them).
/// Built without transparent huge pages (`no_thp`: 2 MB pages made the resident size jump),
/// and told to return freed memory at once (see [`purge_at_once`]).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    purge_at_once();
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(run()),
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// mimalloc keeps freed memory for a second before giving it back to the system
/// (`purge_delay`, 1000 ms); under load that held tens of MB. Option 15 is `purge_delay` in
/// the mimalloc built by libmimalloc-sys 0.1.49 (v3.3); it is changed only when it holds that
/// option's default, so another build's numbering changes nothing.
fn purge_at_once() {
    const PURGE_DELAY: std::ffi::c_int = 15;
    unsafe extern "C" {
        fn mi_option_get(option: std::ffi::c_int) -> std::ffi::c_long;
        fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
    }
    // SAFETY: both only read or write one of mimalloc's option values.
    unsafe {
        if mi_option_get(PURGE_DELAY) == 1000 {
            mi_option_set(PURGE_DELAY, 0);
        }
    }
}

async fn run() -> std::process::ExitCode {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    if std::env::var("CHOSO_LOG_FORMAT").as_deref() == Ok("json") {
        fmt()
            .with_env_filter(filter)
            .json()
            .with_current_span(true)
            .init();
    } else {
        fmt().with_env_filter(filter).init();
    }
    let cli = choso::cli::Cli::parse();
    match choso::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
