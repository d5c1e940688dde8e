use super::*;
use aws_sdk_sfn::operation::send_task_success::SendTaskSuccessOutput;
use aws_smithy_mocks::{mock, Rule};
use ferry_core::clock::FixedClock;
use ferry_core::steps::RunPlan;
use ferry_core::testing::{fake_s3, FakeObjects};
use std::sync::{Arc, Mutex};

const FERRY: &str = "ferry-222222222222-eu-west-1";
const DATED: &str = "inventory/src-photos/ferry-222222222222-photos-2026/2026-11-28T14-00Z/";

fn config() -> StackConfig {
    ferry_core::testing::destination_stack()
}

fn plan() -> RunPlan {
    ferry_core::testing::inventory_plan()
}

const GOOD: &[u8] = include_bytes!("../../../shared/fixtures/inventory-manifest-fresh.checksum");

async fn call(
    store: &FakeObjects,
    token: Option<&str>,
    now: i64,
) -> (Result<WaitOutput, StepError>, Vec<String>) {
    let s3 = fake_s3(store);
    let s3: Vec<&Rule> = s3.iter().collect();
    let sent = Arc::new(Mutex::new(Vec::new()));
    let c = sent.clone();
    let success = mock!(aws_sdk_sfn::Client::send_task_success).then_compute_output(move |r| {
        c.lock().unwrap().push(format!(
            "{}: {}",
            r.task_token().unwrap(),
            r.output().unwrap()
        ));
        SendTaskSuccessOutput::builder().build()
    });
    let clients = Clients::mocked(&s3, &[], &[], &[&success]);
    let input = WaitInput {
        plan: plan(),
        task_token: token.map(str::to_string),
    };
    let out = wait(&clients, &config(), &FixedClock(now), input).await;
    let sent = sent.lock().unwrap().clone();
    (out, sent)
}

const START: i64 = 1_795_873_550;

#[tokio::test]
async fn the_waiter_is_recorded_before_anything_else() {
    let store: FakeObjects = Default::default();
    let (out, sent) = call(&store, Some("token-1"), START + 5).await;
    assert_eq!(out.unwrap().found, None);
    assert!(sent.is_empty());
    let waiter = store.lock().unwrap()[&(
        FERRY.to_string(),
        "control/waiters/ferry-222222222222-photos-2026/photos-2026-1.json".to_string(),
    )]
        .clone();
    let waiter: Waiter = serde_json::from_slice(&waiter).unwrap();
    assert_eq!(
        (waiter.task_token.as_str(), waiter.started_at),
        ("token-1", START)
    );
}

#[tokio::test]
async fn a_report_already_delivered_completes_the_wait_at_once() {
    let store: FakeObjects = Default::default();
    ferry_core::testing::deliver_inventory(&store, DATED, GOOD);
    let (out, sent) = call(&store, Some("token-1"), START + 60).await;
    let found = out.unwrap().found.unwrap();
    assert_eq!(found.key, format!("{DATED}manifest.json"));
    assert_eq!(found.created_at_millis, 1_795_873_600_000);
    assert_eq!(sent.len(), 1);
    assert!(sent[0].starts_with("token-1: {\"key\":\"inventory/src-photos/ferry-222222222222-photos-2026/2026-11-28T14-00Z/manifest.json\""), "{}", sent[0]);
    assert!(
        !store
            .lock()
            .unwrap()
            .keys()
            .any(|(_, k)| k.starts_with("control/waiters/")),
        "the waiter is removed"
    );
}

#[tokio::test]
async fn a_report_from_before_the_run_does_not_count() {
    let store: FakeObjects = Default::default();
    ferry_core::testing::deliver_inventory(&store, DATED, GOOD);
    let mut p = plan();
    p.started_at = 1_795_873_600 + 1;
    let s3 = fake_s3(&store);
    let s3: Vec<&Rule> = s3.iter().collect();
    let clients = Clients::mocked(&s3, &[], &[], &[]);
    let out = wait(
        &clients,
        &config(),
        &FixedClock(p.started_at),
        WaitInput {
            plan: p,
            task_token: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(out.found, None);
}

#[tokio::test]
async fn looking_again_after_the_deadline_fails_with_inventory_never_arrived() {
    let store: FakeObjects = Default::default();
    let (out, _) = call(&store, None, START + 259_199).await;
    assert_eq!(out.unwrap().found, None, "before the deadline: wait again");
    let (out, _) = call(&store, None, START + 259_200).await;
    let err = out.unwrap_err();
    assert_eq!(err.name, ErrorName::InventoryNeverArrived);
    assert!(
        err.cause
            .contains("configuration ferry-222222222222-photos-2026"),
        "{}",
        err.cause
    );
}

#[tokio::test]
async fn a_damaged_delivery_is_a_checksum_mismatch() {
    let store: FakeObjects = Default::default();
    ferry_core::testing::deliver_inventory(&store, DATED, b"00000000000000000000000000000000");
    let (out, sent) = call(&store, Some("token-1"), START + 60).await;
    assert_eq!(out.unwrap_err().name, ErrorName::InventoryChecksumMismatch);
    assert!(sent.is_empty());
}
