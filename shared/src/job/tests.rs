use super::*;
use crate::inventory::COPY_SIZE_MAX;
use crate::names::{Attempt, Names};
use crate::request::{CopyRequest, DESCRIPTION_MAX};

const FERRY: &str = "ferry-222222222222-eu-west-1";

fn request(fixture: &str) -> CopyRequest {
    CopyRequest::from_json(fixture).unwrap()
}

fn inventory_manifest() -> ManifestLocation {
    ManifestLocation {
        kind: ManifestKind::Inventory,
        object_arn: "arn:aws:s3:::ferry-222222222222-eu-west-1/inventory/src-photos/ferry-222222222222-photos-2026/2026-11-28T00-00Z/manifest.json".into(),
        etag: "60e460ba06e1e9bb8d7c8e3e6f0a2a01".into(),
        version_id: None,
        filter: None,
    }
}

fn first() -> Attempt {
    Attempt { run: 1, job: 0 }
}

#[test]
fn flow_a_job_matches_the_create_job_fixture() {
    let req = request(include_str!("../../fixtures/request-inventory.json"));
    let names = Names::new(&req, FERRY);
    let job = CreateJobRequest::for_copy(&req, &names, &inventory_manifest(), first());
    let expected: serde_json::Value =
        serde_json::from_str(include_str!("../../fixtures/create-job-inventory.json")).unwrap();
    assert_eq!(serde_json::to_value(&job).unwrap(), expected);
}

#[test]
fn flow_b_job_reads_the_csv_with_its_fields() {
    let req = request(include_str!("../../fixtures/request-csv.json"));
    let names = Names::new(&req, FERRY);
    let csv = ManifestLocation {
        kind: ManifestKind::Csv {
            with_versions: false,
        },
        object_arn: "arn:aws:s3:::src-manifests/lists/photos.csv".into(),
        etag: "\"0a1b2c\"".into(),
        version_id: Some("v1".into()),
        filter: None,
    };
    let job = CreateJobRequest::for_copy(&req, &names, &csv, first());
    assert_eq!(
        job.manifest.as_ref().unwrap().spec.format,
        ManifestFormat::Csv
    );
    assert_eq!(
        job.manifest.as_ref().unwrap().spec.fields,
        Some(vec![ManifestField::Bucket, ManifestField::Key])
    );
    assert_eq!(
        job.manifest
            .as_ref()
            .unwrap()
            .location
            .object_version_id
            .as_deref(),
        Some("v1")
    );
    let versioned = ManifestLocation {
        kind: ManifestKind::Csv {
            with_versions: true,
        },
        ..csv
    };
    let stored = serde_json::to_value(&versioned).unwrap();
    assert_eq!(
        stored["kind"],
        serde_json::json!({"csv": {"withVersions": true}})
    );
    let job = CreateJobRequest::for_copy(&req, &names, &versioned, first());
    assert_eq!(
        job.manifest.clone().unwrap().spec.fields.unwrap(),
        [
            ManifestField::Bucket,
            ManifestField::Key,
            ManifestField::VersionId
        ]
    );
}

#[test]
fn retry_jobs_get_their_own_token_and_a_description_within_limits() {
    let mut req = request(include_str!("../../fixtures/request-inventory.json"));
    req.job.description = Some("d".repeat(DESCRIPTION_MAX));
    req.destination.key_prefix = "copied/".into();
    let names = Names::new(&req, FERRY);
    let retry = Attempt { run: 2, job: 1 };
    let job = CreateJobRequest::for_copy(&req, &names, &inventory_manifest(), retry);
    assert_eq!(job.client_request_token, "ferry-photos-2026-2-1");
    assert_eq!(job.description.chars().count(), DESCRIPTION_MAX);
    assert!(job.description.ends_with(" (run 2, retry 1)"));
    assert_eq!(job.report.prefix, "reports/photos-2026/run-2");
    assert_eq!(
        job.operation
            .s3_put_object_copy
            .as_ref()
            .unwrap()
            .target_key_prefix
            .as_deref(),
        Some("copied/")
    );
}

