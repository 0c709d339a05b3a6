//! The nemesis: the schedule's faults fire at their times during the safety
//! phase, each healing after its delay; then the liveness phase heals
//! everything and the cluster must converge within its bound.

use super::{Applied, Runner};
use crate::check::convergence;
use crate::names;
use crate::report::Violation;
use crate::script::seconds;
use crate::spec::ClusterSpec;
use mesochaos_faults::nemesis::Shape;
use mesochaos_faults::{NemesisSpec, Schedule, Target};
use std::collections::BTreeMap;

/// The names a nemesis can target in a cluster of this shape.
pub fn shape(spec: &ClusterSpec) -> Shape {
    let all: Vec<String> = crate::spec::process_names(spec)
        .into_iter()
        .map(|(p, _)| p.to_string())
        .collect();
    let with = |kind: fn(&str) -> bool| -> Vec<String> {
        all.iter().filter(|n| kind(n)).cloned().collect()
    };
    let mut other_machines = vec![names::COORDINATOR.to_string()];
    other_machines.extend(with(names::is_master));
    other_machines.extend(with(names::is_scheduler));
    other_machines.extend(with(names::is_storage));
    Shape {
        masters: with(names::is_master),
        agents: with(names::is_agent),
        frameworks: spec.frameworks.iter().map(|f| f.name.clone()).collect(),
        pausable: all
            .iter()
            .filter(|n| !names::is_executor_host(n))
            .cloned()
            .collect(),
        other_machines,
    }
}

/// How long after the heal the cluster may take to converge, from its timings:
/// a coordinator session to expire and a leader to be elected, an agent's
/// health check to fail, the longest registration backoff, a restarted
/// process's delay and its executors' re-registration window, the longest
/// status update retry interval the safety phase can have reached, and — after
/// a failover — an agent that never comes back (a wiped machine's old ID):
/// questions about its tasks get no answer until `agent_reregister_timeout`
/// marks it unreachable (Mesos `Master::reconcile`, case 2), and the
/// scheduler's next reconciliation retry (capped at `registration_backoff_max`).
pub fn liveness_bound_ms(spec: &ClusterSpec, nemesis: &NemesisSpec) -> u64 {
    if let Some(ms) = nemesis.liveness_ms {
        return ms;
    }
    let t = &spec.timing;
    let retry = t
        .status_update_retry_max_ms
        .min(t.status_update_retry_ms.max(nemesis.safety_ms));
    t.zk_session_timeout_ms
        + t.agent_ping_timeout_ms * u64::from(t.max_agent_ping_timeouts)
        + t.registration_backoff_max_ms
        + spec.restart_delay_ms
        + t.executor_reregistration_timeout_ms
        + retry
        + t.agent_reregister_timeout_ms
        + t.registration_backoff_max_ms
}

impl Runner {
    /// The safety phase — the schedule's faults fire at their times, each heals
    /// after its delay — then the liveness phase: heal everything and converge
    /// within the bound.
    pub(super) fn run_nemesis(
        &mut self,
        spec: &NemesisSpec,
        schedule: &Schedule,
        cluster: &ClusterSpec,
    ) -> Result<(), Violation> {
        let start = self.now();
        self.cluster.fault(
            "step",
            format!(
                "nemesis: safety phase, {} faults over {}",
                schedule.faults.len(),
                seconds(spec.safety_ms)
            ),
        );
        for f in &schedule.faults {
            self.fault_counts.entry(f.kind).or_default().scheduled += 1;
        }
        // (due, index, is_heal); a fault not yet resolvable stays due.
        let mut pending: std::collections::BTreeSet<(u64, usize, bool)> = schedule
            .faults
            .iter()
            .enumerate()
            .map(|(i, f)| (start + f.at_ms, i, false))
            .collect();
        let mut hit: BTreeMap<usize, Applied> = BTreeMap::new();
        let end = start + spec.safety_ms;
        while self.now() < end {
            let now = self.now();
            let due: Vec<(u64, usize, bool)> = pending
                .iter()
                .filter(|(at, ..)| *at <= now)
                .copied()
                .collect();
            for item in due {
                let (_, i, is_heal) = item;
                let f = &schedule.faults[i];
                if is_heal {
                    pending.remove(&item);
                    if let Some(applied) = hit.get(&i) {
                        let applied = applied.clone();
                        self.heal_fault(&f.fault, &applied);
                    }
                    continue;
                }
                if let Some(applied) = self.apply_fault(&f.fault)? {
                    pending.remove(&item);
                    self.fault_counts.entry(f.kind).or_default().fired += 1;
                    if let Some(after) = f.heal_after_ms {
                        pending.insert((self.now() + after, i, true));
                    }
                    hit.insert(i, applied);
                }
            }
            self.tick()?;
        }
        // Faults that never found a target make the run vacuous.
        let mut vacuous = Vec::new();
        for (_, i, is_heal) in &pending {
            let f = &schedule.faults[*i];
            // A fault on the active instance of a framework the master removed
            // has no target by design (its instances stopped): not vacuous.
            // Nor is one on the leader while the cluster has none (an
            // election cut off from the coordinator by other faults, until
            // the safety phase ends): `leader` names a role, and no process
            // holds it.
            let gone = f.fault.targets().iter().any(|t| match t {
                Target::ActiveScheduler(fw) => self.cluster.framework_stopped(fw),
                Target::Leader => self.cluster.leader().is_none(),
                _ => false,
            });
            if !is_heal && !gone {
                self.fault_counts.entry(f.kind).or_default().vacuous += 1;
                vacuous.push(format!("{} at {}", f.fault, seconds(f.at_ms)));
            }
        }
        // Liveness phase: heal what is still in force, then converge.
        self.cluster.fault(
            "step",
            "nemesis: liveness phase, heal everything".to_string(),
        );
        for (_, i, is_heal) in std::mem::take(&mut pending) {
            if is_heal {
                if let Some(applied) = hit.get(&i).cloned() {
                    self.heal_fault(&schedule.faults[i].fault, &applied);
                }
            }
        }
        self.cluster.heal();
        self.cluster.message_chaos(None);
        if crate::filters::in_force(&self.cluster.shared) {
            self.cluster
                .fault("release", "every filter (liveness phase)");
            let now = self.now();
            crate::filters::release(&self.cluster.shared, None, now);
        }
        for p in self.cluster.paused() {
            self.cluster.resume(&p);
        }
        let bound = liveness_bound_ms(cluster, spec);
        let healed = self.now();
        while !self.cluster.with_view(convergence::converged) {
            if self.now() > healed + bound {
                return Err(self.violation(
                    "liveness",
                    format!(
                        "the cluster did not converge within {} of the heal: {}",
                        seconds(bound),
                        self.cluster.with_view(convergence::why_not_converged)
                    ),
                    vec![],
                ));
            }
            self.tick()?;
        }
        self.converged_after_heal = true;
        // Converged: the leader's soft state must equal what the agents hold.
        self.check_agreement();
        if !vacuous.is_empty() {
            return Err(self.violation(
                "vacuous_fault",
                format!(
                    "scheduled faults found no target during the safety phase: {}",
                    vacuous.join("; ")
                ),
                vec![],
            ));
        }
        Ok(())
    }
}
