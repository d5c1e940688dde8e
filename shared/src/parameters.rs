//! The stack's lists (`SourceBuckets`, `DestinationBuckets`, ...) where the template keeps them:
//! one SSM parameter each, `<prefix><list>`, read once at cold start.
//!
//! Why not the environment: Lambda gives a function 4 KB of environment variables in all
//! (Lambda Developer Guide, quotas), and CloudFormation takes a parameter value of up to 4,096
//! bytes (CloudFormation User Guide, quotas), so one long list alone fills a function's
//! environment. A standard SSM parameter holds 4 KB (SSM API, PutParameter `Value`: "Standard
//! parameters have a value limit of 4 KB"), each list's own limit, and GetParameters reads up
//! to ten in one call (`Names`: at most 10). The template creates a list's parameter only when
//! the list is not empty, so a name GetParameters does not find is an empty list.

use std::collections::BTreeMap;

use crate::stack::*;

/// The variable that names the lists' parameter prefix (`ferry-<side>-<region>-`); without it,
/// the lists are read from the environment (the sandbox's older stacks, the cold-start bench).
pub const VAR_LIST_PARAMETERS: &str = "FERRY_LIST_PARAMETERS";

/// One of the stack's lists: the variable a function reads it as, its SSM parameter's name after
/// the prefix, and the template parameter it is written from (template.yaml's
/// `AWS::SSM::Parameter`s).
#[derive(Debug, PartialEq, Eq)]
pub struct StackList {
    pub var: &'static str,
    pub suffix: &'static str,
    pub parameter: &'static str,
}

/// Every list a stack keeps.
pub const LISTS: [StackList; 6] = [
    StackList {
        var: VAR_SOURCE_ACCOUNT_IDS,
        suffix: "source-account-ids",
        parameter: "SourceAccountIds",
    },
    StackList {
        var: VAR_SOURCE_BUCKETS,
        suffix: "source-buckets",
        parameter: "SourceBuckets",
    },
    StackList {
        var: VAR_DESTINATION_ACCOUNT_IDS,
        suffix: "destination-account-ids",
        parameter: "DestinationAccountIds",
    },
    StackList {
        var: VAR_DESTINATION_BUCKETS,
        suffix: "destination-buckets",
        parameter: "DestinationBuckets",
    },
    StackList {
        var: VAR_MANIFEST_BUCKETS,
        suffix: "manifest-buckets",
        parameter: "ManifestBuckets",
    },
    StackList {
        var: VAR_SOURCE_KMS_KEY_ARNS,
        suffix: "source-kms-key-arns",
        parameter: "SourceKmsKeyArns",
    },
];

impl StackList {
    /// The list written from template parameter `parameter`.
    pub fn of_parameter(parameter: &str) -> Option<&'static StackList> {
        LISTS.iter().find(|l| l.parameter == parameter)
    }
}

/// The SSM parameter names of every list under `prefix`.
fn list_names(prefix: &str) -> Vec<String> {
    LISTS
        .iter()
        .map(|l| format!("{prefix}{}", l.suffix))
        .collect()
}

/// Why a function's configuration could not be read at cold start.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Missing(#[from] MissingVariable),
    #[error("reading the stack's lists from SSM ({names}): {cause}")]
    Lists { names: String, cause: String },
}

