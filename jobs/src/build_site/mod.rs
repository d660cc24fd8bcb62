//! `build_site`, the pure core: one business record in, one self-contained,
//! themed, responsive preview site out.
//!
//! - **Takes**: a [`SiteInput`] (the prospect as discover stored it: name,
//!   category, address, phone, hours lines, rating, reviews, photos, geo,
//!   and for a rebuild the old site's text), a [`GeneratorConfig`] and
//!   [`RenderOptions`] (the URL it will be served at, the claim link, whether
//!   it may be indexed).
//! - **Returns**: a [`CreativeDna`] (every design decision, stored as JSON in
//!   `prospects.creative_dna`), a [`Copy`] (every text, as phrases with
//!   fact slots), a [`RenderedSite`] (HTML with its CSS inlined, the CSS
//!   apart, the template version and a SHA-256 content hash) and a
//!   [`GateReport`] (the static quality checks).
//! - **Guarantees**:
//!   - *Deterministic*: every choice comes from a seed hashed from the
//!     public id and the template version ([`Seed`]); the same input and
//!     template version give the same bytes. No clock, no thread RNG, no
//!     network, no hash-map iteration order in the output.
//!   - *Safe with hostile data*: every value is escaped by minijinja's HTML
//!     auto-escaping (JSON-LD by its `tojson`, which escapes `<`, `>`, `&`,
//!     `'`); long values are cut at a grapheme boundary with an ellipsis;
//!     only `tel:`, `mailto:`, `https:` and in-page links are emitted.
//!   - *Honest*: copy states only facts the record has (facts enter through
//!     slots, never through phrases); reviews are quoted verbatim, never
//!     rewritten; JSON-LD carries no `aggregateRating`/`review`.
//!   - *Accessible and fast by construction*: palette contrast is repaired to
//!     WCAG targets and stored; one h1, landmarks, skip link, visible focus,
//!     44 px targets, reduced motion; no JS, no external CSS/fonts/CDNs.
//!   - *Fails only when it must*: a record with no usable name gives
//!     [`BuildError::MissingName`]; missing optional data never fails — each
//!     section has a designed fallback or is left out.
//! - **Not here** (the integrator's): reading `prospects`, writing
//!   `generated_sites`, serving pages (add `X-Robots-Tag: noindex` to
//!   previews), Lighthouse (the audit stage) and screenshots.
//!
//! [`generate`] runs the whole chain; [`bench_generate`] measures it.

mod bench;
pub mod category;
pub mod config;
pub mod copy;
pub mod dna;
pub mod gate;
pub mod hours;
pub mod input;
pub mod language;
pub mod palette;
pub mod render;
pub mod reviews;
pub mod schema_org;
pub mod text;

pub use bench::{BenchFigures, bench_generate};
pub use config::{ClaimText, GeneratorConfig, TEMPLATE_VERSION};
pub use copy::{Copy, CopyIssue, CopyProblem, Facts, FaqItem, PrimaryAction, validate_copy, write_copy};
pub use dna::{Archetype, CreativeDna, Persona, Section, Seed, Theme, creative_dna};
pub use gate::{GateCheck, GateReport, check_site};
pub use input::{AddressInput, Business, ExistingContent, PhotoInput, ReviewInput, SiteInput, Variant};
pub use language::Language;
pub use palette::{ContrastCheck, Palette, Rgb, contrast_ratio};
pub use render::{RenderOptions, RenderedSite, render_site};

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

#[cfg(test)]
mod tests;
