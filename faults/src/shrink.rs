//! # Shrinking a failing schedule
//!
//! A failing nemesis run usually holds far more faults than the bug needs. As
//! in property-based testing (and Jepsen's and TigerBeetle's reproductions),
//! [`candidates`] proposes smaller schedules — drop one fault, shorten one,
//! move one later, hit fewer targets — and the caller keeps the first candidate
//! that still fails *the same checker*, then asks again, until no candidate
//! fails. The order puts removals first: once no single removal still fails,
//! the schedule is 1-minimal.

use crate::{Fault, Pick, Schedule, Target};

/// Smaller schedules to try, most aggressive first: chunk removals (halves,
/// quarters, …), every single removal, then for each fault a shorter, a later and a narrower version. `safety_ms` bounds
/// how late a fault may move (it must still heal within the safety phase).
pub fn candidates(schedule: &Schedule, safety_ms: u64) -> Vec<Schedule> {
    let mut out = Vec::new();
    // Chunk removals first, as in Zeller's delta debugging (ddmin): drop each
    // half, then each quarter, and so on down to chunks of two. A schedule of
    // 40 faults whose bug needs 2 of them then shrinks in a few dozen runs
    // instead of one run per fault per accepted removal.
    let n = schedule.faults.len();
    let mut chunks = 2;
    while n / chunks >= 2 {
        let size = n.div_ceil(chunks);
        for start in (0..n).step_by(size) {
            let mut s = schedule.clone();
            s.faults.drain(start..(start + size).min(n));
            out.push(s);
        }
        chunks *= 2;
    }
    for i in 0..schedule.faults.len() {
        let mut s = schedule.clone();
        s.faults.remove(i);
        out.push(s);
    }
    for i in 0..schedule.faults.len() {
        let f = &schedule.faults[i];
        let len = f.heal_after_ms.unwrap_or_else(|| down_ms(&f.fault));
        // Shorter: half as long (not below a second).
        if len > 2_000 {
            let mut s = schedule.clone();
            let g = &mut s.faults[i];
            if let Some(heal) = &mut g.heal_after_ms {
                *heal = len / 2;
            }
            set_down_ms(&mut g.fault, len / 2);
            out.push(s);
        }
        // Later: halfway to the last moment it can still heal in the phase.
        let latest = safety_ms.saturating_sub(len + 1);
        if latest > f.at_ms + 1_000 {
            let mut s = schedule.clone();
            s.faults[i].at_ms = f.at_ms + (latest - f.at_ms) / 2;
            s.faults.sort_by_key(|f| f.at_ms);
            out.push(s);
        }
        // Narrower: fewer targets.
        for fault in narrower(&f.fault) {
            let mut s = schedule.clone();
            s.faults[i].fault = fault;
            out.push(s);
        }
    }
    out
}

/// A measure that strictly decreases with every accepted candidate (the
/// shrink loop's termination argument): faults, then total fault time, then
/// targets, then how early faults start.
pub fn size(schedule: &Schedule, safety_ms: u64) -> (usize, u64, usize, u64) {
    let time = schedule
        .faults
        .iter()
        .map(|f| f.heal_after_ms.unwrap_or_else(|| down_ms(&f.fault)))
        .sum();
    let targets = schedule
        .faults
        .iter()
        .map(|f| target_weight(&f.fault))
        .sum();
    let earliness = schedule
        .faults
        .iter()
        .map(|f| safety_ms.saturating_sub(f.at_ms))
        .sum();
    (schedule.faults.len(), time, targets, earliness)
}

fn down_ms(fault: &Fault) -> u64 {
    match fault {
        Fault::Reboot { down_ms, .. }
        | Fault::WipeDisk { down_ms, .. }
        | Fault::TornWrite { down_ms, .. } => *down_ms,
        _ => 0,
    }
}

fn set_down_ms(fault: &mut Fault, ms: u64) {
    if let Fault::Reboot { down_ms, .. }
    | Fault::WipeDisk { down_ms, .. }
    | Fault::TornWrite { down_ms, .. } = fault
    {
        *down_ms = ms;
    }
}

fn target_weight(fault: &Fault) -> usize {
    fault
        .targets()
        .iter()
        .map(|t| match t {
            Target::Members { pick, .. } => match pick {
                Pick::One => 1,
                Pick::Minority => 2,
                Pick::Majority => 3,
                Pick::All => 4,
            },
            _ => 1,
        })
        .sum()
}

