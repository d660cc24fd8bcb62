//! `prospector outreach`

use std::process::ExitCode;

use prospector_jobs::send_email::campaign::{self, CampaignSpec, LeadFilter, StepSpec};

use crate::{
    application::Application,
    cli::{OutreachCommand, OutreachStartArgs},
    config::Settings,
};

/// Run an outreach subcommand.
pub async fn run(settings: Settings, command: OutreachCommand) -> anyhow::Result<ExitCode> {
    match command {
        OutreachCommand::Start(args) => start(settings, args).await,
    }
}

async fn start(settings: Settings, args: OutreachStartArgs) -> anyhow::Result<ExitCode> {
    let app = Application::connect(settings).await?;
    let mut steps = vec![StepSpec {
        template: args.template.clone(),
        after_business_days: 0,
    }];
    steps.extend(args.follow_ups.iter().map(|(template, days)| StepSpec {
        template: template.clone(),
        after_business_days: *days,
    }));
    let spec = CampaignSpec {
        name: args.name.clone(),
        steps,
        filter: LeadFilter {
            tier: args.tier.clone(),
            min_score: args.min_score,
            tag: args.tag.clone(),
            city: args.city.clone(),
            has_site: args.has_site,
            prospects: (!args.prospects.is_empty()).then(|| args.prospects.clone()),
            limit: args.limit,
        },
    };
    let started = campaign::start(&app.pool, &app.enqueuer, &spec).await?;
    println!(
        "campaign {} (`{}`): {} leads picked, {} first e-mails enqueued on send_email (the others were queued before)",
        started.campaign_id, spec.name, started.leads, started.enqueued
    );
    Ok(ExitCode::SUCCESS)
}
