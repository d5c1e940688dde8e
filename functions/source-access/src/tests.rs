use super::*;
use aws_sdk_kms::operation::list_grants::ListGrantsOutput;
use aws_sdk_kms::operation::list_retirable_grants::ListRetirableGrantsOutput;
use aws_sdk_kms::types::GrantListEntry;
use aws_sdk_s3::error::ErrorMetadata;
use aws_sdk_s3::operation::delete_bucket_policy::DeleteBucketPolicyOutput;
use aws_sdk_s3::operation::get_bucket_policy::{GetBucketPolicyError, GetBucketPolicyOutput};
use aws_sdk_s3::operation::put_bucket_policy::PutBucketPolicyOutput;
use aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityOutput;
use aws_smithy_mocks::{mock, MockResponse, Rule};
use ferry_core::steps::RunPlan;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

type Store = Arc<Mutex<HashMap<String, String>>>;

const FOREIGN: &str = r#"{"Version":"2012-10-17","Statement":{"Sid":"CloudFront","Effect":"Allow","Principal":{"Service":"cloudfront.amazonaws.com"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::src-photos/*"}}"#;

fn config() -> StackConfig {
    ferry_core::testing::source_stack()
}

/// The function's role as GetCallerIdentity names its session.
const OWN_SESSION: &str =
    "arn:aws:sts::111111111111:assumed-role/src-SourceAccessFunctionRole-AB12/ferry-source-access";
const OWN_ROLE: &str = "arn:aws:iam::111111111111:role/src-SourceAccessFunctionRole-AB12";

fn caller_identity() -> Rule {
    mock!(aws_sdk_sts::Client::get_caller_identity)
        .then_output(|| GetCallerIdentityOutput::builder().arn(OWN_SESSION).build())
}

/// `clients` with STS answering as this function and KMS holding no grant retirable by it.
fn with_no_grants(clients: Clients) -> Clients {
    let retirable = mock!(aws_sdk_kms::Client::list_retirable_grants).then_output(|| {
        ListRetirableGrantsOutput::builder()
            .truncated(false)
            .build()
    });
    clients
        .with_sts(&[&caller_identity()])
        .with_kms(&[&retirable])
}

fn flow_b() -> RunPlan {
    ferry_core::testing::csv_plan()
}

/// What another writer does to the store right after ferry reads a bucket's policy.
type AfterRead = Arc<dyn Fn(&str, &Store) + Send + Sync>;

/// S3 bucket policies kept in memory; `drop_writes` PutBucketPolicy calls are acknowledged but
/// lost, as when another writer replaces the policy right after ferry.
fn s3_rules(store: &Store, drop_writes: usize) -> Vec<Rule> {
    s3_rules_with(store, drop_writes, Arc::new(|_, _| {}))
}

/// [`s3_rules`], with another writer acting after each GetBucketPolicy (ferry sees the policy
/// as it was before that writer's change).
fn s3_rules_with(store: &Store, drop_writes: usize, after_read: AfterRead) -> Vec<Rule> {
    let (g, p, d) = (store.clone(), store.clone(), store.clone());
    let dropped = Arc::new(Mutex::new(0usize));
    vec![
        mock!(aws_sdk_s3::Client::get_bucket_policy).then_compute_response(move |req| {
            let bucket = req.bucket().unwrap();
            let found = g.lock().unwrap().get(bucket).cloned();
            after_read(bucket, &g);
            match found {
                Some(policy) => {
                    MockResponse::Output(GetBucketPolicyOutput::builder().policy(policy).build())
                }
                None => MockResponse::Error(GetBucketPolicyError::generic(
                    ErrorMetadata::builder().code("NoSuchBucketPolicy").build(),
                )),
            }
        }),
        mock!(aws_sdk_s3::Client::put_bucket_policy).then_compute_output(move |req| {
            assert_eq!(req.expected_bucket_owner(), Some("111111111111"));
            let mut n = dropped.lock().unwrap();
            if *n < drop_writes {
                *n += 1;
            } else {
                p.lock().unwrap().insert(
                    req.bucket().unwrap().to_string(),
                    req.policy().unwrap().to_string(),
                );
            }
            PutBucketPolicyOutput::builder().build()
        }),
        mock!(aws_sdk_s3::Client::delete_bucket_policy).then_compute_output(move |req| {
            d.lock().unwrap().remove(req.bucket().unwrap());
            DeleteBucketPolicyOutput::builder().build()
        }),
    ]
    .into_iter()
    .chain(no_sse_kms())
    .collect()
}

