//! The rows of the two large CSV streams ferry reads, inventory data files and completion
//! reports, split without the general CSV parser where their shape allows, and with it where it
//! does not.
//!
//! Both are written by AWS with URL-encoded keys, so no field of theirs holds a newline, and
//! their lines have one of two shapes: every field quoted (`"b","k","12"`, inventory data) or no
//! quote at all (`b,k,,succeeded,200,,Successful`, most report rows). A line of either shape is
//! split with memchr (SIMD) searches; any other line (a result message with a comma, quoted by
//! the writer) is handed to the `csv` crate on its own, which reads it as before. The split is
//! the same either way (a property test of the readers checks them against the `csv` crate).
//! Lines are bounded by [`LineLimit`].

use std::io::{BufRead, BufReader, Read};
use std::ops::Range;

use crate::manifest::LineLimit;

/// One record at a time: its bytes and the ranges of its fields in them, reused for every line.
pub struct Records<R: Read> {
    lines: BufReader<LineLimit<R>>,
    line: Vec<u8>,
    ranges: Vec<Range<usize>>,
    /// The general parser's record, for a line of neither simple shape.
    record: csv::ByteRecord,
    number: u64,
}

/// A record: its bytes, its fields' ranges, and its line number (from 1).
pub struct Record<'a> {
    pub bytes: &'a [u8],
    pub ranges: &'a [Range<usize>],
    pub line: u64,
}

impl<'a> Record<'a> {
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    pub fn field(&self, i: usize) -> &'a [u8] {
        &self.bytes[self.ranges[i].clone()]
    }
}

impl<R: Read> Records<R> {
    pub fn new(reader: R) -> Records<R> {
        Records {
            lines: BufReader::with_capacity(64 * 1024, LineLimit::new(reader)),
            line: Vec::new(),
            ranges: Vec::new(),
            record: csv::ByteRecord::new(),
            number: 0,
        }
    }

    /// The next record, `None` at the end; empty lines are skipped, as the `csv` crate skips
    /// them.
    pub fn next_record(&mut self) -> Result<Option<Record<'_>>, csv::Error> {
        let (end, simple) = loop {
            self.line.clear();
            if self.lines.read_until(b'\n', &mut self.line)? == 0 {
                return Ok(None);
            }
            self.number += 1;
            let mut end = self.line.len();
            while end > 0 && matches!(self.line[end - 1], b'\n' | b'\r') {
                end -= 1;
            }
            if end == 0 {
                continue;
            }
            if split_simple(&self.line[..end], &mut self.ranges) {
                break (end, true);
            }
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(&self.line[..end]);
            if !reader.read_byte_record(&mut self.record)? {
                continue;
            }
            self.ranges.clear();
            self.ranges
                .extend((0..self.record.len()).filter_map(|i| self.record.range(i)));
            break (end, false);
        };
        Ok(Some(Record {
            bytes: if simple {
                &self.line[..end]
            } else {
                self.record.as_slice()
            },
            ranges: &self.ranges,
            line: self.number,
        }))
    }
}

/// Splits a line with no quote on `,`, or a line whose every field is quoted on `","`; false
/// for any other line (left to the `csv` crate).
fn split_simple(line: &[u8], ranges: &mut Vec<Range<usize>>) -> bool {
    ranges.clear();
    let quotes = memchr::memchr_iter(b'"', line).count();
    if quotes == 0 {
        let mut start = 0;
        for comma in memchr::memchr_iter(b',', line) {
            ranges.push(start..comma);
            start = comma + 1;
        }
        ranges.push(start..line.len());
        return true;
    }
    if line.len() < 2 || line[0] != b'"' || line[line.len() - 1] != b'"' {
        return false;
    }
    let inner = &line[1..line.len() - 1];
    let mut start = 0;
    for sep in memchr::memmem::find_iter(inner, b"\",\"") {
        ranges.push(start + 1..sep + 1);
        start = sep + 3;
    }
    ranges.push(start + 1..inner.len() + 1);
    // Each field's two quotes and no other (a doubled quote inside a field is the csv crate's).
    quotes == 2 * ranges.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &str) -> Vec<Vec<String>> {
        let mut records = Records::new(text.as_bytes());
        let mut out = Vec::new();
        while let Some(r) = records.next_record().unwrap() {
            out.push(
                (0..r.len())
                    .map(|i| String::from_utf8(r.field(i).to_vec()).unwrap())
                    .collect(),
            );
        }
        out
    }

    fn by_csv(text: &str) -> Vec<Vec<String>> {
        csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(text.as_bytes())
            .records()
            .map(|r| r.unwrap().iter().map(str::to_string).collect())
            .collect()
    }

    #[test]
    fn every_shape_splits_as_the_csv_crate_splits_it() {
        let text = concat!(
            "\"src-photos\",\"2026/a%20b.jpg\",\"12\",\"\",\"STANDARD\"\n",
            "src-photos,2026/k,,failed,AccessDenied,403,Access Denied\r\n",
            "\n",
            "src-photos,2026/k,,failed,InternalError,500,\"We encountered an error, try again\"\n",
            "\"a\",\"b \"\"quoted\"\"\",\"c\"\n",
            "\"only one field\"\n",
            "a,,\n",
            "\"a\",b\n",
            "\"\",\"\"\n",
            "\"a\",\"b\",\"c\"",
        );
        assert_eq!(split(text), by_csv(text));
        assert_eq!(split(text).len(), 9);
    }

    proptest::proptest! {
        /// Lines of commas, quotes and text (no bare carriage return, which AWS never writes
        /// and the csv crate reads as a line break) split as the csv crate splits them.
        #[test]
        fn any_line_splits_as_the_csv_crate_splits_it(
            lines in proptest::collection::vec("[a \",%]{0,12}", 1..8)
        ) {
            let text = lines.join("\n");
            // The csv crate reads a quoted field across a line break; AWS's keys are
            // URL-encoded, so its lines never hold an open quote: only text whose every line
            // is one record of its own is compared.
            let line_by_line: Vec<Vec<String>> = lines.iter().flat_map(|l| by_csv(l)).collect();
            let one_line_each = by_csv(&text) == line_by_line;
            if one_line_each {
                proptest::prop_assert_eq!(split(&text), by_csv(&text));
            }
        }
    }

    #[test]
    fn line_numbers_count_every_line() {
        let mut records = Records::new("a,b\n\nc,d\n".as_bytes());
        assert_eq!(records.next_record().unwrap().unwrap().line, 1);
        assert_eq!(records.next_record().unwrap().unwrap().line, 3);
        assert!(records.next_record().unwrap().is_none());
    }
}
