//! # The nemesis: a fault schedule drawn from a seed
//!
//! A scenario's `[nemesis]` names fault kinds with weights, how often a fault
//! starts, how long one lasts and how long the *safety phase* runs. [`draw`]
//! turns that, the cluster's shape and a random stream into a [`Schedule`]: a
//! plain list of faults with their start times and heal delays. The schedule is
//! data — saved as JSON with a failing run, replayed exactly, shrunk by
//! [`crate::shrink`] — and the harness never draws anything else from the
//! nemesis stream, so replaying or shrinking a schedule shifts no other draws.
//!
//! Like Jepsen's nemeses and TigerBeetle's simulator, the run has two phases:
//! faults come and go during the safety phase; then everything is healed and
//! the cluster must converge within a bound derived from its timings (the
//! liveness phase, run by the harness).

use crate::{Fault, Group, Pick, Target};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// What the nemesis can do; each kind maps to one [`Fault`] shape and its heal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// Kill the leading master; restart it after the fault's duration.
    CrashLeader,
    /// Kill a minority of the masters; restart them.
    CrashMasters,
    /// Kill an agent process (its executors live on); restart it.
    CrashAgent,
    /// Kill an executor host (its tasks die with it); restart it.
    CrashExecutors,
    /// Kill a framework's active scheduler instance; restart it.
    CrashScheduler,
    /// Power-cycle an agent machine (unsynced writes lost).
    RebootAgent,
    /// Power off an agent machine and erase its disk.
    WipeAgent,
    /// Tear the next disk append of an agent machine (a power failure mid-write).
    TornWrite,
    /// Cut one machine off from all others.
    Isolate,
    /// Split the machines into two halves.
    PartitionHalves,
    /// Lose the messages from one half to the other only.
    PartitionOneWay,
    /// Majorities ring over the machines.
    Ring,
    /// Two halves joined by one bridge machine.
    Bridge,
    /// SIGSTOP a process; SIGCONT it after the fault's duration.
    Pause,
    /// Lose and delay messages across all connections for a while.
    MessageChaos,
    /// A labelled stress option, never in the standard mix: message chaos that
    /// also duplicates messages and reorders them within a connection.
    MessageStress,
}

impl FaultKind {
    pub const ALL: [FaultKind; 16] = [
        FaultKind::CrashLeader,
        FaultKind::CrashMasters,
        FaultKind::CrashAgent,
        FaultKind::CrashExecutors,
        FaultKind::CrashScheduler,
        FaultKind::RebootAgent,
        FaultKind::WipeAgent,
        FaultKind::TornWrite,
        FaultKind::Isolate,
        FaultKind::PartitionHalves,
        FaultKind::PartitionOneWay,
        FaultKind::Ring,
        FaultKind::Bridge,
        FaultKind::Pause,
        FaultKind::MessageChaos,
        FaultKind::MessageStress,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FaultKind::CrashLeader => "crash_leader",
            FaultKind::CrashMasters => "crash_masters",
            FaultKind::CrashAgent => "crash_agent",
            FaultKind::CrashExecutors => "crash_executors",
            FaultKind::CrashScheduler => "crash_scheduler",
            FaultKind::RebootAgent => "reboot_agent",
            FaultKind::WipeAgent => "wipe_agent",
            FaultKind::TornWrite => "torn_write",
            FaultKind::Isolate => "isolate",
            FaultKind::PartitionHalves => "partition_halves",
            FaultKind::PartitionOneWay => "partition_one_way",
            FaultKind::Ring => "ring",
            FaultKind::Bridge => "bridge",
            FaultKind::Pause => "pause",
            FaultKind::MessageChaos => "message_chaos",
            FaultKind::MessageStress => "message_stress",
        }
    }

    pub fn parse(text: &str) -> Option<FaultKind> {
        FaultKind::ALL.into_iter().find(|k| k.name() == text)
    }

    /// Kinds that cut links; they never overlap each other (one heal repairs
    /// every cut).
    pub fn is_network(self) -> bool {
        matches!(
            self,
            FaultKind::Isolate
                | FaultKind::PartitionHalves
                | FaultKind::PartitionOneWay
                | FaultKind::Ring
                | FaultKind::Bridge
        )
    }
}

