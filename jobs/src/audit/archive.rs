//! The full report, gzip-compressed for `prospect_audit_reports`.

use std::io::{self, Read, Write};

use flate2::{Compression, read::GzDecoder, write::GzEncoder};

/// What the archived document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    /// A Lighthouse result (LHR JSON), from a local run.
    LighthouseResult,
    /// A whole PageSpeed Insights v5 response (`lighthouseResult` inside).
    PageSpeedV5,
}

impl ReportFormat {
    /// The stored name (`prospect_audit_reports.format`).
    pub fn as_str(self) -> &'static str {
        match self {
            ReportFormat::LighthouseResult => "lighthouse_result",
            ReportFormat::PageSpeedV5 => "pagespeed_v5",
        }
    }
}

/// A compressed report, ready to store.
#[derive(Debug, Clone)]
pub struct ReportArchive {
    /// What it is.
    pub format: ReportFormat,
    /// gzip of the JSON document.
    pub gzip: Vec<u8>,
    /// Size of the JSON document.
    pub bytes: usize,
}

impl ReportArchive {
    /// Compress `json` (CPU work: call it off the async threads).
    pub fn compress(format: ReportFormat, json: &[u8]) -> io::Result<Self> {
        let mut encoder = GzEncoder::new(Vec::with_capacity(json.len() / 4), Compression::default());
        encoder.write_all(json)?;
        Ok(Self {
            format,
            gzip: encoder.finish()?,
            bytes: json.len(),
        })
    }
}

/// Decompress a stored report.
pub fn decompress(gzip: &[u8]) -> io::Result<Vec<u8>> {
    let mut json = Vec::with_capacity(gzip.len() * 4);
    GzDecoder::new(gzip).read_to_end(&mut json)?;
    Ok(json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_round_trips_and_shrinks() {
        let json = include_bytes!("../../tests/fixtures/lighthouse-12-heavy-mobile.json");
        let archive = ReportArchive::compress(ReportFormat::LighthouseResult, json).unwrap();
        assert_eq!(archive.bytes, json.len());
        assert!(
            archive.gzip.len() < json.len() / 3,
            "{} of {}",
            archive.gzip.len(),
            json.len()
        );
        assert_eq!(decompress(&archive.gzip).unwrap(), json);
    }
}
