use super::*;
use crate::store::{Planned, Store, StoreSettings};
use protocol::StoreId;

const DEVICE_TOKEN: &str = "device-token-0123456789abcdefghijklmnop";

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(
        dir.path(),
        &StoreId::new("t").unwrap(),
        &StoreSettings::default(),
    );
    (dir, s.unwrap())
}

fn apply<T>(
    s: &Store,
    f: impl FnOnce(&Reader<'_>) -> Result<(Vec<Event>, T), AuthError>,
) -> Result<T, AuthError> {
    let mut out = None;
    let res = s.write(None, |r| {
        let (events, t) = f(r)?;
        out = Some(t);
        Ok::<_, AuthError>(Planned {
            events,
            ..Default::default()
        })
    });
    match res {
        Ok(_) => Ok(out.unwrap()),
        Err(crate::store::WriteError::Rejected(e)) => Err(e),
        Err(e) => panic!("{e}"),
    }
}

fn pair(s: &Store, now: i64) -> NewPairing {
    apply(s, |r| {
        request_pairing(
            r,
            "till 1",
            DEVICE_TOKEN,
            Timestamp(now),
            60_000,
            random_code,
        )
    })
    .unwrap()
}

#[test]
fn a_paired_token_works_only_after_approval() {
    let (_d, s) = store();
    let p = pair(&s, 0);
    assert_eq!(p.code.len(), 6);
    assert_eq!(
        authenticate(&s.reader(), DEVICE_TOKEN).unwrap(),
        Authn::AwaitingApproval
    );
    let rec = apply(&s, |r| {
        approve_pairing(
            r,
            &p.code,
            Role::Associate,
            Actor::Admin,
            Some(Role::Manager),
            Timestamp(1),
        )
    })
    .unwrap();
    assert_eq!(rec.id, p.id);
    match authenticate(&s.reader(), DEVICE_TOKEN).unwrap() {
        Authn::Valid { role, label, id } => {
            assert_eq!(
                (role, label.as_str(), id),
                (Role::Associate, "till 1", p.id.into())
            );
        }
        other => panic!("{other:?}"),
    }
    // The code is spent.
    let again = apply(&s, |r| {
        approve_pairing(r, &p.code, Role::Manager, Actor::Admin, None, Timestamp(2))
    });
    assert!(matches!(again, Err(AuthError::UnknownCode(_))));
}

#[test]
fn an_expired_code_cannot_be_approved() {
    let (_d, s) = store();
    let p = pair(&s, 0);
    let res = apply(&s, |r| {
        approve_pairing(
            r,
            &p.code,
            Role::Associate,
            Actor::Admin,
            None,
            Timestamp(60_000),
        )
    });
    assert!(matches!(res, Err(AuthError::ExpiredCode(_))));
    assert_eq!(
        authenticate(&s.reader(), DEVICE_TOKEN).unwrap(),
        Authn::AwaitingApproval
    );
}

#[test]
fn a_rejected_pairing_never_activates() {
    let (_d, s) = store();
    let p = pair(&s, 0);
    apply(&s, |r| {
        reject_pairing(r, &p.code, Actor::Admin, Timestamp(1))
    })
    .unwrap();
    assert_eq!(
        authenticate(&s.reader(), DEVICE_TOKEN).unwrap(),
        Authn::AwaitingApproval
    );
    assert_eq!(
        s.reader().pairing(p.id).unwrap().unwrap().state,
        PairingState::Rejected
    );
    assert!(s.reader().open_pairings(Timestamp(1)).unwrap().is_empty());
}

#[test]
fn a_manager_cannot_grant_technician() {
    let (_d, s) = store();
    let p = pair(&s, 0);
    let res = apply(&s, |r| {
        approve_pairing(
            r,
            &p.code,
            Role::Technician,
            Actor::Admin,
            Some(Role::Manager),
            Timestamp(1),
        )
    });
    assert!(matches!(res, Err(AuthError::CannotGrant { .. })));
    apply(&s, |r| {
        let by = Some(Role::Technician);
        approve_pairing(r, &p.code, Role::Technician, Actor::Admin, by, Timestamp(1))
    })
    .unwrap();
}

#[test]
fn a_token_cannot_pair_twice_and_bad_shapes_are_refused() {
    let (_d, s) = store();
    pair(&s, 0);
    let res = apply(&s, |r| {
        request_pairing(r, "x", DEVICE_TOKEN, Timestamp(0), 1, random_code)
    });
    assert!(matches!(res, Err(AuthError::TokenTaken)));
    let short = apply(&s, |r| {
        request_pairing(r, "x", "short", Timestamp(0), 1, random_code)
    });
    assert!(matches!(
        short,
        Err(AuthError::Invalid { field: "token", .. })
    ));
    let bad = "x".repeat(31) + "!";
    let res = apply(&s, |r| {
        request_pairing(r, "x", &bad, Timestamp(0), 1, random_code)
    });
    assert!(matches!(
        res,
        Err(AuthError::Invalid { field: "token", .. })
    ));
    let res = apply(&s, |r| {
        request_pairing(r, " ", &"y".repeat(40), Timestamp(0), 1, random_code)
    });
    assert!(matches!(
        res,
        Err(AuthError::Invalid {
            field: "device_name",
            ..
        })
    ));
}

#[test]
fn codes_shown_by_open_pairings_are_not_reused() {
    let (_d, s) = store();
    let first = apply(&s, |r| {
        request_pairing(r, "a", &"a".repeat(40), Timestamp(0), 60_000, || {
            "111111".into()
        })
    })
    .unwrap();
    let mut draws = vec!["222222".to_string(), "111111".to_string()];
    let second = apply(&s, |r| {
        request_pairing(r, "b", &"b".repeat(40), Timestamp(0), 60_000, || {
            draws.pop().unwrap()
        })
    })
    .unwrap();
    assert_eq!(
        (first.code.as_str(), second.code.as_str()),
        ("111111", "222222")
    );
    let res = apply(&s, |r| {
        request_pairing(r, "c", &"c".repeat(40), Timestamp(0), 60_000, || {
            "111111".into()
        })
    });
    assert!(matches!(res, Err(AuthError::NoFreeCode)));
}

#[test]
fn issued_tokens_authenticate_until_revoked() {
    let (_d, s) = store();
    let (id, token) = apply(&s, |r| {
        let (events, id, token) = issue_token(r, Role::Technician, "laptop", Actor::Admin)?;
        Ok((events, (id, token)))
    })
    .unwrap();
    assert!(token.starts_with("edt_") && check_token_shape(&token).is_ok());
    assert!(matches!(
        authenticate(&s.reader(), &token).unwrap(),
        Authn::Valid { .. }
    ));
    apply(&s, |r| Ok((revoke_token(r, id, Actor::Admin, None)?, ()))).unwrap();
    assert_eq!(authenticate(&s.reader(), &token).unwrap(), Authn::Revoked);
    let events = revoke_token(&s.reader(), id, Actor::Admin, None).unwrap();
    assert!(events.is_empty(), "revoking twice journals nothing");
    let unknown = revoke_token(&s.reader(), TokenId::random(), Actor::Admin, None);
    assert!(matches!(unknown, Err(AuthError::UnknownToken(_))));
    assert!(s.verify().unwrap().ok());
}

#[test]
fn a_manager_cannot_revoke_a_technician() {
    let (_d, s) = store();
    let (id, _) = apply(&s, |r| {
        let (events, id, token) = issue_token(r, Role::Technician, "laptop", Actor::Admin)?;
        Ok((events, (id, token)))
    })
    .unwrap();
    let res = revoke_token(&s.reader(), id, Actor::Admin, Some(Role::Manager));
    assert!(matches!(res, Err(AuthError::CannotGrant { .. })));
    assert_eq!(
        revoke_token(&s.reader(), id, Actor::Admin, Some(Role::Technician))
            .unwrap()
            .len(),
        1
    );
}
