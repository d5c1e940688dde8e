//! `plan` (destination account): validates the copy request against the stack, derives the run
//! from the execution name, and stores the copy's plan under `control/<copyId>/plan.json`. A
//! plan, once stored, is immutable: the same copyId with a different request is
//! `InvalidRequest`, so a re-run is always a new attempt of the same copy.

use aws_sdk_s3::Client as S3;
use ferry_core::clients::Clients;
use ferry_core::control::{Control, StoredPlan};
use ferry_core::error::{from_sdk, sdk_code};
use ferry_core::layout::CopyLayout;
use ferry_core::request::Existing;
use ferry_core::steps::{CleanupInput, PlanEvent, PlanInput, RunPlan, Versioning};
use ferry_core::{stack::StackConfig, ErrorName, StepError};
use lambda_runtime::LambdaEvent;
use tracing::info;

mod preflight;

#[tracing::instrument(skip_all)]
pub async fn handle(
    clients: &Clients,
    config: &StackConfig,
    event: LambdaEvent<PlanEvent>,
) -> Result<RunPlan, StepError> {
    let input = match event.payload {
        PlanEvent::Copy(input) => input,
        PlanEvent::Cleanup(cleanup) => return cleanup_plan(clients, config, &cleanup).await,
    };
    let (input, verify_only) = match input.stored_copy()? {
        Some((copy_id, verify)) => (
            stored_input(clients, config, &input, &copy_id).await?,
            verify,
        ),
        None => (input, false),
    };
    let mut plan = RunPlan::from_input(&input, &config.context())?;
    plan.verify_only = verify_only;
    destination_is_ours(&clients.s3, config, &plan.request.destination.bucket).await?;
    if plan.request.destination.encryption.is_none() {
        plan.destination_default_key =
            default_key(&clients.s3, config, &plan.request.destination.bucket).await?;
    }
    if plan.request.destination.existing != Existing::Overwrite {
        plan.destination_occupied = occupied(
            &clients.s3,
            config,
            &plan.request.destination.bucket,
            &plan.request.destination.key_prefix,
        )
        .await?;
        info!(
            existing = plan.request.destination.existing.as_str(),
            occupied = plan.destination_occupied,
            "looked at the destination prefix"
        );
    }
    if plan.request.destination.existing != Existing::Refuse && !plan.verify_only {
        // What an overwrite costs: with versioning, the object overwritten stays a version.
        plan.destination_versioning =
            Some(versioning(&clients.s3, config, &plan.request.destination.bucket).await?);
    }
    if plan
        .request
        .manifest
        .generated_filter()
        .is_some_and(|f| f.incremental)
        && !plan.verify_only
    {
        // Flow C, incremental: list only what was created since the last run that copied
        // everything (the first run lists everything).
        plan.incremental_since = Control::new(&clients.s3, &config.ferry_bucket)
            .read_last_complete(plan.names().layout())
            .await?
            .map(|last| last.started_at);
        info!(since = ?plan.incremental_since, "incremental run");
    }
    if !plan.verify_only {
        plan.preflight = preflight::destination_half(clients, config, &plan).await?;
    }
    // Two runs of one copy share its role, grants and records: the second would tear down the
    // first's when it ends.
    none_other_running(clients, config, &plan.request.copy_id, &input.execution).await?;
    let wanted = StoredPlan {
        request: plan.request.clone(),
    };
    let control = Control::new(&clients.s3, &config.ferry_bucket);
    match control.store_plan(plan.names().layout(), &wanted).await? {
        None => info!(copy_id = %plan.request.copy_id, "stored the copy's plan"),
        // Stored before (a re-run), or by another execution first: it must be the same plan.
        Some(stored) => same_or_refuse(&stored, &wanted)?,
    }
    Ok(plan)
}

/// Whether the destination bucket holds any object under `prefix` (ListObjectsV2, one key).
async fn occupied(
    s3: &S3,
    config: &StackConfig,
    bucket: &str,
    prefix: &str,
) -> Result<bool, StepError> {
    let out = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .max_keys(1)
        .expected_bucket_owner(&config.account_id)
        .send()
        .await
        .map_err(|e| from_sdk(e, &format!("ListObjectsV2 s3://{bucket}/{prefix}")))?;
    Ok(out.key_count().unwrap_or(0) > 0 || !out.contents().is_empty())
}

