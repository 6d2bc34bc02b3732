//! Live events: what GraphQL subscriptions hear. Each process follows the
//! outbox (on PostgreSQL by LISTEN/NOTIFY, so that a change committed
//! through any process reaches every process; on SQLite after each local
//! commit) and fans each event out to the subscribers of its mini program.

mod feed;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::Stream;
use tokio::sync::{OnceCell, broadcast};

use crate::domain::MiniProgramVersion;
use crate::hooks::StoredEvent;
use crate::sync::lock;

pub use feed::follow_outbox;

/// How many events a subscriber may fall behind before it is told it missed some.
const BACKLOG: usize = 256;

/// A committed event as the subscribers of one process share it.
#[derive(Debug)]
pub struct LiveEvent {
    pub event: StoredEvent,
    /// The version a version event is about, read once for every
    /// subscriber of this process rather than once by each.
    pub version: OnceCell<Option<MiniProgramVersion>>,
}

#[derive(Debug, Clone)]
enum Message {
    Event(Arc<LiveEvent>),
    /// The feed lost events it cannot name.
    Interrupted,
}

/// Why a subscriber's events stopped: some may have been missed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interrupted;

/// The subscribers of this process, by mini program.
#[derive(Default)]
pub struct LiveEvents {
    programs: Mutex<HashMap<String, broadcast::Sender<Message>>>,
    /// Whether the feed is following the outbox; subscribing while it is
    /// not would silently miss events.
    following: AtomicBool,
}

impl LiveEvents {
    /// The committed events of one program from now on, ending with
    /// `Interrupted` if the feed loses track or the subscriber falls too
    /// far behind.
    pub fn subscribe(
        &self,
        mini_program_id: &str,
    ) -> Result<impl Stream<Item = Result<Arc<LiveEvent>, Interrupted>> + Send + use<>, Interrupted>
    {
        // Subscribed before the check, under the lock that `interrupt`
        // takes: either the feed follows now, or this receiver hears of it.
        let receiver = {
            let mut programs = lock(&self.programs);
            let receiver = programs
                .entry(mini_program_id.to_owned())
                .or_insert_with(|| broadcast::channel(BACKLOG).0)
                .subscribe();
            if !self.following.load(Ordering::Acquire) {
                drop(receiver);
                programs.retain(|_, sender| sender.receiver_count() > 0);
                return Err(Interrupted);
            }
            receiver
        };
        Ok(futures_util::stream::unfold(
            Some(receiver),
            |receiver| async move {
                let mut receiver = receiver?;
                match receiver.recv().await {
                    Ok(Message::Event(event)) => Some((Ok(event), Some(receiver))),
                    Ok(Message::Interrupted) | Err(broadcast::error::RecvError::Lagged(_)) => {
                        Some((Err(Interrupted), None))
                    }
                    Err(broadcast::error::RecvError::Closed) => None,
                }
            },
        ))
    }

    /// How many subscriptions this process serves, for metrics and tests.
    pub fn subscriber_count(&self) -> usize {
        lock(&self.programs)
            .values()
            .map(broadcast::Sender::receiver_count)
            .sum()
    }

    fn publish(&self, event: StoredEvent) {
        let mut programs = lock(&self.programs);
        let Some(sender) = programs.get(&event.mini_program_id) else {
            return;
        };
        let program = event.mini_program_id.clone();
        let event = LiveEvent {
            event,
            version: OnceCell::new(),
        };
        // No receiver left: the program's last subscriber went away.
        if sender.send(Message::Event(Arc::new(event))).is_err() {
            programs.remove(&program);
        }
    }

    fn resume(&self) {
        self.following.store(true, Ordering::Release);
    }

    /// Ends every subscription with `Interrupted`; new ones are refused
    /// until the feed follows again.
    fn interrupt(&self) {
        self.following.store(false, Ordering::Release);
        for (_, sender) in lock(&self.programs).drain() {
            let _ = sender.send(Message::Interrupted);
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use futures_util::StreamExt;

    use super::*;
    use crate::domain::EventType;

    fn event(program: &str, sequence: i64) -> StoredEvent {
        StoredEvent {
            sequence,
            id: format!("evt_{sequence}"),
            event_type: EventType::UpdateModeChanged,
            workspace_id: "acme".into(),
            mini_program_id: program.into(),
            occurred_at: Utc::now(),
            data: "{}".into(),
        }
    }

    #[tokio::test]
    async fn subscribers_hear_only_their_program_in_order() {
        let live = LiveEvents::default();
        live.resume();
        let mut mall = Box::pin(live.subscribe("mall").unwrap());
        live.publish(event("shop", 1));
        live.publish(event("mall", 2));
        live.publish(event("mall", 3));
        assert_eq!(mall.next().await.unwrap().unwrap().event.sequence, 2);
        assert_eq!(mall.next().await.unwrap().unwrap().event.sequence, 3);
    }

    #[tokio::test]
    async fn an_interruption_ends_every_subscription_and_refuses_new_ones() {
        let live = LiveEvents::default();
        assert!(live.subscribe("mall").is_err());
        live.resume();
        let mut mall = Box::pin(live.subscribe("mall").unwrap());
        live.interrupt();
        assert!(matches!(mall.next().await, Some(Err(Interrupted))));
        assert!(mall.next().await.is_none());
        assert!(live.subscribe("mall").is_err());
        live.resume();
        assert!(live.subscribe("mall").is_ok());
    }

    #[tokio::test]
    async fn a_subscriber_that_falls_behind_is_told_and_ended() {
        let live = LiveEvents::default();
        live.resume();
        let mut slow = Box::pin(live.subscribe("mall").unwrap());
        for sequence in 0..=BACKLOG as i64 {
            live.publish(event("mall", sequence));
        }
        assert!(matches!(slow.next().await, Some(Err(Interrupted))));
        assert!(slow.next().await.is_none());
    }

    #[tokio::test]
    async fn a_program_without_subscribers_is_forgotten() {
        let live = LiveEvents::default();
        assert!(live.subscribe("refused").is_err());
        assert!(lock(&live.programs).is_empty());
        live.resume();
        drop(live.subscribe("mall").unwrap());
        live.publish(event("mall", 1));
        assert!(lock(&live.programs).is_empty());
        assert_eq!(live.subscriber_count(), 0);
    }
}