impl FaultKind {
    /// Message chaos of either flavour (one at a time).
    pub fn is_message_chaos(self) -> bool {
        matches!(self, FaultKind::MessageChaos | FaultKind::MessageStress)
    }

    /// Kinds that hit one target, which `[nemesis.targets]` may choose.
    pub fn takes_target(self) -> bool {
        self.kills() || matches!(self, FaultKind::Isolate | FaultKind::Pause)
    }

    /// Kinds that kill or power off their target (never the coordinator).
    pub fn kills(self) -> bool {
        matches!(
            self,
            FaultKind::CrashLeader
                | FaultKind::CrashMasters
                | FaultKind::CrashAgent
                | FaultKind::CrashExecutors
                | FaultKind::CrashScheduler
                | FaultKind::RebootAgent
                | FaultKind::WipeAgent
                | FaultKind::TornWrite
        )
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A scenario's `[nemesis]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NemesisSpec {
    /// Fault kinds and their weights (a kind with weight 0 is never drawn).
    pub kinds: BTreeMap<FaultKind, u32>,
    /// Mean time between two fault starts; each gap is drawn uniformly from
    /// half to one and a half times this.
    pub interval_ms: u64,
    /// How long a fault lasts before its heal (or a machine stays down): drawn
    /// uniformly from this range.
    pub fault_ms: (u64, u64),
    /// Length of the safety phase; every fault heals within it.
    pub safety_ms: u64,
    /// The liveness bound, if the scenario sets one (else derived from timings).
    pub liveness_ms: Option<u64>,
    /// Targets that replace what a kind would pick (`[nemesis.targets]`), for
    /// the kinds that hit one target ([`FaultKind::takes_target`]).
    #[serde(default)]
    pub targets: BTreeMap<FaultKind, Target>,
}

/// The names a schedule can target, from the cluster's shape.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Shape {
    pub masters: Vec<String>,
    /// Agent processes (`agent-N`); their machines have the same names.
    pub agents: Vec<String>,
    /// Framework names.
    pub frameworks: Vec<String>,
    /// One process per machine other than agent machines (the coordinator,
    /// masters, scheduler instances, storage servers).
    pub other_machines: Vec<String>,
    /// Processes that may be paused (every process but executor hosts).
    pub pausable: Vec<String>,
}

impl Shape {
    /// One process name per machine (an agent machine is named by its agent).
    pub fn machines(&self) -> Vec<String> {
        let mut all: Vec<String> = self.other_machines.clone();
        all.extend(self.agents.iter().cloned());
        all.sort();
        all
    }
}

/// One fault of a schedule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledFault {
    /// When it fires (simulated ms since the start of the run).
    pub at_ms: u64,
    pub kind: FaultKind,
    pub fault: Fault,
    /// When its heal fires, after the fault: restart what a crash killed,
    /// resume what a pause stopped, repair what a partition cut, calm message
    /// chaos. `None` for faults that end on their own (a rebooted machine
    /// comes back after its `down_ms`).
    pub heal_after_ms: Option<u64>,
}

/// The faults of one run's safety phase, in start order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    pub faults: Vec<ScheduledFault>,
}

impl Schedule {
    /// The kinds in the schedule.
    pub fn kinds(&self) -> Vec<FaultKind> {
        let mut kinds: Vec<FaultKind> = self.faults.iter().map(|f| f.kind).collect();
        kinds.sort();
        kinds.dedup();
        kinds
    }
}

/// A uniform draw in `[low, high]`.
fn uniform(rng: &mut impl RngCore, low: u64, high: u64) -> u64 {
    if high <= low {
        return low;
    }
    low + rng.next_u64() % (high - low + 1)
}

