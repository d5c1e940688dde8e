use super::*;
use aws_sdk_s3::error::ErrorMetadata;
use aws_sdk_s3::operation::delete_bucket_inventory_configuration::DeleteBucketInventoryConfigurationOutput;
use aws_sdk_s3::operation::get_bucket_inventory_configuration::{
    GetBucketInventoryConfigurationError, GetBucketInventoryConfigurationOutput,
};
use aws_sdk_s3::operation::put_bucket_inventory_configuration::PutBucketInventoryConfigurationOutput;
use aws_smithy_mocks::{mock, Rule};
use ferry_core::steps::RunPlan;
use std::sync::{Arc, Mutex};

fn config() -> StackConfig {
    ferry_core::testing::source_stack()
}

fn plan() -> RunPlan {
    ferry_core::testing::inventory_plan()
}

fn wanted() -> InventoryConfig {
    let p = plan();
    InventoryConfig::for_copy(&p.request, &p.names())
}

type Sent = Arc<Mutex<Option<InventoryConfig>>>;

fn rules(existing: Option<InventoryConfig>, sent: &Sent) -> (Rule, Rule, Rule) {
    let s = sent.clone();
    let get = mock!(aws_sdk_s3::Client::get_bucket_inventory_configuration)
        .match_requests(|r| {
            r.id() == Some("ferry-222222222222-photos-2026") && r.bucket() == Some("src-photos")
        })
        .then_compute_response(move |_| match &existing {
            Some(c) => aws_smithy_mocks::MockResponse::Output(
                GetBucketInventoryConfigurationOutput::builder()
                    .inventory_configuration(c.to_sdk().unwrap())
                    .build(),
            ),
            None => aws_smithy_mocks::MockResponse::Error(
                GetBucketInventoryConfigurationError::generic(
                    ErrorMetadata::builder().code("NoSuchConfiguration").build(),
                ),
            ),
        });
    let put = mock!(aws_sdk_s3::Client::put_bucket_inventory_configuration).then_compute_output(
        move |r| {
            assert_eq!(r.expected_bucket_owner(), Some("111111111111"));
            *s.lock().unwrap() = Some(InventoryConfig::from_sdk(
                r.inventory_configuration().unwrap(),
            ));
            PutBucketInventoryConfigurationOutput::builder().build()
        },
    );
    let delete = mock!(aws_sdk_s3::Client::delete_bucket_inventory_configuration)
        .match_requests(|r| r.id() == Some("ferry-222222222222-photos-2026"))
        .then_output(|| DeleteBucketInventoryConfigurationOutput::builder().build());
    (get, put, delete)
}

async fn call(
    action: InventoryAction,
    existing: Option<InventoryConfig>,
    p: RunPlan,
) -> (InventoryOutput, Option<InventoryConfig>, usize) {
    let sent: Sent = Default::default();
    let (get, put, delete) = rules(existing, &sent);
    // As the state machine invokes it: the alias of the plan's own destination account.
    let mut invoked_as = lambda_runtime::Context::default();
    invoked_as.invoked_function_arn = p.source_side.inventory_function.clone();
    let clients = Clients::mocked(&[&get, &put, &delete], &[], &[], &[]);
    let out = handle(
        &clients,
        &config(),
        LambdaEvent::new(InventoryInput { action, plan: p }, invoked_as),
    )
    .await
    .unwrap();
    let sent = sent.lock().unwrap().clone();
    (out, sent, delete.num_calls())
}

#[tokio::test]
async fn put_creates_the_copys_configuration() {
    let (out, sent, _) = call(InventoryAction::Put, None, plan()).await;
    assert!(out.changed);
    assert_eq!(out.config_id, "ferry-222222222222-photos-2026");
    assert_eq!(sent.unwrap(), wanted());
}

#[tokio::test]
async fn put_leaves_a_configuration_that_is_already_right() {
    let (out, sent, _) = call(InventoryAction::Put, Some(wanted()), plan()).await;
    assert!(!out.changed);
    assert!(sent.is_none());
}

#[tokio::test]
async fn put_updates_the_same_id_with_other_settings() {
    let mut other = wanted();
    other.included_object_versions = "All".into();
    let (out, sent, _) = call(InventoryAction::Put, Some(other), plan()).await;
    assert!(out.changed);
    assert_eq!(sent.unwrap().included_object_versions, "Current");
}

#[tokio::test]
async fn remove_deletes_it_unless_the_request_keeps_it() {
    let (out, _, deletes) = call(InventoryAction::Remove, Some(wanted()), plan()).await;
    assert!(out.changed);
    assert_eq!(deletes, 1);
    let mut keep = plan();
    keep.request.cleanup.remove_inventory = false;
    let (out, _, deletes) = call(InventoryAction::Remove, Some(wanted()), keep).await;
    assert!(!out.changed);
    assert_eq!(deletes, 0);
    // A bucket outside SourceBuckets (another source account's, which a destination stack
    // copying from several accounts lists): Put refused it, so Remove has nothing to delete.
    let mut elsewhere = plan();
    elsewhere.request.source.bucket = "payroll".into();
    let (out, _, deletes) = call(InventoryAction::Remove, Some(wanted()), elsewhere).await;
    assert!(!out.changed);
    assert_eq!(deletes, 0);
}
