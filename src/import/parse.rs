//! Reading import files into checked lead records, row by row.
//!
//! Three formats: a domain list (one domain or URL per line, `#` comments),
//! CSV with a header row, and JSON lines (one object per line). Every data
//! row becomes either a [`LeadRecord`] or a [`RowError`] carrying its line
//! number; one bad row never stops the others.

use crate::csv_table::{CsvTable, normalise_header};
use std::{collections::HashMap, fmt, path::Path};

use prospector_jobs::domain::{CountryCode, Domain, EmailAddress};
use serde_json::Value;

/// A file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ImportFormat {
    /// One domain or URL per line.
    Domains,
    /// Comma-separated values with a header row.
    Csv,
    /// One JSON object per line.
    Jsonl,
}

impl ImportFormat {
    /// Guess from the file name: `.csv`, `.jsonl`/`.ndjson`, else a domain list.
    pub fn from_path(path: &Path) -> Self {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("csv") => ImportFormat::Csv,
            Some("jsonl" | "ndjson") => ImportFormat::Jsonl,
            _ => ImportFormat::Domains,
        }
    }
}

/// How a lead was found (`prospects.channel`) for imported rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Channel {
    /// Domain-based.
    Digital,
    /// Captured in person.
    Offline,
}

impl Channel {
    /// The stored value.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Digital => "digital",
            Channel::Offline => "offline",
        }
    }
}

/// Row defaults from the command line and settings.
#[derive(Debug, Clone)]
pub struct RowDefaults {
    /// Channel of rows that name none (else: digital with a domain, offline without).
    pub channel: Option<Channel>,
    /// `prospects.source` of rows that name none.
    pub source: String,
    /// Tags added to every row.
    pub tags: Vec<String>,
    /// Country of rows that name none.
    pub country: CountryCode,
}

/// A checked lead, ready to upsert.
#[derive(Debug, Clone, PartialEq)]
pub struct LeadRecord {
    /// Channel.
    pub channel: Channel,
    /// Business name (required offline).
    pub business_name: Option<String>,
    /// Normalised domain (required digital).
    pub domain: Option<Domain>,
    /// The website URL as given, when it says more than the domain (a
    /// scheme or a path: `http://example.com/fr/`); the scan fetches it.
    pub website_url: Option<String>,
    /// Where the lead came from.
    pub source: String,
    /// E-mail.
    pub email: Option<EmailAddress>,
    /// Phone, as written.
    pub phone: Option<String>,
    /// The phone in E.164 (`+35226123456`), when it is a valid number
    /// (numbers without `+` are read as numbers of the lead's country).
    pub phone_e164: Option<String>,
    /// Street address.
    pub address: Option<String>,
    /// City.
    pub city: Option<String>,
    /// State or region.
    pub state: Option<String>,
    /// Postal code.
    pub postal_code: Option<String>,
    /// Country.
    pub country: CountryCode,
    /// Notes.
    pub notes: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Latitude and longitude.
    pub location: Option<(f64, f64)>,
}

impl LeadRecord {
    /// What makes two rows the same lead.
    pub fn identity(&self) -> String {
        match &self.domain {
            Some(domain) => format!("domain:{domain}"),
            None => format!(
                "offline:{}|{}|{}",
                self.business_name.as_deref().unwrap_or_default().to_lowercase(),
                self.address.as_deref().unwrap_or_default().to_lowercase(),
                self.city.as_deref().unwrap_or_default().to_lowercase()
            ),
        }
    }
}

/// A rejected row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// 1-based line number in the file.
    pub line: usize,
    /// Why it was rejected.
    pub reason: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// One data row of the file.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedRow {
    /// 1-based line number.
    pub line: usize,
    /// The record, or why not.
    pub result: Result<LeadRecord, String>,
}

/// A file that cannot be read as the format at all.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// CSV header problems.
    #[error(
        "the CSV header has no usable column: it needs `domain` (or website/url) or `business_name` (or name); found: {0}"
    )]
    NoUsableColumns(String),
    /// CSV header missing.
    #[error("the CSV file is empty: it needs a header row")]
    EmptyCsv,
    /// The CSV header could not be read.
    #[error("cannot read the CSV header: {0}")]
    BadHeader(String),
}

