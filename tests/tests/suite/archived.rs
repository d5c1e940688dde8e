//! Archived objects (`source.archived`) end to end in the sandbox, which keeps S3 Glacier
//! Flexible Retrieval, Deep Archive and Intelligent-Tiering archive-tier objects archived until
//! an S3InitiateRestoreObject task restores them, a few seconds later (archive.py).

use aws_sdk_s3::types::StorageClass;
use aws_sdk_sfn::types::ExecutionStatus;
use ferry_tests::*;
use serde_json::{json, Value};

/// The archived objects put among the samples: key, storage class, Intelligent-Tiering tier.
const ARCHIVED: [(&str, &str, Option<&str>); 4] = [
    ("2026/archive/flexible.bin", "GLACIER", None),
    ("2026/archive/deep.bin", "DEEP_ARCHIVE", None),
    (
        "2026/archive/tiering archive.bin",
        "INTELLIGENT_TIERING",
        Some("ARCHIVE_ACCESS"),
    ),
    (
        "2026/archive/tiering-deep.bin",
        "INTELLIGENT_TIERING",
        Some("DEEP_ARCHIVE_ACCESS"),
    ),
];

/// An Intelligent-Tiering object in a tier a copy reads as it is.
const FREQUENT: &str = "2026/archive/tiering-frequent.bin";

fn sample(key: &str) -> Sample {
    Sample {
        key: key.into(),
        body: key.bytes().cycle().take(3_000).collect(),
        content_type: None,
        metadata: Default::default(),
        tags: Default::default(),
    }
}

/// Puts the archived objects and the readable Intelligent-Tiering one in the source bucket;
/// restores take `restore_seconds`. Returns them as samples.
async fn put_archived(world: &World, restore_seconds: u64) -> Vec<Sample> {
    let mut put = Vec::new();
    for (key, class, tier) in
        ARCHIVED
            .iter()
            .copied()
            .chain([(FREQUENT, "INTELLIGENT_TIERING", None)])
    {
        let s = sample(key);
        world
            .put_source_in_class(key, s.body.clone(), StorageClass::from(class))
            .await;
        if let Some(tier) = tier {
            world
                .sandbox
                .control(
                    "/archive",
                    json!({"bucket": SOURCE_BUCKET, "key": key, "tier": tier}),
                )
                .await
                .unwrap();
        }
        put.push(s);
    }
    world
        .sandbox
        .control("/archive", json!({"restoreSeconds": restore_seconds}))
        .await
        .unwrap();
    put
}

fn restoring(mut request: Value) -> Value {
    request["source"]["archived"] = json!("restore");
    request["timing"]["restoreWaitSeconds"] = json!(1);
    request["timing"]["restoreCheckSeconds"] = json!(1);
    // The sandbox's restores take seconds: the slowest is two minutes, not 48 hours, and the
    // grants outlast twice it and an hour.
    request["timing"]["restoreSlowestSeconds"] = json!(120);
    request["timing"]["grantLifetimeSeconds"] = json!(7_200);
    request
}

/// How long the sandbox's restores take from now on (`POST /archive`).
async fn restore_time(world: &World, seconds: u64) {
    world
        .sandbox
        .control("/archive", json!({ "restoreSeconds": seconds }))
        .await
        .unwrap();
}

