//! ferry's error names: the closed list the state machine matches in `ErrorEquals`, and the
//! library error type that carries one of them.
//!
//! An execution that does not copy every object fails with exactly one of these names and a cause
//! a person can act on. The template test checks that the definition uses no other name (besides
//! `States.*` and `Lambda.*`), so adding a variant here is the only way to add a name, and each
//! variant says why it exists.

use std::fmt;

/// The closed list of error names a ferry step can fail with.
///
/// The names are stable: they appear in `ErrorEquals` in template.yaml, in execution histories
/// and in the CLI's exit statuses, so renaming one is a breaking change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum ErrorName {
    /// The copy request breaks a rule (field and rule named in the cause), or a copyId's stored
    /// plan differs from the request given for it. Nothing was touched.
    InvalidRequest,
    /// AWS refused a call ferry needed; the cause names the call, the resource and the account.
    AccessDenied,
    /// A bucket, object, role or job that the copy needs does not exist.
    NotFound,
    /// Merging ferry's statements would take a policy past its size limit (20 KB for a bucket
    /// policy, 10,240 characters for a role's inline policies).
    PolicyTooLarge,
    /// A transient failure (throttling, 5xx, a conflicting concurrent write): the state machine
    /// retries the step.
    Retryable,
    /// AWS refused a call on a grant this run has just made, while such changes may still be
    /// taking effect (IAM, S3 and KMS apply them after a delay): the state machine retries the
    /// step for longer than `Retryable`, and the last refusal ends the run.
    NotYetInEffect,
    /// No inventory report arrived before `inventoryDeadlineSeconds` passed.
    InventoryNeverArrived,
    /// The delivered `manifest.json` does not match its `manifest.checksum`.
    InventoryChecksumMismatch,
    /// The Batch Operations job as a whole failed or was cancelled.
    JobFailed,
    /// The job ran, and some objects still failed after the retries the request allows.
    CopyIncomplete,
    /// `source.archived: restore`: some of the objects ferry looked at are still being
    /// restored. The state machine waits `timing.restoreCheckSeconds` and looks again.
    RestoresPending,
    /// `source.archived: restore`: objects were still not restored after twice the slowest
    /// time AWS documents for their tier.
    RestoresNeverCompleted,
    /// A step failed with an error that is not ferry's own: a `States.*` error of the state
    /// machine (a timeout, a payload that does not fit a step) or a `Lambda.*` / `Runtime.*`
    /// error of the platform. Added so that an execution always ends with one of ferry's names
    /// (a Fail state may not use a `States.*` name); the cause keeps the original error.
    Internal,
}

impl ErrorName {
    /// Every name, in a stable order (the template test iterates over it).
    pub const ALL: [ErrorName; 13] = [
        ErrorName::InvalidRequest,
        ErrorName::AccessDenied,
        ErrorName::NotFound,
        ErrorName::PolicyTooLarge,
        ErrorName::Retryable,
        ErrorName::NotYetInEffect,
        ErrorName::InventoryNeverArrived,
        ErrorName::InventoryChecksumMismatch,
        ErrorName::JobFailed,
        ErrorName::CopyIncomplete,
        ErrorName::RestoresPending,
        ErrorName::RestoresNeverCompleted,
        ErrorName::Internal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorName::InvalidRequest => "InvalidRequest",
            ErrorName::AccessDenied => "AccessDenied",
            ErrorName::NotFound => "NotFound",
            ErrorName::PolicyTooLarge => "PolicyTooLarge",
            ErrorName::Retryable => "Retryable",
            ErrorName::NotYetInEffect => "NotYetInEffect",
            ErrorName::InventoryNeverArrived => "InventoryNeverArrived",
            ErrorName::InventoryChecksumMismatch => "InventoryChecksumMismatch",
            ErrorName::JobFailed => "JobFailed",
            ErrorName::CopyIncomplete => "CopyIncomplete",
            ErrorName::RestoresPending => "RestoresPending",
            ErrorName::RestoresNeverCompleted => "RestoresNeverCompleted",
            ErrorName::Internal => "Internal",
        }
    }

    /// Parses a name as it appears in an execution's `error` field.
    pub fn parse(name: &str) -> Option<ErrorName> {
        ErrorName::ALL.into_iter().find(|n| n.as_str() == name)
    }

    /// The CLI's exit status for an execution that failed with this name
    /// (docs/src/operate.md, "Exit statuses": 0 copied, 1 incomplete, 2 invalid, 3 other).
    pub fn exit_status(self) -> i32 {
        match self {
            ErrorName::CopyIncomplete => 1,
            ErrorName::InvalidRequest => 2,
            _ => 3,
        }
    }
}

