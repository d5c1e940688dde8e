//! `ferry demo`: a whole cross-account copy in the sandbox. Two accounts' buckets (with
//! statements of their own in their policies) and sample objects, a copy through the template's
//! state machine with its steps and a progress bar, every object checked at the destination
//! (bytes, metadata, tags), nothing of ferry's left behind, everything it started stopped. With
//! `--sources 2`, consolidation: a second source account's bucket copied into the same
//! destination account at the same time.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_sfn::types::ExecutionStatus;
use ferry_core::clients::Clients;
use ferry_local::objects::{self, Sample};
use ferry_local::scenario::{CopyRef, Scenario, Side};
use serde_json::{json, Value};

use crate::runs::Run;
use crate::target::Target;
use crate::{watch, CliError, Result};

pub const SOURCE_BUCKET: &str = "src-photos";
pub const MANIFEST_BUCKET: &str = "src-manifests";
pub const DESTINATION_BUCKET: &str = "dst-photos";
/// The third account's source bucket (`--sources 2`).
pub const LEDGER_BUCKET: &str = "src-ledger";
/// The destination bucket of the second copy (`--sources 2`).
pub const ARCHIVE_BUCKET: &str = "dst-archive";
const MANIFEST_KEY: &str = "lists/demo.csv";

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DemoFlow {
    /// Flow A: an S3 Inventory report of the source bucket.
    Inventory,
    /// Flow B: a CSV manifest in the source account.
    Csv,
    /// Flow C: S3 Batch Operations generates the manifest from the source bucket.
    Generated,
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
    /// 1: one copy from the source account. 2: consolidation, a second copy at the same time
    /// from the third account (which runs a source stack of its own) into the same destination
    /// account's state machine.
    pub sources: usize,
    /// SSE-KMS at both ends: the source objects under the source account's listed key (ferry
    /// grants the copy's role its use and takes the grant back), the copies under a key of the
    /// destination account (the destination bucket's default).
    pub kms: bool,
}

/// One of the demo's copies: from `source_bucket` in `source`'s account into
/// `destination_bucket` of the destination account.
struct DemoCopy {
    copy_id: &'static str,
    source: Side,
    source_bucket: &'static str,
    /// Where its CSV manifest is kept (flow B), in the source account.
    manifest_bucket: &'static str,
    destination_bucket: &'static str,
}

impl DemoCopy {
    fn all(flow: DemoFlow, sources: usize) -> Vec<DemoCopy> {
        let first = DemoCopy {
            copy_id: match flow {
                DemoFlow::Inventory => "demo-inventory",
                DemoFlow::Csv => "demo-csv",
                DemoFlow::Generated => "demo-generated",
            },
            source: Side::Source,
            source_bucket: SOURCE_BUCKET,
            manifest_bucket: MANIFEST_BUCKET,
            destination_bucket: DESTINATION_BUCKET,
        };
        let second = DemoCopy {
            copy_id: "demo-ledger",
            source: Side::Third,
            source_bucket: LEDGER_BUCKET,
            manifest_bucket: LEDGER_BUCKET,
            destination_bucket: ARCHIVE_BUCKET,
        };
        if sources > 1 {
            vec![first, second]
        } else {
            vec![first]
        }
    }

    /// The buckets this copy needs, each with its owner's account.
    fn buckets(&self) -> Vec<(Side, &'static str)> {
        let mut b = vec![(self.source, self.source_bucket)];
        if self.manifest_bucket != self.source_bucket {
            b.push((self.source, self.manifest_bucket));
        }
        b.push((Side::Destination, self.destination_bucket));
        b
    }
}

