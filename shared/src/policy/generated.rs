//! Flow C's statements: S3 Batch Operations generates each job's manifest from the source bucket
//! as the copy's Batch role (the S3 User Guide's policy for a generated manifest:
//! `s3:PutInventoryConfiguration` on the source bucket, `s3:PutObject` on the manifest's bucket).
//! The manifest is written beside the run's reports, which the role writes already
//! (`ReportWrite`), and read back from there (`ManifestRead`).

use serde_json::{json, Value};

use crate::names::Names;
use crate::request::{CopyRequest, Flow};

/// What a job's role needs on the source bucket for S3 Batch Operations to generate its
/// manifest: "To generate an object list, you must have the `s3:PutInventoryConfiguration`
/// permission" (S3 User Guide, batch-ops-create-job; batch-ops-iam-role-policies grants it on
/// the source bucket's ARN).
pub(super) const GENERATE_ACTION: &str = "s3:PutInventoryConfiguration";

/// The Batch role's statements for flow C (none for the other flows).
pub(super) fn role_statements(req: &CopyRequest, names: &Names) -> Vec<Value> {
    if req.flow() != Flow::Generated {
        return Vec::new();
    }
    vec![json!({
        "Sid": names.sid("SourceGenerate"),
        "Effect": "Allow",
        "Action": GENERATE_ACTION,
        "Resource": names.s3_arn(&req.source.bucket, None)
    })]
}

/// The source bucket policy's statement for flow C (none for the other flows): the generated
/// manifest lists the source bucket as the job's role, which needs the bucket owner's grant
/// across accounts (PutBucketInventoryConfiguration: "The bucket owner has this permission by
/// default and can grant this permission to others"). `root` and `role_only` are every grant's
/// principal and conditions.
pub(super) fn source_grant(
    req: &CopyRequest,
    names: &Names,
    root: &str,
    role_only: &Value,
) -> Vec<Value> {
    if req.flow() != Flow::Generated {
        return Vec::new();
    }
    vec![json!({
        "Sid": names.sid("SourceGenerate"),
        "Effect": "Allow",
        "Principal": { "AWS": root },
        "Action": GENERATE_ACTION,
        "Resource": names.s3_arn(&req.source.bucket, None),
        "Condition": role_only
    })]
}