#[test]
fn a_named_report_bucket_replaces_the_ferry_bucket() {
    let mut req = request(include_str!("../../fixtures/request-inventory.json"));
    req.report.bucket = Some("dst-reports".into());
    req.report.prefix = Some("audit".into());
    let names = Names::new(&req, FERRY);
    let job = CreateJobRequest::for_copy(&req, &names, &inventory_manifest(), first());
    assert_eq!(job.report.bucket, "arn:aws:s3:::dst-reports");
    assert_eq!(job.report.prefix, "audit/photos-2026/run-1");
    assert_eq!(job.report.expected_bucket_owner, "222222222222");
}

#[test]
fn the_sdk_call_carries_every_field() {
    let req = request(include_str!("../../fixtures/request-inventory.json"));
    let names = Names::new(&req, FERRY);
    let job = CreateJobRequest::for_copy(&req, &names, &inventory_manifest(), first());
    let conf = aws_sdk_s3control::Config::builder()
        .behavior_version(aws_sdk_s3control::config::BehaviorVersion::latest())
        .region(aws_sdk_s3control::config::Region::new("eu-west-1"))
        .build();
    let client = aws_sdk_s3control::Client::from_conf(conf);
    let call = job.apply(client.create_job()).unwrap();
    let input = call.as_input();
    assert_eq!(input.get_account_id().as_deref(), Some("222222222222"));
    assert_eq!(input.get_confirmation_required(), &Some(false));
    assert_eq!(
        input.get_client_request_token().as_deref(),
        Some("ferry-photos-2026-1-0")
    );
    assert_eq!(input.get_priority(), &Some(10));
    assert_eq!(
        input.get_role_arn().as_deref(),
        Some("arn:aws:iam::222222222222:role/ferry/ferry-batch-photos-2026")
    );
    let copy = input
        .get_operation()
        .as_ref()
        .and_then(|o| o.s3_put_object_copy())
        .unwrap();
    assert_eq!(copy.target_resource(), Some("arn:aws:s3:::dst-photos"));
    assert_eq!(copy.storage_class(), Some(&s3c::S3StorageClass::Standard));
    assert_eq!(
        copy.metadata_directive(),
        Some(&s3c::S3MetadataDirective::Copy)
    );
    assert_eq!(copy.target_key_prefix(), None);
    let report = input.get_report().as_ref().unwrap();
    assert_eq!(
        report.report_scope(),
        Some(&s3c::JobReportScope::FailedTasksOnly)
    );
    assert_eq!(
        report.format(),
        Some(&s3c::JobReportFormat::ReportCsv20180820)
    );
    let manifest = input.get_manifest().as_ref().unwrap();
    assert_eq!(
        manifest.spec().unwrap().format(),
        &s3c::JobManifestFormat::S3InventoryReportCsv20161130
    );
    assert_eq!(
        manifest.location().unwrap().e_tag(),
        "60e460ba06e1e9bb8d7c8e3e6f0a2a01"
    );
    let tags = input.get_tags().as_ref().unwrap();
    assert_eq!((tags[0].key(), tags[0].value()), ("team", "media"));
}

#[test]
fn complete_with_failed_tasks_is_partial_not_success() {
    assert_eq!(
        JobState::new("j", "Complete", 10, 10, 0).outcome,
        Some(JobOutcome::Succeeded)
    );
    assert_eq!(
        JobState::new("j", "Complete", 10, 9, 1).outcome,
        Some(JobOutcome::Partial)
    );
    assert_eq!(
        JobState::new("j", "Failed", 10, 0, 10).outcome,
        Some(JobOutcome::Failed)
    );
    assert_eq!(
        JobState::new("j", "Cancelled", 10, 3, 0).outcome,
        Some(JobOutcome::Cancelled)
    );
    assert_eq!(
        JobState::new("j", "Complete", 0, 0, 0).outcome,
        Some(JobOutcome::Succeeded),
        "an empty manifest copies nothing and that is done"
    );
    for s in ACTIVE_STATUSES {
        let st = JobState::new("j", s, 10, 1, 1);
        assert!(
            !st.terminal && st.is_active() && st.outcome.is_none(),
            "{s}"
        );
    }
}

