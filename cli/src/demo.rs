//! `ferry demo`: a whole cross-account copy in the sandbox. Two accounts' buckets (with
//! statements of their own in their policies) and sample objects, a copy through the template's
//! state machine with its steps and a progress bar, every object checked at the destination
//! (bytes, metadata, tags), nothing of ferry's left behind, everything it started stopped.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_sfn::types::ExecutionStatus;
use ferry_core::clients::Clients;
use ferry_local::objects::{self, Sample};
use ferry_local::scenario::{Scenario, Side};
use serde_json::{json, Value};

use crate::runs::Run;
use crate::target::Target;
use crate::{watch, CliError, Result};

pub const SOURCE_BUCKET: &str = "src-photos";
pub const MANIFEST_BUCKET: &str = "src-manifests";
pub const DESTINATION_BUCKET: &str = "dst-photos";
const MANIFEST_KEY: &str = "lists/demo.csv";

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DemoFlow {
    /// Flow A: an S3 Inventory report of the source bucket.
    Inventory,
    /// Flow B: a CSV manifest in the source account.
    Csv,
}

/// `n` objects of varied sizes (0 B to 256 KiB), nested keys, keys that need URL-encoding
/// (spaces, `+`, `&`, non-ASCII), with metadata and tags; the same for the same `n`.
pub fn samples(n: usize) -> Vec<Sample> {
    let shapes: [(&str, &str, &'static str); 6] = [
        ("photos/2026/img-{i}.jpg", "", "image/jpeg"),
        ("photos/2026/summer trip/day {i}.jpg", "", "image/jpeg"),
        ("photos/2026/été/café-{i}.png", "", "image/png"),
        ("photos/2026/odd names/a+b&c=d {i}.txt", "", "text/plain"),
        (
            "photos/2026/raw/deep/er/still/{i}.bin",
            "",
            "application/octet-stream",
        ),
        ("photos/2026/notes/{i}.json", "", "application/json"),
    ];
    (0..n)
        .map(|i| {
            let (pattern, _, content_type) = shapes[i % shapes.len()];
            let size = if i == 0 {
                0
            } else {
                (i * 7919 * 13) % (256 * 1024)
            };
            let mut seed = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let body = (0..size)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed as u8
                })
                .collect();
            Sample {
                key: pattern.replace("{i}", &format!("{i:03}")),
                body,
                content_type: Some(content_type.to_string()),
                metadata: BTreeMap::from([
                    ("index".to_string(), i.to_string()),
                    ("camera".to_string(), "demo-cam".to_string()),
                ]),
                tags: BTreeMap::from([
                    ("project".to_string(), "ferry-demo".to_string()),
                    ("index".to_string(), i.to_string()),
                ]),
            }
        })
        .collect()
}

pub struct DemoOptions {
    pub flow: DemoFlow,
    pub objects: usize,
}

