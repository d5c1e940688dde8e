//! Reading every row of an inventory-format manifest (`manifest.json` and its gzipped CSV data
//! files) from S3, streamed, in constant memory: flow A's report before its first job (what
//! S3PutObjectCopy cannot copy as it is), and flow C's census (what its filter left out).

use tokio_util::io::SyncIoBridge;

use super::{CopyObstacle, InventoryError, InventoryManifest, InventoryRows, NotCopyable};
use crate::clients::get_object_bytes;
use crate::error::from_sdk;
use crate::{ErrorName, StepError};

/// Reads every row of the manifest at `manifest_key` in `bucket` (owned by `owner`) and counts
/// the objects a copy cannot copy as they are: each row's own obstacle (from its columns), or,
/// with `every_row`, that obstacle for every row (a census whose filter chose them). With
/// `within`, a data file the manifest names outside that prefix is refused, not read.
pub async fn obstacles_in(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    manifest_key: &str,
    owner: &str,
    every_row: Option<CopyObstacle>,
    within: Option<&str>,
) -> Result<NotCopyable, StepError> {
    let (bytes, _) = get_object_bytes(s3, bucket, manifest_key)
        .await?
        .ok_or_else(|| {
            StepError::new(
                ErrorName::NotFound,
                format!("manifest s3://{bucket}/{manifest_key} is not there"),
            )
        })?;
    let invalid = |e: InventoryError| {
        StepError::new(
            ErrorName::InvalidRequest,
            format!("manifest s3://{bucket}/{manifest_key}: {e}"),
        )
    };
    let manifest = InventoryManifest::parse(&bytes).map_err(invalid)?;
    if let Some(file) = within.and_then(|p| manifest.files.iter().find(|f| !f.key.starts_with(p))) {
        return Err(StepError::new(
            ErrorName::AccessDenied,
            format!(
                "manifest s3://{bucket}/{manifest_key} names a data file outside {}: {}; refused",
                within.unwrap_or_default(),
                file.key
            ),
        ));
    }
    let columns = manifest.columns().map_err(invalid)?;
    // The data files are read side by side, as many at once as the function has cores (Lambda
    // gives one per 1,769 MB of memory), and their counts added in the manifest's order.
    let at_once = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut found = NotCopyable::default();
    for batch in manifest.files.chunks(at_once.max(1)) {
        let mut reads = Vec::new();
        for file in batch {
            let what = format!("s3://{bucket}/{}", file.key);
            let body = s3
                .get_object()
                .bucket(bucket)
                .key(&file.key)
                .expected_bucket_owner(owner)
                .send()
                .await
                .map_err(|e| from_sdk(e, &format!("GetObject {what}")))?
                .body
                .into_async_read();
            let bridge = SyncIoBridge::new(body);
            let columns = columns.clone();
            let read = tokio::task::spawn_blocking(move || {
                // Built here: the gzip header is read at once, a blocking read.
                let mut rows = InventoryRows::new(bridge, columns);
                let mut found = NotCopyable::default();
                while let Some(row) = rows.next_obstacle()? {
                    found.looked_at += 1;
                    if let Some(o) = every_row.or(row.obstacle) {
                        found.add(o, &row.key()?);
                    }
                }
                Ok(found)
            });
            reads.push((what, read));
        }
        for (what, read) in reads {
            let file_found = read
                .await
                .map_err(|e| StepError::new(ErrorName::Retryable, format!("reading {what}: {e}")))?
                .map_err(|e: InventoryError| {
                    StepError::new(ErrorName::InvalidRequest, format!("{what}: {e}"))
                })?;
            found.merge(&file_found);
        }
    }
    Ok(found)
}
