//! The worker pool: apalis workers for each enabled queue, supervised.
//!
//! Each queue gets `workers` apalis workers (one fetch loop each), every one
//! with a name unique to this process start (apalis keeps a restarted
//! worker's old jobs `Running` if it reuses its name). Workers wake on
//! LISTEN/NOTIFY ([`Wakeups`]) and also poll every `queue.poll_interval`,
//! heartbeat every `queue.heartbeat_interval` with the same
//! `missed_heartbeats` in every process, and run [`execute`] on each job.
//!
//! apalis ends a worker on the first database error of a fetch, heartbeat or
//! acknowledgement. The supervisor here restarts it with backoff under a new
//! name; if a queue's workers have not stayed up for
//! `queue.worker_give_up_after`, [`WorkerPool::run`] returns an error and the
//! process exits non-zero so that its own supervisor restarts it — it never
//! idles with dead workers.

mod execute;
mod wakeup;

use std::{
    collections::HashSet,
    pin::pin,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use apalis::prelude::{BackendExt, Strategy, WorkerBuilder, WorkerBuilderExt, WorkerContext};
use apalis_postgres::PostgresStorage;
use prospector_jobs::{Enqueuer, Handler, Setup, Stage, StageJob, StageVisitor, error_chain, retry::Backoff};
use serde_json::Value;
use sqlx::PgPool;
use tokio::task::JoinSet;

pub use execute::{JobMeta, QueueRuntime};
pub use wakeup::Wakeups;

use crate::{config::Settings, metrics as names, shutdown::Shutdown};

/// Why workers could not start or keep running.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// The stage cannot run on this machine as configured (a tool is
    /// missing, a key is not set).
    #[error("the {stage} stage cannot start: {reason}")]
    Setup {
        /// The stage.
        stage: Stage,
        /// What is missing.
        reason: String,
    },
    /// A queue's workers kept dying.
    #[error(
        "the {queue} workers have been failing for over {seconds}s (last error: {last_error}); exiting so the process can be restarted"
    )]
    GaveUp {
        /// Queue.
        queue: &'static str,
        /// How long they failed.
        seconds: u64,
        /// The last failure.
        last_error: String,
    },
}

/// This process start's identity, used in worker names.
#[derive(Debug, Clone)]
pub struct Instance {
    host: String,
    pid: u32,
    boot: String,
}

impl Instance {
    /// A fresh identity (a random boot id makes names unique even when a
    /// container restarts with the same host name and pid).
    pub fn new() -> Self {
        let host = gethostname::gethostname()
            .to_string_lossy()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .take(40)
            .collect::<String>();
        let boot = ulid::Ulid::new().to_string();
        Self {
            host: if host.is_empty() { "host".to_owned() } else { host },
            pid: std::process::id(),
            boot: boot[boot.len() - 6..].to_ascii_lowercase(),
        }
    }

    /// `queue@host-pid-boot/slot.generation`
    pub fn worker_name(&self, queue: &str, slot: usize, generation: u32) -> String {
        format!(
            "{queue}@{}-{}-{}/{slot}.{generation}",
            self.host, self.pid, self.boot
        )
    }

    /// A name for a non-worker role (scheduler claims).
    pub fn role_name(&self, role: &str) -> String {
        format!("{role}@{}-{}-{}", self.host, self.pid, self.boot)
    }
}

impl Default for Instance {
    fn default() -> Self {
        Self::new()
    }
}

/// Workers of the enabled queues, and their supervisors.
pub struct WorkerPool {
    pool: PgPool,
    queue_pool: PgPool,
    settings: Arc<Settings>,
    enqueuer: Enqueuer,
    shutdown: Shutdown,
    instance: Instance,
    wakeups: Wakeups,
    names: Arc<Mutex<HashSet<String>>>,
    tasks: JoinSet<Result<(), PoolError>>,
    queues: Vec<&'static str>,
}

