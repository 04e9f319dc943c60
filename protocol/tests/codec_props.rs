//! Property tests of the envelope codec: round trips, and a typed error (never a panic, never a
//! wrong `Ok`) for every kind of damaged input.

use proptest::prelude::*;
use protocol::envelope::{DecodeError, MAGIC, MAX_ENCODED_LEN, MIN_SCHEMA_VERSION};
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

fn store_id() -> impl Strategy<Value = StoreId> {
    "[a-z0-9_-]{1,64}".prop_map(|s| StoreId::new(s).unwrap())
}

fn uuid() -> impl Strategy<Value = Uuid> {
    any::<u128>().prop_map(Uuid::from_u128)
}

fn token_id() -> impl Strategy<Value = TokenId> {
    uuid().prop_map(TokenId)
}

fn pairing_id() -> impl Strategy<Value = PairingId> {
    uuid().prop_map(PairingId)
}

fn timestamp() -> impl Strategy<Value = Timestamp> {
    any::<i64>().prop_map(Timestamp)
}

fn role() -> impl Strategy<Value = Role> {
    prop::sample::select(Role::ALL.to_vec())
}

fn actor() -> impl Strategy<Value = Actor> {
    prop_oneof![
        token_id().prop_map(Actor::Token),
        Just(Actor::Admin),
        Just(Actor::Device)
    ]
}

/// Any Unicode text, including empty, multi-byte characters and control characters.
fn text() -> impl Strategy<Value = String> {
    prop::string::string_regex("(?s).{0,40}").unwrap()
}

fn auth_event() -> BoxedStrategy<Event> {
    prop_oneof![
        (pairing_id(), text(), text(), any::<[u8; 32]>(), timestamp()).prop_map(
            |(pairing, code, device_name, token_hash, expires_at)| Event::PairingRequested {
                pairing,
                code,
                device_name,
                token_hash,
                expires_at,
            }
        ),
        (pairing_id(), role(), actor()).prop_map(|(pairing, role, by)| Event::PairingApproved {
            pairing,
            role,
            by
        }),
        (pairing_id(), actor()).prop_map(|(pairing, by)| Event::PairingRejected { pairing, by }),
        (token_id(), role(), text(), any::<[u8; 32]>(), actor()).prop_map(
            |(token, role, label, token_hash, by)| Event::TokenIssued {
                token,
                role,
                label,
                token_hash,
                by,
            }
        ),
        (token_id(), actor()).prop_map(|(token, by)| Event::TokenRevoked { token, by }),
    ]
    .boxed()
}

fn sale_id() -> impl Strategy<Value = SaleId> {
    uuid().prop_map(SaleId)
}

fn customer_id() -> impl Strategy<Value = CustomerId> {
    uuid().prop_map(CustomerId)
}

fn currency() -> impl Strategy<Value = Currency> {
    "[A-Z]{3}".prop_map(|c| Currency::new(&c).unwrap())
}

fn money() -> impl Strategy<Value = Money> {
    (any::<i64>(), currency()).prop_map(|(minor, c)| Money::new(minor, c))
}

fn opt_text() -> impl Strategy<Value = Option<String>> {
    prop::option::of(text())
}

fn list<T: std::fmt::Debug>(s: impl Strategy<Value = T>) -> impl Strategy<Value = Vec<T>> {
    prop::collection::vec(s, 0..3)
}

fn line_item() -> impl Strategy<Value = LineItem> {
    (text(), text(), text(), text(), money()).prop_map(
        |(sku, name, category, tax_class, unit_price)| LineItem {
            sku,
            name,
            category,
            tax_class,
            unit_price,
        },
    )
}

fn tender() -> impl Strategy<Value = Tender> {
    let kind = prop::sample::select(vec![
        TenderKind::Cash,
        TenderKind::Card,
        TenderKind::GiftCard,
        TenderKind::StoreCredit,
    ]);
    (kind, money(), opt_text()).prop_map(|(kind, amount, reference)| Tender {
        kind,
        amount,
        reference,
    })
}