#[test]
fn describe_job_is_normalized() {
    let job = s3c::JobDescriptor::builder()
        .job_id("f8fb9d89-a3aa-461d-bddc-ea6a1b131955")
        .status(s3c::JobStatus::Complete)
        .progress_summary(
            s3c::JobProgressSummary::builder()
                .total_number_of_tasks(1000)
                .number_of_tasks_succeeded(990)
                .number_of_tasks_failed(10)
                .timers(
                    s3c::JobTimers::builder()
                        .elapsed_time_in_active_seconds(42)
                        .build(),
                )
                .build(),
        )
        .failure_reasons(
            s3c::JobFailure::builder()
                .failure_code("AccessDenied")
                .failure_reason("Access Denied")
                .build(),
        )
        .build();
    let s = JobState::from_descriptor(&job);
    assert_eq!(s.total, 1000);
    assert_eq!(s.succeeded, 990);
    assert_eq!(s.failed, 10);
    assert_eq!(s.remaining(), 0);
    assert_eq!(s.elapsed_active_seconds, 42);
    assert_eq!(s.outcome, Some(JobOutcome::Partial));
    assert_eq!(s.failure_reasons[0].code, "AccessDenied");
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["outcome"], "Partial");
    assert_eq!(json["jobId"], "f8fb9d89-a3aa-461d-bddc-ea6a1b131955");
}

#[test]
fn waits_grow_from_poll_seconds_to_fifteen_minutes() {
    let mut w = None;
    let mut seen = Vec::new();
    for _ in 0..10 {
        let n = next_wait(60, 900, w, 0);
        seen.push(n);
        w = Some(n);
    }
    assert_eq!(seen, [60, 90, 135, 203, 305, 458, 687, 900, 900, 900]);
    assert_eq!(
        next_wait(1, 900, Some(1), 0),
        2,
        "a one-second poll still grows"
    );
    assert_eq!(next_wait(0, 900, None, 0), 1);
    assert_eq!(next_wait(5_000, 900, None, 0), MAX_WAIT_SECONDS);
    assert!(seen.windows(2).all(|p| p[0] <= p[1]));
}

#[test]
fn max_poll_seconds_caps_the_wait_for_the_first_looks_then_it_grows_again() {
    // A short job is seen finished within the cap: 1, 1.5, then 2 s at most.
    let mut w = None;
    let mut seen = Vec::new();
    for elapsed in [0, 1, 3, 5, 7] {
        let n = next_wait(1, 2, w, elapsed);
        seen.push(n);
        w = Some(n);
    }
    assert_eq!(seen, [1, 2, 2, 2, 2]);
    // After 600 looks' worth of the cap (1,200 s here) the wait grows again, to 15 minutes.
    assert_eq!(next_wait(1, 2, Some(2), 1_199), 2);
    assert_eq!(next_wait(1, 2, Some(2), 1_200), 3);
    assert_eq!(next_wait(1, 2, Some(900), 100_000), 900);
    // A cap below the poll is the poll; above 15 minutes, 15 minutes.
    assert_eq!(next_wait(60, 5, None, 0), 60);
    assert_eq!(next_wait(60, 5_000, Some(900), 0), 900);
}

#[test]
fn fourteen_days_of_tracking_fit_the_history_limit() {
    // About 9 history events per Wait/Task/Choice round; at most 25,000 per execution.
    let fourteen_days = 14 * 86_400;
    for (poll, max_poll) in [(1, 1), (1, 2), (1, 900), (60, 60), (60, 900), (900, 900)] {
        let rounds = rounds_to_cover(poll, max_poll, fourteen_days);
        assert!(
            rounds * 9 < 25_000,
            "poll {poll}, max {max_poll}: {rounds} rounds"
        );
    }
}

