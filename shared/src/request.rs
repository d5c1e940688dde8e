//! The copy request: what a user writes (the state machine's input, `ferry plan` / `ferry start`'s
//! file), its defaults, and its validation against the destination stack that will run it.
//!
//! Parsing is strict (camelCase, unknown fields rejected) and reports the path of the first
//! structural error; validation then reports every rule the request breaks, all at once, each
//! naming the field path and the rule.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// A copy of the objects of one bucket into a bucket of another account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    pub timing: Timing,
    #[serde(default)]
    pub cleanup: Cleanup,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Source {
    pub account_id: String,
    pub bucket: String,
    /// Only keys under this prefix are listed (flow A) and readable by the Batch role (both).
    #[serde(default)]
    pub prefix: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
}

/// Where the list of objects to copy comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
}

/// The two flows of the AWS procedure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Flow {
    Inventory,
    Csv,
}

impl Manifest {
    pub fn flow(&self) -> Flow {
        match self {
            Manifest::Inventory {} => Flow::Inventory,
            Manifest::Csv { .. } => Flow::Csv,
        }
    }
}

/// S3PutObjectCopy storage classes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
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
    pub fn as_str(self) -> &'static str {
        match self {
            StorageClass::Standard => "STANDARD",
            StorageClass::StandardIa => "STANDARD_IA",
            StorageClass::OnezoneIa => "ONEZONE_IA",
            StorageClass::Glacier => "GLACIER",
            StorageClass::IntelligentTiering => "INTELLIGENT_TIERING",
            StorageClass::DeepArchive => "DEEP_ARCHIVE",
            StorageClass::GlacierIr => "GLACIER_IR",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MetadataDirective {
    /// Metadata and tags are copied from the source object.
    #[default]
    Copy,
    Replace,
}

impl MetadataDirective {
    pub fn as_str(self) -> &'static str {
        match self {
            MetadataDirective::Copy => "COPY",
            MetadataDirective::Replace => "REPLACE",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
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
pub enum ReportScope {
    AllTasks,
    /// Reports stay small on large copies; counts come from DescribeJob.
    #[default]
    FailedTasksOnly,
}

impl ReportScope {
    pub fn as_str(self) -> &'static str {
        match self {
            ReportScope::AllTasks => "AllTasks",
            ReportScope::FailedTasksOnly => "FailedTasksOnly",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

/// Durations, all in seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Timing {
    /// The first wait between two DescribeJob calls; it grows to 15 minutes.
    #[serde(default = "Timing::default_poll")]
    pub poll_seconds: u64,
    /// How long the inventory wait trusts the S3 event before looking for the report itself.
    #[serde(default = "Timing::default_inventory_check")]
    pub inventory_check_seconds: u64,
    /// After this long without an inventory report the copy fails with InventoryNeverArrived.
    #[serde(default = "Timing::default_inventory_deadline")]
    pub inventory_deadline_seconds: u64,
    /// Every grant expires this long after the execution started (renewed while a job runs).
    #[serde(default = "Timing::default_grant_lifetime")]
    pub grant_lifetime_seconds: u64,
}

impl Timing {
    fn default_poll() -> u64 {
        60
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
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            poll_seconds: Timing::default_poll(),
            inventory_check_seconds: Timing::default_inventory_check(),
            inventory_deadline_seconds: Timing::default_inventory_deadline(),
            grant_lifetime_seconds: Timing::default_grant_lifetime(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

/// What the destination stack that runs the copy knows about itself.
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
}

/// One broken rule: the field path (`destination.bucket`) and the rule it breaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

impl CopyRequest {
    /// Parses a request. A request that does not parse is reported whole: every missing
    /// field, every unknown field and every value of the wrong type, each with its path
    /// (`destination.storageClass: unknown variant ...`). Semantic rules are
    /// [`CopyRequest::validate`]'s.
    pub fn from_json(json: &str) -> Result<CopyRequest, Violations> {
        let value: serde_json::Value = serde_json::from_str(json).map_err(|e| {
            Violations(vec![Violation {
                field: "(request)".into(),
                rule: e.to_string(),
            }])
        })?;
        Self::from_value(&value)
    }

    /// [`CopyRequest::from_json`] on a parsed value.
    pub fn from_value(value: &serde_json::Value) -> Result<CopyRequest, Violations> {
        match deserialize(value) {
            Ok(req) => Ok(req),
            Err(first) => Err(Violations(
                structural::violations(value).unwrap_or(vec![first]),
            )),
        }
    }

    pub fn flow(&self) -> Flow {
        self.manifest.flow()
    }

    /// Checks every rule and returns every violation at once.
    pub fn validate(&self, ctx: &StackContext) -> Result<(), Violations> {
        let mut v = Checker::default();
        self.check_identity(ctx, &mut v);
        self.check_buckets(ctx, &mut v);
        self.check_job(&mut v);
        self.check_timing(&mut v);
        if v.0.is_empty() {
            Ok(())
        } else {
            Err(Violations(v.0))
        }
    }

    fn check_identity(&self, ctx: &StackContext, v: &mut Checker) {
        let id = &self.copy_id;
        if id.is_empty() || id.len() > COPY_ID_MAX {
            v.add(
                "copyId",
                format!("must be 1 to {COPY_ID_MAX} characters (got {})", id.len()),
            );
        }
        if !id.is_empty() && !is_copy_id_shape(id) {
            v.add(
                "copyId",
                "must be lowercase letters, digits and single hyphens, starting and ending with a letter or digit",
            );
        }
        if id.split('-').any(|s| s == "cleanup") {
            v.add(
                "copyId",
                "must not contain the word `cleanup` between hyphens: it marks cleanup executions (`<copyId>-cleanup-<n>`)",
            );
        }

        if !is_region_shape(&self.region) {
            v.add(
                "region",
                format!(
                    "`{}` is not an AWS Region name such as eu-west-1",
                    self.region
                ),
            );
        } else if self.region != ctx.region {
            v.add(
                "region",
                format!(
                    "must be {}, the Region of the ferry stacks: version 1 copies within one Region (every bucket of the copy is in it)",
                    ctx.region
                ),
            );
        }

        let src = &self.source.account_id;
        let dst = &self.destination.account_id;
        check_account_id(v, "source.accountId", src);
        check_account_id(v, "destination.accountId", dst);
        if is_account_id(dst) && *dst != ctx.account_id {
            v.add(
                "destination.accountId",
                format!(
                    "must be {}, the account of the destination stack that runs the copy",
                    ctx.account_id
                ),
            );
        }
        if is_account_id(src) && src == dst {
            v.add(
                "source.accountId",
                "must differ from destination.accountId: ferry copies between two accounts",
            );
        } else if is_account_id(src) && !ctx.source_account_ids.iter().any(|a| a == src) {
            v.add(
                "source.accountId",
                format!(
                    "{src} is not in the destination stack's SourceAccountIds parameter ({}); add it there and update the stack",
                    parameter_list(&ctx.source_account_ids)
                ),
            );
        }
        if let Manifest::Csv { account_id, .. } = &self.manifest {
            check_account_id(v, "manifest.accountId", account_id);
            if is_account_id(account_id) && account_id != src && account_id != dst {
                v.add(
                    "manifest.accountId",
                    "must be the source or the destination account: the CSV manifest is kept in one of them",
                );
            }
        }
    }

    fn check_buckets(&self, ctx: &StackContext, v: &mut Checker) {
        check_bucket(v, "source.bucket", &self.source.bucket);
        check_bucket(v, "destination.bucket", &self.destination.bucket);
        if self.source.bucket == self.destination.bucket {
            v.add(
                "destination.bucket",
                "must differ from source.bucket (bucket names are global: the same name is the same bucket)",
            );
        }
        for (field, bucket) in [
            ("source.bucket", &self.source.bucket),
            ("destination.bucket", &self.destination.bucket),
        ] {
            if *bucket == ctx.ferry_bucket {
                v.add(
                    field,
                    "must not be ferry's own bucket, which holds its control objects",
                );
            }
        }
        if !ctx.source_buckets.contains(&self.source.bucket) {
            v.add("source.bucket", not_listed(&self.source.bucket, ctx));
        }
        if let Some(listed) = &ctx.destination_buckets {
            if !listed.contains(&self.destination.bucket) {
                v.add(
                    "destination.bucket",
                    format!(
                        "{} is not in the destination stack's DestinationBuckets parameter ({}): ferry writes only to the buckets listed there; add it and update the stack",
                        self.destination.bucket,
                        parameter_list(listed)
                    ),
                );
            }
        }
        check_key_len(v, "source.prefix", &self.source.prefix, 0);
        check_key_len(v, "destination.keyPrefix", &self.destination.key_prefix, 0);

        if let Manifest::Csv {
            bucket,
            key,
            account_id,
        } = &self.manifest
        {
            check_bucket(v, "manifest.bucket", bucket);
            if *account_id == self.source.account_id && !ctx.source_buckets.contains(bucket) {
                v.add("manifest.bucket", not_listed(bucket, ctx));
            }
            if let Some(listed) = &ctx.manifest_buckets {
                if *account_id == self.destination.account_id && !listed.contains(bucket) {
                    v.add(
                        "manifest.bucket",
                        format!(
                            "{bucket} is not in the destination stack's ManifestBuckets parameter ({}): job-submit reads CSV manifests of this account only there; add it and update the stack",
                            parameter_list(listed)
                        ),
                    );
                }
            }
            check_key_len(v, "manifest.key", key, 1);
            if *bucket == self.destination.bucket {
                v.add(
                    "manifest.bucket",
                    "must not be the destination bucket: the copy could overwrite its own manifest",
                );
            }
        }
        if let Some(bucket) = &self.report.bucket {
            check_bucket(v, "report.bucket", bucket);
            if *bucket != ctx.ferry_bucket {
                v.add(
                    "report.bucket",
                    format!(
                        "must be {} (or absent): completion reports stay in the ferry bucket, the only bucket job-report may read and the Batch role may write reports to",
                        ctx.ferry_bucket
                    ),
                );
            }
        }
        if let Some(prefix) = &self.report.prefix {
            if prefix.is_empty() || prefix.len() > REPORT_PREFIX_MAX {
                v.add(
                    "report.prefix",
                    format!(
                        "must be 1 to {REPORT_PREFIX_MAX} characters (got {}): ferry appends /<copyId>/run-<n> and CreateJob allows 512",
                        prefix.len()
                    ),
                );
            }
            if prefix.starts_with('/') || prefix.ends_with('/') {
                v.add("report.prefix", "must not start or end with `/`");
            }
            let reports = crate::names::REPORT_PREFIX;
            if prefix != reports && !prefix.starts_with(&format!("{reports}/")) {
                v.add(
                    "report.prefix",
                    format!(
                        "must be `{reports}` or begin with `{reports}/` (got `{prefix}`): job-report reads reports only there, and control/, inventory/ and retry/ are ferry's own"
                    ),
                );
            }
        }
    }

    fn check_job(&self, v: &mut Checker) {
        let p = self.job.priority;
        if !(0..=i64::from(i32::MAX)).contains(&p) {
            v.add(
                "job.priority",
                format!("must be between 0 and 2147483647 (got {p})"),
            );
        }
        if let Some(d) = &self.job.description {
            let n = d.chars().count();
            if n == 0 || n > DESCRIPTION_MAX {
                v.add(
                    "job.description",
                    format!("must be 1 to {DESCRIPTION_MAX} characters (got {n})"),
                );
            }
        }
        if self.job.tags.len() > JOB_TAGS_MAX {
            v.add(
                "job.tags",
                format!(
                    "at most {JOB_TAGS_MAX} tags per job (got {})",
                    self.job.tags.len()
                ),
            );
        }
        for (k, val) in &self.job.tags {
            let field = format!("job.tags.{k}");
            let n = k.chars().count();
            if n == 0 || n > 128 {
                v.add(
                    &field,
                    format!("tag keys are 1 to 128 characters (got {n})"),
                );
            }
            if k.to_ascii_lowercase().starts_with("aws:") {
                v.add(
                    &field,
                    "tag keys must not start with `aws:` (reserved by AWS)",
                );
            }
            if val.chars().count() > 256 {
                v.add(&field, "tag values are at most 256 characters");
            }
            for (what, text) in [("key", k), ("value", val)] {
                if let Some(c) = text.chars().find(|c| !is_tag_char(*c)) {
                    v.add(
                        &field,
                        format!(
                            "tag {what}s use only letters, digits, spaces and _ . : / = + - @ (S3 Control's pattern [\\p{{L}}\\p{{Z}}\\p{{N}}_.:/=+\\-@]*; found {c:?})"
                        ),
                    );
                }
            }
        }
        if self.retry.max_attempts > RETRY_ATTEMPTS_MAX {
            v.add(
                "retry.maxAttempts",
                format!(
                    "must be between 0 and {RETRY_ATTEMPTS_MAX} (got {})",
                    self.retry.max_attempts
                ),
            );
        }
    }

    fn check_timing(&self, v: &mut Checker) {
        let t = &self.timing;
        if !(1..=POLL_SECONDS_MAX).contains(&t.poll_seconds) {
            v.add(
                "timing.pollSeconds",
                format!(
                    "must be between 1 and {POLL_SECONDS_MAX} (got {}): the wait grows to 15 minutes from it",
                    t.poll_seconds
                ),
            );
        }
        if t.inventory_deadline_seconds == 0
            || t.inventory_deadline_seconds > INVENTORY_DEADLINE_MAX
        {
            v.add(
                "timing.inventoryDeadlineSeconds",
                format!(
                    "must be between 1 and {INVENTORY_DEADLINE_MAX} (31 days) (got {})",
                    t.inventory_deadline_seconds
                ),
            );
        }
        if t.inventory_check_seconds == 0
            || t.inventory_check_seconds > t.inventory_deadline_seconds
        {
            v.add(
                "timing.inventoryCheckSeconds",
                format!(
                    "must be between 1 and timing.inventoryDeadlineSeconds ({}) (got {})",
                    t.inventory_deadline_seconds, t.inventory_check_seconds
                ),
            );
        }
        if !(GRANT_LIFETIME_MIN..=GRANT_LIFETIME_MAX).contains(&t.grant_lifetime_seconds) {
            v.add(
                "timing.grantLifetimeSeconds",
                format!(
                    "must be between {GRANT_LIFETIME_MIN} and {GRANT_LIFETIME_MAX} (a year, the longest execution) (got {})",
                    t.grant_lifetime_seconds
                ),
            );
        }
    }
}

/// One character of S3 Control's tag pattern `[\p{L}\p{Z}\p{N}_.:/=+\-@]*`: a letter, a
/// separator (space, line or paragraph separator: white space that is not a control
/// character), a number, or one of `_.:/=+-@`.
fn is_tag_char(c: char) -> bool {
    c.is_alphabetic()
        || c.is_numeric()
        || (c.is_whitespace() && !c.is_control())
        || "_.:/=+-@".contains(c)
}

/// Deserializes a request, naming the path of the first structural error.
fn deserialize(value: &serde_json::Value) -> Result<CopyRequest, Violation> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        Violation {
            field: if path == "." {
                "(request)".into()
            } else {
                path
            },
            rule: e.inner().to_string(),
        }
    })
}

/// Every structural error of a request at once. serde stops at the first; here each field the
/// user wrote is tried on its own inside a request that is otherwise complete and well typed
/// (the baseline), and each field the baseline cannot do without is looked for.
mod structural {
    use super::{deserialize, Violation};
    use serde_json::{json, Map, Value};

    /// A request with every field present and well typed. Its values need not pass
    /// validation, only parsing.
    fn baseline(manifest_kind: Option<&str>) -> Value {
        let manifest = if manifest_kind == Some("inventory") {
            json!({"kind": "inventory"})
        } else {
            json!({"kind": "csv", "accountId": "1", "bucket": "m", "key": "k"})
        };
        json!({
            "copyId": "x", "region": "r",
            "source": {"accountId": "1", "bucket": "s", "prefix": ""},
            "destination": {"accountId": "2", "bucket": "d", "keyPrefix": "", "storageClass": "STANDARD", "metadataDirective": "COPY"},
            "manifest": manifest,
            "report": {"scope": "FailedTasksOnly", "bucket": "r", "prefix": "p"},
            "job": {"priority": 1, "description": "d", "tags": {}},
            "retry": {"maxAttempts": 1},
            "timing": {"pollSeconds": 1, "inventoryCheckSeconds": 1, "inventoryDeadlineSeconds": 1, "grantLifetimeSeconds": 1},
            "cleanup": {"revokeGrants": true, "removeInventory": true}
        })
    }

    /// Objects whose members are the user's own (a map), tried as one value.
    const MAPS: [&str; 1] = ["job.tags"];

    pub(super) fn violations(value: &Value) -> Option<Vec<Violation>> {
        let Value::Object(user) = value else {
            return None;
        };
        let kind = user
            .get("manifest")
            .and_then(|m| m.get("kind"))
            .and_then(Value::as_str);
        let base = baseline(kind);
        let mut out: Vec<Violation> = Vec::new();
        let mut push = |v: Violation| {
            if !out.contains(&v) {
                out.push(v);
            }
        };
        // Missing fields: those whose absence from the baseline breaks it. Inside `manifest`
        // only when its kind is known (else the kind is the one error).
        let known_kind = matches!(kind, Some("inventory" | "csv"));
        for path in paths(&base, "") {
            if path.starts_with("manifest.") && path != "manifest.kind" && !known_kind {
                continue;
            }
            if get(value, &path).is_some() || parent_missing_or_not_object(value, &path) {
                continue;
            }
            let mut without = base.clone();
            remove(&mut without, &path);
            if let Err(e) = deserialize(&without) {
                if e.rule.starts_with("missing field") {
                    push(Violation {
                        field: path.clone(),
                        rule: format!("is required: {}", e.rule),
                    });
                }
            }
        }
        // Each field the user wrote, alone in the baseline.
        for path in paths(value, "") {
            let recurse_base = get(&base, &path).is_some_and(Value::is_object);
            let user_value = get(value, &path).expect("a path of the value");
            if recurse_base && user_value.is_object() && !MAPS.contains(&path.as_str()) {
                continue; // its members are tried one by one
            }
            let mut one = base.clone();
            set(&mut one, &path, user_value.clone());
            if let Err(e) = deserialize(&one) {
                push(e);
            }
        }
        (!out.is_empty()).then_some(out)
    }

    /// Every path of `value` (`source`, `source.bucket`, ...), maps included as one path.
    fn paths(value: &Value, prefix: &str) -> Vec<String> {
        let Value::Object(map) = value else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (k, v) in map {
            let path = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            if !MAPS.contains(&path.as_str()) {
                out.extend(paths(v, &path));
            }
            out.push(path);
        }
        out
    }

    fn get<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
        path.split('.').try_fold(value, |v, k| v.get(k))
    }

    /// A field under a section that is absent or not an object is reported with its section.
    fn parent_missing_or_not_object(value: &Value, path: &str) -> bool {
        match path.rsplit_once('.') {
            Some((parent, _)) => !get(value, parent).is_some_and(Value::is_object),
            None => false,
        }
    }

    fn parent_map<'a>(
        value: &'a mut Value,
        path: &str,
    ) -> Option<(&'a mut Map<String, Value>, String)> {
        let (parent, last) = match path.rsplit_once('.') {
            Some((p, l)) => (Some(p), l),
            None => (None, path),
        };
        let mut v = value;
        if let Some(p) = parent {
            for k in p.split('.') {
                v = v.as_object_mut()?.entry(k.to_string()).or_insert(json!({}));
            }
        }
        Some((v.as_object_mut()?, last.to_string()))
    }

    fn set(value: &mut Value, path: &str, new: Value) {
        if let Some((map, last)) = parent_map(value, path) {
            map.insert(last, new);
        }
    }

    fn remove(value: &mut Value, path: &str) {
        if let Some((map, last)) = parent_map(value, path) {
            map.remove(&last);
        }
    }
}

#[derive(Default)]
struct Checker(Vec<Violation>);

impl Checker {
    fn add(&mut self, field: &str, rule: impl Into<String>) {
        self.0.push(Violation {
            field: field.to_string(),
            rule: rule.into(),
        });
    }
}

fn is_copy_id_shape(id: &str) -> bool {
    !id.is_empty()
        && id.split('-').all(|seg| {
            !seg.is_empty()
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

fn is_region_shape(region: &str) -> bool {
    // e.g. eu-west-1, us-gov-west-1, ap-southeast-5, cn-north-1
    let parts: Vec<&str> = region.split('-').collect();
    parts.len() >= 3
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty()
}

/// Twelve ASCII digits.
pub fn is_account_id(id: &str) -> bool {
    id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit())
}

fn check_account_id(v: &mut Checker, field: &str, id: &str) {
    if !is_account_id(id) {
        v.add(
            field,
            format!("must be a 12-digit AWS account id (got `{id}`)"),
        );
    }
}

fn check_key_len(v: &mut Checker, field: &str, key: &str, min: usize) {
    if key.len() < min || key.len() > KEY_MAX_BYTES {
        v.add(
            field,
            format!(
                "must be {min} to {KEY_MAX_BYTES} bytes of UTF-8 (got {})",
                key.len()
            ),
        );
    }
}

/// A stack's list parameter as messages quote it: `a, b`, or `empty`.
pub fn parameter_list(values: &[String]) -> String {
    if values.is_empty() {
        "empty".to_string()
    } else {
        values.join(", ")
    }
}

/// Why a source-account bucket is refused: the stacks may touch only the buckets they list.
fn not_listed(bucket: &str, ctx: &StackContext) -> String {
    format!(
        "{bucket} is not in the stacks' SourceBuckets parameter ({}); add it there, in both stacks, and update them",
        parameter_list(&ctx.source_buckets)
    )
}

fn check_bucket(v: &mut Checker, field: &str, name: &str) {
    for rule in bucket_name_violations(name) {
        v.add(field, rule);
    }
}

/// The rules of S3 general purpose bucket names that `name` breaks (empty when valid).
pub fn bucket_name_violations(name: &str) -> Vec<String> {
    let mut rules = Vec::new();
    if name.len() < 3 || name.len() > 63 {
        rules.push(format!(
            "bucket names are 3 to 63 characters long (`{name}` has {})",
            name.len()
        ));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        rules.push(format!(
            "bucket names use only lowercase letters, digits, dots and hyphens (`{name}`)"
        ));
    }
    let alnum = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if !name.is_empty() && (!alnum(name.bytes().next()) || !alnum(name.bytes().last())) {
        rules.push(format!(
            "bucket names begin and end with a letter or digit (`{name}`)"
        ));
    }
    if name.contains("..") {
        rules.push(format!(
            "bucket names must not contain two adjacent dots (`{name}`)"
        ));
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        rules.push(format!(
            "bucket names must not look like an IP address (`{name}`)"
        ));
    }
    for prefix in ["xn--", "sthree-", "amzn-s3-demo-"] {
        if name.starts_with(prefix) {
            rules.push(format!(
                "bucket names must not start with the reserved prefix `{prefix}`"
            ));
        }
    }
    for suffix in ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"] {
        if name.ends_with(suffix) {
            rules.push(format!(
                "bucket names must not end with the reserved suffix `{suffix}`"
            ));
        }
    }
    rules
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    pub(crate) fn ctx() -> StackContext {
        StackContext {
            account_id: "222222222222".into(),
            region: "eu-west-1".into(),
            source_account_ids: vec!["111111111111".into()],
            source_buckets: vec!["src-photos".into(), "src-manifests".into()],
            ferry_bucket: "ferry-222222222222-eu-west-1".into(),
            destination_buckets: Some(vec!["dst-photos".into()]),
            manifest_buckets: Some(vec!["dst-manifests".into()]),
        }
    }

    fn flow_a() -> Value {
        serde_json::from_str(include_str!("../fixtures/request-inventory.json")).unwrap()
    }

    fn flow_b() -> Value {
        serde_json::from_str(include_str!("../fixtures/request-csv.json")).unwrap()
    }

    fn parse(v: &Value) -> Result<CopyRequest, Violations> {
        CopyRequest::from_json(&v.to_string())
    }

    fn violations(v: &Value) -> Violations {
        let req = parse(v).expect("parses");
        req.validate(&ctx()).expect_err("must be invalid")
    }

    /// Sets a JSON pointer path in a copy of `base`.
    fn with(mut base: Value, pointer: &str, value: Value) -> Value {
        let (parent, last) = pointer.rsplit_once('/').unwrap();
        let target = if parent.is_empty() {
            &mut base
        } else {
            base.pointer_mut(parent).unwrap()
        };
        target
            .as_object_mut()
            .unwrap()
            .insert(last.to_string(), value);
        base
    }

    #[test]
    fn the_design_examples_parse_and_validate() {
        let a = parse(&flow_a()).unwrap();
        a.validate(&ctx()).unwrap();
        assert_eq!(a.flow(), Flow::Inventory);
        assert_eq!(a.job.tags.get("team").map(String::as_str), Some("media"));

        let b = parse(&flow_b()).unwrap();
        b.validate(&ctx()).unwrap();
        assert_eq!(b.flow(), Flow::Csv);
        assert_eq!(
            b.manifest,
            Manifest::Csv {
                account_id: "111111111111".into(),
                bucket: "src-manifests".into(),
                key: "lists/photos.csv".into()
            }
        );
    }

    #[test]
    fn a_minimal_request_gets_the_documented_defaults() {
        let minimal = json!({
            "copyId": "photos-2026",
            "region": "eu-west-1",
            "source": { "accountId": "111111111111", "bucket": "src-photos" },
            "destination": { "accountId": "222222222222", "bucket": "dst-photos" },
            "manifest": { "kind": "inventory" }
        });
        let req = parse(&minimal).unwrap();
        req.validate(&ctx()).unwrap();
        assert_eq!(req.source.prefix, "");
        assert_eq!(req.destination.key_prefix, "");
        assert_eq!(req.destination.storage_class, StorageClass::Standard);
        assert_eq!(req.destination.metadata_directive, MetadataDirective::Copy);
        assert_eq!(req.report.scope, ReportScope::FailedTasksOnly);
        assert_eq!(req.job.priority, 10);
        assert_eq!(req.retry.max_attempts, 2);
        assert_eq!(req.timing.poll_seconds, 60);
        assert_eq!(req.timing.inventory_check_seconds, 21_600);
        assert_eq!(req.timing.inventory_deadline_seconds, 259_200);
        assert_eq!(req.timing.grant_lifetime_seconds, 1_468_800);
        assert!(req.cleanup.revoke_grants && req.cleanup.remove_inventory);
    }

    #[test]
    fn a_request_survives_a_round_trip_through_its_stored_form() {
        for v in [flow_a(), flow_b()] {
            let req = parse(&v).unwrap();
            let stored = serde_json::to_string(&req).unwrap();
            assert_eq!(CopyRequest::from_json(&stored).unwrap(), req);
        }
    }

    #[test]
    fn structural_errors_name_the_field_path() {
        let cases = [
            (
                with(flow_a(), "/destination/storageClass", json!("COLD")),
                "destination.storageClass",
            ),
            (
                with(flow_a(), "/source/colour", json!("red")),
                "source.colour",
            ),
            (with(flow_a(), "/retries", json!(3)), "retries"),
            (
                with(flow_a(), "/manifest", json!({"kind": "listing"})),
                "manifest.kind",
            ),
            (
                with(
                    flow_a(),
                    "/manifest",
                    json!({"kind": "inventory", "bucket": "x"}),
                ),
                "manifest",
            ),
            (
                with(flow_a(), "/job/priority", json!("high")),
                "job.priority",
            ),
            (
                with(flow_a(), "/report/scope", json!("Everything")),
                "report.scope",
            ),
            (
                with(flow_a(), "/timing/pollSeconds", json!(-5)),
                "timing.pollSeconds",
            ),
        ];
        for (value, field) in cases {
            let err = parse(&value).expect_err(field);
            assert_eq!(err.0.len(), 1);
            assert_eq!(err.0[0].field, field, "{err}");
        }
        let missing = json!({"copyId": "x", "region": "eu-west-1"});
        let err = parse(&missing).unwrap_err();
        assert!(err.0[0].rule.contains("missing field `source`"), "{err}");
    }

    /// A request with several problems gets one answer naming every one of them.
    #[test]
    fn a_broken_request_is_reported_whole() {
        let req = json!({
            "copyId": 7,
            "source": {"accountId": "111111111111"},
            "destination": {"accountId": "222222222222", "bucket": "dst-photos", "storageClass": "COLD", "colour": "red"},
            "manifest": {"kind": "csv", "bucket": "src-manifests"},
            "job": {"priority": "high", "tags": {"team": 3}}
        });
        let err = parse(&req).unwrap_err();
        let mut fields = err.fields();
        fields.sort();
        assert_eq!(
            fields,
            [
                "copyId",
                "destination.colour",
                "destination.storageClass",
                "job.priority",
                "job.tags.team",
                "manifest.accountId",
                "manifest.key",
                "region",
                "source.bucket",
            ],
            "{err}"
        );
        assert!(
            err.to_string()
                .contains("region: is required: missing field `region`"),
            "{err}"
        );
        // A request that parses is never reported through this path.
        assert!(parse(&flow_b()).is_ok());
    }

    /// Each case breaks one rule; the violation names the field and says which rule.
    #[test]
    fn every_rule_is_reported_with_its_field() {
        let long = "a".repeat(41);
        let cases: Vec<(Value, &str, &str)> = vec![
            (
                with(flow_a(), "/copyId", json!("Photos")),
                "copyId",
                "lowercase",
            ),
            (
                with(flow_a(), "/copyId", json!("photos--2026")),
                "copyId",
                "single hyphens",
            ),
            (
                with(flow_a(), "/copyId", json!("-photos")),
                "copyId",
                "starting and ending",
            ),
            (with(flow_a(), "/copyId", json!(long)), "copyId", "1 to 40"),
            (with(flow_a(), "/copyId", json!("")), "copyId", "1 to 40"),
            (
                with(flow_a(), "/copyId", json!("nightly-cleanup")),
                "copyId",
                "cleanup",
            ),
            (
                with(flow_a(), "/region", json!("europe")),
                "region",
                "not an AWS Region",
            ),
            (
                with(flow_a(), "/region", json!("us-east-1")),
                "region",
                "one Region",
            ),
            (
                with(flow_a(), "/source/accountId", json!("11111111111")),
                "source.accountId",
                "12-digit",
            ),
            (
                with(flow_a(), "/source/accountId", json!("11111111111a")),
                "source.accountId",
                "12-digit",
            ),
            (
                with(flow_a(), "/source/accountId", json!("333333333333")),
                "source.accountId",
                "SourceAccountIds",
            ),
            (
                with(flow_a(), "/source/accountId", json!("222222222222")),
                "source.accountId",
                "two accounts",
            ),
            (
                with(flow_a(), "/source/bucket", json!("src-unlisted")),
                "source.bucket",
                "src-unlisted is not in the stacks' SourceBuckets parameter (src-photos, src-manifests)",
            ),
            (
                with(flow_b(), "/manifest/bucket", json!("src-unlisted")),
                "manifest.bucket",
                "SourceBuckets",
            ),
            (
                with(flow_a(), "/destination/accountId", json!("444444444444")),
                "destination.accountId",
                "destination stack",
            ),
            (
                with(flow_a(), "/source/bucket", json!("ab")),
                "source.bucket",
                "3 to 63",
            ),
            (
                with(flow_a(), "/source/bucket", json!("b".repeat(64))),
                "source.bucket",
                "3 to 63",
            ),
            (
                with(flow_a(), "/source/bucket", json!("Src_Photos")),
                "source.bucket",
                "lowercase letters",
            ),
            (
                with(flow_a(), "/source/bucket", json!("src-photos-")),
                "source.bucket",
                "begin and end",
            ),
            (
                with(flow_a(), "/source/bucket", json!("src..photos")),
                "source.bucket",
                "adjacent dots",
            ),
            (
                with(flow_a(), "/source/bucket", json!("192.168.5.4")),
                "source.bucket",
                "IP address",
            ),
            (
                with(flow_a(), "/source/bucket", json!("xn--photos")),
                "source.bucket",
                "`xn--`",
            ),
            (
                with(flow_a(), "/source/bucket", json!("sthree-photos")),
                "source.bucket",
                "`sthree-`",
            ),
            (
                with(
                    flow_a(),
                    "/destination/bucket",
                    json!("amzn-s3-demo-bucket"),
                ),
                "destination.bucket",
                "`amzn-s3-demo-`",
            ),
            (
                with(flow_a(), "/destination/bucket", json!("photos-s3alias")),
                "destination.bucket",
                "`-s3alias`",
            ),
            (
                with(flow_a(), "/destination/bucket", json!("photos--ol-s3")),
                "destination.bucket",
                "`--ol-s3`",
            ),
            (
                with(flow_a(), "/destination/bucket", json!("photos.mrap")),
                "destination.bucket",
                "`.mrap`",
            ),
            (
                with(flow_a(), "/destination/bucket", json!("photos--x-s3")),
                "destination.bucket",
                "`--x-s3`",
            ),
            (
                with(flow_a(), "/destination/bucket", json!("photos--table-s3")),
                "destination.bucket",
                "`--table-s3`",
            ),
            (
                with(flow_a(), "/destination/bucket", json!("src-photos")),
                "destination.bucket",
                "must differ from source.bucket",
            ),
            (
                with(
                    flow_a(),
                    "/destination/bucket",
                    json!("ferry-222222222222-eu-west-1"),
                ),
                "destination.bucket",
                "ferry's own bucket",
            ),
            (
                with(flow_a(), "/source/prefix", json!("p".repeat(1025))),
                "source.prefix",
                "1024 bytes",
            ),
            (
                with(flow_a(), "/destination/keyPrefix", json!("é".repeat(513))),
                "destination.keyPrefix",
                "1024 bytes",
            ),
            (
                with(flow_b(), "/manifest/key", json!("")),
                "manifest.key",
                "1 to 1024",
            ),
            (
                with(flow_b(), "/manifest/bucket", json!("Manifests")),
                "manifest.bucket",
                "lowercase",
            ),
            (
                with(flow_b(), "/manifest/bucket", json!("dst-photos")),
                "manifest.bucket",
                "overwrite its own manifest",
            ),
            (
                with(flow_b(), "/manifest/accountId", json!("333333333333")),
                "manifest.accountId",
                "source or the destination",
            ),
            (
                with(flow_a(), "/report/bucket", json!("src-photos")),
                "report.bucket",
                "stay in the ferry bucket",
            ),
            (
                with(flow_a(), "/report/bucket", json!("dst-photos")),
                "report.bucket",
                "must be ferry-222222222222-eu-west-1 (or absent)",
            ),
            (
                with(flow_a(), "/report/prefix", json!("control")),
                "report.prefix",
                "control/, inventory/ and retry/ are ferry's own",
            ),
            (
                with(flow_a(), "/report/prefix", json!("reportsX")),
                "report.prefix",
                "must be `reports` or begin with `reports/`",
            ),
            (
                with(flow_a(), "/destination/bucket", json!("prod-backups")),
                "destination.bucket",
                "prod-backups is not in the destination stack's DestinationBuckets parameter (dst-photos)",
            ),
            (
                with(
                    with(flow_b(), "/manifest/accountId", json!("222222222222")),
                    "/manifest/bucket",
                    json!("dst-other"),
                ),
                "manifest.bucket",
                "dst-other is not in the destination stack's ManifestBuckets parameter (dst-manifests)",
            ),
            (
                with(flow_a(), "/job/tags", json!({"team": "a;b"})),
                "job.tags.team",
                "found ';'",
            ),
            (
                with(flow_a(), "/job/tags", json!({"a\tb": "x"})),
                "job.tags.a\tb",
                "found '\\t'",
            ),
            (
                with(flow_a(), "/report/prefix", json!("r".repeat(401))),
                "report.prefix",
                "1 to 400",
            ),
            (
                with(flow_a(), "/report/prefix", json!("reports/")),
                "report.prefix",
                "start or end",
            ),
            (
                with(flow_a(), "/job/priority", json!(-1)),
                "job.priority",
                "0 and 2147483647",
            ),
            (
                with(flow_a(), "/job/priority", json!(2_147_483_648_i64)),
                "job.priority",
                "0 and 2147483647",
            ),
            (
                with(flow_a(), "/job/description", json!("d".repeat(257))),
                "job.description",
                "1 to 256",
            ),
            (
                with(flow_a(), "/job/tags", json!({"aws:owner": "me"})),
                "job.tags.aws:owner",
                "reserved",
            ),
            (
                with(flow_a(), "/job/tags", json!({"team": "v".repeat(257)})),
                "job.tags.team",
                "256",
            ),
            (
                with(
                    flow_a(),
                    "/job/tags",
                    Value::Object((0..51).map(|i| (format!("k{i}"), json!("v"))).collect()),
                ),
                "job.tags",
                "at most 50",
            ),
            (
                with(flow_a(), "/retry/maxAttempts", json!(11)),
                "retry.maxAttempts",
                "between 0 and 10",
            ),
            (
                with(flow_a(), "/timing/pollSeconds", json!(0)),
                "timing.pollSeconds",
                "between 1 and 900",
            ),
            (
                with(flow_a(), "/timing/pollSeconds", json!(3600)),
                "timing.pollSeconds",
                "between 1 and 900",
            ),
            (
                with(flow_a(), "/timing/inventoryCheckSeconds", json!(300_000)),
                "timing.inventoryCheckSeconds",
                "inventoryDeadlineSeconds",
            ),
            (
                with(
                    flow_a(),
                    "/timing/inventoryDeadlineSeconds",
                    json!(40 * 86_400),
                ),
                "timing.inventoryDeadlineSeconds",
                "31 days",
            ),
            (
                with(flow_a(), "/timing/grantLifetimeSeconds", json!(30)),
                "timing.grantLifetimeSeconds",
                "between 60",
            ),
        ];
        assert!(cases.len() >= 25);
        for (value, field, rule) in cases {
            let err = violations(&value);
            assert!(
                err.0
                    .iter()
                    .any(|v| v.field == field && v.rule.contains(rule)),
                "expected `{field}: ...{rule}...`, got:\n{err}"
            );
        }
    }

    #[test]
    fn all_violations_are_reported_at_once() {
        let mut bad = with(flow_b(), "/copyId", json!("Bad_Id"));
        bad = with(bad, "/source/bucket", json!("ab"));
        bad = with(bad, "/destination/accountId", json!("12"));
        bad = with(bad, "/job/priority", json!(-3));
        bad = with(bad, "/timing/pollSeconds", json!(0));
        let err = violations(&bad);
        let fields = err.fields();
        for f in [
            "copyId",
            "source.bucket",
            "destination.accountId",
            "job.priority",
            "timing.pollSeconds",
        ] {
            assert!(fields.contains(&f), "{f} missing from:\n{err}");
        }
        let text = err.to_string();
        assert!(text.starts_with(&format!("the copy request breaks {} rules:", err.0.len())));
        assert!(text.contains("\n  - source.bucket: bucket names are 3 to 63 characters long"));
    }

    #[test]
    fn an_empty_allow_list_says_so() {
        let mut c = ctx();
        c.source_account_ids.clear();
        let err = parse(&flow_a()).unwrap().validate(&c).unwrap_err();
        assert!(
            err.to_string()
                .contains("SourceAccountIds parameter (empty)"),
            "{err}"
        );
    }

    #[test]
    fn valid_bucket_names_pass() {
        for name in [
            "abc",
            "my.bucket.name",
            "a1-b2",
            "x".repeat(63).as_str(),
            "1.2.3.4.5",
        ] {
            assert!(bucket_name_violations(name).is_empty(), "{name}");
        }
    }

    #[test]
    fn the_manifest_may_live_in_the_destination_account() {
        let b = with(flow_b(), "/manifest/accountId", json!("222222222222"));
        let b = with(b, "/manifest/bucket", json!("dst-manifests"));
        parse(&b).unwrap().validate(&ctx()).unwrap();
    }

    #[test]
    fn an_empty_bucket_list_refuses_every_source_bucket() {
        let mut c = ctx();
        c.source_buckets.clear();
        let err = parse(&flow_b()).unwrap().validate(&c).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains(
                "source.bucket: src-photos is not in the stacks' SourceBuckets parameter (empty)"
            ),
            "{text}"
        );
        assert!(
            text.contains("manifest.bucket: src-manifests is not"),
            "{text}"
        );
    }
}
