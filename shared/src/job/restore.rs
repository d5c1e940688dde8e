//! The S3InitiateRestoreObject job of one class of a copy's archived objects
//! (`source.archived: restore`): its manifest is a restore manifest ferry wrote
//! ([`crate::restore`]), its role the copy's Batch role, its report beside the copy's.

use serde::{Deserialize, Serialize};

use aws_sdk_s3control::types as s3c;

use super::create::{CreateJobRequest, JobOperation, ManifestKind, ManifestLocation};
use crate::names::{Attempt, Names};
use crate::request::{CopyRequest, ReportScope, RestoreTier, DESCRIPTION_MAX};
use crate::restore::ArchiveClass;

/// S3InitiateRestoreObject, in AWS's JSON shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct S3InitiateRestoreObject {
    /// Glacier Flexible Retrieval and Deep Archive only; absent for Intelligent-Tiering's
    /// archive tiers (the API: it "must not" be given for them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_in_days: Option<i32>,
    pub glacier_job_tier: RestoreTier,
}

impl S3InitiateRestoreObject {
    pub fn to_sdk(&self) -> s3c::S3InitiateRestoreObjectOperation {
        s3c::S3InitiateRestoreObjectOperation::builder()
            .set_expiration_in_days(self.expiration_in_days)
            .glacier_job_tier(match self.glacier_job_tier {
                RestoreTier::Bulk => s3c::S3GlacierJobTier::Bulk,
                RestoreTier::Standard => s3c::S3GlacierJobTier::Standard,
            })
            .build()
    }
}

impl CreateJobRequest {
    /// The restore job of `class`'s restore manifest (`manifest`, a CSV of `Bucket,Key`), as
    /// the job `attempt` of the run. Its report lists every task, so that a restore S3 refused
    /// is counted with its reason.
    pub fn for_restore(
        req: &CopyRequest,
        names: &Names,
        manifest: &ManifestLocation,
        attempt: Attempt,
        class: ArchiveClass,
    ) -> CreateJobRequest {
        debug_assert!(matches!(manifest.kind, ManifestKind::Csv { .. }));
        let mut job = CreateJobRequest::for_copy(req, names, manifest, attempt);
        job.operation = JobOperation {
            s3_put_object_copy: None,
            lambda_invoke: None,
            s3_initiate_restore_object: Some(S3InitiateRestoreObject {
                expiration_in_days: (class == ArchiveClass::Glacier)
                    .then(|| i32::try_from(req.source.restore.days).unwrap_or(i32::MAX)),
                glacier_job_tier: req.source.restore.tier,
            }),
        };
        job.report.report_scope = ReportScope::AllTasks;
        let suffix = format!(" (run {}, restore {})", attempt.run, class.label());
        let base = req
            .job
            .description
            .clone()
            .unwrap_or_else(|| format!("ferry copy {}", req.copy_id));
        let keep = DESCRIPTION_MAX - suffix.chars().count();
        job.description = base.chars().take(keep).collect::<String>() + &suffix;
        job
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_glacier_restore_has_days_and_an_intelligent_tiering_one_has_none() {
        let mut req =
            CopyRequest::from_json(include_str!("../../fixtures/request-csv.json")).unwrap();
        req.source.restore.days = 3;
        let names = Names::new(&req, crate::testing::FERRY_BUCKET);
        let manifest = ManifestLocation {
            kind: ManifestKind::Csv {
                with_versions: false,
            },
            object_arn: names.s3_arn(
                &names.ferry_bucket,
                Some("retry/x/run-1/restore-glacier.csv"),
            ),
            etag: "e".into(),
            version_id: None,
            filter: None,
        };
        let attempt = Attempt { run: 1, job: 0 };
        let glacier =
            CreateJobRequest::for_restore(&req, &names, &manifest, attempt, ArchiveClass::Glacier);
        let json = serde_json::to_value(&glacier).unwrap();
        assert_eq!(
            json["Operation"],
            serde_json::json!({"S3InitiateRestoreObject": {"ExpirationInDays": 3, "GlacierJobTier": "BULK"}})
        );
        assert_eq!(json["Report"]["ReportScope"], "AllTasks");
        assert_eq!(json["RoleArn"], names.batch_role_arn.as_str());
        assert!(json["Description"]
            .as_str()
            .unwrap()
            .ends_with("(run 1, restore glacier)"));
        let tiering =
            CreateJobRequest::for_restore(&req, &names, &manifest, attempt, ArchiveClass::Tiering);
        assert_eq!(
            serde_json::to_value(&tiering).unwrap()["Operation"],
            serde_json::json!({"S3InitiateRestoreObject": {"GlacierJobTier": "BULK"}})
        );
        // The SDK's call takes it.
        let op = tiering
            .operation
            .s3_initiate_restore_object
            .unwrap()
            .to_sdk();
        assert_eq!(op.expiration_in_days(), None);
        assert_eq!(op.glacier_job_tier(), Some(&s3c::S3GlacierJobTier::Bulk));
    }
}
