//! Where the commands go: the destination account's state machine, on AWS or in the sandbox.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use aws_config::{BehaviorVersion, Region};
use aws_types::SdkConfig;
use ferry_core::clients::Clients;
use serde::Deserialize;

use crate::{aws_error, CliError, Result};

/// The state machine's fixed name (template.yaml), so its ARN follows from account and Region.
pub const STATE_MACHINE_NAME: &str = "ferry";

/// The environment variable `make sandbox` prints: the path of the sandbox's description.
pub const SANDBOX_VAR: &str = "FERRY_SANDBOX";

/// What the CLI reads of the sandbox's description (the JSON `make sandbox` writes, ferry-local's
/// `SandboxInfo`): where it listens, its Region, and the destination account's credentials and
/// state machine. Read as JSON, so that the CLI does not depend on the sandbox's crate.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SandboxDescription {
    pub endpoint: String,
    pub region: String,
    /// Account ids by side (`destination`, `source`, `third`).
    pub accounts: BTreeMap<String, String>,
    /// Credentials by side.
    pub credentials: BTreeMap<String, SandboxCredentials>,
    /// The destination account's state machine.
    pub state_machine_arn: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SandboxCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
}

impl SandboxDescription {
    /// The SDK's configuration with the credentials of `side`'s account, when it has some.
    pub fn config_for(&self, side: &str) -> Option<SdkConfig> {
        let c = self.credentials.get(side)?;
        Some(ferry_core::clients::static_session_config(
            &self.endpoint,
            &self.region,
            &c.access_key_id,
            &c.secret_access_key,
            &c.session_token,
        ))
    }

    /// The description `make sandbox` wrote to `path`.
    pub fn read(path: &Path) -> Result<SandboxDescription> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            CliError::other(format!(
                "cannot read the sandbox's description {}: {e}; start one with `make sandbox` and export the {SANDBOX_VAR} it prints",
                path.display()
            ))
        })?;
        serde_json::from_str(&text).map_err(|e| {
            CliError::other(format!(
                "{} is not a sandbox description: {e}",
                path.display()
            ))
        })
    }
}

/// The SDK's configuration for `profile` (else its default chain) and `region`. A profile that
/// no config or credentials file defines is named as such, before the SDK would fall through to
/// other providers and report the last one's failure (the instance metadata service's); except
/// where `AWS_ACCESS_KEY_ID` is set, since the chain takes the environment's credentials before
/// any profile's (its order, as the SDK's own error lists it: Environment, Profile,
/// WebIdentityToken, EcsContainer, Ec2InstanceMetadata).
pub async fn aws_config(profile: Option<&str>, region: Option<&str>) -> Result<SdkConfig> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(p) = profile {
        if std::env::var_os("AWS_ACCESS_KEY_ID").is_none_or(|v| v.is_empty()) {
            check_profile_exists(p).await?;
        }
        loader = loader.profile_name(p);
    }
    if let Some(r) = region {
        loader = loader.region(Region::new(r.to_string()));
    }
    Ok(loader.load().await)
}

/// Fails when no AWS config or credentials file (`AWS_CONFIG_FILE`, `AWS_SHARED_CREDENTIALS_FILE`,
/// else `~/.aws/config` and `~/.aws/credentials`) defines `profile`.
async fn check_profile_exists(profile: &str) -> Result<()> {
    use aws_runtime::env_config::file::EnvConfigFiles;
    use aws_types::os_shim_internal::{Env, Fs};
    let set =
        aws_config::profile::load(&Fs::real(), &Env::real(), &EnvConfigFiles::default(), None)
            .await
            .map_err(|e| {
                CliError::other(format!(
                    "reading the AWS config files: {}",
                    crate::one_line(&e)
                ))
            })?;
    if set.get_profile(profile).is_some() {
        return Ok(());
    }
    let known: Vec<&str> = set.profiles().collect();
    Err(CliError::other(format!(
        "no AWS profile named {profile} in the AWS config or credentials files ({}); `aws configure --profile {profile}` creates it",
        if known.is_empty() {
            "they define none".to_string()
        } else {
            format!("they define {}", known.join(", "))
        }
    )))
}

