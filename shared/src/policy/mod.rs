//! IAM and bucket policies: every policy of the AWS procedure rendered for one copy, and merged
//! into and removed from policies that other people own without changing what is theirs.
//!
//! Foreign statements are opaque JSON: they come out exactly as they went in (same values, same
//! key order), whatever their shape (`Statement` as one object or an array, string-or-array
//! values, no Sid). ferry recognises its own statements by Sid only: `Ferry` + a purpose of
//! letters + the copy's 10-hex-digit hash ([`crate::names::copy_hash`]), so two copies never
//! touch each other's statements.
//!
//! Differences from the seed procedure's example policies, and why:
//! - Grants name the destination account's root as Principal and pin the role with
//!   `ArnEquals aws:PrincipalArn`: AWS rejects a policy naming a role created seconds ago and
//!   rewrites a deleted role to its unique id, which a re-created role does not match.
//! - Every grant expires (`DateLessThan aws:CurrentTime`), so a grant that every cleanup missed
//!   still ends.
//! - The source grant adds `s3:ListBucket` (a missing key then reads as 404, not 403) and is
//!   scoped to `source.prefix`.
//! - The role may not read the destination or write the source (the seed's one statement allows
//!   both), its destination resource has no bucket-name wildcard, and it reads only this copy's
//!   manifest objects, writes only its report prefix, and may call `s3:GetBucketLocation` on the
//!   manifest and report buckets (AWS's own policy examples include it).
//! - The manifest grant names ferry's `job-submit` role instead of a console user.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use crate::clock::{format_timestamp, Epoch};
use crate::names::Names;
use crate::request::{CopyRequest, Manifest};
use crate::{ErrorName, StepError};

mod generated;
mod restore;

pub const VERSION: &str = "2012-10-17";
/// The service principal S3 Batch Operations assumes roles as.
pub const BATCH_SERVICE: &str = "batchoperations.s3.amazonaws.com";

const SOURCE_READ_ACTIONS: [&str; 6] = [
    "s3:GetObject",
    "s3:GetObjectVersion",
    "s3:GetObjectAcl",
    "s3:GetObjectTagging",
    "s3:GetObjectVersionAcl",
    "s3:GetObjectVersionTagging",
];
/// Writes at the destination: S3PutObjectCopy's, and the copy worker's multipart upload (its
/// parts are PutObject; ListParts and AbortMultipartUpload have actions of their own).
const DESTINATION_WRITE_ACTIONS: [&str; 7] = [
    "s3:PutObject",
    "s3:PutObjectAcl",
    "s3:PutObjectTagging",
    "s3:PutObjectVersionAcl",
    "s3:PutObjectVersionTagging",
    "s3:ListMultipartUploadParts",
    "s3:AbortMultipartUpload",
];
const MANIFEST_READ_ACTIONS: [&str; 2] = ["s3:GetObject", "s3:GetObjectVersion"];

/// Which policy a document is, for its size limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    /// 20 KB, counted in bytes.
    BucketPolicy,
    /// 10,240 characters, white space not counted.
    RoleInline,
}

impl PolicyKind {
    pub fn limit(self) -> usize {
        match self {
            PolicyKind::BucketPolicy => 20 * 1024,
            PolicyKind::RoleInline => 10_240,
        }
    }

    /// The size AWS counts for `json`.
    pub fn measure(self, json: &str) -> usize {
        match self {
            PolicyKind::BucketPolicy => json.len(),
            PolicyKind::RoleInline => json.chars().filter(|c| !c.is_whitespace()).count(),
        }
    }

    fn describe(self) -> &'static str {
        match self {
            PolicyKind::BucketPolicy => "bucket policy (20 KB, in bytes)",
            PolicyKind::RoleInline => "role inline policy (10,240 characters)",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("the policy is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("the policy is not a policy document: {0}")]
    Shape(String),
    #[error("the IAM policy document is not valid URL-encoded UTF-8")]
    Encoding,
    #[error(
        "{what} would be {size} after merging ferry's statements, over the limit of {limit} for a {}; remove statements that are no longer needed, or copy with fewer concurrent copies on this bucket",
        kind.describe()
    )]
    TooLarge {
        what: String,
        kind: PolicyKind,
        size: usize,
        limit: usize,
    },
}

