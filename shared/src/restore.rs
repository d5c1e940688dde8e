//! Archived objects (`source.archived: restore`): which objects are archived, the restore
//! manifests ferry writes for them, what S3 says of one being restored, and how long ferry waits.
//!
//! AWS's words behind each rule are in docs/src/archived.md and the sandbox's facts table:
//! - Glacier Flexible Retrieval and Deep Archive objects are restored for a number of days
//!   (`ExpirationInDays`, required); Intelligent-Tiering Archive Access and Deep Archive Access
//!   objects take none ("must not" be given), and one S3InitiateRestoreObject job cannot mix
//!   the two: ferry writes one manifest of each.
//! - A restore is done when HeadObject's `x-amz-restore` says `ongoing-request="false"`.

use serde::{Deserialize, Serialize};

use crate::clock::Epoch;
use crate::request::{CopyRequest, RestoreTier};

/// Which kind of archived object: it decides the restore job's `ExpirationInDays`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ArchiveClass {
    /// `GLACIER` or `DEEP_ARCHIVE`: restored for `source.restore.days`.
    Glacier,
    /// `INTELLIGENT_TIERING` in the Archive Access or Deep Archive Access tier: restored to the
    /// Frequent Access tier, with no days.
    Tiering,
}

impl ArchiveClass {
    pub const ALL: [ArchiveClass; 2] = [ArchiveClass::Glacier, ArchiveClass::Tiering];

    /// The word in a restore manifest's key.
    pub fn label(self) -> &'static str {
        match self {
            ArchiveClass::Glacier => crate::layout::RESTORE_CLASSES[0],
            ArchiveClass::Tiering => crate::layout::RESTORE_CLASSES[1],
        }
    }
}

/// An inventory row's or HeadObject's storage class and Intelligent-Tiering access tier:
/// archived, and of which kind. `access_tier` is the inventory's
/// `IntelligentTieringAccessTier` column or HeadObject's `x-amz-archive-status`.
pub fn archive_class(
    storage_class: Option<&str>,
    access_tier: Option<&str>,
) -> Option<ArchiveClass> {
    match (storage_class, access_tier) {
        (Some("GLACIER" | "DEEP_ARCHIVE"), _) => Some(ArchiveClass::Glacier),
        (Some("INTELLIGENT_TIERING"), Some(tier)) if is_archive_tier(tier) => {
            Some(ArchiveClass::Tiering)
        }
        _ => None,
    }
}

/// The Intelligent-Tiering tiers whose objects must be restored, as the API names them
/// (`ArchiveStatus`, HeadObject's `x-amz-archive-status`; `IntelligentTieringAccessTier`).
pub const TIERING_ARCHIVE_TIERS: [&str; 2] = ["ARCHIVE_ACCESS", "DEEP_ARCHIVE_ACCESS"];

/// Whether an Intelligent-Tiering access tier must be restored. AWS does not document the
/// values of the inventory's `IntelligentTieringAccessTier` column (the User Guide: "Access tier
/// (frequent or infrequent)"), so ferry reads it as failing closed: the API's two archive tiers,
/// and any other value naming an archive tier that is not the instant one (an object restored
/// needlessly fails its restore task with ObjectAlreadyInActiveTierError; one not restored
/// would fail its copy).
pub fn is_archive_tier(tier: &str) -> bool {
    TIERING_ARCHIVE_TIERS.contains(&tier)
        || (tier.to_ascii_uppercase().contains("ARCHIVE")
            && !tier.to_ascii_uppercase().contains("INSTANT"))
}

/// What HeadObject says of an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readable {
    /// A copy can read it: not archived, or restored.
    Yes,
    /// A restore is under way (`ongoing-request="true"`).
    Restoring(ArchiveClass),
    /// Archived, no restore asked for (or it expired).
    Archived(ArchiveClass),
}

/// Reads HeadObject's `x-amz-storage-class`, `x-amz-archive-status` and `x-amz-restore`.
pub fn readable(
    storage_class: Option<&str>,
    archive_status: Option<&str>,
    restore: Option<&str>,
) -> Readable {
    let ongoing = restore.map(|r| r.replace(' ', "").contains("ongoing-request=\"true\""));
    let done = restore.map(|r| r.replace(' ', "").contains("ongoing-request=\"false\""));
    match archive_class(storage_class, archive_status) {
        None => Readable::Yes,
        // A Glacier object stays in its class, restored or not: the restored copy is what a
        // copy reads.
        Some(ArchiveClass::Glacier) if done == Some(true) => Readable::Yes,
        Some(c) if ongoing == Some(true) => Readable::Restoring(c),
        Some(c) => Readable::Archived(c),
    }
}

/// One restore manifest: a CSV (`Bucket,Key`) under the copy's `retry/` prefix.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RestoreManifest {
    pub key: String,
    pub rows: u64,
    /// Its objects' keys ferry looks at to see the restores done: the first, the last and
    /// some between (at most [`SAMPLE`]).
    pub sample: Vec<String>,
}

