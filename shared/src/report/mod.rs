//! Completion reports of S3 Batch Operations: the report's `manifest.json`, the result CSVs it
//! lists, a summary by task status and error code, the split of failures into retryable
//! (throttling, 5xx, timeouts) and permanent (access, missing keys, too large), and the retry
//! manifest of the retryable ones. Rows are read and written as streams.
//!
//! Two things AWS leaves open, handled here on purpose:
//! - Real rows put the HTTP status before the error code (`...,failed,403,AccessDenied,...`;
//!   AWS's own example `...,failed,200,PermanentFailure,...`), against the documented schema
//!   line. A row whose `ErrorCode` is a 3-digit number and whose `HTTPStatusCode` is not (or is
//!   empty) is read swapped, so both orders read the same. A status that is not a number is
//!   dropped rather than failing the summary.
//! - The key encoding of result rows is not documented; ferry reads them URL-encoded, as in the
//!   manifest the job read (unverified), and writes the retry manifest with [`encode_key`].
//!
//! [`encode_key`]: crate::manifest::encode_key

use crate::worker::WorkerOutcome;
use std::collections::BTreeMap;
use std::io::{Read, Write};

use serde::{Deserialize, Serialize};

use crate::inventory::CopyObstacle;
use crate::job::REPORT_FORMAT;
use crate::manifest::{decode_key_into, CsvManifestWriter, ManifestError};

/// How many failed tasks a summary lists by name (the rest are counted): summaries travel in
/// Step Functions payloads, which are limited to 256 KB.
pub const FAILED_SAMPLE_MAX: usize = 25;
/// Result messages are cut to this many characters in summaries.
pub const MESSAGE_MAX: usize = 200;

/// A completion report's top-level `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReportManifest {
    pub format: String,
    pub report_creation_date: String,
    pub results: Vec<ReportResult>,
    pub report_schema: String,
}

/// One result file: `job-<id>/results/<hash>.csv` in the report bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReportResult {
    pub task_execution_status: String,
    pub bucket: String,
    #[serde(rename = "MD5Checksum")]
    pub md5_checksum: String,
    pub key: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("completion report manifest.json: {0}")]
    Json(#[from] serde_json::Error),
    #[error("completion report manifest.json: {0}")]
    Manifest(String),
    #[error("completion report {file}, line {line}: {message}")]
    Row {
        file: String,
        line: u64,
        message: String,
    },
    #[error("completion report: {0}")]
    Csv(#[from] csv::Error),
    #[error("retry manifest: {0}")]
    RetryManifest(#[from] ManifestError),
}

impl ReportManifest {
    pub fn parse(json: &[u8]) -> Result<ReportManifest, ReportError> {
        let m: ReportManifest = serde_json::from_slice(json)?;
        if m.format != REPORT_FORMAT {
            return Err(ReportError::Manifest(format!(
                "Format is {}, expected {REPORT_FORMAT}",
                m.format
            )));
        }
        m.columns()?;
        Ok(m)
    }

    pub fn columns(&self) -> Result<ReportColumns, ReportError> {
        ReportColumns::from_schema(&self.report_schema)
    }

    /// The result files that list failed tasks (the only ones a retry needs).
    pub fn failed_results(&self) -> impl Iterator<Item = &ReportResult> {
        self.results
            .iter()
            .filter(|r| r.task_execution_status == "failed")
    }
}

/// Positions of the columns in result rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportColumns {
    bucket: usize,
    key: usize,
    version_id: Option<usize>,
    task_status: usize,
    error_code: Option<usize>,
    http_status: Option<usize>,
    result_message: Option<usize>,
}

impl ReportColumns {
    pub fn from_schema(schema: &str) -> Result<ReportColumns, ReportError> {
        let names: Vec<&str> = schema.split(',').map(str::trim).collect();
        let find = |n: &str| names.iter().position(|c| *c == n);
        let required = |n: &str| {
            find(n).ok_or_else(|| {
                ReportError::Manifest(format!("ReportSchema `{schema}` has no {n} column"))
            })
        };
        Ok(ReportColumns {
            bucket: required("Bucket")?,
            key: required("Key")?,
            version_id: find("VersionId"),
            task_status: required("TaskStatus")?,
            error_code: find("ErrorCode"),
            http_status: find("HTTPStatusCode"),
            result_message: find("ResultMessage"),
        })
    }

    /// The columns AWS documents, in order.
    pub fn documented() -> ReportColumns {
        ReportColumns::from_schema(
            "Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage",
        )
        .expect("the documented schema has every column")
    }
}

/// One task of a job, as its completion report tells it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskResult {
    pub bucket: String,
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// `succeeded` or `failed`.
    pub task_status: String,
    pub error_code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    pub result_message: String,
}

