//! The rows of an inventory data file: streamed one at a time ([`InventoryRows`]), whole
//! ([`InventoryRow`]) or as far as S3PutObjectCopy is concerned ([`ObstacleView`]), and the
//! objects a job cannot copy as they are, counted ([`NotCopyable`]).

use std::collections::BTreeMap;
use std::io::Read;

use flate2::read::MultiGzDecoder;
use serde::{Deserialize, Serialize};

use super::{Columns, InventoryError, COPY_SIZE_MAX};
use crate::manifest::{decode_key_into, ManifestEntry, ManifestError};

/// One row of an inventory data file, with the columns ferry uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InventoryRow {
    pub bucket: String,
    /// The decoded key.
    pub key: String,
    pub version_id: Option<String>,
    pub is_latest: Option<bool>,
    pub is_delete_marker: Option<bool>,
    pub size: Option<u64>,
    pub e_tag: Option<String>,
    pub storage_class: Option<String>,
    /// `IntelligentTieringAccessTier` (ferry asks for it when the copy restores).
    pub access_tier: Option<String>,
    pub encryption_status: Option<String>,
}

/// Why S3PutObjectCopy cannot copy an object as it is (docs/src/encryption.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CopyObstacle {
    /// Over 5 GB: S3PutObjectCopy fails it with InvalidRequest.
    TooLarge,
    /// Glacier Flexible Retrieval or Deep Archive, or an Intelligent-Tiering archive tier: it
    /// must be restored first (`source.archived: restore`).
    Archived,
    /// Encrypted with a customer-provided key: Batch Operations cannot read it.
    SseC,
    /// A delete marker has nothing to copy.
    DeleteMarker,
    /// SSE-KMS under the source account's AWS managed key `aws/s3`: no other account can ever
    /// use it (source-access's sample finds these).
    AwsManagedKey,
    /// SSE-KMS under a key the job's role may not use (its task's report row says so): `aws/s3`,
    /// or a customer managed key the source stack does not list.
    KmsKey,
}

impl CopyObstacle {
    /// A short name, as counts and report codes show it.
    pub fn label(self) -> &'static str {
        match self {
            CopyObstacle::TooLarge => "over 5 GB",
            CopyObstacle::Archived => "archived",
            CopyObstacle::SseC => "SSE-C",
            CopyObstacle::DeleteMarker => "delete marker",
            CopyObstacle::AwsManagedKey => "aws/s3",
            CopyObstacle::KmsKey => "KMS key",
        }
    }

    /// Why, and what to do.
    pub fn remedy(self) -> &'static str {
        match self {
            CopyObstacle::TooLarge => "larger than the 5 GB a Batch Operations copy takes: copy it with a multipart copy",
            CopyObstacle::Archived => "archived (S3 Glacier Flexible Retrieval, Deep Archive, or an Intelligent-Tiering archive tier): with source.archived restore, ferry restores it before the copy (a run that restores and still finds it archived had its restore refused or not done in time: the restore jobs' reports say which)",
            CopyObstacle::SseC => "encrypted with a customer-provided key (SSE-C), which S3 Batch Operations cannot read: copy it in place with its key to SSE-S3 or SSE-KMS first",
            CopyObstacle::DeleteMarker => "a delete marker: there is nothing to copy",
            CopyObstacle::AwsManagedKey => "encrypted with the AWS managed key aws/s3, which no other account can ever use: copy it in place to a customer managed key listed in the source stack's SourceKmsKeyArns first",
            CopyObstacle::KmsKey => "encrypted with a KMS key the Batch role may not use: the AWS managed key aws/s3 (copy it in place to a customer managed key first), or a customer managed key the source stack's SourceKmsKeyArns does not list",
        }
    }
}

/// How many keys of each obstacle a [`NotCopyable`] names.
pub const NOT_COPYABLE_KEYS: usize = 10;

/// Objects found before a job that S3 Batch Operations cannot copy as they are: counted by
/// obstacle, with the first keys of each. Bounded whatever the number of objects.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotCopyable {
    /// How many objects were looked at (a sample, or every row of an inventory report).
    pub looked_at: u64,
    /// Objects by obstacle (its label).
    pub counts: BTreeMap<String, u64>,
    /// The first keys of each obstacle.
    pub keys: BTreeMap<String, Vec<String>>,
}

impl NotCopyable {
    pub fn add(&mut self, obstacle: CopyObstacle, key: &str) {
        let label = obstacle.label().to_string();
        *self.counts.entry(label.clone()).or_default() += 1;
        let keys = self.keys.entry(label).or_default();
        if keys.len() < NOT_COPYABLE_KEYS {
            keys.push(key.to_string());
        }
    }

    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// Leaves out the objects of `obstacle` (archived ones a restore made copyable).
    pub fn forget(&mut self, obstacle: CopyObstacle) {
        self.counts.remove(obstacle.label());
        self.keys.remove(obstacle.label());
    }

