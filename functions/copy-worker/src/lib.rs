//! `copy-worker` (destination account): what S3 Batch Operations' `LambdaInvoke` runs for the
//! objects S3PutObjectCopy cannot copy (over 5 GB). Every byte moves server side: CopyObject for
//! an object of one part (`multipart.partMiB`, at most 5 GB), else a multipart upload of
//! `UploadPartCopy` parts, at most `multipart.partsInFlight` at once, completed only when every
//! part is in.
//!
//! It calls S3 as the copy's Batch role (AssumeRole; the role trusts this function's role), so
//! it reads and writes exactly what the copy's grants allow, under ferry's boundary. It stops
//! starting parts when its invocation nears Lambda's timeout and answers `TemporaryFailure`:
//! Batch Operations invokes it again, and it goes on from ListParts with the upload id it
//! recorded under `control/<copyId>/uploads/`. A source object changed in between (another
//! ETag) starts over; every part copy is conditional on the ETag the upload began with.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_s3::types::{
    ChecksumMode, CompletedMultipartUpload, CompletedPart, MetadataDirective as S3Directive,
    ServerSideEncryption, StorageClass as S3StorageClass, TaggingDirective,
};
use aws_sdk_s3::Client as S3;
use ferry_core::clients::{get_object_bytes, Clients};
use ferry_core::error::{from_sdk, sdk_code};
use ferry_core::layout::CopyLayout;
use ferry_core::manifest::decode_key;
use ferry_core::names::{batch_role_arn, partition};
use ferry_core::request::{EncryptionType, Existing, MetadataDirective};
use ferry_core::worker::{
    enum_str, part_size, parts, upload_record_key, Part, ResultCode, TaskResult, UploadRecord,
    WorkerArguments, WorkerEvent, WorkerOutcome, WorkerResponse, WorkerTask, COPY_OBJECT_MAX,
    INVOCATION_SCHEMA, MIB,
};
use ferry_core::{stack::StackConfig, ErrorName, StepError};
use lambda_runtime::LambdaEvent;
use tokio::task::JoinSet;
use tracing::{info, warn};

/// Time kept back before the invocation's deadline: no part starts later than this.
pub const MARGIN_MAX: Duration = Duration::from_secs(60);
/// The invocation budget assumed when the runtime gives no deadline.
const BUDGET_UNKNOWN: Duration = Duration::from_secs(900);

#[tracing::instrument(skip_all, fields(job_id = %event.payload.job.id))]
pub async fn handle(
    clients: &Clients,
    config: &StackConfig,
    event: LambdaEvent<WorkerEvent>,
) -> Result<WorkerResponse, StepError> {
    let clock = Budget::of(event.context.deadline);
    let function_arn = event.context.invoked_function_arn.clone();
    let e = event.payload;
    if e.invocation_schema_version != INVOCATION_SCHEMA {
        return Err(StepError::new(
            ErrorName::InvalidRequest,
            format!(
                "invocationSchemaVersion {:?}: the worker speaks {INVOCATION_SCHEMA} only (the job's LambdaInvoke must ask for it)",
                e.invocation_schema_version
            ),
        ));
    }
    let every = |code: ResultCode, text: &str| {
        let results = e
            .tasks
            .iter()
            .map(|t| TaskResult {
                task_id: t.task_id.clone(),
                result_code: code,
                result_string: text.to_string(),
            })
            .collect();
        Ok(WorkerResponse::new(&e, results))
    };
    let args = match WorkerArguments::from_map(&e.job.user_arguments) {
        Ok(args) => args,
        Err(message) => return every(ResultCode::PermanentFailure, &message),
    };
    if !config
        .destination_buckets
        .contains(&args.destination_bucket)
    {
        return every(
            ResultCode::PermanentFailure,
            &format!(
                "AccessDenied: {} is not one of the stack's DestinationBuckets",
                args.destination_bucket
            ),
        );
    }
    // Nothing in the event is trusted: the job it names must be one of ferry's, running, and
    // the copy's settings and scope come from it and the copy's stored plan.
    let auth = match job_check::authenticate(clients, config, &e, &function_arn).await {
        Ok(auth) => auth,
        Err(message) => return every(ResultCode::PermanentFailure, &message),
    };
    let args = &auth.args;
    let role = batch_role_arn(partition(&config.region), &config.account_id, &args.copy_id);
    // One session per job: a warm instance reuses it for the job's next tasks, and never for a
    // later run's (whose role, deleted and created again, no older session may use).
    let s3 = match clients.s3_as(&role, &session_name(&e.job.id)).await {
        Ok(s3) => s3,
        Err(err) => return every(code_of(&err), &result_of(&err)),
    };
    let layout = CopyLayout::of(&config.account_id, &args.copy_id);
    let worker = Worker {
        s3,
        control: &clients.s3,
        config,
        auth: &auth,
        control_prefix: layout.control_prefix(),
        clock,
    };
    let mut results = Vec::with_capacity(e.tasks.len());
    for task in &e.tasks {
        let (result_code, result_string) = match worker.copy(task).await {
            Ok(Done::Copied(text) | Done::Identical(text) | Done::Verified(text)) => {
                (ResultCode::Succeeded, text)
            }
            Ok(Done::Continues(text)) => (ResultCode::TemporaryFailure, text),
            Ok(Done::Refused(text) | Done::Unverified(text)) => {
                (ResultCode::PermanentFailure, text)
            }
            Err(err) => (code_of(&err), result_of(&err)),
        };
        info!(task = %task.task_id, code = ?result_code, "{result_string}");
        results.push(TaskResult {
            task_id: task.task_id.clone(),
            result_code,
            result_string,
        });
    }
    Ok(WorkerResponse::new(&e, results))
}

