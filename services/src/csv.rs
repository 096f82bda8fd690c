//! CSV import and export for the spreadsheets shop owners and province staff exchange with
//! Excel.
//!
//! Reading ([`parse`], [`parse_bytes`]):
//! - the file must be UTF-8 (a leading UTF-8 BOM, which Excel's "CSV UTF-8" writes, is
//!   stripped); anything else is refused with a message telling the user how to save it;
//! - the delimiter is detected from the header line: whichever of `,`, `;` (Excel in the
//!   Vietnamese locale) and tab occurs most outside quotes, `,` on a tie or when there is none.
//!   An Excel `sep=;` first line is honoured and skipped;
//! - RFC 4180 quoting: `"…"` fields may hold delimiters, `""` (one quote) and line breaks;
//!   records end with CRLF, LF or a lone CR (old Mac exports);
//! - unquoted fields are trimmed, quoted fields keep their inner spaces; every field is NFC;
//! - records whose fields are all empty (blank lines, Excel's `;;;` rows) are skipped; short
//!   records are padded with empty fields; extra fields are an error unless they are empty
//!   (Excel writes trailing delimiters when a cell to the right was ever touched);
//! - trailing empty header cells are dropped for the same reason; empty header cells in the
//!   middle are kept (as `""`, never matched by [`Table::get`]);
//! - header names are matched ignoring case, diacritics and punctuation ([`text::fold`]), so
//!   two headers that fold to the same key are refused as duplicates.
//!
//! Writing ([`write`]) produces what Excel opens correctly: UTF-8 BOM, CRLF, minimal quoting,
//! and a `'` in front of values Excel would run as formulas.

use crate::text;

/// Largest accepted input, in bytes (20 MB).
pub const MAX_BYTES: usize = 20 * 1024 * 1024;
/// Largest accepted number of data rows (the header not counted).
pub const MAX_ROWS: usize = 50_000;

/// Why a CSV file was refused. Every variant has the code `INVALID_CSV`; the message is meant
/// for the person who uploaded the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CsvError {
    /// The bytes are not UTF-8 (typically Excel's default "CSV (Comma delimited)", which uses
    /// the Windows code page). `line` is where the first invalid byte is.
    #[error(
        "the file is not UTF-8 text (first problem on line {line}): in Excel choose \
         File → Save As → \"CSV UTF-8 (Comma delimited) (*.csv)\" and upload that file"
    )]
    NotUtf8 { line: usize },
    /// No header line: the file is empty or holds only blank lines (or names that are blank).
    #[error("the file is empty: the first line must hold the column names")]
    Empty,
    /// A quoted field opened on `line` is never closed.
    #[error("line {line}: a quoted field starts here but its closing double quote (\") is missing")]
    UnterminatedQuote { line: usize },
    /// The record starting on `line` has non-empty values beyond the last column.
    #[error(
        "line {line}: {found} values but the header has only {expected} columns \
         (a value containing the delimiter must be in double quotes)"
    )]
    TooManyFields {
        line: usize,
        expected: usize,
        found: usize,
    },
    /// Two header cells (1-based columns) have the same name, ignoring case and diacritics.
    #[error("columns {first} and {second} have the same name \"{name}\"")]
    DuplicateHeader {
        name: String,
        first: usize,
        second: usize,
    },
    /// Over [`MAX_BYTES`] or [`MAX_ROWS`]; the string says which.
    #[error("the file is too large ({0}): split it into smaller files")]
    TooLarge(&'static str),
}

impl CsvError {
    /// The SCREAMING_SNAKE code reported to GraphQL clients as `userError.code`.
    pub fn code(&self) -> &'static str {
        "INVALID_CSV"
    }
}

const TOO_MANY_BYTES: &str = "more than 20 MB";
const TOO_MANY_ROWS: &str = "more than 50,000 rows";

/// One data record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// 1-based line of the file where the record starts (the header is line 1).
    pub line: usize,
    /// Exactly one field per header.
    pub fields: Vec<String>,
}

