//! What a job runs: S3PutObjectCopy, the copy worker, the copy worker verifying, or a restore. In the JSON
//! the state machine passes (job records, retry manifests) it stays the two flags `worker` and
//! `verify` it always was; in the code it is one value, so that a verification that does not
//! run the worker cannot be written.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "JobKindFlags", into = "JobKindFlags")]
pub enum JobKind {
    /// S3 Batch Operations' own S3PutObjectCopy.
    #[default]
    Copy,
    /// The copy worker (LambdaInvoke): objects over 5 GB, or a look before each write.
    Worker,
    /// The copy worker in verify mode: every object checked at the destination, none copied.
    Verify,
    /// S3InitiateRestoreObject on a restore manifest (`source.archived: restore`).
    Restore,
}

impl JobKind {
    /// Whether the job invokes the copy worker (LambdaInvoke).
    pub fn runs_worker(self) -> bool {
        matches!(self, JobKind::Worker | JobKind::Verify)
    }

    /// Whether the job restores archived objects (it copies nothing).
    pub fn restores(self) -> bool {
        self == JobKind::Restore
    }

    /// Whether the job only verifies.
    pub fn verifies(self) -> bool {
        self == JobKind::Verify
    }
}

/// The JSON form.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
struct JobKindFlags {
    #[serde(default)]
    worker: bool,
    #[serde(default)]
    verify: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    restore: bool,
}

impl From<JobKindFlags> for JobKind {
    /// A verification runs the worker whatever `worker` says.
    fn from(f: JobKindFlags) -> JobKind {
        match (f.worker, f.verify, f.restore) {
            (_, true, _) => JobKind::Verify,
            (true, false, _) => JobKind::Worker,
            (false, false, true) => JobKind::Restore,
            (false, false, false) => JobKind::Copy,
        }
    }
}

impl From<JobKind> for JobKindFlags {
    fn from(k: JobKind) -> JobKindFlags {
        JobKindFlags {
            worker: k.runs_worker(),
            verify: k.verifies(),
            restore: k.restores(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Holder {
        key: String,
        #[serde(flatten)]
        kind: JobKind,
    }

    #[test]
    fn the_kind_passes_as_the_two_flags() {
        for (kind, worker, verify) in [
            (JobKind::Copy, false, false),
            (JobKind::Worker, true, false),
            (JobKind::Verify, true, true),
        ] {
            let held = Holder {
                key: "k".into(),
                kind,
            };
            let value = json!({"key": "k", "worker": worker, "verify": verify});
            assert_eq!(serde_json::to_value(&held).unwrap(), value);
            assert_eq!(serde_json::from_value::<Holder>(value).unwrap(), held);
        }
        // Older records without the flags are copies; a verification always runs the worker.
        let bare: Holder = serde_json::from_value(json!({"key": "k"})).unwrap();
        assert_eq!(bare.kind, JobKind::Copy);
        let odd: Holder =
            serde_json::from_value(json!({"key": "k", "worker": false, "verify": true})).unwrap();
        assert_eq!(odd.kind, JobKind::Verify);
        // A restore job carries a third flag, absent from every other kind's JSON.
        let restore = Holder {
            key: "k".into(),
            kind: JobKind::Restore,
        };
        let value = json!({"key": "k", "worker": false, "verify": false, "restore": true});
        assert_eq!(serde_json::to_value(&restore).unwrap(), value);
        assert_eq!(serde_json::from_value::<Holder>(value).unwrap(), restore);
    }
}