/// Parse a whole file. Also returns header columns that were ignored.
pub fn parse(
    text: &str,
    format: ImportFormat,
    defaults: &RowDefaults,
) -> Result<(Vec<ParsedRow>, Vec<String>), FormatError> {
    match format {
        ImportFormat::Domains => Ok((parse_domains(text, defaults), Vec::new())),
        ImportFormat::Csv => parse_csv(text, defaults),
        ImportFormat::Jsonl => Ok((parse_jsonl(text, defaults), Vec::new())),
    }
}

fn parse_domains(text: &str, defaults: &RowDefaults) -> Vec<ParsedRow> {
    text.lines()
        .enumerate()
        .filter_map(|(index, raw)| {
            let line = raw.trim().trim_start_matches('\u{feff}');
            if line.is_empty() || line.starts_with('#') {
                return None;
            }
            let mut fields = Fields::default();
            fields.insert("domain", line.to_owned());
            Some(ParsedRow {
                line: index + 1,
                result: build_record(fields, defaults),
            })
        })
        .collect()
}

/// Canonical field names and the header spellings that map to them.
const ALIASES: &[(&str, &[&str])] = &[
    (
        "domain",
        &[
            "domain",
            "domain_name",
            "website",
            "website_url",
            "url",
            "site",
            "web",
        ],
    ),
    (
        "business_name",
        &["business_name", "name", "company", "business", "company_name"],
    ),
    ("channel", &["channel"]),
    ("source", &["source"]),
    ("email", &["email", "e-mail", "email_address", "mail"]),
    ("phone", &["phone", "telephone", "tel", "phone_number"]),
    ("address", &["address", "street", "street_address"]),
    ("city", &["city", "town", "locality"]),
    ("state", &["state", "region", "province"]),
    (
        "postal_code",
        &["postal_code", "zip", "zip_code", "postcode", "post_code"],
    ),
    ("country", &["country", "country_code"]),
    ("notes", &["notes", "note", "comment", "comments"]),
    ("tags", &["tags", "tag"]),
    ("lat", &["lat", "latitude", "location_lat"]),
    ("lng", &["lng", "lon", "long", "longitude", "location_lng"]),
];

fn canonical(header: &str) -> Option<&'static str> {
    let h = normalise_header(header);
    ALIASES
        .iter()
        .find(|(_, spellings)| spellings.contains(&h.as_str()))
        .map(|(name, _)| *name)
}

fn parse_csv(text: &str, defaults: &RowDefaults) -> Result<(Vec<ParsedRow>, Vec<String>), FormatError> {
    let table = CsvTable::open(text, canonical).map_err(|e| FormatError::BadHeader(e.to_string()))?;
    let headers = table.headers();
    if headers.is_empty() || headers.iter().all(str::is_empty) {
        return Err(FormatError::EmptyCsv);
    }
    let ignored: Vec<String> = headers
        .iter()
        .zip(table.columns())
        .filter(|(_, c)| c.is_none())
        .map(|(h, _)| h.to_owned())
        .collect();
    if !table
        .columns()
        .iter()
        .any(|c| matches!(c, Some("domain" | "business_name")))
    {
        return Err(FormatError::NoUsableColumns(
            headers.iter().collect::<Vec<_>>().join(", "),
        ));
    }
    let rows = table
        .rows(|row| {
            let mut fields = Fields::default();
            for (column, value) in row.fields() {
                fields.insert(column, value.to_owned());
            }
            build_record(fields, defaults)
        })
        .into_iter()
        .map(|(line, result)| ParsedRow { line, result })
        .collect();
    Ok((rows, ignored))
}

