//! `ferry report`: a run's counts, jobs and failed keys.

use aws_sdk_sfn::types::ExecutionStatus;
use ferry_core::steps::{CopyTotals, ReportOutput};
use serde::Serialize;

use crate::history::{self, task_output};
use crate::runs::{self};
use crate::target::Target;
use crate::watch::{job_list, Outcome};
use crate::Result;

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
    // Flow C's job of the objects over 5 GiB is not a retry either.
    let large = usize::from(t.large_objects_job.is_some());
    let retries = jobs.saturating_sub(1 + verifications + large);
    let retried = format!(
        "{retries} retr{}{}",
        if retries == 1 { "y" } else { "ies" },
        if large == 1 {
            ", the job of the objects over 5 GiB"
        } else {
            ""
        }
    );
    let what = match (verifications, jobs) {
        // A verification run (`ferry verify`): its one job is the verification.
        (1, 1) => "the verification".to_string(),
        (1, _) => format!("{retried}, then the verification"),
        _ => retried,
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
    if let Some(l) = &t.left_out {
        out.push_str(&format!("  left out   {}\n", l.sentence()));
    }
    if let Some(bill) = &t.cost {
        out.push_str(&format!(
            "  cost       {} at ferry's price data (docs: Cost)\n",
            bill.summary()
        ));
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