/// How many of each manifest's objects ferry looks at before it copies.
pub const SAMPLE: usize = 8;

/// The restore phase of a run: the manifests, which job restores which, and when.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Restores {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub glacier: Option<RestoreManifest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tiering: Option<RestoreManifest>,
    /// The class this job restores (on a restore job's record).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restoring: Option<ArchiveClass>,
    /// When the first restore job was submitted.
    pub requested_at: Epoch,
    /// Objects already being restored when ferry looked (not asked again: S3 refuses a second
    /// request while one is under way).
    #[serde(default)]
    pub already_restoring: u64,
    /// The first of them, looked at with the sample.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub restoring_sample: Vec<String>,
}

impl Restores {
    pub fn manifest(&self, class: ArchiveClass) -> Option<&RestoreManifest> {
        match class {
            ArchiveClass::Glacier => self.glacier.as_ref(),
            ArchiveClass::Tiering => self.tiering.as_ref(),
        }
    }

    /// The slot of `class`'s restore manifest.
    pub fn manifest_mut(&mut self, class: ArchiveClass) -> &mut Option<RestoreManifest> {
        match class {
            ArchiveClass::Glacier => &mut self.glacier,
            ArchiveClass::Tiering => &mut self.tiering,
        }
    }

    /// How many objects the restore jobs ask for.
    pub fn objects(&self) -> u64 {
        ArchiveClass::ALL
            .iter()
            .filter_map(|c| self.manifest(*c))
            .map(|m| m.rows)
            .sum()
    }

    /// The class the restore job after `done` restores, if any.
    pub fn after(&self, done: ArchiveClass) -> Option<ArchiveClass> {
        ArchiveClass::ALL
            .into_iter()
            .find(|c| *c > done && self.manifest(*c).is_some())
    }

    /// The first class to restore.
    pub fn first(&self) -> Option<ArchiveClass> {
        ArchiveClass::ALL
            .into_iter()
            .find(|c| self.manifest(*c).is_some())
    }

    /// Every sampled key, each class's in turn, then those being restored already.
    pub fn sample(&self) -> Vec<String> {
        ArchiveClass::ALL
            .iter()
            .filter_map(|c| self.manifest(*c))
            .flat_map(|m| m.sample.iter().cloned())
            .chain(self.restoring_sample.iter().cloned())
            .collect()
    }

    /// Leaves out of `class`'s sample the keys whose restore S3 refused (they stay archived:
    /// waiting for them would last until the deadline), or the whole sample when S3 accepted
    /// none of the class's restores.
    pub fn forget_refused(&mut self, class: ArchiveClass, refused: &[String], accepted: u64) {
        if let Some(m) = self.manifest_mut(class) {
            if accepted == 0 {
                m.sample.clear();
            } else {
                m.sample.retain(|k| !refused.contains(k));
            }
        }
    }

    /// When the slowest restore should be done ([`CopyRequest::restore_slowest`]): archived
    /// objects that fail a copy job before then are tried again after it.
    pub fn done_by(&self, req: &CopyRequest) -> Epoch {
        self.requested_at + secs(req.restore_slowest())
    }

    /// After this, ferry stops waiting: twice the slowest time (S3 gives the times as
    /// "typically" or "within"), or [`LOOKS_MAX`] looks after the first, whichever comes first
    /// (each look is about a dozen of Step Functions' 25,000 history events).
    pub fn deadline(&self, req: &CopyRequest) -> Epoch {
        let documented = self.requested_at + 2 * secs(req.restore_slowest());
        let looks = self.requested_at
            + secs(first_wait(req))
            + secs(req.timing.restore_check_seconds.saturating_mul(LOOKS_MAX));
        documented.min(looks)
    }
}

/// The most looks at the restores before ferry gives up waiting.
pub const LOOKS_MAX: u64 = 1_000;

fn secs(s: u64) -> Epoch {
    i64::try_from(s).unwrap_or(i64::MAX)
}

/// Picks at most [`SAMPLE`] of `n` rows, spread from the first to the last: their indexes.
pub fn sample_indexes(n: usize) -> Vec<usize> {
    if n <= SAMPLE {
        return (0..n).collect();
    }
    let mut picked: Vec<usize> = (0..SAMPLE).map(|i| i * (n - 1) / (SAMPLE - 1)).collect();
    picked.dedup();
    picked
}

/// How long after the restore jobs ended ferry first looks: the request's
/// `timing.restoreWaitSeconds`, else the shortest documented time of the tier.
pub fn first_wait(req: &CopyRequest) -> u64 {
    req.timing
        .restore_wait_seconds
        .unwrap_or_else(|| req.source.restore.tier.documented_hours().0 * 3600)
}

