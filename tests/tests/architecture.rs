//! The shape of the code base, checked: which crate may depend on which, where the ferry
//! bucket's keys are spelled, how large a ferry-core module may grow.

use std::path::{Path, PathBuf};

use ferry_tests::repo_root;

/// Every `.rs` file below `dir`, recursively.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// A file's code without its tests (a `tests.rs` file is all test; elsewhere, everything from
/// `#[cfg(test)]` on) and without comments.
fn code_without_tests(path: &Path) -> String {
    if path.file_name().is_some_and(|n| n == "tests.rs") {
        return String::new();
    }
    let src = std::fs::read_to_string(path).unwrap();
    src.split("#[cfg(test)]")
        .next()
        .unwrap()
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn functions_depend_on_ferry_core_only() {
    let functions = repo_root().join("functions");
    let mut checked = 0;
    for e in std::fs::read_dir(&functions).unwrap() {
        let manifest = std::fs::read_to_string(e.unwrap().path().join("Cargo.toml")).unwrap();
        for dep in dependencies(&manifest)
            .iter()
            .filter(|d| d.starts_with("ferry-"))
        {
            assert_eq!(
                dep, "ferry-core",
                "a function crate depends on {dep}: what two functions share belongs in ferry-core\n{manifest}"
            );
        }
        checked += 1;
    }
    assert_eq!(checked, 11, "the eleven functions");
}

/// The ferry bucket's key shapes are spelled in `shared/src/layout.rs` only: any other code that
/// writes one of these literals formats a ferry key by hand.
#[test]
fn ferry_bucket_keys_are_spelled_in_the_layout_module_only() {
    const SHAPES: &[&str] = &[
        "\"control/",
        "\"retry/",
        "\"reports/",
        "\"inventory/",
        "/waiters/",
        "waiters/",
        "run-{",
        "/job-",
        "job-{",
        "plan.json",
        "\"ferry-{",
        "ferry-{}",
    ];
    // Not ferry bucket keys: CreateJob's idempotency token `ferry-<copyId>-<run>-<job>`, and the
    // name of a copy's KMS grants `ferry-<hash>`.
    const NOT_KEYS: &[(&str, &str)] = &[
        ("shared/src/names.rs", "ferry-{}-{}-{}"),
        ("shared/src/names.rs", "format!(\"ferry-{}\", self.hash)"),
    ];
    let root = repo_root();
    let layout = root.join("shared/src/layout.rs");
    let mut found = Vec::new();
    for dir in [
        "shared/src",
        "functions",
        "cli/src",
        "local/src",
        "tests/src",
    ] {
        // ferry-core's `testing` is test support, like the tests.
        for path in rust_files(&root.join(dir)) {
            if path == layout || path.starts_with(root.join("shared/src/testing")) {
                continue;
            }
            let file = path
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .to_string();
            let code = code_without_tests(&path);
            for (n, line) in code.lines().enumerate() {
                let allowed = |s: &&str| {
                    NOT_KEYS
                        .iter()
                        .any(|(f, text)| *f == file && line.contains(text))
                        || !line.contains(*s)
                };
                if let Some(shape) = SHAPES.iter().find(|s| !allowed(s)) {
                    found.push(format!("{file}:{}: {shape}: {}", n + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "ferry bucket keys formatted outside layout.rs:\n{}",
        found.join("\n")
    );
}

/// A ferry-core module a reader can hold in mind: no file's code (tests apart) over 500 lines.
#[test]
fn ferry_core_modules_stay_small() {
    let root = repo_root();
    let large: Vec<String> = rust_files(&root.join("shared/src"))
        .into_iter()
        .map(|p| (code_without_tests(&p).lines().count(), p))
        .filter(|(n, _)| *n > 500)
        .map(|(n, p)| format!("{}: {n}", p.strip_prefix(&root).unwrap().display()))
        .collect();
    assert!(large.is_empty(), "split along its seams: {large:?}");
}

/// Just enough of Cargo.toml: the names in `[dependencies]`.
fn dependencies(manifest: &str) -> Vec<String> {
    let mut in_deps = false;
    let mut out = Vec::new();
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_deps = line == "[dependencies]";
        } else if let Some((name, _)) = line.split_once('=').filter(|_| in_deps) {
            out.push(name.trim().trim_end_matches(".workspace").to_string());
        }
    }
    out
}
