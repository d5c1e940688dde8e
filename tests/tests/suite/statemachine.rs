//! The state machine's JSONPaths against ferry-core's own payload types, without running it.
//!
//! `statemachine/ferry.asl.yaml` writes and reads the functions' serde names (`$.plan.expiresAt`,
//! `$.Payload.nextAttempt`, a Pass state that assembles an `Attempt`...). These tests walk the
//! definition with the functions' typed outputs serialized as the functions serialize them, so
//! a renamed field, a payload a function cannot read, or a Choice on a value no type produces
//! fails here, not only in an end-to-end run:
//!
//! - every path a state reads resolves in the state document some run builds;
//! - every Task's payload deserializes into its function's input type;
//! - every ResultSelector path resolves in its function's output, with every optional field
//!   set and with every optional field empty (Step Functions fails a path that is absent, not
//!   one that is null);
//! - every StringEquals / BooleanEquals compares with a value some run produces;
//! - every Task's Retry is the same one.

use std::collections::{BTreeMap, BTreeSet};

use ferry_core::job::{JobOutcome, JobState};
use ferry_core::names::Attempt;
use ferry_core::report::ReportSummary;
use ferry_core::steps::*;
use ferry_core::testing::{csv_job_record, csv_plan, inventory_plan};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

fn definition() -> Value {
    ferry_tests::decoded_template()["Resources"]["StateMachine"]["Properties"]["Definition"].clone()
}

/// A Lambda Task's function: the substitution name in its `FunctionName`, or, for the source
/// account's functions (chosen per copy: `FunctionName.$` reads `$.plan.sourceSide`), the
/// template's name of that function.
fn function_of(state: &Value) -> Option<&str> {
    let params = &state["Parameters"];
    if let Some(f) = params["FunctionName"].as_str() {
        return Some(f.trim_start_matches("${").trim_end_matches('}'));
    }
    match params["FunctionName.$"].as_str()? {
        "$.plan.sourceSide.accessFunction" => Some("SourceAccessFunction"),
        "$.plan.sourceSide.inventoryFunction" => Some("SourceInventoryFunction"),
        other => panic!("a Task's FunctionName.$ reads {other}, which this test does not know"),
    }
}

/// One run's choices: a copy or a cleanup execution, which flow, whether optional outputs are
/// set, and what job-report says.
#[derive(Debug, Clone, Copy)]
struct Variant {
    cleanup: bool,
    inventory: bool,
    full: bool,
    next: Next,
}

const NEXTS: [Next; 6] = [
    Next::Copied,
    Next::Retry,
    Next::Resubmit,
    Next::Incomplete,
    Next::JobFailed,
    Next::AwaitRestores,
];

fn variants() -> Vec<Variant> {
    let mut out = Vec::new();
    for cleanup in [false, true] {
        for inventory in [true, false] {
            for full in [true, false] {
                // A cleanup run submits no job: what job-report says does not matter.
                for next in NEXTS
                    .into_iter()
                    .take(if cleanup { 1 } else { NEXTS.len() })
                {
                    out.push(Variant {
                        cleanup,
                        inventory,
                        full,
                        next,
                    });
                }
            }
        }
    }
    out
}

fn to_value<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap()
}

fn manifest_ref() -> InventoryManifestRef {
    InventoryManifestRef {
        key: "inventory/src-photos/ferry-222222222222-photos-2026/2026-11-28T14-00Z/manifest.json"
            .into(),
        etag: "60e460ba06e1e9bb8d7c8e3e6f0a2a01".into(),
        created_at_millis: 1_795_874_400_000,
    }
}

fn plan(v: Variant) -> RunPlan {
    let mut plan = if v.inventory {
        inventory_plan()
    } else {
        csv_plan()
    };
    if v.full && v.inventory {
        plan.inventory_manifest = Some(manifest_ref());
        // A verification run (`ferry verify`) of flow A reads the report already delivered.
        plan.verify_only = true;
    }
    plan
}

fn job_state(terminal: bool) -> JobState {
    JobState {
        job_id: "f8fb9d89-job".into(),
        status: if terminal { "Complete" } else { "Active" }.into(),
        total: 3,
        succeeded: 2,
        failed: 1,
        elapsed_active_seconds: 40,
        failure_reasons: Vec::new(),
        status_update_reason: None,
        terminal,
        outcome: terminal.then_some(JobOutcome::Partial),
    }
}

