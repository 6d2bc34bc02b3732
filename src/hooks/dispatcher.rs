//! Delivers the outbox: claims due deliveries (shared among all processes
//! on one database through leases), hands each to its notify hook or
//! integration, and records the outcome with exponential backoff.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;
use futures_util::future::join_all;
use rand::Rng;
use tokio::sync::watch;

use super::webhooks::WebhookSender;
use super::{HookEvent, HookRegistry};
use crate::db::hook_deliveries::{self, AttemptOutcome, ClaimedDelivery, DeliveryTarget};
use crate::db::{Committed, Database};

#[derive(Debug, Clone)]
pub struct DispatchSettings {
    /// Attempts before a delivery is FAILED.
    pub max_attempts: u32,
    /// The wait after the first failed attempt, doubled after each.
    pub retry_base: Duration,
    pub retry_cap: Duration,
    /// How long a claim lasts; a crashed process's claims are taken over after it.
    pub lease: Duration,
    /// The longest the dispatcher sleeps without a commit to wake it, so that
    /// work committed through other processes is picked up.
    pub poll_interval: Duration,
    pub batch: i64,
}

pub struct Dispatcher {
    db: Database,
    registry: Arc<HookRegistry>,
    webhooks: WebhookSender,
    settings: DispatchSettings,
    /// This process, as lease owner.
    owner: String,
    commits: watch::Receiver<u64>,
}

impl Dispatcher {
    pub fn new(
        db: Database,
        registry: Arc<HookRegistry>,
        webhooks: WebhookSender,
        settings: DispatchSettings,
    ) -> Self {
        Self {
            commits: registry.commits(),
            db,
            registry,
            webhooks,
            settings,
            owner: format!("process-{}", uuid::Uuid::now_v7().simple()),
        }
    }

    /// Delivers until the process stops; pending deliveries of earlier runs
    /// are picked up first.
    pub async fn run(mut self) {
        loop {
            let (owner, lease, batch) = (&self.owner, self.settings.lease, self.settings.batch);
            let claimed = self
                .db
                .write(async |tx| hook_deliveries::claim(tx, owner, lease, batch).await)
                .await
                .map(Committed::owing_nothing);
            match claimed {
                Ok(claimed) if !claimed.is_empty() => {
                    let outcomes =
                        join_all(claimed.into_iter().map(|delivery| self.attempt(delivery))).await;
                    self.record(&outcomes).await;
                }
                Ok(_) => self.idle().await,
                Err(error) => {
                    tracing::warn!(%error, "cannot claim hook deliveries");
                    tokio::time::sleep(self.settings.poll_interval).await;
                }
            }
        }
    }

    /// Sleeps until a commit, the next due delivery or the poll interval.
    async fn idle(&mut self) {
        let mut wait = self.settings.poll_interval;
        match self
            .db
            .read(async |conn| hook_deliveries::next_due(conn).await)
            .await
        {
            Ok(Some(due)) => {
                let until_due = (due - Utc::now()).to_std().unwrap_or(Duration::ZERO);
                // A due delivery that was not claimable waits on an earlier
                // one; a short pause keeps this loop from spinning.
                wait = wait.min(until_due.max(Duration::from_millis(20)));
            }
            Ok(None) => {}
            Err(error) => tracing::warn!(%error, "cannot read the next due delivery"),
        }
        tokio::select! {
            _ = self.commits.changed() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }

    /// Delivers once and says what became of it, by delivery id.
    async fn attempt(&self, delivery: ClaimedDelivery) -> (String, AttemptOutcome) {
        let result = match HookEvent::from_stored(&delivery.event) {
            Ok(event) => self.deliver(&delivery.target, &event).await,
            Err(error) => Err(format!("the stored event is unreadable: {error}")),
        };
        let outcome = match result {
            Ok(()) => AttemptOutcome::Delivered,
            Err(error) if delivery.attempt >= self.settings.max_attempts as i32 => {
                AttemptOutcome::Failed { error }
            }
            Err(error) => AttemptOutcome::RetryAt {
                at: Utc::now()
                    + chrono::Duration::from_std(self.backoff(delivery.attempt))
                        .unwrap_or(chrono::Duration::MAX),
                error,
            },
        };
        match &outcome {
            AttemptOutcome::Delivered => {
                tracing::debug!(event = %delivery.event.id, attempt = delivery.attempt, "delivered")
            }
            AttemptOutcome::RetryAt { error, .. } => {
                tracing::info!(event = %delivery.event.id, attempt = delivery.attempt, %error, "delivery failed; will retry")
            }
            AttemptOutcome::Failed { error } => {
                tracing::warn!(event = %delivery.event.id, attempt = delivery.attempt, %error, "delivery failed for good")
            }
        }
        (delivery.id, outcome)
    }

    /// Records the outcomes of a batch in one write, so that the bookkeeping
    /// of many deliveries waits once for SQLite's writer, not once each.
    async fn record(&self, outcomes: &[(String, AttemptOutcome)]) {
        let recorded = self
            .db
            .write(async |tx| hook_deliveries::complete(tx, &self.owner, outcomes).await)
            .await
            .map(Committed::owing_nothing);
        if let Err(error) = recorded {
            // The leases run out and other attempts follow: at least once.
            tracing::warn!(%error, deliveries = outcomes.len(), "cannot record delivery outcomes");
        }
    }

    async fn deliver(&self, target: &DeliveryTarget, event: &HookEvent) -> Result<(), String> {
        match target {
            DeliveryTarget::Hook(name) => match self.registry.notifier(name) {
                // A panicking plugin fails its delivery, not the dispatcher.
                Some(hook) => match AssertUnwindSafe(hook.notify(event)).catch_unwind().await {
                    Ok(result) => result.map_err(|error| error.0),
                    Err(_) => Err(format!("the notify hook {name:?} panicked")),
                },
                None => Err(format!(
                    "no notify hook named {name:?} runs in this process"
                )),
            },
            DeliveryTarget::Integration { active: false, .. } => {
                Err("the integration is inactive".into())
            }
            DeliveryTarget::Integration { url, secret, .. } => {
                self.webhooks.send(url, secret, event).await
            }
        }
    }

    /// The wait after failed attempt `attempt` (1-based): the base doubled per
    /// attempt, capped, and jittered between half and all of it so that
    /// receivers coming back are not hit by every retry at once.
    fn backoff(&self, attempt: i32) -> Duration {
        let doublings = u32::try_from(attempt.saturating_sub(1))
            .unwrap_or(0)
            .min(30);
        let full = self
            .settings
            .retry_base
            .saturating_mul(2u32.saturating_pow(doublings))
            .min(self.settings.retry_cap);
        let half = full / 2;
        half + half.mul_f64(rand::rng().random::<f64>())
    }
}