/// Runs the demo from the repository at `root`; returns the exit status.
pub async fn run(root: &Path, options: DemoOptions) -> Result<i32> {
    if !(1..=2).contains(&options.sources) {
        return Err(CliError::other(format!(
            "--sources must be 1 or 2 (got {}): the sandbox has two source accounts",
            options.sources
        )));
    }
    let clock = Instant::now();
    let step = |text: &str| println!("\n== {text}");
    step("starting the sandbox (three accounts, four stacks)");
    let scenario = Scenario::start(root, 1800)
        .await
        .map_err(|e| CliError::other(e.to_string()))?;
    let (sandbox, dst) = (&scenario.sandbox, &scenario.destination);
    let info = &sandbox.info;
    let dst_account = info.destination_account().to_string();
    let copies = DemoCopy::all(options.flow, options.sources);
    println!(
        "source account{} {}, destination account {dst_account}, Region {} (moto at {}, log {})",
        if copies.len() > 1 { "s" } else { "" },
        copies
            .iter()
            .map(|c| scenario.account(c.source))
            .collect::<Vec<_>>()
            .join(" and "),
        info.region,
        info.endpoint,
        sandbox.log.display()
    );

    step(&format!(
        "creating buckets and {} sample objects{}",
        options.objects,
        if copies.len() > 1 {
            " in each source bucket"
        } else {
            ""
        }
    ));
    let samples = samples(options.objects);
    let bytes: usize = samples.iter().map(|s| s.body.len()).sum();
    let mut requests = Vec::new();
    for copy in &copies {
        let src_account = scenario.account(copy.source).to_string();
        for (side, bucket) in copy.buckets() {
            let own = foreign_policy(bucket, &src_account);
            scenario
                .create_bucket(side, bucket, Some(&own))
                .await
                .map_err(|e| CliError::other(e.to_string()))?;
            println!(
                "  s3://{bucket} in {} with a policy of its own ({})",
                scenario.account(side),
                own["Statement"][0]["Sid"].as_str().unwrap_or_default()
            );
        }
        let src = scenario.clients(copy.source);
        let source_key = (options.kms && copy.source == Side::Source)
            .then(|| info.kms_keys.get("source").cloned())
            .flatten();
        objects::put_samples_encrypted(
            &src.s3,
            copy.source_bucket,
            &samples,
            source_key.as_deref(),
        )
        .await
        .map_err(|e| s3_error("PutObject", copy.source_bucket, e))?;
        if let Some(key) = &source_key {
            println!("  SSE-KMS under the source account's key {key} (listed in SourceKmsKeyArns)");
        }
        println!(
            "  {} objects, {} bytes in s3://{}, e.g. {}",
            samples.len(),
            bytes,
            copy.source_bucket,
            samples
                .iter()
                .skip(1)
                .take(4)
                .map(|s| format!("\"{}\"", s.key))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let manifest = match options.flow {
            DemoFlow::Inventory => json!({"kind": "inventory"}),
            DemoFlow::Generated => json!({"kind": "generated"}),
            DemoFlow::Csv => {
                src.s3
                    .put_object()
                    .bucket(copy.manifest_bucket)
                    .key(MANIFEST_KEY)
                    .body(ByteStream::from(objects::csv_manifest(
                        copy.source_bucket,
                        &samples,
                    )))
                    .send()
                    .await
                    .map_err(|e| s3_error("PutObject", MANIFEST_KEY, e))?;
                println!(
                    "  CSV manifest s3://{}/{MANIFEST_KEY}",
                    copy.manifest_bucket
                );
                json!({"kind": "csv", "accountId": src_account, "bucket": copy.manifest_bucket, "key": MANIFEST_KEY})
            }
        };
        requests.push(json!({
            "copyId": copy.copy_id,
            "region": info.region,
            "source": {"accountId": src_account, "bucket": copy.source_bucket, "prefix": "photos/"},
            "destination": {"accountId": dst_account, "bucket": copy.destination_bucket},
            "manifest": manifest,
            "job": {"description": "ferry demo", "tags": {"project": "ferry-demo"}},
            "retry": {"maxAttempts": 2},
            // The sandbox's short timings: seconds where AWS takes minutes to days.
            "timing": {"pollSeconds": 1, "maxPollSeconds": 2, "grantLifetimeSeconds": 3600,
                       "inventoryCheckSeconds": 20, "inventoryDeadlineSeconds": 300}
        }));
    }

    let destination_key = if options.kms {
        let key = scenario
            .create_key(Side::Destination, None)
            .await
            .map_err(|e| CliError::other(e.to_string()))?;
        for copy in &copies {
            objects::set_default_kms(&dst.s3, copy.destination_bucket, &key)
                .await
                .map_err(|e| s3_error("PutBucketEncryption", copy.destination_bucket, e))?;
        }
        println!("  destination buckets' default encryption: SSE-KMS under {key}");
        Some(key)
    } else {
        None
    };

    step(&format!(
        "copying with flow {} through the destination account's state machine{}",
        match options.flow {
            DemoFlow::Inventory => "A (S3 Inventory report)",
            DemoFlow::Csv => "B (CSV manifest)",
            DemoFlow::Generated => "C (manifest generated by S3 Batch Operations)",
        },
        if copies.len() > 1 {
            ": both copies at the same time, each through its own source account's role and functions"
        } else {
            ""
        }
    ));
    let target = Target::sandbox_from(info)?;
    let mut runs = Vec::new();
    for request in &requests {
        println!("request: {request}");
        let name = format!("{}-1", request["copyId"].as_str().unwrap_or_default());
        let started = target
            .clients
            .sfn
            .start_execution()
            .state_machine_arn(&target.state_machine_arn)
            .name(&name)
            .input(ferry_core::execution_input::ExecutionInput::Request(request.clone()).to_json())
            .send()
            .await
            .map_err(crate::aws_error("StartExecution"))?;
        runs.push(Run {
            name: ferry_core::names::ExecutionName::parse(&name).expect("a run name"),
            arn: started.execution_arn().to_string(),
            status: ExecutionStatus::Running,
            started: started.start_date().secs(),
            stopped: None,
        });
    }
    let mut outcomes = Vec::new();
    for run in &runs {
        if runs.len() > 1 {
            println!("-- {}", run.name);
        }
        let outcome = watch::follow(&target, run).await?;
        println!("{}", outcome.summary());
        outcomes.push(outcome);
    }

    step("verifying the destination");
    let mut problems = Vec::new();
    for copy in &copies {
        let mut found = verify(dst, copy.destination_bucket, &samples).await?;
        if let Some(key) = &destination_key {
            found.extend(encrypted_under(dst, copy.destination_bucket, &samples, key).await?);
        }
        if found.is_empty() {
            println!(
                "  all {} objects at s3://{}: same bytes, content type, metadata and tags",
                samples.len(),
                copy.destination_bucket
            );
        }
        problems.extend(found);
    }
    let refs: Vec<CopyRef> = copies
        .iter()
        .map(|c| CopyRef {
            source: c.source,
            bucket: c.source_bucket,
            destination: Side::Destination,
            copy_id: c.copy_id,
        })
        .collect();
    let left = scenario
        .leftovers_of(&refs)
        .await
        .map_err(|e| CliError::other(e.to_string()))?;
    if left.is_empty() {
        println!("  bucket policies hold only their own statements again; no /ferry/ role, no inventory configuration, no KMS grant left");
    }
    problems.extend(left);
    for p in &problems {
        println!("  MISMATCH: {p}");
    }

    step("summary");
    for (copy, outcome) in copies.iter().zip(&outcomes) {
        if let Some(o) = &outcome.output {
            println!(
                "  copied {} objects ({} bytes) from account {} to account {dst_account}; jobs {}",
                o.copied,
                bytes,
                scenario.account(copy.source),
                watch::job_list(&o.job_ids)
            );
        }
    }
    let status = outcomes
        .iter()
        .map(|o| o.exit_status())
        .find(|s| *s != 0)
        .unwrap_or(0);
    println!(
        "  {} in {:.1} s; stopping the sandbox",
        if problems.is_empty() && status == 0 {
            "demo passed"
        } else {
            "demo FAILED"
        },
        clock.elapsed().as_secs_f64()
    );
    drop(scenario);
    Ok(if !problems.is_empty() { 3 } else { status })
}

/// A line per copy at `bucket` that is not SSE-KMS under `key`.
async fn encrypted_under(
    dst: &Clients,
    bucket: &str,
    samples: &[Sample],
    key: &str,
) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    for s in samples {
        let head = dst
            .s3
            .head_object()
            .bucket(bucket)
            .key(&s.key)
            .send()
            .await
            .map_err(|e| s3_error("HeadObject", &s.key, e))?;
        if head.ssekms_key_id() != Some(key) {
            problems.push(format!(
                "s3://{bucket}/{} is encrypted under {:?}, not {key}",
                s.key,
                head.ssekms_key_id()
            ));
        }
    }
    if problems.is_empty() {
        println!("  every copy at s3://{bucket} is SSE-KMS under {key}");
    }
    Ok(problems)
}

