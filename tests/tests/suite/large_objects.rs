//! Objects over 5 GB, in the strict sandbox: its S3PutObjectCopy limit lowered to 10 MiB so
//! that objects of a few tens of MB take the copy worker's path with real parts in moto (5 MiB
//! parts), every byte checked at the destination. The worker's job (LambdaInvoke) is invoked
//! by the sandbox's Batch Operations as the job's role, with AWS's redrive of TemporaryFailure.

use aws_sdk_sfn::types::ExecutionStatus;
use ferry_local::objects::Sample;
use ferry_tests::*;
use serde_json::{json, Value};

const LIMIT: u64 = 10 * 1024 * 1024;

/// Two "large" objects (over the lowered limit): 23 MiB (5 parts of 5 MiB) and 12 MiB + 1 byte
/// (3 parts), with metadata, a content type and tags the copy must keep.
fn large() -> Vec<Sample> {
    let mk = |key: &str, size: usize, seed: u8| Sample {
        key: key.to_string(),
        body: (0..size)
            .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_be_bytes()[0] ^ seed)
            .collect(),
        content_type: Some("video/quicktime".into()),
        metadata: [("origin".to_string(), format!("camera-{seed}"))].into(),
        tags: [("kind".to_string(), "raw footage".to_string())].into(),
    };
    vec![
        mk("2026/video/raw take.mov", 23 * 1024 * 1024, 7),
        mk("2026/video/b-roll.mov", 12 * 1024 * 1024 + 1, 9),
    ]
}

/// The samples and the large objects in the source bucket, all listed in flow B's manifest;
/// the sandbox's copy limit lowered.
async fn seed_large(world: &World) {
    ferry_local::objects::put_samples(&world.source.s3, SOURCE_BUCKET, &large())
        .await
        .unwrap();
    let all: Vec<Sample> = samples().into_iter().chain(large()).collect();
    put_manifest_of(&world.source.s3, MANIFEST_BUCKET, &all).await;
    world
        .sandbox
        .control("/copy-limit", json!({"bytes": LIMIT}))
        .await
        .unwrap();
}

fn with_multipart(mut request: Value, parts_in_flight: u16) -> Value {
    request["multipart"] = json!({"partsInFlight": parts_in_flight, "partMiB": 5});
    request
}

/// The operations of the sandbox's jobs, in order: "copy" or "worker".
async fn job_operations(world: &World) -> Vec<String> {
    let mut tokens = world.job_tokens().await;
    tokens.sort();
    let records = world.job_records("photos-2026").await;
    tokens
        .iter()
        .map(|t| {
            let worker = records
                .iter()
                .find(|r| r["clientRequestToken"] == t.as_str())
                .is_some_and(|r| r["worker"] == true);
            if worker { "worker" } else { "copy" }.to_string()
        })
        .collect()
}