fn cart_op() -> BoxedStrategy<CartOp> {
    prop_oneof![
        (any::<u32>(), line_item(), any::<i64>()).prop_map(|(line, item, quantity)| {
            CartOp::AddLine {
                line,
                item,
                quantity,
            }
        }),
        (any::<u32>(), any::<i64>())
            .prop_map(|(line, quantity)| CartOp::SetQuantity { line, quantity }),
        (any::<u32>(), money(), text(), actor()).prop_map(|(line, unit_price, reason, by)| {
            CartOp::OverridePrice {
                line,
                unit_price,
                reason,
                by,
            }
        }),
        text().prop_map(|code| CartOp::ApplyCoupon { code }),
        customer_id().prop_map(|customer| CartOp::AttachCustomer { customer }),
        tender().prop_map(|tender| CartOp::AddTender { tender }),
    ]
    .boxed()
}

fn sold_line() -> BoxedStrategy<SoldLine> {
    let discount = (text(), money()).prop_map(|(rule, amount)| LineDiscount { rule, amount });
    let tax =
        (text(), any::<u32>(), money()).prop_map(|(jurisdiction, rate_ppm, amount)| LineTax {
            jurisdiction,
            rate_ppm,
            amount,
        });
    (
        (any::<u32>(), line_item(), any::<i64>(), money(), opt_text()),
        (money(), list(discount), money(), list(tax), money()),
    )
        .prop_map(
            |(
                (line, item, quantity, unit_price, override_reason),
                (gross, discounts, net, taxes, total),
            )| {
                SoldLine {
                    line,
                    item,
                    quantity,
                    unit_price,
                    override_reason,
                    gross,
                    discounts,
                    net,
                    taxes,
                    total,
                }
            },
        )
        .boxed()
}

fn sale_record() -> BoxedStrategy<SaleRecord> {
    (
        (
            opt_text(),
            prop::option::of(customer_id()),
            list(text()),
            list(sold_line()),
        ),
        (any::<bool>(), money(), money(), money(), money()),
        (list(tender()), money(), actor()),
    )
        .prop_map(
            |(
                (till, customer, coupons, lines),
                (tax_inclusive, subtotal, discount, tax, total),
                (tenders, change, by),
            )| SaleRecord {
                till,
                customer,
                coupons,
                lines,
                tax_inclusive,
                subtotal,
                discount,
                tax,
                total,
                tenders,
                change,
                by,
            },
        )
        .boxed()
}

fn return_record() -> BoxedStrategy<ReturnRecord> {
    let line = (any::<u32>(), text(), text(), any::<i64>(), money(), money()).prop_map(
        |(line, sku, category, quantity, refund, tax)| ReturnedLine {
            line,
            sku,
            category,
            quantity,
            refund,
            tax,
        },
    );
    (
        opt_text(),
        list(line),
        money(),
        list(tender()),
        text(),
        actor(),
    )
        .prop_map(|(till, lines, total, refunds, reason, by)| ReturnRecord {
            till,
            lines,
            total,
            refunds,
            reason,
            by,
        })
        .boxed()
}

fn settlement() -> BoxedStrategy<Settlement> {
    let exemption = (text(), actor()).prop_map(|(reason, by)| TaxExemption { reason, by });
    (any::<bool>(), money(), prop::option::of(exemption))
        .prop_map(|(cloud_reachable, cash_rounding, exemption)| Settlement {
            cloud_reachable,
            cash_rounding,
            exemption,
        })
        .boxed()
}

fn basis() -> impl Strategy<Value = PriceBasis> {
    prop::sample::select(vec![PriceBasis::CurrentPrice, PriceBasis::LowestPrice])
}

fn till_move() -> impl Strategy<Value = TillMove> {
    prop::sample::select(vec![TillMove::PaidIn, TillMove::PaidOut, TillMove::Drop])
}