impl TaskResult {
    pub fn failed(&self) -> bool {
        self.task_status != "succeeded"
    }

    /// The failure's class while the run's grants may still be settling (`settling`: the KMS
    /// keys granted this run): an access refusal ferry's grants explain
    /// ([`settling_refusal`]) is then retried rather than counted permanent or not copyable, as
    /// IAM, S3 and KMS apply new grants after a delay.
    pub fn failure_class_when(&self, settling: Option<&[String]>) -> FailureClass {
        if settling
            .is_some_and(|keys| settling_refusal(&self.error_code, &self.result_message, keys))
        {
            FailureClass::Retryable
        } else {
            self.failure_class()
        }
    }

    pub fn failure_class(&self) -> FailureClass {
        if encryption_obstacle(&self.error_code, &self.result_message).is_some()
            || archived(&self.error_code, &self.result_message)
        {
            return FailureClass::NotCopyable;
        }
        if too_large(&self.error_code, &self.result_message) {
            return FailureClass::TooLarge;
        }
        match WorkerOutcome::of(&self.result_message) {
            Some(WorkerOutcome::Refused) => return FailureClass::Refused,
            Some(WorkerOutcome::Missing | WorkerOutcome::Different) => {
                return FailureClass::Unverified
            }
            _ => {}
        }
        if lambda_timed_out(&self.error_code, &self.result_message) {
            return FailureClass::Retryable;
        }
        classify_failure(&self.error_code, self.http_status)
    }
}

pub use classify::*;

/// The mark on an error code's count of access refusals retried while grants settle
/// (`AccessDenied (grants settling)`).
pub const SETTLING: &str = "(grants settling)";

mod classify;

/// Streams the rows of one result CSV: one line and, with [`ReportRows::read_into`], one task
/// reused for every line (the iterator gives owned tasks, a new one each). Lines are split as
/// `records` describes.
pub struct ReportRows<R: Read> {
    records: crate::records::Records<R>,
    columns: ReportColumns,
    file: String,
}

impl<R: Read> ReportRows<R> {
    /// `file` names the result file in errors.
    pub fn new(reader: R, columns: ReportColumns, file: impl Into<String>) -> Self {
        ReportRows {
            records: crate::records::Records::new(reader),
            columns,
            file: file.into(),
        }
    }

    /// The next task, written over `task` (its strings' allocations reused): `Ok(false)` at the
    /// end of the file.
    pub fn read_into(&mut self, task: &mut TaskResult) -> Result<bool, ReportError> {
        let Some(r) = self.records.next_record()? else {
            return Ok(false);
        };
        let line = r.line;
        let row_error = |message: String| ReportError::Row {
            file: self.file.clone(),
            line,
            message,
        };
        let c = &self.columns;
        let needed = [c.bucket, c.key, c.task_status];
        if needed.iter().any(|&i| i >= r.len()) {
            return Err(row_error(format!("only {} values in the row", r.len())));
        }
        let get = |i: Option<usize>| match i.filter(|&i| i < r.len()).map(|i| r.field(i)) {
            None => Ok(""),
            Some(v) => std::str::from_utf8(v)
                .map_err(|_| row_error(format!("value {} is not UTF-8", i.unwrap_or(0) + 1))),
        };
        let mut code = get(c.error_code)?;
        let mut http = get(c.http_status)?;
        let is_status = |s: &str| s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit());
        if is_status(code) && !is_status(http) {
            std::mem::swap(&mut code, &mut http);
        }
        // A status that is not a number is dropped, not fatal: the row still counts under its
        // error code, and one odd value never fails the whole summary.
        task.http_status = http.parse::<u16>().ok();
        task.error_code.clear();
        task.error_code.push_str(code);
        task.bucket.clear();
        task.bucket.push_str(get(Some(c.bucket))?);
        decode_key_into(get(Some(c.key))?, &mut task.key).map_err(|e| row_error(e.to_string()))?;
        crate::inventory::set(
            &mut task.version_id,
            Some(get(c.version_id)?).filter(|v| !v.is_empty()),
        );
        task.task_status.clear();
        task.task_status.push_str(get(Some(c.task_status))?);
        task.result_message.clear();
        task.result_message.push_str(get(c.result_message)?);
        Ok(true)
    }
}

