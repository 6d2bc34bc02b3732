//! A `graphql-transport-ws` client over a real WebSocket, as a GraphQL
//! client library would speak it.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::server::TestServer;
use super::wait::eventually;

/// How long a test waits for a message it expects.
pub const WAIT: Duration = Duration::from_secs(10);

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The code and reason a connection was closed with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closed {
    pub code: u16,
    pub reason: String,
}

pub struct LiveClient {
    socket: Socket,
}

/// Opens a WebSocket on the server's /graphql with the subprotocol.
pub async fn open(server: &TestServer) -> Socket {
    open_with(server, None).await
}

/// Opens a WebSocket, with an `Authorization` header on the upgrade request.
pub async fn open_with(server: &TestServer, authorization: Option<&str>) -> Socket {
    let url = format!("{}/graphql", server.url.replacen("http", "ws", 1));
    let mut request = url.into_client_request().expect("a WebSocket request");
    request.headers_mut().insert(
        "sec-websocket-protocol",
        HeaderValue::from_static("graphql-transport-ws"),
    );
    if let Some(authorization) = authorization {
        request.headers_mut().insert(
            "authorization",
            HeaderValue::from_str(authorization).expect("a header value"),
        );
    }
    let (socket, response) = tokio_tungstenite::connect_async(request)
        .await
        .expect("the WebSocket upgrade");
    assert_eq!(
        response.headers()["sec-websocket-protocol"],
        "graphql-transport-ws"
    );
    socket
}

impl LiveClient {
    /// Connects with the token in `connection_init`'s payload, as browsers must.
    pub async fn connect(server: &TestServer, token: &str) -> LiveClient {
        LiveClient::try_connect(
            server,
            json!({ "Authorization": format!("Bearer {token}") }),
        )
        .await
        .unwrap_or_else(|closed| panic!("the connection was refused: {closed:?}"))
    }

    /// Sends `connection_init` with `payload`; the acknowledgement, or how
    /// the server closed the connection.
    pub async fn try_connect(server: &TestServer, payload: Value) -> Result<LiveClient, Closed> {
        let socket = open(server).await;
        LiveClient::init(socket, Some(payload)).await
    }

    pub async fn init(mut socket: Socket, payload: Option<Value>) -> Result<LiveClient, Closed> {
        let init = match payload {
            Some(payload) => json!({ "type": "connection_init", "payload": payload }),
            None => json!({ "type": "connection_init" }),
        };
        socket
            .send(Message::text(init.to_string()))
            .await
            .expect("send connection_init");
        let mut client = LiveClient { socket };
        match client.next_event().await {
            Event::Message(message) if message["type"] == "connection_ack" => Ok(client),
            Event::Message(message) => panic!("expected connection_ack, got {message}"),
            Event::Closed(closed) => Err(closed),
        }
    }

    pub async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        self.send(json!({
            "id": id,
            "type": "subscribe",
            "payload": { "query": query, "variables": variables },
        }))
        .await;
    }

    /// Stops a subscription, as `complete` from the client.
    pub async fn complete(&mut self, id: &str) {
        self.send(json!({ "id": id, "type": "complete" })).await;
    }

    pub async fn send(&mut self, message: Value) {
        self.socket
            .send(Message::text(message.to_string()))
            .await
            .expect("send a message");
    }

    /// The payload of the next `next` message for `id`; panics on anything else.
    pub async fn next_payload(&mut self, id: &str) -> Value {
        match self.next_event().await {
            Event::Message(message) if message["type"] == "next" && message["id"] == id => {
                message["payload"].clone()
            }
            other => panic!("expected `next` for {id}, got {other:?}"),
        }
    }

    /// The data of the next `next` message for `id`, which must have no errors.
    pub async fn next_data(&mut self, id: &str) -> Value {
        let payload = self.next_payload(id).await;
        assert!(payload.get("errors").is_none(), "errors: {payload}");
        payload["data"].clone()
    }

    /// The code of the error that ends subscription `id`, which must then complete.
    pub async fn ended_with(&mut self, id: &str) -> String {
        let payload = self.next_payload(id).await;
        let code = payload["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("no error code in {payload}"))
            .to_owned();
        self.expect_complete(id).await;
        code
    }

    pub async fn expect_complete(&mut self, id: &str) {
        match self.next_event().await {
            Event::Message(message) if message["type"] == "complete" && message["id"] == id => {}
            other => panic!("expected `complete` for {id}, got {other:?}"),
        }
    }

    /// The next protocol message, whichever subscription it is for; panics
    /// if the connection closes.
    pub async fn next_message(&mut self) -> Value {
        match self.next_event().await {
            Event::Message(message) => message,
            Event::Closed(closed) => {
                panic!("expected a message, the connection closed: {closed:?}")
            }
        }
    }

    /// Reads until the server has pinged `count` times (each ping answered
    /// as it is read); panics on any message or close before that.
    pub async fn expect_pings(&mut self, count: usize) {
        let mut pings = 0;
        while pings < count {
            let frame = tokio::time::timeout(WAIT, self.socket.next())
                .await
                .expect("a ping in time");
            match frame {
                Some(Ok(Message::Ping(_))) => pings += 1,
                Some(Ok(Message::Pong(_) | Message::Frame(_))) => {}
                other => panic!("expected only pings, got {other:?}"),
            }
        }
    }

    /// How the server closes the connection, within `WAIT`.
    pub async fn expect_closed(&mut self) -> Closed {
        match self.next_event().await {
            Event::Closed(closed) => closed,
            Event::Message(message) => panic!("expected the connection to close, got {message}"),
        }
    }

    /// The next protocol message or the close, skipping WebSocket pings
    /// (which tungstenite answers itself while it reads).
    pub async fn next_event(&mut self) -> Event {
        next_event(&mut self.socket).await
    }
}

/// Waits until the server runs `count` subscriptions (each listening from
/// then on), as its metrics tell: subscribing has no acknowledgement.
pub async fn wait_for_subscriptions(server: &TestServer, count: u64) {
    wait_for_gauge(server, "update_mode_live_subscriptions", count).await;
}

/// Waits until the server's metrics gauge `name` reads `value`.
pub async fn wait_for_gauge(server: &TestServer, name: &str, value: u64) {
    eventually(WAIT, name, || async {
        let metrics = server
            .http()
            .get(format!("{}/metrics", server.url))
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        let current = metrics
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{name} ")))?
            .parse::<u64>()
            .ok()?;
        (current == value).then_some(())
    })
    .await;
}

#[derive(Debug)]
pub enum Event {
    Message(Value),
    Closed(Closed),
}

pub async fn next_event(socket: &mut Socket) -> Event {
    let read = async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Text(text))) => {
                    return Event::Message(serde_json::from_str(&text).expect("a JSON message"));
                }
                Some(Ok(Message::Close(frame))) => {
                    return Event::Closed(frame.map_or(
                        Closed {
                            code: 1005,
                            reason: String::new(),
                        },
                        |frame| Closed {
                            code: frame.code.into(),
                            reason: frame.reason.to_string(),
                        },
                    ));
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => {
                    return Event::Closed(Closed {
                        code: 1006,
                        reason: error.to_string(),
                    });
                }
                None => {
                    return Event::Closed(Closed {
                        code: 1006,
                        reason: "the connection ended".into(),
                    });
                }
            }
        }
    };
    tokio::time::timeout(WAIT, read)
        .await
        .expect("a WebSocket message in time")
}
