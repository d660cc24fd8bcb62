//! The quality gate of a generated site version: Lighthouse on the
//! customer's rendering of it (indexable, no claim bar), served on loopback,
//! judged against `[build_site.gate]`. The scores go to the version and its
//! site; a version that passes goes on to its screenshots, one that does not
//! stops its chain with the shortfalls as the reason.

use uuid::Uuid;

use super::{AuditDeps, AuditError, AuditPage, AuditProvider, queries};
use crate::{build_site::GateScores, local_page::LocalPage, pipeline, runtime::JobContext};

pub(super) async fn run(
    job: &AuditPage,
    version: Uuid,
    ctx: &JobContext,
    deps: &AuditDeps,
) -> Result<(), AuditError> {
    if !matches!(deps.provider, AuditProvider::Lighthouse(_)) {
        return Err(AuditError::GateNeedsLighthouse);
    }
    let html = queries::version_live_html(&ctx.pool, version)
        .await?
        .ok_or(AuditError::UnknownVersion(version))?;
    // Our own page on loopback: not a prospect's site, so not for the
    // guard; the browser proxy admits exactly its address for the run.
    let page = LocalPage::serve(html).await.map_err(AuditError::Serve)?;
    let _admitted = deps
        .browser_proxy()
        .map(|proxy| proxy.admit_local(page.address()));
    let url = page.url();
    let audit = deps
        .provider
        .audit(&ctx.pool, &url, deps.form_factor, deps.timeout);
    let audited = tokio::select! {
        biased;
        () = ctx.abort.cancelled() => return Err(AuditError::Interrupted),
        audited = audit => audited?,
    };
    drop(page);
    let measurements = match &audited.report.outcome {
        Ok(measurements) => measurements,
        Err(error) => {
            return Err(AuditError::Page {
                url: format!("site version {version}"),
                error: error.clone(),
            });
        }
    };
    let s = &measurements.scores;
    let scores = GateScores {
        performance: s.performance.map(|x| x.get()),
        accessibility: s.accessibility.map(|x| x.get()),
        best_practices: s.best_practices.map(|x| x.get()),
        seo: s.seo.map(|x| x.get()),
    };
    let verdict = deps.gate.judge(&scores);

    let mut tx = ctx.pool.begin().await?;
    queries::store_gate(
        &mut tx,
        version,
        &scores,
        verdict.as_ref().err().map(String::as_str),
    )
    .await?;
    match &verdict {
        Ok(()) => {
            pipeline::advance(&mut tx, &ctx.enqueuer, job, &[]).await?;
        }
        Err(reason) => pipeline::stop_chain(&mut tx, job, reason).await?,
    }
    tx.commit().await?;
    tracing::info!(
        site.version = %version,
        performance = ?scores.performance,
        accessibility = ?scores.accessibility,
        best_practices = ?scores.best_practices,
        seo = ?scores.seo,
        passed = verdict.is_ok(),
        "quality gate measured"
    );
    Ok(())
}
