//! `single_leader`: at no tick do two masters believe they lead (a paused
//! master's frozen belief aside). The runner asks it after every tick
//! (`Cluster::leading_masters` leaves paused masters out).

use mesochaos_reference::ProcessId;

/// The problem with the masters that believe they lead, with their epochs:
/// the message and the processes involved, or `None` if at most one does.
pub fn problem(leading: &[(ProcessId, u64)]) -> Option<(String, Vec<String>)> {
    if leading.len() <= 1 {
        return None;
    }
    let names = leading
        .iter()
        .map(|(n, e)| format!("{n} (epoch {e})"))
        .collect::<Vec<_>>();
    Some((
        format!(
            "{} masters believe they lead: {}",
            leading.len(),
            names.join(", ")
        ),
        leading.iter().map(|(n, _)| n.to_string()).collect(),
    ))
}
