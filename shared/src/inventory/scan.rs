//! Reading every row of an inventory-format manifest (`manifest.json` and its gzipped CSV data
//! files) from S3, streamed: flow A's report before its first job (what S3PutObjectCopy cannot
//! copy as it is, in constant memory), flow C's census (what its filter left out), and the
//! archived objects a restoring copy restores (their restore manifests, in memory).

use tokio_util::io::SyncIoBridge;

use super::{CopyObstacle, InventoryError, InventoryManifest, InventoryRows, NotCopyable};
use crate::clients::get_object_bytes;
use crate::error::from_sdk;
use crate::restore::ArchiveClass;
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
    fold_report(
        s3,
        bucket,
        manifest_key,
        owner,
        within,
        move |rows| {
            let mut found = NotCopyable::default();
            while let Some(row) = rows.next_obstacle()? {
                found.looked_at += 1;
                if let Some(o) = every_row.or(row.obstacle) {
                    found.add(o, &row.key()?);
                }
            }
            Ok(found)
        },
        |all: &mut NotCopyable, one| all.merge(&one),
    )
    .await
}

/// Flow A with `source.archived: restore`: every row of the inventory report at
/// `manifest_key` that is archived, by class, as restore-manifest lines (`Bucket,Key`, the key
/// as the inventory encodes it, which is how a CSV manifest takes it).
pub async fn archived_in(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    manifest_key: &str,
    owner: &str,
) -> Result<ArchivedRows, StepError> {
    fold_report(
        s3,
        bucket,
        manifest_key,
        owner,
        None,
        |rows| {
            let mut found = ArchivedRows::default();
            while let Some(row) = rows.next_obstacle()? {
                if let Some(class) = row.archive {
                    found.push(class, row.bucket, row.encoded_key)?;
                }
            }
            Ok(found)
        },
        |all: &mut ArchivedRows, one| all.append(one),
    )
    .await
}

/// Archived rows by class, each as the lines of a restore manifest, and the keys of each.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ArchivedRows {
    pub glacier: ClassRows,
    pub tiering: ClassRows,
}

/// One class's restore-manifest lines (`Bucket,Key\n`) and their decoded keys in order.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ClassRows {
    pub csv: String,
    pub keys: Vec<String>,
}

impl ArchivedRows {
    pub fn of(&mut self, class: ArchiveClass) -> &mut ClassRows {
        match class {
            ArchiveClass::Glacier => &mut self.glacier,
            ArchiveClass::Tiering => &mut self.tiering,
        }
    }

    /// One row: its bucket and key as a CSV manifest writes them.
    pub fn push(
        &mut self,
        class: ArchiveClass,
        bucket: &str,
        encoded_key: &str,
    ) -> Result<(), InventoryError> {
        let rows = self.of(class);
        rows.keys.push(crate::manifest::decode_key(encoded_key)?);
        rows.csv.push_str(bucket);
        rows.csv.push(',');
        rows.csv.push_str(encoded_key);
        rows.csv.push('\n');
        Ok(())
    }

    fn append(&mut self, other: ArchivedRows) {
        for (mine, theirs) in [
            (&mut self.glacier, other.glacier),
            (&mut self.tiering, other.tiering),
        ] {
            mine.csv.push_str(&theirs.csv);
            mine.keys.extend(theirs.keys);
        }
    }
}

/// Reads the inventory report whose `manifest.json` is at `manifest_key` in `bucket` (owned by
/// `owner`): its data files, each through `per_file`, folded with `merge` in file order. With
/// `within`, a data file the manifest names outside that prefix is refused, not read.
async fn fold_report<T: Default + Send + 'static>(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    manifest_key: &str,
    owner: &str,
    within: Option<&str>,
    per_file: impl Fn(
            &mut InventoryRows<SyncIoBridge<std::pin::Pin<Box<dyn tokio::io::AsyncRead + Send>>>>,
        ) -> Result<T, InventoryError>
        + Send
        + Sync
        + Copy
        + 'static,
    merge: impl Fn(&mut T, T),
) -> Result<T, StepError> {
    let manifest = read_manifest(s3, bucket, manifest_key).await?;
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
    let columns = manifest
        .columns()
        .map_err(|e| invalid(bucket, manifest_key, e))?;
    let files: Vec<String> = manifest.files.iter().map(|f| f.key.clone()).collect();
    // The data files a few at once, each streamed on a blocking thread.
    let at_once = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut found = T::default();
    for batch in files.chunks(at_once.max(1)) {
        let mut reads = Vec::new();
        for key in batch {
            let what = format!("s3://{bucket}/{key}");
            let body: std::pin::Pin<Box<dyn tokio::io::AsyncRead + Send>> = Box::pin(
                s3.get_object()
                    .bucket(bucket)
                    .key(key)
                    .expected_bucket_owner(owner)
                    .send()
                    .await
                    .map_err(|e| from_sdk(e, &format!("GetObject {what}")))?
                    .body
                    .into_async_read(),
            );
            let bridge = SyncIoBridge::new(body);
            let columns = columns.clone();
            let read = tokio::task::spawn_blocking(move || {
                per_file(&mut InventoryRows::new(bridge, columns))
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
            merge(&mut found, file_found);
        }
    }
    Ok(found)
}

/// The inventory report's `manifest.json` at `manifest_key` in `bucket`, parsed.
async fn read_manifest(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    manifest_key: &str,
) -> Result<InventoryManifest, StepError> {
    let (bytes, _) = get_object_bytes(s3, bucket, manifest_key)
        .await?
        .ok_or_else(|| {
            StepError::new(
                ErrorName::NotFound,
                format!("manifest s3://{bucket}/{manifest_key} is not there"),
            )
        })?;
    InventoryManifest::parse(&bytes).map_err(|e| invalid(bucket, manifest_key, e))
}

fn invalid(bucket: &str, manifest_key: &str, e: InventoryError) -> StepError {
    StepError::new(
        ErrorName::InvalidRequest,
        format!("manifest s3://{bucket}/{manifest_key}: {e}"),
    )
}
