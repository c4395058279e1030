//! A minimal XLSX writer: one sheet of text cells (inline strings), in a ZIP archive whose
//! entries are stored uncompressed. That is all an export needs, and it keeps a compression
//! library out of the build. Spreadsheet programs open it like any workbook.
//!
//! The workbook is streamed: the sheet is the archive's last entry, written with a data
//! descriptor (its checksum and size follow its data), so each page of rows leaves as soon as
//! it is written and memory stays at one page whatever the export's size.

/// Most data rows a sheet holds (Excel's limit, less the header).
pub const MAX_ROWS: usize = 1_048_575;

const SHEET_PATH: &str = "xl/worksheets/sheet1.xml";

/// Writes a workbook row by row; [`SheetWriter::take`] hands out what is ready to send.
#[derive(Debug)]
pub struct SheetWriter {
    rows: usize,
    zip: ZipWriter,
    /// The sheet's bytes not yet taken.
    pending: Vec<u8>,
    /// CRC-32 state and size of the sheet's bytes taken so far.
    crc: u32,
    sheet_size: u64,
    sheet_offset: u32,
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
    /// A workbook whose one sheet is named `sheet_name`; the fixed parts come first.
    pub fn new(sheet_name: &str) -> Self {
        let mut name = Vec::new();
        escape(sheet_name, &mut name);
        let name = String::from_utf8(name).unwrap_or_default();
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
        let sheet_offset = zip.begin_streamed(SHEET_PATH);
        let mut writer = Self {
            rows: 0,
            zip,
            pending: Vec::new(),
            crc: !0,
            sheet_size: 0,
            sheet_offset,
        };
        writer.pending.extend(
            b"<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\
<worksheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\"><sheetData>",
        );
        writer
    }

    /// Rows written so far.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Appends a row of text cells.
    pub fn row(&mut self, cells: &[impl AsRef<str>]) {
        self.rows += 1;
        self.pending
            .extend(format!("<row r=\"{}\">", self.rows).as_bytes());
        for cell in cells {
            let cell = cell.as_ref();
            if cell.is_empty() {
                self.pending.extend(b"<c/>");
                continue;
            }
            self.pending
                .extend(b"<c t=\"inlineStr\"><is><t xml:space=\"preserve\">");
            escape(cell, &mut self.pending);
            self.pending.extend(b"</t></is></c>");
        }
        self.pending.extend(b"</row>");
    }

    /// The bytes of the file written since the last call, ready to send.
    pub fn take(&mut self) -> Vec<u8> {
        let sheet = std::mem::take(&mut self.pending);
        self.crc = crc32_update(self.crc, &sheet);
        self.sheet_size += sheet.len() as u64;
        let mut out = self.zip.take();
        out.extend(sheet);
        out
    }

    /// The rest of the file: the sheet's end, its data descriptor and the directory.
    pub fn finish(mut self) -> Vec<u8> {
        self.pending.extend(b"</sheetData></worksheet>");
        let mut out = self.take();
        let crc = !self.crc;
        let size = self.sheet_size as u32;
        self.zip
            .end_streamed(SHEET_PATH, self.sheet_offset, crc, size);
        out.extend(self.zip.finish());
        out
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

/// Feeds `data` into a running CRC-32 (IEEE) state; the checksum is the state inverted,
/// starting from `!0`.
fn crc32_update(mut crc: u32, data: &[u8]) -> u32 {
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
    crc
}

/// CRC-32 (IEEE), as ZIP checks entries with.
fn crc32(data: &[u8]) -> u32 {
    !crc32_update(!0, data)
}

/// Bit 3 of the general-purpose flags: the checksum and sizes follow the entry's data.
const FLAG_DATA_DESCRIPTOR: u16 = 0x0008;
/// Bit 11: names are UTF-8.
const FLAG_UTF8: u16 = 0x0800;

/// The facts a file header states about one entry.
struct Entry<'a> {
    name: &'a [u8],
    flags: u16,
    crc: u32,
    size: u32,
    offset: u32,
}

impl Entry<'_> {
    /// A local header (`central` false) or a central-directory header: version 2.0, stored,
    /// no time.
    fn header(&self, central: bool) -> Vec<u8> {
        let mut h = Vec::with_capacity(46 + self.name.len());
        let signature: u32 = if central { 0x0201_4b50 } else { 0x0403_4b50 };
        h.extend(signature.to_le_bytes());
        if central {
            h.extend(20u16.to_le_bytes());
        }
        h.extend(20u16.to_le_bytes());
        h.extend(self.flags.to_le_bytes());
        h.extend(0u16.to_le_bytes());
        h.extend(0u16.to_le_bytes());
        h.extend(0x0021u16.to_le_bytes());
        h.extend(self.crc.to_le_bytes());
        h.extend(self.size.to_le_bytes());
        h.extend(self.size.to_le_bytes());
        h.extend((self.name.len() as u16).to_le_bytes());
        h.extend(0u16.to_le_bytes());
        if central {
            // Comment length, disk number, internal attributes; then external ones.
            h.extend([0u8; 6]);
            h.extend(0u32.to_le_bytes());
            h.extend(self.offset.to_le_bytes());
        }
        h.extend(self.name);
        h
    }
}