/// "About N to M hours" for `ferry plan` and the logs.
pub fn how_long(tier: RestoreTier) -> String {
    let (low, high) = tier.documented_hours();
    format!(
        "{} restores take {low} to {high} hours as AWS documents them (Flexible Retrieval {}, Deep Archive {})",
        tier.as_str(),
        match tier {
            RestoreTier::Standard => "3-5 hours",
            RestoreTier::Bulk => "5-12 hours",
        },
        match tier {
            RestoreTier::Standard => "within 12 hours",
            RestoreTier::Bulk => "within 48 hours",
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archived_objects_are_told_by_class_and_tier() {
        assert_eq!(
            archive_class(Some("GLACIER"), None),
            Some(ArchiveClass::Glacier)
        );
        assert_eq!(
            archive_class(Some("DEEP_ARCHIVE"), Some("")),
            Some(ArchiveClass::Glacier)
        );
        assert_eq!(
            archive_class(Some("INTELLIGENT_TIERING"), Some("DEEP_ARCHIVE_ACCESS")),
            Some(ArchiveClass::Tiering)
        );
        assert_eq!(archive_class(Some("INTELLIGENT_TIERING"), Some("")), None);
        assert_eq!(archive_class(Some("INTELLIGENT_TIERING"), None), None);
        assert_eq!(archive_class(Some("GLACIER_IR"), None), None);
        assert_eq!(
            archive_class(Some("STANDARD"), Some("ARCHIVE_ACCESS")),
            None
        );
        // Undocumented inventory values fail closed; the instant tier is readable.
        assert_eq!(
            archive_class(Some("INTELLIGENT_TIERING"), Some("DEEP_ARCHIVE")),
            Some(ArchiveClass::Tiering)
        );
        assert_eq!(
            archive_class(Some("INTELLIGENT_TIERING"), Some("ARCHIVE_INSTANT_ACCESS")),
            None
        );
        assert_eq!(
            archive_class(Some("INTELLIGENT_TIERING"), Some("FREQUENT")),
            None
        );
    }

    #[test]
    fn a_restore_is_done_when_s3_says_it_is_no_longer_ongoing() {
        let done = r#"ongoing-request="false", expiry-date="Fri, 21 Dec 2012 00:00:00 GMT""#;
        assert_eq!(readable(Some("GLACIER"), None, Some(done)), Readable::Yes);
        assert_eq!(
            readable(
                Some("DEEP_ARCHIVE"),
                None,
                Some(r#"ongoing-request="true""#)
            ),
            Readable::Restoring(ArchiveClass::Glacier)
        );
        assert_eq!(
            readable(Some("GLACIER"), None, None),
            Readable::Archived(ArchiveClass::Glacier)
        );
        // Intelligent-Tiering: readable once it has left the archive tier.
        assert_eq!(
            readable(Some("INTELLIGENT_TIERING"), None, Some(done)),
            Readable::Yes
        );
        assert_eq!(
            readable(
                Some("INTELLIGENT_TIERING"),
                Some("ARCHIVE_ACCESS"),
                Some(r#"ongoing-request="true""#)
            ),
            Readable::Restoring(ArchiveClass::Tiering)
        );
        assert_eq!(readable(None, None, None), Readable::Yes);
    }

    #[test]
    fn the_sample_spans_the_manifest() {
        assert_eq!(sample_indexes(0), Vec::<usize>::new());
        assert_eq!(sample_indexes(3), vec![0, 1, 2]);
        let s = sample_indexes(1000);
        assert_eq!(s.len(), SAMPLE);
        assert_eq!((s[0], s[SAMPLE - 1]), (0, 999));
        assert!(s.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn the_restore_jobs_run_glacier_first_and_the_deadline_is_the_slowest_twice() {
        let m = || {
            Some(RestoreManifest {
                key: "k".into(),
                rows: 2,
                sample: vec!["a".into()],
            })
        };
        let r = Restores {
            tiering: m(),
            requested_at: 100,
            ..Default::default()
        };
        assert_eq!(r.first(), Some(ArchiveClass::Tiering));
        assert_eq!(r.after(ArchiveClass::Tiering), None);
        let both = Restores {
            glacier: m(),
            ..r.clone()
        };
        assert_eq!(both.first(), Some(ArchiveClass::Glacier));
        assert_eq!(
            both.after(ArchiveClass::Glacier),
            Some(ArchiveClass::Tiering)
        );
        assert_eq!(both.objects(), 4);
        let mut req =
            crate::request::CopyRequest::from_json(include_str!("../fixtures/request-csv.json"))
                .unwrap();
        assert_eq!(both.deadline(&req), 100 + 2 * 48 * 3600);
        assert_eq!(both.done_by(&req), 100 + 48 * 3600);
        req.source.restore.tier = RestoreTier::Standard;
        assert_eq!(both.deadline(&req), 100 + 2 * 12 * 3600);
        // A short look interval gives up after 1,000 looks: the history's events are bounded.
        req.timing.restore_check_seconds = 5;
        req.timing.restore_wait_seconds = Some(10);
        assert_eq!(both.deadline(&req), 100 + 10 + 5_000);
        // The request's own slowest time.
        req.timing.restore_slowest_seconds = Some(60);
        assert_eq!(both.done_by(&req), 160);
        assert_eq!(both.deadline(&req), 220);
    }
}
