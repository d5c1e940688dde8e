//! `ferry plan --check`: the preflight a run makes before it grants anything, asked from the
//! command line against bucket policies given as files (`--bucket-policy BUCKET=FILE`; a bucket
//! not given has none). Nothing is read from the buckets and nothing is written: the only call is
//! IAM's policy simulator (`iam:SimulateCustomPolicy`, of AWS, or of the sandbox), so the verdicts
//! are the run's for the same policies.

use std::collections::BTreeMap;
use std::path::PathBuf;

use ferry_core::clients::Clients;
use ferry_core::preflight::{self, Outcome, Verdict};
use ferry_core::request::Manifest;
use ferry_core::steps::RunPlan;
use serde_json::Value;

use crate::{CliError, Result};

/// Reads each `BUCKET=FILE` of `--bucket-policy`.
pub fn read_policies(given: &[String]) -> Result<BTreeMap<String, Value>> {
    let mut out = BTreeMap::new();
    for item in given {
        let Some((bucket, path)) = item.split_once('=') else {
            return Err(CliError::invalid(format!(
                "--bucket-policy {item}: expected BUCKET=FILE (the bucket's policy, as GetBucketPolicy returns it)"
            )));
        };
        let path = PathBuf::from(path);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            CliError::invalid(format!(
                "--bucket-policy {bucket}: cannot read {}: {e}",
                path.display()
            ))
        })?;
        let policy: Value = serde_json::from_str(&text).map_err(|e| {
            CliError::invalid(format!(
                "--bucket-policy {bucket}: {} is not JSON: {e}",
                path.display()
            ))
        })?;
        out.insert(bucket.to_string(), policy);
    }
    Ok(out)
}

/// Every verdict of the preflight on `plan`, both halves, with `policies` as the buckets' own.
pub async fn verdicts(
    clients: &Clients,
    plan: &RunPlan,
    policies: &BTreeMap<String, Value>,
) -> Result<Vec<Verdict>> {
    let req = &plan.request;
    let mut manifest_buckets = Vec::new();
    if let Manifest::Csv {
        account_id, bucket, ..
    } = &req.manifest
    {
        if *account_id == req.destination.account_id {
            manifest_buckets.push(bucket.clone());
        }
    }
    let boundary = ferry_core::policy::permissions_boundary(&ferry_core::policy::BoundaryScope {
        partition: ferry_core::names::partition(&req.region),
        region: &req.region,
        own_account: &req.destination.account_id,
        source_accounts: std::slice::from_ref(&req.source.account_id),
        destination_buckets: std::slice::from_ref(&req.destination.bucket),
        manifest_buckets: &manifest_buckets,
    });
    let now = crate::plan::now();
    // Each policy to its account's half: the destination account's buckets (the destination,
    // a CSV manifest's there, the report bucket) are asked with the role's policy, the source
    // account's with ferry's statements merged in.
    let in_destination = |b: &str| preflight::owner_of(req, b) == req.destination.account_id;
    let destination: BTreeMap<String, Value> = policies
        .iter()
        .filter(|(b, _)| in_destination(b))
        .map(|(b, p)| (b.clone(), p.clone()))
        .collect();
    let source: BTreeMap<String, Option<String>> = policies
        .iter()
        .filter(|(b, _)| !in_destination(b))
        .map(|(b, p)| (b.clone(), Some(p.to_string())))
        .collect();
    let mut questions = preflight::role_questions(
        &plan.preflight_subject(),
        Some(&boundary),
        &destination,
        now,
    );
    questions.extend(
        preflight::source_questions(&plan.preflight_subject(), &source, now)
            .map_err(|e| CliError::invalid(e.cause))?,
    );
    preflight::ask_all(&clients.iam, &questions)
        .await
        .map_err(|e| CliError::other(e.cause))
}

/// The verdicts as text: the refusals and the undecided ones each on a line, then a count.
pub fn render(verdicts: &[Verdict]) -> String {
    let mut out = String::new();
    let count = |o: Outcome| verdicts.iter().filter(|v| v.outcome == o).count();
    for v in verdicts.iter().filter(|v| v.outcome != Outcome::Allowed) {
        out.push_str(&format!("  {}\n", v.describe()));
    }
    out.push_str(&format!(
        "preflight: {} allowed, {} refused, {} undecided, of {} actions put to IAM's policy simulator\n",
        count(Outcome::Allowed),
        count(Outcome::Refused),
        count(Outcome::Undecided),
        verdicts.len()
    ));
    out
}

/// Exit status 1 when a verdict refuses.
pub fn status(verdicts: &[Verdict]) -> i32 {
    i32::from(verdicts.iter().any(|v| v.outcome == Outcome::Refused))
}

/// `ferry plan --estimate`: what one run of the copy would cost.
pub fn render_estimate(
    req: &ferry_core::request::CopyRequest,
    planned: &ferry_core::cost::Planned,
    bytes: Option<u64>,
    bill: &ferry_core::cost::Bill,
) -> String {
    let mut out = format!(
        "estimate: one run of copy {} in {}, {} objects ({} over 5 GB, {} already there), the worker {} ms an object (assumed)\n",
        req.copy_id, req.region, planned.objects, planned.large, planned.identical, planned.worker_ms
    );
    if let Some(b) = bytes {
        out.push_str(&format!(
            "  {b} bytes: not priced (\"There is no Data Transfer charge for data transferred within an Amazon S3 Region via a COPY request\", Amazon S3 FAQs); the copies' storage is the destination's\n"
        ));
    }
    out.push_str(&bill.render());
    out
}

/// The rows of a local CSV manifest (each checked as `job-submit` reads them: a bad row is named
/// by its line).
pub fn count_rows(path: &std::path::Path) -> Result<u64> {
    let file = std::fs::File::open(path)
        .map_err(|e| CliError::invalid(format!("--manifest-file {}: {e}", path.display())))?;
    let mut rows = 0;
    for row in ferry_core::manifest::CsvManifestReader::new(std::io::BufReader::new(file)) {
        row.map_err(|e| CliError::invalid(format!("--manifest-file {}: {e}", path.display())))?;
        rows += 1;
    }
    Ok(rows)
}
