//! Hostile input to every parser of what ferry reads from outside: copy requests, S3 event keys,
//! inventory manifests and data, completion reports, CSV manifests, execution names. Whatever
//! comes in, the answer is a value or a named error: never a panic, and never an allocation
//! that grows with a line (a 1 GB line, a billion-column row).

use std::io::{Cursor, Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use ferry_core::inventory::{InventoryManifest, InventoryRows};
use ferry_core::layout::{parse_inventory_config_id, Delivery};
use ferry_core::manifest::{decode_key, CsvManifestReader, LINE_BYTES_MAX};
use ferry_core::names::ExecutionName;
use ferry_core::report::{ReportManifest, ReportRows};
use ferry_core::request::CopyRequest;
use proptest::prelude::*;
use serde_json::Value;

/// A reader that counts the bytes taken from it.
struct Counted<R> {
    inner: R,
    taken: Arc<AtomicUsize>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.taken.fetch_add(n, Ordering::Relaxed);
        Ok(n)
    }
}

fn counted<R: Read>(inner: R) -> (Counted<R>, Arc<AtomicUsize>) {
    let taken = Arc::new(AtomicUsize::new(0));
    (
        Counted {
            inner,
            taken: taken.clone(),
        },
        taken,
    )
}

fn report_columns() -> ferry_core::report::ReportColumns {
    ReportManifest::parse(include_bytes!("../fixtures/report-manifest.json"))
        .unwrap()
        .columns()
        .unwrap()
}

fn inventory_columns() -> ferry_core::inventory::Columns {
    InventoryManifest::parse(include_bytes!("../fixtures/inventory-manifest.json"))
        .unwrap()
        .columns()
        .unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

/// The first item of a reader over `source` is an error, found after at most a line's limit
/// and one buffer of input, and the reader ends there.
fn refused_early<T: std::fmt::Debug, E: std::fmt::Display>(
    mut items: impl Iterator<Item = Result<T, E>>,
    taken: &AtomicUsize,
) -> String {
    let first = items.next().expect("an item");
    let err = first
        .expect_err("a line over the limit is an error")
        .to_string();
    assert!(
        taken.load(Ordering::Relaxed) <= LINE_BYTES_MAX + 64 * 1024,
        "read {} bytes for one line",
        taken.load(Ordering::Relaxed)
    );
    // And it ends: nothing more is read from the hostile line.
    assert!(
        items.take(10).count() <= 1,
        "the reader goes on after the error"
    );
    assert!(taken.load(Ordering::Relaxed) <= LINE_BYTES_MAX + 64 * 1024);
    err
}

#[test]
fn a_gigabyte_line_is_an_error_after_a_megabyte_in_every_reader() {
    let gigabyte = || std::io::repeat(b'a').take(1 << 30);
    let (r, taken) = counted(gigabyte());
    let err = refused_early(CsvManifestReader::new(r), &taken);
    assert!(err.contains("a line longer than 1048576 bytes"), "{err}");
    let (r, taken) = counted(gigabyte());
    let err = refused_early(ReportRows::new(r, report_columns(), "results.csv"), &taken);
    assert!(err.contains("a line longer than 1048576 bytes"), "{err}");
    // Inventory data is gzipped: 3 MiB of one line (the limit applies to what inflates).
    let gz = gzip(&vec![b'a'; 3 * 1024 * 1024]);
    let mut rows = InventoryRows::new(Cursor::new(gz), inventory_columns());
    let err = rows.next().unwrap().unwrap_err().to_string();
    assert!(err.contains("a line longer than 1048576 bytes"), "{err}");
}

#[test]
fn a_billion_column_row_is_an_error_after_a_megabyte() {
    let (r, taken) = counted(std::io::repeat(b',').take(1_000_000_000));
    let err = refused_early(CsvManifestReader::new(r), &taken);
    assert!(err.contains("a line longer than"), "{err}");
    let (r, taken) = counted(std::io::repeat(b',').take(1_000_000_000));
    let err = refused_early(ReportRows::new(r, report_columns(), "results.csv"), &taken);
    assert!(err.contains("a line longer than"), "{err}");
}

#[test]
fn long_rows_under_the_limit_are_still_read() {
    // A key of 1,024 bytes, every byte percent-encoded: 3 KB on its line.
    let key: String = "%41".repeat(1024);
    let csv = format!("src-photos,{key}\nsrc-photos,b\n");
    let rows: Vec<_> = CsvManifestReader::new(csv.as_bytes())
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].key, "A".repeat(1024));
}

