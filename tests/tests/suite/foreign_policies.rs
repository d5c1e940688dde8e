//! Source buckets whose own policies use the parts of IAM's language that real users write
//! (`NotPrincipal`, `NotAction`, `StringNotEquals`, `NotIpAddress`), through the strict sandbox:
//! a deny that does not apply to ferry's calls (the accounts are in the organization it exempts,
//! and the Batch role only reads) lets the copy through in both flows and is left exactly as it
//! was. (A deny that does apply: cli/tests/cli.rs, whose `ferry report` names the denied keys.)

use aws_sdk_sfn::types::ExecutionStatus;
use ferry_tests::*;

/// Runs `input` as `photos-2026-1` with the source bucket's own policy set to `policy`: the copy
/// succeeds, every object arrives, and the policy is exactly as it was.
async fn copies_through(policy: &str, input: impl Fn(&World) -> serde_json::Value) {
    let world = World::seeded().await;
    world.join_organization("o-abc123").await;
    world.set_source_policy(policy).await;
    let run = world.run("photos-2026-1", &input(&world)).await;
    assert_eq!(
        run.status,
        ExecutionStatus::Succeeded,
        "{run:?}; sandbox log: {}",
        world.sandbox.log.display()
    );
    world.assert_copied(&samples()).await;
    world.assert_no_leftovers().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flow_b_copies_through_a_not_principal_deny_that_does_not_apply() {
    copies_through(NOT_PRINCIPAL_DENY_POLICY, |w| w.request("photos-2026")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flow_a_copies_through_a_not_principal_deny_that_does_not_apply() {
    copies_through(NOT_PRINCIPAL_DENY_POLICY, |w| {
        w.inventory_request("photos-2026", 30, 120)
    })
    .await;
}

/// The same deny from outside the organization applies to source-access's PutBucketPolicy (the
/// list names the account and its admin role, not ferry's function role): the copy stops at the
/// grant with AccessDenied naming the call, and the bucket's policy is left as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outside_the_organization_the_deny_stops_the_grant_naming_the_call() {
    let world = World::seeded().await;
    world.set_source_policy(NOT_PRINCIPAL_DENY_POLICY).await;
    let run = world
        .run("photos-2026-1", &world.request("photos-2026"))
        .await;
    assert_eq!(run.status, ExecutionStatus::Failed, "{run:?}");
    assert_eq!(run.error.as_deref(), Some("AccessDenied"), "{run:?}");
    let cause = run.cause.unwrap_or_default();
    assert!(
        cause.contains("s3:PutBucketPolicy") && cause.contains("explicit deny"),
        "{cause}"
    );
    world.assert_no_leftovers().await;
}
