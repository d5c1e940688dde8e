//! The shape of the code base, checked: which crate may depend on which, where the ferry
//! bucket's keys are spelled, how large a ferry-core module may grow.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use ferry_tests::{files_with, repo_root};

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    files_with(dir, "rs")
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
    // Not ferry bucket keys: CreateJob's idempotency token `ferry-<copyId>-<run>-<job>`, the
    // name of a copy's KMS grants `ferry-<hash>`, and the stack's list parameters.
    const NOT_KEYS: &[(&str, &str)] = &[
        ("shared/src/names.rs", "ferry-{}-{}-{}"),
        ("shared/src/names.rs", "ferry-{}-{}-census"),
        ("shared/src/names.rs", "format!(\"ferry-{}\", self.hash)"),
        // The prefix of a stack's SSM list parameters, `ferry-<side>-<region>-`.
        (
            "shared/src/parameters.rs",
            "format!(\"ferry-{side}-{region}-\")",
        ),
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

/// A module a reader can hold in mind: no Rust file's code (tests and comments apart) over 500
/// lines, in ferry-core, the functions, the CLI and the sandbox's Rust side.
#[test]
fn modules_stay_small() {
    let root = repo_root();
    let large: Vec<String> = ["shared/src", "functions", "cli/src", "local/src"]
        .into_iter()
        .flat_map(|dir| rust_files(&root.join(dir)))
        .map(|p| (code_without_tests(&p).lines().count(), p))
        .filter(|(n, _)| *n > 500)
        .map(|(n, p)| format!("{}: {n}", p.strip_prefix(&root).unwrap().display()))
        .collect();
    assert!(large.is_empty(), "split along its seams: {large:?}");
}

/// The same rule for the sandbox's Python (`local/`): no module over 500 lines of code (blank
/// and comment lines apart; tests are files of their own, `test_*.py`, and do not count), but
/// for the policy evaluator, `policy.py`, which is one concern: IAM's policy language.
#[test]
fn python_modules_stay_small() {
    const ONE_CONCERN: &[&str] = &["local/sandbox/policy.py"];
    let root = repo_root();
    let modules = files_with(&root.join("local"), "py");
    // The walk finds the sandbox's modules (an empty walk would pass the rule unseen).
    assert!(
        modules.contains(&root.join("local/sandbox/batch.py")),
        "{modules:?}"
    );
    let large: Vec<String> = modules
        .into_iter()
        .filter(|p| {
            !p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("test_")
        })
        .filter(|p| !ONE_CONCERN.iter().any(|f| *p == root.join(f)))
        .map(|p| {
            let code = std::fs::read_to_string(&p).unwrap();
            let n = code
                .lines()
                .map(str::trim_start)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .count();
            (n, p)
        })
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
        if line.starts_with('#') {
            continue;
        }
        if line.starts_with('[') {
            in_deps = line == "[dependencies]";
        } else if let Some((name, _)) = line.split_once('=').filter(|_| in_deps) {
            out.push(name.trim().trim_end_matches(".workspace").to_string());
        }
    }
    out
}

/// The crates of the house and the ferry crates each may depend on: the CLI on ferry-core only
/// (its sandbox demo, behind the `demo` feature, on ferry-local as well), the sandbox on the
/// functions it hosts, the functions on ferry-core; the tests on anything.
#[test]
fn the_crate_graph_is_the_layering() {
    let root = repo_root();
    let ferry_deps = |dir: &str| -> (BTreeSet<String>, BTreeSet<String>) {
        let manifest = std::fs::read_to_string(root.join(dir).join("Cargo.toml")).unwrap();
        let (mut required, mut optional) = (BTreeSet::new(), BTreeSet::new());
        let mut in_deps = false;
        for line in manifest.lines().map(str::trim) {
            if line.starts_with('[') {
                in_deps = line == "[dependencies]";
            } else if in_deps && line.starts_with("ferry-") {
                let name = line.split(['=', '.', ' ']).next().unwrap().to_string();
                if line.contains("optional = true") {
                    optional.insert(name);
                } else {
                    required.insert(name);
                }
            }
        }
        (required, optional)
    };
    let set = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(
        ferry_deps("cli"),
        (set(&["ferry-core"]), set(&["ferry-local"]))
    );
    let cli = std::fs::read_to_string(root.join("cli/Cargo.toml")).unwrap();
    assert!(
        cli.contains("demo = [\"dep:ferry-local\"]"),
        "the sandbox only behind `demo`"
    );
    let (local, none) = ferry_deps("local");
    assert!(none.is_empty());
    assert!(local.contains("ferry-core"));
    for dep in &local {
        assert!(
            dep == "ferry-core"
                || root
                    .join("functions")
                    .join(dep.trim_start_matches("ferry-"))
                    .is_dir(),
            "the sandbox depends on {dep}, which is neither ferry-core nor a function"
        );
    }
    assert_eq!(ferry_deps("shared"), (set(&[]), set(&[])));
}

