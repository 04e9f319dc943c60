//! Live device events and claims.
//!
//! Every event goes through one broadcast channel. A WebSocket subscriber receives status and job
//! events of every device, but scans and tag reads only from devices its token has claimed: a
//! scan at till 3 must not appear at till 4.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use protocol::TokenId;
use serde::Serialize;
use tokio::sync::broadcast;

/// How many events a slow subscriber may fall behind before it misses some.
const CHANNEL_DEPTH: usize = 1024;

/// An event from a device, as LAN clients receive it (JSON over the WebSocket).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DeviceEvent {
    /// A device's state changed (online, offline, paper low, paper out, cover open, …).
    Status {
        device: String,
        state: String,
        detail: Option<String>,
    },
    /// A barcode was scanned.
    Scan {
        device: String,
        scan: serde_json::Value,
    },
    /// RFID reads, aggregated per EPC over a short window.
    TagReads {
        device: String,
        reads: serde_json::Value,
    },
    /// A print job changed state.
    Job {
        device: String,
        job: String,
        state: String,
        detail: Option<String>,
    },
    /// The cash drawer opened or closed, or was left open.
    Drawer { device: String, state: String },
}

impl DeviceEvent {
    /// The device the event is about.
    pub fn device(&self) -> &str {
        match self {
            DeviceEvent::Status { device, .. }
            | DeviceEvent::Scan { device, .. }
            | DeviceEvent::TagReads { device, .. }
            | DeviceEvent::Job { device, .. }
            | DeviceEvent::Drawer { device, .. } => device,
        }
    }

    /// Only the claiming client may see it.
    pub fn is_private(&self) -> bool {
        matches!(
            self,
            DeviceEvent::Scan { .. } | DeviceEvent::TagReads { .. }
        )
    }
}

/// Why a claim was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClaimError {
    #[error("device {device} is claimed by another client")]
    ClaimedByOther { device: String },
    #[error("device {device} is not claimed by this client")]
    NotClaimed { device: String },
}

/// The event channel and the claims.
#[derive(Debug, Clone)]
pub struct Hub {
    tx: broadcast::Sender<DeviceEvent>,
    claims: Arc<Mutex<HashMap<String, TokenId>>>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub {
            tx: broadcast::channel(CHANNEL_DEPTH).0,
            claims: Arc::default(),
        }
    }
}

impl Hub {
    /// Publishes an event; nobody listening is fine.
    pub fn publish(&self, event: DeviceEvent) {
        let _ = self.tx.send(event);
    }

    /// A new subscription to every event.
    pub fn subscribe(&self) -> broadcast::Receiver<DeviceEvent> {
        self.tx.subscribe()
    }

    /// Whether `token` may see `event`.
    pub fn visible_to(&self, event: &DeviceEvent, token: TokenId) -> bool {
        !event.is_private() || self.claimant(event.device()) == Some(token)
    }

    /// Who has claimed `device`.
    pub fn claimant(&self, device: &str) -> Option<TokenId> {
        self.claims
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(device)
            .copied()
    }

    /// Claims `device` for `token`. Claiming again by the same client succeeds.
    pub fn claim(&self, device: &str, token: TokenId) -> Result<(), ClaimError> {
        let mut claims = self.claims.lock().unwrap_or_else(|p| p.into_inner());
        match claims.get(device) {
            Some(owner) if *owner != token => Err(ClaimError::ClaimedByOther {
                device: device.to_owned(),
            }),
            _ => {
                claims.insert(device.to_owned(), token);
                Ok(())
            }
        }
    }

    /// Releases `device`; `force` (a manager) releases another client's claim.
    pub fn release(&self, device: &str, token: TokenId, force: bool) -> Result<(), ClaimError> {
        let mut claims = self.claims.lock().unwrap_or_else(|p| p.into_inner());
        match claims.get(device) {
            Some(owner) if *owner == token || force => {
                claims.remove(device);
                Ok(())
            }
            _ => Err(ClaimError::NotClaimed {
                device: device.to_owned(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(device: &str) -> DeviceEvent {
        DeviceEvent::Scan {
            device: device.into(),
            scan: serde_json::json!({"data": "123"}),
        }
    }

    #[test]
    fn scans_reach_only_the_claiming_client_and_status_reaches_all() {
        let hub = Hub::default();
        let (a, b) = (TokenId::random(), TokenId::random());
        hub.claim("scanner-1", a).unwrap();
        assert!(hub.visible_to(&scan("scanner-1"), a));
        assert!(!hub.visible_to(&scan("scanner-1"), b));
        assert!(
            !hub.visible_to(&scan("scanner-2"), a),
            "unclaimed scans go to nobody"
        );
        let status = DeviceEvent::Status {
            device: "scanner-1".into(),
            state: "online".into(),
            detail: None,
        };
        assert!(hub.visible_to(&status, b));
    }

    #[test]
    fn a_claimed_device_cannot_be_taken_or_released_by_another_client() {
        let hub = Hub::default();
        let (a, b) = (TokenId::random(), TokenId::random());
        hub.claim("p", a).unwrap();
        hub.claim("p", a).unwrap();
        assert!(matches!(
            hub.claim("p", b),
            Err(ClaimError::ClaimedByOther { .. })
        ));
        assert!(matches!(
            hub.release("p", b, false),
            Err(ClaimError::NotClaimed { .. })
        ));
        hub.release("p", b, true).unwrap();
        hub.claim("p", b).unwrap();
        assert_eq!(hub.claimant("p"), Some(b));
    }

    #[tokio::test]
    async fn subscribers_receive_published_events() {
        let hub = Hub::default();
        let mut rx = hub.subscribe();
        hub.publish(scan("s"));
        assert_eq!(rx.recv().await.unwrap(), scan("s"));
    }
}
