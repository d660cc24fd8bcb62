//! The coverage grid (WebMagic's "conquest map"): territories of city ×
//! industry that the discovery autopilot works through.
//!
//! `prospector grid import FILE.csv` seeds it: one territory per row,
//! upserted on (country, state, city, industry), so a re-import updates
//! priorities and populations instead of duplicating rows (status, counters
//! and cooldowns are kept). Every bad row is reported with its line number
//! and reason; every good row lands. `prospector grid list` shows it.

mod queries;

use crate::csv_table::{CsvTable, normalise_header};
use std::{fmt, path::Path};

use prospector_jobs::domain::CountryCode;
use sqlx::PgPool;

pub use queries::{GridRow, list_territories};

/// One territory to import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Territory {
    /// Country code.
    pub country: CountryCode,
    /// State or region.
    pub state: String,
    /// City.
    pub city: String,
    /// Industry searched for.
    pub industry: String,
    /// Group of industries.
    pub industry_category: Option<String>,
    /// Higher runs first.
    pub priority: i32,
    /// City population (ties on priority go to larger cities).
    pub population: Option<i32>,
}

/// A rejected row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GridRowError {
    /// 1-based line in the file.
    pub line: usize,
    /// Why.
    pub reason: String,
}

impl fmt::Display for GridRowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GridImportReport {
    /// Data rows read.
    pub rows: usize,
    /// New territories.
    pub inserted: usize,
    /// Existing territories updated.
    pub updated: usize,
    /// Rejected rows.
    pub rejected: Vec<GridRowError>,
}

/// Why an import could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum GridImportError {
    /// Unreadable file.
    #[error("cannot read {0}")]
    Read(String, #[source] std::io::Error),
    /// No usable header.
    #[error("{0}")]
    Header(String),
    /// Database failure (not a row's fault).
    #[error("database error while importing the grid")]
    Database(#[from] sqlx::Error),
}

const COLUMNS: &[(&str, &[&str])] = &[
    ("country", &["country", "country_code"]),
    ("state", &["state", "region", "province", "state_code"]),
    ("city", &["city", "town", "locality"]),
    ("industry", &["industry", "category", "query", "business_type"]),
    (
        "industry_category",
        &["industry_category", "category_group", "vertical"],
    ),
    ("priority", &["priority"]),
    ("population", &["population", "pop"]),
];

fn canonical(header: &str) -> Option<&'static str> {
    let h = normalise_header(header).replace('-', "_");
    COLUMNS
        .iter()
        .find(|(_, names)| names.contains(&h.as_str()))
        .map(|(name, _)| *name)
}

/// A data row: its line number, and the territory or why not.
pub type ParsedRow = (usize, Result<Territory, String>);

/// Parse a grid CSV: each data row becomes a territory or an error with its
/// line number. `default_country` fills rows without a country.
pub fn parse_csv(text: &str, default_country: CountryCode) -> Result<Vec<ParsedRow>, GridImportError> {
    let table = CsvTable::open(text, canonical)
        .map_err(|e| GridImportError::Header(format!("cannot read the CSV header: {e}")))?;
    let missing: Vec<&str> = ["state", "city", "industry"]
        .into_iter()
        .filter(|c| !table.columns().contains(&Some(*c)))
        .collect();
    if !missing.is_empty() {
        return Err(GridImportError::Header(format!(
            "the CSV header needs the columns {}; found: {}",
            missing.join(", "),
            table.headers().iter().collect::<Vec<_>>().join(", ")
        )));
    }
    Ok(table.rows(|row| territory(&|name| row.get(name), default_country)))
}

