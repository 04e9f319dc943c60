//! Tokens, roles and pairing: the decisions, shared by the LAN API and the admin socket.
//!
//! Every function here is a decision over the projections: it reads through a [`Reader`] and
//! returns the events to journal, or an [`AuthError`] that says why not. Nothing is written here;
//! callers pass these functions to [`crate::store::Store::write`].
//!
//! Tokens are opaque strings of 32 to 128 URL-safe characters. Only their SHA-256 is stored.
//! Tokens issued by the box start with `edt_` followed by 32 random bytes in base64url. A device
//! that pairs brings its own token (generated from its own random source), so that no secret ever
//! travels from the box or sits in an idempotency record; the token is inactive until a manager
//! approves the pairing code.

use base64::Engine;
use protocol::event::Actor;
use protocol::{Event, PairingId, Role, Timestamp, TokenId};
use sha2::{Digest, Sha256};

use crate::store::{PairingRecord, PairingState, Reader, StoreError};

/// Shortest token accepted.
pub const TOKEN_MIN_LEN: usize = 32;
/// Longest token accepted.
pub const TOKEN_MAX_LEN: usize = 128;
/// Longest device name or token label.
pub const LABEL_MAX_LEN: usize = 64;

/// Why an authentication or pairing step was refused.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("no pending pairing shows code {0}")]
    UnknownCode(String),
    #[error("pairing code {0} has expired; ask the device to pair again")]
    ExpiredCode(String),
    #[error("this token is already registered; generate a new one")]
    TokenTaken,
    #[error("no token with id {0}")]
    UnknownToken(TokenId),
    #[error("a {actor} may not grant or revoke the {role} role")]
    CannotGrant { actor: Role, role: Role },
    #[error("no free pairing code; too many pairings are pending")]
    NoFreeCode,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// SHA-256 of a token, the only form in which tokens are stored.
pub fn hash_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Fills `buf` from the operating system's random source.
fn random_bytes(buf: &mut [u8]) {
    // getrandom only fails if the OS has no entropy source at all; a box without one cannot
    // issue secrets safely, so stopping is the right answer.
    getrandom::getrandom(buf).expect("the operating system's random source is unavailable");
}

/// A new random token for the box to hand out (CLI, tests).
pub fn new_token() -> String {
    let mut raw = [0u8; 32];
    random_bytes(&mut raw);
    format!(
        "edt_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    )
}

/// Checks the shape of a token presented by a client.
pub fn check_token_shape(token: &str) -> Result<(), AuthError> {
    let invalid = |reason: String| AuthError::Invalid {
        field: "token",
        reason,
    };
    if !(TOKEN_MIN_LEN..=TOKEN_MAX_LEN).contains(&token.len()) {
        return Err(invalid(format!(
            "must be {TOKEN_MIN_LEN} to {TOKEN_MAX_LEN} characters, found {}",
            token.len()
        )));
    }
    if let Some(c) = token
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~')))
    {
        return Err(invalid(format!(
            "contains {c:?}; allowed are A-Z, a-z, 0-9, - _ . ~"
        )));
    }
    Ok(())
}

/// Checks a device name or token label.
pub fn check_label(field: &'static str, label: &str) -> Result<(), AuthError> {
    let trimmed = label.trim();
    if trimmed.is_empty() || trimmed.chars().count() > LABEL_MAX_LEN {
        return Err(AuthError::Invalid {
            field,
            reason: format!("must be 1 to {LABEL_MAX_LEN} characters"),
        });
    }
    if label.chars().any(char::is_control) {
        return Err(AuthError::Invalid {
            field,
            reason: "contains control characters".into(),
        });
    }
    Ok(())
}

/// Who may grant which role: a manager grants associate and manager; a technician, or root on
/// the box, grants any role.
fn may_grant(actor: Option<Role>, role: Role) -> Result<(), AuthError> {
    match (actor, role) {
        (None, _) | (Some(Role::Technician), _) => Ok(()),
        (Some(Role::Manager), Role::Associate | Role::Manager) => Ok(()),
        (Some(actor), role) => Err(AuthError::CannotGrant { actor, role }),
    }
}

/// What a new pairing looks like to the device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPairing {
    pub id: PairingId,
    pub code: String,
    pub expires_at: Timestamp,
}

