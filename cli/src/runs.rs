//! A copy's executions: `<copyId>-<n>` runs and their `<copyId>-cleanup-<n>` cleanups.

use aws_sdk_sfn::types::ExecutionStatus;
use ferry_core::clock::format_timestamp;
use ferry_core::names::ExecutionName;

use crate::target::Target;
use crate::{aws_error, CliError, Result};

#[derive(Debug, Clone)]
pub struct Run {
    pub name: ExecutionName,
    pub arn: String,
    pub status: ExecutionStatus,
    pub started: i64,
    pub stopped: Option<i64>,
}

impl Run {
    pub fn started_text(&self) -> String {
        format_timestamp(self.started)
    }
}

/// Every ferry execution of the state machine, newest first; `copy_id` keeps one copy's.
/// Names of another shape are skipped. `limit` stops the listing early.
pub async fn list(target: &Target, copy_id: Option<&str>, limit: usize) -> Result<Vec<Run>> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = target
            .clients
            .sfn
            .list_executions()
            .state_machine_arn(&target.state_machine_arn)
            .max_results(100)
            .set_next_token(token)
            .send()
            .await
            .map_err(aws_error("ListExecutions"))?;
        for e in page.executions() {
            let Some(name) = ExecutionName::parse(e.name()) else {
                continue;
            };
            if copy_id.is_some_and(|c| c != name.copy_id) {
                continue;
            }
            out.push(Run {
                name,
                arn: e.execution_arn().to_string(),
                status: e.status().clone(),
                started: e.start_date().secs(),
                stopped: e.stop_date().map(|d| d.secs()),
            });
            if out.len() >= limit {
                return Ok(out);
            }
        }
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(out);
        }
    }
}

/// The copy's latest run (not a cleanup) among `runs`, or a message that it has none.
fn latest_of(target: &Target, runs: &[Run], copy_id: &str) -> Result<Run> {
    runs.iter()
        .filter(|r| !r.name.cleanup && r.name.copy_id == copy_id)
        .max_by_key(|r| r.name.number)
        .cloned()
        .ok_or_else(|| {
            CliError::other(format!(
                "copy {copy_id} has no execution on {} (`ferry list` shows the copies there)",
                target.state_machine_arn
            ))
        })
}

/// `COPY_ID` or an execution name: the run it names (the latest run for a copy id). A copy id
/// can look like an execution name (`photos-2026` reads as run 2026 of `photos`): an execution
/// of that name wins, else it is a copy id. One listing serves both readings.
pub async fn resolve(target: &Target, what: &str) -> Result<Run> {
    let runs = list(target, None, usize::MAX).await?;
    if let Some(name) = ExecutionName::parse(what) {
        if let Some(r) = runs.iter().find(|r| r.name == name) {
            return Ok(r.clone());
        }
    }
    latest_of(target, &runs, what)
}