fn territory<'a>(
    field: &dyn Fn(&str) -> Option<&'a str>,
    default_country: CountryCode,
) -> Result<Territory, String> {
    let text = |name: &str, max: usize| -> Result<Option<String>, String> {
        match field(name) {
            None => Ok(None),
            Some(v) if v.chars().count() > max => Err(format!("{name} is longer than {max} characters")),
            Some(v) if v.chars().any(char::is_control) => Err(format!("{name} contains control characters")),
            Some(v) => Ok(Some(v.to_owned())),
        }
    };
    let required = |name: &str, max: usize| -> Result<String, String> {
        text(name, max)?.ok_or_else(|| format!("{name} is missing"))
    };
    let country = match field("country") {
        None => default_country,
        Some(raw) => CountryCode::parse(raw).map_err(|e| e.to_string())?,
    };
    let priority = match field("priority") {
        None => 0,
        Some(raw) => raw
            .parse::<i32>()
            .map_err(|_| format!("priority `{raw}` is not a whole number"))?,
    };
    let population = match field("population") {
        None => None,
        Some(raw) => {
            let cleaned: String = raw.chars().filter(|c| !matches!(c, ',' | '_' | ' ')).collect();
            match cleaned.parse::<i32>() {
                Ok(n) if n >= 0 => Some(n),
                _ => return Err(format!("population `{raw}` is not a whole number of 0 or more")),
            }
        }
    };
    Ok(Territory {
        country,
        state: required("state", 50)?,
        city: required("city", 100)?,
        industry: required("industry", 100)?,
        industry_category: text("industry_category", 100)?,
        priority,
        population,
    })
}

/// Import a grid CSV file.
pub async fn import_file(
    pool: &PgPool,
    path: &Path,
    default_country: CountryCode,
) -> Result<GridImportReport, GridImportError> {
    let text = tokio::fs::read_to_string(path)
        .await
        .map_err(|e| GridImportError::Read(path.display().to_string(), e))?;
    import_text(pool, &text, default_country).await
}

/// Import grid CSV text.
pub async fn import_text(
    pool: &PgPool,
    text: &str,
    default_country: CountryCode,
) -> Result<GridImportReport, GridImportError> {
    let rows = parse_csv(text, default_country)?;
    let mut report = GridImportReport {
        rows: rows.len(),
        ..GridImportReport::default()
    };
    for (line, row) in rows {
        match row {
            Err(reason) => report.rejected.push(GridRowError { line, reason }),
            Ok(territory) => match queries::upsert_territory(pool, &territory).await {
                Ok(true) => report.inserted += 1,
                Ok(false) => report.updated += 1,
                Err(sqlx::Error::Database(db))
                    if db
                        .code()
                        .is_some_and(|c| c.starts_with("22") || c.starts_with("23")) =>
                {
                    report.rejected.push(GridRowError {
                        line,
                        reason: format!("the database refused the row: {}", db.message()),
                    });
                }
                Err(e) => return Err(GridImportError::Database(e)),
            },
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_map_their_columns_and_bad_rows_say_why_by_line() {
        let text = "Country,State,City,Industry,Priority,Population\n\
                    US,TX,Houston,Plumbers,10,\"2,304,580\"\n\
                    ,LU,Luxembourg,Bakeries,,\n\
                    USA,TX,Austin,Plumbers,1,1000\n\
                    US,TX,,Plumbers,1,1000\n\
                    US,TX,Dallas,Plumbers,high,1000\n\
                    US,TX,Dallas,Plumbers,1,-5\n\
                    US,TX,Dallas\n";
        let rows = parse_csv(text, CountryCode::parse("LU").unwrap()).unwrap();
        let houston = rows[0].1.as_ref().unwrap();
        assert_eq!(houston.population, Some(2_304_580));
        assert_eq!(houston.priority, 10);
        let lux = rows[1].1.as_ref().unwrap();
        assert_eq!(lux.country.as_str(), "LU");
        assert_eq!(lux.priority, 0);
        let errors: Vec<(usize, &String)> = rows
            .iter()
            .filter_map(|(line, r)| r.as_ref().err().map(|e| (*line, e)))
            .collect();
        assert_eq!(
            errors.iter().map(|e| e.0).collect::<Vec<_>>(),
            vec![4, 5, 6, 7, 8]
        );
        assert!(errors[0].1.contains("two-letter country code"));
        assert!(errors[1].1.contains("city is missing"));
        assert!(errors[2].1.contains("priority `high`"));
        assert!(errors[3].1.contains("population `-5`"));
        assert!(errors[4].1.contains("fields but the header has"));
    }

    #[test]
    fn a_header_without_the_needed_columns_is_refused() {
        let err = parse_csv("name,town\nx,y\n", CountryCode::parse("US").unwrap()).unwrap_err();
        assert!(err.to_string().contains("state, industry"), "{err}");
    }
}
