//! Following an execution: its steps as they start, a progress bar of the job's tasks while a
//! job runs, and how it ended.

use std::io::IsTerminal;
use std::time::Instant;

use aws_sdk_sfn::types::{ExecutionStatus, HistoryEvent, HistoryEventType};
use ferry_core::inventory::NotCopyable;
use ferry_core::job::JobState;
use ferry_core::request::Existing;
use ferry_core::steps::{AccessOutput, CopyTotals, JobRecord, RunPlan};
use ferry_core::ErrorName;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::history::{self, task_output};
use crate::runs::Run;
use crate::target::Target;
use crate::{aws_error, CliError, Result};

/// States that repeat every tracking round: shown once per job, the progress bar says the rest.
const ROUND_STATES: [&str; 4] = [
    "Wait for the job",
    "Track job",
    "Has the job ended?",
    "Wait for the jobs to stop",
];
/// The state whose task output names the job just submitted.
const SUBMIT_STATE: &str = "Submit copy job";
/// The state whose output says which sampled objects cannot be copied as they are encrypted.
const GRANT_STATE: &str = "Grant source access";
/// The state whose output is the run's plan: what happens to objects already there.
const PLAN_STATE: &str = "Plan the copy";

/// How an execution ended.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub execution: String,
    pub status: ExecutionStatus,
    /// A copy run's output when it succeeded (a cleanup run's is not one).
    pub output: Option<CopyTotals>,
    pub error: Option<String>,
    pub cause: Option<String>,
}

impl Outcome {
    /// The run as DescribeExecution says it is now (`Running` while it runs).
    pub async fn of(target: &Target, run: &Run) -> Result<Outcome> {
        let d = target
            .clients
            .sfn
            .describe_execution()
            .execution_arn(&run.arn)
            .send()
            .await
            .map_err(aws_error("DescribeExecution"))?;
        Ok(Outcome {
            execution: run.name.to_string(),
            status: d.status().clone(),
            output: d.output().and_then(|t| serde_json::from_str(t).ok()),
            error: d.error().map(str::to_string),
            cause: d.cause().map(str::to_string),
        })
    }

    /// 0 copied (or cleaned up), 1 `CopyIncomplete`, 2 `InvalidRequest`, 3 anything else.
    pub fn exit_status(&self) -> i32 {
        match self.status {
            ExecutionStatus::Succeeded => 0,
            ExecutionStatus::Failed => self
                .error
                .as_deref()
                .and_then(ErrorName::parse)
                .map(ErrorName::exit_status)
                .unwrap_or(3),
            _ => 3,
        }
    }

    /// One paragraph for the person: what was copied, or why it failed.
    pub fn summary(&self) -> String {
        match self.status {
            ExecutionStatus::Succeeded => match &self.output {
                Some(o) => {
                    let verified = o
                        .verification
                        .as_ref()
                        .map(|v| format!(", {} verified at the destination", v.verified))
                        .unwrap_or_default();
                    let identical = if o.identical > 0 {
                        format!(" ({} already there, identical)", o.identical)
                    } else {
                        String::new()
                    };
                    let left_out = o
                        .left_out
                        .as_ref()
                        .map(|l| format!("; {}", l.sentence()))
                        .unwrap_or_default();
                    format!(
                        "{} SUCCEEDED: copied {} objects{identical}, 0 failed{verified}; jobs {}{left_out}",
                        self.execution,
                        o.copied,
                        job_list(&o.job_ids)
                    )
                }
                None => format!("{} SUCCEEDED", self.execution),
            },
            ref s => format!(
                "{} {}: {}: {}",
                self.execution,
                s.as_str(),
                self.error.as_deref().unwrap_or("(no error name)"),
                self.cause.as_deref().unwrap_or("(no cause)")
            ),
        }
    }
}

/// What the run does with objects already at the destination, from its plan.
fn plan_line(plan: &RunPlan) -> String {
    let bucket = &plan.request.destination.bucket;
    if plan.verify_only {
        return format!(
            "verification run: one job checks every object of copy {} at s3://{bucket}",
            plan.request.copy_id
        );
    }
    let existing = plan.request.destination.existing;
    let fate = match plan.destination_versioning {
        Some(v) if v.keeps_overwritten() => format!(
            "s3://{bucket} is versioned: an overwritten object stays as a noncurrent version"
        ),
        Some(v) => format!(
            "s3://{bucket} is not versioned ({}): an overwritten object is lost for good",
            v.as_str()
        ),
        None => format!("s3://{bucket}: no object there is overwritten"),
    };
    let what = match existing {
        Existing::Overwrite => "existing objects are overwritten",
        Existing::SkipIdentical => "identical objects are skipped, different ones overwritten",
        Existing::Refuse => "existing objects are left alone",
    };
    format!("destination.existing {}: {what}; {fate}", existing.as_str())
}

