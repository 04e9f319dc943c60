//! Golden byte vectors of the link's messages: commands, results, acknowledgements, presence
//! and telemetry. One hex file per case in `tests/golden-link/`; each fixed message must encode
//! to its file byte for byte and decode back to itself. A change here needs a new schema version.
//!
//! To (re)write the files: `UPDATE_GOLDEN=1 cargo test -p protocol --test link_golden`, then
//! review the diff.

use std::path::PathBuf;

use protocol::command::CouponUsage;
use protocol::command::{CatalogKind, CatalogPayload, Command, CommandBody, CommandResult};
use protocol::command::{Module, Outcome};
use protocol::link::{Ack, DeviceState, Presence, PresenceState, Telemetry};
use protocol::{BootId, CommandId, FrameError, StoreId, Timestamp};
use uuid::Uuid;

/// 2026-12-03T09:30:00Z.
const T0: i64 = 1_796_290_200_000;

fn store() -> StoreId {
    StoreId::new("store-0042").unwrap()
}

fn cmd_id(n: u8) -> CommandId {
    CommandId(Uuid::from_bytes([n; 16]))
}

fn boot() -> BootId {
    BootId(Uuid::parse_str("b0070000-0000-4000-8000-00000000b007").unwrap())
}

fn command(n: u8, body: CommandBody) -> Command {
    Command {
        id: cmd_id(n),
        store: store(),
        issued_at: Timestamp(T0),
        body,
    }
}

fn presence(state: PresenceState) -> Presence {
    Presence {
        store: store(),
        state,
        session: 17,
        boot: boot(),
        at: Timestamp(T0),
        versions: vec![("edge-daemon".into(), "0.1.0".into())],
        modules: vec![Module::Pos, Module::Omni],
    }
}

/// Every case: file name, encoding, and a check that the file decodes back to the message.
type Case = (&'static str, Vec<u8>, Box<dyn Fn(&[u8]) -> bool>);

macro_rules! case {
    ($name:expr, $ty:ty, $msg:expr) => {{
        let msg: $ty = $msg;
        let bytes = msg.encode();
        let check: Box<dyn Fn(&[u8]) -> bool> =
            Box::new(move |b: &[u8]| <$ty>::decode(b).as_ref() == Ok(&msg));
        ($name, bytes, check)
    }};
}

fn cases() -> Vec<Case> {
    vec![
        case!(
            "command_set_module",
            Command,
            command(
                1,
                CommandBody::SetModule {
                    module: Module::OmniPlus,
                    enabled: true,
                },
            )
        ),
        case!(
            "command_set_config",
            Command,
            command(
                2,
                CommandBody::SetConfig {
                    key: "pairing.code_ttl_secs".into(),
                    value: "300".into(),
                },
            )
        ),
        case!(
            "command_catalog_delta",
            Command,
            command(
                3,
                CommandBody::Catalog(CatalogPayload {
                    kind: CatalogKind::Delta,
                    version: 8,
                    base_version: Some(7),
                    json: r#"{"items":[]}"#.into(),
                }),
            )
        ),
        case!(
            "command_catalog_part",
            Command,
            command(
                4,
                CommandBody::Catalog(CatalogPayload {
                    kind: CatalogKind::SnapshotPart { part: 2, parts: 9 },
                    version: 9,
                    base_version: None,
                    json: r#"{"version":9,"products":[]}"#.into(),
                }),
            )
        ),
        case!(
            "command_coupon_usage",
            Command,
            command(
                5,
                CommandBody::CouponUsage(CouponUsage {
                    code: "SPRING10".into(),
                    total: 41,
                    per_customer: vec![(protocol::CustomerId(Uuid::from_u128(0xC0FFEE)), 2)],
                    through_seq: 1_234,
                }),
            )
        ),
        case!(
            "result_applied",
            CommandResult,
            CommandResult {
                id: cmd_id(1),
                store: store(),
                at: Timestamp(T0 + 5),
                outcome: Outcome::Applied,
            }
        ),
        case!(
            "result_rejected",
            CommandResult,
            CommandResult {
                id: cmd_id(3),
                store: store(),
                at: Timestamp(T0 + 6),
                outcome: Outcome::Rejected {
                    reason: "base version 7 is not the current catalog version 6".into(),
                },
            }
        ),
        case!(
            "ack",
            Ack,
            Ack {
                store: store(),
                watermark: 300,
                resend: true,
            }
        ),
        case!("presence_birth", Presence, presence(PresenceState::Online)),
        case!("presence_will", Presence, presence(PresenceState::Offline)),
        case!(
            "telemetry",
            Telemetry,
            Telemetry {
                store: store(),
                session: 17,
                at: Timestamp(T0 + 60_000),
                backlog: 12,
                oldest_unacked_ms: Some(4_500),
                last_seq: 312,
                watermark: 300,
                devices: vec![DeviceState {
                    name: "receipt".into(),
                    kind: "receipt_printer".into(),
                    state: "paper_out".into(),
                    fault: Some("paper out".into()),
                }],
                disk_free_bytes: Some(1 << 30),
                disk_total_bytes: Some(8 << 30),
                memory_rss_bytes: Some(42 << 20),
                uptime_secs: 3_600,
                versions: vec![("edge-daemon".into(), "0.1.0".into())],
            }
        ),
    ]
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden-link")
}

fn to_hex_lines(bytes: &[u8]) -> String {
    bytes.chunks(32).map(|c| hex::encode(c) + "\n").collect()
}

fn from_hex_lines(text: &str) -> Vec<u8> {
    let digits: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    hex::decode(digits).unwrap()
}

#[test]
fn link_messages_match_golden_vectors() {
    let update = std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1");
    for (name, bytes, decodes) in cases() {
        let path = dir().join(format!("{name}.hex"));
        if update {
            std::fs::write(&path, to_hex_lines(&bytes)).unwrap();
        }
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 creates it)", path.display()));
        let golden = from_hex_lines(&text);
        assert_eq!(to_hex_lines(&bytes), text, "{name}: the encoding changed");
        assert!(decodes(&golden), "{name}: the vector does not decode back");
    }
}

#[test]
fn no_stale_link_vectors() {
    let names: Vec<String> = cases().iter().map(|c| format!("{}.hex", c.0)).collect();
    for entry in std::fs::read_dir(dir()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(
            names.contains(&name),
            "{name} has no case in link_golden.rs"
        );
    }
}

/// The acknowledgement, byte by byte.
#[test]
fn ack_byte_layout() {
    let mut want = vec![0xA1, 0x01, 0x0A];
    want.extend_from_slice(b"store-0042");
    want.extend_from_slice(&[0xAC, 0x02, 0x01]); // watermark 300 (varint), resend true
    let ack = Ack {
        store: store(),
        watermark: 300,
        resend: true,
    };
    assert_eq!(ack.encode(), want);
}

/// Truncating or corrupting any vector gives an error, never a panic or another message.
#[test]
fn every_prefix_and_byte_flip_of_every_vector_is_refused_or_decodes_cleanly() {
    for (name, bytes, decodes) in cases() {
        for len in 0..bytes.len() {
            assert!(
                !decodes(&bytes[..len]),
                "{name}: prefix of {len} bytes decoded"
            );
        }
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0xFF;
            let _ = decodes(&b);
        }
        // Another type's decoder refuses it by its magic byte.
        assert!(matches!(
            Ack::decode(&bytes),
            Ok(_) | Err(FrameError::BadMagic { .. })
        ));
    }
}
