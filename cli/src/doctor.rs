//! `ferry doctor`: read-only checks, in every account of a deployment, that the stacks exist and
//! agree with each other (each source stack lists the destination accounts that list it, and the
//! other way round; a destination lists the buckets of its sources), with the deployment file,
//! and with a request. What is checked is what the functions enforce: the lists each stack keeps
//! in its SSM parameters (`ferry-<side>-<region>-<list>`), which the template writes from its
//! parameters and every function reads at cold start.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use ferry_core::clients::Clients;
use ferry_core::parameters::{list_prefix, read_lists};
use ferry_core::request::{CopyRequest, Manifest};

use crate::deploy::{Deployment, Side};
use crate::target::STATE_MACHINE_NAME;
use crate::{CliError, Result};

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

/// One stack as deployed: its lists by template parameter name.
#[derive(Debug, Clone, Default)]
struct Deployed {
    lists: BTreeMap<&'static str, Vec<String>>,
}

impl Deployed {
    fn list(&self, parameter: &str) -> &[String] {
        self.lists.get(parameter).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// The template parameter each list parameter is written from.
const PARAMETER_OF: [(&str, &str); 6] = [
    ("source-account-ids", "SourceAccountIds"),
    ("source-buckets", "SourceBuckets"),
    ("destination-account-ids", "DestinationAccountIds"),
    ("destination-buckets", "DestinationBuckets"),
    ("manifest-buckets", "ManifestBuckets"),
    ("source-kms-key-arns", "SourceKmsKeyArns"),
];

/// The list every stack of a side has (a Rule of the template requires it): its parameter's
/// absence means there is no stack of that side.
fn required_list(side: Side) -> &'static str {
    match side {
        Side::Destination => "SourceAccountIds",
        Side::Source => "DestinationAccountIds",
    }
}

/// The findings: what holds, and what does not with what to change.
#[derive(Debug, Default)]
pub struct Findings {
    pub ok: Vec<String>,
    pub problems: Vec<String>,
}

impl Findings {
    pub fn render(&self) -> String {
        let mut out = String::new();
        for line in &self.ok {
            let _ = writeln!(out, "ok    {line}");
        }
        for line in &self.problems {
            let _ = writeln!(out, "FAIL  {line}");
        }
        if self.problems.is_empty() {
            let _ = writeln!(out, "the stacks agree ({} checks)", self.ok.len());
        } else {
            let _ = writeln!(
                out,
                "{} problem{} found ({} checks passed)",
                self.problems.len(),
                if self.problems.len() == 1 { "" } else { "s" },
                self.ok.len()
            );
        }
        out
    }

