//! The `choso` binary: parses the command line and runs it (see `choso --help`).

use clap::Parser;
use tracing_subscriber::{EnvFilter, fmt};

fn main() -> std::process::ExitCode {
    tune_malloc();
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

/// glibc gives each thread that allocates under contention its own arena and keeps freed memory
/// there; with the runtime's workers and SQLite's threads that held tens of MB that no cache
/// accounted for, so the binary bounds the arenas. Two were too few: the runtime's workers and
/// SQLite's read threads queued on the arenas' locks (a sixth of the server's CPU in lock
/// hand-offs on uncached GraphQL lists); four cost no measurable memory (the peak with the
/// 1,000-shop data set, and under a sign-in flood, is as with two; benches/README.md, session
/// 20). And glibc raises its threshold for serving a large block from its own mapping each time
/// such a block is freed, so after the first password hash (argon2's 19 MiB block) every later
/// one came from an arena that kept it: a flood of sign-ins left 500–700 MB behind. A fixed
/// threshold gives blocks of 16 MiB and more back to the system when freed.
fn tune_malloc() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 4);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 16 << 20);
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