/// What the function behind `function` returns in run `v`, serialized as it serializes it.
fn output(function: &str, v: Variant) -> Value {
    let retry = RetryManifestRef {
        key: "retry/photos-2026/run-1/job-1.csv".into(),
        rows: 1,
        with_versions: false,
        kind: ferry_core::job::JobKind::Worker,
        rest: false,
        ..Default::default()
    };
    match function {
        "PlanFunction" => to_value(&plan(v)),
        "DestinationAccessFunction" | "SourceAccessFunction" => to_value(&AccessOutput {
            changed: vec!["src-photos".into()],
            expires_at: plan(v).expires_at + 3600,
            still_active: !v.full,
            kms_grants: if v.full {
                vec!["arn:aws:kms:eu-west-1:111111111111:key/k".into()]
            } else {
                vec![]
            },
            not_copyable: v.full.then(|| {
                let mut found = ferry_core::inventory::NotCopyable {
                    looked_at: 100,
                    ..Default::default()
                };
                found.add(ferry_core::inventory::CopyObstacle::SseC, "2026/secret.bin");
                found
            }),
            kept: if v.full {
                vec![ferry_core::steps::KeptStatements {
                    bucket: "src-photos".into(),
                    until: "2026-12-07T13:45:50Z".into(),
                }]
            } else {
                vec![]
            },
            preflight: if v.full {
                vec![ferry_core::preflight::Verdict {
                    bucket: "src-photos".into(),
                    caller: "arn:aws:iam::222222222222:role/ferry/ferry-batch-photos-2026".into(),
                    action: "s3:GetObject".into(),
                    outcome: ferry_core::preflight::Outcome::Undecided,
                    statement: Some("OnlyOurOrganization".into()),
                    conditions: vec!["StringNotEquals aws:PrincipalOrgID".into()],
                    missing: vec!["aws:PrincipalOrgID".into()],
                }]
            } else {
                vec![]
            },
        }),
        "SourceInventoryFunction" => to_value(&InventoryOutput {
            config_id: "ferry-222222222222-photos-2026".into(),
            changed: v.full,
        }),
        "InventoryWaitFunction" => to_value(&WaitOutput {
            found: v.full.then(manifest_ref),
        }),
        "JobSubmitFunction" => to_value(&JobRecord {
            not_copyable: v.full.then(|| {
                let mut found = ferry_core::inventory::NotCopyable {
                    looked_at: 6,
                    ..Default::default()
                };
                found.add(
                    ferry_core::inventory::CopyObstacle::Archived,
                    "2026/old.tar",
                );
                found
            }),
            ..csv_job_record(0)
        }),
        "JobTrackFunction" => to_value(&TrackOutput {
            state: job_state(v.full),
            next_wait: 30,
            renew_grants: !v.full,
            renew_until: plan(v).expires_at + 86_400,
        }),
        "JobReportFunction" => {
            let again =
                matches!(v.next, Next::Retry | Next::Resubmit | Next::AwaitRestores) && v.full;
            to_value(&ReportOutput {
                next: v.next,
                state: job_state(true),
                totals: CopyTotals {
                    job_ids: vec!["f8fb9d89-job".into()],
                    reports: "s3://ferry-222222222222-eu-west-1/reports/photos-2026/run-1/".into(),
                    usage: Default::default(),
                    cost: v
                        .full
                        .then(|| ferry_core::cost::Bill::of("eu-west-1", &Default::default())),
                    copied: 2,
                    identical: u64::from(v.full),
                    failed: 1,
                    last_report: ReportSummary::default(),
                    verification: v.full.then(|| Verification {
                        verified: 2,
                        ..Default::default()
                    }),
                    earlier_incomplete: v.full.then(|| ferry_core::steps::EarlierIncomplete {
                        failed: 1,
                        only_sse_c: true,
                        cause: "1 objects were not copied".into(),
                    }),
                    large_objects_job: v.full.then(|| "l4rg3-job".into()),
                    restored: v.full.then(|| ferry_core::steps::RestoreTotals {
                        job_ids: vec!["r35t0r3-job".into()],
                        requested: 2,
                        tier: "BULK".into(),
                        ..Default::default()
                    }),
                    left_out: v.full.then(|| ferry_core::steps::LeftOut {
                        census_job_id: "c3n5u5-job".into(),
                        archived: Some(1),
                        first_keys: vec!["2026/old.tar".into()],
                    }),
                },
                next_attempt: again.then_some(Attempt { run: 1, job: 1 }),
                retry_manifest: match v.next {
                    Next::Retry if again => Some(retry.clone()),
                    Next::AwaitRestores if again => Some(RetryManifestRef::after_restores(
                        ferry_core::restore::Restores {
                            requested_at: plan(v).expires_at - 3_600,
                            ..Default::default()
                        },
                        1,
                    )),
                    _ => None,
                },
                wait_seconds: if again && v.full { 15 } else { 0 },
                cause: "1 object failed".into(),
            })
        }
        other => panic!("a Task calls {other}, which this test does not know: add its types"),
    }
}

