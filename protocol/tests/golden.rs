//! Golden byte vectors: they pin the wire format of [`Envelope`].
//!
//! One hex file per representative envelope lives in `tests/golden/`, named after the event's
//! [`Event::kind`]. The test encodes each fixed envelope and compares it byte for byte with its
//! file, then decodes the file and compares it with the envelope. A change to the encoding of any
//! type inside the envelope fails here; if the change is intended, it needs a new schema version
//! (see the crate doc), not new vectors.
//!
//! To (re)write the files after adding a vector: `UPDATE_GOLDEN=1 cargo test -p protocol --test
//! golden`, then review the diff.

use std::path::PathBuf;

use protocol::envelope::MAGIC;
use protocol::event::Actor;
use protocol::{
    Envelope, Event, EventId, PairingId, Role, StoreId, Timestamp, TokenId, SCHEMA_VERSION,
};
use uuid::Uuid;

/// 2026-12-03T09:30:00Z.
const T0: i64 = 1_796_290_200_000;
const MINUTE: i64 = 60_000;

fn uuid(s: &str) -> Uuid {
    Uuid::parse_str(s).unwrap()
}

fn store() -> StoreId {
    StoreId::new("store-0042").unwrap()
}

fn pairing() -> PairingId {
    PairingId(uuid("6f1c9a2e-3b4d-4e5f-8a6b-7c8d9e0f1a2b"))
}

fn token() -> TokenId {
    TokenId(uuid("a1b2c3d4-e5f6-4789-9abc-def012345678"))
}

fn manager_token() -> TokenId {
    TokenId(uuid("0badc0de-0000-4000-8000-00000000beef"))
}

/// A recognisable, non-trivial 32-byte hash: 0x00, 0x11, ..., 0xff, 0x00, 0x11, ...
fn hash(salt: u8) -> [u8; 32] {
    std::array::from_fn(|i| (i as u8).wrapping_mul(0x11) ^ salt)
}

fn envelope(seq: u64, id: &str, minutes: i64, event: Event) -> Envelope {
    Envelope {
        store: store(),
        seq,
        id: EventId(uuid(id)),
        at: Timestamp(T0 + minutes * MINUTE),
        event,
    }
}

/// One fixed envelope per [`Event`] variant, covering every [`Actor`] and [`Role`] variant too.
fn cases() -> Vec<Envelope> {
    vec![
        envelope(
            1,
            "00000001-0000-4000-8000-000000000001",
            0,
            Event::PairingRequested {
                pairing: pairing(),
                code: "482913".to_owned(),
                device_name: "Till 2 — Zebra TC52".to_owned(),
                token_hash: hash(0x00),
                expires_at: Timestamp(T0 + 10 * MINUTE),
            },
        ),
        envelope(
            2,
            "00000002-0000-4000-8000-000000000002",
            1,
            Event::PairingApproved {
                pairing: pairing(),
                role: Role::Associate,
                by: Actor::Token(manager_token()),
            },
        ),
        envelope(
            3,
            "00000003-0000-4000-8000-000000000003",
            2,
            Event::PairingRejected {
                pairing: pairing(),
                by: Actor::Device,
            },
        ),
        envelope(
            299,
            "00000004-0000-4000-8000-000000000004",
            3,
            Event::TokenIssued {
                token: token(),
                role: Role::Technician,
                label: "field tech laptop".to_owned(),
                token_hash: hash(0xa5),
                by: Actor::Admin,
            },
        ),
        envelope(
            300,
            "00000005-0000-4000-8000-000000000005",
            4,
            Event::TokenRevoked {
                token: token(),
                by: Actor::Admin,
            },
        ),
    ]
}

/// Makes the compiler point here when a variant is added: it needs a golden vector in `cases`.
fn variant_index(event: &Event) -> usize {
    match event {
        Event::PairingRequested { .. } => 0,
        Event::PairingApproved { .. } => 1,
        Event::PairingRejected { .. } => 2,
        Event::TokenIssued { .. } => 3,
        Event::TokenRevoked { .. } => 4,
    }
}
const VARIANTS: usize = 5;

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("golden")
}

fn path_of(env: &Envelope) -> PathBuf {
    golden_dir().join(format!("{}.hex", env.event.kind()))
}

/// Lower-case hex, 32 bytes per line, trailing newline.
fn to_hex_lines(bytes: &[u8]) -> String {
    bytes.chunks(32).map(|c| hex::encode(c) + "\n").collect()
}

fn from_hex_lines(text: &str) -> Vec<u8> {
    let digits: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    hex::decode(digits).unwrap()
}

fn updating() -> bool {
    std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1")
}

#[test]
fn every_event_variant_has_a_golden_vector() {
    let mut seen = [false; VARIANTS];
    for env in cases() {
        seen[variant_index(&env.event)] = true;
    }
    assert!(
        seen.iter().all(|s| *s),
        "variants without a vector: {seen:?}"
    );
}

#[test]
fn encodings_match_golden_vectors() {
    if updating() {
        std::fs::create_dir_all(golden_dir()).unwrap();
        for env in cases() {
            std::fs::write(path_of(&env), to_hex_lines(&env.encode())).unwrap();
        }
    }
    for env in cases() {
        let path = path_of(&env);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (run with UPDATE_GOLDEN=1 to create it)",
                path.display()
            )
        });
        let golden = from_hex_lines(&text);
        let encoded = env.encode();
        assert_eq!(
            to_hex_lines(&encoded),
            to_hex_lines(&golden),
            "{}: the encoding changed",
            path.display()
        );
        assert_eq!(Envelope::decode(&golden), Ok(env), "{}", path.display());
    }
}

#[test]
fn no_stale_golden_files() {
    let expected: Vec<PathBuf> = cases().iter().map(path_of).collect();
    for entry in std::fs::read_dir(golden_dir()).unwrap() {
        let path = entry.unwrap().path();
        assert!(
            expected.contains(&path),
            "{} has no case in golden.rs",
            path.display()
        );
    }
}

/// The layout of `token_revoked.hex`, byte by byte.
#[test]
fn token_revoked_byte_layout() {
    let mut want = vec![
        MAGIC, // 0xE5: magic
        0x01,  // schema version 1 (u16 as a postcard varint: 7 bits a byte, low bits first)
        0x0A,  // store id: length 10 (varint), then its UTF-8 bytes
    ];
    want.extend_from_slice(b"store-0042");
    want.extend_from_slice(&[0xAC, 0x02]); // seq 300 as a varint: 0x2C | 0x80, then 300 >> 7 = 2
    want.push(0x10); // event id: a uuid is a byte string, so length 16, then the 16 bytes
    want.extend(hex::decode("00000005000040008000000000000005").unwrap());
    // at: i64 1_796_290_440_000 ms, zigzag-encoded (n << 1 for n >= 0), then as a varint
    want.extend_from_slice(&[0x80, 0xAD, 0x87, 0xB4, 0xC7, 0x68]);
    want.push(0x04); // event: variant index 4 = TokenRevoked (varint)
    want.push(0x10); // token id: length 16, then the 16 bytes
    want.extend(hex::decode("a1b2c3d4e5f647899abcdef012345678").unwrap());
    want.push(0x01); // by: Actor variant index 1 = Admin (no payload)

    let env = cases().pop().unwrap();
    assert_eq!(SCHEMA_VERSION, 1);
    assert_eq!(env.encode(), want);
    let golden = from_hex_lines(&std::fs::read_to_string(path_of(&env)).unwrap());
    assert_eq!(golden, want);
}
