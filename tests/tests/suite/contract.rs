//! ferry against AWS's own payloads (the contract corpus, `shared/fixtures/contract/`, each file
//! with its origin in `SOURCES.md`): every ferry parser reads every payload of its kind, and
//! every payload the sandbox emits in AWS's place has the corpus's shape. The sandbox was written
//! from the same reading of AWS as ferry; this is what keeps a misreading (a field's name, a
//! value's type) from passing in both.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use ferry_core::inventory::InventoryManifest;
use ferry_core::report::{ReportManifest, ReportRows, TaskResult};
use ferry_core::status_change::ExecutionStatusChange;
use ferry_core::worker::{WorkerEvent, WorkerResponse};
use ferry_tests::*;
use serde_json::{json, Value};

fn corpus_dir() -> PathBuf {
    repo_root().join("shared/fixtures/contract")
}

/// One row of `SOURCES.md`.
#[derive(Debug, Clone)]
struct Entry {
    file: String,
    conformance: bool,
}

impl Entry {
    fn kind(&self) -> &str {
        self.file.split('/').next().unwrap()
    }

    fn text(&self) -> String {
        std::fs::read_to_string(corpus_dir().join(&self.file)).unwrap()
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.text())
            .unwrap_or_else(|e| panic!("{}: not JSON: {e}", self.file))
    }
}

fn sources() -> Vec<Entry> {
    let text = std::fs::read_to_string(corpus_dir().join("SOURCES.md")).unwrap();
    text.lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| File") && !l.starts_with("|---"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            assert!(cells.len() >= 5, "SOURCES.md row without its cells: {l}");
            assert!(
                !cells[2].is_empty(),
                "SOURCES.md: {} names no origin",
                cells[1]
            );
            Entry {
                file: cells[1].to_string(),
                conformance: match cells[3] {
                    "yes" => true,
                    "no" => false,
                    other => panic!("SOURCES.md: {}: Conformance {other:?}", cells[1]),
                },
            }
        })
        .collect()
}

fn of_kind(kind: &str) -> Vec<Entry> {
    let found: Vec<Entry> = sources().into_iter().filter(|e| e.kind() == kind).collect();
    assert!(!found.is_empty(), "the corpus has no {kind}");
    found
}

#[test]
fn every_corpus_file_has_its_origin_and_every_origin_its_file() {
    let listed: BTreeSet<String> = sources().into_iter().map(|e| e.file).collect();
    let mut on_disk = BTreeSet::new();
    for kind in std::fs::read_dir(corpus_dir()).unwrap() {
        let kind = kind.unwrap();
        if !kind.file_type().unwrap().is_dir() {
            continue;
        }
        for f in std::fs::read_dir(kind.path()).unwrap() {
            on_disk.insert(format!(
                "{}/{}",
                kind.file_name().to_string_lossy(),
                f.unwrap().file_name().to_string_lossy()
            ));
        }
    }
    assert_eq!(listed, on_disk, "SOURCES.md and the corpus's files");
}

// ---- every parser reads every payload of its kind ----

#[test]
fn the_worker_reads_every_batch_invoke_event_of_both_schemas() {
    for e in of_kind("batch-invoke-event") {
        let raw = e.json();
        let event: WorkerEvent =
            serde_json::from_value(raw.clone()).unwrap_or_else(|err| panic!("{}: {err}", e.file));
        let task = &raw["tasks"][0];
        // The bucket's name, whichever field carries it and whatever form the ARN takes.
        let expected = ["s3Bucket", "s3BucketName", "s3BucketArn"]
            .iter()
            .find_map(|f| task[f].as_str())
            .map(|b| b.rsplit(':').next().unwrap().to_string())
            .unwrap();
        assert_eq!(event.tasks[0].bucket().unwrap(), expected, "{}", e.file);
        if event.invocation_schema_version == "2.0" {
            assert!(
                !event.job.user_arguments.is_empty(),
                "{}: 2.0 carries userArguments",
                e.file
            );
        }
    }
}