/// The destination bucket exists and belongs to this account: HeadBucket with
/// ExpectedBucketOwner, which S3 answers 403 for a bucket of another account and 404 for none.
/// A bucket name is global, so a listed name that another account holds is refused here.
async fn destination_is_ours(s3: &S3, config: &StackConfig, bucket: &str) -> Result<(), StepError> {
    match s3
        .head_bucket()
        .bucket(bucket)
        .expected_bucket_owner(&config.account_id)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) => {
            let err = from_sdk(e, &format!("HeadBucket {bucket}"));
            let why = match err.name {
                ErrorName::NotFound => "does not exist",
                ErrorName::AccessDenied => "is not this account's (or plan may not list it)",
                _ => return Err(err),
            };
            Err(StepError::new(
                ErrorName::InvalidRequest,
                format!(
                    "destination.bucket: {bucket} {why}: ferry copies only into an existing bucket of account {} ({})",
                    config.account_id, err.cause
                ),
            ))
        }
    }
}

/// The KMS key of the destination bucket's default encryption, which S3 uses for copies that
/// do not name one (the Batch role must be allowed to use it): `None` for SSE-S3 and for the
/// AWS managed key `aws/s3` (whose key policy lets the account's principals use it through
/// S3). A key named by alias, or a key of another account, is refused: name the key in
/// `destination.encryption`.
/// The destination bucket's versioning as GetBucketVersioning says it: `Enabled`, `Suspended`,
/// or `Disabled` for a bucket where it was never enabled (S3 then answers without a status).
async fn versioning(s3: &S3, config: &StackConfig, bucket: &str) -> Result<Versioning, StepError> {
    let out = s3
        .get_bucket_versioning()
        .bucket(bucket)
        .expected_bucket_owner(&config.account_id)
        .send()
        .await
        .map_err(|e| from_sdk(e, &format!("GetBucketVersioning {bucket}")))?;
    Ok(Versioning::from_status(out.status().map(|s| s.as_str())))
}

async fn default_key(
    s3: &S3,
    config: &StackConfig,
    bucket: &str,
) -> Result<Option<String>, StepError> {
    let out = match s3
        .get_bucket_encryption()
        .bucket(bucket)
        .expected_bucket_owner(&config.account_id)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) if sdk_code(&e) == Some("ServerSideEncryptionConfigurationNotFoundError") => {
            return Ok(None)
        }
        Err(e) => return Err(from_sdk(e, &format!("GetBucketEncryption {bucket}"))),
    };
    let key = out
        .server_side_encryption_configuration()
        .map(|c| c.rules())
        .unwrap_or_default()
        .iter()
        .filter_map(|r| r.apply_server_side_encryption_by_default())
        .find(|d| d.sse_algorithm().as_str().starts_with("aws:kms"))
        .and_then(|d| d.kms_master_key_id().map(str::to_string));
    let Some(key) = key else {
        return Ok(None);
    };
    let partition = ferry_core::names::partition(&config.region);
    let own = format!(
        "arn:{partition}:kms:{}:{}:key/",
        config.region, config.account_id
    );
    if key.starts_with(&own) {
        return Ok(Some(key));
    }
    if !key.starts_with("arn:") && !key.starts_with("alias/") {
        return Ok(Some(format!("{own}{key}")));
    }
    Err(StepError::new(
        ErrorName::InvalidRequest,
        format!(
            "destination.bucket: {bucket}'s default encryption names the KMS key {key}, which ferry cannot give the Batch role use of (an alias, or a key of another account or Region): set destination.encryption to SSE-KMS with the ARN of a key of account {} ({own}<key id>)",
            config.account_id
        ),
    ))
}

