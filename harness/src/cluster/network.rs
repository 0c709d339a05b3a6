//! Link faults: partitions (two-way, one-way, rings, bridges), pauses
//! (SIGSTOP holds a process's links), message chaos and drop rules. The
//! harness keeps the machine-level picture; [`Cluster::sync_links`] brings
//! turmoil's host-to-host links to it.

use super::Cluster;
use crate::shared::{DropRule, MessageChaos};
use mesochaos_reference::ProcessId;
use std::collections::BTreeSet;

/// The state the harness last gave a link between two hosts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Link {
    Healthy,
    /// Both directions lost (a partition, or a machine without power).
    Cut,
    /// Messages held, in order, until released (a paused process).
    Held,
    /// One direction lost: from the pair's first host to its second, or back.
    OneWay {
        from_first: bool,
    },
}

impl Cluster {
    /// Cuts every link between the machines of `a` and the machines of `b`.
    pub fn partition(&mut self, a: &[String], b: &[String]) {
        self.fault("partition", format!("{} | {}", a.join(","), b.join(",")));
        self.cut(a, b);
    }

    fn cut(&mut self, a: &[String], b: &[String]) {
        let mut touched = BTreeSet::new();
        for ma in a {
            for mb in b {
                if ma == mb {
                    continue;
                }
                let key = if ma < mb {
                    (ma.clone(), mb.clone())
                } else {
                    (mb.clone(), ma.clone())
                };
                if self.partitions.insert(key) {
                    touched.insert(ma.clone());
                    touched.insert(mb.clone());
                }
            }
        }
        self.sync_links(&touched);
    }

    /// Loses the messages from the machines of `from` to those of `to`.
    pub fn partition_oneway(&mut self, from: &[String], to: &[String]) {
        self.fault(
            "partition_one_way",
            format!("{} -> {}", from.join(","), to.join(",")),
        );
        let mut touched = BTreeSet::new();
        for f in from {
            for t in to {
                if f != t && self.oneway.insert((f.clone(), t.clone())) {
                    touched.insert(f.clone());
                    touched.insert(t.clone());
                }
            }
        }
        self.sync_links(&touched);
    }

    /// A majorities ring: each machine keeps the links to its nearest
    /// neighbours in `ring` order — with itself, a majority — and loses the rest.
    pub fn ring(&mut self, ring: &[String]) {
        self.fault("ring", ring.join(","));
        let n = ring.len();
        let reach = (n / 2).div_ceil(2).max(1); // neighbours kept on each side
        for i in 0..n {
            for j in i + 1..n {
                let distance = (j - i).min(n - (j - i));
                if distance > reach {
                    self.cut(&ring[i..=i], &ring[j..=j]);
                }
            }
        }
    }

    /// Two sides that cannot reach each other; `bridge` reaches both.
    pub fn bridge(&mut self, a: &[String], bridge: &str, b: &[String]) {
        self.fault(
            "bridge",
            format!("{} | {bridge} | {}", a.join(","), b.join(",")),
        );
        self.cut(a, b);
    }

    /// Repairs every partition, one-way cut, ring and bridge (a machine without
    /// power stays cut off; a paused process stays held).
    pub fn heal(&mut self) {
        self.fault("heal", "all partitions");
        let mut touched = BTreeSet::new();
        for (ma, mb) in std::mem::take(&mut self.partitions)
            .into_iter()
            .chain(std::mem::take(&mut self.oneway))
        {
            touched.insert(ma);
            touched.insert(mb);
        }
        self.sync_links(&touched);
    }

    /// SIGSTOP: the process handles nothing (its driver is gated) and every
    /// message to or from it is held, in order, until it is resumed.
    pub fn pause(&mut self, process: &ProcessId) {
        self.fault("pause", process.as_str());
        self.paused.insert(process.clone());
        self.shared.paused.borrow_mut().insert(process.clone());
        if let Some(machine) = self.machine_of(process) {
            self.sync_links(&BTreeSet::from([machine]));
        }
    }

    /// SIGCONT: held messages flow again and the process runs.
    pub fn resume(&mut self, process: &ProcessId) {
        self.fault("resume", process.as_str());
        self.paused.remove(process);
        self.shared.paused.borrow_mut().remove(process);
        if let Some(machine) = self.machine_of(process) {
            self.sync_links(&BTreeSet::from([machine]));
        }
    }

