//! Live device events over a WebSocket.

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use protocol::TokenId;
use tokio::sync::broadcast::error::RecvError;

use super::extract::Principal;
use super::problem::Problem;
use super::AppState;
use crate::devices::hub::Hub;

/// Upgrades to a WebSocket that carries [`crate::devices::hub::DeviceEvent`]s as JSON text
/// messages: status and job events of every device, scans and tag reads of the devices this
/// token has claimed.
#[utoipa::path(get, path = "/v1/events", tag = "devices", security(("bearer" = [])),
    responses((status = 101, description = "WebSocket of device events (JSON text frames)"),
        (status = 401, body = Problem)))]
pub async fn events(State(state): State<AppState>, p: Principal, ws: WebSocketUpgrade) -> Response {
    let hub = state.hub.clone();
    ws.on_upgrade(move |socket| forward(socket, hub, p.token))
}

async fn forward(mut socket: WebSocket, hub: Hub, token: TokenId) {
    let mut rx = hub.subscribe();
    loop {
        tokio::select! {
            event = rx.recv() => match event {
                Ok(event) => {
                    if !hub.visible_to(&event, token) {
                        continue;
                    }
                    let text = serde_json::to_string(&event).unwrap_or_default();
                    if socket.send(Message::Text(text.into())).await.is_err() {
                        return;
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    let note = serde_json::json!({ "type": "lagged", "missed": missed });
                    if socket.send(Message::Text(note.to_string().into())).await.is_err() {
                        return;
                    }
                }
                Err(RecvError::Closed) => return,
            },
            incoming = socket.recv() => match incoming {
                // Clients only listen; pings are answered by axum, anything else is ignored.
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}
