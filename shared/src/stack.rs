//! What a deployed stack tells its functions: its account, Region, the ferry bucket, the source
//! accounts it serves and ferry's permissions boundary. Read once at cold start by `main.rs`
//! through a lookup (the process environment there), so that library code never reads the
//! environment and the sandbox can host many functions in one process.

use crate::request::StackContext;

/// Names of the variables the template sets on every function.
pub const VAR_ACCOUNT_ID: &str = "FERRY_ACCOUNT_ID";
pub const VAR_REGION: &str = "AWS_REGION";
pub const VAR_FERRY_BUCKET: &str = "FERRY_BUCKET";
pub const VAR_SOURCE_ACCOUNT_IDS: &str = "FERRY_SOURCE_ACCOUNT_IDS";
pub const VAR_BOUNDARY_ARN: &str = "FERRY_BOUNDARY_ARN";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackConfig {
    pub account_id: String,
    pub region: String,
    pub ferry_bucket: String,
    pub source_account_ids: Vec<String>,
    /// ferry's permissions boundary (destination side); every role ferry creates carries it.
    pub boundary_arn: String,
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
        Ok(StackConfig {
            account_id: get(VAR_ACCOUNT_ID)?,
            region: get(VAR_REGION)?,
            ferry_bucket: get(VAR_FERRY_BUCKET)?,
            source_account_ids: lookup(VAR_SOURCE_ACCOUNT_IDS)
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            boundary_arn: lookup(VAR_BOUNDARY_ARN).unwrap_or_default(),
        })
    }

    pub fn context(&self) -> StackContext {
        StackContext {
            account_id: self.account_id.clone(),
            region: self.region.clone(),
            source_account_ids: self.source_account_ids.clone(),
            ferry_bucket: self.ferry_bucket.clone(),
        }
    }
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
        ]);
        let c = StackConfig::from_lookup(|n| vars.get(n).map(|v| v.to_string())).unwrap();
        assert_eq!(c.source_account_ids, ["111111111111", "333333333333"]);
        assert_eq!(c.context().ferry_bucket, "ferry-222222222222-eu-west-1");
        vars.remove(VAR_FERRY_BUCKET);
        let err = StackConfig::from_lookup(|n| vars.get(n).map(|v| v.to_string())).unwrap_err();
        assert_eq!(err, MissingVariable(VAR_FERRY_BUCKET));
        assert!(err
            .to_string()
            .starts_with("environment variable FERRY_BUCKET is not set"));
    }
}