fn parse_jsonl(text: &str, defaults: &RowDefaults) -> Vec<ParsedRow> {
    text.lines()
        .enumerate()
        .filter_map(|(index, raw)| {
            let line = raw.trim().trim_start_matches('\u{feff}');
            if line.is_empty() {
                return None;
            }
            let result = match serde_json::from_str::<Value>(line) {
                Err(e) => Err(format!("not valid JSON: {e}")),
                Ok(Value::Object(map)) => {
                    let mut fields = Fields::default();
                    let mut problem = None;
                    for (key, value) in map {
                        let Some(column) = canonical(&key) else { continue };
                        let text = match value {
                            Value::Null => continue,
                            Value::String(s) => s,
                            Value::Number(n) => n.to_string(),
                            Value::Bool(b) => b.to_string(),
                            Value::Array(items) if column == "tags" => items
                                .iter()
                                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                                .collect::<Vec<_>>()
                                .join(";"),
                            _ => {
                                problem = Some(format!("`{key}` must be a string"));
                                break;
                            }
                        };
                        fields.insert(column, text);
                    }
                    match problem {
                        Some(p) => Err(p),
                        None => build_record(fields, defaults),
                    }
                }
                Ok(_) => Err("each line must be a JSON object".to_owned()),
            };
            Some(ParsedRow {
                line: index + 1,
                result,
            })
        })
        .collect()
}

