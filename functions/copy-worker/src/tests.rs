use super::*;
use aws_sdk_s3::error::ErrorMetadata;
use aws_sdk_s3::operation::complete_multipart_upload::{
    CompleteMultipartUploadInput, CompleteMultipartUploadOutput,
};
use aws_sdk_s3::operation::copy_object::{CopyObjectInput, CopyObjectOutput};
use aws_sdk_s3::operation::create_multipart_upload::{
    CreateMultipartUploadInput, CreateMultipartUploadOutput,
};
use aws_sdk_s3::operation::delete_object::DeleteObjectOutput;
use aws_sdk_s3::operation::get_object::{GetObjectError, GetObjectOutput};
use aws_sdk_s3::operation::get_object_tagging::GetObjectTaggingOutput;
use aws_sdk_s3::operation::head_object::HeadObjectOutput;
use aws_sdk_s3::operation::list_parts::ListPartsOutput;
use aws_sdk_s3::operation::put_object::{PutObjectError, PutObjectOutput};
use aws_sdk_s3::operation::upload_part_copy::{UploadPartCopyInput, UploadPartCopyOutput};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CopyPartResult, Part as S3Part, Tag};
use aws_sdk_s3control::operation::describe_job::DescribeJobOutput;
use aws_sdk_s3control::types::{JobDescriptor, JobOperation, JobStatus, LambdaInvokeOperation};
use aws_sdk_sts::operation::assume_role::AssumeRoleOutput;
use aws_sdk_sts::types::Credentials;
use aws_smithy_mocks::{mock, Rule};
use ferry_core::worker::{DIFFERENT, IDENTICAL, MISSING, PART_MIB_DEFAULT, REFUSED, VERIFIED};
use std::sync::{Arc, Mutex};

const GIB: u64 = 1024 * MIB;
const SIZE: u64 = 6 * GIB;
const ETAG: &str = "\"9e107d9d372bb6826bd81d3542a419d6-769\"";

fn config() -> StackConfig {
    ferry_core::testing::destination_stack()
}

/// The worker as Lambda names it in the invocation's context.
const WORKER_ARN: &str = "arn:aws:lambda:eu-west-1:222222222222:function:ferry-copy-worker";

/// S3 Batch Operations' answer about the event's job: `status`, invoking the worker with
/// `args`, as the copy's Batch role (what job-submit creates).
fn job_of(args: BTreeMap<String, String>, status: JobStatus) -> Rule {
    mock!(aws_sdk_s3control::Client::describe_job).then_output(move || {
        let invoke = LambdaInvokeOperation::builder()
            .function_arn(WORKER_ARN)
            .set_user_arguments(Some(args.clone().into_iter().collect()))
            .build();
        DescribeJobOutput::builder()
            .job(
                JobDescriptor::builder()
                    .job_id("job-1")
                    .status(status.clone())
                    .role_arn(batch_role_arn("aws", "222222222222", "photos-2026"))
                    .operation(JobOperation::builder().lambda_invoke(invoke).build())
                    .build(),
            )
            .build()
    })
}

/// The copy's stored plan in the ferry bucket: the CSV fixture's request with the settings
/// `args` carry (as job-submit derives a job's arguments from the plan).
fn stored_plan(args: &BTreeMap<String, String>) -> Rule {
    // Arguments that do not parse are refused before the plan is read: any plan will do.
    let a = WorkerArguments::from_map(args)
        .unwrap_or_else(|_| WorkerArguments::from_map(&arguments()).unwrap());
    let mut request = ferry_core::testing::csv_plan().request;
    request.destination.existing = match a.existing {
        // A job of the rest of an overwriting copy looks first (skip-identical).
        Existing::SkipIdentical => Existing::Overwrite,
        other => other,
    };
    request.destination.storage_class = a.storage_class;
    request.destination.metadata_directive = a.metadata_directive;
    request.destination.encryption = a.encryption.clone();
    request.destination.key_prefix = a.key_prefix.clone();
    let plan = serde_json::to_vec(&ferry_core::control::StoredPlan { request }).unwrap();
    mock!(aws_sdk_s3::Client::get_object)
        .match_requests(|r| r.key().is_some_and(|k| k.ends_with("/plan.json")))
        .then_output(move || {
            GetObjectOutput::builder()
                .body(ByteStream::from(plan.clone()))
                .e_tag("\"p\"")
                .build()
        })
}

