//! `prospector import FILE`: leads from a domain list, CSV or JSON lines.
//!
//! The whole file is one batch (`prospect_scan_jobs`, job type `import`) with
//! one item per data row (`line:N`). Good rows are upserted in chunks (one
//! transaction each); bad rows are reported with their line number and
//! reason and recorded as failed items; duplicates within the file are
//! merged into the first occurrence. If the database refuses a chunk, its
//! rows are retried one by one so that a single bad row loses nothing else.

mod parse;
mod queries;

use std::{collections::HashMap, path::PathBuf};

use prospector_jobs::scan_jobs::{self, BatchKind, ItemOutcome};
use sqlx::PgPool;

pub use parse::{Channel, ImportFormat, LeadRecord, ParsedRow, RowDefaults, RowError, parse};

/// What to import and how.
#[derive(Debug, Clone)]
pub struct ImportRequest {
    /// The file.
    pub path: PathBuf,
    /// Its format (guessed from the extension when absent).
    pub format: Option<ImportFormat>,
    /// Row defaults.
    pub defaults: RowDefaults,
    /// Rows per transaction.
    pub chunk_size: usize,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// The batch that records it.
    pub scan_job_id: i64,
    /// Data rows read.
    pub rows: usize,
    /// New prospects.
    pub inserted: usize,
    /// Existing prospects updated.
    pub updated: usize,
    /// Rows repeating an earlier row of the file.
    pub duplicates: usize,
    /// Rows rejected, with line numbers.
    pub rejected: Vec<RowError>,
    /// Header columns that were not used.
    pub ignored_columns: Vec<String>,
}

