//! `prospector scan`

use std::process::ExitCode;

use anyhow::bail;
use prospector_jobs::scan_jobs::BatchKind;

use crate::{
    application::Application,
    batches::{self, ProspectFilter},
    cli::ScanArgs,
    import::{self, ImportRequest, RowDefaults},
};

pub async fn run(settings: crate::config::Settings, args: ScanArgs) -> anyhow::Result<ExitCode> {
    if args.file.is_none() && args.tag.is_none() && args.status.is_none() && args.stale.is_none() {
        bail!("say which prospects to scan: --file, --tag, --status and/or --stale");
    }
    let app = Application::connect(settings).await?;
    let mut filter = ProspectFilter {
        tag: args.tag.clone(),
        status: args.status,
        stale_after_seconds: args.stale.map(|d| d.as_secs_f64()),
        limit: args.limit,
        ..ProspectFilter::default()
    };
    let mut description = Vec::new();
    if let Some(file) = &args.file {
        let request = ImportRequest {
            path: file.clone(),
            format: None,
            defaults: RowDefaults {
                channel: None,
                source: "scan".into(),
                tags: Vec::new(),
                country: app.settings.import.default_country,
            },
            chunk_size: app.settings.import.chunk_size,
        };
        let report = import::import_file(&app.pool, &request, &import::Silent).await?;
        for rejected in &report.rejected {
            eprintln!("rejected {rejected}");
        }
        println!(
            "imported {} ({} new, {} updated, {} rejected) as batch {}",
            file.display(),
            report.inserted,
            report.updated,
            report.rejected.len(),
            report.scan_job_id
        );
        filter.ids = Some(import::imported_prospects(&app.pool, report.scan_job_id).await?);
        description.push(format!("file {}", file.display()));
    }
    if let Some(tag) = &args.tag {
        description.push(format!("tag {tag}"));
    }
    if let Some(status) = &args.status {
        description.push(format!("status {status}"));
    }
    if let Some(stale) = args.stale {
        description.push(format!("not scanned for {}", humantime::format_duration(stale)));
    }
    let kind = if args.stale.is_some() {
        BatchKind::Rescan
    } else {
        BatchKind::Scan
    };
    let started = batches::start_batch(
        &app.pool,
        &app.enqueuer,
        kind,
        &filter,
        &args.stages,
        &format!("scan of {}", description.join(", ")),
    )
    .await?;
    let stages: Vec<&str> = started.stages.iter().map(|s| s.as_str()).collect();
    println!(
        "batch {}: {} prospects → {} (follow with `prospector status`)",
        started.scan_job_id,
        started.prospects,
        stages.join(" → ")
    );
    Ok(ExitCode::SUCCESS)
}