/// Sales, returns, exchanges and catalog loads.
fn sale_event() -> BoxedStrategy<Event> {
    prop_oneof![
        (
            any::<u64>(),
            prop::option::of(any::<u64>()),
            text(),
            actor()
        )
            .prop_map(|(version, base_version, json, by)| Event::CatalogLoaded {
                version,
                base_version,
                json,
                by,
            }),
        (sale_id(), opt_text(), currency(), actor()).prop_map(|(sale, till, currency, by)| {
            Event::SaleOpened {
                sale,
                till,
                currency,
                by,
            }
        }),
        (sale_id(), cart_op()).prop_map(|(sale, op)| Event::SaleChanged { sale, op }),
        (sale_id(), sale_record()).prop_map(|(sale, record)| Event::SaleCompleted { sale, record }),
        (sale_id(), text(), actor()).prop_map(|(sale, reason, by)| Event::SaleVoided {
            sale,
            reason,
            by
        }),
        (sale_id(), sale_id(), return_record()).prop_map(|(id, original, record)| {
            Event::ReturnCompleted {
                id,
                original,
                record,
            }
        }),
        (sale_id(), sale_record(), settlement()).prop_map(|(sale, record, settlement)| {
            Event::SaleCompletedV2 {
                sale,
                record,
                settlement,
            }
        }),
        (sale_id(), sale_id(), return_record(), settlement()).prop_map(
            |(id, original, record, settlement)| Event::ReturnCompletedV2 {
                id,
                original,
                record,
                settlement,
            }
        ),
        (
            sale_id(),
            sale_id(),
            return_record(),
            sale_record(),
            money(),
            settlement()
        )
            .prop_map(|(id, original, returned, sold, balance, settlement)| {
                Event::ExchangeCompleted {
                    id,
                    original,
                    record: ExchangeRecord {
                        returned,
                        sold,
                        balance,
                        settlement,
                    },
                }
            }),
        (sale_id(), return_record(), basis(), settlement()).prop_map(
            |(id, record, basis, settlement)| Event::ReturnWithoutReceipt {
                id,
                record,
                basis,
                settlement,
            }
        ),
    ]
    .boxed()
}

/// Tills, customers and receipts.
fn store_event() -> BoxedStrategy<Event> {
    let profile = (text(), opt_text(), opt_text(), any::<bool>()).prop_map(
        |(name, email, phone, marketing_consent)| CustomerProfile {
            name,
            email,
            phone,
            marketing_consent,
        },
    );
    prop_oneof![
        (text(), money(), actor()).prop_map(|(till, float, by)| Event::TillOpened {
            till,
            float,
            by
        }),
        (text(), till_move(), money(), text(), actor()).prop_map(
            |(till, kind, amount, reason, by)| Event::TillMovement {
                till,
                kind,
                amount,
                reason,
                by,
            }
        ),
        (text(), money(), money(), actor()).prop_map(|(till, counted, expected, by)| {
            Event::TillClosed {
                till,
                counted,
                expected,
                by,
            }
        }),
        (customer_id(), profile, actor()).prop_map(|(customer, profile, by)| {
            Event::CustomerSaved {
                customer,
                profile,
                by,
            }
        }),
        (customer_id(), actor()).prop_map(|(customer, by)| Event::CustomerErased { customer, by }),
        (sale_id(), text(), actor()).prop_map(|(sale, to, by)| Event::ReceiptEmailRequested {
            sale,
            to,
            by
        }),
        (text(), text(), any::<u64>()).prop_map(|(state, record, unix_time)| {
            Event::UpdateReported {
                state,
                record,
                unix_time,
            }
        }),
        (any::<u64>(), any::<u32>(), any::<u32>(), text(), actor()).prop_map(
            |(version, part, parts, json, by)| Event::CatalogPartLoaded {
                version,
                part,
                parts,
                json,
                by,
            }
        ),
        (
            text(),
            any::<u32>(),
            prop::collection::vec((customer_id(), any::<u32>()), 0..3),
            any::<u64>()
        )
            .prop_map(|(code, total, per_customer, through_seq)| {
                Event::CouponUsageReported {
                    usage: protocol::command::CouponUsage {
                        code,
                        total,
                        per_customer,
                        through_seq,
                    },
                }
            }),
    ]
    .boxed()
}

