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

/// Whether a failed task was refused access, by S3 (`AccessDenied`, the message naming
/// `kms:Decrypt` when KMS refused) or by KMS (`KMS.AccessDeniedException`).
pub fn access_refused(error_code: &str) -> bool {
    error_code == "AccessDenied" || error_code == "KMS.AccessDeniedException"
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