/// A run of a stored plan (`{"runCopy": "<copyId>"}`, `{"verifyCopy": "<copyId>"}`): the input
/// of a run of the copy's stored request, which the rest of the plan validates and compares as
/// for any run.
async fn stored_input(
    clients: &Clients,
    config: &StackConfig,
    input: &PlanInput,
    copy_id: &str,
) -> Result<PlanInput, StepError> {
    let invalid = |why: String| StepError::new(ErrorName::InvalidRequest, why);
    let stored = stored_plan(
        clients,
        config,
        copy_id,
        "it was never started (`ferry start`)",
    )
    .await?;
    info!(copy_id, "a run of the stored plan");
    Ok(PlanInput {
        request: serde_json::to_value(&stored.request)
            .map_err(|e| invalid(format!("the stored plan of {copy_id}: {e}")))?,
        execution: input.execution.clone(),
        start_time: input.start_time.clone(),
    })
}

/// The copy's stored plan; `NotFound` saying `why_none` when it has none.
async fn stored_plan(
    clients: &Clients,
    config: &StackConfig,
    copy_id: &str,
    why_none: &str,
) -> Result<StoredPlan, StepError> {
    let copy = CopyLayout::of(&config.account_id, copy_id);
    Control::new(&clients.s3, &config.ferry_bucket)
        .read_plan(copy)
        .await?
        .ok_or_else(|| {
            StepError::new(
                ErrorName::NotFound,
                format!(
                    "copy {copy_id} has no stored plan ({}): {why_none}",
                    copy.plan_key()
                ),
            )
        })
}

/// Cleanup mode: the plan of the run to clean up, from the copy's stored plan. The run must
/// have ended; unless the cleanup is forced (`ferry revoke`) it must also exist, so that a
/// cleanup cannot be made up for a run that never was.
async fn cleanup_plan(
    clients: &Clients,
    config: &StackConfig,
    input: &CleanupInput,
) -> Result<RunPlan, StepError> {
    let run = &input.cleanup.execution;
    let copy_id = ferry_core::names::ExecutionName::parse(run)
        .map(|e| e.copy_id)
        .ok_or_else(|| {
            StepError::new(
                ErrorName::InvalidRequest,
                format!("cleanup.execution: `{run}` is not a copy's run"),
            )
        })?;
    ended(clients, config, run, input.cleanup.force).await?;
    // The role, grants and records are the copy's, not the named run's: a cleanup naming a
    // run that never was would tear down a live one.
    none_other_running(clients, config, &copy_id, &input.execution).await?;
    let stored = stored_plan(clients, config, &copy_id, "its run touched nothing").await?;
    info!(cleanup_of = %run, force = input.cleanup.force, "loaded the stored plan for cleanup");
    RunPlan::for_cleanup(input, stored.request, &config.context())
}

/// A cleanup revokes what a run may still be using: refused while that run is RUNNING (it
/// cleans up after itself when it ends, and a stop ends it through the cleanup rule), and,
/// unless `forced`, when Step Functions knows no such run.
async fn ended(
    clients: &Clients,
    config: &StackConfig,
    run: &str,
    forced: bool,
) -> Result<(), StepError> {
    let arn = ferry_core::names::execution_arn(&config.region, &config.account_id, run);
    match clients
        .sfn
        .describe_execution()
        .execution_arn(&arn)
        .send()
        .await
    {
        Ok(out) if out.status() == &aws_sdk_sfn::types::ExecutionStatus::Running => {
            Err(StepError::new(
                ErrorName::InvalidRequest,
                format!(
                    "run {run} is still running: a cleanup would revoke the grants it uses; stop it (it then cleans up after itself) or wait for it to end"
                ),
            ))
        }
        Ok(_) => Ok(()),
        // A forced cleanup (`ferry revoke`) may name a run whose history Step Functions no
        // longer keeps.
        Err(e) if sdk_code(&e) == Some("ExecutionDoesNotExist") && forced => Ok(()),
        Err(e) if sdk_code(&e) == Some("ExecutionDoesNotExist") => Err(StepError::new(
            ErrorName::InvalidRequest,
            format!(
                "run {run} does not exist (or Step Functions no longer keeps it): a cleanup cleans up after a run that ended; `ferry revoke` forces one"
            ),
        )),
        Err(e) => Err(from_sdk(e, &format!("DescribeExecution {run}"))),
    }
}