/// Which strategy makes each kind of event. The match has no catch-all, so that a new event
/// does not compile here until it has a strategy in [`event`].
fn strategy_of(event: &Event) -> &'static str {
    match event {
        Event::PairingRequested { .. }
        | Event::PairingApproved { .. }
        | Event::PairingRejected { .. }
        | Event::TokenIssued { .. }
        | Event::TokenRevoked { .. } => "auth_event",
        Event::CatalogLoaded { .. }
        | Event::SaleOpened { .. }
        | Event::SaleChanged { .. }
        | Event::SaleCompleted { .. }
        | Event::SaleVoided { .. }
        | Event::ReturnCompleted { .. }
        | Event::SaleCompletedV2 { .. }
        | Event::ReturnCompletedV2 { .. }
        | Event::ExchangeCompleted { .. }
        | Event::ReturnWithoutReceipt { .. } => "sale_event",
        Event::TillOpened { .. }
        | Event::TillMovement { .. }
        | Event::TillClosed { .. }
        | Event::CustomerSaved { .. }
        | Event::CustomerErased { .. }
        | Event::ReceiptEmailRequested { .. }
        | Event::UpdateReported { .. }
        | Event::CatalogPartLoaded { .. }
        | Event::CouponUsageReported { .. } => "store_event",
    }
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![auth_event(), sale_event(), store_event()]
}

fn envelope() -> impl Strategy<Value = Envelope> {
    (store_id(), any::<u64>(), uuid(), timestamp(), event()).prop_map(
        |(store, seq, id, at, event)| Envelope {
            store,
            seq,
            id: EventId(id),
            at,
            event,
        },
    )
}

/// `bytes` with the version varint (one byte for version 1) replaced by `version`'s varint.
fn with_version(encoded: &[u8], version: u16) -> Vec<u8> {
    assert_eq!(encoded[..2], [MAGIC, 0x01], "written with schema version 1");
    let mut out = vec![MAGIC];
    out.extend(postcard::to_stdvec(&version).unwrap());
    out.extend_from_slice(&encoded[2..]);
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn round_trips(env in envelope()) {
        let _ = strategy_of(&env.event);
        let bytes = env.encode();
        prop_assert_eq!(bytes[0], MAGIC);
        prop_assert!(bytes.len() <= MAX_ENCODED_LEN);
        prop_assert_eq!(Envelope::decode(&bytes), Ok(env));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        if let Err(e) = Envelope::decode(&bytes) {
            let _ = e.to_string();
        }
    }

    /// Past the header, so that the body decoder sees the arbitrary bytes.
    #[test]
    fn arbitrary_bodies_never_panic(body in prop::collection::vec(any::<u8>(), 0..256)) {
        let mut bytes = vec![MAGIC, 0x01];
        bytes.extend(body);
        if let Ok(env) = Envelope::decode(&bytes) {
            // Whatever decodes must survive a round trip of its own.
            prop_assert_eq!(Envelope::decode(&env.encode()), Ok(env));
        }
    }

    #[test]
    fn every_truncation_is_an_error(env in envelope()) {
        let bytes = env.encode();
        prop_assert_eq!(Envelope::decode(&[]), Err(DecodeError::Empty));
        prop_assert_eq!(Envelope::decode(&bytes[..1]), Err(DecodeError::BadVersion));
        for len in 2..bytes.len() {
            let got = Envelope::decode(&bytes[..len]);
            prop_assert!(
                matches!(got, Err(DecodeError::Body { version: 1, .. })),
                "prefix of {} of {} bytes: {:?}",
                len,
                bytes.len(),
                got
            );
        }
    }

    #[test]
    fn wrong_magic_is_bad_magic(env in envelope(), magic in any::<u8>()) {
        prop_assume!(magic != MAGIC);
        let mut bytes = env.encode();
        bytes[0] = magic;
        prop_assert_eq!(Envelope::decode(&bytes), Err(DecodeError::BadMagic { found: magic }));
    }

    #[test]
    fn newer_version_is_future_version(env in envelope(), v in (SCHEMA_VERSION + 1)..=u16::MAX) {
        let bytes = with_version(&env.encode(), v);
        prop_assert_eq!(Envelope::decode(&bytes), Err(DecodeError::FutureVersion { found: v }));
    }

    #[test]
    fn trailing_bytes_are_refused(
        env in envelope(),
        extra in prop::collection::vec(any::<u8>(), 1..64),
    ) {
        let mut bytes = env.encode();
        bytes.extend_from_slice(&extra);
        prop_assert_eq!(
            Envelope::decode(&bytes),
            Err(DecodeError::TrailingBytes { extra: extra.len() })
        );
    }
}

