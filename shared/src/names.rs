//! Deterministic names: every role, statement id, inventory configuration, idempotency token,
//! execution name and object key ferry uses is derived from the copy request alone, so that a
//! re-run finds what an earlier run created and each side can name the other's resources before
//! they exist. Each name stays within AWS's limits for any valid request (see the tests).

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::request::CopyRequest;

/// IAM path of every role ferry creates; its permissions boundary and PassRole are scoped to it.
pub const ROLE_PATH: &str = "/ferry/";
/// Prefix of the ferry bucket under which S3 Inventory delivers reports.
pub const INVENTORY_PREFIX: &str = "inventory";
/// Prefix of the ferry bucket that holds stored plans, waiters and job records.
pub const CONTROL_PREFIX: &str = "control";
/// Prefix of the ferry bucket that holds the retry manifests ferry writes.
pub const RETRY_PREFIX: &str = "retry";
/// Default prefix of completion reports.
pub const REPORT_PREFIX: &str = "reports";

/// The AWS partition of a Region (`aws`, `aws-cn`, `aws-us-gov`), for ARNs.
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// A short, stable hash of a copyId: 10 lowercase hex characters (40 bits of SHA-256).
/// It keeps statement ids of different copies apart while staying within IAM's Sid alphabet.
pub fn copy_hash(copy_id: &str) -> String {
    let digest = Sha256::digest(copy_id.as_bytes());
    digest[..5].iter().map(|b| format!("{b:02x}")).collect()
}

/// One run of a copy (an execution `<copyId>-<run>`) and one job in it (0 = the first job,
/// k = the k-th retry job). Together they make the CreateJob idempotency token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    pub run: u16,
    pub job: u16,
}

/// An execution name parsed back into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionName {
    pub copy_id: String,
    pub number: u32,
    pub cleanup: bool,
}

impl ExecutionName {
    /// `<copyId>-<n>` or `<copyId>-cleanup-<n>`; `None` for any other shape.
    pub fn parse(name: &str) -> Option<ExecutionName> {
        let (rest, n) = name.rsplit_once('-')?;
        if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) || rest.is_empty() {
            return None;
        }
        let number = n.parse().ok()?;
        match rest.strip_suffix("-cleanup") {
            Some(copy_id) if !copy_id.is_empty() => Some(ExecutionName {
                copy_id: copy_id.to_string(),
                number,
                cleanup: true,
            }),
            Some(_) => None,
            None => Some(ExecutionName {
                copy_id: rest.to_string(),
                number,
                cleanup: false,
            }),
        }
    }
}

impl fmt::Display for ExecutionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.cleanup {
            write!(f, "{}-cleanup-{}", self.copy_id, self.number)
        } else {
            write!(f, "{}-{}", self.copy_id, self.number)
        }
    }
}

/// The ferry bucket of the destination stack in `account` and `region`: `ferry-<account>-<region>`
/// (the template's `FerryBucket`).
pub fn ferry_bucket_name(account: &str, region: &str) -> String {
    format!("ferry-{account}-{region}")
}

/// `text` as a literal in an IAM policy string of Version 2012-10-17: `*`, `?` and `$` become the
/// policy variables `${*}`, `${?}` and `${$}`, which stand for the character itself.
pub fn policy_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '*' | '?' | '$' => {
                out.push_str("${");
                out.push(c);
                out.push('}');
            }
            c => out.push(c),
        }
    }
    out
}

/// The id of a copy's S3 Inventory configuration on its source bucket: `ferry-<copyId>`.
pub fn inventory_config_id(copy_id: &str) -> String {
    format!("{INVENTORY_CONFIG_PREFIX}{copy_id}")
}

/// Every inventory configuration ferry creates has an id that starts with this.
pub const INVENTORY_CONFIG_PREFIX: &str = "ferry-";

/// Whether `id` has the shape of one of ferry's inventory configuration ids.
pub fn is_inventory_config_id(id: &str) -> bool {
    id.strip_prefix(INVENTORY_CONFIG_PREFIX)
        .is_some_and(|copy_id| !copy_id.is_empty())
}

/// `control/<copyId>/plan.json`: a copy's stored plan (what a cleanup, which has only the
/// copy's run name, reads).
pub fn plan_key(copy_id: &str) -> String {
    format!("{CONTROL_PREFIX}/{copy_id}/plan.json")
}

