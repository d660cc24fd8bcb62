//! The whole deterministic chain of a generation: DNA, copy, render,
//! static gate.

use super::{
    Copy, CopyIssue, CreativeDna, GateReport, GeneratorConfig, RenderOptions, RenderedSite, SiteInput,
    check_site, creative_dna, render_site, validate_copy, write_copy,
};

/// Why a site could not be built. Every variant is permanent: retrying the
/// same input gives the same answer.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The record has no name left after cleaning; a site cannot say whose
    /// it is.
    #[error("the business has no name")]
    MissingName,
    /// A render option is unusable.
    #[error("render option {field}: {reason}")]
    InvalidOption {
        /// Which option.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The copy uses a fact the record lacks, or a slot that does not exist.
    #[error("copy: {0}")]
    Copy(CopyIssue),
    /// Copy from outside failed [`validate_copy`].
    #[error("copy rejected: {} problem(s), first: {}", .0.len(), .0.first().map(ToString::to_string).unwrap_or_default())]
    CopyRejected(Vec<CopyIssue>),
    /// A template failed to compile or render: a bug in this module.
    #[error("template: {0}")]
    Template(String),
}

impl BuildError {
    /// Always `true`: the generator is pure, so a retry cannot help.
    pub fn is_permanent(&self) -> bool {
        true
    }
}

/// Everything one generation produced.
#[derive(Debug, Clone)]
pub struct Generated {
    /// Design decisions.
    pub dna: CreativeDna,
    /// Texts.
    pub copy: Copy,
    /// The page.
    pub site: RenderedSite,
    /// Static checks of the page.
    pub gate: GateReport,
}

/// The whole deterministic chain: DNA, copy, render, gate.
///
/// `copy` replaces the built-in copywriter's output when given (an LLM's,
/// say); it is checked with [`validate_copy`] first and refused with
/// [`BuildError::CopyRejected`].
pub fn generate(
    input: &SiteInput,
    config: &GeneratorConfig,
    site_url: &str,
    claim_url: &str,
    indexable: bool,
    copy: Option<Copy>,
) -> Result<Generated, BuildError> {
    let dna = creative_dna(input, config);
    let copy = match copy {
        Some(c) => {
            validate_copy(&c).map_err(BuildError::CopyRejected)?;
            c
        }
        None => write_copy(input, &dna)?,
    };
    let options = RenderOptions::new(config, &dna, site_url, claim_url, indexable);
    let site = render_site(input, &dna, &copy, &options)?;
    let gate = check_site(&site);
    Ok(Generated {
        dna,
        copy,
        site,
        gate,
    })
}
