//! What a copy costs: AWS's prices as data (`shared/prices.json`, each with its page and the
//! words there), the counts of what a copy does ([`Usage`]: planned from an object count, or
//! counted from a run), and the bill ([`Bill`]) with a line per item. A price the data has no
//! source for is never made up: the line says so, and the total leaves it out, saying which.
//!
//! What the counts follow (docs/src/cost.md): one S3 Batch Operations job per job ferry
//! submits, one task per object of each; S3PutObjectCopy makes one COPY request per object (a
//! COPY is priced with PUT, POST and LIST); the copy worker, per object, one Lambda invocation,
//! a HEAD of the source and of the destination (GET-tier), and a COPY when it copies; a
//! verification, per object, an invocation and the two HEADs. Step Functions' transitions, one
//! per state entered, from ferry's state machine: [`transitions`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::request::{CopyRequest, Existing, Flow};

const PRICES: &str = include_str!("../prices.json");

/// States a run enters besides its jobs' (plan, the checks, the grants, the revoke, the end),
/// per job (verify the grants, submit, start tracking, summarize, what next, and between two
/// jobs the retry's two), per look at a running job (wait, DescribeJob, has it ended), and flow
/// A's inventory steps. Counted in the sandbox: a flow B run of two jobs looked at once each
/// enters 36 states (`16 + 2 x 7 + 2 x 3`, the last job's two retry states not entered: 34 +
/// 2 between the jobs).
pub const TRANSITIONS_PER_RUN: u64 = 16;
pub const TRANSITIONS_PER_JOB: u64 = 7;
pub const TRANSITIONS_PER_LOOK: u64 = 3;
pub const TRANSITIONS_INVENTORY: u64 = 5;

/// The job time the estimate assumes, for its tracking looks: an hour (ferry does not know how
/// long S3 Batch Operations takes; the run's own count uses each job's active time).
pub const ASSUMED_JOB_SECONDS: u64 = 3600;

/// Step Functions transitions of a run of `jobs` jobs looked at `looks` times in all.
pub fn transitions(inventory: bool, jobs: u64, looks: u64) -> u64 {
    TRANSITIONS_PER_RUN
        + if inventory { TRANSITIONS_INVENTORY } else { 0 }
        + TRANSITIONS_PER_JOB * jobs
        + TRANSITIONS_PER_LOOK * looks
}

/// The copy worker's memory (template.yaml, CopyWorkerFunction `MemorySize`).
pub const WORKER_MEMORY_MB: u64 = 512;

/// The worker's time per object (a HEAD or two and a COPY of an object up to 5 GB), in
/// milliseconds: an assumption, not a measurement on AWS (ferry counts invocations, not their
/// durations; Lambda's own metrics have them). `ferry plan --estimate --worker-ms` changes it.
pub const ASSUMED_WORKER_MS: u64 = 100;

/// One price of the data.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Price {
    pub price: f64,
    pub per: u64,
    pub unit: String,
    pub source: String,
    pub quote: String,
    pub read: String,
    #[serde(default)]
    pub as_of: Option<String>,
}

#[derive(Deserialize)]
struct PriceFile {
    regions: BTreeMap<String, BTreeMap<String, Price>>,
}

/// The prices of `region` in the data, by item (empty for a Region it does not hold); the data
/// is parsed once per process.
pub fn prices(region: &str) -> BTreeMap<String, Price> {
    static FILE: std::sync::LazyLock<PriceFile> = std::sync::LazyLock::new(|| {
        serde_json::from_str(PRICES).expect("shared/prices.json is valid")
    });
    FILE.regions.get(region).cloned().unwrap_or_default()
}

