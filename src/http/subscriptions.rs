//! GraphQL subscriptions over WebSocket on `GET /graphql`, in the
//! `graphql-transport-ws` protocol: the token in `connection_init`, the
//! caps on connections and subscriptions, server pings, and the close codes
//! that clients act on (4401 token refused or expired, 4408 no
//! `connection_init` in time, 4429 too many connections, 1009 a message over
//! the size cap, 1001 restarting).

use std::collections::HashMap;
use std::future::{Future, ready};
use std::pin::pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use async_graphql::http::{WebSocket as GraphQLWebSocket, WebSocketProtocols, WsMessage};
use async_graphql::parser::types::OperationType;
use async_graphql::{Data, Executor};
use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, Request};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{BoxStream, SplitSink};
use futures_util::{FutureExt, SinkExt, StreamExt};
use serde::Deserialize;
use tokio::sync::watch;
use tungstenite::error::CapacityError;

use super::auth::bearer_token;
use super::graphql::{Refusal, prepare};
use super::{AppState, BodyLimit};
use crate::domain::Principal;
use crate::error::ApiError;
use crate::graphql::{ApiSchema, DocumentLimits};
use crate::service::persisted_queries::PersistedQueries;
use crate::sync::lock;

/// The only subprotocol spoken: the one current GraphQL clients use.
const PROTOCOL: &str = "graphql-transport-ws";

const READ_BUFFER_BYTES: usize = 4096;

/// What may queue for a client whose socket fails to take it.
const MAX_WRITE_BUFFER_BYTES: usize = 1 << 20;

/// What the connections of this process may use; see `config::SubscriptionSettings`.
#[derive(Debug, Clone, Copy)]
pub struct SubscriptionLimits {
    pub per_connection: usize,
    pub ping: Duration,
    pub init_timeout: Duration,
}

/// Whether the process is stopping: open connections are then closed with
/// 1001, so that clients reconnect to another process at once.
#[derive(Clone)]
pub struct Stopping(pub watch::Receiver<bool>);

/// Whether a `GET /graphql` asks for a WebSocket.
pub fn is_upgrade(request: &Request) -> bool {
    request
        .headers()
        .get(header::UPGRADE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.eq_ignore_ascii_case("websocket"))
}

/// Accepts the upgrade; the token is checked once `connection_init` arrives
/// (or taken from the upgrade's `Authorization` header).
pub async fn upgrade(state: AppState, request: Request) -> Response {
    let (mut parts, _) = request.into_parts();
    let header_token = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let BodyLimit(largest) = state.body_limit;
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
        // tungstenite's default buffers (128 KiB each way) made each idle
        // subscriber cost 150 KiB; our messages are small. A message may be
        // as large as a request body, no larger.
        Ok(upgrade) => upgrade
            .protocols([PROTOCOL])
            .read_buffer_size(READ_BUFFER_BYTES)
            .write_buffer_size(0)
            .max_write_buffer_size(MAX_WRITE_BUFFER_BYTES)
            .max_message_size(largest)
            .max_frame_size(largest),
        Err(rejection) => return rejection.into_response(),
    };
    if upgrade.selected_protocol().is_none() {
        return ApiError::new(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "subscribe with the graphql-transport-ws WebSocket subprotocol",
        )
        .into_response();
    }
    upgrade.on_upgrade(move |socket| serve(socket, state, header_token))
}

/// Why a connection is closed, with its code.
struct Close(u16, String);

impl Close {
    fn unauthorized(reason: impl std::fmt::Display) -> Self {
        Close(4401, format!("Unauthorized: {reason}"))
    }

    /// The close frame owed for a failed read: 1009 for a message over the
    /// cap (RFC 6455 §7.4.1), refused by tungstenite from its header alone,
    /// before its body is buffered. Other read errors (the peer is gone, or
    /// its socket broke) leave nobody to tell.
    fn for_read_error(error: &axum::Error) -> Option<Self> {
        let source = std::error::Error::source(error)?;
        match source.downcast_ref::<tungstenite::Error>()? {
            tungstenite::Error::Capacity(CapacityError::MessageTooLong { max_size, .. }) => Some(
                Close(1009, format!("Message too big: at most {max_size} bytes")),
            ),
            _ => None,
        }
    }

