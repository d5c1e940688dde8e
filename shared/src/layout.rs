//! The ferry bucket's layout: every key and name in it, at the level it is known (the stack, a
//! configuration id, a copy, a run, a job). Nothing else in ferry spells these shapes; the
//! readers and writers of the control objects are in [`crate::control`].
//!
//! ```text
//! ferry-<account>-<region>/                    ferry_bucket_name
//!   inventory/<source-bucket>/<config-id>/     CopyLayout::inventory_location (S3 writes)
//!     <date>/manifest.json, manifest.checksum    CopyLayout::is_inventory_manifest_key
//!     data/*.csv.gz
//!   control/<copyId>/plan.json                 CopyLayout::plan_key (immutable once written)
//!   control/<copyId>/run-<n>/job-<m>.json      CopyLayout::job_record_key
//!   control/waiters/<config-id>/<run>.json     waiter_key (an inventory wait's task token)
//!   retry/<copyId>/run-<n>/job-<m>.csv         CopyLayout::retry_manifest_key
//!   reports/<copyId>/run-<n>/job-<id>/...      CopyLayout::job_report_prefix (report.prefix)
//! ```
//!
//! `<config-id>` is `ferry-<destination account>-<copyId>` ([`inventory_config_id`]): the id
//! of the copy's inventory configuration on its source bucket, which copies into other
//! destination accounts may share.

use serde::{Deserialize, Serialize};

use crate::ids::{Attempt, ExecutionName};

/// Prefix of the ferry bucket under which S3 Inventory delivers reports.
pub const INVENTORY_PREFIX: &str = "inventory";
/// Prefix of the ferry bucket that holds stored plans, waiters and job records.
pub const CONTROL_PREFIX: &str = "control";
/// Prefix of the ferry bucket that holds the retry manifests ferry writes.
pub const RETRY_PREFIX: &str = "retry";
/// Default prefix of completion reports.
pub const REPORT_PREFIX: &str = "reports";
/// The kinds of archived object a restore manifest holds (`restore-<kind>.csv`): Glacier
/// Flexible Retrieval and Deep Archive, and Intelligent-Tiering's archive tiers.
pub const RESTORE_CLASSES: [&str; 2] = ["glacier", "tiering"];
/// Every inventory configuration ferry creates has an id that starts with this.
pub const INVENTORY_CONFIG_PREFIX: &str = "ferry-";

/// The ferry bucket of the destination stack in `account` and `region`: `ferry-<account>-<region>`
/// (the template's `FerryBucket`).
pub fn ferry_bucket_name(account: &str, region: &str) -> String {
    format!("ferry-{account}-{region}")
}

/// The id of a copy's S3 Inventory configuration on its source bucket:
/// `ferry-<destination account>-<copyId>` (at most 6 + 12 + 1 + 40 = 59 characters; S3 allows
/// 64). The destination account keeps apart the configurations of two destination accounts'
/// copies of one source bucket, whatever their copyIds.
pub fn inventory_config_id(destination_account: &str, copy_id: &str) -> String {
    format!("{INVENTORY_CONFIG_PREFIX}{destination_account}-{copy_id}")
}

/// The destination account and copyId of one of ferry's inventory configuration ids.
pub fn parse_inventory_config_id(id: &str) -> Option<(&str, &str)> {
    let rest = id.strip_prefix(INVENTORY_CONFIG_PREFIX)?;
    let account = rest.get(..12)?;
    let copy_id = rest.get(12..)?.strip_prefix('-')?;
    (account.bytes().all(|b| b.is_ascii_digit()) && !copy_id.is_empty())
        .then_some((account, copy_id))
}

/// Whether `id` has the shape of one of ferry's inventory configuration ids.
pub fn is_inventory_config_id(id: &str) -> bool {
    parse_inventory_config_id(id).is_some()
}

/// `control/waiters/<config-id>/`: the waiters of one inventory configuration.
pub fn waiters_prefix(config_id: &str) -> String {
    format!("{CONTROL_PREFIX}/waiters/{config_id}/")
}

/// Where the run `execution` of the copy whose configuration is `config_id` records its wait.
pub fn waiter_key(config_id: &str, execution: &str) -> String {
    format!("{}{execution}.json", waiters_prefix(config_id))
}