/// `control/waiters/<config-id>/`: the waiters of one inventory configuration.
pub fn waiters_prefix(config_id: &str) -> String {
    format!("{CONTROL_PREFIX}/waiters/{config_id}/")
}

/// Whether `key` is exactly a waiter of configuration `config_id`:
/// `control/waiters/<config-id>/<copyId>-<n>.json`, of a copy's run (not a cleanup) whose
/// configuration it is.
pub fn is_waiter_key(key: &str, config_id: &str) -> bool {
    key.strip_prefix(waiters_prefix(config_id).as_str())
        .and_then(|rest| rest.strip_suffix(".json"))
        .and_then(ExecutionName::parse)
        .is_some_and(|e| !e.cleanup && inventory_config_id(&e.copy_id) == config_id)
}

/// Every name of one copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Names {
    pub copy_id: String,
    pub partition: String,
    pub hash: String,
    pub ferry_bucket: String,
    pub batch_role_name: String,
    pub batch_role_arn: String,
    pub inventory_config_id: String,
    pub destination_account: String,
    pub region: String,
    report_prefix_base: String,
}

impl Names {
    /// Names for a validated request, run by the destination stack whose bucket is `ferry_bucket`.
    pub fn new(req: &CopyRequest, ferry_bucket: &str) -> Names {
        let partition = partition(&req.region);
        let batch_role_name = format!("ferry-batch-{}", req.copy_id);
        Names {
            copy_id: req.copy_id.clone(),
            partition: partition.to_string(),
            hash: copy_hash(&req.copy_id),
            ferry_bucket: ferry_bucket.to_string(),
            batch_role_arn: format!(
                "arn:{partition}:iam::{}:role{ROLE_PATH}{batch_role_name}",
                req.destination.account_id
            ),
            batch_role_name,
            inventory_config_id: inventory_config_id(&req.copy_id),
            destination_account: req.destination.account_id.clone(),
            region: req.region.clone(),
            report_prefix_base: req
                .report
                .prefix
                .clone()
                .unwrap_or_else(|| REPORT_PREFIX.to_string()),
        }
    }

    /// A statement id: `Ferry` + purpose + this copy's hash. `purpose` is letters only, so that
    /// a Sid reads back unambiguously as purpose and hash (see `policy::is_copy_statement`); a
    /// wrong purpose is a programming error.
    pub fn sid(&self, purpose: &str) -> String {
        assert!(
            !purpose.is_empty() && purpose.bytes().all(|b| b.is_ascii_alphabetic()),
            "Sid purpose must be letters only: {purpose:?}"
        );
        format!("Ferry{purpose}{}", self.hash)
    }

    /// The CreateJob ClientRequestToken (1-64 characters) of one attempt of this copy.
    pub fn client_request_token(&self, attempt: Attempt) -> String {
        format!("ferry-{}-{}-{}", self.copy_id, attempt.run, attempt.job)
    }

    /// The execution role of the destination stack's `job-submit` function, which reads the
    /// manifest's ETag and so needs read access to a CSV manifest in the source account. Fixed
    /// by the template (one stack per account and Region), so both sides can name it. It is not
    /// under `/ferry/`, the path reserved for the roles ferry creates at run time (PassRole and
    /// the permissions boundary are scoped to it).
    pub fn submitter_role_arn(&self) -> String {
        format!(
            "arn:{}:iam::{}:role/ferry-job-submit-{}",
            self.partition, self.destination_account, self.region
        )
    }

    /// `arn:<partition>:iam::<account>:root`: the Principal of every grant ferry makes.
    pub fn account_root(&self, account: &str) -> String {
        format!("arn:{}:iam::{account}:root", self.partition)
    }

    /// `<copyId>-<n>`: run `n` of this copy.
    pub fn execution_name(&self, n: u32) -> String {
        ExecutionName {
            copy_id: self.copy_id.clone(),
            number: n,
            cleanup: false,
        }
        .to_string()
    }

    /// `<copyId>-cleanup-<n>`: the cleanup rule's executions, which the rule itself ignores.
    pub fn cleanup_execution_name(&self, n: u32) -> String {
        ExecutionName {
            copy_id: self.copy_id.clone(),
            number: n,
            cleanup: true,
        }
        .to_string()
    }

    /// `control/<copyId>/`: everything ferry records about this copy.
    pub fn control_prefix(&self) -> String {
        format!("{CONTROL_PREFIX}/{}/", self.copy_id)
    }

