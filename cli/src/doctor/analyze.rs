//! What `ferry doctor` concludes from the stacks it read (no AWS call here): which exist, whether
//! each pair agrees, whether they are what the deployment file says, whether they admit a request.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use ferry_core::parameters::{list_prefix, StackList, LISTS};
use ferry_core::request::{CopyRequest, Manifest};

use crate::deploy::{Deployment, Side};

/// One stack as deployed: its lists by template parameter name.
#[derive(Debug, Clone, Default)]
pub struct Deployed {
    pub lists: BTreeMap<&'static str, Vec<String>>,
}

impl Deployed {
    fn list(&self, parameter: &str) -> &[String] {
        self.lists.get(parameter).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// The list every stack of a side has (a Rule of the template requires it): its parameter's
/// absence means there is no stack of that side.
pub(super) fn required_list(side: Side) -> &'static StackList {
    let parameter = match side {
        Side::Destination => "SourceAccountIds",
        Side::Source => "DestinationAccountIds",
    };
    StackList::of_parameter(parameter).expect("a list the template keeps")
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

/// The stacks found, by account and side: each one's lists by template parameter name.
pub type Stacks = BTreeMap<(String, Side), Deployed>;

/// Everything doctor concludes from the stacks it found (no AWS call): which exist, whether each
/// pair agrees, whether they are what the deployment file says, whether they admit the request.
pub fn analyze(
    region: &str,
    accounts: &[String],
    stacks: &Stacks,
    deployment: Option<(&Deployment, &str)>,
    request: Option<&CopyRequest>,
    f: &mut Findings,
) {
    let redeploy = |account: &str, side: Side| match deployment {
        Some((d, path)) => d.deploy_command(path, account, side),
        None => "update that stack's parameters".to_string(),
    };
    for (account, side) in stacks.keys() {
        f.ok.push(format!(
            "{} stack in account {account} (Region {region})",
            side.as_str()
        ));
    }
    if let Some((d, _)) = deployment {
        for account in d.accounts() {
            for side in d.sides_of(&account) {
                if !stacks.contains_key(&(account.clone(), side)) {
                    f.problems.push(format!(
                        "no {} stack in account {account} (Region {region}): its parameter {}{} is missing; deploy it: {}",
                        side.as_str(),
                        list_prefix(side.as_str(), region),
                        required_list(side).suffix,
                        redeploy(&account, side)
                    ));
                }
            }
        }
    }
    if stacks.is_empty() {
        f.problems.push(format!(
            "no ferry stack in any of the accounts checked ({}) in Region {region}: deploy them (docs/src/deploy.md), or check --region",
            accounts.join(", ")
        ));
        return;
    }

    // The pairs that must agree: the file's, and every pair one side claims where the other
    // side's stack exists. A copy within one account is refused, so an account is never paired
    // with itself.
    let mut pairs: BTreeSet<(String, String)> = BTreeSet::new();
    if let Some((d, _)) = deployment {
        pairs.extend(d.pairs());
    }
    for ((account, side), deployed) in stacks {
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
    pairs.retain(|(s, d)| s != d);
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
                redeploy(d, Side::Destination)
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
                redeploy(s, Side::Source)
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
                redeploy(d, Side::Destination)
            ));
        }
    }

    if let Some((d, path)) = deployment {
        against_file(d, path, stacks, f);
    }
    if let Some(req) = request {
        against_request(req, stacks, f);
    }
}

