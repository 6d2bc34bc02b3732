//! `GET /metrics` in the Prometheus text format: requests by route,
//! operation and outcome, their latency, errors by code, the database pool,
//! and hook deliveries by status. Counters are this process's; scrape every
//! process.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::db::hook_deliveries;
use crate::sync::lock;

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// The most request series kept.
const MAX_SERIES: usize = 1000;

/// What the GraphQL handler knows of a request, for the request log and metrics.
#[derive(Debug, Clone)]
pub struct RequestOutcome {
    pub operation: String,
    /// `ok`, or the first error's code.
    pub outcome: String,
}

#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, String), u64>>,
    buckets: [AtomicU64; BUCKETS.len()],
    duration_micros: AtomicU64,
    count: AtomicU64,
}

impl Metrics {
    pub fn observe(
        &self,
        route: &str,
        outcome: Option<&RequestOutcome>,
        status: u16,
        seconds: f64,
    ) {
        let (operation, outcome) = match outcome {
            Some(known) => (known.operation.clone(), known.outcome.clone()),
            None if status < 400 => (String::new(), "ok".to_owned()),
            None => (String::new(), status.to_string()),
        };
        let mut requests = lock(&self.requests);
        let mut key = (route.to_owned(), operation, outcome);
        // Operation names are the client's to choose: past a bound, new ones
        // share one series rather than grow memory and the scrape.
        if requests.len() >= MAX_SERIES && !requests.contains_key(&key) {
            key.1 = "_other".to_owned();
        }
        *requests.entry(key).or_default() += 1;
        drop(requests);
        for (bucket, bound) in self.buckets.iter().zip(BUCKETS) {
            if seconds <= bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.duration_micros
            .fetch_add((seconds * 1e6) as u64, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    fn render_requests(&self, out: &mut String) {
        let requests = lock(&self.requests).clone();
        out.push_str("# HELP update_mode_requests_total Requests answered, by route, GraphQL operation and outcome.\n");
        out.push_str("# TYPE update_mode_requests_total counter\n");
        let mut errors: BTreeMap<String, u64> = BTreeMap::new();
        for ((route, operation, outcome), count) in &requests {
            let _ = writeln!(
                out,
                "update_mode_requests_total{{route=\"{}\",operation=\"{}\",outcome=\"{}\"}} {count}",
                escape(route),
                escape(operation),
                escape(outcome)
            );
            if outcome != "ok" {
                *errors.entry(outcome.clone()).or_default() += count;
            }
        }
        out.push_str("# HELP update_mode_errors_total Requests that failed, by error code (or HTTP status).\n");
        out.push_str("# TYPE update_mode_errors_total counter\n");
        for (code, count) in errors {
            let _ = writeln!(
                out,
                "update_mode_errors_total{{code=\"{}\"}} {count}",
                escape(&code)
            );
        }
        out.push_str("# HELP update_mode_request_duration_seconds Time to answer a request.\n");
        out.push_str("# TYPE update_mode_request_duration_seconds histogram\n");
        for (bucket, bound) in self.buckets.iter().zip(BUCKETS) {
            let _ = writeln!(
                out,
                "update_mode_request_duration_seconds_bucket{{le=\"{bound}\"}} {}",
                bucket.load(Ordering::Relaxed)
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "update_mode_request_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            out,
            "update_mode_request_duration_seconds_sum {}",
            self.duration_micros.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "update_mode_request_duration_seconds_count {count}");
    }
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// `GET /metrics`. Meant for the operator's scraper: expose it on the
/// internal network only.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let mut out = String::new();
    state.metrics.render_requests(&mut out);
    let pool = state.db.pool_status();
    out.push_str(
        "# HELP update_mode_db_connections Database connections of this process's pool.\n",
    );
    out.push_str("# TYPE update_mode_db_connections gauge\n");
    let _ = writeln!(
        out,
        "update_mode_db_connections{{state=\"in_use\"}} {}",
        pool.in_use
    );
    let _ = writeln!(
        out,
        "update_mode_db_connections{{state=\"idle\"}} {}",
        pool.idle
    );
    let _ = writeln!(
        out,
        "update_mode_db_connections{{state=\"max\"}} {}",
        pool.max
    );
    out.push_str("# HELP update_mode_db_waiting Requests waiting for a database connection.\n");
    out.push_str("# TYPE update_mode_db_waiting gauge\n");
    let _ = writeln!(out, "update_mode_db_waiting {}", pool.waiting);
    out.push_str("# HELP update_mode_http_connections Open TCP connections of this process, WebSockets included.\n");
    out.push_str("# TYPE update_mode_http_connections gauge\n");
    let _ = writeln!(
        out,
        "update_mode_http_connections{{state=\"open\"}} {}",
        state.open_connections.open()
    );
    let _ = writeln!(
        out,
        "update_mode_http_connections{{state=\"max\"}} {}",
        state.open_connections.max()
    );
    out.push_str(
        "# HELP update_mode_live_connections Open subscription WebSockets of this process.\n",
    );
    out.push_str("# TYPE update_mode_live_connections gauge\n");
    let _ = writeln!(
        out,
        "update_mode_live_connections {}",
        state.connections.open()
    );
    out.push_str("# HELP update_mode_live_subscriptions Running subscriptions of this process.\n");
    out.push_str("# TYPE update_mode_live_subscriptions gauge\n");
    let _ = writeln!(
        out,
        "update_mode_live_subscriptions {}",
        state.services.live.subscriber_count()
    );
    match hook_deliveries::count_by_status(&state.db).await {
        Ok(counts) => {
            out.push_str("# HELP update_mode_hook_deliveries Hook and webhook deliveries, by status (all processes).\n");
            out.push_str("# TYPE update_mode_hook_deliveries gauge\n");
            for (status, count) in counts {
                let _ = writeln!(
                    out,
                    "update_mode_hook_deliveries{{status=\"{status}\"}} {count}"
                );
            }
        }
        Err(error) => tracing::warn!(%error, "cannot count hook deliveries for /metrics"),
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        out,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(operation: &str) -> RequestOutcome {
        RequestOutcome {
            operation: operation.to_owned(),
            outcome: "ok".to_owned(),
        }
    }

    #[test]
    fn client_chosen_operation_names_cannot_grow_the_series_without_bound() {
        let metrics = Metrics::default();
        for i in 0..5000 {
            metrics.observe("/graphql", Some(&outcome(&format!("Op{i}"))), 200, 0.001);
        }
        let requests = metrics.requests.lock().unwrap();
        assert!(requests.len() <= MAX_SERIES + 1);
        assert_eq!(
            requests[&("/graphql".to_owned(), "_other".to_owned(), "ok".to_owned())],
            4000
        );
    }

    #[test]
    fn latencies_fall_into_cumulative_buckets() {
        let metrics = Metrics::default();
        metrics.observe("/healthz", None, 200, 0.0007);
        metrics.observe("/healthz", None, 503, 2.0);
        let mut out = String::new();
        metrics.render_requests(&mut out);
        assert!(out.contains("update_mode_request_duration_seconds_bucket{le=\"0.0005\"} 0"));
        assert!(out.contains("update_mode_request_duration_seconds_bucket{le=\"0.001\"} 1"));
        assert!(out.contains("update_mode_request_duration_seconds_bucket{le=\"5\"} 2"));
        assert!(out.contains("update_mode_request_duration_seconds_count 2"));
        assert!(out.contains("update_mode_errors_total{code=\"503\"} 1"));
    }
}