impl<R: Read> Iterator for ReportRows<R> {
    type Item = Result<TaskResult, ReportError>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut task = TaskResult::default();
        self.read_into(&mut task)
            .map(|more| more.then_some(task))
            .transpose()
    }
}

/// Failures that share one error code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorCount {
    pub count: u64,
    pub class: FailureClass,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// The first message seen with this code, cut to [`MESSAGE_MAX`] characters.
    pub example: String,
}

/// A failed task named in a summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FailedTask {
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    pub error_code: String,
    pub class: FailureClass,
}

/// What a completion report says, counted. Its memory is bounded by the number of distinct
/// error codes and [`FAILED_SAMPLE_MAX`], not by the number of tasks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportSummary {
    /// Tasks the report lists (only failed ones under `FailedTasksOnly`).
    pub tasks: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub retryable: u64,
    /// Of the retryable: refusals while the run's grants may still be taking effect
    /// ([`TaskResult::failure_class_when`]); the next job waits for them.
    #[serde(default)]
    pub settling: u64,
    pub permanent: u64,
    /// Failed for their encryption ([`FailureClass::NotCopyable`]): neither retryable nor
    /// counted as permanent.
    #[serde(default)]
    pub not_copyable: u64,
    /// Over 5 GB ([`FailureClass::TooLarge`]): handed to the copy worker's job.
    #[serde(default)]
    pub too_large: u64,
    /// Archived objects (among the not copyable) of a run that restores them: their restore
    /// was not done yet when the job ran, so the next job tries them again
    /// ([`Summarizer::restoring`]).
    #[serde(default)]
    pub restoring: u64,
    /// Left alone as existing (`destination.existing` refuse), among the failures.
    #[serde(default)]
    pub refused: u64,
    /// Successes that copied nothing: the destination already held the object (the copy
    /// worker's `identical:` results; reports of every task only).
    #[serde(default)]
    pub identical: u64,
    /// A verification's findings: objects as at the source, not there, there but not the same.
    #[serde(default)]
    pub verified: u64,
    #[serde(default)]
    pub missing: u64,
    #[serde(default)]
    pub different: u64,
    pub by_error_code: BTreeMap<String, ErrorCount>,
    /// The first failed tasks, by key.
    pub failed_sample: Vec<FailedTask>,
}