/// Powertools for AWS Lambda's schema 2.0 test event (the contract corpus), as S3 Batch
/// Operations sends it, with the sandbox's bucket and key and the copy's user arguments.
fn event(
    deadline_passed: bool,
    user_arguments: BTreeMap<String, String>,
) -> LambdaEvent<WorkerEvent> {
    let mut raw: serde_json::Value = serde_json::from_str(include_str!(
        "../../../shared/fixtures/contract/batch-invoke-event/2.0-powertools.json"
    ))
    .unwrap();
    raw["tasks"][0]["s3Bucket"] = "src-photos".into();
    // As the manifest has it: URL-encoded.
    raw["tasks"][0]["s3Key"] = "2026/video/raw%2Btake.mov".into();
    raw["job"]["userArguments"] = serde_json::to_value(&user_arguments).unwrap();
    let e: WorkerEvent = serde_json::from_value(raw).unwrap();
    let mut ctx = lambda_runtime::Context::default();
    ctx.invoked_function_arn = WORKER_ARN.into();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    ctx.deadline = if deadline_passed {
        (now - Duration::from_secs(1)).as_millis() as u64
    } else {
        (now + Duration::from_secs(900)).as_millis() as u64
    };
    LambdaEvent::new(e, ctx)
}

fn arguments() -> BTreeMap<String, String> {
    let req = ferry_core::testing::csv_plan().request;
    WorkerArguments::of(&req).to_map()
}

/// What the worker sent.
#[derive(Default)]
struct Seen {
    assumed: Vec<String>,
    created: Vec<CreateMultipartUploadInput>,
    part_copies: Vec<UploadPartCopyInput>,
    completed: Vec<CompleteMultipartUploadInput>,
    copied: Vec<CopyObjectInput>,
    records_written: Vec<(String, Vec<u8>)>,
    /// Each record write's If-None-Match.
    record_conditions: Vec<Option<String>>,
    records_deleted: Vec<String>,
    aborted: Vec<String>,
}

type Shared = Arc<Mutex<Seen>>;