/// Any JSON value, a few levels deep.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,40}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(".{0,12}", inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Every field path of a JSON document, as JSON pointers.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = format!("{at}/{k}");
                out.push(p.clone());
                pointers(x, p, out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                let p = format!("{at}/{i}");
                out.push(p.clone());
                pointers(x, p, out);
            }
        }
        _ => {}
    }
}

/// The destination stack the fixtures are written for (ferry-core's `testing` is not built for
/// integration tests), read as a function reads its environment.
fn destination_stack() -> ferry_core::stack::StackContext {
    use ferry_core::stack::*;
    let vars = std::collections::HashMap::from([
        (VAR_ACCOUNT_ID, "222222222222"),
        (VAR_REGION, "eu-west-1"),
        (VAR_FERRY_BUCKET, "ferry-222222222222-eu-west-1"),
        (VAR_SOURCE_ACCOUNT_IDS, "111111111111"),
        (VAR_SOURCE_BUCKETS, "src-photos,src-manifests,src-a*b?c$d"),
        (VAR_DESTINATION_BUCKETS, "dst-photos,dst-a*b?c$d"),
        (VAR_MANIFEST_BUCKETS, "dst-manifests"),
    ]);
    StackConfig::from_lookup(|n| vars.get(n).map(|v| v.to_string()))
        .unwrap()
        .context()
}