/// Reads the payload `function` is sent, as the function reads it.
fn read_input(function: &str, payload: &Value) -> Result<(), String> {
    fn read<T: DeserializeOwned>(payload: &Value) -> Result<(), String> {
        serde_json::from_value::<T>(payload.clone())
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
    match function {
        "PlanFunction" => read::<PlanEvent>(payload),
        "DestinationAccessFunction" | "SourceAccessFunction" => read::<AccessInput>(payload),
        "SourceInventoryFunction" => read::<InventoryInput>(payload),
        "InventoryWaitFunction" => read::<WaitInput>(payload),
        "JobSubmitFunction" => read::<SubmitInput>(payload),
        "JobTrackFunction" => read::<TrackInput>(payload),
        "JobReportFunction" => read::<ReportInput>(payload),
        other => Err(format!("no input type known for {other}")),
    }
}

/// The context object's fields the definition may read.
fn context() -> Value {
    json!({
        "Execution": {"Id": "arn:aws:states:eu-west-1:222222222222:execution:ferry:photos-2026-1", "Name": "photos-2026-1", "StartTime": "2026-11-28T13:45:50Z"},
        "Task": {"Token": "AQCEAAAAKgAAAAMAAAAAAAAAAe"},
    })
}

/// `$`, `$.a.b` against `doc`, `$$.a.b` against the context object; `None` when absent.
fn select<'a>(doc: &'a Value, ctx: &'a Value, path: &str) -> Option<&'a Value> {
    let (root, rest) = if let Some(rest) = path.strip_prefix("$$") {
        (ctx, rest)
    } else {
        (
            doc,
            path.strip_prefix('$').expect("a JSONPath starts with $"),
        )
    };
    rest.split('.')
        .filter(|s| !s.is_empty())
        .try_fold(root, |v, key| v.get(key))
}

/// A Parameters / ResultSelector template evaluated against `input`: `key.$` fields are paths
/// (or `States.Format(...)`, whose path arguments are checked), others literal. Every path
/// that does not resolve is pushed onto `missing`.
fn evaluate(template: &Value, input: &Value, ctx: &Value, missing: &mut Vec<String>) -> Value {
    match template {
        Value::Object(map) => {
            let mut out = serde_json::Map::new();
            for (k, v) in map {
                match (k.strip_suffix(".$"), v.as_str()) {
                    (Some(name), Some(expr)) if expr.starts_with("States.") => {
                        missing.extend(
                            intrinsic_paths(expr)
                                .filter(|p| select(input, ctx, p).is_none())
                                .map(String::from),
                        );
                        out.insert(name.to_string(), json!("formatted"));
                    }
                    (Some(name), Some(path)) => {
                        let value = select(input, ctx, path).cloned().unwrap_or_else(|| {
                            missing.push(path.to_string());
                            Value::Null
                        });
                        out.insert(name.to_string(), value);
                    }
                    _ => {
                        out.insert(k.clone(), evaluate(v, input, ctx, missing));
                    }
                }
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

/// The paths an intrinsic function reads (`$.a` and `$$.b` of `States.Format('{}', $.a, $$.b)`).
fn intrinsic_paths(expr: &str) -> impl Iterator<Item = &str> {
    expr.split([',', '(', ')'])
        .map(str::trim)
        .filter(|a| a.starts_with('$'))
}

/// A Choice state's rules, those nested in `And`, `Or` and `Not` included.
fn choice_rules(state: &Value) -> Vec<&Value> {
    let mut todo: Vec<&Value> = state["Choices"].as_array().into_iter().flatten().collect();
    let mut out = Vec::new();
    while let Some(r) = todo.pop() {
        for key in ["And", "Or"] {
            todo.extend(r[key].as_array().into_iter().flatten());
        }
        todo.extend(r.get("Not"));
        out.push(r);
    }
    out
}

/// Puts `value` at `path` (`$`: the value becomes the document).
fn place(doc: &mut Value, path: &str, value: Value) {
    let keys: Vec<&str> = path
        .trim_start_matches('$')
        .split('.')
        .filter(|s| !s.is_empty())
        .collect();
    let Some((last, parents)) = keys.split_last() else {
        *doc = value;
        return;
    };
    let mut at = doc;
    for k in parents {
        at = at
            .as_object_mut()
            .unwrap()
            .entry(k.to_string())
            .or_insert_with(|| json!({}));
    }
    at.as_object_mut().unwrap().insert(last.to_string(), value);
}

/// The inputs each state sees in the runs of `v`: the definition walked from `StartAt` with
/// `v`'s outputs, every Choice decided on the document, and every Catch taken as well as the
/// success (so the failure and revoke paths are walked too). A state seen again with the same
/// document ends that branch (the loops: tracking rounds, retries, the revoke wait).
fn inputs(def: &Value, v: Variant) -> BTreeMap<String, Vec<Value>> {
    let ctx = context();
    let first = if v.cleanup {
        json!({"cleanup": {"execution": "photos-2026-1"}})
    } else {
        serde_json::to_value(&plan(v).request).unwrap()
    };
    let mut seen: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut visited = std::collections::HashSet::new();
    let mut todo = vec![(def["StartAt"].as_str().unwrap().to_string(), first)];
    while let Some((name, doc)) = todo.pop() {
        if !visited.insert((name.clone(), doc.to_string())) {
            continue;
        }
        let inputs = seen.entry(name.clone()).or_default();
        inputs.push(doc.clone());
        assert!(inputs.len() < 5_000, "{name}: the walk does not settle");
        let state = &def["States"][&name];
        assert!(state.is_object(), "no state {name}");
        let next = |s: &Value| s["Next"].as_str().map(String::from);
        match state["Type"].as_str().unwrap() {
            "Choice" => {
                let chosen = state["Choices"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|r| holds(r, &doc, &ctx))
                    .map_or(&state["Default"], |r| &r["Next"]);
                let chosen = chosen
                    .as_str()
                    .expect("a Choice with no match has a Default");
                todo.push((chosen.to_string(), doc));
            }
            "Task" | "Pass" => {
                // One of ferry's errors, and (where the copy fails, not its revoke) one that
                // Step Functions raises: both kinds reach the naming of the failure.
                for c in state["Catch"].as_array().into_iter().flatten() {
                    let path = c["ResultPath"].as_str().unwrap_or("$");
                    let errors: &[&str] = if path == "$.error" {
                        &["InvalidRequest", "States.TaskFailed"]
                    } else {
                        &["InvalidRequest"]
                    };
                    for error in errors {
                        let mut failed = doc.clone();
                        let error = json!({"Error": error, "Cause": "a cause"});
                        place(&mut failed, path, error);
                        todo.push((next(c).unwrap(), failed));
                    }
                }
                let mut done = doc;
                apply(state, &mut done, &ctx, v);
                todo.extend(next(state).map(|n| (n, done)));
            }
            "Wait" => todo.extend(next(state).map(|n| (n, doc))),
            "Succeed" | "Fail" => {}
            other => panic!("{name}: a {other} state, which this walk does not know"),
        }
    }
    seen
}

/// Whether a Choice rule holds for `doc` (the operators the definition uses; another one is
/// this test's to learn).
fn holds(rule: &Value, doc: &Value, ctx: &Value) -> bool {
    if let Some(all) = rule["And"].as_array() {
        return all.iter().all(|r| holds(r, doc, ctx));
    }
    if let Some(any) = rule["Or"].as_array() {
        return any.iter().any(|r| holds(r, doc, ctx));
    }
    if let Some(not) = rule.get("Not") {
        return !holds(not, doc, ctx);
    }
    let at = select(doc, ctx, rule["Variable"].as_str().unwrap());
    let op = rule
        .as_object()
        .unwrap()
        .keys()
        .find(|k| *k != "Variable" && *k != "Next")
        .unwrap();
    let want = &rule[op];
    match op.as_str() {
        "IsPresent" => at.is_some() == want.as_bool().unwrap(),
        "IsNull" => at.is_some_and(Value::is_null) == want.as_bool().unwrap(),
        "StringEquals" | "BooleanEquals" => at == Some(want),
        "NumericGreaterThan" => {
            at.and_then(Value::as_f64).unwrap_or(f64::NAN) > want.as_f64().unwrap()
        }
        "StringMatches" => {
            let pattern = want.as_str().unwrap();
            let text = at.and_then(Value::as_str).unwrap_or_default();
            match pattern.strip_suffix('*') {
                Some(prefix) if !prefix.contains('*') => text.starts_with(prefix),
                _ => panic!("StringMatches {pattern}: only `prefix*` is known here"),
            }
        }
        other => panic!("Choice operator {other}: teach this test"),
    }
}

/// Every (state, input) pair of every run of the deployed definition (walked once per test
/// binary).
fn all_inputs(def: &Value) -> BTreeMap<String, Vec<Value>> {
    static DEPLOYED: std::sync::OnceLock<BTreeMap<String, Vec<Value>>> = std::sync::OnceLock::new();
    let walk = || {
        let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for v in variants() {
            for (state, docs) in inputs(def, v) {
                out.entry(state).or_default().extend(docs);
            }
        }
        out
    };
    assert_eq!(*def, definition(), "the deployed definition");
    DEPLOYED.get_or_init(walk).clone()
}

/// A Task's or Pass state's effect on the document when it succeeds.
fn apply(state: &Value, doc: &mut Value, ctx: &Value, v: Variant) {
    let mut ignored = Vec::new();
    let result_path = state["ResultPath"].as_str().unwrap_or("$");
    match state["Type"].as_str().unwrap() {
        "Task" => {
            let Some(function) = function_of(state) else {
                // A service integration of the run's end (events:putEvents, sns:publish): its
                // result is dropped.
                assert!(
                    state["ResultPath"].is_null() && state.get("ResultPath").is_some(),
                    "a Task without a function keeps nothing: {state}"
                );
                return;
            };
            let result = if state["Resource"]
                .as_str()
                .unwrap()
                .ends_with(".waitForTaskToken")
            {
                // SendTaskSuccess's output: what inventory-delivered and inventory-wait send.
                to_value(&manifest_ref())
            } else {
                let wrapped = json!({ "Payload": output(function, v) });
                match state.get("ResultSelector") {
                    Some(sel) => evaluate(sel, &wrapped, ctx, &mut ignored),
                    None => wrapped,
                }
            };
            place(doc, result_path, result);
        }
        "Pass" => {
            let input = match state["InputPath"].as_str() {
                Some(p) => select(doc, ctx, p).cloned().unwrap_or(Value::Null),
                None => doc.clone(),
            };
            let mut result = match (state.get("Parameters"), state.get("Result")) {
                (Some(p), _) => evaluate(p, &input, ctx, &mut ignored),
                (None, Some(r)) => r.clone(),
                (None, None) => input,
            };
            // The stack's NotificationTopicArn, substituted at deployment: a topic in the runs
            // with every option set, empty in the others.
            if result["topic"] == "${NotificationTopic}" {
                result["topic"] = json!(if v.full {
                    "arn:aws:sns:eu-west-1:222222222222:ferry-runs"
                } else {
                    ""
                });
            }
            if !result.is_null() {
                place(doc, result_path, result);
            }
        }
        _ => {}
    }
}

/// Every path a state reads from its input, with the state's name.
fn reads(def: &Value) -> Vec<(String, String)> {
    fn params(v: &Value, out: &mut Vec<String>) {
        if let Value::Object(m) = v {
            for (k, x) in m {
                match (k.ends_with(".$"), x.as_str()) {
                    (true, Some(p)) if p.starts_with("States.") => {
                        out.extend(intrinsic_paths(p).map(String::from))
                    }
                    (true, Some(p)) => out.push(p.to_string()),
                    _ => params(x, out),
                }
            }
        }
    }
    let mut out = Vec::new();
    for (name, state) in def["States"].as_object().unwrap() {
        let mut paths = Vec::new();
        for key in [
            "InputPath",
            "OutputPath",
            "SecondsPath",
            "TimeoutSecondsPath",
            "CausePath",
            "ErrorPath",
        ] {
            if let Some(p) = state[key].as_str() {
                paths.push(p.to_string());
            }
        }
        // A Pass state's Parameters read its InputPath's selection, checked with the state.
        if state["Type"] != "Pass" || state.get("InputPath").is_none() {
            params(&state["Parameters"], &mut paths);
        }
        // A Task's Credentials (the source account's invoke role, from the plan).
        params(&state["Credentials"], &mut paths);
        paths.extend(
            choice_rules(state)
                .into_iter()
                .filter_map(|r| r["Variable"].as_str().map(String::from)),
        );
        out.extend(paths.into_iter().map(|p| (name.clone(), p)));
    }
    out
}

#[test]
fn every_path_a_state_reads_is_written_by_some_run() {
    let def = definition();
    let ctx = context();
    let seen = all_inputs(&def);
    let all = reads(&def);
    let unread: Vec<String> = all
        .iter()
        .filter(|(state, path)| {
            !seen
                .get(state)
                .is_some_and(|docs| docs.iter().any(|d| select(d, &ctx, path).is_some()))
        })
        .map(|(state, path)| format!("{state}: {path}"))
        .collect();
    assert!(
        unread.is_empty(),
        "paths that no run's state document holds when the state reads them (a renamed field?):\n{}",
        unread.join("\n")
    );
    assert!(all.len() > 40, "the walk found only {} paths", all.len());
}

/// Each Task's payload, built from every input the state sees whose paths all resolve, is read
/// by its function's input type; and every Task has such an input.
#[test]
fn every_task_sends_a_payload_its_function_reads() {
    let def = definition();
    let ctx = context();
    let seen = all_inputs(&def);
    let mut tasks = 0;
    for (name, state) in def["States"].as_object().unwrap() {
        let Some(function) = function_of(state) else {
            continue;
        };
        let mut sent = 0;
        for doc in &seen[name] {
            let mut missing = Vec::new();
            let payload = evaluate(&state["Parameters"]["Payload"], doc, &ctx, &mut missing);
            if !missing.is_empty() {
                continue;
            }
            if let Err(e) = read_input(function, &payload) {
                panic!("{name}: {function} cannot read its payload: {e}\n{payload:#}");
            }
            sent += 1;
        }
        assert!(sent > 0, "{name}: no run builds its whole payload");
        tasks += 1;
    }
    assert_eq!(tasks, 16, "sixteen Lambda Tasks");
}

/// Step Functions fails a ResultSelector path that is absent (States.Runtime); a null is fine.
/// So an optional field an output leaves out when empty breaks the run that leaves it out.
#[test]
fn every_result_selector_path_is_in_its_functions_output_set_or_empty() {
    let def = definition();
    let ctx = context();
    let mut checked = BTreeSet::new();
    for v in variants() {
        for (name, state) in def["States"].as_object().unwrap() {
            let (Some(function), Some(sel)) = (function_of(state), state.get("ResultSelector"))
            else {
                continue;
            };
            let wrapped = json!({ "Payload": output(function, v) });
            let mut missing = Vec::new();
            evaluate(sel, &wrapped, &ctx, &mut missing);
            assert!(
                missing.is_empty(),
                "{name}: {function}'s output has no {missing:?} ({v:?}): {wrapped:#}"
            );
            checked.insert(name.clone());
        }
    }
    assert!(checked.len() >= 14, "{checked:?}");
}

/// A Choice compares with a value that some run's state document holds at that path: a
/// `StringEquals: Retry` on `$.report.next` is one of [`Next`]'s serialized names.
#[test]
fn every_choice_compares_with_a_value_some_run_produces() {
    let def = definition();
    let ctx = context();
    let inputs = all_inputs(&def);
    // The values each rule's path holds in the inputs its own state receives.
    let mut rules = Vec::new();
    for (name, state) in def["States"].as_object().unwrap() {
        for r in choice_rules(state) {
            let Some(path) = r["Variable"].as_str() else {
                continue;
            };
            for op in ["StringEquals", "BooleanEquals"] {
                if let Some(expected) = r.get(op) {
                    let seen: BTreeSet<String> = inputs[name]
                        .iter()
                        .filter_map(|d| select(d, &ctx, path))
                        .map(Value::to_string)
                        .collect();
                    rules.push((name.clone(), path, expected, seen));
                }
            }
        }
    }
    let never: Vec<String> = rules
        .iter()
        .filter(|(_, _, expected, seen)| !seen.contains(&expected.to_string()))
        .map(|(state, path, expected, seen)| {
            format!("{state}: {path} == {expected}, but its runs hold {seen:?}")
        })
        .collect();
    assert!(never.is_empty(), "{}", never.join("\n"));
    assert!(rules.len() >= 9, "{} rules", rules.len());
}

#[test]
fn every_lambda_task_retries_the_same_way() {
    let def = definition();
    let expected = json!([{
        "ErrorEquals": ["Retryable", "Lambda.ServiceException", "Lambda.AWSLambdaException",
                        "Lambda.SdkClientException"],
        "IntervalSeconds": 2,
        "MaxAttempts": 3,
        "BackoffRate": 2,
    }, {
        // Throttled: about five minutes (5 s doubling to 60 s, eight tries), with full jitter.
        "ErrorEquals": ["Lambda.TooManyRequestsException"],
        "IntervalSeconds": 5,
        "MaxAttempts": 8,
        "BackoffRate": 2,
        "MaxDelaySeconds": 60,
        "JitterStrategy": "FULL",
    }, {
        // A grant of this run not in effect yet: about 12 minutes (5 s doubling to 120 s).
        "ErrorEquals": ["NotYetInEffect"],
        "IntervalSeconds": 5,
        "MaxAttempts": 10,
        "BackoffRate": 2,
        "MaxDelaySeconds": 120,
    }, {
        // The function's process died or timed out: once more (every step is idempotent; the
        // fault matrix's Lambda-level cells run it).
        "ErrorEquals": ["Sandbox.Timedout", "Runtime.ExitError", "Lambda.Unknown"],
        "IntervalSeconds": 2,
        "MaxAttempts": 1,
    }]);
    for (name, state) in def["States"].as_object().unwrap() {
        if function_of(state).is_some() {
            assert_eq!(state["Retry"], expected, "{name}");
        } else if state["Type"] == "Task" {
            // The run's end announcements retry anything twice; a failure is caught, and the
            // run ends as it would have.
            assert_eq!(
                state["Retry"][0]["ErrorEquals"],
                json!(["States.ALL"]),
                "{name}"
            );
            assert_eq!(
                state["Catch"][0]["ErrorEquals"],
                json!(["States.ALL"]),
                "{name}"
            );
        } else {
            assert!(
                state.get("Retry").is_none(),
                "{name}: Retry on a state without a function"
            );
        }
    }
}

/// The walk itself: a field renamed on one side is found (so the tests above can fail).
#[test]
fn a_renamed_field_is_found() {
    let mut def = definition();
    let (name, _) = def["States"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(_, s)| s["Parameters"]["Payload"].get("attempt.$").is_some())
        .expect("job-submit's state reads the attempt");
    let name = name.clone();
    let payload = def["States"][&name]["Parameters"]["Payload"]
        .as_object_mut()
        .unwrap();
    payload.remove("attempt.$");
    payload.insert("atempt.$".into(), json!("$.next.attempt"));
    let ctx = context();
    let seen = inputs(&def, variants()[0]);
    let state = &def["States"][&name];
    let errors: Vec<String> = seen[&name]
        .iter()
        .filter_map(|doc| {
            let payload = evaluate(&state["Parameters"]["Payload"], doc, &ctx, &mut Vec::new());
            read_input("JobSubmitFunction", &payload).err()
        })
        .collect();
    assert!(
        !errors.is_empty() && errors.iter().all(|e| e.contains("attempt")),
        "{errors:?}"
    );
}
