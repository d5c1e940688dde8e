//! AWS misbehaving at one call of one step (`POST /faults` on the sandbox's control API), one
//! fault per cell, each cell a small copy in a fresh sandbox.
//!
//! `make test` runs a sample of hand-picked cells (both ambiguous timeouts, a read in the report
//! step, permanent faults, a Lambda-level crash). `make faults` (FERRY_FAULT_MATRIX=all) runs the
//! whole matrix, drawn from a census: a clean copy of each flow is run first, and every (role,
//! action) pair that ferry's functions called in it (the sandbox counts each authorized call,
//! `GET /calls`), and every function Step Functions invoked, becomes cells:
//! - transient: the service's throttling error once (S3 `SlowDown`, IAM and STS `Throttling`,
//!   S3 Control `TooManyRequestsException`, Step Functions and KMS `ThrottlingException`);
//! - ambiguous, for every write: the call carried out and its caller answered 500;
//! - permanent: `AccessDenied` on every call;
//! - Lambda-level, for every function: the process dies once (`Runtime.ExitError`), times out
//!   once after doing its work (`Sandbox.Timedout`), and dies on every invocation.
//!
//! Expected: a transient or ambiguous fault ends SUCCEEDED with every object copied and one job
//! per token (the copy and its verification, no more); a permanent one ends FAILED with one of
//! ferry's error names and a cause that names the step (the function) and the call, or, where
//! ferry tolerates the refusal by design (source-access's look at the objects' encryption),
//! SUCCEEDED with every object copied. In every cell, after the run, its cleanup execution, and
//! for a fault that outlives the run a cleanup run once the fault is gone (`ferry revoke`'s
//! execution), no ferry statement, role or inventory configuration is left and every foreign
//! policy is as it was. The test prints the matrix and its totals and fails on any leak, unnamed
//! error or unexpected outcome.

use std::collections::BTreeSet;

use aws_sdk_sfn::types::ExecutionStatus;
use ferry_core::ErrorName;
use ferry_tests::*;
use serde_json::json;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Flow {
    Csv,
    Inventory,
}

#[derive(Debug, Clone)]
struct Cell {
    flow: Flow,
    /// An IAM action (`s3:PutBucketPolicy`), or `lambda:InvokeFunction` for a Lambda-level fault.
    action: String,
    /// A substring of the calling role's ARN (SAM names a role `<Function>Role-...`; job-submit's
    /// is `ferry-job-submit-<region>`), or the invoked function's name for a Lambda-level fault.
    caller: String,
    fault: String,
    /// -1: every call; else that many.
    count: i64,
}

fn cell(flow: Flow, action: &str, caller: &str, fault: &str, count: i64) -> Cell {
    Cell {
        flow,
        action: action.into(),
        caller: caller.into(),
        fault: fault.into(),
        count,
    }
}

/// The cells `make test` runs.
fn sampled() -> Vec<Cell> {
    use Flow::Csv;
    vec![
        // The ambiguous timeouts: the policy written / the job created, the caller told 500.
        cell(
            Csv,
            "s3:PutBucketPolicy",
            "SourceAccessFunctionRole",
            "Timeout",
            1,
        ),
        cell(Csv, "s3:CreateJob", "ferry-job-submit", "Timeout", 1),
        cell(
            Csv,
            "s3:GetObject",
            "JobReportFunctionRole",
            "InternalError",
            1,
        ),
        // Permanent.
        cell(
            Csv,
            "iam:CreateRole",
            "DestinationAccessFunctionRole",
            "AccessDenied",
            -1,
        ),
        cell(
            Csv,
            "s3:PutBucketPolicy",
            "SourceAccessFunctionRole",
            "SlowDown",
            -1,
        ),
        cell(
            Csv,
            "iam:DeleteRolePolicy",
            "DestinationAccessFunctionRole",
            "AccessDenied",
            -1,
        ),
        // Lambda-level: a crash once, a timeout after the work was done.
        cell(
            Csv,
            "lambda:InvokeFunction",
            "ferry-job-submit",
            "FunctionError",
            1,
        ),
        cell(
            Csv,
            "lambda:InvokeFunction",
            "ferry-source-access",
            "FunctionTimeout",
            1,
        ),
    ]
}

/// The service's throttling error, as the sandbox answers it.
fn throttling(action: &str) -> &'static str {
    match action.split(':').next() {
        Some("iam" | "sts") => "Throttling",
        Some("states" | "kms") => "ThrottlingException",
        _ if S3_CONTROL.contains(&action) => "TooManyRequestsException",
        _ => "SlowDown",
    }
}

const S3_CONTROL: [&str; 4] = [
    "s3:CreateJob",
    "s3:DescribeJob",
    "s3:UpdateJobStatus",
    "s3:ListJobs",
];

/// Whether an action changes something (its ambiguous timeout is a cell).
fn writes(action: &str) -> bool {
    let op = action.split(':').nth(1).unwrap_or_default();
    !["Get", "List", "Describe", "Head"]
        .iter()
        .any(|p| op.starts_with(p))
}