/// A ZIP archive of stored (uncompressed) entries, handed out as it is written.
#[derive(Debug, Default)]
struct ZipWriter {
    /// Bytes written and not yet taken.
    out: Vec<u8>,
    /// Bytes taken so far, so offsets stay right after `out` is drained.
    taken: u64,
    central: Vec<u8>,
    entries: u16,
}

impl ZipWriter {
    fn offset(&self) -> u32 {
        (self.taken + self.out.len() as u64) as u32
    }

    fn add(&mut self, name: &str, data: &[u8]) {
        let entry = Entry {
            name: name.as_bytes(),
            flags: FLAG_UTF8,
            crc: crc32(data),
            size: data.len() as u32,
            offset: self.offset(),
        };
        self.out.extend(entry.header(false));
        self.out.extend(data);
        self.central.extend(entry.header(true));
        self.entries += 1;
    }

    /// Starts an entry whose data the caller writes itself; returns its offset.
    fn begin_streamed(&mut self, name: &str) -> u32 {
        let entry = Entry {
            name: name.as_bytes(),
            flags: FLAG_UTF8 | FLAG_DATA_DESCRIPTOR,
            crc: 0,
            size: 0,
            offset: self.offset(),
        };
        self.out.extend(entry.header(false));
        entry.offset
    }

    /// Ends the streamed entry whose data (`size` bytes, checksum `crc`) the caller wrote
    /// after the last [`ZipWriter::take`].
    fn end_streamed(&mut self, name: &str, offset: u32, crc: u32, size: u32) {
        self.taken += u64::from(size);
        self.out.extend(0x0807_4b50u32.to_le_bytes());
        self.out.extend(crc.to_le_bytes());
        self.out.extend(size.to_le_bytes());
        self.out.extend(size.to_le_bytes());
        let entry = Entry {
            name: name.as_bytes(),
            flags: FLAG_UTF8 | FLAG_DATA_DESCRIPTOR,
            crc,
            size,
            offset,
        };
        self.central.extend(entry.header(true));
        self.entries += 1;
    }

    fn take(&mut self) -> Vec<u8> {
        let out = std::mem::take(&mut self.out);
        self.taken += out.len() as u64;
        out
    }

    fn finish(mut self) -> Vec<u8> {
        let central_offset = self.offset();
        let central_size = self.central.len() as u32;
        let central = std::mem::take(&mut self.central);
        self.out.extend(&central);
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
        let mut sheet = SheetWriter::new("contacts");
        let mut file = sheet.take();
        sheet.row(&["name", "notes"]);
        file.extend(sheet.take());
        sheet.row(&["王小明", "a < b & \"c\""]);
        file.extend(sheet.take());
        file.extend(sheet.finish());
        assert_eq!(&file[..4], b"PK\x03\x04");
        assert_eq!(&file[file.len() - 22..file.len() - 18], b"PK\x05\x06");
        let text = String::from_utf8_lossy(&file);
        assert!(text.contains("<t xml:space=\"preserve\">王小明</t>"));
        assert!(text.contains("a &lt; b &amp; &quot;c&quot;"));
        // The directory states the sheet's checksum and size, which match its data, and
        // points at its local header.
        let le32 = |at: usize| u32::from_le_bytes(file[at..at + 4].try_into().unwrap());
        let le16 = |at: usize| u16::from_le_bytes(file[at..at + 2].try_into().unwrap()) as usize;
        let eocd = file.len() - 22;
        let (mut at, entries) = (le32(eocd + 16) as usize, le16(eocd + 10));
        assert_eq!(entries, 5);
        let mut sheet_entry = None;
        for _ in 0..entries {
            assert_eq!(le32(at), 0x0201_4b50);
            let name_len = le16(at + 28);
            let name = &file[at + 46..at + 46 + name_len];
            if name == SHEET_PATH.as_bytes() {
                sheet_entry = Some((
                    le32(at + 16),
                    le32(at + 20) as usize,
                    le32(at + 42) as usize,
                ));
            }
            at += 46 + name_len;
        }
        let (crc, size, local) = sheet_entry.expect("the sheet is listed");
        assert_eq!(le32(local), 0x0403_4b50);
        let data = local + 30 + le16(local + 26);
        assert_eq!(crc32(&file[data..data + size]), crc);
        assert_eq!(
            le32(data + size),
            0x0807_4b50,
            "the data descriptor follows"
        );
        if let Ok(path) = std::env::var("CRM_XLSX_SAMPLE") {
            std::fs::write(path, &file).unwrap();
        }
    }
}
