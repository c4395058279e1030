//! Excel workbooks for exports, written with `rust_xlsxwriter` in constant-memory mode: rows
//! go to a temporary file as they arrive, and the compressed archive streams to the writer on
//! save, so memory stays flat however many rows there are.
//!
//! Cells are typed by their column: numbers and dates are numbers and dates a spreadsheet can
//! sum, sort and filter, never text. The header is bold and frozen, with an autofilter, and
//! columns are as wide as their names need (within limits).

use std::io::Write;

use rust_xlsxwriter::{ExcelDateTime, Format, Workbook, Worksheet, XlsxError};

use crate::error::Error;

/// Most data rows a sheet holds (Excel's limit, less the header).
pub const MAX_ROWS: usize = 1_048_575;
/// Most characters Excel keeps in a cell.
const MAX_CELL_CHARS: usize = 32_767;

/// How a column's cells are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellKind {
    /// Text as it is (phone numbers, ids and codes stay text).
    Text,
    /// A number, from its canonical decimal text.
    Number,
    /// A calendar date, from `YYYY-MM-DD`.
    Date,
    /// `true` or `false`.
    Boolean,
}

/// One column of a sheet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// The header.
    pub name: String,
    /// How its cells are written.
    pub kind: CellKind,
}

fn failed(e: XlsxError) -> Error {
    Error::internal(format!("workbook: {e}"))
}

/// A `YYYY-MM-DD` date as Excel keeps it.
fn date(text: &str) -> Option<ExcelDateTime> {
    let mut parts = text.splitn(3, '-');
    let year = parts.next()?.parse::<u16>().ok()?;
    let month = parts.next()?.parse::<u8>().ok()?;
    let day = parts.next()?.parse::<u8>().ok()?;
    ExcelDateTime::from_ymd(year, month, day).ok()
}

/// Writes one cell as its column says, or as text when the value does not fit the kind.
fn write_cell(
    sheet: &mut Worksheet,
    (row, col): (u32, u16),
    kind: CellKind,
    text: &str,
    date_format: &Format,
) -> Result<(), XlsxError> {
    if text.is_empty() {
        return Ok(());
    }
    match kind {
        CellKind::Number => {
            if let Ok(number) = text.parse::<f64>() {
                sheet.write_number(row, col, number)?;
                return Ok(());
            }
        }
        CellKind::Date => {
            if let Some(day) = date(text) {
                sheet.write_date_with_format(row, col, &day, date_format)?;
                return Ok(());
            }
        }
        CellKind::Boolean => {
            if let Ok(value) = text.parse::<bool>() {
                sheet.write_boolean(row, col, value)?;
                return Ok(());
            }
        }
        CellKind::Text => {}
    }
    let kept: String = text.chars().take(MAX_CELL_CHARS).collect();
    sheet.write_string(row, col, kept)?;
    Ok(())
}

/// A column's width in characters: its header's, within 10 to 40.
fn width(column: &Column) -> f64 {
    (column.name.chars().count() + 2).clamp(10, 40) as f64
}

/// Writes a one-sheet workbook of `rows` under `columns` to `out`, and returns how many rows
/// it holds. Blocking: run it off the async workers. More than [`MAX_ROWS`] rows is
/// `FAILED_PRECONDITION` (`TOO_MANY_ROWS`).
pub fn write_workbook(
    sheet_name: &str,
    columns: &[Column],
    rows: impl Iterator<Item = Vec<String>>,
    out: impl Write + Send,
) -> Result<usize, Error> {
    let mut workbook = Workbook::new();
    let header = Format::new().set_bold();
    let day = Format::new().set_num_format("yyyy-mm-dd");
    let sheet = workbook
        .add_worksheet_with_constant_memory()
        .map_err(failed)?;
    sheet.set_name(sheet_name).map_err(failed)?;
    for (i, column) in columns.iter().enumerate() {
        let col = i as u16;
        sheet.set_column_width(col, width(column)).map_err(failed)?;
        sheet
            .write_string_with_format(0, col, &column.name, &header)
            .map_err(failed)?;
    }
    sheet.set_freeze_panes(1, 0).map_err(failed)?;
    let mut written = 0usize;
    for cells in rows {
        if written == MAX_ROWS {
            return Err(Error::precondition(
                "TOO_MANY_ROWS",
                "a workbook holds 1,048,575 rows: export CSV or narrow the filter",
            ));
        }
        written += 1;
        for (i, (text, column)) in cells.iter().zip(columns).enumerate() {
            write_cell(sheet, (written as u32, i as u16), column.kind, text, &day)
                .map_err(failed)?;
        }
    }
    if !columns.is_empty() {
        let last_col = (columns.len() - 1) as u16;
        sheet
            .autofilter(0, 0, written as u32, last_col)
            .map_err(failed)?;
    }
    workbook.save_to_writer(out).map_err(failed)?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(name: &str, kind: CellKind) -> Column {
        Column {
            name: name.into(),
            kind,
        }
    }

    #[test]
    fn writes_a_workbook_of_typed_cells() {
        let columns = [
            column("name", CellKind::Text),
            column("phone", CellKind::Text),
            column("birthday", CellKind::Date),
            column("custom.annual_spend", CellKind::Number),
            column("custom.vip", CellKind::Boolean),
        ];
        let rows = vec![
            vec![
                "王小明".to_owned(),
                "+8613800138000".to_owned(),
                "1990-05-01".to_owned(),
                "1234.5".to_owned(),
                "true".to_owned(),
            ],
            // Values that do not fit their kind stay text rather than being lost.
            vec![
                "a < b & \"c\"".to_owned(),
                String::new(),
                "--05-01".to_owned(),
                "n/a".to_owned(),
                String::new(),
            ],
        ];
        let mut file = Vec::new();
        let written = write_workbook("contacts", &columns, rows.into_iter(), &mut file).unwrap();
        assert_eq!(written, 2);
        assert_eq!(&file[..4], b"PK\x03\x04");
        if let Ok(path) = std::env::var("CRM_XLSX_SAMPLE") {
            std::fs::write(path, &file).unwrap();
        }
    }

    #[test]
    fn dates_need_a_year() {
        assert!(date("1990-05-01").is_some());
        assert!(date("--05-01").is_none());
        assert!(date("1990-02-30").is_none());
    }
}