fn choose<'a, T>(rng: &mut impl RngCore, items: &'a [T]) -> Option<&'a T> {
    if items.is_empty() {
        return None;
    }
    Some(&items[(rng.next_u64() % items.len() as u64) as usize])
}

/// A Fisher–Yates shuffle driven by `rng`.
fn shuffled(rng: &mut impl RngCore, items: &[String]) -> Vec<String> {
    let mut items = items.to_vec();
    for i in (1..items.len()).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
    items
}

fn targets(names: &[String]) -> Vec<Target> {
    names.iter().map(|n| Target::Process(n.clone())).collect()
}

/// Draws the safety phase's schedule. Every draw comes from `rng` (the run's
/// nemesis stream), in a fixed order.
pub fn draw(spec: &NemesisSpec, shape: &Shape, rng: &mut impl RngCore) -> Schedule {
    let weighted: Vec<(FaultKind, u32)> = spec
        .kinds
        .iter()
        .filter(|(kind, w)| **w > 0 && applicable(**kind, shape))
        .map(|(k, w)| (*k, *w))
        .collect();
    let total: u64 = weighted.iter().map(|(_, w)| *w as u64).sum();
    let mut faults = Vec::new();
    if total == 0 || spec.interval_ms == 0 {
        return Schedule { faults };
    }
    // When each exclusive resource is free again: the network (cuts never
    // overlap), message chaos, and each process a fault stops or kills.
    let mut network_free_at = 0;
    let mut chaos_free_at = 0;
    let mut busy: BTreeMap<String, u64> = BTreeMap::new();
    let mut t = uniform(rng, spec.interval_ms / 2, spec.interval_ms * 3 / 2);
    // Leave room for the last fault's heal inside the safety phase.
    let last_start = spec.safety_ms.saturating_sub(spec.fault_ms.0.max(1_000));
    while t < last_start {
        let mut pick = rng.next_u64() % total;
        let kind = weighted
            .iter()
            .find(|(_, w)| {
                if pick < *w as u64 {
                    true
                } else {
                    pick -= *w as u64;
                    false
                }
            })
            .map(|(k, _)| *k)
            .expect("the pick is below the total weight");
        let max_len = spec.safety_ms - t - 1;
        let len = uniform(rng, spec.fault_ms.0, spec.fault_ms.1).min(max_len);
        // The kind's own pick is drawn either way, so that adding a target
        // for one kind leaves the rest of the schedule as it was.
        let fault =
            make(kind, len, shape, rng).map(|(fault, heal, hits)| match spec.targets.get(&kind) {
                Some(target) => {
                    let hits = match target {
                        Target::Process(name) => vec![name.clone()],
                        other => vec![format!("target:{other}")],
                    };
                    (fault.with_target(target.clone()), heal, hits)
                }
                None => (fault, heal, hits),
            });
        let gap = uniform(rng, spec.interval_ms / 2, spec.interval_ms * 3 / 2).max(1);
        let Some((fault, heal_after_ms, hits)) = fault else {
            t += gap;
            continue;
        };
        let free = if kind.is_network() {
            network_free_at <= t
        } else if kind.is_message_chaos() {
            chaos_free_at <= t
        } else {
            hits.iter().all(|p| busy.get(p).is_none_or(|at| *at <= t))
        };
        if free {
            let end = t + heal_after_ms.unwrap_or(len);
            if kind.is_network() {
                network_free_at = end;
            } else if kind.is_message_chaos() {
                chaos_free_at = end;
            }
            for p in hits {
                busy.insert(p, end);
            }
            faults.push(ScheduledFault {
                at_ms: t,
                kind,
                fault,
                heal_after_ms,
            });
        }
        t += gap;
    }
    Schedule { faults }
}

