//! Flow B (a CSV manifest in the source account) end to end, through the template's state
//! machine in the two-account sandbox.

use aws_sdk_sfn::types::ExecutionStatus;
use ferry_tests::*;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flow_b_copies_every_object_and_leaves_nothing_behind() {
    let world = World::seeded().await;
    let run = world
        .run("photos-2026-1", &world.request("photos-2026"))
        .await;
    assert_eq!(
        run.status,
        ExecutionStatus::Succeeded,
        "{run:?}; sandbox log: {}",
        world.sandbox.log.display()
    );
    let output = run.output.unwrap();
    assert_eq!(output["copied"], samples().len() as u64);
    assert_eq!(output["failed"], 0);
    world.assert_copied(&samples()).await;

    world.assert_no_leftovers().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_a_copy_again_is_a_new_attempt_with_one_job_and_no_duplicate_statements() {
    let world = World::seeded().await;
    let request = world.request("photos-2026");
    for n in 1..=2 {
        let run = world.run(&format!("photos-2026-{n}"), &request).await;
        assert_eq!(run.status, ExecutionStatus::Succeeded, "run {n}: {run:?}");
        world.assert_no_leftovers().await;
    }
    assert_eq!(
        world.job_tokens().await,
        [
            "ferry-photos-2026-1-0",
            "ferry-photos-2026-1-1",
            "ferry-photos-2026-2-0",
            "ferry-photos-2026-2-1"
        ],
        "one copy job per attempt, each then verified"
    );
    world.assert_copied(&samples()).await;

    // The copy's plan is stored: a different request under the same copyId is refused.
    let mut changed = request.clone();
    changed["destination"]["keyPrefix"] = "elsewhere/".into();
    let run = world.run("photos-2026-3", &changed).await;
    assert_eq!(run.status, ExecutionStatus::Failed);
    assert_eq!(run.error.as_deref(), Some("InvalidRequest"));
    assert!(run
        .cause
        .unwrap()
        .contains("already has a stored plan with a different request"));
    assert_eq!(
        world.job_tokens().await.len(),
        4,
        "no job for the refused run"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_failures_are_retried_and_the_copy_completes() {
    let world = World::seeded().await;
    world.fail_tasks(serde_json::json!({"pattern": "2026/photos/*", "code": "SlowDown", "http": 503, "times": 1})).await;
    let run = world
        .run("photos-2026-1", &world.request("photos-2026"))
        .await;
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{run:?}");
    let output = run.output.unwrap();
    assert_eq!(output["copied"], samples().len() as u64);
    assert_eq!(
        output["jobIds"].as_array().unwrap().len(),
        3,
        "the first job, one retry job, then the verification"
    );
    assert_eq!(
        world.job_tokens().await,
        [
            "ferry-photos-2026-1-0",
            "ferry-photos-2026-1-1",
            "ferry-photos-2026-1-2"
        ]
    );
    world.assert_copied(&samples()).await;
    world.assert_no_leftovers().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanent_failures_end_incomplete_naming_keys_and_codes_with_grants_revoked() {
    let world = World::seeded().await;
    world.fail_tasks(serde_json::json!({"pattern": "2026/notes/*", "code": "AccessDenied", "http": 403, "message": "Access Denied"})).await;
    let run = world
        .run("photos-2026-1", &world.request("photos-2026"))
        .await;
    assert_eq!(run.status, ExecutionStatus::Failed, "{run:?}");
    assert_eq!(run.error.as_deref(), Some("CopyIncomplete"));
    let cause = run.cause.unwrap();
    // A bare "Access Denied" in the run's first minutes may be a grant not in effect yet
    // (timing.propagationSeconds): the refused object alone is tried again, twice (the
    // request's retries), and then reported as it is.
    assert!(
        cause.starts_with("1 objects were not copied after 3 job(s) (5 copied)"),
        "{cause}"
    );
    assert!(
        cause.contains("errors: AccessDenied x1; failed: 2026/notes/a+b=c.txt (AccessDenied)"),
        "{cause}"
    );
    assert_eq!(
        world.job_fields("total").await,
        [6, 1, 1],
        "the retries carry the refused object only"
    );
    let copied: Vec<Sample> = samples()
        .into_iter()
        .filter(|s| !s.key.starts_with("2026/notes/"))
        .collect();
    world.assert_copied(&copied).await;
    world.assert_no_leftovers().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_request_fails_at_the_plan_step_and_touches_nothing() {
    let world = World::seeded().await;
    let mut request = world.request("photos-2026");
    request["source"]["bucket"] = "ab".into();
    request["job"] = serde_json::json!({"priority": -1});
    let run = world.run("photos-2026-1", &request).await;
    assert_eq!(run.status, ExecutionStatus::Failed);
    assert_eq!(run.error.as_deref(), Some("InvalidRequest"));
    let cause = run.cause.unwrap();
    assert!(
        cause.contains("source.bucket: bucket names are 3 to 63 characters long"),
        "{cause}"
    );
    assert!(
        cause.contains("job.priority: must be between 0 and 2147483647 (got -1)"),
        "{cause}"
    );
    // Not even normalized: the policies were never written.
    let src = world
        .bucket_policy(&world.source.s3, SOURCE_BUCKET)
        .await
        .unwrap();
    assert_eq!(
        src,
        serde_json::from_str::<Value>(FOREIGN_SOURCE_POLICY).unwrap()
    );
    assert!(world.ferry_roles().await.is_empty());
    assert!(world.job_tokens().await.is_empty());
    world.assert_no_leftovers().await;
}

/// GetExecutionHistory as the API pages it (`ferry watch` reads the newest page of a long run
/// each half second): oldest first by default, newest first with `reverseOrder`, `maxResults`
/// events a page and a `nextToken` while events remain.
#[tokio::test]
async fn the_history_is_paged_newest_first_as_the_api_pages_it() {
    let world = World::seeded().await;
    let mut request = world.request("photos-2026");
    request["source"]["bucket"] = "ab".into();
    let arn = world.start_execution("photos-2026-1", &request).await;
    let run = world.wait_for(&arn).await;
    assert_eq!(run.status, ExecutionStatus::Failed);
    let sfn = &world.destination.sfn;
    let all = sfn
        .get_execution_history()
        .execution_arn(&arn)
        .max_results(1000)
        .send()
        .await
        .unwrap();
    let ids: Vec<i64> = all.events().iter().map(|e| e.id()).collect();
    assert!(ids.len() > 4, "{ids:?}");
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "oldest first: {ids:?}");
    assert!(all.next_token().is_none());
    let (mut newest, mut token, mut pages) = (Vec::new(), None, 0);
    loop {
        let page = sfn
            .get_execution_history()
            .execution_arn(&arn)
            .reverse_order(true)
            .max_results(2)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        assert!(page.events().len() <= 2);
        newest.extend(page.events().iter().map(|e| e.id()));
        pages += 1;
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    let mut expected = ids.clone();
    expected.reverse();
    assert_eq!(newest, expected);
    assert_eq!(pages, ids.len().div_ceil(2));
    world.assert_no_leftovers().await;
}

/// S3PutObjectCopy refuses an object over 5 GB (the sandbox is told this one is 6 GiB): the
/// task's failure is not a permanent one, the object goes to a job of the copy worker, which
/// copies it (its real size is one part: one CopyObject), and the copy succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_over_five_gigabytes_goes_to_the_copy_workers_job() {
    let world = World::seeded().await;
    let big = "2026/deep/a/b/c/d/e.bin";
    world
        .sandbox
        .control(
            "/sizes",
            serde_json::json!({"bucket": SOURCE_BUCKET, "key": big, "size": 6_442_450_944u64}),
        )
        .await
        .unwrap();
    let run = world
        .run("photos-2026-1", &world.request("photos-2026"))
        .await;
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{run:?}");
    let out = run.output.unwrap();
    assert_eq!(out["copied"], 6, "{out}");
    assert_eq!(
        world.job_tokens().await.len(),
        3,
        "the copy job, the worker's, then the verification"
    );
    world.assert_copied(&samples()).await;
    world.assert_no_leftovers().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_stopped_by_hand_is_cleaned_up_by_the_rule() {
    let world = World::seeded().await;
    world.hold(true).await;
    let arn = world
        .start_execution("photos-2026-1", &world.request("photos-2026"))
        .await;
    // Wait for the job to run, then stop the execution: no Catch runs, nothing is revoked.
    world.wait_for_active_job().await;
    world
        .destination
        .sfn
        .stop_execution()
        .execution_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(world.wait_for(&arn).await.status, ExecutionStatus::Aborted);
    // The rule starts the cleanup, which cancels the job and revokes everything.
    let cleanup = world
        .wait_for(&world.execution_arn("photos-2026-cleanup-1"))
        .await;
    assert_eq!(cleanup.status, ExecutionStatus::Succeeded, "{cleanup:?}");
    let jobs = world.sandbox.jobs().await.unwrap();
    assert_eq!(jobs[0]["status"], "Cancelled", "{jobs}");
    world.assert_no_leftovers().await;
}

/// A report prefix of the user's own, under `reports/`: the Batch role writes the report there
/// and job-report reads it back (the failed key is named from it); `control/`, `inventory/` and
/// `retry/` stay ferry's (refused at plan, in ferry-core's tests).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_prefix_under_reports_is_written_and_read() {
    let world = World::seeded().await;
    world.fail_tasks(serde_json::json!({"pattern": "2026/notes/*", "code": "AccessDenied", "http": 403, "message": "Access Denied"})).await;
    let mut request = world.request("photos-2026");
    request["report"] = serde_json::json!({"prefix": "reports/audit", "scope": "AllTasks"});
    let run = world.run("photos-2026-1", &request).await;
    assert_eq!(run.error.as_deref(), Some("CopyIncomplete"), "{run:?}");
    assert!(
        run.cause
            .as_deref()
            .unwrap()
            .contains("failed: 2026/notes/a+b=c.txt (AccessDenied)"),
        "{run:?}"
    );
    let ferry = ferry_core::layout::ferry_bucket_name(
        world.sandbox.info.destination_account(),
        &world.sandbox.info.region,
    );
    let listed = world
        .destination
        .s3
        .list_objects_v2()
        .bucket(&ferry)
        .prefix("reports/audit/photos-2026/run-1/")
        .send()
        .await
        .unwrap();
    assert!(
        listed
            .contents()
            .iter()
            .any(|o| o.key().unwrap().ends_with("/manifest.json")),
        "the report is under the request's prefix"
    );
    world.assert_no_leftovers().await;
}

/// A CSV manifest kept in the destination account, in a bucket of `ManifestBuckets`: no grant is
/// needed in the source account for it, job-submit and the Batch role read it in their own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_csv_manifest_in_the_destination_account_is_read_there() {
    let world = World::seeded().await;
    let request = world.destination_manifest_request("photos-2026").await;
    let run = world.run("photos-2026-1", &request).await;
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{run:?}");
    world.assert_copied(&samples()).await;
    world.assert_no_leftovers().await;
}