/// A parsed CSV file: trimmed header names and the non-empty data records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<Row>,
}

impl Table {
    /// Index of the column called `header`, compared ignoring surrounding spaces, case,
    /// diacritics and punctuation (`"gia ban"` finds `"Giá bán"`). `None` for an empty name.
    pub fn column(&self, header: &str) -> Option<usize> {
        let wanted = header.trim();
        if wanted.is_empty() {
            return None;
        }
        // Fast path for the usual exact spelling; consistent with the folded comparison
        // because headers are unique under folding.
        if let Some(i) = self
            .headers
            .iter()
            .position(|h| h.eq_ignore_ascii_case(wanted))
        {
            return Some(i);
        }
        let key = header_key(wanted);
        self.headers
            .iter()
            .position(|h| !h.is_empty() && header_key(h) == key)
    }

    /// Whether a column called `header` exists (see [`Table::column`]).
    pub fn has(&self, header: &str) -> bool {
        self.column(header).is_some()
    }

    /// The value of `row` in the column called `header` (see [`Table::column`]); `None` when
    /// there is no such column. For many rows, look the index up once with [`Table::column`].
    pub fn get<'a>(&self, row: &'a Row, header: &str) -> Option<&'a str> {
        let i = self.column(header)?;
        row.fields.get(i).map(String::as_str)
    }
}

/// Comparison key of a header name: [`text::fold`], or the lower-cased name when folding
/// leaves nothing (a header such as `"#"`).
fn header_key(name: &str) -> String {
    let folded = text::fold(name);
    if folded.is_empty() {
        name.trim().to_lowercase()
    } else {
        folded
    }
}

/// Parses CSV bytes as uploaded: UTF-8 with or without a BOM, otherwise [`CsvError::NotUtf8`].
pub fn parse_bytes(input: &[u8]) -> Result<Table, CsvError> {
    if input.len() > MAX_BYTES {
        return Err(CsvError::TooLarge(TOO_MANY_BYTES));
    }
    let body = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
    match std::str::from_utf8(body) {
        Ok(s) => parse(s),
        Err(e) => {
            let before = body.get(..e.valid_up_to()).unwrap_or_default();
            Err(CsvError::NotUtf8 {
                line: count_line_breaks(before) + 1,
            })
        }
    }
}

/// Counts CRLF, LF and lone CR line breaks.
fn count_line_breaks(b: &[u8]) -> usize {
    b.iter()
        .enumerate()
        .filter(|&(i, &c)| c == b'\n' || (c == b'\r' && b.get(i + 1) != Some(&b'\n')))
        .count()
}

/// Parses CSV text (see the module documentation for the accepted dialect). A leading BOM
/// character is ignored.
pub fn parse(input: &str) -> Result<Table, CsvError> {
    if input.len() > MAX_BYTES {
        return Err(CsvError::TooLarge(TOO_MANY_BYTES));
    }
    let input = input.strip_prefix('\u{FEFF}').unwrap_or(input);
    let mut reader = Reader::new(input);

    let raw_headers = loop {
        match reader.record()? {
            None => return Err(CsvError::Empty),
            // A line of blank names (quoted spaces, say) names no column either.
            Some((_, fields)) if fields.iter().all(|f| f.trim().is_empty()) => {}
            Some((_, fields)) => break fields,
        }
    };
    let mut headers: Vec<String> = raw_headers.iter().map(|h| h.trim().to_owned()).collect();
    while headers.last().is_some_and(String::is_empty) {
        headers.pop();
    }
    check_duplicates(&headers)?;

    let width = headers.len();
    let mut rows = Vec::new();
    while let Some((line, mut fields)) = reader.record()? {
        if fields.iter().all(String::is_empty) {
            continue;
        }
        if fields.len() > width {
            let used = fields
                .iter()
                .rposition(|f| !f.is_empty())
                .map_or(0, |i| i + 1);
            if used > width {
                return Err(CsvError::TooManyFields {
                    line,
                    expected: width,
                    found: used,
                });
            }
        }
        fields.resize(width, String::new());
        if rows.len() >= MAX_ROWS {
            return Err(CsvError::TooLarge(TOO_MANY_ROWS));
        }
        rows.push(Row { line, fields });
    }
    Ok(Table { headers, rows })
}

