//! The identifiers every layer shares, in a module that needs none of the others: a Region's
//! partition, a copy's run and job (`Attempt`), an execution's name (`ExecutionName`). `layout`
//! spells the ferry bucket's keys with them, `names` the AWS names, `request` validates with
//! them; none of those is needed here.

use std::fmt;

use serde::{Deserialize, Serialize};

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
