//! Keeps a process's launch snapshot in step with changes committed through
//! other processes on one PostgreSQL database, by LISTEN/NOTIFY.

use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::StreamExt;

use super::LaunchPolicies;
use super::change::{CHANNEL, PolicyChange};
use crate::db::StorageError;

/// How often a process catches up while its notification connection is
/// down, rather than serve stale answers.
const RELOAD_WHILE_DISCONNECTED: Duration = Duration::from_secs(1);

/// Follows the notification channel for as long as the process runs.
pub async fn follow_changes(policies: Arc<LaunchPolicies>, url: String, resync: Duration) {
    loop {
        match listen(&policies, &url, resync).await {
            Ok(()) => tracing::warn!("the launch notification connection closed"),
            Err(error) => tracing::warn!(%error, "the launch notification connection failed"),
        }
        if let Err(error) = policies.resync().await {
            tracing::warn!(%error, "cannot bring the launch snapshot up to date");
        }
        tokio::time::sleep(RELOAD_WHILE_DISCONNECTED).await;
    }
}

async fn listen(
    policies: &LaunchPolicies,
    url: &str,
    resync: Duration,
) -> Result<(), StorageError> {
    let mut conn = AsyncPgConnection::establish(url).await?;
    diesel::sql_query(format!("LISTEN {CHANNEL}"))
        .execute(&mut conn)
        .await?;
    // What committed before LISTEN took effect is read here; what commits
    // after arrives as a notification.
    policies.resync().await?;
    tracing::info!("following launch policy changes");
    let mut notifications = pin!(conn.notifications_stream());
    let mut safety_net = tokio::time::interval(resync);
    safety_net.tick().await;
    loop {
        tokio::select! {
            notification = notifications.next() => match notification {
                Some(Ok(notification)) => {
                    if let Some((change, revision)) = PolicyChange::from_payload(&notification.payload) {
                        policies.refresh(&change, revision).await?;
                    }
                }
                Some(Err(error)) => return Err(error.into()),
                None => return Ok(()),
            },
            _ = safety_net.tick() => {
                policies.resync().await?;
            }
        }
    }
}