fn check_duplicates(headers: &[String]) -> Result<(), CsvError> {
    let mut seen: Vec<(String, usize)> = Vec::with_capacity(headers.len());
    for (i, h) in headers.iter().enumerate() {
        if h.is_empty() {
            continue;
        }
        let key = header_key(h);
        if let Some((_, first)) = seen.iter().find(|(k, _)| *k == key) {
            return Err(CsvError::DuplicateHeader {
                name: h.clone(),
                first: first + 1,
                second: i + 1,
            });
        }
        seen.push((key, i));
    }
    Ok(())
}

/// Where a field ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// At a delimiter: another field of the same record follows.
    Field,
    /// At a line break or the end of the input.
    Record,
}

/// Record reader over the whole input. All syntax characters are ASCII, so byte positions
/// next to them are always character boundaries.
struct Reader<'a> {
    src: &'a str,
    pos: usize,
    /// 1-based line of `pos`.
    line: usize,
    delim: u8,
}

impl<'a> Reader<'a> {
    fn new(src: &'a str) -> Self {
        if let Some((delim, skip)) = sep_line(src) {
            return Reader {
                src,
                pos: skip,
                line: 2,
                delim,
            };
        }
        Reader {
            src,
            pos: 0,
            line: 1,
            delim: detect_delimiter(src),
        }
    }

    fn byte(&self, i: usize) -> Option<u8> {
        self.src.as_bytes().get(i).copied()
    }

    /// The next record and the line it starts on, `None` at the end of the input.
    fn record(&mut self) -> Result<Option<(usize, Vec<String>)>, CsvError> {
        if self.pos >= self.src.len() {
            return Ok(None);
        }
        let line = self.line;
        let mut fields = Vec::new();
        loop {
            let (field, end) = self.field()?;
            fields.push(field);
            if end == End::Record {
                return Ok(Some((line, fields)));
            }
        }
    }

    fn field(&mut self) -> Result<(String, End), CsvError> {
        let b = self.src.as_bytes();
        let mut i = self.pos;
        while let Some(&c) = b.get(i) {
            if c == b' ' || (c == b'\t' && self.delim != b'\t') {
                i += 1;
            } else {
                break;
            }
        }
        if b.get(i) != Some(&b'"') {
            let (raw, end) = self.unquoted();
            return Ok((text::nfc(raw.trim()), end));
        }

        let open_line = self.line;
        i += 1;
        let mut value = String::new();
        let mut seg = i;
        loop {
            match b.get(i) {
                None => return Err(CsvError::UnterminatedQuote { line: open_line }),
                Some(b'"') => {
                    value.push_str(self.src.get(seg..i).unwrap_or_default());
                    if b.get(i + 1) == Some(&b'"') {
                        value.push('"');
                        i += 2;
                        seg = i;
                    } else {
                        i += 1;
                        break;
                    }
                }
                Some(b'\n') => {
                    self.line += 1;
                    i += 1;
                }
                Some(b'\r') => {
                    if b.get(i + 1) != Some(&b'\n') {
                        self.line += 1;
                    }
                    i += 1;
                }
                Some(_) => i += 1,
            }
        }
        self.pos = i;
        // Anything between the closing quote and the delimiter (not valid RFC 4180, but Excel
        // users type `"5" screen`) is kept, minus trailing spaces.
        let (tail, end) = self.unquoted();
        value.push_str(tail.trim_end());
        Ok((text::nfc(&value), end))
    }

