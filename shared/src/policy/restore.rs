//! `source.archived: restore`'s statements. The restore jobs run as the copy's Batch role:
//! "s3:RestoreObject" on the objects (S3 User Guide, batch-ops-iam-role-policies, "Restore
//! objects"), granted across accounts by the source bucket's policy as every read is. Before the
//! copy, `job-submit` HEADs the copy's objects to find the archived ones (flow B) and to see a
//! sample restored; HeadObject is authorized as `s3:GetObject` (`s3:GetObjectVersion` for a
//! version), which would let that function's role read the objects too: granted to it alone,
//! on the copy's prefix only, for the run, and revoked with the rest.

use serde_json::{json, Value};

use crate::names::Names;
use crate::request::CopyRequest;

/// The action of an S3InitiateRestoreObject task.
pub(super) const RESTORE_ACTION: &str = "s3:RestoreObject";

/// The Batch role's statement (none unless the copy restores).
pub(super) fn role_statements(req: &CopyRequest, names: &Names) -> Vec<Value> {
    if !req.restores() {
        return Vec::new();
    }
    vec![json!({
        "Sid": names.sid("SourceRestore"),
        "Effect": "Allow",
        "Action": RESTORE_ACTION,
        "Resource": names.policy_objects_under(&req.source.bucket, &req.source.prefix)
    })]
}

/// The source bucket policy's statements (none unless the copy restores): the restore, to the
/// Batch role (`role_only`); the HEADs, to job-submit's role (`submitter_only`).
pub(super) fn source_grant(
    req: &CopyRequest,
    names: &Names,
    root: &str,
    role_only: &Value,
    submitter_only: &Value,
) -> Vec<Value> {
    if !req.restores() {
        return Vec::new();
    }
    let objects = names.policy_objects_under(&req.source.bucket, &req.source.prefix);
    vec![
        // So that a HEAD of a key deleted since the manifest was written answers 404, not 403
        // (HeadObject, the S3 API model: "If you don’t have the s3:ListBucket permission,
        // Amazon S3 returns an HTTP status code 403 Forbidden error"), and job-submit passes
        // over it.
        json!({
            "Sid": names.sid("RestoreList"),
            "Effect": "Allow",
            "Principal": { "AWS": root },
            "Action": "s3:ListBucket",
            "Resource": names.s3_arn(&req.source.bucket, None),
            "Condition": submitter_only
        }),
        json!({
            "Sid": names.sid("SourceRestore"),
            "Effect": "Allow",
            "Principal": { "AWS": root },
            "Action": RESTORE_ACTION,
            "Resource": objects,
            "Condition": role_only
        }),
        json!({
            "Sid": names.sid("RestoreCheck"),
            "Effect": "Allow",
            "Principal": { "AWS": root },
            // A HEAD of a CSV row's version needs GetObjectVersion.
            "Action": ["s3:GetObject", "s3:GetObjectVersion"],
            "Resource": objects,
            "Condition": submitter_only
        }),
    ]
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use crate::names::Names;
    use crate::request::{Archived, CopyRequest};

    fn restoring(statements: &[Value]) -> Vec<&Value> {
        statements
            .iter()
            .filter(|s| {
                let sid = s["Sid"].as_str().unwrap_or_default();
                sid.starts_with("FerrySourceRestore")
                    || sid.starts_with("FerryRestoreCheck")
                    || sid.starts_with("FerryRestoreList")
            })
            .collect()
    }

    #[test]
    fn a_restoring_copy_grants_restores_to_the_batch_role_and_heads_to_job_submit_only() {
        let mut req =
            CopyRequest::from_json(include_str!("../../fixtures/request-csv.json")).unwrap();
        let names = Names::new(&req, crate::testing::FERRY_BUCKET);
        let expiry = 1_900_000_000;
        let grants = super::super::source_account_grants(&req, &names, expiry);
        assert!(restoring(&grants["src-photos"]).is_empty());
        let role = super::super::batch_role_policy(&req, &names, None);
        assert!(!role.to_string().contains("s3:RestoreObject"));

        req.source.archived = Archived::Restore;
        let grants = super::super::source_account_grants(&req, &names, expiry);
        let ours = restoring(&grants["src-photos"]);
        assert_eq!(ours.len(), 3, "{ours:?}");
        let objects = names.policy_objects_under(&req.source.bucket, &req.source.prefix);
        let list = ours[0];
        assert_eq!(list["Action"], "s3:ListBucket");
        assert_eq!(
            list["Resource"],
            names.s3_arn(&req.source.bucket, None).as_str()
        );
        assert_eq!(
            list["Condition"]["ArnEquals"]["aws:PrincipalArn"],
            names.submitter_role_arn().as_str()
        );
        let restore = ours[1];
        assert_eq!(restore["Action"], "s3:RestoreObject");
        assert_eq!(restore["Resource"], objects.as_str());
        assert_eq!(
            restore["Condition"]["ArnEquals"]["aws:PrincipalArn"],
            names.batch_role_arn.as_str()
        );
        let check = ours[2];
        assert_eq!(
            check["Action"],
            serde_json::json!(["s3:GetObject", "s3:GetObjectVersion"])
        );
        assert_eq!(check["Resource"], objects.as_str());
        assert_eq!(
            check["Condition"]["ArnEquals"]["aws:PrincipalArn"],
            names.submitter_role_arn().as_str()
        );
        // Both expire with every other grant.
        for s in ours {
            assert!(s["Condition"]["DateLessThan"]["aws:CurrentTime"].is_string());
        }
        let role = super::super::batch_role_policy(&req, &names, None);
        let statement = role["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["Action"] == "s3:RestoreObject")
            .expect("the role may restore");
        assert_eq!(statement["Resource"], objects.as_str());
    }
}
