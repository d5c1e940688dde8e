//! `source.archived` and `source.restore`: what a copy does with archived objects (S3 Glacier
//! Flexible Retrieval, S3 Glacier Deep Archive, and S3 Intelligent-Tiering's Archive Access and
//! Deep Archive Access tiers), which no copy can read until they are restored. Their rules.

use serde::{Deserialize, Serialize};

use super::validate::Checker;
use super::*;

/// `source.archived`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Archived {
    /// Archived objects are not copied: counted apart, with the first keys, and the copy of
    /// the others goes on.
    #[default]
    Skip,
    /// ferry restores the archived objects of the copy first (an S3InitiateRestoreObject job),
    /// waits until they are readable, and copies them with the rest.
    Restore,
}

/// `source.restore.tier`: the retrieval tier (S3InitiateRestoreObject's `GlacierJobTier`,
/// which takes `BULK` and `STANDARD` only).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RestoreTier {
    #[default]
    Bulk,
    Standard,
}

impl RestoreTier {
    pub fn as_str(self) -> &'static str {
        match self {
            RestoreTier::Bulk => "BULK",
            RestoreTier::Standard => "STANDARD",
        }
    }

    /// The restore times AWS documents for this tier, in hours (shortest, longest):
    /// - Glacier Flexible Retrieval, and Intelligent-Tiering Archive Access: Standard "3-5
    ///   hours", Bulk "5-12 hours";
    /// - Glacier Deep Archive, and Intelligent-Tiering Deep Archive Access: Standard "within 12
    ///   hours", Bulk "within 48 hours"
    ///
    /// (S3 User Guide, restoring-objects-retrieval-options, intelligent-tiering-managing). ferry
    /// does not tell the two apart within a restore manifest: it looks first at the earliest a
    /// restore can be done, and waits as long as the slowest may take.
    pub fn documented_hours(self) -> (u64, u64) {
        match self {
            RestoreTier::Standard => (3, 12),
            RestoreTier::Bulk => (5, 48),
        }
    }
}

/// `source.restore`: how archived objects are restored (with `source.archived: restore`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Restore {
    #[serde(default)]
    pub tier: RestoreTier,
    /// How many days the restored copy of a Glacier Flexible Retrieval or Deep Archive object
    /// stays readable (`ExpirationInDays`). Intelligent-Tiering objects take none: restored,
    /// they move back to the Frequent Access tier.
    #[serde(default = "Restore::default_days")]
    pub days: u32,
}

impl Restore {
    /// Two days: ferry copies the restored objects as soon as it sees them restored (within
    /// `timing.restoreCheckSeconds`), and two days leave a copy job of about a day its retries.
    /// A restored copy is billed per day it stays (docs/src/archived.md).
    pub const DEFAULT_DAYS: u32 = 2;
    /// ferry's own ceiling: a restored copy is a second, billed copy of the object.
    pub const DAYS_MAX: u32 = 30;

    fn default_days() -> u32 {
        Restore::DEFAULT_DAYS
    }
}

impl Default for Restore {
    fn default() -> Self {
        Restore {
            tier: RestoreTier::default(),
            days: Restore::DEFAULT_DAYS,
        }
    }
}

/// The longest `timing.restoreWaitSeconds` / `restoreCheckSeconds` (two days).
pub const RESTORE_WAIT_MAX: u64 = 172_800;

impl CopyRequest {
    /// Whether the copy restores its archived objects first.
    pub fn restores(&self) -> bool {
        self.source.archived == Archived::Restore
    }

    /// Seconds after the first restore job by which the slowest restore should be done:
    /// `timing.restoreSlowestSeconds`, else the tier's slowest documented time.
    pub fn restore_slowest(&self) -> u64 {
        self.timing
            .restore_slowest_seconds
            .unwrap_or(self.source.restore.tier.documented_hours().1 * 3600)
    }

    pub(super) fn check_archived(&self, v: &mut Checker) {
        let r = &self.source.restore;
        if !(1..=Restore::DAYS_MAX).contains(&r.days) {
            v.add(
                "source.restore.days",
                format!(
                    "must be between 1 and {} (got {}): S3 keeps a restored copy this many days, billed as a second copy",
                    Restore::DAYS_MAX,
                    r.days
                ),
            );
        }
        let t = &self.timing;
        if !(1..=RESTORE_WAIT_MAX).contains(&t.restore_check_seconds) {
            v.add(
                "timing.restoreCheckSeconds",
                format!(
                    "must be between 1 and {RESTORE_WAIT_MAX} (got {})",
                    t.restore_check_seconds
                ),
            );
        }
        for (field, value) in [
            ("timing.restoreWaitSeconds", t.restore_wait_seconds),
            ("timing.restoreSlowestSeconds", t.restore_slowest_seconds),
        ] {
            if let Some(w) = value {
                if !(1..=RESTORE_WAIT_MAX).contains(&w) {
                    v.add(
                        field,
                        format!("must be between 1 and {RESTORE_WAIT_MAX} (got {w})"),
                    );
                }
            }
        }
        if self.restores() {
            // The grants are renewed while a job runs, not while the run waits for restores.
            let needed = self
                .restore_slowest()
                .saturating_mul(2)
                .saturating_add(3600);
            if self.timing.grant_lifetime_seconds < needed {
                v.add(
                    "timing.grantLifetimeSeconds",
                    format!(
                        "must be at least {needed} with source.archived restore (got {}): the grants must outlast the wait for the restores (at most twice timing.restoreSlowestSeconds, {} s) and an hour besides; they are renewed while a job runs, not while the run waits",
                        self.timing.grant_lifetime_seconds,
                        self.restore_slowest().saturating_mul(2)
                    ),
                );
            }
            let first = self
                .timing
                .restore_wait_seconds
                .unwrap_or(r.tier.documented_hours().0 * 3600);
            if self.restore_slowest() < first {
                v.add(
                    "timing.restoreSlowestSeconds",
                    format!(
                        "must be at least the first look, timing.restoreWaitSeconds ({first} s; absent, the tier's shortest documented time) (got {}): the slowest restore cannot end before the first look",
                        self.restore_slowest()
                    ),
                );
            }
        }
        if self.restores() && self.flow() == Flow::Generated {
            v.add(
                "source.archived",
                "`restore` needs flow A or B: flow C's manifest is listed by S3 Batch Operations when its copy job is created, after any restore could run, and its filter cannot tell an Intelligent-Tiering object in an archive tier; use flow A (the inventory lists each object's storage class and Intelligent-Tiering tier) or flow B",
            );
        }
    }
}