    /// Adds `other`'s objects after these (its keys after these, within the bound).
    pub fn merge(&mut self, other: &NotCopyable) {
        self.looked_at += other.looked_at;
        for (label, n) in &other.counts {
            *self.counts.entry(label.clone()).or_default() += n;
        }
        for (label, keys) in &other.keys {
            let mine = self.keys.entry(label.clone()).or_default();
            let room = NOT_COPYABLE_KEYS.saturating_sub(mine.len());
            mine.extend(keys.iter().take(room).cloned());
        }
    }

    /// One sentence per obstacle: how many, which keys first, why and what to do.
    pub fn lines(&self) -> Vec<String> {
        ALL_OBSTACLES
            .iter()
            .filter_map(|o| {
                let count = self.counts.get(o.label())?;
                let keys = self.keys.get(o.label()).cloned().unwrap_or_default();
                Some(format!(
                    "{count} of {} objects looked at cannot be copied ({}): {}; for example {}",
                    self.looked_at,
                    o.label(),
                    o.remedy(),
                    keys.join(", ")
                ))
            })
            .collect()
    }
}

const ALL_OBSTACLES: [CopyObstacle; 6] = [
    CopyObstacle::TooLarge,
    CopyObstacle::Archived,
    CopyObstacle::SseC,
    CopyObstacle::DeleteMarker,
    CopyObstacle::AwsManagedKey,
    CopyObstacle::KmsKey,
];

/// What would make an object's copy task fail, from its inventory columns.
fn obstacle_of(
    is_delete_marker: Option<bool>,
    size: Option<u64>,
    storage_class: Option<&str>,
    access_tier: Option<&str>,
    encryption_status: Option<&str>,
) -> Option<CopyObstacle> {
    if is_delete_marker == Some(true) {
        Some(CopyObstacle::DeleteMarker)
    } else if size.is_some_and(|s| s > COPY_SIZE_MAX) {
        Some(CopyObstacle::TooLarge)
    } else if crate::restore::archive_class(storage_class, access_tier).is_some() {
        Some(CopyObstacle::Archived)
    } else if encryption_status == Some("SSE-C") {
        Some(CopyObstacle::SseC)
    } else {
        None
    }
}

impl InventoryRow {
    /// What would make this object's copy task fail, if the inventory tells.
    pub fn copy_obstacle(&self) -> Option<CopyObstacle> {
        obstacle_of(
            self.is_delete_marker,
            self.size,
            self.storage_class.as_deref(),
            self.access_tier.as_deref(),
            self.encryption_status.as_deref(),
        )
    }

    pub fn to_manifest_entry(&self) -> ManifestEntry {
        ManifestEntry {
            bucket: self.bucket.clone(),
            key: self.key.clone(),
            version_id: self.version_id.clone(),
        }
    }
}

/// Streams the rows of one gzipped CSV data file of an inventory report: one line and, with
/// [`InventoryRows::read_into`], one row reused for every line, so that reading allocates
/// nothing per row (the iterator gives owned rows, a new one each). Lines are split as
/// `records` describes.
pub struct InventoryRows<R: Read> {
    records: crate::records::Records<MultiGzDecoder<R>>,
    columns: Columns,
}

impl<R: Read> InventoryRows<R> {
    /// `gz` is a `data/*.csv.gz` object's body; `columns` come from its manifest.json.
    pub fn new(gz: R, columns: Columns) -> Self {
        InventoryRows {
            records: crate::records::Records::new(MultiGzDecoder::new(gz)),
            columns,
        }
    }

    /// The next row, written over `row` (its strings' allocations reused): `Ok(false)` at the
    /// end of the file.
    pub fn read_into(&mut self, row: &mut InventoryRow) -> Result<bool, InventoryError> {
        match self
            .records
            .next_record()
            .map_err(|e| InventoryError::Row(ManifestError::Csv(e)))?
        {
            None => Ok(false),
            Some(record) => {
                fill_row(&record, &self.columns, row)?;
                Ok(true)
            }
        }
    }
}

/// The values of one record of a data file, checked as they are read: only the columns ferry
/// uses must be UTF-8.
struct Fields<'r, 'b> {
    r: &'r crate::records::Record<'b>,
    columns: &'r Columns,
}

impl<'r, 'b> Fields<'r, 'b> {
    fn of(
        r: &'r crate::records::Record<'b>,
        columns: &'r Columns,
    ) -> Result<Fields<'r, 'b>, InventoryError> {
        if r.len() != columns.len() {
            return Err(InventoryError::Value {
                line: r.line,
                message: format!(
                    "{} values for the {} columns of fileSchema",
                    r.len(),
                    columns.len()
                ),
            });
        }
        Ok(Fields { r, columns })
    }