/// The counts a bill is made of.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    pub jobs: u64,
    pub tasks: u64,
    /// Objects a generated manifest lists the source bucket for, summed over the jobs (flow C).
    pub generated_listed: u64,
    pub copy_requests: u64,
    pub head_requests: u64,
    pub worker_invocations: u64,
    /// The worker's GB-seconds, rounded up.
    pub worker_gb_seconds: u64,
    pub transitions: u64,
    /// Looks at running jobs (DescribeJob), each three transitions.
    #[serde(default)]
    pub looks: u64,
    /// KMS requests S3 makes for SSE-KMS objects (without S3 Bucket Keys).
    pub kms_requests: u64,
    /// Objects an inventory report lists (flow A).
    pub inventory_objects: u64,
}

/// One line of a bill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Line {
    pub item: String,
    pub quantity: u64,
    pub unit: String,
    /// The price per `per` units in USD, as the data writes it; absent: no sourced price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<String>,
    pub per: u64,
    /// USD, to the millionth; absent with the price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// A copy's cost in one Region, line by line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bill {
    pub region: String,
    pub lines: Vec<Line>,
    /// USD, the priced lines only.
    pub total: String,
    /// The items counted that the data has no price for in this Region.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unpriced: Vec<String>,
}

fn usd(amount: f64) -> String {
    format!("{amount:.6}")
}

impl Bill {
    /// The bill of `usage` at `region`'s prices.
    pub fn of(region: &str, usage: &Usage) -> Bill {
        let prices = prices(region);
        let items: [(&str, u64, &str); 10] = [
            ("batchJob", usage.jobs, "S3 Batch Operations jobs"),
            (
                "batchObjects",
                usage.tasks,
                "S3 Batch Operations objects processed",
            ),
            (
                "batchManifest",
                usage.generated_listed,
                "objects listed for generated manifests",
            ),
            ("s3WriteRequests", usage.copy_requests, "COPY requests"),
            (
                "s3ReadRequests",
                usage.head_requests,
                "HEAD requests (the worker's and the verification's)",
            ),
            (
                "lambdaRequests",
                usage.worker_invocations,
                "copy worker invocations",
            ),
            (
                "lambdaArmGbSeconds",
                usage.worker_gb_seconds,
                "copy worker GB-seconds",
            ),
            (
                "stateTransitions",
                usage.transitions,
                "Step Functions state transitions",
            ),
            (
                "kmsRequests",
                usage.kms_requests,
                "KMS requests by S3 (SSE-KMS, no Bucket Key)",
            ),
            (
                "inventoryObjects",
                usage.inventory_objects,
                "objects listed by S3 Inventory",
            ),
        ];
        let mut total = 0.0;
        let mut lines = Vec::new();
        let mut unpriced = Vec::new();
        for (item, quantity, unit) in items {
            if quantity == 0 {
                continue;
            }
            let line = match prices.get(item) {
                Some(p) => {
                    let cost = quantity as f64 * p.price / p.per as f64;
                    total += cost;
                    Line {
                        item: item.into(),
                        quantity,
                        unit: unit.into(),
                        price: Some(format!("{}", p.price)),
                        per: p.per,
                        cost: Some(usd(cost)),
                        source: Some(p.source.clone()),
                    }
                }
                None => {
                    unpriced.push(item.to_string());
                    Line {
                        item: item.into(),
                        quantity,
                        unit: unit.into(),
                        price: None,
                        per: 1,
                        cost: None,
                        source: None,
                    }
                }
            };
            lines.push(line);
        }
        Bill {
            region: region.into(),
            lines,
            total: usd(total),
            unpriced,
        }
    }

    /// The bill as text: a line per item, then the total.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for l in &self.lines {
            match (&l.price, &l.cost) {
                (Some(price), Some(cost)) => out.push_str(&format!(
                    "  {:<58} {:>14}  x ${price} per {}  = ${cost}\n      ({})\n",
                    l.unit,
                    l.quantity,
                    l.per,
                    l.source.as_deref().unwrap_or_default()
                )),
                _ => out.push_str(&format!(
                    "  {:<58} {:>14}  no sourced price for {} (shared/prices.json): not in the total\n",
                    l.unit, l.quantity, self.region
                )),
            }
        }
        out.push_str(&format!("  total (priced lines) {}\n", self.summary()));
        out
    }

    /// `$<total> in <region>`, and the items it leaves out for want of a sourced price.
    pub fn summary(&self) -> String {
        let without = if self.unpriced.is_empty() {
            String::new()
        } else {
            format!(", without {} (no sourced price)", self.unpriced.join(", "))
        };
        format!("${} in {}{without}", self.total, self.region)
    }
}

