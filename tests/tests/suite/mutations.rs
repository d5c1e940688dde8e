//! The mutation check of the strict sandbox: for every action of every Allow statement of every
//! role the template gives ferry's functions (and the state machine's role and the source side's
//! invoke role), the action is taken out of the live role policy in a fresh sandbox, and the
//! scenarios run until one is refused with AccessDenied naming that role's session and that
//! action. A mutation no scenario catches fails the check: either the action is not needed (take
//! it out of the template) or a scenario is missing.
//!
//! Not part of `make test` (one sandbox per mutation, about ten minutes on two cores):
//! `make mutations`, which runs `cargo test -p ferry-tests --test suite mutations:: -- --ignored --nocapture`.

use std::time::Instant;

use aws_sdk_sfn::types::ExecutionStatus;
use ferry_tests::*;
use serde_json::{json, Value};

/// Granted for what the sandbox cannot run: Step Functions' log delivery to CloudWatch Logs, and
/// the Lambda service's on-failure destination for asynchronous invocations (Lambda sends the
/// lost S3 event to DeadLetters with the function's role; the launcher delivers events itself).
const NOT_EXERCISED: &[(&str, &str)] = &[
    (
        "logs:",
        "the sandbox has no CloudWatch Logs; Step Functions' log delivery is checked by cfn-lint and checkov",
    ),
    (
        "sqs:",
        "Lambda's on-failure destination (DeadLetters), used by the Lambda service, not by ferry's code",
    ),
];

#[derive(Debug, Clone)]
struct Mutation {
    account: String,
    role: String,
    policy_name: String,
    statement: usize,
    action: String,
    /// For a statement with several resources and one action (the state machine's invokes):
    /// the one resource taken out instead of the action.
    resource: Option<String>,
}

impl Mutation {
    fn apply(&self, doc: &Value) -> Value {
        let mut doc = doc.clone();
        let statements = doc["Statement"].as_array_mut().unwrap();
        let s = &mut statements[self.statement];
        if let Some(r) = &self.resource {
            let kept: Vec<Value> = as_list(&s["Resource"])
                .into_iter()
                .filter(|x| x.as_str() != Some(r))
                .collect();
            if kept.is_empty() {
                statements.remove(self.statement);
            } else {
                s["Resource"] = Value::Array(kept);
            }
        } else {
            let kept: Vec<Value> = as_list(&s["Action"])
                .into_iter()
                .filter(|x| x.as_str() != Some(&self.action))
                .collect();
            if kept.is_empty() {
                statements.remove(self.statement);
            } else {
                s["Action"] = Value::Array(kept);
            }
        }
        doc
    }

    fn describe(&self) -> String {
        match &self.resource {
            Some(r) => format!("{} {} on {}", self.role, self.action, short(r)),
            None => format!("{} {}", self.role, self.action),
        }
    }
}

fn short(arn: &str) -> &str {
    match arn.split_once(":::") {
        Some((_, s3)) => s3,
        None => arn.rsplit([':', '/']).next().unwrap_or(arn),
    }
}

fn as_list(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a.clone(),
        Value::Null => vec![],
        other => vec![other.clone()],
    }
}

fn iam_of(world: &World, account: &str) -> aws_sdk_iam::Client {
    aws_sdk_iam::Client::new(&world.sandbox.info.sdk_config(account))
}

async fn role_policies(iam: &aws_sdk_iam::Client, role: &str) -> Vec<(String, Value)> {
    let names = iam
        .list_role_policies()
        .role_name(role)
        .send()
        .await
        .unwrap();
    let mut out = vec![];
    for name in names.policy_names() {
        let got = iam
            .get_role_policy()
            .role_name(role)
            .policy_name(name)
            .send()
            .await
            .unwrap();
        let text = ferry_core::policy::decode_iam_document(got.policy_document()).unwrap();
        out.push((name.to_string(), serde_json::from_str(&text).unwrap()));
    }
    out
}

