//! The clock of the platform: applies what falls due by itself (rollout
//! steps, the starts and ends of update-mode windows), once across every
//! process on one database. Each process claims
//! due work under a lease, so a step is applied by one process, and a
//! process that dies holding a lease leaves it to another once it runs out;
//! work that fell due while every process was down is applied at the next
//! start.

use std::time::Duration;

use chrono::Utc;
use futures_util::future::join_all;
use tokio::sync::watch;

use crate::db::{Committed, rollouts, scheduled_update_modes as windows};
use crate::service::Services;
use crate::service::rollouts::advance;
use crate::service::update_mode_windows::apply_due;

/// How many due plans one pass claims.
const BATCH: i64 = 16;

pub struct Scheduler {
    services: Services,
    /// How long a claim lasts: longer than a step takes, gates included.
    lease: Duration,
    /// The longest the scheduler sleeps without a change of this process to
    /// wake it, so that work scheduled through other processes is seen.
    poll_interval: Duration,
    /// This process, as lease owner.
    owner: String,
    /// Ticks when a commit of this process planned or moved due work; other
    /// commits leave the scheduler asleep.
    changes: watch::Receiver<u64>,
}

impl Scheduler {
    /// `gate_timeout` bounds the slowest part of a step, the gates' answers.
    pub fn new(services: Services, gate_timeout: Duration, poll_interval: Duration) -> Self {
        Self {
            changes: services.schedule.subscribe(),
            services,
            lease: gate_timeout + Duration::from_secs(10),
            poll_interval,
            owner: format!("scheduler-{}", uuid::Uuid::now_v7().simple()),
        }
    }

    /// Applies due work until the process stops.
    pub async fn run(mut self) {
        loop {
            let (owner, lease) = (&self.owner, self.lease);
            // A claim appends no event and changes no launch policy.
            let claimed = self
                .services
                .db
                .write(async |tx| {
                    let steps = rollouts::claim_due(tx, owner, lease, BATCH).await?;
                    let windows = windows::claim_due(tx, owner, lease, BATCH).await?;
                    Ok::<_, crate::db::StorageError>((steps, windows))
                })
                .await
                .map(Committed::owing_nothing);
            match claimed {
                Ok((steps, windows)) if !steps.is_empty() || !windows.is_empty() => {
                    join_all(steps.iter().map(|id| self.step(id))).await;
                    join_all(windows.iter().map(|id| self.window(id))).await;
                }
                Ok(_) => self.idle().await,
                Err(error) => {
                    tracing::warn!(%error, "cannot claim due work");
                    tokio::time::sleep(self.poll_interval).await;
                }
            }
        }
    }

    async fn step(&self, id: &str) {
        match advance(&self.services, &self.owner, id).await {
            Ok(outcome) => tracing::info!(rollout = id, ?outcome, "due rollout step"),
            // The lease runs out and the step is tried again.
            Err(error) => tracing::warn!(rollout = id, ?error, "cannot apply a due rollout step"),
        }
    }

    async fn window(&self, id: &str) {
        match apply_due(&self.services, &self.owner, id).await {
            Ok(applied) => tracing::info!(window = id, applied, "due update-mode window"),
            // The lease runs out and the window is tried again.
            Err(error) => {
                tracing::warn!(window = id, ?error, "cannot apply a due update-mode window")
            }
        }
    }

    /// Sleeps until the next due work, a change of the schedule in this
    /// process, or the poll interval.
    async fn idle(&mut self) {
        let mut wait = self.poll_interval;
        let next = self
            .services
            .db
            .read(async |conn| {
                let step = rollouts::next_due(conn).await?;
                let window = windows::next_due(conn).await?;
                Ok::<_, crate::db::StorageError>(step.into_iter().chain(window).min())
            })
            .await;
        match next {
            Ok(Some(due)) => {
                let until_due = (due - Utc::now()).to_std().unwrap_or(Duration::ZERO);
                // A due step that was not claimable is held by another
                // process; a short pause keeps this loop from spinning.
                wait = wait.min(until_due.max(Duration::from_millis(20)));
            }
            Ok(None) => {}
            Err(error) => tracing::warn!(%error, "cannot read when work is next due"),
        }
        tokio::select! {
            _ = self.changes.changed() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}
