//! A restore job's end (`source.archived: restore`): the restores it asked for are counted
//! (with the refusals by code, from its report of every task), and the run goes on with the
//! restore job of the next class, or waits for the restores before its copy.

use ferry_core::clients::Clients;
use ferry_core::job::{JobOutcome, JobState};
use ferry_core::names::Attempt;
use ferry_core::restore;
use ferry_core::steps::{Next, ReportInput, ReportOutput, RestoreTotals, RetryManifestRef};
use ferry_core::{stack::StackConfig, ErrorName, StepError};
use tracing::info;

pub async fn after_restore_job(
    clients: &Clients,
    config: &StackConfig,
    input: ReportInput,
    state: JobState,
    outcome: JobOutcome,
) -> Result<ReportOutput, StepError> {
    let plan = &input.plan;
    let attempt = input.job.attempt;
    let mut restores = input.job.restores.clone().ok_or_else(|| {
        StepError::new(
            ErrorName::InvalidRequest,
            format!(
                "job {} is a restore job without its restores",
                input.job.job_id
            ),
        )
    })?;
    let class = restores.restoring.ok_or_else(|| {
        StepError::new(
            ErrorName::InvalidRequest,
            format!("restore job {} names no class", input.job.job_id),
        )
    })?;
    let next_attempt = Attempt {
        run: attempt.run,
        job: attempt.job + 1,
    };
    let retries_left = input.job.retries_left(plan.request.retry.max_attempts);
    let (summary, _) =
        crate::summarize(clients, config, plan, &input.job, None, false, None).await?;
    let mut totals = input.totals.clone().unwrap_or_default();
    let r = totals.restored.get_or_insert_with(|| RestoreTotals {
        tier: plan.request.source.restore.tier.as_str().into(),
        already_restoring: restores.already_restoring,
        ..Default::default()
    });
    r.job_ids.push(input.job.job_id.clone());
    r.requested += state.succeeded;
    r.failed += state.failed;
    for (code, count) in &summary.by_error_code {
        *r.failed_by_code.entry(code.clone()).or_default() += count.count;
    }
    if matches!(outcome, JobOutcome::Succeeded | JobOutcome::Partial) {
        let refused: Vec<String> = summary
            .failed_sample
            .iter()
            .map(|t| t.key.clone())
            .collect();
        restores.forget_refused(class, &refused, state.succeeded);
    }
    let (next, retry, wait_seconds, cause) = match outcome {
        JobOutcome::Failed if state.succeeded + state.failed == 0 && retries_left => (
            Next::Resubmit,
            Some(RetryManifestRef::restore_job(
                restores.clone(),
                input.job.phase_start,
            )),
            if input
                .job
                .submitted_at
                .is_some_and(|at| plan.grants_may_be_settling(at))
            {
                crate::settle_wait(attempt.job)
            } else {
                0
            },
            format!(
                "restore job {} failed before any task ran: submitted again",
                input.job.job_id
            ),
        ),
        JobOutcome::Failed | JobOutcome::Cancelled => (
            Next::JobFailed,
            None,
            0,
            format!(
                "restore job {} {}: {}",
                input.job.job_id,
                state.status,
                crate::cause::reasons(&state)
            ),
        ),
        JobOutcome::Succeeded | JobOutcome::Partial => match restores.after(class) {
            Some(then) => {
                restores.restoring = Some(then);
                (
                    Next::Retry,
                    Some(RetryManifestRef::restore_job(
                        restores.clone(),
                        next_attempt.job,
                    )),
                    0,
                    format!(
                        "restore job {} asked for {} restores ({} refused); the restore job of the {} objects comes next",
                        input.job.job_id, state.succeeded, state.failed, then.label()
                    ),
                )
            }
            None => {
                restores.restoring = None;
                let wait = restore::first_wait(&plan.request);
                (
                    Next::AwaitRestores,
                    Some(RetryManifestRef::after_restores(
                        restores.clone(),
                        next_attempt.job,
                    )),
                    wait,
                    format!(
                        "restores asked for {} objects ({} refused); the copy comes once they read as restored, first looked at in {wait} s ({})",
                        restores.objects(),
                        totals.restored.as_ref().map_or(0, |r| r.failed),
                        restore::how_long(plan.request.source.restore.tier)
                    ),
                )
            }
        },
    };
    totals.last_report = summary;
    crate::count_usage(&mut totals, plan, input.job.kind, &state);
    info!(next = ?next, requested = state.succeeded, refused = state.failed, "summarized the restore job");
    Ok(ReportOutput {
        next,
        next_attempt: next.another_job().then_some(next_attempt),
        retry_manifest: retry,
        wait_seconds,
        state,
        totals,
        cause,
    })
}