/// Every mutation of the template's roles, read from a sandbox's live IAM.
async fn mutations(world: &World) -> Vec<Mutation> {
    let info = &world.sandbox.info;
    // The primary source and destination stacks: the third account's stacks have the same
    // roles from the same template, and the mutation runs only copies between the first two.
    let primary = [info.source_account(), info.destination_account()];
    let mut roles: Vec<(String, String)> = info
        .functions
        .values()
        .filter(|f| primary.contains(&f.account.as_str()))
        .map(|f| {
            (
                f.account.clone(),
                f.role.rsplit('/').next().unwrap().to_string(),
            )
        })
        .collect();
    let region = &info.region;
    roles.push((
        info.destination_account().into(),
        format!("ferry-state-machine-{region}"),
    ));
    roles.push((
        info.source_account().into(),
        format!(
            "ferry-source-invoke-{region}-{}",
            info.destination_account()
        ),
    ));
    roles.sort();
    roles.dedup();
    let mut out = vec![];
    for (account, role) in roles {
        for (policy_name, doc) in role_policies(&iam_of(world, &account), &role).await {
            for (i, s) in doc["Statement"].as_array().unwrap().iter().enumerate() {
                if s["Effect"] != "Allow" {
                    continue;
                }
                let actions = as_list(&s["Action"]);
                let resources = as_list(&s["Resource"]);
                for a in &actions {
                    let action = a.as_str().unwrap().to_string();
                    let base = Mutation {
                        account: account.clone(),
                        role: role.clone(),
                        policy_name: policy_name.clone(),
                        statement: i,
                        action: action.clone(),
                        resource: None,
                    };
                    if actions.len() == 1 && resources.len() > 1 {
                        for r in &resources {
                            out.push(Mutation {
                                resource: Some(r.as_str().unwrap().to_string()),
                                ..base.clone()
                            });
                        }
                    } else {
                        out.push(base);
                    }
                }
            }
        }
    }
    out
}

/// The scenarios, cheapest first; each returns whether the copy ended as it should. A mutation is
/// caught when a scenario ends badly and the sandbox refused the mutated role's action.
const SCENARIOS: &[&str] = &[
    "flow B (with job tags)",
    "flow A",
    "flow B, then its cleanup again by hand",
    "flow B, with a role left behind by an earlier run",
    "flow B, a source bucket without a policy of its own",
    "flow B, transient failures retried",
    "flow B, a run stopped by hand and cleaned up by the rule",
    "flow A, a damaged inventory report",
    "flow A, a report that lands before its waiter",
    "flow A, a damaged report that lands before its waiter",
    "flow A, a lost S3 event",
    "flow B, the CSV manifest in the source bucket itself",
    "flow B, the CSV manifest in the destination account",
    "flow B, into a second listed destination bucket",
    "flow B from the third account, its CSV manifest in its own bucket",
    "flow B from the manifest bucket, its objects SSE-KMS under a listed key",
    // Last: the source objects stay SSE-KMS afterwards.
    "flow B, SSE-KMS source objects under a listed key",
    "flow B, the bucket's default key found beyond the sample",
];

/// How an execution ended, if it did within `seconds` (a mutation may keep it from ever
/// starting or ending: the check must go on, not panic).
async fn ended(world: &World, arn: &str, seconds: u64) -> Option<Execution> {
    world
        .wait_at_most(arn, std::time::Duration::from_secs(seconds))
        .await
}

async fn succeeds(world: &World, name: &str, input: &Value) -> bool {
    let arn = world.start_execution(name, input).await;
    ended(world, &arn, 120)
        .await
        .is_some_and(|e| e.status == ExecutionStatus::Succeeded)
}

