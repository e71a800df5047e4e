//! How far the ETA is from what happened: the demo notes the ETA the Approvals inbox would show
//! for each phase as it starts ([`Estimate::phase`], the same call) and, at the end of a
//! headless run, compares it with how long the phase took. `shipdeck demo --headless` prints
//! the comparison and the median absolute error, so the ETA model is measured, not believed.

use crate::domain::DeploymentKey;
use crate::domain::PhaseStatus;
use crate::store::{Store, StoreError};
use chrono::TimeDelta;

/// The ETA of one phase as it started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Predicted {
    pub key: DeploymentKey,
    pub phase: String,
    pub hosts: usize,
    pub eta: TimeDelta,
}

/// A predicted ETA next to the phase's real duration.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    pub predicted: Predicted,
    pub took: TimeDelta,
    /// (predicted - took) / took.
    pub error: f64,
}

/// The ETA of `phase` if it starts now: `None` when the model has no history yet.
pub fn predict(store: &Store, key: DeploymentKey, phase: &str) -> Result<Option<Predicted>, StoreError> {
    let detail = store.detail(key, false)?;
    let Some(p) = detail.phases.iter().find(|p| p.name == phase) else { return Ok(None) };
    let Some(estimate) = store.estimate(&detail.summary.model)? else { return Ok(None) };
    Ok(Some(Predicted { key, phase: phase.to_owned(), hosts: p.targets, eta: estimate.phase(p.targets) }))
}

/// The predictions of phases that succeeded, with how long each took (first event to success,
/// agents' time).
pub fn check(store: &Store, predicted: &[Predicted]) -> Result<Vec<Checked>, StoreError> {
    let mut out = Vec::new();
    for p in predicted {
        let phases = store.detail(p.key, false)?.phases;
        let Some(phase) = phases.iter().find(|ph| ph.name == p.phase && ph.status == PhaseStatus::Succeeded) else {
            continue;
        };
        let (Some(start), Some(end)) = (phase.started_at, phase.finished_at) else { continue };
        let took = end - start;
        if took <= TimeDelta::zero() {
            continue;
        }
        #[allow(clippy::cast_precision_loss)]
        let error = (p.eta - took).num_milliseconds() as f64 / took.num_milliseconds() as f64;
        out.push(Checked { predicted: p.clone(), took, error });
    }
    Ok(out)
}

/// The median of the absolute errors (`None` without checks).
#[must_use]
pub fn median_absolute_error(checked: &[Checked]) -> Option<f64> {
    let mut errors: Vec<f64> = checked.iter().map(|c| c.error.abs()).collect();
    if errors.is_empty() {
        return None;
    }
    errors.sort_by(f64::total_cmp);
    let mid = errors.len() / 2;
    Some(if errors.len() % 2 == 0 { f64::midpoint(errors[mid - 1], errors[mid]) } else { errors[mid] })
}
