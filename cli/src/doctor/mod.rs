//! `ferry doctor`: read-only checks, in every account of a deployment, that the stacks exist and
//! agree with each other (each source stack lists the destination accounts that list it, and the
//! other way round; a destination lists the buckets of its sources), with the deployment file,
//! and with a request. What is checked is what the functions enforce: the lists each stack keeps
//! in its SSM parameters (`ferry-<side>-<region>-<list>`), which the template writes from its
//! parameters and every function reads at cold start.

pub(crate) mod analyze;

use std::collections::{BTreeMap, BTreeSet};

use ferry_core::clients::Clients;
use ferry_core::parameters::{list_prefix, read_lists};
use ferry_core::request::CopyRequest;

use crate::deploy::{Deployment, Side};
use crate::target::STATE_MACHINE_NAME;
use crate::{CliError, Result};
pub use analyze::{analyze, Deployed, Findings, Stacks};
use analyze::{required_list, split};

/// An account to look at, with clients under that account's credentials.
pub struct Account {
    pub id: String,
    pub clients: Clients,
}

/// What doctor is given: the accounts, their Region, and optionally the file and a request.
pub struct Scope<'a> {
    pub region: String,
    pub accounts: Vec<Account>,
    pub deployment: Option<(&'a Deployment, String)>,
    pub request: Option<&'a CopyRequest>,
}

/// Runs every check of `scope`. An AWS call that fails (no access, no network) is an error
/// (exit status 3), never a finding: doctor reports only what it could read.
pub async fn check(scope: &Scope<'_>) -> Result<Findings> {
    let mut f = Findings::default();
    let mut stacks: Stacks = BTreeMap::new();
    for account in &scope.accounts {
        for side in [Side::Destination, Side::Source] {
            let prefix = list_prefix(side.as_str(), &scope.region);
            let lists = read_lists(&account.clients.ssm, &prefix)
                .await
                .map_err(|e| {
                    crate::aws_error(&format!("account {}: GetParameters", account.id))(e)
                })?;
            let deployed = Deployed {
                lists: lists
                    .into_iter()
                    .map(|(list, value)| (list.parameter, split(&value)))
                    .collect(),
            };
            if deployed.lists.contains_key(required_list(side).parameter) {
                stacks.insert((account.id.clone(), side), deployed);
            }
        }
        if stacks.contains_key(&(account.id.clone(), Side::Destination)) {
            destination_resources(account, &scope.region, &mut f).await?;
        }
    }
    let accounts: Vec<String> = scope.accounts.iter().map(|a| a.id.clone()).collect();
    analyze(
        &scope.region,
        &accounts,
        &stacks,
        scope.deployment.as_ref().map(|(d, p)| (*d, p.as_str())),
        scope.request,
        &mut f,
    );
    Ok(f)
}

/// A destination stack's own resources: the ferry bucket and the state machine.
async fn destination_resources(account: &Account, region: &str, f: &mut Findings) -> Result<()> {
    let bucket = ferry_core::layout::ferry_bucket_name(&account.id, region);
    match account.clients.s3.head_bucket().bucket(&bucket).send().await {
        Ok(_) => f.ok.push(format!("ferry bucket {bucket} exists")),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => f.problems.push(format!(
            "destination stack in account {}: its ferry bucket {bucket} does not exist (deleted by hand?): update the stack so that CloudFormation creates it again",
            account.id
        )),
        Err(e) => return Err(crate::aws_error(&format!("HeadBucket {bucket}"))(e)),
    }
    let partition = ferry_core::names::partition(region);
    let arn = format!(
        "arn:{partition}:states:{region}:{}:stateMachine:{STATE_MACHINE_NAME}",
        account.id
    );
    match account
        .clients
        .sfn
        .describe_state_machine()
        .state_machine_arn(&arn)
        .send()
        .await
    {
        Ok(_) => f.ok.push(format!("state machine {arn} exists")),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_state_machine_does_not_exist()) =>
        {
            f.problems.push(format!(
                "destination stack in account {}: no state machine {arn}: update the stack",
                account.id
            ))
        }
        Err(e) => return Err(crate::aws_error("DescribeStateMachine")(e)),
    }
    Ok(())
}

/// `ferry doctor`: the accounts of the deployment file (each with its profile), or of the
/// sandbox; prints every finding and returns the exit status.
pub async fn run(
    config: Option<&std::path::Path>,
    request: Option<&std::path::Path>,
    region: Option<&str>,
    sandbox: Option<&std::path::Path>,
) -> Result<i32> {
    let deployment = config.map(Deployment::read).transpose()?;
    let request = request
        .map(|p| crate::plan::read_request(p).map(|(_, r)| r))
        .transpose()?;
    let (region, accounts) = match sandbox {
        Some(path) => {
            let info = crate::target::SandboxDescription::read(path)?;
            let region = region.map(str::to_string).unwrap_or(info.region.clone());
            (region, sandbox_accounts(&info))
        }
        None => {
            let Some(d) = &deployment else {
                return Err(CliError::invalid(
                    "ferry doctor needs --config FILE (the deployment file) or --sandbox",
                ));
            };
            let region = region.map(str::to_string).unwrap_or(d.region.clone());
            let mut accounts = Vec::new();
            for id in d.accounts() {
                let profile = d.profile_of(&id);
                let config = crate::target::aws_config(profile.as_deref(), Some(&region)).await?;
                let clients = Clients::new(&config);
                let caller = crate::target::caller_account(&clients, profile.as_deref()).await?;
                if caller != id {
                    return Err(CliError::invalid(format!(
                        "the credentials for account {id} ({}) are of account {caller}: give that account's profile in the deployment file",
                        profile.map(|p| format!("profile {p}")).unwrap_or("the default chain".into())
                    )));
                }
                accounts.push(Account { id, clients });
            }
            (region, accounts)
        }
    };
    let path = config.map(|p| p.display().to_string()).unwrap_or_default();
    let scope = Scope {
        region,
        accounts,
        deployment: deployment.as_ref().map(|d| (d, path)),
        request: request.as_ref(),
    };
    let findings = check(&scope).await?;
    print!("{}", findings.render());
    Ok(findings.status())
}

/// Every account of the sandbox, with its administrator's credentials.
pub fn sandbox_accounts(info: &crate::target::SandboxDescription) -> Vec<Account> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (side, id) in &info.accounts {
        let Some(config) = info.config_for(side) else {
            continue;
        };
        if !seen.insert(id.clone()) {
            continue;
        }
        out.push(Account {
            id: id.clone(),
            clients: Clients::new(&config),
        });
    }
    out
}