impl From<PolicyError> for StepError {
    fn from(e: PolicyError) -> Self {
        let name = match e {
            PolicyError::TooLarge { .. } => ErrorName::PolicyTooLarge,
            _ => ErrorName::InvalidRequest,
        };
        StepError::new(name, e.to_string())
    }
}

/// Every policy of one copy.
#[derive(Debug, Clone, PartialEq)]
pub struct CopyPolicies {
    /// The Batch role's trust policy.
    pub trust: Value,
    /// The Batch role's inline permission policy.
    pub role: Value,
    /// Statements to merge into bucket policies of the source account, by bucket: the source
    /// bucket, and in flow B a CSV manifest bucket of the source account.
    pub source_account_grants: BTreeMap<String, Vec<Value>>,
}

impl CopyPolicies {
    /// Renders the policies of a validated request; grants expire at `expires_at`. The copies
    /// are encrypted under `destination_key` when it is set (SSE-KMS: the request's key, or
    /// the destination bucket's default key).
    pub fn render(
        req: &CopyRequest,
        names: &Names,
        expires_at: Epoch,
        destination_key: Option<&str>,
    ) -> CopyPolicies {
        CopyPolicies {
            trust: batch_trust_policy(names),
            role: batch_role_policy(req, names, destination_key),
            source_account_grants: source_account_grants(req, names, expires_at),
        }
    }
}

/// The Batch role's trust policy: S3 Batch Operations may assume it, and so may the destination
/// stack's copy worker, which copies what S3PutObjectCopy cannot as this role.
pub fn batch_trust_policy(names: &Names) -> Value {
    json!({
        "Version": VERSION,
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": { "Service": BATCH_SERVICE },
                "Action": "sts:AssumeRole"
            },
            {
                "Sid": "CopyWorker",
                "Effect": "Allow",
                "Principal": { "AWS": names.worker_role_arn() },
                "Action": "sts:AssumeRole"
            }
        ]
    })
}

/// The buckets a job reads its manifests from and writes its report to.
fn manifest_and_report_buckets(req: &CopyRequest, names: &Names) -> BTreeSet<String> {
    let mut buckets = BTreeSet::from([names.ferry_bucket.clone()]);
    if let Manifest::Csv { bucket, .. } = &req.manifest {
        buckets.insert(bucket.clone());
    }
    if let Some(b) = &req.report.bucket {
        buckets.insert(b.clone());
    }
    buckets
}

/// The ARNs of the manifest objects a job of this copy reads: the inventory deliveries of its
/// configuration or its CSV, and its retry manifests.
fn manifest_object_arns(req: &CopyRequest, names: &Names) -> Vec<String> {
    let first = match &req.manifest {
        Manifest::Inventory {} => names.policy_objects_under(
            &names.ferry_bucket,
            &names.layout().inventory_location(&req.source.bucket),
        ),
        Manifest::Csv { bucket, key, .. } => names.policy_object(bucket, key),
        Manifest::Generated { .. } => {
            names.policy_objects_under(&names.ferry_bucket, &names.layout().report_prefix_all())
        }
    };
    vec![
        first,
        names.policy_objects_under(&names.ferry_bucket, &names.layout().retry_prefix()),
    ]
}