struct World {
    size: u64,
    /// The object at the destination is under a KMS key the role may not decrypt with: a HEAD
    /// asking for its checksum is refused (403).
    checksum_refused: bool,
    /// The object at the destination lacks the source's user metadata and Content-Type.
    metadata_lost: bool,
    /// The object already at the destination key (size, ETag), if any.
    there: Option<(u64, &'static str)>,
    /// The record already in the ferry bucket, if any.
    record: Option<UploadRecord>,
    /// Part numbers ListParts returns as done.
    done: Vec<i32>,
    /// Another invocation's record appears between the worker's read and its write (the
    /// conditional write answers 412).
    record_taken: bool,
}

fn sts(seen: &Shared) -> Vec<Rule> {
    let s = seen.clone();
    vec![
        mock!(aws_sdk_sts::Client::assume_role).then_compute_output(move |req| {
            s.lock()
                .unwrap()
                .assumed
                .push(req.role_arn().unwrap().to_string());
            AssumeRoleOutput::builder()
                .credentials(
                    Credentials::builder()
                        .access_key_id("AKIAEXAMPLE")
                        .secret_access_key("secret")
                        .session_token("token")
                        .expiration(aws_sdk_sts::primitives::DateTime::from_secs(4_000_000_000))
                        .build()
                        .unwrap(),
                )
                .build()
        }),
    ]
}

fn s3(world: World, seen: &Shared) -> Vec<Rule> {
    let size = world.size;
    let record = world.record.map(|r| serde_json::to_vec(&r).unwrap());
    let done = world.done;
    let there = world.there;
    let checksum_refused = world.checksum_refused;
    let metadata_lost = world.metadata_lost;
    let record_taken = world.record_taken;
    let (s1, s2, s3, s4, s5, s6, s7) = (
        seen.clone(),
        seen.clone(),
        seen.clone(),
        seen.clone(),
        seen.clone(),
        seen.clone(),
        seen.clone(),
    );
    vec![
        mock!(aws_sdk_s3::Client::head_object)
            .match_requests(|r| r.bucket() == Some("dst-photos"))
            .then_compute_response(move |r| match there {
                Some(_) if checksum_refused && r.checksum_mode().is_some() => {
                    aws_smithy_mocks::MockResponse::Http(
                        aws_smithy_runtime_api::client::orchestrator::HttpResponse::new(
                            403.try_into().unwrap(),
                            aws_smithy_types::body::SdkBody::empty(),
                        ),
                    )
                }
                Some((size, etag)) => {
                    let mut head = HeadObjectOutput::builder()
                        .content_length(size as i64)
                        .e_tag(etag);
                    if !metadata_lost {
                        head = head
                            .content_type("video/quicktime")
                            .metadata("origin", "camera-2");
                    }
                    aws_smithy_mocks::MockResponse::Output(head.build())
                }
                None => aws_smithy_mocks::MockResponse::Http(
                    aws_smithy_runtime_api::client::orchestrator::HttpResponse::new(
                        404.try_into().unwrap(),
                        aws_smithy_types::body::SdkBody::empty(),
                    ),
                ),
            }),
        mock!(aws_sdk_s3::Client::head_object).then_compute_output(move |req| {
            assert_eq!(
                req.key(),
                Some("2026/video/raw+take.mov"),
                "the key decoded"
            );
            HeadObjectOutput::builder()
                .content_length(size as i64)
                .e_tag(ETAG)
                .content_type("video/quicktime")
                .metadata("origin", "camera-2")
                .build()
        }),
        mock!(aws_sdk_s3::Client::get_object)
            .match_requests(|req| req.key().unwrap().contains("/uploads/"))
            .then_compute_response(move |_| match &record {
                Some(r) => aws_smithy_mocks::MockResponse::Output(
                    GetObjectOutput::builder()
                        .body(ByteStream::from(r.clone()))
                        .e_tag("\"r\"")
                        .build(),
                ),
                None => aws_smithy_mocks::MockResponse::Error(GetObjectError::generic(
                    aws_sdk_s3::error::ErrorMetadata::builder()
                        .code("NoSuchKey")
                        .build(),
                )),
            }),
        mock!(aws_sdk_s3::Client::get_object_tagging).then_output(|| {
            GetObjectTaggingOutput::builder()
                .tag_set(
                    Tag::builder()
                        .key("team")
                        .value("media & film")
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap()
        }),
        mock!(aws_sdk_s3::Client::create_multipart_upload).then_compute_output(move |req| {
            s1.lock().unwrap().created.push(req.clone());
            CreateMultipartUploadOutput::builder()
                .upload_id("upload-2")
                .build()
        }),
        mock!(aws_sdk_s3::Client::put_object).then_compute_response(move |req| {
            let mut seen = s2.lock().unwrap();
            seen.record_conditions
                .push(req.if_none_match().map(str::to_string));
            if record_taken {
                return aws_smithy_mocks::MockResponse::Error(PutObjectError::generic(
                    ErrorMetadata::builder()
                        .code("PreconditionFailed")
                        .message("At least one of the pre-conditions you specified did not hold")
                        .build(),
                ));
            }
            seen.records_written.push((
                req.key().unwrap().to_string(),
                req.body().bytes().unwrap().to_vec(),
            ));
            aws_smithy_mocks::MockResponse::Output(PutObjectOutput::builder().build())
        }),
        mock!(aws_sdk_s3::Client::list_parts).then_compute_output(move |req| {
            let part_size = part_size(size, PART_MIB_DEFAULT);
            let all = parts(size, part_size);
            let mut out = ListPartsOutput::builder().upload_id(req.upload_id().unwrap());
            for n in &done {
                let p = all[(*n - 1) as usize];
                out = out.parts(
                    S3Part::builder()
                        .part_number(*n)
                        .e_tag(format!("\"part-{n}\""))
                        .size((p.last - p.first + 1) as i64)
                        .build(),
                );
            }
            out.build()
        }),
        mock!(aws_sdk_s3::Client::upload_part_copy).then_compute_output(move |req| {
            let n = req.part_number().unwrap();
            s3.lock().unwrap().part_copies.push(req.clone());
            UploadPartCopyOutput::builder()
                .copy_part_result(
                    CopyPartResult::builder()
                        .e_tag(format!("\"part-{n}\""))
                        .build(),
                )
                .build()
        }),
        mock!(aws_sdk_s3::Client::complete_multipart_upload).then_compute_output(move |req| {
            s4.lock().unwrap().completed.push(req.clone());
            CompleteMultipartUploadOutput::builder().build()
        }),
        mock!(aws_sdk_s3::Client::copy_object).then_compute_output(move |req| {
            s5.lock().unwrap().copied.push(req.clone());
            CopyObjectOutput::builder().build()
        }),
        mock!(aws_sdk_s3::Client::delete_object).then_compute_output(move |req| {
            s6.lock()
                .unwrap()
                .records_deleted
                .push(req.key().unwrap().to_string());
            DeleteObjectOutput::builder().build()
        }),
        mock!(aws_sdk_s3::Client::abort_multipart_upload).then_compute_output(move |req| {
            s7.lock()
                .unwrap()
                .aborted
                .push(req.upload_id().unwrap().to_string());
            aws_sdk_s3::operation::abort_multipart_upload::AbortMultipartUploadOutput::builder()
                .build()
        }),
    ]
}

async fn run(
    world: World,
    deadline_passed: bool,
    args: BTreeMap<String, String>,
) -> (WorkerResponse, Seen) {
    let job = job_of(args.clone(), JobStatus::Active);
    let plan = stored_plan(&args);
    run_for(world, &job, plan, event(deadline_passed, args)).await
}

/// The worker handed `event` while S3 Batch Operations describes its job with `job` and the
/// ferry bucket holds `plan`.
async fn run_for(
    world: World,
    job: &Rule,
    plan: Rule,
    event: LambdaEvent<WorkerEvent>,
) -> (WorkerResponse, Seen) {
    let seen: Shared = Default::default();
    let mut s3_rules = s3(world, &seen);
    s3_rules.insert(0, plan);
    let sts_rules = sts(&seen);
    let a: Vec<&Rule> = s3_rules.iter().collect();
    let b: Vec<&Rule> = sts_rules.iter().collect();
    let clients = Clients::mocked(&a, &[job], &[], &[]).with_sts(&b);
    let out = handle(&clients, &config(), event).await.unwrap();
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    (out, seen)
}

/// Events no job of ferry's sent, each refused before the worker assumes the copy's role or
/// writes anything: the job has ended; the event's arguments are not the job's (an overwrite
/// under `refuse`, another storage class, verify mode as an oracle); a task outside the
/// copy's source.
#[tokio::test]
async fn an_event_that_is_not_its_jobs_is_refused_before_anything_is_done() {
    let ended = job_of(arguments(), JobStatus::Complete);
    let plan = || stored_plan(&arguments());
    let (out, seen) = run_for(
        occupied(SIZE, ETAG),
        &ended,
        plan(),
        event(false, arguments()),
    )
    .await;
    let why = refusal(&out);
    assert!(
        why.contains("is Complete, and the worker acts only for a running job: refused"),
        "{why}"
    );
    assert!(seen.assumed.is_empty() && seen.copied.is_empty() && seen.created.is_empty());
    for (name, value) in [
        ("existing", "overwrite"),
        ("storageClass", "DEEP_ARCHIVE"),
        ("mode", "verify"),
        ("keyPrefix", "elsewhere/"),
    ] {
        let mut forged = arguments();
        forged.insert(name.into(), value.into());
        let live = job_of(arguments(), JobStatus::Active);
        let (out, seen) = run_for(fresh(SIZE), &live, plan(), event(false, forged)).await;
        let why = refusal(&out);
        assert!(
            why.contains("the event's userArguments are not the job's: refused"),
            "{name}: {why}"
        );
        assert!(seen.assumed.is_empty() && seen.copied.is_empty(), "{name}");
    }
    let live = job_of(arguments(), JobStatus::Active);
    let mut outside = event(false, arguments());
    outside.payload.tasks[0].s3_key = "private/payroll.csv".into();
    let (out, seen) = run_for(fresh(SIZE), &live, plan(), outside).await;
    let why = refusal(&out);
    assert!(
        why.contains("private/payroll.csv is not under this copy's source prefix"),
        "{why}"
    );
    assert!(seen.copied.is_empty() && seen.created.is_empty());
}

/// The one task's result, which must be a refusal for good: its text.
fn refusal(out: &WorkerResponse) -> &str {
    let r = &out.results[0];
    assert_eq!(r.result_code, ResultCode::PermanentFailure, "{r:?}");
    &r.result_string
}

fn fresh(size: u64) -> World {
    World {
        size,
        checksum_refused: false,
        metadata_lost: false,
        there: None,
        record: None,
        done: vec![],
        record_taken: false,
    }
}

#[tokio::test]
async fn an_object_over_5_gb_is_copied_in_parts_as_the_copys_batch_role() {
    let (out, seen) = run(fresh(SIZE), false, arguments()).await;
    assert_eq!(out.results[0].result_code, ResultCode::Succeeded, "{out:?}");
    assert_eq!(
        out.results[0].result_string,
        "copied in 24 parts of 256 MiB"
    );
    assert_eq!(
        out.invocation_id,
        "YXNkbGZqYWRmaiBhc2RmdW9hZHNmZGpmaGFzbGtkaGZza2RmaAo"
    );
    assert_eq!(
        seen.assumed,
        ["arn:aws:iam::222222222222:role/ferry/ferry-batch-photos-2026"]
    );
    // The copy as S3PutObjectCopy would make it: metadata, content type, tags.
    let created = &seen.created[0];
    assert_eq!(created.bucket(), Some("dst-photos"));
    assert_eq!(created.key(), Some("2026/video/raw+take.mov"));
    assert_eq!(created.content_type(), Some("video/quicktime"));
    assert_eq!(created.metadata().unwrap()["origin"], "camera-2");
    assert_eq!(created.tagging(), Some("team=media%20%26%20film"));
    // Every byte once, server side, each part conditional on the source's ETag.
    let mut ranges: Vec<(i32, String)> = seen
        .part_copies
        .iter()
        .map(|p| {
            assert_eq!(
                p.copy_source(),
                Some("src-photos/2026/video/raw%2Btake.mov")
            );
            assert_eq!(p.copy_source_if_match(), Some(ETAG));
            assert_eq!(p.upload_id(), Some("upload-2"));
            (
                p.part_number().unwrap(),
                p.copy_source_range().unwrap().to_string(),
            )
        })
        .collect();
    ranges.sort();
    assert_eq!(ranges.len(), 24);
    assert_eq!(ranges[0], (1, format!("bytes=0-{}", 256 * MIB - 1)));
    assert_eq!(
        ranges[23],
        (24, format!("bytes={}-{}", 23 * 256 * MIB, SIZE - 1))
    );
    let completed = seen.completed[0].multipart_upload().unwrap().parts();
    let numbers: Vec<i32> = completed.iter().map(|p| p.part_number().unwrap()).collect();
    assert_eq!(numbers, (1..=24).collect::<Vec<_>>(), "in order");
    assert_eq!(completed[4].e_tag(), Some("\"part-5\""));
    // The upload was recorded before the first part, only where no record was (a conditional
    // write), and the record goes once complete.
    assert_eq!(seen.records_written.len(), 1);
    assert_eq!(seen.record_conditions, [Some("*".to_string())]);
    let (key, body) = &seen.records_written[0];
    assert!(key.starts_with("control/photos-2026/uploads/"), "{key}");
    let record: UploadRecord = serde_json::from_slice(body).unwrap();
    assert_eq!((record.upload_id.as_str(), record.size), ("upload-2", SIZE));
    assert_eq!(seen.records_deleted, std::slice::from_ref(key));
}

#[tokio::test]
async fn near_its_deadline_the_worker_stops_and_the_next_invocation_goes_on_from_list_parts() {
    // The first invocation has no time left: it begins the upload, records it, copies nothing.
    let (out, seen) = run(fresh(SIZE), true, arguments()).await;
    assert_eq!(out.results[0].result_code, ResultCode::TemporaryFailure);
    assert!(
        out.results[0]
            .result_string
            .starts_with("copied 0 of 24 parts"),
        "{}",
        out.results[0].result_string
    );
    assert!(seen.completed.is_empty() && seen.records_deleted.is_empty());
    let record: UploadRecord = serde_json::from_slice(&seen.records_written[0].1).unwrap();
    // The next one finds the record and the ten parts S3 already has.
    let (out, seen) = run(
        World {
            record: Some(record),
            done: (1..=10).collect(),
            ..fresh(SIZE)
        },
        false,
        arguments(),
    )
    .await;
    assert_eq!(out.results[0].result_code, ResultCode::Succeeded, "{out:?}");
    assert!(seen.created.is_empty(), "no second upload");
    let mut copied: Vec<i32> = seen
        .part_copies
        .iter()
        .map(|p| p.part_number().unwrap())
        .collect();
    copied.sort();
    assert_eq!(
        copied,
        (11..=24).collect::<Vec<_>>(),
        "only the missing parts"
    );
    assert_eq!(
        seen.completed[0].multipart_upload().unwrap().parts().len(),
        24
    );
}

#[tokio::test]
async fn a_source_changed_since_the_upload_began_starts_over() {
    let stale = UploadRecord {
        upload_id: "upload-1".into(),
        bucket: "dst-photos".into(),
        key: "2026/video/raw+take.mov".into(),
        part_size: 256 * MIB,
        size: SIZE,
        source_etag: "\"an-older-version\"".into(),
    };
    let (out, seen) = run(
        World {
            record: Some(stale),
            ..fresh(SIZE)
        },
        false,
        arguments(),
    )
    .await;
    assert_eq!(out.results[0].result_code, ResultCode::Succeeded, "{out:?}");
    assert_eq!(seen.aborted, ["upload-1"]);
    assert_eq!(seen.created.len(), 1);
}

#[tokio::test]
async fn an_object_of_one_part_is_one_copy_object_and_a_5_gb_one_is_parts() {
    // (Overwriting allowed: under refuse every object is a conditional multipart upload.)
    let (out, seen) = run(fresh(5 * GIB), false, arguments()).await;
    assert_eq!(
        out.results[0].result_string,
        "copied in 20 parts of 256 MiB"
    );
    assert!(seen.copied.is_empty());
    let (out, seen) = run(fresh(256 * MIB), false, with_existing("overwrite")).await;
    assert_eq!(out.results[0].result_code, ResultCode::Succeeded, "{out:?}");
    assert!(seen.created.is_empty());
    let c = &seen.copied[0];
    assert_eq!(
        c.copy_source(),
        Some("src-photos/2026/video/raw%2Btake.mov")
    );
    assert_eq!(c.copy_source_if_match(), Some(ETAG));
    assert_eq!(c.tagging_directive(), Some(&TaggingDirective::Copy));
}

#[tokio::test]
async fn broken_arguments_or_a_bucket_outside_the_stack_fail_every_task_for_good() {
    let mut args = arguments();
    args.remove("copyId");
    let (out, seen) = run(fresh(SIZE), false, args).await;
    assert_eq!(out.results[0].result_code, ResultCode::PermanentFailure);
    assert_eq!(
        out.results[0].result_string,
        "UserArguments.copyId is missing"
    );
    assert!(seen.assumed.is_empty());
    let mut args = arguments();
    args.insert("destinationBucket".into(), "prod-database-backups".into());
    let (out, _) = run(fresh(SIZE), false, args).await;
    assert_eq!(out.results[0].result_code, ResultCode::PermanentFailure);
    assert!(out.results[0].result_string.contains("DestinationBuckets"));
}

fn with_existing(existing: &str) -> BTreeMap<String, String> {
    let mut args = arguments();
    args.insert("existing".into(), existing.into());
    args
}

fn occupied(size: u64, etag: &'static str) -> World {
    World {
        there: Some((size, etag)),
        ..fresh(size)
    }
}

#[tokio::test]
async fn an_identical_object_at_the_destination_is_not_copied_in_either_careful_mode() {
    for mode in ["refuse", "skip-identical"] {
        let (out, seen) = run(occupied(SIZE, ETAG), false, with_existing(mode)).await;
        let r = &out.results[0];
        assert_eq!(r.result_code, ResultCode::Succeeded, "{mode}: {r:?}");
        assert!(
            r.result_string.starts_with(IDENTICAL),
            "{mode}: {}",
            r.result_string
        );
        assert!(
            seen.created.is_empty() && seen.copied.is_empty(),
            "{mode}: nothing written"
        );
    }
}

/// A destination object under a KMS key the Batch role may not decrypt with: the HEAD that asks
/// for its checksum is refused, and the one without it still tells the worker what is there.
#[tokio::test]
async fn an_object_whose_checksum_the_role_may_not_read_is_still_compared() {
    let world = World {
        checksum_refused: true,
        ..occupied(SIZE, ETAG)
    };
    let (out, seen) = run(world, false, with_existing("refuse")).await;
    let r = &out.results[0];
    assert_eq!(r.result_code, ResultCode::Succeeded, "{r:?}");
    assert!(
        r.result_string.starts_with(IDENTICAL),
        "{}",
        r.result_string
    );
    assert!(seen.created.is_empty() && seen.copied.is_empty());
}

#[tokio::test]
async fn refuse_leaves_another_object_alone_and_skip_identical_overwrites_it() {
    let (out, seen) = run(
        occupied(SIZE, "\"someone-elses\""),
        false,
        with_existing("refuse"),
    )
    .await;
    let r = &out.results[0];
    assert_eq!(r.result_code, ResultCode::PermanentFailure, "{r:?}");
    assert!(r.result_string.starts_with(REFUSED), "{}", r.result_string);
    assert!(
        r.result_string.contains("\"someone-elses\""),
        "{}",
        r.result_string
    );
    assert!(
        seen.created.is_empty() && seen.copied.is_empty(),
        "nothing written"
    );

    let (out, seen) = run(
        occupied(SIZE, "\"someone-elses\""),
        false,
        with_existing("skip-identical"),
    )
    .await;
    assert_eq!(out.results[0].result_code, ResultCode::Succeeded);
    assert_eq!(seen.created.len(), 1, "copied over it");
    assert_eq!(seen.completed[0].if_none_match(), None);
}

#[tokio::test]
async fn under_refuse_a_new_object_lands_only_if_its_key_is_still_free() {
    // A one-part object too is a multipart upload, so that its completion can be conditional.
    let (out, seen) = run(fresh(100 * MIB), false, with_existing("refuse")).await;
    assert_eq!(out.results[0].result_code, ResultCode::Succeeded, "{out:?}");
    assert!(
        seen.copied.is_empty(),
        "no CopyObject: it takes no If-None-Match"
    );
    assert_eq!(seen.part_copies.len(), 1);
    assert_eq!(seen.completed[0].if_none_match(), Some("*"));
    // Overwrite keeps the plain CopyObject.
    let (_, seen) = run(fresh(100 * MIB), false, with_existing("overwrite")).await;
    assert_eq!((seen.copied.len(), seen.created.len()), (1, 0));
}

#[tokio::test]
async fn verify_mode_says_verified_missing_or_different_and_writes_nothing() {
    let mut args = arguments();
    args.insert("mode".into(), "verify".into());
    let (out, seen) = run(fresh(SIZE), false, args.clone()).await;
    let r = &out.results[0];
    assert_eq!(r.result_code, ResultCode::PermanentFailure);
    assert!(r.result_string.starts_with(MISSING), "{}", r.result_string);
    assert!(seen.created.is_empty() && seen.copied.is_empty());
    let (out, seen) = run(occupied(SIZE, ETAG), false, args.clone()).await;
    let r = &out.results[0];
    assert_eq!(r.result_code, ResultCode::Succeeded);
    // A multipart ETag proves nothing about the bytes: the size is what is compared then.
    assert!(
        r.result_string.starts_with(VERIFIED)
            && r.result_string
                .ends_with("same size (no comparable ETag or checksum), same metadata"),
        "{}",
        r.result_string
    );
    assert!(seen.created.is_empty() && seen.copied.is_empty());
    let shorter = World {
        there: Some((SIZE - 1, ETAG)),
        ..fresh(SIZE)
    };
    let (out, _) = run(shorter, false, args.clone()).await;
    let r = &out.results[0];
    assert_eq!(r.result_code, ResultCode::PermanentFailure);
    assert!(
        r.result_string.starts_with(DIFFERENT)
            && r.result_string
                .ends_with(&format!("{} bytes, the source {SIZE} bytes", SIZE - 1)),
        "{}",
        r.result_string
    );
    // With metadataDirective COPY a copy without its source's user metadata is different
    // (AWS does not say what NewObjectMetadata with only the encryption does to it).
    let bare = || World {
        metadata_lost: true,
        ..occupied(SIZE, ETAG)
    };
    let (out, _) = run(bare(), false, args.clone()).await;
    let r = &out.results[0];
    assert!(
        r.result_string.starts_with(DIFFERENT)
            && r.result_string
                .ends_with("user metadata [], the source's [\"origin\"]"),
        "{}",
        r.result_string
    );
    args.insert("metadataDirective".into(), "REPLACE".into());
    let (out, _) = run(bare(), false, args).await;
    assert_eq!(out.results[0].result_code, ResultCode::Succeeded);
}

#[tokio::test]
async fn a_warm_worker_assumes_the_role_once_per_job() {
    let seen: Shared = Default::default();
    let mut s3_rules = s3(fresh(100), &seen);
    s3_rules.insert(0, stored_plan(&arguments()));
    let sts_rules = sts(&seen);
    let a: Vec<&Rule> = s3_rules.iter().collect();
    let b: Vec<&Rule> = sts_rules.iter().collect();
    let job = job_of(arguments(), JobStatus::Active);
    let clients = Clients::mocked(&a, &[&job], &[], &[]).with_sts(&b);
    for _ in 0..3 {
        let out = handle(&clients, &config(), event(false, arguments()))
            .await
            .unwrap();
        assert_eq!(out.results[0].result_code, ResultCode::Succeeded, "{out:?}");
    }
    assert_eq!(
        seen.lock().unwrap().assumed.len(),
        1,
        "one AssumeRole for three tasks"
    );
    assert_eq!(
        s3_rules[0].num_calls(),
        1,
        "the copy's stored plan read once for three tasks"
    );
    // Another job (a later run, whose role may be a new one of the same name): a new session.
    let mut other = event(false, arguments());
    other.payload.job.id = "0c159255-2bf8-4b2c-a435-55bc6a5ac265".into();
    handle(&clients, &config(), other).await.unwrap();
    assert_eq!(seen.lock().unwrap().assumed.len(), 2);
    assert_eq!(
        session_name("f3cc4f60-61f6-4a2b-8a21-d07600c373ce"),
        "ferry-worker-f3cc4f60-61f6-4a2b-8a21-d07600c373ce"
    );
    assert_eq!(session_name(&"x/y".repeat(40)).len(), 64);
    assert!(session_name("a/b c").ends_with("a-b-c"));
}

/// Security finding 6: two invocations on one object (Batch Operations may run a task twice)
/// both find no record and begin an upload; the second's record write finds the first's
/// (412). It gives its own upload up, copies nothing, and asks to be tried again, so no upload
/// is left that no record names and neither record is overwritten.
#[tokio::test]
async fn a_second_invocation_that_loses_the_record_gives_its_upload_up() {
    let world = World {
        record_taken: true,
        ..fresh(SIZE)
    };
    let (out, seen) = run(world, false, arguments()).await;
    let r = &out.results[0];
    assert_eq!(
        r.result_code,
        ResultCode::TemporaryFailure,
        "{}",
        r.result_string
    );
    assert!(
        r.result_string
            .contains("another invocation began the upload of"),
        "{}",
        r.result_string
    );
    assert_eq!(seen.aborted, ["upload-2"]);
    assert!(seen.part_copies.is_empty() && seen.completed.is_empty());
    assert!(seen.records_written.is_empty() && seen.records_deleted.is_empty());
}