/// A task's result string for an error: its name first (as the report's classes read it), then
/// the step and the call, as every function's errors name them.
fn result_of(err: &StepError) -> String {
    format!("{}: copy-worker: {}", err.name, err.cause)
}

/// Whether Batch Operations should try the task again.
fn code_of(err: &StepError) -> ResultCode {
    if err.name == ErrorName::Retryable {
        ResultCode::TemporaryFailure
    } else {
        ResultCode::PermanentFailure
    }
}

/// The invocation's time: when it must have answered, and how much it keeps back.
#[derive(Debug, Clone, Copy)]
struct Budget {
    deadline: SystemTime,
    margin: Duration,
}

impl Budget {
    /// `deadline_ms`: the runtime's deadline (milliseconds since the epoch; 0 when unknown).
    fn of(deadline_ms: u64) -> Budget {
        let now = SystemTime::now();
        let deadline = if deadline_ms == 0 {
            now + BUDGET_UNKNOWN
        } else {
            UNIX_EPOCH + Duration::from_millis(deadline_ms)
        };
        let budget = deadline.duration_since(now).unwrap_or_default();
        Budget {
            deadline,
            margin: MARGIN_MAX.min(budget / 4),
        }
    }

    /// Whether a part may still start, when the slowest part of this invocation took `longest`:
    /// the time kept back is the margin or one and a half times that part, whichever is longer,
    /// so a part of any size started now ends before the deadline as the parts before it did
    /// (a part that outlives the invocation is a timed-out task, retried, but its copy is lost).
    fn allows_another_part(&self, longest: Duration) -> bool {
        let keep = self.margin.max(longest.mul_f32(1.5));
        SystemTime::now() + keep < self.deadline
    }
}

enum Done {
    Copied(String),
    /// Stopped before the deadline with parts left; the next invocation goes on.
    Continues(String),
    /// An identical object is already at the destination key: not copied (a success).
    Identical(String),
    /// Another object is at the destination key and `existing` is refuse: left alone.
    Refused(String),
    /// Verify mode: the object is at the destination as at the source (a success), or not.
    Verified(String),
    Unverified(String),
}

struct Worker<'a> {
    /// As the copy's Batch role.
    s3: S3,
    /// As the worker's own role: the upload records in the ferry bucket.
    control: &'a S3,
    config: &'a StackConfig,
    /// The authenticated job: the copy's settings (`auth.args`) and its source's scope.
    auth: &'a job_check::Authenticated,
    control_prefix: String,
    clock: Budget,
}

