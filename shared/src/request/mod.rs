//! The copy request: what a user writes (the state machine's input, `ferry plan` / `ferry start`'s
//! file), its defaults, and its validation against the destination stack that will run it.
//!
//! The model is here; `parse.rs` reads a request strictly (camelCase, unknown fields rejected) and
//! reports every structural error at once; `validate.rs` then reports every rule the request
//! breaks, all at once, each naming the field path and the rule.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// A copy of the objects of one bucket into a bucket of another account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CopyRequest {
    /// Lowercase letters, digits and single hyphens, at most 40 characters.
    pub copy_id: String,
    /// Every bucket of the copy is in this Region, and both stacks are deployed there.
    pub region: String,
    pub source: Source,
    pub destination: Destination,
    pub manifest: Manifest,
    #[serde(default)]
    pub report: Report,
    #[serde(default)]
    pub job: Job,
    #[serde(default)]
    pub retry: Retry,
    #[serde(default)]
    pub multipart: Multipart,
    #[serde(default)]
    pub verify: Verify,
    #[serde(default)]
    pub timing: Timing,
    #[serde(default)]
    pub cleanup: Cleanup,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Source {
    pub account_id: String,
    pub bucket: String,
    /// Only keys under this prefix are listed (flow A) and readable by the Batch role (both).
    #[serde(default)]
    pub prefix: String,
    /// Archived objects (Glacier Flexible Retrieval, Deep Archive, Intelligent-Tiering's archive
    /// tiers): skipped and counted (`skip`), or restored first and copied (`restore`).
    #[serde(default)]
    pub archived: Archived,
    /// How they are restored, with `archived: restore`.
    #[serde(default)]
    pub restore: Restore,
    /// The source bucket's Region when it is not `region` (docs/src/regions.md: which copies
    /// across Regions AWS allows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Destination {
    pub account_id: String,
    pub bucket: String,
    /// Prepended to every copied key (S3PutObjectCopy `TargetKeyPrefix`); empty keeps the keys.
    #[serde(default)]
    pub key_prefix: String,
    #[serde(default)]
    pub storage_class: StorageClass,
    #[serde(default)]
    pub metadata_directive: MetadataDirective,
    /// How the copies are encrypted; absent, the destination bucket's default encryption.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<Encryption>,
    /// What happens to an object already at a copy's destination key.
    #[serde(default)]
    pub existing: Existing,
}

/// `destination.existing`: what a copy does where the destination already holds the key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Existing {
    /// Never overwrite: an identical object is left as it is (not copied), a different one is
    /// refused and reported; a new one is written only if the key is still free when it lands
    /// (S3's conditional write, `If-None-Match: *`).
    #[default]
    Refuse,
    /// An identical object (same size, same ETag or full-object checksum) is not copied; a
    /// different one is overwritten.
    SkipIdentical,
    /// Every object is copied over whatever is there (S3PutObjectCopy's own behaviour).
    Overwrite,
}

impl Existing {
    pub fn as_str(self) -> &'static str {
        match self {
            Existing::Refuse => "refuse",
            Existing::SkipIdentical => "skip-identical",
            Existing::Overwrite => "overwrite",
        }
    }
}

/// `destination.encryption`: SSE-S3, or SSE-KMS under a key of the destination account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Encryption {
    #[serde(rename = "type")]
    pub kind: EncryptionType,
    /// SSE-KMS: the key's ARN (`arn:<partition>:kms:<region>:<destination account>:key/<id>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_arn: Option<String>,
    /// SSE-KMS: an S3 Bucket Key for the copies (fewer KMS calls).
    #[serde(default)]
    pub bucket_key_enabled: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum EncryptionType {
    #[serde(rename = "SSE-S3")]
    SseS3,
    #[serde(rename = "SSE-KMS")]
    SseKms,
}

/// Where the list of objects to copy comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "kind", rename_all = "camelCase", deny_unknown_fields)]
pub enum Manifest {
    /// Flow A: an S3 Inventory report of the source bucket, delivered to the ferry bucket.
    Inventory {},
    /// Flow B: a CSV manifest (no header, `bucket,key[,versionId]`, URL-encoded keys) kept in
    /// the source account, or in the destination account.
    #[serde(rename_all = "camelCase")]
    Csv {
        account_id: String,
        bucket: String,
        key: String,
    },
    /// Flow C: S3 Batch Operations lists the source bucket itself when each job is created
    /// (CreateJob's `ManifestGenerator`), from `source.prefix` and this filter: no inventory to
    /// wait for, no CSV to keep.
    #[serde(rename_all = "camelCase")]
    Generated {
        #[serde(default)]
        filter: GeneratedFilter,
    },
}