/// Each stack of the file against what is deployed: every list the file derives.
fn against_file(d: &Deployment, path: &str, stacks: &Stacks, f: &mut Findings) {
    for account in d.accounts() {
        for side in d.sides_of(&account) {
            let (Some(deployed), Ok(wanted)) = (
                stacks.get(&(account.clone(), side)),
                d.stack(&account, side),
            ) else {
                continue;
            };
            let mut agrees = true;
            for parameter in LISTS.iter().map(|l| l.parameter) {
                let want: BTreeSet<String> = wanted
                    .parameters
                    .get(parameter)
                    .map(|v| split(v).into_iter().collect())
                    .unwrap_or_default();
                let have: BTreeSet<String> = deployed.list(parameter).iter().cloned().collect();
                if want == have {
                    continue;
                }
                agrees = false;
                f.problems.push(format!(
                    "{} stack in account {account}: {parameter} is {}; the deployment file says {}: {}",
                    side.as_str(),
                    shown(&have.into_iter().collect::<Vec<_>>()),
                    shown(&want.into_iter().collect::<Vec<_>>()),
                    d.deploy_command(path, &account, side)
                ));
            }
            if agrees {
                f.ok.push(format!(
                    "{} stack in {account} is what {path} says",
                    side.as_str()
                ));
            }
        }
    }
}

