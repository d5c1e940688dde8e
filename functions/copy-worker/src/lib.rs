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
    CompletedMultipartUpload, CompletedPart, MetadataDirective as S3Directive,
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

mod compare;
mod job_check;
mod multipart;

use compare::{compare, head_with_checksum, identical, same_metadata};

#[cfg(test)]
mod tests;