    /// A close frame's reason holds at most 123 bytes.
    fn frame(self) -> Message {
        let mut reason = self.1;
        if reason.len() > 123 {
            let mut end = 123;
            while !reason.is_char_boundary(end) {
                end -= 1;
            }
            reason.truncate(end);
        }
        Message::Close(Some(CloseFrame {
            code: self.0,
            reason: reason.into(),
        }))
    }
}

type Sink = SplitSink<WebSocket, Message>;

async fn serve(socket: WebSocket, state: AppState, header_token: Option<String>) {
    let limits = state.subscription_limits;
    let (mut sink, mut source) = socket.split();
    let init = tokio::time::timeout(limits.init_timeout, next_text(&mut source)).await;
    let first = match init {
        Err(_) => {
            close(
                &mut sink,
                Close(4408, "Connection initialisation timeout".into()),
            )
            .await;
            return;
        }
        Ok(Err(Some(refusal))) => {
            close(&mut sink, refusal).await;
            return;
        }
        Ok(Err(None)) => return,
        Ok(Ok(first)) => first,
    };
    let session = match authenticate(&state, &first, header_token.as_deref()).await {
        Ok(session) => session,
        Err(refusal) => {
            close(&mut sink, refusal).await;
            return;
        }
    };
    let Some(_slot) = state.connections.admit(&session.principal) else {
        let limit = state.connections.limit;
        close(
            &mut sink,
            Close(
                4429,
                format!("Too many connections: at most {limit} per subject on each server"),
            ),
        )
        .await;
        return;
    };

    let started = Instant::now();
    let heard = Arc::new(AtomicU64::new(0));
    let heard_from_client = heard.clone();
    // Why reading stopped, when the client is owed a close frame for it.
    let read_fault = Arc::new(Mutex::new(None));
    let read_fault_seen = read_fault.clone();
    // Pings and pongs count as signs of life but are not GraphQL messages.
    let input = futures_util::stream::once(ready(Bytes::from(first))).chain(
        source
            .take_while(move |message| {
                if let Err(error) = message {
                    *lock(&read_fault_seen) = Close::for_read_error(error);
                }
                ready(message.is_ok())
            })
            .filter_map(move |message| {
                heard_from_client.store(millis_since(started), Ordering::Relaxed);
                ready(match message {
                    Ok(Message::Text(text)) => Some(Bytes::from(text)),
                    Ok(Message::Binary(bytes)) => Some(bytes),
                    _ => None,
                })
            }),
    );
    let executor = ConnectionExecutor {
        schema: state.schema.clone(),
        persisted_queries: state.persisted_queries.clone(),
        document_limits: state.document_limits,
        principal: Arc::new(session.principal.clone()),
        running: Arc::new(AtomicUsize::new(0)),
        per_connection: limits.per_connection,
    };
    let principal = session.principal;
    let graphql = GraphQLWebSocket::new(executor, input, WebSocketProtocols::GraphQLWS)
        .on_connection_init(move |_| {
            let mut data = Data::default();
            data.insert(principal);
            ready(Ok(data))
        });
    let mut graphql = pin!(graphql);
    let mut pings =
        tokio::time::interval_at(tokio::time::Instant::now() + limits.ping, limits.ping);
    let expired = tokio::time::sleep_until(until(session.valid_until));
    let mut expired = pin!(expired);
    let mut stopping = state.stopping.0.clone();
    loop {
        tokio::select! {
            message = graphql.next() => match message {
                Some(WsMessage::Text(text)) => {
                    if sink.send(Message::Text(text.into())).await.is_err() {
                        return;
                    }
                }
                Some(WsMessage::Close(code, reason)) => {
                    close(&mut sink, Close(code, reason)).await;
                    return;
                }
                None => {
                    let fault = lock(&read_fault).take();
                    if let Some(fault) = fault {
                        close(&mut sink, fault).await;
                    }
                    return;
                }
            },
            _ = pings.tick() => {
                let silent = millis_since(started).saturating_sub(heard.load(Ordering::Relaxed));
                if u128::from(silent) > 2 * limits.ping.as_millis() {
                    tracing::info!(silent_ms = silent, "closing a WebSocket that stopped answering pings");
                    close(&mut sink, Close(1011, "No answer to pings".into())).await;
                    return;
                }
                if sink.send(Message::Ping(Bytes::new())).await.is_err() {
                    return;
                }
            }
            _ = &mut expired => {
                close(&mut sink, Close::unauthorized("the token expired")).await;
                return;
            }
            _ = stopping.wait_for(|stopping| *stopping).map(|_| ()) => {
                close(&mut sink, Close(1001, "The server is restarting; reconnect".into())).await;
                return;
            }
        }
    }
}

