//! Faults as the runner applies them: each target resolved to processes or
//! machines when the fault fires, the fault done to what they name, and undone
//! when its heal is due.

use super::Runner;
use crate::report::Violation;
use crate::shared::{DropRule, MessageChaos};
use mesochaos_faults::{Fault, Target};
use mesochaos_reference::{ProcessId, Resources};
use serde::{Deserialize, Serialize};

/// What a fault hit, once its targets resolved.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    pub processes: Vec<ProcessId>,
    pub machines: Vec<String>,
}

/// What a fault's targets resolved to, by the shape the fault needs.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Hit {
    /// Crash, restart, pause, resume: processes.
    Processes(Vec<ProcessId>),
    /// Isolate, reboot, wipe, torn write, reconfigure: machines.
    Machines(Vec<String>),
    /// Partition (two-way or one-way, from `a` to `b`): two sides.
    Sides { a: Vec<String>, b: Vec<String> },
    /// Two sides and the machines of the bridge between them (the first is
    /// the bridge).
    Bridge {
        a: Vec<String>,
        bridge: Vec<String>,
        b: Vec<String>,
    },
    /// A majorities ring, in ring order.
    Ring(Vec<String>),
    /// A message route: drop the next message, or filter every one.
    Route { from: ProcessId, to: ProcessId },
    /// Heal, message chaos, release: no target.
    Nothing,
}

impl Hit {
    /// The processes it names (a route: sender and receiver).
    fn processes(&self) -> Vec<ProcessId> {
        match self {
            Hit::Processes(p) => p.clone(),
            Hit::Route { from, to } => vec![from.clone(), to.clone()],
            _ => vec![],
        }
    }

    /// The machines it names, in order (sides `a`, bridge, `b`).
    fn machines(&self) -> Vec<String> {
        match self {
            Hit::Machines(m) | Hit::Ring(m) => m.clone(),
            Hit::Sides { a, b } => [a.clone(), b.clone()].concat(),
            Hit::Bridge { a, bridge, b } => [a.clone(), bridge.clone(), b.clone()].concat(),
            _ => vec![],
        }
    }
}

impl Runner {
    pub(super) fn incarnation(&self, process: &ProcessId) -> u32 {
        self.cluster
            .shared
            .slots
            .borrow()
            .get(process)
            .map_or(0, |s| s.incarnation)
    }

    pub(super) fn resolve(&self, target: &Target) -> Option<ProcessId> {
        self.resolve_all(target, false)?.into_iter().next()
    }

    /// The processes `target` names now. A group pick chooses among the
    /// group's running members (its stopped ones, for a heal such as
    /// `restart`), ordered by a hash of the seed, the time and the name: no
    /// random stream is drawn from, so a schedule shifts no other draws.
    pub(super) fn resolve_all(&self, target: &Target, for_heal: bool) -> Option<Vec<ProcessId>> {
        let one = |p: Option<ProcessId>| p.map(|p| vec![p]);
        match target {
            Target::Process(name) => Some(vec![ProcessId::new(name.clone())]),
            Target::Leader => one(self.cluster.leader().map(|(n, _)| n)),
            // The instance the leader obeys; while none is (the framework is
            // between a failover and its re-registration, or cut off from the
            // leader), the instance that believes it is active — still the
            // framework's scheduler, and a fault on it is not without target.
            Target::ActiveScheduler(framework) => one(self
                .cluster
                .active_instance(framework)
                .or_else(|| self.cluster.self_declared_active(framework))),
            Target::DisplacedScheduler(framework) => one(self.displaced.get(framework).cloned()),
            Target::AgentOf(task) => one(self.cluster.agent_running(task)),
            Target::AgentRunning(framework) => one(self.cluster.agent_running_framework(framework)),
            Target::LastCrashed => one(self.last_crashed.clone()),
            Target::Members { pick, group } => {
                let all: Vec<ProcessId> = self
                    .cluster
                    .processes()
                    .into_iter()
                    .filter(|p| group.contains(p.as_str()))
                    .collect();
                let mut candidates: Vec<(u64, ProcessId)> = all
                    .iter()
                    .filter(|p| self.cluster.is_running(p) != for_heal)
                    .map(|p| {
                        let mut h = crate::seed::Fnv64::default();
                        h.write(&self.cluster.shared.seed.to_le_bytes());
                        h.write(&self.now().to_le_bytes());
                        h.write(p.as_str().as_bytes());
                        (h.finish(), p.clone())
                    })
                    .collect();
                candidates.sort();
                let count = pick.count(all.len()).min(candidates.len());
                if count == 0 {
                    return None;
                }
                let mut chosen: Vec<ProcessId> =
                    candidates.into_iter().take(count).map(|(_, p)| p).collect();
                chosen.sort();
                Some(chosen)
            }
        }
    }