#[derive(Debug, Default)]
struct Fields(HashMap<&'static str, String>);

impl Fields {
    fn insert(&mut self, key: &'static str, value: String) {
        let value = value.trim().to_owned();
        if !value.is_empty() {
            self.0.insert(key, value);
        }
    }

    fn take(&mut self, key: &str) -> Option<String> {
        self.0.remove(key)
    }

    fn text(&mut self, key: &str, label: &str, max: usize) -> Result<Option<String>, String> {
        match self.take(key) {
            Some(v) if v.chars().count() > max => Err(format!("{label} is longer than {max} characters")),
            Some(v) if v.chars().any(|c| c.is_control() && c != '\n' && c != '\t') => {
                Err(format!("{label} contains control characters"))
            }
            other => Ok(other),
        }
    }
}

/// The URL to fetch for a domain column's value, when the value is more
/// than the bare domain (a scheme, a path or a query): kept as given (host
/// lower-cased), with `https://` when it names no scheme.
fn given_website_url(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let with_scheme = if raw.contains("://") {
        raw.to_owned()
    } else {
        format!("https://{raw}")
    };
    let url = url::Url::parse(&with_scheme).ok()?;
    let bare = url.path() == "/" && url.query().is_none() && url.fragment().is_none();
    if (bare && !raw.contains("://")) || !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    let mut url = url;
    url.set_fragment(None);
    let text = url.to_string();
    (text.len() <= 500).then_some(text)
}

fn build_record(mut fields: Fields, defaults: &RowDefaults) -> Result<LeadRecord, String> {
    let (domain, website_url) = match fields.take("domain") {
        Some(raw) => (
            Some(Domain::parse(&raw).map_err(|e| format!("invalid domain: {e}"))?),
            given_website_url(&raw),
        ),
        None => (None, None),
    };
    let business_name = fields.text("business_name", "business name", 255)?;
    let channel = match fields.take("channel").map(|c| c.to_ascii_lowercase()) {
        Some(c) if c == "digital" => Channel::Digital,
        Some(c) if c == "offline" => Channel::Offline,
        Some(other) => {
            return Err(format!(
                "channel `{other}` is not digital or offline (maps listings come from discovery, not imports)"
            ));
        }
        None => defaults.channel.unwrap_or(if domain.is_some() {
            Channel::Digital
        } else {
            Channel::Offline
        }),
    };
    match channel {
        Channel::Digital if domain.is_none() => return Err("a digital lead needs a domain".to_owned()),
        Channel::Offline if business_name.is_none() => {
            return Err("an offline lead needs a business name".to_owned());
        }
        _ => {}
    }
    let email = match fields.take("email") {
        Some(raw) => Some(EmailAddress::parse(&raw).map_err(|e| format!("invalid email: {e}"))?),
        None => None,
    };
    let country = match fields.take("country") {
        Some(raw) => CountryCode::parse(&raw).map_err(|e| format!("invalid country: {e}"))?,
        None => defaults.country,
    };
    let location = match (fields.take("lat"), fields.take("lng")) {
        (None, None) => None,
        (Some(lat), Some(lng)) => {
            let lat: f64 = lat
                .parse()
                .map_err(|_| format!("latitude `{lat}` is not a number"))?;
            let lng: f64 = lng
                .parse()
                .map_err(|_| format!("longitude `{lng}` is not a number"))?;
            if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lng) {
                return Err(format!("coordinates ({lat}, {lng}) are out of range"));
            }
            Some((lat, lng))
        }
        _ => return Err("latitude and longitude must be given together".to_owned()),
    };
    let mut tags: Vec<String> = fields
        .take("tags")
        .map(|t| {
            t.split([';', '|', ','])
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    tags.extend(defaults.tags.iter().cloned());
    tags.sort();
    tags.dedup();
    if tags.len() > 20 || tags.iter().any(|t| t.chars().count() > 50) {
        return Err("at most 20 tags of up to 50 characters each".to_owned());
    }
    let phone = fields.text("phone", "phone", 50)?;
    if let Some(p) = &phone
        && !p.chars().any(|c| c.is_ascii_digit())
    {
        return Err(format!("phone `{p}` has no digits"));
    }
    let phone_e164 = phone
        .as_deref()
        .and_then(|p| prospector_jobs::discover::dedup::phone_e164(p, country));
    Ok(LeadRecord {
        channel,
        business_name,
        domain,
        website_url,
        phone_e164,
        source: fields
            .text("source", "source", 100)?
            .unwrap_or_else(|| defaults.source.clone()),
        email,
        phone,
        address: fields.text("address", "address", 500)?,
        city: fields.text("city", "city", 100)?,
        state: fields.text("state", "state", 50)?,
        postal_code: fields.text("postal_code", "postal code", 20)?,
        country,
        notes: fields.text("notes", "notes", 10_000)?,
        tags,
        location,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> RowDefaults {
        RowDefaults {
            channel: None,
            source: "import".into(),
            tags: vec!["batch-1".into()],
            country: CountryCode::parse("LU").unwrap(),
        }
    }

    fn errors(rows: &[ParsedRow]) -> Vec<(usize, String)> {
        rows.iter()
            .filter_map(|r| r.result.as_ref().err().map(|e| (r.line, e.clone())))
            .collect()
    }

    #[test]
    fn a_url_with_a_scheme_or_a_path_is_kept_for_fetching() {
        for (raw, expected) in [
            ("http://Example.com/fr/", Some("http://example.com/fr/")),
            (
                "https://www.shop.lu/contact#team",
                Some("https://www.shop.lu/contact"),
            ),
            (
                "shop.lu/boutique?lang=fr",
                Some("https://shop.lu/boutique?lang=fr"),
            ),
            ("http://example.com", Some("http://example.com/")),
            ("example.com", None),
            ("example.com/", None),
        ] {
            assert_eq!(given_website_url(raw).as_deref(), expected, "{raw}");
        }
    }

    #[test]
    fn phones_are_stored_in_e164_when_valid() {
        let text =
            "name,phone,country\nA,+352 26 12 34 56,LU\nB,26 12 34 56,\nC,621 123 456,LU\nD,call 12,LU\n";
        let (rows, _) = parse(text, ImportFormat::Csv, &defaults()).unwrap();
        let e164: Vec<Option<String>> = rows
            .iter()
            .map(|r| r.result.as_ref().unwrap().phone_e164.clone())
            .collect();
        assert_eq!(
            e164,
            [
                Some("+35226123456".to_owned()),
                Some("+35226123456".to_owned()),
                Some("+352621123456".to_owned()),
                None
            ]
        );
    }

    #[test]
    fn domain_lists_skip_blanks_and_comments_and_keep_line_numbers() {
        let text = "# leads\nexample.lu\n\nhttps://www.Shop.LU/contact\nnot a domain\ncafé.lu\n";
        let (rows, _) = parse(text, ImportFormat::Domains, &defaults()).unwrap();
        let lines: Vec<usize> = rows.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![2, 4, 5, 6]);
        let domains: Vec<String> = rows
            .iter()
            .filter_map(|r| r.result.as_ref().ok())
            .map(|r| r.domain.as_ref().unwrap().to_string())
            .collect();
        assert_eq!(domains, vec!["example.lu", "shop.lu", "xn--caf-dma.lu"]);
        let errs = errors(&rows);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].0, 5);
        assert!(errs[0].1.contains("invalid domain"), "{}", errs[0].1);
    }

    #[test]
    fn csv_rows_map_header_aliases_and_report_bad_rows_by_line() {
        let text = "Website,Name,E-mail,City,Tags,Latitude,Longitude\n\
                    example.lu,Boulangerie Example,info@example.lu,Luxembourg,bakery;new,49.61,6.13\n\
                    ,Garage Central,,Esch,,,\n\
                    bad domain,X,,,,,\n\
                    shop.lu,Shop,not-an-email,,,,\n\
                    short.lu,Short\n\
                    geo.lu,Geo,,,,91,6\n";
        let (rows, ignored) = parse(text, ImportFormat::Csv, &defaults()).unwrap();
        assert!(ignored.is_empty());
        let first = rows[0].result.as_ref().unwrap();
        assert_eq!(first.domain.as_ref().unwrap().as_str(), "example.lu");
        assert_eq!(first.channel, Channel::Digital);
        assert_eq!(first.tags, vec!["bakery", "batch-1", "new"]);
        assert_eq!(first.location, Some((49.61, 6.13)));
        let second = rows[1].result.as_ref().unwrap();
        assert_eq!(second.channel, Channel::Offline);
        assert_eq!(second.business_name.as_deref(), Some("Garage Central"));
        let errs = errors(&rows);
        let lines: Vec<usize> = errs.iter().map(|e| e.0).collect();
        assert_eq!(lines, vec![4, 5, 6, 7]);
        assert!(errs[1].1.contains("invalid email"));
        assert!(errs[2].1.contains("fields but the header has"));
        assert!(errs[3].1.contains("out of range"));
    }

    #[test]
    fn csv_without_a_usable_column_is_refused_whole() {
        let err = parse("foo,bar\n1,2\n", ImportFormat::Csv, &defaults()).unwrap_err();
        assert!(err.to_string().contains("foo, bar"));
    }

    #[test]
    fn jsonl_rows_accept_objects_and_report_the_rest() {
        let text = "{\"domain\":\"example.lu\",\"tags\":[\"a\",\"b\"],\"channel\":\"digital\"}\n\
                    {\"name\":\"Café du Coin\",\"channel\":\"offline\",\"city\":\"Diekirch\"}\n\
                    [1,2]\n\
                    {broken\n\
                    {\"name\":\"No domain\",\"channel\":\"digital\"}\n\
                    {\"domain\":\"x.lu\",\"channel\":\"maps\"}\n";
        let (rows, _) = parse(text, ImportFormat::Jsonl, &defaults()).unwrap();
        assert_eq!(rows.len(), 6);
        assert_eq!(rows[0].result.as_ref().unwrap().tags, vec!["a", "b", "batch-1"]);
        assert_eq!(rows[1].result.as_ref().unwrap().city.as_deref(), Some("Diekirch"));
        let errs = errors(&rows);
        assert_eq!(errs.iter().map(|e| e.0).collect::<Vec<_>>(), vec![3, 4, 5, 6]);
        assert!(errs[2].1.contains("needs a domain"));
        assert!(errs[3].1.contains("maps"));
    }

    #[test]
    fn formats_are_guessed_from_the_extension() {
        assert_eq!(ImportFormat::from_path(Path::new("a.CSV")), ImportFormat::Csv);
        assert_eq!(
            ImportFormat::from_path(Path::new("a.ndjson")),
            ImportFormat::Jsonl
        );
        assert_eq!(
            ImportFormat::from_path(Path::new("domains.txt")),
            ImportFormat::Domains
        );
    }

    #[test]
    fn identities_match_for_the_same_lead() {
        let (rows, _) = parse(
            "WWW.example.lu\nhttps://example.lu/x\n",
            ImportFormat::Domains,
            &defaults(),
        )
        .unwrap();
        let a = rows[0].result.as_ref().unwrap().identity();
        let b = rows[1].result.as_ref().unwrap().identity();
        assert_eq!(a, b);
    }
}