pub fn job_list(ids: &[String]) -> String {
    if ids.is_empty() {
        "none".into()
    } else {
        ids.join(", ")
    }
}

/// Prints the run's steps and job progress until it ends; returns how it ended.
pub async fn follow(target: &Target, run: &Run) -> Result<Outcome> {
    let mut w = Watcher {
        target,
        arn: run.arn.clone(),
        last_event: 0,
        state: String::new(),
        shown_rounds: Vec::new(),
        job: None,
        bar: None,
        last_line: String::new(),
        started: Instant::now(),
        terminal: std::io::stderr().is_terminal(),
    };
    println!("watching {} ({})", run.name, run.arn);
    loop {
        for event in w.new_events().await? {
            w.show(&event);
        }
        w.progress().await?;
        let outcome = Outcome::of(target, run).await?;
        if outcome.status != ExecutionStatus::Running {
            for event in w.new_events().await? {
                w.show(&event);
            }
            if let Some(bar) = w.bar.take() {
                bar.finish();
            }
            return Ok(outcome);
        }
        tokio::time::sleep(target.poll_interval()).await;
    }
}

struct Watcher<'a> {
    target: &'a Target,
    arn: String,
    last_event: i64,
    /// The state last entered.
    state: String,
    /// Round states already shown for the current job.
    shown_rounds: Vec<String>,
    job: Option<String>,
    bar: Option<ProgressBar>,
    last_line: String,
    started: Instant,
    terminal: bool,
}