/// A request against the stacks that will run it.
fn against_request(req: &CopyRequest, stacks: &Stacks, f: &mut Findings) {
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

pub(super) fn split(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The stacks `ferry deploy` makes from `d`, as doctor reads them back.
    pub(crate) fn deployed(d: &Deployment) -> Stacks {
        let mut stacks = Stacks::new();
        for account in d.accounts() {
            for side in d.sides_of(&account) {
                let stack = d.stack(&account, side).unwrap();
                let lists = LISTS
                    .iter()
                    .filter_map(|l| Some((l.parameter, split(stack.parameters.get(l.parameter)?))))
                    .collect();
                stacks.insert((account.clone(), side), Deployed { lists });
            }
        }
        stacks
    }

    fn analyze_with(
        d: &Deployment,
        stacks: &Stacks,
        file: bool,
        request: Option<&CopyRequest>,
    ) -> Findings {
        let mut f = Findings::default();
        let accounts: Vec<String> = d.accounts().into_iter().collect();
        analyze(
            "eu-west-1",
            &accounts,
            stacks,
            file.then_some((d, "ferry.toml")),
            request,
            &mut f,
        );
        f
    }

    /// Doctor on the stacks the file `d` deploys, checked against that file.
    pub(crate) fn analyze_deployed(d: &Deployment) -> Findings {
        analyze_with(d, &deployed(d), true, None)
    }

    /// The sandbox's four stacks as a deployment file (the same file cli/tests/cli.rs checks
    /// the sandbox's deployed stacks against).
    const SANDBOX: &str = include_str!("../../tests/fixtures/sandbox-deployment.toml");

    fn set(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_file_derives_the_sandboxs_own_stacks() {
        let d = Deployment::parse(SANDBOX).unwrap();
        let stacks = deployed(&d);
        let list = |account: &str, side: Side, p: &str| {
            let mut l = stacks[&(account.to_string(), side)].list(p).to_vec();
            l.sort();
            l
        };
        // template.py's STACKS, list by list.
        assert_eq!(
            list("222222222222", Side::Destination, "SourceAccountIds"),
            set(&["111111111111", "333333333333"])
        );
        assert_eq!(
            list("222222222222", Side::Destination, "SourceBuckets"),
            set(&["src-ledger", "src-manifests", "src-photos"])
        );
        assert_eq!(
            list("111111111111", Side::Source, "DestinationAccountIds"),
            set(&["222222222222", "333333333333"])
        );
        // The account of both sides never lists itself.
        assert_eq!(
            list("333333333333", Side::Source, "DestinationAccountIds"),
            set(&["222222222222"])
        );
        assert_eq!(
            list("333333333333", Side::Destination, "SourceAccountIds"),
            set(&["111111111111"])
        );
        assert_eq!(
            list("333333333333", Side::Destination, "SourceBuckets"),
            set(&["src-manifests", "src-photos"])
        );
        let f = analyze_deployed(&d);
        assert!(f.problems.is_empty(), "{:?}", f.problems);
        // Three pairs, three checks each, four stacks found, four stacks as the file says.
        assert_eq!(f.ok.len(), 3 * 3 + 4 + 4, "{:?}", f.ok);
    }

    #[test]
    fn a_source_that_drops_a_destination_is_named_with_the_command_that_fixes_it() {
        let d = Deployment::parse(SANDBOX).unwrap();
        let mut stacks = deployed(&d);
        stacks
            .get_mut(&("333333333333".to_string(), Side::Source))
            .unwrap()
            .lists
            .insert("DestinationAccountIds", set(&["444444444444"]));
        let f = analyze_with(&d, &stacks, true, None);
        assert_eq!(f.status(), 1);
        assert!(f.problems.contains(&"source stack in account 333333333333: DestinationAccountIds (444444444444) lacks destination account 222222222222, whose destination stack copies from 333333333333: add 222222222222 to DestinationAccountIds (ferry deploy --config ferry.toml --account 333333333333 --side source)".to_string()), "{:?}", f.problems);
        assert!(f.problems.contains(&"source stack in account 333333333333: DestinationAccountIds is 444444444444; the deployment file says 222222222222: ferry deploy --config ferry.toml --account 333333333333 --side source".to_string()), "{:?}", f.problems);
        assert_eq!(f.problems.len(), 2, "{:?}", f.problems);
        // Without the file, the destination's claim alone pairs them.
        let f = analyze_with(&d, &stacks, false, None);
        assert_eq!(f.problems.len(), 1, "{:?}", f.problems);
        assert!(
            f.problems[0].contains("update that stack's parameters"),
            "{:?}",
            f.problems
        );
    }

    #[test]
    fn a_missing_stack_a_missing_bucket_and_an_unlisted_source_are_named() {
        let d = Deployment::parse(SANDBOX).unwrap();
        let mut stacks = deployed(&d);
        stacks.remove(&("111111111111".to_string(), Side::Source));
        stacks
            .get_mut(&("222222222222".to_string(), Side::Destination))
            .unwrap()
            .lists
            .insert("SourceBuckets", set(&["src-photos", "src-manifests"]));
        let f = analyze_with(&d, &stacks, true, None);
        for expected in [
            "no source stack in account 111111111111 (Region eu-west-1): its parameter ferry-source-eu-west-1-destination-account-ids is missing; deploy it: ferry deploy --config ferry.toml --account 111111111111",
            "destination stack in account 222222222222: SourceBuckets lacks src-ledger of source account 333333333333: add it to SourceBuckets (ferry deploy --config ferry.toml --account 222222222222)",
        ] {
            assert!(f.problems.iter().any(|p| p == expected), "{expected}\nin {:?}", f.problems);
        }
        // No stack at all: said once, with the accounts looked at.
        let f = analyze_with(&d, &Stacks::new(), false, None);
        assert_eq!(f.problems.len(), 1, "{:?}", f.problems);
        assert!(f.problems[0].starts_with("no ferry stack in any of the accounts checked (111111111111, 222222222222, 333333333333)"), "{:?}", f.problems);
    }

    #[test]
    fn a_request_the_stacks_do_not_admit_is_named() {
        let d = Deployment::parse(SANDBOX).unwrap();
        let stacks = deployed(&d);
        let request = |source_bucket: &str, manifest_bucket: &str| {
            CopyRequest::from_value(&serde_json::json!({
                "copyId": "photos-2026", "region": "eu-west-1",
                "source": {"accountId": "333333333333", "bucket": source_bucket},
                "destination": {"accountId": "222222222222", "bucket": "dst-photos"},
                "manifest": {"kind": "csv", "accountId": "222222222222", "bucket": manifest_bucket, "key": "m.csv"}
            }))
            .unwrap()
        };
        let f = analyze_with(
            &d,
            &stacks,
            false,
            Some(&request("src-ledger", "dst-manifests")),
        );
        assert!(f.problems.is_empty(), "{:?}", f.problems);
        let f = analyze_with(
            &d,
            &stacks,
            false,
            Some(&request("src-photos", "dst-photos")),
        );
        assert_eq!(f.problems, [
            "request photos-2026: source bucket src-photos in the SourceBuckets of the source stack in 333333333333: not listed, add it",
            "request photos-2026: manifest bucket dst-photos in the ManifestBuckets of the destination stack in 222222222222: not listed, add it",
        ]);
    }
}