/// No SSE-KMS in the source bucket: no default key, no object under the prefix (the keys are
/// the end-to-end encryption suite's).
fn no_sse_kms() -> [Rule; 2] {
    [
        mock!(aws_sdk_s3::Client::get_bucket_encryption).then_error(|| {
            aws_sdk_s3::operation::get_bucket_encryption::GetBucketEncryptionError::generic(
                ErrorMetadata::builder()
                    .code("ServerSideEncryptionConfigurationNotFoundError")
                    .build(),
            )
        }),
        mock!(aws_sdk_s3::Client::list_objects_v2).then_output(|| {
            aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output::builder().build()
        }),
    ]
}

/// A store where src-photos has its owner's policy, [`FOREIGN`].
fn with_foreign_policy() -> Store {
    let store: Store = Default::default();
    store
        .lock()
        .unwrap()
        .insert("src-photos".into(), FOREIGN.into());
    store
}

async fn call(
    store: &Store,
    drop_writes: usize,
    action: AccessAction,
    plan: &RunPlan,
) -> Result<AccessOutput, StepError> {
    let rules = s3_rules(store, drop_writes);
    let refs: Vec<&Rule> = rules.iter().collect();
    let clients = with_no_grants(Clients::mocked(&refs, &[], &[], &[]));
    let input = AccessInput {
        action,
        plan: plan.clone(),
        expires_at: None,
    };
    handle(&clients, &config(), event(input)).await
}

fn statements(policy: &str) -> Vec<Value> {
    let v: Value = serde_json::from_str(policy).unwrap();
    match &v["Statement"] {
        Value::Array(a) => a.clone(),
        o => vec![o.clone()],
    }
}

#[tokio::test]
async fn grant_adds_read_access_beside_foreign_statements_and_revoke_restores_them() {
    let store = with_foreign_policy();
    let p = flow_b();
    let out = call(&store, 0, AccessAction::Grant, &p).await.unwrap();
    assert_eq!(out.changed, ["src-manifests", "src-photos"]);
    let src = store.lock().unwrap()["src-photos"].clone();
    let s = statements(&src);
    assert_eq!(s.len(), 3);
    let foreign: Value = serde_json::from_str(FOREIGN).unwrap();
    assert_eq!(s[0], foreign["Statement"]);
    assert_eq!(s[1]["Sid"], format!("FerrySourceRead{}", p.names().hash));
    assert_eq!(s[1]["Principal"]["AWS"], "arn:aws:iam::222222222222:root");
    let manifests = store.lock().unwrap()["src-manifests"].clone();
    assert_eq!(
        statements(&manifests)[0]["Resource"],
        "arn:aws:s3:::src-manifests/lists/photos.csv"
    );

    // A second grant changes nothing; verify finds everything in place.
    assert!(call(&store, 0, AccessAction::Grant, &p)
        .await
        .unwrap()
        .changed
        .is_empty());
    assert!(call(&store, 0, AccessAction::Verify, &p)
        .await
        .unwrap()
        .changed
        .is_empty());

    let out = call(&store, 0, AccessAction::Revoke, &p).await.unwrap();
    assert_eq!(out.changed, ["src-manifests", "src-photos"]);
    let after: Value = serde_json::from_str(&store.lock().unwrap()["src-photos"]).unwrap();
    assert_eq!(
        statements(&after.to_string()),
        [foreign["Statement"].clone()]
    );
    assert!(
        !store.lock().unwrap().contains_key("src-manifests"),
        "a policy left empty is deleted"
    );
}

