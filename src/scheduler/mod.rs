//! The scheduler: enqueues each schedule slot exactly once.
//!
//! Every scheduler process computes the same slots from the same schedules
//! (a pure function of the cron expression, its time zone and the clock).
//! To fire a slot, a process inserts `(schedule, slot)` into
//! `schedule_ticks` and, only if its insert won, enqueues the job — both in
//! one transaction. Any number of schedulers can run; each slot fires once.
//! The job also carries `schedule:{name}:{slot}` as its idempotency key.
//!
//! At start-up, a slot missed less than `scheduler.misfire_grace` ago still
//! fires (once, by the same claim). Older missed slots are skipped.

mod queries;

pub use queries::prune_schedule_ticks;

use std::time::Duration;

use chrono::{DateTime, Days, Timelike, Utc};
use prospector_jobs::{
    EnqueueOptions, Enqueuer, SnapshotAnalytics,
    billing::BillingTask,
    discover::{AutopilotConfig, autopilot},
    poll_inbox::PollInbox,
    scan_jobs::BatchKind,
};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::{
    config::{DayRef, ScheduleSpec, ScheduledJob},
    metrics as names,
};

/// The first slot strictly after `after`.
pub fn next_slot(spec: &ScheduleSpec, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    spec.cron
        .after(&after.with_timezone(&spec.tz))
        .next()
        .map(|t| t.with_timezone(&Utc))
}

/// The last slot at or before `at`.
pub fn previous_slot(spec: &ScheduleSpec, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    // Cron resolution is one second: a slot never has a fraction.
    let at = at.with_nanosecond(0).unwrap_or(at);
    let local = at.with_timezone(&spec.tz);
    if spec.cron.includes(local) {
        return Some(at);
    }
    spec.cron.after(&local).next_back().map(|t| t.with_timezone(&Utc))
}

/// What a slot enqueues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlotJob {
    /// A snapshot of this local day.
    SnapshotAnalytics(SnapshotAnalytics),
    /// An autopilot run (its jobs depend on the grid at that moment).
    DiscoverAutopilot(AutopilotConfig),
    /// A build batch over the leads waiting for their site at that moment.
    BuildAwaiting {
        /// At most this many.
        limit: i64,
    },
    /// A re-scan batch over the profiles stale at that moment.
    Rescan {
        /// Age from which a profile is stale.
        older_than: Duration,
        /// Stages of the batch.
        stages: Vec<prospector_jobs::Stage>,
        /// At most this many prospects.
        limit: Option<i64>,
    },
    /// One poll per mailbox with IMAP settings.
    PollInboxes(Vec<PollInbox>),
    /// One run of the billing reconciliation poller.
    ReconcileBilling,
}

/// The job for one slot of a schedule.
pub fn job_for_slot(spec: &ScheduleSpec, slot: DateTime<Utc>) -> SlotJob {
    match &spec.job {
        ScheduledJob::SnapshotAnalytics { day } => {
            let local_day = slot.with_timezone(&spec.tz).date_naive();
            let date = match day {
                DayRef::Current => local_day,
                DayRef::Previous => local_day.checked_sub_days(Days::new(1)).unwrap_or(local_day),
            };
            SlotJob::SnapshotAnalytics(SnapshotAnalytics { date })
        }
        ScheduledJob::DiscoverAutopilot(config) => SlotJob::DiscoverAutopilot(config.clone()),
        ScheduledJob::BuildAwaiting { limit } => SlotJob::BuildAwaiting { limit: *limit },
        ScheduledJob::Rescan {
            older_than,
            stages,
            limit,
        } => SlotJob::Rescan {
            older_than: *older_than,
            stages: stages.clone(),
            limit: *limit,
        },
        ScheduledJob::PollInboxes { mailboxes } => SlotJob::PollInboxes(
            mailboxes
                .iter()
                .map(|mailbox| PollInbox {
                    mailbox: mailbox.clone(),
                })
                .collect(),
        ),
        ScheduledJob::ReconcileBilling => SlotJob::ReconcileBilling,
    }
}