/// The flows: the two of the AWS procedure, and the generated manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub enum Flow {
    Inventory,
    Csv,
    Generated,
}

impl Manifest {
    pub fn flow(&self) -> Flow {
        match self {
            Manifest::Inventory {} => Flow::Inventory,
            Manifest::Csv { .. } => Flow::Csv,
            Manifest::Generated { .. } => Flow::Generated,
        }
    }

    /// Flow C's filter.
    pub fn generated_filter(&self) -> Option<&GeneratedFilter> {
        match self {
            Manifest::Generated { filter } => Some(filter),
            _ => None,
        }
    }
}

/// S3PutObjectCopy storage classes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StorageClass {
    #[default]
    Standard,
    StandardIa,
    OnezoneIa,
    Glacier,
    IntelligentTiering,
    DeepArchive,
    GlacierIr,
}

impl StorageClass {
    /// Every class, in the API's order.
    pub const ALL: [StorageClass; 7] = [
        StorageClass::Standard,
        StorageClass::StandardIa,
        StorageClass::OnezoneIa,
        StorageClass::Glacier,
        StorageClass::IntelligentTiering,
        StorageClass::DeepArchive,
        StorageClass::GlacierIr,
    ];
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MetadataDirective {
    /// Metadata and tags are copied from the source object.
    #[default]
    Copy,
    Replace,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Report {
    #[serde(default)]
    pub scope: ReportScope,
    /// A bucket of the destination account for completion reports; the ferry bucket when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    /// Reports go under `<prefix>/<copyId>/run-<n>/`; `reports` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum ReportScope {
    AllTasks,
    /// Reports stay small on large copies; counts come from DescribeJob.
    #[default]
    FailedTasksOnly,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Job {
    /// 0..=2147483647, higher first (ordering between jobs is not guaranteed by AWS).
    #[serde(default = "Job::default_priority")]
    pub priority: i64,
    /// At most 256 characters; `ferry copy <copyId>` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

impl Job {
    fn default_priority() -> i64 {
        10
    }
}

impl Default for Job {
    fn default() -> Self {
        Job {
            priority: Job::default_priority(),
            description: None,
            tags: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Retry {
    /// How many retry jobs may follow the first one, for tasks that failed for transient reasons.
    #[serde(default = "Retry::default_max_attempts")]
    pub max_attempts: u32,
}

impl Retry {
    fn default_max_attempts() -> u32 {
        2
    }
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            max_attempts: Retry::default_max_attempts(),
        }
    }
}

/// `verify`: after the last job, every object of the manifest is checked at the destination by
/// a job of the copy worker in verify mode.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Verify {
    /// Absent: on when `destination.existing` is `refuse` or `skip-identical` (a copy that
    /// promises to leave existing objects alone proves what it left), off for `overwrite`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

impl CopyRequest {
    /// Whether the copy ends with a verification job.
    pub fn verifies(&self) -> bool {
        self.verify
            .enabled
            .unwrap_or(self.destination.existing != Existing::Overwrite)
    }
}

/// How the copy worker copies objects over 5 GB (UploadPartCopy, every byte server side).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Multipart {
    /// Parts copied at once by one worker invocation (1..=64).
    #[serde(default = "Multipart::default_parts_in_flight")]
    pub parts_in_flight: u16,
    /// The part size asked for, in MiB (5..=5120); raised where an object would need more than
    /// 10,000 parts.
    #[serde(default = "Multipart::default_part_mib", rename = "partMiB")]
    pub part_mib: u32,
}

/// What the destination stack that runs a copy knows about itself: what a request is validated
/// against (`CopyRequest::validate`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackContext {
    /// The destination stack's account.
    pub account_id: String,
    /// The stacks' Region.
    pub region: String,
    /// The stack's `SourceAccountIds` parameter.
    pub source_account_ids: Vec<String>,
    /// The stack's `SourceBuckets` parameter: the source account's buckets ferry may read.
    pub source_buckets: Vec<String>,
    /// The ferry bucket, which no copy may use as its source or destination.
    pub ferry_bucket: String,
    /// The `DestinationBuckets` parameter: the only buckets a copy may write. `None` where the
    /// stack does not know it (the source side).
    pub destination_buckets: Option<Vec<String>>,
    /// The `ManifestBuckets` parameter: the destination account's buckets that may keep CSV
    /// manifests. `None` where the stack does not know it (the source side).
    pub manifest_buckets: Option<Vec<String>>,
    /// The shortest `timing.grantLifetimeSeconds` a request may ask for (see
    /// [`crate::stack::StackConfig::grant_lifetime_min`]).
    pub grant_lifetime_min: u64,
}

/// How many parts are copied at once, by default: UploadPartCopy moves no byte through the
/// function, so the bound is S3's per-prefix request rate and the connections one function
/// keeps, not Lambda's network.
pub const PARTS_IN_FLIGHT_DEFAULT: u16 = 16;
/// The part size asked for by default (MiB); larger objects get larger parts (10,000 at most).
pub const PART_MIB_DEFAULT: u32 = 256;

impl Multipart {
    fn default_parts_in_flight() -> u16 {
        PARTS_IN_FLIGHT_DEFAULT
    }

    fn default_part_mib() -> u32 {
        PART_MIB_DEFAULT
    }
}

impl Default for Multipart {
    fn default() -> Self {
        Multipart {
            parts_in_flight: Multipart::default_parts_in_flight(),
            part_mib: Multipart::default_part_mib(),
        }
    }
}

/// Durations, all in seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Timing {
    /// The first wait between two DescribeJob calls; it grows by half each look.
    #[serde(default = "Timing::default_poll")]
    pub poll_seconds: u64,
    /// The longest wait between two looks at a running job (`pollSeconds` to 900), for as long
    /// as the history allows (see [`crate::job::next_wait`]): a short job is seen finished
    /// within this long.
    #[serde(default = "Timing::default_max_poll")]
    pub max_poll_seconds: u64,
    /// How long the inventory wait trusts the S3 event before looking for the report itself.
    #[serde(default = "Timing::default_inventory_check")]
    pub inventory_check_seconds: u64,
    /// After this long without an inventory report the copy fails with InventoryNeverArrived.
    #[serde(default = "Timing::default_inventory_deadline")]
    pub inventory_deadline_seconds: u64,
    /// Every grant expires this long after the execution started (renewed while a job runs).
    #[serde(default = "Timing::default_grant_lifetime")]
    pub grant_lifetime_seconds: u64,
    /// How long after the run starts its new grants (the Batch role and its policy, the bucket
    /// policy statements, the KMS grants) may still be taking effect: IAM, S3 and KMS apply a
    /// change after a delay (docs/src/contributing/sandbox-facts.md). Within it an access refusal is retried
    /// after a wait, not counted as permanent.
    #[serde(default = "Timing::default_propagation")]
    pub propagation_seconds: u64,
    /// `source.archived: restore`: how long after the restore jobs end ferry first looks at
    /// the restored objects. Absent: the tier's documented shortest time (docs/src/archived.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_wait_seconds: Option<u64>,
    /// `source.archived: restore`: when the slowest restore should be done, counted from the
    /// first restore job. Archived objects a copy job finds not restored yet are tried again
    /// after it; ferry gives up waiting at twice it. Absent: the tier's slowest documented time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_slowest_seconds: Option<u64>,
    /// `source.archived: restore`: how long ferry waits before it looks again at objects still
    /// being restored.
    #[serde(default = "Timing::default_restore_check")]
    pub restore_check_seconds: u64,
}

impl Timing {
    fn default_poll() -> u64 {
        60
    }
    fn default_max_poll() -> u64 {
        POLL_SECONDS_MAX
    }
    fn default_inventory_check() -> u64 {
        21_600
    }
    fn default_inventory_deadline() -> u64 {
        259_200
    }
    fn default_grant_lifetime() -> u64 {
        1_468_800
    }
    fn default_propagation() -> u64 {
        PROPAGATION_SECONDS_DEFAULT
    }
    fn default_restore_check() -> u64 {
        3_600
    }
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            poll_seconds: Timing::default_poll(),
            max_poll_seconds: Timing::default_max_poll(),
            inventory_check_seconds: Timing::default_inventory_check(),
            inventory_deadline_seconds: Timing::default_inventory_deadline(),
            grant_lifetime_seconds: Timing::default_grant_lifetime(),
            propagation_seconds: Timing::default_propagation(),
            restore_wait_seconds: None,
            restore_slowest_seconds: None,
            restore_check_seconds: Timing::default_restore_check(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Cleanup {
    #[serde(default = "yes")]
    pub revoke_grants: bool,
    /// Flow A only: remove ferry's inventory configuration from the source bucket at the end.
    #[serde(default = "yes")]
    pub remove_inventory: bool,
}

fn yes() -> bool {
    true
}

impl Default for Cleanup {
    fn default() -> Self {
        Cleanup {
            revoke_grants: true,
            remove_inventory: true,
        }
    }
}

/// One broken rule: the field path (`destination.bucket`) and the rule it breaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Violation {
    pub field: String,
    pub rule: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.rule)
    }
}

/// Every rule a request breaks. Never empty.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Violations(pub Vec<Violation>);

impl fmt::Display for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        write!(
            f,
            "the copy request breaks {n} rule{}:",
            if n == 1 { "" } else { "s" }
        )?;
        for v in &self.0 {
            write!(f, "\n  - {v}")?;
        }
        Ok(())
    }
}