#[tokio::test]
async fn a_dropped_write_is_noticed_and_written_again() {
    let store: Store = Default::default();
    let p = flow_b();
    call(&store, 2, AccessAction::Grant, &p).await.unwrap();
    let src = store.lock().unwrap()["src-photos"].clone();
    assert!(missing_statements(
        Some(&src),
        &p.policies().source_account_grants["src-photos"]
    )
    .unwrap()
    .is_empty());
}

#[tokio::test]
async fn a_writer_that_always_wins_is_a_retryable_failure() {
    let store: Store = Default::default();
    let err = call(&store, 100, AccessAction::Grant, &flow_b())
        .await
        .unwrap_err();
    assert_eq!(err.name, ErrorName::Retryable);
    assert!(
        err.cause.contains("another writer keeps replacing them"),
        "{}",
        err.cause
    );
}

#[tokio::test]
async fn verify_puts_back_a_grant_removed_by_hand() {
    let store: Store = Default::default();
    let p = flow_b();
    call(&store, 0, AccessAction::Grant, &p).await.unwrap();
    store
        .lock()
        .unwrap()
        .insert("src-photos".into(), FOREIGN.into());
    let out = call(&store, 0, AccessAction::Verify, &p).await.unwrap();
    assert_eq!(out.changed, ["src-photos"]);
    assert_eq!(statements(&store.lock().unwrap()["src-photos"]).len(), 3);
}

#[tokio::test]
async fn a_renewal_moves_the_expiry() {
    let store: Store = Default::default();
    let p = flow_b();
    call(&store, 0, AccessAction::Grant, &p).await.unwrap();
    let rules = s3_rules(&store, 0);
    let refs: Vec<&Rule> = rules.iter().collect();
    let clients = with_no_grants(Clients::mocked(&refs, &[], &[], &[]));
    let later = p.expires_at + 86_400;
    let input = AccessInput {
        action: AccessAction::Grant,
        plan: p.clone(),
        expires_at: Some(later),
    };
    let out = handle(&clients, &config(), event(input)).await.unwrap();
    assert_eq!(out.expires_at, later);
    let s = statements(&store.lock().unwrap()["src-photos"]);
    assert_eq!(s.len(), 2, "replaced, not added");
    assert_eq!(
        s[0]["Condition"]["DateLessThan"]["aws:CurrentTime"],
        ferry_core::clock::format_timestamp(later)
    );
}

#[tokio::test]
async fn revoke_keeps_grants_when_the_request_says_so_and_other_errors_are_named() {
    let store: Store = Default::default();
    let mut p = flow_b();
    call(&store, 0, AccessAction::Grant, &p).await.unwrap();
    p.request.cleanup.revoke_grants = false;
    assert!(call(&store, 0, AccessAction::Revoke, &p)
        .await
        .unwrap()
        .changed
        .is_empty());
    assert_eq!(store.lock().unwrap().len(), 2);

    let denied = mock!(aws_sdk_s3::Client::get_bucket_policy).then_error(|| {
        GetBucketPolicyError::generic(
            ErrorMetadata::builder()
                .code("AccessDenied")
                .message("Access Denied")
                .build(),
        )
    });
    let [encryption, listing] = no_sse_kms();
    let clients = with_no_grants(Clients::mocked(
        &[&denied, &encryption, &listing],
        &[],
        &[],
        &[],
    ));
    let input = AccessInput {
        action: AccessAction::Grant,
        plan: flow_b(),
        expires_at: None,
    };
    let err = handle(&clients, &config(), event(input)).await.unwrap_err();
    assert_eq!(err.name, ErrorName::AccessDenied);
    assert!(
        err.cause
            .starts_with("GetBucketPolicy on src-manifests: AccessDenied"),
        "{}",
        err.cause
    );
}

