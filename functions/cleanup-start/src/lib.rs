//! `cleanup-start` (destination account): the target of the EventBridge rule on the state
//! machine's executions that end FAILED, TIMED_OUT or ABORTED. An execution that is stopped,
//! times out or hits its history limit runs no Catch, so nothing revoked its grants: this starts
//! the same state machine in cleanup mode (input `{"cleanup": {"execution": "<name>"}}`), named
//! `<copyId>-cleanup-<n>` for run `<copyId>-<n>`. EventBridge cannot name executions, hence this
//! function. Cleanup executions are ignored (a failed cleanup does not start another), and a
//! repeated event finds the cleanup execution already there.
//!
//! It is also the target of EventBridge Scheduler schedules of scheduled syncs, for the same
//! reason: the schedule's input `{"scheduledRun": "<copyId>"}` (or `{"scheduledVerification":
//! "<copyId>"}`) starts the copy's next run `<copyId>-<n>` on its stored plan (input
//! `{"runCopy": ...}` / `{"verifyCopy": ...}`), unless a run of the copy is still going.

use aws_sdk_sfn::types::ExecutionStatus;
use ferry_core::error::{from_sdk, sdk_code};
use ferry_core::execution_input::{ExecutionInput, ScheduleInput};
use ferry_core::names::ExecutionName;
use ferry_core::status_change::ExecutionStatusChange;
use ferry_core::{clients::Clients, stack::StackConfig, ErrorName, StepError};
use lambda_runtime::LambdaEvent;
use serde::Serialize;
use serde_json::Value;
use tracing::info;