/// One object being copied.
struct Source {
    bucket: String,
    key: String,
    version: Option<String>,
    etag: String,
    size: u64,
    target: String,
    head: aws_sdk_s3::operation::head_object::HeadObjectOutput,
}

impl Source {
    fn what(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }

    /// `CopySource`: bucket and URL-encoded key, with the version when the task names one.
    fn copy_source(&self) -> String {
        const KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
            .remove(b'/')
            .remove(b'-')
            .remove(b'_')
            .remove(b'.')
            .remove(b'~');
        let key = percent_encoding::utf8_percent_encode(&self.key, KEEP);
        match &self.version {
            Some(v) => format!("{}/{key}?versionId={v}", self.bucket),
            None => format!("{}/{key}", self.bucket),
        }
    }
}

impl Worker<'_> {
    async fn copy(&self, task: &WorkerTask) -> Result<Done, StepError> {
        let bucket = task
            .bucket()
            .map_err(|e| StepError::new(ErrorName::InvalidRequest, e))?;
        if !self.config.source_buckets.contains(&bucket) {
            return Err(StepError::new(
                ErrorName::AccessDenied,
                format!("{bucket} is not one of the stack's SourceBuckets"),
            ));
        }
        let key = decode_key(&task.s3_key)
            .map_err(|e| StepError::new(ErrorName::InvalidRequest, e.to_string()))?;
        self.auth
            .covers(&bucket, &key)
            .map_err(|why| StepError::new(ErrorName::AccessDenied, why))?;
        let version = task.s3_version_id.clone().filter(|v| !v.is_empty());
        let head = head_with_checksum(
            self.s3
                .head_object()
                .bucket(&bucket)
                .key(&key)
                .set_version_id(version.clone())
                .expected_bucket_owner(&self.auth.source_account),
        )
        .await
        .map_err(|e| from_sdk(e, &format!("HeadObject s3://{bucket}/{key}")))?;
        let source = Source {
            size: head.content_length().unwrap_or(0).max(0) as u64,
            etag: head.e_tag().unwrap_or_default().to_string(),
            target: format!("{}{key}", self.auth.args.key_prefix),
            bucket,
            key,
            version,
            head,
        };
        if self.auth.args.verify {
            return self.verify(&source).await;
        }
        let existing = self.auth.args.existing;
        if existing != Existing::Overwrite {
            if let Some(there) = self.destination_head(&source.target).await? {
                let what = format!(
                    "s3://{}/{}",
                    self.auth.args.destination_bucket, source.target
                );
                if identical(&source.head, &there) {
                    return Ok(Done::Identical(WorkerOutcome::Identical.say(&format!(
                        "{what} already holds this object ({} bytes, ETag {}): not copied",
                        source.size,
                        there.e_tag().unwrap_or_default()
                    ))));
                }
                if existing == Existing::Refuse {
                    return Ok(Done::Refused(WorkerOutcome::Refused.say(&format!(
                        "{what} holds another object ({} bytes, ETag {}); destination.existing is refuse: left alone",
                        there.content_length().unwrap_or(0),
                        there.e_tag().unwrap_or_default()
                    ))));
                }
            }
        }
        // One part's worth (at most 5 GB): one CopyObject; more, part by part. Under `refuse`
        // every non-empty object is a multipart upload, completed only if the key is still free
        // (CompleteMultipartUpload takes `If-None-Match: *`; CopyObject does not).
        let one_part =
            source.size <= part_size(source.size, self.auth.args.part_mib).min(COPY_OBJECT_MAX);
        if one_part && (existing != Existing::Refuse || source.size == 0) {
            self.copy_object(&source).await?;
            return Ok(Done::Copied(format!(
                "copied with CopyObject ({} bytes)",
                source.size
            )));
        }
        self.multipart(&source).await
    }

    /// Verify mode: the object at the destination key is the source's (present, the same size,
    /// the same ETag where both are plain MD5s, else the same full-object checksum where both
    /// have one; with neither, the size alone).
    async fn verify(&self, source: &Source) -> Result<Done, StepError> {
        let what = format!(
            "s3://{}/{}",
            self.auth.args.destination_bucket, source.target
        );
        let Some(there) = self.destination_head(&source.target).await? else {
            return Ok(Done::Unverified(
                WorkerOutcome::Missing.say(&format!("{what} is not at the destination")),
            ));
        };
        let same = compare(&source.head, &there).and_then(|how| {
            if self.auth.args.metadata_directive == MetadataDirective::Copy {
                same_metadata(&source.head, &there).map(|()| format!("{how}, same metadata"))
            } else {
                Ok(how)
            }
        });
        match same {
            Ok(how) => Ok(Done::Verified(
                WorkerOutcome::Verified.say(&format!("{what}: {how}")),
            )),
            Err(why) => Ok(Done::Unverified(
                WorkerOutcome::Different.say(&format!("{what}: {why}")),
            )),
        }
    }

    /// The object at the destination key, if there is one.
    async fn destination_head(
        &self,
        target: &str,
    ) -> Result<Option<aws_sdk_s3::operation::head_object::HeadObjectOutput>, StepError> {
        match head_with_checksum(
            self.s3
                .head_object()
                .bucket(&self.auth.args.destination_bucket)
                .key(target)
                .expected_bucket_owner(&self.config.account_id),
        )
        .await
        {
            Ok(head) => Ok(Some(head)),
            Err(e) if e.raw_response().map(|r| r.status().as_u16()) == Some(404) => Ok(None),
            Err(e) => Err(from_sdk(
                e,
                &format!(
                    "HeadObject s3://{}/{target}",
                    self.auth.args.destination_bucket
                ),
            )),
        }
    }

    async fn copy_object(&self, source: &Source) -> Result<(), StepError> {
        let a = &self.auth.args;
        let mut call = self
            .s3
            .copy_object()
            .bucket(&a.destination_bucket)
            .key(&source.target)
            .copy_source(source.copy_source())
            .copy_source_if_match(&source.etag)
            .expected_bucket_owner(&self.config.account_id)
            .expected_source_bucket_owner(&self.auth.source_account)
            .metadata_directive(match a.metadata_directive {
                MetadataDirective::Copy => S3Directive::Copy,
                MetadataDirective::Replace => S3Directive::Replace,
            })
            .tagging_directive(TaggingDirective::Copy)
            .storage_class(S3StorageClass::from(enum_str(&a.storage_class).as_str()));
        if let Some(e) = &a.encryption {
            call = call
                .server_side_encryption(sse(e.kind))
                .set_ssekms_key_id(e.kms_key_arn.clone())
                .set_bucket_key_enabled(e.bucket_key_enabled.then_some(true));
        }
        call.send()
            .await
            .map_err(|e| from_sdk(e, &format!("CopyObject {}", source.what())))?;
        Ok(())
    }

    async fn multipart(&self, source: &Source) -> Result<Done, StepError> {
        let record_key = upload_record_key(
            &self.control_prefix,
            &source.bucket,
            &source.key,
            source.version.as_deref(),
        );
        let mut record = self.read_record(&record_key).await?;
        if let Some(r) = &record {
            let same = r.source_etag == source.etag
                && r.size == source.size
                && r.bucket == self.auth.args.destination_bucket
                && r.key == source.target;
            if !same {
                info!(upload = %r.upload_id, "the source changed since the upload began: starting over");
                self.abort(r).await?;
                self.delete_record(&record_key).await?;
                record = None;
            }
        }
        let record = match record {
            Some(r) => r,
            None => {
                let r = self.create(source).await?;
                if !self.write_record(&record_key, &r).await? {
                    // Another invocation on this object (Batch Operations may run a task
                    // twice) recorded its own upload between the read and this write: its
                    // upload goes on, this one is given up, and the task is tried again later
                    // (it then resumes that upload from its record).
                    self.abort(&r).await?;
                    return Err(StepError::new(
                        ErrorName::Retryable,
                        format!(
                            "another invocation began the upload of {} at the same time; this one gave its own up",
                            source.target
                        ),
                    ));
                }
                r
            }
        };
        let mut done = match self.list_parts(&record).await {
            Ok(done) => done,
            Err(err) if err.cause.contains("NoSuchUpload") => {
                // Aborted by someone else (a revoke, a lifecycle rule): the next invocation
                // begins a new one.
                self.delete_record(&record_key).await?;
                return Err(StepError::new(
                    ErrorName::Retryable,
                    format!(
                        "the upload {} of {} is gone; a new one begins at the next invocation",
                        record.upload_id,
                        source.what()
                    ),
                ));
            }
            Err(err) => return Err(err),
        };
        let all = parts(source.size, record.part_size);
        let before = done.len();
        let todo: Vec<Part> = all
            .iter()
            .filter(|p| !done.contains_key(&p.number))
            .copied()
            .collect();
        self.copy_parts(source, &record, todo, &mut done).await?;
        if done.len() < all.len() {
            return Ok(Done::Continues(format!(
                "copied {} of {} parts of {} ({} in this invocation); the next invocation goes on",
                done.len(),
                all.len(),
                source.what(),
                done.len() - before
            )));
        }
        let completed = CompletedMultipartUpload::builder()
            .set_parts(Some(
                done.iter()
                    .map(|(n, etag)| CompletedPart::builder().part_number(*n).e_tag(etag).build())
                    .collect(),
            ))
            .build();
        let refuse = self.auth.args.existing == Existing::Refuse;
        let completed = self
            .s3
            .complete_multipart_upload()
            .bucket(&record.bucket)
            .key(&record.key)
            .upload_id(&record.upload_id)
            .multipart_upload(completed)
            .expected_bucket_owner(&self.config.account_id)
            .set_if_none_match(refuse.then(|| "*".to_string()))
            .send()
            .await;
        match completed {
            Ok(_) => {}
            Err(e) if refuse && sdk_code(&e) == Some("PreconditionFailed") => {
                // Written by someone else while the parts were copied: theirs stays.
                self.abort(&record).await?;
                self.delete_record(&record_key).await?;
                return Ok(Done::Refused(WorkerOutcome::Refused.say(&format!(
                    "s3://{}/{} was written by another writer during the copy; destination.existing is refuse: left alone",
                    record.bucket, record.key
                ))));
            }
            Err(e) => {
                return Err(from_sdk(
                    e,
                    &format!("CompleteMultipartUpload {}", record.upload_id),
                ))
            }
        }
        self.delete_record(&record_key).await?;
        Ok(Done::Copied(format!(
            "copied in {} parts of {} MiB",
            all.len(),
            record.part_size / MIB
        )))
    }

    /// Copies `todo`, at most `partsInFlight` at once, starting none once the deadline nears;
    /// every part copied goes into `done`. The first failure stops the rest (the parts already
    /// in stay in the upload for the next invocation).
    async fn copy_parts(
        &self,
        source: &Source,
        record: &UploadRecord,
        todo: Vec<Part>,
        done: &mut BTreeMap<i32, String>,
    ) -> Result<(), StepError> {
        let mut queue = todo.into_iter();
        let mut running = JoinSet::new();
        let mut out_of_time = false;
        let mut longest = Duration::ZERO;
        loop {
            while running.len() < usize::from(self.auth.args.parts_in_flight) && !out_of_time {
                let Some(part) = queue.next() else { break };
                if !self.clock.allows_another_part(longest) {
                    out_of_time = true;
                    break;
                }
                let call = self
                    .s3
                    .upload_part_copy()
                    .bucket(&record.bucket)
                    .key(&record.key)
                    .upload_id(&record.upload_id)
                    .part_number(part.number)
                    .copy_source(source.copy_source())
                    .copy_source_range(part.range())
                    .copy_source_if_match(&source.etag)
                    .expected_bucket_owner(&self.config.account_id)
                    .expected_source_bucket_owner(&self.auth.source_account);
                running.spawn(async move {
                    let started = std::time::Instant::now();
                    let out = call.send().await.map_err(|e| {
                        from_sdk(e, &format!("UploadPartCopy part {}", part.number))
                    })?;
                    let etag = out
                        .copy_part_result()
                        .and_then(|r| r.e_tag())
                        .unwrap_or_default()
                        .to_string();
                    Ok::<_, StepError>((part.number, etag, started.elapsed()))
                });
            }
            let Some(joined) = running.join_next().await else {
                return Ok(());
            };
            let outcome = joined.map_err(|e| {
                StepError::new(ErrorName::Retryable, format!("a part copy stopped: {e}"))
            });
            match outcome.and_then(|r| r) {
                Ok((number, etag, took)) => {
                    longest = longest.max(took);
                    done.insert(number, etag);
                }
                Err(err) => {
                    running.abort_all();
                    return Err(err);
                }
            }
        }
    }

    async fn create(&self, source: &Source) -> Result<UploadRecord, StepError> {
        let a = &self.auth.args;
        let h = &source.head;
        let mut call = self
            .s3
            .create_multipart_upload()
            .bucket(&a.destination_bucket)
            .key(&source.target)
            .expected_bucket_owner(&self.config.account_id)
            .storage_class(S3StorageClass::from(enum_str(&a.storage_class).as_str()));
        if a.metadata_directive == MetadataDirective::Copy {
            // What CopyObject's COPY directive keeps: user metadata and the content headers.
            call = call
                .set_metadata(h.metadata().cloned())
                .set_content_type(h.content_type().map(str::to_string))
                .set_content_encoding(h.content_encoding().map(str::to_string))
                .set_content_disposition(h.content_disposition().map(str::to_string))
                .set_content_language(h.content_language().map(str::to_string))
                .set_cache_control(h.cache_control().map(str::to_string));
        }
        let tags = self
            .s3
            .get_object_tagging()
            .bucket(&source.bucket)
            .key(&source.key)
            .set_version_id(source.version.clone())
            .expected_bucket_owner(&self.auth.source_account)
            .send()
            .await
            .map_err(|e| from_sdk(e, &format!("GetObjectTagging {}", source.what())))?;
        if !tags.tag_set().is_empty() {
            let encode = |s: &str| {
                percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC)
                    .to_string()
            };
            let tagging: Vec<String> = tags
                .tag_set()
                .iter()
                .map(|t| format!("{}={}", encode(t.key()), encode(t.value())))
                .collect();
            call = call.tagging(tagging.join("&"));
        }
        if let Some(e) = &a.encryption {
            call = call
                .server_side_encryption(sse(e.kind))
                .set_ssekms_key_id(e.kms_key_arn.clone())
                .set_bucket_key_enabled(e.bucket_key_enabled.then_some(true));
        }
        let out = call.send().await.map_err(|e| {
            from_sdk(
                e,
                &format!(
                    "CreateMultipartUpload s3://{}/{}",
                    a.destination_bucket, source.target
                ),
            )
        })?;
        let upload_id = out.upload_id().unwrap_or_default().to_string();
        info!(upload = %upload_id, size = source.size, "began a multipart copy");
        Ok(UploadRecord {
            upload_id,
            bucket: a.destination_bucket.clone(),
            key: source.target.clone(),
            part_size: part_size(source.size, a.part_mib),
            size: source.size,
            source_etag: source.etag.clone(),
        })
    }

    /// The parts already in the upload, by number.
    async fn list_parts(&self, r: &UploadRecord) -> Result<BTreeMap<i32, String>, StepError> {
        let mut done = BTreeMap::new();
        let mut pages = self
            .s3
            .list_parts()
            .bucket(&r.bucket)
            .key(&r.key)
            .upload_id(&r.upload_id)
            .expected_bucket_owner(&self.config.account_id)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| {
                let code = sdk_code(&e).unwrap_or_default().to_string();
                let mut err = from_sdk(e, &format!("ListParts {}", r.upload_id));
                if code == "NoSuchUpload" {
                    err.cause = format!("NoSuchUpload: {}", err.cause);
                }
                err
            })?;
            for p in page.parts() {
                if let (Some(n), Some(etag)) = (p.part_number(), p.e_tag()) {
                    // A part of another size than the record's (cut short) is copied again.
                    let expected = parts(r.size, r.part_size)
                        .get((n - 1).max(0) as usize)
                        .map(|part| part.last - part.first + 1);
                    if p.size().map(|s| s as u64) == expected {
                        done.insert(n, etag.to_string());
                    }
                }
            }
        }
        Ok(done)
    }

    async fn abort(&self, r: &UploadRecord) -> Result<(), StepError> {
        match self
            .s3
            .abort_multipart_upload()
            .bucket(&r.bucket)
            .key(&r.key)
            .upload_id(&r.upload_id)
            .expected_bucket_owner(&self.config.account_id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if sdk_code(&e) == Some("NoSuchUpload") => Ok(()),
            Err(e) => Err(from_sdk(
                e,
                &format!("AbortMultipartUpload {}", r.upload_id),
            )),
        }
    }

    async fn read_record(&self, key: &str) -> Result<Option<UploadRecord>, StepError> {
        let Some((bytes, _)) =
            get_object_bytes(self.control, &self.config.ferry_bucket, key).await?
        else {
            return Ok(None);
        };
        // A record that does not parse is deleted and treated as none (the record is written
        // only where none is, so it would stand in the way of every later one); its upload, if
        // any, is aborted at revoke with every other of the copy's.
        match serde_json::from_slice(&bytes) {
            Ok(record) => Ok(Some(record)),
            Err(e) => {
                warn!(record = %key, error = %e, "an upload record that does not parse: deleted");
                self.delete_record(key).await?;
                Ok(None)
            }
        }
    }

    /// Writes a new upload record, only where none is (`If-None-Match: *`): false when another
    /// invocation's record is there already (S3 answers 412 `PreconditionFailed`, or 409
    /// `ConditionalRequestConflict` to the second of two writes at once), so two invocations
    /// on one object never overwrite each other's record and leave an upload nobody knows of.
    async fn write_record(&self, key: &str, r: &UploadRecord) -> Result<bool, StepError> {
        match self
            .control
            .put_object()
            .bucket(&self.config.ferry_bucket)
            .key(key)
            .body(serde_json::to_vec(r).expect("a record serializes").into())
            .if_none_match("*")
            .expected_bucket_owner(&self.config.account_id)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e)
                if matches!(
                    sdk_code(&e),
                    Some("PreconditionFailed" | "ConditionalRequestConflict")
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(from_sdk(e, &format!("PutObject {key}"))),
        }
    }

    async fn delete_record(&self, key: &str) -> Result<(), StepError> {
        self.control
            .delete_object()
            .bucket(&self.config.ferry_bucket)
            .key(key)
            .expected_bucket_owner(&self.config.account_id)
            .send()
            .await
            .map_err(|e| from_sdk(e, &format!("DeleteObject {key}")))?;
        Ok(())
    }
}

