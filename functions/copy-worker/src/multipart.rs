//! The copy worker's multipart copy: an upload begun once and recorded in the ferry bucket
//! (`control/<copyId>/uploads/`), its parts copied `multipart.partsInFlight` at a time within
//! the invocation's budget, resumed from ListParts by the next invocation, completed when every
//! part is in (conditionally under `existing: refuse`), and its record kept only by the
//! invocation that wrote it first.

use super::*;

impl Worker<'_> {
    pub(crate) async fn multipart(&self, source: &Source) -> Result<Done, StepError> {
        let record_key = upload_record_key(
            &self.control_prefix,
            &source.bucket,
            &source.key,
            source.version.as_deref(),
        );
        let mut record = self.read_record(&record_key).await?;
        if let Some(r) = &record {
            let same = r.source_etag == source.etag
                && r.size == source.size
                && r.bucket == self.auth.args.destination_bucket
                && r.key == source.target;
            if !same {
                info!(upload = %r.upload_id, "the source changed since the upload began: starting over");
                self.abort(r).await?;
                self.delete_record(&record_key).await?;
                record = None;
            }
        }
        let record = match record {
            Some(r) => r,
            None => {
                let r = self.create(source).await?;
                if !self.write_record(&record_key, &r).await? {
                    // Another invocation on this object (Batch Operations may run a task
                    // twice) recorded its own upload between the read and this write: its
                    // upload goes on, this one is given up, and the task is tried again later
                    // (it then resumes that upload from its record).
                    self.abort(&r).await?;
                    return Err(StepError::new(
                        ErrorName::Retryable,
                        format!(
                            "another invocation began the upload of {} at the same time; this one gave its own up",
                            source.target
                        ),
                    ));
                }
                r
            }
        };
        let mut done = match self.list_parts(&record).await {
            Ok(done) => done,
            Err(err) if err.cause.contains("NoSuchUpload") => {
                // Aborted by someone else (a revoke, a lifecycle rule): the next invocation
                // begins a new one.
                self.delete_record(&record_key).await?;
                return Err(StepError::new(
                    ErrorName::Retryable,
                    format!(
                        "the upload {} of {} is gone; a new one begins at the next invocation",
                        record.upload_id,
                        source.what()
                    ),
                ));
            }
            Err(err) => return Err(err),
        };
        let all = parts(source.size, record.part_size);
        let before = done.len();
        let todo: Vec<Part> = all
            .iter()
            .filter(|p| !done.contains_key(&p.number))
            .copied()
            .collect();
        self.copy_parts(source, &record, todo, &mut done).await?;
        if done.len() < all.len() {
            return Ok(Done::Continues(format!(
                "copied {} of {} parts of {} ({} in this invocation); the next invocation goes on",
                done.len(),
                all.len(),
                source.what(),
                done.len() - before
            )));
        }
        let completed = CompletedMultipartUpload::builder()
            .set_parts(Some(
                done.iter()
                    .map(|(n, etag)| CompletedPart::builder().part_number(*n).e_tag(etag).build())
                    .collect(),
            ))
            .build();
        let refuse = self.auth.args.existing == Existing::Refuse;
        let completed = self
            .s3
            .complete_multipart_upload()
            .bucket(&record.bucket)
            .key(&record.key)
            .upload_id(&record.upload_id)
            .multipart_upload(completed)
            .expected_bucket_owner(&self.config.account_id)
            .set_if_none_match(refuse.then(|| "*".to_string()))
            .send()
            .await;
        match completed {
            Ok(_) => {}
            Err(e) if refuse && sdk_code(&e) == Some("PreconditionFailed") => {
                // Written by someone else while the parts were copied: theirs stays.
                self.abort(&record).await?;
                self.delete_record(&record_key).await?;
                return Ok(Done::Refused(WorkerOutcome::Refused.say(&format!(
                    "s3://{}/{} was written by another writer during the copy; destination.existing is refuse: left alone",
                    record.bucket, record.key
                ))));
            }
            Err(e) => {
                return Err(from_sdk(
                    e,
                    &format!("CompleteMultipartUpload {}", record.upload_id),
                ))
            }
        }
        self.delete_record(&record_key).await?;
        Ok(Done::Copied(format!(
            "copied in {} parts of {} MiB",
            all.len(),
            record.part_size / MIB
        )))
    }

    /// Copies `todo`, at most `partsInFlight` at once, starting none once the deadline nears;
    /// every part copied goes into `done`. The first failure stops the rest (the parts already
    /// in stay in the upload for the next invocation).
    async fn copy_parts(
        &self,
        source: &Source,
        record: &UploadRecord,
        todo: Vec<Part>,
        done: &mut BTreeMap<i32, String>,
    ) -> Result<(), StepError> {
        let mut queue = todo.into_iter();
        let mut running = JoinSet::new();
        let mut out_of_time = false;
        let mut longest = Duration::ZERO;
        loop {
            while running.len() < usize::from(self.auth.args.parts_in_flight) && !out_of_time {
                let Some(part) = queue.next() else { break };
                if !self.clock.allows_another_part(longest) {
                    out_of_time = true;
                    break;
                }
                let call = self
                    .s3
                    .upload_part_copy()
                    .bucket(&record.bucket)
                    .key(&record.key)
                    .upload_id(&record.upload_id)
                    .part_number(part.number)
                    .copy_source(source.copy_source())
                    .copy_source_range(part.range())
                    .copy_source_if_match(&source.etag)
                    .expected_bucket_owner(&self.config.account_id)
                    .expected_source_bucket_owner(&self.auth.source_account);
                running.spawn(async move {
                    let started = std::time::Instant::now();
                    let out = call.send().await.map_err(|e| {
                        from_sdk(e, &format!("UploadPartCopy part {}", part.number))
                    })?;
                    let etag = out
                        .copy_part_result()
                        .and_then(|r| r.e_tag())
                        .unwrap_or_default()
                        .to_string();
                    Ok::<_, StepError>((part.number, etag, started.elapsed()))
                });
            }
            let Some(joined) = running.join_next().await else {
                return Ok(());
            };
            let outcome = joined.map_err(|e| {
                StepError::new(ErrorName::Retryable, format!("a part copy stopped: {e}"))
            });
            match outcome.and_then(|r| r) {
                Ok((number, etag, took)) => {
                    longest = longest.max(took);
                    done.insert(number, etag);
                }
                Err(err) => {
                    running.abort_all();
                    return Err(err);
                }
            }
        }
    }

    async fn create(&self, source: &Source) -> Result<UploadRecord, StepError> {
        let a = &self.auth.args;
        let h = &source.head;
        let mut call = self
            .s3
            .create_multipart_upload()
            .bucket(&a.destination_bucket)
            .key(&source.target)
            .expected_bucket_owner(&self.config.account_id)
            .storage_class(S3StorageClass::from(enum_str(&a.storage_class).as_str()));
        if a.metadata_directive == MetadataDirective::Copy {
            // What CopyObject's COPY directive keeps: user metadata and the content headers.
            call = call
                .set_metadata(h.metadata().cloned())
                .set_content_type(h.content_type().map(str::to_string))
                .set_content_encoding(h.content_encoding().map(str::to_string))
                .set_content_disposition(h.content_disposition().map(str::to_string))
                .set_content_language(h.content_language().map(str::to_string))
                .set_cache_control(h.cache_control().map(str::to_string));
        }
        let tags = self
            .s3
            .get_object_tagging()
            .bucket(&source.bucket)
            .key(&source.key)
            .set_version_id(source.version.clone())
            .expected_bucket_owner(&self.auth.source_account)
            .send()
            .await
            .map_err(|e| from_sdk(e, &format!("GetObjectTagging {}", source.what())))?;
        if !tags.tag_set().is_empty() {
            let encode = |s: &str| {
                percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC)
                    .to_string()
            };
            let tagging: Vec<String> = tags
                .tag_set()
                .iter()
                .map(|t| format!("{}={}", encode(t.key()), encode(t.value())))
                .collect();
            call = call.tagging(tagging.join("&"));
        }
        if let Some(e) = &a.encryption {
            call = call
                .server_side_encryption(sse(e.kind))
                .set_ssekms_key_id(e.kms_key_arn.clone())
                .set_bucket_key_enabled(e.bucket_key_enabled.then_some(true));
        }
        let out = call.send().await.map_err(|e| {
            from_sdk(
                e,
                &format!(
                    "CreateMultipartUpload s3://{}/{}",
                    a.destination_bucket, source.target
                ),
            )
        })?;
        let upload_id = out.upload_id().unwrap_or_default().to_string();
        info!(upload = %upload_id, size = source.size, "began a multipart copy");
        Ok(UploadRecord {
            upload_id,
            bucket: a.destination_bucket.clone(),
            key: source.target.clone(),
            part_size: part_size(source.size, a.part_mib),
            size: source.size,
            source_etag: source.etag.clone(),
        })
    }

    /// The parts already in the upload, by number.
    async fn list_parts(&self, r: &UploadRecord) -> Result<BTreeMap<i32, String>, StepError> {
        let mut done = BTreeMap::new();
        let mut pages = self
            .s3
            .list_parts()
            .bucket(&r.bucket)
            .key(&r.key)
            .upload_id(&r.upload_id)
            .expected_bucket_owner(&self.config.account_id)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| {
                let code = sdk_code(&e).unwrap_or_default().to_string();
                let mut err = from_sdk(e, &format!("ListParts {}", r.upload_id));
                if code == "NoSuchUpload" {
                    err.cause = format!("NoSuchUpload: {}", err.cause);
                }
                err
            })?;
            for p in page.parts() {
                if let (Some(n), Some(etag)) = (p.part_number(), p.e_tag()) {
                    // A part of another size than the record's (cut short) is copied again.
                    let expected = parts(r.size, r.part_size)
                        .get((n - 1).max(0) as usize)
                        .map(|part| part.last - part.first + 1);
                    if p.size().map(|s| s as u64) == expected {
                        done.insert(n, etag.to_string());
                    }
                }
            }
        }
        Ok(done)
    }

    async fn abort(&self, r: &UploadRecord) -> Result<(), StepError> {
        match self
            .s3
            .abort_multipart_upload()
            .bucket(&r.bucket)
            .key(&r.key)
            .upload_id(&r.upload_id)
            .expected_bucket_owner(&self.config.account_id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if sdk_code(&e) == Some("NoSuchUpload") => Ok(()),
            Err(e) => Err(from_sdk(
                e,
                &format!("AbortMultipartUpload {}", r.upload_id),
            )),
        }
    }

    async fn read_record(&self, key: &str) -> Result<Option<UploadRecord>, StepError> {
        let Some((bytes, _)) =
            get_object_bytes(self.control, &self.config.ferry_bucket, key).await?
        else {
            return Ok(None);
        };
        // A record that does not parse is deleted and treated as none (the record is written
        // only where none is, so it would stand in the way of every later one); its upload, if
        // any, is aborted at revoke with every other of the copy's.
        match serde_json::from_slice(&bytes) {
            Ok(record) => Ok(Some(record)),
            Err(e) => {
                warn!(record = %key, error = %e, "an upload record that does not parse: deleted");
                self.delete_record(key).await?;
                Ok(None)
            }
        }
    }

    /// Writes a new upload record, only where none is (`If-None-Match: *`): false when another
    /// invocation's record is there already (S3 answers 412 `PreconditionFailed`, or 409
    /// `ConditionalRequestConflict` to the second of two writes at once), so two invocations
    /// on one object never overwrite each other's record and leave an upload nobody knows of.
    async fn write_record(&self, key: &str, r: &UploadRecord) -> Result<bool, StepError> {
        match self
            .control
            .put_object()
            .bucket(&self.config.ferry_bucket)
            .key(key)
            .body(serde_json::to_vec(r).expect("a record serializes").into())
            .if_none_match("*")
            .expected_bucket_owner(&self.config.account_id)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e)
                if matches!(
                    sdk_code(&e),
                    Some("PreconditionFailed" | "ConditionalRequestConflict")
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(from_sdk(e, &format!("PutObject {key}"))),
        }
    }

    async fn delete_record(&self, key: &str) -> Result<(), StepError> {
        self.control
            .delete_object()
            .bucket(&self.config.ferry_bucket)
            .key(key)
            .expected_bucket_owner(&self.config.account_id)
            .send()
            .await
            .map_err(|e| from_sdk(e, &format!("DeleteObject {key}")))?;
        Ok(())
    }
}
