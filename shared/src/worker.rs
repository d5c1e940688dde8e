//! The copy worker's side of S3 Batch Operations' `LambdaInvoke` (invocation schema 2.0): the
//! event a job sends, the answer it expects, the copy's settings passed as `UserArguments`, and
//! how an object is cut into parts for `UploadPartCopy`.
//!
//! The worker copies what S3PutObjectCopy cannot (objects over 5 GB), every byte server side,
//! and can stop before Lambda's timeout and go on in its next invocation: the upload id is
//! recorded under the copy's control prefix, the parts already copied come from ListParts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::request::{CopyRequest, Encryption, Existing, MetadataDirective, StorageClass};

/// The invocation schema ferry's worker speaks (the one that carries `UserArguments` and bucket
/// names instead of ARNs).
pub const INVOCATION_SCHEMA: &str = "2.0";

/// S3's part limits for a multipart upload.
pub const PART_MIN: u64 = 5 * MIB;
pub const PART_MAX: u64 = 5 * 1024 * MIB;
pub const PARTS_MAX: u64 = 10_000;
pub const MIB: u64 = 1024 * 1024;
/// The largest object S3 holds (48.8 TiB: 10,000 parts of 5 GiB).
pub const OBJECT_MAX: u64 = PARTS_MAX * PART_MAX;
/// The largest object a single CopyObject (and S3PutObjectCopy) copies.
pub const COPY_OBJECT_MAX: u64 = 5 * 1024 * MIB;

/// A `LambdaInvoke` job's event, schema 2.0.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkerEvent {
    pub invocation_schema_version: String,
    pub invocation_id: String,
    pub job: WorkerJob,
    pub tasks: Vec<WorkerTask>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkerJob {
    pub id: String,
    #[serde(default)]
    pub user_arguments: BTreeMap<String, String>,
}

/// One task of the event. Which field carries the bucket depends on the schema and, for 2.0, on
/// which AWS source one reads: `s3Bucket` (a bucket name) in AWS-maintained code (Powertools'
/// `s3BatchOperationEventSchemaV2.json`, aws-lambda-go's `S3BatchJobTaskV2`, aws-lambda-java-libs
/// after PR #506, which corrected `s3BucketName`), `s3BucketName` in the S3 User Guide's example,
/// `s3BucketArn` (an ARN) in schema 1.0. The worker reads whichever is there and refuses a task
/// whose fields disagree: see [`WorkerTask::bucket`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkerTask {
    pub task_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_bucket: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_bucket_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_bucket_arn: Option<String>,
    /// URL-encoded, as in the manifest.
    pub s3_key: String,
    #[serde(default)]
    pub s3_version_id: Option<String>,
}

impl WorkerTask {
    /// The task's bucket name, from whichever of `s3Bucket`, `s3BucketName` or `s3BucketArn` the
    /// event carries; an error (naming the fields) when there is none, an ARN is not an S3
    /// bucket's, or two fields name different buckets.
    pub fn bucket(&self) -> Result<String, String> {
        let from_arn = match &self.s3_bucket_arn {
            None => None,
            // `arn:aws:s3:::name`, and in AWS's own examples also
            // `arn:aws:s3:us-east-1:0123456788:name` (aws-lambda-go, aws-lambda-java-libs, the S3
            // User Guide): the bucket is the resource part either way.
            Some(arn) => Some(match arn.splitn(6, ':').collect::<Vec<_>>().as_slice() {
                ["arn", _, "s3", _, _, name] if !name.is_empty() && !name.contains('/') => {
                    name.to_string()
                }
                _ => {
                    return Err(format!(
                        "task {}: s3BucketArn {arn:?} is not an S3 bucket ARN",
                        self.task_id
                    ))
                }
            }),
        };
        let named: Vec<(&str, &String)> = [
            ("s3Bucket", self.s3_bucket.as_ref()),
            ("s3BucketName", self.s3_bucket_name.as_ref()),
            ("s3BucketArn", from_arn.as_ref()),
        ]
        .into_iter()
        .filter_map(|(field, v)| v.map(|v| (field, v)))
        .collect();
        match named.as_slice() {
            [] => Err(format!(
                "task {}: no bucket (none of s3Bucket, s3BucketName, s3BucketArn)",
                self.task_id
            )),
            [(_, first), rest @ ..] => match rest.iter().find(|(_, v)| v != first) {
                Some((field, other)) => Err(format!(
                    "task {}: {} names {first:?} but {field} names {other:?}",
                    self.task_id, named[0].0
                )),
                None if first.is_empty() => {
                    Err(format!("task {}: {} is empty", self.task_id, named[0].0))
                }
                None => Ok((*first).clone()),
            },
        }
    }
}