/// The Batch role's permission policy, scoped to this copy's buckets and prefixes, and, when the
/// copies are encrypted under `destination_key` (SSE-KMS), that key through S3 only.
pub fn batch_role_policy(req: &CopyRequest, names: &Names, destination_key: Option<&str>) -> Value {
    let report_bucket = req.report.bucket.as_deref().unwrap_or(&names.ferry_bucket);
    // Writes land in the destination account only, whatever a bucket's name turns out to be.
    let own_account =
        json!({ "StringEquals": { "s3:ResourceAccount": names.destination_account } });
    let location: Vec<String> = manifest_and_report_buckets(req, names)
        .iter()
        .map(|b| names.s3_arn(b, None))
        .collect();
    let mut policy = json!({
        "Version": VERSION,
        "Statement": [
            {
                "Sid": names.sid("SourceRead"),
                "Effect": "Allow",
                "Action": SOURCE_READ_ACTIONS,
                "Resource": names.policy_objects_under(&req.source.bucket, &req.source.prefix)
            },
            {
                "Sid": names.sid("SourceList"),
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": names.s3_arn(&req.source.bucket, None)
            },
            {
                "Sid": names.sid("DestinationWrite"),
                "Effect": "Allow",
                "Action": DESTINATION_WRITE_ACTIONS,
                "Resource": names.policy_objects_under(&req.destination.bucket, &req.destination.key_prefix),
                "Condition": own_account.clone()
            },
            {
                "Sid": names.sid("ManifestRead"),
                "Effect": "Allow",
                "Action": MANIFEST_READ_ACTIONS,
                "Resource": manifest_object_arns(req, names)
            },
            {
                "Sid": names.sid("ReportWrite"),
                "Effect": "Allow",
                "Action": "s3:PutObject",
                "Resource": names.policy_objects_under(report_bucket, &names.layout().report_prefix_all()),
                "Condition": own_account
            },
            {
                "Sid": names.sid("BucketLocation"),
                "Effect": "Allow",
                "Action": "s3:GetBucketLocation",
                "Resource": location
            }
        ]
    });
    // `destination.existing` other than overwrite, or a verification: the copy worker, as this
    // role, looks at each destination key (HeadObject; ListBucket so that a free key answers
    // 404).
    if req.destination.existing != crate::request::Existing::Overwrite || req.verifies() {
        let statements = policy["Statement"].as_array_mut().expect("statements");
        statements.push(json!({
            "Sid": names.sid("DestinationRead"),
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": names.policy_objects_under(&req.destination.bucket, &req.destination.key_prefix),
            "Condition": { "StringEquals": { "s3:ResourceAccount": names.destination_account } }
        }));
        statements.push(json!({
            "Sid": names.sid("DestinationList"),
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": names.s3_arn(&req.destination.bucket, None),
            "Condition": { "StringEquals": { "s3:ResourceAccount": names.destination_account } }
        }));
    }
    policy["Statement"]
        .as_array_mut()
        .expect("statements")
        .extend(generated::role_statements(req, names));
    policy["Statement"]
        .as_array_mut()
        .expect("statements")
        .extend(restore::role_statements(req, names));
    // Objects over 5 GB: the job of the copy worker invokes it (LambdaInvoke), nothing else.
    policy["Statement"]
        .as_array_mut()
        .expect("statements")
        .push(json!({
            "Sid": names.sid("WorkerInvoke"),
            "Effect": "Allow",
            "Action": "lambda:InvokeFunction",
            "Resource": names.worker_function_arn()
        }));
    // An SSE-KMS source object is decrypted with its key, in the source account, through S3:
    // the key's grant (source-access) decides which keys; this statement only lets the role
    // use one (KMS needs both across accounts).
    policy["Statement"]
        .as_array_mut()
        .expect("statements")
        .push(json!({
            "Sid": names.sid("SourceKeys"),
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": format!("arn:{}:kms:{}:{}:key/*", names.partition, names.region, req.source.account_id),
            "Condition": { "StringEquals": { "kms:ViaService": via_s3(&names.region) } }
        }));
    if let Some(key) = destination_key {
        // S3 generates each copy's data key (and decrypts it for a multipart copy) with the
        // destination key, as the job's role (AWS's S3 guide: kms:GenerateDataKey, kms:Decrypt).
        policy["Statement"]
            .as_array_mut()
            .expect("statements")
            .push(json!({
                "Sid": names.sid("DestinationKey"),
                "Effect": "Allow",
                "Action": DESTINATION_KEY_ACTIONS,
                "Resource": key,
                "Condition": { "StringEquals": { "kms:ViaService": via_s3(&names.region) } }
            }));
    }
    policy
}

/// The statement a source KMS key's policy needs so that ferry's `source-access` may grant the
/// Batch role use of it and take the grant back: the account's IAM policies decide (KMS's
/// default key policy has the same effect).
pub fn key_policy_statement_for_grants(partition: &str, account: &str) -> Value {
    json!({
        "Sid": "LetIamPoliciesGrant",
        "Effect": "Allow",
        "Principal": { "AWS": format!("arn:{partition}:iam::{account}:root") },
        "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
        "Resource": "*"
    })
}

/// KMS actions S3 performs with the destination key for an SSE-KMS copy.
const DESTINATION_KEY_ACTIONS: [&str; 2] = ["kms:GenerateDataKey", "kms:Decrypt"];

/// `kms:ViaService` of S3 in `region`: a key used through S3, never directly.
fn via_s3(region: &str) -> String {
    format!("s3.{region}.amazonaws.com")
}

/// The conditions of every grant: only the named roles of the destination account, and only
/// until the grant expires.
fn grant_condition(principal_arns: Value, expires_at: Epoch) -> Value {
    json!({
        "ArnEquals": { "aws:PrincipalArn": principal_arns },
        "DateLessThan": { "aws:CurrentTime": format_timestamp(expires_at) }
    })
}

/// The statements ferry merges into bucket policies of the source account, by bucket.
pub fn source_account_grants(
    req: &CopyRequest,
    names: &Names,
    expires_at: Epoch,
) -> BTreeMap<String, Vec<Value>> {
    let root = names.account_root(&req.destination.account_id);
    let role_only = grant_condition(json!(names.batch_role_arn), expires_at);
    let src = &req.source.bucket;
    let mut grants: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    grants.entry(src.clone()).or_default().extend([
        json!({
            "Sid": names.sid("SourceRead"),
            "Effect": "Allow",
            "Principal": { "AWS": root },
            "Action": SOURCE_READ_ACTIONS,
            "Resource": names.policy_objects_under(src, &req.source.prefix),
            "Condition": role_only
        }),
        json!({
            "Sid": names.sid("SourceList"),
            "Effect": "Allow",
            "Principal": { "AWS": root },
            "Action": "s3:ListBucket",
            "Resource": names.s3_arn(src, None),
            "Condition": role_only
        }),
    ]);
    grants
        .entry(src.clone())
        .or_default()
        .extend(generated::source_grant(req, names, &root, &role_only));
    let submitter_only = grant_condition(json!(names.submitter_role_arn()), expires_at);
    grants
        .entry(src.clone())
        .or_default()
        .extend(restore::source_grant(
            req,
            names,
            &root,
            &role_only,
            &submitter_only,
        ));
    if let Manifest::Csv {
        account_id,
        bucket,
        key,
    } = &req.manifest
    {
        if *account_id == req.source.account_id {
            // The role reads the manifest, at the version job-submit saw; job-submit reads its
            // ETag and first rows (HeadObject and a ranged GetObject of the current version).
            let submitter_only = grant_condition(json!(names.submitter_role_arn()), expires_at);
            grants.entry(bucket.clone()).or_default().extend([
                json!({
                    "Sid": names.sid("ManifestRead"),
                    "Effect": "Allow",
                    "Principal": { "AWS": root },
                    "Action": MANIFEST_READ_ACTIONS,
                    "Resource": names.policy_object(bucket, key),
                    "Condition": role_only
                }),
                json!({
                    "Sid": names.sid("ManifestCheck"),
                    "Effect": "Allow",
                    "Principal": { "AWS": root },
                    "Action": "s3:GetObject",
                    "Resource": names.policy_object(bucket, key),
                    "Condition": submitter_only
                }),
                json!({
                    "Sid": names.sid("ManifestLocation"),
                    "Effect": "Allow",
                    "Principal": { "AWS": root },
                    "Action": "s3:GetBucketLocation",
                    "Resource": names.s3_arn(bucket, None),
                    "Condition": role_only
                }),
            ]);
        }
    }
    grants
}

mod boundary;
pub use boundary::*;

mod merge;
pub use merge::*;

#[cfg(test)]
mod tests;
