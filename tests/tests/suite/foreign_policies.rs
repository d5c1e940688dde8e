//! Source buckets whose own policies use the parts of IAM's language that real users write
//! (`NotPrincipal`, `NotAction`, `StringNotEquals`, `NotIpAddress`), through the strict sandbox:
//! a deny that does not apply to ferry's calls (the accounts are in the organization it exempts,
//! and the Batch role only reads) lets the copy through in both flows and is left exactly as it
//! was. (A deny that does apply: cli/tests/cli.rs, whose `ferry report` names the denied keys.)

use aws_sdk_sfn::types::ExecutionStatus;
use ferry_tests::*;
use serde_json::json;

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

/// The preflight: a source bucket policy that lets objects be read only through the owner's VPC
/// endpoint (AWS's example, `StringNotEquals`, and the `...IfExists` form data perimeters use)
/// refuses every read of S3 Batch Operations, which calls from no VPC endpoint of the owner's.
/// The run fails at the preflight's source step, before any grant, naming the statement's Sid
/// and `aws:SourceVpce`; no role is created and the bucket's policy is exactly as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vpc_endpoint_deny_fails_the_preflight_naming_the_statement_before_any_grant() {
    let world = World::seeded().await;
    let if_exists = VPC_ENDPOINT_DENY_POLICY.replace("StringNotEquals", "StringNotEqualsIfExists");
    // Two copies (a failed run's cleanup runs after it, and a run waits for its copy's cleanup).
    for (copy, policy) in [
        ("photos-2026", VPC_ENDPOINT_DENY_POLICY),
        ("photos-ifexists", if_exists.as_str()),
    ] {
        world.set_source_policy(policy).await;
        let before = world.bucket_policy(&world.source.s3, SOURCE_BUCKET).await;
        let run = world.run(&format!("{copy}-1"), &world.request(copy)).await;
        assert_eq!(run.status, ExecutionStatus::Failed, "{run:?}");
        assert_eq!(run.error.as_deref(), Some("AccessDenied"), "{run:?}");
        let cause = run.cause.clone().unwrap_or_default();
        assert!(
            cause.contains("preflight (source account 111111111111)")
                && cause.contains(&format!("src-photos: s3:GetObject by ferry-batch-{copy}: refused by statement Access-to-specific-VPCE-only"))
                && cause.contains("aws:SourceVpce"),
            "{cause}"
        );
        // The failed step: the one before the failure is named and announced.
        let failed_at = run
            .states
            .iter()
            .position(|s| s == "Was it one of ferry's errors?");
        assert_eq!(
            failed_at.map(|i| run.states[i - 1].as_str()),
            Some("Check the source's policies"),
            "{:?}",
            run.states
        );
        assert!(
            !run.states
                .iter()
                .any(|s| s.starts_with("Prepare destination access")
                    || s.starts_with("Grant source access")),
            "nothing granted or created: {:?}",
            run.states
        );
        assert!(world.ferry_roles().await.is_empty(), "no role created");
        // The run's end is announced: its event on the default bus, its message to the topic.
        let (event, message) = world.announced_by(&format!("{copy}-1")).await;
        let event = event.expect("the run's event");
        assert_eq!(
            (&event["source"], &event["detail-type"]),
            (&json!("ferry"), &json!("Copy Failed")),
            "{event}"
        );
        assert_eq!(event["detail"]["error"], "AccessDenied", "{event}");
        assert!(
            event["detail"]["cause"]
                .as_str()
                .unwrap()
                .contains("Access-to-specific-VPCE-only"),
            "{event}"
        );
        let message = message.expect("the run's SNS message");
        assert_eq!(message["subject"], "ferry: a copy failed");
        assert!(
            message["message"]
                .as_str()
                .unwrap()
                .contains(&format!("ferry run {copy}-1 failed (AccessDenied): ")),
            "{message}"
        );
        assert_eq!(
            world.bucket_policy(&world.source.s3, SOURCE_BUCKET).await,
            before
        );
    }
    world
        .assert_no_leftovers_of(&["photos-2026", "photos-ifexists"])
        .await;
}

/// An organization's data perimeter (deny to principals outside `o-abc123`): the simulator is not
/// given `aws:PrincipalOrgID` (ferry cannot know it beforehand), so the preflight reports the
/// statement undecided and goes on; both accounts belong to the organization, so S3 allows every
/// call and the copy succeeds, the policy as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organization_deny_of_the_accounts_own_organization_is_undecided_and_the_copy_succeeds()
{
    let world = World::seeded().await;
    world.join_organization("o-abc123").await;
    world.set_source_policy(ORGANIZATION_DENY_POLICY).await;
    let run = world
        .run("photos-2026-1", &world.request("photos-2026"))
        .await;
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{run:?}");
    world.assert_copied(&samples()).await;
    world.assert_no_leftovers().await;
    // The end is announced, with the preflight's undecided verdicts.
    let (event, message) = world.announced_by("photos-2026-1").await;
    let event = event.expect("the run's event");
    assert_eq!(event["detail-type"], "Copy Succeeded", "{event}");
    assert_eq!(
        event["account"],
        world.sandbox.info.destination_account(),
        "{event}"
    );
    let undecided = event["detail"]["preflight"]["source"].as_array().unwrap();
    assert!(
        !undecided.is_empty()
            && undecided.iter().all(|v| v["outcome"] == "undecided"
                && v["statement"] == "OnlyOurOrganization"
                && v["missing"] == json!(["aws:PrincipalOrgID"])),
        "{event}"
    );
    let totals = &event["detail"]["totals"];
    assert_eq!(totals["copied"], samples().len() as u64, "{event}");
    assert_eq!(
        totals["reports"], "s3://ferry-222222222222-eu-west-1/reports/photos-2026/run-1/",
        "{event}"
    );
    // Its cost, in the event and in the execution's output: the sandbox's Region, eu-west-1,
    // where the price data has only Step Functions' price, and says what it leaves out.
    // What the run did, counted for its cost: the copy job and the verification, six objects
    // each; six COPY requests; the verification through the worker, an invocation and two HEADs
    // an object.
    let usage = &totals["usage"];
    assert_eq!(
        (&usage["jobs"], &usage["tasks"], &usage["copyRequests"]),
        (
            &json!(2),
            &json!(2 * samples().len()),
            &json!(samples().len())
        ),
        "{event}"
    );
    assert_eq!(
        (&usage["workerInvocations"], &usage["headRequests"]),
        (&json!(samples().len()), &json!(2 * samples().len())),
        "{event}"
    );
    let cost = &totals["cost"];
    assert_eq!(cost["region"], "eu-west-1", "{event}");
    assert!(
        cost["unpriced"]
            .as_array()
            .unwrap()
            .contains(&json!("batchObjects")),
        "{event}"
    );
    assert_eq!(run.output.as_ref().unwrap()["cost"], *cost, "{run:?}");
    let message = message.expect("the run's SNS message");
    assert_eq!(
        message["topic"],
        "arn:aws:sns:eu-west-1:222222222222:ferry-runs"
    );
    assert!(
        message["message"].as_str().unwrap().starts_with(&format!(
            "ferry run photos-2026-1 succeeded: {} objects copied, 0 already at the destination.",
            samples().len()
        )),
        "{message}"
    );
}