/// Why an import could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file cannot be read.
    #[error("cannot read {path}")]
    Read {
        /// File.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not text.
    #[error("{0} is not UTF-8 text")]
    NotText(PathBuf),
    /// The file is not of its format at all.
    #[error("{path}: {source}")]
    Format {
        /// File.
        path: PathBuf,
        /// Cause.
        #[source]
        source: parse::FormatError,
    },
    /// The file has more rows than a batch can count.
    #[error("{0} has more than 2 147 483 647 rows")]
    TooLarge(PathBuf),
    /// The database failed (not a row's fault).
    #[error("database error while importing")]
    Database(#[from] sqlx::Error),
}

/// Progress callbacks (a progress bar on a terminal).
pub trait Progress: Send + Sync {
    /// The number of rows is known.
    fn start(&self, rows: u64);
    /// Rows finished.
    fn advance(&self, rows: u64);
    /// A row was rejected.
    fn rejected(&self, error: &RowError);
}

/// No progress output.
pub struct Silent;

impl Progress for Silent {
    fn start(&self, _: u64) {}
    fn advance(&self, _: u64) {}
    fn rejected(&self, _: &RowError) {}
}

/// Import a file. Rejected rows are in the report; only a file-level or
/// database failure is an error.
pub async fn import_file(
    pool: &PgPool,
    request: &ImportRequest,
    progress: &dyn Progress,
) -> Result<ImportReport, ImportError> {
    let bytes = tokio::fs::read(&request.path)
        .await
        .map_err(|source| ImportError::Read {
            path: request.path.clone(),
            source,
        })?;
    let text = String::from_utf8(bytes).map_err(|_| ImportError::NotText(request.path.clone()))?;
    let format = request
        .format
        .unwrap_or_else(|| ImportFormat::from_path(&request.path));
    let name = request.path.display().to_string();
    import_text(
        pool,
        &name,
        &text,
        format,
        &request.defaults,
        request.chunk_size,
        progress,
    )
    .await
}

/// Import already-read text; `name` identifies it in the batch.
pub async fn import_text(
    pool: &PgPool,
    name: &str,
    text: &str,
    format: ImportFormat,
    defaults: &RowDefaults,
    chunk_size: usize,
    progress: &dyn Progress,
) -> Result<ImportReport, ImportError> {
    let path = PathBuf::from(name);
    let (rows, ignored_columns) = parse(text, format, defaults).map_err(|source| ImportError::Format {
        path: path.clone(),
        source,
    })?;
    let total = i32::try_from(rows.len()).map_err(|_| ImportError::TooLarge(path.clone()))?;
    progress.start(rows.len() as u64);

    let description = format!("import of {name}");
    let parameters = serde_json::json!({
        "file": name,
        "format": format!("{format:?}").to_lowercase(),
        "source": defaults.source,
        "tags": defaults.tags,
    });
    let scan_job_id = scan_jobs::create_batch(
        pool,
        BatchKind::Import,
        &[],
        total,
        Some(&description),
        &parameters,
    )
    .await?;

    let mut report = ImportReport {
        scan_job_id,
        rows: rows.len(),
        ignored_columns,
        ..ImportReport::default()
    };
    // First line of each lead identity, to merge repeats.
    let mut first_line: HashMap<String, usize> = HashMap::new();
    for chunk in rows.chunks(chunk_size.max(1)) {
        let mut work: Vec<(&ParsedRow, &LeadRecord)> = Vec::new();
        let mut outcomes: Vec<(String, Option<i64>, ItemOutcome)> = Vec::new();
        for row in chunk {
            match &row.result {
                Err(reason) => {
                    let error = RowError {
                        line: row.line,
                        reason: reason.clone(),
                    };
                    progress.rejected(&error);
                    outcomes.push((item_key(row.line), None, ItemOutcome::Failed(error.to_string())));
                    report.rejected.push(error);
                }
                Ok(lead) => match first_line.get(&lead.identity()) {
                    Some(_) => {
                        report.duplicates += 1;
                        outcomes.push((item_key(row.line), None, ItemOutcome::Processed));
                    }
                    None => {
                        first_line.insert(lead.identity(), row.line);
                        work.push((row, lead));
                    }
                },
            }
        }
        let upserted = match upsert_chunk(pool, &work).await {
            Ok(results) => results.into_iter().map(Ok).collect::<Vec<_>>(),
            Err(e) => {
                tracing::warn!(error = %e, "a chunk of the import failed; retrying its rows one by one");
                let mut results = Vec::with_capacity(work.len());
                for (_, lead) in &work {
                    results.push(upsert_one(pool, lead).await);
                }
                results
            }
        };
        for ((row, _), result) in work.iter().zip(upserted) {
            match result {
                Ok(up) => {
                    if up.inserted {
                        report.inserted += 1;
                    } else {
                        report.updated += 1;
                    }
                    outcomes.push((item_key(row.line), Some(up.id), ItemOutcome::Processed));
                }
                Err(e) if is_row_error(&e) => {
                    let error = RowError {
                        line: row.line,
                        reason: format!("the database refused the row: {}", db_message(&e)),
                    };
                    progress.rejected(&error);
                    outcomes.push((item_key(row.line), None, ItemOutcome::Failed(error.to_string())));
                    report.rejected.push(error);
                }
                Err(e) => return Err(ImportError::Database(e)),
            }
        }
        let mut conn = pool.acquire().await?;
        scan_jobs::record_items(&mut *conn, scan_job_id, "import", &outcomes).await?;
        progress.advance(chunk.len() as u64);
    }
    report.rejected.sort_by_key(|e| e.line);
    Ok(report)
}

fn item_key(line: usize) -> String {
    format!("line:{line}")
}

async fn upsert_chunk(
    pool: &PgPool,
    work: &[(&ParsedRow, &LeadRecord)],
) -> Result<Vec<queries::Upserted>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let mut results = Vec::with_capacity(work.len());
    for (_, lead) in work {
        results.push(queries::upsert_prospect(&mut tx, lead).await?);
    }
    tx.commit().await?;
    Ok(results)
}

async fn upsert_one(pool: &PgPool, lead: &LeadRecord) -> Result<queries::Upserted, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let result = queries::upsert_prospect(&mut tx, lead).await?;
    tx.commit().await?;
    Ok(result)
}

/// A constraint or data error is the row's fault; anything else is not.
fn is_row_error(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.code().is_some_and(|c| c.starts_with("22") || c.starts_with("23")))
}

fn db_message(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(db) => match db.constraint() {
            Some(constraint) => format!("{} ({constraint})", db.message()),
            None => db.message().to_owned(),
        },
        other => other.to_string(),
    }
}

/// The prospects an import batch created or updated.
pub async fn imported_prospects(pool: &PgPool, scan_job_id: i64) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT DISTINCT prospect_id AS "prospect_id!" FROM scan_job_items
           WHERE scan_job_id = $1 AND prospect_id IS NOT NULL ORDER BY 1"#,
        scan_job_id
    )
    .fetch_all(pool)
    .await
}
