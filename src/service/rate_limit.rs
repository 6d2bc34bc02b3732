//! Mutations per principal per minute, the same limit on every process.
//! The database counts each principal's mutations per calendar minute; the
//! limit applies to a sliding minute estimated from the current count and
//! the previous minute's, so that it holds across a minute boundary too
//! (a fixed window would let twice the limit through around one).

use chrono::{DateTime, DurationRound, Utc};

use super::{ServiceError, Services};
use crate::db::rate_limits;
use crate::domain::Principal;

const MINUTE_MS: i64 = 60_000;

/// Admits one more mutation of the principal, or says in how many seconds
/// one would be admitted. A limit of 0 admits everything.
pub async fn admit_mutation(
    services: &Services,
    principal: &Principal,
    per_minute: u32,
) -> Result<Result<(), u64>, ServiceError> {
    if per_minute == 0 {
        return Ok(Ok(()));
    }
    let now = Utc::now();
    let window = minute_of(now);
    let key = format!("{}\u{1f}{}", principal.workspace_id, principal.subject);
    let (current, previous) = services
        .db
        .write(async |tx| {
            let current = rate_limits::count_mutation(tx, &key, window).await?;
            let previous =
                rate_limits::count_in(tx, &key, window - chrono::Duration::minutes(1)).await?;
            Ok::<_, crate::db::StorageError>((current, previous))
        })
        .await?
        .owing_nothing();
    let counts = SlidingMinute {
        previous: i64::from(previous),
        current: i64::from(current),
        elapsed_ms: (now - window).num_milliseconds().clamp(0, MINUTE_MS - 1),
    };
    Ok(counts.admit(i64::from(per_minute)))
}

fn minute_of(instant: DateTime<Utc>) -> DateTime<Utc> {
    instant
        .duration_trunc(chrono::Duration::minutes(1))
        .unwrap_or(instant)
}

/// A principal's mutations in the previous and the current calendar minute
/// (this one included, and refused ones too), and how far the current
/// minute has run.
#[derive(Debug, Clone, Copy)]
struct SlidingMinute {
    previous: i64,
    current: i64,
    elapsed_ms: i64,
}

impl SlidingMinute {
    /// Whether the mutations of the last 60 seconds stay within `limit`,
    /// counting the previous minute's as if spread evenly over it; if not,
    /// in how many seconds the next one would be admitted.
    fn admit(self, limit: i64) -> Result<(), u64> {
        if within(limit, self.previous, self.current, self.elapsed_ms) {
            return Ok(());
        }
        Err(self.retry_after_ms(limit).div_ceil(1000).max(1))
    }

    /// The least wait after which one more mutation is within the limit.
    fn retry_after_ms(self, limit: i64) -> u64 {
        let rest_of_minute = MINUTE_MS - self.elapsed_ms;
        // Later in this minute, while the previous one's weight falls.
        if self.current < limit && self.previous > 0 {
            let allowed = (limit - self.current - 1) * MINUTE_MS;
            let weight_at_most = allowed / self.previous;
            let wait = rest_of_minute - weight_at_most;
            if wait < rest_of_minute {
                return u64::try_from(wait.max(1)).unwrap_or(1);
            }
        }
        // In the next minute, where this one's count is the previous.
        let wait_into_next = if self.current == 0 {
            0
        } else {
            (MINUTE_MS - (limit - 1) * MINUTE_MS / self.current).max(0)
        };
        u64::try_from(rest_of_minute + wait_into_next).unwrap_or(u64::MAX)
    }
}

/// `previous × (rest of the minute) / minute + current ≤ limit`, in whole
/// milliseconds.
fn within(limit: i64, previous: i64, current: i64, elapsed_ms: i64) -> bool {
    previous * (MINUTE_MS - elapsed_ms) + current * MINUTE_MS <= limit * MINUTE_MS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(previous: i64, current: i64, elapsed_s: f64) -> SlidingMinute {
        SlidingMinute {
            previous,
            current,
            elapsed_ms: (elapsed_s * 1000.0) as i64,
        }
    }

    #[test]
    fn up_to_the_limit_is_admitted_and_one_more_is_not() {
        for n in 1..=4 {
            assert_eq!(counts(0, n, 30.0).admit(4), Ok(()));
        }
        assert!(counts(0, 5, 30.0).admit(4).is_err());
    }

    #[test]
    fn a_burst_across_a_minute_boundary_is_limited_as_one_minute() {
        // Three mutations at the end of a minute, two just after it.
        assert_eq!(counts(3, 1, 0.1).admit(4), Ok(()));
        assert!(counts(3, 2, 0.1).admit(4).is_err());
        // Most of the previous minute has slid out after 45 s.
        assert_eq!(counts(3, 2, 45.0).admit(4), Ok(()));
    }

    #[test]
    fn the_wait_is_until_one_more_fits() {
        // Five in this minute, nothing before: wait for the next minute,
        // then until 5 × (1 - s/60) + 1 ≤ 4, i.e. s = 24 s into it.
        assert_eq!(counts(0, 5, 30.0).admit(4), Err(30 + 24));
        assert!(within(4, 5, 1, 24_000));
        assert!(!within(4, 5, 1, 23_999));
        // Four before, two now at 15 s: 4 × (1 - t/60) + 3 ≤ 4 at t = 45 s,
        // still in this minute.
        assert_eq!(counts(4, 1, 15.0).admit(4), Ok(()));
        assert_eq!(counts(4, 2, 15.0).admit(4), Err(30));
        assert!(within(4, 4, 3, 45_000));
        assert!(!within(4, 4, 3, 44_999));
    }

    #[test]
    fn minutes_start_on_the_minute() {
        let instant = DateTime::parse_from_rfc3339("2026-01-02T03:04:05.678Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(minute_of(instant).to_rfc3339(), "2026-01-02T03:04:00+00:00");
    }
}