#[tokio::test]
async fn a_bucket_outside_source_buckets_is_refused_before_its_policy_is_read() {
    let store: Store = Default::default();
    store
        .lock()
        .unwrap()
        .insert("payroll".into(), FOREIGN.into());
    let mut p = flow_b();
    p.request.source.bucket = "payroll".into();
    let err = call(&store, 0, AccessAction::Grant, &p).await.unwrap_err();
    assert_eq!(err.name, ErrorName::AccessDenied);
    assert!(
        err.cause
            .contains("source.bucket: payroll is not in the stacks' SourceBuckets parameter"),
        "{}",
        err.cause
    );
    // Nothing was written anywhere: the foreign policy is as it was, the manifest bucket untouched.
    assert_eq!(store.lock().unwrap()["payroll"], FOREIGN);
    assert!(!store.lock().unwrap().contains_key("src-manifests"));
    // Its revoke (another source account's bucket, which a destination stack copying from both
    // lists) has nothing to take back there: it succeeds and leaves that policy as it was.
    let out = call(&store, 0, AccessAction::Revoke, &p).await.unwrap();
    assert!(out.changed.is_empty(), "{:?}", out.changed);
    assert_eq!(store.lock().unwrap()["payroll"], FOREIGN);
}

#[tokio::test]
async fn a_revoke_undone_by_a_stale_writer_is_done_again() {
    // Another copy read the policy before this revoke and wrote it back after: ferry's
    // statements are back once. The next round, after the settle pause, removes them again.
    let store = with_foreign_policy();
    let p = flow_b();
    call(&store, 0, AccessAction::Grant, &p).await.unwrap();
    let out = call(&store, 1, AccessAction::Revoke, &p).await.unwrap();
    assert_eq!(out.changed, ["src-manifests", "src-photos"]);
    let s = store.lock().unwrap();
    assert_eq!(statements(&s["src-photos"]), statements(FOREIGN));
    assert!(
        !s.contains_key("src-manifests"),
        "ferry's was its only statement: deleted"
    );
}

/// The security review's second finding: whoever could run code as the state machine's role
/// could hand source-access a plan naming a third account, or a grant until 9999. Each forged
/// plan is refused before any bucket policy is read or written.
#[tokio::test]
async fn a_forged_plan_grants_nothing() {
    let good = flow_b();
    let mut third_account = good.clone();
    third_account.request.destination.account_id = "444444444444".into();
    third_account.ferry_bucket = "ferry-444444444444-eu-west-1".into();
    // As if invoked through an alias of that account (the stack makes none: the layer behind).
    third_account.source_side = ferry_core::names::SourceSide::of(
        &good.request.source.account_id,
        &good.request.region,
        "444444444444",
    );
    let mut forever = good.clone();
    forever.expires_at = 253_402_300_799; // 9999-12-31T23:59:59Z
    let mut other_ferry_bucket = good.clone();
    other_ferry_bucket.ferry_bucket = "exfiltration-bucket".into();
    for (plan, why) in [
        (&third_account, "serves the destination accounts of its DestinationAccountIds parameter (222222222222); the plan's destination.accountId is 444444444444: refused"),
        (&forever, "9999-12-31T23:59:59Z lies beyond now + timing.grantLifetimeSeconds"),
        (&other_ferry_bucket, "ferry bucket is exfiltration-bucket, not the destination stack's ferry-222222222222-eu-west-1"),
    ] {
        for action in [AccessAction::Grant, AccessAction::Verify] {
            let store = with_foreign_policy();
            let err = call(&store, 0, action, plan).await.unwrap_err();
            assert_eq!(err.name, ErrorName::AccessDenied);
            assert!(err.cause.contains(why), "{}", err.cause);
            assert_eq!(store.lock().unwrap()["src-photos"], FOREIGN, "nothing written");
            assert_eq!(store.lock().unwrap().len(), 1);
        }
    }
    // A renewal to 9999 on a good plan is refused the same way.
    let store = with_foreign_policy();
    let rules = s3_rules(&store, 0);
    let refs: Vec<&Rule> = rules.iter().collect();
    let input = AccessInput {
        action: AccessAction::Grant,
        plan: good,
        expires_at: Some(253_402_300_799),
    };
    let err = handle(
        &with_no_grants(Clients::mocked(&refs, &[], &[], &[])),
        &config(),
        event(input),
    )
    .await
    .unwrap_err();
    assert_eq!(err.name, ErrorName::AccessDenied);
    assert_eq!(store.lock().unwrap()["src-photos"], FOREIGN);
}

