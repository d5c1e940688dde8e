//! Flow C's incremental sync: the run that copied everything records its start, from which the
//! next run lists (`control/<copyId>/last-complete.json`).

use ferry_core::clients::Clients;
use ferry_core::control::{Control, LastComplete};
use ferry_core::steps::{CopyTotals, Next, RunPlan};
use ferry_core::{stack::StackConfig, StepError};

/// Records this run as the last complete one when the copy is incremental and the run ends
/// (`next`) having copied every object, or every object but SSE-C ones: those are listed again
/// only once written again, with another encryption. `failed` is the last job's failed tasks.
pub(crate) async fn record_if_complete(
    clients: &Clients,
    config: &StackConfig,
    plan: &RunPlan,
    next: Next,
    failed: u64,
    totals: &CopyTotals,
) -> Result<(), StepError> {
    let incremental = plan
        .request
        .manifest
        .generated_filter()
        .is_some_and(|f| f.incremental);
    let only_sse_c = |failed: u64, only: bool| failed == 0 || only;
    let complete = match next {
        Next::Copied => true,
        Next::Incomplete => {
            only_sse_c(failed, totals.last_report.only_sse_c_failures())
                && totals
                    .earlier_incomplete
                    .as_ref()
                    .is_none_or(|e| only_sse_c(e.failed, e.only_sse_c))
        }
        _ => false,
    };
    if !(complete && incremental && !plan.verify_only) {
        return Ok(());
    }
    Control::new(&clients.s3, &config.ferry_bucket)
        .put_last_complete(
            plan.names().layout(),
            &LastComplete {
                run: plan.run,
                execution: plan.execution.clone(),
                started_at: plan.started_at,
            },
        )
        .await
}
