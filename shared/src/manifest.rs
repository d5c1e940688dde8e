//! CSV manifests of S3 Batch Operations (`S3BatchOperations_CSV_20180820`): no header, rows of
//! `bucket,key` or `bucket,key,versionId`, URL-encoded keys, and either every row has a version
//! id or none does. Read and written as streams: memory does not grow with the number of rows.
//!
//! Key encoding: AWS's encoders (inventory reports, S3 events) write a space as `+` and a literal
//! `+` as `%2B`, so [`decode_key`] reads `+` as a space. [`encode_key`] writes a space as `%20`
//! and `+` as `%2B`, which both form-style and strict percent decoders read back correctly.

use std::io::{Read, Write};

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::{Deserialize, Serialize};

/// Everything but RFC 3986's unreserved characters and `/` is encoded.
const KEY_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// Encodes an object key for a CSV manifest.
pub fn encode_key(key: &str) -> String {
    utf8_percent_encode(key, KEY_ENCODE).to_string()
}

/// Decodes a URL-encoded key from an inventory report, a CSV manifest or a completion report.
pub fn decode_key(encoded: &str) -> Result<String, ManifestError> {
    let mut key = String::new();
    decode_key_into(encoded, &mut key)?;
    Ok(key)
}

/// [`decode_key`] into `out` (cleared first), whose allocation is reused: the streaming readers
/// decode millions of keys into one buffer. A key without `%` or `+` is copied as it is.
pub fn decode_key_into(encoded: &str, out: &mut String) -> Result<(), ManifestError> {
    out.clear();
    let src = encoded.as_bytes();
    if memchr::memchr2(b'%', b'+', src).is_none() {
        out.push_str(encoded);
        return Ok(());
    }
    let mut bytes = std::mem::take(out).into_bytes();
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut i = 0;
    while i < src.len() {
        match src[i] {
            b'+' => bytes.push(b' '),
            // `%` and two hex digits is a byte; any other `%` is itself (as percent-encoding's
            // decoder reads it).
            b'%' => match (
                src.get(i + 1).and_then(|&b| hex(b)),
                src.get(i + 2).and_then(|&b| hex(b)),
            ) {
                (Some(h), Some(l)) => {
                    bytes.push(h << 4 | l);
                    i += 2;
                }
                _ => bytes.push(b'%'),
            },
            b => bytes.push(b),
        }
        i += 1;
    }
    match String::from_utf8(bytes) {
        Ok(key) => {
            *out = key;
            Ok(())
        }
        Err(e) => {
            // The buffer is kept, empty, for the next key.
            let mut bytes = e.into_bytes();
            bytes.clear();
            *out = String::from_utf8(bytes).unwrap_or_default();
            Err(ManifestError::KeyEncoding)
        }
    }
}

/// The rows of a headerless CSV stream (manifests, inventory data, report results), read one
/// at a time; rows may differ in length, and each reader checks its own. No line may be longer
/// than [`LINE_BYTES_MAX`]: a hostile or broken file (a 1 GB line, a billion-column row) is an
/// error after that many bytes, not a record built in memory.
pub(crate) fn headerless_records<R: Read>(reader: R) -> Records<R> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(LineLimit::new(reader))
        .into_records()
}

/// The records of [`headerless_records`].
pub(crate) type Records<R> = csv::StringRecordsIntoIter<LineLimit<R>>;

/// The longest line ferry reads from a manifest, an inventory data file or a completion report:
/// a row holds a bucket, a key of at most 1,024 bytes (3 KB URL-encoded), a version id and a
/// few short fields, or a result message; 1 MiB is far beyond any of them.
pub const LINE_BYTES_MAX: usize = 1024 * 1024;

/// A reader that fails, once, when a line runs past [`LINE_BYTES_MAX`] bytes, and then ends.
pub struct LineLimit<R: Read> {
    inner: R,
    /// Bytes since the last newline.
    line: usize,
    /// The limit was passed: the error was returned, the stream has ended.
    tripped: bool,
}

impl<R: Read> LineLimit<R> {
    pub fn new(inner: R) -> LineLimit<R> {
        LineLimit {
            inner,
            line: 0,
            tripped: false,
        }
    }
}

