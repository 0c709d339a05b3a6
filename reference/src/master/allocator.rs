//! # The allocator: which framework is offered what
//!
//! Every `allocation_interval` the leader offers each connected agent's free
//! resources — total minus what tasks use minus what is already offered — to
//! active frameworks, smallest allocation first (a one-resource form of
//! Mesos's DRF sorter, `HierarchicalAllocatorProcess::__generateOffers` in
//! src/master/allocator/mesos/hierarchical.cpp). Reserved resources, and the
//! persistent volumes on them, go only to frameworks of their role
//! (`Resources::allocatableTo`); a framework that declined an agent's offer
//! is not offered that agent again until its filter expires
//! (`RefusedOfferFilter`). Accounting is asserted each time an offer is made
//! (`AgentEntry::assert_accounting`), and again when one is accepted
//! (`offers.rs`).

use super::*;
use crate::bugs::master as bugs;

impl Leader {
    /// One round of the allocator, every `allocation_interval` (Mesos
    /// `--allocation_interval`, default 1 s: the batch allocation that
    /// `HierarchicalAllocatorProcess::generateOffers` runs on a timer).
    ///
    /// For each connected agent, the candidate frameworks are visited in order of
    /// their current allocation, and each is offered whatever it may use of what
    /// is still free: its role's reservations (with its role's free persistent
    /// volumes) and the unreserved resources no earlier candidate took. So the
    /// least-allocated framework gets an agent's unreserved resources, and other
    /// roles still get their own reservations on that agent in the same round.
    ///
    /// This is a deliberately small allocator. Mesos sorts roles, then the
    /// frameworks of each role, with a DRF sorter over every resource kind and
    /// counts offered resources as allocated as soon as they are offered; here
    /// the share is the CPUs of a framework's active tasks only and is computed
    /// once per agent, so within one round the same framework comes first on
    /// every agent until it launches something. Quotas, weights, suppression
    /// and offer constraints are not modelled.
    pub(super) fn tick_allocate(&mut self, env: &mut Env<'_>, out: &mut Out) {
        // Re-armed first, so the allocator keeps running whatever this round does.
        // It starts in `Leader::recover` (`election.rs`): a leader that has not read
        // the registry yet makes no offers.
        let interval = env.config.timing.allocation_interval_ms;
        out.set_timer(MasterTimer::Allocate, env.ctx.now_ms + interval);
        // The offers of this round, grouped by framework: each framework receives
        // one `ResourceOffers` message with all of its offers, as Mesos's
        // `Master::offer` sends one `ResourceOffersMessage` per framework per
        // allocation.
        let mut batches: BTreeMap<FrameworkId, Vec<Offer>> = BTreeMap::new();
        let agent_ids: Vec<AgentId> = self.agents.keys().cloned().collect();
        for agent_id in agent_ids {
            // A disconnected agent gets no offers: a task launched on it could not
            // reach it. Mesos deactivates such an agent in the allocator
            // (`Master::disconnect(Slave*)` → `Master::deactivate(Slave*)` →
            // `allocator->deactivateSlave`), and `__generateOffers` skips agents that
            // are not activated. Its outstanding offers were rescinded when it
            // disconnected (`on_agent_disconnected`, `agents.rs`).
            if !self.agents[&agent_id].connected {
                continue;
            }
            // Smallest allocation first (a one-resource DRF), ties broken by framework
            // ID so that runs are deterministic. Each framework is offered the
            // unreserved resources still free and what is reserved for its own role
            // (with its role's free volumes): reserved resources reach only frameworks
            // of their role (Mesos `Resources::allocatableTo`, applied in
            // `__generateOffers`), which is what makes a reservation worth having.
            let mut candidates: Vec<(u64, FrameworkId, String)> = self
                .frameworks
                .iter()
                // Only a framework whose scheduler is attached and registered can answer
                // an offer. An inactive framework (its scheduler disconnected, or known only
                // from an agent's report after a failover) gets nothing: Mesos's
                // `Master::offer` returns such resources to the allocator unused.
                .filter(|(_, f)| f.active && f.scheduler.is_some())
                // A `Decline` (or the unused part of an `Accept`) filters this agent for
                // this framework until the refusal expires (Mesos's `RefusedOfferFilter`,
                // hierarchical.cpp). Mesos filters only offers made of the refused
                // resources or fewer; here the whole agent is filtered for that time.
                .filter(|(_, f)| {
                    f.filters
                        .get(&agent_id)
                        .is_none_or(|until| *until <= env.ctx.now_ms)
                })
                // The framework's share: CPUs of its active tasks (staging, starting,
                // running; unreachable tasks are no longer in `tasks`). Outstanding offers
                // do not count, unlike in Mesos's allocator.
                .map(|(fid, f)| {
                    let allocated: u64 = f
                        .tasks
                        .values()
                        .filter(|t| t.state.is_active())
                        .map(|t| t.info.resources.cpus_milli)
                        .sum();
                    (allocated, fid.clone(), f.info.role.clone())
                })
                .collect();
            // Tuples sort by allocation, then framework ID: the order above.
            candidates.sort();
            for (_, fid, role) in candidates {
                let agent = self.agents.get_mut(&agent_id).expect("listed above");
                // `free()` panics if the agent is over-committed; `for_role` keeps the
                // unreserved share and this role's reservations, nothing of other roles.
                let share = agent.free().for_role(&role);
                let mut volumes = agent.free_volumes(&role);
                // Planted-bug hook (`bugs/master.rs`).
                bugs::volume_offered_to_any_role(
                    env.config.bug,
                    agent.volumes.values().map(|v| v.role.clone()),
                    |role| agent.free_volumes(role),
                    &mut volumes,
                );
                // Nothing left for this framework on this agent (the unreserved share went
                // to an earlier candidate and its role has no reservation here): no empty
                // offer is sent. Mesos's allocator likewise offers nothing when nothing is
                // allocatable to the framework.
                if share.is_empty() && volumes.is_empty() {
                    continue;
                }
                // The offered resources and volumes leave the free pool now, before the
                // next candidate is considered, so no two frameworks are offered the same
                // resources. They come back when the offer is answered, declined or
                // rescinded (`take_offer`).
                agent.offered = agent.offered.plus(&share);
                agent
                    .volumes_offered
                    .extend(volumes.iter().map(Volume::key));
                // One side of the invariant (see the module doc): an offer never promises
                // more than the agent has.
                agent.assert_accounting();
                // The offer ID carries this leader's epoch: unique across leaders, so a
                // stale offer of a previous leader can never be taken for one of ours.
                let offer_id = OfferId::new(epoch_id(self.epoch, 'O', self.next_offer));
                self.next_offer += 1;
                // Mesos's `Offer.hostname`: where the resources are. The agent's process
                // name stands for its host here.
                let hostname = agent.process.clone();
                let offer = Offer {
                    offer_id: offer_id.clone(),
                    framework_id: fid.clone(),
                    agent_id: agent_id.clone(),
                    hostname,
                    resources: share,
                    volumes,
                };
                // Remembered until accepted, declined or rescinded: an `Accept` is honoured
                // only for an offer in this table.
                self.offers.insert(offer_id, offer.clone());
                batches.entry(fid).or_default().push(offer);
            }
        }
        let epoch = self.epoch;
        // Sent after the round so that each framework gets one message. The
        // scheduler is known to be attached: only such frameworks were candidates.
        for (fid, offers) in batches {
            let scheduler = self.frameworks[&fid]
                .scheduler
                .clone()
                .expect("filtered above");
            out.send(&scheduler, Message::ResourceOffers { epoch, offers });
        }
    }
}
