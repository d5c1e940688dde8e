//! Deterministic names: every role, statement id, inventory configuration, idempotency token,
//! execution name and object key ferry uses is derived from the copy request alone, so that a
//! re-run finds what an earlier run created and each side can name the other's resources before
//! they exist. Each name stays within AWS's limits for any valid request (see the tests).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use crate::ids::{partition, Attempt, ExecutionName};
use crate::layout::{inventory_config_id, CopyLayout, REPORT_PREFIX};
use crate::request::CopyRequest;

/// IAM path of every role ferry creates; its permissions boundary and PassRole are scoped to it.
pub const ROLE_PATH: &str = "/ferry/";
/// The template's state machine (`Name: ferry`), one a destination account and Region.
pub const STATE_MACHINE: &str = "ferry";

/// The ARN of the destination stack's state machine.
pub fn state_machine_arn(region: &str, account: &str) -> String {
    format!(
        "arn:{}:states:{region}:{account}:stateMachine:{STATE_MACHINE}",
        partition(region)
    )
}

/// The ARN of execution `name` of the destination stack's state machine.
pub fn execution_arn(region: &str, account: &str, name: &str) -> String {
    format!(
        "arn:{}:states:{region}:{account}:execution:{STATE_MACHINE}:{name}",
        partition(region)
    )
}

/// A short, stable hash of a copy, its destination account and its copyId: 16 lowercase hex
/// characters (64 bits of SHA-256). It keeps statement ids and KMS grant names of different
/// copies apart, two destination accounts' copies of the same copyId included (both may grant
/// on one source bucket), while staying within IAM's Sid alphabet. 64 bits, so that a
/// destination account cannot search for a copyId whose hash is another account's copy's
/// (versions before took 40 bits).
pub fn copy_hash(destination_account: &str, copy_id: &str) -> String {
    let digest = Sha256::digest(format!("{destination_account}/{copy_id}").as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// `name` is `base` or `base-r<run>`.
fn is_grant_name_of(name: &str, base: &str) -> bool {
    name == base
        || name
            .strip_prefix(base)
            .and_then(|rest| rest.strip_prefix("-r"))
            .is_some_and(|run| !run.is_empty() && run.bytes().all(|b| b.is_ascii_digit()))
}

/// The role ARN of a role session's ARN (`arn:<partition>:sts::<account>:assumed-role/<name>/
/// <session>`, what GetCallerIdentity answers a session), for a role of the path `/`; `None`
/// for anything else.
pub fn role_of_session(arn: &str) -> Option<String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ["arn", partition, "sts", "", account, resource] = parts.as_slice() else {
        return None;
    };
    let mut pieces = resource.split('/');
    match (pieces.next(), pieces.next(), pieces.next(), pieces.next()) {
        (Some("assumed-role"), Some(name), Some(session), None)
            if !name.is_empty() && !session.is_empty() =>
        {
            Some(format!("arn:{partition}:iam::{account}:role/{name}"))
        }
        _ => None,
    }
}

/// The source stack's function that grants and revokes source access (template.yaml's
/// `SourceAccessFunction`).
pub const SOURCE_ACCESS_FUNCTION: &str = "ferry-source-access";
/// The source stack's function that puts and removes inventory configurations.
pub const SOURCE_INVENTORY_FUNCTION: &str = "ferry-source-inventory";
/// The Batch role of the copy `copy_id` into `account` (`ferry/ferry-batch-<copyId>`).
pub fn batch_role_arn(partition: &str, account: &str, copy_id: &str) -> String {
    format!("arn:{partition}:iam::{account}:role{ROLE_PATH}ferry-batch-{copy_id}")
}

/// The destination stack's copy worker, which S3 Batch Operations invokes for objects over 5 GB.
pub const COPY_WORKER_FUNCTION: &str = "ferry-copy-worker";

/// What the destination's state machine calls in a copy's source account, decided at run time
/// from the request's `source.accountId` (one stack serves several source accounts): the
/// source stack's invoke role of this destination account, which the Task assumes
/// (`Credentials.RoleArn`), and this destination's alias of its two functions. Names fixed by
/// the template, so the destination can name them before they exist.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceSide {
    pub invoke_role: String,
    pub access_function: String,
    pub inventory_function: String,
}

impl SourceSide {
    /// The source stack's names in `account` and `region` for the destination account
    /// `destination`.
    pub fn of(account: &str, region: &str, destination: &str) -> SourceSide {
        let partition = partition(region);
        let alias = destination_alias(destination);
        let function = |name: &str| {
            format!("arn:{partition}:lambda:{region}:{account}:function:{name}:{alias}")
        };
        SourceSide {
            invoke_role: format!(
                "arn:{partition}:iam::{account}:role/ferry-source-invoke-{region}-{destination}"
            ),
            access_function: function(SOURCE_ACCESS_FUNCTION),
            inventory_function: function(SOURCE_INVENTORY_FUNCTION),
        }
    }
}