/// Every (role, action) ferry's functions called in a clean copy of `flow`, and the functions
/// Step Functions invoked.
async fn census(flow: Flow) -> BTreeSet<(String, String)> {
    let world = World::seeded().await;
    world
        .sandbox
        .control("/faults/clear", json!({}))
        .await
        .unwrap();
    let run = run_flow(&world, flow, "census").await;
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{run:?}");
    let calls = world.sandbox.get("/calls").await.unwrap();
    calls
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| {
            let role = c["role"].as_str()?;
            let action = c["action"].as_str()?;
            // ferry's function roles (SAM's, and the two named ones: job-submit's and the copy
            // worker's), the functions Step Functions invoked.
            let ours = role.contains("FunctionRole")
                || role.starts_with("ferry-job-submit")
                || role.starts_with("ferry-copy-worker")
                || action == "lambda:InvokeFunction";
            // SAM's role names end in a random suffix: the logical part is the rule's caller.
            let caller = role
                .split('-')
                .next()
                .filter(|_| role.contains("FunctionRole"));
            ours.then(|| (caller.unwrap_or(role).to_string(), action.to_string()))
        })
        .collect()
}

fn cells_of(flow: Flow, census: &BTreeSet<(String, String)>) -> Vec<Cell> {
    let mut cells = Vec::new();
    for (caller, action) in census {
        if action == "lambda:InvokeFunction" {
            cells.push(cell(flow, action, caller, "FunctionError", 1));
            cells.push(cell(flow, action, caller, "FunctionTimeout", 1));
            cells.push(cell(flow, action, caller, "FunctionError", -1));
            continue;
        }
        cells.push(cell(flow, action, caller, throttling(action), 1));
        if writes(action) {
            cells.push(cell(flow, action, caller, "Timeout", 1));
        }
        cells.push(cell(flow, action, caller, "AccessDenied", -1));
    }
    cells
}

async fn run_flow(world: &World, flow: Flow, copy_id: &str) -> Execution {
    let request = match flow {
        Flow::Csv => world.request(copy_id),
        Flow::Inventory => world.inventory_request(copy_id, 60, 600),
    };
    world.run(&format!("{copy_id}-1"), &request).await
}

/// The step (the function, without `ferry-`) a role belongs to.
fn step_of(caller: &str) -> String {
    if let Some(f) = caller.strip_prefix("ferry-") {
        return f.trim_end_matches("-eu-west-1").to_string();
    }
    let logical = caller.trim_end_matches("FunctionRole");
    let mut step = String::new();
    for (i, ch) in logical.chars().enumerate() {
        if ch.is_uppercase() && i > 0 {
            step.push('-');
        }
        step.push(ch.to_ascii_lowercase());
    }
    step
}

/// The API calls an IAM action is checked for, as a cause names them.
fn calls_of(action: &str) -> Vec<String> {
    let op = action.split(':').nth(1).unwrap_or_default().to_string();
    let mut calls = vec![op.clone()];
    let more: &[&str] = match action {
        "s3:ListBucket" => &["ListObjectsV2", "HeadBucket", "GetObject", "HeadObject"],
        "s3:ListBucketMultipartUploads" => &["ListMultipartUploads"],
        "s3:PutInventoryConfiguration" => &["PutBucketInventoryConfiguration"],
        "s3:GetInventoryConfiguration" => &[
            "GetBucketInventoryConfiguration",
            "ListBucketInventoryConfigurations",
        ],
        "s3:GetEncryptionConfiguration" => &["GetBucketEncryption"],
        "s3:GetObject" => &["HeadObject", "GetObject"],
        "s3:PutObject" => &["PutObject", "CopyObject", "CreateMultipartUpload"],
        "s3:PutJobTagging" => &["CreateJob"],
        "iam:PassRole" => &["CreateJob"],
        _ => &[],
    };
    calls.extend(more.iter().map(|s| s.to_string()));
    calls
}

#[derive(Default)]
struct Totals {
    succeeded: u32,
    tolerated: u32,
    failed_clean: u32,
    cleaned_after: u32,
    leaks: u32,
}