    /// 0 when every check holds, 1 when one does not.
    pub fn status(&self) -> i32 {
        i32::from(!self.problems.is_empty())
    }
}

/// Runs every check of `scope`. An AWS call that fails (no access, no network) is an error
/// (exit status 3), never a finding: doctor reports only what it could read.
pub async fn check(scope: &Scope<'_>) -> Result<Findings> {
    let mut f = Findings::default();
    let mut stacks: BTreeMap<(String, Side), Deployed> = BTreeMap::new();
    let region = &scope.region;
    let redeploy = |account: &str| match &scope.deployment {
        Some((_, path)) => format!("ferry deploy --config {path} --account {account}"),
        None => "update that stack's parameters".to_string(),
    };

    for account in &scope.accounts {
        for side in [Side::Destination, Side::Source] {
            let prefix = list_prefix(side.as_str(), region);
            let lists = read_lists(&account.clients.ssm, &prefix)
                .await
                .map_err(|e| CliError::other(format!("account {}: {e}", account.id)))?;
            let deployed = Deployed {
                lists: lists
                    .into_iter()
                    .filter_map(|(suffix, value)| {
                        let name = PARAMETER_OF.iter().find(|(s, _)| *s == suffix)?.1;
                        Some((name, split(&value)))
                    })
                    .collect(),
            };
            if deployed.lists.contains_key(required_list(side)) {
                f.ok.push(format!(
                    "{} stack in account {} (Region {region})",
                    side.as_str(),
                    account.id
                ));
                stacks.insert((account.id.clone(), side), deployed);
            } else if let Some((d, _)) = scope.deployment {
                if d.sides_of(&account.id).contains(&side) {
                    f.problems.push(format!(
                        "no {} stack in account {} (Region {region}): its parameter {prefix}{} is missing; deploy it: {}",
                        side.as_str(),
                        account.id,
                        suffix_of(required_list(side)),
                        redeploy(&account.id)
                    ));
                }
            }
        }
        if stacks.contains_key(&(account.id.clone(), Side::Destination)) {
            destination_resources(account, region, &mut f).await?;
        }
    }
    if stacks.is_empty() {
        f.problems.push(format!(
            "no ferry stack in any of the accounts checked ({}) in Region {region}: deploy them (docs/src/deploy.md), or check --region",
            scope.accounts.iter().map(|a| a.id.as_str()).collect::<Vec<_>>().join(", ")
        ));
        return Ok(f);
    }

    // The pairs that must agree: the file's, and every pair one side claims.
    let mut pairs: BTreeSet<(String, String)> = BTreeSet::new();
    if let Some((d, _)) = scope.deployment {
        for s in &d.source {
            for dst in &d.destination {
                pairs.insert((s.account.clone(), dst.account.clone()));
            }
        }
    }
    for ((account, side), deployed) in &stacks {
        match side {
            Side::Destination => {
                for s in deployed.list("SourceAccountIds") {
                    if stacks.contains_key(&(s.clone(), Side::Source)) {
                        pairs.insert((s.clone(), account.clone()));
                    }
                }
            }
            Side::Source => {
                for d in deployed.list("DestinationAccountIds") {
                    if stacks.contains_key(&(d.clone(), Side::Destination)) {
                        pairs.insert((account.clone(), d.clone()));
                    }
                }
            }
        }
    }
    for (s, d) in &pairs {
        let (Some(src), Some(dst)) = (
            stacks.get(&(s.clone(), Side::Source)),
            stacks.get(&(d.clone(), Side::Destination)),
        ) else {
            continue;
        };
        if dst.list("SourceAccountIds").contains(s) {
            f.ok.push(format!(
                "destination stack in {d} lists source account {s} (SourceAccountIds)"
            ));
        } else {
            f.problems.push(format!(
                "destination stack in account {d}: SourceAccountIds ({}) lacks source account {s}, whose source stack serves {d}: add {s} to SourceAccountIds ({})",
                shown(dst.list("SourceAccountIds")),
                redeploy(d)
            ));
        }
        if src.list("DestinationAccountIds").contains(d) {
            f.ok.push(format!(
                "source stack in {s} lists destination account {d} (DestinationAccountIds)"
            ));
        } else {
            f.problems.push(format!(
                "source stack in account {s}: DestinationAccountIds ({}) lacks destination account {d}, whose destination stack copies from {s}: add {d} to DestinationAccountIds ({})",
                shown(src.list("DestinationAccountIds")),
                redeploy(s)
            ));
        }
        let missing: Vec<&String> = src
            .list("SourceBuckets")
            .iter()
            .filter(|b| !dst.list("SourceBuckets").contains(b))
            .collect();
        if missing.is_empty() {
            f.ok.push(format!(
                "destination stack in {d} lists every bucket of source account {s} (SourceBuckets)"
            ));
        } else {
            f.problems.push(format!(
                "destination stack in account {d}: SourceBuckets lacks {} of source account {s}: add {} to SourceBuckets ({})",
                shown_refs(&missing),
                if missing.len() == 1 { "it" } else { "them" },
                redeploy(d)
            ));
        }
    }

    if let Some((d, path)) = &scope.deployment {
        against_file(d, path, &stacks, &mut f)?;
    }
    if let Some(req) = scope.request {
        against_request(req, &stacks, &mut f);
    }
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

/// Each stack of the file against what is deployed: every list the file derives.
fn against_file(
    d: &Deployment,
    path: &str,
    stacks: &BTreeMap<(String, Side), Deployed>,
    f: &mut Findings,
) -> Result<()> {
    for account in d.accounts() {
        for side in d.sides_of(&account) {
            let Some(deployed) = stacks.get(&(account.clone(), side)) else {
                continue;
            };
            let wanted = d.stack(&account, side)?;
            for (_, parameter) in PARAMETER_OF {
                let want: BTreeSet<String> = wanted
                    .parameters
                    .get(parameter)
                    .map(|v| split(v).into_iter().collect())
                    .unwrap_or_default();
                let have: BTreeSet<String> = deployed.list(parameter).iter().cloned().collect();
                if want == have {
                    continue;
                }
                f.problems.push(format!(
                    "{} stack in account {account}: {parameter} is {}; the deployment file says {}: ferry deploy --config {path} --account {account}",
                    side.as_str(),
                    shown(&have.into_iter().collect::<Vec<_>>()),
                    shown(&want.into_iter().collect::<Vec<_>>()),
                ));
            }
        }
    }
    Ok(())
}

/// A request against the stacks that will run it.
fn against_request(
    req: &CopyRequest,
    stacks: &BTreeMap<(String, Side), Deployed>,
    f: &mut Findings,
) {
    let s = &req.source.account_id;
    let d = &req.destination.account_id;
    let (Some(src), Some(dst)) = (
        stacks.get(&(s.clone(), Side::Source)),
        stacks.get(&(d.clone(), Side::Destination)),
    ) else {
        f.problems.push(format!(
            "the request {} copies from account {s} into account {d}: {}",
            req.copy_id,
            match (
                stacks.contains_key(&(s.clone(), Side::Source)),
                stacks.contains_key(&(d.clone(), Side::Destination))
            ) {
                (false, false) => format!(
                    "neither a source stack in {s} nor a destination stack in {d} was found"
                ),
                (false, true) => format!("no source stack was found in {s}"),
                _ => format!("no destination stack was found in {d}"),
            }
        ));
        return;
    };
    let mut need = |ok: bool, what: String| {
        if ok {
            f.ok.push(format!("request {}: {what}", req.copy_id));
        } else {
            f.problems.push(format!(
                "request {}: {what}: not listed, add it",
                req.copy_id
            ));
        }
    };
    let bucket = &req.source.bucket;
    need(
        src.list("SourceBuckets").contains(bucket),
        format!("source bucket {bucket} in the SourceBuckets of the source stack in {s}"),
    );
    need(
        dst.list("SourceBuckets").contains(bucket),
        format!("source bucket {bucket} in the SourceBuckets of the destination stack in {d}"),
    );
    let bucket = &req.destination.bucket;
    need(
        dst.list("DestinationBuckets").contains(bucket),
        format!(
            "destination bucket {bucket} in the DestinationBuckets of the destination stack in {d}"
        ),
    );
    if let Manifest::Csv {
        account_id, bucket, ..
    } = &req.manifest
    {
        if account_id == s {
            need(
                src.list("SourceBuckets").contains(bucket)
                    && dst.list("SourceBuckets").contains(bucket),
                format!("manifest bucket {bucket} in the SourceBuckets of both stacks"),
            );
        } else {
            need(
                dst.list("ManifestBuckets").contains(bucket),
                format!("manifest bucket {bucket} in the ManifestBuckets of the destination stack in {d}"),
            );
        }
    }
}

fn split(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn suffix_of(parameter: &str) -> &'static str {
    PARAMETER_OF
        .iter()
        .find(|(_, p)| *p == parameter)
        .map(|(s, _)| *s)
        .unwrap_or("")
}

fn shown(items: &[String]) -> String {
    if items.is_empty() {
        "empty".to_string()
    } else {
        items.join(",")
    }
}

fn shown_refs(items: &[&String]) -> String {
    items
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ")
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
        let Some(c) = info.credentials.get(side) else {
            continue;
        };
        if !seen.insert(id.clone()) {
            continue;
        }
        let config = ferry_core::clients::static_session_config(
            &info.endpoint,
            &info.region,
            &c.access_key_id,
            &c.secret_access_key,
            &c.session_token,
        );
        out.push(Account {
            id: id.clone(),
            clients: Clients::new(&config),
        });
    }
    out
}
