//! Copies encrypted at the destination as asked: under the destination bucket's default KMS key,
//! under the key the request names, with SSE-S3 when asked; a key that does not let the Batch role
//! in fails every task naming the KMS action, and a default key S3 cannot be given use of is
//! refused at plan. The strict sandbox decides each KMS use as KMS does (key policy, grants, the
//! role's policies and ferry's boundary: local/sandbox/kms.py).

use aws_sdk_sfn::types::ExecutionStatus;
use ferry_local::scenario::Side;
use ferry_tests::*;
use serde_json::{json, Value};

/// Sets `bucket`'s default encryption to SSE-KMS under `key` (a key ARN or an alias).
async fn default_kms(world: &World, bucket: &str, key: &str) {
    ferry_local::objects::set_default_kms(&world.destination.s3, bucket, key)
        .await
        .unwrap();
}

/// The encryption of every sample's copy: (algorithm, KMS key).
async fn encryption_of_copies(world: &World) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    for s in samples() {
        let head = world
            .destination
            .s3
            .head_object()
            .bucket(DESTINATION_BUCKET)
            .key(&s.key)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{}: {e:?}", s.key));
        out.push((
            head.server_side_encryption()
                .map(|e| e.as_str().to_string())
                .unwrap_or_default(),
            head.ssekms_key_id().map(str::to_string),
        ));
    }
    out
}

/// Every sample's copy is encrypted with `algorithm`, under `key` (SSE-KMS) or none.
async fn assert_copies_encrypted(world: &World, algorithm: &str, key: Option<&str>) {
    let found = encryption_of_copies(world).await;
    assert!(
        found
            .iter()
            .all(|(a, k)| a == algorithm && k.as_deref() == key),
        "not all {algorithm} under {key:?}: {found:?}"
    );
}

fn with_encryption(mut request: Value, encryption: Value) -> Value {
    request["destination"]["encryption"] = encryption;
    request
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_are_encrypted_under_the_destination_buckets_default_key() {
    let world = World::seeded().await;
    let key = world.create_key(Side::Destination, None).await.unwrap();
    default_kms(&world, DESTINATION_BUCKET, &key).await;
    let run = world
        .run("photos-2026-1", &world.request("photos-2026"))
        .await;
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{run:?}");
    world.assert_copied(&samples()).await;
    assert_copies_encrypted(&world, "aws:kms", Some(&key)).await;
    world.assert_no_leftovers().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_are_encrypted_as_the_request_asks() {
    let world = World::seeded().await;
    let key = world.create_key(Side::Destination, None).await.unwrap();
    // SSE-KMS under the request's key, into a bucket without a default key.
    let request = with_encryption(
        world.request("photos-2026"),
        json!({"type": "SSE-KMS", "kmsKeyArn": key, "bucketKeyEnabled": true}),
    );
    let run = world.run("photos-2026-1", &request).await;
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{run:?}");
    assert_copies_encrypted(&world, "aws:kms", Some(&key)).await;
    // SSE-S3, asked for, into a bucket whose default is SSE-KMS: S3's own keys.
    default_kms(&world, DESTINATION_BUCKET, &key).await;
    // The objects are already there (the first copy's): re-encrypting them is overwriting.
    let mut request = with_encryption(world.request("photos-aes"), json!({"type": "SSE-S3"}));
    request["destination"]["existing"] = "overwrite".into();
    let run = world.run("photos-aes-1", &request).await;
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{run:?}");
    assert_copies_encrypted(&world, "AES256", None).await;
    world
        .assert_no_leftovers_of(&["photos-2026", "photos-aes"])
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_that_does_not_let_the_account_in_fails_every_task_naming_kms() {
    let world = World::seeded().await;
    // A key policy that names only the account's administrator role: IAM policies (the Batch
    // role's) count for nothing on this key.
    let admin = format!(
        "arn:aws:iam::{}:role/ferry-sandbox",
        world.sandbox.info.destination_account()
    );
    let policy = json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "AdminOnly", "Effect": "Allow", "Principal": {"AWS": admin}, "Action": "kms:*", "Resource": "*"}]});
    let key = world
        .create_key(Side::Destination, Some(&policy))
        .await
        .unwrap();
    let request = with_encryption(
        world.request("photos-2026"),
        json!({"type": "SSE-KMS", "kmsKeyArn": key}),
    );
    let run = world.run("photos-2026-1", &request).await;
    println!("{:?}: {:?}", run.error, run.cause);
    assert_eq!(run.status, ExecutionStatus::Failed, "{run:?}");
    assert_eq!(run.error.as_deref(), Some("CopyIncomplete"));
    let cause = run.cause.unwrap();
    assert!(
        cause.contains("errors: AccessDenied x6"),
        "permanent, not retried: {cause}"
    );
    // The completion report says which action on which key.
    let reports = report_texts(&world, "photos-2026").await;
    assert!(
        reports.contains("kms:GenerateDataKey") && reports.contains(&key),
        "{reports}"
    );
    world.assert_no_leftovers().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_default_key_named_by_alias_is_refused_at_plan() {
    let world = World::seeded().await;
    default_kms(&world, DESTINATION_BUCKET, "alias/photos").await;
    let run = world
        .run("photos-2026-1", &world.request("photos-2026"))
        .await;
    assert_eq!(run.status, ExecutionStatus::Failed);
    assert_eq!(run.error.as_deref(), Some("InvalidRequest"), "{run:?}");
    let cause = run.cause.unwrap();
    assert!(
        cause.contains("default encryption names the KMS key alias/photos")
            && cause.contains("set destination.encryption to SSE-KMS"),
        "{cause}"
    );
    assert_eq!(world.job_tokens().await.len(), 0);
    world.assert_no_leftovers().await;
}