/// The top-level ferry-core modules other code reaches with `crate::` from `code`: a path's
/// first segment when it names a module, `error` for the root's re-exports of `ErrorName` and
/// `StepError`; braced groups (`use crate::{a::X, b}`) item by item.
fn crate_references(code: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut first_segment = |item: &str| {
        let segment: String = item
            .trim()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if modules.contains(&segment) {
            out.insert(segment);
        } else if segment == "ErrorName" || segment == "StepError" {
            out.insert("error".to_string());
        }
    };
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // The group's top-level items, braces nested inside them skipped.
            let (mut depth, mut item) = (0, String::new());
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        first_segment(&item);
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                if depth == 0 || c != '{' {
                    item.push(c);
                }
            }
            first_segment(&item);
        } else {
            first_segment(rest);
        }
    }
    out
}

/// Every circle in `edges` (module -> modules it reaches), each as its modules in order, each
/// found once (from its smallest module).
fn circles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    fn walk(
        edges: &BTreeMap<String, BTreeSet<String>>,
        start: &str,
        path: &mut Vec<String>,
        out: &mut Vec<Vec<String>>,
    ) {
        let last = path.last().unwrap().clone();
        for next in edges.get(&last).into_iter().flatten() {
            if next == start {
                out.push(path.clone());
            } else if next.as_str() > start && !path.contains(next) {
                path.push(next.clone());
                walk(edges, start, path, out);
                path.pop();
            }
        }
    }
    let mut out = Vec::new();
    for start in edges.keys() {
        walk(edges, start, &mut vec![start.clone()], &mut out);
    }
    out
}

/// ferry-core's modules import one another in one direction only: a module that needs another
/// must not be needed by it, directly or through others (a leaf module holds what both sides
/// share). Submodules count as their top-level module; tests do not count.
#[test]
fn ferry_core_modules_import_no_circle() {
    let src = repo_root().join("shared/src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    let modules: BTreeSet<String> = lib
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            l.strip_prefix("pub mod ")
                .or_else(|| l.strip_prefix("mod "))
                .and_then(|m| m.strip_suffix(';'))
                .map(str::to_string)
        })
        .collect();
    assert!(modules.len() > 20, "{modules:?}");
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for path in rust_files(&src) {
        let relative = path.strip_prefix(&src).unwrap();
        let first = relative.iter().next().unwrap().to_string_lossy();
        let module = first.trim_end_matches(".rs").to_string();
        if module == "lib" || module == "testing" {
            continue;
        }
        let reached = crate_references(&code_without_tests(&path), &modules);
        let entry = edges.entry(module.clone()).or_default();
        entry.extend(
            reached
                .into_iter()
                .filter(|m| *m != module && m != "testing"),
        );
    }
    let found = circles(&edges);
    let shown: Vec<String> = found
        .iter()
        .map(|c| format!("{} -> {}", c.join(" -> "), c[0]))
        .collect();
    assert!(
        found.is_empty(),
        "import circles among ferry-core's modules:\n{}",
        shown.join("\n")
    );
}

/// The circle check itself: it reads grouped and plain paths, and finds a circle of two and of
/// three, each once.
#[test]
fn the_circle_check_finds_circles() {
    let modules: BTreeSet<String> = ["a", "b", "c", "error"].map(String::from).into();
    assert_eq!(
        crate_references(
            "use crate::{a::X, b::{Y, Z}, ErrorName};\nlet x = crate::c::f();",
            &modules
        ),
        ["a", "b", "c", "error"].map(String::from).into()
    );
    let graph = |pairs: &[(&str, &str)]| {
        let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (from, to) in pairs {
            g.entry(from.to_string())
                .or_default()
                .insert(to.to_string());
        }
        g
    };
    assert_eq!(
        circles(&graph(&[("a", "b"), ("b", "a"), ("b", "c")])),
        [vec!["a".to_string(), "b".to_string()]]
    );
    assert_eq!(
        circles(&graph(&[("a", "b"), ("b", "c"), ("c", "a")])).len(),
        1
    );
    assert!(circles(&graph(&[("a", "b"), ("b", "c"), ("a", "c")])).is_empty());
}

/// The ferry crates in the dependency tree `cargo install --locked --path cli` builds (the
/// normal and build dependencies of ferry-cli, with `extra` features).
fn installed_cli_crates(extra: &[&str]) -> BTreeSet<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .current_dir(repo_root())
        .args([
            "tree",
            "-p",
            "ferry-cli",
            "-e",
            "normal,build",
            "--prefix",
            "none",
            "--locked",
            "--offline",
        ])
        .args(extra)
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| name.starts_with("ferry-"))
        .map(str::to_string)
        .collect()
}

/// The CLI as installed holds no sandbox and no Lambda function: ferry-cli and ferry-core are
/// its only ferry crates. With the `demo` feature (as `make demo` builds it) the sandbox and
/// the functions it hosts come in, which shows the check sees them.
#[test]
fn the_installed_cli_depends_on_no_sandbox_and_no_function() {
    let lean = installed_cli_crates(&[]);
    assert_eq!(
        lean,
        ["ferry-cli", "ferry-core"]
            .iter()
            .map(|s| s.to_string())
            .collect::<BTreeSet<_>>()
    );
    let demo = installed_cli_crates(&["--features", "demo"]);
    for crate_name in ["ferry-local", "ferry-plan", "ferry-copy-worker"] {
        assert!(demo.contains(crate_name), "{crate_name} in {demo:?}");
    }
}