/// What the job expects back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkerResponse {
    pub invocation_schema_version: String,
    pub treat_missing_keys_as: ResultCode,
    pub invocation_id: String,
    pub results: Vec<TaskResult>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskResult {
    pub task_id: String,
    pub result_code: ResultCode,
    pub result_string: String,
}

/// A task's outcome: `TemporaryFailure` is invoked again before the job completes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResultCode {
    Succeeded,
    TemporaryFailure,
    PermanentFailure,
}

impl WorkerResponse {
    pub fn new(event: &WorkerEvent, results: Vec<TaskResult>) -> WorkerResponse {
        WorkerResponse {
            invocation_schema_version: INVOCATION_SCHEMA.into(),
            treat_missing_keys_as: ResultCode::PermanentFailure,
            invocation_id: event.invocation_id.clone(),
            results,
        }
    }
}

/// What the worker found of an object, when not simply a copy: the first word of its result
/// string (the completion report's `ResultMessage`), which `job-report` reads back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerOutcome {
    /// The destination already held the source's object: a success, not copied.
    Identical,
    /// Another object there was left alone (`destination.existing` refuse).
    Refused,
    /// A verification: the object is at the destination as it is at the source.
    Verified,
    /// A verification: the object is not at the destination.
    Missing,
    /// A verification: the object is there, but not the same.
    Different,
}

impl WorkerOutcome {
    pub const ALL: [WorkerOutcome; 5] = [
        WorkerOutcome::Identical,
        WorkerOutcome::Refused,
        WorkerOutcome::Verified,
        WorkerOutcome::Missing,
        WorkerOutcome::Different,
    ];

    /// How the result string begins.
    pub const fn prefix(self) -> &'static str {
        match self {
            WorkerOutcome::Identical => "identical:",
            WorkerOutcome::Refused => "refused:",
            WorkerOutcome::Verified => "verified:",
            WorkerOutcome::Missing => "missing:",
            WorkerOutcome::Different => "different:",
        }
    }

    /// The result string saying `text`.
    pub fn say(self, text: &str) -> String {
        format!("{} {text}", self.prefix())
    }

    /// The outcome a result string says, if it says one.
    pub fn of(result: &str) -> Option<WorkerOutcome> {
        WorkerOutcome::ALL
            .into_iter()
            .find(|o| result.starts_with(o.prefix()))
    }
}

/// The prefixes, for tests and fixtures that spell result strings.
pub const IDENTICAL: &str = WorkerOutcome::Identical.prefix();
pub const REFUSED: &str = WorkerOutcome::Refused.prefix();
pub const VERIFIED: &str = WorkerOutcome::Verified.prefix();
pub const MISSING: &str = WorkerOutcome::Missing.prefix();
pub const DIFFERENT: &str = WorkerOutcome::Different.prefix();

/// The request's multipart defaults (`multipart.partsInFlight`, `multipart.partMiB`), which
/// the worker applies when a job's arguments leave them out.
pub use crate::request::{PARTS_IN_FLIGHT_DEFAULT, PART_MIB_DEFAULT};

/// The copy's settings, as the worker job passes them in `UserArguments` (at most 10 entries of
/// at most 1,024 characters, string values; the encryption as its request JSON). What
/// S3PutObjectCopy takes from the job's operation, and what to do with existing objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerArguments {
    pub copy_id: String,
    pub destination_bucket: String,
    pub key_prefix: String,
    pub storage_class: StorageClass,
    pub metadata_directive: MetadataDirective,
    pub encryption: Option<Encryption>,
    pub existing: Existing,
    pub parts_in_flight: u16,
    pub part_mib: u32,
    /// Verify mode: check each object at the destination, copy nothing.
    pub verify: bool,
}

