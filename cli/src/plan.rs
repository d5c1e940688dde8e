//! `ferry plan`: a copy request validated offline, and everything the copy will do.

use ferry_core::job::{CreateJobRequest, ManifestKind, ManifestLocation};
use ferry_core::request::{CopyRequest, Flow, Manifest, StackContext};
use ferry_core::steps::{PlanInput, RunPlan};
use ferry_core::{clock, inventory::InventoryConfig};
use serde_json::{json, Value};

use crate::{CliError, Result};

/// Reads and parses a request file: exit status 2 with every violation when it breaks a rule.
pub fn read_request(path: &std::path::Path) -> Result<(Value, CopyRequest)> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::invalid(format!("cannot read {}: {e}", path.display())))?;
    let raw: Value = serde_json::from_str(&text)
        .map_err(|e| CliError::invalid(format!("{} is not JSON: {e}", path.display())))?;
    let request = CopyRequest::from_value(&raw).map_err(|v| CliError::invalid(v.to_string()))?;
    Ok((raw, request))
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

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// Everything the copy will do, as JSON (`--json`), also the base of the text form.
pub fn describe(plan: &RunPlan) -> Value {
    let req = &plan.request;
    let names = plan.names();
    let policies = plan.policies();
    let manifest = match &req.manifest {
        Manifest::Csv { bucket, key, .. } => ManifestLocation {
            kind: ManifestKind::Csv {
                with_versions: false,
            },
            object_arn: names.s3_arn(bucket, Some(key)),
            etag: "<the manifest's ETag, read by job-submit>".into(),
            version_id: None,
        },
        Manifest::Inventory {} => ManifestLocation {
            kind: ManifestKind::Inventory,
            object_arn: names.s3_arn(
                &plan.ferry_bucket,
                Some(&format!(
                    "{}<delivery date>/manifest.json",
                    names.layout().inventory_location(&req.source.bucket)
                )),
            ),
            etag: "<the manifest's ETag, read by job-submit>".into(),
            version_id: None,
        },
    };
    let create_job = CreateJobRequest::for_copy(req, &names, &manifest, plan.first_attempt());
    let inventory = (req.flow() == Flow::Inventory).then(|| InventoryConfig::for_copy(req, &names));
    json!({
        "copyId": req.copy_id,
        "flow": match req.flow() { Flow::Inventory => "inventory", Flow::Csv => "csv" },
        "region": req.region,
        "names": {
            "executions": format!("{}-<n>", req.copy_id),
            "cleanupExecutions": format!("{}-cleanup-<n>", req.copy_id),
            "batchRole": names.batch_role_arn,
            "jobSubmitter": names.submitter_role_arn(),
            "inventoryConfiguration": (req.flow() == Flow::Inventory).then(|| names.inventory_config_id.clone()),
            "ferryBucket": plan.ferry_bucket,
            "controlPrefix": names.layout().control_prefix(),
            "reportPrefix": names.layout().report_prefix(plan.run),
            "clientRequestToken": create_job.client_request_token,
        },
        "grantsExpire": clock::format_timestamp(plan.expires_at),
        "destinationAccount": {
            "account": req.destination.account_id,
            "role": {
                "name": names.batch_role_name,
                "path": ferry_core::names::ROLE_PATH,
                "trust": policies.trust,
                "policy": policies.role,
            },
        },
        "sourceAccount": {
            "account": req.source.account_id,
            "bucketPolicyStatements": policies.source_account_grants,
        },
        "inventoryConfiguration": inventory,
        "createJob": create_job,
    })
}

/// The text form: names, then each account's changes, then the job.
pub fn render(d: &Value) -> String {
    let pretty = |v: &Value| {
        serde_json::to_string_pretty(v)
            .unwrap_or_default()
            .lines()
            .map(|l| format!("    {l}\n"))
            .collect::<String>()
    };
    let mut out = String::new();
    out.push_str(&format!(
        "copy {} (flow {}), Region {}: the request is valid\n",
        d["copyId"].as_str().unwrap_or_default(),
        if d["flow"] == "inventory" {
            "A, S3 Inventory report"
        } else {
            "B, CSV manifest"
        },
        d["region"].as_str().unwrap_or_default()
    ));
    out.push_str("\nnames\n");
    for (k, v) in d["names"].as_object().into_iter().flatten() {
        if !v.is_null() {
            out.push_str(&format!("  {k:<24} {}\n", v.as_str().unwrap_or_default()));
        }
    }
    out.push_str(&format!(
        "  {:<24} {}\n",
        "grantsExpire",
        d["grantsExpire"].as_str().unwrap_or_default()
    ));
    let dst = &d["destinationAccount"];
    out.push_str(&format!(
        "\ndestination account {}: role {}{} (ferry's permissions boundary), removed at the end\n  trust policy\n{}  permission policy\n{}",
        dst["account"].as_str().unwrap_or_default(),
        dst["role"]["path"].as_str().unwrap_or_default(),
        dst["role"]["name"].as_str().unwrap_or_default(),
        pretty(&dst["role"]["trust"]),
        pretty(&dst["role"]["policy"]),
    ));
    let src = &d["sourceAccount"];
    out.push_str(&format!(
        "\nsource account {}: statements merged into bucket policies beside the buckets' own, revoked at the end\n",
        src["account"].as_str().unwrap_or_default()
    ));
    for (bucket, statements) in src["bucketPolicyStatements"]
        .as_object()
        .into_iter()
        .flatten()
    {
        out.push_str(&format!("  bucket {bucket}\n{}", pretty(statements)));
    }
    if !d["inventoryConfiguration"].is_null() {
        out.push_str(&format!(
            "\nsource bucket inventory configuration (removed at the end unless cleanup.removeInventory is false)\n{}",
            pretty(&d["inventoryConfiguration"])
        ));
    }
    out.push_str(&format!(
        "\nCreateJob request of the first job (destination account)\n{}",
        pretty(&d["createJob"])
    ));
    out.push_str(
        "\nOffline, plan assumes the destination stack lists this source account and these buckets (SourceAccountIds, SourceBuckets, DestinationBuckets, and ManifestBuckets for a CSV manifest in the destination account) and that the destination bucket is the destination account's; `ferry start` checks them for real.\n",
    );
    out
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
    fn a_csv_copy_names_its_grants_role_and_job() {
        let (raw, req) = fixture("request-csv.json");
        let d = describe(&plan(&raw, &req).unwrap());
        assert_eq!(d["flow"], "csv");
        assert_eq!(
            d["names"]["batchRole"],
            "arn:aws:iam::222222222222:role/ferry/ferry-batch-photos-2026"
        );
        let grants = d["sourceAccount"]["bucketPolicyStatements"]
            .as_object()
            .unwrap();
        assert_eq!(
            grants.keys().collect::<Vec<_>>(),
            ["src-manifests", "src-photos"]
        );
        assert_eq!(
            d["createJob"]["Operation"]["S3PutObjectCopy"]["TargetResource"],
            "arn:aws:s3:::dst-photos"
        );
        assert!(d["inventoryConfiguration"].is_null());
        let text = render(&d);
        assert!(text.contains("bucket src-photos"), "{text}");
        assert!(
            text.contains("CreateJob request of the first job"),
            "{text}"
        );
    }

    #[test]
    fn an_inventory_copy_shows_its_inventory_configuration() {
        let (raw, req) = fixture("request-inventory.json");
        let d = describe(&plan(&raw, &req).unwrap());
        assert_eq!(d["flow"], "inventory");
        assert_eq!(
            d["inventoryConfiguration"]["Id"],
            d["names"]["inventoryConfiguration"]
        );
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
