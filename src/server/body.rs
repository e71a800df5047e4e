//! Reading a request body without letting a slow client hold anything up.
//!
//! A body must arrive within the receiver's `body_timeout`; the bytes held are counted against
//! one shared budget (so memory stays bounded) instead of a fixed number of slots (which 64
//! clients sending a byte a second used to fill, stopping all intake). Shutdown stops every
//! read at once: nothing of a body that had not fully arrived is stored.

use axum::body::Bytes;
use http_body_util::BodyExt;
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;

/// Why a body was not read.
#[derive(Debug, thiserror::Error)]
pub(super) enum BodyError {
    #[error("the body did not arrive within {0:?}; send it faster or in smaller batches")]
    TooSlow(std::time::Duration),
    #[error("body is over the limit of {0} bytes; send smaller batches")]
    TooLarge(usize),
    #[error("the receiver is shutting down; nothing of this request was stored, resend")]
    ShuttingDown,
    #[error("cannot read the body: {0}")]
    Read(String),
}

/// A body read whole, and its share of the memory budget (released when dropped).
pub(super) struct ReadBody {
    pub bytes: Vec<u8>,
    _budget: Option<OwnedSemaphorePermit>,
}

/// Reads `body` to the end, within `timeout`, at most `max` bytes.
pub(super) async fn read(
    body: axum::body::Body,
    timeout: std::time::Duration,
    max: usize,
    budget: &Arc<Semaphore>,
    stopping: &mut watch::Receiver<bool>,
) -> Result<ReadBody, BodyError> {
    if *stopping.borrow_and_update() {
        return Err(BodyError::ShuttingDown);
    }
    let deadline = Instant::now() + timeout;
    let read = async {
        let mut body = body;
        let mut bytes = Vec::new();
        let mut held: Option<OwnedSemaphorePermit> = None;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| BodyError::Read(e.to_string()))?;
            let Ok(chunk) = frame.into_data() else { continue };
            let chunk: Bytes = chunk;
            if bytes.len() + chunk.len() > max {
                return Err(BodyError::TooLarge(max));
            }
            if !chunk.is_empty() {
                let n = u32::try_from(chunk.len()).map_err(|_| BodyError::TooLarge(max))?;
                let permit = budget.clone().acquire_many_owned(n).await.map_err(|_| BodyError::ShuttingDown)?;
                match held.as_mut() {
                    Some(h) => h.merge(permit),
                    None => held = Some(permit),
                }
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(ReadBody { bytes, _budget: held })
    };
    tokio::select! {
        biased;
        _ = stopping.wait_for(|s| *s) => Err(BodyError::ShuttingDown),
        r = tokio::time::timeout_at(deadline, read) => r.unwrap_or(Err(BodyError::TooSlow(timeout))),
    }
}
