//! start, watch, report, revoke and list: each returns the exit status.

use std::time::Duration;

use aws_sdk_sfn::types::ExecutionStatus;
use ferry_core::execution_input::ExecutionInput;
use ferry_core::names::ExecutionName;
use ferry_core::steps::{CopyTotals, ReportOutput};
use serde::Serialize;

use crate::history::{self, task_output};
use crate::runs::{self, Run};
use crate::target::Target;
use crate::watch::{self, job_list, Outcome};
use crate::{aws_error, plan, CliError, Result};

/// `ferry start`: validates, refuses a copy that is running, starts its next run.
pub async fn start(target: &Target, path: &std::path::Path, follow: bool) -> Result<i32> {
    let (raw, req) = plan::read_request(path)?;
    plan::plan(&raw, &req)?;
    if req.destination.account_id != target.account {
        return Err(CliError::other(format!(
            "the request copies into account {}, but these credentials are of account {}: run ferry with the destination account's credentials",
            req.destination.account_id, target.account
        )));
    }
    start_run(target, &req.copy_id, &ExecutionInput::Request(raw), follow).await
}

/// `ferry verify`: a new run of the copy whose one job checks every object of its manifest at
/// the destination (the plan is the copy's stored one; flow A reads its latest inventory report).
pub async fn verify(target: &Target, copy_id: &str, follow: bool) -> Result<i32> {
    let input = ExecutionInput::stored_run(copy_id, true);
    start_run(target, copy_id, &input, follow).await
}

/// Starts run `<copyId>-<n>` (the next number) with `input`, unless a run of the copy is going.
async fn start_run(
    target: &Target,
    copy_id: &str,
    input: &ExecutionInput,
    follow: bool,
) -> Result<i32> {
    let previous = runs::list(target, Some(copy_id), usize::MAX).await?;
    if let Some(r) = previous
        .iter()
        .find(|r| r.status == ExecutionStatus::Running)
    {
        return Err(CliError::other(format!(
            "copy {copy_id} is already running: {} since {}; follow it with `ferry watch {copy_id}`",
            r.name,
            r.started_text(),
        )));
    }
    let next = previous
        .iter()
        .filter(|r| !r.name.cleanup)
        .map(|r| r.name.number)
        .max()
        .unwrap_or(0)
        + 1;
    let verification = input.stored_copy().is_some_and(|(_, verify)| verify);
    if verification && next == 1 {
        return Err(CliError::other(format!(
            "copy {copy_id} has no run: there is nothing to verify (start it with `ferry start`)"
        )));
    }
    let name = ExecutionName {
        copy_id: copy_id.to_string(),
        number: next,
        cleanup: false,
    };
    let started = target
        .clients
        .sfn
        .start_execution()
        .state_machine_arn(&target.state_machine_arn)
        .name(name.to_string())
        .input(input.to_json())
        .send()
        .await
        .map_err(aws_error("StartExecution"))?;
    println!("started {name}: {}", started.execution_arn());
    if verification {
        println!(
            "run {next} of copy {copy_id}: the verification of its manifest at the destination"
        );
    } else if next > 1 {
        println!("run {next} of copy {copy_id}: a new attempt on the copy's stored plan");
    }
    if !follow {
        println!("follow it with: ferry watch {copy_id}");
        return Ok(0);
    }
    let run = Run {
        name,
        arn: started.execution_arn().to_string(),
        status: ExecutionStatus::Running,
        started: started.start_date().secs(),
        stopped: None,
    };
    let outcome = watch::follow(target, &run).await?;
    println!("{}", outcome.summary());
    Ok(outcome.exit_status())
}

/// `ferry watch`: follows the copy's latest run (or the named execution) to its end.
pub async fn watch(target: &Target, what: &str) -> Result<i32> {
    let run = runs::resolve(target, what).await?;
    let outcome = watch::follow(target, &run).await?;
    println!("{}", outcome.summary());
    Ok(outcome.exit_status())
}