impl fmt::Display for ErrorName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error a ferry step returns: one of the closed names plus a cause for a person.
///
/// Handlers map this to the Lambda error shape (`errorType` = the name, `errorMessage` = the
/// cause), which is what Step Functions matches in `ErrorEquals`.
#[derive(Debug, thiserror::Error)]
#[error("{name}: {cause}")]
pub struct StepError {
    pub name: ErrorName,
    pub cause: String,
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl StepError {
    pub fn new(name: ErrorName, cause: impl Into<String>) -> Self {
        StepError {
            name,
            cause: cause.into(),
            source: None,
        }
    }

    /// This error as the function `step` (`job-submit`) reports it: its cause begins with the
    /// step's name, so that an execution's cause says where it failed as well as which call.
    pub fn in_step(mut self, step: &str) -> StepError {
        self.cause = format!("{step}: {}", self.cause);
        self
    }

    pub fn with_source(
        mut self,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> StepError {
        self.source = Some(Box::new(source));
        self
    }

    /// Classifies an AWS error code (`code()` of an SDK error) into one of ferry's names.
    /// `what` says which call on which resource failed, for the cause.
    pub fn from_aws_code(code: Option<&str>, message: Option<&str>, what: &str) -> StepError {
        let name = classify_aws_code(code);
        let cause = match (code, message) {
            (Some(c), Some(m)) => format!("{what}: {c}: {m}"),
            (Some(c), None) => format!("{what}: {c}"),
            (None, Some(m)) => format!("{what}: {m}"),
            (None, None) => format!("{what}: no error code from AWS"),
        };
        StepError::new(name, cause)
    }
}

/// Classifies an SDK error by its AWS error code, keeping it as the source. `what` says which
/// call on which resource failed (`PutBucketPolicy on src-photos`).
pub fn from_sdk<E>(
    err: aws_smithy_runtime_api::client::result::SdkError<
        E,
        aws_smithy_runtime_api::client::orchestrator::HttpResponse,
    >,
    what: &str,
) -> StepError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata
        + std::error::Error
        + Send
        + Sync
        + 'static,
{
    use aws_smithy_types::error::metadata::ProvideErrorMetadata;
    // HEAD requests (HeadObject, HeadBucket) are answered without a body, so without a code:
    // their status says it. A 403 there is S3's AccessDenied (and a missing key read without
    // s3:ListBucket), a 404 its NotFound; neither is worth a retry.
    let by_status = match err.raw_response().map(|r| r.status().as_u16()) {
        Some(403) => Some(("AccessDenied", "Forbidden (HTTP 403, no body)")),
        Some(404) => Some(("NotFound", "Not Found (HTTP 404, no body)")),
        _ => None,
    };
    let code = err.code().or(by_status.map(|(c, _)| c)).map(str::to_string);
    let message = err
        .message()
        .or(by_status.map(|(_, m)| m))
        .map(str::to_string);
    let mut e = StepError::from_aws_code(code.as_deref(), message.as_deref(), what);
    // No code: a transport failure, or a response AWS would not send; say all the SDK knows.
    if code.is_none() {
        e.cause = format!(
            "{what}: {}",
            aws_smithy_types::error::display::DisplayErrorContext(&err)
        );
    }
    e.with_source(err)
}

/// The AWS error code of an SDK error, if AWS answered with one.
pub fn sdk_code<E, R>(err: &aws_smithy_runtime_api::client::result::SdkError<E, R>) -> Option<&str>
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata,
{
    use aws_smithy_types::error::metadata::ProvideErrorMetadata;
    err.code()
}

/// Maps an AWS error code to ferry's name. Unknown codes and transport failures (no code) are
/// treated as retryable: the state machine's Retry bounds how often, and a permanent problem
/// still ends the execution with its cause.
pub fn classify_aws_code(code: Option<&str>) -> ErrorName {
    match code {
        Some(
            "AccessDenied"
            | "AccessDeniedException"
            // A body-less 403 to a HEAD request, as the SDK names it.
            | "Forbidden"
            | "AllAccessDisabled"
            | "AccountProblem"
            | "InvalidAccessKeyId"
            | "SignatureDoesNotMatch"
            | "UnauthorizedOperation"
            | "ExpiredToken",
        ) => ErrorName::AccessDenied,
        Some(
            "NoSuchBucket"
            | "NoSuchKey"
            | "NotFound"
            | "NoSuchEntity"
            | "NoSuchJob"
            | "NotFoundException"
            | "NoSuchConfiguration"
            | "NoSuchInventoryConfig"
            | "NoSuchBucketPolicy"
            | "StateMachineDoesNotExist"
            | "ExecutionDoesNotExist",
        ) => ErrorName::NotFound,
        Some(
            "MalformedPolicy"
            | "MalformedPolicyDocument"
            | "InvalidArgument"
            | "InvalidRequest"
            | "InvalidBucketName"
            | "ValidationError"
            | "ValidationException"
            | "BadRequestException"
            | "IdempotencyException"
            | "InvalidInput"
            // An archived object read or copied before its restore (botocore s3 model: GetObject,
            // CopyObject): trying again does not restore it.
            | "InvalidObjectState"
            | "ObjectNotInActiveTierError",
        ) => ErrorName::InvalidRequest,
        Some("LimitExceeded" | "LimitExceededException") => ErrorName::PolicyTooLarge,
        _ => ErrorName::Retryable,
    }
}

/// A step's error as the Lambda runtime reports it: `errorType` is the error's name, which the
/// state machine's Retry and Catch match, and `errorMessage` its cause.
#[cfg(feature = "lambda")]
impl From<StepError> for lambda_runtime::Diagnostic {
    fn from(e: StepError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: e.name.to_string(),
            error_message: e.cause,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_round_trips_through_its_string() {
        for name in ErrorName::ALL {
            assert_eq!(ErrorName::parse(name.as_str()), Some(name));
            let json = serde_json::to_string(&name).unwrap();
            assert_eq!(json, format!("\"{}\"", name.as_str()));
        }
        assert_eq!(ErrorName::parse("States.Timeout"), None);
    }

    #[test]
    fn exit_statuses_follow_the_design() {
        assert_eq!(ErrorName::CopyIncomplete.exit_status(), 1);
        assert_eq!(ErrorName::InvalidRequest.exit_status(), 2);
        assert_eq!(ErrorName::JobFailed.exit_status(), 3);
        assert_eq!(ErrorName::AccessDenied.exit_status(), 3);
    }

    #[test]
    fn aws_codes_map_to_names_an_operator_can_act_on() {
        assert_eq!(
            classify_aws_code(Some("AccessDenied")),
            ErrorName::AccessDenied
        );
        assert_eq!(classify_aws_code(Some("NoSuchBucket")), ErrorName::NotFound);
        assert_eq!(classify_aws_code(Some("NoSuchJob")), ErrorName::NotFound);
        // S3 Control's DescribeJob on a job that does not exist (or no longer does).
        assert_eq!(
            classify_aws_code(Some("NotFoundException")),
            ErrorName::NotFound
        );
        assert_eq!(classify_aws_code(Some("SlowDown")), ErrorName::Retryable);
        assert_eq!(classify_aws_code(None), ErrorName::Retryable);
        assert_eq!(
            classify_aws_code(Some("MalformedPolicy")),
            ErrorName::InvalidRequest
        );
        let e = StepError::from_aws_code(
            Some("AccessDenied"),
            Some("Access Denied"),
            "PutBucketPolicy on src-photos",
        );
        assert_eq!(
            e.to_string(),
            "AccessDenied: PutBucketPolicy on src-photos: AccessDenied: Access Denied"
        );
    }
}
