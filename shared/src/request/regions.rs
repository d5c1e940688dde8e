//! `source.region`: a source bucket in another Region than the copy's (`region`, where both
//! stacks run, the destination bucket is and every job is created). The rules AWS states for
//! such a copy, each refusal naming its rule and what to use instead.
//!
//! - A copy job: "You must create your Batch Operations Copy jobs in the destination Region"
//!   (S3 User Guide, batch-ops-copy-object), which `region` already is.
//! - Flow A: "The destination bucket must be in the same Amazon Web Services Region as the source
//!   bucket" (PutBucketInventoryConfiguration), and the inventory's destination is the ferry
//!   bucket, in `region`.
//! - Flow C: "Amazon S3 Batch Operations does not support cross-Region object list generation"
//!   (S3 User Guide, batch-ops-create-job).
//! - Restores: a restore job is created in the Region of its objects (S3 User Guide,
//!   batch-ops-initiate-restore-object), where ferry has no stack.
//! - Flow B: allowed by AWS; not built by this version of ferry (docs/src/regions.md says what is
//!   missing), so it is refused too, saying so.

use super::validate::{is_region_shape, Checker};
use super::*;

impl CopyRequest {
    /// The source bucket's Region: `source.region`, else `region`.
    pub fn source_region(&self) -> &str {
        self.source.region.as_deref().unwrap_or(&self.region)
    }

    pub(super) fn check_regions(&self, v: &mut Checker) {
        let Some(source) = &self.source.region else {
            return;
        };
        if !is_region_shape(source) {
            v.add(
                "source.region",
                format!("`{source}` is not an AWS Region name such as eu-west-1"),
            );
            return;
        }
        if *source == self.region {
            return;
        }
        let rule = match self.flow() {
            Flow::Inventory => format!(
                "flow A cannot copy across Regions: S3 Inventory delivers a report only to a bucket in the source bucket's Region (\"The destination bucket must be in the same Amazon Web Services Region as the source bucket\"), and the report goes to the ferry bucket in {}; a CSV manifest (flow B) is what AWS allows",
                self.region
            ),
            Flow::Generated => "flow C cannot copy across Regions: \"Amazon S3 Batch Operations does not support cross-Region object list generation\"; a CSV manifest (flow B) is what AWS allows".to_string(),
            Flow::Csv => format!(
                "this version of ferry copies within one Region: a copy job from {source} to {} (flow B) is one AWS allows, but ferry's source-side steps and copy worker call S3 and KMS in the stacks' Region only (docs/src/regions.md); until it does, bring the objects into {} first (S3 Replication copies across Regions) and copy them from there",
                self.region, self.region
            ),
        };
        v.add("source.region", rule);
        if self.restores() {
            v.add(
                "source.archived",
                format!("`restore` across Regions: a restore job is created in the Region of its objects ({source}), where the copy has no ferry stack"),
            );
        }
    }
}
