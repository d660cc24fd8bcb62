//! A small Chrome DevTools Protocol client: one websocket to the browser,
//! flattened sessions (`Target.attachToTarget { flatten: true }`), JSON in
//! and out.
//!
//! - [`Cdp::call`] sends a command and waits for its answer; an error
//!   answer is [`CdpError::Protocol`], a lost connection
//!   [`CdpError::Closed`] (every waiting call is woken with it).
//! - [`Cdp::send`] is fire-and-forget, for replies to events
//!   (`Fetch.continueRequest`, `Page.handleJavaScriptDialog`) that must not
//!   hold up the event pump.
//! - Events of a session go to the channel registered for it; browser-level
//!   events go to the one browser sink, if any. Events nobody listens to are
//!   dropped.
//!
//! The reader task never stops on a message it does not understand (it logs
//! and skips it); it stops only when the socket closes, and then marks the
//! client closed.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
};

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::{Message, protocol::WebSocketConfig};
use tokio_util::{sync::CancellationToken, task::AbortOnDropHandle};

/// Largest message accepted: a 1366 × 16 000 PNG, base64-encoded, with room.
const MAX_MESSAGE: usize = 512 * 1024 * 1024;

/// A CDP event.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    /// `Page.loadEventFired`…
    pub method: String,
    /// Its parameters (`{}` when absent).
    pub params: Value,
    /// The flattened session it came from; `None` for the browser.
    pub session: Option<String>,
}

/// Why a command got no result.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum CdpError {
    /// The websocket closed (the browser died or was killed).
    #[error("the DevTools connection closed: {0}")]
    Closed(String),
    /// Chromium answered with an error.
    #[error("{message} (code {code})")]
    Protocol {
        /// JSON-RPC error code.
        code: i64,
        /// Chromium's message.
        message: String,
    },
}

type Pending = HashMap<u64, oneshot::Sender<Result<Value, CdpError>>>;