/// Whether the object at the destination is the source's: the same size, and the same ETag or
/// the same full-object checksum (an ETag differs between a multipart copy and its source).
fn identical(
    source: &aws_sdk_s3::operation::head_object::HeadObjectOutput,
    there: &aws_sdk_s3::operation::head_object::HeadObjectOutput,
) -> bool {
    if source.content_length() != there.content_length() {
        return false;
    }
    if source.e_tag().is_some() && source.e_tag() == there.e_tag() {
        return true;
    }
    // A checksum is whole-object only when neither says it is composite (one of the parts').
    let full = |h: &aws_sdk_s3::operation::head_object::HeadObjectOutput| {
        h.checksum_type() != Some(&aws_sdk_s3::types::ChecksumType::Composite)
    };
    full(source)
        && full(there)
        && checksums(source, there)
            .iter()
            .any(|(a, b)| a.is_some() && a == b)
}

/// The two objects' checksums, algorithm by algorithm (`None` where one has none).
fn checksums<'a>(
    source: &'a aws_sdk_s3::operation::head_object::HeadObjectOutput,
    there: &'a aws_sdk_s3::operation::head_object::HeadObjectOutput,
) -> [(Option<&'a str>, Option<&'a str>); 5] {
    [
        (source.checksum_crc64_nvme(), there.checksum_crc64_nvme()),
        (source.checksum_crc32(), there.checksum_crc32()),
        (source.checksum_crc32_c(), there.checksum_crc32_c()),
        (source.checksum_sha1(), there.checksum_sha1()),
        (source.checksum_sha256(), there.checksum_sha256()),
    ]
}

