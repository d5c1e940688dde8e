use super::*;
use aws_sdk_sfn::operation::send_task_failure::SendTaskFailureOutput;
use aws_sdk_sfn::operation::send_task_success::SendTaskSuccessOutput;
use aws_smithy_mocks::{mock, Rule};
use ferry_core::control::Waiter;
use ferry_core::testing::{fake_s3, FakeObjects};
use std::sync::{Arc, Mutex};

const FERRY: &str = "ferry-222222222222-eu-west-1";
/// The dated folder of the S3 event fixture's key.
const DATED: &str = "inventory/src-photos/ferry-222222222222-photos-2026/2026-11-28T00-00Z/";

fn config() -> StackConfig {
    ferry_core::testing::destination_stack()
}

fn event() -> S3Event {
    serde_json::from_str(include_str!(
        "../../../shared/fixtures/s3-event-manifest-checksum.json"
    ))
    .unwrap()
}

fn seed(store: &FakeObjects, checksum: &[u8], started_at: i64) {
    ferry_core::testing::deliver_inventory(store, DATED, checksum);
    let mut s = store.lock().unwrap();
    let waiter = Waiter {
        task_token: "token-1".into(),
        execution: "photos-2026-1".into(),
        started_at,
        source_bucket: "src-photos".into(),
    };
    s.insert(
        (
            FERRY.into(),
            "control/waiters/ferry-222222222222-photos-2026/photos-2026-1.json".into(),
        ),
        serde_json::to_vec(&waiter).unwrap(),
    );
}

struct Calls {
    success: Arc<Mutex<Vec<String>>>,
    failure: Arc<Mutex<Vec<(String, String)>>>,
}

async fn deliver(store: &FakeObjects, event: S3Event) -> (DeliveredOutput, Calls) {
    let calls = Calls {
        success: Default::default(),
        failure: Default::default(),
    };
    let (s, f) = (calls.success.clone(), calls.failure.clone());
    let ok = mock!(aws_sdk_sfn::Client::send_task_success).then_compute_output(move |r| {
        s.lock().unwrap().push(r.output().unwrap().to_string());
        SendTaskSuccessOutput::builder().build()
    });
    let fail = mock!(aws_sdk_sfn::Client::send_task_failure).then_compute_output(move |r| {
        f.lock().unwrap().push((
            r.error().unwrap().to_string(),
            r.cause().unwrap().to_string(),
        ));
        SendTaskFailureOutput::builder().build()
    });
    let s3 = fake_s3(store);
    let s3: Vec<&Rule> = s3.iter().collect();
    let clients = Clients::mocked(&s3, &[], &[], &[&ok, &fail]);
    let out = handle(
        &clients,
        &config(),
        LambdaEvent::new(event, Default::default()),
    )
    .await
    .unwrap();
    (out, calls)
}

const GOOD: &[u8] = include_bytes!("../../../shared/fixtures/inventory-manifest-fresh.checksum");