/// `ferry report`: the latest run's counts, by status and error code, its jobs, failed keys.
pub async fn report(target: &Target, what: &str, as_json: bool) -> Result<i32> {
    let run = runs::resolve(target, what).await?;
    let outcome = Outcome::of(target, &run).await?;
    // The last summary of a report: the execution's output when it succeeded, else the last
    // report step's output in the history (a failed run has no output).
    let totals = match &outcome.output {
        Some(o) => Some(o.clone()),
        None => last_totals(target, &run.arn).await?,
    };
    let view = ReportView {
        execution: outcome.execution.clone(),
        status: outcome.status.as_str().to_string(),
        error: outcome.error.clone(),
        cause: outcome.cause.clone(),
        totals,
    };
    if as_json {
        println!(
            "{}",
            serde_json::to_string_pretty(&view).unwrap_or_default()
        );
    } else {
        print!("{}", render_report(&view));
    }
    Ok(if outcome.status == ExecutionStatus::Running {
        0
    } else {
        outcome.exit_status()
    })
}

/// What `ferry report` shows (`--json` prints it as it is).
#[derive(Debug, Clone, Serialize)]
pub struct ReportView {
    pub execution: String,
    pub status: String,
    pub error: Option<String>,
    pub cause: Option<String>,
    /// The run's last summary: null before its first job's report.
    pub totals: Option<CopyTotals>,
}

/// The `totals` of the last report step that succeeded in the run's history.
async fn last_totals(target: &Target, arn: &str) -> Result<Option<CopyTotals>> {
    let mut found = None;
    history::newest_first(target, arn, |events| {
        found = events
            .iter()
            .find_map(task_output::<ReportOutput>)
            .map(|r| r.totals);
        found.is_some()
    })
    .await?;
    Ok(found)
}

pub fn render_report(v: &ReportView) -> String {
    let mut out = format!("{} {}\n", v.execution, v.status);
    if let Some(e) = &v.error {
        out.push_str(&format!(
            "  error      {e}: {}\n",
            v.cause.as_deref().unwrap_or_default()
        ));
    }
    let Some(t) = &v.totals else {
        out.push_str("  no job report yet (the run ended, or is, before its first job's report)\n");
        return out;
    };
    let jobs = t.job_ids.len();
    out.push_str(&format!("  copied     {}\n", t.copied));
    if t.identical > 0 {
        out.push_str(&format!(
            "  identical  {} (already at the destination: not copied)\n",
            t.identical
        ));
    }
    out.push_str(&format!("  failed     {}\n", t.failed));
    // The verification is the last job, not a retry.
    let verifications = usize::from(t.verification.is_some());
    let retries = jobs.saturating_sub(1 + verifications);
    let what = match (verifications, jobs) {
        // A verification run (`ferry verify`): its one job is the verification.
        (1, 1) => "the verification".to_string(),
        (1, _) => format!(
            "{retries} retr{}, then the verification",
            if retries == 1 { "y" } else { "ies" }
        ),
        _ => format!("{retries} retr{}", if retries == 1 { "y" } else { "ies" }),
    };
    out.push_str(&format!(
        "  jobs       {jobs} ({what}): {}\n",
        job_list(&t.job_ids)
    ));
    if let Some(v) = &t.verification {
        out.push_str(&format!(
            "  verified   {} at the destination; {} missing, {} different\n",
            v.verified, v.missing, v.different
        ));
        for (what, keys) in [
            ("missing", &v.first_missing),
            ("different", &v.first_different),
        ] {
            for k in keys.iter() {
                out.push_str(&format!("    {k}  {what}\n"));
            }
        }
    }
    let r = &t.last_report;
    if r.tasks == 0 {
        out.push_str("  last job   its report lists no task (reports list failed tasks only, unless report.scope is AllTasks)\n");
    } else {
        out.push_str(&format!(
            "  last job   {} tasks in its report: {} succeeded, {} failed ({} retryable, {} permanent, {} not copyable as encrypted)\n",
            r.tasks, r.succeeded, r.failed, r.retryable, r.permanent, r.not_copyable
        ));
    }
    for (code, c) in &r.by_error_code {
        out.push_str(&format!(
            "    {code:<24} {:>8}  {:<9} {}\n",
            c.count,
            c.class.as_str(),
            c.example
        ));
    }
    for obstacle in r.encryption_obstacles() {
        out.push_str(&format!(
            "  not copyable ({}): {}\n",
            obstacle.label(),
            obstacle.remedy()
        ));
    }
    if !r.failed_sample.is_empty() {
        out.push_str("  failed keys (the first ones)\n");
        for f in &r.failed_sample {
            out.push_str(&format!("    {}  {}\n", f.key, f.error_code));
        }
    }
    out
}