/// Every completion report file of the copy's first run, concatenated.
async fn report_texts(world: &World, copy_id: &str) -> String {
    let bucket = ferry_core::layout::ferry_bucket_name(
        world.sandbox.info.destination_account(),
        &world.sandbox.info.region,
    );
    let layout =
        ferry_core::layout::CopyLayout::of(world.sandbox.info.destination_account(), copy_id);
    let listed = world
        .destination
        .s3
        .list_objects_v2()
        .bucket(&bucket)
        .prefix(layout.report_prefix(1))
        .send()
        .await
        .unwrap();
    let mut text = String::new();
    for o in listed.contents() {
        let (body, _) =
            ferry_core::clients::get_object_bytes(&world.destination.s3, &bucket, o.key().unwrap())
                .await
                .unwrap()
                .expect("a listed report file");
        text.push_str(&String::from_utf8_lossy(&body));
    }
    text
}

/// The samples, uploaded again under the source account's KMS key `key` (SSE-KMS).
async fn encrypt_samples(world: &World, key: &str) {
    ferry_local::objects::put_samples_encrypted(
        &world.source.s3,
        SOURCE_BUCKET,
        &samples(),
        Some(key),
    )
    .await
    .unwrap();
}

/// The names and grantees of the grants on `key`.
async fn grants_on(world: &World, key: &str) -> Vec<(String, String)> {
    grant_entries(world, key)
        .await
        .into_iter()
        .map(|g| {
            (
                g.name().unwrap_or_default().to_string(),
                g.grantee_principal().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// The grants on `key`, as ListGrants answers the source account's administrator.
async fn grant_entries(world: &World, key: &str) -> Vec<aws_sdk_kms::types::GrantListEntry> {
    let kms = aws_sdk_kms::Client::new(
        &world
            .sandbox
            .info
            .sdk_config(world.sandbox.info.source_account()),
    );
    let out = kms.list_grants().key_id(key).send().await.unwrap();
    out.grants().to_vec()
}

/// The role of the source account's `ferry-source-access`, every grant's retiring principal.
fn source_access_role(world: &World) -> String {
    let info = &world.sandbox.info;
    info.function(info.source_account(), "ferry-source-access")
        .role
        .clone()
}

async fn sse_kms_source_copy(world: &World, request: &Value) {
    let key = world.sandbox.info.kms_keys["source"].clone();
    encrypt_samples(world, &key).await;
    world.hold(true).await;
    let arn = world.start_execution("photos-2026-1", request).await;
    world.wait_for_active_job().await;
    // While the job runs: one grant, to the copy's Batch role, named after the copy.
    let grants = grants_on(world, &key).await;
    println!("grants during the job: {grants:?}");
    let role = format!(
        "arn:aws:iam::{}:role/ferry/ferry-batch-photos-2026",
        world.sandbox.info.destination_account()
    );
    assert_eq!(grants.len(), 1, "{grants:?}");
    assert!(
        grants[0].0.starts_with("ferry-") && grants[0].1 == role,
        "{grants:?}"
    );
    // Retirable by source-access, whatever becomes of the key's place in SourceKmsKeyArns.
    assert_eq!(
        grant_entries(world, &key).await[0].retiring_principal(),
        Some(source_access_role(world).as_str())
    );
    world.hold(false).await;
    let run = world.wait_for(&arn).await;
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{run:?}");
    world.assert_copied(&samples()).await;
    assert!(
        grants_on(world, &key).await.is_empty(),
        "the grant is retired"
    );
    world.assert_no_leftovers().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_kms_source_objects_are_copied_in_flow_b_with_a_grant_taken_back_after() {
    let world = World::seeded().await;
    let request = world.request("photos-2026");
    sse_kms_source_copy(&world, &request).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_kms_source_objects_are_copied_in_flow_a_with_a_grant_taken_back_after() {
    let world = World::seeded().await;
    // Into a bucket whose default is SSE-KMS under a key of the destination account: the
    // source key decrypts (the grant), the destination key encrypts (the Batch role's policy).
    let destination_key = world.create_key(Side::Destination, None).await.unwrap();
    default_kms(&world, DESTINATION_BUCKET, &destination_key).await;
    let request = world.inventory_request("photos-2026", 1, 120);
    sse_kms_source_copy(&world, &request).await;
    assert_copies_encrypted(&world, "aws:kms", Some(&destination_key)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_whose_policy_refuses_grants_fails_at_the_grant_with_the_statement_it_needs() {
    let world = World::seeded().await;
    let key = world.sandbox.info.kms_keys["sourceWithoutGrants"].clone();
    encrypt_samples(&world, &key).await;
    let run = world
        .run("photos-2026-1", &world.request("photos-2026"))
        .await;
    println!("{:?}: {:?}", run.error, run.cause);
    assert_eq!(run.status, ExecutionStatus::Failed);
    assert_eq!(run.error.as_deref(), Some("AccessDenied"), "{run:?}");
    // The cause is the function's error as Lambda reports it: {"errorType", "errorMessage"}.
    let cause: Value = serde_json::from_str(&run.cause.unwrap()).unwrap();
    let cause = cause["errorMessage"].as_str().unwrap();
    assert!(
        cause.contains(&format!("CreateGrant on {key}"))
            && cause.contains("add this statement to it")
            && cause.contains(r#""Action":["kms:CreateGrant","kms:ListGrants","kms:RevokeGrant"]"#),
        "{cause}"
    );
    assert_eq!(world.job_tokens().await.len(), 0, "no job");
    world.assert_no_leftovers().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_the_source_stack_does_not_list_is_refused_naming_the_parameter() {
    let world = World::seeded().await;
    let key = world.create_key(Side::Source, None).await.unwrap();
    encrypt_samples(&world, &key).await;
    let before = world.bucket_policy(&world.source.s3, SOURCE_BUCKET).await;
    let run = world
        .run("photos-2026-1", &world.request("photos-2026"))
        .await;
    assert_eq!(run.status, ExecutionStatus::Failed);
    assert_eq!(run.error.as_deref(), Some("AccessDenied"), "{run:?}");
    let cause = run.cause.unwrap();
    assert!(
        cause.contains(&format!("encrypted with the KMS key {key}"))
            && cause.contains("SourceKmsKeyArns parameter"),
        "{cause}"
    );
    assert_eq!(
        world.bucket_policy(&world.source.s3, SOURCE_BUCKET).await,
        before
    );
    world.assert_no_leftovers().await;
}

/// Two objects no grant can make copyable, under the copy's prefix next to the samples: one
/// under the source account's AWS managed key aws/s3, one SSE-C. Flow B's manifest lists them.
const MANAGED: &str = "2026/locked/managed.jpg";
const SSE_C: &str = "2026/locked/customer-key.bin";

async fn put_uncopyable(world: &World) {
    let s3 = &world.source.s3;
    ferry_local::objects::put_under_aws_managed_key(s3, SOURCE_BUCKET, MANAGED, b"aws/s3")
        .await
        .unwrap();
    ferry_local::objects::put_sse_c(s3, SOURCE_BUCKET, SSE_C, b"customer key")
        .await
        .unwrap();
    let mut listed = samples();
    for key in [MANAGED, SSE_C] {
        listed.push(ferry_local::objects::Sample {
            key: key.into(),
            body: Vec::new(),
            content_type: None,
            metadata: Default::default(),
            tags: Default::default(),
        });
    }
    put_manifest_of(&world.source.s3, MANIFEST_BUCKET, &listed).await;
}

/// The run ends CopyIncomplete with the six samples copied and the two locked objects counted
/// apart as not copyable (never retried: one job), the cause saying what to do about each.
async fn assert_locked_objects_counted_apart(world: &World, arn: &str) {
    let run = world.wait_for(arn).await;
    assert_eq!(run.status, ExecutionStatus::Failed, "{run:?}");
    assert_eq!(run.error.as_deref(), Some("CopyIncomplete"), "{run:?}");
    let cause = run.cause.unwrap();
    println!("cause: {cause}");
    for expected in [
        "2 objects were not copied",
        "InvalidRequest (SSE-C) x1",
        "AccessDenied (KMS key) x1",
        "not copyable (SSE-C): encrypted with a customer-provided key",
        "not copyable (KMS key): encrypted with a KMS key the Batch role may not use",
    ] {
        assert!(cause.contains(expected), "{expected}: {cause}");
    }
    assert_eq!(world.job_tokens().await.len(), 1, "nothing retried");
    world.assert_copied(&samples()).await;
    let reports = report_texts(world, "photos-2026").await;
    assert!(
        reports.contains("The object was stored using a form of Server Side Encryption")
            && reports.contains("kms:Decrypt"),
        "{reports}"
    );
    world.assert_no_leftovers().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_under_aws_s3_or_sse_c_are_said_before_the_job_and_counted_apart_in_flow_b() {
    let world = World::seeded().await;
    put_uncopyable(&world).await;
    let arn = world
        .start_execution("photos-2026-1", &world.request("photos-2026"))
        .await;
    world.wait_for(&arn).await;
    // Said before the job: source-access's sample found both, with what to do.
    let granted = world
        .state_output(&arn, "Grant source access")
        .await
        .expect("the grant ran");
    let found = &granted["grants"]["notCopyable"];
    assert_eq!(found["lookedAt"], 8, "{found}");
    assert_eq!(found["counts"], json!({"SSE-C": 1, "aws/s3": 1}), "{found}");
    assert_eq!(found["keys"]["aws/s3"], json!([MANAGED]), "{found}");
    assert_eq!(found["keys"]["SSE-C"], json!([SSE_C]), "{found}");
    assert_eq!(
        granted["grants"]["kmsGrants"],
        json!([]),
        "aws/s3 is never granted: {granted}"
    );
    assert_locked_objects_counted_apart(&world, &arn).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_under_aws_s3_or_sse_c_are_said_before_the_job_and_counted_apart_in_flow_a() {
    let world = World::seeded().await;
    put_uncopyable(&world).await;
    let arn = world
        .start_execution(
            "photos-2026-1",
            &world.inventory_request("photos-2026", 1, 120),
        )
        .await;
    world.wait_for(&arn).await;
    // Flow A reads every inventory row before submitting: the SSE-C one by its EncryptionStatus.
    let submitted = world
        .state_output(&arn, "Submit copy job")
        .await
        .expect("the job was submitted");
    let found = &submitted["job"]["record"]["notCopyable"];
    assert_eq!(found["lookedAt"], 8, "{found}");
    assert_eq!(found["counts"], json!({"SSE-C": 1}), "{found}");
    let granted = world
        .state_output(&arn, "Grant source access")
        .await
        .unwrap();
    assert_eq!(
        granted["grants"]["notCopyable"]["counts"]["aws/s3"], 1,
        "{granted}"
    );
    assert_locked_objects_counted_apart(&world, &arn).await;
}

/// The KMS grant, the source bucket's statements and the manifest's read grant take effect 10 s
/// after they are made (the sandbox's propagation delay; KMS: "usually less than five
/// minutes"): job-submit's first reads of the manifest are refused and retried, and every
/// SSE-KMS object is copied, none counted permanent or not copyable, the grant revoked after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_kms_source_objects_are_copied_under_a_ten_second_propagation_delay() {
    let world = World::seeded().await;
    let key = world.sandbox.info.kms_keys["source"].clone();
    encrypt_samples(&world, &key).await;
    world.propagation_delay(10).await;
    copied_with_the_grant_revoked(&world, &key).await;
}

/// Runs the copy (flow B): it succeeds with every sample copied and none failed, the grant on
/// `key` revoked and nothing of ferry's left.
async fn copied_with_the_grant_revoked(world: &World, key: &str) {
    let run = world
        .run("photos-2026-1", &world.request("photos-2026"))
        .await;
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{run:?}");
    let out = run.output.unwrap();
    assert_eq!(out["copied"], samples().len() as u64, "{out}");
    assert_eq!(out["failed"], 0, "{out}");
    world.assert_copied(&samples()).await;
    assert!(
        grants_on(world, key).await.is_empty(),
        "the grant is revoked"
    );
    world.assert_no_leftovers().await;
}

/// A source bucket whose default encryption names its key by alias (PutBucketEncryption takes
/// "the key ID, key alias, or the Amazon Resource Name (ARN) of the KMS key"): S3 writes under
/// the key the alias names, and source-access finds that key with DescribeKey, checks it
/// against SourceKmsKeyArns and grants it, where it once made `...:key/alias/...` of it and
/// refused the copy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_bucket_whose_default_key_is_an_alias_copies() {
    let world = World::seeded().await;
    let key = world.sandbox.info.kms_keys["source"].clone();
    let kms = aws_sdk_kms::Client::new(
        &world
            .sandbox
            .info
            .sdk_config(world.sandbox.info.source_account()),
    );
    kms.create_alias()
        .alias_name("alias/photos-source")
        .target_key_id(&key)
        .send()
        .await
        .unwrap();
    ferry_local::objects::set_default_kms(&world.source.s3, SOURCE_BUCKET, "alias/photos-source")
        .await
        .unwrap();
    ferry_local::objects::put_samples(&world.source.s3, SOURCE_BUCKET, &samples())
        .await
        .unwrap();
    copied_with_the_grant_revoked(&world, &key).await;
}

/// `cleanup.revokeGrants: false` keeps only what expires by itself: the source buckets'
/// statements (their aws:CurrentTime expiry). The copy's Batch role and its KMS grant never
/// expire, so they are gone after the copy whatever the request says (the security round's
/// finding: a kept role and grant let a forged worker call copy an SSE-KMS object later).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kept_grants_are_only_the_statements_that_expire() {
    let world = World::seeded().await;
    let key = world.sandbox.info.kms_keys["source"].clone();
    encrypt_samples(&world, &key).await;
    let mut request = world.request("photos-2026");
    request["cleanup"] = json!({"revokeGrants": false});
    let run = world.run("photos-2026-1", &request).await;
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{run:?}");
    world.assert_copied(&samples()).await;
    assert!(
        grants_on(&world, &key).await.is_empty(),
        "the KMS grant is revoked"
    );
    let left = world
        .leftovers(SOURCE_BUCKET, &["photos-2026"])
        .await
        .unwrap();
    assert!(
        left.iter()
            .all(|l| l.contains("policy is not its owner's again")),
        "only the bucket statements stay: {left:#?}"
    );
    assert!(!left.is_empty(), "the statements stay until they expire");
    let statements = world.ferry_statements(SOURCE_BUCKET).await;
    assert!(
        statements
            .iter()
            .all(|s| s["Condition"]["DateLessThan"]["aws:CurrentTime"].is_string()),
        "each kept statement expires: {statements:#?}"
    );
}

/// Security finding 6: a grant of a copy's on a key the source stack no longer lists (here a
/// key created by the source account's administrator, which SourceKmsKeyArns never named, with
/// the grant made as source-access makes them) is found at the copy's end through its retiring
/// principal and retired; a grant on that key that names another retiring principal is not
/// ferry's to find, and stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_on_a_key_no_longer_listed_is_retired_at_the_copys_end() {
    let world = World::seeded().await;
    let info = &world.sandbox.info;
    let kms = aws_sdk_kms::Client::new(&info.sdk_config(info.source_account()));
    let key = kms
        .create_key()
        .description("a key that left SourceKmsKeyArns")
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .arn()
        .unwrap()
        .to_string();
    let batch_role = format!(
        "arn:aws:iam::{}:role/ferry/ferry-batch-photos-2026",
        info.destination_account()
    );
    let name = format!(
        "ferry-{}-r1",
        ferry_core::names::copy_hash(info.destination_account(), "photos-2026")
    );
    for (grant_name, retiring) in [
        (name.clone(), source_access_role(&world)),
        (
            "someone-elses".to_string(),
            format!("arn:aws:iam::{}:role/ferry-sandbox", info.source_account()),
        ),
    ] {
        kms.create_grant()
            .key_id(&key)
            .grantee_principal(&batch_role)
            .operations(aws_sdk_kms::types::GrantOperation::Decrypt)
            .name(grant_name)
            .retiring_principal(retiring)
            .send()
            .await
            .unwrap();
    }
    let run = world
        .run("photos-2026-1", &world.request("photos-2026"))
        .await;
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{run:?}");
    let left: Vec<String> = grants_on(&world, &key)
        .await
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    println!("grants on the unlisted key after the copy: {left:?}");
    assert_eq!(
        left,
        ["someone-elses"],
        "the copy's grant is retired, the other stays"
    );
    world.assert_no_leftovers().await;
}