/// Another writer adds its statement between ferry's read and its write: ferry's two reads
/// differ, so it starts over from the newer policy and keeps the statement. On revoke, a
/// policy that held only ferry's statements at the first read is then written back with the
/// other writer's statement instead of being deleted.
#[tokio::test]
async fn a_change_between_two_reads_restarts_the_merge_and_loses_nothing() {
    for action in [AccessAction::Grant, AccessAction::Revoke] {
        let p = flow_b();
        let store: Store = Default::default();
        if action == AccessAction::Revoke {
            call(&store, 0, AccessAction::Grant, &p).await.unwrap();
            let mine = store.lock().unwrap()["src-photos"].clone();
            assert_eq!(statements(&mine).len(), 2, "only ferry's statements");
        }
        // The other writer acts once, right after ferry's first read of src-photos.
        let reads = Arc::new(Mutex::new(0usize));
        let other_writer: AfterRead = Arc::new(move |bucket, store| {
            let mut n = reads.lock().unwrap();
            if bucket != "src-photos" {
                return;
            }
            *n += 1;
            if *n == 1 {
                let mut s = store.lock().unwrap();
                let mut doc: Value = match s.get(bucket) {
                    Some(text) => serde_json::from_str(text).unwrap(),
                    None => serde_json::json!({"Version": "2012-10-17", "Statement": []}),
                };
                let foreign: Value = serde_json::from_str(FOREIGN).unwrap();
                doc["Statement"]
                    .as_array_mut()
                    .unwrap()
                    .push(foreign["Statement"].clone());
                s.insert(bucket.to_string(), doc.to_string());
            }
        });
        let rules = s3_rules_with(&store, 0, other_writer);
        let refs: Vec<&Rule> = rules.iter().collect();
        let input = AccessInput {
            action,
            plan: p.clone(),
            expires_at: None,
        };
        handle(
            &with_no_grants(Clients::mocked(&refs, &[], &[], &[])),
            &config(),
            event(input),
        )
        .await
        .unwrap();
        let after = store.lock().unwrap().get("src-photos").cloned();
        let after = after.expect("the other writer's statement keeps the policy");
        let sids: Vec<String> = statements(&after)
            .iter()
            .map(|s| s["Sid"].as_str().unwrap_or_default().to_string())
            .collect();
        assert!(
            sids.contains(&"CloudFront".to_string()),
            "{action:?}: {after}"
        );
        let ferrys = sids.iter().filter(|s| s.starts_with("Ferry")).count();
        assert_eq!(
            ferrys,
            if action == AccessAction::Grant { 2 } else { 0 },
            "{after}"
        );
    }
}

/// The event as the state machine sends it: invoked through the alias of the plan's own
/// destination account (its `sourceSide.accessFunction`).
fn event(input: AccessInput) -> LambdaEvent<AccessInput> {
    let mut ctx = lambda_runtime::Context::default();
    ctx.invoked_function_arn = input.plan.source_side.access_function.clone();
    LambdaEvent::new(input, ctx)
}

/// Security finding 3: a destination account invokes its own alias with a plan naming another
/// destination account's copy, to revoke that copy's grants. Refused before any call to AWS
/// (the mocked clients answer nothing), whatever the action.
#[tokio::test]
async fn another_destinations_plan_is_refused_before_any_call() {
    let p = flow_b();
    let theirs = p.request.destination.account_id.clone();
    for action in [
        AccessAction::Revoke,
        AccessAction::Grant,
        AccessAction::Verify,
    ] {
        let input = AccessInput {
            action,
            plan: p.clone(),
            expires_at: None,
        };
        let mut ctx = lambda_runtime::Context::default();
        ctx.invoked_function_arn = p
            .source_side
            .access_function
            .replace(&theirs, "333333333333");
        let err = handle(
            &Clients::mocked(&[], &[], &[], &[]),
            &config(),
            LambdaEvent::new(input, ctx),
        )
        .await
        .unwrap_err();
        assert_eq!(err.name, ErrorName::AccessDenied, "{action:?}");
        assert!(
            err.cause
                .contains("alias of destination account 333333333333")
                && err.cause.contains(&format!("with a plan into {theirs}")),
            "{err:?}"
        );
    }
}