/// What a planned copy will do, for the estimate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Planned {
    pub objects: u64,
    /// Objects over 5 GB (the copy worker copies them, part by part).
    pub large: u64,
    /// Objects already at the destination, identical (a re-run with `skip-identical`).
    pub identical: u64,
    /// Objects in the source bucket (flow C lists it all for each generated manifest).
    pub bucket_objects: u64,
    /// Whether the destination prefix holds objects (then `refuse` and `skip-identical` look
    /// before each write, through the worker).
    pub occupied: bool,
    /// The worker's time per object, in milliseconds: an assumption, not a measurement.
    pub worker_ms: u64,
}

impl Usage {
    /// The counts of one run of `req` as `p` describes it.
    pub fn planned(req: &CopyRequest, p: &Planned) -> Usage {
        let mut u = Usage::default();
        let through_worker = req.destination.existing != Existing::Overwrite && p.occupied;
        let copied = p.objects.saturating_sub(p.identical);
        u.jobs += 1;
        u.tasks += p.objects;
        if through_worker {
            u.worker_invocations += p.objects;
            u.head_requests += 2 * p.objects;
        } else if p.large > 0 {
            // S3PutObjectCopy fails them; the worker's job copies them.
            u.jobs += 1;
            u.tasks += p.large;
            u.worker_invocations += p.large;
            u.head_requests += 2 * p.large;
        }
        u.copy_requests += copied;
        if req.verifies() {
            u.jobs += 1;
            u.tasks += p.objects;
            u.worker_invocations += p.objects;
            u.head_requests += 2 * p.objects;
        }
        match req.flow() {
            Flow::Inventory => u.inventory_objects = p.objects,
            Flow::Generated => {
                // Two more jobs, each generating its manifest from the bucket as the copy
                // job does: the objects over 5 GiB (submitted even when there is none) and the
                // census of the archived ones (cancelled once counted; counted here as a job,
                // the reading that costs more). The verification reads the copy's manifest.
                if p.large == 0 {
                    u.jobs += 1;
                }
                u.jobs += 1;
                u.generated_listed = 3 * p.bucket_objects.max(p.objects);
            }
            Flow::Csv => {}
        }
        if req.destination.encryption.is_some() {
            u.kms_requests += copied;
        }
        u.worker_gb_seconds = gb_seconds(u.worker_invocations, p.worker_ms);
        let looks_per_job = crate::job::schedule::rounds_to_cover(
            req.timing.poll_seconds,
            req.timing.max_poll_seconds,
            ASSUMED_JOB_SECONDS,
        );
        u.looks = looks_per_job * u.jobs;
        u.transitions = transitions(req.flow() == Flow::Inventory, u.jobs, u.looks);
        u
    }
}