    /// Reads up to the next delimiter or line break and consumes it.
    fn unquoted(&mut self) -> (&'a str, End) {
        let b = self.src.as_bytes();
        let start = self.pos;
        let mut i = start;
        while let Some(&c) = b.get(i) {
            if c == self.delim || c == b'\n' || c == b'\r' {
                break;
            }
            i += 1;
        }
        let raw = self.src.get(start..i).unwrap_or_default();
        self.pos = i;
        match self.byte(i) {
            Some(c) if c == self.delim => {
                self.pos += 1;
                (raw, End::Field)
            }
            Some(b'\r') => {
                self.pos += 1;
                if self.byte(self.pos) == Some(b'\n') {
                    self.pos += 1;
                }
                self.line += 1;
                (raw, End::Record)
            }
            Some(b'\n') => {
                self.pos += 1;
                self.line += 1;
                (raw, End::Record)
            }
            _ => (raw, End::Record),
        }
    }
}

/// Excel's `sep=;` first line: the delimiter and the number of bytes to skip.
fn sep_line(src: &str) -> Option<(u8, usize)> {
    let b = src.as_bytes();
    if !b.get(..4)?.eq_ignore_ascii_case(b"sep=") {
        return None;
    }
    let d = *b.get(4)?;
    if !(d == b'\t' || d.is_ascii_punctuation()) || d == b'"' {
        return None;
    }
    match b.get(5) {
        None => Some((d, 5)),
        Some(b'\n') => Some((d, 6)),
        Some(b'\r') if b.get(6) == Some(&b'\n') => Some((d, 7)),
        Some(b'\r') => Some((d, 6)),
        _ => None,
    }
}

/// The delimiter of the header line (the first line with content): whichever of `,`, `;` and
/// tab occurs most outside quotes; `,` on a tie or when none occurs.
fn detect_delimiter(src: &str) -> u8 {
    const CANDIDATES: [u8; 3] = [b',', b';', b'\t'];
    let mut counts = [0usize; 3];
    let mut in_quotes = false;
    let mut content = false;
    for &c in src.as_bytes() {
        match c {
            b'"' => {
                in_quotes = !in_quotes;
                content = true;
            }
            _ if in_quotes => {}
            b'\n' | b'\r' => {
                if content {
                    break;
                }
                counts = [0; 3]; // a blank or all-delimiter line before the header
            }
            b',' => counts[0] += 1,
            b';' => counts[1] += 1,
            b'\t' => counts[2] += 1,
            b' ' => {}
            _ => content = true,
        }
    }
    let mut best = 0;
    for (i, &n) in counts.iter().enumerate() {
        if n > counts[best] {
            best = i;
        }
    }
    CANDIDATES[best]
}

/// Writes a CSV file for Excel: a UTF-8 BOM (so Excel reads it as UTF-8), the header line,
/// then one line per row, each ended by CRLF. `delimiter` should be `,`, `;` or `\t`.
///
/// A field is quoted (with `"` doubled) when it contains the delimiter, `,`, `;`, tab, `"`,
/// CR or LF, or starts or ends with whitespace, so that [`parse`] gives it back unchanged.
///
/// **Formula injection**: Excel runs a cell starting with `=`, `+`, `-` or `@` (and one
/// starting with tab or CR can reach the same path) as a formula, so a product name like
/// `=HYPERLINK("http://evil", "x")` exported and opened by province staff would be live. Such
/// fields are written with a leading `'` (shown as text by Excel, the OWASP recommendation),
/// except plain numbers such as `-5`, `+84912345678` or `-1.500,5` (sign, digits, `.`, `,`).
/// The `'` is not removed by [`parse`]: it becomes part of the value read back.
pub fn write(headers: &[&str], rows: &[Vec<String>], delimiter: char) -> String {
    let mut out = String::from('\u{FEFF}');
    for (i, h) in headers.iter().enumerate() {
        if i > 0 {
            out.push(delimiter);
        }
        // A first header `sep=…` would be read as Excel's delimiter line.
        let force = i == 0 && h.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("sep="));
        write_field(&mut out, h, delimiter, force);
    }
    out.push_str("\r\n");
    for row in rows {
        for (i, f) in row.iter().enumerate() {
            if i > 0 {
                out.push(delimiter);
            }
            write_field(&mut out, f, delimiter, false);
        }
        out.push_str("\r\n");
    }
    out
}