    fn resolve_machines(&self, targets: &[Target]) -> Option<Vec<String>> {
        let mut machines = Vec::new();
        for t in targets {
            for p in self.resolve_all(t, false)? {
                machines.push(self.cluster.machine_of(&p)?);
            }
        }
        machines.sort();
        machines.dedup();
        Some(machines)
    }

    /// What `fault`'s targets name now, or `None` if one names nothing yet
    /// ("the leader" during an election).
    fn resolve_fault(&self, fault: &Fault) -> Option<Hit> {
        let heal = matches!(fault, Fault::Restart(_) | Fault::Resume(_));
        Some(match fault {
            Fault::Crash(t) | Fault::Restart(t) | Fault::Pause(t) | Fault::Resume(t) => {
                Hit::Processes(self.resolve_all(t, heal)?)
            }
            Fault::Isolate(t)
            | Fault::Reboot { target: t, .. }
            | Fault::WipeDisk { target: t, .. }
            | Fault::TornWrite { target: t, .. }
            | Fault::Reconfigure { target: t, .. } => {
                Hit::Machines(self.resolve_machines(std::slice::from_ref(t))?)
            }
            Fault::Partition { a, b } | Fault::PartitionOneWay { from: a, to: b } => {
                let a = self.resolve_machines(a);
                let b = self.resolve_machines(b);
                Hit::Sides { a: a?, b: b? }
            }
            Fault::Bridge { a, bridge, b } => {
                let a = self.resolve_machines(a);
                let bridge = self.resolve_machines(std::slice::from_ref(bridge));
                let b = self.resolve_machines(b);
                Hit::Bridge {
                    a: a?,
                    bridge: bridge?,
                    b: b?,
                }
            }
            Fault::Ring(ring) => {
                // In ring order (not sorted): the order is the ring.
                let mut machines = Vec::new();
                for t in ring {
                    let m = self.resolve(t).and_then(|p| self.cluster.machine_of(&p))?;
                    if !machines.contains(&m) {
                        machines.push(m);
                    }
                }
                Hit::Ring(machines)
            }
            Fault::DropNext { from, to, .. } | Fault::Filter { from, to, .. } => {
                let from = self.resolve(from);
                let to = self.resolve(to);
                Hit::Route {
                    from: from?,
                    to: to?,
                }
            }
            Fault::Heal | Fault::MessageChaos { .. } | Fault::CalmMessages | Fault::Release(_) => {
                Hit::Nothing
            }
        })
    }

