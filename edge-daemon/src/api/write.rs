//! Running a state-changing request through the store.
//!
//! The handler supplies a decision over the projections that returns the events to journal and
//! the response to send. [`commit`] runs it under the store's writer lock with the request's
//! idempotency key, waits for the commit to be durable, and answers; a retry with the same key
//! gets the stored first answer with the header `Idempotent-Replayed: true`.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use protocol::Event;
use serde::{Deserialize, Serialize};

use super::problem::ApiError;
use super::AppState;
use crate::store::{IdemRequest, NewPrintJob, Planned, Reader, WriteOutcome};

/// Set on a response that repeats the first answer to an idempotency key.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// A response as remembered under an idempotency key.
#[derive(Debug, Serialize, Deserialize)]
struct Stored {
    status: u16,
    body: serde_json::Value,
}

/// What a decision returns on success.
#[derive(Debug)]
pub struct Decision {
    pub events: Vec<Event>,
    pub status: StatusCode,
    pub body: serde_json::Value,
    /// Print jobs to enqueue with the events.
    pub print_jobs: Vec<NewPrintJob>,
}

impl Decision {
    /// `events` to journal, answered with `status` and `body`.
    pub fn new(events: Vec<Event>, status: StatusCode, body: impl Serialize) -> Decision {
        let body = serde_json::to_value(body).unwrap_or(serde_json::Value::Null);
        Decision {
            events,
            status,
            body,
            print_jobs: Vec::new(),
        }
    }

    /// Also enqueues `job`, in the same transaction.
    pub fn with_print_job(mut self, job: NewPrintJob) -> Decision {
        self.print_jobs.push(job);
        self
    }
}

/// The first answer to `idem`, if the key was used before: for actions on devices, which
/// must not run twice, and so look the key up before they act.
pub async fn replay(state: &AppState, idem: &IdemRequest) -> Result<Option<Response>, ApiError> {
    let store = state.store.clone();
    let req = idem.clone();
    let found = super::blocking(move || store.idempotency_record(&req))
        .await
        .map_err(|e| ApiError::Internal(format!("lookup task failed: {e}")))??;
    let Some(rec) = found else { return Ok(None) };
    if rec.fingerprint != idem.fingerprint {
        return Err(ApiError::IdempotencyConflict);
    }
    render(&rec.response, true).map(Some)
}

fn render(stored: &[u8], replayed: bool) -> Result<Response, ApiError> {
    let stored: Stored = serde_json::from_slice(stored)
        .map_err(|e| ApiError::Internal(format!("stored response does not decode: {e}")))?;
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let mut resp = (status, axum::Json(stored.body)).into_response();
    if replayed {
        resp.headers_mut()
            .insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    }
    Ok(resp)
}

/// Commits the decision's events with `idem` and answers once they are durable.
pub async fn commit<F>(state: &AppState, idem: IdemRequest, decide: F) -> Result<Response, ApiError>
where
    F: FnOnce(&Reader<'_>) -> Result<Decision, ApiError> + Send + 'static,
{
    let store = state.store.clone();
    let outcome = super::blocking(move || {
        store.write(Some(&idem), |r| {
            let d = decide(r)?;
            let stored = Stored {
                status: d.status.as_u16(),
                body: d.body,
            };
            let response = serde_json::to_vec(&stored)
                .map_err(|e| ApiError::Internal(format!("cannot encode response: {e}")))?;
            Ok(Planned {
                events: d.events,
                response,
                print_jobs: d.print_jobs,
            })
        })
    })
    .await
    .map_err(|e| ApiError::Internal(format!("writer task failed: {e}")))??;
    let replayed = matches!(outcome, WriteOutcome::Replayed { .. });
    render(outcome.response(), replayed)
}