/// How long a closing connection may take to say goodbye.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// Sends the close frame; a peer that does not take it (a dead one) is
/// dropped after `CLOSE_TIMEOUT` rather than held until TCP gives up.
async fn close(sink: &mut Sink, close: Close) {
    let goodbye = async {
        sink.send(close.frame()).await?;
        sink.close().await
    };
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, goodbye).await;
}

/// The next text (or binary) message; else the close frame the client is
/// owed, or nothing when it went away.
async fn next_text(
    source: &mut futures_util::stream::SplitStream<WebSocket>,
) -> Result<String, Option<Close>> {
    while let Some(message) = source.next().await {
        match message.map_err(|error| Close::for_read_error(&error))? {
            Message::Text(text) => return Ok(text.as_str().to_owned()),
            Message::Binary(bytes) => return Ok(String::from_utf8_lossy(&bytes).into_owned()),
            Message::Close(_) => return Err(None),
            Message::Ping(_) | Message::Pong(_) => {}
        }
    }
    Err(None)
}

/// The first message of a connection.
#[derive(Deserialize)]
struct ConnectionInit {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    payload: Option<serde_json::Value>,
}

/// Checks the token of `connection_init`'s payload (`Authorization:
/// Bearer …`), or else of the upgrade request.
async fn authenticate(
    state: &AppState,
    first: &str,
    header_token: Option<&str>,
) -> Result<crate::auth::Session, Close> {
    let init: ConnectionInit = serde_json::from_str(first)
        .map_err(|_| Close(4400, "Invalid message: expected connection_init".into()))?;
    if init.kind != "connection_init" {
        return Err(Close::unauthorized("send connection_init first"));
    }
    let from_payload = init.payload.as_ref().and_then(|payload| {
        payload
            .as_object()?
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("authorization"))
            .and_then(|(_, value)| value.as_str())
    });
    let authorization = from_payload.or(header_token).ok_or_else(|| {
        Close::unauthorized(
            "no token: send { \"Authorization\": \"Bearer <token>\" } in connection_init's payload",
        )
    })?;
    let token = bearer_token(authorization)
        .ok_or_else(|| Close::unauthorized("expected Bearer <token>"))?;
    state
        .verifier
        .verify_session(token)
        .await
        .map_err(Close::unauthorized)
}

fn millis_since(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// The tokio instant of a wall-clock time.
fn until(at: SystemTime) -> tokio::time::Instant {
    let left = at
        .duration_since(SystemTime::now())
        .unwrap_or(Duration::ZERO);
    tokio::time::Instant::now() + left
}

/// The open connections of each principal on this process.
pub struct Connections {
    open: Mutex<HashMap<(String, String), usize>>,
    limit: usize,
}

impl Connections {
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self {
            open: Mutex::new(HashMap::new()),
            limit,
        })
    }

    /// How many connections are open.
    pub fn open(&self) -> usize {
        lock(&self.open).values().sum()
    }

    /// A place for one more connection of the principal, held until dropped.
    fn admit(self: &Arc<Self>, principal: &Principal) -> Option<ConnectionSlot> {
        let key = (principal.workspace_id.clone(), principal.subject.clone());
        let mut open = lock(&self.open);
        let count = open.entry(key.clone()).or_default();
        if *count >= self.limit {
            return None;
        }
        *count += 1;
        Some(ConnectionSlot {
            connections: self.clone(),
            key,
        })
    }
}