/// Waits until the run `arn` has left `state` once (at most 120 s).
async fn left_state(world: &World, arn: &str, state: &str) {
    for _ in 0..240 {
        if world.state_output(arn, state).await.is_some() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    panic!("the run never left {state}");
}

/// What a restoring run must show: every object copied, in STANDARD at the destination; the
/// archived ones restored by two jobs (one per kind), waited for, then copied; no grant left.
async fn assert_restored_and_copied(world: &World, run: &Execution, archived: &[Sample]) {
    assert_eq!(
        run.status,
        ExecutionStatus::Succeeded,
        "{run:?}; sandbox log {}",
        world.sandbox.log.display()
    );
    let out = run.output.as_ref().unwrap();
    let every = samples().len() + archived.len();
    assert_eq!(out["copied"], every as u64, "{out}");
    assert_eq!(out["failed"], 0, "{out}");
    let restored = &out["restored"];
    assert_eq!(restored["requested"], ARCHIVED.len() as u64, "{out}");
    assert_eq!(restored["failed"], 0, "{out}");
    assert_eq!(restored["tier"], "BULK", "{out}");
    assert_eq!(restored["jobIds"].as_array().unwrap().len(), 2, "{out}");
    // The restore jobs ran before the copy, one per kind: days for Glacier only.
    let operations = world.job_fields("operation").await;
    let restores: Vec<Value> = world
        .job_fields("restore")
        .await
        .into_iter()
        .filter(|r| !r.is_null())
        .collect();
    assert_eq!(restores.len(), 2, "{operations:?}");
    assert_eq!(
        operations[..2],
        [
            json!("S3InitiateRestoreObject"),
            json!("S3InitiateRestoreObject")
        ],
        "{operations:?}"
    );
    assert_eq!(restores[0]["ExpirationInDays"], "2");
    assert_eq!(restores[0]["GlacierJobTier"], "BULK");
    assert!(
        restores[1].get("ExpirationInDays").is_none(),
        "{restores:?}"
    );
    let entered = |state: &str| run.states.iter().position(|s| s == state);
    let waited = entered("Wait for the restores").expect("the run waited for the restores");
    let copied = run
        .states
        .iter()
        .rposition(|s| s == "Submit copy job")
        .unwrap();
    assert!(waited < copied, "{:?}", run.states);
    world.assert_copied(&samples()).await;
    world.assert_copied(archived).await;
    for s in archived {
        let head = world
            .destination
            .s3
            .head_object()
            .bucket(DESTINATION_BUCKET)
            .key(&s.key)
            .send()
            .await
            .unwrap();
        // The copy's storage class (STANDARD, which S3 does not name in the header).
        assert!(
            matches!(head.storage_class(), None | Some(StorageClass::Standard)),
            "{}: {:?}",
            s.key,
            head.storage_class()
        );
    }
    // The sources stay where they were: a restore reads a temporary copy.
    let source = world
        .source
        .s3
        .head_object()
        .bucket(SOURCE_BUCKET)
        .key(ARCHIVED[0].0)
        .send()
        .await
        .unwrap();
    assert_eq!(source.storage_class(), Some(&StorageClass::Glacier));
    // No restore permission (nor any other grant) is left.
    world.assert_no_leftovers().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flow_a_restores_the_archived_objects_then_copies_them_all() {
    let world = World::seeded().await;
    let archived = put_archived(&world, 3).await;
    let request = restoring(world.inventory_request("photos-2026", 60, 600));
    let run = world.run("photos-2026-1", &request).await;
    assert_restored_and_copied(&world, &run, &archived).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flow_b_heads_each_row_to_find_the_archived_objects_and_restores_them() {
    let world = World::seeded().await;
    // Restores that take an hour: the run finds them pending and looks again, until the test
    // lets them end.
    let archived = put_archived(&world, 3_600).await;
    let listed: Vec<Sample> = samples().into_iter().chain(archived.clone()).collect();
    put_manifest_of(&world.source.s3, MANIFEST_BUCKET, &listed).await;
    let arn = world
        .start_execution("photos-2026-1", &restoring(world.request("photos-2026")))
        .await;
    left_state(&world, &arn, "Wait for the restores to end").await;
    restore_time(&world, 0).await;
    let run = world.wait_for(&arn).await;
    assert_restored_and_copied(&world, &run, &archived).await;
}

/// A restore that ends after the sample reads as restored (AWS gives each tier a window of
/// hours): the copy job fails that object as archived, and the run waits for the slowest restore
/// (`timing.restoreSlowestSeconds`) before a job tries it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_restored_after_the_sample_is_copied_by_a_later_job() {
    let world = World::seeded().await;
    // Twelve Glacier objects: the sample takes eight, spread from the first to the last, and
    // leaves the third out.
    let glacier: Vec<Sample> = (0..12)
        .map(|i| sample(&format!("2026/many/object-{i:02}.bin")))
        .collect();
    for s in &glacier {
        world
            .put_source_in_class(&s.key, s.body.clone(), StorageClass::Glacier)
            .await;
    }
    let straggler = &glacier[2].key;
    let hold = |on: bool| json!({"bucket": SOURCE_BUCKET, "key": straggler, "hold": on});
    world.sandbox.control("/archive", hold(true)).await.unwrap();
    restore_time(&world, 0).await;
    let listed: Vec<Sample> = samples().into_iter().chain(glacier.clone()).collect();
    put_manifest_of(&world.source.s3, MANIFEST_BUCKET, &listed).await;
    let mut request = restoring(world.request("photos-2026"));
    request["timing"]["restoreSlowestSeconds"] = json!(3);
    request["timing"]["restoreCheckSeconds"] = json!(3);
    let arn = world.start_execution("photos-2026-1", &request).await;
    // The copy job has failed the straggler when the run prepares the second copy after
    // restores: the restore is released then.
    let prepared = "Prepare the copy of the restored objects";
    for _ in 0..480 {
        let entered = world.states_entered(&arn).await;
        if entered.iter().filter(|s| *s == prepared).count() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    world
        .sandbox
        .control("/archive", hold(false))
        .await
        .unwrap();
    let run = world.wait_for(&arn).await;
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{run:?}");
    let out = run.output.unwrap();
    assert_eq!(
        out["copied"],
        (samples().len() + glacier.len()) as u64,
        "{out}"
    );
    let waits = run
        .states
        .iter()
        .filter(|s| *s == "Wait for the restores")
        .count();
    assert_eq!(waits, 2, "{:?}", run.states);
    world.assert_copied(&glacier).await;
    world.assert_no_leftovers().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skipped_archived_objects_are_counted_apart_and_the_rest_is_copied() {
    let world = World::seeded().await;
    put_archived(&world, 3).await;
    let run = world
        .run(
            "photos-2026-1",
            &world.inventory_request("photos-2026", 60, 600),
        )
        .await;
    assert_eq!(run.error.as_deref(), Some("CopyIncomplete"), "{run:?}");
    let cause = run.cause.clone().unwrap_or_default();
    assert!(cause.contains("4 objects were not copied"), "{cause}");
    assert!(cause.contains("(archived)"), "{cause}");
    assert!(cause.contains("source.archived"), "{cause}");
    // Everything else is copied, the readable Intelligent-Tiering object too; no restore ran.
    world.assert_copied(&samples()).await;
    world.assert_copied(&[sample(FREQUENT)]).await;
    let operations = world.job_fields("operation").await;
    assert!(
        operations.iter().all(|o| o != "S3InitiateRestoreObject"),
        "{operations:?}"
    );
    world.assert_no_leftovers().await;
}

/// A CSV row whose object is gone since the manifest was written does not stop the search for
/// archived objects (job-submit may list the bucket, so its HEAD answers 404): the archived
/// object is restored and copied, and the gone row fails its own task, as without restore.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gone_row_fails_alone_and_the_archived_objects_are_still_restored() {
    let world = World::seeded().await;
    let archived = put_archived(&world, 0).await;
    let gone = sample("2026/archive/gone.bin");
    let listed: Vec<Sample> = samples()
        .into_iter()
        .chain(archived.clone())
        .chain([gone])
        .collect();
    put_manifest_of(&world.source.s3, MANIFEST_BUCKET, &listed).await;
    let run = world
        .run("photos-2026-1", &restoring(world.request("photos-2026")))
        .await;
    assert_eq!(run.error.as_deref(), Some("CopyIncomplete"), "{run:?}");
    let cause = run.cause.clone().unwrap_or_default();
    assert!(cause.contains("1 objects were not copied"), "{cause}");
    assert!(cause.contains("2026/archive/gone.bin"), "{cause}");
    world.assert_copied(&archived).await;
    world.assert_no_leftovers().await;
}
