//! `ferry revoke`: a copy's run stopped and everything it was granted taken back.

use std::time::Duration;

use aws_sdk_sfn::types::ExecutionStatus;
use ferry_core::execution_input::ExecutionInput;
use ferry_core::names::ExecutionName;

use crate::runs::{self, Run};
use crate::target::Target;
use crate::watch;
use crate::{aws_error, CliError, Result};

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