    /// The stored plan, immutable once written.
    pub fn plan_key(&self) -> String {
        plan_key(&self.copy_id)
    }

    /// The record of one job, written as soon as CreateJob answers.
    pub fn job_record_key(&self, attempt: Attempt) -> String {
        format!(
            "{}run-{}/job-{}.json",
            self.control_prefix(),
            attempt.run,
            attempt.job
        )
    }

    /// Where an inventory waiter records its task token.
    pub fn waiter_key(&self, execution_name: &str) -> String {
        format!(
            "{}{execution_name}.json",
            waiters_prefix(&self.inventory_config_id)
        )
    }

    /// Whether `key` is exactly one of this copy's job records
    /// (`control/<copyId>/run-<n>/job-<m>.json`, decimal `n` and `m`).
    pub fn is_job_record_key(&self, key: &str) -> bool {
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        key.strip_prefix(self.control_prefix().as_str())
            .and_then(|rest| rest.strip_prefix("run-"))
            .and_then(|rest| rest.split_once("/job-"))
            .and_then(|(run, job)| Some((run, job.strip_suffix(".json")?)))
            .is_some_and(|(run, job)| digits(run) && digits(job))
    }

    /// The retry manifest (CSV) of the retryable failures of `attempt`'s predecessor.
    pub fn retry_manifest_key(&self, attempt: Attempt) -> String {
        format!(
            "{RETRY_PREFIX}/{}/run-{}/job-{}.csv",
            self.copy_id, attempt.run, attempt.job
        )
    }

    /// Prefix of every retry manifest of this copy (the Batch role may read under it).
    pub fn retry_prefix(&self) -> String {
        format!("{RETRY_PREFIX}/{}/", self.copy_id)
    }

    /// Completion reports of run `run` land under `<this>/job-<id>/`.
    pub fn report_prefix(&self, run: u16) -> String {
        format!("{}/{}/run-{run}", self.report_prefix_base, self.copy_id)
    }

    /// Prefix of every report of this copy (the Batch role may write under it).
    pub fn report_prefix_all(&self) -> String {
        format!("{}/{}/", self.report_prefix_base, self.copy_id)
    }

    /// Where S3 Inventory delivers this copy's reports in the ferry bucket:
    /// `inventory/<source-bucket>/<config-id>/` (dated manifests and `data/` below it).
    pub fn inventory_location(&self, source_bucket: &str) -> String {
        format!(
            "{INVENTORY_PREFIX}/{source_bucket}/{}/",
            self.inventory_config_id
        )
    }

    /// A policy's Resource for exactly the object `key` of `bucket`: the key's `*`, `?` and `$`
    /// written as IAM's `${*}`, `${?}` and `${$}`, so that user text never acts as a wildcard
    /// or a policy variable.
    pub fn policy_object(&self, bucket: &str, key: &str) -> String {
        self.s3_arn(bucket, Some(&policy_literal(key)))
    }

    /// A policy's Resource for every object of `bucket` whose key begins with `prefix` (taken
    /// literally, as [`Names::policy_object`] takes a key).
    pub fn policy_objects_under(&self, bucket: &str, prefix: &str) -> String {
        self.s3_arn(bucket, Some(&format!("{}*", policy_literal(prefix))))
    }

    /// Whether `key` is a `manifest.json` that S3 Inventory delivered for this copy's
    /// configuration on `source_bucket`: `<inventory_location><date>/manifest.json`, one dated
    /// folder below the location and nothing else.
    pub fn is_inventory_manifest_key(&self, key: &str, source_bucket: &str) -> bool {
        key.strip_prefix(&self.inventory_location(source_bucket))
            .and_then(|rest| rest.strip_suffix("/manifest.json"))
            .is_some_and(|dated| !dated.is_empty() && !dated.contains('/') && dated != "data")
    }

    /// Whether `key` is one of this copy's retry manifests (`retry/<copyId>/run-<n>/job-<m>.csv`).
    pub fn is_retry_manifest_key(&self, key: &str) -> bool {
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        key.strip_prefix(&self.retry_prefix())
            .and_then(|rest| rest.strip_prefix("run-"))
            .and_then(|rest| rest.split_once("/job-"))
            .and_then(|(run, job)| Some((run, job.strip_suffix(".csv")?)))
            .is_some_and(|(run, job)| digits(run) && digits(job))
    }

