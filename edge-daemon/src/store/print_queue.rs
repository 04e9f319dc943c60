//! The durable print queue: jobs survive a restart and are printed in order per device.
//!
//! Print jobs are operational state of the box, not business state: they live in their own tree
//! (`print_jobs`, keyed by a queue sequence) beside the projections, are not journaled and not
//! sent to the cloud. A job is enqueued by [`super::Store::write`] through
//! [`super::Planned::print_jobs`], in the same transaction as the request's idempotency key, so
//! a retried print request never prints twice. Workers move jobs through [`JobState`] with
//! [`super::Store::update_print_job`].
//!
//! A job found `Printing` when the daemon starts was cut off by a crash or power loss; the
//! printer may have printed all, part or none of it. It becomes `Interrupted`, is reported, and
//! is reprinted only on request, so that a receipt is never printed twice silently.

use protocol::Timestamp;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Store, StoreError};
use crate::clock::now;

/// Where a print job stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobState {
    /// Waiting for its turn.
    Queued,
    /// Waiting for the printer: paper out, cover open, offline (the reason).
    Waiting(String),
    /// Being sent to the printer.
    Printing,
    /// The printer took it whole.
    Done,
    /// It could not be printed (the reason); nothing or all of it was sent.
    Failed(String),
    /// Cancelled before it printed.
    Cancelled,
    /// The daemon stopped while it was printing; reprint on request.
    Interrupted,
}

impl JobState {
    /// The state's name in the API and events.
    pub fn name(&self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Waiting(_) => "waiting",
            JobState::Printing => "printing",
            JobState::Done => "done",
            JobState::Failed(_) => "failed",
            JobState::Cancelled => "cancelled",
            JobState::Interrupted => "interrupted",
        }
    }

    /// The reason, for waiting and failed jobs.
    pub fn detail(&self) -> Option<&str> {
        match self {
            JobState::Waiting(r) | JobState::Failed(r) => Some(r),
            _ => None,
        }
    }

    /// The job still wants the printer.
    pub fn is_pending(&self) -> bool {
        matches!(self, JobState::Queued | JobState::Waiting(_))
    }
}

/// One print job: the bytes for the device, ready to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrintJob {
    pub id: Uuid,
    /// Position in the queue; orders jobs.
    pub seq: u64,
    /// The device's logical name.
    pub device: String,
    /// What it is, for people: "receipt", "label", "test page", "raw".
    pub what: String,
    pub payload: Vec<u8>,
    pub state: JobState,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Times it was sent to the printer.
    pub attempts: u32,
}

/// A job to enqueue; the store assigns its queue position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPrintJob {
    pub id: Uuid,
    pub device: String,
    pub what: String,
    pub payload: Vec<u8>,
}

pub(crate) fn decode(raw: &[u8]) -> Result<PrintJob, StoreError> {
    postcard::from_bytes(raw).map_err(|e| StoreError::Corrupt {
        what: "print job",
        detail: e.to_string(),
    })
}

pub(crate) fn encode(job: &PrintJob) -> Vec<u8> {
    postcard::to_stdvec(job).unwrap_or_default()
}

impl Store {
    fn print_job_raw(&self, id: Uuid) -> Result<Option<PrintJob>, StoreError> {
        match self.inner.print_job_ids.get(id.as_bytes())? {
            None => Ok(None),
            Some(seq) => match self.inner.print_jobs.get(seq)? {
                None => Ok(None),
                Some(raw) => decode(&raw).map(Some),
            },
        }
    }

    /// The job with this id.
    pub fn print_job(&self, id: Uuid) -> Result<Option<PrintJob>, StoreError> {
        self.print_job_raw(id)
    }

    /// The oldest pending job for `device`.
    pub fn next_print_job(&self, device: &str) -> Result<Option<PrintJob>, StoreError> {
        for item in self.inner.print_jobs.iter() {
            let (_, raw) = item?;
            let job = decode(&raw)?;
            if job.device == device && job.state.is_pending() {
                return Ok(Some(job));
            }
        }
        Ok(None)
    }

    /// The newest `limit` jobs, newest first, of one device or all.
    pub fn print_jobs(
        &self,
        device: Option<&str>,
        limit: usize,
    ) -> Result<Vec<PrintJob>, StoreError> {
        let mut out = Vec::new();
        for item in self.inner.print_jobs.iter().rev() {
            let (_, raw) = item?;
            let job = decode(&raw)?;
            if device.is_none_or(|d| d == job.device) {
                out.push(job);
                if out.len() == limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// Moves a job to `state` durably; `sent` counts an attempt. Returns the updated job.
    pub fn update_print_job(
        &self,
        id: Uuid,
        state: JobState,
        sent: bool,
    ) -> Result<Option<PrintJob>, StoreError> {
        let updated = {
            let _guard = self.inner.writer.lock().unwrap_or_else(|p| p.into_inner());
            let Some(mut job) = self.print_job_raw(id)? else {
                return Ok(None);
            };
            job.state = state;
            job.updated_at = now();
            job.attempts += u32::from(sent);
            self.inner
                .print_jobs
                .insert(job.seq.to_be_bytes(), encode(&job))?;
            job
        };
        self.flush()?;
        Ok(Some(updated))
    }

    /// Marks jobs left `Printing` by a previous run as `Interrupted`; returns them.
    pub fn interrupt_unfinished_print_jobs(&self) -> Result<Vec<PrintJob>, StoreError> {
        let mut found = Vec::new();
        for item in self.inner.print_jobs.iter() {
            let (_, raw) = item?;
            let job = decode(&raw)?;
            if job.state == JobState::Printing {
                found.push(job.id);
            }
        }
        let mut out = Vec::new();
        for id in found {
            if let Some(job) = self.update_print_job(id, JobState::Interrupted, false)? {
                out.push(job);
            }
        }
        Ok(out)
    }
}
