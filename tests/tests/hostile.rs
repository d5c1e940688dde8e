//! The security review's two findings, replayed against the strict sandbox as an attacker would
//! try them: a copy request that points at a bucket the destination account does not list (or
//! does not own), and a state machine of the destination account's own that hands the source
//! side a forged plan. Each is refused, names the rule, and leaves every policy as it was.

use aws_sdk_sfn::types::ExecutionStatus;
use ferry_core::steps::{PlanInput, RunPlan};
use ferry_tests::*;
use serde_json::{json, Value};

/// Finding 1: anyone who may start the state machine could send the copy to any bucket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_destination_the_account_does_not_list_or_own_is_refused_at_plan() {
    let world = World::seeded().await;
    // A bucket the stack does not list.
    let mut request = world.request("photos-2026");
    request["destination"]["bucket"] = "prod-database-backups".into();
    let run = world.run("photos-2026-1", &request).await;
    println!("unlisted destination: {:?}: {:?}", run.error, run.cause);
    assert_eq!(run.status, ExecutionStatus::Failed);
    assert_eq!(run.error.as_deref(), Some("InvalidRequest"), "{run:?}");
    assert!(run.cause.as_deref().unwrap().contains(
        "destination.bucket: prod-database-backups is not in the destination stack's DestinationBuckets parameter (dst-photos, dst-archive)"
    ), "{run:?}");

    // A listed name that another account holds (bucket names are global): HeadBucket with
    // ExpectedBucketOwner answers 403.
    world
        .source
        .s3
        .create_bucket()
        .bucket("dst-archive")
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(
                    world.sandbox.info.region.as_str(),
                ))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let mut request = world.request("archive-2026");
    request["destination"]["bucket"] = "dst-archive".into();
    let run = world.run("archive-2026-1", &request).await;
    println!(
        "destination of another account: {:?}: {:?}",
        run.error, run.cause
    );
    assert_eq!(run.status, ExecutionStatus::Failed);
    assert_eq!(run.error.as_deref(), Some("InvalidRequest"), "{run:?}");
    assert!(
        run.cause
            .as_deref()
            .unwrap()
            .contains("destination.bucket: dst-archive is not this account's"),
        "{run:?}"
    );
    world.assert_no_leftovers().await;
}

/// Finding 2: a state machine the destination account runs with ferry's role hands the source
/// side a plan naming an account its source stack does not serve and an expiry in 9999. (In AWS the role's trust now
/// refuses any state machine but ferry's; the sandbox assumes the role for every state machine,
/// so this shows the source function's own check, the layer behind the trust.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_plan_from_another_state_machine_grants_nothing() {
    let world = World::seeded().await;
    let info = &world.sandbox.info;
    let before = world.bucket_policy(&world.source.s3, SOURCE_BUCKET).await;
    let mut plan = RunPlan::from_input(
        &PlanInput {
            request: world.request("photos-2026"),
            execution: "photos-2026-1".into(),
            start_time: "2026-11-28T13:45:50Z".into(),
        },
        &ferry_core::testing::destination_stack().context(),
    )
    .unwrap();
    plan.request.destination.account_id = "444444444444".into();
    plan.ferry_bucket = ferry_core::layout::ferry_bucket_name("444444444444", &info.region);
    plan.expires_at = 253_402_300_799;
    let source_access = info.function(info.source_account(), "ferry-source-access");
    let definition = json!({
        "StartAt": "Grant",
        "States": {"Grant": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Credentials": {"RoleArn": format!("arn:aws:iam::{}:role/ferry-source-invoke-{}", info.source_account(), info.region)},
            "Parameters": {"FunctionName": source_access.arn, "Payload": {"action": "grant", "plan": plan}},
            "End": true
        }}
    });
    let role = format!(
        "arn:aws:iam::{}:role/ferry-state-machine-{}",
        info.destination_account(),
        info.region
    );
    let machine = world
        .destination
        .sfn
        .create_state_machine()
        .name("not-ferry")
        .role_arn(role)
        .definition(definition.to_string())
        .send()
        .await
        .unwrap()
        .state_machine_arn()
        .to_string();
    let execution = world
        .destination
        .sfn
        .start_execution()
        .state_machine_arn(&machine)
        .name("forged-1")
        .send()
        .await
        .unwrap()
        .execution_arn()
        .to_string();
    let run = world.wait_for(&execution).await;
    println!("forged plan: {:?}: {:?}", run.error, run.cause);
    assert_eq!(run.status, ExecutionStatus::Failed, "{run:?}");
    let cause = run.cause.clone().unwrap_or_default();
    assert!(
        cause.contains("AccessDenied") || run.error.as_deref() == Some("AccessDenied"),
        "{run:?}"
    );
    assert!(cause.contains("DestinationAccountIds"), "{run:?}");
    let after = world.bucket_policy(&world.source.s3, SOURCE_BUCKET).await;
    assert_eq!(after, before, "the source bucket's policy is as it was");
    let text = after.map(|p: Value| p.to_string()).unwrap_or_default();
    assert!(!text.contains("444444444444"));
}