    fn value(&self, i: usize) -> Result<&'b str, InventoryError> {
        std::str::from_utf8(self.r.field(i)).map_err(|_| InventoryError::Value {
            line: self.r.line,
            message: format!("the {} value is not UTF-8", self.columns.names[i]),
        })
    }

    fn text(&self, i: Option<usize>) -> Result<Option<&'b str>, InventoryError> {
        match i {
            Some(i) if !self.r.field(i).is_empty() => self.value(i).map(Some),
            _ => Ok(None),
        }
    }

    fn flag(&self, i: Option<usize>, name: &str) -> Result<Option<bool>, InventoryError> {
        match self.text(i)? {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(other) => Err(InventoryError::Value {
                line: self.r.line,
                message: format!("{name} is `{other}`, not true or false"),
            }),
        }
    }

    fn size(&self) -> Result<Option<u64>, InventoryError> {
        match self.text(self.columns.size)? {
            None => Ok(None),
            Some(s) => Ok(Some(s.parse::<u64>().map_err(|_| {
                InventoryError::Value {
                    line: self.r.line,
                    message: format!("Size is `{s}`, not a number of bytes"),
                }
            })?)),
        }
    }

    fn obstacle(&self) -> Result<Option<CopyObstacle>, InventoryError> {
        Ok(obstacle_of(
            self.flag(self.columns.is_delete_marker, "IsDeleteMarker")?,
            self.size()?,
            self.text(self.columns.storage_class)?,
            self.text(self.columns.access_tier)?,
            self.text(self.columns.encryption_status)?,
        ))
    }

    fn archive(&self) -> Result<Option<crate::restore::ArchiveClass>, InventoryError> {
        if self.flag(self.columns.is_delete_marker, "IsDeleteMarker")? == Some(true) {
            return Ok(None);
        }
        Ok(crate::restore::archive_class(
            self.text(self.columns.storage_class)?,
            self.text(self.columns.access_tier)?,
        ))
    }
}

/// `row` from one record of a data file.
fn fill_row(
    r: &crate::records::Record<'_>,
    columns: &Columns,
    row: &mut InventoryRow,
) -> Result<(), InventoryError> {
    let f = Fields::of(r, columns)?;
    row.size = f.size()?;
    row.bucket.clear();
    row.bucket.push_str(f.value(columns.bucket)?);
    decode_key_into(f.value(columns.key)?, &mut row.key)?;
    set(&mut row.version_id, f.text(columns.version_id)?);
    row.is_latest = f.flag(columns.is_latest, "IsLatest")?;
    row.is_delete_marker = f.flag(columns.is_delete_marker, "IsDeleteMarker")?;
    set(&mut row.e_tag, f.text(columns.e_tag)?);
    set(&mut row.storage_class, f.text(columns.storage_class)?);
    set(&mut row.access_tier, f.text(columns.access_tier)?);
    set(
        &mut row.encryption_status,
        f.text(columns.encryption_status)?,
    );
    Ok(())
}

/// One row of a data file as far as S3PutObjectCopy is concerned, borrowed from its line
/// ([`InventoryRows::next_obstacle`]): what would make its copy fail, and its key, decoded
/// only when asked for.
pub struct ObstacleView<'a> {
    pub obstacle: Option<CopyObstacle>,
    /// Archived, and of which kind (what a restore job takes).
    pub archive: Option<crate::restore::ArchiveClass>,
    /// The row's bucket and key as the data file has them (the key URL-encoded).
    pub bucket: &'a str,
    pub encoded_key: &'a str,
}

impl ObstacleView<'_> {
    /// The row's key, decoded.
    pub fn key(&self) -> Result<String, InventoryError> {
        Ok(crate::manifest::decode_key(self.encoded_key)?)
    }
}

impl<R: Read> InventoryRows<R> {
    /// The next row's [`ObstacleView`], `None` at the end of the file: only the columns an
    /// obstacle depends on are read and checked, and nothing is copied or decoded (job-submit
    /// counts every row of a report this way, and decodes the few keys it names).
    pub fn next_obstacle(&mut self) -> Result<Option<ObstacleView<'_>>, InventoryError> {
        let Some(record) = self
            .records
            .next_record()
            .map_err(|e| InventoryError::Row(ManifestError::Csv(e)))?
        else {
            return Ok(None);
        };
        let f = Fields::of(&record, &self.columns)?;
        let obstacle = f.obstacle()?;
        let archive = f.archive()?;
        let encoded_key = f.value(self.columns.key)?;
        let bucket = f.value(self.columns.bucket)?;
        Ok(Some(ObstacleView {
            obstacle,
            archive,
            bucket,
            encoded_key,
        }))
    }
}

/// `slot` = `value`, reusing the string `slot` holds.
pub(crate) fn set(slot: &mut Option<String>, value: Option<&str>) {
    match value {
        None => *slot = None,
        Some(v) => {
            let s = slot.get_or_insert_with(String::new);
            s.clear();
            s.push_str(v);
        }
    }
}

impl<R: Read> Iterator for InventoryRows<R> {
    type Item = Result<InventoryRow, InventoryError>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut row = InventoryRow::default();
        self.read_into(&mut row)
            .map(|more| more.then_some(row))
            .transpose()
    }
}
