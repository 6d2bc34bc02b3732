//! A webhook receiver on 127.0.0.1, as a partner would run one, and the
//! integration steps around it: registering, reading the delivery log.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use serde_json::{Value, json};

use super::server::TestServer;
use super::tokens::admin;
use super::wait::eventually;

/// One request a receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: http::HeaderMap,
    pub body: String,
    pub status: u16,
}

impl Received {
    pub fn webhook_id(&self) -> String {
        self.headers["webhook-id"].to_str().unwrap().to_owned()
    }

    /// The body, after checking the signature as any Standard Webhooks
    /// library does.
    pub fn verified(&self, secret: &str) -> Value {
        standardwebhooks::Webhook::new(secret)
            .expect("a Standard Webhooks secret")
            .verify(self.body.as_bytes(), &self.headers)
            .expect("a valid signature");
        serde_json::from_str(&self.body).expect("a JSON body")
    }
}

#[derive(Default)]
struct ReceiverState {
    received: Mutex<Vec<Received>>,
    failures_left: AtomicUsize,
}

pub struct Receiver {
    pub url: String,
    state: Arc<ReceiverState>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        Receiver::start_on("127.0.0.1:0".parse().unwrap()).await
    }

    pub async fn start_on(address: std::net::SocketAddr) -> Receiver {
        use axum::routing::post;
        let state = Arc::new(ReceiverState::default());
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .expect("bind the receiver");
        let url = format!("http://{}/hooks", listener.local_addr().unwrap());
        let app = axum::Router::new()
            .route(
                "/hooks",
                post(
                    |State(state): State<Arc<ReceiverState>>,
                     headers: http::HeaderMap,
                     body: String| async move {
                        let failing = state
                            .failures_left
                            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                                left.checked_sub(1)
                            })
                            .is_ok();
                        let status = if failing { 500 } else { 204 };
                        state.received.lock().unwrap().push(Received {
                            headers,
                            body,
                            status,
                        });
                        http::StatusCode::from_u16(status).unwrap()
                    },
                ),
            )
            // A redirect to the real endpoint, which senders must not follow.
            .route(
                "/moved",
                post(|| async {
                    (
                        http::StatusCode::TEMPORARY_REDIRECT,
                        [(http::header::LOCATION, "/hooks")],
                    )
                }),
            )
            .with_state(state.clone());
        let stop = serve_in_background(listener, app);
        Receiver {
            url,
            state,
            stop: Some(stop),
        }
    }

    /// Answers the next `count` requests with HTTP 500.
    pub fn fail_next(&self, count: usize) {
        self.state.failures_left.store(count, Ordering::SeqCst);
    }

    /// Every request so far, answered or not.
    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    /// The requests answered with success.
    pub fn delivered(&self) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.status < 300)
            .collect()
    }

    /// Waits until `count` requests were answered with success.
    pub async fn wait_for(&self, count: usize) -> Vec<Received> {
        eventually(
            Duration::from_secs(30),
            &format!("{count} deliveries"),
            || async {
                let delivered = self.delivered();
                (delivered.len() >= count).then_some(delivered)
            },
        )
        .await
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Serves an app of the test's (a receiver, a key server) on `listener`
/// until the returned sender is used or dropped.
pub fn serve_in_background(
    listener: tokio::net::TcpListener,
    app: axum::Router,
) -> tokio::sync::oneshot::Sender<()> {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await;
    });
    stop
}

pub const REGISTER: &str = "mutation($input: RegisterReleaseIntegrationInput!) {
    registerReleaseIntegration(input: $input) { integration { id name url events active } secret }
}";

/// Registers an integration for every event; returns its id and secret.
pub async fn register_integration(server: &TestServer, url: &str) -> (String, String) {
    let events = [
        "UPDATE_MODE_CHANGED",
        "VERSION_SUBMITTED_FOR_RELEASE_APPROVAL",
        "VERSION_APPROVED",
        "VERSION_REJECTED",
        "VERSION_RELEASED",
        "VERSION_OFFLINE",
    ];
    let response = server
        .gql(
            &admin(),
            REGISTER,
            json!({ "input": { "name": "Review desk", "url": url, "events": events } }),
        )
        .await;
    let created = &response.data()["registerReleaseIntegration"];
    (
        created["integration"]["id"].as_str().unwrap().to_owned(),
        created["secret"].as_str().unwrap().to_owned(),
    )
}

/// The whole delivery log of an integration, oldest first.
pub async fn deliveries(server: &TestServer, integration: &str) -> Vec<Value> {
    let mut log = Vec::new();
    let mut after = Value::Null;
    loop {
        let response = server
            .gql(
                &admin(),
                "query($after: String) { releaseIntegrations { id deliveries(first: 100, after: $after) {
                    pageInfo { hasNextPage endCursor }
                    nodes { eventId eventType status attempts lastError nextAttemptAt deliveredAt }
                } } }",
                json!({ "after": after }),
            )
            .await;
        let integrations = response.data()["releaseIntegrations"].as_array().unwrap();
        let page = &integrations
            .iter()
            .find(|i| i["id"] == integration)
            .expect("the integration")["deliveries"];
        log.extend(page["nodes"].as_array().unwrap().iter().cloned());
        if page["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
    log.reverse();
    log
}