#[test]
fn the_workers_answer_has_the_documented_fields() {
    let ours = {
        let event: WorkerEvent =
            serde_json::from_value(of_kind("batch-invoke-event")[0].json()).unwrap();
        serde_json::to_value(WorkerResponse::new(&event, Vec::new())).unwrap()
    };
    for e in of_kind("batch-invoke-response") {
        // AWS's answers read as ferry's type, and ferry's has their fields, no other.
        let theirs = e.json();
        let parsed: WorkerResponse = serde_json::from_value(theirs.clone())
            .unwrap_or_else(|err| panic!("{}: {err}", e.file));
        assert_eq!(parsed.results.len(), 1, "{}", e.file);
        let keys = |v: &Value| {
            v.as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect::<BTreeSet<_>>()
        };
        assert_eq!(keys(&ours), keys(&theirs), "{}", e.file);
    }
}

#[test]
fn inventory_delivered_reads_every_s3_event() {
    for e in of_kind("s3-event") {
        let event: aws_lambda_events::s3::S3Event =
            serde_json::from_value(e.json()).unwrap_or_else(|err| panic!("{}: {err}", e.file));
        let record = &event.records[0];
        assert!(record.s3.bucket.name.is_some(), "{}", e.file);
        let key = record.s3.object.key.as_deref().unwrap();
        ferry_core::manifest::decode_key(key).unwrap_or_else(|err| panic!("{}: {err}", e.file));
    }
}

#[test]
fn cleanup_start_reads_every_status_change_event() {
    for e in of_kind("sfn-status-change") {
        let change = ExecutionStatusChange::from_value(e.json())
            .unwrap_or_else(|err| panic!("{}: {err}", e.file));
        assert_eq!(change.detail.name, "execution-name", "{}", e.file);
        assert!(!change.detail.status.is_empty());
    }
    let mut other = of_kind("sfn-status-change")[0].json();
    other["detail-type"] = json!("EC2 Instance State-change Notification");
    assert!(ExecutionStatusChange::from_value(other)
        .unwrap_err()
        .contains("detail-type"));
}

#[test]
fn job_submit_reads_every_inventory_manifest() {
    for e in of_kind("inventory-manifest") {
        let m = InventoryManifest::parse(e.text().as_bytes())
            .unwrap_or_else(|err| panic!("{}: {err}", e.file));
        m.columns()
            .unwrap_or_else(|err| panic!("{}: {err}", e.file));
        assert!(!m.files.is_empty());
    }
}

#[test]
fn job_report_reads_every_report_manifest_and_row() {
    for e in of_kind("report-manifest") {
        let m = ReportManifest::parse(e.text().as_bytes())
            .unwrap_or_else(|err| panic!("{}: {err}", e.file));
        assert_eq!(m.failed_results().count(), 1, "{}", e.file);
    }
    let columns = ReportManifest::parse(of_kind("report-manifest")[0].text().as_bytes())
        .unwrap()
        .columns()
        .unwrap();
    for e in of_kind("report-row") {
        let text = e.text();
        let mut rows = ReportRows::new(text.as_bytes(), columns.clone(), e.file.clone());
        let mut task = TaskResult::default();
        let mut n = 0;
        while rows
            .read_into(&mut task)
            .unwrap_or_else(|err| panic!("{}: {err}", e.file))
        {
            n += 1;
            assert_eq!(task.bucket, "awsexamplebucket1", "{}", e.file);
            assert_eq!(task.http_status, Some(200), "{}", e.file);
            if task.task_status == "failed" {
                // The status before the code, as AWS writes rows: read as the code.
                assert_eq!(task.error_code, "PermanentFailure", "{}", e.file);
            }
        }
        assert!(n > 0, "{}", e.file);
    }
}

/// Every field ferry's CreateJob request sets is a member of the service model's shape, all the
/// way down.
#[test]
fn the_create_job_request_uses_only_the_models_members() {
    let model = of_kind("s3control")[0].json();
    let request: Value = serde_json::from_str(include_str!(
        "../../../shared/fixtures/create-job-inventory.json"
    ))
    .unwrap();
    let mut problems = Vec::new();
    members_of_model(&model, "CreateJobRequest", &request, "", &mut problems);
    assert!(problems.is_empty(), "{problems:#?}");
}

