//! The failure suite: what people and other copies do to a running copy, each through the
//! template's state machine in the sandbox, each ending with nothing of ferry's left behind.
//! (A run stopped by hand while its job runs: flow_b.rs, `a_run_stopped_by_hand_...`.)

use aws_sdk_sfn::types::ExecutionStatus;
use ferry_tests::{samples, World, SOURCE_BUCKET};

/// Someone removes ferry's statements from the source bucket's policy while the job waits to
/// run: every task is refused ("no resource-based policy allows"), which in the run's first
/// minutes reads as a grant not in effect yet (`timing.propagationSeconds`). The retry job's
/// "Verify source access" puts the statements back, and the copy completes; at the end they are
/// removed again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_removed_by_hand_before_the_job_runs_is_put_back_and_the_copy_completes() {
    let world = World::seeded().await;
    world.hold(true).await;
    let arn = world
        .start_execution("photos-2026-1", &world.request("photos-2026"))
        .await;
    // The job exists and has not run a task; someone tidies the source bucket's policy.
    world.wait_for_active_job().await;
    assert!(!world.ferry_statements(SOURCE_BUCKET).await.is_empty());
    world.remove_ferry_statements(SOURCE_BUCKET).await;
    world.hold(false).await;

    let run = world.wait_for(&arn).await;
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{run:?}");
    let out = run.output.unwrap();
    assert_eq!(out["copied"], samples().len() as u64, "{out}");
    // The refused job, the retry of all it refused, the verification.
    assert_eq!(
        world.job_tokens().await,
        [
            "ferry-photos-2026-1-0",
            "ferry-photos-2026-1-1",
            "ferry-photos-2026-1-2"
        ]
    );
    assert_eq!(
        world.job_fields("failed").await[0],
        samples().len() as u64,
        "the first job: every task refused"
    );
    world.assert_copied(&samples()).await;
    world.assert_no_leftovers().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_copies_from_the_same_source_bucket_at_once_both_succeed_and_restore_its_policy() {
    let world = World::seeded().await;
    let mut first = world.request("photos-a");
    first["destination"]["keyPrefix"] = "a/".into();
    let mut second = world.request("photos-b");
    second["destination"]["keyPrefix"] = "b/".into();
    // Both grant into the same two bucket policies at the same moment.
    let (a, b) = tokio::join!(
        world.start_execution("photos-a-1", &first),
        world.start_execution("photos-b-1", &second)
    );
    let (a, b) = tokio::join!(world.wait_for(&a), world.wait_for(&b));
    for run in [&a, &b] {
        assert_eq!(run.status, ExecutionStatus::Succeeded, "{run:?}");
        assert_eq!(
            run.output.as_ref().unwrap()["copied"],
            samples().len() as u64
        );
    }
    let listed = world
        .destination
        .s3
        .list_objects_v2()
        .bucket(ferry_tests::DESTINATION_BUCKET)
        .send()
        .await
        .unwrap();
    assert_eq!(
        listed.key_count().unwrap_or_default() as usize,
        2 * samples().len(),
        "each copy wrote its own prefix"
    );
    world
        .assert_no_leftovers_of(&["photos-a", "photos-b"])
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_run_again_after_failing_halfway_completes_as_a_new_attempt() {
    let world = World::seeded().await;
    let request = world.request("photos-2026");
    world.hold(true).await;
    let first = world.start_execution("photos-2026-1", &request).await;
    world.wait_for_active_job().await;
    // Halfway: the job runs and the execution is stopped (a deploy, a person, a timeout).
    world
        .destination
        .sfn
        .stop_execution()
        .execution_arn(&first)
        .send()
        .await
        .unwrap();
    assert_eq!(
        world.wait_for(&first).await.status,
        ExecutionStatus::Aborted
    );
    let cleanup = world
        .wait_for(&world.execution_arn("photos-2026-cleanup-1"))
        .await;
    assert_eq!(cleanup.status, ExecutionStatus::Succeeded, "{cleanup:?}");
    world.assert_no_leftovers().await;

    // Run 2: same stored plan, grants again (once each), one new job for the new attempt.
    let second = world.start_execution("photos-2026-2", &request).await;
    world.wait_for_active_job().await;
    for bucket in [SOURCE_BUCKET, ferry_tests::MANIFEST_BUCKET] {
        let sids: Vec<String> = world
            .ferry_statements(bucket)
            .await
            .iter()
            .map(|s| s["Sid"].as_str().unwrap().to_string())
            .collect();
        let unique: std::collections::BTreeSet<&String> = sids.iter().collect();
        assert!(!sids.is_empty(), "{bucket}: granted again");
        assert_eq!(
            unique.len(),
            sids.len(),
            "{bucket}: no duplicate statement: {sids:?}"
        );
    }
    world.hold(false).await;
    let run = world.wait_for(&second).await;
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{run:?}");
    assert_eq!(
        world.job_tokens().await,
        [
            "ferry-photos-2026-1-0",
            "ferry-photos-2026-2-0",
            "ferry-photos-2026-2-1"
        ],
        "one job per attempt, the first one cancelled; then run 2's verification"
    );
    let statuses = world.job_fields("status").await;
    assert!(statuses.contains(&"Cancelled".into()), "{statuses:?}");
    world.assert_copied(&samples()).await;
    world.assert_no_leftovers().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grants_are_renewed_while_a_long_job_runs() {
    let world = World::seeded().await;
    let mut request = world.request("photos-2026");
    // A lifetime only the sandbox allows (AWS's stacks: 60 s at least): renewal is due with
    // half of it (6 s) left.
    request["timing"]["grantLifetimeSeconds"] = 12.into();
    world.hold(true).await;
    let arn = world.start_execution("photos-2026-1", &request).await;
    world.wait_for_active_job().await;
    let expiry = |statements: Vec<serde_json::Value>| {
        statements[0]["Condition"]["DateLessThan"]["aws:CurrentTime"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let granted = expiry(world.ferry_statements(SOURCE_BUCKET).await);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let renewed = loop {
        let now = expiry(world.ferry_statements(SOURCE_BUCKET).await);
        if now != granted {
            break now;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the grant expiring at {granted} was never renewed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    };
    assert!(renewed > granted, "{renewed} is later than {granted}");
    // The job runs past the first expiry: its tasks read with the renewed grant.
    let first_expiry = ferry_core::clock::parse_timestamp(&granted).unwrap();
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
    };
    while now() <= first_expiry {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    world.hold(false).await;
    let run = world.wait_for(&arn).await;
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{run:?}");
    world.assert_copied(&samples()).await;
    world.assert_no_leftovers().await;
}
