use super::*;
use aws_sdk_s3::operation::get_object::GetObjectOutput;
use aws_sdk_s3::operation::head_object::HeadObjectOutput;
use aws_sdk_s3::operation::put_object::PutObjectOutput;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3control::operation::create_job::CreateJobOutput;
use aws_smithy_mocks::{mock, Rule};
use ferry_core::names::Attempt;
use ferry_core::steps::{RetryManifestRef, RunPlan};
use std::sync::{Arc, Mutex};

fn config() -> StackConfig {
    ferry_core::testing::destination_stack()
}

fn plan() -> RunPlan {
    ferry_core::testing::csv_plan()
}

type Shared<T> = Arc<Mutex<Option<T>>>;

/// What the handler sent: the CreateJob input, and the job record's key and body.
struct Seen {
    create: Shared<aws_sdk_s3control::operation::create_job::CreateJobInput>,
    record: Shared<(String, Vec<u8>)>,
}

fn rules(csv: &'static str, sse: Option<ServerSideEncryption>) -> (Vec<Rule>, Vec<Rule>, Seen) {
    let seen = Seen {
        create: Default::default(),
        record: Default::default(),
    };
    let (c, r) = (seen.create.clone(), seen.record.clone());
    let s3 = vec![
        mock!(aws_sdk_s3::Client::head_object).then_compute_output(move |req| {
            assert!(req.expected_bucket_owner().is_some());
            let mut b = HeadObjectOutput::builder()
                .e_tag("\"0a1b2c3d\"")
                .version_id("v7");
            if let Some(s) = sse.clone() {
                b = b.server_side_encryption(s);
            }
            b.build()
        }),
        mock!(aws_sdk_s3::Client::get_object).then_compute_output(move |req| {
            assert_eq!(req.range(), Some("bytes=0-65535"));
            GetObjectOutput::builder()
                .body(ByteStream::from_static(csv.as_bytes()))
                .build()
        }),
        mock!(aws_sdk_s3::Client::put_object).then_compute_output(move |req| {
            *r.lock().unwrap() = Some((
                req.key().unwrap().to_string(),
                req.body().bytes().unwrap().to_vec(),
            ));
            PutObjectOutput::builder().build()
        }),
    ];
    let s3c = vec![
        mock!(aws_sdk_s3control::Client::create_job).then_compute_output(move |req| {
            *c.lock().unwrap() = Some(req.clone());
            CreateJobOutput::builder()
                .job_id("3c2d9a6b-0000-4000-8000-00000000abcd")
                .build()
        }),
    ];
    (s3, s3c, seen)
}

async fn submit(
    s3: &[Rule],
    s3c: &[Rule],
    attempt: Attempt,
    retry: Option<RetryManifestRef>,
) -> Result<JobRecord, StepError> {
    submit_plan(s3, s3c, plan(), attempt, retry).await
}

async fn submit_plan(
    s3: &[Rule],
    s3c: &[Rule],
    plan: RunPlan,
    attempt: Attempt,
    retry: Option<RetryManifestRef>,
) -> Result<JobRecord, StepError> {
    let a: Vec<&Rule> = s3.iter().collect();
    let b: Vec<&Rule> = s3c.iter().collect();
    let clients = Clients::mocked(&a, &b, &[], &[]);
    let input = SubmitInput {
        plan,
        attempt,
        retry_manifest: retry,
    };
    handle(
        &clients,
        &config(),
        LambdaEvent::new(input, Default::default()),
    )
    .await
}

#[tokio::test]
async fn submits_the_csv_job_and_records_it_at_once() {
    let (s3, s3c, seen) = rules(
        include_str!("../../../shared/fixtures/csv-manifest.csv"),
        None,
    );
    let record = submit(&s3, &s3c, Attempt { run: 1, job: 0 }, None)
        .await
        .unwrap();
    assert_eq!(record.job_id, "3c2d9a6b-0000-4000-8000-00000000abcd");
    let sent = seen.create.lock().unwrap().clone().unwrap();
    assert_eq!(sent.client_request_token(), Some("ferry-photos-2026-1-0"));
    assert_eq!(sent.confirmation_required(), Some(false));
    let loc = sent.manifest().unwrap().location().unwrap();
    assert_eq!(
        loc.object_arn(),
        "arn:aws:s3:::src-manifests/lists/photos.csv"
    );
    assert_eq!(
        loc.e_tag(),
        "0a1b2c3d",
        "without the quotes HeadObject returns"
    );
    assert_eq!(loc.object_version_id(), Some("v7"));
    let fields: Vec<&str> = sent
        .manifest()
        .unwrap()
        .spec()
        .unwrap()
        .fields()
        .iter()
        .map(|f| f.as_str())
        .collect();
    assert_eq!(fields, ["Bucket", "Key"]);
    assert_eq!(
        sent.role_arn(),
        Some("arn:aws:iam::222222222222:role/ferry/ferry-batch-photos-2026")
    );
    let (key, body) = seen.record.lock().unwrap().clone().unwrap();
    assert_eq!(key, "control/photos-2026/run-1/job-0.json");
    let stored: JobRecord = serde_json::from_slice(&body).unwrap();
    assert_eq!(stored, record);
}

