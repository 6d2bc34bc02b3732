//! `GET /metrics` in the Prometheus text format: requests by route,
//! operation and outcome, their latency, errors by code, the database pool,
//! and hook deliveries by status. Counters are this process's; scrape every
//! process. metrics-exporter-prometheus keeps the series and writes the
//! exposition; this module names the series and bounds what clients add.

use std::collections::HashSet;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusRecorder};

use super::AppState;
use crate::domain::DeliveryStatus;
use crate::sync::lock;

const REQUESTS: &str = "update_mode_requests_total";
const ERRORS: &str = "update_mode_errors_total";
const DURATION: &str = "update_mode_request_duration_seconds";

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// Where operation names past the bound are counted.
const OTHER: &str = "_other";

/// The most request series kept.
const MAX_SERIES: usize = 1000;

/// How often latencies recorded since the last scrape are folded into the
/// histogram, so that memory stays flat however rarely the scraper comes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// What the GraphQL handler knows of a request, for the request log and metrics.
#[derive(Debug, Clone)]
pub struct RequestOutcome {
    pub operation: String,
    /// `ok`, or the first error's code.
    pub outcome: String,
}

/// This process's request counters and latencies. The recorder is this
/// server's own, not the global one, so that servers embedded side by side
/// (as the tests run them) count apart.
pub struct Metrics {
    recorder: PrometheusRecorder,
    /// The request series so far, by the hash of route, operation and
    /// outcome: checking one allocates nothing, on every request.
    series: Mutex<HashSet<u64>>,
    hasher: RandomState,
}

impl Metrics {
    pub fn new() -> Result<Self, BuildError> {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(DURATION.to_owned()), &BUCKETS)?
            .build_recorder();
        metrics::with_local_recorder(&recorder, || {
            describe_counter!(
                REQUESTS,
                "Requests answered, by route, GraphQL operation and outcome."
            );
            describe_counter!(
                ERRORS,
                "Requests that failed, by error code (or HTTP status)."
            );
            describe_histogram!(DURATION, "Time to answer a request.");
            // Registered now, the histogram is shown (empty) from the first scrape.
            let _registered = histogram!(DURATION);
        });
        Ok(Self {
            recorder,
            series: Mutex::default(),
            hasher: RandomState::new(),
        })
    }

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
        let operation = self.bounded(route, operation, &outcome);
        metrics::with_local_recorder(&self.recorder, || {
            if outcome != "ok" {
                counter!(ERRORS, "code" => outcome.clone()).increment(1);
            }
            counter!(
                REQUESTS,
                "route" => route.to_owned(),
                "operation" => operation,
                "outcome" => outcome,
            )
            .increment(1);
            histogram!(DURATION).record(seconds);
        });
    }

    /// Operation names are the client's to choose: past a bound, new ones
    /// share one series rather than grow memory and the scrape.
    fn bounded(&self, route: &str, operation: String, outcome: &str) -> String {
        let mut series = lock(&self.series);
        let key = self.hasher.hash_one((route, operation.as_str(), outcome));
        if series.contains(&key) {
            return operation;
        }
        if series.len() >= MAX_SERIES {
            series.insert(self.hasher.hash_one((route, OTHER, outcome)));
            return OTHER.to_owned();
        }
        series.insert(key);
        operation
    }

    fn render(&self) -> String {
        self.recorder.handle().render()
    }

    /// Folds recorded latencies into the histogram every few seconds; runs
    /// until the task is aborted.
    pub async fn run_upkeep_periodically(self: Arc<Self>) {
        let handle = self.recorder.handle();
        let mut every = tokio::time::interval(UPKEEP_EVERY);
        loop {
            every.tick().await;
            handle.run_upkeep();
        }
    }
}

/// `GET /metrics`. Meant for the operator's scraper: expose it on the
/// internal network only.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let deliveries = hook_deliveries_by_status(&state).await;
    let mut out = state.metrics.render();
    out.push_str(&scrape_time_gauges(&state, deliveries.as_deref()));
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        out,
    )
        .into_response()
}

/// The one read of storage a scrape makes: deliveries by status, over all
/// processes. `None` when the database does not answer, so that the scrape
/// leaves the series out rather than showing old counts.
async fn hook_deliveries_by_status(state: &AppState) -> Option<Vec<(DeliveryStatus, i64)>> {
    match crate::service::integrations::delivery_counts(&state.services).await {
        Ok(counts) => Some(counts),
        Err(error) => {
            tracing::warn!(?error, "cannot count hook deliveries for /metrics");
            None
        }
    }
}

