//! What a deployed stack tells its functions: its account, Region, the ferry bucket, the source
//! accounts it serves and ferry's permissions boundary. Read once at cold start by `main.rs`
//! through a lookup (the process environment there), so that library code never reads the
//! environment and the sandbox can host many functions in one process.

use crate::error::{ErrorName, StepError};
use crate::request::{GRANT_LIFETIME_MAX, GRANT_LIFETIME_MIN};

/// What a request is validated against; it lives with the request, which needs it.
pub use crate::request::StackContext;

/// Names of the variables the template sets on every function.
pub const VAR_ACCOUNT_ID: &str = "FERRY_ACCOUNT_ID";
pub const VAR_REGION: &str = "AWS_REGION";
pub const VAR_FERRY_BUCKET: &str = "FERRY_BUCKET";
pub const VAR_SOURCE_ACCOUNT_IDS: &str = "FERRY_SOURCE_ACCOUNT_IDS";
pub const VAR_BOUNDARY_ARN: &str = "FERRY_BOUNDARY_ARN";
pub const VAR_SOURCE_BUCKETS: &str = "FERRY_SOURCE_BUCKETS";
pub const VAR_DESTINATION_ACCOUNT_IDS: &str = "FERRY_DESTINATION_ACCOUNT_IDS";
pub const VAR_DESTINATION_BUCKETS: &str = "FERRY_DESTINATION_BUCKETS";
pub const VAR_MANIFEST_BUCKETS: &str = "FERRY_MANIFEST_BUCKETS";
pub const VAR_POLICY_SETTLE_MS: &str = "FERRY_POLICY_SETTLE_MS";
pub const VAR_SOURCE_KMS_KEY_ARNS: &str = "FERRY_SOURCE_KMS_KEY_ARNS";
/// Not set by the template: the sandbox lowers the shortest grant lifetime with it, so that a
/// test of renewal waits seconds, not a minute. It can only lower it (1 to 60 seconds): a
/// shorter grant never widens access.
pub const VAR_GRANT_LIFETIME_MIN: &str = "FERRY_GRANT_LIFETIME_MIN_SECONDS";
/// Source side, from the `MaxGrantLifetimeSeconds` parameter: the longest a grant of this
/// account may last (unset: a year, the longest a request may ask).
pub const VAR_GRANT_LIFETIME_MAX: &str = "FERRY_GRANT_LIFETIME_MAX_SECONDS";
/// Source side, from the `KeptGrants` parameter: `allow` lets a copy keep its bucket statements
/// after it ends (`cleanup.revokeGrants: false`); anything else, or unset, forbids it.
pub const VAR_KEPT_GRANTS: &str = "FERRY_KEPT_GRANTS";

/// How long a bucket-policy writer waits before reading its write back, unless the stack says
/// otherwise: longer than another writer's GetBucketPolicy-to-PutBucketPolicy takes.
pub const DEFAULT_POLICY_SETTLE: std::time::Duration = std::time::Duration::from_millis(1500);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackConfig {
    pub account_id: String,
    pub region: String,
    pub ferry_bucket: String,
    pub source_account_ids: Vec<String>,
    /// The `SourceBuckets` parameter: the source account's buckets ferry may read and grant on
    /// (buckets copied from and buckets that keep CSV manifests).
    pub source_buckets: Vec<String>,
    /// The destination accounts: this stack's own on the destination side; on the source side
    /// the `DestinationAccountIds` parameter, the only accounts whose copies the source
    /// functions serve.
    pub destination_account_ids: Vec<String>,
    /// Destination side: the `DestinationBuckets` parameter, the only buckets a copy may write.
    pub destination_buckets: Vec<String>,
    /// Destination side: the `ManifestBuckets` parameter, the buckets of this account that may
    /// keep CSV manifests.
    pub manifest_buckets: Vec<String>,
    /// ferry's permissions boundary (destination side); every role ferry creates carries it.
    pub boundary_arn: String,
    /// Source side: the `SourceKmsKeyArns` parameter, the only KMS keys whose use ferry may
    /// grant to a copy's Batch role.
    pub source_kms_key_arns: Vec<String>,
    /// source-access's pause between writing bucket policies and reading them back.
    pub policy_settle: std::time::Duration,
    /// The shortest grant lifetime a request may ask for: 60 seconds
    /// ([`crate::request::GRANT_LIFETIME_MIN`]) unless `FERRY_GRANT_LIFETIME_MIN_SECONDS` lowers it.
    pub grant_lifetime_min: u64,
    /// Source side: the longest grant this account gives (`MaxGrantLifetimeSeconds`), whatever
    /// a request's `timing.grantLifetimeSeconds` asks.
    pub grant_lifetime_max: u64,
    /// Source side: whether a copy may keep its bucket statements after it ends (`KeptGrants`:
    /// `allow`). Forbidden, a request with `cleanup.revokeGrants: false` is refused at the grant,
    /// and every revoke takes everything back.
    pub kept_grants: bool,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("environment variable {0} is not set: the template sets it on every function")]