impl ReportSummary {
    /// Counts one task; its failure's class (see [`TaskResult::failure_class_when`]), `None`
    /// for a task that succeeded.
    pub fn add(&mut self, task: &TaskResult, settling: Option<&[String]>) -> Option<FailureClass> {
        self.tasks += 1;
        if !task.failed() {
            self.succeeded += 1;
            match WorkerOutcome::of(&task.result_message) {
                Some(WorkerOutcome::Identical) => self.identical += 1,
                Some(WorkerOutcome::Verified) => self.verified += 1,
                _ => {}
            }
            return None;
        }
        self.failed += 1;
        let class = task.failure_class_when(settling);
        match class {
            FailureClass::Retryable => self.retryable += 1,
            FailureClass::Permanent => self.permanent += 1,
            FailureClass::NotCopyable => self.not_copyable += 1,
            FailureClass::TooLarge => self.too_large += 1,
            FailureClass::Refused => self.refused += 1,
            FailureClass::Unverified
                if WorkerOutcome::of(&task.result_message) == Some(WorkerOutcome::Missing) =>
            {
                self.missing += 1
            }
            FailureClass::Unverified => self.different += 1,
        }
        let obstacle = encryption_obstacle(&task.error_code, &task.result_message)
            .or(too_large(&task.error_code, &task.result_message).then_some(CopyObstacle::TooLarge))
            .or(archived(&task.error_code, &task.result_message).then_some(CopyObstacle::Archived));
        let settling = class == FailureClass::Retryable
            && access_refused(&task.error_code, &task.result_message);
        if settling {
            self.settling += 1;
        }
        let code: std::borrow::Cow<str> = match obstacle {
            // Refused while the run's grants settle: counted apart from a lasting refusal.
            _ if settling => format!("{} {SETTLING}", task.error_code).into(),
            None if class == FailureClass::Refused => {
                format!("{} (existing)", task.error_code).into()
            }
            None if class == FailureClass::Unverified => {
                let what =
                    if WorkerOutcome::of(&task.result_message) == Some(WorkerOutcome::Missing) {
                        "missing"
                    } else {
                        "different"
                    };
                format!("{} ({what})", task.error_code).into()
            }
            // Apart from the same code's other causes (an AccessDenied of a bucket policy).
            Some(o) => format!("{} ({})", task.error_code, o.label()).into(),
            None if task.error_code.is_empty() => "(none)".into(),
            None => std::borrow::Cow::Borrowed(task.error_code.as_str()),
        };
        // Looked up before it is inserted: a code seen before costs no allocation.
        match self.by_error_code.get_mut(code.as_ref()) {
            Some(count) => count.count += 1,
            None => {
                self.by_error_code.insert(
                    code.to_string(),
                    ErrorCount {
                        count: 1,
                        class,
                        http_status: task.http_status,
                        example: task.result_message.chars().take(MESSAGE_MAX).collect(),
                    },
                );
            }
        }
        if self.failed_sample.len() < FAILED_SAMPLE_MAX {
            self.failed_sample.push(FailedTask {
                key: task.key.clone(),
                version_id: task.version_id.clone(),
                error_code: code.into_owned(),
                class,
            });
        }
        Some(class)
    }

    /// The obstacles among the failures that no retry fixes (encryption, archived objects),
    /// each once (to say what to do about them).
    pub fn encryption_obstacles(&self) -> Vec<CopyObstacle> {
        [
            CopyObstacle::SseC,
            CopyObstacle::KmsKey,
            CopyObstacle::Archived,
        ]
        .into_iter()
        .filter(|o| {
            let label = format!("({})", o.label());
            self.by_error_code.keys().any(|c| c.ends_with(&label))
        })
        .collect()
    }

    /// Whether the report's failures are all SSE-C objects (and there is one at least): they
    /// fail until their owner writes them again with another encryption, a new write.
    pub fn only_sse_c_failures(&self) -> bool {
        let label = format!("({})", CopyObstacle::SseC.label());
        self.failed > 0 && self.by_error_code.keys().all(|c| c.ends_with(&label))
    }

    /// Adds another summary (of another result file, or another job of the same copy).
    pub fn merge(&mut self, other: &ReportSummary) {
        self.tasks += other.tasks;
        self.succeeded += other.succeeded;
        self.failed += other.failed;
        self.retryable += other.retryable;
        self.restoring += other.restoring;
        self.settling += other.settling;
        self.permanent += other.permanent;
        self.not_copyable += other.not_copyable;
        self.too_large += other.too_large;
        self.refused += other.refused;
        self.identical += other.identical;
        self.verified += other.verified;
        self.missing += other.missing;
        self.different += other.different;
        for (code, c) in &other.by_error_code {
            self.by_error_code
                .entry(code.clone())
                .and_modify(|mine| mine.count += c.count)
                .or_insert_with(|| c.clone());
        }
        let room = FAILED_SAMPLE_MAX.saturating_sub(self.failed_sample.len());
        self.failed_sample
            .extend(other.failed_sample.iter().take(room).cloned());
    }
}

/// Reads result rows into a summary and, when given a writer, writes the next job's manifest
/// as it goes: every retryable failure (unless told not to: no retry is left) and every object
/// too large for S3PutObjectCopy (for the copy worker, whatever the retries left).
pub struct Summarizer<W: Write> {
    pub summary: ReportSummary,
    retry: Option<CsvManifestWriter<W>>,
    retryable: bool,
    settling: Option<Vec<String>>,
    restoring: bool,
    too_large_rows: u64,
}

