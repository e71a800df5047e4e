//! Which gate holds a deployment: one rule for the log, which applies it as events and decisions
//! arrive (`store::gates::awaiting`), and for replay, which applies it to a deployment as it was
//! at a moment (`domain::replay`).

use super::{GateState, Previous};
use crate::domain::{DeploymentStatus, PhaseStatus};

/// Whether a deployment whose phases imply `derived` may be held at a gate (a failed or halted
/// one is not).
#[must_use]
pub fn may_hold(derived: DeploymentStatus) -> bool {
    matches!(derived, DeploymentStatus::Planned | DeploymentStatus::Running | DeploymentStatus::Succeeded)
}

/// Whether agents ran past the gate of the phase at `pos`: that phase or a later one has activity.
#[must_use]
pub fn ran_past(statuses: &[PhaseStatus], pos: usize) -> bool {
    statuses[pos..].iter().any(|p| *p != PhaseStatus::Pending)
}

/// The phase before a gate as the gate sees it, from that phase's status and when it finished
/// (`None`: the gate is on the first phase).
#[must_use]
pub fn previous(before: Option<(PhaseStatus, Option<i64>)>) -> Previous {
    match before {
        None => Previous::None,
        Some((PhaseStatus::Succeeded, finished_ms)) => {
            Previous::SucceededAt(crate::clock::from_ms(finished_ms.unwrap_or(0)))
        }
        Some(_) => Previous::NotYet,
    }
}

/// The gate that holds the deployment: the first gate not approved that agents ran past, else
/// the next phase's gate when it is pending. `gate(pos)` answers the state of the gate of the
/// phase at `pos` (`None`: that phase has no gate); it is asked in phase order and no further
/// than the answer needs.
pub fn holding<E>(
    statuses: &[PhaseStatus],
    mut gate: impl FnMut(usize) -> Result<Option<GateState>, E>,
) -> Result<Option<usize>, E> {
    let next = statuses.iter().position(|p| *p != PhaseStatus::Succeeded);
    for pos in 0..statuses.len() {
        let Some(state) = gate(pos)? else { continue };
        if state == GateState::Approved {
            continue;
        }
        let held = state != GateState::Rejected
            && (ran_past(statuses, pos) || (Some(pos) == next && state == GateState::Pending));
        return Ok(held.then_some(pos));
    }
    Ok(None)
}

/// The deployment's status given the status its phases imply and the gate holding it: a gate
/// that agents ran past leaves the status to what the agents did.
#[must_use]
pub fn awaiting(derived: DeploymentStatus, statuses: &[PhaseStatus], held: Option<usize>) -> DeploymentStatus {
    match held {
        Some(pos) if may_hold(derived) && !ran_past(statuses, pos) => DeploymentStatus::AwaitingApproval,
        _ => derived,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PhaseStatus::{Pending, Running, Succeeded};

    fn held(statuses: &[PhaseStatus], gates: &[Option<GateState>]) -> Option<usize> {
        holding::<()>(statuses, |pos| Ok(gates[pos])).expect("no error")
    }

    #[test]
    fn the_next_phases_pending_gate_holds_the_deployment() {
        let gates = [None, Some(GateState::Pending), None];
        assert_eq!(held(&[Succeeded, Pending, Pending], &gates), Some(1));
        assert_eq!(
            awaiting(DeploymentStatus::Running, &[Succeeded, Pending, Pending], Some(1)),
            DeploymentStatus::AwaitingApproval
        );
        // Still running the phase before: the gate waits and holds nothing yet.
        assert_eq!(held(&[Running, Pending, Pending], &[None, Some(GateState::Waiting), None]), None);
        // Approved: nothing holds it.
        assert_eq!(held(&[Succeeded, Pending, Pending], &[None, Some(GateState::Approved), None]), None);
    }

    #[test]
    fn a_gate_agents_ran_past_is_held_but_does_not_make_it_awaiting() {
        let statuses = [Succeeded, Running, Pending];
        assert_eq!(held(&statuses, &[None, Some(GateState::Pending), None]), Some(1));
        assert_eq!(awaiting(DeploymentStatus::Running, &statuses, Some(1)), DeploymentStatus::Running);
        assert_eq!(held(&statuses, &[None, Some(GateState::Rejected), None]), None);
    }
}
