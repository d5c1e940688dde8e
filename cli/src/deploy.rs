//! `ferry deploy`: one account's stack deployed with `sam deploy`, its parameters derived from
//! the deployment file the operator keeps, so that the stacks of every account agree with each
//! other: each source stack lists the destination accounts it serves, each destination stack the
//! source accounts that serve it and the union of their buckets.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use ferry_core::parameters::StackList;
use serde::Deserialize;

use crate::{CliError, Result};

/// The stacks' names when a table gives none: `ferry-destination` and `ferry-source`, the same
/// whatever else the account holds, so that adding the other side to an account never renames
/// its stack.
pub const STACK_NAME_PREFIX: &str = "ferry";

/// Whether `ferry deploy` derives template parameter `key` from the file's accounts (`Side`, and
/// every list a stack keeps): a `parameters` table may not set it, since a value there could make
/// the stacks disagree.
pub fn is_derived(key: &str) -> bool {
    key == "Side" || StackList::of_parameter(key).is_some()
}

/// The deployment file (TOML; `ferry init --deployment` writes one to start from).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deployment {
    pub region: String,
    #[serde(default)]
    pub destination: Vec<DestinationAccount>,
    #[serde(default)]
    pub source: Vec<SourceAccount>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DestinationAccount {
    pub account: String,
    #[serde(default)]
    pub profile: Option<String>,
    /// The stack's name (default `ferry-destination`): give the name of a stack deployed
    /// before under another.
    #[serde(default)]
    pub stack_name: Option<String>,
    /// DestinationBuckets.
    pub buckets: Vec<String>,
    /// ManifestBuckets.
    #[serde(default)]
    pub manifest_buckets: Vec<String>,
    #[serde(default)]
    pub parameters: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceAccount {
    pub account: String,
    #[serde(default)]
    pub profile: Option<String>,
    /// The stack's name (default `ferry-source`).
    #[serde(default)]
    pub stack_name: Option<String>,
    /// The destination accounts this source serves (default: every destination of the file).
    #[serde(default)]
    pub destinations: Option<Vec<String>>,
    /// SourceBuckets: copied from, or keeping CSV manifests.
    pub buckets: Vec<String>,
    /// SourceKmsKeyArns.
    #[serde(default)]
    pub kms_key_arns: Vec<String>,
    #[serde(default)]
    pub parameters: BTreeMap<String, String>,
}

/// A side of the template (its `Side` parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Side {
    Destination,
    Source,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Destination => "destination",
            Side::Source => "source",
        }
    }
}

/// One stack to deploy: where, under which name, with which parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackDeployment {
    pub account: String,
    pub side: Side,
    pub stack_name: String,
    pub region: String,
    pub profile: Option<String>,
    pub parameters: BTreeMap<String, String>,
}