fn request_fixtures() -> Vec<Value> {
    [
        include_str!("../fixtures/request-csv.json"),
        include_str!("../fixtures/request-inventory.json"),
        include_str!("../fixtures/request-wildcards.json"),
    ]
    .iter()
    .map(|t| serde_json::from_str(t).unwrap())
    .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Arbitrary JSON is a request or violations that each name a field and a rule.
    #[test]
    fn any_json_is_a_request_or_named_violations(v in json()) {
        if let Err(violations) = CopyRequest::from_value(&v) {
            prop_assert!(!violations.0.is_empty());
            for x in &violations.0 {
                prop_assert!(!x.rule.is_empty(), "{violations}");
            }
        }
    }

    /// A real request with one field anywhere replaced by arbitrary JSON: parsed and validated
    /// against a stack, it is valid or every violation names its field.
    #[test]
    fn a_request_with_any_field_replaced_is_valid_or_names_the_field(
        which in 0usize..3, pick in any::<prop::sample::Index>(), with in json()
    ) {
        let mut v = request_fixtures().swap_remove(which);
        let mut paths = Vec::new();
        pointers(&v, String::new(), &mut paths);
        let path = pick.get(&paths).clone();
        *v.pointer_mut(&path).unwrap() = with;
        let ctx = destination_stack();
        match CopyRequest::from_value(&v) {
            Ok(req) => {
                if let Err(violations) = req.validate(&ctx) {
                    for x in &violations.0 {
                        prop_assert!(!x.field.is_empty() && !x.rule.is_empty(), "{violations}");
                    }
                }
            }
            Err(violations) => {
                for x in &violations.0 {
                    prop_assert!(!x.field.is_empty() || !x.rule.is_empty(), "{violations}");
                }
            }
        }
    }

    /// Arbitrary bytes as a CSV manifest, report results or inventory data: rows or errors,
    /// a finite number of them.
    #[test]
    fn any_bytes_are_rows_or_errors(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        prop_assert!(CsvManifestReader::new(&bytes[..]).take(10_000).count() < 10_000);
        prop_assert!(ReportRows::new(&bytes[..], report_columns(), "r.csv").take(10_000).count() < 10_000);
        let gz = gzip(&bytes);
        prop_assert!(InventoryRows::new(Cursor::new(gz), inventory_columns()).take(10_000).count() < 10_000);
        // Not gzip at all.
        let _ = InventoryRows::new(&bytes[..], inventory_columns()).take(10_000).count();
        let _ = InventoryManifest::parse(&bytes);
        let _ = ReportManifest::parse(&bytes);
    }

    /// The streaming readers reuse one record and one row for every line: what they give is
    /// what reading each line on its own gives (no value of a previous row left behind, a
    /// missing version id read as none after a row that had one), and the reused key decoder
    /// reads a key as percent-encoding's decoder does, `+` as a space.
    #[test]
    fn rows_read_into_one_buffer_are_each_rows_own(
        rows in prop::collection::vec(
            ("[a-z0-9.-]{3,12}", "[a-zA-Z0-9%+/ ._-]{1,40}", prop::option::of("[A-Za-z0-9]{1,8}"),
             prop::option::of(0u64..10_000_000_000), prop::option::of("(STANDARD|GLACIER|)")),
            1..20,
        )
    ) {
        let line = |(bucket, key, version, size, class): &(String, String, Option<String>, Option<u64>, Option<String>)| {
            format!(
                "\"{bucket}\",\"{key}\",\"{}\",\"{}\",\"{}\"\n",
                version.as_deref().unwrap_or(""),
                size.map(|s| s.to_string()).unwrap_or_default(),
                class.as_deref().unwrap_or(""),
            )
        };
        let columns = || ferry_core::inventory::Columns::from_schema("Bucket, Key, VersionId, Size, StorageClass").unwrap();
        let all: String = rows.iter().map(line).collect();
        let together: Vec<_> = InventoryRows::new(Cursor::new(gzip(all.as_bytes())), columns())
            .map(|r| r.map_err(|e| e.to_string()))
            .collect();
        let alone: Vec<_> = rows
            .iter()
            .flat_map(|r| InventoryRows::new(Cursor::new(gzip(line(r).as_bytes())), columns()).collect::<Vec<_>>())
            .map(|r| r.map_err(|e| e.to_string()))
            .collect();
        prop_assert_eq!(&together, &alone);
        // job-submit's borrowed view says what the whole rows say.
        let mut views = InventoryRows::new(Cursor::new(gzip(all.as_bytes())), columns());
        let mut seen = Vec::new();
        loop {
            match views.next_obstacle() {
                Ok(Some(v)) => seen.push(Ok((v.obstacle, v.key().map_err(|e| e.to_string())))),
                Ok(None) => break,
                Err(e) => seen.push(Err(e.to_string())),
            }
        }
        let whole: Vec<_> = together
            .iter()
            .map(|r| r.as_ref().map(|r| (r.copy_obstacle(), Ok(r.key.clone()))).map_err(|e| e.clone()))
            .collect();
        // A key that does not decode fails a whole row, and the view only when its key is asked.
        let comparable: Vec<_> = seen
            .into_iter()
            .map(|v| match v {
                Ok((_, Err(e))) => Err(e),
                other => other,
            })
            .collect();
        prop_assert_eq!(comparable.len(), whole.len());
        for (v, w) in comparable.iter().zip(&whole) {
            match (v, w) {
                (Ok(v), Ok(w)) => prop_assert_eq!(v, w),
                (Err(_), Err(_)) => {}
                _ => prop_assert!(false, "{v:?} against {w:?}"),
            }
        }
        for (row, (_, key, ..)) in together.iter().zip(&rows) {
            let expected = percent_encoding::percent_decode_str(&key.replace('+', " "))
                .decode_utf8()
                .map(|k| k.into_owned())
                .map_err(|_| ());
            match row {
                Ok(row) => prop_assert_eq!(Ok(row.key.clone()), expected),
                Err(_) => prop_assert!(expected.is_err()),
            }
        }
        let report: String = rows
            .iter()
            .map(|(bucket, key, version, ..)| {
                format!("{bucket},{key},{},failed,SlowDown,503,slow down\n", version.as_deref().unwrap_or(""))
            })
            .collect();
        let tasks: Vec<_> = ReportRows::new(report.as_bytes(), report_columns(), "r.csv")
            .map(|t| t.map(|t| (t.key, t.version_id)).map_err(|e| e.to_string()))
            .collect();
        prop_assert_eq!(tasks.len(), rows.len());
        for (task, (_, key, version, ..)) in tasks.iter().zip(&rows) {
            if let Ok((k, v)) = task {
                prop_assert_eq!(Ok(k.clone()), decode_key(key).map_err(|_| ()));
                prop_assert_eq!(v, version);
            }
        }
    }

    /// Arbitrary JSON as an inventory manifest or a report manifest: parsed or refused.
    #[test]
    fn any_json_is_a_manifest_or_an_error(v in json()) {
        let bytes = serde_json::to_vec(&v).unwrap();
        if let Ok(m) = InventoryManifest::parse(&bytes) {
            let _ = m.columns();
        }
        if let Ok(m) = ReportManifest::parse(&bytes) {
            let _ = m.columns();
        }
    }

    /// Arbitrary strings where ferry reads names and keys: S3 event keys, execution names,
    /// inventory configuration ids, timestamps.
    #[test]
    fn any_string_is_a_name_or_nothing(s in "\\PC{0,80}", raw in ".{0,80}") {
        for t in [&s, &raw] {
            let _ = decode_key(t);
            let _ = Delivery::from_checksum_key(t);
            let _ = ExecutionName::parse(t);
            let _ = parse_inventory_config_id(t);
            let _ = ferry_core::clock::parse_timestamp(t);
            if let Some(name) = ExecutionName::parse(t) {
                prop_assert_eq!(ExecutionName::parse(&name.to_string()), Some(name));
            }
        }
    }
}