impl WorkerPool {
    /// A pool with no queues yet (see [`spawn_stage`](Self::spawn_stage)).
    pub fn new(
        pool: PgPool,
        queue_pool: PgPool,
        settings: Arc<Settings>,
        enqueuer: Enqueuer,
        shutdown: Shutdown,
        instance: Instance,
    ) -> Self {
        let wakeups = Wakeups::spawn(queue_pool.clone(), shutdown.stop.clone());
        Self {
            pool,
            queue_pool,
            settings,
            enqueuer,
            shutdown,
            instance,
            wakeups,
            names: Arc::default(),
            tasks: JoinSet::new(),
            queues: Vec::new(),
        }
    }

    /// Start the workers of a pipeline stage: build its dependencies from
    /// its settings ([`StageJob::build_deps`]) and spawn its queue.
    pub fn spawn_stage(&mut self, stage: Stage) -> Result<(), PoolError> {
        struct SpawnStage<'a>(&'a mut WorkerPool);
        impl StageVisitor for SpawnStage<'_> {
            type Output = Result<(), PoolError>;
            fn visit<J: StageJob>(self) -> Result<(), PoolError> {
                let pool = self.0;
                let platform = pool.settings.platform();
                let setup = Setup {
                    stages: &pool.settings.pipeline,
                    platform: &platform,
                    worker: pool.settings.worker(J::QUEUE),
                };
                let deps = J::build_deps(pool.settings.of::<J>(), &setup).map_err(|e| PoolError::Setup {
                    stage: J::STAGE,
                    reason: error_chain(e.as_ref()),
                })?;
                pool.spawn_queue::<J>(deps);
                Ok(())
            }
        }
        stage.visit(SpawnStage(self))
    }

    /// Queues with workers in this pool.
    pub fn queues(&self) -> &[&'static str] {
        &self.queues
    }

    /// Start `workers` supervised apalis workers for `H`'s queue.
    pub fn spawn_queue<H: Handler>(&mut self, deps: H::Deps) {
        let settings = self.settings.worker(H::QUEUE).clone();
        let runtime = Arc::new(QueueRuntime::<H> {
            pool: self.pool.clone(),
            enqueuer: self.enqueuer.clone(),
            deps,
            settings: settings.clone(),
            abort: self.shutdown.abort.clone(),
        });
        for slot in 0..settings.workers {
            let supervisor = Supervisor {
                slot,
                pool: self.queue_pool.clone(),
                settings: Arc::clone(&self.settings),
                shutdown: self.shutdown.clone(),
                instance: self.instance.clone(),
                wakeups: self.wakeups.clone(),
                names: Arc::clone(&self.names),
            };
            let runtime = Arc::clone(&runtime);
            self.tasks
                .spawn(async move { supervisor.run::<H>(runtime).await });
        }
        self.queues.push(H::QUEUE);
        tracing::info!(
            queue = H::QUEUE,
            workers = settings.workers,
            concurrency = settings.concurrency,
            "workers started"
        );
    }

    /// Run until shutdown (Ok) or until a queue's workers give up (Err).
    ///
    /// On shutdown, running jobs get `queue.shutdown_grace` to finish; then
    /// the abort token stops them and whatever is still locked by this
    /// process goes back to the queue.
    pub async fn run(mut self) -> Result<(), PoolError> {
        let shutdown = self.shutdown.clone();
        let failure = {
            let tasks = &mut self.tasks;
            let drain = async {
                let mut failure = None;
                while let Some(joined) = tasks.join_next().await {
                    match joined {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => {
                            tracing::error!(error = %e, "worker supervisor gave up");
                            failure.get_or_insert(e);
                            shutdown.trigger();
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "worker supervisor panicked");
                            shutdown.trigger();
                        }
                    }
                }
                failure
            };
            let late = async {
                shutdown.abort.cancelled().await;
                tokio::time::sleep(Duration::from_secs(5)).await;
            };
            tokio::select! {
                failure = drain => failure,
                () = late => {
                    tracing::warn!("workers did not stop in time after abort");
                    None
                }
            }
        };
        self.hand_back().await;
        match failure {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    async fn hand_back(&self) {
        let names: Vec<String> = self
            .names
            .lock()
            .map(|n| n.iter().cloned().collect())
            .unwrap_or_default();
        if names.is_empty() {
            return;
        }
        match prospector_jobs::queue::rows::hand_back_jobs(&self.pool, &names).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(jobs = n, "handed back unfinished jobs"),
            Err(e) => {
                tracing::warn!(error = %e, "could not hand back unfinished jobs; they return to the queue when the heartbeat expires")
            }
        }
    }
}

