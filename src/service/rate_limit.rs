//! Mutations per principal per minute, the same limit on every process.

use chrono::{DurationRound, Utc};

use super::{ServiceError, Services};
use crate::db::rate_limits;
use crate::domain::Principal;

/// Admits one more mutation of the principal, or says in how many seconds
/// the next minute starts. A limit of 0 admits everything.
pub async fn admit_mutation(
    services: &Services,
    principal: &Principal,
    per_minute: u32,
) -> Result<Result<(), u64>, ServiceError> {
    if per_minute == 0 {
        return Ok(Ok(()));
    }
    let now = Utc::now();
    let window = now
        .duration_trunc(chrono::Duration::minutes(1))
        .unwrap_or(now);
    let key = format!("{}\u{1f}{}", principal.workspace_id, principal.subject);
    let count = services
        .db
        .read(async |conn| rate_limits::count_mutation(conn, &key, window).await)
        .await?;
    if u32::try_from(count).unwrap_or(u32::MAX) <= per_minute {
        Ok(Ok(()))
    } else {
        let next_window = window + chrono::Duration::minutes(1);
        Ok(Err(u64::try_from((next_window - now).num_seconds())
            .unwrap_or(0)
            + 1))
    }
}