#[tokio::test]
async fn the_event_completes_the_waiter_with_the_manifest_and_a_duplicate_is_ignored() {
    let store: FakeObjects = Default::default();
    seed(&store, GOOD, 1_795_873_550);
    let (out, calls) = deliver(&store, event()).await;
    assert_eq!(
        out,
        DeliveredOutput {
            completed: 1,
            ignored: 0
        }
    );
    let sent: Value = serde_json::from_str(&calls.success.lock().unwrap()[0]).unwrap();
    assert_eq!(sent["key"], format!("{DATED}manifest.json"));
    assert_eq!(sent["createdAtMillis"], 1_795_873_600_000u64);
    let (again, calls) = deliver(&store, event()).await;
    assert_eq!(
        again,
        DeliveredOutput {
            completed: 0,
            ignored: 1
        }
    );
    assert!(calls.success.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_checksum_mismatch_fails_the_waiting_task_with_a_clear_cause() {
    let store: FakeObjects = Default::default();
    seed(&store, b"00000000000000000000000000000000", 1_795_873_550);
    let (out, calls) = deliver(&store, event()).await;
    assert_eq!(out.completed, 1);
    let (error, cause) = calls.failure.lock().unwrap()[0].clone();
    assert_eq!(error, "InventoryChecksumMismatch");
    assert!(
        cause.contains("does not match its manifest.checksum"),
        "{cause}"
    );
}

#[tokio::test]
async fn a_report_older_than_the_run_or_an_unrelated_key_completes_nothing() {
    let store: FakeObjects = Default::default();
    seed(&store, GOOD, 1_795_873_700);
    let (out, calls) = deliver(&store, event()).await;
    assert_eq!(out.completed, 0);
    assert!(calls.success.lock().unwrap().is_empty());
    let mut other = event();
    other.records[0].s3.object.key = Some("reports/photos-2026/run-1/job-x/manifest.json".into());
    let (out, _) = deliver(&store, other).await;
    assert_eq!(
        out,
        DeliveredOutput {
            completed: 0,
            ignored: 1
        }
    );
}

use serde_json::Value;

/// Two copies of one event arrive together: both read the waiter, the second SendTaskSuccess
/// finds the token used. That waiter was completed once, by the first.
#[tokio::test]
async fn a_token_already_used_counts_as_ignored_not_completed() {
    use aws_sdk_sfn::operation::send_task_success::SendTaskSuccessError;
    let store: FakeObjects = Default::default();
    seed(&store, GOOD, 1_795_873_550);
    let used = mock!(aws_sdk_sfn::Client::send_task_success).then_error(|| {
        SendTaskSuccessError::generic(
            aws_sdk_sfn::error::ErrorMetadata::builder()
                .code("InvalidToken")
                .build(),
        )
    });
    let s3 = fake_s3(&store);
    let s3: Vec<&Rule> = s3.iter().collect();
    let clients = Clients::mocked(&s3, &[], &[], &[&used]);
    let out = handle(
        &clients,
        &config(),
        LambdaEvent::new(event(), Default::default()),
    )
    .await
    .unwrap();
    assert_eq!(
        out,
        DeliveredOutput {
            completed: 0,
            ignored: 1
        }
    );
    assert!(
        !store
            .lock()
            .unwrap()
            .keys()
            .any(|(_, k)| k.starts_with("control/waiters/")),
        "the waiter record is removed"
    );
}

/// Puts a manifest.json naming `source_bucket` (and its checksum) under `dated`.
fn deliver_naming(store: &FakeObjects, dated: &str, source_bucket: &str) {
    let json = String::from_utf8(
        include_bytes!("../../../shared/fixtures/inventory-manifest-fresh.json").to_vec(),
    )
    .unwrap()
    .replace(
        "\"sourceBucket\": \"src-photos\"",
        &format!("\"sourceBucket\": \"{source_bucket}\""),
    );
    assert!(json.contains(source_bucket));
    let checksum = ferry_core::inventory::manifest_checksum(json.as_bytes());
    let mut s = store.lock().unwrap();
    s.insert(
        (FERRY.into(), format!("{dated}manifest.json")),
        json.into_bytes(),
    );
    s.insert(
        (FERRY.into(), format!("{dated}manifest.checksum")),
        checksum.into_bytes(),
    );
}

/// A delivery cannot be forged across copies: the same configuration id delivered, genuinely,
/// for another source bucket (someone else's inventory configuration named
/// `ferry-222222222222-photos-2026`), or a manifest.json whose `sourceBucket` differs from its key, completes
/// no waiter.
#[tokio::test]
async fn a_delivery_for_another_source_bucket_completes_nothing() {
    let store: FakeObjects = Default::default();
    seed(&store, GOOD, 1_795_873_550);
    let other = "inventory/src-manifests/ferry-222222222222-photos-2026/2026-11-28T00-00Z/";
    deliver_naming(&store, other, "src-manifests");
    let mut ev = event();
    ev.records[0].s3.object.key = Some(format!("{other}manifest.checksum"));
    let (out, calls) = deliver(&store, ev).await;
    assert_eq!(
        out,
        DeliveredOutput {
            completed: 0,
            ignored: 1
        }
    );
    assert!(calls.success.lock().unwrap().is_empty());
    assert!(calls.failure.lock().unwrap().is_empty());

    // The waiter's own key, a manifest naming another bucket.
    let store: FakeObjects = Default::default();
    seed(&store, GOOD, 1_795_873_550);
    deliver_naming(&store, DATED, "src-manifests");
    let (out, calls) = deliver(&store, event()).await;
    assert_eq!(out.completed, 0);
    assert!(calls.success.lock().unwrap().is_empty());
}

/// Only objects of a waiter's exact key shape are read as waiters: anything else under the
/// configuration's waiter prefix (another copy's run name, a stray object) is not.
#[tokio::test]
async fn only_exact_waiter_keys_are_waiters() {
    let store: FakeObjects = Default::default();
    ferry_core::testing::deliver_inventory(&store, DATED, GOOD);
    let waiter = Waiter {
        task_token: "token-stray".into(),
        execution: "photos-2025-1".into(),
        started_at: 0,
        source_bucket: "src-photos".into(),
    };
    for key in [
        "control/waiters/ferry-222222222222-photos-2026/photos-2025-1.json",
        "control/waiters/ferry-222222222222-photos-2026/photos-2026-cleanup-1.json",
        "control/waiters/ferry-222222222222-photos-2026/notes.json",
    ] {
        store.lock().unwrap().insert(
            (FERRY.into(), key.into()),
            serde_json::to_vec(&waiter).unwrap(),
        );
    }
    let (out, calls) = deliver(&store, event()).await;
    assert_eq!(out.completed, 0);
    assert!(calls.success.lock().unwrap().is_empty());
}
