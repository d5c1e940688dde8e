//! `ferry plan`: a copy request validated offline, and everything the copy will do.

use std::collections::BTreeMap;

use ferry_core::job::{CreateJobRequest, ManifestKind, ManifestLocation, SizeRoute};
use ferry_core::layout::Delivery;
use ferry_core::request::{CopyRequest, Existing, Flow, Manifest};
use ferry_core::stack::StackContext;
use ferry_core::steps::{PlanInput, RunPlan};
use ferry_core::{clock, inventory::InventoryConfig};
use serde::Serialize;
use serde_json::Value;

use crate::{CliError, Result};

/// Reads and parses a request file: exit status 2 with every violation when it breaks a rule.
/// Lines whose first non-blank characters are `//` are comments (`ferry init` writes them) and
/// are dropped before parsing; what is sent to the state machine is the JSON alone.
pub fn read_request(path: &std::path::Path) -> Result<(Value, CopyRequest)> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::invalid(format!("cannot read {}: {e}", path.display())))?;
    let raw: Value = serde_json::from_str(&without_comment_lines(&text))
        .map_err(|e| CliError::invalid(format!("{} is not JSON: {e}", path.display())))?;
    let request = CopyRequest::from_value(&raw).map_err(|v| CliError::invalid(v.to_string()))?;
    Ok((raw, request))
}

