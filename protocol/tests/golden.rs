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
use protocol::pos::{
    CartOp, CustomerProfile, ExchangeRecord, LineDiscount, LineItem, LineTax, PriceBasis,
    ReturnRecord, ReturnedLine, SaleRecord, Settlement, SoldLine, TaxExemption, Tender, TenderKind,
    TillMove,
};
use protocol::{
    Currency, CustomerId, Envelope, Event, EventId, Money, PairingId, Role, SaleId, StoreId,
    Timestamp, TokenId, SCHEMA_VERSION,
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
        envelope(
            301,
            "00000006-0000-4000-8000-000000000006",
            5,
            Event::CatalogLoaded {
                version: 7,
                base_version: Some(6),
                json: r#"{"version":7,"base_version":6}"#.to_owned(),
                by: Actor::Admin,
            },
        ),
        envelope(
            302,
            "00000007-0000-4000-8000-000000000007",
            6,
            Event::SaleOpened {
                sale: sale(),
                till: Some("till-1".to_owned()),
                currency: usd(),
                by: Actor::Token(token()),
            },
        ),
        envelope(
            303,
            "00000008-0000-4000-8000-000000000008",
            7,
            Event::SaleChanged {
                sale: sale(),
                op: CartOp::AddLine {
                    line: 1,
                    item: line_item(),
                    quantity: 2,
                },
            },
        ),
        envelope(
            304,
            "00000009-0000-4000-8000-000000000009",
            8,
            Event::SaleCompleted {
                sale: sale(),
                record: sale_record(),
            },
        ),
        envelope(
            305,
            "0000000a-0000-4000-8000-00000000000a",
            9,
            Event::SaleVoided {
                sale: sale(),
                reason: "customer left".to_owned(),
                by: Actor::Token(manager_token()),
            },
        ),
        envelope(
            306,
            "0000000b-0000-4000-8000-00000000000b",
            10,
            Event::ReturnCompleted {
                id: SaleId(uuid("5a1e0000-0000-4000-8000-000000000002")),
                original: sale(),
                record: return_record(),
            },
        ),
        envelope(
            307,
            "0000000c-0000-4000-8000-00000000000c",
            11,
            Event::TillOpened {
                till: "till-1".to_owned(),
                float: usd_m(15_000),
                by: Actor::Token(manager_token()),
            },
        ),
        envelope(
            308,
            "0000000d-0000-4000-8000-00000000000d",
            12,
            Event::TillMovement {
                till: "till-1".to_owned(),
                kind: TillMove::PaidOut,
                amount: usd_m(1_250),
                reason: "window cleaner".to_owned(),
                by: Actor::Token(manager_token()),
            },
        ),
        envelope(
            309,
            "0000000e-0000-4000-8000-00000000000e",
            13,
            Event::TillClosed {
                till: "till-1".to_owned(),
                counted: usd_m(13_745),
                expected: usd_m(13_750),
                by: Actor::Token(manager_token()),
            },
        ),
        envelope(
            310,
            "0000000f-0000-4000-8000-00000000000f",
            14,
            Event::CustomerSaved {
                customer: CustomerId(uuid("c0570000-0000-4000-8000-000000000001")),
                profile: CustomerProfile {
                    name: "Zoë Müller".to_owned(),
                    email: Some("zoe@example.com".to_owned()),
                    phone: None,
                    marketing_consent: true,
                },
                by: Actor::Token(token()),
            },
        ),
        envelope(
            311,
            "00000010-0000-4000-8000-000000000010",
            15,
            Event::CustomerErased {
                customer: CustomerId(uuid("c0570000-0000-4000-8000-000000000001")),
                by: Actor::Token(manager_token()),
            },
        ),
        envelope(
            312,
            "00000011-0000-4000-8000-000000000011",
            16,
            Event::ReceiptEmailRequested {
                sale: sale(),
                to: "zoe@example.com".to_owned(),
                by: Actor::Token(token()),
            },
        ),
        envelope(
            313,
            "00000012-0000-4000-8000-000000000012",
            17,
            Event::SaleCompletedV2 {
                sale: sale(),
                record: sale_record(),
                settlement: Settlement {
                    cloud_reachable: false,
                    cash_rounding: usd_m(-2),
                    exemption: Some(TaxExemption {
                        reason: "resale certificate NY-12345".to_owned(),
                        by: Actor::Token(manager_token()),
                    }),
                },
            },
        ),
        envelope(
            314,
            "00000013-0000-4000-8000-000000000013",
            18,
            Event::ReturnCompletedV2 {
                id: SaleId(uuid("5a1e0000-0000-4000-8000-000000000002")),
                original: sale(),
                record: return_record(),
                settlement: Settlement {
                    cloud_reachable: true,
                    cash_rounding: usd_m(0),
                    exemption: None,
                },
            },
        ),
        envelope(
            315,
            "00000014-0000-4000-8000-000000000014",
            19,
            Event::ExchangeCompleted {
                id: SaleId(uuid("5a1e0000-0000-4000-8000-000000000003")),
                original: sale(),
                record: ExchangeRecord {
                    returned: return_record(),
                    sold: sale_record(),
                    balance: usd_m(4_719 - 2_622),
                    settlement: Settlement {
                        cloud_reachable: true,
                        cash_rounding: usd_m(1),
                        exemption: None,
                    },
                },
            },
        ),
        envelope(
            316,
            "00000015-0000-4000-8000-000000000015",
            20,
            Event::ReturnWithoutReceipt {
                id: SaleId(uuid("5a1e0000-0000-4000-8000-000000000004")),
                record: ReturnRecord {
                    refunds: vec![Tender {
                        kind: TenderKind::StoreCredit,
                        amount: usd_m(2_622),
                        reference: Some("CN-5a1e0000".to_owned()),
                    }],
                    by: Actor::Token(manager_token()),
                    ..return_record()
                },
                basis: PriceBasis::LowestPrice,
                settlement: Settlement {
                    cloud_reachable: false,
                    cash_rounding: usd_m(0),
                    exemption: None,
                },
            },
        ),
        envelope(
            317,
            "00000016-0000-4000-8000-000000000016",
            21,
            Event::UpdateReported {
                state: "rolled_back".to_owned(),
                record: concat!(
                    r#"{"unix_time":1796291460,"state":"rolled_back","slot":"a","#,
                    r#""version":"3.0.0","reason":"not healthy within 300 s"}"#
                )
                .to_owned(),
                unix_time: 1_796_291_460,
            },
        ),
        envelope(
            318,
            "00000017-0000-4000-8000-000000000017",
            22,
            Event::CatalogPartLoaded {
                version: 43,
                part: 1,
                parts: 3,
                json: r#"{"version":43,"products":[],"prices":{"base":{"SKU-1":1299}}}"#.to_owned(),
                by: Actor::Admin,
            },
        ),
        envelope(
            319,
            "00000018-0000-4000-8000-000000000018",
            23,
            Event::CouponUsageReported {
                usage: protocol::command::CouponUsage {
                    code: "SPRING10".to_owned(),
                    total: 41,
                    per_customer: vec![(
                        CustomerId(uuid("c0570000-0000-4000-8000-000000000001")),
                        2,
                    )],
                    through_seq: 300,
                },
            },
        ),
    ]
}