/// GB-seconds of `invocations` of the worker taking `ms` each, rounded up.
pub fn gb_seconds(invocations: u64, ms: u64) -> u64 {
    let mb_ms = u128::from(invocations) * u128::from(ms) * u128::from(WORKER_MEMORY_MB);
    u64::try_from(mb_ms.div_ceil(1024 * 1000)).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(existing: &str, verify: Option<bool>) -> CopyRequest {
        let mut raw: serde_json::Value =
            serde_json::from_str(include_str!("../fixtures/request-csv.json")).unwrap();
        raw["destination"]["existing"] = existing.into();
        if let Some(v) = verify {
            raw["verify"] = serde_json::json!({ "enabled": v });
        }
        CopyRequest::from_value(&raw).unwrap()
    }

    /// The case, worked out by hand with us-east-1's prices: 100 million objects of
    /// 1 MB, `overwrite` without verification, into an empty prefix: one job ($0.25), 100
    /// million objects processed ($1.00 per million: $100), 100 million COPY requests
    /// ($0.005 per 1,000: $500), 16 + 7 + 3 x 9 transitions (nine looks cover an hour from the
    /// fixture's `pollSeconds` 60: 60, 90, 135, 203, 305, 458, 687, 900, 900 s) ($0.025 per
    /// 1,000: $0.00125).
    #[test]
    fn the_bill_of_100_million_objects_by_hand() {
        let planned = Planned {
            objects: 100_000_000,
            worker_ms: 100,
            ..Default::default()
        };
        let usage = Usage::planned(&request("overwrite", Some(false)), &planned);
        assert_eq!(
            (usage.jobs, usage.tasks, usage.copy_requests),
            (1, 100_000_000, 100_000_000)
        );
        assert_eq!((usage.looks, usage.transitions), (9, 50));
        let bill = Bill::of("us-east-1", &usage);
        let cost = |item: &str| {
            bill.lines
                .iter()
                .find(|l| l.item == item)
                .unwrap()
                .cost
                .clone()
                .unwrap()
        };
        assert_eq!(cost("batchJob"), "0.250000");
        assert_eq!(cost("batchObjects"), "100.000000");
        assert_eq!(cost("s3WriteRequests"), "500.000000");
        assert_eq!(cost("stateTransitions"), "0.001250");
        assert_eq!(bill.total, "600.251250");
        assert!(bill.unpriced.is_empty());
        // With the verification (the default of `refuse`): a second job, 100 million more
        // objects processed, an invocation and two HEADs each, and 100 ms at 512 MB each:
        // 5,000,000 GB-s at $0.000013336.
        let usage = Usage::planned(&request("refuse", None), &planned);
        assert_eq!(
            (usage.jobs, usage.worker_invocations, usage.head_requests),
            (2, 100_000_000, 200_000_000)
        );
        assert_eq!(usage.worker_gb_seconds, 5_000_000);
        let bill = Bill::of("us-east-1", &usage);
        // 0.50 + 200 + 500 + 80 (HEADs) + 20 (invocations) + 66.68 (GB-s) + 0.0021 (16 + 2 x 7
        // + 18 x 3 = 84 transitions)
        assert_eq!(bill.total, "867.182100");
    }

    #[test]
    fn a_region_without_sourced_prices_says_which_lines_it_leaves_out() {
        let usage = Usage::planned(
            &request("overwrite", Some(false)),
            &Planned {
                objects: 1_000_000,
                ..Default::default()
            },
        );
        let bill = Bill::of("eu-west-1", &usage);
        assert_eq!(
            bill.unpriced,
            ["batchJob", "batchObjects", "s3WriteRequests"]
        );
        assert_eq!(bill.total, "0.001250");
        assert!(
            bill.render().contains("no sourced price for eu-west-1"),
            "{}",
            bill.render()
        );
        // Every price of the data has its source and words.
        for region in ["us-east-1", "eu-west-1"] {
            for (item, p) in prices(region) {
                assert!(
                    !p.source.is_empty() && !p.quote.is_empty() && !p.read.is_empty(),
                    "{region} {item}"
                );
            }
        }
    }

    #[test]
    fn a_skip_identical_rerun_copies_nothing_and_pays_the_looks() {
        let planned = Planned {
            objects: 1_000_000,
            identical: 1_000_000,
            occupied: true,
            worker_ms: 100,
            ..Default::default()
        };
        let usage = Usage::planned(&request("skip-identical", None), &planned);
        assert_eq!(usage.copy_requests, 0);
        assert_eq!(
            (usage.jobs, usage.worker_invocations, usage.head_requests),
            (2, 2_000_000, 4_000_000)
        );
    }
}