struct ConnectionSlot {
    connections: Arc<Connections>,
    key: (String, String),
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut open = lock(&self.connections.open);
        if let Some(count) = open.get_mut(&self.key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// Runs one connection's operations: subscriptions only (queries and
/// mutations go over HTTP, where their limits apply), each through the same
/// checks as an HTTP request, at most `per_connection` at once.
#[derive(Clone)]
struct ConnectionExecutor {
    schema: ApiSchema,
    persisted_queries: Arc<PersistedQueries>,
    document_limits: DocumentLimits,
    principal: Arc<Principal>,
    running: Arc<AtomicUsize>,
    per_connection: usize,
}

impl ConnectionExecutor {
    async fn admit(
        &self,
        mut request: async_graphql::Request,
    ) -> Result<(async_graphql::Request, RunningSubscription), async_graphql::Response> {
        let running =
            RunningSubscription::start(&self.running, self.per_connection).ok_or_else(|| {
                ApiError::in_answer(
                    "TOO_MANY_SUBSCRIPTIONS",
                    format!(
                        "a connection may run at most {} subscriptions at once; complete one first",
                        self.per_connection
                    ),
                )
                .into_answer()
            })?;
        // A subscription's root holds no `__schema`: no description to fill.
        let prepared = prepare(
            &self.persisted_queries,
            &self.document_limits,
            &mut request,
            &self.principal,
        )
        .await
        .map_err(Refusal::into_answer)?;
        if prepared.operation != OperationType::Subscription {
            return Err(ApiError::in_answer(
                "BAD_REQUEST",
                "only subscriptions are served over WebSocket; send queries and mutations with POST /graphql",
            )
            .into_answer());
        }
        Ok((request, running))
    }
}

impl Executor for ConnectionExecutor {
    fn execute(
        &self,
        _request: async_graphql::Request,
    ) -> impl Future<Output = async_graphql::Response> + Send {
        ready(
            ApiError::in_answer(
                "BAD_REQUEST",
                "only subscriptions are served over WebSocket",
            )
            .into_answer(),
        )
    }

    fn execute_stream(
        &self,
        request: async_graphql::Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, async_graphql::Response> {
        let executor = self.clone();
        async move {
            match executor.admit(request).await {
                Ok((request, running)) => executor
                    .schema
                    .execute_stream_with_session_data(request, session_data.unwrap_or_default())
                    .map(move |mut response| {
                        // Held for as long as the subscription runs.
                        let _ = &running;
                        crate::graphql::code_errors(&mut response);
                        response
                    })
                    .boxed(),
                Err(refused) => futures_util::stream::once(ready(refused)).boxed(),
            }
        }
        .flatten_stream()
        .boxed()
    }
}

/// One of a connection's running subscriptions, counted until dropped.
struct RunningSubscription(Arc<AtomicUsize>);

impl RunningSubscription {
    fn start(running: &Arc<AtomicUsize>, limit: usize) -> Option<Self> {
        running
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |count| {
                (count < limit).then_some(count + 1)
            })
            .ok()
            .map(|_| Self(running.clone()))
    }
}

impl Drop for RunningSubscription {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn close_reasons_fit_a_frame() {
        let Message::Close(Some(frame)) = Close::unauthorized("é".repeat(100)).frame() else {
            panic!("not a close frame");
        };
        assert_eq!(frame.code, 4401);
        assert!(frame.reason.as_str().len() <= 123);
        assert!(frame.reason.as_str().starts_with("Unauthorized: "));
    }

    #[test]
    fn each_principal_holds_at_most_its_share_of_connections() {
        let connections = Connections::new(2);
        let alice = Principal {
            subject: "alice".into(),
            workspace_id: "acme".into(),
            roles: BTreeSet::new(),
        };
        let bob = Principal {
            subject: "bob".into(),
            ..alice.clone()
        };
        let first = connections.admit(&alice).unwrap();
        let _second = connections.admit(&alice).unwrap();
        assert!(connections.admit(&alice).is_none());
        assert!(connections.admit(&bob).is_some());
        drop(first);
        assert!(connections.admit(&alice).is_some());
    }

    #[test]
    fn a_connection_runs_at_most_its_share_of_subscriptions() {
        let running = Arc::new(AtomicUsize::new(0));
        let first = RunningSubscription::start(&running, 1).unwrap();
        assert!(RunningSubscription::start(&running, 1).is_none());
        drop(first);
        assert!(RunningSubscription::start(&running, 1).is_some());
        assert_eq!(running.load(Ordering::Acquire), 0);
    }
}