fn members_of_model(model: &Value, shape: &str, v: &Value, at: &str, out: &mut Vec<String>) {
    let Some(s) = model.get(shape) else {
        return; // a shape the corpus does not hold: not checked further
    };
    match (s["type"].as_str(), v) {
        (Some("structure"), Value::Object(fields)) => {
            for (k, child) in fields {
                match s["members"].get(k) {
                    None => out.push(format!("{at}.{k}: not a member of {shape}")),
                    Some(m) => {
                        let child_shape = m["shape"].as_str().unwrap();
                        members_of_model(model, child_shape, child, &format!("{at}.{k}"), out)
                    }
                }
            }
        }
        (Some("list"), Value::Array(items)) => {
            let member = s["member"]["shape"].as_str().unwrap();
            for (i, item) in items.iter().enumerate() {
                members_of_model(model, member, item, &format!("{at}[{i}]"), out);
            }
        }
        (Some("string"), Value::String(text)) => {
            if let Some(allowed) = s["enum"].as_array() {
                if !allowed.iter().any(|a| a == text) {
                    out.push(format!(
                        "{at}: {text:?} is not one of {shape}'s {allowed:?}"
                    ));
                }
            }
        }
        _ => {}
    }
}

// ---- the sandbox emits what AWS emits ----

/// A JSON value's type, as the comparison sees it (null is the absence of a value, and matches
/// every type: AWS's own examples have `s3VersionId` null in one and a string in another).
fn type_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Paths (`a.b[].c`) of a payload with the types seen there.
fn paths(v: &Value, at: &str, free_maps: &[&str], out: &mut BTreeMap<String, BTreeSet<String>>) {
    out.entry(at.to_string())
        .or_default()
        .insert(type_of(v).to_string());
    if free_maps.contains(&at) {
        return; // keys are the user's (`userArguments`)
    }
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                paths(child, &format!("{at}.{k}"), free_maps, out);
            }
        }
        Value::Array(items) => {
            for item in items {
                paths(item, &format!("{at}[]"), free_maps, out);
            }
        }
        _ => {}
    }
}

/// What is wrong with `payload`'s shape against the corpus payloads `examples` of its kind: a
/// field they never have, a field every one of them has (where its parent is there) missing, a
/// type none of them has there.
fn shape_problems(payload: &Value, examples: &[Value], free_maps: &[&str]) -> Vec<String> {
    let mut union: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut per_example = Vec::new();
    for e in examples {
        let mut p = BTreeMap::new();
        paths(e, "", free_maps, &mut p);
        for (k, types) in &p {
            union
                .entry(k.clone())
                .or_default()
                .extend(types.iter().cloned());
        }
        per_example.push(p);
    }
    let mut ours = BTreeMap::new();
    paths(payload, "", free_maps, &mut ours);
    let mut problems = Vec::new();
    for (path, types) in &ours {
        match union.get(path) {
            None => problems.push(format!("{path}: no AWS payload of this kind has it")),
            Some(theirs) => {
                for t in types {
                    if t != "null" && !theirs.contains(t) && !theirs.iter().all(|x| x == "null") {
                        problems.push(format!("{path}: {t}, where AWS's payloads have {theirs:?}"));
                    }
                }
            }
        }
    }
    let parent = |p: &str| -> String {
        let cut = p.rfind(['.', '[']).unwrap_or(0);
        p[..cut].to_string()
    };
    for path in union.keys() {
        let everywhere = per_example.iter().all(|p| p.contains_key(path));
        // An array may be empty: its elements are checked where there are some.
        let element = path.ends_with("[]");
        if everywhere && !element && !ours.contains_key(path) && ours.contains_key(&parent(path)) {
            problems.push(format!(
                "{path}: every AWS payload of this kind has it, this one not"
            ));
        }
    }
    problems
}