/// `ferry revoke`: stops the copy's run if it is still going, then makes sure its cleanup
/// execution `<copyId>-cleanup-<n>` runs (the cleanup rule starts it for a stopped run; ferry
/// starts it when the rule did not, forced: everything is revoked, the bucket statements a
/// `cleanup.revokeGrants: false` keeps included, even for a run Step Functions no longer keeps)
/// and follows it: the job cancelled, every grant removed.
pub async fn revoke(target: &Target, what: &str) -> Result<i32> {
    let run = runs::resolve(target, what).await?;
    let cleanup = ExecutionName {
        cleanup: true,
        ..run.name.clone()
    };
    if run.status == ExecutionStatus::Running {
        target
            .clients
            .sfn
            .stop_execution()
            .execution_arn(&run.arn)
            .cause("stopped by ferry revoke")
            .send()
            .await
            .map_err(aws_error("StopExecution"))?;
        println!("stopped {}", run.name);
        // The cleanup rule reacts to the stop; give it a moment before starting one here.
        for _ in 0..20 {
            if find_run(target, &cleanup).await?.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    let existing = find_run(target, &cleanup).await?;
    let cleanup_run = match existing {
        Some(r) if r.status == ExecutionStatus::Running => {
            println!("{cleanup} is running (started by the cleanup rule)");
            r
        }
        Some(r) if r.status == ExecutionStatus::Succeeded => {
            if let Some(kept) = kept_by(target, &r, &run.name).await? {
                println!("{kept}");
                return Ok(1);
            }
            println!("{cleanup} already revoked what {} left", run.name);
            return Ok(0);
        }
        Some(r) => {
            return Err(CliError::other(format!(
                "{cleanup} already ran and ended {}: see its cause with `ferry report {cleanup}`; fix that cause, then `ferry start` the copy again (a new run revokes at its end)",
                r.status.as_str()
            )))
        }
        None => {
            let started = target
                .clients
                .sfn
                .start_execution()
                .state_machine_arn(&target.state_machine_arn)
                .name(cleanup.to_string())
                .input(ExecutionInput::cleanup(&run.name.to_string(), true).to_json())
                .send()
                .await;
            match started {
                Ok(s) => Run {
                    name: cleanup.clone(),
                    arn: s.execution_arn().to_string(),
                    status: ExecutionStatus::Running,
                    started: s.start_date().secs(),
                    stopped: None,
                },
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_execution_already_exists()) =>
                {
                    find_run(target, &cleanup).await?.ok_or_else(|| {
                        CliError::other(format!("{cleanup} exists but is not listed"))
                    })?
                }
                Err(e) => return Err(aws_error("StartExecution")(e)),
            }
        }
    };
    let outcome = watch::follow(target, &cleanup_run).await?;
    println!("{}", outcome.summary());
    if outcome.exit_status() == 0 {
        if let Some(kept) = kept_by(target, &cleanup_run, &run.name).await? {
            println!("{kept}");
            return Ok(1);
        }
    }
    Ok(outcome.exit_status())
}

/// What a cleanup that ended before `ferry revoke` could force one left on purpose: the cleanup
/// rule starts a run's cleanup as soon as the run stops, and when the copy keeps its grants
/// (`cleanup.revokeGrants: false`, where the source stack allows it) that cleanup keeps the
/// source buckets' statements until they expire; a second cleanup of the run cannot start (its
/// name is taken). `source-access` says which buckets keep them and until when
/// (`$.sourceRevoked.kept` in the cleanup's output). `None` when it kept nothing.
async fn kept_by(target: &Target, cleanup: &Run, run: &ExecutionName) -> Result<Option<String>> {
    let described = target
        .clients
        .sfn
        .describe_execution()
        .execution_arn(&cleanup.arn)
        .send()
        .await
        .map_err(aws_error("DescribeExecution"))?;
    let output: serde_json::Value =
        serde_json::from_str(described.output().unwrap_or("{}")).unwrap_or_default();
    let kept: Vec<ferry_core::steps::KeptStatements> =
        serde_json::from_value(output["sourceRevoked"]["kept"].clone()).unwrap_or_default();
    if kept.is_empty() {
        return Ok(None);
    }
    let hash = ferry_core::names::copy_hash(&target.account, &run.copy_id);
    let buckets: Vec<String> = kept
        .iter()
        .map(|k| format!("{} (until {})", k.bucket, k.until))
        .collect();
    Ok(Some(format!(
        "{} (started by the cleanup rule when {run} ended) deleted the Batch role and revoked the KMS grants, and kept the statements of {} as the copy asked (cleanup.revokeGrants: false); they end at that time by themselves (aws:CurrentTime). A second cleanup of {run} cannot start; to take them back now, remove the statements whose Sid ends in {hash} from those buckets' policies (the source account)",
        cleanup.name,
        buckets.join(", "),
    )))
}

async fn find_run(target: &Target, name: &ExecutionName) -> Result<Option<Run>> {
    Ok(runs::list(target, Some(&name.copy_id), usize::MAX)
        .await?
        .into_iter()
        .find(|r| r.name == *name))
}

/// `ferry list`: the most recent copies, one line each (its latest run, how it ended, its
/// cleanup); `--executions` lists every execution instead. Newest first.
pub async fn list(target: &Target, max: usize, executions: bool) -> Result<i32> {
    let limit = if executions { max } else { usize::MAX };
    let runs = runs::list(target, None, limit).await?;
    if runs.is_empty() {
        println!("no ferry executions on {}", target.state_machine_arn);
        return Ok(0);
    }
    print!(
        "{}",
        if executions {
            render_executions(&runs)
        } else {
            render_copies(&runs, max)
        }
    );
    Ok(0)
}

fn ended(r: &Run) -> String {
    r.stopped
        .map(ferry_core::clock::format_timestamp)
        .unwrap_or_else(|| "-".into())
}

pub fn render_executions(runs: &[Run]) -> String {
    let mut out = format!(
        "{:<40} {:<10} {:<22} {:<22}\n",
        "EXECUTION", "STATUS", "STARTED", "ENDED"
    );
    for r in runs {
        out.push_str(&format!(
            "{:<40} {:<10} {:<22} {:<22}\n",
            r.name.to_string(),
            r.status.as_str(),
            r.started_text(),
            ended(r)
        ));
    }
    out
}

/// One line per copy, newest first: runs so far, the latest run's state, and its cleanup's.
pub fn render_copies(runs: &[Run], max: usize) -> String {
    let mut order: Vec<&str> = Vec::new();
    for r in runs {
        if !order.contains(&r.name.copy_id.as_str()) {
            order.push(&r.name.copy_id);
        }
    }
    let mut out = format!(
        "{:<28} {:>4}  {:<10} {:<22} {:<22} {}\n",
        "COPY", "RUNS", "LATEST", "STARTED", "ENDED", "CLEANUP"
    );
    for copy in order.into_iter().take(max) {
        let of_copy: Vec<&Run> = runs.iter().filter(|r| r.name.copy_id == copy).collect();
        let Some(latest) = of_copy
            .iter()
            .filter(|r| !r.name.cleanup)
            .max_by_key(|r| r.name.number)
        else {
            continue;
        };
        let cleanup = of_copy
            .iter()
            .find(|r| r.name.cleanup && r.name.number == latest.name.number)
            .map(|c| format!("{} {}", c.name, c.status.as_str()))
            .unwrap_or_else(|| "-".into());
        out.push_str(&format!(
            "{:<28} {:>4}  {:<10} {:<22} {:<22} {}\n",
            copy,
            latest.name.number,
            latest.status.as_str(),
            latest.started_text(),
            ended(latest),
            cleanup
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(name: &str, status: ExecutionStatus, started: i64) -> Run {
        Run {
            name: ExecutionName::parse(name).unwrap(),
            arn: format!("arn:aws:states:eu-west-1:222222222222:execution:ferry:{name}"),
            status,
            started,
            stopped: Some(started + 60),
        }
    }

    #[test]
    fn list_shows_each_copy_once_with_its_latest_run_and_cleanup() {
        // Newest first, as ListExecutions answers.
        let runs = [
            run(
                "photos-2026-cleanup-3",
                ExecutionStatus::Succeeded,
                1_795_900_400,
            ),
            run("photos-2026-3", ExecutionStatus::Aborted, 1_795_900_300),
            run("logs-1", ExecutionStatus::Succeeded, 1_795_900_200),
            run("photos-2026-2", ExecutionStatus::Failed, 1_795_900_100),
            run("photos-2026-1", ExecutionStatus::Succeeded, 1_795_900_000),
        ];
        let text = render_copies(&runs, 20);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[1].starts_with("photos-2026"), "{text}");
        assert!(lines[1].contains("   3  ABORTED"), "{text}");
        assert!(
            lines[1].ends_with("photos-2026-cleanup-3 SUCCEEDED"),
            "{text}"
        );
        assert!(
            lines[2].starts_with("logs") && lines[2].ends_with(" -"),
            "{text}"
        );
        assert_eq!(render_copies(&runs, 1).lines().count(), 2);
        assert_eq!(render_executions(&runs).lines().count(), 6);
    }

    #[test]
    fn a_report_lists_counts_codes_and_failed_keys() {
        // The totals as job-report writes them (camelCase), read with ferry-core's type.
        let totals: CopyTotals = serde_json::from_value(serde_json::json!({
            "jobIds": ["j1", "j2"], "copied": 8, "failed": 2,
            "lastReport": {"tasks": 2, "succeeded": 0, "failed": 2, "retryable": 0, "permanent": 2,
              "byErrorCode": {"AccessDenied": {"count": 2, "class": "Permanent", "httpStatus": 403, "example": "Access Denied"}},
              "failedSample": [{"key": "2026/a b.jpg", "errorCode": "AccessDenied", "class": "Permanent"}]}
        }))
        .unwrap();
        let v = ReportView {
            execution: "photos-2026-1".into(),
            status: "FAILED".into(),
            error: Some("CopyIncomplete".into()),
            cause: Some("2 objects failed".into()),
            totals: Some(totals),
        };
        let text = render_report(&v);
        assert!(
            text.contains("error      CopyIncomplete: 2 objects failed"),
            "{text}"
        );
        assert!(text.contains("jobs       2 (1 retry): j1, j2"), "{text}");
        assert!(
            text.contains(&format!(
                "    {:<24} {:>8}  {:<9} Access Denied",
                "AccessDenied", 2, "Permanent"
            )),
            "{text}"
        );
        assert!(text.contains("    2026/a b.jpg  AccessDenied"), "{text}");
    }

    #[test]
    fn a_report_counts_objects_not_copyable_as_encrypted_apart_with_what_to_do() {
        let totals: CopyTotals = serde_json::from_value(serde_json::json!({
            "jobIds": ["j1"], "copied": 6, "failed": 2,
            "lastReport": {"tasks": 2, "succeeded": 0, "failed": 2, "retryable": 0, "permanent": 0,
              "notCopyable": 2,
              "byErrorCode": {
                "InvalidRequest (SSE-C)": {"count": 1, "class": "NotCopyable", "httpStatus": 400,
                  "example": "The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object."},
                "AccessDenied (KMS key)": {"count": 1, "class": "NotCopyable", "httpStatus": 403,
                  "example": "User: arn:aws:sts::222222222222:assumed-role/ferry-batch-photos-2026/s3-batch-operations is not authorized to perform: kms:Decrypt"}},
              "failedSample": []}
        }))
        .unwrap();
        let v = ReportView {
            execution: "photos-2026-1".into(),
            status: "FAILED".into(),
            error: Some("CopyIncomplete".into()),
            cause: None,
            totals: Some(totals),
        };
        let text = render_report(&v);
        assert!(
            text.contains("2 failed (0 retryable, 0 permanent, 2 not copyable as encrypted)"),
            "{text}"
        );
        assert!(
            text.contains("InvalidRequest (SSE-C)          1  NotCopyable"),
            "{text}"
        );
        assert!(
            text.contains("  not copyable (SSE-C): encrypted with a customer-provided key (SSE-C)"),
            "{text}"
        );
        assert!(
            text.contains(
                "  not copyable (KMS key): encrypted with a KMS key the Batch role may not use"
            ),
            "{text}"
        );
    }
}