impl<R: Read> Read for LineLimit<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.tripped {
            return Ok(0);
        }
        // Never more than the rest of the allowed line plus its newline in one read.
        let room = (LINE_BYTES_MAX - self.line + 1).min(buf.len());
        let n = self.inner.read(&mut buf[..room])?;
        // A read never holds more than the rest of the line and one newline, so only the line
        // that runs on can pass the limit; the others are shorter than the read.
        match memchr::memrchr(b'\n', &buf[..n]) {
            Some(last) => self.line = n - last - 1,
            None => self.line += n,
        }
        if self.line > LINE_BYTES_MAX {
            self.tripped = true;
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("a line longer than {LINE_BYTES_MAX} bytes: not a row of a manifest, an inventory or a report"),
            ));
        }
        Ok(n)
    }
}

/// One object to copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManifestEntry {
    pub bucket: String,
    /// The decoded key.
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("line {line}: {message}")]
    Row { line: u64, message: String },
    /// The key itself is not quoted: manifests name users' objects, and errors end up in logs
    /// and execution histories.
    #[error("field Key: not a valid URL-encoded UTF-8 key")]
    KeyEncoding,
    #[error(
        "a CSV manifest has a version id on every row or on none; this row {}",
        if *.has_version { "has one and earlier rows had none" } else { "has none and earlier rows had one" }
    )]
    MixedVersions { has_version: bool },
    #[error("reading the manifest: {0}")]
    Csv(#[from] csv::Error),
    #[error("writing the manifest: {0}")]
    Io(#[from] std::io::Error),
}

/// Streams the rows of a CSV manifest.
pub struct CsvManifestReader<R: Read> {
    rows: Records<R>,
    with_versions: Option<bool>,
}

impl<R: Read> CsvManifestReader<R> {
    pub fn new(reader: R) -> Self {
        CsvManifestReader {
            rows: headerless_records(reader),
            with_versions: None,
        }
    }

    fn entry(&mut self, record: csv::StringRecord) -> Result<ManifestEntry, ManifestError> {
        let line = record.position().map_or(0, |p| p.line());
        let row_error = |message: String| ManifestError::Row { line, message };
        let (bucket, key, version) = match record.len() {
            2 => (&record[0], &record[1], None),
            3 => (&record[0], &record[1], Some(&record[2])),
            n => {
                return Err(row_error(format!(
                    "expected 2 columns (bucket,key) or 3 (bucket,key,versionId), found {n}"
                )))
            }
        };
        if bucket.is_empty() || key.is_empty() {
            return Err(row_error("fields Bucket and Key must not be empty".into()));
        }
        let version_id = version.filter(|v| !v.is_empty()).map(str::to_string);
        let has_version = version_id.is_some();
        match self.with_versions {
            None => self.with_versions = Some(has_version),
            Some(expected) if expected != has_version => {
                return Err(row_error(
                    ManifestError::MixedVersions { has_version }.to_string(),
                ))
            }
            Some(_) => {}
        }
        Ok(ManifestEntry {
            bucket: bucket.to_string(),
            key: decode_key(key).map_err(|e| row_error(e.to_string()))?,
            version_id,
        })
    }
}

impl<R: Read> Iterator for CsvManifestReader<R> {
    type Item = Result<ManifestEntry, ManifestError>;

    fn next(&mut self) -> Option<Self::Item> {
        let record = self.rows.next()?;
        Some(
            record
                .map_err(ManifestError::from)
                .and_then(|r| self.entry(r)),
        )
    }
}

/// Writes a CSV manifest row by row, enforcing "a version id on every row or on none".
pub struct CsvManifestWriter<W: Write> {
    out: csv::Writer<W>,
    with_versions: Option<bool>,
    rows: u64,
}

impl<W: Write> CsvManifestWriter<W> {
    pub fn new(writer: W) -> Self {
        CsvManifestWriter {
            out: csv::WriterBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_writer(writer),
            with_versions: None,
            rows: 0,
        }
    }

    pub fn write(&mut self, entry: &ManifestEntry) -> Result<(), ManifestError> {
        self.write_row(&entry.bucket, &entry.key, entry.version_id.as_deref())
    }

    /// [`Self::write`] of a row's parts, without building a [`ManifestEntry`].
    pub fn write_row(
        &mut self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<(), ManifestError> {
        let has_version = version_id.is_some();
        match self.with_versions {
            None => self.with_versions = Some(has_version),
            Some(expected) if expected != has_version => {
                return Err(ManifestError::MixedVersions { has_version })
            }
            Some(_) => {}
        }
        // Borrowed when the key has nothing to encode.
        let key: std::borrow::Cow<str> = utf8_percent_encode(key, KEY_ENCODE).into();
        match version_id {
            Some(v) => self.out.write_record([bucket, &key, v])?,
            None => self.out.write_record([bucket, &key])?,
        }
        self.rows += 1;
        Ok(())
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Whether the rows carry version ids (`None` before the first row): the CreateJob
    /// `Spec.Fields` follow from it.
    pub fn with_versions(&self) -> Option<bool> {
        self.with_versions
    }

    /// Flushes and returns the underlying writer.
    pub fn finish(self) -> Result<W, ManifestError> {
        self.out
            .into_inner()
            .map_err(|e| ManifestError::Io(e.into_error()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn read_all(csv: &str) -> Result<Vec<ManifestEntry>, ManifestError> {
        CsvManifestReader::new(csv.as_bytes()).collect()
    }

    #[test]
    fn reads_the_aws_example_manifest() {
        let rows = read_all(include_str!("../fixtures/csv-manifest.csv")).unwrap();
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[0].bucket, "src-photos");
        assert_eq!(rows[0].key, "2026/photos/photo1.jpg");
        assert_eq!(rows[2].key, "2026/photos/summer holiday/day 1.jpg");
        assert_eq!(rows[3].key, "2026/notes/a+b=c.txt");
        assert!(rows.iter().all(|r| r.version_id.is_none()));
    }

    #[test]
    fn reads_version_ids() {
        let rows = read_all(include_str!("../fixtures/csv-manifest-versions.csv")).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].version_id.as_deref(), Some("3HL4kqtJvjVBH40Nrjfkd"));
    }

    #[test]
    fn rejects_mixed_version_rows_and_bad_rows() {
        let mixed = "b,k1,v1\nb,k2\n";
        assert_eq!(
            read_all(mixed).unwrap_err().to_string(),
            "line 2: a CSV manifest has a version id on every row or on none; this row has none and earlier rows had one"
        );
        let err = read_all("b,k1\nb\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 2: expected 2 columns (bucket,key) or 3 (bucket,key,versionId), found 1"
        );
        let err = read_all("b,payroll-%FF.xlsx\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 1: field Key: not a valid URL-encoded UTF-8 key",
            "the row number and the field, never the key"
        );
        assert!(read_all("b,\n").is_err());
    }

    #[test]
    fn writes_what_aws_reads() {
        let mut w = CsvManifestWriter::new(Vec::new());
        for key in [
            "a/b.txt",
            "summer holiday/day 1.jpg",
            "a+b=c.txt",
            "résumé,v2.pdf",
        ] {
            w.write(&ManifestEntry {
                bucket: "src-photos".into(),
                key: key.into(),
                version_id: None,
            })
            .unwrap();
        }
        assert_eq!(w.rows(), 4);
        assert_eq!(w.with_versions(), Some(false));
        let out = String::from_utf8(w.finish().unwrap()).unwrap();
        assert_eq!(
            out,
            "src-photos,a/b.txt\n\
             src-photos,summer%20holiday/day%201.jpg\n\
             src-photos,a%2Bb%3Dc.txt\n\
             src-photos,r%C3%A9sum%C3%A9%2Cv2.pdf\n"
        );
    }

    #[test]
    fn the_writer_refuses_mixed_versions() {
        let mut w = CsvManifestWriter::new(Vec::new());
        let e = |v: Option<&str>| ManifestEntry {
            bucket: "b".into(),
            key: "k".into(),
            version_id: v.map(str::to_string),
        };
        w.write(&e(Some("v"))).unwrap();
        assert!(w.write(&e(None)).is_err());
    }

    proptest! {
        #[test]
        fn any_key_survives_write_then_read(
            keys in proptest::collection::vec("\\PC{1,60}", 1..20),
            versioned in any::<bool>(),
        ) {
            let entries: Vec<ManifestEntry> = keys
                .iter()
                .enumerate()
                .map(|(i, k)| ManifestEntry {
                    bucket: "src-photos".into(),
                    key: k.clone(),
                    version_id: versioned.then(|| format!("v{i}")),
                })
                .collect();
            let mut w = CsvManifestWriter::new(Vec::new());
            for e in &entries {
                w.write(e).unwrap();
            }
            let bytes = w.finish().unwrap();
            let back: Vec<ManifestEntry> = CsvManifestReader::new(&bytes[..])
                .collect::<Result<_, _>>()
                .unwrap();
            prop_assert_eq!(back, entries);
        }
    }
}
