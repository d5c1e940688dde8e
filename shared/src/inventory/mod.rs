//! S3 Inventory (flow A): the configuration ferry puts on the source bucket, the `manifest.json`
//! S3 delivers beside each report, and the rows of its gzipped CSV data files, read as a stream.

use serde::{Deserialize, Serialize};

use aws_sdk_s3::types as s3;

use crate::layout::INVENTORY_PREFIX;
use crate::manifest::ManifestError;
use crate::names::Names;
use crate::request::CopyRequest;

mod rows;
pub use rows::*;
pub mod scan;

/// The optional fields ferry asks for: what a pre-flight check and a summary need (size for
/// the 5 GB copy limit, storage class and Intelligent-Tiering access tier for archived objects,
/// encryption for SSE-C and KMS).
pub const OPTIONAL_FIELDS: [&str; 7] = [
    "Size",
    "LastModifiedDate",
    "ETag",
    "StorageClass",
    "IsMultipartUploaded",
    "EncryptionStatus",
    "IntelligentTieringAccessTier",
];

/// The largest object S3PutObjectCopy copies (5 GiB).
pub const COPY_SIZE_MAX: u64 = 5 * 1024 * 1024 * 1024;

/// A PutBucketInventoryConfiguration value in AWS's JSON shape (as the CLI's
/// `--inventory-configuration` takes it), so that `ferry plan` can print it as AWS shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InventoryConfig {
    pub id: String,
    pub is_enabled: bool,
    pub destination: InventoryDestination,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<InventoryFilter>,
    pub included_object_versions: String,
    pub optional_fields: Vec<String>,
    pub schedule: InventorySchedule,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InventoryDestination {
    pub s3_bucket_destination: S3BucketDestination,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct S3BucketDestination {
    pub account_id: String,
    /// The ferry bucket's ARN.
    pub bucket: String,
    pub format: String,
    pub prefix: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InventoryFilter {
    pub prefix: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InventorySchedule {
    pub frequency: String,
}

#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error("building the inventory configuration: {0}")]
    Build(#[from] aws_smithy_types::error::operation::BuildError),
    #[error("inventory manifest.json: {0}")]
    ManifestJson(#[from] serde_json::Error),
    #[error("inventory manifest.json: {0}")]
    Manifest(String),
    #[error("inventory data: {0}")]
    Row(#[from] ManifestError),
    #[error("inventory data, line {line}: {message}")]
    Value { line: u64, message: String },
}

impl InventoryConfig {
    /// The configuration of one copy: CSV, current versions, daily, delivered to the ferry bucket
    /// under `inventory/` in the destination account, listing only `source.prefix`.
    pub fn for_copy(req: &CopyRequest, names: &Names) -> InventoryConfig {
        InventoryConfig {
            id: names.inventory_config_id.clone(),
            is_enabled: true,
            destination: InventoryDestination {
                s3_bucket_destination: S3BucketDestination {
                    account_id: req.destination.account_id.clone(),
                    bucket: names.s3_arn(&names.ferry_bucket, None),
                    format: "CSV".into(),
                    prefix: INVENTORY_PREFIX.into(),
                },
            },
            filter: (!req.source.prefix.is_empty()).then(|| InventoryFilter {
                prefix: req.source.prefix.clone(),
            }),
            included_object_versions: "Current".into(),
            optional_fields: OPTIONAL_FIELDS.iter().map(|f| f.to_string()).collect(),
            schedule: InventorySchedule {
                frequency: "Daily".into(),
            },
        }
    }

    /// The SDK value for PutBucketInventoryConfiguration.
    pub fn to_sdk(&self) -> Result<s3::InventoryConfiguration, InventoryError> {
        let d = &self.destination.s3_bucket_destination;
        let destination = s3::InventoryDestination::builder()
            .s3_bucket_destination(
                s3::InventoryS3BucketDestination::builder()
                    .account_id(&d.account_id)
                    .bucket(&d.bucket)
                    .format(s3::InventoryFormat::from(d.format.as_str()))
                    .prefix(&d.prefix)
                    .build()?,
            )
            .build();
        let mut b = s3::InventoryConfiguration::builder()
            .id(&self.id)
            .is_enabled(self.is_enabled)
            .destination(destination)
            .included_object_versions(s3::InventoryIncludedObjectVersions::from(
                self.included_object_versions.as_str(),
            ))
            .schedule(
                s3::InventorySchedule::builder()
                    .frequency(s3::InventoryFrequency::from(
                        self.schedule.frequency.as_str(),
                    ))
                    .build()?,
            );
        if let Some(f) = &self.filter {
            b = b.filter(s3::InventoryFilter::builder().prefix(&f.prefix).build()?);
        }
        for field in &self.optional_fields {
            b = b.optional_fields(s3::InventoryOptionalField::from(field.as_str()));
        }
        Ok(b.build()?)
    }

    /// Reads an SDK value back into this shape, to compare an existing configuration with the
    /// one ferry wants (`source-inventory` updates it only when they differ).
    pub fn from_sdk(c: &s3::InventoryConfiguration) -> InventoryConfig {
        let d = c.destination().and_then(|d| d.s3_bucket_destination());
        InventoryConfig {
            id: c.id().to_string(),
            is_enabled: c.is_enabled(),
            destination: InventoryDestination {
                s3_bucket_destination: S3BucketDestination {
                    account_id: d.and_then(|d| d.account_id()).unwrap_or_default().into(),
                    bucket: d.map(|d| d.bucket().to_string()).unwrap_or_default(),
                    format: d
                        .map(|d| d.format().as_str().to_string())
                        .unwrap_or_default(),
                    prefix: d.and_then(|d| d.prefix()).unwrap_or_default().into(),
                },
            },
            filter: c.filter().map(|f| InventoryFilter {
                prefix: f.prefix().to_string(),
            }),
            included_object_versions: c.included_object_versions().as_str().to_string(),
            optional_fields: c
                .optional_fields()
                .iter()
                .map(|f| f.as_str().to_string())
                .collect(),
            schedule: InventorySchedule {
                frequency: c
                    .schedule()
                    .map(|s| s.frequency().as_str().to_string())
                    .unwrap_or_default(),
            },
        }
    }

    /// Same settings, ignoring the order of optional fields (AWS does not keep it).
    pub fn same_settings(&self, other: &InventoryConfig) -> bool {
        let sorted = |c: &InventoryConfig| {
            let mut c = c.clone();
            c.optional_fields.sort();
            c
        };
        sorted(self) == sorted(other)
    }
}

/// The `manifest.json` S3 writes beside an inventory report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InventoryManifest {
    pub source_bucket: String,
    /// The destination bucket's ARN.
    pub destination_bucket: String,
    pub version: String,
    /// Milliseconds since the epoch, as a string.
    pub creation_timestamp: String,
    pub file_format: String,
    /// Comma-separated column names of the data files.
    pub file_schema: String,
    pub files: Vec<InventoryFile>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryFile {
    pub key: String,
    pub size: u64,
    #[serde(rename = "MD5checksum")]
    pub md5_checksum: String,
}

impl InventoryManifest {
    /// Parses a manifest and checks that Batch Operations can use it (CSV).
    pub fn parse(json: &[u8]) -> Result<InventoryManifest, InventoryError> {
        let m: InventoryManifest = serde_json::from_slice(json)?;
        if m.file_format != "CSV" {
            return Err(InventoryError::Manifest(format!(
                "fileFormat is {}; S3 Batch Operations reads CSV inventory reports only",
                m.file_format
            )));
        }
        m.created_at_millis()?;
        m.columns()?;
        Ok(m)
    }

    pub fn created_at_millis(&self) -> Result<u64, InventoryError> {
        self.creation_timestamp.trim().parse().map_err(|_| {
            InventoryError::Manifest(format!(
                "creationTimestamp `{}` is not milliseconds since the epoch",
                self.creation_timestamp
            ))
        })
    }

    /// The data files' columns, in order.
    pub fn columns(&self) -> Result<Columns, InventoryError> {
        Columns::from_schema(&self.file_schema)
    }
}

/// Whether `manifest.checksum`'s content is the MD5 of `manifest.json` (S3 writes it as 32 hex
/// digits; white space around them is ignored).
pub fn checksum_matches(manifest_json: &[u8], checksum: &[u8]) -> bool {
    String::from_utf8_lossy(checksum)
        .trim()
        .eq_ignore_ascii_case(&manifest_checksum(manifest_json))
}

/// What S3 Inventory writes to `manifest.checksum`: the MD5 of `manifest.json`, in hex.
pub fn manifest_checksum(manifest_json: &[u8]) -> String {
    use md5::{Digest, Md5};
    Md5::digest(manifest_json)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Where the columns ferry reads sit in an inventory data row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Columns {
    names: Vec<String>,
    bucket: usize,
    key: usize,
    version_id: Option<usize>,
    is_latest: Option<usize>,
    is_delete_marker: Option<usize>,
    size: Option<usize>,
    e_tag: Option<usize>,
    storage_class: Option<usize>,
    access_tier: Option<usize>,
    encryption_status: Option<usize>,
}

impl Columns {
    pub fn from_schema(schema: &str) -> Result<Columns, InventoryError> {
        let names: Vec<String> = schema.split(',').map(|c| c.trim().to_string()).collect();
        let find = |n: &str| names.iter().position(|c| c == n);
        let required = |n: &str| {
            find(n).ok_or_else(|| {
                InventoryError::Manifest(format!("fileSchema `{schema}` has no {n} column"))
            })
        };
        Ok(Columns {
            bucket: required("Bucket")?,
            key: required("Key")?,
            version_id: find("VersionId"),
            is_latest: find("IsLatest"),
            is_delete_marker: find("IsDeleteMarker"),
            size: find("Size"),
            e_tag: find("ETag"),
            storage_class: find("StorageClass"),
            access_tier: find("IntelligentTieringAccessTier"),
            encryption_status: find("EncryptionStatus"),
            names,
        })
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_merged_file_by_file_are_the_counts_of_all_the_rows_in_order() {
        let keys: Vec<String> = (0..25).map(|i| format!("k{i}")).collect();
        let (mut whole, mut merged) = (NotCopyable::default(), NotCopyable::default());
        for chunk in keys.chunks(7) {
            let mut part = NotCopyable::default();
            for k in chunk {
                let o = if k.ends_with('3') {
                    CopyObstacle::SseC
                } else {
                    CopyObstacle::Archived
                };
                whole.looked_at += 1;
                part.looked_at += 1;
                whole.add(o, k);
                part.add(o, k);
            }
            merged.merge(&part);
        }
        assert_eq!(merged, whole);
        assert_eq!(merged.counts["archived"], 22);
        assert_eq!(merged.keys["archived"].len(), NOT_COPYABLE_KEYS);
        assert_eq!(merged.keys["SSE-C"], ["k3", "k13", "k23"]);
    }
    use flate2::{write::GzEncoder, Compression};
    use std::io::Write;

    const FERRY: &str = "ferry-222222222222-eu-west-1";

    fn request() -> CopyRequest {
        CopyRequest::from_json(include_str!("../../fixtures/request-inventory.json")).unwrap()
    }

    use crate::testing::gzip;

    #[test]
    fn the_configuration_delivers_csv_to_the_ferry_bucket() {
        let req = request();
        let c = InventoryConfig::for_copy(&req, &Names::new(&req, FERRY));
        let json = serde_json::to_value(&c).unwrap();
        let expected: serde_json::Value =
            serde_json::from_str(include_str!("../../fixtures/inventory-configuration.json"))
                .unwrap();
        assert_eq!(json, expected);
        for field in ["Size", "ETag", "StorageClass", "EncryptionStatus"] {
            assert!(c.optional_fields.iter().any(|f| f == field), "{field}");
        }
    }

    #[test]
    fn the_sdk_value_carries_every_setting_and_reads_back_the_same() {
        let req = request();
        let c = InventoryConfig::for_copy(&req, &Names::new(&req, FERRY));
        let sdk = c.to_sdk().unwrap();
        let d = sdk.destination().unwrap().s3_bucket_destination().unwrap();
        assert_eq!(d.bucket(), "arn:aws:s3:::ferry-222222222222-eu-west-1");
        assert_eq!(d.account_id(), Some("222222222222"));
        assert_eq!(d.format(), &s3::InventoryFormat::Csv);
        assert_eq!(d.prefix(), Some("inventory"));
        assert_eq!(
            sdk.included_object_versions(),
            &s3::InventoryIncludedObjectVersions::Current
        );
        assert_eq!(sdk.filter().unwrap().prefix(), "2026/");
        // Every field is one the SDK knows, so none is sent as an unknown string.
        for f in sdk.optional_fields() {
            assert!(
                s3::InventoryOptionalField::values().contains(&f.as_str()),
                "{f:?}"
            );
        }
        assert_eq!(InventoryConfig::from_sdk(&sdk), c);
    }

    #[test]
    fn settings_compare_without_field_order_but_with_everything_else() {
        let req = request();
        let c = InventoryConfig::for_copy(&req, &Names::new(&req, FERRY));
        let mut reordered = c.clone();
        reordered.optional_fields.reverse();
        assert!(c.same_settings(&reordered));
        // moto returns IncludedObjectVersions as All: that differs, and ferry puts it again.
        let mut all = c.clone();
        all.included_object_versions = "All".into();
        assert!(!c.same_settings(&all));
    }

    #[test]
    fn no_filter_without_a_source_prefix() {
        let mut req = request();
        req.source.prefix.clear();
        let c = InventoryConfig::for_copy(&req, &Names::new(&req, FERRY));
        assert_eq!(c.filter, None);
        assert!(c.to_sdk().unwrap().filter().is_none());
    }

    #[test]
    fn the_checksum_is_the_md5_of_the_manifest() {
        let json = include_bytes!("../../fixtures/inventory-manifest.json");
        // `md5sum shared/fixtures/inventory-manifest.json`, as S3 writes it into manifest.checksum.
        let md5sum = "b285c1df63c24b84e6bc95e6a7b9cd48";
        assert!(checksum_matches(json, md5sum.as_bytes()));
        assert!(checksum_matches(json, format!("{md5sum}\n").as_bytes()));
        assert!(checksum_matches(json, md5sum.to_uppercase().as_bytes()));
        assert!(!checksum_matches(json, b"c2b6c1d2f9b2fa4e2e4b4e4dfd2b9e7a"));
        assert!(!checksum_matches(b"{}", md5sum.as_bytes()));
    }

    #[test]
    fn parses_the_aws_example_manifest() {
        let m = InventoryManifest::parse(include_bytes!("../../fixtures/inventory-manifest.json"))
            .unwrap();
        assert_eq!(m.source_bucket, "src-photos");
        assert_eq!(m.created_at_millis().unwrap(), 1_514_944_800_000);
        assert_eq!(m.files.len(), 1);
        assert_eq!(m.files[0].md5_checksum, "f11166069f1990abeb9c97ace9cdfabc");
        assert_eq!(m.columns().unwrap().len(), 20);
    }

    #[test]
    fn rejects_manifests_batch_operations_cannot_use() {
        let text = include_str!("../../fixtures/inventory-manifest.json");
        let orc = text.replace("\"CSV\"", "\"ORC\"");
        let err = InventoryManifest::parse(orc.as_bytes()).unwrap_err();
        assert!(
            err.to_string().contains("reads CSV inventory reports only"),
            "{err}"
        );
        let no_key = text.replace("Bucket, Key,", "Bucket,");
        let err = InventoryManifest::parse(no_key.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("has no Key column"), "{err}");
        let bad_time = text.replace("1514944800000", "yesterday");
        assert!(InventoryManifest::parse(bad_time.as_bytes()).is_err());
    }

    #[test]
    fn reads_gzipped_rows_by_the_manifest_schema() {
        let m = InventoryManifest::parse(include_bytes!("../../fixtures/inventory-manifest.json"))
            .unwrap();
        let data = gzip(include_str!("../../fixtures/inventory-data.csv"));
        let rows: Vec<InventoryRow> = InventoryRows::new(&data[..], m.columns().unwrap())
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rows.len(), 6);
        assert_eq!(rows[0].key, "2026/photos/photo1.jpg");
        assert_eq!(rows[0].size, Some(2_097_152));
        assert_eq!(
            rows[0].e_tag.as_deref(),
            Some("d41d8cd98f00b204e9800998ecf8427e")
        );
        assert_eq!(rows[0].copy_obstacle(), None);
        assert_eq!(rows[1].key, "2026/photos/summer holiday/day 1.jpg");
        assert_eq!(rows[1].version_id.as_deref(), Some("3HL4kqtJvjVBH40Nrjfkd"));
        let obstacles: Vec<_> = rows.iter().map(InventoryRow::copy_obstacle).collect();
        assert_eq!(
            obstacles,
            [
                None,
                None,
                Some(CopyObstacle::TooLarge),
                Some(CopyObstacle::Archived),
                Some(CopyObstacle::SseC),
                Some(CopyObstacle::DeleteMarker),
            ]
        );
        assert_eq!(rows[2].to_manifest_entry().key, "2026/video/raw+take.mov");

        let mut found = NotCopyable::default();
        for row in &rows {
            found.looked_at += 1;
            if let Some(o) = row.copy_obstacle() {
                found.add(o, &row.key);
            }
        }
        assert_eq!(found.counts.values().sum::<u64>(), 4);
        assert_eq!(found.counts["SSE-C"], 1);
        let lines = found.lines();
        assert_eq!(lines.len(), 4);
        let sse_c = lines.iter().find(|l| l.contains("(SSE-C)")).unwrap();
        assert!(sse_c.starts_with("1 of 6 objects looked at cannot be copied (SSE-C): encrypted with a customer-provided key"), "{sse_c}");
        assert!(
            sse_c.ends_with(&format!("for example {}", rows[4].key)),
            "{sse_c}"
        );
    }

    #[test]
    fn not_copyable_names_a_bounded_number_of_keys() {
        let mut found = NotCopyable::default();
        for i in 0..1000 {
            found.add(CopyObstacle::AwsManagedKey, &format!("k{i}"));
        }
        assert_eq!(found.counts["aws/s3"], 1000);
        assert_eq!(found.keys["aws/s3"].len(), NOT_COPYABLE_KEYS);
        assert!(!found.is_empty() && NotCopyable::default().is_empty());
    }

    #[test]
    fn a_row_that_does_not_fit_the_schema_names_its_line() {
        let columns = Columns::from_schema("Bucket, Key, Size").unwrap();
        let data = gzip("\"b\",\"k1\",\"1\"\n\"b\",\"k2\",\"big\"\n\"b\",\"k3\"\n");
        let results: Vec<_> = InventoryRows::new(&data[..], columns).collect();
        assert!(results[0].is_ok());
        let e1 = results[1].as_ref().unwrap_err().to_string();
        assert_eq!(
            e1,
            "inventory data, line 2: Size is `big`, not a number of bytes"
        );
        let e2 = results[2].as_ref().unwrap_err().to_string();
        assert!(e2.contains("line 3: 2 values for the 3 columns"), "{e2}");
    }

    /// Memory stays flat however many rows a data file has: the reader holds one row at a time.
    #[test]
    fn streams_a_large_data_file() {
        let columns = Columns::from_schema("Bucket, Key, Size").unwrap();
        let mut e = GzEncoder::new(Vec::new(), Compression::fast());
        for i in 0..200_000 {
            writeln!(e, "\"src\",\"k/{i}\",\"{i}\"").unwrap();
        }
        let data = e.finish().unwrap();
        let mut count = 0u64;
        let mut bytes = 0u64;
        for row in InventoryRows::new(&data[..], columns) {
            let row = row.unwrap();
            count += 1;
            bytes += row.size.unwrap();
        }
        assert_eq!(count, 200_000);
        assert_eq!(bytes, (0..200_000u64).sum::<u64>());
    }
}
