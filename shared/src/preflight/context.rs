//! The request context the preflight gives the simulator, which "doesn't consider real context
//! key values" (IAM User Guide, "Testing IAM policies with the IAM policy simulator"): every key
//! of a request by the copy's roles that AWS documents as present, with its value, and the keys
//! it documents as absent from such a request (docs/src/permissions.md lists their sources).

use crate::clock::{format_timestamp, Epoch};

/// One ContextEntry: its key, its ContextKeyType (`string`, `boolean`, `date`, `numeric`), its
/// values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextValue {
    pub key: String,
    pub kind: &'static str,
    pub values: Vec<String>,
}

/// Keys absent from every request of S3 Batch Operations and of the copy worker (a Lambda
/// function in no VPC): `aws:SourceVpce`, `aws:SourceVpc` and `aws:VpcSourceIp` are "included in
/// the request context only if the requester uses a VPC endpoint to make the request";
/// `aws:CalledVia` (and its First and Last) "is not present if the service uses a service role
/// or service-linked role to make a call on the principal's behalf" (IAM User Guide, "AWS global
/// condition context keys"). A deny that holds only because one of these is absent refuses.
pub const KNOWN_ABSENT: [&str; 6] = [
    "aws:SourceVpce",
    "aws:SourceVpc",
    "aws:VpcSourceIp",
    "aws:CalledVia",
    "aws:CalledViaFirst",
    "aws:CalledViaLast",
];

/// The context of a request by `role` (a role of the destination account `principal_account`)
/// on a resource of `resource_account`, at `now`. Not given, as ferry cannot know them before
/// the copy: `aws:PrincipalOrgID` (present only when the account belongs to an organization),
/// `aws:SourceIp` (AWS does not document it for S3 Batch Operations), `aws:SecureTransport`,
/// `aws:PrincipalType` (no AWS page found gives its value for a role's session), tags. A statement that depends on one of them is reported undecided, not refused.
pub fn batch_context(
    role: &str,
    principal_account: &str,
    resource_account: &str,
    now: Epoch,
) -> Vec<ContextValue> {
    let one = |key: &str, kind: &'static str, value: &str| ContextValue {
        key: key.into(),
        kind,
        values: vec![value.into()],
    };
    vec![
        one("aws:PrincipalArn", "string", role),
        one("aws:PrincipalAccount", "string", principal_account),
        // "returns false if the service uses a service role or service-linked role"; the copy
        // worker calls S3 itself.
        one("aws:ViaAWSService", "boolean", "false"),
        one("aws:PrincipalIsAWSService", "boolean", "false"),
        one("aws:CurrentTime", "date", &format_timestamp(now)),
        one("aws:EpochTime", "numeric", &now.to_string()),
        one("aws:ResourceAccount", "string", resource_account),
        one("s3:ResourceAccount", "string", resource_account),
    ]
}
