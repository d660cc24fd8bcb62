//! CSV files with a header row, as the importers read them: columns by
//! their canonical name, and every data row with its true line number.
//!
//! The CSV reader's own line count lags one line behind after a CRLF (a
//! Windows file's rows would each be reported on the line before), so lines
//! are counted here from the records' byte offsets. Blank rows are skipped;
//! a row with another number of fields than the header is an error of that
//! row, never of the file.

use csv::StringRecord;

/// A CSV text whose header has been read.
pub struct CsvTable<'a> {
    reader: csv::Reader<&'a [u8]>,
    lines: LineCounter<'a>,
    headers: StringRecord,
    columns: Vec<Option<&'static str>>,
}

/// One data row: its fields by canonical column.
pub struct Row<'r> {
    record: &'r StringRecord,
    columns: &'r [Option<&'static str>],
}

impl Row<'_> {
    /// The value of column `name`, when present and not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.columns
            .iter()
            .position(|c| *c == Some(name))
            .and_then(|i| self.record.get(i))
            .filter(|v| !v.is_empty())
    }

    /// Every recognised column with its value (empty ones included).
    pub fn fields(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.record
            .iter()
            .zip(self.columns)
            .filter_map(|(value, column)| column.map(|c| (c, value)))
    }
}

/// A header name as importers compare it: no byte-order mark, lower case,
/// spaces as underscores.
pub fn normalise_header(header: &str) -> String {
    header
        .trim()
        .trim_start_matches('\u{feff}')
        .to_ascii_lowercase()
        .replace(' ', "_")
}

impl<'a> CsvTable<'a> {
    /// Read the header of `text`, naming each column with `canonical`
    /// (`None` for columns the importer ignores).
    pub fn open(text: &'a str, canonical: fn(&str) -> Option<&'static str>) -> Result<Self, csv::Error> {
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let headers = reader.headers()?.clone();
        let columns = headers.iter().map(canonical).collect();
        Ok(Self {
            reader,
            lines: LineCounter::new(text),
            headers,
            columns,
        })
    }

    /// The header as written.
    pub fn headers(&self) -> &StringRecord {
        &self.headers
    }

    /// The canonical name of each column.
    pub fn columns(&self) -> &[Option<&'static str>] {
        &self.columns
    }

    /// Every data row with its 1-based line number, built by `build` or
    /// refused with a reason.
    pub fn rows<T>(
        mut self,
        mut build: impl FnMut(&Row<'_>) -> Result<T, String>,
    ) -> Vec<(usize, Result<T, String>)> {
        let mut rows = Vec::new();
        for record in self.reader.records() {
            match record {
                Err(e) => {
                    let line = self.lines.line_of(e.position().map(|p| p.byte()));
                    rows.push((line, Err(format!("unreadable CSV row: {e}"))));
                }
                Ok(record) => {
                    let line = self.lines.line_of(record.position().map(|p| p.byte()));
                    if record.iter().all(str::is_empty) {
                        continue;
                    }
                    let result = if record.len() == self.headers.len() {
                        build(&Row {
                            record: &record,
                            columns: &self.columns,
                        })
                    } else {
                        Err(format!(
                            "has {} fields but the header has {}",
                            record.len(),
                            self.headers.len()
                        ))
                    };
                    rows.push((line, result));
                }
            }
        }
        rows
    }
}

/// Line numbers from byte offsets. A line ends at CRLF, CR or LF, as it does
/// for the reader.
struct LineCounter<'a> {
    bytes: &'a [u8],
    /// Offset counted up to, and the line there.
    at: usize,
    line: usize,
}

impl<'a> LineCounter<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            bytes: text.as_bytes(),
            at: 0,
            line: 1,
        }
    }

    /// The 1-based line of the record that the reader placed at `offset`
    /// (which may be the line break before it; offsets never go back).
    fn line_of(&mut self, offset: Option<u64>) -> usize {
        let Some(offset) = offset.and_then(|o| usize::try_from(o).ok()) else {
            return self.line;
        };
        let offset = offset.clamp(self.at, self.bytes.len());
        let start = offset
            + self.bytes[offset..]
                .iter()
                .take_while(|b| matches!(b, b'\r' | b'\n'))
                .count();
        for (i, b) in self.bytes[self.at..start].iter().enumerate() {
            let ends_line = match b {
                b'\n' => true,
                b'\r' => self.bytes.get(self.at + i + 1) != Some(&b'\n'),
                _ => false,
            };
            self.line += usize::from(ends_line);
        }
        self.at = start;
        self.line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical(h: &str) -> Option<&'static str> {
        match normalise_header(h).replace('-', "_").as_str() {
            "name" => Some("name"),
            "city_name" => Some("city"),
            _ => None,
        }
    }

    #[test]
    fn rows_keep_their_line_numbers_after_crlf_and_blank_lines() {
        let text = "Name,City-Name,extra\r\na,b,c\r\n\r\n,,\r\nd,e\r\nf,g,h\r\n";
        let table = CsvTable::open(text, canonical).unwrap();
        assert_eq!(table.columns(), &[Some("name"), Some("city"), None]);
        let rows = table.rows(|row| {
            Ok(format!(
                "{}/{}",
                row.get("name").unwrap_or("-"),
                row.get("city").unwrap_or("-")
            ))
        });
        let lines: Vec<usize> = rows.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, vec![2, 5, 6]);
        assert_eq!(rows[0].1.as_deref(), Ok("a/b"));
        assert!(rows[1].1.as_ref().unwrap_err().contains("2 fields"));
        assert_eq!(rows[2].1.as_deref(), Ok("f/g"));
    }
}