#[tokio::test]
async fn a_versioned_manifest_declares_its_version_column() {
    let (s3, s3c, seen) = rules(
        include_str!("../../../shared/fixtures/csv-manifest-versions.csv"),
        None,
    );
    submit(&s3, &s3c, Attempt { run: 1, job: 0 }, None)
        .await
        .unwrap();
    let sent = seen.create.lock().unwrap().clone().unwrap();
    assert_eq!(sent.manifest().unwrap().spec().unwrap().fields().len(), 3);
}

#[tokio::test]
async fn a_retry_job_reads_the_retry_manifest_with_the_next_token() {
    let (s3, s3c, seen) = rules("", None);
    let retry = RetryManifestRef {
        key: "retry/photos-2026/run-1/job-1.csv".into(),
        rows: 3,
        with_versions: false,
        kind: ferry_core::job::JobKind::Copy,
        rest: false,
        ..Default::default()
    };
    let record = submit(&s3, &s3c, Attempt { run: 1, job: 1 }, Some(retry))
        .await
        .unwrap();
    assert!(!record.kind.runs_worker());
    let sent = seen.create.lock().unwrap().clone().unwrap();
    assert_eq!(sent.client_request_token(), Some("ferry-photos-2026-1-1"));
    assert_eq!(
        sent.manifest().unwrap().location().unwrap().object_arn(),
        "arn:aws:s3:::ferry-222222222222-eu-west-1/retry/photos-2026/run-1/job-1.csv"
    );
    assert!(sent.operation().unwrap().s3_put_object_copy().is_some());
}

#[tokio::test]
async fn objects_over_5_gb_go_to_a_job_of_the_copy_worker() {
    let (s3, s3c, seen) = rules("", None);
    let retry = RetryManifestRef {
        key: "retry/photos-2026/run-1/job-1.csv".into(),
        rows: 1,
        with_versions: false,
        kind: ferry_core::job::JobKind::Worker,
        rest: false,
        ..Default::default()
    };
    let record = submit(&s3, &s3c, Attempt { run: 1, job: 1 }, Some(retry))
        .await
        .unwrap();
    assert!(
        record.kind.runs_worker(),
        "recorded, so that its retries stay the worker's"
    );
    let sent = seen.create.lock().unwrap().clone().unwrap();
    let op = sent.operation().unwrap();
    assert!(op.s3_put_object_copy().is_none());
    let invoke = op.lambda_invoke().expect("LambdaInvoke");
    assert_eq!(
        invoke.function_arn(),
        Some("arn:aws:lambda:eu-west-1:222222222222:function:ferry-copy-worker")
    );
    assert_eq!(invoke.invocation_schema_version(), Some("2.0"));
    let args = invoke.user_arguments().unwrap();
    assert_eq!(args["copyId"], "photos-2026");
    assert_eq!(args["destinationBucket"], "dst-photos");
    assert_eq!(args["partsInFlight"], "16");
}

#[tokio::test]
async fn manifests_batch_operations_would_fail_on_are_refused_before_create_job() {
    for (csv, sse, expected) in [
        (
            "other-bucket,k1\n",
            None,
            "row 1, field Bucket: not the copy's source.bucket (src-photos)",
        ),
        (
            "src-photos,secret%FFplan.pdf\n",
            None,
            "line 1: field Key: not a valid URL-encoded UTF-8 key",
        ),
        ("", None, "the CSV manifest is empty"),
        (
            "src-photos,k1\n",
            Some(ServerSideEncryption::AwsKms),
            "KMS-encrypted CSV manifest",
        ),
        (
            "src-photos,k1,v1\nsrc-photos,k2\n",
            None,
            "version id on every row or on none",
        ),
    ] {
        let (s3, s3c, seen) = rules(csv, sse);
        let err = submit(&s3, &s3c, Attempt { run: 1, job: 0 }, None)
            .await
            .unwrap_err();
        assert_eq!(err.name, ErrorName::InvalidRequest, "{csv}");
        assert!(err.cause.starts_with("manifest.key: "), "{}", err.cause);
        assert!(err.cause.contains(expected), "{}", err.cause);
        // The row's content never appears in the error.
        assert!(
            !err.cause.contains("other-bucket") && !err.cause.contains("secret"),
            "{}",
            err.cause
        );
        assert!(seen.create.lock().unwrap().is_none());
    }
}