/// Versions of `fault` that hit fewer targets.
fn narrower(fault: &Fault) -> Vec<Fault> {
    let mut out = Vec::new();
    let smaller_pick = |t: &Target| match t {
        Target::Members { pick, group } => pick.smaller().map(|pick| Target::Members {
            pick,
            group: *group,
        }),
        _ => None,
    };
    match fault {
        Fault::Crash(t) => {
            if let Some(t) = smaller_pick(t) {
                out.push(Fault::Crash(t));
            }
        }
        Fault::Partition { a, b } => {
            for (i, _) in a.iter().enumerate().filter(|_| a.len() > 1) {
                let mut a = a.clone();
                a.remove(i);
                out.push(Fault::Partition { a, b: b.clone() });
            }
            for (i, _) in b.iter().enumerate().filter(|_| b.len() > 1) {
                let mut b = b.clone();
                b.remove(i);
                out.push(Fault::Partition { a: a.clone(), b });
            }
        }
        Fault::PartitionOneWay { from, to } => {
            for (i, _) in from.iter().enumerate().filter(|_| from.len() > 1) {
                let mut from = from.clone();
                from.remove(i);
                out.push(Fault::PartitionOneWay {
                    from,
                    to: to.clone(),
                });
            }
            for (i, _) in to.iter().enumerate().filter(|_| to.len() > 1) {
                let mut to = to.clone();
                to.remove(i);
                out.push(Fault::PartitionOneWay {
                    from: from.clone(),
                    to,
                });
            }
        }
        Fault::Ring(machines) if machines.len() > 3 => {
            for i in 0..machines.len() {
                let mut m = machines.clone();
                m.remove(i);
                out.push(Fault::Ring(m));
            }
        }
        Fault::Bridge { a, bridge, b } => {
            for (i, _) in a.iter().enumerate().filter(|_| a.len() > 1) {
                let mut a = a.clone();
                a.remove(i);
                out.push(Fault::Bridge {
                    a,
                    bridge: bridge.clone(),
                    b: b.clone(),
                });
            }
            for (i, _) in b.iter().enumerate().filter(|_| b.len() > 1) {
                let mut b = b.clone();
                b.remove(i);
                out.push(Fault::Bridge {
                    a: a.clone(),
                    bridge: bridge.clone(),
                    b,
                });
            }
        }
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FaultKind, ScheduledFault};

    fn crash(at_ms: u64, name: &str) -> ScheduledFault {
        ScheduledFault {
            at_ms,
            kind: FaultKind::CrashAgent,
            fault: Fault::Crash(Target::Process(name.into())),
            heal_after_ms: Some(10_000),
        }
    }

    #[test]
    fn halves_and_quarters_are_dropped_before_single_faults() {
        let faults: Vec<_> = (0..8)
            .map(|i| crash(1_000 * (i + 1), &format!("agent-{i}")))
            .collect();
        let schedule = Schedule {
            faults: faults.clone(),
        };
        let all = candidates(&schedule, 100_000);
        // Halves, then quarters (chunks of 2), then each single fault.
        assert_eq!(all[0].faults, faults[4..].to_vec());
        assert_eq!(all[1].faults, faults[..4].to_vec());
        assert_eq!(all[2].faults, faults[2..].to_vec());
        assert_eq!(all[5].faults, faults[..6].to_vec());
        assert_eq!(all[6].faults, faults[1..].to_vec());
        assert_eq!(all[6 + 7].faults, faults[..7].to_vec());
        let before = size(&schedule, 100_000);
        assert!(all.iter().all(|c| size(c, 100_000) < before));
    }

    #[test]
    fn every_candidate_is_smaller_and_removals_come_first() {
        let schedule = Schedule {
            faults: vec![crash(1_000, "agent-1"), crash(5_000, "agent-2")],
        };
        let all = candidates(&schedule, 100_000);
        assert_eq!(all[0].faults, vec![crash(5_000, "agent-2")]);
        assert_eq!(all[1].faults, vec![crash(1_000, "agent-1")]);
        let before = size(&schedule, 100_000);
        for c in &all {
            assert!(size(c, 100_000) < before, "{c:?}");
        }
    }
}