/// How an object at the destination compares with its source, for verification: `Ok` with
/// what was compared, or `Err` with the difference.
fn compare(
    source: &aws_sdk_s3::operation::head_object::HeadObjectOutput,
    there: &aws_sdk_s3::operation::head_object::HeadObjectOutput,
) -> Result<String, String> {
    let (a, b) = (source.content_length(), there.content_length());
    if a != b {
        return Err(format!(
            "{} bytes, the source {} bytes",
            b.unwrap_or(0),
            a.unwrap_or(0)
        ));
    }
    // An ETag is the object's MD5 only for a single-part object not under SSE-KMS.
    let plain = |h: &aws_sdk_s3::operation::head_object::HeadObjectOutput| {
        h.e_tag().is_some_and(|e| !e.contains('-'))
            && h.server_side_encryption() != Some(&ServerSideEncryption::AwsKms)
    };
    if plain(source) && plain(there) {
        return if source.e_tag() == there.e_tag() {
            Ok("same size and ETag".into())
        } else {
            Err(format!(
                "ETag {}, the source's {}",
                there.e_tag().unwrap_or_default(),
                source.e_tag().unwrap_or_default()
            ))
        };
    }
    match checksums(source, there)
        .iter()
        .find(|(x, y)| x.is_some() && y.is_some())
    {
        Some((x, y)) if x == y => Ok("same size and full-object checksum".into()),
        Some((x, y)) => Err(format!(
            "checksum {}, the source's {}",
            y.unwrap_or_default(),
            x.unwrap_or_default()
        )),
        None => Ok("same size (no comparable ETag or checksum)".into()),
    }
}