    /// Applies a fault; `Ok(None)` if a target cannot be resolved yet, else
    /// what it hit.
    pub(super) fn apply_fault(&mut self, fault: &Fault) -> Result<Option<Applied>, Violation> {
        // Resolve every target first: "the leader" during an election waits.
        let Some(hit) = self.resolve_fault(fault) else {
            return Ok(None);
        };
        let (processes, machines) = (hit.processes(), hit.machines());
        for process in &processes {
            self.check_known(process)?;
        }
        // Remember which instance a fault on a framework's active instance hit.
        for target in fault.targets() {
            if let Target::ActiveScheduler(framework) = target {
                if let Some(process) = self.resolve(target) {
                    self.displaced.insert(framework.clone(), process);
                }
            }
        }
        // A fault that kills or cuts off the current leader starts a failover:
        // capture what the old leader knows, to compare with what the new one
        // rebuilds (offers excluded: they are soft state by design).
        if let Some((leader, epoch)) = self.cluster.leader() {
            let leader_machine = self.cluster.machine_of(&leader);
            let hits_leader = match fault {
                Fault::Crash(_) | Fault::Pause(_) => processes.contains(&leader),
                Fault::Isolate(_)
                | Fault::Partition { .. }
                | Fault::PartitionOneWay { .. }
                | Fault::Bridge { .. }
                | Fault::Ring(_)
                | Fault::Reboot { .. }
                | Fault::WipeDisk { .. } => {
                    machines.iter().any(|m| Some(m) == leader_machine.as_ref())
                }
                _ => false,
            };
            if hits_leader {
                self.rebuilt_before = self.cluster.leader_view();
                self.failover = Some((self.now(), epoch));
                self.failover_time_ms = None;
                self.last_leader_epoch = Some(epoch);
            }
        }
        match fault {
            Fault::Crash(_) => {
                for p in &processes {
                    if self.cluster.is_alive(p) {
                        self.cluster.crash(p);
                        self.last_crashed = Some(p.clone());
                    }
                }
            }
            Fault::Restart(_) => {
                for p in &processes {
                    let powered = self
                        .cluster
                        .machine_of(p)
                        .is_some_and(|m| !self.cluster.is_powered_off(&m));
                    if !self.cluster.is_running(p) && powered {
                        self.cluster.restart(p);
                    }
                }
            }
            Fault::Pause(_) => {
                for p in &processes {
                    self.cluster.pause(p);
                }
            }
            Fault::Resume(_) => {
                for p in &processes {
                    if self.cluster.is_paused(p) {
                        self.cluster.resume(p);
                    }
                }
            }
            Fault::Partition { .. } => {
                let Hit::Sides { a, b } = &hit else {
                    unreachable!()
                };
                self.cluster.partition(a, b)
            }
            Fault::PartitionOneWay { .. } => {
                let Hit::Sides { a, b } = &hit else {
                    unreachable!()
                };
                self.cluster.partition_oneway(a, b)
            }
            Fault::Bridge { .. } => {
                let Hit::Bridge { a, bridge, b } = &hit else {
                    unreachable!()
                };
                self.cluster.bridge(a, &bridge[0], b)
            }
            Fault::Ring(_) => self.cluster.ring(&machines),
            Fault::Isolate(_) => {
                for machine in &machines {
                    let others: Vec<String> = self
                        .cluster
                        .machines()
                        .into_iter()
                        .filter(|m| m != machine)
                        .collect();
                    self.cluster
                        .partition(std::slice::from_ref(machine), &others);
                }
            }
            Fault::Heal => self.cluster.heal(),
            Fault::Reboot { down_ms, .. } => {
                for machine in &machines {
                    self.cluster.power_off(machine, None);
                    self.cluster.schedule_power_on(machine, *down_ms);
                }
            }
            Fault::WipeDisk { down_ms, .. } => {
                for machine in &machines {
                    self.cluster.power_off(machine, None);
                    self.cluster.wipe_disk(machine);
                    self.cluster.schedule_power_on(machine, *down_ms);
                }
            }
            Fault::TornWrite { down_ms, .. } => {
                for machine in &machines {
                    self.cluster.tear_next_write(machine, *down_ms);
                }
            }
            Fault::Reconfigure {
                cpus_milli,
                mem_mb,
                disk_mb,
                ..
            } => {
                let resources = Resources::new(*cpus_milli, *mem_mb, *disk_mb);
                for machine in &machines {
                    self.cluster.reconfigure(machine, resources);
                }
            }
            Fault::DropNext { kind, .. } => {
                let Hit::Route { from, to } = &hit else {
                    unreachable!()
                };
                self.cluster.drop_next(DropRule {
                    from: from.clone(),
                    to: to.clone(),
                    kind: kind.clone(),
                })
            }
            Fault::MessageChaos {
                drop_per_mille,
                delay_max_ms,
                stress,
            } => self.cluster.message_chaos(Some(MessageChaos {
                drop_per_mille: *drop_per_mille,
                delay_max_ms: *delay_max_ms,
                stress: *stress,
            })),
            Fault::CalmMessages => self.cluster.message_chaos(None),
            Fault::Filter {
                kind,
                from,
                to,
                hold,
            } => {
                let Hit::Route {
                    from: sender,
                    to: receiver,
                } = &hit
                else {
                    unreachable!()
                };
                let route = mesochaos_faults::Route {
                    kind: kind.clone(),
                    from: from.clone(),
                    to: to.clone(),
                };
                self.cluster.fault(
                    if *hold { "hold" } else { "drop" },
                    format!("every {kind} {sender} -> {receiver}"),
                );
                crate::filters::add(
                    &self.cluster.shared,
                    crate::filters::FilterRule {
                        route,
                        from: sender.clone(),
                        to: receiver.clone(),
                        hold: *hold,
                    },
                );
            }
            Fault::Release(route) => {
                let what = route
                    .as_ref()
                    .map_or("every filter".to_string(), |r| r.to_string());
                self.cluster.fault("release", what);
                let now = self.now();
                crate::filters::release(&self.cluster.shared, route.as_ref(), now);
            }
        }
        Ok(Some(Applied {
            processes,
            machines,
        }))
    }

    /// Undoes what fault `fault` did to `applied`.
    pub(super) fn heal_fault(&mut self, fault: &Fault, applied: &Applied) {
        match fault {
            Fault::Crash(_) => {
                for p in &applied.processes {
                    let powered = self
                        .cluster
                        .machine_of(p)
                        .is_some_and(|m| !self.cluster.is_powered_off(&m));
                    if !self.cluster.is_alive(p) && powered {
                        self.cluster.restart(p);
                    }
                }
            }
            Fault::Pause(_) => {
                for p in &applied.processes {
                    if self.cluster.is_paused(p) {
                        self.cluster.resume(p);
                    }
                }
            }
            Fault::MessageChaos { .. } => self.cluster.message_chaos(None),
            Fault::TornWrite { .. } => {
                for m in &applied.machines {
                    self.cluster.disarm_torn_write(m);
                }
            }
            f if f.is_network() => self.cluster.heal(),
            _ => {}
        }
    }

    pub(super) fn check_known(&self, process: &ProcessId) -> Result<(), Violation> {
        if self.cluster.machine_of(process).is_none() {
            return Err(self.violation(
                "step",
                format!("no process named {process}"),
                vec![process.to_string()],
            ));
        }
        Ok(())
    }
}
