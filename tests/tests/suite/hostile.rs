//! The security reviews' findings, replayed against the strict sandbox as an attacker would try
//! them: a copy request that points at a bucket the destination account does not list (or does
//! not own), a state machine of the destination account's own that hands the source side a
//! forged plan, and forged events handed to the copy worker. Each is refused, names the rule,
//! and leaves every policy and object as it was.

use std::collections::BTreeMap;

use aws_sdk_sfn::types::ExecutionStatus;
use ferry_core::steps::{PlanInput, RunPlan};
use ferry_core::worker::WorkerArguments;
use ferry_local::scenario::Side;
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
    // The destination's own invoke role and alias, as ferry's state machine calls them.
    let side = &plan.source_side;
    let (role, function) = (side.invoke_role.clone(), side.access_function.clone());
    let run = forged_task(
        &world,
        Side::Destination,
        "not-ferry",
        &role,
        &function,
        json!({"action": "grant", "plan": plan}),
    )
    .await;
    println!("forged plan: {:?}: {:?}", run.error, run.cause);
    assert_eq!(run.status, ExecutionStatus::Failed, "{run:?}");
    let cause = run.cause.clone().unwrap_or_default();
    assert!(
        cause.contains("AccessDenied") || run.error.as_deref() == Some("AccessDenied"),
        "{run:?}"
    );
    // Invoked through the alias of the destination account whose state machine called: a plan
    // into any other account is refused before anything is read.
    assert!(
        cause.contains(&format!(
            "invoked through the alias of destination account {}",
            info.destination_account()
        )) && cause.contains("with a plan into 444444444444"),
        "{run:?}"
    );
    let after = world.bucket_policy(&world.source.s3, SOURCE_BUCKET).await;
    assert_eq!(after, before, "the source bucket's policy is as it was");
    let text = after.map(|p: Value| p.to_string()).unwrap_or_default();
    assert!(!text.contains("444444444444"));
}

/// A state machine of `side`'s own (not ferry's), run once with ferry's state machine role:
/// one Task that assumes `role` and invokes `function` with `payload`, as a destination account
/// could make one. Its execution as it ended.
async fn forged_task(
    world: &World,
    side: Side,
    name: &str,
    role: &str,
    function: &str,
    payload: Value,
) -> Execution {
    let info = &world.sandbox.info;
    let account = match side {
        Side::Destination => info.destination_account(),
        Side::Third => info.third_account(),
        Side::Source => info.source_account(),
    };
    let definition = json!({
        "StartAt": "Call",
        "States": {"Call": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Credentials": {"RoleArn": role},
            "Parameters": {"FunctionName": function, "Payload": payload},
            "End": true
        }}
    });
    let sfn = match side {
        Side::Destination => &world.destination.sfn,
        Side::Third => &world.third.sfn,
        Side::Source => &world.source.sfn,
    };
    let machine = sfn
        .create_state_machine()
        .name(name)
        .role_arn(format!(
            "arn:aws:iam::{account}:role/ferry-state-machine-{}",
            info.region
        ))
        .definition(definition.to_string())
        .send()
        .await
        .unwrap()
        .state_machine_arn()
        .to_string();
    let execution = sfn
        .start_execution()
        .state_machine_arn(&machine)
        .name(format!("{name}-1"))
        .send()
        .await
        .unwrap()
        .execution_arn()
        .to_string();
    world.wait_for(&execution).await
}