#[test]
fn grants_are_renewed_with_less_than_a_day_left_while_the_job_runs() {
    let lifetime = 1_468_800;
    let start = 1_795_873_550;
    let expires = grant_expiry(start, lifetime);
    let active = JobState::new("j", "Active", 10, 1, 0);
    let done = JobState::new("j", "Complete", 10, 10, 0);
    assert!(!grant_renewal_due(&active, start, expires, lifetime));
    assert!(!grant_renewal_due(
        &active,
        expires - 86_401,
        expires,
        lifetime
    ));
    assert!(grant_renewal_due(
        &active,
        expires - 86_400,
        expires,
        lifetime
    ));
    assert!(grant_renewal_due(&active, expires + 10, expires, lifetime));
    assert!(!grant_renewal_due(&done, expires - 10, expires, lifetime));
    // Sandbox lifetimes of seconds renew at half-life.
    assert!(!grant_renewal_due(
        &active,
        start + 29,
        grant_expiry(start, 60),
        60
    ));
    assert!(grant_renewal_due(
        &active,
        start + 30,
        grant_expiry(start, 60),
        60
    ));
}

#[test]
fn the_requested_encryption_goes_to_the_copy_operation() {
    let key = "arn:aws:kms:eu-west-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let mut req = request(include_str!("../../fixtures/request-inventory.json"));
    let names = Names::new(&req, FERRY);
    let copy = |req: &CopyRequest| {
        let job = CreateJobRequest::for_copy(req, &names, &inventory_manifest(), first());
        serde_json::to_value(&job).unwrap()["Operation"]["S3PutObjectCopy"].clone()
    };
    // None asked for: the destination bucket's default encryption applies, nothing is sent.
    let none = copy(&req);
    assert!(none.get("NewObjectMetadata").is_none() && none.get("SSEAwsKmsKeyId").is_none());
    req.destination.encryption = Some(crate::request::Encryption {
        kind: crate::request::EncryptionType::SseKms,
        kms_key_arn: Some(key.into()),
        bucket_key_enabled: true,
    });
    let kms = copy(&req);
    assert_eq!(kms["NewObjectMetadata"]["SSEAlgorithm"], "KMS");
    assert_eq!(kms["SSEAwsKmsKeyId"], key);
    assert_eq!(kms["BucketKeyEnabled"], true);
    // And on the SDK's call.
    let job = CreateJobRequest::for_copy(&req, &names, &inventory_manifest(), first());
    let conf = aws_sdk_s3control::Config::builder()
        .behavior_version(aws_sdk_s3control::config::BehaviorVersion::latest())
        .build();
    let call = job
        .apply(aws_sdk_s3control::Client::from_conf(conf).create_job())
        .unwrap();
    let op = call
        .get_operation()
        .as_ref()
        .unwrap()
        .s3_put_object_copy()
        .unwrap();
    assert_eq!(op.sse_aws_kms_key_id(), Some(key));
    assert!(op.bucket_key_enabled());
    assert_eq!(
        op.new_object_metadata().unwrap().sse_algorithm(),
        Some(&aws_sdk_s3control::types::S3SseAlgorithm::Kms)
    );
    req.destination.encryption = Some(crate::request::Encryption {
        kind: crate::request::EncryptionType::SseS3,
        kms_key_arn: None,
        bucket_key_enabled: false,
    });
    let s3 = copy(&req);
    assert_eq!(s3["NewObjectMetadata"]["SSEAlgorithm"], "AES256");
    assert!(s3.get("SSEAwsKmsKeyId").is_none() && s3.get("BucketKeyEnabled").is_none());
}

