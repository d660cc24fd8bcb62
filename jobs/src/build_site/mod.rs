//! `build_site`: a preview website for a business, good enough to sell.
//!
//! - **Input**: [`BuildSite`] — a prospect, the variant (`new` for a
//!   business with no website, `rebuild` for a redesign of an outdated one;
//!   by default from whether it has a working website), an optional change
//!   request (a support ticket), its batch item and the stages after it
//!   (normally the quality gate's `audit`, then `screenshot`).
//! - **Reads**: `prospects` (listing facts, reviews, hours), for a rebuild
//!   the business's current home page (the tech scan's guarded fetcher);
//!   for a change request its `support_tickets` row, and for every build
//!   the edits of the site's approved versions ([`changes`]), applied again
//!   so a regeneration keeps what customers asked for.
//! - **Writes**, in one transaction: a new `site_versions` row (the preview
//!   page — noindex, with the claim bar — and the customer's page —
//!   indexable, at its live address — with the creative DNA, copy, static
//!   checks and their hashes), `generated_sites` (one per business and
//!   variant: subdomain, unguessable preview token, current version mirrored
//!   for WebMagic's queries; status `draft` until the gate passes),
//!   `prospects.creative_dna`, `brand_archetype`, `website_status`,
//!   `routed_at`; for a change request, the edits the version applied
//!   (`site_versions.change_edits`) and, on the ticket, what its text was
//!   read as, what was applied and what needs a human.
//! - **Next stage**: [`pipeline::advance_on`] with the new version, so the
//!   `audit` stage runs Lighthouse on it (the quality gate) and then
//!   `screenshot` captures it. A version whose static checks fail stops the
//!   chain with the reason.
//! - **Idempotency**: the generator is deterministic (same facts and template
//!   version, same bytes): a re-run whose page equals the current version's
//!   stores nothing new and enqueues the same next job (its key names the
//!   version). Builds of one prospect are serialised by a row lock.
//! - **Errors**: a missing prospect or a business with no name is permanent;
//!   database errors follow [`is_transient_db_error`].
//! - **External calls**: only for a rebuild, one guarded fetch of the
//!   current home page (an unreadable page is not an error); for a change
//!   request when `[build_site.llm]` is on, one LLM call to read it (any
//!   failure falls back to the rules, see [`crate::support::interpret`]).
//!
//! The generator itself — creative DNA, palette repair, copy, themes,
//! JSON-LD, static checks — is pure and lives in the submodules below;
//! [`generate`] runs it end to end (`prospector-bench build` measures it).

pub mod category;
pub mod changes;
pub mod config;
pub mod copy;
pub mod dna;
pub mod gate;
mod generator;
pub mod hours;
pub mod input;
pub mod language;
pub mod palette;
mod queries;
mod record;
pub mod render;
pub mod reviews;
pub mod schema_org;
mod settings;
pub mod text;

pub use config::{ClaimText, GeneratorConfig, TEMPLATE_VERSION};
pub use copy::{Copy, CopyIssue, CopyProblem, Facts, FaqItem, PrimaryAction, validate_copy, write_copy};
pub use dna::{Archetype, CreativeDna, Persona, Section, Seed, Theme, creative_dna};
pub use gate::{GateCheck, GateReport, check_site};
pub use generator::{BuildError, Generated, generate};
pub use input::{AddressInput, Business, ExistingContent, PhotoInput, ReviewInput, SiteInput, Variant};
pub use language::Language;
pub use palette::{ContrastCheck, Palette, Rgb, contrast_ratio};
pub use queries::awaiting_build;
pub use render::{RenderOptions, RenderedSite, render_site};
pub use settings::{BuildSiteSettings, GateScores, GateThresholds};

