//! How one queue's workers run: `[stages.<queue>]` in the configuration.

use std::time::Duration;

use serde::Deserialize;

use super::QueuePolicy;
use crate::stage::InvalidSetting;

/// `[stages.<queue>]` as written: every key optional, defaults filled in by
/// [`WorkerSettings::from_overrides`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerOverrides {
    /// Consumers per process.
    pub workers: Option<usize>,
    /// Jobs run at once per consumer.
    pub concurrency: Option<usize>,
    /// Jobs fetched per round trip (default: the concurrency).
    pub batch_size: Option<usize>,
    /// Runs before a failing job is dead.
    pub max_attempts: Option<u32>,
    /// Priority of pushed jobs.
    pub priority: Option<i32>,
    /// A run taking longer fails (transient).
    #[serde(default, with = "humantime_serde::option")]
    pub timeout: Option<Duration>,
    /// First retry delay.
    #[serde(default, with = "humantime_serde::option")]
    pub backoff_base: Option<Duration>,
    /// Longest retry delay.
    #[serde(default, with = "humantime_serde::option")]
    pub backoff_max: Option<Duration>,
}

/// How one queue's workers run.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerSettings {
    /// Consumers per process.
    pub workers: usize,
    /// Jobs run at once per consumer.
    pub concurrency: usize,
    /// Jobs fetched per round trip.
    pub batch_size: usize,
    /// Runs before a failing job is dead.
    pub max_attempts: u32,
    /// Priority of pushed jobs.
    pub priority: i32,
    /// A run taking longer fails (transient).
    pub timeout: Duration,
    /// First retry delay.
    pub backoff_base: Duration,
    /// Longest retry delay.
    pub backoff_max: Duration,
}

impl WorkerSettings {
    /// Fill in defaults and check ranges. `default_concurrency` is the
    /// stage's own ([`crate::StageJob::default_concurrency`]). Keys in errors
    /// are relative to the queue's section.
    pub fn from_overrides(raw: WorkerOverrides, default_concurrency: usize) -> Result<Self, InvalidSetting> {
        let within = |key: &str, low: usize, high: usize, value: usize| {
            if (low..=high).contains(&value) {
                Ok(value)
            } else {
                Err(InvalidSetting::new(
                    key,
                    format!("must be between {low} and {high}"),
                ))
            }
        };
        let positive = |key: &str, value: Option<Duration>, default: Duration| match value {
            Some(d) if d.is_zero() => Err(InvalidSetting::new(key, "must be longer than zero")),
            Some(d) => Ok(d),
            None => Ok(default),
        };
        let workers = within("workers", 1, 64, raw.workers.unwrap_or(1))?;
        let concurrency = within(
            "concurrency",
            1,
            10_000,
            raw.concurrency.unwrap_or(default_concurrency),
        )?;
        let batch_size = within("batch_size", 1, 10_000, raw.batch_size.unwrap_or(concurrency))?;
        let max_attempts = raw.max_attempts.unwrap_or(5);
        if max_attempts == 0 || max_attempts > 100 {
            return Err(InvalidSetting::new("max_attempts", "must be between 1 and 100"));
        }
        let backoff_base = positive("backoff_base", raw.backoff_base, Duration::from_secs(10))?;
        let backoff_max = positive("backoff_max", raw.backoff_max, Duration::from_secs(600))?;
        if backoff_max < backoff_base {
            return Err(InvalidSetting::new(
                "backoff_max",
                "must not be shorter than backoff_base",
            ));
        }
        Ok(Self {
            workers,
            concurrency,
            batch_size,
            max_attempts,
            priority: raw.priority.unwrap_or(0),
            timeout: positive("timeout", raw.timeout, Duration::from_secs(60))?,
            backoff_base,
            backoff_max,
        })
    }

    /// The backoff of failed jobs (persisted in the queue).
    pub fn backoff(&self) -> crate::retry::Backoff {
        crate::retry::Backoff::new(self.backoff_base, self.backoff_max)
    }

    /// The queue policy applied when pushing to this queue.
    pub fn policy(&self) -> QueuePolicy {
        QueuePolicy {
            max_attempts: self.max_attempts,
            priority: self.priority,
        }
    }
}

impl Default for WorkerSettings {
    fn default() -> Self {
        // Invariant: empty overrides are within every range.
        Self {
            workers: 1,
            concurrency: 1,
            batch_size: 1,
            max_attempts: 5,
            priority: 0,
            timeout: Duration::from_secs(60),
            backoff_base: Duration::from_secs(10),
            backoff_max: Duration::from_secs(600),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_every_key_and_batch_follows_concurrency() {
        let raw = WorkerOverrides {
            concurrency: Some(8),
            ..WorkerOverrides::default()
        };
        let s = WorkerSettings::from_overrides(raw, 1).unwrap();
        assert_eq!(
            (s.workers, s.concurrency, s.batch_size, s.max_attempts),
            (1, 8, 8, 5)
        );
        assert_eq!(
            WorkerSettings::from_overrides(WorkerOverrides::default(), 1).unwrap(),
            WorkerSettings::default()
        );
        assert_eq!(
            WorkerSettings::from_overrides(WorkerOverrides::default(), 3)
                .unwrap()
                .concurrency,
            3
        );
    }

    #[test]
    fn out_of_range_values_name_their_key() {
        let cases = [
            (
                WorkerOverrides {
                    workers: Some(0),
                    ..Default::default()
                },
                "workers",
            ),
            (
                WorkerOverrides {
                    concurrency: Some(20_000),
                    ..Default::default()
                },
                "concurrency",
            ),
            (
                WorkerOverrides {
                    max_attempts: Some(0),
                    ..Default::default()
                },
                "max_attempts",
            ),
            (
                WorkerOverrides {
                    timeout: Some(Duration::ZERO),
                    ..Default::default()
                },
                "timeout",
            ),
            (
                WorkerOverrides {
                    backoff_base: Some(Duration::from_secs(60)),
                    backoff_max: Some(Duration::from_secs(1)),
                    ..Default::default()
                },
                "backoff_max",
            ),
        ];
        for (raw, key) in cases {
            assert_eq!(WorkerSettings::from_overrides(raw, 1).unwrap_err().key, key);
        }
    }
}