/// Whether the cluster has something for `kind` to hit.
fn applicable(kind: FaultKind, shape: &Shape) -> bool {
    match kind {
        FaultKind::CrashLeader | FaultKind::CrashMasters => !shape.masters.is_empty(),
        FaultKind::CrashAgent
        | FaultKind::CrashExecutors
        | FaultKind::RebootAgent
        | FaultKind::WipeAgent
        | FaultKind::TornWrite => !shape.agents.is_empty(),
        FaultKind::CrashScheduler => !shape.frameworks.is_empty(),
        FaultKind::Isolate | FaultKind::PartitionHalves | FaultKind::PartitionOneWay => {
            shape.machines().len() >= 2
        }
        FaultKind::Ring | FaultKind::Bridge => shape.machines().len() >= 3,
        FaultKind::Pause => !shape.pausable.is_empty(),
        FaultKind::MessageChaos | FaultKind::MessageStress => true,
    }
}

/// The fault for `kind` lasting `len` ms: (fault, heal delay, the processes it
/// keeps busy — a process is not hit by two overlapping faults).
fn make(
    kind: FaultKind,
    len: u64,
    shape: &Shape,
    rng: &mut impl RngCore,
) -> Option<(Fault, Option<u64>, Vec<String>)> {
    let agent = |rng: &mut _| choose(rng, &shape.agents).cloned();
    Some(match kind {
        FaultKind::CrashLeader => (Fault::Crash(Target::Leader), Some(len), vec![]),
        FaultKind::CrashMasters => (
            Fault::Crash(Target::Members {
                pick: Pick::Minority,
                group: Group::Masters,
            }),
            Some(len),
            vec![],
        ),
        FaultKind::CrashAgent => {
            let a = agent(rng)?;
            (Fault::Crash(Target::Process(a.clone())), Some(len), vec![a])
        }
        FaultKind::CrashExecutors => {
            let a = agent(rng)?;
            let e = a.replacen("agent-", "executors-", 1);
            (Fault::Crash(Target::Process(e)), Some(len), vec![a])
        }
        FaultKind::CrashScheduler => {
            let fw = choose(rng, &shape.frameworks)?.clone();
            (
                Fault::Crash(Target::ActiveScheduler(fw.clone())),
                Some(len),
                vec![format!("scheduler:{fw}")],
            )
        }
        FaultKind::RebootAgent => {
            let a = agent(rng)?;
            let target = Target::Process(a.clone());
            let fault = Fault::Reboot {
                target,
                down_ms: len,
            };
            (fault, None, vec![a])
        }
        FaultKind::WipeAgent => {
            let a = agent(rng)?;
            let target = Target::Process(a.clone());
            (
                Fault::WipeDisk {
                    target,
                    down_ms: len,
                },
                None,
                vec![a],
            )
        }
        FaultKind::TornWrite => {
            let a = agent(rng)?;
            let target = Target::Process(a.clone());
            (
                Fault::TornWrite {
                    target,
                    down_ms: len,
                },
                // Armed until the next append; the machine is down `len` after.
                Some(len),
                vec![a],
            )
        }
        FaultKind::Isolate => {
            let m = choose(rng, &shape.machines())?.clone();
            (Fault::Isolate(Target::Process(m)), Some(len), vec![])
        }
        FaultKind::PartitionHalves | FaultKind::PartitionOneWay => {
            let machines = shuffled(rng, &shape.machines());
            let (a, b) = machines.split_at(machines.len() / 2);
            let fault = if kind == FaultKind::PartitionHalves {
                Fault::Partition {
                    a: targets(a),
                    b: targets(b),
                }
            } else {
                Fault::PartitionOneWay {
                    from: targets(a),
                    to: targets(b),
                }
            };
            (fault, Some(len), vec![])
        }
        FaultKind::Ring => {
            let machines = shuffled(rng, &shape.machines());
            (Fault::Ring(targets(&machines)), Some(len), vec![])
        }
        FaultKind::Bridge => {
            let machines = shuffled(rng, &shape.machines());
            let (bridge, rest) = machines.split_first()?;
            let (a, b) = rest.split_at(rest.len() / 2);
            (
                Fault::Bridge {
                    a: targets(a),
                    bridge: Target::Process(bridge.clone()),
                    b: targets(b),
                },
                Some(len),
                vec![],
            )
        }
        FaultKind::Pause => {
            let p = choose(rng, &shape.pausable)?.clone();
            (Fault::Pause(Target::Process(p.clone())), Some(len), vec![p])
        }
        FaultKind::MessageChaos | FaultKind::MessageStress => {
            let drop_per_mille = uniform(rng, 20, 200) as u32;
            let delay_max_ms = uniform(rng, 50, 1_000);
            (
                Fault::MessageChaos {
                    drop_per_mille,
                    delay_max_ms,
                    stress: kind == FaultKind::MessageStress,
                },
                Some(len),
                vec![],
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn shape() -> Shape {
        Shape {
            masters: vec!["master-1".into(), "master-2".into(), "master-3".into()],
            agents: (1..=4).map(|i| format!("agent-{i}")).collect(),
            frameworks: vec!["web".into()],
            other_machines: vec![
                "coordinator".into(),
                "master-1".into(),
                "master-2".into(),
                "master-3".into(),
                "scheduler-web-1".into(),
            ],
            pausable: vec!["master-1".into(), "agent-1".into()],
        }
    }

    fn spec() -> NemesisSpec {
        NemesisSpec {
            kinds: FaultKind::ALL.iter().map(|k| (*k, 1)).collect(),
            interval_ms: 10_000,
            fault_ms: (2_000, 20_000),
            safety_ms: 300_000,
            liveness_ms: None,
            targets: BTreeMap::new(),
        }
    }

    #[test]
    fn the_same_stream_draws_the_same_schedule_and_every_fault_heals_in_the_safety_phase() {
        let draw_with = |seed| {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            draw(&spec(), &shape(), &mut rng)
        };
        let a = draw_with(7);
        assert_eq!(a, draw_with(7));
        assert_ne!(a, draw_with(8));
        assert!(a.faults.len() > 10, "{}", a.faults.len());
        for f in &a.faults {
            let end = f.at_ms + f.heal_after_ms.unwrap_or(0);
            assert!(end < 300_000, "{f:?}");
        }
        // Network cuts never overlap.
        let cuts: Vec<(u64, u64)> = a
            .faults
            .iter()
            .filter(|f| f.kind.is_network())
            .map(|f| (f.at_ms, f.at_ms + f.heal_after_ms.unwrap()))
            .collect();
        for pair in cuts.windows(2) {
            assert!(pair[0].1 <= pair[1].0, "{pair:?}");
        }
        // A schedule is a JSON value.
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(serde_json::from_str::<Schedule>(&json).unwrap(), a);
    }

    #[test]
    fn a_chosen_target_replaces_the_kinds_pick_and_nothing_else() {
        let mut chosen = spec();
        chosen.kinds = [(FaultKind::CrashAgent, 1), (FaultKind::Ring, 1)].into();
        let plain = chosen.clone();
        chosen.targets.insert(
            FaultKind::CrashAgent,
            Target::Members {
                pick: Pick::Minority,
                group: Group::Agents,
            },
        );
        let draw_with = |spec: &NemesisSpec| {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
            draw(spec, &shape(), &mut rng)
        };
        let (a, b) = (draw_with(&plain), draw_with(&chosen));
        assert!(a.faults.iter().any(|f| f.kind == FaultKind::CrashAgent));
        assert!(a.faults.iter().any(|f| f.kind == FaultKind::Ring));
        // Crashes of one group target never overlap, so `b` may hold fewer.
        for f in &b.faults {
            match f.kind {
                FaultKind::CrashAgent => {
                    assert_eq!(f.fault.to_string(), "crash minority:agents")
                }
                _ => assert!(a.faults.contains(f), "{f:?} is not in the plain schedule"),
            }
        }
    }
}