struct Inner {
    outgoing: mpsc::UnboundedSender<Message>,
    pending: Mutex<Pending>,
    sessions: Mutex<HashMap<String, mpsc::UnboundedSender<Event>>>,
    browser_sink: Mutex<Option<mpsc::UnboundedSender<Event>>>,
    next_id: AtomicU64,
    closed_reason: Mutex<Option<String>>,
    closed: CancellationToken,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A connection to one browser.
#[derive(Clone)]
pub(crate) struct Cdp {
    inner: Arc<Inner>,
    _tasks: Arc<[AbortOnDropHandle<()>; 2]>,
}

impl std::fmt::Debug for Cdp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cdp")
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

impl Cdp {
    /// Connect to the browser endpoint `ws://127.0.0.1:PORT/devtools/browser/ID`.
    pub(crate) async fn connect(ws_url: &str) -> Result<Self, String> {
        let config = WebSocketConfig::default()
            .max_message_size(Some(MAX_MESSAGE))
            .max_frame_size(Some(MAX_MESSAGE));
        let (socket, _) = tokio_tungstenite::connect_async_with_config(ws_url, Some(config), true)
            .await
            .map_err(|e| format!("cannot open the DevTools websocket: {e}"))?;
        let (mut sink, mut stream) = socket.split();
        let (outgoing, mut queue) = mpsc::unbounded_channel::<Message>();
        let inner = Arc::new(Inner {
            outgoing,
            pending: Mutex::new(HashMap::new()),
            sessions: Mutex::new(HashMap::new()),
            browser_sink: Mutex::new(None),
            next_id: AtomicU64::new(1),
            closed_reason: Mutex::new(None),
            closed: CancellationToken::new(),
        });

        let writer_inner = Arc::clone(&inner);
        let writer = tokio::spawn(async move {
            loop {
                tokio::select! {
                    message = queue.recv() => {
                        let Some(message) = message else { break };
                        if let Err(e) = sink.send(message).await {
                            writer_inner.close(format!("write failed: {e}"));
                            break;
                        }
                    }
                    () = writer_inner.closed.cancelled() => break,
                }
            }
            let _ = sink.close().await;
        });

        let reader_inner = Arc::clone(&inner);
        let reader = tokio::spawn(async move {
            let reason = loop {
                match stream.next().await {
                    Some(Ok(Message::Text(text))) => reader_inner.dispatch(text.as_str()),
                    Some(Ok(Message::Binary(bytes))) => match std::str::from_utf8(&bytes) {
                        Ok(text) => reader_inner.dispatch(text),
                        Err(_) => tracing::debug!("skipping a binary DevTools message"),
                    },
                    Some(Ok(Message::Close(frame))) => {
                        break format!("the browser closed the connection ({frame:?})");
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => break format!("read failed: {e}"),
                    None => break "the socket ended".to_owned(),
                }
            };
            reader_inner.close(reason);
        });

        Ok(Self {
            inner,
            _tasks: Arc::new([AbortOnDropHandle::new(writer), AbortOnDropHandle::new(reader)]),
        })
    }

    /// Send a command and wait for its result.
    pub(crate) async fn call(
        &self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> Result<Value, CdpError> {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        lock(&self.inner.pending).insert(id, tx);
        if let Some(reason) = self.closed_reason() {
            lock(&self.inner.pending).remove(&id);
            return Err(CdpError::Closed(reason));
        }
        self.inner.write(id, session, method, params);
        match rx.await {
            Ok(result) => result,
            Err(_) => Err(CdpError::Closed(
                self.closed_reason()
                    .unwrap_or_else(|| "the reader stopped".to_owned()),
            )),
        }
    }

    /// Send a command without waiting for its answer.
    pub(crate) fn send(&self, session: Option<&str>, method: &str, params: Value) {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        self.inner.write(id, session, method, params);
    }

    /// Route the events of `session` to `events`.
    pub(crate) fn subscribe(&self, session: &str, events: mpsc::UnboundedSender<Event>) {
        lock(&self.inner.sessions).insert(session.to_owned(), events);
    }

    /// Stop routing the events of `session`.
    pub(crate) fn unsubscribe(&self, session: &str) {
        lock(&self.inner.sessions).remove(session);
    }

    /// Route browser-level events to `sink` (replacing any other), or drop
    /// them.
    pub(crate) fn set_browser_sink(&self, sink: Option<mpsc::UnboundedSender<Event>>) {
        *lock(&self.inner.browser_sink) = sink;
    }

    /// Whether the connection is gone.
    pub(crate) fn is_closed(&self) -> bool {
        self.inner.closed.is_cancelled()
    }

    /// Why the connection closed, once it has.
    pub(crate) fn closed_reason(&self) -> Option<String> {
        lock(&self.inner.closed_reason).clone()
    }

    /// Completes when the connection closes.
    pub(crate) async fn closed(&self) {
        self.inner.closed.cancelled().await;
    }
}

impl Inner {
    fn write(&self, id: u64, session: Option<&str>, method: &str, params: Value) {
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let (Some(session), Some(object)) = (session, message.as_object_mut()) {
            object.insert("sessionId".to_owned(), Value::String(session.to_owned()));
        }
        // A closed queue means the writer stopped; `close` then answers the
        // pending call.
        let _ = self.outgoing.send(Message::text(message.to_string()));
    }

    fn dispatch(&self, text: &str) {
        let mut message: Value = match serde_json::from_str(text) {
            Ok(message) => message,
            Err(e) => {
                tracing::debug!(error = %e, "skipping a DevTools message that is not JSON");
                return;
            }
        };
        if let Some(id) = message.get("id").and_then(Value::as_u64) {
            let Some(waiter) = lock(&self.pending).remove(&id) else {
                return; // a fire-and-forget command
            };
            let result = match message.get_mut("error") {
                Some(error) => Err(CdpError::Protocol {
                    code: error.get("code").and_then(Value::as_i64).unwrap_or(0),
                    message: error
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("no message")
                        .to_owned(),
                }),
                None => Ok(message.get_mut("result").map(Value::take).unwrap_or(Value::Null)),
            };
            let _ = waiter.send(result);
            return;
        }
        let Some(method) = message.get("method").and_then(Value::as_str).map(str::to_owned) else {
            tracing::debug!("skipping a DevTools message with neither id nor method");
            return;
        };
        let session = message
            .get("sessionId")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let params = message
            .get_mut("params")
            .map(Value::take)
            .unwrap_or_else(|| json!({}));
        let event = Event {
            method,
            params,
            session: session.clone(),
        };
        let sender = match &session {
            Some(id) => lock(&self.sessions).get(id).cloned(),
            None => lock(&self.browser_sink).clone(),
        };
        if let Some(sender) = sender {
            let _ = sender.send(event);
        }
    }

    fn close(&self, reason: String) {
        {
            let mut closed = lock(&self.closed_reason);
            if closed.is_none() {
                *closed = Some(reason.clone());
            }
        }
        self.closed.cancel();
        let pending: Vec<_> = lock(&self.pending).drain().collect();
        for (_, waiter) in pending {
            let _ = waiter.send(Err(CdpError::Closed(reason.clone())));
        }
        // Dropping the senders ends every listener's stream.
        lock(&self.sessions).clear();
        lock(&self.browser_sink).take();
    }
}

#[cfg(test)]
mod tests {
    use tokio::net::TcpListener;

    use super::*;

    async fn next_command(
        ws: &mut tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
    ) -> Option<Value> {
        loop {
            match ws.next().await? {
                Ok(Message::Text(text)) => return serde_json::from_str(text.as_str()).ok(),
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
    }

    #[tokio::test]
    async fn junk_and_error_answers_do_not_stop_the_reader_and_a_lost_socket_fails_waiting_calls() {
        // Arrange: a fake browser endpoint.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
            let first = next_command(&mut ws).await.unwrap();
            for junk in [
                "not json".to_owned(),
                json!({"neither": "id nor method"}).to_string(),
                json!({"id": 999_999, "result": {}}).to_string(),
                json!({"method": "Page.loadEventFired", "sessionId": "S", "params": {"timestamp": 1.0}})
                    .to_string(),
                json!({"method": "Unheard.event", "sessionId": "nobody"}).to_string(),
                json!({"id": first["id"], "error": {"code": -32000, "message": "No target with given id"}})
                    .to_string(),
            ] {
                ws.send(Message::text(junk)).await.unwrap();
            }
            let second = next_command(&mut ws).await.unwrap();
            assert_eq!(second["sessionId"], "S");
            assert_eq!(second["method"], "Page.navigate");
            ws.send(Message::text(
                json!({"id": second["id"], "result": {"frameId": "F"}}).to_string(),
            ))
            .await
            .unwrap();
            // The third command is never answered: the "browser" dies.
            let _third = next_command(&mut ws).await;
            drop(ws);
        });
        let cdp = Cdp::connect(&format!("ws://{addr}/devtools/browser/test"))
            .await
            .unwrap();
        let (events, mut received) = mpsc::unbounded_channel();
        cdp.subscribe("S", events);

        // Act + Assert: an error answer is a protocol error…
        let error = cdp
            .call(None, "Target.attachToTarget", json!({}))
            .await
            .unwrap_err();
        assert!(
            matches!(&error, CdpError::Protocol { code: -32000, message } if message.contains("No target")),
            "{error}"
        );
        // …the session's event arrived despite the junk around it…
        let event = received.recv().await.unwrap();
        assert_eq!(event.method, "Page.loadEventFired");
        assert_eq!(event.session.as_deref(), Some("S"));
        // …the reader still answers…
        let answer = cdp
            .call(Some("S"), "Page.navigate", json!({"url": "about:blank"}))
            .await
            .unwrap();
        assert_eq!(answer["frameId"], "F");
        // …and a call waiting when the socket goes is woken with Closed.
        let error = cdp.call(None, "Browser.getVersion", json!({})).await.unwrap_err();
        assert!(matches!(error, CdpError::Closed(_)), "{error}");
        server.await.unwrap();
        assert!(cdp.is_closed());
        assert!(received.recv().await.is_none(), "listeners see the end");
        let error = cdp.call(None, "Browser.getVersion", json!({})).await.unwrap_err();
        assert!(matches!(error, CdpError::Closed(_)), "{error}");
    }
}
