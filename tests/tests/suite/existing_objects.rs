//! `destination.existing`: never overwrite by surprise (refuse, the default), copy only what
//! changed (skip-identical), in the strict sandbox. Into an occupied destination the copy runs
//! with the copy worker, which looks at each destination key before it writes.

use aws_sdk_sfn::types::ExecutionStatus;
use ferry_local::objects::Sample;
use ferry_tests::*;
use serde_json::Value;

/// Someone else's object at the destination key of one of the samples.
const THEIRS: &[u8] = b"someone else's report, not to be lost";

async fn destination_bytes(world: &World, key: &str) -> Vec<u8> {
    let (bytes, _) =
        ferry_core::clients::get_object_bytes(&world.destination.s3, DESTINATION_BUCKET, key)
            .await
            .unwrap()
            .expect("the object is there");
    bytes
}

/// Someone writes `body` at the destination key `key` (outside ferry).
async fn put_at_destination(world: &World, key: &str, body: &[u8]) {
    world
        .destination
        .s3
        .put_object()
        .bucket(DESTINATION_BUCKET)
        .key(key)
        .body(body.to_vec().into())
        .send()
        .await
        .unwrap();
}

/// Someone deletes the destination key `key` (outside ferry).
async fn delete_at_destination(world: &World, key: &str) {
    world
        .destination
        .s3
        .delete_object()
        .bucket(DESTINATION_BUCKET)
        .key(key)
        .send()
        .await
        .unwrap();
}