/// Whether `key` is exactly a waiter of configuration `config_id`:
/// `control/waiters/<config-id>/<copyId>-<n>.json`, of a copy's run (not a cleanup) whose
/// configuration it is.
pub fn is_waiter_key(key: &str, config_id: &str) -> bool {
    key.strip_prefix(waiters_prefix(config_id).as_str())
        .and_then(|rest| rest.strip_suffix(".json"))
        .and_then(ExecutionName::parse)
        .is_some_and(|e| {
            !e.cleanup
                && parse_inventory_config_id(config_id).is_some_and(|(_, copy)| copy == e.copy_id)
        })
}

/// `inventory/<source-bucket>/<config-id>/`: where S3 Inventory delivers the reports of one
/// configuration on one source bucket (dated folders and `data/` below it).
pub fn inventory_folder(source_bucket: &str, config_id: &str) -> String {
    format!("{INVENTORY_PREFIX}/{source_bucket}/{config_id}/")
}

/// A delivered inventory report, recognised from the key of its `manifest.checksum`:
/// `inventory/<source-bucket>/<config-id>/YYYY-MM-DDTHH-MMZ/manifest.checksum`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    pub source_bucket: String,
    pub config_id: String,
    /// `YYYY-MM-DDTHH-MMZ`
    pub dated: String,
}

impl Delivery {
    /// Reads a decoded object key; `None` when it is not a ferry inventory checksum.
    pub fn from_checksum_key(key: &str) -> Option<Delivery> {
        let rest = key.strip_prefix(INVENTORY_PREFIX)?.strip_prefix('/')?;
        let parts: Vec<&str> = rest.split('/').collect();
        match parts.as_slice() {
            [source, config, dated, "manifest.checksum"]
                if !source.is_empty() && is_inventory_config_id(config) && is_dated(dated) =>
            {
                Some(Delivery {
                    source_bucket: source.to_string(),
                    config_id: config.to_string(),
                    dated: dated.to_string(),
                })
            }
            _ => None,
        }
    }

    /// The `manifest.json` beside the checksum.
    pub fn manifest_key(&self) -> String {
        format!("{}manifest.json", self.folder())
    }

    /// The `manifest.checksum` S3 writes last.
    pub fn checksum_key(&self) -> String {
        format!("{}manifest.checksum", self.folder())
    }

    /// `inventory/<source-bucket>/<config-id>/<dated>/`
    fn folder(&self) -> String {
        format!(
            "{}{}/",
            inventory_folder(&self.source_bucket, &self.config_id),
            self.dated
        )
    }
}

/// `YYYY-MM-DDTHH-MMZ`
pub fn is_dated(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 17
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 | 13 => *c == b'-',
            10 => *c == b'T',
            16 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

/// One copy's keys. `report_base` is the request's `report.prefix` ([`REPORT_PREFIX`] unless
/// the request names another).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CopyLayout<'a> {
    /// The destination account, whose ferry bucket this is.
    pub destination_account: &'a str,
    pub copy_id: &'a str,
    pub report_base: &'a str,
}