/// Whether every S3 event the sandbox delivered was answered without an error: a copy survives a
/// failing event handler (the timed look finds the report), so its success alone does not show
/// that the handler may do its work.
async fn handlers_answered(world: &World) -> bool {
    let inventory = world.sandbox.get("/inventory").await.unwrap();
    inventory["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e.get("notified").is_some())
        .all(|e| e["response"].get("errorType").is_none())
}

/// Flow A with a damaged `manifest.checksum` (and `settings` for the delivery besides): the copy
/// must fail with InventoryChecksumMismatch. The delivery is set back afterwards.
async fn damaged_report(world: &World, id: &str, settings: Value) -> bool {
    let mut on = settings.clone();
    on["corruptChecksum"] = true.into();
    world.inventory_delivery(on).await;
    let arn = world
        .start_execution(&format!("{id}-1"), &world.inventory_request(id, 30, 120))
        .await;
    let end = ended(world, &arn, 120).await;
    world
        .inventory_delivery(json!({"corruptChecksum": false, "delayWaiterSeconds": 0}))
        .await;
    end.is_some_and(|e| e.error.as_deref() == Some("InventoryChecksumMismatch"))
}

async fn scenario(world: &World, n: usize) -> bool {
    let id = format!("m{n}");
    let name = format!("{id}-1");
    match SCENARIOS[n] {
        "flow B (with job tags)" => {
            // With job tags, as CreateJob then also needs s3:PutJobTagging.
            let mut request = world.request(&id);
            request["job"] = json!({"tags": {"team": "media"}});
            succeeds(world, &name, &request).await
        }
        "flow A" => {
            succeeds(world, &name, &world.inventory_request(&id, 30, 120)).await
                && handlers_answered(world).await
        }
        "flow B, then its cleanup again by hand" => {
            // What `ferry revoke` does after a copy that revoked everything itself.
            succeeds(world, &name, &world.request(&id)).await
                && succeeds(
                    world,
                    &format!("{id}-cleanup-1"),
                    &json!({"cleanup": {"execution": name}}),
                )
                .await
        }
        "flow B, with a role left behind by an earlier run" => {
            // An earlier run's revoke never ran: the role exists, with ferry's path and boundary.
            let info = &world.sandbox.info;
            let boundary = format!(
                "arn:aws:iam::{}:policy/ferry/ferry-boundary-{}",
                info.destination_account(),
                info.region
            );
            world
                .destination.iam
                .create_role()
                .path("/ferry/")
                .role_name(format!("ferry-batch-{id}"))
                .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"batchoperations.s3.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#)
                .permissions_boundary(boundary)
                .send()
                .await
                .unwrap();
            succeeds(world, &name, &world.request(&id)).await
        }
        "flow B, a source bucket without a policy of its own" => {
            // Revoke then deletes the policy rather than writing an empty one.
            world
                .source
                .s3
                .delete_bucket_policy()
                .bucket(SOURCE_BUCKET)
                .send()
                .await
                .unwrap();
            succeeds(world, &name, &world.request(&id)).await
                && world
                    .bucket_policy(&world.source.s3, SOURCE_BUCKET)
                    .await
                    .is_none()
        }
        "flow B, transient failures retried" => {
            // Attempts are counted per key since the last clear: earlier scenarios copied it.
            world
                .sandbox
                .control("/failures/clear", json!({}))
                .await
                .unwrap();
            world
                .fail_tasks(
                    json!({"pattern": "2026/notes/*", "code": "SlowDown", "http": 503, "times": 1}),
                )
                .await;
            succeeds(world, &name, &world.request(&id)).await
        }
        "flow B, a run stopped by hand and cleaned up by the rule" => {
            world.hold(true).await;
            let arn = world.start_execution(&name, &world.request(&id)).await;
            // Stopped whether or not its job got to run (a mutation may keep it from starting).
            world
                .job_active_within(std::time::Duration::from_secs(30))
                .await;
            let _ = world
                .destination
                .sfn
                .stop_execution()
                .execution_arn(&arn)
                .send()
                .await;
            ended(world, &arn, 30).await;
            let cleanup = world.execution_arn(&format!("{id}-cleanup-1"));
            let ok = ended(world, &cleanup, 60)
                .await
                .is_some_and(|e| e.status == ExecutionStatus::Succeeded);
            world.hold(false).await;
            ok
        }
        "flow A, a damaged inventory report" => {
            damaged_report(world, &id, json!({})).await && handlers_answered(world).await
        }
        "flow A, a report that lands before its waiter" => {
            world
                .inventory_delivery(json!({"delayWaiterSeconds": 3}))
                .await;
            let ok = succeeds(world, &name, &world.inventory_request(&id, 30, 120)).await;
            world
                .inventory_delivery(json!({"delayWaiterSeconds": 0}))
                .await;
            ok
        }
        "flow A, a damaged report that lands before its waiter" => {
            // The waiter finds the damaged report itself and fails its own Task.
            damaged_report(world, &id, json!({"delayWaiterSeconds": 3})).await
        }
        "flow A, a lost S3 event" => {
            world.inventory_delivery(json!({"notify": false})).await;
            succeeds(world, &name, &world.inventory_request(&id, 3, 120)).await
        }
        "flow B, the CSV manifest in the source bucket itself" => {
            // Any of SourceBuckets may hold the manifest, so job-submit may read any of them.
            let manifest = world
                .source
                .s3
                .get_object()
                .bucket(MANIFEST_BUCKET)
                .key(MANIFEST_KEY)
                .send()
                .await
                .unwrap()
                .body
                .collect()
                .await
                .unwrap()
                .into_bytes();
            world
                .source
                .s3
                .put_object()
                .bucket(SOURCE_BUCKET)
                .key(MANIFEST_KEY)
                .body(manifest.into())
                .send()
                .await
                .unwrap();
            let mut request = world.request(&id);
            request["manifest"]["bucket"] = SOURCE_BUCKET.into();
            succeeds(world, &name, &request).await
        }
        "flow B, into a second listed destination bucket" => {
            // Each bucket of DestinationBuckets is one plan may look at (HeadBucket).
            let region = world.sandbox.info.region.clone();
            let _ =
                ferry_local::objects::create_bucket(&world.destination.s3, "dst-archive", &region)
                    .await;
            let mut request = world.request(&id);
            request["destination"]["bucket"] = "dst-archive".into();
            succeeds(world, &name, &request).await
        }
        "flow B, the CSV manifest in the destination account" => {
            // job-submit reads it through ManifestBuckets, the Batch role through its own policy.
            let request = world.destination_manifest_request(&id).await;
            succeeds(world, &name, &request).await
        }
        "flow B from the third account, its CSV manifest in its own bucket" => {
            // SourceBuckets lists every source account's buckets: job-submit may read a
            // manifest in any of them (here the third account's).
            use ferry_local::scenario::Side;
            let region = world.sandbox.info.region.clone();
            let _ = world.create_bucket(Side::Third, "src-ledger", None).await;
            let _ =
                ferry_local::objects::create_bucket(&world.destination.s3, "dst-archive", &region)
                    .await;
            ferry_local::objects::put_samples(&world.third.s3, "src-ledger", &samples())
                .await
                .unwrap();
            world
                .third
                .s3
                .put_object()
                .bucket("src-ledger")
                .key(MANIFEST_KEY)
                .body(ferry_local::objects::csv_manifest("src-ledger", &samples()).into())
                .send()
                .await
                .unwrap();
            let third = world.sandbox.info.third_account().to_string();
            let mut request = world.request(&id);
            request["source"] =
                json!({"accountId": third, "bucket": "src-ledger", "prefix": "2026/"});
            request["manifest"] = json!({"kind": "csv", "accountId": third, "bucket": "src-ledger", "key": MANIFEST_KEY});
            request["destination"]["bucket"] = "dst-archive".into();
            succeeds(world, &name, &request).await
        }
        "flow B, SSE-KMS source objects under a listed key" => {
            // source-access finds the key on the objects (ListObjectsV2, HeadObject), grants
            // the Batch role its use, and takes the grant back (ListGrants, RevokeGrant).
            let key = world.sandbox.info.kms_keys["source"].clone();
            ferry_local::objects::put_samples_encrypted(
                &world.source.s3,
                SOURCE_BUCKET,
                &samples(),
                Some(&key),
            )
            .await
            .unwrap();
            succeeds(world, &name, &world.request(&id)).await
                && world.kms_grants().await.unwrap().is_empty()
        }
        "flow B from the manifest bucket, its objects SSE-KMS under a listed key" => {
            // Any of SourceBuckets may be a copy's source: source-access looks at its objects.
            let key = world.sandbox.info.kms_keys["source"].clone();
            ferry_local::objects::put_samples_encrypted(
                &world.source.s3,
                MANIFEST_BUCKET,
                &samples(),
                Some(&key),
            )
            .await
            .unwrap();
            world
                .source
                .s3
                .put_object()
                .bucket(MANIFEST_BUCKET)
                .key("lists/own-objects.csv")
                .body(ferry_local::objects::csv_manifest(MANIFEST_BUCKET, &samples()).into())
                .send()
                .await
                .unwrap();
            let mut request = world.request(&id);
            request["source"]["bucket"] = MANIFEST_BUCKET.into();
            // Its own manifest: the others' (MANIFEST_KEY) lists the source bucket's objects.
            request["manifest"]["key"] = "lists/own-objects.csv".into();
            succeeds(world, &name, &request).await && world.kms_grants().await.unwrap().is_empty()
        }
        "flow B, the bucket's default key found beyond the sample" => {
            // The first objects under the prefix are SSE-S3; the copy's own objects took the
            // bucket's default KMS key later: only GetBucketEncryption finds it.
            use aws_sdk_s3::types::ServerSideEncryption;
            let key = world.sandbox.info.kms_keys["source"].clone();
            let s3 = &world.source.s3;
            for n in 0..ferry_source_access::keys::SAMPLE {
                s3.put_object()
                    .bucket(SOURCE_BUCKET)
                    .key(format!("2026/aaa-{n:03}"))
                    .body(Vec::new().into())
                    .server_side_encryption(ServerSideEncryption::Aes256)
                    .send()
                    .await
                    .unwrap();
            }
            ferry_local::objects::set_default_kms(s3, SOURCE_BUCKET, &key)
                .await
                .unwrap();
            ferry_local::objects::put_samples(s3, SOURCE_BUCKET, &samples())
                .await
                .unwrap();
            succeeds(world, &name, &world.request(&id)).await
        }
        other => unreachable!("{other}"),
    }
}

/// The refusal that names the mutated role's session and action, if the sandbox made one.
async fn refusal(world: &World, m: &Mutation) -> Option<String> {
    let denials = world.sandbox.get("/denials").await.unwrap();
    denials.as_array().unwrap().iter().find_map(|d| {
        let message = d["message"].as_str().unwrap_or("");
        (message.contains(&format!("/{}/", m.role))
            && message.contains(&format!("perform: {}", m.action)))
        .then(|| message.to_string())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "one sandbox per mutation: `make mutations`"]
async fn removing_any_action_from_any_role_makes_a_scenario_fail_with_access_denied() {
    let started = Instant::now();
    // Every scenario ends well without a mutation, so a scenario that fails under one is
    // the mutation's doing.
    let baseline = World::seeded().await;
    let mut all = mutations(&baseline).await;
    for (n, name) in SCENARIOS.iter().enumerate() {
        assert!(
            scenario(&baseline, n).await,
            "without a mutation, \"{name}\" ends badly; sandbox log: {}",
            baseline.sandbox.log.display()
        );
    }
    drop(baseline);
    // FERRY_MUTATIONS=<text>[|<text>...] runs only the mutations whose description contains
    // one of the texts.
    if let Ok(only) = std::env::var("FERRY_MUTATIONS") {
        all.retain(|m| only.split('|').any(|o| m.describe().contains(o)));
    }
    let mut survived = vec![];
    let mut tolerated = vec![];
    let mut caught = 0;
    let mut skipped = 0;
    println!("{} mutations", all.len());
    for (i, m) in all.iter().enumerate() {
        if let Some((_, why)) = NOT_EXERCISED
            .iter()
            .find(|(prefix, _)| m.action.starts_with(prefix))
        {
            println!("{i:>3} {:<70} not exercised: {why}", m.describe());
            skipped += 1;
            continue;
        }
        let world = World::seeded().await;
        let iam = iam_of(&world, &m.account);
        let doc = role_policies(&iam, &m.role)
            .await
            .into_iter()
            .find(|(n, _)| *n == m.policy_name)
            .unwrap()
            .1;
        let mutated = m.apply(&doc);
        if mutated["Statement"].as_array().unwrap().is_empty() {
            // IAM refuses a policy without statements: the policy goes instead.
            iam.delete_role_policy()
                .role_name(&m.role)
                .policy_name(&m.policy_name)
                .send()
                .await
                .unwrap();
        } else {
            iam.put_role_policy()
                .role_name(&m.role)
                .policy_name(&m.policy_name)
                .policy_document(mutated.to_string())
                .send()
                .await
                .unwrap();
        }
        // The first scenario that fails with the refusal catches the mutation. A refusal a
        // scenario survives by design (source-access's look at the objects' encryption ends
        // with a warning) sends the check on to the later scenarios, which must fail without
        // the action; only if none does is it reported as tolerated.
        let mut found = None;
        let mut tolerated_first = None;
        for n in 0..SCENARIOS.len() {
            world
                .sandbox
                .control("/denials/clear", json!({}))
                .await
                .unwrap();
            let ok = scenario(&world, n).await;
            if let Some(message) = refusal(&world, m).await {
                if !ok {
                    found = Some((n, false, message));
                    break;
                }
                tolerated_first.get_or_insert((n, true, message));
            }
        }
        let found = found.or(tolerated_first);
        match found {
            Some((n, ok, message)) => {
                let cut: String = message.chars().take(150).collect();
                if ok {
                    tolerated.push(m.describe());
                } else {
                    caught += 1;
                }
                println!(
                    "{i:>3} {:<70} {} \"{}\": {cut}",
                    m.describe(),
                    if ok {
                        "REFUSED BUT TOLERATED by"
                    } else {
                        "caught by"
                    },
                    SCENARIOS[n],
                );
            }
            None => {
                println!("{i:>3} {:<70} SURVIVED every scenario", m.describe());
                survived.push(m.describe());
            }
        }
    }
    println!(
        "mutations: {} in all, {caught} caught, {skipped} not exercised, {} tolerated, {} survived, in {:.0} s",
        all.len(),
        tolerated.len(),
        survived.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        survived.is_empty() && tolerated.is_empty(),
        "survived: {survived:#?}; refused but no scenario failed: {tolerated:#?}"
    );
}