/// The account whose credentials `clients` carry (STS GetCallerIdentity), or an error of one
/// line saying why there are none usable.
pub async fn caller_account(clients: &Clients, profile: Option<&str>) -> Result<String> {
    let identity = clients.sts.get_caller_identity().send().await.map_err(|e| {
        CliError::other(format!(
            "no usable AWS credentials{}: {} (ferry uses the SDK's chain: --profile or AWS_PROFILE, AWS_ACCESS_KEY_ID, SSO, instance roles)",
            profile.map(|p| format!(" for profile {p}")).unwrap_or_default(),
            crate::one_line(&e)
        ))
    })?;
    Ok(identity.account().unwrap_or_default().to_string())
}

pub struct Target {
    pub clients: Clients,
    /// The account the commands act in (the destination account).
    pub account: String,
    pub region: String,
    pub state_machine_arn: String,
    pub sandbox: bool,
}

impl Target {
    /// AWS through the SDK's chain: `--profile` and `--region` when given, else the usual
    /// variables and files. The state machine is `--state-machine`, or `ferry` in the caller's
    /// account and Region (the template's fixed name), checked to exist.
    pub async fn aws(
        profile: Option<&str>,
        region: Option<&str>,
        state_machine: Option<&str>,
    ) -> Result<Target> {
        let config = aws_config(profile, region).await?;
        let Some(region) = config.region().map(|r| r.to_string()) else {
            return Err(CliError::other(
                "no AWS Region: pass --region, set AWS_REGION, or give the profile a region",
            ));
        };
        let clients = Clients::new(&config);
        let account = caller_account(&clients, profile).await?;
        let partition = ferry_core::names::partition(&region);
        let state_machine_arn = state_machine.map(str::to_string).unwrap_or_else(|| {
            format!("arn:{partition}:states:{region}:{account}:stateMachine:{STATE_MACHINE_NAME}")
        });
        let target = Target {
            clients,
            account,
            region,
            state_machine_arn,
            sandbox: false,
        };
        target.check_state_machine().await?;
        Ok(target)
    }

    /// The sandbox described by `info` (the destination account's credentials).
    pub fn sandbox(info: &SandboxDescription) -> Result<Target> {
        let missing = || CliError::other("the sandbox's description has no destination account");
        let account = info
            .accounts
            .get("destination")
            .ok_or_else(missing)?
            .clone();
        let config = info.config_for("destination").ok_or_else(missing)?;
        Ok(Target {
            clients: Clients::new(&config),
            account,
            region: info.region.clone(),
            state_machine_arn: info.state_machine_arn.clone(),
            sandbox: true,
        })
    }

    /// The sandbox whose description is `description` serialized (ferry-local's `SandboxInfo`,
    /// in the demo and the tests).
    pub fn sandbox_from(description: &impl serde::Serialize) -> Result<Target> {
        let value = serde_json::to_value(description)
            .map_err(|e| CliError::other(format!("a sandbox description: {e}")))?;
        let info: SandboxDescription = serde_json::from_value(value)
            .map_err(|e| CliError::other(format!("not a sandbox description: {e}")))?;
        Target::sandbox(&info)
    }

    /// The sandbox whose description `make sandbox` wrote to `path`.
    pub fn sandbox_file(path: &Path) -> Result<Target> {
        Target::sandbox(&SandboxDescription::read(path)?)
    }

    /// How often watch looks: the sandbox's jobs take seconds, AWS's minutes.
    pub fn poll_interval(&self) -> Duration {
        if self.sandbox {
            Duration::from_millis(500)
        } else {
            Duration::from_secs(5)
        }
    }

    /// Fails with a message naming the account and Region when the state machine is not there.
    pub async fn check_state_machine(&self) -> Result<()> {
        match self
            .clients
            .sfn
            .describe_state_machine()
            .state_machine_arn(&self.state_machine_arn)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_state_machine_does_not_exist()) =>
            {
                Err(CliError::other(format!(
                    "no ferry state machine {} in account {} (Region {}): deploy the destination stack there (`ferry deploy`, docs/src/deploy.md), use that account's credentials, or pass --state-machine",
                    self.state_machine_arn, self.account, self.region
                )))
            }
            Err(e) => Err(aws_error("DescribeStateMachine")(e)),
        }
    }
}
