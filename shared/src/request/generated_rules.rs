//! The rules of flow C's filter (`manifest.filter`): each field within what CreateJob's
//! `JobManifestGeneratorFilter` takes, and no filter that lists nothing by construction.

use super::validate::Checker;
use super::*;

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
            if l <= g.saturating_add(1) {
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
                    format!("{name} objects are archived: a copy cannot read them until they are restored; restore them first, or leave {name} out"),
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
