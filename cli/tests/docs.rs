//! The docs test: README.md stays short, every relative link and anchor of the Markdown resolves,
//! `docs/src/SUMMARY.md` lists every page, and the docs name every CLI subcommand and every field
//! of the copy request (read from the code: clap's definition and the request's JSON Schema).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use clap::CommandFactory;
use ferry_cli::args::Cli;
use ferry_tests::{files_with, repo_root};

/// README.md's limit in characters: what ferry is, quick start, install, deploy, a first copy,
/// and links; the depth lives in docs/.
const README_LIMIT: usize = 15_000;

fn markdown_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = ["README.md", "CONTRIBUTING.md", "CHANGELOG.md"]
        .iter()
        .map(|f| repo_root().join(f))
        .collect();
    files.extend(files_with(&repo_root().join("docs/src"), "md"));
    files
}

/// The text outside fenced code blocks and inline code, where links are links.
fn prose(text: &str) -> String {
    let mut out = String::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            out.push('\n');
            continue;
        }
        if fenced {
            out.push('\n');
            continue;
        }
        let mut in_code = false;
        for c in line.chars() {
            if c == '`' {
                in_code = !in_code;
            } else if !in_code {
                out.push(c);
            }
        }
        out.push('\n');
    }
    out
}

/// Every inline link's target: `[text](target)`.
fn links(text: &str) -> Vec<String> {
    let prose = prose(text);
    let mut out = Vec::new();
    let mut rest = prose.as_str();
    while let Some(i) = rest.find("](") {
        let after = &rest[i + 2..];
        if let Some(end) = after.find(')') {
            out.push(after[..end].trim().to_string());
        }
        rest = after;
    }
    out
}

/// A heading's anchor as GitHub and mdBook make it: lowercase, spaces to hyphens, punctuation
/// other than hyphens and underscores dropped.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

fn anchors(text: &str) -> BTreeSet<String> {
    let mut fenced = false;
    let mut out = BTreeSet::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if !fenced && line.starts_with('#') {
            out.insert(slug(line.trim_start_matches('#').replace('`', "").as_str()));
        }
    }
    out
}

/// Every link of `file` (with text `text`) that does not resolve, as `file: target (why)`.
fn broken_links(file: &Path, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for target in links(text) {
        if target.starts_with("http://")
            || target.starts_with("https://")
            || target.starts_with("mailto:")
        {
            continue;
        }
        let (path, anchor) = match target.split_once('#') {
            Some((p, a)) => (p, Some(a)),
            None => (target.as_str(), None),
        };
        let resolved = if path.is_empty() {
            file.to_path_buf()
        } else {
            file.parent().unwrap().join(path)
        };
        if !resolved.exists() {
            out.push(format!("{}: {target} (no such file)", file.display()));
            continue;
        }
        if let Some(anchor) = anchor {
            let body = std::fs::read_to_string(&resolved).unwrap_or_default();
            if !anchors(&body).contains(anchor) {
                out.push(format!(
                    "{}: {target} (no heading #{anchor})",
                    file.display()
                ));
            }
        }
    }
    out
}

/// Every subcommand of the CLI (but clap's own `help`).
fn subcommands() -> Vec<String> {
    Cli::command()
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .filter(|n| n != "help")
        .collect()
}

/// The subcommands that `text` does not name as `ferry <command>`.
fn missing_subcommands(text: &str, commands: &[String]) -> Vec<String> {
    commands
        .iter()
        .filter(|c| !text.contains(&format!("ferry {c}")))
        .cloned()
        .collect()
}