impl Deployment {
    /// Parses and checks a deployment file's text: every rule it breaks, one line each.
    pub fn parse(text: &str) -> Result<Deployment> {
        let d: Deployment = toml::from_str(text)
            .map_err(|e| CliError::invalid(format!("the deployment file: {e}")))?;
        let problems = d.problems();
        if !problems.is_empty() {
            return Err(CliError::invalid(format!(
                "the deployment file breaks {} rule{}:\n{}",
                problems.len(),
                if problems.len() == 1 { "" } else { "s" },
                problems
                    .iter()
                    .map(|p| format!("  - {p}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            )));
        }
        Ok(d)
    }

    pub fn read(path: &Path) -> Result<Deployment> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            CliError::invalid(format!(
                "cannot read the deployment file {}: {e} (`ferry init --deployment` writes one)",
                path.display()
            ))
        })?;
        Deployment::parse(&text)
            .map_err(|e| CliError::invalid(format!("{}: {}", path.display(), e.message)))
    }

    fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.region.trim().is_empty() {
            out.push("region: is empty; name the Region of every stack".to_string());
        }
        if self.destination.is_empty() {
            out.push("[[destination]]: none; a copy needs at least one destination account".into());
        }
        if self.source.is_empty() {
            out.push("[[source]]: none; a copy needs at least one source account".into());
        }
        let mut seen = BTreeSet::new();
        for (i, d) in self.destination.iter().enumerate() {
            let at = format!("destination[{i}]");
            account_problems(&at, &d.account, &mut out);
            if !seen.insert(("destination", d.account.clone())) {
                out.push(format!("{at}.account: {} is listed twice", d.account));
            }
            if d.buckets.is_empty() {
                out.push(format!(
                    "{at}.buckets: empty; list the buckets copies may write to (DestinationBuckets)"
                ));
            }
            list_problems(&format!("{at}.buckets"), &d.buckets, &mut out);
            list_problems(
                &format!("{at}.manifest_buckets"),
                &d.manifest_buckets,
                &mut out,
            );
            parameter_problems(&at, &d.parameters, &mut out);
            if !self.source.is_empty() && self.sources_of(&d.account).is_empty() {
                out.push(format!(
                    "{at}: no [[source]] account serves {} (a copy within one account is refused)",
                    d.account
                ));
            }
        }
        let destinations: BTreeSet<&String> = self.destination.iter().map(|d| &d.account).collect();
        for (i, s) in self.source.iter().enumerate() {
            let at = format!("source[{i}]");
            account_problems(&at, &s.account, &mut out);
            if !seen.insert(("source", s.account.clone())) {
                out.push(format!("{at}.account: {} is listed twice", s.account));
            }
            if s.buckets.is_empty() {
                out.push(format!(
                    "{at}.buckets: empty; list the buckets copied from (SourceBuckets)"
                ));
            }
            list_problems(&format!("{at}.buckets"), &s.buckets, &mut out);
            list_problems(&format!("{at}.kms_key_arns"), &s.kms_key_arns, &mut out);
            parameter_problems(&at, &s.parameters, &mut out);
            for d in s.destinations.iter().flatten() {
                if !destinations.contains(d) {
                    out.push(format!(
                        "{at}.destinations: {d} is no [[destination]] account of the file"
                    ));
                }
            }
            if !self.destination.is_empty() && self.served_by(&s.account).is_empty() {
                out.push(format!(
                    "{at}: serves no destination account but its own (a copy within one account is refused)"
                ));
            }
        }
        out
    }

    /// The destination accounts `source` serves: its `destinations`, else every destination of
    /// the file; never itself (a copy within one account is refused, so an account holding a
    /// stack of each side does not list its own account).
    pub fn served_by(&self, source: &str) -> Vec<String> {
        let Some(s) = self.source.iter().find(|s| s.account == source) else {
            return Vec::new();
        };
        self.destination
            .iter()
            .map(|d| d.account.clone())
            .filter(|d| d != source)
            .filter(|d| s.destinations.as_ref().is_none_or(|list| list.contains(d)))
            .collect()
    }

    /// The source accounts that serve `destination`.
    pub fn sources_of(&self, destination: &str) -> Vec<&SourceAccount> {
        self.source
            .iter()
            .filter(|s| self.served_by(&s.account).iter().any(|d| d == destination))
            .collect()
    }

    /// Every (source, destination) pair of the file: the stacks that must agree.
    pub fn pairs(&self) -> Vec<(String, String)> {
        self.source
            .iter()
            .flat_map(|s| {
                self.served_by(&s.account)
                    .into_iter()
                    .map(move |d| (s.account.clone(), d))
            })
            .collect()
    }

    /// The sides the file deploys in `account`.
    pub fn sides_of(&self, account: &str) -> Vec<Side> {
        let mut sides = Vec::new();
        if self.destination.iter().any(|d| d.account == account) {
            sides.push(Side::Destination);
        }
        if self.source.iter().any(|s| s.account == account) {
            sides.push(Side::Source);
        }
        sides
    }

    /// Every account of the file, each once.
    pub fn accounts(&self) -> BTreeSet<String> {
        self.destination
            .iter()
            .map(|d| d.account.clone())
            .chain(self.source.iter().map(|s| s.account.clone()))
            .collect()
    }

    /// The profile the file gives `account` (the destination's where it has both).
    pub fn profile_of(&self, account: &str) -> Option<String> {
        self.destination
            .iter()
            .find(|d| d.account == account)
            .and_then(|d| d.profile.clone())
            .or_else(|| {
                self.source
                    .iter()
                    .find(|s| s.account == account)
                    .and_then(|s| s.profile.clone())
            })
    }

    /// The `ferry deploy` command that deploys the `side` stack of `account` from the file at
    /// `path`: `--side` where the account holds both.
    pub fn deploy_command(&self, path: &str, account: &str, side: Side) -> String {
        let mut command = format!("ferry deploy --config {path} --account {account}");
        if self.sides_of(account).len() == 2 {
            command.push_str(&format!(" --side {}", side.as_str()));
        }
        command
    }

    /// The stack of `account` and `side`: its name (the table's `stack_name`, else
    /// `ferry-<side>`) and every parameter.
    pub fn stack(&self, account: &str, side: Side) -> Result<StackDeployment> {
        let default_name = format!("{STACK_NAME_PREFIX}-{}", side.as_str());
        let mut parameters = BTreeMap::new();
        parameters.insert("Side".to_string(), side.as_str().to_string());
        let (profile, stack_name);
        match side {
            Side::Destination => {
                let d = self
                    .destination
                    .iter()
                    .find(|d| d.account == account)
                    .ok_or_else(|| not_listed(account, side))?;
                profile = d.profile.clone();
                stack_name = d.stack_name.clone().unwrap_or(default_name);
                let serving = self.sources_of(account);
                let sources: Vec<String> = serving.iter().map(|s| s.account.clone()).collect();
                let buckets: BTreeSet<String> = serving
                    .iter()
                    .flat_map(|s| s.buckets.iter().cloned())
                    .collect();
                parameters.insert("SourceAccountIds".into(), sources.join(","));
                parameters.insert("SourceBuckets".into(), join(buckets));
                parameters.insert("DestinationBuckets".into(), d.buckets.join(","));
                if !d.manifest_buckets.is_empty() {
                    parameters.insert("ManifestBuckets".into(), d.manifest_buckets.join(","));
                }
                parameters.extend(d.parameters.clone());
            }
            Side::Source => {
                let s = self
                    .source
                    .iter()
                    .find(|s| s.account == account)
                    .ok_or_else(|| not_listed(account, side))?;
                profile = s.profile.clone();
                stack_name = s.stack_name.clone().unwrap_or(default_name);
                parameters.insert(
                    "DestinationAccountIds".into(),
                    self.served_by(account).join(","),
                );
                parameters.insert("SourceBuckets".into(), s.buckets.join(","));
                if !s.kms_key_arns.is_empty() {
                    parameters.insert("SourceKmsKeyArns".into(), s.kms_key_arns.join(","));
                }
                parameters.extend(s.parameters.clone());
            }
        }
        Ok(StackDeployment {
            account: account.to_string(),
            side,
            stack_name,
            region: self.region.clone(),
            profile,
            parameters,
        })
    }

    /// The stack `ferry deploy --account` deploys: the account's one side, or the side named
    /// where it holds both.
    pub fn stack_to_deploy(&self, account: &str, side: Option<Side>) -> Result<StackDeployment> {
        let sides = self.sides_of(account);
        match (sides.as_slice(), side) {
            ([], _) => Err(CliError::invalid(format!(
                "account {account} is in no [[destination]] or [[source]] of the deployment file; add it there first"
            ))),
            (_, Some(side)) if sides.contains(&side) => self.stack(account, side),
            (_, Some(side)) => Err(not_listed(account, side)),
            ([only], None) => self.stack(account, *only),
            (_, None) => Err(CliError::invalid(format!(
                "account {account} holds both a destination and a source stack: pass --side destination or --side source"
            ))),
        }
    }
}

impl StackDeployment {
    /// The `sam deploy` command line, as arguments (no shell in between).
    pub fn sam_args(&self) -> Vec<String> {
        let mut args: Vec<String> = [
            "deploy",
            "--stack-name",
            &self.stack_name,
            "--region",
            &self.region,
            "--resolve-s3",
            "--capabilities",
            "CAPABILITY_NAMED_IAM",
            "--no-fail-on-empty-changeset",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if let Some(p) = &self.profile {
            args.push("--profile".into());
            args.push(p.clone());
        }
        args.push("--parameter-overrides".into());
        args.extend(self.parameters.iter().map(|(k, v)| format!("{k}={v}")));
        args
    }

    /// The command as one line a shell takes back: each argument quoted where it needs it.
    pub fn sam_command_line(&self) -> String {
        std::iter::once("sam".to_string())
            .chain(self.sam_args().iter().map(|a| shell_quote(a)))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Deploys (or, with `dry_run`, prints) the stack of `account`. Before deploying: credentials of
/// that very account, and the template built by `sam build` in the repository.
pub async fn run(config: &Path, account: &str, side: Option<Side>, dry_run: bool) -> Result<i32> {
    let deployment = Deployment::read(config)?;
    let stack = deployment.stack_to_deploy(account, side)?;
    println!(
        "# the {} stack {} in account {} (Region {})",
        stack.side.as_str(),
        stack.stack_name,
        stack.account,
        stack.region
    );
    println!("{}", stack.sam_command_line());
    if dry_run {
        return Ok(0);
    }
    let sdk = crate::target::aws_config(stack.profile.as_deref(), Some(&stack.region)).await?;
    let clients = ferry_core::clients::Clients::new(&sdk);
    let caller = crate::target::caller_account(&clients, stack.profile.as_deref()).await?;
    if caller != stack.account {
        return Err(CliError::invalid(format!(
            "the credentials for account {} ({}) are of account {caller}: nothing deployed; give that account's profile in the deployment file",
            stack.account,
            stack
                .profile
                .as_deref()
                .map(|p| format!("profile {p}"))
                .unwrap_or("the default chain".into())
        )));
    }
    let repository = crate::repository()?;
    let built = repository.join(".aws-sam/build/template.yaml");
    if !built.is_file() {
        return Err(CliError::other(format!(
            "no {}: run `sam build --beta-features` in {} first (docs/src/deploy.md)",
            built.display(),
            repository.display()
        )));
    }
    let status = std::process::Command::new("sam")
        .current_dir(&repository)
        .args(stack.sam_args())
        .status()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                CliError::other("sam: not found; install the AWS SAM CLI (docs/src/deploy.md)")
            }
            _ => CliError::other(format!("cannot run sam: {e}")),
        })?;
    if status.success() {
        println!(
            "deployed; check that the stacks agree with: ferry doctor --config {}",
            config.display()
        );
        Ok(0)
    } else {
        Err(CliError::other(format!(
            "sam deploy failed ({status}); its output above says why"
        )))
    }
}

fn not_listed(account: &str, side: Side) -> CliError {
    CliError::invalid(format!(
        "account {account} is in no [[{}]] of the deployment file",
        side.as_str()
    ))
}

fn join(items: BTreeSet<String>) -> String {
    items.into_iter().collect::<Vec<_>>().join(",")
}

fn account_problems(at: &str, account: &str, out: &mut Vec<String>) {
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        out.push(format!(
            "{at}.account: {account:?} is not an AWS account id (12 digits, as a string)"
        ));
    }
}