/// Refuses while another execution of copy `copy_id` than `this` (the execution asking) is
/// RUNNING: runs and cleanups of one copy share its Batch role, grants and job records, so they
/// must not overlap. A cleanup waits for runs only; a run for runs and cleanups.
async fn none_other_running(
    clients: &Clients,
    config: &StackConfig,
    copy_id: &str,
    this: &str,
) -> Result<(), StepError> {
    let machine = ferry_core::names::state_machine_arn(&config.region, &config.account_id);
    let mut pages = clients
        .sfn
        .list_executions()
        .state_machine_arn(&machine)
        .status_filter(aws_sdk_sfn::types::ExecutionStatus::Running)
        .into_paginator()
        .send();
    // A run waits for a cleanup of its copy as well (the cleanup would revoke what the run
    // grants); cleanups of one copy may run side by side (each revokes the same things).
    let asking_is_cleanup =
        ferry_core::names::ExecutionName::parse(this).is_some_and(|e| e.cleanup);
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| from_sdk(e, "ListExecutions (RUNNING)"))?;
        for e in page.executions() {
            let Some(other) = ferry_core::names::ExecutionName::parse(e.name()) else {
                continue;
            };
            if e.name() == this || other.copy_id != copy_id || (other.cleanup && asking_is_cleanup)
            {
                continue;
            }
            let (what, then) = if other.cleanup {
                ("cleanup", "wait for it to end")
            } else {
                (
                    "run",
                    "wait for it to end, or stop it (it then cleans up after itself)",
                )
            };
            return Err(StepError::new(
                ErrorName::InvalidRequest,
                format!(
                    "{what} {} of copy {copy_id} is running: runs and cleanups of one copy share its role and grants and must not overlap; {then}",
                    e.name()
                ),
            ));
        }
    }
    Ok(())
}

