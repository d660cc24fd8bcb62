//! How an audit fails, and what the queue does about it.

use super::{
    lighthouse::RunnerError,
    pagespeed::PageSpeedError,
    reach::ReachError,
    report::{InvalidReport, PageError},
    target::TargetError,
};
use crate::{
    pipeline::AdvanceError,
    runtime::{StageError, is_transient_db_error},
};

/// Why an audit failed.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The prospect is gone.
    #[error("prospect {0} does not exist")]
    UnknownProspect(i64),
    /// There is no http(s) URL to audit.
    #[error(transparent)]
    Target(#[from] TargetError),
    /// The page is not on the public internet (or cannot be resolved).
    #[error(transparent)]
    Reach(#[from] ReachError),
    /// Lighthouse could not audit the page (its `runtimeError`).
    #[error("Lighthouse could not audit {url}: {} ({})", .error.message, .error.code)]
    Page {
        /// The audited URL.
        url: String,
        /// Lighthouse's code and message.
        error: PageError,
    },
    /// Lighthouse or Chromium failed (crash, timeout): no report.
    #[error(transparent)]
    Runner(#[from] RunnerError),
    /// PageSpeed Insights gave no result.
    #[error(transparent)]
    PageSpeed(#[from] PageSpeedError),
    /// The report could not be read.
    #[error(transparent)]
    InvalidReport(#[from] InvalidReport),
    /// The report could not be compressed (or a blocking task died).
    #[error("could not archive the report: {0}")]
    Archive(String),
    /// Shutdown: the run was stopped and its processes killed.
    #[error("interrupted by shutdown")]
    Interrupted,
    /// The site version to gate is gone.
    #[error("site version {0} does not exist")]
    UnknownVersion(uuid::Uuid),
    /// The quality gate runs Lighthouse here; PageSpeed Insights cannot
    /// reach a version that is not published yet.
    #[error(
        "the quality gate needs audit.provider = \"lighthouse\" (PageSpeed Insights cannot reach an unpublished version)"
    )]
    GateNeedsLighthouse,
    /// The version could not be served on loopback.
    #[error("could not serve the site version on loopback: {0}")]
    Serve(#[source] std::io::Error),
    /// Storing the results failed.
    #[error("could not store the audit")]
    Database(#[from] sqlx::Error),
    /// Enqueueing the next stage failed.
    #[error(transparent)]
    Advance(#[from] AdvanceError),
}

impl AuditError {
    /// Whether the error is about the prospect's site (its address, its
    /// page, what Lighthouse could make of it), not about us: such a
    /// permanent failure ends the audit, and the score goes on without it.
    pub fn is_about_the_site(&self) -> bool {
        matches!(
            self,
            AuditError::Target(_)
                | AuditError::Reach(_)
                | AuditError::Page { .. }
                | AuditError::PageSpeed(PageSpeedError::Page(_))
        )
    }
}

impl StageError for AuditError {
    fn is_permanent(&self) -> bool {
        match self {
            AuditError::UnknownProspect(_) | AuditError::Target(_) => true,
            AuditError::Reach(e) => e.is_permanent(),
            AuditError::Page { error, .. } => error.is_permanent(),
            AuditError::PageSpeed(e) => e.is_permanent(),
            AuditError::Runner(_)
            | AuditError::InvalidReport(_)
            | AuditError::Archive(_)
            | AuditError::Interrupted
            | AuditError::Serve(_) => false,
            AuditError::UnknownVersion(_) | AuditError::GateNeedsLighthouse => true,
            AuditError::Database(e) => !is_transient_db_error(e),
            AuditError::Advance(e) => e.is_permanent(),
        }
    }

    fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            AuditError::PageSpeed(e) => e.retry_after(),
            _ => None,
        }
    }

    fn wait(&self) -> Option<std::time::Duration> {
        match self {
            AuditError::PageSpeed(e) => e.wait(),
            _ => None,
        }
    }
}
