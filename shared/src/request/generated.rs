//! Flow C's filter (`manifest.filter`): its model, and its rules, each field within what
//! CreateJob's `JobManifestGeneratorFilter` takes, and no filter that lists nothing by
//! construction.

use serde::{Deserialize, Serialize};

use super::validate::Checker;
use super::*;

/// `manifest.filter` of flow C: which of the source's objects (under `source.prefix`) the
/// generated manifest lists. Every field narrows the list; absent fields do not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GeneratedFilter {
    /// Only objects created after this time (RFC 3339 in UTC, `2026-01-31T00:00:00Z`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_after: Option<String>,
    /// Only objects created before this time (RFC 3339 in UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_before: Option<String>,
    /// Only objects larger than this many bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_greater_than_bytes: Option<u64>,
    /// Only objects smaller than this many bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_less_than_bytes: Option<u64>,
    /// Only objects of these storage classes. Absent: every class a copy can read as it is
    /// (all but GLACIER and DEEP_ARCHIVE, whose objects are archived: left out, and counted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_classes: Option<Vec<StorageClass>>,
    /// A scheduled re-run lists only the objects created since the start of the last run of
    /// this copy that copied everything (`createdAfter` then is that time, when later).
    #[serde(default)]
    pub incremental: bool,
    /// An incremental run lists from this many seconds before the last complete run started
    /// (1..=86400): objects written in that second, or stamped by a clock a little behind the
    /// state machine's, are listed again rather than missed (a second copy of the same bytes).
    #[serde(default = "GeneratedFilter::default_overlap")]
    pub overlap_seconds: u64,
}

/// `manifest.filter.overlapSeconds` by default.
pub const OVERLAP_SECONDS_DEFAULT: u64 = 900;
pub const OVERLAP_SECONDS_MAX: u64 = 86_400;

impl Default for GeneratedFilter {
    fn default() -> Self {
        GeneratedFilter {
            created_after: None,
            created_before: None,
            size_greater_than_bytes: None,
            size_less_than_bytes: None,
            storage_classes: None,
            incremental: false,
            overlap_seconds: OVERLAP_SECONDS_DEFAULT,
        }
    }
}

/// The storage classes whose objects must be restored before they can be copied.
pub const ARCHIVED_CLASSES: [StorageClass; 2] = [StorageClass::Glacier, StorageClass::DeepArchive];

/// Whether no object size is both greater than `greater` and less than `less` (read as the
/// words say; see `job::generated` for the bounds AWS leaves unsaid).
pub fn no_size_between(greater: u64, less: u64) -> bool {
    less <= greater.saturating_add(1)
}

impl GeneratedFilter {
    fn default_overlap() -> u64 {
        OVERLAP_SECONDS_DEFAULT
    }

    /// The storage classes the generated manifest matches: the request's, or every class that
    /// can be copied as it is.
    pub fn storage_classes(&self) -> Vec<StorageClass> {
        self.storage_classes.clone().unwrap_or_else(|| {
            StorageClass::ALL
                .into_iter()
                .filter(|c| !ARCHIVED_CLASSES.contains(c))
                .collect()
        })
    }
}

impl CopyRequest {
    pub(super) fn check_generated(&self, v: &mut Checker) {
        let Some(f) = self.manifest.generated_filter() else {
            return;
        };
        let time = |v: &mut Checker, field: &str, text: &Option<String>| {
            let parsed = text.as_deref().map(crate::clock::parse_timestamp);
            match parsed {
                Some(Err(e)) => {
                    v.add(field, e.to_string());
                    None
                }
                Some(Ok(t)) => Some(t),
                None => None,
            }
        };
        let after = time(v, "manifest.filter.createdAfter", &f.created_after);
        let before = time(v, "manifest.filter.createdBefore", &f.created_before);
        if let (Some(a), Some(b)) = (after, before) {
            if a >= b {
                v.add(
                    "manifest.filter.createdBefore",
                    "must be later than manifest.filter.createdAfter: no object is created between them",
                );
            }
        }
        if let (Some(g), Some(l)) = (f.size_greater_than_bytes, f.size_less_than_bytes) {
            if no_size_between(g, l) {
                v.add(
                    "manifest.filter.sizeLessThanBytes",
                    format!("must be more than manifest.filter.sizeGreaterThanBytes + 1 ({}): no object size lies between them", g.saturating_add(1)),
                );
            }
        }
        if f.size_less_than_bytes == Some(0) {
            v.add(
                "manifest.filter.sizeLessThanBytes",
                "must be at least 1: no object is smaller than 0 bytes",
            );
        }
        if let Some(classes) = &f.storage_classes {
            if classes.is_empty() {
                v.add(
                    "manifest.filter.storageClasses",
                    "must name at least one storage class (or be absent: every class that can be copied)",
                );
            }
            for c in classes.iter().filter(|c| ARCHIVED_CLASSES.contains(c)) {
                let name = serde_json::to_value(c)
                    .ok()
                    .and_then(|n| n.as_str().map(str::to_string))
                    .unwrap_or_default();
                v.add(
                    "manifest.filter.storageClasses",
                    format!("{name} objects are archived: a copy cannot read one until it is restored, and a restored one keeps its class; leave {name} out, and copy restored objects with flow A or B"),
                );
            }
        }
        if !(1..=OVERLAP_SECONDS_MAX).contains(&f.overlap_seconds) {
            v.add(
                "manifest.filter.overlapSeconds",
                format!(
                    "must be between 1 and {OVERLAP_SECONDS_MAX} (got {})",
                    f.overlap_seconds
                ),
            );
        }
        if f.incremental && f.created_after.is_some() {
            v.add(
                "manifest.filter.incremental",
                "cannot be combined with manifest.filter.createdAfter: an incremental run lists what was created since the last complete run",
            );
        }
    }
}