fn same_or_refuse(stored: &StoredPlan, wanted: &StoredPlan) -> Result<(), StepError> {
    if stored == wanted {
        return Ok(());
    }
    Err(StepError::new(
        ErrorName::InvalidRequest,
        format!(
            "copyId {} already has a stored plan with a different request; a copyId's plan never changes: run the same request again, or choose a new copyId",
            wanted.request.copy_id
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_s3::error::ErrorMetadata;
    use aws_sdk_s3::operation::get_object::{GetObjectError, GetObjectOutput};
    use aws_sdk_s3::operation::head_bucket::{HeadBucketError, HeadBucketOutput};
    use aws_sdk_s3::operation::put_object::{PutObjectError, PutObjectOutput};
    use aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput;
    use aws_smithy_mocks::{mock, MockResponse, Rule};
    use ferry_core::steps::{CleanupOf, PlanInput};
    use std::sync::{Arc, Mutex};

    fn config() -> StackConfig {
        ferry_core::testing::destination_stack()
    }

    fn input(request: serde_json::Value, execution: &str) -> PlanInput {
        PlanInput {
            request,
            execution: execution.into(),
            start_time: "2026-11-28T13:45:50Z".into(),
        }
    }

    fn request() -> serde_json::Value {
        serde_json::from_str(include_str!("../../../shared/fixtures/request-csv.json")).unwrap()
    }

    /// The ferry bucket's control objects, in memory, with S3's conditional write.
    fn s3(store: &Arc<Mutex<Option<Vec<u8>>>>) -> Vec<Rule> {
        let (g, p) = (store.clone(), store.clone());
        vec![
            // dst-photos has no bucket policy.
            mock!(aws_sdk_s3::Client::get_bucket_policy).then_error(|| {
                aws_sdk_s3::operation::get_bucket_policy::GetBucketPolicyError::generic(
                    ErrorMetadata::builder().code("NoSuchBucketPolicy").build(),
                )
            }),
            mock!(aws_sdk_s3::Client::head_bucket).then_compute_response(|req| {
                assert_eq!(req.expected_bucket_owner(), Some("222222222222"));
                match req.bucket() {
                    Some("dst-photos") => MockResponse::Output(HeadBucketOutput::builder().build()),
                    // S3 answers HEAD with a status and no body.
                    _ => MockResponse::Error(HeadBucketError::generic(
                        ErrorMetadata::builder().code("Forbidden").build(),
                    )),
                }
            }),
            // The destination prefix holds one object: `existing` refuse makes the copy the
            // worker's (the plan says so).
            mock!(aws_sdk_s3::Client::list_objects_v2).then_compute_output(|req| {
                assert_eq!(req.bucket(), Some("dst-photos"));
                assert_eq!(req.max_keys(), Some(1));
                aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output::builder()
                    .key_count(1)
                    .contents(
                        aws_sdk_s3::types::Object::builder()
                            .key("photo0.jpg")
                            .build(),
                    )
                    .build()
            }),
            // Every bucket's default since 2023: SSE-S3, no KMS key.
            mock!(aws_sdk_s3::Client::get_bucket_encryption).then_output(|| {
                use aws_sdk_s3::types::{
                    ServerSideEncryption, ServerSideEncryptionByDefault,
                    ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
                };
                let rule = ServerSideEncryptionRule::builder()
                    .apply_server_side_encryption_by_default(
                        ServerSideEncryptionByDefault::builder()
                            .sse_algorithm(ServerSideEncryption::Aes256)
                            .build()
                            .unwrap(),
                    )
                    .build();
                aws_sdk_s3::operation::get_bucket_encryption::GetBucketEncryptionOutput::builder()
                    .server_side_encryption_configuration(
                        ServerSideEncryptionConfiguration::builder()
                            .rules(rule)
                            .build()
                            .unwrap(),
                    )
                    .build()
            }),
            mock!(aws_sdk_s3::Client::get_object).then_compute_response(move |req| {
                let stored = g.lock().unwrap().clone();
                match stored.filter(|_| req.key() == Some("control/photos-2026/plan.json")) {
                    Some(b) => MockResponse::Output(
                        GetObjectOutput::builder()
                            .body(aws_sdk_s3::primitives::ByteStream::from(b))
                            .build(),
                    ),
                    None => MockResponse::Error(GetObjectError::generic(
                        ErrorMetadata::builder().code("NoSuchKey").build(),
                    )),
                }
            }),
            mock!(aws_sdk_s3::Client::put_object).then_compute_response(move |req| {
                assert_eq!(req.if_none_match(), Some("*"));
                let mut s = p.lock().unwrap();
                if s.is_some() {
                    return MockResponse::Error(PutObjectError::generic(
                        ErrorMetadata::builder().code("PreconditionFailed").build(),
                    ));
                }
                *s = Some(req.body().bytes().unwrap().to_vec());
                MockResponse::Output(PutObjectOutput::builder().build())
            }),
        ]
    }

    async fn run(
        store: &Arc<Mutex<Option<Vec<u8>>>>,
        input: PlanInput,
    ) -> Result<RunPlan, StepError> {
        call(store, PlanEvent::Copy(input)).await
    }

    async fn call(
        store: &Arc<Mutex<Option<Vec<u8>>>>,
        event: PlanEvent,
    ) -> Result<RunPlan, StepError> {
        let rules = s3(store);
        let refs: Vec<&Rule> = rules.iter().collect();
        let described = mock!(aws_sdk_sfn::Client::describe_execution).then_compute_output(|req| {
            let name = req.execution_arn().unwrap().rsplit(':').next().unwrap();
            let status = if name == "photos-2026-9" {
                aws_sdk_sfn::types::ExecutionStatus::Running
            } else {
                aws_sdk_sfn::types::ExecutionStatus::Failed
            };
            DescribeExecutionOutput::builder()
                .execution_arn(req.execution_arn().unwrap())
                .state_machine_arn("arn:aws:states:eu-west-1:222222222222:stateMachine:ferry")
                .status(status)
                .start_date(aws_sdk_sfn::primitives::DateTime::from_secs(0))
                .build()
                .unwrap()
        });
        // Running now: another copy's run and cleanup.
        let running = running(&["other-copy-3", "other-copy-cleanup-2"]);
        handle(
            &Clients::mocked(
                &refs,
                &[],
                &[&simulator("allowed")],
                &[&described, &running],
            ),
            &config(),
            LambdaEvent::new(event, Default::default()),
        )
        .await
    }

    /// IAM's policy simulator answering `decision` on every action, a deny matched in the
    /// bucket policy's first statement.
    fn simulator(decision: &'static str) -> Rule {
        use aws_sdk_iam::types::{
            EvaluationResult, PolicyEvaluationDecisionType, PolicySourceType, Position, Statement,
        };
        mock!(aws_sdk_iam::Client::simulate_custom_policy).then_compute_output(move |req| {
            let results = req.action_names().iter().map(|a| {
                let mut r = EvaluationResult::builder()
                    .eval_action_name(a)
                    .eval_decision(PolicyEvaluationDecisionType::from(decision));
                if decision == "explicitDeny" {
                    r = r.matched_statements(
                        Statement::builder()
                            .source_policy_type(PolicySourceType::Resource)
                            .start_position(Position::builder().line(2).column(1).build())
                            .build(),
                    );
                }
                r.build().unwrap()
            });
            aws_sdk_iam::operation::simulate_custom_policy::SimulateCustomPolicyOutput::builder()
                .set_evaluation_results(Some(results.collect()))
                .build()
        })
    }

    /// ListExecutions (RUNNING) of ferry's state machine answers `names`.
    fn running(names: &'static [&'static str]) -> Rule {
        mock!(aws_sdk_sfn::Client::list_executions).then_output(move || {
            let executions = names.iter().map(|n| {
                aws_sdk_sfn::types::ExecutionListItem::builder()
                    .execution_arn(format!(
                        "arn:aws:states:eu-west-1:222222222222:execution:ferry:{n}"
                    ))
                    .state_machine_arn("arn:aws:states:eu-west-1:222222222222:stateMachine:ferry")
                    .name(*n)
                    .status(aws_sdk_sfn::types::ExecutionStatus::Running)
                    .start_date(aws_sdk_sfn::primitives::DateTime::from_secs(0))
                    .build()
                    .unwrap()
            });
            aws_sdk_sfn::operation::list_executions::ListExecutionsOutput::builder()
                .set_executions(Some(executions.collect()))
                .build()
                .unwrap()
        })
    }

    /// While run 4 of photos-2026 runs, a second run of the copy and a cleanup naming a run
    /// that never was are both refused (either would tear down run 4's role and grants).
    #[tokio::test]
    async fn a_run_or_cleanup_of_a_copy_whose_run_is_running_is_refused() {
        let store = Arc::new(Mutex::new(None));
        run(&store, input(request(), "photos-2026-1"))
            .await
            .unwrap();
        let rules = s3(&store);
        let refs: Vec<&Rule> = rules.iter().collect();
        let live = running(&["photos-2026-4"]);
        let gone = mock!(aws_sdk_sfn::Client::describe_execution).then_error(|| {
            aws_sdk_sfn::operation::describe_execution::DescribeExecutionError::ExecutionDoesNotExist(
                aws_sdk_sfn::types::error::ExecutionDoesNotExist::builder()
                    .meta(
                        aws_sdk_sfn::error::ErrorMetadata::builder()
                            .code("ExecutionDoesNotExist")
                            .build(),
                    )
                    .build(),
            )
        });
        // Run 5 of the copy planned while `running` runs: its refusal.
        let run_5 = |running: &Rule| {
            let clients = Clients::mocked(&refs, &[], &[&simulator("allowed")], &[running, &gone]);
            async move {
                handle(
                    &clients,
                    &config(),
                    LambdaEvent::new(
                        PlanEvent::Copy(input(request(), "photos-2026-5")),
                        Default::default(),
                    ),
                )
                .await
                .unwrap_err()
            }
        };
        let second = run_5(&live).await;
        assert!(
            second
                .cause
                .starts_with("run photos-2026-4 of copy photos-2026 is running"),
            "{}",
            second.cause
        );
        // A cleanup of run 7, which never was: refused as such, and, forced (`ferry revoke`),
        // refused while run 4 runs.
        for (force, refusal) in [
            (
                false,
                "run photos-2026-7 does not exist (or Step Functions no longer keeps it)",
            ),
            (true, "run photos-2026-4 of copy photos-2026 is running"),
        ] {
            let cleanup = CleanupInput {
                cleanup: CleanupOf {
                    execution: "photos-2026-7".into(),
                    force,
                },
                execution: "photos-2026-cleanup-7".into(),
                start_time: "2026-11-28T13:45:50Z".into(),
            };
            let err = handle(
                &Clients::mocked(&refs, &[], &[&simulator("allowed")], &[&live, &gone]),
                &config(),
                LambdaEvent::new(PlanEvent::Cleanup(cleanup), Default::default()),
            )
            .await
            .unwrap_err();
            assert_eq!(err.name, ErrorName::InvalidRequest);
            assert!(err.cause.contains(refusal), "{}", err.cause);
        }
        // A run waits for a cleanup of its copy too; a cleanup does not wait for another.
        let run = run_5(&running(&["photos-2026-cleanup-4"])).await;
        assert!(
            run.cause
                .starts_with("cleanup photos-2026-cleanup-4 of copy photos-2026 is running"),
            "{}",
            run.cause
        );
    }

    #[tokio::test]
    async fn the_first_run_stores_the_plan_and_later_runs_reuse_it() {
        let store = Arc::new(Mutex::new(None));
        let p1 = run(&store, input(request(), "photos-2026-1"))
            .await
            .unwrap();
        assert_eq!(p1.run, 1);
        assert!(
            p1.destination_occupied && p1.worker_for_everything(),
            "refuse into an occupied prefix: the worker looks first"
        );
        let stored: StoredPlan =
            serde_json::from_slice(store.lock().unwrap().as_ref().unwrap()).unwrap();
        assert_eq!(stored.request, p1.request);
        let p2 = run(&store, input(request(), "photos-2026-2"))
            .await
            .unwrap();
        assert_eq!((p2.run, p2.request), (2, p1.request));
    }

    #[tokio::test]
    async fn a_different_request_under_the_same_copy_id_is_refused() {
        let store = Arc::new(Mutex::new(None));
        run(&store, input(request(), "photos-2026-1"))
            .await
            .unwrap();
        let mut changed = request();
        changed["destination"]["keyPrefix"] = "elsewhere/".into();
        let err = run(&store, input(changed, "photos-2026-2"))
            .await
            .unwrap_err();
        assert_eq!(err.name, ErrorName::InvalidRequest);
        assert!(err
            .cause
            .contains("already has a stored plan with a different request"));
    }

    #[tokio::test]
    async fn cleanup_mode_rebuilds_the_runs_plan_from_the_stored_one() {
        let store = Arc::new(Mutex::new(None));
        let copy = run(&store, input(request(), "photos-2026-3"))
            .await
            .unwrap();
        let cleanup = CleanupInput {
            cleanup: CleanupOf {
                execution: "photos-2026-3".into(),
                force: false,
            },
            execution: "photos-2026-cleanup-3".into(),
            start_time: "2026-11-28T14:00:00Z".into(),
        };
        // The execution input as the cleanup starter writes it, through the state machine.
        let event: PlanEvent = serde_json::from_value(serde_json::json!({
            "cleanup": {"execution": "photos-2026-3"}, "execution": "photos-2026-cleanup-3", "startTime": "2026-11-28T14:00:00Z"
        }))
        .unwrap();
        assert_eq!(event, PlanEvent::Cleanup(cleanup.clone()));
        let plan = call(&store, event).await.unwrap();
        assert_eq!((plan.run, plan.execution.as_str()), (3, "photos-2026-3"));
        assert_eq!(plan.request, copy.request);
        // Forced (`ferry revoke`), the cleanup revokes everything, whatever the copy keeps.
        let mut forced = cleanup.clone();
        forced.cleanup.force = true;
        let mut keeps = request();
        keeps["cleanup"] = serde_json::json!({"revokeGrants": false, "removeInventory": false});
        let kept = Arc::new(Mutex::new(None));
        run(&kept, input(keeps, "photos-2026-3")).await.unwrap();
        let plan = call(&kept, PlanEvent::Cleanup(forced)).await.unwrap();
        assert!(plan.request.cleanup.revoke_grants && plan.request.cleanup.remove_inventory);
        let plan = call(&kept, PlanEvent::Cleanup(cleanup.clone()))
            .await
            .unwrap();
        assert!(
            !plan.request.cleanup.revoke_grants,
            "unforced: as the copy asks"
        );
        // A run still running is not cleaned up under it.
        let mut running = cleanup.clone();
        running.cleanup.execution = "photos-2026-9".into();
        let err = call(&store, PlanEvent::Cleanup(running)).await.unwrap_err();
        assert_eq!(err.name, ErrorName::InvalidRequest);
        assert!(
            err.cause.contains("run photos-2026-9 is still running"),
            "{}",
            err.cause
        );
        let mut other = cleanup;
        other.cleanup.execution = "photos-2025-1".into();
        let err = call(&Arc::new(Mutex::new(None)), PlanEvent::Cleanup(other))
            .await
            .unwrap_err();
        assert_eq!(err.name, ErrorName::NotFound);
    }

    /// The security review's first finding: a request naming a bucket that another account
    /// holds (or any unlisted bucket) stops at plan, before anything is granted.
    #[tokio::test]
    async fn a_destination_of_another_account_is_refused_at_plan() {
        let store = Arc::new(Mutex::new(None));
        let mut listed_elsewhere = request();
        listed_elsewhere["destination"]["bucket"] = "dst-owned-by-someone-else".into();
        let mut cfg = config();
        cfg.destination_buckets
            .push("dst-owned-by-someone-else".into());
        let rules = s3(&store);
        let refs: Vec<&Rule> = rules.iter().collect();
        let err = handle(
            &Clients::mocked(&refs, &[], &[&simulator("allowed")], &[]),
            &cfg,
            LambdaEvent::new(
                PlanEvent::Copy(input(listed_elsewhere.clone(), "photos-2026-1")),
                Default::default(),
            ),
        )
        .await
        .unwrap_err();
        assert_eq!(err.name, ErrorName::InvalidRequest);
        assert!(
            err.cause
                .starts_with("destination.bucket: dst-owned-by-someone-else is not this account's"),
            "{}",
            err.cause
        );
        // Without the listing, the stack's DestinationBuckets refuses it first.
        let err = run(&store, input(listed_elsewhere, "photos-2026-1"))
            .await
            .unwrap_err();
        assert!(
            err.cause.contains(
                "is not in the destination stack's DestinationBuckets parameter (dst-photos)"
            ),
            "{}",
            err.cause
        );
        assert!(store.lock().unwrap().is_none(), "no plan stored");
    }

    /// The preflight's destination half: a refusal by the simulator fails the plan, naming the
    /// side, the bucket and the action, and no plan is stored (nothing is granted or created).
    #[tokio::test]
    async fn a_refusal_of_the_preflight_fails_the_plan_and_stores_nothing() {
        let store = Arc::new(Mutex::new(None));
        let rules = s3(&store);
        let refs: Vec<&Rule> = rules.iter().collect();
        let err = handle(
            &Clients::mocked(&refs, &[], &[&simulator("explicitDeny")], &[&running(&[])]),
            &config(),
            LambdaEvent::new(
                PlanEvent::Copy(input(request(), "photos-2026-1")),
                Default::default(),
            ),
        )
        .await
        .unwrap_err();
        assert_eq!(err.name, ErrorName::AccessDenied);
        assert!(
            err.cause.starts_with("preflight (destination account 222222222222): the copy would be refused, so nothing was granted or created: ")
                && err.cause.contains("dst-photos: s3:PutObject by ferry-batch-photos-2026: refused"),
            "{}",
            err.cause
        );
        assert!(store.lock().unwrap().is_none(), "no plan stored");
    }

    #[tokio::test]
    async fn an_invalid_request_touches_nothing() {
        let store = Arc::new(Mutex::new(None));
        let mut bad = request();
        bad["source"]["accountId"] = "333333333333".into();
        let err = run(&store, input(bad, "photos-2026-1")).await.unwrap_err();
        assert_eq!(err.name, ErrorName::InvalidRequest);
        assert!(
            err.cause.contains(
                "source.accountId: 333333333333 is not in the destination stack's SourceAccountIds"
            ),
            "{}",
            err.cause
        );
        assert!(store.lock().unwrap().is_none());
    }
}
