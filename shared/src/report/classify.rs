//! How a failed task is classed: retried, permanent, or one of the kinds ferry counts apart
//! (not copyable as encrypted, too large for S3PutObjectCopy, refused as existing, unverified).

use serde::{Deserialize, Serialize};

use crate::inventory::CopyObstacle;

/// Whether a failed task may succeed if tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FailureClass {
    Retryable,
    Permanent,
    /// The object's encryption keeps Batch Operations from reading it ([`encryption_obstacle`]):
    /// counted apart and never retried; the object must be re-encrypted, or its key granted.
    NotCopyable,
    /// Over the 5 GB S3PutObjectCopy takes ([`too_large`]): the copy worker's job copies it.
    TooLarge,
    /// Another object is at the destination key and `destination.existing` is refuse: left
    /// alone by the copy worker, never retried.
    Refused,
    /// The verification found the object missing or different at the destination.
    Unverified,
}

impl FailureClass {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureClass::Retryable => "Retryable",
            FailureClass::Permanent => "Permanent",
            FailureClass::NotCopyable => "NotCopyable",
            FailureClass::TooLarge => "TooLarge",
            FailureClass::Refused => "Refused",
            FailureClass::Unverified => "Unverified",
        }
    }
}

/// S3's answer to a read of an SSE-C object without its key, which is how a Batch Operations
/// copy reads one (it passes no customer key: SSE-C is the one CopyObject option it does not
/// support).
pub const SSE_C_MESSAGE: &str = "The object was stored using a form of Server Side Encryption";

/// CopyObject's (and so S3PutObjectCopy's) answer for a source over 5 GB.
pub const TOO_LARGE_MESSAGE: &str = "larger than the maximum allowable size for a copy source";

/// Whether a failed task is an object over 5 GB, which the copy worker copies instead.
pub fn too_large(error_code: &str, message: &str) -> bool {
    error_code == "InvalidRequest" && message.contains(TOO_LARGE_MESSAGE)
}

/// The encryption a failed task's error names, if that is why it failed: S3's SSE-C refusal
/// (`InvalidRequest`), or KMS's refusal of `kms:Decrypt` that S3 passes on (`AccessDenied`
/// whose message names the action, or a `KMS.` code).
pub fn encryption_obstacle(error_code: &str, message: &str) -> Option<CopyObstacle> {
    if error_code == "InvalidRequest" && message.contains(SSE_C_MESSAGE) {
        Some(CopyObstacle::SseC)
    } else if error_code.starts_with("KMS.")
        || (error_code == "AccessDenied" && message.contains("kms:Decrypt"))
    {
        Some(CopyObstacle::KmsKey)
    } else {
        None
    }
}

/// Whether a failed task's object is archived (not restored): CopyObject's
/// ObjectNotInActiveTierError ("The source object of the COPY action is not in the active tier
/// and is only stored in Amazon S3 Glacier"), or InvalidObjectState, which GetObject answers for
/// an object in Glacier Flexible Retrieval, Deep Archive or an Intelligent-Tiering archive tier
/// (botocore s3 model). AWS does not say which of the two an S3PutObjectCopy task reports: both
/// are read as archived. The copy worker's task fails `PermanentFailure` with S3's code in its
/// message (`<name>: copy-worker: CopyObject ...: ObjectNotInActiveTierError: ...`).
pub fn archived(error_code: &str, message: &str) -> bool {
    const CODES: [&str; 2] = ["ObjectNotInActiveTierError", "InvalidObjectState"];
    CODES.contains(&error_code)
        || (error_code == "PermanentFailure"
            && message.contains(": copy-worker: ")
            && CODES.iter().any(|c| message.contains(&format!(": {c}:"))))
}

/// Whether a failed task is a LambdaInvoke task whose invocation ran out of time: Batch
/// Operations reports it `PermanentFailure`, "Lambda returned function error:
/// {"errorMessage":"... Task timed out after 3.00 seconds"}" (S3 User Guide,
/// batch-ops-examples-reports; corpus `report-row/lambda-timeout.csv`). The copy worker keeps
/// its multipart upload's progress in the ferry bucket, so another invocation goes on: retried.
pub fn lambda_timed_out(error_code: &str, message: &str) -> bool {
    error_code == "PermanentFailure"
        && message.starts_with("Lambda returned function error")
        && message.contains("Task timed out after")
}

/// Whether a failed task was refused access in a way a grant still taking effect explains: by
/// S3 (`AccessDenied`, the message naming `kms:Decrypt` when KMS refused) or by KMS
/// (`KMS.AccessDeniedException`), and not "with an explicit deny" (the IAM User Guide's access
/// denied messages say so of a Deny statement, which no Allow of ferry's lifts, however long it
/// takes effect).
pub fn access_refused(error_code: &str, message: &str) -> bool {
    (error_code == "AccessDenied" || error_code == "KMS.AccessDeniedException")
        && !message.contains("with an explicit deny")
}

/// Whether a refusal ([`access_refused`]) may be one of the run's grants not in effect yet: S3's
/// or the bucket policy's, or KMS's of a key in `granted` (the keys source-access granted the
/// copy's Batch role this run). A KMS refusal of another key (the AWS managed `aws/s3`, a key
/// the source stack does not list) is no grant of ferry's, and stays not copyable.
pub fn settling_refusal(error_code: &str, message: &str, granted: &[String]) -> bool {
    if !access_refused(error_code, message) {
        return false;
    }
    match encryption_obstacle(error_code, message) {
        Some(_) => granted.iter().any(|k| message.contains(k.as_str())),
        None => true,
    }
}

/// Error codes that say "try again later" whatever their HTTP status.
const RETRYABLE_CODES: [&str; 11] = [
    "SlowDown",
    "RequestTimeout",
    "InternalError",
    "ServiceUnavailable",
    "Throttling",
    "ThrottlingException",
    "TooManyRequests",
    "RequestLimitExceeded",
    "OperationAborted",
    "TemporaryFailure",
    "RequestTimeTooSkewed",
];

/// Error codes that a retry cannot fix: the object, its permissions or its size must change.
const PERMANENT_CODES: [&str; 11] = [
    "AccessDenied",
    "NoSuchKey",
    "NoSuchBucket",
    "NoSuchVersion",
    "InvalidRequest",
    "InvalidObjectState",
    "AccessControlListNotSupported",
    "EntityTooLarge",
    "KMS.AccessDeniedException",
    "InvalidArgument",
    "PermanentFailure",
];

/// Classifies a failed task: known codes first, then the HTTP status (5xx and 429 retryable).
/// Anything else is permanent, so a retry job never loops on a failure it cannot fix.
pub fn classify_failure(error_code: &str, http_status: Option<u16>) -> FailureClass {
    if RETRYABLE_CODES.contains(&error_code) {
        FailureClass::Retryable
    } else if PERMANENT_CODES.contains(&error_code) {
        FailureClass::Permanent
    } else if matches!(http_status, Some(500..=599 | 429)) {
        FailureClass::Retryable
    } else {
        FailureClass::Permanent
    }
}