use base64::Engine as _;
use rand::Rng as _;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    llm::LlmClient,
    pipeline::{self, AdvanceError, ChainJob, ProspectLink},
    public_urls::PublicUrls,
    queue::Job,
    runtime::{Handler, JobContext, StageError, is_transient_db_error},
    scan_jobs::BatchItem,
    stage::{Branch, Setup, SetupError, Stage, StageJob},
    support::{
        change_request::Interpretation,
        interpret::{self, InterpretedBy},
    },
    tech_scan::{ScanTech, fetch::Fetcher},
};

/// Build (or rebuild) a business's preview site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildSite {
    /// The business (`prospects.id`).
    pub prospect_id: i64,
    /// New site or redesign; by default from whether the business has a
    /// working website.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<Variant>,
    /// The support ticket whose change this build applies: its version waits
    /// for an operator's approval before it replaces the live one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_request: Option<Uuid>,
    /// The batch item it counts toward.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<BatchItem>,
    /// Stages to run after this one (the gate's audit, then screenshots).
    #[serde(default)]
    pub then: Vec<Stage>,
}

impl BuildSite {
    /// A build of `prospect_id` followed by [`BuildSite::chain`].
    pub fn new(prospect_id: i64, batch: Option<BatchItem>) -> Self {
        Self {
            prospect_id,
            variant: None,
            change_request: None,
            batch,
            then: Self::chain(),
        }
    }

    /// What follows a build: the quality gate (Lighthouse through the audit
    /// stage), then the screenshots outreach shows.
    pub fn chain() -> Vec<Stage> {
        vec![Stage::Audit, Stage::Screenshot]
    }
}

impl Job for BuildSite {
    const QUEUE: &'static str = Stage::BuildSite.name();

    fn idempotency_key(&self) -> Option<String> {
        match (&self.change_request, &self.batch) {
            (Some(ticket), _) => Some(format!("build_site:{}:ticket:{ticket}", self.prospect_id)),
            (None, Some(b)) => Some(format!("build_site:{}:{}", self.prospect_id, b.scan_job_id)),
            (None, None) => None,
        }
    }

    fn batch_item(&self) -> Option<&BatchItem> {
        self.batch.as_ref()
    }
}

impl ChainJob for BuildSite {
    const CHAIN_STAGE: Stage = Stage::BuildSite;

    fn prospect_id(&self) -> i64 {
        self.prospect_id
    }

    fn batch(&self) -> Option<&BatchItem> {
        self.batch.as_ref()
    }

    fn then(&self) -> &[Stage] {
        &self.then
    }

    fn site_version(&self) -> Option<Uuid> {
        None
    }
}

/// What the handler needs besides the database.
#[derive(Debug, Clone)]
pub struct BuildSiteDeps {
    /// The stage's settings.
    pub settings: BuildSiteSettings,
    /// Where previews, claim pages and live sites are served.
    pub urls: PublicUrls,
    /// The guarded fetcher (a rebuild reads the current home page).
    pub fetcher: Fetcher,
    /// HTML nested deeper than this is cut before parsing.
    pub max_html_depth: usize,
    /// The LLM that reads change requests (`[build_site.llm]`), when on.
    pub llm: Option<LlmClient>,
}

impl StageJob for BuildSite {
    const STAGE: Stage = Stage::BuildSite;
    const BRANCH: Branch = Branch::Preview;
    type Settings = BuildSiteSettings;

    fn build_deps(settings: &BuildSiteSettings, setup: &Setup<'_>) -> Result<BuildSiteDeps, SetupError> {
        let tech = setup.settings::<ScanTech>();
        Ok(BuildSiteDeps {
            settings: settings.clone(),
            urls: setup.platform.web.clone(),
            fetcher: crate::tech_scan::build_fetcher(tech)?,
            max_html_depth: tech.max_html_depth,
            llm: match (settings.llm.enabled, &settings.llm_key) {
                (true, Some(key)) => Some(LlmClient::new(&settings.llm, key.clone())?),
                _ => None,
            },
        })
    }