/// Whether a copy made with `metadataDirective: COPY` carries its source's user metadata and
/// Content-Type. AWS does not say what S3PutObjectCopy does to user metadata when
/// `NewObjectMetadata` holds only the encryption (its model: "If you don't provide this
/// parameter, Amazon S3 copies all the metadata from the original objects"), which ferry sets
/// for `destination.encryption`: the verification checks that nothing was lost.
fn same_metadata(
    source: &aws_sdk_s3::operation::head_object::HeadObjectOutput,
    there: &aws_sdk_s3::operation::head_object::HeadObjectOutput,
) -> Result<(), String> {
    if source.metadata() != there.metadata() {
        fn keys(h: &aws_sdk_s3::operation::head_object::HeadObjectOutput) -> Vec<&String> {
            let mut k: Vec<&String> = h.metadata().map(|m| m.keys().collect()).unwrap_or_default();
            k.sort();
            k
        }
        return Err(format!(
            "user metadata {:?}, the source's {:?}",
            keys(there),
            keys(source)
        ));
    }
    if source.content_type() != there.content_type() {
        return Err(format!(
            "Content-Type {}, the source's {}",
            there.content_type().unwrap_or("(none)"),
            source.content_type().unwrap_or("(none)")
        ));
    }
    Ok(())
}