fn with_existing(mut request: Value, existing: &str) -> Value {
    request["destination"]["existing"] = existing.into();
    request
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuse_leaves_an_existing_object_byte_for_byte_and_says_so() {
    let world = World::seeded().await;
    let taken = samples()[0].key.clone();
    put_at_destination(&world, &taken, THEIRS).await;
    // The default: refuse.
    let run = world
        .run("photos-2026-1", &world.request("photos-2026"))
        .await;
    assert_eq!(run.status, ExecutionStatus::Failed, "{run:?}");
    assert_eq!(run.error.as_deref(), Some("CopyIncomplete"), "{run:?}");
    let cause = run.cause.unwrap();
    println!("cause: {cause}");
    assert!(
        cause.contains("1 objects were not copied")
            && cause.contains("1 left alone as existing")
            && cause.contains(&format!("{taken} (PermanentFailure (existing))")),
        "{cause}"
    );
    assert_eq!(
        destination_bytes(&world, &taken).await,
        THEIRS,
        "theirs, untouched"
    );
    let others: Vec<Sample> = samples().into_iter().skip(1).collect();
    world.assert_copied(&others).await;
    let records = world.job_records("photos-2026").await;
    assert_eq!(records.len(), 1, "one job, nothing retried");
    assert_eq!(records[0]["worker"], true, "the copy worker looked first");
    world.assert_no_leftovers().await;
}

/// A scheduled sync: `objects` copied with `skip-identical`, then `change` of them changed at
/// the source and `add` new ones written, and the schedule fires (EventBridge Scheduler invokes
/// `cleanup-start` with `{"scheduledRun": "<copyId>"}`), which starts run 2 on the stored plan.
/// Returns both runs' outputs, once every object is at the destination as at the source.
async fn scheduled_sync(
    world: &World,
    mut objects: Vec<Sample>,
    change: usize,
    add: usize,
    limit: std::time::Duration,
) -> (Value, Value) {
    let request = with_existing(world.request("photos-2026"), "skip-identical");
    put_manifest_of(&world.source.s3, MANIFEST_BUCKET, &objects).await;
    let first = world.start_execution("photos-2026-1", &request).await;
    let first = world
        .wait_at_most(&first, limit)
        .await
        .expect("run 1 ended");
    assert_eq!(first.status, ExecutionStatus::Succeeded, "{first:?}");
    let mut touched = Vec::new();
    let every = (objects.len() / change.max(1)).max(1);
    for s in objects.iter_mut().step_by(every).take(change) {
        s.body.extend_from_slice(b", changed since run 1");
        touched.push(s.clone());
    }
    for i in 0..add {
        let new = Sample {
            key: format!("2026/new/arrival-{i}.txt"),
            body: b"new since the first run".to_vec(),
            content_type: None,
            metadata: Default::default(),
            tags: Default::default(),
        };
        touched.push(new.clone());
        objects.push(new);
    }
    ferry_local::objects::put_samples(&world.source.s3, SOURCE_BUCKET, &touched)
        .await
        .unwrap();
    put_manifest_of(&world.source.s3, MANIFEST_BUCKET, &objects).await;
    let answer = world
        .schedule_fires(
            "ferry-cleanup-start",
            serde_json::json!({"scheduledRun": "photos-2026"}),
        )
        .await;
    assert_eq!(answer["started"], "photos-2026-2", "{answer}");
    let arn = world.execution_arn("photos-2026-2");
    let second = world.wait_at_most(&arn, limit).await.expect("run 2 ended");
    let planned = world.state_output(&arn, "Plan the copy").await.unwrap();
    assert_eq!(planned["plan"]["destinationOccupied"], true);
    assert_eq!(planned["plan"]["destinationVersioning"], "Disabled");
    assert_eq!(second.status, ExecutionStatus::Succeeded, "{second:?}");
    world.assert_copied(&objects).await;
    world.assert_no_leftovers().await;
    (first.output.unwrap(), second.output.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_second_run_with_skip_identical_copies_only_what_changed() {
    let world = World::seeded().await;
    let limit = std::time::Duration::from_secs(240);
    let (first, second) = scheduled_sync(&world, samples(), 1, 1, limit).await;
    assert_eq!(first["copied"], 6, "{first}");
    println!("second run: {second}");
    assert_eq!(
        second["copied"], 2,
        "the changed one and the new one: {second}"
    );
    assert_eq!(second["identical"], 5, "{second}");
    assert_eq!(
        second["verification"]["verified"], 7,
        "then every object verified: {second}"
    );
    // While a run of the copy is going, the schedule skips.
    world.hold(true).await;
    let arn = world
        .start_execution(
            "photos-2026-3",
            &with_existing(world.request("photos-2026"), "skip-identical"),
        )
        .await;
    world.wait_for_active_job().await;
    let answer = world
        .schedule_fires(
            "ferry-cleanup-start",
            serde_json::json!({"scheduledRun": "photos-2026"}),
        )
        .await;
    assert_eq!(
        answer["ignored"], "photos-2026-3 is still running",
        "{answer}"
    );
    world.hold(false).await;
    world.wait_for(&arn).await;
}

/// The measure: 1,000 objects, 10 changed, the scheduled re-run copies those 10 only.
/// Minutes in the sandbox (two runs of 1,000 tasks and their verifications); run with
/// `cargo test -p ferry-tests --test suite existing_objects:: -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "minutes: run by hand, its numbers are in docs/src/existing-objects.md"]
async fn a_thousand_objects_then_a_scheduled_sync_copies_only_the_ten_changed() {
    let world = World::start_for(3600).await;
    world.seed().await;
    let mut objects = samples();
    let more: Vec<Sample> = (objects.len()..1000)
        .map(|i| Sample {
            key: format!("2026/bulk/{i:04}.txt"),
            body: format!("object {i}").into_bytes(),
            content_type: None,
            metadata: Default::default(),
            tags: Default::default(),
        })
        .collect();
    ferry_local::objects::put_samples(&world.source.s3, SOURCE_BUCKET, &more)
        .await
        .unwrap();
    objects.extend(more);
    let started = std::time::Instant::now();
    let limit = std::time::Duration::from_secs(1800);
    let (first, second) = scheduled_sync(&world, objects, 10, 0, limit).await;
    println!(
        "run 1: {first}\nrun 2: {second}\nboth runs: {} s",
        started.elapsed().as_secs()
    );
    assert_eq!(first["copied"], 1000, "{first}");
    assert_eq!(second["copied"], 10, "{second}");
    assert_eq!(second["identical"], 990, "{second}");
    assert_eq!(second["verification"]["verified"], 1000, "{second}");
}

/// Waits until the sandbox has a job with `token` in `status` (60 s at most).
async fn wait_for_job(world: &World, token: &str, status: &str) {
    for _ in 0..600 {
        let jobs = world.sandbox.jobs().await.unwrap();
        if jobs
            .as_array()
            .unwrap()
            .iter()
            .any(|j| j["token"] == token && j["status"] == status)
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!(
        "no job {token} {status}: {}",
        world.sandbox.jobs().await.unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_verification_finds_an_object_changed_and_one_deleted_after_the_copy() {
    let world = World::seeded().await;
    // The default (`existing` refuse) verifies.
    let arn = world
        .start_execution("photos-2026-1", &world.request("photos-2026"))
        .await;
    // The copy job runs; the verification job (the next attempt) is held once it starts.
    wait_for_job(&world, "ferry-photos-2026-1-0", "Complete").await;
    world.hold(true).await;
    wait_for_job(&world, "ferry-photos-2026-1-1", "Active").await;
    let (changed, deleted) = (samples()[1].key.clone(), samples()[2].key.clone());
    put_at_destination(&world, &changed, b"altered after the copy").await;
    delete_at_destination(&world, &deleted).await;
    world.hold(false).await;
    let run = world.wait_for(&arn).await;
    assert_eq!(run.status, ExecutionStatus::Failed, "{run:?}");
    assert_eq!(run.error.as_deref(), Some("CopyIncomplete"), "{run:?}");
    let cause = run.cause.unwrap();
    println!("cause: {cause}");
    assert!(
        cause.contains(&format!(
            "found 1 missing ({deleted}) and 1 different ({changed})"
        )) && cause.contains("(4 verified)"),
        "{cause}"
    );
    world.assert_no_leftovers().await;
}

/// `ferry verify COPY_ID`: a run whose input is `{"verifyCopy": "<copyId>"}`.
fn verify_run(copy_id: &str) -> Value {
    serde_json::json!({ "verifyCopy": copy_id })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verification_run_checks_a_finished_copy_again_without_copying() {
    let world = World::seeded().await;
    // `overwrite` does not verify by default: one job.
    let request = with_existing(world.request("photos-2026"), "overwrite");
    let first = world.run("photos-2026-1", &request).await;
    assert_eq!(first.status, ExecutionStatus::Succeeded, "{first:?}");
    let out = first.output.unwrap();
    assert_eq!(
        (out["copied"].clone(), out["verification"].clone()),
        (6.into(), Value::Null)
    );
    // Later, all is well: the verification run says so, and copies nothing.
    let arn = world
        .start_execution("photos-2026-2", &verify_run("photos-2026"))
        .await;
    let second = world.wait_for(&arn).await;
    assert_eq!(second.status, ExecutionStatus::Succeeded, "{second:?}");
    let planned = world.state_output(&arn, "Plan the copy").await.unwrap();
    assert_eq!(planned["plan"]["verifyOnly"], true);
    assert_eq!(planned["plan"]["request"], first_request(&world).await);
    let out = second.output.unwrap();
    assert_eq!(out["copied"], 0, "{out}");
    assert_eq!(out["verification"]["verified"], 6, "{out}");
    let run2: Vec<Value> = world
        .job_records("photos-2026")
        .await
        .into_iter()
        .filter(|r| r["attempt"]["run"] == 2)
        .collect();
    assert_eq!(run2.len(), 1, "one job: {run2:?}");
    assert_eq!(run2[0]["verify"], true);
    // Then someone deletes a copy: the next verification finds it missing.
    let deleted = samples()[3].key.clone();
    delete_at_destination(&world, &deleted).await;
    let third = world.run("photos-2026-3", &verify_run("photos-2026")).await;
    assert_eq!(third.error.as_deref(), Some("CopyIncomplete"), "{third:?}");
    let cause = third.cause.unwrap();
    assert!(
        cause.starts_with(&format!("the verification found 1 missing ({deleted})")),
        "{cause}"
    );
    world.assert_no_leftovers().await;
    // A copy id that was never run has nothing to verify.
    let none = world.run("elsewhere-1", &verify_run("elsewhere")).await;
    assert_eq!(none.error.as_deref(), Some("NotFound"), "{none:?}");
    assert!(none
        .cause
        .unwrap()
        .contains("copy elsewhere has no stored plan"));
}

/// The request the copy's plan stores, as a run's plan carries it.
async fn first_request(world: &World) -> Value {
    let arn = world.execution_arn("photos-2026-1");
    world.state_output(&arn, "Plan the copy").await.unwrap()["plan"]["request"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verification_run_of_flow_a_reads_the_latest_inventory_report() {
    let world = World::seeded().await;
    let request = world.inventory_request("photos-2026", 60, 600);
    let first = world.run("photos-2026-1", &request).await;
    assert_eq!(first.status, ExecutionStatus::Succeeded, "{first:?}");
    let out = first.output.unwrap();
    assert_eq!(out["verification"]["verified"], samples().len(), "{out}");
    let changed = samples()[0].key.clone();
    put_at_destination(&world, &changed, b"not what was copied").await;
    // No new inventory is configured nor waited for: the report of run 1 is read again.
    let arn = world
        .start_execution("photos-2026-2", &verify_run("photos-2026"))
        .await;
    let second = world.wait_for(&arn).await;
    assert_eq!(
        second.error.as_deref(),
        Some("CopyIncomplete"),
        "{second:?}"
    );
    let cause = second.cause.unwrap();
    assert!(
        cause.contains(&format!("0 missing and 1 different ({changed})")),
        "{cause}"
    );
    assert!(world
        .state_output(&arn, "Configure source inventory")
        .await
        .is_none());
    let first_report = world
        .state_output(
            &world.execution_arn("photos-2026-1"),
            "Start with the first job",
        )
        .await
        .unwrap();
    let second_report = world
        .state_output(&arn, "Start with the first job")
        .await
        .unwrap();
    assert!(first_report["plan"]["inventoryManifest"]["key"].is_string());
    assert_eq!(
        first_report["plan"]["inventoryManifest"],
        second_report["plan"]["inventoryManifest"]
    );
    world.assert_no_leftovers().await;
}