pub struct MissingVariable(pub &'static str);

impl StackConfig {
    /// Reads the configuration through `lookup` (`|n| std::env::var(n).ok()` in main.rs),
    /// failing on the first missing variable by name.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<StackConfig, MissingVariable> {
        let get = |name: &'static str| {
            lookup(name)
                .filter(|v| !v.is_empty())
                .ok_or(MissingVariable(name))
        };
        let account_id = get(VAR_ACCOUNT_ID)?;
        Ok(StackConfig {
            destination_account_ids: Some(list(lookup(VAR_DESTINATION_ACCOUNT_IDS)))
                .filter(|l| !l.is_empty())
                .unwrap_or_else(|| vec![account_id.clone()]),
            destination_buckets: list(lookup(VAR_DESTINATION_BUCKETS)),
            manifest_buckets: list(lookup(VAR_MANIFEST_BUCKETS)),
            account_id,
            region: get(VAR_REGION)?,
            ferry_bucket: get(VAR_FERRY_BUCKET)?,
            source_account_ids: list(lookup(VAR_SOURCE_ACCOUNT_IDS)),
            source_buckets: list(lookup(VAR_SOURCE_BUCKETS)),
            boundary_arn: lookup(VAR_BOUNDARY_ARN).unwrap_or_default(),
            source_kms_key_arns: list(lookup(VAR_SOURCE_KMS_KEY_ARNS)),
            policy_settle: lookup(VAR_POLICY_SETTLE_MS)
                .and_then(|v| v.parse().ok())
                .map(std::time::Duration::from_millis)
                .unwrap_or(DEFAULT_POLICY_SETTLE),
            grant_lifetime_min: lookup(VAR_GRANT_LIFETIME_MIN)
                .and_then(|v| v.parse::<u64>().ok())
                .map_or(GRANT_LIFETIME_MIN, |m| m.clamp(1, GRANT_LIFETIME_MIN)),
            // It can only shorten grants: at most a year, at least the shortest a request asks.
            grant_lifetime_max: lookup(VAR_GRANT_LIFETIME_MAX)
                .and_then(|v| v.parse::<u64>().ok())
                .map_or(GRANT_LIFETIME_MAX, |m| {
                    m.clamp(GRANT_LIFETIME_MIN, GRANT_LIFETIME_MAX)
                }),
            kept_grants: lookup(VAR_KEPT_GRANTS).as_deref() == Some("allow"),
        })
    }

    /// The source side's guard, the same rule its IAM policy states: a source function touches
    /// only the buckets of the `SourceBuckets` parameter. Refused with `AccessDenied` naming the
    /// bucket and the list, rather than IAM's bare denial.
    pub fn may_touch(&self, bucket: &str) -> Result<(), StepError> {
        if self.source_buckets.iter().any(|b| b == bucket) {
            return Ok(());
        }
        Err(StepError::new(
            ErrorName::AccessDenied,
            format!(
                "bucket {bucket} is not in the source stack's SourceBuckets parameter ({}): ferry may not change its policy or inventory; add it to SourceBuckets in both stacks",
                crate::request::parameter_list(&self.source_buckets)
            ),
        ))
    }

    /// Whether this is a source stack: its destinations are other accounts (a destination
    /// stack's only destination is its own account).
    pub fn is_source_side(&self) -> bool {
        !self.destination_account_ids.contains(&self.account_id)
    }

    /// The source side's guard on the destination of a plan: one of `DestinationAccountIds`.
    /// Refused with `AccessDenied` naming the account and the parameter.
    pub fn serves(&self, destination_account: &str) -> Result<(), StepError> {
        if self
            .destination_account_ids
            .iter()
            .any(|a| a == destination_account)
        {
            return Ok(());
        }
        Err(StepError::new(
            ErrorName::AccessDenied,
            format!(
                "this source stack serves the destination accounts of its DestinationAccountIds parameter ({}); the plan's destination.accountId is {destination_account}: refused (add it to DestinationAccountIds and update the source stack)",
                crate::request::parameter_list(&self.destination_account_ids)
            ),
        ))
    }

    /// What a source stack can check a copy into `destination_account` against (one of its
    /// `DestinationAccountIds`, checked by [`StackConfig::serves`]): that account, its ferry
    /// bucket (named after it), this account as the only source, and the shared
    /// `SourceBuckets`. The destination's bucket lists are not known here (`None`).
    pub fn source_context(&self, destination_account: &str) -> StackContext {
        StackContext {
            account_id: destination_account.to_string(),
            region: self.region.clone(),
            source_account_ids: vec![self.account_id.clone()],
            source_buckets: self.source_buckets.clone(),
            ferry_bucket: crate::layout::ferry_bucket_name(destination_account, &self.region),
            destination_buckets: None,
            manifest_buckets: None,
            grant_lifetime_min: self.grant_lifetime_min,
        }
    }

    /// What a destination stack checks a copy request against: everything it knows.
    pub fn context(&self) -> StackContext {
        StackContext {
            account_id: self.account_id.clone(),
            region: self.region.clone(),
            source_account_ids: self.source_account_ids.clone(),
            source_buckets: self.source_buckets.clone(),
            ferry_bucket: self.ferry_bucket.clone(),
            destination_buckets: Some(self.destination_buckets.clone()),
            manifest_buckets: Some(self.manifest_buckets.clone()),
            grant_lifetime_min: self.grant_lifetime_min,
        }
    }
}