/// The alias of each source function that the destination account `account` invokes
/// (template.yaml's `SourceAccessAlias${AccountId}`): `dest-<account>`.
pub fn destination_alias(account: &str) -> String {
    format!("dest-{account}")
}

/// The destination account whose alias a source function was invoked through, from the ARN
/// Lambda hands the function (the Lambda context's `invoked_function_arn`, "the ARN of the
/// Lambda function, version, or alias that's specified in the invocation"). `None` when the
/// function was invoked by its unqualified ARN, a version, or another alias.
pub fn invoking_destination(invoked_function_arn: &str) -> Option<&str> {
    let parts: Vec<&str> = invoked_function_arn.split(':').collect();
    match parts.as_slice() {
        ["arn", _, "lambda", _, _, "function", _, qualifier] => qualifier
            .strip_prefix("dest-")
            .filter(|a| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit())),
        _ => None,
    }
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
    /// The destination stack's copy worker (template.yaml's `CopyWorkerFunction`).
    pub fn worker_function_arn(&self) -> String {
        format!(
            "arn:{}:lambda:{}:{}:function:{COPY_WORKER_FUNCTION}",
            self.partition, self.region, self.destination_account
        )
    }

    /// The copy worker's own role, which may assume the copy's Batch role (its trust says so).
    pub fn worker_role_arn(&self) -> String {
        format!(
            "arn:{}:iam::{}:role/{COPY_WORKER_FUNCTION}-{}",
            self.partition, self.destination_account, self.region
        )
    }

    /// Names for a validated request, run by the destination stack whose bucket is `ferry_bucket`.
    pub fn new(req: &CopyRequest, ferry_bucket: &str) -> Names {
        let partition = partition(&req.region);
        let batch_role_name = format!("ferry-batch-{}", req.copy_id);
        Names {
            copy_id: req.copy_id.clone(),
            partition: partition.to_string(),
            hash: copy_hash(&req.destination.account_id, &req.copy_id),
            ferry_bucket: ferry_bucket.to_string(),
            batch_role_arn: batch_role_arn(partition, &req.destination.account_id, &req.copy_id),
            batch_role_name,
            inventory_config_id: inventory_config_id(&req.destination.account_id, &req.copy_id),
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

    /// The name of this copy's KMS grants on source keys: `ferry-<hash>` (22 characters; KMS
    /// allows 256). CreateGrant with the same name and parameters returns the
    /// existing grant, and a revoke finds the copy's grants by it.
    pub fn kms_grant_name(&self) -> String {
        format!("ferry-{}", self.hash)
    }

    /// The name of run `run`'s KMS grants: one per run, because CreateGrant with a name already
    /// on the key returns that grant, and a grant outlives its grantee role (a later run's role
    /// of the same name is not its grantee; contract facts, "KMS grants").
    pub fn kms_grant_name_of_run(&self, run: u16) -> String {
        format!("{}-r{run}", self.kms_grant_name())
    }

    /// Whether a grant's name is one of this copy's (any run's, or an earlier version's name
    /// without a run). The hash names the destination account and copyId, so the name alone
    /// finds the copy's grants when the grantee is gone and ListGrants shows its unique id.
    pub fn is_kms_grant_name(&self, name: &str) -> bool {
        is_grant_name_of(name, &self.kms_grant_name())
    }

    /// The ClientRequestToken of flow C's census job of run `run`: `ferry-<copyId>-<run>-census`,
    /// at most 59 characters for the longest copyId (CreateJob allows 64).
    pub fn census_token(&self, run: u16) -> String {
        format!("ferry-{}-{}-census", self.copy_id, run)
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

    /// The copy's keys in the ferry bucket.
    pub fn layout(&self) -> CopyLayout<'_> {
        CopyLayout {
            destination_account: &self.destination_account,
            copy_id: &self.copy_id,
            report_base: &self.report_prefix_base,
        }
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
    fn kms_grants_are_named_per_run_and_found_by_their_copy_alone() {
        let n = Names::new(&request("photos-2026"), FERRY);
        let other = Names::new(&request("photos-2025"), FERRY);
        let run2 = n.kms_grant_name_of_run(2);
        assert_ne!(run2, n.kms_grant_name_of_run(3));
        assert!(
            run2.len() <= 256
                && run2
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_:/".contains(&b))
        );
        for name in [
            run2.as_str(),
            &n.kms_grant_name(),
            &n.kms_grant_name_of_run(65535),
        ] {
            assert!(n.is_kms_grant_name(name), "{name}");
            assert!(!other.is_kms_grant_name(name), "{name}");
        }
        for name in [
            format!("{}-r", n.kms_grant_name()),
            format!("{}-rx", n.kms_grant_name()),
            format!("{}0", n.kms_grant_name()),
        ] {
            assert!(!n.is_kms_grant_name(&name), "{name}");
        }
        // A name of the 40-bit hash earlier versions used is not this copy's.
        let legacy = format!("ferry-{}-r1", &n.hash[..10]);
        assert!(!n.is_kms_grant_name(&legacy), "{legacy}");
    }

    #[test]
    fn a_sessions_role() {
        assert_eq!(
            role_of_session("arn:aws:sts::111111111111:assumed-role/src-SourceAccessFunctionRole-AB12/ferry-source-access").as_deref(),
            Some("arn:aws:iam::111111111111:role/src-SourceAccessFunctionRole-AB12")
        );
        assert_eq!(
            role_of_session("arn:aws-cn:sts::111111111111:assumed-role/r/s").as_deref(),
            Some("arn:aws-cn:iam::111111111111:role/r")
        );
        for arn in [
            "arn:aws:iam::111111111111:user/alice",
            "arn:aws:sts::111111111111:federated-user/alice",
            "arn:aws:sts::111111111111:assumed-role/r",
            "arn:aws:sts::111111111111:assumed-role/r/s/t",
            "",
        ] {
            assert_eq!(role_of_session(arn), None, "{arn}");
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
        assert_eq!(n.inventory_config_id, "ferry-222222222222-photos-2026");
        // docs/src/request.md's example: SHA-256("222222222222/photos-2026") begins 7df839314672b904.
        assert_eq!(n.sid("SourceRead"), "FerrySourceRead7df839314672b904");
        assert_eq!(n.execution_name(3), "photos-2026-3");
        assert_eq!(n.cleanup_execution_name(1), "photos-2026-cleanup-1");
        assert_eq!(
            n.layout(),
            crate::layout::CopyLayout::of("222222222222", "photos-2026")
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
        // The template's names of a source stack, in its account and Region and partition,
        // for one destination account.
        let s = SourceSide::of("333333333333", "cn-north-1", "222222222222");
        assert_eq!(
            s.invoke_role,
            "arn:aws-cn:iam::333333333333:role/ferry-source-invoke-cn-north-1-222222222222"
        );
        assert_eq!(
            s.access_function,
            "arn:aws-cn:lambda:cn-north-1:333333333333:function:ferry-source-access:dest-222222222222"
        );
        assert_eq!(
            s.inventory_function,
            "arn:aws-cn:lambda:cn-north-1:333333333333:function:ferry-source-inventory:dest-222222222222"
        );
        assert_eq!(
            invoking_destination(&s.access_function),
            Some("222222222222")
        );
    }

    #[test]
    fn only_a_destination_alias_names_the_invoking_destination() {
        let f = "arn:aws:lambda:eu-west-1:111111111111:function:ferry-source-access";
        for (arn, expected) in [
            (format!("{f}:dest-222222222222"), Some("222222222222")),
            (f.to_string(), None),
            (format!("{f}:7"), None),
            (format!("{f}:$LATEST"), None),
            (format!("{f}:dest-22222222222"), None),
            (format!("{f}:dest-2222222222222"), None),
            (format!("{f}:dest-22222222222x"), None),
            (format!("{f}:prod"), None),
            (format!("{f}:dest-222222222222:extra"), None),
            ("".to_string(), None),
        ] {
            assert_eq!(invoking_destination(&arn), expected, "{arn}");
        }
    }

    #[test]
    fn names_are_deterministic_and_distinct_per_copy() {
        let a1 = Names::new(&request("photos-2026"), FERRY);
        let a2 = Names::new(&request("photos-2026"), FERRY);
        let b = Names::new(&request("photos-2025"), FERRY);
        assert_eq!(a1, a2);
        assert_ne!(a1.sid("SourceRead"), b.sid("SourceRead"));
        assert_ne!(a1.inventory_config_id, b.inventory_config_id);
        // The same copyId into another destination account: the same source bucket may hold
        // both copies' statements and inventory configurations.
        let mut other = request("photos-2026");
        other.destination.account_id = "333333333333".into();
        let c = Names::new(&other, "ferry-333333333333-eu-west-1");
        assert_ne!(a1.sid("SourceRead"), c.sid("SourceRead"));
        assert_ne!(a1.inventory_config_id, c.inventory_config_id);
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
        assert_eq!(sid.len(), "FerrySourceRead".len() + 16);
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
        assert!(
            n.layout().report_prefix(u16::MAX).len() <= 512,
            "report prefix: 512"
        );
        assert!(n.inventory_config_id.len() <= 64);
    }

    #[test]
    fn a_custom_report_prefix_stays_within_512() {
        let mut r = request(&"a".repeat(40));
        r.report.prefix = Some("p".repeat(crate::request::REPORT_PREFIX_MAX));
        let n = Names::new(&r, FERRY);
        assert!(n.layout().report_prefix(u16::MAX).len() <= 512);
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