/// HeadObject with the object's checksum when the caller may read it. With `ChecksumMode`, S3
/// needs `kms:Decrypt` on an SSE-KMS object's key (S3 API, HeadObject `ChecksumMode`: "you must
/// have permission to use the kms:Decrypt action to retrieve the checksum"), which the Batch
/// role has only for the copy's keys: refused (403), the HEAD is made again without it, and
/// the comparison falls back to size and ETag.
async fn head_with_checksum(
    call: aws_sdk_s3::operation::head_object::builders::HeadObjectFluentBuilder,
) -> Result<
    aws_sdk_s3::operation::head_object::HeadObjectOutput,
    aws_sdk_s3::error::SdkError<aws_sdk_s3::operation::head_object::HeadObjectError>,
> {
    match call
        .clone()
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
    {
        Err(e) if e.raw_response().map(|r| r.status().as_u16()) == Some(403) => call.send().await,
        other => other,
    }
}

fn sse(e: EncryptionType) -> ServerSideEncryption {
    match e {
        EncryptionType::SseS3 => ServerSideEncryption::Aes256,
        EncryptionType::SseKms => ServerSideEncryption::AwsKms,
    }
}

/// The worker's STS session name for a job's tasks, `ferry-worker-<job id>` (the job's id in
/// CloudTrail), in STS's alphabet `[\w+=,.@-]` and its 64 characters.
fn session_name(job_id: &str) -> String {
    format!("ferry-worker-{job_id}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_+=,.@-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect()
}

mod job_check;

#[cfg(test)]
mod tests;