impl<W: Write> Summarizer<W> {
    pub fn new(retry_manifest: Option<W>) -> Self {
        Summarizer {
            summary: ReportSummary::default(),
            retry: retry_manifest.map(CsvManifestWriter::new),
            retryable: true,
            settling: None,
            restoring: false,
            too_large_rows: 0,
        }
    }

    /// Only the objects too large for S3PutObjectCopy go to the next job's manifest.
    pub fn too_large_only(mut self) -> Self {
        self.retryable = false;
        self
    }

    /// The job ran while the run's grants may have been settling, with `granted` the KMS keys
    /// granted this run: its refusals that those grants explain are retried
    /// ([`TaskResult::failure_class_when`]).
    pub fn settling(mut self, granted: Vec<String>) -> Self {
        self.settling = Some(granted);
        self
    }

    /// The run restored its archived objects (`source.archived: restore`): an archived object's
    /// failure is a restore not done yet, and goes to the next job's manifest with the
    /// retryable ones.
    pub fn restoring(mut self) -> Self {
        self.restoring = true;
        self
    }

    /// Adds every row of one result file.
    pub fn read<R: Read>(&mut self, mut rows: ReportRows<R>) -> Result<(), ReportError> {
        let mut task = TaskResult::default();
        while rows.read_into(&mut task)? {
            let class = self.summary.add(&task, self.settling.as_deref());
            let Some(w) = &mut self.retry else { continue };
            match class {
                Some(FailureClass::Retryable) if self.retryable => {}
                Some(FailureClass::TooLarge) => self.too_large_rows += 1,
                Some(FailureClass::NotCopyable)
                    if self.restoring
                        && self.retryable
                        && archived(&task.error_code, &task.result_message) =>
                {
                    self.summary.restoring += 1
                }
                _ => continue,
            }
            w.write_row(&task.bucket, &task.key, task.version_id.as_deref())?;
        }
        Ok(())
    }

    /// The summary, and the retry manifest with its row count and whether rows carry version
    /// ids (for the retry job's `Spec.Fields`).
    pub fn finish(self) -> Result<(ReportSummary, Option<RetryManifest<W>>), ReportError> {
        let retry = match self.retry {
            None => None,
            Some(w) => {
                let rows = w.rows();
                let with_versions = w.with_versions().unwrap_or(false);
                Some(RetryManifest {
                    out: w.finish()?,
                    rows,
                    with_versions,
                    too_large_rows: self.too_large_rows,
                })
            }
        };
        Ok((self.summary, retry))
    }
}

/// A written retry manifest.
#[derive(Debug)]
pub struct RetryManifest<W> {
    pub out: W,
    pub rows: u64,
    pub with_versions: bool,
    /// Rows of objects too large for S3PutObjectCopy: the next job must be the copy worker's.
    pub too_large_rows: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::CsvManifestReader;

    fn manifest() -> ReportManifest {
        ReportManifest::parse(include_bytes!("../../fixtures/report-manifest.json")).unwrap()
    }

    fn rows(text: &str) -> ReportRows<&[u8]> {
        ReportRows::new(
            text.as_bytes(),
            manifest().columns().unwrap(),
            "results/x.csv",
        )
    }

    #[test]
    fn parses_the_aws_example_report_manifest() {
        let m = manifest();
        assert_eq!(m.results.len(), 2);
        assert_eq!(m.results[1].task_execution_status, "failed");
        let failed: Vec<_> = m.failed_results().map(|r| r.key.as_str()).collect();
        assert_eq!(
            failed,
            ["job-f8fb9d89-a3aa-461d-bddc-ea6a1b131955/results/b2ddad417e94331e9f37b44f1faf8c7ed5873f2e.csv"]
        );
        let bad = include_str!("../../fixtures/report-manifest.json")
            .replace("Report_CSV_20180820", "Report_JSON");
        assert!(ReportManifest::parse(bad.as_bytes())
            .unwrap_err()
            .to_string()
            .contains("expected Report_CSV_20180820"));
    }