/// Every field path of a request schema: `source.bucket`, `manifest.key`, ... (a definition is
/// followed through `$ref`; the variants of a tagged enum give their fields to the same path).
fn field_paths(schema: &serde_json::Value) -> BTreeSet<String> {
    fn walk(
        node: &serde_json::Value,
        root: &serde_json::Value,
        path: &str,
        out: &mut BTreeSet<String>,
        depth: usize,
    ) {
        if depth > 8 {
            return;
        }
        if let Some(r) = node.get("$ref").and_then(|r| r.as_str()) {
            let pointer = r.trim_start_matches('#');
            if let Some(target) = root.pointer(pointer) {
                walk(target, root, path, out, depth + 1);
            }
        }
        for key in ["oneOf", "anyOf", "allOf"] {
            for variant in node
                .get(key)
                .and_then(|v| v.as_array())
                .into_iter()
                .flatten()
            {
                walk(variant, root, path, out, depth + 1);
            }
        }
        if let Some(props) = node.get("properties").and_then(|p| p.as_object()) {
            for (name, sub) in props {
                let p = if path.is_empty() {
                    name.clone()
                } else {
                    format!("{path}.{name}")
                };
                out.insert(p.clone());
                walk(sub, root, &p, out, depth + 1);
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(schema, schema, "", &mut out, 0);
    out
}

/// The fields `text` does not name in backticks (`` `source.bucket` ``), alone or in a list
/// of fields sharing a row (`` `source.bucket`, `destination.bucket` ``).
fn missing_fields(text: &str, fields: &BTreeSet<String>) -> Vec<String> {
    fields
        .iter()
        .filter(|f| !text.contains(&format!("`{f}`")))
        .cloned()
        .collect()
}

#[test]
fn the_readme_stays_under_its_limit() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let n = readme.chars().count();
    assert!(
        n <= README_LIMIT,
        "README.md has {n} characters, more than {README_LIMIT}: move the depth into docs/"
    );
}

#[test]
fn every_relative_link_and_anchor_resolves() {
    let mut broken = Vec::new();
    let files = markdown_files();
    assert!(files.len() > 15, "the walk found {} files", files.len());
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        broken.extend(broken_links(file, &text));
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn the_summary_lists_every_page_of_the_book() {
    let src = repo_root().join("docs/src");
    let summary = std::fs::read_to_string(src.join("SUMMARY.md")).unwrap();
    let listed: BTreeSet<String> = links(&summary).into_iter().collect();
    let pages: BTreeSet<String> = markdown_files()
        .iter()
        .filter_map(|f| f.strip_prefix(&src).ok())
        .map(|p| p.to_string_lossy().to_string())
        .filter(|p| p != "SUMMARY.md")
        .collect();
    let unlisted: Vec<&String> = pages.difference(&listed).collect();
    assert!(
        unlisted.is_empty(),
        "pages SUMMARY.md does not list: {unlisted:?}"
    );
}

#[test]
fn the_docs_name_every_subcommand() {
    let commands = subcommands();
    assert!(commands.len() >= 12, "{commands:?}");
    let operate = std::fs::read_to_string(repo_root().join("docs/src/operate.md")).unwrap();
    let missing = missing_subcommands(&operate, &commands);
    assert!(
        missing.is_empty(),
        "docs/src/operate.md does not describe: {missing:?}"
    );
}

/// Every long option of every subcommand, as `--name` (clap's own `--help` aside).
fn options() -> BTreeSet<String> {
    Cli::command()
        .get_subcommands()
        .flat_map(|c| {
            c.get_arguments()
                .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
                .collect::<Vec<_>>()
        })
        .filter(|o| o != "--help")
        .collect()
}

#[test]
fn the_docs_name_every_option() {
    let options = options();
    for expected in ["--dry-run", "--config", "--profile", "--plain"] {
        assert!(options.contains(expected), "{expected} in {options:?}");
    }
    let docs: String = markdown_files()
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    let missing: Vec<&String> = options
        .iter()
        .filter(|o| !docs.contains(o.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "options no page of the docs names: {missing:?}"
    );
}

#[test]
fn the_docs_name_every_request_field() {
    let fields = field_paths(&ferry_core::request::json_schema());
    for expected in [
        "copyId",
        "source.bucket",
        "manifest.key",
        "timing.pollSeconds",
    ] {
        assert!(fields.contains(expected), "{expected} in {fields:?}");
    }
    let request = std::fs::read_to_string(repo_root().join("docs/src/request.md")).unwrap();
    let missing = missing_fields(&request, &fields);
    assert!(
        missing.is_empty(),
        "docs/src/request.md does not describe: {missing:?}"
    );
}

// The checks themselves: each fails on what it must find.

#[test]
fn a_broken_link_or_anchor_is_found() {
    let dir = std::env::temp_dir().join(format!("ferry-docs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("other.md"),
        "# Other page\n\n## Deploy and upgrade\n",
    )
    .unwrap();
    let file = dir.join("page.md");
    let text = "# Page\n\nSee [ok](other.md#deploy-and-upgrade), [self](#page), \
        [gone](missing.md), [bad anchor](other.md#nowhere), [web](https://example.com), \
        and `[code](not-a-link.md)`.\n\n```\n[fenced](nor-this.md)\n```\n";
    std::fs::write(&file, text).unwrap();
    let broken = broken_links(&file, text);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(broken.len(), 2, "{broken:?}");
    assert!(
        broken[0].ends_with("missing.md (no such file)"),
        "{broken:?}"
    );
    assert!(
        broken[1].ends_with("other.md#nowhere (no heading #nowhere)"),
        "{broken:?}"
    );
}

#[test]
fn a_subcommand_or_a_field_left_out_is_found() {
    let commands = vec!["plan".to_string(), "doctor".to_string()];
    assert_eq!(
        missing_subcommands("run `ferry plan request.json`", &commands),
        vec!["doctor"]
    );
    let schema = serde_json::json!({
        "type": "object",
        "properties": {
            "copyId": {"type": "string"},
            "source": {"$ref": "#/$defs/Source"},
            "manifest": {"oneOf": [
                {"type": "object", "properties": {"kind": {"const": "inventory"}}},
                {"type": "object", "properties": {"kind": {"const": "csv"}, "key": {"type": "string"}}}
            ]}
        },
        "$defs": {"Source": {"type": "object", "properties": {"bucket": {"type": "string"}}}}
    });
    let fields = field_paths(&schema);
    assert_eq!(
        fields.iter().cloned().collect::<Vec<_>>(),
        [
            "copyId",
            "manifest",
            "manifest.key",
            "manifest.kind",
            "source",
            "source.bucket"
        ]
    );
    let text = "| `copyId` | `source` | `source.bucket` | `manifest` | `manifest.kind` |";
    assert_eq!(missing_fields(text, &fields), vec!["manifest.key"]);
    assert_eq!(slug("Deploy and upgrade"), "deploy-and-upgrade");
    assert_eq!(
        slug("Who can do what, and what ferry refuses"),
        "who-can-do-what-and-what-ferry-refuses"
    );
}

/// The fenced blocks of `text` whose info string is `lang`.
fn fenced(text: &str, lang: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let trimmed = line.trim_start();
        match &mut current {
            None if trimmed == format!("```{lang}") => current = Some(String::new()),
            Some(block) if trimmed.starts_with("```") => {
                out.push(std::mem::take(block));
                current = None;
            }
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
            None => {}
        }
    }
    out
}

#[test]
fn the_readmes_examples_are_what_ferry_takes() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let deployments = fenced(&readme, "toml");
    assert_eq!(deployments.len(), 1, "one deployment file in the README");
    let d = ferry_cli::deploy::Deployment::parse(&deployments[0])
        .unwrap_or_else(|e| panic!("the README's deployment file: {}", e.message));
    assert_eq!(d.accounts().len(), 2);
    let requests = fenced(&readme, "json");
    assert_eq!(requests.len(), 1, "one request in the README");
    let raw: serde_json::Value = serde_json::from_str(&requests[0]).unwrap();
    let req = ferry_core::request::CopyRequest::from_value(&raw)
        .unwrap_or_else(|v| panic!("the README's request: {v}"));
    ferry_cli::plan::plan(&raw, &req).unwrap_or_else(|e| panic!("the README's request: {e}"));
}
