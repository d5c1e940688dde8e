//! Speed and peak memory of ferry-core's streaming readers: an inventory data file (gzipped CSV)
//! read row by row, and a completion report summarized while its retry manifest is written.
//! Peak memory (VmHWM) should not grow with the number of rows.
//!
//! Usage: cargo run --release -p ferry-core --example bench_streams -- [ROWS] [DIR]
//!
//! With DIR the input files (`data.csv.gz`, `results.csv`) are written there if they are not
//! already, and kept: local/bench/streams.py gives the same files to DuckDB and Python.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::time::Instant;

use flate2::{write::GzEncoder, Compression};

use ferry_core::inventory::{Columns, InventoryRow, InventoryRows, NotCopyable};
use ferry_core::report::{ReportColumns, ReportRows, Summarizer};

/// Peak resident memory of this process in KiB (Linux), or 0 where /proc is absent.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rows: u64 = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let kept = std::env::args().nth(2).map(std::path::PathBuf::from);
    let dir = kept.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("ferry-bench-{}", std::process::id()))
    });
    std::fs::create_dir_all(&dir)?;
    let inventory = dir.join("data.csv.gz");
    let report = dir.join("results.csv");
    if !(inventory.exists() && report.exists()) {
        write_inputs(&inventory, &report, rows)?;
    }

    let before = peak_rss_kib();

    // Where the inventory's time goes: inflating alone, then inflating and splitting into CSV
    // records (FERRY_BENCH_PARTS=1).
    if std::env::var_os("FERRY_BENCH_PARTS").is_some() {
        let t = Instant::now();
        let mut gz = flate2::read::MultiGzDecoder::new(BufReader::new(File::open(&inventory)?));
        let bytes = std::io::copy(&mut gz, &mut std::io::sink())?;
        println!(
            "inflate only: {bytes} bytes, {:.2} s",
            t.elapsed().as_secs_f64()
        );
        let t = Instant::now();
        let gz = flate2::read::MultiGzDecoder::new(BufReader::new(File::open(&inventory)?));
        let mut csv = csv::ReaderBuilder::new().has_headers(false).from_reader(gz);
        let (mut record, mut n) = (csv::ByteRecord::new(), 0u64);
        while csv.read_byte_record(&mut record)? {
            n += 1;
        }
        println!(
            "inflate and CSV records (csv crate): {n} records, {:.2} s",
            t.elapsed().as_secs_f64()
        );
        let t = Instant::now();
        let gz = flate2::read::MultiGzDecoder::new(BufReader::new(File::open(&inventory)?));
        let mut records = ferry_core::records::Records::new(gz);
        let mut n = 0u64;
        while records.next_record()?.is_some() {
            n += 1;
        }
        println!(
            "inflate and CSV records (ferry's split): {n} records, {:.2} s",
            t.elapsed().as_secs_f64()
        );
    }

    let columns = Columns::from_schema(
        "Bucket, Key, Size, LastModifiedDate, ETag, StorageClass, IsMultipartUploaded, EncryptionStatus",
    )?;
    let t = Instant::now();
    // What job-submit does with each row: count it, and the objects S3PutObjectCopy cannot copy.
    let (mut n, mut bytes, mut found) = (0u64, 0u64, NotCopyable::default());
    let mut reader = InventoryRows::new(BufReader::new(File::open(&inventory)?), columns.clone());
    while let Some(row) = reader.next_obstacle()? {
        n += 1;
        if let Some(o) = row.obstacle {
            found.add(o, &row.key()?);
        }
    }
    let inv_secs = t.elapsed().as_secs_f64();
    // Every row read whole (the key decoded, every column copied), as the iterator gives them.
    let t = Instant::now();
    let mut reader = InventoryRows::new(BufReader::new(File::open(&inventory)?), columns);
    let mut row = InventoryRow::default();
    while reader.read_into(&mut row)? {
        bytes += row.size.unwrap_or(0);
    }
    let whole_secs = t.elapsed().as_secs_f64();
    assert!(found.is_empty());
    assert_eq!(n, rows);
    let after_inventory = peak_rss_kib();

    let t = Instant::now();
    let retry = BufWriter::new(File::create(dir.join("retry.csv"))?);
    let mut s = Summarizer::new(Some(retry));
    s.read(ReportRows::new(
        BufReader::new(File::open(&report)?),
        ReportColumns::documented(),
        "results.csv",
    ))?;
    let (summary, retry) = s.finish()?;
    let rep_secs = t.elapsed().as_secs_f64();
    let after_report = peak_rss_kib();

    println!("rows: {rows}");
    println!(
        "inventory: {n} rows, {:.2} s, {:.0} rows/s",
        inv_secs,
        n as f64 / inv_secs
    );
    println!(
        "inventory rows whole: {n} rows, {bytes} bytes listed, {:.2} s, {:.0} rows/s",
        whole_secs,
        n as f64 / whole_secs
    );
    println!(
        "report: {} failed ({} retryable written to the retry manifest), {:.2} s, {:.0} rows/s",
        summary.failed,
        retry.map_or(0, |r| r.rows),
        rep_secs,
        summary.failed as f64 / rep_secs
    );
    println!(
        "peak RSS KiB: before reading {before}, after inventory {after_inventory}, after report {after_report}"
    );
    if kept.is_none() {
        std::fs::remove_dir_all(&dir)?;
    }
    Ok(())
}

/// The inputs: an inventory data file of `rows` rows (gzipped CSV, the documented columns) and
/// a completion report of `rows` failed tasks (a third AccessDenied, the rest SlowDown).
fn write_inputs(
    inventory: &std::path::Path,
    report: &std::path::Path,
    rows: u64,
) -> Result<(), Box<dyn std::error::Error>> {
    // Inputs are written to files first, so that reading streams from disk as in a Lambda.
    let mut gz = GzEncoder::new(
        BufWriter::new(File::create(inventory)?),
        Compression::fast(),
    );
    for i in 0..rows {
        writeln!(
            gz,
            "\"src-photos\",\"2026/photos/album%20{}/photo-{i}.jpg\",\"{}\",\"2026-11-20T10:00:00.000Z\",\"d41d8cd98f00b204e9800998ecf8427e\",\"STANDARD\",\"false\",\"SSE-S3\"",
            i % 1000,
            i * 7
        )?;
    }
    gz.finish()?.flush()?;
    let mut out = BufWriter::new(File::create(report)?);
    for i in 0..rows {
        let (code, http) = if i % 3 == 0 {
            ("AccessDenied", 403)
        } else {
            ("SlowDown", 503)
        };
        writeln!(
            out,
            "src-photos,2026/k{i},,failed,{code},{http},message {i}"
        )?;
    }
    out.flush()?;
    drop(out);
    Ok(())
}