/// Runs one cell in a fresh sandbox; its line in the matrix. Panics on an unexpected outcome or
/// a leak.
async fn run_cell(n: usize, c: &Cell, totals: &mut Totals) -> String {
    let world = World::seeded().await;
    world
        .sandbox
        .control(
            "/faults",
            json!({"action": c.action, "caller": c.caller, "fault": c.fault, "count": c.count}),
        )
        .await
        .unwrap();
    let copy_id = format!("faults-{n:03}");
    let run = run_flow(&world, c.flow, &copy_id).await;
    let what = format!(
        "{:?} {} {} by {} (count {})",
        c.flow, c.fault, c.action, c.caller, c.count
    );
    let injected = world.sandbox.get("/faults").await.unwrap()[0]["injected"]
        .as_u64()
        .unwrap();
    assert!(injected >= 1, "{what}: the fault never fired");
    let lambda_level = c.action == "lambda:InvokeFunction";
    let outcome = match (c.count < 0, run.status.clone()) {
        (false, status) => {
            assert_eq!(status, ExecutionStatus::Succeeded, "{what}: {run:?}");
            world.assert_copied(&samples()).await;
            let tokens = world.job_tokens().await;
            assert_eq!(
                tokens,
                [
                    format!("ferry-{copy_id}-1-0"),
                    format!("ferry-{copy_id}-1-1")
                ],
                "{what}: the copy and its verification, one job each"
            );
            totals.succeeded += 1;
            "SUCCEEDED".to_string()
        }
        (true, ExecutionStatus::Succeeded) => {
            // Tolerated by design: everything copied all the same.
            world.assert_copied(&samples()).await;
            totals.tolerated += 1;
            "SUCCEEDED (tolerated)".to_string()
        }
        (true, status) => {
            assert_eq!(status, ExecutionStatus::Failed, "{what}: {run:?}");
            let name = run.error.clone().unwrap_or_default();
            assert!(
                ErrorName::parse(&name).is_some(),
                "{what}: `{name}` is not one of ferry's error names: {run:?}"
            );
            let cause = run.cause.clone().unwrap_or_default();
            if lambda_level {
                assert!(
                    cause.contains("Runtime.ExitError"),
                    "{what}: the cause names the function's crash: {cause}"
                );
            } else {
                let step = step_of(&c.caller);
                assert!(
                    cause.contains(&format!("{step}: ")),
                    "{what}: the cause names the step {step}: {cause}"
                );
                let calls = calls_of(&c.action);
                assert!(
                    calls.iter().any(|call| cause.contains(call.as_str())),
                    "{what}: the cause names the call ({calls:?}): {cause}"
                );
            }
            // The cleanup rule's execution, started when the run failed, has ended (it fails
            // too while a permanent fault lasts).
            world
                .wait_for(&world.execution_arn(&format!("{copy_id}-cleanup-1")))
                .await;
            totals.failed_clean += 1;
            name
        }
    };
    let mut left = world.leftovers(SOURCE_BUCKET, &[&copy_id]).await.unwrap();
    let mut note = String::new();
    if !left.is_empty() && c.count < 0 {
        // The fault outlived the run and its cleanup: once it is gone, a cleanup run (what
        // `ferry revoke` starts) takes everything back.
        world
            .sandbox
            .control("/faults/clear", json!({}))
            .await
            .unwrap();
        let again = world
            .run(
                &format!("{copy_id}-cleanup-2"),
                &json!({"cleanup": {"execution": format!("{copy_id}-1")}}),
            )
            .await;
        assert_eq!(
            again.status,
            ExecutionStatus::Succeeded,
            "{what}: {again:?}"
        );
        left = world.leftovers(SOURCE_BUCKET, &[&copy_id]).await.unwrap();
        totals.cleaned_after += 1;
        note = " (cleaned up once the fault was gone)".into();
    }
    if !left.is_empty() {
        totals.leaks += 1;
    }
    assert!(left.is_empty(), "{what}: ferry left {left:?}");
    format!(
        "{:<9} {:<34} {:<34} {:<24} {:>4} -> {outcome}{note}",
        format!("{:?}", c.flow),
        c.action,
        c.caller,
        c.fault,
        if c.count < 0 {
            "all".into()
        } else {
            c.count.to_string()
        },
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_fault_at_one_call_loses_nothing_and_leaves_nothing() {
    let all = std::env::var("FERRY_FAULT_MATRIX").is_ok_and(|v| v == "all");
    let cells = if all {
        let csv = census(Flow::Csv).await;
        let inventory = census(Flow::Inventory).await;
        // Flow A's cells are the pairs flow B does not already cover.
        let only_a: BTreeSet<_> = inventory.difference(&csv).cloned().collect();
        let mut cells = cells_of(Flow::Csv, &csv);
        cells.extend(cells_of(Flow::Inventory, &only_a));
        println!(
            "census: flow B {} (role, action) pairs, flow A {} more; {} cells",
            csv.len(),
            only_a.len(),
            cells.len()
        );
        for (role, action) in csv.iter().chain(&only_a) {
            println!("  {role} {action}");
        }
        cells
    } else {
        sampled()
    };
    let mut totals = Totals::default();
    let mut run = 0;
    // FERRY_FAULT_FROM=N starts at cell N (to go on after a fix without running the first ones
    // again; the totals then count the cells run).
    let from: usize = std::env::var("FERRY_FAULT_FROM")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    // FERRY_FAULT_CALLER=text runs only the cells whose caller contains it.
    let only = std::env::var("FERRY_FAULT_CALLER").unwrap_or_default();
    for (n, c) in cells
        .iter()
        .enumerate()
        .skip(from)
        .filter(|(_, c)| c.caller.contains(&only))
    {
        let line = run_cell(n, c, &mut totals).await;
        run += 1;
        println!("{line}");
    }
    println!(
        "fault matrix: {run} cells run of {}, {} succeeded, {} succeeded with a permanent fault tolerated, {} failed clean ({} of them cleaned up once the fault was gone), {} leaks",
        cells.len(),
        totals.succeeded,
        totals.tolerated,
        totals.failed_clean,
        totals.cleaned_after,
        totals.leaks
    );
}