    pub fn is_paused(&self, process: &ProcessId) -> bool {
        self.paused.contains(process)
    }

    /// Every paused process.
    pub fn paused(&self) -> Vec<ProcessId> {
        self.paused.iter().cloned().collect()
    }

    /// What the link between hosts `ha` and `hb` should be, from the machine
    /// model: power, partitions, pauses and one-way cuts, in that precedence.
    fn desired_link(&self, ha: &ProcessId, ma: &str, hb: &ProcessId, mb: &str) -> Link {
        if ma != mb {
            let key = if ma < mb {
                (ma.to_string(), mb.to_string())
            } else {
                (mb.to_string(), ma.to_string())
            };
            // A powered-off machine needs no cut: turmoil's power-off sends
            // nothing from it and holds what is sent to it (patch 5).
            if self.partitions.contains(&key) {
                return Link::Cut;
            }
        }
        if self.paused.contains(ha) || self.paused.contains(hb) {
            return Link::Held;
        }
        let a_to_b = self.oneway.contains(&(ma.to_string(), mb.to_string()));
        let b_to_a = self.oneway.contains(&(mb.to_string(), ma.to_string()));
        match (a_to_b, b_to_a) {
            (true, true) => Link::Cut,
            (true, false) => Link::OneWay { from_first: true },
            (false, true) => Link::OneWay { from_first: false },
            (false, false) => Link::Healthy,
        }
    }

    /// Brings every link touching a host of `machines` to its desired state.
    /// turmoil keeps one state per direction, so the transitions are explicit:
    /// a held link is released (delivering what it held) before it is repaired
    /// or cut one way, and a cut link is repaired before it is held.
    fn sync_links(&mut self, machines: &BTreeSet<String>) {
        if machines.is_empty() {
            return;
        }
        let hosts: Vec<(ProcessId, String)> = self
            .shared
            .slots
            .borrow()
            .iter()
            .map(|(n, s)| (n.clone(), s.machine.clone()))
            .collect();
        for (i, (ha, ma)) in hosts.iter().enumerate() {
            for (hb, mb) in &hosts[i + 1..] {
                if !machines.contains(ma) && !machines.contains(mb) {
                    continue;
                }
                let want = self.desired_link(ha, ma, hb, mb);
                let key = (ha.clone(), hb.clone());
                let have = self.links.get(&key).copied().unwrap_or(Link::Healthy);
                if want == have {
                    continue;
                }
                let (a, b) = (ha.as_str(), hb.as_str());
                if have == Link::Held {
                    self.sim.release(a, b);
                }
                match want {
                    Link::Healthy => {
                        if have != Link::Held {
                            self.sim.repair(a, b);
                        }
                    }
                    Link::Cut => self.sim.partition(a, b),
                    Link::Held => {
                        if have != Link::Healthy {
                            self.sim.repair(a, b);
                        }
                        self.sim.hold(a, b);
                    }
                    Link::OneWay { from_first } => {
                        if have != Link::Healthy {
                            self.sim.repair(a, b);
                        }
                        if from_first {
                            self.sim.partition_oneway(a, b);
                        } else {
                            self.sim.partition_oneway(b, a);
                        }
                    }
                }
                if want == Link::Healthy {
                    self.links.remove(&key);
                } else {
                    self.links.insert(key, want);
                }
            }
        }
    }

    /// Starts or ends (`None`) message chaos.
    pub fn message_chaos(&mut self, chaos: Option<MessageChaos>) {
        match chaos {
            Some(MessageChaos {
                drop_per_mille: drop,
                delay_max_ms: delay,
                stress,
            }) => {
                let detail = format!("drop {drop}/1000, delay up to {delay} ms");
                if stress {
                    let more = format!(", duplicate {drop}/1000, reorder within connections");
                    self.fault("message_stress", format!("{detail}{more}"))
                } else {
                    self.fault("message_chaos", detail)
                }
            }
            None => self.fault("calm_messages", ""),
        }
        self.shared.message_chaos.set(chaos);
    }

    pub fn drop_next(&mut self, rule: DropRule) {
        self.fault(
            "drop_next",
            format!("{} {} -> {}", rule.kind, rule.from, rule.to),
        );
        self.shared.drop_rules.borrow_mut().push(rule);
    }
}
