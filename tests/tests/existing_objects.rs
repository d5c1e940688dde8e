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

fn with_existing(mut request: Value, existing: &str) -> Value {
    request["destination"]["existing"] = existing.into();
    request
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuse_leaves_an_existing_object_byte_for_byte_and_says_so() {
    let world = World::seeded().await;
    let taken = samples()[0].key.clone();
    world
        .destination
        .s3
        .put_object()
        .bucket(DESTINATION_BUCKET)
        .key(&taken)
        .body(THEIRS.to_vec().into())
        .send()
        .await
        .unwrap();
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_with_skip_identical_copies_only_what_changed() {
    let world = World::seeded().await;
    let request = with_existing(world.request("photos-2026"), "skip-identical");
    // First run, into an empty destination: S3PutObjectCopy, every object.
    let first = world.run("photos-2026-1", &request).await;
    assert_eq!(first.status, ExecutionStatus::Succeeded, "{first:?}");
    assert_eq!(first.output.unwrap()["copied"], 6);
    // One object changes, one appears.
    let mut changed = samples();
    changed[2].body = b"a+b=d, after all".to_vec();
    let new = Sample {
        key: "2026/new/arrival.txt".into(),
        body: b"new since the first run".to_vec(),
        content_type: None,
        metadata: Default::default(),
        tags: Default::default(),
    };
    ferry_local::objects::put_samples(
        &world.source.s3,
        SOURCE_BUCKET,
        &[changed[2].clone(), new.clone()],
    )
    .await
    .unwrap();
    changed.push(new);
    put_manifest_of(&world.source.s3, MANIFEST_BUCKET, &changed).await;
    let arn = world.start_execution("photos-2026-2", &request).await;
    let second = world.wait_for(&arn).await;
    let planned = world.state_output(&arn, "Plan the copy").await.unwrap();
    assert_eq!(planned["plan"]["destinationOccupied"], true);
    assert_eq!(second.status, ExecutionStatus::Succeeded, "{second:?}");
    let out = second.output.unwrap();
    println!("second run: {out}");
    assert_eq!(out["copied"], 2, "the changed one and the new one: {out}");
    assert_eq!(out["identical"], 5, "{out}");
    world.assert_copied(&changed).await;
    world.assert_no_leftovers().await;
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
    let mut request = world.request("photos-2026");
    request["verify"] = serde_json::json!({"enabled": true});
    let arn = world.start_execution("photos-2026-1", &request).await;
    // The copy job runs; the verification job (the next attempt) is held once it starts.
    wait_for_job(&world, "ferry-photos-2026-1-0", "Complete").await;
    world.hold(true).await;
    wait_for_job(&world, "ferry-photos-2026-1-1", "Active").await;
    let (changed, deleted) = (samples()[1].key.clone(), samples()[2].key.clone());
    world
        .destination
        .s3
        .put_object()
        .bucket(DESTINATION_BUCKET)
        .key(&changed)
        .body(b"altered after the copy".to_vec().into())
        .send()
        .await
        .unwrap();
    world
        .destination
        .s3
        .delete_object()
        .bucket(DESTINATION_BUCKET)
        .key(&deleted)
        .send()
        .await
        .unwrap();
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