fn return_record() -> ReturnRecord {
    ReturnRecord {
        till: Some("till-1".to_owned()),
        lines: vec![ReturnedLine {
            line: 1,
            sku: "TEE-WHT-M".to_owned(),
            category: "apparel".to_owned(),
            quantity: 1,
            refund: usd_m(2_622),
            tax: usd_m(122),
        }],
        total: usd_m(2_622),
        refunds: vec![Tender {
            kind: TenderKind::Card,
            amount: usd_m(2_622),
            reference: Some("AUTH-7731".to_owned()),
        }],
        reason: "wrong size".to_owned(),
        by: Actor::Token(token()),
    }
}

fn usd() -> Currency {
    Currency::new("USD").unwrap()
}

fn usd_m(minor: i64) -> Money {
    Money::new(minor, usd())
}

fn sale() -> SaleId {
    SaleId(uuid("5a1e0000-0000-4000-8000-000000000001"))
}

fn line_item() -> LineItem {
    LineItem {
        sku: "TEE-WHT-M".to_owned(),
        name: "Organic Tee White / M".to_owned(),
        category: "apparel".to_owned(),
        tax_class: "clothing".to_owned(),
        unit_price: usd_m(2_500),
    }
}

fn sale_record() -> SaleRecord {
    let line = SoldLine {
        line: 1,
        item: line_item(),
        quantity: 2,
        unit_price: usd_m(2_500),
        override_reason: Some("price match".to_owned()),
        gross: usd_m(5_000),
        discounts: vec![LineDiscount {
            rule: "welcome-5".to_owned(),
            amount: usd_m(500),
        }],
        net: usd_m(4_500),
        taxes: vec![LineTax {
            jurisdiction: "city".to_owned(),
            rate_ppm: 48_750,
            amount: usd_m(219),
        }],
        total: usd_m(4_719),
    };
    SaleRecord {
        till: Some("till-1".to_owned()),
        customer: Some(CustomerId(uuid("c0570000-0000-4000-8000-000000000001"))),
        coupons: vec!["WELCOME5".to_owned()],
        lines: vec![line],
        tax_inclusive: false,
        subtotal: usd_m(5_000),
        discount: usd_m(500),
        tax: usd_m(219),
        total: usd_m(4_719),
        tenders: vec![
            Tender {
                kind: TenderKind::Card,
                amount: usd_m(2_000),
                reference: Some("AUTH-7731".to_owned()),
            },
            Tender {
                kind: TenderKind::Cash,
                amount: usd_m(3_000),
                reference: None,
            },
        ],
        change: usd_m(281),
        by: Actor::Token(token()),
    }
}