impl<'a> CopyLayout<'a> {
    /// The layout of a copy into `destination_account` whose request is not at hand (its
    /// reports at the default prefix).
    pub fn of(destination_account: &'a str, copy_id: &'a str) -> CopyLayout<'a> {
        CopyLayout {
            destination_account,
            copy_id,
            report_base: REPORT_PREFIX,
        }
    }

    /// `control/<copyId>/`: everything ferry records about this copy.
    pub fn control_prefix(&self) -> String {
        format!("{CONTROL_PREFIX}/{}/", self.copy_id)
    }

    /// `control/<copyId>/plan.json`: the stored plan, immutable once written (what a cleanup,
    /// which has only the copy's run name, reads).
    pub fn plan_key(&self) -> String {
        format!("{}plan.json", self.control_prefix())
    }

    /// `control/<copyId>/last-complete.json`: the last run that copied everything.
    pub fn last_complete_key(&self) -> String {
        format!("{}last-complete.json", self.control_prefix())
    }

    /// The record of one job, written as soon as CreateJob answers.
    pub fn job_record_key(&self, attempt: Attempt) -> String {
        format!(
            "{}run-{}/job-{}.json",
            self.control_prefix(),
            attempt.run,
            attempt.job
        )
    }

    /// Whether `key` is exactly one of this copy's job records
    /// (`control/<copyId>/run-<n>/job-<m>.json`, decimal `n` and `m`).
    pub fn is_job_record_key(&self, key: &str) -> bool {
        run_and_job(key, &self.control_prefix(), ".json")
    }

    /// Where the run `execution` of this copy records its inventory wait.
    pub fn waiter_key(&self, execution: &str) -> String {
        waiter_key(&self.inventory_config_id(), execution)
    }

    /// The retry manifest (CSV) of the retryable failures of `attempt`'s predecessor.
    pub fn retry_manifest_key(&self, attempt: Attempt) -> String {
        format!(
            "{}run-{}/job-{}.csv",
            self.retry_prefix(),
            attempt.run,
            attempt.job
        )
    }

    /// The restore manifest (CSV) of run `run`'s archived objects of one class
    /// (`retry/<copyId>/run-<n>/restore-<class>.csv`), under the retry prefix the Batch role
    /// reads already.
    pub fn restore_manifest_key(&self, run: u16, class: &str) -> String {
        debug_assert!(RESTORE_CLASSES.contains(&class));
        format!("{}run-{run}/restore-{class}.csv", self.retry_prefix())
    }

    /// Whether `key` is one of this copy's restore manifests.
    pub fn is_restore_manifest_key(&self, key: &str) -> bool {
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        key.strip_prefix(&self.retry_prefix())
            .and_then(|rest| rest.strip_prefix("run-"))
            .and_then(|rest| rest.split_once("/restore-"))
            .is_some_and(|(run, class)| {
                digits(run)
                    && RESTORE_CLASSES
                        .iter()
                        .any(|c| class.strip_suffix(".csv") == Some(*c))
            })
    }

    /// Prefix of every retry manifest of this copy (the Batch role may read under it).
    pub fn retry_prefix(&self) -> String {
        format!("{RETRY_PREFIX}/{}/", self.copy_id)
    }

    /// Whether `key` is one of this copy's retry manifests (`retry/<copyId>/run-<n>/job-<m>.csv`).
    pub fn is_retry_manifest_key(&self, key: &str) -> bool {
        run_and_job(key, &self.retry_prefix(), ".csv")
    }

    /// Where flow C's job `attempt` has its manifest generated (the job's `ManifestPrefix`):
    /// beside the run's completion reports, `<report prefix>/<copyId>/run-<n>/generated/job-<m>`,
    /// where the Batch role writes already (ferry's permissions boundary fits a managed policy's
    /// 6,144 characters with no prefix of its own for them).
    pub fn generated_manifest_prefix(&self, attempt: Attempt) -> String {
        format!(
            "{}/generated/job-{}",
            self.report_prefix(attempt.run),
            attempt.job
        )
    }

    /// Where the census job of run `run` writes its generated manifest.
    pub fn generated_census_prefix(&self, run: u16) -> String {
        format!("{}/generated/census", self.report_prefix(run))
    }

    /// Completion reports of run `run` land under `<this>/job-<id>/`.
    pub fn report_prefix(&self, run: u16) -> String {
        format!("{}/{}/run-{run}", self.report_base, self.copy_id)
    }

    /// Where S3 Batch Operations writes the completion report of job `job_id` of run `run`.
    pub fn job_report_prefix(&self, run: u16, job_id: &str) -> String {
        format!("{}/job-{job_id}/", self.report_prefix(run))
    }

    /// Prefix of every report of this copy (the Batch role may write under it).
    pub fn report_prefix_all(&self) -> String {
        format!("{}/{}/", self.report_base, self.copy_id)
    }

    /// Where S3 Inventory delivers this copy's reports in the ferry bucket:
    /// `inventory/<source-bucket>/<config-id>/` (dated manifests and `data/` below it).
    pub fn inventory_location(&self, source_bucket: &str) -> String {
        inventory_folder(source_bucket, &self.inventory_config_id())
    }

    /// The id of this copy's inventory configuration ([`inventory_config_id`]).
    pub fn inventory_config_id(&self) -> String {
        inventory_config_id(self.destination_account, self.copy_id)
    }

    /// Whether `key` is a `manifest.json` that S3 Inventory delivered for this copy's
    /// configuration on `source_bucket`: `<inventory_location><date>/manifest.json`, one dated
    /// folder below the location and nothing else.
    pub fn is_inventory_manifest_key(&self, key: &str, source_bucket: &str) -> bool {
        key.strip_prefix(&self.inventory_location(source_bucket))
            .and_then(|rest| rest.strip_suffix("/manifest.json"))
            .is_some_and(|dated| !dated.is_empty() && !dated.contains('/') && dated != "data")
    }
}