impl Violations {
    pub fn fields(&self) -> Vec<&str> {
        self.0.iter().map(|v| v.field.as_str()).collect()
    }
}

impl From<Violations> for crate::StepError {
    fn from(v: Violations) -> Self {
        crate::StepError::new(crate::ErrorName::InvalidRequest, v.to_string())
    }
}

/// Longest copyId: keeps the role name (`ferry-batch-<copyId>`) within IAM's 64 characters and
/// the ClientRequestToken within CreateJob's 64.
pub const COPY_ID_MAX: usize = 40;
/// S3 object keys are at most 1,024 bytes of UTF-8.
pub const KEY_MAX_BYTES: usize = 1024;
/// ferry appends `/<copyId>/run-<n>` to the report prefix; CreateJob allows 512 in all.
pub const REPORT_PREFIX_MAX: usize = 400;
pub const DESCRIPTION_MAX: usize = 256;
pub const JOB_TAGS_MAX: usize = 50;
pub const POLL_SECONDS_MAX: u64 = 900;
pub const RETRY_ATTEMPTS_MAX: u32 = 10;
/// S3 delivers the first inventory report within 48 hours; a month is ample.
pub const INVENTORY_DEADLINE_MAX: u64 = 31 * 86_400;
/// A standard execution lasts at most a year, and so can a grant.
pub const GRANT_LIFETIME_MAX: u64 = 365 * 86_400;
pub const GRANT_LIFETIME_MIN: u64 = 60;
/// `timing.propagationSeconds` by default: KMS says a new grant "can take several minutes" to
/// take effect everywhere, IAM and S3 name no bound (docs/src/contributing/sandbox-facts.md).
pub const PROPAGATION_SECONDS_DEFAULT: u64 = 600;
/// The longest `timing.propagationSeconds`: past an hour a refusal is not a delay.
pub const PROPAGATION_SECONDS_MAX: u64 = 3_600;
/// The first wait before a job resubmitted for a refusal while grants take effect; it doubles
/// for each job of the run, up to [`PROPAGATION_WAIT_MAX`].
pub const PROPAGATION_WAIT_FIRST: u64 = 15;
pub const PROPAGATION_WAIT_MAX: u64 = 240;

mod archived;
pub use archived::*;
mod generated;
mod regions;
pub use generated::*;
mod key_rules;
mod parse;
mod timing_rules;
pub use key_rules::is_iam_policy_char;
#[cfg(test)]
mod tests;
mod validate;

pub use validate::{bucket_name_violations, is_account_id, parameter_list};

impl CopyRequest {
    pub fn flow(&self) -> Flow {
        self.manifest.flow()
    }
}

/// The copy request's JSON Schema (draft 2020-12), generated from the types above: their doc
/// comments are its descriptions, serde's attributes its names, defaults and closed objects.
/// `ferry schema` prints it, so that editors validate request files.
#[cfg(feature = "schema")]
pub fn json_schema() -> serde_json::Value {
    let mut schema =
        serde_json::to_value(schemars::schema_for!(CopyRequest)).expect("a JSON Schema serializes");
    if let Some(root) = schema.as_object_mut() {
        root.insert(
            "title".into(),
            serde_json::Value::String("ferry copy request".into()),
        );
    }
    schema
}