/// A device asks to pair with its own token. `code_draw` picks candidate codes; the first one
/// not shown by an open pairing is used.
pub fn request_pairing(
    r: &Reader<'_>,
    device_name: &str,
    token: &str,
    now: Timestamp,
    ttl_ms: i64,
    mut code_draw: impl FnMut() -> String,
) -> Result<(Vec<Event>, NewPairing), AuthError> {
    check_label("device_name", device_name)?;
    check_token_shape(token)?;
    let token_hash = hash_token(token);
    if r.token_by_hash(&token_hash)?.is_some() {
        return Err(AuthError::TokenTaken);
    }
    let mut code = None;
    for _ in 0..32 {
        let candidate = code_draw();
        let taken = r
            .pairing_by_code(&candidate)?
            .is_some_and(|p| p.is_open(now));
        if !taken {
            code = Some(candidate);
            break;
        }
    }
    let code = code.ok_or(AuthError::NoFreeCode)?;
    let new = NewPairing {
        id: PairingId::random(),
        code,
        expires_at: now.plus_millis(ttl_ms),
    };
    let event = Event::PairingRequested {
        pairing: new.id,
        code: new.code.clone(),
        device_name: device_name.trim().to_owned(),
        token_hash,
        expires_at: new.expires_at,
    };
    Ok((vec![event], new))
}

/// A random six-digit pairing code.
pub fn random_code() -> String {
    let mut raw = [0u8; 4];
    random_bytes(&mut raw);
    format!("{:06}", u32::from_le_bytes(raw) % 1_000_000)
}

/// The open pairing that shows `code` at `now`.
fn open_pairing(r: &Reader<'_>, code: &str, now: Timestamp) -> Result<PairingRecord, AuthError> {
    let rec = r
        .pairing_by_code(code)?
        .ok_or_else(|| AuthError::UnknownCode(code.to_owned()))?;
    if rec.state != PairingState::Pending {
        return Err(AuthError::UnknownCode(code.to_owned()));
    }
    if !rec.is_open(now) {
        return Err(AuthError::ExpiredCode(code.to_owned()));
    }
    Ok(rec)
}

/// A manager (or root) approves the pairing showing `code`, granting `role`.
pub fn approve_pairing(
    r: &Reader<'_>,
    code: &str,
    role: Role,
    actor: Actor,
    actor_role: Option<Role>,
    now: Timestamp,
) -> Result<(Vec<Event>, PairingRecord), AuthError> {
    may_grant(actor_role, role)?;
    let rec = open_pairing(r, code, now)?;
    Ok((
        vec![Event::PairingApproved {
            pairing: rec.id,
            role,
            by: actor,
        }],
        rec,
    ))
}

/// A manager (or root) refuses the pairing showing `code`.
pub fn reject_pairing(
    r: &Reader<'_>,
    code: &str,
    actor: Actor,
    now: Timestamp,
) -> Result<(Vec<Event>, PairingRecord), AuthError> {
    let rec = open_pairing(r, code, now)?;
    Ok((
        vec![Event::PairingRejected {
            pairing: rec.id,
            by: actor,
        }],
        rec,
    ))
}

/// Issues a token directly (admin socket). Returns the events and the token itself, which the
/// caller shows once.
pub fn issue_token(
    r: &Reader<'_>,
    role: Role,
    label: &str,
    actor: Actor,
) -> Result<(Vec<Event>, TokenId, String), AuthError> {
    check_label("label", label)?;
    let token = new_token();
    let token_hash = hash_token(&token);
    if r.token_by_hash(&token_hash)?.is_some() {
        return Err(AuthError::TokenTaken);
    }
    let id = TokenId::random();
    let event = Event::TokenIssued {
        token: id,
        role,
        label: label.trim().to_owned(),
        token_hash,
        by: actor,
    };
    Ok((vec![event], id, token))
}

/// Revokes a token. Revoking a revoked token journals nothing and succeeds. The same rule as
/// for granting applies: a manager cannot revoke a technician's token.
pub fn revoke_token(
    r: &Reader<'_>,
    id: TokenId,
    actor: Actor,
    actor_role: Option<Role>,
) -> Result<Vec<Event>, AuthError> {
    let rec = r.token_by_id(id)?.ok_or(AuthError::UnknownToken(id))?;
    if let Some(role) = rec.role {
        may_grant(actor_role, role)?;
    }
    if rec.revoked {
        return Ok(Vec::new());
    }
    Ok(vec![Event::TokenRevoked {
        token: id,
        by: actor,
    }])
}

/// The outcome of presenting a bearer token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authn {
    Valid {
        id: TokenId,
        role: Role,
        label: String,
    },
    Unknown,
    Revoked,
    AwaitingApproval,
}

/// Looks a presented token up.
pub fn authenticate(r: &Reader<'_>, token: &str) -> Result<Authn, StoreError> {
    let Some(rec) = r.token_by_hash(&hash_token(token))? else {
        return Ok(Authn::Unknown);
    };
    Ok(match (rec.revoked, rec.active, rec.role) {
        (true, _, _) => Authn::Revoked,
        (false, true, Some(role)) => Authn::Valid {
            id: rec.id,
            role,
            label: rec.label,
        },
        _ => Authn::AwaitingApproval,
    })
}

#[cfg(test)]
mod tests;