    fn for_prospect(link: ProspectLink) -> Option<Self> {
        Some(Self {
            prospect_id: link.prospect_id,
            variant: None,
            change_request: None,
            batch: link.batch,
            then: link.then,
        })
    }
}

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildSiteError {
    /// The prospect does not exist.
    #[error("prospect {0} does not exist")]
    UnknownProspect(i64),
    /// The change request does not exist (any more).
    #[error("support ticket {0} does not exist")]
    UnknownTicket(Uuid),
    /// The generator refused the record.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// The design or copy could not be stored as JSON.
    #[error("could not encode the version: {0}")]
    Encode(#[from] serde_json::Error),
    /// Reading or writing failed.
    #[error("database error while building a site")]
    Database(#[from] sqlx::Error),
    /// Enqueueing the next stage failed.
    #[error(transparent)]
    Advance(#[from] AdvanceError),
}

impl StageError for BuildSiteError {
    fn is_permanent(&self) -> bool {
        match self {
            BuildSiteError::UnknownProspect(_)
            | BuildSiteError::UnknownTicket(_)
            | BuildSiteError::Build(_)
            | BuildSiteError::Encode(_) => true,
            BuildSiteError::Database(e) => !is_transient_db_error(e),
            BuildSiteError::Advance(e) => e.is_permanent(),
        }
    }
}

/// A preview's capability: 128 random bits, base64url (22 characters).
pub fn new_preview_token() -> String {
    let bytes: [u8; 16] = rand::rng().random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The live host's label for a prospect's slug: lower-case letters, digits
/// and dashes, at most 63 characters (a DNS label), keeping the slug's
/// unique tail; a redesign gets its own.
pub fn subdomain_for(slug: &str, variant: Variant) -> String {
    let mut clean = String::with_capacity(slug.len());
    for c in slug.to_ascii_lowercase().chars() {
        let c = if c.is_ascii_alphanumeric() { c } else { '-' };
        // One dash at a time: `ab--cd` is reserved in DNS labels (IDNA).
        if !(c == '-' && clean.ends_with('-')) {
            clean.push(c);
        }
    }
    let clean = clean.trim_matches('-').to_owned();
    let (base, tail) = match clean.rsplit_once('-') {
        Some((base, tail)) if !tail.is_empty() => (base.to_owned(), tail.to_owned()),
        _ => (String::from("site"), clean.clone()),
    };
    let suffix = match variant {
        Variant::New => tail,
        Variant::Rebuild => format!("{tail}-r"),
    };
    let room = 63usize.saturating_sub(suffix.len() + 1);
    let base: String = base.chars().take(room).collect();
    let base = base.trim_matches('-');
    if base.is_empty() {
        suffix
    } else {
        format!("{base}-{suffix}")
    }
}

impl Handler for BuildSite {
    type Deps = BuildSiteDeps;
    type Error = BuildSiteError;

    #[tracing::instrument(skip_all, fields(prospect.id = self.prospect_id))]
    async fn handle(self, ctx: &JobContext, deps: &BuildSiteDeps) -> Result<(), BuildSiteError> {
        // Reading a change request may ask the LLM: before any lock.
        let ticket = match self.change_request {
            Some(id) => Some(read_ticket(ctx, deps, id).await?),
            None => None,
        };
        let mut tx = ctx.pool.begin().await?;
        let row = queries::lock_business(&mut tx, self.prospect_id)
            .await?
            .ok_or(BuildSiteError::UnknownProspect(self.prospect_id))?;
        if let Some(ticket) = self.change_request
            && let Some(version) = queries::ticket_version(&mut tx, ticket).await?
        {
            // A re-run of a ticket's build whose version was stored (and its
            // chain enqueued) by an earlier run: nothing new.
            tx.commit().await?;
            tracing::info!(ticket.id = %ticket, site.version = version, "the ticket's version exists already");
            return Ok(());
        }
        let variant = self.variant.unwrap_or(if row.has_website == Some(true) {
            Variant::Rebuild
        } else {
            Variant::New
        });
        let variant_name = match variant {
            Variant::New => "new",
            Variant::Rebuild => "rebuild",
        };
        let existing = match (variant, row.website_url.as_deref()) {
            (Variant::Rebuild, Some(website)) => {
                record::existing_content(&deps.fetcher, website, deps.max_html_depth).await
            }
            _ => None,
        };
        let mut input = record::site_input(&row, variant, existing);
        let site = queries::ensure_site(
            &mut tx,
            row.public_id,
            variant_name,
            &subdomain_for(&row.slug, variant),
            &new_preview_token(),
        )
        .await?;

        let config = &deps.settings.generator;
        let preview_url = deps.urls.preview(&site.preview_token);
        let claim_url = deps.urls.claim(&site.preview_token);
        // The edits of the site's approved change requests, then this
        // ticket's: facts before the DNA and copy are made, words and
        // sections after.
        let kept = approved_edits(&mut tx, site.id).await?;
        let mut edits = kept.clone();
        if let Some(ticket) = &ticket {
            edits.extend(ticket.interpretation.edits.iter().cloned());
        }
        let facts = changes::apply_to_input(&mut input, &edits);
        let mut dna = creative_dna(&input, config);
        let mut copy = write_copy(&input, &dna)?;
        let page = changes::apply_to_page(&mut copy, &mut dna, &edits);
        let split = kept.len();
        let lost = changes::Applied::from_outcomes(&kept, &facts[..split], &page[..split]).not_applied;
        if !lost.is_empty() {
            tracing::warn!(
                site.id = %site.id,
                edits = lost.len(),
                "approved edits no longer apply to the site"
            );
        }
        let asked = changes::Applied::from_outcomes(&edits[split..], &facts[split..], &page[split..]);
        let preview = render_site(
            &input,
            &dna,
            &copy,
            &RenderOptions::new(config, &dna, &preview_url, &claim_url, false),
        )?;
        let live = render_site(
            &input,
            &dna,
            &copy,
            &RenderOptions::new(config, &dna, deps.urls.live(&site.subdomain), &claim_url, true),
        )?;
        let checks = check_site(&live);
        let preview_checks = check_site(&preview);

        let dna_json = serde_json::to_value(&dna)?;
        let archetype = serde_json::to_value(dna.archetype)?;
        let archetype = archetype.as_str().unwrap_or("everyman").to_owned();
        queries::record_build(&mut *tx, row.id, &dna_json, &archetype, variant == Variant::New).await?;

        // A re-run (a retry after a crash, or a rebuild with nothing new)
        // that would store the same page reuses the current version.
        let same = site.current_hash.as_deref() == Some(preview.content_hash.as_str())
            && self.change_request.is_none();
        let (version_id, number, static_failure) = if let (true, Some(id), Some(number)) =
            (same, site.current_version_id, site.current_number)
        {
            let failure = (site.current_gate.as_deref() == Some("failed") && !checks.passed)
                .then(|| static_reason(&checks, &preview_checks));
            (id, number, failure)
        } else {
            let failure =
                (!checks.passed || !preview_checks.passed).then(|| static_reason(&checks, &preview_checks));
            let static_json =
                serde_json::json!({ "live": checks_json(&checks), "preview": checks_json(&preview_checks) });
            let copy_json = serde_json::to_value(&copy)?;
            let (id, number) = queries::insert_version(
                &mut tx,
                &queries::NewVersion {
                    site_id: site.id,
                    html: &preview.html,
                    css: &preview.css,
                    content_hash: &preview.content_hash,
                    live_html: &live.html,
                    live_content_hash: &live.content_hash,
                    template_version: &preview.template_version,
                    creative_dna: &dna_json,
                    copy: &copy_json,
                    copy_source: "deterministic",
                    copy_fallback_reason: None,
                    prompt_setting_id: None,
                    static_checks: &static_json,
                    gate_status: if failure.is_some() { "failed" } else { "pending" },
                    gate_reason: failure.as_deref(),
                    change_request_id: self.change_request,
                    approval_status: if self.change_request.is_some() {
                        "pending"
                    } else {
                        "not_required"
                    },
                },
            )
            .await?;
            if self.change_request.is_none() {
                queries::make_current(&mut tx, site.id, id, number).await?;
            }
            if let Some(ticket) = &ticket {
                record_ticket(&mut tx, ticket, id, &asked).await?;
            }
            (id, number, failure)
        };
        match &static_failure {
            Some(reason) => pipeline::stop_chain(&mut tx, &self, reason).await?,
            None => {
                pipeline::advance_on(&mut tx, &ctx.enqueuer, &self, &[], Some(version_id)).await?;
            }
        }
        tx.commit().await?;
        tracing::info!(
            site.id = %site.id,
            site.version = number,
            variant = variant_name,
            theme = ?dna.theme,
            html_bytes = preview.html.len(),
            static_checks_passed = static_failure.is_none(),
            "site version built"
        );
        Ok(())
    }
}

/// A change request, read (now or by an earlier attempt of its build).
struct ReadTicket {
    id: Uuid,
    interpretation: Interpretation,
    by: InterpretedBy,
}

/// The ticket's request as edits: what an earlier attempt stored, else
/// read now (by the LLM when configured; its call is recorded in
/// `api_usage` whatever became of it).
async fn read_ticket(ctx: &JobContext, deps: &BuildSiteDeps, id: Uuid) -> Result<ReadTicket, BuildSiteError> {
    let request = queries::ticket_request(&ctx.pool, id)
        .await?
        .ok_or(BuildSiteError::UnknownTicket(id))?;
    if let Some(stored) = request.interpretation
        && let Ok(interpretation) = serde_json::from_value::<Interpretation>(stored)
    {
        let by = match request.interpreted_by.as_deref() {
            Some("llm") => InterpretedBy::Llm,
            _ => InterpretedBy::Rules,
        };
        return Ok(ReadTicket {
            id,
            interpretation,
            by,
        });
    }
    // The LLM only while today's spend leaves room for this call's worst case.
    let llm = match &deps.llm {
        Some(client) => {
            let spent = queries::llm_spent_today(&ctx.pool, client.provider().as_str()).await?;
            let chars = interpret::prompt(&request.text).chars();
            if deps.settings.llm.budget_allows(spent, chars) {
                Some(client)
            } else {
                tracing::warn!(
                    spent_cents = spent,
                    "the LLM's daily budget is spent; the rules read the request"
                );
                None
            }
        }
        None => None,
    };
    let read = interpret::interpret(&request.text, llm).await;
    // Kept at once: a build that fails later reuses it rather than asking
    // (and paying) again.
    queries::store_interpretation(
        &ctx.pool,
        id,
        &serde_json::to_value(&read.interpretation)?,
        read.by.as_str(),
    )
    .await?;
    if let Some(usage) = &read.usage {
        queries::record_llm_usage(
            &ctx.pool,
            usage.provider.as_str(),
            interpret::USAGE_OPERATION,
            usage.cost_cents,
            read.by == InterpretedBy::Llm,
        )
        .await?;
    }
    tracing::info!(
        ticket.id = %id,
        interpreted_by = read.by.as_str(),
        edits = read.interpretation.edits.len(),
        not_understood = read.interpretation.not_understood.len(),
        llm_fallback = read.fallback_reason.as_deref(),
        "change request read"
    );
    Ok(ReadTicket {
        id,
        interpretation: read.interpretation,
        by: read.by,
    })
}

/// The edits of the site's approved versions, in order; a stored list that
/// no longer decodes is skipped (and logged), never fatal.
async fn approved_edits(
    conn: &mut sqlx::PgConnection,
    site_id: Uuid,
) -> Result<Vec<changes::Edit>, BuildSiteError> {
    let mut out = Vec::new();
    for value in queries::approved_edits(conn, site_id).await? {
        match serde_json::from_value::<Vec<changes::Edit>>(value) {
            Ok(edits) => out.extend(edits),
            Err(e) => tracing::warn!(site.id = %site_id, error = %e, "stored edits do not decode; skipped"),
        }
    }
    Ok(out)
}

/// What the version applied, on the version and on its ticket; what it
/// could not, with what was not understood, for a human.
async fn record_ticket(
    conn: &mut sqlx::PgConnection,
    ticket: &ReadTicket,
    version_id: Uuid,
    asked: &changes::Applied,
) -> Result<(), BuildSiteError> {
    let applied = serde_json::to_value(&asked.applied)?;
    let needs_human: Vec<serde_json::Value> =
        ticket
            .interpretation
            .not_understood
            .iter()
            .map(|n| serde_json::json!({ "text": n.text, "reason": n.reason }))
            .chain(asked.not_applied.iter().map(
                |n| serde_json::json!({ "text": n.edit.describe(), "reason": n.reason, "edit": n.edit }),
            ))
            .collect();
    queries::set_version_edits(conn, version_id, &applied).await?;
    queries::record_ticket_outcome(
        conn,
        &queries::TicketOutcome {
            ticket: ticket.id,
            interpretation: &serde_json::to_value(&ticket.interpretation)?,
            interpreted_by: ticket.by.as_str(),
            applied: &applied,
            needs_human: &serde_json::Value::Array(needs_human),
        },
    )
    .await?;
    Ok(())
}

fn checks_json(report: &GateReport) -> serde_json::Value {
    serde_json::json!({
        "passed": report.passed,
        "html_bytes": report.html_bytes,
        "checks": report.checks.iter().map(|c| serde_json::json!({
            "name": c.name, "passed": c.passed, "detail": c.detail,
        })).collect::<Vec<_>>(),
    })
}

fn static_reason(live: &GateReport, preview: &GateReport) -> String {
    let failures: Vec<String> = live
        .failures()
        .map(|c| format!("{}: {}", c.name, c.detail))
        .chain(
            preview
                .failures()
                .map(|c| format!("preview {}: {}", c.name, c.detail)),
        )
        .collect();
    format!("the page failed its static checks: {}", failures.join("; "))
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod stage_tests {
    use super::*;

    #[test]
    fn subdomains_are_dns_labels_that_keep_the_unique_tail() {
        assert_eq!(
            subdomain_for("boulangerie-muller-1a2b3c4d5e", Variant::New),
            "boulangerie-muller-1a2b3c4d5e"
        );
        assert_eq!(
            subdomain_for("boulangerie-muller-1a2b3c4d5e", Variant::Rebuild),
            "boulangerie-muller-1a2b3c4d5e-r"
        );
        let long = format!("{}-0123456789", "a".repeat(300));
        let sub = subdomain_for(&long, Variant::Rebuild);
        assert!(sub.len() <= 63, "{sub}");
        assert!(sub.ends_with("-0123456789-r"));
        assert_eq!(
            subdomain_for("Café_Ü--0123456789", Variant::New),
            "caf-0123456789"
        );
    }

    #[test]
    fn preview_tokens_carry_128_bits() {
        let a = new_preview_token();
        assert_eq!(a.len(), 22);
        assert_ne!(a, new_preview_token());
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
    }

    #[test]
    fn builds_of_one_ticket_or_batch_are_enqueued_once() {
        let mut job = BuildSite::new(7, None);
        assert_eq!(job.idempotency_key(), None);
        job.change_request = Some(Uuid::nil());
        assert_eq!(
            job.idempotency_key().as_deref(),
            Some("build_site:7:ticket:00000000-0000-0000-0000-000000000000")
        );
    }
}