impl Watcher<'_> {
    /// The events after the last one seen, oldest first (read newest first, so a long history
    /// costs one page per look).
    async fn new_events(&mut self) -> Result<Vec<HistoryEvent>> {
        let mut fresh = Vec::new();
        let seen = self.last_event;
        history::newest_first(self.target, &self.arn, |events| {
            fresh.extend(events.iter().filter(|e| e.id() > seen).cloned());
            // Newest first as asked: a page that reaches a seen event is the last one needed.
            // (Were a page oldest first, as moto answers without the sandbox's patch, every
            // page would be read.)
            let descending = events.first().map(|e| e.id()) > events.last().map(|e| e.id());
            descending && events.iter().any(|e| e.id() <= seen)
        })
        .await?;
        fresh.sort_by_key(|e| e.id());
        if let Some(last) = fresh.last() {
            self.last_event = last.id();
        }
        Ok(fresh)
    }

    fn line(&self, text: &str) {
        let line = format!("[{:>6.1}s] {text}", self.started.elapsed().as_secs_f64());
        match &self.bar {
            Some(bar) if self.terminal => bar.println(line),
            _ => println!("{line}"),
        }
    }

    /// Objects found before the job that it cannot copy as they are: one warning per obstacle.
    fn not_copyable(&self, found: &NotCopyable) {
        for line in found.lines() {
            self.line(&format!("warning: {line}"));
        }
    }

    fn show(&mut self, e: &HistoryEvent) {
        if let Some(d) = e.state_entered_event_details() {
            self.state = d.name().to_string();
            let task_or_wait = matches!(
                e.r#type(),
                HistoryEventType::TaskStateEntered | HistoryEventType::WaitStateEntered
            );
            if !task_or_wait {
                return;
            }
            if ROUND_STATES.contains(&d.name()) {
                if self.shown_rounds.iter().any(|s| s == d.name()) {
                    return;
                }
                self.shown_rounds.push(d.name().to_string());
            }
            self.line(d.name());
            return;
        }
        match e.r#type() {
            HistoryEventType::TaskSucceeded if self.state == PLAN_STATE => {
                if let Some(plan) = task_output::<RunPlan>(e) {
                    self.line(&plan_line(&plan));
                }
            }
            HistoryEventType::TaskSucceeded if self.state == GRANT_STATE => {
                if let Some(found) = task_output::<AccessOutput>(e).and_then(|o| o.not_copyable) {
                    self.not_copyable(&found);
                }
            }
            HistoryEventType::TaskSucceeded if self.state == SUBMIT_STATE => {
                let record = task_output::<JobRecord>(e);
                if let Some(found) = record.as_ref().and_then(|r| r.not_copyable.as_ref()) {
                    self.not_copyable(found);
                }
                if let Some(r) = record {
                    let id = r.job_id.clone();
                    let what = match (r.kind, &r.restores) {
                        (ferry_core::job::JobKind::Verify, _) => "verification job".to_string(),
                        (ferry_core::job::JobKind::Restore, Some(restores)) => {
                            let class = restores
                                .restoring
                                .unwrap_or(ferry_core::restore::ArchiveClass::Glacier);
                            format!(
                                "restore job ({} archived objects, {})",
                                restores.manifest(class).map_or(0, |m| m.rows),
                                class.label()
                            )
                        }
                        _ => "job".to_string(),
                    };
                    self.line(&format!("{what} {id} submitted"));
                    self.job = Some(id);
                    self.shown_rounds.clear();
                    if let Some(bar) = self.bar.take() {
                        bar.finish_and_clear();
                    }
                }
            }
            HistoryEventType::TaskFailed => {
                if let Some(d) = e.task_failed_event_details() {
                    if d.error() == Some(ErrorName::RestoresPending.as_str()) {
                        // Not a failure: the state machine waits and looks again.
                        self.line(&format!(
                            "restores not done yet: {}",
                            d.cause().unwrap_or_default()
                        ));
                        return;
                    }
                    self.line(&format!(
                        "{} failed: {}: {}",
                        self.state,
                        d.error().unwrap_or_default(),
                        d.cause().unwrap_or_default()
                    ));
                }
            }
            _ => {}
        }
    }

    /// The current job's tasks: a bar on a terminal, a line per change elsewhere.
    async fn progress(&mut self) -> Result<()> {
        let Some(job_id) = self.job.clone() else {
            return Ok(());
        };
        let d = self
            .target
            .clients
            .s3control
            .describe_job()
            .account_id(&self.target.account)
            .job_id(&job_id)
            .send()
            .await
            .map_err(|e| {
                CliError::other(format!("DescribeJob {job_id}: {}", crate::one_line(&e)))
            })?;
        let Some(job) = d.job() else { return Ok(()) };
        let state = JobState::from_descriptor(job);
        if self.terminal {
            if self.bar.is_none() && state.total > 0 {
                // Drawn only once position and message are set, so the first frame is true and
                // the tasks done before it do not count toward the rate.
                let bar =
                    ProgressBar::with_draw_target(Some(state.total), ProgressDrawTarget::hidden());
                bar.set_position(state.succeeded + state.failed);
                bar.set_message(format!("{} failed ({})", state.failed, state.status));
                bar.reset_eta();
                bar.set_style(
                    ProgressStyle::with_template(
                        "{spinner} job {prefix} [{bar:30}] {pos}/{len} tasks, {msg}, {per_sec}, ETA {eta}",
                    )
                    .expect("a valid template")
                    .progress_chars("=> "),
                );
                bar.set_prefix(short(&job_id).to_string());
                bar.set_draw_target(ProgressDrawTarget::stderr());
                self.bar = Some(bar);
            }
            if let Some(bar) = &self.bar {
                bar.set_position(state.succeeded + state.failed);
                bar.set_message(format!("{} failed ({})", state.failed, state.status));
                if state.terminal {
                    bar.finish();
                    self.bar = None;
                }
            }
        }
        let line = format!(
            "job {} {}: {}/{} tasks, {} failed",
            short(&job_id),
            state.status,
            state.succeeded + state.failed,
            state.total,
            state.failed
        );
        if line != self.last_line {
            if !self.terminal {
                self.line(&line);
            }
            self.last_line = line;
        }
        if state.terminal {
            self.job = None;
        }
        Ok(())
    }
}

fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(status: ExecutionStatus, error: Option<&str>) -> Outcome {
        Outcome {
            execution: "photos-2026-1".into(),
            status,
            output: None,
            error: error.map(str::to_string),
            cause: Some("why".into()),
        }
    }

    #[test]
    fn exit_statuses_follow_the_design() {
        assert_eq!(outcome(ExecutionStatus::Succeeded, None).exit_status(), 0);
        assert_eq!(
            outcome(ExecutionStatus::Failed, Some("CopyIncomplete")).exit_status(),
            1
        );
        assert_eq!(
            outcome(ExecutionStatus::Failed, Some("InvalidRequest")).exit_status(),
            2
        );
        for e in ["JobFailed", "AccessDenied", "Internal", "States.Runtime"] {
            assert_eq!(outcome(ExecutionStatus::Failed, Some(e)).exit_status(), 3);
        }
        assert_eq!(outcome(ExecutionStatus::Aborted, None).exit_status(), 3);
        assert_eq!(outcome(ExecutionStatus::TimedOut, None).exit_status(), 3);
    }
}
