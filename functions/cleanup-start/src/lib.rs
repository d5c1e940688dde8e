//! `cleanup-start` (destination account): the target of the EventBridge rule on the state
//! machine's executions that end FAILED, TIMED_OUT or ABORTED. An execution that is stopped,
//! times out or hits its history limit runs no Catch, so nothing revoked its grants: this starts
//! the same state machine in cleanup mode (input `{"cleanup": {"execution": "<name>"}}`), named
//! `<copyId>-cleanup-<n>` for run `<copyId>-<n>`. EventBridge cannot name executions, hence this
//! function. Cleanup executions are ignored (a failed cleanup does not start another), and a
//! repeated event finds the cleanup execution already there.

use ferry_core::error::{from_sdk, sdk_code};
use ferry_core::names::ExecutionName;
use ferry_core::{clients::Clients, stack::StackConfig, StepError};
use lambda_runtime::LambdaEvent;
use serde::Serialize;
use serde_json::{json, Value};
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

/// Handles a "Step Functions Execution Status Change" event.
#[tracing::instrument(skip_all)]
pub async fn handle(
    clients: &Clients,
    _config: &StackConfig,
    event: LambdaEvent<Value>,
) -> Result<CleanupStarted, StepError> {
    let detail = &event.payload["detail"];
    let name = detail["name"].as_str().unwrap_or_default();
    let status = detail["status"].as_str().unwrap_or_default();
    let state_machine = detail["stateMachineArn"].as_str().unwrap_or_default();
    if !CLEANUP_STATUSES.contains(&status) {
        return Ok(ignored(format!("{name} ended {status}")));
    }
    let Some(run) = ExecutionName::parse(name) else {
        return Ok(ignored(format!("{name} is not a ferry execution name")));
    };
    if run.cleanup {
        return Ok(ignored(format!("{name} is a cleanup execution")));
    }
    let cleanup = ExecutionName {
        cleanup: true,
        ..run
    }
    .to_string();
    let started = clients
        .sfn
        .start_execution()
        .state_machine_arn(state_machine)
        .name(&cleanup)
        .input(json!({"cleanup": {"execution": name}}).to_string())
        .send()
        .await;
    match started {
        Ok(_) => {
            info!(execution = %name, status = %status, cleanup = %cleanup, "started a cleanup");
            Ok(CleanupStarted {
                started: Some(cleanup),
                ignored: None,
            })
        }
        Err(e) if sdk_code(&e) == Some("ExecutionAlreadyExists") => {
            Ok(ignored(format!("{cleanup} exists already")))
        }
        Err(e) => Err(from_sdk(e, &format!("StartExecution {cleanup}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sfn::operation::start_execution::StartExecutionOutput;
    use aws_smithy_mocks::mock;
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

    async fn call(event: Value) -> (CleanupStarted, Vec<(String, String)>) {
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
        let clients = Clients::mocked(&[], &[], &[], &[&start]);
        let out = handle(
            &clients,
            &ferry_core::testing::destination_stack(),
            LambdaEvent::new(event, Default::default()),
        )
        .await
        .unwrap();
        let seen = seen.lock().unwrap().clone();
        (out, seen)
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
}
