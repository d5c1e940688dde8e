//! ferry's permissions boundary, rendered from a destination stack's lists: the most any role
//! ferry creates can ever do (the template creates the same document; its test compares them).

use serde_json::{json, Value};

use super::generated::GENERATE_ACTION;
use super::restore::RESTORE_ACTION;
/// Every version read of the source objects, as one action pattern.
const VERSION_READS: &str = "s3:GetObjectVersion*";

use super::{
    via_s3, DESTINATION_KEY_ACTIONS, DESTINATION_WRITE_ACTIONS, MANIFEST_READ_ACTIONS,
    SOURCE_READ_ACTIONS, VERSION,
};

/// What the stack's boundary is built from: its account, partition and Region, and the lists of
/// its parameters.
pub struct BoundaryScope<'a> {
    pub partition: &'a str,
    pub region: &'a str,
    pub own_account: &'a str,
    pub source_accounts: &'a [String],
    pub destination_buckets: &'a [String],
    pub manifest_buckets: &'a [String],
}

/// ferry's permissions boundary: the most any role ferry creates can ever do, whatever its own
/// policy says.
/// - In the source accounts (never `own_account`, even when listed): S3 object reads, ListBucket
///   and GetBucketLocation (one statement on `arn:<partition>:s3:::*`, which matches buckets and
///   objects alike); their bucket policies decide which buckets.
/// - In `own_account`, objects of the DestinationBuckets only (reads and writes); the
///   ManifestBuckets' objects and the ferry bucket's `inventory/` and `retry/` manifests (reads);
///   the ferry bucket's `reports/` (writes). Nothing else of the account's objects: not the ferry
///   bucket's `control/`, not a bucket the stack does not list. ListBucket and GetBucketLocation
///   stay account-wide: listing each bucket again would not fit a managed policy's 6,144
///   characters at the sizes the template supports (see the template's ceilings test).
/// - KMS keys of `own_account` through S3 in `region`; source accounts' keys for kms:Decrypt
///   through S3; the stack's copy worker.
///
/// The template creates it; CreateRole and PutRolePolicy are allowed only with it attached.
pub fn permissions_boundary(scope: &BoundaryScope) -> Value {
    let BoundaryScope {
        partition,
        region,
        own_account,
        source_accounts,
        ..
    } = *scope;
    let objects = |buckets: &[String]| -> Vec<String> {
        buckets
            .iter()
            .map(|b| format!("arn:{partition}:s3:::{b}/*"))
            .collect()
    };
    let ferry = crate::layout::ferry_bucket_name(own_account, region);
    let under_ferry = |prefixes: &[&str]| -> Vec<String> {
        prefixes
            .iter()
            .map(|prefix| format!("arn:{partition}:s3:::{ferry}/{prefix}/*"))
            .collect()
    };
    // Flow C's generated manifests are written beside the reports and read by the jobs.
    let ferry_manifests = under_ferry(&[
        crate::layout::INVENTORY_PREFIX,
        crate::layout::RETRY_PREFIX,
        crate::layout::REPORT_PREFIX,
    ]);
    let mut destination_actions: Vec<&str> = vec!["s3:GetObject", "s3:GetObjectVersion"];
    destination_actions.extend(DESTINATION_WRITE_ACTIONS);
    // `*` matches across `/`: the buckets and their objects. The version reads as one pattern,
    // `s3:GetObjectVersion*` (what the roles' policies grant of them, and the source buckets'
    // statements, are the three named in SOURCE_READ_ACTIONS): the boundary then fits a managed
    // policy's 6,144 characters at the sizes the template supports with s3:RestoreObject too.
    // Only reads in the source accounts, which their bucket policies grant or not.
    let mut source_actions: Vec<&str> = SOURCE_READ_ACTIONS
        .iter()
        .copied()
        .filter(|a| !a.starts_with(VERSION_READS.trim_end_matches('*')))
        .collect();
    source_actions.push(VERSION_READS);
    source_actions.extend([
        "s3:ListBucket",
        "s3:GetBucketLocation",
        GENERATE_ACTION,
        RESTORE_ACTION,
    ]);
    let sources = json!({
        "StringEquals": { "s3:ResourceAccount": source_accounts },
        "StringNotEquals": { "s3:ResourceAccount": own_account }
    });
    let own = json!({ "StringEquals": { "s3:ResourceAccount": own_account } });
    let own_for_manifests = own.clone();
    let mut boundary = json!({
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "FerryBoundarySources",
                "Effect": "Allow",
                "Action": source_actions,
                "Resource": format!("arn:{partition}:s3:::*"),
                "Condition": sources
            },
            {
                "Sid": "FerryBoundaryDestinations",
                "Effect": "Allow",
                "Action": destination_actions,
                "Resource": objects(scope.destination_buckets),
                "Condition": own.clone()
            },
            {
                "Sid": "FerryBoundaryManifests",
                "Effect": "Allow",
                "Action": MANIFEST_READ_ACTIONS,
                "Resource": ferry_manifests,
                "Condition": own.clone()
            },
            {
                "Sid": "FerryBoundaryReports",
                "Effect": "Allow",
                "Action": "s3:PutObject",
                "Resource": format!("arn:{partition}:s3:::{ferry}/{}/*", crate::layout::REPORT_PREFIX),
                "Condition": own.clone()
            },
            {
                "Sid": "FerryBoundaryBuckets",
                "Effect": "Allow",
                "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
                "Resource": format!("arn:{partition}:s3:::*"),
                "Condition": own
            },
            {
                "Sid": "FerryBoundaryKeys",
                "Effect": "Allow",
                "Action": DESTINATION_KEY_ACTIONS,
                "Resource": format!("arn:{partition}:kms:{region}:{own_account}:key/*"),
                "Condition": { "StringEquals": { "kms:ViaService": via_s3(region) } }
            },
            {
                "Sid": "FerryBoundarySourceKeys",
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": format!("arn:{partition}:kms:{region}:*:key/*"),
                "Condition": { "StringEquals": {
                    "kms:ViaService": via_s3(region),
                    "aws:ResourceAccount": source_accounts
                } }
            },
            {
                "Sid": "FerryBoundaryWorker",
                "Effect": "Allow",
                "Action": "lambda:InvokeFunction",
                "Resource": format!(
                    "arn:{partition}:lambda:{region}:{own_account}:function:{}",
                    crate::names::COPY_WORKER_FUNCTION
                )
            }
        ]
    });
    // CSV manifests kept in this account: their buckets' objects, read only.
    if !scope.manifest_buckets.is_empty() {
        boundary["Statement"]
            .as_array_mut()
            .expect("statements")
            .insert(
                3,
                json!({
                    "Sid": "FerryBoundaryManifestBuckets",
                    "Effect": "Allow",
                    "Action": MANIFEST_READ_ACTIONS,
                    "Resource": objects(scope.manifest_buckets),
                    "Condition": own_for_manifests
                }),
            );
    }
    boundary
}