/// A `CommaDelimitedList` parameter as the template joins it: `a,b`, blanks dropped.
fn list(value: Option<String>) -> Vec<String> {
    value
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn reads_every_variable_and_names_a_missing_one() {
        let mut vars: HashMap<&str, &str> = HashMap::from([
            (VAR_ACCOUNT_ID, "222222222222"),
            (VAR_REGION, "eu-west-1"),
            (VAR_FERRY_BUCKET, "ferry-222222222222-eu-west-1"),
            (VAR_SOURCE_ACCOUNT_IDS, "111111111111, 333333333333"),
            (VAR_SOURCE_BUCKETS, "src-photos,,src-manifests"),
        ]);
        let c = StackConfig::from_lookup(|n| vars.get(n).map(|v| v.to_string())).unwrap();
        assert_eq!(c.source_account_ids, ["111111111111", "333333333333"]);
        assert_eq!(c.source_buckets, ["src-photos", "src-manifests"]);
        assert_eq!(c.context().ferry_bucket, "ferry-222222222222-eu-west-1");
        vars.remove(VAR_FERRY_BUCKET);
        let err = StackConfig::from_lookup(|n| vars.get(n).map(|v| v.to_string())).unwrap_err();
        assert_eq!(err, MissingVariable(VAR_FERRY_BUCKET));
        assert!(err
            .to_string()
            .starts_with("environment variable FERRY_BUCKET is not set"));
    }

    #[test]
    fn only_the_sandbox_shortens_grants_and_never_below_a_second_or_above_a_minute() {
        let min = |value: Option<&'static str>| {
            let mut v: HashMap<&str, &str> = HashMap::from([
                (VAR_ACCOUNT_ID, "222222222222"),
                (VAR_REGION, "eu-west-1"),
                (VAR_FERRY_BUCKET, "ferry-222222222222-eu-west-1"),
            ]);
            if let Some(m) = value {
                v.insert(VAR_GRANT_LIFETIME_MIN, m);
            }
            StackConfig::from_lookup(|n| v.get(n).map(|x| x.to_string()))
                .unwrap()
                .context()
                .grant_lifetime_min
        };
        assert_eq!(min(None), 60, "the template sets nothing: AWS's minute");
        assert_eq!(min(Some("10")), 10);
        assert_eq!(min(Some("3600")), 60, "it can only lower the minimum");
        assert_eq!(min(Some("0")), 1);
        assert_eq!(min(Some("soon")), 60);
    }

    #[test]
    fn the_source_stack_caps_grants_and_forbids_kept_ones_unless_it_says_allow() {
        let read = |max: Option<&'static str>, kept: Option<&'static str>| {
            let mut v: HashMap<&str, &str> = HashMap::from([
                (VAR_ACCOUNT_ID, "111111111111"),
                (VAR_REGION, "eu-west-1"),
                (VAR_FERRY_BUCKET, "ferry-111111111111-eu-west-1"),
            ]);
            if let Some(m) = max {
                v.insert(VAR_GRANT_LIFETIME_MAX, m);
            }
            if let Some(k) = kept {
                v.insert(VAR_KEPT_GRANTS, k);
            }
            let c = StackConfig::from_lookup(|n| v.get(n).map(|x| x.to_string())).unwrap();
            (c.grant_lifetime_max, c.kept_grants)
        };
        assert_eq!(
            read(None, None),
            (GRANT_LIFETIME_MAX, false),
            "unset: forbidden"
        );
        assert_eq!(read(Some("3600"), Some("allow")), (3_600, true));
        assert_eq!(read(Some("5"), Some("forbid")).0, GRANT_LIFETIME_MIN);
        assert_eq!(
            read(Some("99999999999"), Some("yes")),
            (GRANT_LIFETIME_MAX, false)
        );
    }

    #[test]
    fn the_side_follows_the_destination_accounts() {
        let vars = |dest: Option<&'static str>| {
            let mut v: HashMap<&str, &str> = HashMap::from([
                (VAR_ACCOUNT_ID, "111111111111"),
                (VAR_REGION, "eu-west-1"),
                (VAR_FERRY_BUCKET, "ferry-111111111111-eu-west-1"),
            ]);
            if let Some(d) = dest {
                v.insert(VAR_DESTINATION_ACCOUNT_IDS, d);
            }
            StackConfig::from_lookup(|n| v.get(n).map(|x| x.to_string())).unwrap()
        };
        // A source stack (DestinationAccountIds): serves each listed account, no other.
        let source = vars(Some("222222222222, 333333333333"));
        assert!(source.is_source_side());
        source.serves("333333333333").unwrap();
        let err = source.serves("444444444444").unwrap_err();
        assert_eq!(err.name, ErrorName::AccessDenied);
        assert!(err.cause.contains(
            "DestinationAccountIds parameter (222222222222, 333333333333); the plan's destination.accountId is 444444444444"
        ), "{}", err.cause);
        assert_eq!(
            source.source_context("333333333333").ferry_bucket,
            "ferry-333333333333-eu-west-1"
        );
        // A destination stack: its own account, also when the variable is absent.
        assert!(!vars(Some("111111111111")).is_source_side());
        assert!(!vars(None).is_source_side());
    }

    #[test]
    fn a_source_function_touches_only_the_listed_buckets() {
        let c = StackConfig {
            account_id: "111111111111".into(),
            region: "eu-west-1".into(),
            ferry_bucket: String::new(),
            source_account_ids: vec![],
            source_buckets: vec!["src-photos".into(), "src-manifests".into()],
            destination_account_ids: vec!["222222222222".into()],
            destination_buckets: vec![],
            manifest_buckets: vec![],
            boundary_arn: String::new(),
            source_kms_key_arns: vec![],
            policy_settle: DEFAULT_POLICY_SETTLE,
            grant_lifetime_min: GRANT_LIFETIME_MIN,
            grant_lifetime_max: GRANT_LIFETIME_MAX,
            kept_grants: false,
        };
        c.may_touch("src-photos").unwrap();
        let err = c.may_touch("payroll").unwrap_err();
        assert_eq!(err.name, ErrorName::AccessDenied);
        assert!(err.cause.contains("payroll is not in the source stack's SourceBuckets parameter (src-photos, src-manifests)"), "{}", err.cause);
    }
}