/// The security round's finding 3: two destination accounts copy from one source bucket, and
/// one of them tries to take the other's grants away while its copy runs. Through ferry (a
/// stored plan of the other's request in its own ferry bucket, then a forced cleanup), and
/// around ferry (a state machine of its own that calls the source functions with the other's
/// plan: through its own alias, through the other's alias, as the other's invoke role). Each is
/// refused, naming the rule; the victim's statements and inventory configuration stay, and its
/// copy ends as it would have.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_destination_cannot_revoke_anothers_grants() {
    let world = World::seeded().await;
    let info = &world.sandbox.info;
    let (victim_account, attacker) = (info.destination_account(), info.third_account());
    world.hold(true).await;
    let request = world.inventory_request("photos-2026", 1, 120);
    let victim = world.start_execution("photos-2026-1", &request).await;
    world.wait_for_active_job().await;
    let before = world.ferry_statements(SOURCE_BUCKET).await;
    assert!(!before.is_empty(), "the victim's grants are in place");
    let victim_plan: RunPlan = serde_json::from_value(
        world
            .state_output(&victim, "Plan the copy")
            .await
            .expect("the victim's plan")["plan"]
            .clone(),
    )
    .unwrap();

    // Through ferry: the victim's request stored as the attacker's copy, cleaned up by force
    // (what `ferry revoke` starts). The stored plan is validated against the attacker's stack.
    let attacker_bucket = ferry_core::layout::ferry_bucket_name(attacker, &info.region);
    world
        .third
        .s3
        .put_object()
        .bucket(&attacker_bucket)
        .key("control/photos-2026/plan.json")
        .body(
            serde_json::to_vec(&json!({"request": victim_plan.request}))
                .unwrap()
                .into(),
        )
        .send()
        .await
        .unwrap();
    let cleanup = world
        .run_in(
            Side::Third,
            "photos-2026-cleanup-1",
            &json!({"cleanup": {"execution": "photos-2026-1", "force": true}}),
        )
        .await;
    println!(
        "stored plan of another destination: {:?}: {:?}",
        cleanup.error, cleanup.cause
    );
    assert_eq!(cleanup.status, ExecutionStatus::Failed, "{cleanup:?}");
    assert_eq!(
        cleanup.error.as_deref(),
        Some("InvalidRequest"),
        "{cleanup:?}"
    );
    assert!(
        cleanup.cause.as_deref().unwrap_or_default().contains(
            "the stored plan of copy photos-2026 does not hold against this stack any more"
        ) && cleanup.cause.as_deref().unwrap_or_default().contains(&format!(
            "destination.accountId: must be {attacker}, the account of the destination stack that runs the copy"
        )),
        "{cleanup:?}"
    );

    // Around ferry, with the victim's plan as the revoke's and the inventory removal's input.
    let own = ferry_core::names::SourceSide::of(info.source_account(), &info.region, attacker);
    let theirs = &victim_plan.source_side;
    let unqualified = theirs
        .access_function
        .rsplit_once(':')
        .unwrap()
        .0
        .to_string();
    let attempts = [
        // Its own role and alias: the function refuses a plan into another account.
        ("own-alias", own.invoke_role.clone(), own.access_function.clone(), "revoke", format!(
            "invoked through the alias of destination account {attacker} ({}) with a plan into {victim_account}", own.access_function)),
        ("own-alias-inventory", own.invoke_role.clone(), own.inventory_function.clone(), "remove", format!(
            "invoked through the alias of destination account {attacker} ({}) with a plan into {victim_account}", own.inventory_function)),
        // Its own role and the victim's alias, or the function's unqualified ARN: IAM refuses
        // the invoke.
        ("their-alias", own.invoke_role.clone(), theirs.access_function.clone(), "revoke", format!(
            "not authorized to perform: lambda:InvokeFunction on resource: {} because", theirs.access_function)),
        ("unqualified", own.invoke_role.clone(), unqualified.clone(), "revoke", format!(
            "not authorized to perform: lambda:InvokeFunction on resource: {unqualified} because")),
        // The victim's invoke role: its trust names the victim's state machine only.
        ("their-role", theirs.invoke_role.clone(), theirs.access_function.clone(), "revoke", "sts:AssumeRole".to_string()),
    ];
    for (name, role, function, action, refusal) in attempts {
        let run = forged_task(
            &world,
            Side::Third,
            name,
            &role,
            &function,
            json!({"action": action, "plan": victim_plan}),
        )
        .await;
        let cause = run.cause.clone().unwrap_or_default();
        println!("{name}: {:?}: {cause}", run.error);
        assert_eq!(run.status, ExecutionStatus::Failed, "{name}: {run:?}");
        assert!(
            cause.contains("AccessDenied") || run.error.as_deref() == Some("AccessDenied"),
            "{name}: {run:?}"
        );
        assert!(
            cause.contains(&refusal),
            "{name}: expected {refusal:?} in {cause}"
        );
    }
    assert_eq!(
        world.ferry_statements(SOURCE_BUCKET).await,
        before,
        "the victim's statements are as they were"
    );
    assert!(
        world
            .has_inventory_of(
                Side::Source,
                SOURCE_BUCKET,
                Side::Destination,
                "photos-2026"
            )
            .await,
        "the victim's inventory configuration is there"
    );
    the_live_run_ends_as_it_would_have(&world, &victim).await;
}