/// Whether this process fired a slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fired {
    /// This process claimed it and enqueued the job.
    Claimed,
    /// Another process had claimed it.
    AlreadyClaimed,
}

/// Why a slot could not be fired.
#[derive(Debug, thiserror::Error)]
pub enum FireError {
    /// The claim failed.
    #[error("could not claim the slot")]
    Database(#[from] sqlx::Error),
    /// The enqueue failed.
    #[error(transparent)]
    Enqueue(#[from] prospector_jobs::EnqueueError),
    /// The autopilot failed.
    #[error(transparent)]
    Autopilot(#[from] autopilot::AutopilotError),
    /// The re-scan batch could not start.
    #[error("the re-scan batch could not start")]
    Rescan(#[source] crate::batches::ScanError),
}

/// Runs schedules until stopped.
pub struct Scheduler {
    pool: PgPool,
    enqueuer: Enqueuer,
    schedules: Vec<ScheduleSpec>,
    misfire_grace: Duration,
    claimant: String,
}

impl Scheduler {
    /// A scheduler for these schedules; `claimant` names this process in
    /// `schedule_ticks.claimed_by`.
    pub fn new(
        pool: PgPool,
        enqueuer: Enqueuer,
        schedules: Vec<ScheduleSpec>,
        misfire_grace: Duration,
        claimant: String,
    ) -> Self {
        Self {
            pool,
            enqueuer,
            schedules,
            misfire_grace,
            claimant,
        }
    }

    /// Claim a slot and enqueue its job, in one transaction.
    pub async fn fire(&self, spec: &ScheduleSpec, slot: DateTime<Utc>) -> Result<Fired, FireError> {
        let mut tx = self.pool.begin().await?;
        if !queries::claim_slot(&mut *tx, &spec.name, slot, &self.claimant).await? {
            tx.rollback().await?;
            return Ok(Fired::AlreadyClaimed);
        }
        let options = EnqueueOptions {
            idempotency_key: Some(format!("schedule:{}:{}", spec.name, slot.to_rfc3339())),
            ..EnqueueOptions::default()
        };
        let job_id = match job_for_slot(spec, slot) {
            SlotJob::SnapshotAnalytics(job) => self
                .enqueuer
                .enqueue_with(&mut tx, &job, options)
                .await?
                .job_id()
                .map(str::to_owned),
            SlotJob::ReconcileBilling => self
                .enqueuer
                .enqueue_with(&mut tx, &BillingTask::Reconcile, options)
                .await?
                .job_id()
                .map(str::to_owned),
            SlotJob::Rescan {
                older_than,
                stages,
                limit,
            } => {
                let filter = crate::batches::stale_filter(older_than, limit);
                let description = format!(
                    "re-scan of profiles older than {} ({})",
                    humantime::format_duration(older_than),
                    spec.name
                );
                match crate::batches::start_batch_in(
                    &mut tx,
                    &self.enqueuer,
                    BatchKind::Rescan,
                    &filter,
                    &stages,
                    &description,
                )
                .await
                {
                    Ok(started) => {
                        tracing::info!(schedule = %spec.name, scan_job.id = started.scan_job_id, prospects = started.prospects, "re-scan batch started");
                        None
                    }
                    Err(crate::batches::ScanError::NothingToScan) => {
                        tracing::info!(schedule = %spec.name, "no stale profile to re-scan");
                        None
                    }
                    Err(e) => return Err(FireError::Rescan(e)),
                }
            }
            SlotJob::BuildAwaiting { limit } => {
                let filter = crate::batches::ProspectFilter {
                    awaiting_build: true,
                    limit: Some(limit),
                    ..crate::batches::ProspectFilter::default()
                };
                let description = format!("sites for the leads waiting for one ({})", spec.name);
                match crate::batches::start_build_batch_in(
                    &mut tx,
                    &self.enqueuer,
                    &filter,
                    None,
                    &description,
                )
                .await
                {
                    Ok(started) => {
                        tracing::info!(schedule = %spec.name, scan_job.id = started.scan_job_id, prospects = started.prospects, "build batch started");
                        None
                    }
                    Err(crate::batches::ScanError::NothingToScan) => None,
                    Err(e) => return Err(FireError::Rescan(e)),
                }
            }
            SlotJob::PollInboxes(polls) => {
                let mut first = None;
                for poll in &polls {
                    // One key per mailbox and slot: the slot's key alone
                    // would let only the first mailbox's job in.
                    let options = EnqueueOptions {
                        idempotency_key: Some(format!(
                            "schedule:{}:{}:{}",
                            spec.name,
                            slot.to_rfc3339(),
                            poll.mailbox.as_str().to_ascii_lowercase()
                        )),
                        ..EnqueueOptions::default()
                    };
                    let enqueued = self.enqueuer.enqueue_with(&mut tx, poll, options).await?;
                    if first.is_none() {
                        first = enqueued.job_id().map(str::to_owned);
                    }
                }
                first
            }
            SlotJob::DiscoverAutopilot(config) => {
                let run =
                    autopilot::run_autopilot(&mut tx, &self.enqueuer, &config, &self.claimant, slot).await?;
                tracing::info!(
                    schedule = %spec.name,
                    claimed = run.claimed.len(),
                    released = run.released,
                    orphaned = run.orphaned,
                    skipped = ?run.skipped,
                    scan_job.id = ?run.scan_job_id,
                    "discovery autopilot ran"
                );
                run.job_ids.first().cloned()
            }
        };
        if let Some(job_id) = job_id {
            queries::set_slot_job(&mut *tx, &spec.name, slot, &job_id).await?;
        }
        tx.commit().await?;
        Ok(Fired::Claimed)
    }

    /// Run until `stop` is cancelled. Database errors are logged and the
    /// slot is retried until it is older than the misfire grace.
    pub async fn run(self, stop: CancellationToken) {
        if self.schedules.is_empty() {
            tracing::info!("no schedules configured; the scheduler has nothing to do");
            stop.cancelled().await;
            return;
        }
        let now = Utc::now();
        let grace = chrono::Duration::from_std(self.misfire_grace).unwrap_or_default();
        // The slot each schedule waits for: a recently missed one first.
        let mut pending: Vec<Option<DateTime<Utc>>> = self
            .schedules
            .iter()
            .map(|spec| match previous_slot(spec, now) {
                Some(missed) if now - missed <= grace && !grace.is_zero() => Some(missed),
                _ => next_slot(spec, now),
            })
            .collect();
        for spec in &self.schedules {
            tracing::info!(schedule = %spec.name, cron = %spec.cron.source(), tz = %spec.tz, stage = %spec.job.stage(), "schedule loaded");
        }

        loop {
            let Some(soonest) = pending.iter().flatten().min().copied() else {
                tracing::warn!("no schedule has a future slot; the scheduler stops");
                return;
            };
            let wait = (soonest - Utc::now()).to_std().unwrap_or(Duration::ZERO);
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(wait) => {}
            }
            let now = Utc::now();
            for (spec, slot) in self.schedules.iter().zip(pending.iter_mut()) {
                let Some(due) = *slot else { continue };
                if due > now {
                    continue;
                }
                match self.fire(spec, due).await {
                    Ok(fired) => {
                        let outcome = match fired {
                            Fired::Claimed => "claimed",
                            Fired::AlreadyClaimed => "claimed_elsewhere",
                        };
                        metrics::counter!(names::SCHEDULE_SLOTS_TOTAL, "schedule" => spec.name.clone(), "outcome" => outcome)
                            .increment(1);
                        tracing::info!(schedule = %spec.name, slot = %due, outcome, "schedule slot");
                        *slot = next_slot(spec, due);
                    }
                    Err(e) if now - due > grace => {
                        metrics::counter!(names::SCHEDULE_SLOTS_TOTAL, "schedule" => spec.name.clone(), "outcome" => "missed")
                            .increment(1);
                        tracing::error!(schedule = %spec.name, slot = %due, error = %e, "schedule slot missed: the database was unreachable for too long");
                        *slot = next_slot(spec, now);
                    }
                    Err(e) => {
                        tracing::warn!(schedule = %spec.name, slot = %due, error = %e, "could not fire a schedule slot; retrying");
                        tokio::select! {
                            () = stop.cancelled() => return,
                            () = tokio::time::sleep(Duration::from_secs(1)) => {}
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use chrono::{NaiveDate, TimeZone};

    use super::*;

    fn spec(cron: &str, tz: &str, day: DayRef) -> ScheduleSpec {
        ScheduleSpec {
            name: "t".into(),
            job: ScheduledJob::SnapshotAnalytics { day },
            cron: cron::Schedule::from_str(cron).unwrap(),
            tz: tz.parse().unwrap(),
        }
    }

    #[test]
    fn slots_follow_the_schedules_time_zone() {
        // 00:10 in Luxembourg is 23:10 UTC the day before in winter.
        let s = spec("0 10 0 * * *", "Europe/Luxembourg", DayRef::Previous);
        let after = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap();
        let next = next_slot(&s, after).unwrap();
        assert_eq!(next, Utc.with_ymd_and_hms(2026, 11, 22, 23, 10, 0).unwrap());
        assert_eq!(
            previous_slot(&s, after).unwrap(),
            Utc.with_ymd_and_hms(2026, 11, 21, 23, 10, 0).unwrap()
        );
    }

    #[test]
    fn a_slot_exactly_now_is_the_previous_slot() {
        let s = spec("0 0 * * * *", "UTC", DayRef::Current);
        let at = Utc.with_ymd_and_hms(2026, 1, 1, 5, 0, 0).unwrap();
        assert_eq!(previous_slot(&s, at), Some(at));
        assert_eq!(
            next_slot(&s, at),
            Some(Utc.with_ymd_and_hms(2026, 1, 1, 6, 0, 0).unwrap())
        );
    }

    #[test]
    fn slots_never_carry_fractions_of_a_second() {
        let s = spec("* * * * * *", "UTC", DayRef::Current);
        let at = Utc.with_ymd_and_hms(2026, 1, 1, 5, 0, 7).unwrap() + chrono::Duration::milliseconds(345);
        assert_eq!(
            previous_slot(&s, at),
            Some(Utc.with_ymd_and_hms(2026, 1, 1, 5, 0, 7).unwrap())
        );
        assert_eq!(
            next_slot(&s, at),
            Some(Utc.with_ymd_and_hms(2026, 1, 1, 5, 0, 8).unwrap())
        );
    }

    #[test]
    fn the_previous_day_is_the_local_day_before_the_slot() {
        let s = spec("0 10 0 * * *", "Europe/Luxembourg", DayRef::Previous);
        let slot = Utc.with_ymd_and_hms(2026, 11, 22, 23, 10, 0).unwrap(); // 00:10 on the 23rd locally
        let SlotJob::SnapshotAnalytics(job) = job_for_slot(&s, slot) else {
            panic!("a snapshot slot");
        };
        assert_eq!(job.date, NaiveDate::from_ymd_opt(2026, 11, 22).unwrap());

        let current = spec("0 0 * * * *", "Europe/Luxembourg", DayRef::Current);
        let SlotJob::SnapshotAnalytics(job) = job_for_slot(&current, slot) else {
            panic!("a snapshot slot");
        };
        assert_eq!(job.date, NaiveDate::from_ymd_opt(2026, 11, 23).unwrap());
    }

    #[test]
    fn dst_changes_do_not_skip_or_repeat_daily_slots() {
        let s = spec("0 30 1 * * *", "Europe/Luxembourg", DayRef::Current);
        let mut at = Utc.with_ymd_and_hms(2026, 3, 27, 0, 0, 0).unwrap();
        let mut days = Vec::new();
        for _ in 0..4 {
            at = next_slot(&s, at).unwrap();
            days.push(at.with_timezone(&s.tz).date_naive());
        }
        let expected: Vec<_> = (27..=30)
            .map(|d| NaiveDate::from_ymd_opt(2026, 3, d).unwrap())
            .collect();
        assert_eq!(days, expected);
    }
}