/// A bucket's own policy, which the copy must leave as it found it: source buckets let their
/// own account's analysts read, the others allow TLS only.
fn foreign_policy(bucket: &str, src_account: &str) -> Value {
    if bucket == SOURCE_BUCKET || bucket == LEDGER_BUCKET {
        return json!({"Version": "2012-10-17", "Statement": [{
            "Sid": "AnalyticsRead", "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{src_account}:root")},
            "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{bucket}/*")}]});
    }
    json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]})
}

/// An S3 call's failure, with the operation and the bucket or key it was about.
fn s3_error(op: &str, what: &str, e: impl Into<aws_sdk_s3::Error>) -> CliError {
    let e: aws_sdk_s3::Error = e.into();
    CliError::other(format!("{op} {what}: {}", crate::one_line(&e)))
}

/// Every sample at `bucket` of the destination, compared with its source, and nothing else
/// there: a line per difference.
pub async fn verify(dst: &Clients, bucket: &str, samples: &[Sample]) -> Result<Vec<String>> {
    let mut problems = objects::differences(&dst.s3, bucket, samples)
        .await
        .map_err(|e| s3_error("reading", bucket, e))?;
    let count = objects::count_objects(&dst.s3, bucket, "")
        .await
        .map_err(|e| s3_error("ListObjectsV2", bucket, e))?;
    if count != samples.len() {
        problems.push(format!(
            "{count} objects at s3://{bucket}, {} expected",
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