/// The attacked run, released, succeeds: everything copied, nothing of ferry's left.
async fn the_live_run_ends_as_it_would_have(world: &World, victim: &str) {
    world.hold(false).await;
    let run = world.wait_for(victim).await;
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{run:?}");
    world.assert_copied(&samples()).await;
    world.assert_no_leftovers().await;
}

/// The worker's event as S3 Batch Operations sends it (Powertools' schema 2.0 test event), for
/// `job` with `arguments`, one task on `key` of the source bucket.
fn worker_event(job: &str, arguments: &BTreeMap<String, String>, key: &str) -> Value {
    let mut event: Value = serde_json::from_str(include_str!(
        "../../../shared/fixtures/contract/batch-invoke-event/2.0-powertools.json"
    ))
    .unwrap();
    event["job"]["id"] = job.into();
    event["job"]["userArguments"] = json!(arguments);
    event["tasks"][0]["s3Bucket"] = SOURCE_BUCKET.into();
    event["tasks"][0]["s3Key"] = key.into();
    event["tasks"][0]["s3VersionId"] = Value::Null;
    event
}

/// The security round's finding 1: a principal of the destination account that may invoke the
/// copy worker (here an EventBridge schedule of the account) hands it forged events while a
/// copy into an occupied prefix runs under `existing: refuse`. Each is refused before the worker
/// assumes the copy's role: arguments that are not the live job's (an overwrite, DEEP_ARCHIVE, a
/// key prefix of the attacker's, verify mode as an oracle of sizes and ETags), a task outside the
/// copy's source, a job that does not exist, and the live job's own arguments once the copy has
/// ended. The object someone else keeps at the destination is as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_events_to_the_copy_worker_are_refused_and_change_nothing() {
    let world = World::seeded().await;
    let kept = samples()[0].key.clone();
    world
        .destination
        .s3
        .put_object()
        .bucket(DESTINATION_BUCKET)
        .key(&kept)
        .body(b"DESTINATION-ORIGINAL".to_vec().into())
        .send()
        .await
        .unwrap();
    let request = world.request("photos-2026");
    let arguments = WorkerArguments::of(&serde_json::from_value(request.clone()).unwrap()).to_map();
    world.hold(true).await;
    let arn = world.start_execution("photos-2026-1", &request).await;
    world.wait_for_active_job().await;
    let job = world.job_fields("jobId").await[0]
        .as_str()
        .unwrap()
        .to_string();
    let refusal = |answer: &Value| -> String {
        let r = &answer["results"][0];
        assert_eq!(r["resultCode"], "PermanentFailure", "{answer}");
        r["resultString"].as_str().unwrap().to_string()
    };
    for (name, value) in [
        ("existing", "overwrite"),
        ("storageClass", "DEEP_ARCHIVE"),
        ("keyPrefix", "attacker/"),
        ("mode", "verify"),
    ] {
        let mut forged = arguments.clone();
        forged.insert(name.into(), value.into());
        let answer = world
            .schedule_fires("ferry-copy-worker", worker_event(&job, &forged, &kept))
            .await;
        let why = refusal(&answer);
        println!("{name}={value}: {why}");
        assert!(
            why.contains("the event's userArguments are not the job's: refused"),
            "{name}: {why}"
        );
    }
    let outside = world
        .schedule_fires(
            "ferry-copy-worker",
            worker_event(&job, &arguments, "private/payroll.csv"),
        )
        .await;
    assert!(
        refusal(&outside).contains("is not under this copy's source prefix"),
        "{outside}"
    );
    let unknown = world
        .schedule_fires(
            "ferry-copy-worker",
            worker_event("00000000-0000-4000-8000-000000000000", &arguments, &kept),
        )
        .await;
    assert!(
        refusal(&unknown).contains("not a Batch Operations job of this account"),
        "{unknown}"
    );
    world.hold(false).await;
    let run = world.wait_for(&arn).await;
    println!("the victim's run: {:?} {:?}", run.status, run.cause);
    let after = world
        .schedule_fires("ferry-copy-worker", worker_event(&job, &arguments, &kept))
        .await;
    assert!(
        refusal(&after).contains("and the worker acts only for a running job: refused"),
        "{after}"
    );
    let (bytes, _) =
        ferry_core::clients::get_object_bytes(&world.destination.s3, DESTINATION_BUCKET, &kept)
            .await
            .unwrap()
            .expect("the kept object");
    assert_eq!(bytes, b"DESTINATION-ORIGINAL", "left as it was");
    let head = world
        .destination
        .s3
        .head_object()
        .bucket(DESTINATION_BUCKET)
        .key(&kept)
        .send()
        .await
        .unwrap();
    assert!(head.storage_class().is_none(), "still STANDARD: {head:?}");
    let attacker = world
        .destination
        .s3
        .list_objects_v2()
        .bucket(DESTINATION_BUCKET)
        .prefix("attacker/")
        .send()
        .await
        .unwrap();
    assert_eq!(
        attacker.key_count(),
        Some(0),
        "nothing at the attacker's key"
    );
    world.assert_no_leftovers().await;
}