/// Security finding 6: a revoke finds this copy's grants on the keys listed now (ListGrants,
/// then RevokeGrant) and, through the retiring principal every grant names, on a key of this
/// account the stack no longer lists (ListRetirableGrants, then RetireGrant: IAM no longer lets
/// this role revoke there). A grant named with the 40-bit hash of earlier versions is not this
/// copy's, nor another's; and a grant another account made on its own key, naming this role
/// as retiring principal and this copy's grant name, is never touched.
#[tokio::test]
async fn revoke_finds_the_copys_grants_on_listed_and_unlisted_keys() {
    let p = flow_b();
    let names = p.names();
    let mut config = config();
    let listed = "arn:aws:kms:eu-west-1:111111111111:key/11111111-1111-4111-8111-000000000001";
    let unlisted = "arn:aws:kms:eu-west-1:111111111111:key/11111111-1111-4111-8111-00000000000f";
    config.source_kms_key_arns = vec![listed.to_string()];
    let legacy = format!("ferry-{}-r1", &names.hash[..10]);
    let entry = |key: &str, id: &str, name: &str, grantee: &str| {
        GrantListEntry::builder()
            .key_id(key)
            .grant_id(id)
            .name(name)
            .grantee_principal(grantee)
            .retiring_principal(OWN_ROLE)
            .build()
    };
    let other_role = "arn:aws:iam::333333333333:role/ferry/ferry-batch-photos-2026";
    let on_listed = vec![
        entry(
            listed,
            "g-listed",
            &names.kms_grant_name_of_run(2),
            &names.batch_role_arn,
        ),
        entry(listed, "g-legacy", &legacy, &names.batch_role_arn),
        entry(listed, "g-collides", &legacy, other_role),
        entry(listed, "g-foreign", "someone-elses", &names.batch_role_arn),
    ];
    // ListRetirableGrants answers every grant of ferry's in the account, the listed key's too.
    let mut retirable = on_listed.clone();
    retirable.push(entry(
        unlisted,
        "g-unlisted",
        &names.kms_grant_name_of_run(1),
        "AROAEXAMPLEID",
    ));
    let removed: Arc<Mutex<Vec<String>>> = Default::default();
    let (revoked, retired) = (removed.clone(), removed.clone());
    let list = mock!(aws_sdk_kms::Client::list_grants).then_output(move || {
        ListGrantsOutput::builder()
            .set_grants(Some(on_listed.clone()))
            .truncated(false)
            .build()
    });
    let list_retirable = mock!(aws_sdk_kms::Client::list_retirable_grants)
        .match_requests(|r| r.retiring_principal() == Some(OWN_ROLE))
        .then_output(move || {
            ListRetirableGrantsOutput::builder()
                .set_grants(Some(retirable.clone()))
                .truncated(false)
                .build()
        });
    let revoke = mock!(aws_sdk_kms::Client::revoke_grant).then_compute_response(move |r| {
        revoked.lock().unwrap().push(format!(
            "revoke {} {}",
            r.key_id().unwrap(),
            r.grant_id().unwrap()
        ));
        MockResponse::Output(
            aws_sdk_kms::operation::revoke_grant::RevokeGrantOutput::builder().build(),
        )
    });
    let retire = mock!(aws_sdk_kms::Client::retire_grant).then_compute_response(move |r| {
        retired.lock().unwrap().push(format!(
            "retire {} {}",
            r.key_id().unwrap(),
            r.grant_id().unwrap()
        ));
        MockResponse::Output(
            aws_sdk_kms::operation::retire_grant::RetireGrantOutput::builder().build(),
        )
    });
    let clients = Clients::mocked(&[], &[], &[], &[])
        .with_sts(&[&caller_identity()])
        .with_kms(&[&list, &list_retirable, &revoke, &retire]);
    let keys = keys::revoke(&clients.kms, &config, &names, OWN_ROLE)
        .await
        .unwrap();
    assert_eq!(keys, [listed, unlisted]);
    let mut done = removed.lock().unwrap().clone();
    done.sort();
    assert_eq!(
        done,
        [
            format!("retire {unlisted} g-unlisted"),
            format!("revoke {listed} g-listed"),
        ]
    );
}