#[test]
fn flow_c_job_generates_its_manifest_as_the_create_job_fixture_says() {
    let req = request(include_str!("../../fixtures/request-generated.json"));
    let names = Names::new(&req, FERRY);
    let manifest = ManifestLocation::generated(&req, &names, None, SizeRoute::Copyable).unwrap();
    let job = CreateJobRequest::for_copy(&req, &names, &manifest, first());
    let expected: serde_json::Value =
        serde_json::from_str(include_str!("../../fixtures/create-job-generated.json")).unwrap();
    assert_eq!(serde_json::to_value(&job).unwrap(), expected);
    // The SDK takes it: a generator and no manifest.
    let conf = aws_sdk_s3control::Config::builder()
        .behavior_version(aws_sdk_s3control::config::BehaviorVersion::latest())
        .region(aws_sdk_s3control::config::Region::new("eu-west-1"))
        .build();
    let call = job
        .apply(aws_sdk_s3control::Client::from_conf(conf).create_job())
        .unwrap();
    let input = call.as_input();
    assert!(input.get_manifest().is_none());
    let generator = input.get_manifest_generator().as_ref().unwrap();
    let filter = generator
        .as_s3_job_manifest_generator()
        .unwrap()
        .filter()
        .unwrap();
    assert_eq!(filter.object_size_less_than_bytes(), Some(5_368_709_121));
    assert_eq!(
        filter.created_before().unwrap().secs(),
        crate::clock::parse_timestamp("2026-11-01T00:00:00Z").unwrap()
    );
}

#[test]
fn the_two_size_routes_cover_every_size_whichever_way_aws_reads_the_bounds() {
    let req = request(include_str!("../../fixtures/request-generated.json"));
    let names = Names::new(&req, FERRY);
    let bounds = |route| {
        let f = ManifestLocation::generated(&req, &names, None, route)
            .unwrap()
            .filter
            .unwrap();
        (
            f.object_size_greater_than_bytes,
            f.object_size_less_than_bytes,
        )
    };
    let (_, copy_less) = bounds(SizeRoute::Copyable);
    let (large_greater, large_less) = bounds(SizeRoute::Large);
    assert_eq!(large_less, None);
    let (copy_less, large_greater) = (copy_less.unwrap(), large_greater.unwrap());
    // Strict bounds: size < copy_less or size > large_greater. Inclusive: <= and >=. Either way
    // every size from 1 byte up is in one route at least, and nothing S3PutObjectCopy cannot
    // copy (over 5 GiB) is in its route under the strict reading the words give.
    for size in [
        1,
        COPY_SIZE_MAX - 1,
        COPY_SIZE_MAX,
        COPY_SIZE_MAX + 1,
        6 << 30,
    ] {
        let strict = size < copy_less || size > large_greater;
        let inclusive = size <= copy_less || size >= large_greater;
        assert!(strict && inclusive, "{size} is in no job");
    }
    assert!(COPY_SIZE_MAX < copy_less && COPY_SIZE_MAX + 1 >= copy_less);
    // The request's own bound narrows both routes; a bound under 5 GiB leaves no large route.
    let mut small_only = req.clone();
    if let crate::request::Manifest::Generated { filter } = &mut small_only.manifest {
        filter.size_less_than_bytes = Some(1 << 20);
    }
    assert!(ManifestLocation::generated(&small_only, &names, None, SizeRoute::Large).is_none());
    let copyable =
        ManifestLocation::generated(&small_only, &names, None, SizeRoute::Copyable).unwrap();
    assert_eq!(
        copyable.filter.unwrap().object_size_less_than_bytes,
        Some(1 << 20)
    );
}

#[test]
fn an_incremental_run_lists_from_the_overlap_before_the_last_complete_run() {
    let mut req = request(include_str!("../../fixtures/request-generated.json"));
    if let crate::request::Manifest::Generated { filter } = &mut req.manifest {
        filter.incremental = true;
        filter.overlap_seconds = 900;
    }
    let names = Names::new(&req, FERRY);
    let since = crate::clock::parse_timestamp("2026-12-01T06:00:00Z").unwrap();
    let f = ManifestLocation::generated(&req, &names, Some(since), SizeRoute::All)
        .unwrap()
        .filter
        .unwrap();
    assert_eq!(f.created_after.as_deref(), Some("2026-12-01T05:45:00Z"));
    // The first run has no last complete run: it lists everything.
    let f = ManifestLocation::generated(&req, &names, None, SizeRoute::All)
        .unwrap()
        .filter
        .unwrap();
    assert_eq!(f.created_after, None);
}
