//! `prospector build`

use std::process::ExitCode;

use anyhow::bail;

use crate::{
    application::Application,
    batches::{self, ProspectFilter},
    cli::BuildArgs,
    config::Settings,
};

/// Start a build batch over the prospects the arguments pick.
pub async fn run(settings: Settings, args: BuildArgs) -> anyhow::Result<ExitCode> {
    if args.prospects.is_empty() && args.tag.is_none() && !args.awaiting {
        bail!("say which prospects to build sites for: --prospect ID, --tag T and/or --awaiting");
    }
    let app = Application::connect(settings).await?;
    let filter = ProspectFilter {
        ids: (!args.prospects.is_empty()).then(|| args.prospects.clone()),
        tag: args.tag.clone(),
        awaiting_build: args.awaiting,
        limit: args.limit,
        ..ProspectFilter::default()
    };
    let mut description = Vec::new();
    if !args.prospects.is_empty() {
        description.push(format!("{} prospect(s)", args.prospects.len()));
    }
    if let Some(tag) = &args.tag {
        description.push(format!("tag {tag}"));
    }
    if args.awaiting {
        description.push("the leads waiting for a site".to_owned());
    }
    let started = batches::start_build_batch(
        &app.pool,
        &app.enqueuer,
        &filter,
        args.variant,
        &format!("sites for {}", description.join(", ")),
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