fn write_field(out: &mut String, field: &str, delimiter: char, force_quotes: bool) {
    let guarded;
    let value = if needs_formula_guard(field) {
        guarded = format!("'{field}");
        guarded.as_str()
    } else {
        field
    };
    let quote = force_quotes
        || value.contains(delimiter)
        || value.contains([',', ';', '\t', '"', '\r', '\n'])
        || value.starts_with(char::is_whitespace)
        || value.ends_with(char::is_whitespace);
    if quote {
        out.push('"');
        for c in value.chars() {
            if c == '"' {
                out.push('"');
            }
            out.push(c);
        }
        out.push('"');
    } else {
        out.push_str(value);
    }
}

/// Whether Excel could take `field` as a formula (see [`write`]).
fn needs_formula_guard(field: &str) -> bool {
    match field.chars().next() {
        Some('=' | '@' | '\t' | '\r') => true,
        Some('+' | '-') => !is_plain_number(field),
        _ => false,
    }
}

/// An optional sign, then ASCII digits with `.` or `,` separators, at least one digit.
fn is_plain_number(s: &str) -> bool {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    body.bytes().any(|b| b.is_ascii_digit())
        && body
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b',')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fields(t: &Table) -> Vec<Vec<&str>> {
        t.rows
            .iter()
            .map(|r| r.fields.iter().map(String::as_str).collect())
            .collect()
    }

    #[test]
    fn comma_file() -> Result<(), CsvError> {
        let t = parse("name,price\nTea,25000\nCoffee,30000\n")?;
        assert_eq!(t.headers, ["name", "price"]);
        assert_eq!(fields(&t), [["Tea", "25000"], ["Coffee", "30000"]]);
        assert_eq!(t.rows[0].line, 2);
        assert_eq!(t.rows[1].line, 3);
        Ok(())
    }

    #[test]
    fn bom_is_stripped() -> Result<(), CsvError> {
        let mut bytes = b"\xEF\xBB\xBF".to_vec();
        bytes.extend_from_slice("Tên,Giá\r\nTrà sen,120000\r\n".as_bytes());
        let t = parse_bytes(&bytes)?;
        assert_eq!(t.headers, ["Tên", "Giá"]);
        assert!(t.has("Tên"));
        assert_eq!(t.get(&t.rows[0], "tên"), Some("Trà sen"));
        // Same for text that still holds the BOM character.
        let t = parse("\u{FEFF}Tên,Giá\nTrà,1\n")?;
        assert_eq!(t.headers[0], "Tên");
        Ok(())
    }

    #[test]
    fn semicolon_file_from_vietnamese_excel() -> Result<(), CsvError> {
        let src = "Tên sản phẩm;Giá, VNĐ;Mô tả\r\n\
                   Cà phê sữa đá;25.000;Ngon, rẻ\r\n\
                   \"Bánh mì; pa-tê\";20.000;\r\n";
        let t = parse(src)?;
        assert_eq!(t.headers, ["Tên sản phẩm", "Giá, VNĐ", "Mô tả"]);
        assert_eq!(
            fields(&t),
            [
                ["Cà phê sữa đá", "25.000", "Ngon, rẻ"],
                ["Bánh mì; pa-tê", "20.000", ""]
            ]
        );
        Ok(())
    }

    #[test]
    fn tab_file_and_sep_line() -> Result<(), CsvError> {
        let t = parse("a\tb\n1, 2\t3;4\n")?;
        assert_eq!(fields(&t), [["1, 2", "3;4"]]);
        let t = parse("sep=;\r\na;b\r\n1;2\r\n")?;
        assert_eq!(t.headers, ["a", "b"]);
        assert_eq!(t.rows[0].line, 3);
        assert_eq!(fields(&t), [["1", "2"]]);
        Ok(())
    }

    #[test]
    fn delimiter_counts_outside_quotes_only() -> Result<(), CsvError> {
        let t = parse("\"a;b;c\",d\n1,2\n")?;
        assert_eq!(t.headers, ["a;b;c", "d"]);
        let t = parse("single\n\"value, with comma\"\n")?;
        assert_eq!(t.headers, ["single"]);
        assert!(matches!(
            parse("single\nx,y\n"),
            Err(CsvError::TooManyFields { .. })
        ));
        Ok(())
    }

    #[test]
    fn quoted_newlines_and_escaped_quotes() -> Result<(), CsvError> {
        let src = "name,note\r\n\
                   \"Trà \"\"Sen\"\"\",\"dòng 1\r\ndòng 2\ndòng 3\"\r\n\
                   next,\"a,b\"\r\n";
        let t = parse(src)?;
        assert_eq!(
            fields(&t),
            [["Trà \"Sen\"", "dòng 1\r\ndòng 2\ndòng 3"], ["next", "a,b"]]
        );
        assert_eq!(t.rows[0].line, 2);
        assert_eq!(t.rows[1].line, 5);
        Ok(())
    }

    #[test]
    fn trimming_padding_and_empty_records() -> Result<(), CsvError> {
        let src = " a , b ,c\n\n  x  ,\"  kept  \" , \n,,\n;\n1\n\r\n\n";
        let t = parse(src)?;
        assert_eq!(t.headers, ["a", "b", "c"]);
        assert_eq!(
            fields(&t),
            [["x", "  kept  ", ""], [";", "", ""], ["1", "", ""]]
        );
        assert_eq!(t.rows.iter().map(|r| r.line).collect::<Vec<_>>(), [3, 5, 6]);
        // No trailing newline, lone CR line ends.
        let t = parse("a,b\r1,2\r3,4")?;
        assert_eq!(fields(&t), [["1", "2"], ["3", "4"]]);
        assert_eq!(t.rows[1].line, 3);
        Ok(())
    }

    #[test]
    fn excel_trailing_delimiters() -> Result<(), CsvError> {
        let t = parse("a;b;;\n1;2;;\n3;;;\n;;;\n")?;
        assert_eq!(t.headers, ["a", "b"]);
        assert_eq!(fields(&t), [["1", "2"], ["3", ""]]);
        Ok(())
    }

    #[test]
    fn fields_are_nfc() -> Result<(), CsvError> {
        // "Huế" with a decomposed ế (e + circumflex + acute).
        let t = parse("tỉnh\nHue\u{302}\u{301}\n")?;
        assert_eq!(t.rows[0].fields[0], "Huế");
        Ok(())
    }

    #[test]
    fn header_lookup() -> Result<(), CsvError> {
        let t = parse("Mã SP,Giá bán (VNĐ),#\nA1,1000,7\n")?;
        let row = &t.rows[0];
        assert_eq!(t.get(row, "mã sp"), Some("A1"));
        assert_eq!(t.get(row, "  MA SP "), Some("A1"));
        assert_eq!(t.get(row, "gia ban vnd"), Some("1000"));
        assert_eq!(t.get(row, "#"), Some("7"));
        assert_eq!(t.column("giá bán (vnđ)"), Some(1));
        assert_eq!(t.get(row, "missing"), None);
        assert_eq!(t.get(row, ""), None);
        assert!(!t.has("price"));
        Ok(())
    }

    #[test]
    fn quoted_field_with_text_after_the_quote() -> Result<(), CsvError> {
        let t = parse("a,b\n\"5\" screen,\"x\"  \n")?;
        assert_eq!(fields(&t), [["5 screen", "x"]]);
        Ok(())
    }

    #[test]
    fn error_empty() {
        for src in [
            "",
            "\n\n",
            "\u{FEFF}",
            "\r\n , ,\r\n",
            ",,,",
            ";;\n;;",
            "\"\t\"",
            "\" \",\"\"\n",
        ] {
            assert_eq!(parse(src), Err(CsvError::Empty), "{src:?}");
        }
        assert_eq!(parse_bytes(b"\xEF\xBB\xBF"), Err(CsvError::Empty));
    }

    #[test]
    fn error_not_utf8() {
        // "Giá" in Windows-1258 on line 2, as Excel's plain "CSV" would save it.
        let e = parse_bytes(b"name,price\r\nGi\xe1,1\r\n");
        assert_eq!(e, Err(CsvError::NotUtf8 { line: 2 }));
        let msg = e
            .map(|_| ())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(msg.contains("CSV UTF-8"), "{msg}");
        // UTF-16 (Excel's "Unicode Text").
        assert!(matches!(
            parse_bytes(b"\xFF\xFEa\x00"),
            Err(CsvError::NotUtf8 { line: 1 })
        ));
    }

    #[test]
    fn error_unterminated_quote() {
        assert_eq!(
            parse("a,b\n1,2\n3,\"never closed\n4,5\n"),
            Err(CsvError::UnterminatedQuote { line: 3 })
        );
        assert_eq!(parse("\"a"), Err(CsvError::UnterminatedQuote { line: 1 }));
        let msg = CsvError::UnterminatedQuote { line: 3 }.to_string();
        assert!(msg.contains("line 3"), "{msg}");
    }

    #[test]
    fn error_too_many_fields() {
        let e = parse("a,b\n1,2\n\"x\ny\",2,3\n");
        assert_eq!(
            e,
            Err(CsvError::TooManyFields {
                line: 3,
                expected: 2,
                found: 3
            })
        );
        let msg = e
            .map(|_| ())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(msg.contains("line 3"), "{msg}");
    }

    #[test]
    fn error_duplicate_headers() {
        assert_eq!(
            parse("Tên,Giá,tên\n"),
            Err(CsvError::DuplicateHeader {
                name: "tên".into(),
                first: 1,
                second: 3
            })
        );
        // Same name once the diacritics are folded: `get` could not tell them apart.
        assert!(matches!(
            parse("Giá,Gia\n"),
            Err(CsvError::DuplicateHeader { .. })
        ));
        // Empty names in the middle are not duplicates of each other.
        assert!(parse("a,,,d\n1,2,3,4\n").is_ok());
    }

    #[test]
    fn error_too_large() {
        let mut src = String::from("n\n");
        for i in 0..MAX_ROWS {
            src.push_str(&format!("{i}\n"));
        }
        assert_eq!(parse(&src).map(|t| t.rows.len()), Ok(MAX_ROWS));
        src.push_str("one more\n");
        assert_eq!(parse(&src), Err(CsvError::TooLarge(TOO_MANY_ROWS)));

        let big = "x".repeat(MAX_BYTES + 1);
        assert_eq!(parse(&big), Err(CsvError::TooLarge(TOO_MANY_BYTES)));
        assert_eq!(
            parse_bytes(big.as_bytes()),
            Err(CsvError::TooLarge(TOO_MANY_BYTES))
        );
    }

    #[test]
    fn error_codes_and_messages() {
        let all = [
            CsvError::NotUtf8 { line: 1 },
            CsvError::Empty,
            CsvError::UnterminatedQuote { line: 1 },
            CsvError::TooManyFields {
                line: 1,
                expected: 1,
                found: 2,
            },
            CsvError::DuplicateHeader {
                name: "a".into(),
                first: 1,
                second: 2,
            },
            CsvError::TooLarge(TOO_MANY_ROWS),
        ];
        for e in all {
            assert_eq!(e.code(), "INVALID_CSV");
            assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn write_format() {
        let rows = vec![
            vec!["Trà \"Sen\"".to_owned(), "a;b".to_owned()],
            vec!["  lề  ".to_owned(), "x\ny".to_owned()],
            vec!["plain".to_owned(), String::new()],
        ];
        let out = write(&["Tên", "Ghi chú"], &rows, ';');
        assert_eq!(
            out,
            "\u{FEFF}Tên;Ghi chú\r\n\
             \"Trà \"\"Sen\"\"\";\"a;b\"\r\n\
             \"  lề  \";\"x\ny\"\r\n\
             plain;\r\n"
        );
    }

    #[test]
    fn write_guards_formulas() {
        let cases = [
            ("=SUM(A1:A9)", "'=SUM(A1:A9)"),
            ("+cmd", "'+cmd"),
            ("-2+3", "'-2+3"),
            ("@A1", "'@A1"),
            ("-", "'-"),
            ("-5", "-5"),
            ("+84912345678", "+84912345678"),
            ("-1.500,5", "\"-1.500,5\""),
            ("5-3", "5-3"),
            ("a=b", "a=b"),
        ];
        for (field, written) in cases {
            let out = write(&["h"], &[vec![field.to_owned()]], ',');
            assert_eq!(out, format!("\u{FEFF}h\r\n{written}\r\n"), "{field:?}");
        }
        let out = write(&["h"], &[vec!["\tx".to_owned()]], ',');
        assert_eq!(out, "\u{FEFF}h\r\n\"'\tx\"\r\n");
        let out = write(&["h"], &[vec!["\r=1".to_owned()]], ',');
        assert_eq!(out, "\u{FEFF}h\r\n\"'\r=1\"\r\n");
    }

    #[test]
    fn vietnamese_round_trip() -> Result<(), CsvError> {
        let headers = ["Tên sản phẩm", "Giá", "Mô tả", "Địa chỉ"];
        let rows = vec![
            vec![
                "Cà phê sữa đá".to_owned(),
                "25.000".to_owned(),
                "Đậm đà, thơm \"ngon\";\r\nuống là ghiền".to_owned(),
                "Phường Bến Nghé, Quận 1, TP. Hồ Chí Minh".to_owned(),
            ],
            vec![
                "Nước mắm Phú Quốc".to_owned(),
                "-5".to_owned(),
                "  có khoảng trắng  ".to_owned(),
                "Đảo Ngọc".to_owned(),
            ],
        ];
        for delim in [',', ';', '\t'] {
            let out = write(&headers, &rows, delim);
            let t = parse_bytes(out.as_bytes())?;
            assert_eq!(t.headers, headers);
            let got: Vec<Vec<String>> = t.rows.iter().map(|r| r.fields.clone()).collect();
            assert_eq!(got, rows, "{delim:?}");
            assert_eq!(t.get(&t.rows[1], "dia chi"), Some("Đảo Ngọc"));
            assert_eq!(t.rows[1].line, 4);
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn prop_write_parse_round_trips(
            rows in prop::collection::vec(prop::collection::vec(any::<String>(), 3), 0..8),
            delim in prop::sample::select(vec![',', ';', '\t']),
        ) {
            let out = write(&["a", "Giá", "c"], &rows, delim);
            let t = parse_bytes(out.as_bytes());
            prop_assert!(t.is_ok(), "{:?} -> {:?}", out, t);
            let t = t.unwrap_or_default();
            prop_assert_eq!(&t.headers, &["a", "Giá", "c"]);
            // What comes back: NFC, with the formula guard, all-empty rows skipped.
            let expected: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    r.iter()
                        .map(|f| {
                            if needs_formula_guard(f) {
                                text::nfc(&format!("'{f}"))
                            } else {
                                text::nfc(f)
                            }
                        })
                        .collect::<Vec<_>>()
                })
                .filter(|r| r.iter().any(|f| !f.is_empty()))
                .collect();
            let got: Vec<Vec<String>> = t.rows.into_iter().map(|r| r.fields).collect();
            prop_assert_eq!(got, expected);
        }

        #[test]
        fn prop_parse_never_panics(s in any::<String>()) {
            let _ = parse(&s);
        }

        #[test]
        fn prop_parse_bytes_never_panics(b in prop::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse_bytes(&b);
        }

        #[test]
        fn prop_parse_csv_like_never_panics(s in "[a\",;\t\r\n \u{FEFF}é]{0,60}") {
            if let Ok(t) = parse(&s) {
                for r in &t.rows {
                    prop_assert_eq!(r.fields.len(), t.headers.len());
                    prop_assert!(r.line >= 2);
                }
            }
        }
    }
}