    /// `arn:<partition>:s3:::<bucket>` or, with a key, `arn:<partition>:s3:::<bucket>/<key>`, as
    /// S3 APIs take it (CreateJob's manifest and report); policies use
    /// [`Names::policy_object`], which escapes the key.
    pub fn s3_arn(&self, bucket: &str, key: Option<&str>) -> String {
        match key {
            Some(k) => format!("arn:{}:s3:::{bucket}/{k}", self.partition),
            None => format!("arn:{}:s3:::{bucket}", self.partition),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(copy_id: &str) -> CopyRequest {
        let mut r =
            CopyRequest::from_json(include_str!("../fixtures/request-inventory.json")).unwrap();
        r.copy_id = copy_id.to_string();
        r
    }

    const FERRY: &str = "ferry-222222222222-eu-west-1";

    #[test]
    fn manifest_keys_of_this_copy_are_recognised_exactly() {
        let n = Names::new(&request("photos-2026"), FERRY);
        let loc = n.inventory_location("src-photos");
        assert!(n.is_inventory_manifest_key(
            &format!("{loc}2026-11-29T01-00Z/manifest.json"),
            "src-photos"
        ));
        for bad in [
            format!("{loc}manifest.json"),
            format!("{loc}a/b/manifest.json"),
            format!("{loc}2026-11-29T01-00Z/manifest.checksum"),
            format!(
                "inventory/other-bucket/{}/2026-11-29T01-00Z/manifest.json",
                n.inventory_config_id
            ),
            "reports/x/manifest.json".to_string(),
        ] {
            assert!(!n.is_inventory_manifest_key(&bad, "src-photos"), "{bad}");
        }
        assert!(n.is_retry_manifest_key(&n.retry_manifest_key(Attempt { run: 2, job: 1 })));
        let record = n.job_record_key(Attempt { run: 2, job: 1 });
        assert!(n.is_job_record_key(&record));
        for bad in [
            "control/photos-2026/plan.json",
            "control/photos-2026/run-2/job-1.json.bak",
            "control/photos-2026/run-x/job-1.json",
        ] {
            assert!(!n.is_job_record_key(bad), "{bad}");
        }
        let config = &n.inventory_config_id;
        assert!(is_waiter_key(&n.waiter_key("photos-2026-3"), config));
        for bad in ["photos-2025-1", "photos-2026-cleanup-1", "notes"] {
            assert!(
                !is_waiter_key(&format!("{}{bad}.json", waiters_prefix(config)), config),
                "{bad}"
            );
        }
        assert!(
            is_inventory_config_id(config)
                && !is_inventory_config_id("ferry-")
                && !is_inventory_config_id("other")
        );
        for bad in [
            n.retry_prefix() + "run-2/job-1.csv.bak",
            n.retry_prefix() + "../control/x.csv",
            "retry/other-copy/run-1/job-1.csv".to_string(),
        ] {
            assert!(!n.is_retry_manifest_key(&bad), "{bad}");
        }
    }

    #[test]
    fn names_of_the_design_example() {
        let n = Names::new(&request("photos-2026"), FERRY);
        assert_eq!(n.batch_role_name, "ferry-batch-photos-2026");
        assert_eq!(
            n.batch_role_arn,
            "arn:aws:iam::222222222222:role/ferry/ferry-batch-photos-2026"
        );
        assert_eq!(n.inventory_config_id, "ferry-photos-2026");
        assert_eq!(n.execution_name(3), "photos-2026-3");
        assert_eq!(n.cleanup_execution_name(1), "photos-2026-cleanup-1");
        assert_eq!(n.plan_key(), "control/photos-2026/plan.json");
        assert_eq!(
            n.job_record_key(Attempt { run: 2, job: 1 }),
            "control/photos-2026/run-2/job-1.json"
        );
        assert_eq!(n.report_prefix(2), "reports/photos-2026/run-2");
        assert_eq!(
            n.inventory_location("src-photos"),
            "inventory/src-photos/ferry-photos-2026/"
        );
        assert_eq!(
            n.client_request_token(Attempt { run: 1, job: 0 }),
            "ferry-photos-2026-1-0"
        );
        assert_eq!(n.s3_arn("b", Some("k/x")), "arn:aws:s3:::b/k/x");
        assert_eq!(
            n.policy_objects_under("b", "a*b?c$d/${aws:username}"),
            "arn:aws:s3:::b/a${*}b${?}c${$}d/${$}{aws:username}*"
        );
        assert_eq!(
            n.policy_object("b", "plain/key.csv"),
            "arn:aws:s3:::b/plain/key.csv"
        );
        assert_eq!(
            n.submitter_role_arn(),
            "arn:aws:iam::222222222222:role/ferry-job-submit-eu-west-1"
        );
        assert_eq!(
            n.account_root("111111111111"),
            "arn:aws:iam::111111111111:root"
        );
    }

    #[test]
    fn names_are_deterministic_and_distinct_per_copy() {
        let a1 = Names::new(&request("photos-2026"), FERRY);
        let a2 = Names::new(&request("photos-2026"), FERRY);
        let b = Names::new(&request("photos-2025"), FERRY);
        assert_eq!(a1, a2);
        assert_ne!(a1.sid("SourceRead"), b.sid("SourceRead"));
        assert_ne!(a1.inventory_config_id, b.inventory_config_id);
        assert_ne!(
            a1.client_request_token(Attempt { run: 1, job: 0 }),
            a1.client_request_token(Attempt { run: 2, job: 0 })
        );
        assert_ne!(
            a1.client_request_token(Attempt { run: 1, job: 0 }),
            a1.client_request_token(Attempt { run: 1, job: 1 })
        );
    }

    #[test]
    fn sids_use_only_iams_alphabet() {
        let n = Names::new(&request("a-b-c"), FERRY);
        let sid = n.sid("SourceRead");
        assert!(sid.starts_with("FerrySourceRead"));
        assert!(sid.bytes().all(|b| b.is_ascii_alphanumeric()), "{sid}");
        assert_eq!(sid.len(), "FerrySourceRead".len() + 10);
    }

    #[test]
    #[should_panic(expected = "letters only")]
    fn a_sid_purpose_with_other_characters_is_a_bug() {
        Names::new(&request("x"), FERRY).sid("Source-Read");
    }

    #[test]
    fn longest_copy_id_stays_within_aws_limits() {
        let id = "a".repeat(crate::request::COPY_ID_MAX);
        let n = Names::new(&request(&id), FERRY);
        let max = Attempt {
            run: u16::MAX,
            job: u16::MAX,
        };
        assert!(n.batch_role_name.len() <= 64, "IAM role names: 64");
        assert!(
            n.client_request_token(max).len() <= 64,
            "ClientRequestToken: 64"
        );
        assert!(
            n.cleanup_execution_name(u32::MAX).len() <= 80,
            "execution names: 80"
        );
        assert!(n.report_prefix(u16::MAX).len() <= 512, "report prefix: 512");
        assert!(n.inventory_config_id.len() <= 64);
    }

    #[test]
    fn a_custom_report_prefix_stays_within_512() {
        let mut r = request(&"a".repeat(40));
        r.report.prefix = Some("p".repeat(crate::request::REPORT_PREFIX_MAX));
        let n = Names::new(&r, FERRY);
        assert!(n.report_prefix(u16::MAX).len() <= 512);
    }

    #[test]
    fn partitions_follow_the_region() {
        assert_eq!(partition("eu-west-1"), "aws");
        assert_eq!(partition("cn-north-1"), "aws-cn");
        assert_eq!(partition("us-gov-west-1"), "aws-us-gov");
        let mut r = request("x1");
        r.region = "cn-north-1".into();
        assert!(Names::new(&r, FERRY)
            .batch_role_arn
            .starts_with("arn:aws-cn:iam::"));
    }

    #[test]
    fn execution_names_parse_back() {
        let n = Names::new(&request("photos-2026"), FERRY);
        let run = ExecutionName::parse(&n.execution_name(7)).unwrap();
        assert_eq!(
            run,
            ExecutionName {
                copy_id: "photos-2026".into(),
                number: 7,
                cleanup: false
            }
        );
        let cleanup = ExecutionName::parse(&n.cleanup_execution_name(2)).unwrap();
        assert!(cleanup.cleanup);
        assert_eq!(cleanup.copy_id, "photos-2026");
        assert_eq!(ExecutionName::parse("photos"), None);
        assert_eq!(ExecutionName::parse("photos-"), None);
        assert_eq!(ExecutionName::parse("-3"), None);
        // A copyId may not contain the segment `cleanup` (request validation), so no run of a
        // real copy reads as a cleanup execution.
        assert_eq!(ExecutionName::parse("x-cleanup-"), None);
    }
}