/// [`load`] with an SSM client of `sdk`'s (`lambda::serve`, the sandbox's function host).
pub async fn load_for(
    sdk: &aws_types::SdkConfig,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<StackConfig, ConfigError> {
    load(&aws_sdk_ssm::Client::new(sdk), lookup).await
}

/// The stack's configuration: the variables `lookup` gives (the environment on Lambda),
/// with the lists read from SSM when `FERRY_LIST_PARAMETERS` names their prefix.
pub async fn load(
    ssm: &aws_sdk_ssm::Client,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<StackConfig, ConfigError> {
    let mut lists: BTreeMap<&str, String> = BTreeMap::new();
    if let Some(prefix) = lookup(VAR_LIST_PARAMETERS).filter(|p| !p.is_empty()) {
        let found = read_lists(ssm, &prefix)
            .await
            .map_err(|e| ConfigError::Lists {
                names: list_names(&prefix).join(", "),
                cause: crate::error::from_sdk(e, "GetParameters").cause,
            })?;
        for (list, value) in found {
            lists.insert(list.var, value);
        }
    }
    Ok(StackConfig::from_lookup(|n| {
        lists.get(n).cloned().or_else(|| lookup(n))
    })?)
}

/// The prefix of a stack's list parameters: `ferry-<side>-<region>-` (template.yaml names them
/// so, and hands the functions the same prefix in `FERRY_LIST_PARAMETERS`).
pub fn list_prefix(side: &str, region: &str) -> String {
    format!("ferry-{side}-{region}-")
}

/// The lists a stack keeps under `prefix` (`ferry-<side>-<region>-`), each with its value as
/// written (comma-separated). A list whose parameter is absent is empty, or the stack is not
/// there: `ferry doctor` tells the two apart by the list every stack of a side has (a Rule of the
/// template requires it).
pub async fn read_lists(
    ssm: &aws_sdk_ssm::Client,
    prefix: &str,
) -> Result<
    Vec<(&'static StackList, String)>,
    aws_sdk_ssm::error::SdkError<aws_sdk_ssm::operation::get_parameters::GetParametersError>,
> {
    let out = ssm
        .get_parameters()
        .set_names(Some(list_names(prefix)))
        .send()
        .await?;
    Ok(out
        .parameters()
        .iter()
        .filter_map(|p| {
            let name = p.name()?.strip_prefix(prefix)?;
            let list = LISTS.iter().find(|l| l.suffix == name)?;
            Some((list, p.value()?.to_string()))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ssm::operation::get_parameters::GetParametersOutput;
    use aws_sdk_ssm::types::Parameter;
    use aws_smithy_mocks::{mock, mock_client};

    fn env(name: &str) -> Option<String> {
        match name {
            VAR_ACCOUNT_ID => Some("111111111111".into()),
            VAR_REGION => Some("eu-west-1".into()),
            VAR_FERRY_BUCKET => Some("ferry-111111111111-eu-west-1".into()),
            VAR_LIST_PARAMETERS => Some("ferry-source-eu-west-1-".into()),
            _ => None,
        }
    }

    /// The lists come from their parameters; a list whose parameter does not exist (an empty
    /// list: the template creates none) is empty.
    #[tokio::test]
    async fn the_lists_are_read_from_their_parameters_in_one_call() {
        let rule = mock!(aws_sdk_ssm::Client::get_parameters).then_compute_output(|req| {
            assert_eq!(req.names().len(), LISTS.len(), "one call for every list");
            let p = |name: &str, value: &str| {
                Parameter::builder()
                    .name(format!("ferry-source-eu-west-1-{name}"))
                    .value(value)
                    .build()
            };
            GetParametersOutput::builder()
                .parameters(p("source-buckets", "src-photos,src-manifests"))
                .parameters(p("destination-account-ids", "222222222222"))
                .invalid_parameters("ferry-source-eu-west-1-source-kms-key-arns")
                .build()
        });
        let ssm = mock_client!(aws_sdk_ssm, [&rule]);
        let config = load(&ssm, env).await.unwrap();
        assert_eq!(config.source_buckets, ["src-photos", "src-manifests"]);
        assert_eq!(config.destination_account_ids, ["222222222222"]);
        assert!(config.source_kms_key_arns.is_empty());
        assert_eq!(rule.num_calls(), 1);
    }

    /// Without the prefix variable nothing is asked of SSM: the lists are the environment's.
    #[tokio::test]
    async fn without_the_prefix_the_lists_are_the_environments() {
        let rule = mock!(aws_sdk_ssm::Client::get_parameters)
            .then_output(|| GetParametersOutput::builder().build());
        let ssm = mock_client!(aws_sdk_ssm, [&rule]);
        let config = load(&ssm, |n| match n {
            VAR_LIST_PARAMETERS => None,
            VAR_SOURCE_BUCKETS => Some("src-photos".into()),
            other => env(other),
        })
        .await
        .unwrap();
        assert_eq!(config.source_buckets, ["src-photos"]);
        assert_eq!(rule.num_calls(), 0);
    }
}