fn list_problems(at: &str, items: &[String], out: &mut Vec<String>) {
    let mut seen = BTreeSet::new();
    for item in items {
        if item.trim().is_empty() || item.contains(',') {
            out.push(format!(
                "{at}: {item:?} is not a name (empty, or with a comma, which would split it in the template's list)"
            ));
        } else if !seen.insert(item) {
            out.push(format!("{at}: {item} is listed twice"));
        }
    }
}

fn parameter_problems(at: &str, parameters: &BTreeMap<String, String>, out: &mut Vec<String>) {
    for key in parameters.keys() {
        if is_derived(key) {
            out.push(format!(
                "{at}.parameters.{key}: ferry deploy sets {key} from the file's accounts and buckets, so that the stacks agree; edit those instead"
            ));
        }
    }
}

fn shell_quote(arg: &str) -> String {
    let plain = arg
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_=,./:@+".contains(&b));
    if plain && !arg.is_empty() {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO_SOURCES_TWO_DESTINATIONS: &str = r#"
region = "eu-west-1"
[[destination]]
account = "222222222222"
profile = "dest"
buckets = ["dst-photos"]
[[destination]]
account = "333333333333"
buckets = ["dst-archive"]
manifest_buckets = ["dst-lists"]
parameters = { RetentionDays = "90" }
[[source]]
account = "111111111111"
profile = "src"
buckets = ["src-photos", "src-manifests"]
kms_key_arns = ["arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"]
[[source]]
account = "333333333333"
buckets = ["src-ledger"]
"#;

    #[test]
    fn every_stack_lists_the_accounts_of_the_other_side() {
        let d = Deployment::parse(TWO_SOURCES_TWO_DESTINATIONS).unwrap();
        let dst = d.stack("222222222222", Side::Destination).unwrap();
        assert_eq!(dst.stack_name, "ferry-destination");
        assert_eq!(
            dst.parameters["SourceAccountIds"],
            "111111111111,333333333333"
        );
        assert_eq!(
            dst.parameters["SourceBuckets"],
            "src-ledger,src-manifests,src-photos"
        );
        assert_eq!(dst.parameters["DestinationBuckets"], "dst-photos");
        assert!(!dst.parameters.contains_key("ManifestBuckets"));
        let src = d.stack("111111111111", Side::Source).unwrap();
        assert_eq!(
            src.parameters["DestinationAccountIds"],
            "222222222222,333333333333"
        );
        assert_eq!(src.parameters["SourceBuckets"], "src-photos,src-manifests");
        assert!(src.parameters["SourceKmsKeyArns"].starts_with("arn:aws:kms:"));
        // The account holding both sides: two stacks, each named after its side, and neither
        // lists its own account (a copy within one account is refused).
        let both_d = d.stack("333333333333", Side::Destination).unwrap();
        let both_s = d.stack("333333333333", Side::Source).unwrap();
        assert_eq!(both_d.stack_name, "ferry-destination");
        assert_eq!(both_s.stack_name, "ferry-source");
        assert_eq!(both_d.parameters["SourceAccountIds"], "111111111111");
        assert_eq!(
            both_d.parameters["SourceBuckets"],
            "src-manifests,src-photos"
        );
        assert_eq!(both_s.parameters["DestinationAccountIds"], "222222222222");
        assert_eq!(both_d.parameters["RetentionDays"], "90");
        assert_eq!(both_d.parameters["ManifestBuckets"], "dst-lists");
        // A source may serve some destinations only; a stack deployed before keeps its name.
        let mut narrow = d.clone();
        narrow.source[0].destinations = Some(vec!["222222222222".into()]);
        narrow.destination[1].stack_name = Some("ferry".into());
        let src = narrow.stack("111111111111", Side::Source).unwrap();
        assert_eq!(src.parameters["DestinationAccountIds"], "222222222222");
        let dst3 = narrow.stack("333333333333", Side::Destination).unwrap();
        assert_eq!(dst3.stack_name, "ferry");
        // 333's destination stack is then served by no source: refused.
        let e = Deployment::parse(&format!("{TWO_SOURCES_TWO_DESTINATIONS}\n").replace(
            "profile = \"src\"",
            "profile = \"src\"\ndestinations = [\"222222222222\"]",
        ))
        .unwrap_err();
        assert!(
            e.message
                .contains("destination[1]: no [[source]] account serves 333333333333"),
            "{}",
            e.message
        );
    }

    #[test]
    fn the_sam_command_names_the_stack_region_profile_and_parameters() {
        let d = Deployment::parse(TWO_SOURCES_TWO_DESTINATIONS).unwrap();
        let src = d.stack_to_deploy("111111111111", None).unwrap();
        assert_eq!(
            src.sam_command_line(),
            "sam deploy --stack-name ferry-source --region eu-west-1 --resolve-s3 --capabilities CAPABILITY_NAMED_IAM --no-fail-on-empty-changeset --profile src --parameter-overrides DestinationAccountIds=222222222222,333333333333 Side=source SourceBuckets=src-photos,src-manifests SourceKmsKeyArns=arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"
        );
        let e = d.stack_to_deploy("333333333333", None).unwrap_err();
        assert!(e.message.contains("--side"), "{}", e.message);
        let e = d.stack_to_deploy("444444444444", None).unwrap_err();
        assert!(e.message.contains("444444444444 is in no"), "{}", e.message);
        assert_eq!(shell_quote("a b'c"), r"'a b'\''c'");
    }

    #[test]
    fn a_bad_file_is_refused_with_every_rule_it_breaks() {
        let e = Deployment::parse(
            r#"
region = ""
[[destination]]
account = "22222222222"
buckets = []
parameters = { SourceAccountIds = "1" }
[[source]]
account = "111111111111"
buckets = ["a", "a", "b,c"]
destinations = ["999999999999"]
"#,
        )
        .unwrap_err();
        assert_eq!(e.status, 2);
        for expected in [
            "breaks 9 rules",
            "source[0].destinations: 999999999999 is no [[destination]] account of the file",
            "source[0]: serves no destination account but its own",
            "destination[0]: no [[source]] account serves 22222222222",
            "region: is empty",
            "destination[0].account: \"22222222222\" is not an AWS account id",
            "destination[0].buckets: empty",
            "destination[0].parameters.SourceAccountIds: ferry deploy sets SourceAccountIds",
            "source[0].buckets: a is listed twice",
            "source[0].buckets: \"b,c\" is not a name",
        ] {
            assert!(
                e.message.contains(expected),
                "{expected:?} in {}",
                e.message
            );
        }
        let e = Deployment::parse("region = \"eu-west-1\"\ncolour = 1\n").unwrap_err();
        assert!(
            e.message.contains("unknown field `colour`"),
            "{}",
            e.message
        );
    }
}
