//! A minimal XLSX writer: one sheet of text cells (inline strings), in a ZIP archive whose
//! entries are stored uncompressed. That is all an export needs, and it keeps a compression
//! library out of the build. Spreadsheet programs open it like any workbook.

/// Most data rows a sheet holds (Excel's limit, less the header).
pub const MAX_ROWS: usize = 1_048_575;

/// Builds a sheet row by row, then the workbook.
#[derive(Debug, Default)]
pub struct SheetWriter {
    rows: usize,
    xml: Vec<u8>,
}

fn escape(text: &str, out: &mut Vec<u8>) {
    for c in text.chars() {
        match c {
            '&' => out.extend(b"&amp;"),
            '<' => out.extend(b"&lt;"),
            '>' => out.extend(b"&gt;"),
            '"' => out.extend(b"&quot;"),
            // XML 1.0 forbids most control characters; tabs and line breaks stay.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => {
                let mut buf = [0u8; 4];
                out.extend(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
}

impl SheetWriter {
    /// An empty sheet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rows written so far.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Appends a row of text cells.
    pub fn row(&mut self, cells: &[impl AsRef<str>]) {
        self.rows += 1;
        self.xml
            .extend(format!("<row r=\"{}\">", self.rows).as_bytes());
        for cell in cells {
            let cell = cell.as_ref();
            if cell.is_empty() {
                self.xml.extend(b"<c/>");
                continue;
            }
            self.xml
                .extend(b"<c t=\"inlineStr\"><is><t xml:space=\"preserve\">");
            escape(cell, &mut self.xml);
            self.xml.extend(b"</t></is></c>");
        }
        self.xml.extend(b"</row>");
    }

    /// The workbook file.
    pub fn finish(self, sheet_name: &str) -> Vec<u8> {
        let mut name = Vec::new();
        escape(sheet_name, &mut name);
        let name = String::from_utf8(name).unwrap_or_default();
        let mut sheet = Vec::with_capacity(self.xml.len() + 256);
        sheet.extend(
            b"<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\
<worksheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\"><sheetData>",
        );
        sheet.extend(self.xml);
        sheet.extend(b"</sheetData></worksheet>");
        let workbook = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\
<workbook xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" \
xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\">\
<sheets><sheet name=\"{name}\" sheetId=\"1\" r:id=\"rId1\"/></sheets></workbook>"
        );
        let mut zip = ZipWriter::default();
        zip.add("[Content_Types].xml", CONTENT_TYPES.as_bytes());
        zip.add("_rels/.rels", ROOT_RELS.as_bytes());
        zip.add("xl/workbook.xml", workbook.as_bytes());
        zip.add("xl/_rels/workbook.xml.rels", WORKBOOK_RELS.as_bytes());
        zip.add("xl/worksheets/sheet1.xml", &sheet);
        zip.finish()
    }
}

const CONTENT_TYPES: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\
<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">\
<Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/>\
<Default Extension=\"xml\" ContentType=\"application/xml\"/>\
<Override PartName=\"/xl/workbook.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml\"/>\
<Override PartName=\"/xl/worksheets/sheet1.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml\"/>\
</Types>";

const ROOT_RELS: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\
<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">\
<Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument\" Target=\"xl/workbook.xml\"/>\
</Relationships>";

const WORKBOOK_RELS: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\
<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">\
<Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet\" Target=\"worksheets/sheet1.xml\"/>\
</Relationships>";

/// CRC-32 (IEEE), as ZIP checks entries with.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A ZIP archive of stored (uncompressed) entries.
#[derive(Debug, Default)]
struct ZipWriter {
    out: Vec<u8>,
    central: Vec<u8>,
    entries: u16,
}

impl ZipWriter {
    fn add(&mut self, name: &str, data: &[u8]) {
        let offset = self.out.len() as u32;
        let crc = crc32(data);
        let size = data.len() as u32;
        let name = name.as_bytes();
        // Local file header: version 2.0, UTF-8 names (bit 11), stored, no time.
        let header = |signature: u32, central: bool| {
            let mut h = Vec::with_capacity(46 + name.len());
            h.extend(signature.to_le_bytes());
            if central {
                h.extend(20u16.to_le_bytes());
            }
            h.extend(20u16.to_le_bytes());
            h.extend(0x0800u16.to_le_bytes());
            h.extend(0u16.to_le_bytes());
            h.extend(0u16.to_le_bytes());
            h.extend(0x0021u16.to_le_bytes());
            h.extend(crc.to_le_bytes());
            h.extend(size.to_le_bytes());
            h.extend(size.to_le_bytes());
            h.extend((name.len() as u16).to_le_bytes());
            h.extend(0u16.to_le_bytes());
            if central {
                // Comment length, disk number, internal attributes; then external ones.
                h.extend([0u8; 6]);
                h.extend(0u32.to_le_bytes());
                h.extend(offset.to_le_bytes());
            }
            h.extend(name);
            h
        };
        self.out.extend(header(0x0403_4b50, false));
        self.out.extend(data);
        self.central.extend(header(0x0201_4b50, true));
        self.entries += 1;
    }

    fn finish(mut self) -> Vec<u8> {
        let central_offset = self.out.len() as u32;
        let central_size = self.central.len() as u32;
        self.out.extend(&self.central);
        self.out.extend(0x0605_4b50u32.to_le_bytes());
        self.out.extend([0u8; 4]);
        self.out.extend(self.entries.to_le_bytes());
        self.out.extend(self.entries.to_le_bytes());
        self.out.extend(central_size.to_le_bytes());
        self.out.extend(central_offset.to_le_bytes());
        self.out.extend(0u16.to_le_bytes());
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn workbook_is_a_zip_with_the_cells() {
        let mut sheet = SheetWriter::new();
        sheet.row(&["name", "notes"]);
        sheet.row(&["王小明", "a < b & \"c\""]);
        let file = sheet.finish("contacts");
        assert_eq!(&file[..4], b"PK\x03\x04");
        assert_eq!(&file[file.len() - 22..file.len() - 18], b"PK\x05\x06");
        let text = String::from_utf8_lossy(&file);
        assert!(text.contains("<t xml:space=\"preserve\">王小明</t>"));
        assert!(text.contains("a &lt; b &amp; &quot;c&quot;"));
        assert!(text.contains("xl/worksheets/sheet1.xml"));
        if let Ok(path) = std::env::var("CRM_XLSX_SAMPLE") {
            std::fs::write(path, &file).unwrap();
        }
    }
}