impl WorkerArguments {
    pub fn of(req: &CopyRequest) -> WorkerArguments {
        WorkerArguments {
            copy_id: req.copy_id.clone(),
            destination_bucket: req.destination.bucket.clone(),
            key_prefix: req.destination.key_prefix.clone(),
            storage_class: req.destination.storage_class,
            metadata_directive: req.destination.metadata_directive,
            encryption: req.destination.encryption.clone(),
            existing: req.destination.existing,
            parts_in_flight: req.multipart.parts_in_flight,
            part_mib: req.multipart.part_mib,
            verify: false,
        }
    }

    /// As `UserArguments`: empty values are left out (the API takes none).
    pub fn to_map(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        let mut put = |k: &str, v: String| {
            if !v.is_empty() {
                m.insert(k.to_string(), v);
            }
        };
        put("copyId", self.copy_id.clone());
        put("destinationBucket", self.destination_bucket.clone());
        put("keyPrefix", self.key_prefix.clone());
        put("storageClass", enum_str(&self.storage_class));
        put("metadataDirective", enum_str(&self.metadata_directive));
        if let Some(e) = &self.encryption {
            put(
                "encryption",
                serde_json::to_string(e).expect("encryption serializes"),
            );
        }
        put("existing", self.existing.as_str().to_string());
        put("partsInFlight", self.parts_in_flight.to_string());
        put("partMiB", self.part_mib.to_string());
        if self.verify {
            put("mode", "verify".into());
        }
        m
    }

    /// From a job's `UserArguments`; the error names the argument.
    pub fn from_map(m: &BTreeMap<String, String>) -> Result<WorkerArguments, String> {
        let get = |k: &str| m.get(k).cloned().unwrap_or_default();
        let required = |k: &str| {
            m.get(k)
                .cloned()
                .ok_or_else(|| format!("UserArguments.{k} is missing"))
        };
        let storage_class = enum_of("storageClass", &required("storageClass")?)?;
        let metadata_directive = enum_of("metadataDirective", &required("metadataDirective")?)?;
        let encryption = match m.get("encryption") {
            None => None,
            Some(v) => Some(
                serde_json::from_str(v).map_err(|e| format!("UserArguments.encryption: {e}"))?,
            ),
        };
        let existing = match m.get("existing") {
            None => Existing::default(),
            Some(v) => enum_of("existing", v)?,
        };
        let number = |k: &str, default: u64, range: std::ops::RangeInclusive<u64>| {
            let n = match m.get(k) {
                None => default,
                Some(v) => v
                    .parse::<u64>()
                    .map_err(|_| format!("UserArguments.{k}: {v:?} is not a number"))?,
            };
            if range.contains(&n) {
                Ok(n)
            } else {
                Err(format!(
                    "UserArguments.{k}: {n} is outside {}..={}",
                    range.start(),
                    range.end()
                ))
            }
        };
        Ok(WorkerArguments {
            copy_id: required("copyId")?,
            destination_bucket: required("destinationBucket")?,
            key_prefix: get("keyPrefix"),
            storage_class,
            metadata_directive,
            encryption,
            existing,
            parts_in_flight: number(
                "partsInFlight",
                PARTS_IN_FLIGHT_DEFAULT.into(),
                1..=PARTS_IN_FLIGHT_MAX.into(),
            )? as u16,
            part_mib: number(
                "partMiB",
                PART_MIB_DEFAULT.into(),
                (PART_MIN / MIB)..=(PART_MAX / MIB),
            )? as u32,
            verify: match m.get("mode").map(String::as_str) {
                None | Some("copy") => false,
                Some("verify") => true,
                Some(other) => {
                    return Err(format!(
                        "UserArguments.mode: {other:?} is neither copy nor verify"
                    ))
                }
            },
        })
    }
}

impl crate::request::Multipart {
    /// What breaks S3's limits or the worker's: (field, rule) each.
    pub(crate) fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if !(1..=PARTS_IN_FLIGHT_MAX).contains(&self.parts_in_flight) {
            out.push((
                "multipart.partsInFlight",
                format!(
                    "must be between 1 and {PARTS_IN_FLIGHT_MAX} (got {})",
                    self.parts_in_flight
                ),
            ));
        }
        let (low, high) = (PART_MIN / MIB, PART_MAX / MIB);
        if !(low..=high).contains(&u64::from(self.part_mib)) {
            out.push((
                "multipart.partMiB",
                format!(
                    "must be between {low} and {high} (S3's part sizes, 5 MiB to 5 GiB; got {})",
                    self.part_mib
                ),
            ));
        }
        out
    }
}