/// The gauges read as the scrape comes: pool, connections, subscriptions
/// and deliveries. They go into a recorder made for this scrape alone, so
/// each answer shows exactly what was read for it, even when two scrapers
/// come at once.
fn scrape_time_gauges(state: &AppState, deliveries: Option<&[(DeliveryStatus, i64)]>) -> String {
    let recorder = PrometheusBuilder::new().build_recorder();
    let pool = state.db.pool_status();
    metrics::with_local_recorder(&recorder, || {
        describe_gauge!(
            "update_mode_db_connections",
            "Database connections of this process's pool."
        );
        gauge!("update_mode_db_connections", "state" => "in_use").set(pool.in_use as f64);
        gauge!("update_mode_db_connections", "state" => "idle").set(pool.idle as f64);
        gauge!("update_mode_db_connections", "state" => "max").set(pool.max as f64);
        describe_gauge!(
            "update_mode_db_waiting",
            "Requests waiting for a database connection."
        );
        gauge!("update_mode_db_waiting").set(pool.waiting as f64);
        describe_gauge!(
            "update_mode_http_connections",
            "Open TCP connections of this process, WebSockets included."
        );
        gauge!("update_mode_http_connections", "state" => "open")
            .set(state.open_connections.open() as f64);
        gauge!("update_mode_http_connections", "state" => "max")
            .set(state.open_connections.max() as f64);
        describe_gauge!(
            "update_mode_live_connections",
            "Open subscription WebSockets of this process."
        );
        gauge!("update_mode_live_connections").set(state.connections.open() as f64);
        describe_gauge!(
            "update_mode_live_subscriptions",
            "Running subscriptions of this process."
        );
        gauge!("update_mode_live_subscriptions").set(state.services.live.subscriber_count() as f64);
        if let Some(deliveries) = deliveries {
            describe_gauge!(
                "update_mode_hook_deliveries",
                "Hook and webhook deliveries, by status (all processes)."
            );
            for &(status, count) in deliveries {
                gauge!("update_mode_hook_deliveries", "status" => status.as_str())
                    .set(count as f64);
            }
        }
    });
    recorder.handle().render()
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

    fn line<'a>(text: &'a str, series: &str) -> Option<&'a str> {
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
    }

    #[test]
    fn client_chosen_operation_names_cannot_grow_the_series_without_bound() {
        let metrics = Metrics::new().unwrap();
        for i in 0..5000 {
            metrics.observe("/graphql", Some(&outcome(&format!("Op{i}"))), 200, 0.001);
        }
        let text = metrics.render();
        let series = text
            .lines()
            .filter(|line| line.starts_with("update_mode_requests_total{"))
            .count();
        assert!(series <= MAX_SERIES + 1, "{series} series");
        assert_eq!(
            line(
                &text,
                r#"update_mode_requests_total{route="/graphql",operation="_other",outcome="ok"}"#
            ),
            Some("4000")
        );
        assert_eq!(
            line(
                &text,
                r#"update_mode_requests_total{route="/graphql",operation="Op0",outcome="ok"}"#
            ),
            Some("1"),
            "names seen before the bound keep their series"
        );
    }

    #[test]
    fn latencies_fall_into_cumulative_buckets_and_errors_are_counted_by_code() {
        let metrics = Metrics::new().unwrap();
        let empty = metrics.render();
        assert_eq!(
            line(
                &empty,
                r#"update_mode_request_duration_seconds_bucket{le="+Inf"}"#
            ),
            Some("0"),
            "the histogram is there before the first request"
        );
        metrics.observe("/healthz", None, 200, 0.0007);
        metrics.observe("/healthz", None, 503, 2.0);
        let text = metrics.render();
        for (series, value) in [
            (
                r#"update_mode_request_duration_seconds_bucket{le="0.0005"}"#,
                "0",
            ),
            (
                r#"update_mode_request_duration_seconds_bucket{le="0.001"}"#,
                "1",
            ),
            (
                r#"update_mode_request_duration_seconds_bucket{le="5"}"#,
                "2",
            ),
            (
                r#"update_mode_request_duration_seconds_bucket{le="+Inf"}"#,
                "2",
            ),
            ("update_mode_request_duration_seconds_count", "2"),
            (r#"update_mode_errors_total{code="503"}"#, "1"),
            (
                r#"update_mode_requests_total{route="/healthz",operation="",outcome="ok"}"#,
                "1",
            ),
        ] {
            assert_eq!(line(&text, series), Some(value), "{series} in\n{text}");
        }
        assert!(text.contains("# HELP update_mode_requests_total Requests answered"));
        assert!(text.contains("# TYPE update_mode_request_duration_seconds histogram"));
        assert!(!text.contains("update_mode_errors_total{code=\"ok\"}"));
    }

    #[test]
    fn labels_are_escaped() {
        let metrics = Metrics::new().unwrap();
        metrics.observe("/graphql", Some(&outcome("a\"b\nc")), 200, 0.001);
        let text = metrics.render();
        assert!(text.contains(r#"operation="a\"b\nc""#), "{text}");
    }
}
