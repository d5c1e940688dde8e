//! The control objects in the ferry bucket, read, written and listed with their types: a copy's
//! stored plan, its job records, and the inventory waiters (keys from [`crate::layout`]). The
//! functions that record and read them share this one implementation, so a record's shape and
//! the rule that finds it cannot drift apart.
//!
//! Each helper's name is listed with the IAM actions it needs in the template test's table, so
//! the test still sees every call a function makes through here.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client as S3;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::clients::get_object_bytes;
use crate::error::{from_sdk, sdk_code};
use crate::layout::{is_waiter_key, waiters_prefix, CopyLayout};
use crate::request::CopyRequest;
use crate::steps::JobRecord;
use crate::{ErrorName, StepError};

/// What is stored under `control/<copyId>/plan.json`: immutable once written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredPlan {
    pub request: CopyRequest,
}

/// The last run of a copy that copied everything, under `control/<copyId>/last-complete.json`:
/// where an incremental run of flow C starts listing from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LastComplete {
    pub run: u16,
    pub execution: String,
    /// When that run started (seconds since the epoch).
    pub started_at: crate::clock::Epoch,
}

/// A waiting execution, recorded under `control/waiters/<config-id>/<execution>.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Waiter {
    pub task_token: String,
    pub execution: String,
    /// Reports created before this (seconds since the epoch) are not this run's.
    pub started_at: crate::clock::Epoch,
    /// The source bucket whose inventory this run waits for: a delivery completes the waiter
    /// only when its key's source segment and its manifest's `sourceBucket` both name it.
    #[serde(default)]
    pub source_bucket: String,
}

/// The control objects of one ferry bucket.
#[derive(Debug, Clone, Copy)]
pub struct Control<'a> {
    s3: &'a S3,
    bucket: &'a str,
}