/// Runs the demo from the repository at `root`; returns the exit status.
pub async fn run(root: &Path, options: DemoOptions) -> Result<i32> {
    let clock = Instant::now();
    let step = |text: &str| println!("\n== {text}");
    step("starting the two-account sandbox");
    let scenario = Scenario::start(root, 1800)
        .await
        .map_err(|e| CliError::other(e.to_string()))?;
    let (sandbox, src, dst) = (&scenario.sandbox, &scenario.source, &scenario.destination);
    let info = &sandbox.info;
    let (src_account, dst_account) = (
        info.source_account().to_string(),
        info.destination_account().to_string(),
    );
    println!(
        "source account {src_account}, destination account {dst_account}, Region {} (moto at {}, log {})",
        info.region,
        info.endpoint,
        sandbox.log.display()
    );

    step(&format!(
        "creating buckets and {} sample objects",
        options.objects
    ));
    let foreign = foreign_policies(&src_account);
    for (side, bucket) in [
        (Side::Source, SOURCE_BUCKET),
        (Side::Source, MANIFEST_BUCKET),
        (Side::Destination, DESTINATION_BUCKET),
    ] {
        scenario
            .create_bucket(side, bucket, Some(&foreign[bucket]))
            .await
            .map_err(|e| CliError::other(e.to_string()))?;
        println!(
            "  s3://{bucket} with a policy of its own ({})",
            foreign[bucket]["Statement"][0]["Sid"]
                .as_str()
                .unwrap_or_default()
        );
    }
    let samples = samples(options.objects);
    let bytes: usize = samples.iter().map(|s| s.body.len()).sum();
    objects::put_samples(&src.s3, SOURCE_BUCKET, &samples)
        .await
        .map_err(|e| s3_error("PutObject", SOURCE_BUCKET, e))?;
    println!(
        "  {} objects, {} bytes, e.g. {}",
        samples.len(),
        bytes,
        samples
            .iter()
            .skip(1)
            .take(4)
            .map(|s| format!("\"{}\"", s.key))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let copy_id = match options.flow {
        DemoFlow::Inventory => "demo-inventory",
        DemoFlow::Csv => "demo-csv",
    };
    let manifest = match options.flow {
        DemoFlow::Inventory => json!({"kind": "inventory"}),
        DemoFlow::Csv => {
            src.s3
                .put_object()
                .bucket(MANIFEST_BUCKET)
                .key(MANIFEST_KEY)
                .body(ByteStream::from(objects::csv_manifest(
                    SOURCE_BUCKET,
                    &samples,
                )))
                .send()
                .await
                .map_err(|e| s3_error("PutObject", MANIFEST_KEY, e))?;
            println!("  CSV manifest s3://{MANIFEST_BUCKET}/{MANIFEST_KEY}");
            json!({"kind": "csv", "accountId": src_account, "bucket": MANIFEST_BUCKET, "key": MANIFEST_KEY})
        }
    };
    let request = json!({
        "copyId": copy_id,
        "region": info.region,
        "source": {"accountId": src_account, "bucket": SOURCE_BUCKET, "prefix": "photos/"},
        "destination": {"accountId": dst_account, "bucket": DESTINATION_BUCKET},
        "manifest": manifest,
        "job": {"description": "ferry demo", "tags": {"project": "ferry-demo"}},
        "retry": {"maxAttempts": 2},
        // The sandbox's short timings: seconds where AWS takes minutes to days.
        "timing": {"pollSeconds": 1, "grantLifetimeSeconds": 3600,
                   "inventoryCheckSeconds": 20, "inventoryDeadlineSeconds": 300}
    });

    step(&format!(
        "copying with flow {} through the state machine",
        match options.flow {
            DemoFlow::Inventory => "A (S3 Inventory report)",
            DemoFlow::Csv => "B (CSV manifest)",
        }
    ));
    println!("request: {request}");
    let target = Target::sandbox(info);
    let name = format!("{copy_id}-1");
    let started = target
        .clients
        .sfn
        .start_execution()
        .state_machine_arn(&target.state_machine_arn)
        .name(&name)
        .input(request.to_string())
        .send()
        .await
        .map_err(crate::aws_error("StartExecution"))?;
    let run = Run {
        name: ferry_core::names::ExecutionName::parse(&name).expect("a run name"),
        arn: started.execution_arn().to_string(),
        status: ExecutionStatus::Running,
        started: started.start_date().secs(),
        stopped: None,
    };
    let outcome = watch::follow(&target, &run).await?;
    println!("{}", outcome.summary());

    step("verifying the destination");
    let mut problems = verify(dst, &samples).await?;
    if problems.is_empty() {
        println!(
            "  all {} objects at s3://{DESTINATION_BUCKET}: same bytes, content type, metadata and tags",
            samples.len()
        );
    }
    let left = scenario
        .leftovers(SOURCE_BUCKET, &[copy_id])
        .await
        .map_err(|e| CliError::other(e.to_string()))?;
    if left.is_empty() {
        println!("  bucket policies hold only their own statements again; no /ferry/ role, no inventory configuration left");
    }
    problems.extend(left);
    for p in &problems {
        println!("  MISMATCH: {p}");
    }

    step("summary");
    if let Some(o) = &outcome.output {
        println!(
            "  copied {} objects ({} bytes) from account {src_account} to account {dst_account}; jobs {}",
            o.copied,
            bytes,
            watch::job_list(&o.job_ids)
        );
    }
    println!(
        "  {} in {:.1} s; stopping the sandbox",
        if problems.is_empty() && outcome.exit_status() == 0 {
            "demo passed"
        } else {
            "demo FAILED"
        },
        clock.elapsed().as_secs_f64()
    );
    drop(scenario);
    Ok(if !problems.is_empty() {
        3
    } else {
        outcome.exit_status()
    })
}

/// Each bucket's own policy, which the copy must leave as it found it.
fn foreign_policies(src_account: &str) -> BTreeMap<&'static str, Value> {
    let tls_only = |bucket: &str| {
        json!({"Version": "2012-10-17", "Statement": [{
            "Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
            "Resource": [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]})
    };
    BTreeMap::from([
        (
            SOURCE_BUCKET,
            json!({"Version": "2012-10-17", "Statement": [{
                "Sid": "AnalyticsRead", "Effect": "Allow",
                "Principal": {"AWS": format!("arn:aws:iam::{src_account}:root")},
                "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{SOURCE_BUCKET}/*")}]}),
        ),
        (MANIFEST_BUCKET, tls_only(MANIFEST_BUCKET)),
        (DESTINATION_BUCKET, tls_only(DESTINATION_BUCKET)),
    ])
}

/// An S3 call's failure, with the operation and the bucket or key it was about.
fn s3_error(op: &str, what: &str, e: impl Into<aws_sdk_s3::Error>) -> CliError {
    CliError::other(format!(
        "{op} {what}: {}",
        aws_smithy_types::error::display::DisplayErrorContext(&e.into())
    ))
}

/// Every sample at the destination, compared with its source, and nothing else there: a line
/// per difference.
pub async fn verify(dst: &Clients, samples: &[Sample]) -> Result<Vec<String>> {
    let mut problems = objects::differences(&dst.s3, DESTINATION_BUCKET, samples)
        .await
        .map_err(|e| s3_error("reading", DESTINATION_BUCKET, e))?;
    let listed = dst
        .s3
        .list_objects_v2()
        .bucket(DESTINATION_BUCKET)
        .send()
        .await
        .map_err(|e| s3_error("ListObjectsV2", DESTINATION_BUCKET, e))?;
    if listed.key_count().unwrap_or_default() as usize != samples.len() {
        problems.push(format!(
            "{} objects at the destination, {} expected",
            listed.key_count().unwrap_or_default(),
            samples.len()
        ));
    }
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_core::manifest::encode_key;

    #[test]
    fn samples_vary_in_size_and_need_encoding() {
        let s = samples(12);
        assert_eq!(s.len(), 12);
        assert!(s[0].body.is_empty());
        let sizes: std::collections::BTreeSet<usize> = s.iter().map(|x| x.body.len()).collect();
        assert!(sizes.len() >= 10, "{sizes:?}");
        assert!(s
            .iter()
            .any(|x| encode_key(&x.key) != x.key && x.key.contains(' ')));
        assert!(s.iter().any(|x| !x.key.is_ascii()));
        // The same n gives the same objects.
        assert_eq!(samples(12)[7].body, s[7].body);
    }
}
