//! Follows the outbox for as long as the process runs and publishes each
//! committed event to the process's subscribers.

use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::StreamExt;
use tokio::sync::watch;

use super::LiveEvents;
use crate::db::hook_events;
use crate::db::{Database, DatabaseLocation, StorageError};
use crate::hooks::EVENTS_CHANNEL as CHANNEL;

/// How long the feed waits before it tries again after losing track.
const RETRY: Duration = Duration::from_secs(1);

/// Events read at once on SQLite.
const BATCH: i64 = 256;

/// Follows the outbox: on PostgreSQL by the notifications that every commit
/// with events sends, on SQLite by reading new events after each local
/// commit (`commits` ticks).
pub async fn follow_outbox(live: Arc<LiveEvents>, db: Database, commits: watch::Receiver<u64>) {
    match db.location().clone() {
        DatabaseLocation::Postgres(url) => follow_notifications(&live, &db, &url).await,
        DatabaseLocation::Sqlite(_) => follow_commits(&live, &db, commits).await,
    }
}

async fn follow_notifications(live: &LiveEvents, db: &Database, url: &str) {
    let url = listener_url(url);
    loop {
        match listen(live, db, &url).await {
            Ok(()) => tracing::warn!("the live event connection closed"),
            Err(error) => tracing::warn!(%error, "the live event connection failed"),
        }
        // Notifications sent while no connection listened are gone: every
        // subscriber is told, rather than left to miss them silently.
        live.interrupt();
        tokio::time::sleep(RETRY).await;
    }
}

async fn listen(live: &LiveEvents, db: &Database, url: &str) -> Result<(), StorageError> {
    let mut conn = AsyncPgConnection::establish(url).await?;
    diesel::sql_query(format!("LISTEN {CHANNEL}"))
        .execute(&mut conn)
        .await?;
    live.resume();
    tracing::info!("following committed events for live subscribers");
    let mut notifications = pin!(conn.notifications_stream());
    while let Some(notification) = notifications.next().await {
        let notification = notification?;
        let Ok(sequence) = notification.payload.parse::<i64>() else {
            tracing::warn!(payload = %notification.payload, "an unreadable event notification");
            continue;
        };
        if let Some(event) = db
            .read(async |conn| hook_events::by_sequence(conn, sequence).await)
            .await?
        {
            live.publish(event);
        }
    }
    Ok(())
}

/// The listening connection names itself (for operators, and for the tests
/// that cut it) and notices a dead peer within about half a minute rather
/// than the system's two hours.
fn listener_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            parsed
                .query_pairs_mut()
                .append_pair("application_name", "update-mode-live")
                .append_pair("keepalives_idle", "15")
                .append_pair("keepalives_interval", "5")
                .append_pair("keepalives_retries", "3");
            parsed.into()
        }
        Err(_) => url.to_owned(),
    }
}

async fn follow_commits(live: &LiveEvents, db: &Database, mut commits: watch::Receiver<u64>) {
    let mut last = loop {
        match db
            .read(async |conn| hook_events::latest_sequence(conn).await)
            .await
        {
            Ok(sequence) => break sequence,
            Err(error) => {
                tracing::warn!(%error, "cannot read the newest event");
                tokio::time::sleep(RETRY).await;
            }
        }
    };
    live.resume();
    loop {
        // One writer at a time: an event not read yet has a higher sequence
        // than every event read, so reading on from `last` misses none.
        match db
            .read(async |conn| hook_events::after(conn, last, BATCH).await)
            .await
        {
            Ok(events) => {
                let complete = events.len() < BATCH as usize;
                for event in events {
                    last = event.sequence;
                    live.publish(event);
                }
                if !complete {
                    continue;
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot read new events");
                tokio::time::sleep(RETRY).await;
                continue;
            }
        }
        // Every write of this process's events ticks `commits` after it
        // commits; there is no other writer to poll for.
        if commits.changed().await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listener_names_itself_and_keeps_the_callers_parameters() {
        let url =
            listener_url("postgres://app:secret@db.internal:5432/update_mode?sslmode=require");
        let parsed = url::Url::parse(&url).unwrap();
        let pairs: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
        assert!(pairs.contains(&("sslmode".into(), "require".into())));
        assert!(pairs.contains(&("application_name".into(), "update-mode-live".into())));
        assert_eq!(parsed.password(), Some("secret"));
        assert_eq!(parsed.path(), "/update_mode");
    }
}
