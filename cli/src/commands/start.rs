//! `ferry start`, `ferry verify` and `ferry watch`: a run begun, and followed.

use aws_sdk_sfn::types::ExecutionStatus;
use ferry_core::execution_input::ExecutionInput;
use ferry_core::names::ExecutionName;

use crate::runs::{self, Run};
use crate::target::Target;
use crate::watch;
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