/// The most parts one worker copies at once.
pub const PARTS_IN_FLIGHT_MAX: u16 = 64;

fn enum_of<T: serde::de::DeserializeOwned>(k: &str, v: &str) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::String(v.to_string()))
        .map_err(|e| format!("UserArguments.{k}: {e}"))
}

/// A request enum as the API spells it (its serde name: `STANDARD_IA`, `COPY`, `refuse`).
pub fn enum_str<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// One part of a multipart copy: its number (from 1) and its inclusive byte range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part {
    pub number: i32,
    pub first: u64,
    pub last: u64,
}

impl Part {
    /// `CopySourceRange`'s value.
    pub fn range(&self) -> String {
        format!("bytes={}-{}", self.first, self.last)
    }
}

/// The part size for an object of `size` bytes: the one asked for (in MiB), raised to what keeps
/// the parts at 10,000 or fewer (whole MiB), within S3's 5 MiB..5 GiB.
pub fn part_size(size: u64, asked_mib: u32) -> u64 {
    let asked = u64::from(asked_mib) * MIB;
    let needed = size.div_ceil(PARTS_MAX).div_ceil(MIB) * MIB;
    asked.max(needed).clamp(PART_MIN, PART_MAX)
}

/// The parts of an object of `size` bytes (at least one byte) cut at `part_size`.
pub fn parts(size: u64, part_size: u64) -> Vec<Part> {
    let count = size.div_ceil(part_size);
    (0..count)
        .map(|i| Part {
            number: (i + 1) as i32,
            first: i * part_size,
            last: ((i + 1) * part_size).min(size) - 1,
        })
        .collect()
}

/// The key under which an upload of the copy is recorded (its upload id, part size and the
/// source's ETag): one per source object and version, whatever its key's characters.
pub fn upload_record_key(
    control_prefix: &str,
    bucket: &str,
    key: &str,
    version: Option<&str>,
) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{bucket}/{key}?{}", version.unwrap_or("")).as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("{control_prefix}uploads/{hex}.json")
}