/// A request file without its comment lines, each replaced by an empty line so that a JSON
/// error's line number is the file's. A JSON string cannot span lines, so a line that starts
/// with `//` is never inside one: only whole-line comments are taken, never `//` after a value.
pub fn without_comment_lines(text: &str) -> String {
    text.lines()
        .map(|line| {
            if line.trim_start().starts_with("//") {
                ""
            } else {
                line
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// What the stacks are assumed to be offline: the destination stack in the request's
/// destination account and Region, listing its source account and buckets. `start` sends the
/// request to the real stack, whose `plan` step checks those lists.
pub fn assumed_stack(req: &CopyRequest) -> StackContext {
    let mut buckets = vec![req.source.bucket.clone()];
    if let Manifest::Csv { bucket, .. } = &req.manifest {
        buckets.push(bucket.clone());
    }
    StackContext {
        account_id: req.destination.account_id.clone(),
        region: req.region.clone(),
        source_account_ids: vec![req.source.account_id.clone()],
        source_buckets: buckets,
        ferry_bucket: ferry_core::layout::ferry_bucket_name(
            &req.destination.account_id,
            &req.region,
        ),
        // Offline, the destination's lists are not known: `start`'s plan step checks them.
        destination_buckets: None,
        manifest_buckets: None,
        grant_lifetime_min: ferry_core::request::GRANT_LIFETIME_MIN,
    }
}

/// The copy's run 1 as the `plan` step would make it now; every rule checked (exit status 2
/// with every violation, field by field).
pub fn plan(raw: &Value, req: &CopyRequest) -> Result<RunPlan> {
    let input = PlanInput {
        request: raw.clone(),
        execution: format!("{}-1", req.copy_id),
        start_time: clock::format_timestamp(now()),
    };
    RunPlan::from_input(&input, &assumed_stack(req)).map_err(|e| CliError::invalid(e.cause))
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// Everything the copy will do: `--json` prints it as it is, the text form renders it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanDescription {
    pub copy_id: String,
    pub flow: Flow,
    pub region: String,
    /// `destination.existing`, and what it does.
    pub existing: Existing,
    /// Whether the copy ends with a verification job (`verify.enabled`, or its default).
    pub verify: bool,
    pub names: PlanNames,
    pub grants_expire: String,
    pub destination_account: DestinationChanges,
    pub source_account: SourceChanges,
    /// Flow A only (null in flow B).
    pub inventory_configuration: Option<InventoryConfig>,
    pub create_job: CreateJobRequest,
    /// Flow C: what the jobs after the first one list, and what the filter leaves out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generated: Option<String>,
    /// `source.archived: restore`: how the archived objects are found, restored and waited for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restores: Option<String>,
}

/// The names a copy uses, in the order the text form lists them.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanNames {
    pub executions: String,
    pub cleanup_executions: String,
    pub batch_role: String,
    pub job_submitter: String,
    /// Flow A only (null in flow B).
    pub inventory_configuration: Option<String>,
    pub ferry_bucket: String,
    pub control_prefix: String,
    pub report_prefix: String,
    pub client_request_token: String,
}

impl PlanNames {
    /// (name, value) rows, the absent ones left out.
    fn rows(&self) -> Vec<(&'static str, &str)> {
        [
            ("executions", Some(&self.executions)),
            ("cleanupExecutions", Some(&self.cleanup_executions)),
            ("batchRole", Some(&self.batch_role)),
            ("jobSubmitter", Some(&self.job_submitter)),
            (
                "inventoryConfiguration",
                self.inventory_configuration.as_ref(),
            ),
            ("ferryBucket", Some(&self.ferry_bucket)),
            ("controlPrefix", Some(&self.control_prefix)),
            ("reportPrefix", Some(&self.report_prefix)),
            ("clientRequestToken", Some(&self.client_request_token)),
        ]
        .into_iter()
        .filter_map(|(k, v)| Some((k, v?.as_str())))
        .collect()
    }
}

/// What the copy creates in the destination account: the Batch Operations role.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DestinationChanges {
    pub account: String,
    pub role: RoleChanges,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleChanges {
    pub name: String,
    pub path: String,
    pub trust: Value,
    pub policy: Value,
}

/// What the copy merges into bucket policies of the source account, by bucket.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceChanges {
    pub account: String,
    pub bucket_policy_statements: BTreeMap<String, Vec<Value>>,
}

/// Everything the copy will do, from the plan the `plan` step would make.
pub fn describe(plan: &RunPlan) -> PlanDescription {
    let req = &plan.request;
    let names = plan.names();
    let policies = plan.policies();
    let unknown_etag = "<the manifest's ETag, read by job-submit>".to_string();
    let manifest = match &req.manifest {
        Manifest::Csv { bucket, key, .. } => ManifestLocation {
            kind: ManifestKind::Csv {
                with_versions: false,
            },
            object_arn: names.s3_arn(bucket, Some(key)),
            etag: unknown_etag,
            version_id: None,
            filter: None,
        },
        Manifest::Generated { .. } => {
            let route = ferry_core::job::first_route(req, &names, plan.worker_for_everything());
            // Validation leaves every flow C request an object size, so one route at least.
            ManifestLocation::generated(req, &names, plan.incremental_since, route)
                .expect("a valid request's first job lists something")
        }
        Manifest::Inventory {} => {
            let delivery = Delivery {
                source_bucket: req.source.bucket.clone(),
                config_id: names.inventory_config_id.clone(),
                dated: "<delivery date>".into(),
            };
            ManifestLocation {
                kind: ManifestKind::Inventory,
                object_arn: names.s3_arn(&plan.ferry_bucket, Some(&delivery.manifest_key())),
                etag: unknown_etag,
                version_id: None,
                filter: None,
            }
        }
    };
    let create_job = CreateJobRequest::for_copy(req, &names, &manifest, plan.first_attempt());
    let generated = req.manifest.generated_filter().map(|filter| {
        let large = ManifestLocation::generated(req, &names, None, SizeRoute::Large)
            .and_then(|m| m.filter)
            .and_then(|f| f.object_size_greater_than_bytes);
        let next = match (manifest.kind, large) {
            (ManifestKind::Generated { route: SizeRoute::Copyable }, Some(over)) => format!(
                "flow C: the first job takes the objects up to 5 GiB; when it has copied them all, a job of the copy worker takes those over it (ObjectSizeGreaterThanBytes {over}). If the source holds nothing over 5 GiB, set manifest.filter.sizeLessThanBytes to 5368709121 and that job is not submitted."
            ),
            (ManifestKind::Generated { route: SizeRoute::Copyable }, None) => {
                "flow C: the filter's sizes leave no object over 5 GiB: no job of the copy worker follows the first.".to_string()
            }
            (ManifestKind::Generated { route: SizeRoute::Large }, _) => {
                "flow C: the filter's sizes leave no object up to 5 GiB: the first job is the copy worker's, on the objects over it.".to_string()
            }
            _ => "flow C: the copy worker's job takes every object the filter lists.".to_string(),
        };
        let listed: Vec<String> = filter
            .storage_classes()
            .iter()
            .filter_map(|c| serde_json::to_value(c).ok())
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        format!(
            "{next} Listed: the storage classes {}; objects in GLACIER or DEEP_ARCHIVE are left out and counted (a restored object keeps its class: copy those with flow A or B). SSE-C objects are listed and fail as not copyable: the filter takes one encryption type only.{}",
            listed.join(", "),
            if filter.incremental {
                " Incremental: each run after the first lists only the objects created since the last run that copied everything."
            } else {
                ""
            }
        )
    });
    let inventory = req.flow() == Flow::Inventory;
    let restores = req.restores().then(|| restores_said(req));
    PlanDescription {
        copy_id: req.copy_id.clone(),
        flow: req.flow(),
        region: req.region.clone(),
        existing: req.destination.existing,
        verify: req.verifies(),
        names: PlanNames {
            executions: format!("{}-<n>", req.copy_id),
            cleanup_executions: format!("{}-cleanup-<n>", req.copy_id),
            batch_role: names.batch_role_arn.clone(),
            job_submitter: names.submitter_role_arn(),
            inventory_configuration: inventory.then(|| names.inventory_config_id.clone()),
            ferry_bucket: plan.ferry_bucket.clone(),
            control_prefix: names.layout().control_prefix(),
            report_prefix: names.layout().report_prefix(plan.run),
            client_request_token: create_job.client_request_token.clone(),
        },
        grants_expire: clock::format_timestamp(plan.expires_at),
        destination_account: DestinationChanges {
            account: req.destination.account_id.clone(),
            role: RoleChanges {
                name: names.batch_role_name.clone(),
                path: ferry_core::names::ROLE_PATH.into(),
                trust: policies.trust,
                policy: policies.role,
            },
        },
        source_account: SourceChanges {
            account: req.source.account_id.clone(),
            bucket_policy_statements: policies.source_account_grants,
        },
        inventory_configuration: inventory.then(|| InventoryConfig::for_copy(req, &names)),
        create_job,
        generated,
        restores,
    }
}

/// What a copy that restores does before its copy job, and how long it may take.
fn restores_said(req: &CopyRequest) -> String {
    use ferry_core::restore;
    let r = &req.source.restore;
    format!(
        "archived objects (source.archived: restore): before the copy job, job-submit finds them ({}) and restores them, one S3InitiateRestoreObject job per kind, at tier {} (Glacier copies kept {} days); {}. ferry looks at a sample of them {} s after the restore jobs end, then every {} s; an object a copy job finds not restored yet is tried again {} s after the first restore job, and ferry gives up waiting at twice that. How many: known once {} (`ferry watch`, and the run's output `restored`).",
        match req.flow() {
            Flow::Inventory => "the inventory's StorageClass and IntelligentTieringAccessTier columns",
            _ => "a HeadObject of each CSV row, at most 100,000",
        },
        r.tier.as_str(),
        r.days,
        restore::how_long(r.tier),
        restore::first_wait(req),
        req.timing.restore_check_seconds,
        req.restore_slowest(),
        match req.flow() {
            Flow::Inventory => "the inventory report is read",
            _ => "the rows are looked at",
        },
    )
}

/// The text form: names, then each account's changes, then the job.
pub fn render(d: &PlanDescription) -> String {
    fn pretty<T: Serialize>(v: &T) -> String {
        serde_json::to_string_pretty(v)
            .unwrap_or_default()
            .lines()
            .map(|l| format!("    {l}\n"))
            .collect()
    }
    let mut out = String::new();
    out.push_str(&format!(
        "copy {} (flow {}), Region {}: the request is valid\n",
        d.copy_id,
        match d.flow {
            Flow::Inventory => "A, S3 Inventory report",
            Flow::Csv => "B, CSV manifest",
            Flow::Generated => "C, manifest generated by S3 Batch Operations",
        },
        d.region
    ));
    out.push_str("\nnames\n");
    for (k, v) in d.names.rows() {
        out.push_str(&format!("  {k:<24} {v}\n"));
    }
    out.push_str(&format!("  {:<24} {}\n", "grantsExpire", d.grants_expire));
    let dst = &d.destination_account;
    out.push_str(&format!(
        "\ndestination account {}: role {}{} (ferry's permissions boundary), removed at the end\n  trust policy\n{}  permission policy\n{}",
        dst.account,
        dst.role.path,
        dst.role.name,
        pretty(&dst.role.trust),
        pretty(&dst.role.policy),
    ));
    let src = &d.source_account;
    out.push_str(&format!(
        "\nsource account {}: statements merged into bucket policies beside the buckets' own, revoked at the end\n",
        src.account
    ));
    for (bucket, statements) in &src.bucket_policy_statements {
        out.push_str(&format!("  bucket {bucket}\n{}", pretty(statements)));
    }
    if let Some(inventory) = &d.inventory_configuration {
        out.push_str(&format!(
            "\nsource bucket inventory configuration (removed at the end unless cleanup.removeInventory is false)\n{}",
            pretty(inventory)
        ));
    }
    out.push_str(&format!(
        "\nCreateJob request of the first job (destination account)\n{}",
        pretty(&d.create_job)
    ));
    if let Some(generated) = &d.generated {
        out.push_str(&format!("\n{generated}\n"));
    }
    if let Some(restores) = &d.restores {
        out.push_str(&format!("\n{restores}\n"));
    }
    out.push_str(&format!(
        "\n{}\n{}\n",
        existing_sentence(d.existing),
        verify_sentence(d.verify)
    ));
    out.push_str(&format!(
        "\nIf the source objects are SSE-KMS under customer managed keys, list them in the source stack's SourceKmsKeyArns; each key's policy must let ferry grant the Batch role kms:Decrypt (KMS's default key policy does), for example with\n{}\n",
        pretty(&ferry_core::policy::key_policy_statement_for_grants(
            ferry_core::names::partition(&d.region),
            &d.source_account.account
        ))
    ));
    out.push_str(
        "\nOffline, plan assumes the destination stack lists this source account and these buckets (SourceAccountIds, SourceBuckets, DestinationBuckets, and ManifestBuckets for a CSV manifest in the destination account), that the source account's stack lists the destination account and the source buckets (DestinationAccountIds, SourceBuckets) and that the destination bucket is the destination account's; `ferry start` checks them for real.\n",
    );
    out
}

/// Whether the copy ends with a verification, in one sentence for the text form.
fn verify_sentence(verify: bool) -> &'static str {
    if verify {
        "verify is on: after the last copy job, one job of the copy worker checks every object of the manifest at the destination (present, same size, same ETag or full-object checksum); a missing or different object fails the copy with CopyIncomplete. `ferry verify COPY_ID` checks again at any time."
    } else {
        "verify is off: the copy ends with its last copy job. `ferry verify COPY_ID` checks every object at the destination at any time."
    }
}

/// What `destination.existing` will do, in one sentence for the text form.
fn existing_sentence(existing: Existing) -> &'static str {
    match existing {
        Existing::Refuse => "destination.existing is refuse: no object at the destination is ever overwritten. Into an empty prefix the job above runs as it is; into an occupied one every job is the copy worker's (LambdaInvoke), which leaves an identical object as it is and another one alone (reported), and writes a new key only if it is still free.",
        Existing::SkipIdentical => "destination.existing is skip-identical: into an occupied prefix every job is the copy worker's (LambdaInvoke), which leaves identical objects as they are and overwrites the others.",
        Existing::Overwrite => "destination.existing is overwrite: every object is copied over whatever is at its destination key (in an unversioned bucket, the object there is lost for good).",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> (Value, CopyRequest) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/fixtures")
            .join(name);
        read_request(&path).unwrap()
    }

    #[test]
    fn a_generated_copy_grants_the_generator_and_says_what_its_jobs_list() {
        let (raw, req) = fixture("request-generated.json");
        let d = describe(&plan(&raw, &req).unwrap());
        assert_eq!(d.flow, Flow::Generated);
        let source = &d.source_account.bucket_policy_statements["src-photos"];
        let generate = source
            .iter()
            .find(|s| s["Action"] == "s3:PutInventoryConfiguration")
            .expect("the generator's grant");
        assert_eq!(generate["Resource"], "arn:aws:s3:::src-photos");
        let json = serde_json::to_value(&d).unwrap();
        assert!(json["createJob"]["Manifest"].is_null(), "{json}");
        let filter = &json["createJob"]["ManifestGenerator"]["S3JobManifestGenerator"]["Filter"];
        assert_eq!(filter["ObjectSizeLessThanBytes"], 5_368_709_121u64);
        assert!(d.inventory_configuration.is_none());
        let text = render(&d);
        assert!(
            text.contains("a job of the copy worker takes those over it (ObjectSizeGreaterThanBytes 5368709120)"),
            "{text}"
        );
        assert!(
            text.contains("GLACIER or DEEP_ARCHIVE are left out"),
            "{text}"
        );
    }

    #[test]
    fn a_restoring_copy_says_how_it_finds_restores_and_waits_for_its_archived_objects() {
        let (mut raw, _) = fixture("request-inventory.json");
        raw["source"]["archived"] = serde_json::json!("restore");
        let req: CopyRequest = serde_json::from_value(raw.clone()).unwrap();
        let d = describe(&plan(&raw, &req).unwrap());
        let text = render(&d);
        for said in [
            "the inventory's StorageClass and IntelligentTieringAccessTier columns",
            "at tier BULK (Glacier copies kept 2 days)",
            "BULK restores take 5 to 48 hours",
            "18000 s after the restore jobs end, then every 3600 s; an object a copy job finds not restored yet is tried again 172800 s after the first restore job",
        ] {
            assert!(text.contains(said), "{said}: {text}");
        }
        let restore = d.source_account.bucket_policy_statements["src-photos"]
            .iter()
            .find(|s| s["Action"] == "s3:RestoreObject")
            .expect("the restore grant");
        assert_eq!(restore["Resource"], "arn:aws:s3:::src-photos/2026/*");
        // Without restore, nothing is said.
        let (raw, req) = fixture("request-inventory.json");
        assert!(describe(&plan(&raw, &req).unwrap()).restores.is_none());
    }

    #[test]
    fn a_csv_copy_names_its_grants_role_and_job() {
        let (raw, req) = fixture("request-csv.json");
        let d = describe(&plan(&raw, &req).unwrap());
        assert_eq!(d.flow, Flow::Csv);
        assert_eq!(
            d.names.batch_role,
            "arn:aws:iam::222222222222:role/ferry/ferry-batch-photos-2026"
        );
        let grants = &d.source_account.bucket_policy_statements;
        assert_eq!(
            grants.keys().collect::<Vec<_>>(),
            ["src-manifests", "src-photos"]
        );
        assert_eq!(
            d.create_job
                .operation
                .s3_put_object_copy
                .as_ref()
                .unwrap()
                .target_resource,
            "arn:aws:s3:::dst-photos"
        );
        assert!(d.inventory_configuration.is_none());
        // `--json` keeps flow B's absent parts as nulls, and the request's own names.
        let json = serde_json::to_value(&d).unwrap();
        assert!(json["inventoryConfiguration"].is_null());
        assert!(json["names"]["inventoryConfiguration"].is_null());
        assert_eq!(json["flow"], "csv");
        assert_eq!(
            json["createJob"]["Manifest"]["Spec"]["Format"],
            "S3BatchOperations_CSV_20180820"
        );
        let text = render(&d);
        assert!(text.contains("bucket src-photos"), "{text}");
        assert!(
            text.contains("CreateJob request of the first job"),
            "{text}"
        );
        assert_eq!(json["existing"], "refuse");
        assert!(
            text.contains(
                "destination.existing is refuse: no object at the destination is ever overwritten"
            ),
            "{text}"
        );
    }

    #[test]
    fn an_inventory_copy_shows_its_inventory_configuration() {
        let (raw, req) = fixture("request-inventory.json");
        let d = describe(&plan(&raw, &req).unwrap());
        assert_eq!(d.flow, Flow::Inventory);
        assert_eq!(
            d.inventory_configuration.as_ref().map(|c| c.id.as_str()),
            d.names.inventory_configuration.as_deref()
        );
        assert!(d
            .create_job
            .manifest
            .as_ref()
            .unwrap()
            .location
            .object_arn
            .ends_with(
            "/inventory/src-photos/ferry-222222222222-photos-2026/<delivery date>/manifest.json"
        ));
        assert!(render(&d).contains("source bucket inventory configuration"));
    }

    #[test]
    fn an_invalid_request_exits_2_with_every_violation() {
        let (mut raw, _) = fixture("request-csv.json");
        raw["destination"]["bucket"] = "src-photos".into();
        raw["job"]["priority"] = (-1).into();
        let req = CopyRequest::from_value(&raw).unwrap();
        let err = plan(&raw, &req).unwrap_err();
        assert_eq!(err.status, 2);
        assert!(
            err.message.contains("destination.bucket"),
            "{}",
            err.message
        );
        assert!(err.message.contains("job.priority"), "{}", err.message);
    }
}
