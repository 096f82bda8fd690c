//! Replays the fuzz targets' committed inputs through the checks the cargo-fuzz targets run
//! (`tests/fuzz/src/lib.rs`, included here by path), so every `cargo test` keeps them
//! passing without libFuzzer: the seeds (`tests/fuzz/seeds/<target>/`) and the inputs that
//! once broke a check (`tests/fuzz/regressions/<target>/`). How to fuzz: `tests/fuzz/README.md`.

#[path = "fuzz/src/lib.rs"]
mod checks;

use std::path::{Path, PathBuf};

/// Every committed input of a target; a target without seeds is a mistake, not a pass.
fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz");
    let mut out = Vec::new();
    for kind in ["seeds", "regressions"] {
        let dir = root.join(kind).join(target);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries {
            let path = e.expect("a readable folder").path();
            let data = std::fs::read(&path).expect("a readable input");
            out.push((path, data));
        }
    }
    out.sort();
    assert!(
        out.iter()
            .any(|(p, _)| p.components().any(|c| c.as_os_str() == "seeds")),
        "no seeds for the fuzz target {target}"
    );
    out
}

fn replay(target: &str, check: impl Fn(&[u8])) {
    for (path, data) in inputs(target) {
        // Printed before the check, so a failure names its input.
        println!("{}", path.display());
        check(&data);
    }
}

#[test]
fn text() {
    replay("text", checks::text);
}

#[test]
fn vietqr() {
    replay("vietqr", checks::vietqr);
}

#[test]
fn csv() {
    replay("csv", checks::csv);
}

#[test]
fn csv_import() {
    replay("csv_import", |d| checks::App::get().csv_import(d));
}

#[test]
fn graphql() {
    replay("graphql", |d| checks::App::get().graphql(d));
}