/// What the worker records about an upload it started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadRecord {
    pub upload_id: String,
    pub bucket: String,
    pub key: String,
    pub part_size: u64,
    pub size: u64,
    /// The source's ETag when the upload began: a source changed since starts over.
    pub source_etag: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_outcome_reads_back_from_what_it_says() {
        for o in WorkerOutcome::ALL {
            assert_eq!(
                WorkerOutcome::of(&o.say("s3://dst-photos/a.jpg: x")),
                Some(o)
            );
        }
        assert_eq!(WorkerOutcome::of("copied with CopyObject (5 bytes)"), None);
        assert_eq!(
            WorkerOutcome::of("missing"),
            None,
            "the prefix ends with its colon"
        );
    }

    #[test]
    fn parts_cover_every_byte_once_within_s3s_limits() {
        for (size, asked) in [
            (1u64, 256u32),
            (PART_MIN, 5),
            (PART_MIN + 1, 5),
            (6 * 1024 * MIB, 256),
            (OBJECT_MAX, 5),
            (12_345_678_901, 5),
        ] {
            let p = part_size(size, asked);
            let all = parts(size, p);
            assert!((PART_MIN..=PART_MAX).contains(&p), "{size}: {p}");
            assert!(all.len() as u64 <= PARTS_MAX, "{size}: {} parts", all.len());
            assert_eq!(all[0].first, 0);
            assert_eq!(all.last().unwrap().last, size - 1);
            for w in all.windows(2) {
                assert_eq!(w[1].first, w[0].last + 1);
                assert_eq!(w[1].number, w[0].number + 1);
                assert_eq!(
                    w[0].last - w[0].first + 1,
                    p,
                    "every part but the last is whole"
                );
            }
        }
        assert_eq!(part_size(6 * 1024 * MIB, 256), 256 * MIB);
        assert_eq!(parts(6 * 1024 * MIB, 256 * MIB).len(), 24);
        // 48.8 TiB needs 5 GiB parts whatever was asked.
        assert_eq!(part_size(OBJECT_MAX, 5), PART_MAX);
        assert_eq!(parts(10, 5 * MIB)[0].range(), "bytes=0-9");
    }

    #[test]
    fn the_answer_echoes_the_invocation_and_misses_nothing() {
        // Powertools for AWS Lambda's schema 2.0 test event (the contract corpus).
        let event: WorkerEvent = serde_json::from_str(include_str!(
            "../fixtures/contract/batch-invoke-event/2.0-powertools.json"
        ))
        .unwrap();
        assert_eq!(event.tasks[0].bucket().unwrap(), "powertools-dataset");
        let answer = WorkerResponse::new(
            &event,
            vec![TaskResult {
                task_id: event.tasks[0].task_id.clone(),
                result_code: ResultCode::TemporaryFailure,
                result_string: "continues".into(),
            }],
        );
        let v = serde_json::to_value(&answer).unwrap();
        assert_eq!(v["treatMissingKeysAs"], "PermanentFailure");
        assert_eq!(v["invocationId"], event.invocation_id);
        assert_eq!(v["results"][0]["resultCode"], "TemporaryFailure");
    }

    #[test]
    fn a_task_whose_bucket_fields_disagree_or_are_missing_is_refused() {
        let task = |bucket: Option<&str>, name: Option<&str>, arn: Option<&str>| WorkerTask {
            task_id: "t".into(),
            s3_bucket: bucket.map(str::to_string),
            s3_bucket_name: name.map(str::to_string),
            s3_bucket_arn: arn.map(str::to_string),
            s3_key: "k".into(),
            s3_version_id: None,
        };
        assert_eq!(task(Some("a"), None, None).bucket().unwrap(), "a");
        assert_eq!(task(None, Some("a"), None).bucket().unwrap(), "a");
        assert_eq!(
            task(None, None, Some("arn:aws:s3:::a")).bucket().unwrap(),
            "a"
        );
        assert_eq!(
            task(Some("a"), None, Some("arn:aws:s3:::a"))
                .bucket()
                .unwrap(),
            "a"
        );
        assert_eq!(
            task(Some("a"), Some("b"), None).bucket().unwrap_err(),
            "task t: s3Bucket names \"a\" but s3BucketName names \"b\""
        );
        assert!(task(None, None, None)
            .bucket()
            .unwrap_err()
            .contains("no bucket"));
        assert!(task(None, None, Some("arn:aws:s3:::a/k"))
            .bucket()
            .unwrap_err()
            .contains("not an S3 bucket ARN"));
        assert!(task(None, None, Some("arn:aws:sqs:::a")).bucket().is_err());
        assert!(task(Some(""), None, None).bucket().is_err());
    }

    #[test]
    fn arguments_fit_user_arguments_and_come_back() {
        let mut req = CopyRequest::from_json(include_str!("../fixtures/request-csv.json")).unwrap();
        req.destination.key_prefix = "copied/".into();
        req.destination.existing = Existing::SkipIdentical;
        req.destination.encryption = Some(Encryption {
            kind: crate::request::EncryptionType::SseKms,
            kms_key_arn: Some(format!(
                "arn:aws:kms:eu-west-1:222222222222:key/{}",
                "f".repeat(36)
            )),
            bucket_key_enabled: true,
        });
        let args = WorkerArguments::of(&req);
        let map = args.to_map();
        assert!(map.len() <= 10, "{map:?}");
        assert!(map
            .iter()
            .all(|(k, v)| k.len() <= 64 && !v.is_empty() && v.len() <= 1024));
        assert_eq!(WorkerArguments::from_map(&map).unwrap(), args);
        let mut broken = map.clone();
        broken.insert("partsInFlight".into(), "0".into());
        assert_eq!(
            WorkerArguments::from_map(&broken).unwrap_err(),
            "UserArguments.partsInFlight: 0 is outside 1..=64"
        );
        broken.remove("copyId");
        assert_eq!(
            WorkerArguments::from_map(&broken).unwrap_err(),
            "UserArguments.copyId is missing"
        );
    }

    #[test]
    fn upload_records_are_one_per_object_version() {
        let a = upload_record_key("control/c/", "b", "k", None);
        assert!(a.starts_with("control/c/uploads/") && a.ends_with(".json"));
        assert_ne!(a, upload_record_key("control/c/", "b", "k", Some("v1")));
        assert_ne!(a, upload_record_key("control/c/", "b", "k2", None));
    }
}
