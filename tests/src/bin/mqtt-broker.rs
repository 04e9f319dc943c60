//! The fallback MQTT broker of the link tests, for machines without Mosquitto: rumqttd serving
//! MQTT 3.1.1 on `127.0.0.1:PORT`, everything in memory, until it is killed.
//!
//! ```text
//! mqtt-broker PORT
//! ```
//!
//! The harness (`e2e::cloud::Broker`) runs it as a child process, so it can SIGKILL and restart
//! it exactly like Mosquitto: a restart loses every session and retained message. Retained
//! messages, last wills and shared subscriptions (`$share/GROUP/FILTER`, round robin) work on
//! it; what does not is listed in `e2e::cloud`.

use anyhow::Context;
use serde_json::json;

fn main() -> anyhow::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .context("usage: mqtt-broker PORT")?
        .parse()
        .context("PORT is not a port number")?;
    let config = json!({
        "id": 0,
        "router": {
            "max_connections": 20_000,
            "max_outgoing_packet_count": 200,
            "max_segment_size": 104_857_600,
            "max_segment_count": 10,
        },
        "v4": {
            "1": {
                "name": "v4-1",
                "listen": format!("127.0.0.1:{port}"),
                "next_connection_delay_ms": 0,
                "connections": {
                    "connection_timeout_ms": 60_000,
                    "max_payload_size": 2 * 1024 * 1024,
                    "max_inflight_count": 100,
                    "dynamic_filters": true,
                },
            },
        },
    });
    let config: rumqttd::Config =
        serde_json::from_value(config).context("the broker's configuration")?;
    rumqttd::Broker::new(config)
        .start()
        .context("the broker stopped")?;
    Ok(())
}
