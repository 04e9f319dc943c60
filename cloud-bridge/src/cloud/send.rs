//! `cloud-bridge command`: send one command to one store and wait for its result.
//!
//! The store's command subscription is not persistent (clean session), so a command sent while
//! the store is offline is lost: the CLI waits for the result and reports a timeout, and the
//! operator sends again with the same `--id`, which the store applies at most once.

use std::time::Duration;

use protocol::command::{Command, CommandResult};
use protocol::topics;
use rumqttc::{AsyncClient, Event, Packet, QoS};

use crate::mqtt::{self, BrokerUrl, Security};

/// Why no result came.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error(transparent)]
    Config(#[from] mqtt::ConfigError),
    #[error("broker: {0}")]
    Broker(String),
    #[error("no result from store {store} within {secs} s (is it online? send again with --id)")]
    Timeout { store: String, secs: u64 },
}

/// Publishes `cmd` and returns the store's result for its id.
pub async fn send(
    url: &BrokerUrl,
    security: &Security,
    cmd: &Command,
    timeout: Duration,
) -> Result<CommandResult, SendError> {
    let client_id = format!("cloud-cmd-{}", uuid::Uuid::new_v4().simple());
    let opts = mqtt::options(&client_id, url, security, Duration::from_secs(30))?;
    let (client, mut events) = AsyncClient::new(opts, 16);
    let results = topics::command_results(&cmd.store);
    let wait = async {
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    client
                        .subscribe(results.clone(), QoS::AtLeastOnce)
                        .await
                        .map_err(|e| SendError::Broker(e.to_string()))?;
                }
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    let topic = topics::commands(&cmd.store);
                    client
                        .publish(topic, QoS::AtLeastOnce, false, cmd.encode())
                        .await
                        .map_err(|e| SendError::Broker(e.to_string()))?;
                }
                Ok(Event::Incoming(Packet::Publish(p))) if p.topic == results => {
                    match CommandResult::decode(&p.payload) {
                        Ok(r) if r.id == cmd.id => return Ok(r),
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "malformed command result ignored"),
                    }
                }
                Ok(_) => {}
                Err(e) => return Err(SendError::Broker(e.to_string())),
            }
        }
    };
    let out = tokio::time::timeout(timeout, wait)
        .await
        .unwrap_or_else(|_| {
            Err(SendError::Timeout {
                store: cmd.store.to_string(),
                secs: timeout.as_secs(),
            })
        });
    let _ = client.try_disconnect();
    out
}
