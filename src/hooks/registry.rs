use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use tokio::sync::watch;

use super::HookEvent;
use super::OutboxEvent;
use crate::domain::{DomainEvent, EventType, RuleViolation};

/// A guard's refusal, with a reason the caller is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Veto {
    pub reason: String,
}

/// Why a notify hook could not take an event; it is offered again later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyError(pub String);

/// Vets a change before it commits. It runs inside the change's transaction,
/// so it must answer quickly: past the registry's time limit, or on a panic,
/// the change is refused (fail closed).
#[async_trait::async_trait]
pub trait GuardHook: Send + Sync {
    fn name(&self) -> &str;
    async fn check(&self, event: &HookEvent) -> Result<(), Veto>;
}

/// Hears about changes after they commit, at least once and in commit order
/// per mini program, fed from the durable outbox by the dispatcher.
#[async_trait::async_trait]
pub trait NotifyHook: Send + Sync {
    /// Unique among the registry's notify hooks; deliveries are recorded under it.
    fn name(&self) -> &str;
    fn accepts(&self, event_type: EventType) -> bool {
        let _ = event_type;
        true
    }
    async fn notify(&self, event: &HookEvent) -> Result<(), NotifyError>;
}

/// The plugins of this process, built at start-up.
pub struct HookRegistry {
    guards: Vec<Arc<dyn GuardHook>>,
    notifiers: Vec<Arc<dyn NotifyHook>>,
    guard_timeout: Duration,
    /// Counts commits with events; watchers wake on each.
    commits: watch::Sender<u64>,
}

impl HookRegistry {
    pub fn new(guard_timeout: Duration) -> Self {
        Self {
            guards: Vec::new(),
            notifiers: Vec::new(),
            guard_timeout,
            commits: watch::Sender::new(0),
        }
    }

    pub fn with_guard(mut self, guard: Arc<dyn GuardHook>) -> Self {
        self.guards.push(guard);
        self
    }

    pub fn with_notifier(mut self, notifier: Arc<dyn NotifyHook>) -> Self {
        self.notifiers.push(notifier);
        self
    }

    /// Tells the dispatcher and the live feed that a change with events
    /// committed, so that they read it at once rather than at their next poll.
    pub fn committed(&self) {
        self.commits
            .send_modify(|count| *count = count.wrapping_add(1));
    }

    /// Ticks after each commit with events.
    pub fn commits(&self) -> watch::Receiver<u64> {
        self.commits.subscribe()
    }

    pub(super) fn notifier(&self, name: &str) -> Option<&Arc<dyn NotifyHook>> {
        self.notifiers.iter().find(|hook| hook.name() == name)
    }

    async fn guard(&self, guard: &dyn GuardHook, event: &HookEvent) -> Result<(), RuleViolation> {
        let vetoed = |reason: String| RuleViolation::Vetoed {
            hook: guard.name().to_owned(),
            reason,
        };
        let check = AssertUnwindSafe(guard.check(event)).catch_unwind();
        match tokio::time::timeout(self.guard_timeout, check).await {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(veto))) => Err(vetoed(veto.reason)),
            Ok(Err(_panic)) => {
                tracing::error!(hook = guard.name(), "guard hook panicked");
                Err(vetoed("the check failed".into()))
            }
            Err(_elapsed) => {
                tracing::warn!(hook = guard.name(), "guard hook timed out");
                Err(vetoed(format!(
                    "no answer within {} ms",
                    self.guard_timeout.as_millis()
                )))
            }
        }
    }

    /// Asks every guard about each event of a change (a refusal refuses the
    /// change) and prepares the events for the outbox, with the notify hooks
    /// that take each.
    pub async fn vet(&self, events: Vec<DomainEvent>) -> Result<Vec<OutboxEvent>, RuleViolation> {
        let mut vetted = Vec::with_capacity(events.len());
        for event in &events {
            let hook_event = HookEvent::new(event);
            for guard in &self.guards {
                self.guard(guard.as_ref(), &hook_event).await?;
            }
            vetted.push(OutboxEvent {
                hook_targets: self
                    .notifiers
                    .iter()
                    .filter(|hook| hook.accepts(event.event_type))
                    .map(|hook| hook.name().to_owned())
                    .collect(),
                data: hook_event.data.to_string(),
                id: hook_event.id,
                event_type: hook_event.event_type,
                workspace_id: hook_event.workspace_id,
                mini_program_id: hook_event.mini_program_id,
                occurred_at: hook_event.timestamp,
            });
        }
        Ok(vetted)
    }
}
