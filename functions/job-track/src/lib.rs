//! `job-track` (destination account): one DescribeJob, normalized; how long the state machine
//! waits before the next one (growing from `pollSeconds` to `maxPollSeconds`, then to 15
//! minutes for a long job, see [`ferry_core::job::next_wait`]); and whether the grants must be renewed because the job still
//! runs with less than a day of them left.

use ferry_core::clock::{Clock, SystemClock};
use ferry_core::job::{grant_expiry, grant_renewal_due, next_wait, JobState};
use ferry_core::steps::{TrackInput, TrackOutput};
use ferry_core::{clients::Clients, stack::StackConfig, StepError};
use lambda_runtime::LambdaEvent;
use tracing::info;

#[tracing::instrument(skip_all, fields(copy_id = %event.payload.plan.request.copy_id, job_id = %event.payload.job.job_id))]
pub async fn handle(
    clients: &Clients,
    config: &StackConfig,
    event: LambdaEvent<TrackInput>,
) -> Result<TrackOutput, StepError> {
    track(clients, config, &SystemClock, event.payload).await
}

/// [`handle`] with the clock given.
pub async fn track(
    clients: &Clients,
    config: &StackConfig,
    clock: &dyn Clock,
    input: TrackInput,
) -> Result<TrackOutput, StepError> {
    let id = &input.job.job_id;
    let job = ferry_core::job::describe_job(&clients.s3control, &config.account_id, id).await?;
    let created = job.creation_time().map(|t| t.secs());
    let state = JobState::from_descriptor(&job);
    let timing = &input.plan.request.timing;
    let now = clock.now();
    let renew_grants = grant_renewal_due(
        &state,
        now,
        input.plan.expires_at,
        timing.grant_lifetime_seconds,
    );
    info!(
        status = %state.status,
        succeeded = state.succeeded,
        failed = state.failed,
        total = state.total,
        renew_grants,
        "tracked the copy job"
    );
    Ok(TrackOutput {
        next_wait: next_wait(
            timing.poll_seconds,
            timing.max_poll_seconds,
            input.previous_wait,
            created.map_or(0, |c| u64::try_from(now - c).unwrap_or(0)),
        ),
        renew_grants,
        renew_until: grant_expiry(now, timing.grant_lifetime_seconds),
        state,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_s3control::operation::describe_job::DescribeJobOutput;
    use aws_sdk_s3control::types::{JobDescriptor, JobProgressSummary, JobStatus};
    use aws_smithy_mocks::mock;
    use ferry_core::clock::FixedClock;
    use ferry_core::job::JobOutcome;

    fn config() -> StackConfig {
        ferry_core::testing::destination_stack()
    }

    fn input(previous_wait: Option<u64>) -> TrackInput {
        let plan = ferry_core::testing::csv_plan();
        TrackInput {
            plan,
            job: ferry_core::testing::csv_job_record(0),
            previous_wait,
        }
    }

    #[test]
    fn the_cold_start_benchmarks_event_is_the_state_machines_input() {
        // local/bench/init.sh hands this fixture to the function: it must stay the input that
        // "Track the job" gives (a plan and a job record as the tests here make them).
        if std::env::var_os("FERRY_PRINT_FIXTURE").is_some() {
            println!("{}", serde_json::to_string_pretty(&input(None)).unwrap());
        }
        let fixture: TrackInput =
            serde_json::from_str(include_str!("../../../shared/fixtures/track-input.json"))
                .expect("the fixture is a TrackInput");
        assert_eq!(fixture, input(None));
    }

    async fn run(
        status: JobStatus,
        failed: i64,
        at: i64,
        previous_wait: Option<u64>,
    ) -> TrackOutput {
        let describe = mock!(aws_sdk_s3control::Client::describe_job)
            .match_requests(|r| {
                r.job_id() == Some("job-1") && r.account_id() == Some("222222222222")
            })
            .then_output(move || {
                DescribeJobOutput::builder()
                    .job(
                        JobDescriptor::builder()
                            .job_id("job-1")
                            .status(status.clone())
                            .progress_summary(
                                JobProgressSummary::builder()
                                    .total_number_of_tasks(100)
                                    .number_of_tasks_succeeded(100 - failed)
                                    .number_of_tasks_failed(failed)
                                    .build(),
                            )
                            .build(),
                    )
                    .build()
            });
        let clients = Clients::mocked(&[], &[&describe], &[], &[]);
        track(&clients, &config(), &FixedClock(at), input(previous_wait))
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_running_job_is_polled_again_later_each_round() {
        let start = 1_795_873_550;
        let first = run(JobStatus::Active, 0, start + 60, None).await;
        assert!(!first.state.terminal);
        assert_eq!(first.next_wait, 60);
        let later = run(JobStatus::Active, 0, start + 150, Some(first.next_wait)).await;
        assert_eq!(later.next_wait, 90);
        assert!(!later.renew_grants);
    }

    #[tokio::test]
    async fn a_complete_job_with_failures_is_partial() {
        let out = run(JobStatus::Complete, 3, 1_795_873_600, None).await;
        assert!(out.state.terminal);
        assert_eq!(out.state.outcome, Some(JobOutcome::Partial));
        assert_eq!((out.state.succeeded, out.state.failed), (97, 3));
    }

    #[tokio::test]
    async fn grants_are_renewed_for_a_job_still_running_near_their_expiry() {
        let expires = input(None).plan.expires_at;
        let now = expires - 3_600;
        let out = run(JobStatus::Active, 0, now, Some(900)).await;
        assert!(out.renew_grants);
        assert_eq!(out.renew_until, now + 1_468_800);
        let done = run(JobStatus::Complete, 0, now, Some(900)).await;
        assert!(!done.renew_grants, "a finished job needs no renewal");
    }
}
