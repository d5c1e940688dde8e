//! AWS misbehaving at one call of one step (`POST /faults` on the sandbox's control API): a
//! sampled matrix of cells, each a small flow B copy with one fault injected into one AWS
//! action of one function. A transient fault (once) ends SUCCEEDED with every object copied; a
//! permanent one (every call) ends FAILED with one of ferry's error names and a cause naming the
//! call; in every cell nothing of ferry's is left and every foreign policy is as it was. The
//! ambiguous timeout (the call carried out, its caller answered 500) shows idempotency: one job
//! per attempt, not two. The test prints the matrix and its totals.

use aws_sdk_sfn::types::ExecutionStatus;
use ferry_tests::*;
use serde_json::json;

struct Cell {
    action: &'static str,
    /// A substring of the calling function's role ARN (SAM names a role `<Function>Role-...`;
    /// job-submit's is `ferry-job-submit-<region>`).
    caller: &'static str,
    fault: &'static str,
    /// -1: every call; else that many.
    count: i64,
    /// A permanent fault's expected error name (None: the copy succeeds).
    fails_with: Option<&'static str>,
    /// Text the cause must hold for a failing cell.
    cause_names: &'static str,
}

const fn cell(action: &'static str, caller: &'static str, fault: &'static str) -> Cell {
    Cell {
        action,
        caller,
        fault,
        count: 1,
        fails_with: None,
        cause_names: "",
    }
}

fn matrix() -> Vec<Cell> {
    vec![
        // Transient: once each, the SDK's or the state machine's retry carries the copy through.
        cell("s3:GetBucketPolicy", "SourceAccessFunctionRole", "SlowDown"),
        cell("s3:PutBucketPolicy", "SourceAccessFunctionRole", "SlowDown"),
        cell("s3:PutBucketPolicy", "SourceAccessFunctionRole", "Timeout"),
        cell(
            "iam:CreateRole",
            "DestinationAccessFunctionRole",
            "InternalError",
        ),
        cell(
            "iam:PutRolePolicy",
            "DestinationAccessFunctionRole",
            "Throttling",
        ),
        cell("iam:PassRole", "ferry-job-submit", "Throttling"),
        cell("s3:CreateJob", "ferry-job-submit", "Timeout"),
        cell(
            "s3:CreateJob",
            "ferry-job-submit",
            "TooManyRequestsException",
        ),
        cell("s3:DescribeJob", "JobTrackFunctionRole", "Throttling"),
        cell("s3:GetObject", "JobReportFunctionRole", "InternalError"),
        cell(
            "iam:DeleteRolePolicy",
            "DestinationAccessFunctionRole",
            "Throttling",
        ),
        cell(
            "iam:DeleteRole",
            "DestinationAccessFunctionRole",
            "ServiceUnavailable",
        ),
        // Permanent: every call.
        Cell {
            count: -1,
            fails_with: Some("AccessDenied"),
            cause_names: "CreateRole",
            ..cell(
                "iam:CreateRole",
                "DestinationAccessFunctionRole",
                "AccessDenied",
            )
        },
        Cell {
            count: -1,
            fails_with: Some("Retryable"),
            cause_names: "PutBucketPolicy",
            ..cell("s3:PutBucketPolicy", "SourceAccessFunctionRole", "SlowDown")
        },
        Cell {
            count: -1,
            fails_with: Some("AccessDenied"),
            cause_names: "CreateJob",
            ..cell("s3:CreateJob", "ferry-job-submit", "AccessDenied")
        },
    ]
}

/// The cells `make test` runs: both ambiguous timeouts, a read in the report step, and two
/// permanent faults. `make faults` (FERRY_FAULT_MATRIX=all) runs every cell.
const SAMPLED: [usize; 5] = [2, 6, 9, 12, 13];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_fault_at_one_call_loses_nothing_and_leaves_nothing() {
    let all = std::env::var("FERRY_FAULT_MATRIX").is_ok_and(|v| v == "all");
    let cells: Vec<Cell> = matrix()
        .into_iter()
        .enumerate()
        .filter(|(i, _)| all || SAMPLED.contains(i))
        .map(|(_, c)| c)
        .collect();
    let (mut succeeded, mut failed_clean, mut leaks) = (0, 0, 0);
    let mut lines = Vec::new();
    for (n, c) in cells.iter().enumerate() {
        let world = World::seeded().await;
        world
            .sandbox
            .control(
                "/faults",
                json!({"action": c.action, "caller": c.caller, "fault": c.fault, "count": c.count}),
            )
            .await
            .unwrap();
        let copy_id = format!("faults-{n:02}");
        let run = world
            .run(&format!("{copy_id}-1"), &world.request(&copy_id))
            .await;
        let injected = world.sandbox.get("/faults").await.unwrap()[0]["injected"]
            .as_u64()
            .unwrap();
        assert!(
            injected >= 1,
            "{} by {}: the fault never fired",
            c.action,
            c.caller
        );
        match c.fails_with {
            None => {
                assert_eq!(
                    run.status,
                    ExecutionStatus::Succeeded,
                    "{} {} by {}: {run:?}",
                    c.fault,
                    c.action,
                    c.caller
                );
                world.assert_copied(&samples()).await;
                let tokens = world.job_tokens().await;
                let mut unique = tokens.clone();
                unique.dedup();
                assert_eq!(unique, tokens, "one job per token: {tokens:?}");
                assert_eq!(
                    tokens,
                    [
                        format!("ferry-{copy_id}-1-0"),
                        format!("ferry-{copy_id}-1-1")
                    ],
                    "the copy and its verification, no more"
                );
                succeeded += 1;
            }
            Some(name) => {
                assert_eq!(run.status, ExecutionStatus::Failed, "{run:?}");
                assert_eq!(run.error.as_deref(), Some(name), "{run:?}");
                let cause = run.cause.clone().unwrap_or_default();
                assert!(cause.contains(c.cause_names), "{cause}");
                failed_clean += 1;
            }
        }
        let left = world.leftovers(SOURCE_BUCKET, &[&copy_id]).await.unwrap();
        if !left.is_empty() {
            leaks += 1;
        }
        assert!(
            left.is_empty(),
            "{} {}: ferry left {left:?}",
            c.fault,
            c.action
        );
        lines.push(format!(
            "{:<24} {:<26} {:<24} {:>4} -> {}",
            c.action,
            c.caller,
            c.fault,
            if c.count < 0 {
                "all".into()
            } else {
                c.count.to_string()
            },
            run.error.as_deref().unwrap_or("SUCCEEDED")
        ));
    }
    println!("{}", lines.join("\n"));
    println!(
        "fault matrix: {} cells, {succeeded} succeeded, {failed_clean} failed clean, {leaks} leaks",
        cells.len()
    );
}