async fn assert_everything_copied(world: &World) {
    let all: Vec<Sample> = samples().into_iter().chain(large()).collect();
    world.assert_copied(&all).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flow_b_copies_objects_over_the_limit_with_the_worker_and_every_byte_arrives() {
    let world = World::seeded().await;
    seed_large(&world).await;
    let request = with_multipart(world.request("photos-2026"), 4);
    let run = world.run("photos-2026-1", &request).await;
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{run:?}");
    let out = run.output.unwrap();
    println!("output: {out}");
    assert_eq!(
        out["copied"], 8,
        "six samples by S3PutObjectCopy, two by the worker"
    );
    assert_eq!(out["jobIds"].as_array().unwrap().len(), 3);
    assert_eq!(
        job_operations(&world).await,
        ["copy", "worker", "worker"],
        "S3PutObjectCopy, the worker's copy, the worker's verification"
    );
    assert_eq!(out["verification"]["verified"], 8, "{out}");
    assert_everything_copied(&world).await;
    world.assert_no_leftovers().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flow_a_copies_objects_over_the_limit_with_the_worker_and_every_byte_arrives() {
    let world = World::seeded().await;
    seed_large(&world).await;
    let request = with_multipart(world.inventory_request("photos-2026", 1, 120), 4);
    let run = world.run("photos-2026-1", &request).await;
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{run:?}");
    assert_eq!(run.output.unwrap()["copied"], 8);
    assert_eq!(
        job_operations(&world).await,
        ["copy", "worker", "worker"],
        "S3PutObjectCopy, the worker's copy, the worker's verification"
    );
    assert_everything_copied(&world).await;
    world.assert_no_leftovers().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_interrupted_after_some_parts_goes_on_from_them() {
    let world = World::seeded().await;
    seed_large(&world).await;
    // After two part copies, three fail (the SDK's three attempts): the worker answers
    // TemporaryFailure, Batch Operations invokes it again, and it goes on from ListParts.
    world
        .sandbox
        .control("/part-copy-faults", json!({"after": 2, "count": 3}))
        .await
        .unwrap();
    let request = with_multipart(world.request("photos-2026"), 1);
    let run = world.run("photos-2026-1", &request).await;
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{run:?}");
    assert_everything_copied(&world).await;
    let faults = world.sandbox.get("/part-copy-faults").await.unwrap();
    // 5 + 3 parts, and the 3 refused: a restart from scratch would have copied the first two
    // parts again.
    assert_eq!(faults["seen"], 8 + 3, "{faults}");
    world.assert_no_leftovers().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_stopped_halfway_leaves_no_unfinished_upload_after_cleanup() {
    let world = World::seeded().await;
    seed_large(&world).await;
    // Every part copy after the second fails, and Batch Operations gives up after one redrive:
    // the worker's upload is left begun, its parts half in.
    world
        .sandbox
        .control("/part-copy-faults", json!({"after": 2, "count": 1_000_000}))
        .await
        .unwrap();
    world
        .sandbox
        .control("/lambda-redrives", json!({"times": 1}))
        .await
        .unwrap();
    let request = with_multipart(world.request("photos-2026"), 1);
    let arn = world.start_execution("photos-2026-1", &request).await;
    let run = world.wait_for(&arn).await;
    assert_eq!(run.status, ExecutionStatus::Failed, "{run:?}");
    assert_eq!(run.error.as_deref(), Some("CopyIncomplete"), "{run:?}");
    // Both objects' uploads were begun and left unfinished: the revoke aborted them.
    let revoked = world
        .state_output(&arn, "Stop jobs and remove the role")
        .await
        .expect("the revoke ran");
    let aborted: Vec<&Value> = revoked["revoked"]["changed"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c.as_str().unwrap().starts_with("upload "))
        .collect();
    assert_eq!(aborted.len(), 2, "{revoked}");
    // The cleanup aborted the upload and removed its record: nothing left to bill.
    world.assert_no_leftovers().await;
    assert!(
        world.upload_records("photos-2026").await.is_empty(),
        "no upload record is left"
    );
}

/// S3 Batch Operations fails a job that has run at least 1,000 tasks once over half of them
/// failed, and never runs the rest (S3 User Guide, batch-ops-job-status). Flow B's CSV has no
/// sizes, so its first job is S3PutObjectCopy: 1,200 objects of which 800 are "over 5 GB"
/// (sizes faked in the sandbox's Batch Operations) fail that job by the threshold, and ferry
/// sends the copy's manifest to the worker, which copies what is left and leaves alone what the
/// failed job copied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_failed_by_the_task_failure_threshold_is_finished_by_the_worker() {
    let world = World::seeded().await;
    let objects: Vec<Sample> = (0..1200)
        .map(|i| Sample {
            key: format!("2026/bulk/{i:04}.bin"),
            body: format!("object {i}").into_bytes(),
            content_type: None,
            metadata: Default::default(),
            tags: Default::default(),
        })
        .collect();
    ferry_local::objects::put_samples(&world.source.s3, SOURCE_BUCKET, &objects)
        .await
        .unwrap();
    put_manifest_of(&world.source.s3, MANIFEST_BUCKET, &objects).await;
    // Two of every three over the limit, spread through the manifest.
    let over: Vec<Value> = objects
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 3 != 0)
        .map(|(_, o)| json!({"bucket": SOURCE_BUCKET, "key": o.key, "size": 6u64 << 30}))
        .collect();
    world
        .sandbox
        .control("/sizes", json!({ "objects": over }))
        .await
        .unwrap();
    let mut request = world.request("photos-2026");
    request["source"]["prefix"] = json!("2026/bulk/");
    let run = world.run("photos-2026-1", &request).await;
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{run:?}");
    let jobs: Vec<Value> =
        serde_json::from_value(world.sandbox.get("/jobs").await.unwrap()).unwrap();
    let first = jobs
        .iter()
        .find(|j| j["token"].as_str().unwrap().ends_with("-1-0"))
        .unwrap();
    assert_eq!(
        first["status"], "Failed",
        "the first job failed by the threshold: {first}"
    );
    assert!(
        first["succeeded"].as_u64().unwrap() + first["failed"].as_u64().unwrap() < 1200,
        "tasks after the threshold never ran: {first}"
    );
    let out = run.output.unwrap();
    // The failed copy job, the worker's job on the rest, the verification (on by default).
    assert_eq!(
        job_operations(&world).await,
        ["copy", "worker", "worker"],
        "{jobs:?} {out}"
    );
    world.assert_copied(&objects).await;
    assert_eq!(out["failed"], 0, "{out}");
    assert_eq!(out["copied"], 1200, "every object counted once: {out}");
    assert_eq!(
        out["identical"], first["succeeded"],
        "what the failed job copied is left alone: {out}"
    );
    assert_eq!(out["verification"]["verified"], 1200, "{out}");
    world.assert_no_leftovers().await;
}
