//! Flow A (an S3 Inventory report delivered to the destination account) end to end, through the
//! template's state machine in the two-account sandbox, which delivers inventory reports and the
//! ferry bucket's S3 events as S3 does.

use aws_sdk_s3::types::{
    InventoryConfiguration, InventoryDestination, InventoryFormat, InventoryFrequency,
    InventoryIncludedObjectVersions, InventoryS3BucketDestination, InventorySchedule,
};
use aws_sdk_sfn::types::ExecutionStatus;
use ferry_tests::*;
use serde_json::{json, Value};

/// Someone else's inventory configuration on the source bucket, which ferry must not touch.
async fn foreign_inventory(world: &World) {
    let c = InventoryConfiguration::builder()
        .id("analytics-weekly")
        .is_enabled(true)
        .destination(
            InventoryDestination::builder()
                .s3_bucket_destination(
                    InventoryS3BucketDestination::builder()
                        .bucket("arn:aws:s3:::src-manifests")
                        .format(InventoryFormat::Csv)
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .included_object_versions(InventoryIncludedObjectVersions::All)
        .schedule(
            InventorySchedule::builder()
                .frequency(InventoryFrequency::Weekly)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    world
        .source
        .s3
        .put_bucket_inventory_configuration()
        .bucket(SOURCE_BUCKET)
        .id("analytics-weekly")
        .inventory_configuration(c)
        .send()
        .await
        .unwrap();
}

/// Runs copy photos-2026 in flow A: it succeeds with every sample copied, none failed.
async fn copies_every_sample(world: &World) {
    let run = world
        .run(
            "photos-2026-1",
            &world.inventory_request("photos-2026", 60, 600),
        )
        .await;
    assert_eq!(
        run.status,
        ExecutionStatus::Succeeded,
        "{run:?}; sandbox log {}",
        world.sandbox.log.display()
    );
    let out = run.output.unwrap();
    assert_eq!(out["copied"], samples().len() as u64, "{out}");
    assert_eq!(out["failed"], 0, "{out}");
    world.assert_copied(&samples()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flow_a_copies_everything_and_leaves_no_grant_or_inventory_configuration() {
    let world = World::seeded().await;
    foreign_inventory(&world).await;
    copies_every_sample(&world).await;
    world.assert_no_leftovers().await;
    let foreign = world
        .source
        .s3
        .get_bucket_inventory_configuration()
        .bucket(SOURCE_BUCKET)
        .id("analytics-weekly")
        .send()
        .await
        .unwrap();
    let foreign = foreign.inventory_configuration().unwrap();
    assert_eq!(
        foreign.schedule().unwrap().frequency(),
        &InventoryFrequency::Weekly
    );
    assert_eq!(
        foreign
            .destination()
            .unwrap()
            .s3_bucket_destination()
            .unwrap()
            .bucket(),
        "arn:aws:s3:::src-manifests"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_s3_event_is_harmless() {
    let world = World::seeded().await;
    world.inventory_delivery(json!({"duplicate": true})).await;
    let run = world
        .run(
            "photos-2026-1",
            &world.inventory_request("photos-2026", 60, 600),
        )
        .await;
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{run:?}");
    assert_eq!(
        world.job_tokens().await,
        ["ferry-photos-2026-1-0", "ferry-photos-2026-1-1"],
        "one copy job (the duplicate event starts none), then the verification"
    );
    world.assert_copied(&samples()).await;
    // Both events reached inventory-delivered: one completed the waiter, the other found none.
    let events = world.sandbox.get("/inventory").await.unwrap()["events"].clone();
    let mut completed: Vec<u64> = events
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["response"]["completed"].as_u64())
        .collect();
    completed.sort();
    assert_eq!(completed, [0, 1], "{events}");
    world.assert_no_leftovers().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_whose_event_never_comes_is_found_by_looking_again() {
    let world = World::seeded().await;
    world.inventory_delivery(json!({"notify": false})).await;
    let run = world
        .run(
            "photos-2026-1",
            &world.inventory_request("photos-2026", 3, 600),
        )
        .await;
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{run:?}");
    world.assert_copied(&samples()).await;
    world.assert_no_leftovers().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inventory_that_never_arrives_fails_and_cleans_up() {
    let world = World::seeded().await;
    foreign_inventory(&world).await;
    world.inventory_delivery(json!({"deliver": false})).await;
    let run = world
        .run(
            "photos-2026-1",
            &world.inventory_request("photos-2026", 1, 4),
        )
        .await;
    assert_eq!(run.status, ExecutionStatus::Failed);
    assert_eq!(
        run.error.as_deref(),
        Some("InventoryNeverArrived"),
        "{run:?}"
    );
    assert!(run
        .cause
        .unwrap()
        .contains("configuration ferry-222222222222-photos-2026"));
    assert_eq!(world.job_tokens().await.len(), 0);
    world.assert_no_leftovers().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_report_fails_with_inventory_checksum_mismatch() {
    let world = World::seeded().await;
    world
        .inventory_delivery(json!({"corruptChecksum": true}))
        .await;
    let run = world
        .run(
            "photos-2026-1",
            &world.inventory_request("photos-2026", 60, 600),
        )
        .await;
    assert_eq!(run.status, ExecutionStatus::Failed);
    assert_eq!(
        run.error.as_deref(),
        Some("InventoryChecksumMismatch"),
        "{run:?}"
    );
    assert!(
        run.cause
            .as_deref()
            .unwrap_or_default()
            .contains("does not match its manifest.checksum"),
        "{run:?}"
    );
    assert_eq!(world.job_tokens().await.len(), 0);
    world.assert_no_leftovers().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_that_lands_before_the_waiter_is_recorded_is_still_picked_up() {
    let world = World::seeded().await;
    // The report and its S3 event arrive while the wait's invocation is held back: the event
    // finds no waiter, and only the wait's own first look can find the report.
    world
        .inventory_delivery(json!({"delaySeconds": 0, "delayWaiterSeconds": 3}))
        .await;
    let run = world
        .run(
            "photos-2026-1",
            &world.inventory_request("photos-2026", 60, 600),
        )
        .await;
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{run:?}");
    world.assert_copied(&samples()).await;
    let events = world.sandbox.get("/inventory").await.unwrap()["events"].clone();
    let responses: Vec<&Value> = events
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e.get("response"))
        .collect();
    assert_eq!(responses.len(), 1, "{events}");
    assert_eq!(
        responses[0]["completed"], 0,
        "the event came before the waiter: {events}"
    );
    world.assert_no_leftovers().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_older_than_the_execution_is_not_used() {
    let world = World::seeded().await;
    world.inventory_delivery(json!({"delaySeconds": 0})).await;
    let mut request = world.inventory_request("photos-2026", 1, 6);
    request["cleanup"] = json!({"removeInventory": false});
    let first = world.run("photos-2026-1", &request).await;
    assert_eq!(first.status, ExecutionStatus::Succeeded, "{first:?}");
    // The configuration stays, its one report is older than the second run: S3 would deliver
    // the next one a day later, and the second run must not copy from the old list.
    let second = world.run("photos-2026-2", &request).await;
    assert_eq!(
        second.error.as_deref(),
        Some("InventoryNeverArrived"),
        "{second:?}"
    );
    assert_eq!(
        world.job_tokens().await,
        ["ferry-photos-2026-1-0", "ferry-photos-2026-1-1"],
        "run 1's copy and verification, no job on the old report"
    );
    // Grants and role are gone; the inventory configuration stays, as the request asked.
    world.assert_no_leftovers_of(&[]).await;
    assert!(world.has_inventory(SOURCE_BUCKET, "photos-2026").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_account_the_stack_does_not_list_is_refused_at_the_plan_step() {
    let world = World::seeded().await;
    let mut request = world.inventory_request("photos-2026", 60, 600);
    request["source"]["accountId"] = "444444444444".into();
    let run = world.run("photos-2026-1", &request).await;
    assert_eq!(run.error.as_deref(), Some("InvalidRequest"), "{run:?}");
    assert!(run.cause.unwrap().contains(
        "source.accountId: 444444444444 is not in the destination stack's SourceAccountIds parameter (111111111111, 333333333333)"
    ));
    assert!(
        !world.has_inventory(SOURCE_BUCKET, "photos-2026").await,
        "nothing was configured"
    );
    assert_eq!(world.job_tokens().await.len(), 0);
    world.assert_no_leftovers().await;
}

/// IAM, S3 and KMS apply a new grant after a delay (docs/src/contributing/sandbox-facts.md, "Propagation"). With
/// the sandbox's set to 10 s, flow A's first job is created while the copy's new Batch role
/// allows nothing yet and fails before any task: ferry waits and submits it again, and every
/// object is copied with no failure counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flow_a_under_a_ten_second_propagation_delay_copies_every_object() {
    let world = World::seeded().await;
    world.propagation_delay(10).await;
    copies_every_sample(&world).await;
    let statuses = world.job_fields("status").await;
    assert!(
        statuses.len() >= 3 && statuses[0] == "Failed",
        "a first job refused while the grants took effect, then the copy and its verification: {statuses:?}"
    );
    world.assert_no_leftovers().await;
}