struct Supervisor {
    slot: usize,
    pool: PgPool,
    settings: Arc<Settings>,
    shutdown: Shutdown,
    instance: Instance,
    wakeups: Wakeups,
    names: Arc<Mutex<HashSet<String>>>,
}

impl Supervisor {
    async fn run<H: Handler>(self, runtime: Arc<QueueRuntime<H>>) -> Result<(), PoolError> {
        let give_up_after = self.settings.queue.worker_give_up_after;
        let mut generation = 0u32;
        let mut failing_since: Option<Instant> = None;
        let mut restarts = Backoff::new(Duration::from_millis(500), Duration::from_secs(30)).sequence();
        loop {
            let name = self.instance.worker_name(H::QUEUE, self.slot, generation);
            if let Ok(mut names) = self.names.lock() {
                names.insert(name.clone());
            }
            let started = Instant::now();
            let result = self.run_worker::<H>(&name, Arc::clone(&runtime)).await;
            if self.shutdown.stop.is_cancelled() {
                if let Err(e) = result {
                    tracing::warn!(worker = %name, error = %e, "worker ended with an error during shutdown");
                }
                return Ok(());
            }
            let last_error = match result {
                Ok(()) => "the worker stopped on its own".to_owned(),
                Err(e) => e,
            };
            metrics::counter!(names::WORKER_RESTARTS_TOTAL, "queue" => H::QUEUE).increment(1);
            // A worker that stayed up a while ends a failure streak.
            if started.elapsed() >= Duration::from_secs(30) {
                failing_since = None;
                restarts.reset();
            }
            // The streak starts at this death, not at this worker's start: a
            // worker that ran a while and died once is restarted, not given up.
            let since = *failing_since.get_or_insert_with(Instant::now);
            if since.elapsed() >= give_up_after {
                return Err(PoolError::GaveUp {
                    queue: H::QUEUE,
                    seconds: since.elapsed().as_secs(),
                    last_error,
                });
            }
            let delay = restarts.next_delay();
            tracing::error!(worker = %name, error = %last_error, restart_in_ms = delay.as_millis() as u64, "worker died; restarting");
            tokio::select! {
                () = self.shutdown.stop.cancelled() => return Ok(()),
                () = tokio::time::sleep(delay) => {}
            }
            generation += 1;
        }
    }

    /// One apalis worker's life. Returns when it stops (shutdown or death).
    async fn run_worker<H: Handler>(&self, name: &str, runtime: Arc<QueueRuntime<H>>) -> Result<(), String> {
        let stage = &runtime.settings;
        let queue_settings = &self.settings.queue;
        let config = apalis_postgres::Config::default()
            .queue(H::QUEUE)
            .batch_size(stage.batch_size)
            .heartbeat_interval(queue_settings.heartbeat_interval)
            .missed_heartbeats(queue_settings.missed_heartbeats);
        let strategy = Strategy::new()
            .stream(self.wakeups.subscribe(H::QUEUE))
            .interval(queue_settings.poll_interval);
        let backend = PostgresStorage::<Value>::new(&self.pool)
            .with_config(config)
            .poll_with_strategy(strategy);
        let context = WorkerContext::new(name);
        let worker = WorkerBuilder::new(&context)
            .backend(backend)
            .concurrency(stage.concurrency)
            .data(runtime)
            .build(execute::execute::<H>);

        let mut running = pin!(worker.run());
        tokio::select! {
            result = &mut running => result.map_err(|e| e.to_string()),
            () = self.shutdown.stop.cancelled() => {
                // Stop fetching; finish running jobs; hand back the prefetched.
                if let Err(e) = context.stop() {
                    tracing::debug!(worker = %name, error = %e, "worker was not running when asked to stop");
                }
                running.await.map_err(|e| e.to_string())
            }
        }
    }
}