/// Whether `key` is exactly `<prefix>run-<n>/job-<m><suffix>` with decimal `n` and `m`.
fn run_and_job(key: &str, prefix: &str, suffix: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    key.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix("run-"))
        .and_then(|rest| rest.split_once("/job-"))
        .and_then(|(run, job)| Some((run, job.strip_suffix(suffix)?)))
        .is_some_and(|(run, job)| digits(run) && digits(job))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restore_manifests_are_under_the_retry_prefix_and_recognised_exactly() {
        let l = CopyLayout::of("222222222222", "photos-2026");
        let key = l.restore_manifest_key(3, "glacier");
        assert_eq!(key, "retry/photos-2026/run-3/restore-glacier.csv");
        assert!(l.is_restore_manifest_key(&key));
        assert!(l.is_restore_manifest_key("retry/photos-2026/run-3/restore-tiering.csv"));
        for other in [
            "retry/photos-2026/run-3/restore-other.csv",
            "retry/photos-2026/run-x/restore-glacier.csv",
            "retry/photos-2027/run-3/restore-glacier.csv",
            "retry/photos-2026/run-3/restore-glacier.csv.gz",
            "retry/photos-2026/run-3/job-1.csv",
        ] {
            assert!(!l.is_restore_manifest_key(other), "{other}");
        }
        // Not a retry manifest either: job-submit takes neither for the other.
        assert!(!l.is_retry_manifest_key(&key));
    }
    use crate::manifest::decode_key;

    /// The key in an S3 event is URL-encoded; decoded, it names the delivery.
    #[test]
    fn recognises_a_delivery_from_the_s3_event() {
        let event: serde_json::Value =
            serde_json::from_str(include_str!("../fixtures/s3-event-manifest-checksum.json"))
                .unwrap();
        let raw = event["Records"][0]["s3"]["object"]["key"].as_str().unwrap();
        let key = decode_key(raw).unwrap();
        let d = Delivery::from_checksum_key(&key).unwrap();
        assert_eq!(d.source_bucket, "src-photos");
        assert_eq!(d.config_id, "ferry-222222222222-photos-2026");
        assert_eq!(
            d.manifest_key(),
            "inventory/src-photos/ferry-222222222222-photos-2026/2026-11-28T00-00Z/manifest.json"
        );
        assert_eq!(d.checksum_key(), key);
        // A bucket may be named like the file: only the last segment is the file.
        let odd = Delivery::from_checksum_key(
            "inventory/manifest.json/ferry-222222222222-x/2026-11-28T00-00Z/manifest.checksum",
        )
        .unwrap();
        assert_eq!(
            odd.manifest_key(),
            "inventory/manifest.json/ferry-222222222222-x/2026-11-28T00-00Z/manifest.json"
        );
        // moto encodes `/` as %2F too; the decoded key is the same.
        let moto = raw.replace('/', "%2F");
        assert_eq!(
            Delivery::from_checksum_key(&decode_key(&moto).unwrap()),
            Some(d)
        );
        for other in [
            "inventory/src-photos/ferry-222222222222-photos-2026/2026-11-28T00-00Z/manifest.json",
            "inventory/src-photos/someone-else/2026-11-28T00-00Z/manifest.checksum",
            "inventory/src-photos/ferry-222222222222-photos-2026/hive/manifest.checksum",
            "control/src-photos/ferry-222222222222-photos-2026/2026-11-28T00-00Z/manifest.checksum",
        ] {
            assert_eq!(Delivery::from_checksum_key(other), None, "{other}");
        }
    }

    const COPY: CopyLayout<'static> = CopyLayout {
        destination_account: "222222222222",
        copy_id: "photos-2026",
        report_base: REPORT_PREFIX,
    };

    #[test]
    fn keys_of_the_design_example() {
        let at = Attempt { run: 2, job: 1 };
        assert_eq!(
            ferry_bucket_name("222222222222", "eu-west-1"),
            "ferry-222222222222-eu-west-1"
        );
        assert_eq!(COPY.plan_key(), "control/photos-2026/plan.json");
        assert_eq!(COPY, CopyLayout::of("222222222222", "photos-2026"));
        assert_eq!(
            COPY.job_record_key(at),
            "control/photos-2026/run-2/job-1.json"
        );
        assert_eq!(
            COPY.retry_manifest_key(at),
            "retry/photos-2026/run-2/job-1.csv"
        );
        assert_eq!(COPY.report_prefix(2), "reports/photos-2026/run-2");
        assert_eq!(
            COPY.job_report_prefix(2, "f8fb"),
            "reports/photos-2026/run-2/job-f8fb/"
        );
        assert_eq!(
            COPY.inventory_location("src-photos"),
            "inventory/src-photos/ferry-222222222222-photos-2026/"
        );
        assert_eq!(
            COPY.waiter_key("photos-2026-3"),
            "control/waiters/ferry-222222222222-photos-2026/photos-2026-3.json"
        );
    }

    #[test]
    fn keys_of_this_copy_are_recognised_exactly() {
        let loc = COPY.inventory_location("src-photos");
        assert!(COPY.is_inventory_manifest_key(
            &format!("{loc}2026-11-29T01-00Z/manifest.json"),
            "src-photos"
        ));
        for bad in [
            format!("{loc}manifest.json"),
            format!("{loc}a/b/manifest.json"),
            format!("{loc}data/manifest.json"),
            format!("{loc}2026-11-29T01-00Z/manifest.checksum"),
            "inventory/other-bucket/ferry-222222222222-photos-2026/2026-11-29T01-00Z/manifest.json"
                .into(),
            "reports/x/manifest.json".to_string(),
        ] {
            assert!(!COPY.is_inventory_manifest_key(&bad, "src-photos"), "{bad}");
        }
        let at = Attempt { run: 2, job: 1 };
        assert!(COPY.is_retry_manifest_key(&COPY.retry_manifest_key(at)));
        assert!(COPY.is_job_record_key(&COPY.job_record_key(at)));
        for bad in [
            "control/photos-2026/plan.json",
            "control/photos-2026/run-2/job-1.json.bak",
            "control/photos-2026/run-x/job-1.json",
            "control/photos-2026/run-2/job-.json",
        ] {
            assert!(!COPY.is_job_record_key(bad), "{bad}");
        }
        for bad in [
            COPY.retry_prefix() + "run-2/job-1.csv.bak",
            COPY.retry_prefix() + "../control/x.csv",
            "retry/other-copy/run-1/job-1.csv".to_string(),
        ] {
            assert!(!COPY.is_retry_manifest_key(&bad), "{bad}");
        }
        let config = COPY.inventory_config_id();
        assert_eq!(config, "ferry-222222222222-photos-2026");
        assert_eq!(
            parse_inventory_config_id(&config),
            Some(("222222222222", "photos-2026"))
        );
        assert!(is_waiter_key(&COPY.waiter_key("photos-2026-3"), &config));
        for bad in ["photos-2025-1", "photos-2026-cleanup-1", "notes"] {
            assert!(!is_waiter_key(&waiter_key(&config, bad), &config), "{bad}");
        }
        assert!(
            is_inventory_config_id(&config)
                && !is_inventory_config_id("ferry-")
                && !is_inventory_config_id("other")
                // An id of an earlier version (no destination account), or a short account.
                && !is_inventory_config_id("ferry-photos-2026")
                && !is_inventory_config_id("ferry-22222222222-photos")
                && !is_inventory_config_id("ferry-222222222222-")
        );
    }
}