/// A job reads only this copy's manifests: another copy's retry manifest, another bucket's
/// inventory report or an object elsewhere in the ferry bucket is refused before CreateJob, and
/// a plan this stack could not have made (a destination outside DestinationBuckets) submits
/// nothing.
#[tokio::test]
async fn only_this_copys_manifests_and_plans_become_jobs() {
    let (s3, s3c, seen) = rules("", None);
    let forged_retry = RetryManifestRef {
        key: "retry/someone-else/run-1/job-1.csv".into(),
        rows: 3,
        with_versions: false,
        kind: ferry_core::job::JobKind::Copy,
        rest: false,
        ..Default::default()
    };
    let err = submit(&s3, &s3c, Attempt { run: 1, job: 1 }, Some(forged_retry))
        .await
        .unwrap_err();
    assert_eq!(err.name, ErrorName::AccessDenied);
    assert!(
        err.cause.contains("is not one of this copy's"),
        "{}",
        err.cause
    );

    let mut inventory = ferry_core::testing::inventory_plan();
    for key in [
        "inventory/src-manifests/ferry-222222222222-photos-2026/2026-11-29T01-00Z/manifest.json",
        "control/photos-2026/plan.json",
    ] {
        inventory.inventory_manifest = Some(ferry_core::steps::InventoryManifestRef {
            key: key.into(),
            etag: "e".into(),
            created_at_millis: 0,
        });
        let err = submit_plan(
            &s3,
            &s3c,
            inventory.clone(),
            Attempt { run: 1, job: 0 },
            None,
        )
        .await
        .unwrap_err();
        assert_eq!(err.name, ErrorName::AccessDenied, "{key}");
        assert!(err.cause.contains("is not under this copy's inventory location inventory/src-photos/ferry-222222222222-photos-2026/"), "{}", err.cause);
    }

    let mut elsewhere = plan();
    elsewhere.request.destination.bucket = "prod-database-backups".into();
    let err = submit_plan(&s3, &s3c, elsewhere, Attempt { run: 1, job: 0 }, None)
        .await
        .unwrap_err();
    assert_eq!(err.name, ErrorName::AccessDenied);
    assert!(err.cause.contains("DestinationBuckets"), "{}", err.cause);
    assert!(seen.create.lock().unwrap().is_none(), "no job was created");
}

#[tokio::test]
async fn flow_a_counts_the_objects_the_job_cannot_copy_before_submitting_it() {
    // AWS's inventory manifest and data fixtures: one row each of over 5 GB, Deep Archive,
    // SSE-C and a delete marker, among six.
    let manifest = include_str!("../../../shared/fixtures/inventory-manifest.json").replace(
        "src-photos/ferry-photos-2026",
        "src-photos/ferry-222222222222-photos-2026",
    );
    let data =
        ferry_core::testing::gzip(include_str!("../../../shared/fixtures/inventory-data.csv"));
    let manifest_key =
        "inventory/src-photos/ferry-222222222222-photos-2026/2026-11-29T01-00Z/manifest.json";
    let (_, s3c, seen) = rules("", None);
    let s3 = vec![
        mock!(aws_sdk_s3::Client::get_object).then_compute_output(move |req| {
            let body = if req.key() == Some(manifest_key) {
                manifest.clone().into_bytes()
            } else {
                assert!(req.key().unwrap().contains("/data/"), "{:?}", req.key());
                data.clone()
            };
            GetObjectOutput::builder()
                .body(ByteStream::from(body))
                .build()
        }),
        mock!(aws_sdk_s3::Client::put_object).then_output(|| PutObjectOutput::builder().build()),
    ];
    let mut inventory = ferry_core::testing::inventory_plan();
    inventory.inventory_manifest = Some(ferry_core::steps::InventoryManifestRef {
        key: manifest_key.into(),
        etag: "e".into(),
        created_at_millis: 0,
    });
    let record = submit_plan(&s3, &s3c, inventory, Attempt { run: 1, job: 0 }, None)
        .await
        .unwrap();
    let found = record.not_copyable.expect("the fixture has four");
    assert_eq!(found.looked_at, 6);
    let counts: Vec<(&str, u64)> = found.counts.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(
        counts,
        [
            ("SSE-C", 1),
            ("archived", 1),
            ("delete marker", 1),
            ("over 5 GB", 1)
        ]
    );
    assert_eq!(found.keys["SSE-C"], ["2026/secret/key.bin"]);
    assert!(
        seen.create.lock().unwrap().is_some(),
        "the job still runs for the others"
    );
}

#[test]
fn an_inventory_mostly_over_5_gb_goes_to_the_worker_before_any_job() {
    use ferry_core::inventory::CopyObstacle;
    let found = |rows: u64, large: u64| {
        let mut n = NotCopyable {
            looked_at: rows,
            ..NotCopyable::default()
        };
        for i in 0..large {
            n.add(CopyObstacle::TooLarge, &format!("big/{i}"));
        }
        could_trip_threshold(&n)
    };
    assert!(found(1200, 800), "800 of 1,200 fail the copy job for sure");
    assert!(found(1000, 501));
    assert!(!found(1000, 500), "half is not over half");
    assert!(
        !found(999, 999),
        "under 1,000 tasks Batch Operations never judges the rate"
    );
    assert!(
        !found(10_000_000, 3),
        "a few large objects wait for the first job's report"
    );
}