/// Makes the compiler point here when a variant is added: it needs a golden vector in `cases`.
fn variant_index(event: &Event) -> usize {
    match event {
        Event::PairingRequested { .. } => 0,
        Event::PairingApproved { .. } => 1,
        Event::PairingRejected { .. } => 2,
        Event::TokenIssued { .. } => 3,
        Event::TokenRevoked { .. } => 4,
        Event::CatalogLoaded { .. } => 5,
        Event::SaleOpened { .. } => 6,
        Event::SaleChanged { .. } => 7,
        Event::SaleCompleted { .. } => 8,
        Event::SaleVoided { .. } => 9,
        Event::ReturnCompleted { .. } => 10,
        Event::TillOpened { .. } => 11,
        Event::TillMovement { .. } => 12,
        Event::TillClosed { .. } => 13,
        Event::CustomerSaved { .. } => 14,
        Event::CustomerErased { .. } => 15,
        Event::ReceiptEmailRequested { .. } => 16,
        Event::SaleCompletedV2 { .. } => 17,
        Event::ReturnCompletedV2 { .. } => 18,
        Event::ExchangeCompleted { .. } => 19,
        Event::ReturnWithoutReceipt { .. } => 20,
        Event::UpdateReported { .. } => 21,
        Event::CatalogPartLoaded { .. } => 22,
        Event::CouponUsageReported { .. } => 23,
    }
}
const VARIANTS: usize = 24;

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

    let env = cases()
        .into_iter()
        .find(|e| matches!(e.event, Event::TokenRevoked { .. }))
        .unwrap();
    assert_eq!(SCHEMA_VERSION, 1);
    assert_eq!(env.encode(), want);
    let golden = from_hex_lines(&std::fs::read_to_string(path_of(&env)).unwrap());
    assert_eq!(golden, want);
}