    /// AWS's documented example rows carry the HTTP status under ErrorCode; they are read right.
    #[test]
    fn reads_the_aws_example_rows_with_their_swapped_columns() {
        let tasks: Vec<TaskResult> = rows(include_str!("../../fixtures/report-results-lambda.csv"))
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(tasks.len(), 2);
        assert_eq!(tasks[0].key, "image_14975");
        assert_eq!(tasks[0].error_code, "PermanentFailure");
        assert_eq!(tasks[0].http_status, Some(200));
        assert!(tasks[0]
            .result_message
            .contains("Task timed out after 3.00 seconds"));
        // The copy worker ran out of time: its upload record lets the next invocation go on.
        assert_eq!(tasks[0].failure_class(), FailureClass::Retryable);
    }

    #[test]
    fn failures_are_classified_for_retry() {
        use FailureClass::*;
        let cases = [
            ("SlowDown", Some(503), Retryable),
            ("InternalError", Some(500), Retryable),
            ("RequestTimeout", Some(400), Retryable),
            ("ServiceUnavailable", None, Retryable),
            ("SomethingNew", Some(502), Retryable),
            ("TooManyRequests", Some(429), Retryable),
            ("AccessDenied", Some(403), Permanent),
            ("NoSuchKey", Some(404), Permanent),
            ("InvalidRequest", Some(400), Permanent),
            ("InvalidObjectState", Some(403), Permanent),
            ("SomethingNew", Some(400), Permanent),
            ("", None, Permanent),
        ];
        for (code, http, class) in cases {
            assert_eq!(classify_failure(code, http), class, "{code} {http:?}");
        }
    }