/// The end statuses that need a cleanup.
pub const CLEANUP_STATUSES: [&str; 3] = ["FAILED", "TIMED_OUT", "ABORTED"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CleanupStarted {
    /// The cleanup execution's name, or null when none was needed.
    pub started: Option<String>,
    /// Why nothing was started.
    pub ignored: Option<String>,
}

fn ignored(why: String) -> CleanupStarted {
    info!(why = %why, "no cleanup started");
    CleanupStarted {
        started: None,
        ignored: Some(why),
    }
}

/// Handles a "Step Functions Execution Status Change" event, or a schedule's scheduled run.
#[tracing::instrument(skip_all)]
pub async fn handle(
    clients: &Clients,
    config: &StackConfig,
    event: LambdaEvent<Value>,
) -> Result<CleanupStarted, StepError> {
    if let Some(schedule) = ScheduleInput::parse(&event.payload) {
        let schedule = schedule.map_err(|why| StepError::new(ErrorName::InvalidRequest, why))?;
        let (copy_id, verify) = schedule.copy();
        return scheduled_run(clients, config, copy_id, verify).await;
    }
    let change = ExecutionStatusChange::from_value(event.payload)
        .map_err(|e| StepError::new(ErrorName::InvalidRequest, e))?;
    let detail = &change.detail;
    let (name, status) = (detail.name.as_str(), detail.status.as_str());
    let state_machine = detail.state_machine_arn.as_str();
    if !CLEANUP_STATUSES.contains(&status) {
        return Ok(ignored(format!("{name} ended {status}")));
    }
    let Some(run) = ExecutionName::parse(name) else {
        return Ok(ignored(format!("{name} is not a ferry execution name")));
    };
    if run.cleanup {
        return Ok(ignored(format!("{name} is a cleanup execution")));
    }
    // Nothing in the event is taken on trust (the scheduled sync's role, or anyone allowed to
    // invoke this function, could hand it one): the execution must be of ferry's own state
    // machine, and must really have ended, as Step Functions says now.
    let ours = ferry_core::names::state_machine_arn(&config.region, &config.account_id);
    if state_machine != ours {
        return Ok(ignored(format!(
            "{name} is an execution of {state_machine}, not of ferry's state machine {ours}"
        )));
    }
    let execution = ferry_core::names::execution_arn(&config.region, &config.account_id, name);
    let described = clients
        .sfn
        .describe_execution()
        .execution_arn(&execution)
        .send()
        .await
        .map_err(|e| from_sdk(e, &format!("DescribeExecution {name}")))?;
    let now = described.status().as_str();
    if !CLEANUP_STATUSES.contains(&now) {
        return Ok(ignored(format!(
            "{name} is {now} now (the event said {status}): no cleanup"
        )));
    }
    let cleanup = ExecutionName {
        cleanup: true,
        ..run
    }
    .to_string();
    let started = start(
        clients,
        &ours,
        &cleanup,
        ExecutionInput::cleanup(name, false),
    )
    .await?;
    if started.started.is_some() {
        info!(execution = %name, status = %status, cleanup = %cleanup, "started a cleanup");
    }
    Ok(started)
}

/// Starts execution `name` with `input`; an execution of that name already there (a repeated
/// event, a schedule's retry, a person's `ferry start` at the same moment) is not an error.
async fn start(
    clients: &Clients,
    state_machine: &str,
    name: &str,
    input: ExecutionInput,
) -> Result<CleanupStarted, StepError> {
    let started = clients
        .sfn
        .start_execution()
        .state_machine_arn(state_machine)
        .name(name)
        .input(input.to_json())
        .send()
        .await;
    match started {
        Ok(_) => Ok(CleanupStarted {
            started: Some(name.to_string()),
            ignored: None,
        }),
        Err(e) if sdk_code(&e) == Some("ExecutionAlreadyExists") => {
            Ok(ignored(format!("{name} exists already")))
        }
        Err(e) => Err(from_sdk(e, &format!("StartExecution {name}"))),
    }
}

/// Starts the copy's next run `<copyId>-<n>` on its stored plan, unless one of its runs (or
/// cleanups) is still running: a schedule that fires while the last sync is going skips.
async fn scheduled_run(
    clients: &Clients,
    config: &StackConfig,
    copy_id: &str,
    verify: bool,
) -> Result<CleanupStarted, StepError> {
    let state_machine = ferry_core::names::state_machine_arn(&config.region, &config.account_id);
    let mut last = 0;
    let mut pages = clients
        .sfn
        .list_executions()
        .state_machine_arn(&state_machine)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| from_sdk(e, &format!("ListExecutions {state_machine}")))?;
        for e in page.executions() {
            let Some(name) = ExecutionName::parse(e.name()).filter(|n| n.copy_id == copy_id) else {
                continue;
            };
            if *e.status() == ExecutionStatus::Running {
                return Ok(ignored(format!("{} is still running", e.name())));
            }
            if !name.cleanup {
                last = last.max(name.number);
            }
        }
    }
    if last == 0 {
        return Err(StepError::new(
            ErrorName::NotFound,
            format!("copy {copy_id} has never run on {state_machine}: start it once with `ferry start`, then schedule it"),
        ));
    }
    let next = ExecutionName {
        copy_id: copy_id.to_string(),
        number: last + 1,
        cleanup: false,
    }
    .to_string();
    let started = start(
        clients,
        &state_machine,
        &next,
        ExecutionInput::stored_run(copy_id, verify),
    )
    .await?;
    if started.started.is_some() {
        info!(execution = %next, verify, "started a scheduled run");
    }
    Ok(started)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sfn::operation::start_execution::StartExecutionOutput;
    use aws_smithy_mocks::mock;
    use serde_json::json;
    use std::sync::{Arc, Mutex};

    /// AWS's example "Step Functions Execution Status Change" event, for a ferry run.
    fn event(name: &str, status: &str) -> Value {
        json!({
            "version": "0",
            "id": "315c1398-40ff-a850-213b-158f73e60175",
            "detail-type": "Step Functions Execution Status Change",
            "source": "aws.states",
            "account": "222222222222",
            "time": "2026-11-28T14:00:00Z",
            "region": "eu-west-1",
            "resources": [format!("arn:aws:states:eu-west-1:222222222222:execution:ferry:{name}")],
            "detail": {
                "executionArn": format!("arn:aws:states:eu-west-1:222222222222:execution:ferry:{name}"),
                "stateMachineArn": "arn:aws:states:eu-west-1:222222222222:stateMachine:ferry",
                "name": name,
                "status": status,
                "startDate": 1795873550000u64,
                "stopDate": 1795874000000u64,
                "input": "{}",
                "output": null
            }
        })
    }

    /// A status-change event's answer (no ListExecutions needed) and the executions started.
    async fn call(event: Value) -> (CleanupStarted, Vec<(String, String)>) {
        let (out, seen) = scheduled(event, &[]).await;
        (out.unwrap(), seen)
    }

    #[tokio::test]
    async fn a_stopped_run_gets_a_cleanup_execution_named_after_it() {
        for status in CLEANUP_STATUSES {
            let (out, seen) = call(event("photos-2026-3", status)).await;
            assert_eq!(out.started.as_deref(), Some("photos-2026-cleanup-3"));
            assert_eq!(
                seen,
                [(
                    "photos-2026-cleanup-3".to_string(),
                    r#"{"cleanup":{"execution":"photos-2026-3"}}"#.to_string()
                )]
            );
        }
    }

    /// A forged event: a live run said to have failed, or an execution of another state
    /// machine of the account: no cleanup is started.
    #[tokio::test]
    async fn a_forged_status_change_starts_nothing() {
        let (out, seen) = call(event("photos-2026-4", "FAILED")).await;
        assert_eq!(
            out.ignored.as_deref(),
            Some("photos-2026-4 is RUNNING now (the event said FAILED): no cleanup")
        );
        assert!(seen.is_empty());
        let mut elsewhere = event("photos-2026-3", "FAILED");
        elsewhere["detail"]["stateMachineArn"] =
            "arn:aws:states:eu-west-1:222222222222:stateMachine:not-ferry".into();
        let (out, seen) = call(elsewhere).await;
        assert!(
            out.ignored
                .unwrap()
                .contains("not of ferry's state machine"),
            "ignored"
        );
        assert!(seen.is_empty());
    }

    #[tokio::test]
    async fn successes_cleanups_and_strangers_start_nothing() {
        for (name, status) in [
            ("photos-2026-3", "SUCCEEDED"),
            ("photos-2026-3", "RUNNING"),
            ("photos-2026-cleanup-3", "FAILED"),
            ("someone-elses-execution", "FAILED"),
        ] {
            let (out, seen) = call(event(name, status)).await;
            assert_eq!(out.started, None, "{name} {status}");
            assert!(seen.is_empty());
        }
    }

    /// The state machine's executions as ListExecutions pages them (two pages).
    fn listed(runs: &[(&str, ExecutionStatus)]) -> Vec<aws_smithy_mocks::Rule> {
        use aws_sdk_sfn::operation::list_executions::ListExecutionsOutput;
        use aws_sdk_sfn::types::ExecutionListItem;
        let item = |(name, status): &(&str, ExecutionStatus)| {
            ExecutionListItem::builder()
                .execution_arn(format!(
                    "arn:aws:states:eu-west-1:222222222222:execution:ferry:{name}"
                ))
                .state_machine_arn("arn:aws:states:eu-west-1:222222222222:stateMachine:ferry")
                .name(*name)
                .status(status.clone())
                .start_date(aws_sdk_sfn::primitives::DateTime::from_secs(0))
                .build()
                .unwrap()
        };
        let (first, second) = runs.split_at(runs.len() / 2);
        let (first, second): (Vec<_>, Vec<_>) = (
            first.iter().map(item).collect(),
            second.iter().map(item).collect(),
        );
        vec![
            mock!(aws_sdk_sfn::Client::list_executions)
                .match_requests(|r| r.next_token().is_none())
                .then_output(move || {
                    ListExecutionsOutput::builder()
                        .set_executions(Some(first.clone()))
                        .next_token("page-2")
                        .build()
                        .unwrap()
                }),
            mock!(aws_sdk_sfn::Client::list_executions)
                .match_requests(|r| r.next_token() == Some("page-2"))
                .then_output(move || {
                    ListExecutionsOutput::builder()
                        .set_executions(Some(second.clone()))
                        .build()
                        .unwrap()
                }),
        ]
    }

    /// The handler's answer to `input` with the state machine's executions `runs`, and the
    /// executions it started (name, input).
    async fn scheduled(
        input: Value,
        runs: &[(&str, ExecutionStatus)],
    ) -> (Result<CleanupStarted, StepError>, Vec<(String, String)>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        let start = mock!(aws_sdk_sfn::Client::start_execution).then_compute_output(move |r| {
            assert_eq!(
                r.state_machine_arn(),
                Some("arn:aws:states:eu-west-1:222222222222:stateMachine:ferry")
            );
            s.lock().unwrap().push((
                r.name().unwrap().to_string(),
                r.input().unwrap().to_string(),
            ));
            StartExecutionOutput::builder()
                .execution_arn("arn:x")
                .start_date(aws_sdk_sfn::primitives::DateTime::from_secs(0))
                .build()
                .unwrap()
        });
        let list = listed(runs);
        // Step Functions' answer now: the status the event carries, except for run 4, which is
        // still running (a forged event says it failed).
        let described = mock!(aws_sdk_sfn::Client::describe_execution).then_compute_output(|r| {
            let name = r.execution_arn().unwrap().rsplit(':').next().unwrap();
            let status = if name.ends_with("-4") {
                ExecutionStatus::Running
            } else {
                ExecutionStatus::Aborted
            };
            aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput::builder()
                .execution_arn(r.execution_arn().unwrap())
                .state_machine_arn("arn:aws:states:eu-west-1:222222222222:stateMachine:ferry")
                .status(status)
                .start_date(aws_sdk_sfn::primitives::DateTime::from_secs(0))
                .build()
                .unwrap()
        });
        let clients = Clients::mocked(&[], &[], &[], &[&list[0], &list[1], &start, &described]);
        let out = handle(
            &clients,
            &ferry_core::testing::destination_stack(),
            LambdaEvent::new(input, Default::default()),
        )
        .await;
        let seen = seen.lock().unwrap().clone();
        (out, seen)
    }

    #[tokio::test]
    async fn a_schedule_starts_the_copys_next_run_on_its_stored_plan() {
        use ExecutionStatus::*;
        let runs = [
            ("photos-2026-1", Succeeded),
            ("other-7", Running),
            ("photos-2026-cleanup-2", Succeeded),
            ("photos-2026-2", Failed),
            ("photos-2026-10", Succeeded),
        ];
        let (out, seen) = scheduled(json!({"scheduledRun": "photos-2026"}), &runs).await;
        assert_eq!(out.unwrap().started.as_deref(), Some("photos-2026-11"));
        assert_eq!(
            seen,
            [(
                "photos-2026-11".to_string(),
                r#"{"runCopy":"photos-2026"}"#.to_string()
            )]
        );
        let (out, seen) = scheduled(json!({"scheduledVerification": "photos-2026"}), &runs).await;
        assert_eq!(out.unwrap().started.as_deref(), Some("photos-2026-11"));
        assert_eq!(seen[0].1, r#"{"verifyCopy":"photos-2026"}"#);
    }

    #[tokio::test]
    async fn a_schedule_skips_while_a_run_goes_and_refuses_a_copy_never_started() {
        use ExecutionStatus::*;
        let going = [("photos-2026-1", Succeeded), ("photos-2026-2", Running)];
        let (out, seen) = scheduled(json!({"scheduledRun": "photos-2026"}), &going).await;
        assert_eq!(
            out.unwrap().ignored.as_deref(),
            Some("photos-2026-2 is still running")
        );
        assert!(seen.is_empty());
        let (out, seen) = scheduled(json!({"scheduledRun": "photos-2027"}), &going).await;
        let err = out.unwrap_err();
        assert_eq!(err.name, ErrorName::NotFound);
        assert!(
            err.cause.contains("copy photos-2027 has never run"),
            "{}",
            err.cause
        );
        assert!(seen.is_empty());
        let (out, _) = scheduled(json!({"scheduledRun": 7}), &going).await;
        assert_eq!(out.unwrap_err().name, ErrorName::InvalidRequest);
    }
}