/// The security round's finding 2: while a copy's run is going, a second run of the copy and a
/// cleanup naming a run that never was are refused at the plan step (either would tear down the
/// live run's role and grants when it ends), a status-change event forged for the live run
/// starts no cleanup, and the live run completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_or_a_made_up_cleanup_cannot_tear_down_a_live_run() {
    let world = World::seeded().await;
    world.hold(true).await;
    let request = world.request("photos-2026");
    let victim = world.start_execution("photos-2026-1", &request).await;
    world.wait_for_active_job().await;
    let second = world.run("photos-2026-2", &request).await;
    assert_eq!(second.status, ExecutionStatus::Failed, "{second:?}");
    let cause = second.cause.unwrap_or_default();
    assert!(
        cause.contains("run photos-2026-1 of copy photos-2026 is running"),
        "{cause}"
    );
    // A cleanup naming a run that never was is refused as such; forced (what `ferry revoke`
    // starts), it is refused while the live run runs.
    for (n, force, refusal) in [
        (8, false, "run photos-2026-8 does not exist"),
        (9, true, "run photos-2026-1 of copy photos-2026 is running"),
    ] {
        let made_up = world
            .run(
                &format!("photos-2026-cleanup-{n}"),
                &json!({"cleanup": {"execution": format!("photos-2026-{n}"), "force": force}}),
            )
            .await;
        assert_eq!(made_up.status, ExecutionStatus::Failed, "{made_up:?}");
        let cause = made_up.cause.unwrap_or_default();
        println!("cleanup of photos-2026-{n} (force: {force}): {cause}");
        assert!(cause.contains(refusal), "{cause}");
    }
    // A status-change event forged for the live run (as if it had failed) starts no cleanup:
    // Step Functions says it is running.
    let info = &world.sandbox.info;
    let forged = json!({
        "version": "0",
        "id": "315c1398-40ff-a850-213b-158f73e60175",
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": info.destination_account(),
        "time": "2026-11-28T14:00:00Z",
        "region": info.region,
        "resources": [victim.clone()],
        "detail": {
            "executionArn": victim.clone(),
            "stateMachineArn": info.state_machine_arn.clone(),
            "name": "photos-2026-1",
            "status": "FAILED",
            "startDate": 1795873550000u64,
            "stopDate": 1795874000000u64,
            "input": "{}",
            "output": null
        }
    });
    let answer = world.schedule_fires("ferry-cleanup-start", forged).await;
    assert_eq!(
        answer["ignored"], "photos-2026-1 is RUNNING now (the event said FAILED): no cleanup",
        "{answer}"
    );
    assert!(
        !world.ferry_statements(SOURCE_BUCKET).await.is_empty(),
        "the live run's grants are still there"
    );
    the_live_run_ends_as_it_would_have(&world, &victim).await;
}

