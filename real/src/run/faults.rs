//! A real run's faults: resolving their targets when they fire, as the
//! simulation's `FaultRunner::apply_fault` does, and performing them — by
//! signal (crash, pause, resume), by restart, at the harness's relays
//! (partitions, heal), on a machine's power and disk (reboot, wipe, torn
//! write), and at the receiving process (`drop_next`, filters, release).
//! Each is recorded as the simulation records it, so reports and the trace
//! checkers read a real run like a simulated one.

use super::*;

impl Real<'_> {
    /// What `target` names now, if anything.
    fn resolve(&self, view: &View<'_>, target: &Target) -> Option<ProcessId> {
        match target {
            Target::Process(p) => Some(ProcessId::from(p.as_str())),
            Target::Leader => view.leader().map(|(l, _)| l),
            Target::LastCrashed => self.last_crashed.clone(),
            Target::ActiveScheduler(f) => view
                .active_instance(f)
                .or_else(|| view.self_declared_active(f)),
            Target::DisplacedScheduler(f) => self.displaced.get(f).cloned(),
            Target::AgentOf(task) => view.agent_running(task),
            Target::AgentRunning(f) => view.agent_running_framework(f),
            Target::Members { .. } => None,
        }
    }

    /// The machine `name` runs on (ZooKeeper's is the coordinator's).
    fn machine(&self, name: &ProcessId) -> Option<String> {
        process_names(&self.spec.cluster)
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, m)| m)
    }

    /// The machines `names` run on, sorted, each once.
    fn machines_of(&self, names: &[ProcessId]) -> Vec<String> {
        let mut machines: Vec<String> = names.iter().filter_map(|n| self.machine(n)).collect();
        machines.sort();
        machines.dedup();
        machines
    }

    /// Every machine of the cluster, as the simulation lists them.
    fn machines(&self) -> Vec<String> {
        let set: BTreeSet<String> = process_names(&self.spec.cluster)
            .into_iter()
            .map(|(_, m)| m)
            .collect();
        set.into_iter().collect()
    }

    pub(super) async fn fault(&mut self, i: usize, fault: &Fault) -> Result<(), Violation> {
        if matches!(fault, Fault::Heal) {
            // `Cluster::heal`: every cut repaired; what the relays held flows.
            self.sup.record(TraceKind::Fault {
                fault: "heal".into(),
                detail: "all partitions".into(),
            });
            self.sup.network().heal();
            return Ok(());
        }
        // Targets resolve when the fault fires; one that cannot resolve yet
        // ("the leader" during an election) is waited for, as the simulation
        // waits, up to a minute.
        let targets = fault.targets();
        let started = self.sup.now_ms();
        let (names, leader, leader_view) = loop {
            let slots = self.slots().await;
            let view = self.view(&slots);
            let names: Option<Vec<ProcessId>> =
                targets.iter().map(|t| self.resolve(&view, t)).collect();
            if let Some(names) = names {
                break (names, view.leader(), view.leader_view());
            }
            if self.sup.now_ms() - started > 60_000 {
                return Err(self.violation(
                    "step",
                    format!("step {}: {fault} named no process for a minute", i + 1),
                ));
            }
            drop(slots);
            self.tick()?;
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        for (target, name) in targets.iter().zip(&names) {
            if let Target::ActiveScheduler(framework) = target {
                self.displaced.insert(framework.clone(), name.clone());
            }
        }
        // A fault that stops or cuts off the leader starts a failover the run
        // measures, and the state it held is what the next leader must
        // rebuild (`FaultRunner::apply_fault`).
        if let Some((l, epoch)) = &leader {
            let hits_leader = match fault {
                Fault::Crash(_) | Fault::Pause(_) => names.contains(l),
                Fault::Restart(_) | Fault::Resume(_) => false,
                _ => self
                    .machines_of(&names)
                    .contains(&self.machine(l).unwrap_or_default()),
            };
            if hits_leader {
                self.rebuilt_before = leader_view;
                self.failover_started = Some(self.sup.now_ms());
                self.failover_time_ms = None;
                self.last_leader_epoch = Some(*epoch);
            }
        }
        match fault {
            Fault::Crash(_) | Fault::Restart(_) | Fault::Pause(_) | Fault::Resume(_) => {
                self.signal_fault(i, fault, names[0].clone())
            }
            Fault::Isolate(_) => {
                let machine = self.machine(&names[0]).unwrap_or_default();
                let others: Vec<String> = self
                    .machines()
                    .into_iter()
                    .filter(|m| *m != machine)
                    .collect();
                self.cut("partition", &[machine], &others, " | ", true);
                Ok(())
            }
            Fault::Partition { a, .. } => {
                let (a, b) = names.split_at(a.len());
                self.cut(
                    "partition",
                    &self.machines_of(a),
                    &self.machines_of(b),
                    " | ",
                    true,
                );
                Ok(())
            }
            Fault::PartitionOneWay { from, .. } => {
                let (a, b) = names.split_at(from.len());
                let (a, b) = (self.machines_of(a), self.machines_of(b));
                self.cut("partition_one_way", &a, &b, " -> ", false);
                Ok(())
            }
            Fault::Bridge { a, .. } => {
                let (a, rest) = names.split_at(a.len());
                let (bridge, b) = rest.split_at(1);
                let (a, bridge, b) = (
                    self.machines_of(a),
                    self.machines_of(bridge),
                    self.machines_of(b),
                );
                self.sup.record(TraceKind::Fault {
                    fault: "bridge".into(),
                    detail: format!("{} | {} | {}", a.join(","), bridge.join(","), b.join(",")),
                });
                self.cut_quietly(&a, &b, true);
                Ok(())
            }
            Fault::Ring(_) => {
                // In ring order, as `Cluster::ring` cuts it: each machine
                // keeps its nearest neighbours on each side.
                let mut ring: Vec<String> = Vec::new();
                for name in &names {
                    let m = self.machine(name).unwrap_or_default();
                    if !ring.contains(&m) {
                        ring.push(m);
                    }
                }
                self.sup.record(TraceKind::Fault {
                    fault: "ring".into(),
                    detail: ring.join(","),
                });
                let n = ring.len();
                let reach = (n / 2).div_ceil(2).max(1);
                for x in 0..n {
                    for y in x + 1..n {
                        if (y - x).min(n - (y - x)) > reach {
                            self.cut_quietly(&ring[x..=x], &ring[y..=y], true);
                        }
                    }
                }
                Ok(())
            }
            Fault::Reboot { down_ms, .. } | Fault::WipeDisk { down_ms, .. } => {
                for machine in self.machines_of(&names) {
                    self.power_off(&machine, None)?;
                    if matches!(fault, Fault::WipeDisk { .. }) {
                        self.sup.record(TraceKind::Fault {
                            fault: "wipe_disk".into(),
                            detail: machine.clone(),
                        });
                        self.sup.wipe(&machine);
                    }
                    self.power_on_at
                        .insert(machine, self.sup.now_ms().saturating_add(*down_ms));
                }
                Ok(())
            }
            Fault::TornWrite { down_ms, .. } => {
                // Armed: the next append on the machine long enough to
                // tear is cut by a power failure (`Cluster::tear_next_write`);
                // `tick` sees the torn record and powers the machine off.
                for machine in self.machines_of(&names) {
                    self.sup.record(TraceKind::Fault {
                        fault: "tear_next_write".into(),
                        detail: machine.clone(),
                    });
                    self.sup.arm_torn_write(&machine);
                    self.torn_armed.insert(machine, *down_ms);
                }
                Ok(())
            }
            Fault::DropNext { kind, .. } => {
                let (from, to) = (&names[0], &names[1]);
                self.sup.record(TraceKind::Fault {
                    fault: "drop_next".into(),
                    detail: format!("{kind} {from} -> {to}"),
                });
                self.sup.message_fault(
                    to,
                    MessageFault::DropNext {
                        from: from.clone(),
                        kind: kind.clone(),
                    },
                );
                Ok(())
            }
            Fault::Filter {
                kind,
                from,
                to,
                hold,
            } => {
                let (sender, receiver) = (&names[0], &names[1]);
                // Released by how it was written, as in the simulation.
                let route = mesochaos_faults::Route {
                    kind: kind.clone(),
                    from: from.clone(),
                    to: to.clone(),
                };
                self.sup.record(TraceKind::Fault {
                    fault: if *hold { "hold" } else { "drop" }.into(),
                    detail: format!("every {kind} {sender} -> {receiver}"),
                });
                self.sup.message_fault(
                    receiver,
                    MessageFault::Filter {
                        route: route.to_string(),
                        from: sender.clone(),
                        kind: kind.clone(),
                        hold: *hold,
                    },
                );
                Ok(())
            }
            Fault::Release(route) => {
                self.sup.record(TraceKind::Fault {
                    fault: "release".into(),
                    detail: route
                        .as_ref()
                        .map_or("every filter".to_string(), |r| r.to_string()),
                });
                for name in self.sup.names() {
                    self.sup.message_fault(
                        &name,
                        MessageFault::Release {
                            route: route.as_ref().map(|r| r.to_string()),
                        },
                    );
                }
                Ok(())
            }
            _ => unreachable!("refused before the run"),
        }
    }

    /// What happens on its own between steps: a torn write that cut a
    /// machine's power, and machines due to boot again.
    pub(super) fn tick(&mut self) -> Result<(), Violation> {
        for record in self.sup.new_records() {
            if let TraceKind::Disk {
                machine, op, bytes, ..
            } = &record.kind
            {
                if op == "torn" {
                    if let Some(down_ms) = self.torn_armed.remove(machine) {
                        self.power_off(machine, Some(*bytes))?;
                        self.power_on_at
                            .insert(machine.clone(), self.sup.now_ms().saturating_add(down_ms));
                    }
                }
            }
        }
        let now = self.sup.now_ms();
        let due: Vec<String> = self
            .power_on_at
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(m, _)| m.clone())
            .collect();
        for machine in due {
            self.power_on_at.remove(&machine);
            // `Cluster::power_on`: the machine boots, every process on it
            // starts from what its disk holds.
            self.sup.record(TraceKind::Fault {
                fault: "power_on".into(),
                detail: machine.clone(),
            });
            if let Err(e) = self.sup.power_on(&machine) {
                return Err(self.violation("step", e));
            }
        }
        Ok(())
    }

    /// `Cluster::power_off`, for real: recorded as the simulation records it.
    fn power_off(&mut self, machine: &str, torn_prefix: Option<usize>) -> Result<(), Violation> {
        let detail = match torn_prefix {
            Some(bytes) => {
                format!("{machine} (torn write: {bytes} bytes of the last append survive)")
            }
            None => machine.to_string(),
        };
        self.sup.record(TraceKind::Fault {
            fault: "power_off".into(),
            detail,
        });
        for name in process_names(&self.spec.cluster)
            .into_iter()
            .filter(|(_, m)| m == machine)
            .map(|(n, _)| n)
        {
            self.paused.remove(&name);
        }
        self.sup
            .power_off(machine)
            .map_err(|e| self.violation("step", e))
    }

    /// Records a cut as the simulation records it (`Cluster::partition`,
    /// `Cluster::partition_oneway`), then makes it.
    fn cut(&self, fault: &str, a: &[String], b: &[String], sep: &str, both: bool) {
        self.sup.record(TraceKind::Fault {
            fault: fault.into(),
            detail: format!("{}{sep}{}", a.join(","), b.join(",")),
        });
        self.cut_quietly(a, b, both);
    }

    /// Cuts `a → b` (and `b → a` if `both`) at the relays.
    fn cut_quietly(&self, a: &[String], b: &[String], both: bool) {
        let network = self.sup.network();
        for x in a {
            for y in b {
                if x != y {
                    network.cut(x, y);
                    if both {
                        network.cut(y, x);
                    }
                }
            }
        }
    }

    /// A fault by signal, or a restart, on one process.
    fn signal_fault(&mut self, i: usize, fault: &Fault, name: ProcessId) -> Result<(), Violation> {
        let what = match fault {
            Fault::Crash(_) => "crash",
            Fault::Restart(_) => "restart",
            Fault::Pause(_) => "pause",
            _ => "resume",
        };
        self.sup.record(TraceKind::Fault {
            fault: what.into(),
            detail: name.to_string(),
        });
        match what {
            "crash" => {
                let status = self.sup.crash(&name);
                use std::os::unix::process::ExitStatusExt;
                self.crashes
                    .push((name.clone(), status.and_then(|s| s.signal())));
                self.paused.remove(&name);
                self.last_crashed = Some(name);
            }
            "restart" => {
                if let Err(e) = self.sup.start(&name) {
                    return Err(self.violation("step", format!("step {}: {e}", i + 1)));
                }
            }
            "pause" => {
                self.sup.signal(&name, Signal::SIGSTOP);
                self.paused.insert(name);
            }
            _ => {
                self.sup.signal(&name, Signal::SIGCONT);
                self.paused.remove(&name);
            }
        }
        Ok(())
    }
}
