//! Many accounts: two source accounts copied into one destination at the same time
//! (consolidation), one source bucket copied into two destination accounts at the same time
//! (fan-out, with the same copyId in both), and a source account a destination stack does not
//! list, refused at plan. The sandbox's third account holds both sides: a source stack that
//! serves the destination account and a destination stack that copies from the source account
//! (local/sandbox/template.py, `STACKS`).

use aws_sdk_sfn::types::ExecutionStatus;
use ferry_local::objects;
use ferry_local::scenario::{CopyRef, Side};
use ferry_tests::*;
use serde_json::{json, Value};

/// The third account's source bucket (its source stack's `SourceBuckets`).
const LEDGER_BUCKET: &str = "src-ledger";
/// A second destination bucket of the destination account.
const ARCHIVE_BUCKET: &str = "dst-archive";
/// The third account's destination bucket (its destination stack's `DestinationBuckets`).
const THIRD_DESTINATION_BUCKET: &str = "dst3-photos";

/// A policy the ledger bucket's owner keeps: it must come out of every copy as it went in.
fn ledger_policy() -> Value {
    json!({"Version": "2012-10-17", "Id": "owned-by-finance", "Statement": [{
        "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [format!("arn:aws:s3:::{LEDGER_BUCKET}"), format!("arn:aws:s3:::{LEDGER_BUCKET}/*")],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]})
}

async fn assert_copied_to(world: &World, side: Side, bucket: &str) {
    let differences = objects::differences(&world.clients(side).s3, bucket, &samples())
        .await
        .unwrap();
    assert!(differences.is_empty(), "s3://{bucket}: {differences:#?}");
}

async fn assert_no_leftovers_of(world: &World, copies: &[CopyRef<'_>]) {
    let left = world.leftovers_of(copies).await.unwrap();
    assert!(left.is_empty(), "ferry left:\n{}", left.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_source_accounts_copy_into_one_destination_at_the_same_time() {
    let world = World::seeded().await;
    let info = &world.sandbox.info;
    world
        .create_bucket(Side::Third, LEDGER_BUCKET, Some(&ledger_policy()))
        .await
        .unwrap();
    objects::put_samples(&world.third.s3, LEDGER_BUCKET, &samples())
        .await
        .unwrap();
    world
        .create_bucket(Side::Destination, ARCHIVE_BUCKET, None)
        .await
        .unwrap();
    // From the source account with its CSV manifest (flow B), and from the third account with
    // an inventory report (flow A), both into the destination account's one state machine.
    let photos = world.request("photos-2026");
    let mut ledger = world.inventory_request("ledger-2026", 1, 120);
    ledger["source"]["accountId"] = info.third_account().into();
    ledger["source"]["bucket"] = LEDGER_BUCKET.into();
    ledger["destination"]["bucket"] = ARCHIVE_BUCKET.into();
    let a = world.start_execution("photos-2026-1", &photos).await;
    let b = world.start_execution("ledger-2026-1", &ledger).await;
    let (a, b) = (world.wait_for(&a).await, world.wait_for(&b).await);
    println!(
        "consolidation: photos {:?}, ledger {:?}",
        a.status, b.status
    );
    assert_eq!(a.status, ExecutionStatus::Succeeded, "{a:?}");
    assert_eq!(b.status, ExecutionStatus::Succeeded, "{b:?}");
    assert_copied_to(&world, Side::Destination, DESTINATION_BUCKET).await;
    assert_copied_to(&world, Side::Destination, ARCHIVE_BUCKET).await;
    // Each source account's functions did their own grants: the third account's source stack
    // configured the inventory on its bucket, and took it away.
    assert_no_leftovers_of(
        &world,
        &[
            CopyRef {
                source: Side::Source,
                bucket: SOURCE_BUCKET,
                destination: Side::Destination,
                copy_id: "photos-2026",
            },
            CopyRef {
                source: Side::Third,
                bucket: LEDGER_BUCKET,
                destination: Side::Destination,
                copy_id: "ledger-2026",
            },
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_source_bucket_copied_into_two_destination_accounts_at_the_same_time() {
    let world = World::seeded().await;
    let info = &world.sandbox.info;
    world
        .create_bucket(Side::Third, THIRD_DESTINATION_BUCKET, None)
        .await
        .unwrap();
    // The same copyId into both destination accounts, each through its own state machine, both
    // with an inventory configuration on the one source bucket.
    let into_destination = world.inventory_request("photos-2026", 1, 120);
    let mut into_third = into_destination.clone();
    into_third["destination"] =
        json!({"accountId": info.third_account(), "bucket": THIRD_DESTINATION_BUCKET});
    world.hold(true).await;
    let a = world
        .start_execution_in(Side::Destination, "photos-2026-1", &into_destination)
        .await;
    let b = world
        .start_execution_in(Side::Third, "photos-2026-1", &into_third)
        .await;
    world.wait_for_active_jobs(2).await;
    // While both jobs run: two inventory configurations and two sets of statements on the
    // source bucket, each naming its own destination account.
    for destination in [Side::Destination, Side::Third] {
        assert!(
            world
                .has_inventory_of(Side::Source, SOURCE_BUCKET, destination, "photos-2026")
                .await,
            "the inventory configuration of the copy into {destination:?}"
        );
    }
    let statements = world.ferry_statements(SOURCE_BUCKET).await;
    let sids: std::collections::BTreeSet<&str> = statements
        .iter()
        .map(|s| s["Sid"].as_str().unwrap())
        .collect();
    assert_eq!(
        sids.len(),
        statements.len(),
        "no Sid twice: {statements:#?}"
    );
    let naming = |account: &str| {
        statements
            .iter()
            .filter(|s| s["Principal"].to_string().contains(account))
            .count()
    };
    assert!(
        naming(info.destination_account()) > 0 && naming(info.third_account()) > 0,
        "{statements:#?}"
    );
    assert_eq!(
        naming(info.destination_account()),
        naming(info.third_account()),
        "each copy has its own, as many: {statements:#?}"
    );
    world.hold(false).await;
    let (a, b) = (world.wait_for(&a).await, world.wait_for(&b).await);
    println!(
        "fan-out: into destination {:?}, into third {:?}",
        a.status, b.status
    );
    assert_eq!(a.status, ExecutionStatus::Succeeded, "{a:?}");
    assert_eq!(b.status, ExecutionStatus::Succeeded, "{b:?}");
    assert_copied_to(&world, Side::Destination, DESTINATION_BUCKET).await;
    assert_copied_to(&world, Side::Third, THIRD_DESTINATION_BUCKET).await;
    // Each destination account announces its own run on its own bus; only the destination
    // stack with a NotificationTopicArn sends a message (the third's has none).
    let announced = world.announced().await;
    let events: Vec<&Value> = announced
        .iter()
        .filter(|a| a["service"] == "events")
        .collect();
    let accounts: std::collections::BTreeSet<&str> = events
        .iter()
        .map(|e| e["account"].as_str().unwrap())
        .collect();
    assert_eq!(
        accounts,
        [info.destination_account(), info.third_account()].into(),
        "{announced:#?}"
    );
    assert!(
        events.iter().all(|e| e["detail-type"] == "Copy Succeeded"),
        "{announced:#?}"
    );
    let messages: Vec<&Value> = announced.iter().filter(|a| a["service"] == "sns").collect();
    assert_eq!(messages.len(), 1, "{announced:#?}");
    assert_eq!(messages[0]["account"], info.destination_account());
    let copy = |destination| CopyRef {
        source: Side::Source,
        bucket: SOURCE_BUCKET,
        destination,
        copy_id: "photos-2026",
    };
    assert_no_leftovers_of(&world, &[copy(Side::Destination), copy(Side::Third)]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unlisted_source_account_is_refused_at_plan_and_another_accounts_bucket_at_the_grant() {
    let world = World::seeded().await;
    let info = &world.sandbox.info;
    // The third account's destination stack copies from the source account only; the
    // destination account runs no source stack and is not listed there.
    let mut request = world.request("photos-2026");
    request["source"]["accountId"] = info.destination_account().into();
    request["destination"] =
        json!({"accountId": info.third_account(), "bucket": THIRD_DESTINATION_BUCKET});
    let run = world.run_in(Side::Third, "photos-2026-1", &request).await;
    println!("unlisted source account: {:?}: {:?}", run.error, run.cause);
    assert_eq!(run.status, ExecutionStatus::Failed);
    assert_eq!(run.error.as_deref(), Some("InvalidRequest"), "{run:?}");
    assert!(
        run.cause.as_deref().unwrap().contains(&format!(
            "source.accountId: {} is not in the destination stack's SourceAccountIds parameter ({})",
            info.destination_account(),
            info.source_account()
        )),
        "{run:?}"
    );
    assert_eq!(world.job_tokens().await.len(), 0, "no job");

    // A listed source account with a bucket of another listed account: the destination stack
    // lists every source account's buckets together and cannot tell whose a bucket is, so plan
    // accepts it; that account's source stack refuses it at the grant, naming its own
    // SourceBuckets, and its revoke has nothing to take back.
    let mut request = world.request("mixup-2026");
    request["source"]["accountId"] = info.third_account().into();
    request["manifest"]["accountId"] = info.third_account().into();
    let run = world.run("mixup-2026-1", &request).await;
    println!("another account's bucket: {:?}: {:?}", run.error, run.cause);
    assert_eq!(run.status, ExecutionStatus::Failed);
    assert_eq!(run.error.as_deref(), Some("AccessDenied"), "{run:?}");
    assert!(
        run.cause.as_deref().unwrap().contains(&format!(
            "source.bucket: {SOURCE_BUCKET} is not in the stacks' SourceBuckets parameter ({LEDGER_BUCKET})"
        )),
        "{run:?}"
    );
    assert_eq!(world.job_tokens().await.len(), 0, "no job");
    world
        .assert_no_leftovers_of(&["photos-2026", "mixup-2026"])
        .await;
}