/// The security round's finding 5: ferry's permissions boundary is a fence around the stack's
/// buckets. A role of ferry's path with the boundary and `s3:*` on `*` of its own (what
/// destination-access could be made to create) is refused writes and reads on the ferry
/// bucket's `control/` (stored plans, job records, waiters' task tokens) and on a bucket of the
/// account the stack does not list; it may still write where ferry's Batch roles write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_inside_the_boundary_touches_neither_control_objects_nor_unlisted_buckets() {
    let world = World::seeded().await;
    let info = &world.sandbox.info;
    let account = info.destination_account().to_string();
    let ferry_bucket = ferry_core::layout::ferry_bucket_name(&account, &info.region);
    let unlisted = "dst-payroll";
    world
        .create_bucket(Side::Destination, unlisted, None)
        .await
        .unwrap();
    let admin = &world.destination.s3;
    for (bucket, key) in [
        (ferry_bucket.as_str(), "control/photos-2026/plan.json"),
        (unlisted, "salaries.csv"),
    ] {
        admin
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(b"ORIGINAL".to_vec().into())
            .send()
            .await
            .unwrap();
    }
    let role = "ferry-batch-intruder";
    world
        .destination
        .iam
        .create_role()
        .path("/ferry/")
        .role_name(role)
        .assume_role_policy_document(
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
                "Action": "sts:AssumeRole"}]})
            .to_string(),
        )
        .permissions_boundary(format!(
            "arn:aws:iam::{account}:policy/ferry/ferry-boundary-{}",
            info.region
        ))
        .send()
        .await
        .unwrap();
    world
        .destination
        .iam
        .put_role_policy()
        .role_name(role)
        .policy_name("everything")
        .policy_document(
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})
                .to_string(),
        )
        .send()
        .await
        .unwrap();
    let sts = aws_sdk_sts::Client::new(&info.sdk_config(&account));
    let session = sts
        .assume_role()
        .role_arn(format!("arn:aws:iam::{account}:role/ferry/{role}"))
        .role_session_name("intruder")
        .send()
        .await
        .unwrap();
    let c = session.credentials().unwrap();
    let intruder = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&info.sdk_config(&account))
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                c.access_key_id(),
                c.secret_access_key(),
                Some(c.session_token().to_string()),
                None,
                "intruder",
            ))
            .force_path_style(true)
            .build(),
    );
    let put = |bucket: &str, key: &str| {
        intruder
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(b"FROM-INTRUDER".to_vec().into())
            .send()
    };
    for (bucket, key) in [
        (ferry_bucket.as_str(), "control/photos-2026/plan.json"),
        (ferry_bucket.as_str(), "control/waiters/forged.json"),
        (unlisted, "salaries.csv"),
    ] {
        let err = put(bucket, key).await.expect_err(bucket);
        let code = err.as_service_error().and_then(|e| e.meta().code());
        println!("PutObject s3://{bucket}/{key}: {code:?}");
        assert_eq!(code, Some("AccessDenied"), "s3://{bucket}/{key}");
        let read = intruder.get_object().bucket(bucket).key(key).send().await;
        assert!(read.is_err(), "GetObject s3://{bucket}/{key}");
    }
    // Where the Batch roles write, it may.
    put(DESTINATION_BUCKET, "w/allowed.txt").await.unwrap();
    put(&ferry_bucket, "reports/photos-2026/run-1/x.csv")
        .await
        .unwrap();
    for (bucket, key) in [
        (ferry_bucket.as_str(), "control/photos-2026/plan.json"),
        (unlisted, "salaries.csv"),
    ] {
        let (bytes, _) = ferry_core::clients::get_object_bytes(admin, bucket, key)
            .await
            .unwrap()
            .expect("still there");
        assert_eq!(bytes, b"ORIGINAL", "s3://{bucket}/{key} as it was");
    }
    world
        .destination
        .iam
        .delete_role_policy()
        .role_name(role)
        .policy_name("everything")
        .send()
        .await
        .unwrap();
    world
        .destination
        .iam
        .delete_role()
        .role_name(role)
        .send()
        .await
        .unwrap();
}