proptest! {
    // Each case allocates a quarter of a megabyte.
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn oversize_is_too_large(env in envelope(), pad in 1..4096usize) {
        // Even a valid envelope followed by padding: the size check comes first.
        let mut bytes = env.encode();
        bytes.resize(MAX_ENCODED_LEN + pad, 0);
        prop_assert_eq!(
            Envelope::decode(&bytes),
            Err(DecodeError::TooLarge { len: MAX_ENCODED_LEN + pad, max: MAX_ENCODED_LEN })
        );
    }
}

#[test]
fn header_errors() {
    assert_eq!(Envelope::decode(&[]), Err(DecodeError::Empty));
    assert_eq!(
        Envelope::decode(&[0x00]),
        Err(DecodeError::BadMagic { found: 0x00 })
    );
    assert_eq!(Envelope::decode(&[MAGIC]), Err(DecodeError::BadVersion));
    // A u16 varint is at most three bytes, and its third byte carries at most two bits.
    assert_eq!(
        Envelope::decode(&[MAGIC, 0xFF, 0xFF, 0x04]),
        Err(DecodeError::BadVersion)
    );
    assert_eq!(
        Envelope::decode(&[MAGIC, 0x80, 0x80, 0x80, 0x01]),
        Err(DecodeError::BadVersion)
    );
    assert_eq!(
        Envelope::decode(&[MAGIC, 0xFF, 0xFF, 0x03]),
        Err(DecodeError::FutureVersion { found: u16::MAX })
    );
    assert_eq!(
        Envelope::decode(&[MAGIC, 0x00]),
        Err(DecodeError::UnsupportedVersion {
            found: MIN_SCHEMA_VERSION - 1
        })
    );
    assert!(matches!(
        Envelope::decode(&[MAGIC, 0x01]),
        Err(DecodeError::Body { version: 1, .. })
    ));
}

#[test]
fn size_limit_boundary() {
    let env = Envelope {
        store: StoreId::new("s").unwrap(),
        seq: 1,
        id: EventId(Uuid::nil()),
        at: Timestamp(0),
        event: Event::TokenRevoked {
            token: TokenId(Uuid::nil()),
            by: Actor::Admin,
        },
    };
    // Exactly at the limit the size is fine; what fails is the padding.
    let mut bytes = env.encode();
    let len = bytes.len();
    bytes.resize(MAX_ENCODED_LEN, 0);
    assert_eq!(
        Envelope::decode(&bytes),
        Err(DecodeError::TrailingBytes {
            extra: MAX_ENCODED_LEN - len
        })
    );
}

/// The encoder does not refuse what the decoder will: an envelope whose strings push it past
/// the limit encodes, and then decodes as `TooLarge`. Callers bound their strings.
#[test]
fn oversize_envelope_encodes_but_does_not_decode() {
    let env = Envelope {
        store: StoreId::new("s").unwrap(),
        seq: 1,
        id: EventId(Uuid::nil()),
        at: Timestamp(0),
        event: Event::TokenIssued {
            token: TokenId(Uuid::nil()),
            role: Role::Associate,
            label: "x".repeat(MAX_ENCODED_LEN),
            token_hash: [0; 32],
            by: Actor::Device,
        },
    };
    let bytes = env.encode();
    assert!(bytes.len() > MAX_ENCODED_LEN);
    assert_eq!(
        Envelope::decode(&bytes),
        Err(DecodeError::TooLarge {
            len: bytes.len(),
            max: MAX_ENCODED_LEN
        })
    );
}