impl<'a> Control<'a> {
    pub fn new(s3: &'a S3, bucket: &'a str) -> Control<'a> {
        Control { s3, bucket }
    }

    /// The copy's stored plan, if one was stored.
    pub async fn read_plan(&self, copy: CopyLayout<'_>) -> Result<Option<StoredPlan>, StepError> {
        self.get(&copy.plan_key(), "stored plan").await
    }

    /// Stores `wanted` as the copy's plan unless one is stored already (a conditional write,
    /// so two executions racing store one plan). `None` when this call stored it; else the plan
    /// that was there, for the caller to compare.
    pub async fn store_plan(
        &self,
        copy: CopyLayout<'_>,
        wanted: &StoredPlan,
    ) -> Result<Option<StoredPlan>, StepError> {
        let key = copy.plan_key();
        if let Some(stored) = self.read_plan(copy).await? {
            return Ok(Some(stored));
        }
        if self.put(&key, wanted, true).await? {
            return Ok(None);
        }
        // Another execution stored it first.
        self.read_plan(copy).await?.map(Some).ok_or_else(|| {
            StepError::new(
                ErrorName::Retryable,
                format!("{key} vanished after a conflicting write"),
            )
        })
    }

    /// The copy's last run that copied everything, if one did.
    pub async fn read_last_complete(
        &self,
        copy: CopyLayout<'_>,
    ) -> Result<Option<LastComplete>, StepError> {
        self.get(&copy.last_complete_key(), "last complete run")
            .await
    }

    /// Records `run` as the copy's last run that copied everything, unless a later run is
    /// recorded already (runs of one copy never overlap, so this only guards a re-delivery).
    pub async fn put_last_complete(
        &self,
        copy: CopyLayout<'_>,
        run: &LastComplete,
    ) -> Result<(), StepError> {
        if let Some(known) = self.read_last_complete(copy).await? {
            if known.started_at > run.started_at {
                return Ok(());
            }
        }
        self.put(&copy.last_complete_key(), run, false)
            .await
            .map(|_| ())
    }

    /// Records a job as soon as CreateJob answers (cleanup finds the jobs to cancel here).
    pub async fn put_job_record(
        &self,
        copy: CopyLayout<'_>,
        record: &JobRecord,
    ) -> Result<(), StepError> {
        self.put(&copy.job_record_key(record.attempt), record, false)
            .await
            .map(|_| ())
    }

    /// The job records of every run of the copy; a record deleted meanwhile is skipped.
    pub async fn job_records(&self, copy: CopyLayout<'_>) -> Result<Vec<JobRecord>, StepError> {
        let listed = self
            .list(
                &copy.control_prefix(),
                |k| copy.is_job_record_key(k),
                "job record",
            )
            .await?;
        Ok(listed.into_iter().map(|(_, r)| r).collect())
    }

    /// Records the waiter of a run (its task token), under [`CopyLayout::waiter_key`].
    pub async fn put_waiter(&self, copy: CopyLayout<'_>, waiter: &Waiter) -> Result<(), StepError> {
        self.put(&copy.waiter_key(&waiter.execution), waiter, false)
            .await
            .map(|_| ())
    }

    /// The waiters of inventory configuration `config_id`, with their keys; only exact waiter
    /// keys count, and a waiter removed meanwhile (completed by a duplicate event) is skipped.
    pub async fn list_waiters(&self, config_id: &str) -> Result<Vec<(String, Waiter)>, StepError> {
        self.list(
            &waiters_prefix(config_id),
            |k| is_waiter_key(k, config_id),
            "waiter record",
        )
        .await
    }

    /// Removes a waiter record (absent already is fine).
    pub async fn delete_waiter(&self, key: &str) -> Result<(), StepError> {
        self.s3
            .delete_object()
            .bucket(self.bucket)
            .key(key)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| from_sdk(e, &format!("DeleteObject {key}")))
    }

    /// Writes `value` as JSON; with `if_absent`, only where nothing is (false when something
    /// was).
    async fn put<T: Serialize>(
        &self,
        key: &str,
        value: &T,
        if_absent: bool,
    ) -> Result<bool, StepError> {
        let body = serde_json::to_vec_pretty(value).expect("a control object serializes");
        let mut put = self
            .s3
            .put_object()
            .bucket(self.bucket)
            .key(key)
            .content_type("application/json")
            .body(ByteStream::from(body));
        if if_absent {
            put = put.if_none_match("*");
        }
        match put.send().await {
            Ok(_) => Ok(true),
            Err(e) if if_absent && sdk_code(&e) == Some("PreconditionFailed") => Ok(false),
            Err(e) => Err(from_sdk(e, &format!("PutObject {key}"))),
        }
    }

    /// The object at `key` read as a `T`, or `None` when there is none. An object that does not
    /// read as one is `InvalidRequest` naming the key and what it should have been.
    async fn get<T: DeserializeOwned>(
        &self,
        key: &str,
        what: &str,
    ) -> Result<Option<T>, StepError> {
        let Some((body, _)) = get_object_bytes(self.s3, self.bucket, key).await? else {
            return Ok(None);
        };
        serde_json::from_slice(&body).map(Some).map_err(|e| {
            StepError::new(
                ErrorName::InvalidRequest,
                format!("{key} is not a {what}: {e}"),
            )
        })
    }

    /// Every object under `prefix` whose key `wanted` accepts, read as a `T` (all pages).
    async fn list<T: DeserializeOwned>(
        &self,
        prefix: &str,
        wanted: impl Fn(&str) -> bool,
        what: &str,
    ) -> Result<Vec<(String, T)>, StepError> {
        let mut out = Vec::new();
        let mut pages = self
            .s3
            .list_objects_v2()
            .bucket(self.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| from_sdk(e, &format!("ListObjectsV2 {prefix}")))?;
            for key in page.contents().iter().filter_map(|o| o.key()) {
                if !wanted(key) {
                    continue;
                }
                if let Some(value) = self.get(key, what).await? {
                    out.push((key.to_string(), value));
                }
            }
        }
        Ok(out)
    }
}