/// A report row's values as classes: empty, a number, a word of the statuses, other text.
fn row_classes(row: &[String]) -> Vec<&'static str> {
    row.iter()
        .map(|v| {
            if v.is_empty() {
                "empty"
            } else if v.bytes().all(|b| b.is_ascii_digit()) {
                "number"
            } else if v == "succeeded" || v == "failed" {
                "status"
            } else {
                "text"
            }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_payload_the_sandbox_emits_has_the_shape_of_awss() {
    let world = World::seeded().await;
    // Flow A with its verification: an inventory delivery, its S3 event, a copy job's report,
    // the copy worker's LambdaInvoke events (verify mode) and their report.
    let mut request = world.inventory_request("contract", 60, 600);
    request["verify"] = json!({"enabled": true});
    let run = world.run("contract-1", &request).await;
    assert_eq!(
        run.status,
        aws_sdk_sfn::types::ExecutionStatus::Succeeded,
        "{run:?}"
    );
    // A run that fails (its source account is not one the destination stack lists): the
    // status-change event of a FAILED execution, and the cleanup it starts.
    let mut refused = world.request("contract-refused");
    refused["source"]["accountId"] = json!("999999999999");
    let failed = world.run("contract-refused-1", &refused).await;
    assert_eq!(failed.status, aws_sdk_sfn::types::ExecutionStatus::Failed);
    let mut captured = BTreeMap::new();
    for _ in 0..100 {
        captured = serde_json::from_value::<BTreeMap<String, Vec<Value>>>(
            world.sandbox.get("/captured").await.unwrap(),
        )
        .unwrap();
        if captured.contains_key("sfn-status-change") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let corpus = |kind: &str| -> Vec<Value> {
        of_kind(kind)
            .into_iter()
            .filter(|e| e.conformance)
            .map(|e| e.json())
            .collect()
    };
    let mut problems = Vec::new();
    for kind in [
        "batch-invoke-event",
        "s3-event",
        "sfn-status-change",
        "inventory-manifest",
        "report-manifest",
    ] {
        let emitted = captured.get(kind).cloned().unwrap_or_default();
        assert!(!emitted.is_empty(), "the run emitted no {kind}");
        for payload in &emitted {
            // Batch Operations' events by their schema: 1.0 and 2.0 differ by design.
            let examples: Vec<Value> = corpus(kind)
                .into_iter()
                .filter(|e| {
                    kind != "batch-invoke-event"
                        || e["invocationSchemaVersion"] == payload["invocationSchemaVersion"]
                })
                .collect();
            assert!(!examples.is_empty(), "no corpus payload for {payload}");
            for p in shape_problems(payload, &examples, &[".job.userArguments"]) {
                problems.push(format!("{kind}: {p}"));
            }
        }
    }
    // The inventory's columns: names the documented fileSchema has.
    let documented: BTreeSet<String> = corpus("inventory-manifest")
        .iter()
        .flat_map(|m| {
            m["fileSchema"]
                .as_str()
                .unwrap()
                .split(',')
                .map(|c| c.trim().to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    for m in &captured["inventory-manifest"] {
        for c in m["fileSchema"].as_str().unwrap().split(',').map(str::trim) {
            if !documented.contains(c) {
                problems.push(format!(
                    "inventory-manifest: column {c} is in no documented fileSchema"
                ));
            }
        }
    }
    // Report rows: seven values, classed as AWS's rows class them.
    let aws_rows: BTreeSet<Vec<&str>> = of_kind("report-row")
        .iter()
        .flat_map(|e| {
            let text = e.text();
            csv::ReaderBuilder::new()
                .has_headers(false)
                .from_reader(text.as_bytes())
                .records()
                .map(|r| row_classes(&r.unwrap().iter().map(str::to_string).collect::<Vec<_>>()))
                .collect::<Vec<_>>()
        })
        .collect();
    let rows = captured.get("report-row").cloned().unwrap_or_default();
    assert!(!rows.is_empty(), "the run wrote no report row");
    for row in rows {
        let row: Vec<String> = serde_json::from_value(row).unwrap();
        let classes = row_classes(&row);
        // Compared with every AWS row of its status; a version id may be there or not.
        let same_status: Vec<_> = aws_rows.iter().filter(|r| r[3] == classes[3]).collect();
        let matches = same_status.iter().any(|r| {
            r.len() == classes.len()
                && r.iter().zip(&classes).enumerate().all(|(i, (a, b))| {
                    a == b || (i == 2 && [*a, *b].iter().all(|c| ["empty", "text"].contains(c)))
                })
        });
        if !matches {
            problems.push(format!(
                "report-row: {row:?} is shaped {classes:?}, AWS's rows {same_status:?}"
            ));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
    world.assert_no_leftovers().await;
}