    #[test]
    fn summarizes_a_copy_report_and_writes_the_retry_manifest() {
        let mut s = Summarizer::new(Some(Vec::new()));
        s.read(rows(include_str!("../../fixtures/report-results-copy.csv")))
            .unwrap();
        let (summary, retry) = s.finish().unwrap();
        assert_eq!(summary.tasks, 6);
        assert_eq!(summary.succeeded, 1);
        assert_eq!(summary.failed, 5);
        assert_eq!(summary.retryable, 3);
        assert_eq!(summary.permanent, 1);
        assert_eq!(summary.by_error_code["SlowDown"].count, 2);
        assert_eq!(summary.by_error_code["SlowDown"].http_status, Some(503));
        assert_eq!(
            summary.by_error_code["AccessDenied"].class,
            FailureClass::Permanent
        );
        let huge = &summary.by_error_code["InvalidRequest (over 5 GB)"];
        assert_eq!(huge.class, FailureClass::TooLarge);
        assert!(huge
            .example
            .contains("larger than the maximum allowable size"));
        assert_eq!(
            summary.too_large, 1,
            "the one over 5 GB goes to the copy worker"
        );
        assert_eq!(summary.failed_sample.len(), 5);

        let retry = retry.unwrap();
        assert_eq!((retry.rows, retry.too_large_rows), (4, 1));
        assert!(!retry.with_versions);
        let entries: Vec<crate::manifest::ManifestEntry> = CsvManifestReader::new(&retry.out[..])
            .collect::<Result<_, _>>()
            .unwrap();
        let keys: Vec<&str> = entries.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "2026/photos/photo2.jpg",
                "2026/photos/summer holiday/day 1.jpg",
                "2026/video/raw+take.mov",
                "2026/b.jpg"
            ]
        );
    }

    #[test]
    fn failures_for_the_objects_encryption_are_counted_apart_and_never_retried() {
        let text = concat!(
            "src-photos,2026/secret.bin,,failed,400,InvalidRequest,The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.\n",
            "src-photos,2026/managed.jpg,,failed,403,AccessDenied,User: arn:aws:sts::222222222222:assumed-role/ferry-batch-eu-west-1-7df8393146/s3-batch-operations is not authorized to perform: kms:Decrypt on resource: arn:aws:kms:eu-west-1:111111111111:key/2f9a1c3e-0000-4000-8000-000000000003 because no resource-based policy allows the kms:Decrypt action\n",
            "src-photos,2026/huge.bin,,failed,400,InvalidRequest,The specified copy source is larger than the maximum allowable size for a copy source: 5368709120\n",
            "src-photos,2026/denied.jpg,,failed,403,AccessDenied,Access Denied\n",
            "src-photos,2026/busy.jpg,,failed,503,SlowDown,Please reduce your request rate.\n",
        );
        let mut s = Summarizer::new(Some(Vec::new()));
        s.read(rows(text)).unwrap();
        let (summary, retry) = s.finish().unwrap();
        assert_eq!(
            (
                summary.failed,
                summary.retryable,
                summary.permanent,
                summary.not_copyable,
                summary.too_large
            ),
            (5, 1, 1, 2, 1)
        );
        let sse_c = &summary.by_error_code["InvalidRequest (SSE-C)"];
        assert_eq!((sse_c.count, sse_c.class), (1, FailureClass::NotCopyable));
        let kms = &summary.by_error_code["AccessDenied (KMS key)"];
        assert_eq!((kms.count, kms.class), (1, FailureClass::NotCopyable));
        assert_eq!(
            summary.by_error_code["AccessDenied"].class,
            FailureClass::Permanent
        );
        assert_eq!(
            summary.by_error_code["InvalidRequest (over 5 GB)"].class,
            FailureClass::TooLarge
        );
        let retry = retry.unwrap();
        assert_eq!(
            (retry.rows, retry.too_large_rows),
            (2, 1),
            "the SlowDown is retried and the huge one goes to the worker; the encrypted ones neither"
        );
        assert_eq!(
            summary.encryption_obstacles(),
            [CopyObstacle::SseC, CopyObstacle::KmsKey]
        );
        let mut merged = summary.clone();
        merged.merge(&summary);
        assert_eq!(merged.not_copyable, 4);
    }

    /// A job created while the run's grants may still be settling: its refusals, S3's and
    /// KMS's of a key granted this run, are retried under their own label; an explicit deny is
    /// not, nor a refusal of a key not granted, nor an SSE-C object.
    #[test]
    fn access_refusals_while_grants_settle_are_retried() {
        let text = concat!(
            "src-photos,2026/secret.bin,,failed,400,InvalidRequest,The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.\n",
            "src-photos,2026/managed.jpg,,failed,403,AccessDenied,User: arn:aws:sts::222222222222:assumed-role/ferry-batch-photos-2026/s3-batch-operations is not authorized to perform: kms:Decrypt on resource: arn:aws:kms:eu-west-1:111111111111:key/2f9a1c3e-0000-4000-8000-000000000003\n",
            "src-photos,2026/denied.jpg,,failed,403,AccessDenied,Access Denied\n",
            "src-photos,2026/gone.jpg,,failed,404,NoSuchKey,The specified key does not exist.\n",
            "src-photos,2026/managed.bin,,failed,403,AccessDenied,User: arn:aws:sts::222222222222:assumed-role/ferry-batch-photos-2026/s3-batch-operations is not authorized to perform: kms:Decrypt on resource: arn:aws:kms:eu-west-1:111111111111:key/0000aaaa-0000-4000-8000-00000000aws3\n",
            "src-photos,2026/fenced.jpg,,failed,403,AccessDenied,Access Denied (User: arn:aws:sts::222222222222:assumed-role/ferry-batch-photos-2026/s3-batch-operations is not authorized to perform: s3:GetObject on resource: arn:aws:s3:::src-photos/2026/fenced.jpg with an explicit deny in a resource-based policy)\n",
        );
        let granted = vec![
            "arn:aws:kms:eu-west-1:111111111111:key/2f9a1c3e-0000-4000-8000-000000000003"
                .to_string(),
        ];
        let mut s = Summarizer::new(Some(Vec::new())).settling(granted);
        s.read(rows(text)).unwrap();
        let (summary, retry) = s.finish().unwrap();
        assert_eq!(
            (
                summary.retryable,
                summary.settling,
                summary.permanent,
                summary.not_copyable
            ),
            (2, 2, 2, 2),
            "an explicit deny, or a key not granted, is not a grant settling"
        );
        let settling = &summary.by_error_code[&format!("AccessDenied {SETTLING}")];
        assert_eq!(
            (settling.count, settling.class),
            (2, FailureClass::Retryable)
        );
        let retry = retry.unwrap();
        let written = String::from_utf8(retry.out).unwrap();
        assert_eq!(
            written,
            "src-photos,2026/managed.jpg\nsrc-photos,2026/denied.jpg\n"
        );
    }

    #[test]
    fn the_copy_workers_identical_and_refused_objects_are_counted_apart() {
        let text = concat!(
            "src-photos,2026/a.jpg,,succeeded,200,,identical: s3://dst-photos/2026/a.jpg already holds this object (17 bytes; ETag e1): not copied\n",
            "src-photos,2026/b.jpg,,succeeded,200,,copied with CopyObject (17 bytes)\n",
            "src-photos,2026/c.jpg,,failed,200,PermanentFailure,refused: s3://dst-photos/2026/c.jpg holds another object (3 bytes; ETag x); destination.existing is refuse: left alone\n",
        );
        let mut s = Summarizer::new(Some(Vec::new()));
        s.read(rows(text)).unwrap();
        let (summary, retry) = s.finish().unwrap();
        assert_eq!(
            (
                summary.succeeded,
                summary.identical,
                summary.failed,
                summary.refused,
                summary.permanent
            ),
            (2, 1, 1, 1, 0)
        );
        assert_eq!(
            summary.by_error_code["PermanentFailure (existing)"].class,
            FailureClass::Refused
        );
        assert_eq!(retry.unwrap().rows, 0, "a refused object is never retried");
    }

    #[test]
    fn a_summary_stays_bounded_and_merges() {
        let mut text = String::new();
        for i in 0..10_000 {
            text.push_str(&format!(
                "src,k/{i},,failed,SlowDown,503,Please reduce your request rate.\n"
            ));
        }
        let mut s = Summarizer::<Vec<u8>>::new(None);
        s.read(rows(&text)).unwrap();
        let (a, none) = s.finish().unwrap();
        assert!(none.is_none());
        assert_eq!(a.failed, 10_000);
        assert_eq!(a.failed_sample.len(), FAILED_SAMPLE_MAX);
        assert_eq!(a.by_error_code.len(), 1);
        let mut total = a.clone();
        total.merge(&a);
        assert_eq!(total.failed, 20_000);
        assert_eq!(total.by_error_code["SlowDown"].count, 20_000);
        assert_eq!(total.failed_sample.len(), FAILED_SAMPLE_MAX);
        assert!(serde_json::to_string(&total).unwrap().len() < 256 * 1024);
    }

    #[test]
    fn a_broken_row_names_its_file_and_line() {
        let err = rows("src,k1,,failed,SlowDown,503,m\nsrc\n")
            .collect::<Result<Vec<_>, _>>()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "completion report results/x.csv, line 2: only 1 values in the row"
        );
    }

    #[test]
    fn an_unreadable_status_is_dropped_and_the_row_still_counts() {
        let tasks = rows("src,k1,,failed,SlowDown,5x3,m\nsrc,k2,,failed,503,SlowDown,m\n")
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        assert_eq!(tasks[0].error_code, "SlowDown");
        assert_eq!(tasks[0].http_status, None);
        assert_eq!(tasks[1].error_code, "SlowDown");
        assert_eq!(tasks[1].http_status, Some(503));
    }

    /// Rows as AWS writes them today: the HTTP status before the error code, whatever the
    /// schema line says (`...,failed,403,AccessDenied,...`; `succeeded,200,,Successful`).
    #[test]
    fn reads_rows_with_the_status_before_the_code() {
        let tasks = rows(
            "src,a.jpg,,failed,403,AccessDenied,Access Denied\nsrc,b.jpg,,succeeded,200,,Successful\n",
        )
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
        assert_eq!(
            (tasks[0].error_code.as_str(), tasks[0].http_status),
            ("AccessDenied", Some(403))
        );
        assert_eq!(tasks[0].failure_class(), FailureClass::Permanent);
        assert_eq!(
            (tasks[1].error_code.as_str(), tasks[1].http_status),
            ("", Some(200))
        );
    }

    #[test]
    fn the_documented_schema_is_the_fixtures_schema() {
        assert_eq!(manifest().columns().unwrap(), ReportColumns::documented());
    }
}
