//! Machine faults: power cuts (a reboot, a torn write's power failure), disk
//! wipes, torn writes armed on the next append, and an operator's change of an
//! agent machine's configured resources.

use super::Cluster;
use crate::shared::ProcessKind;
use crate::shared::ProcessStatus;
use mesochaos_reference::Resources;

impl Cluster {
    /// Cuts the power of a machine: every process on it dies and sends
    /// nothing — no FIN, no RST, not even what its kernel still had to
    /// retransmit (turmoil's `power_off`); what peers send to it is held until
    /// it boots, and then answered with RST. Peers notice through Mesos's own
    /// timeouts, TCP's user timeout, or that RST. The disk keeps only what was
    /// durable (`torn_prefix`: bytes of the last unsynced append that the
    /// device had written).
    pub fn power_off(&mut self, machine: &str, torn_prefix: Option<usize>) {
        let detail = match torn_prefix {
            Some(bytes) => {
                format!("{machine} (torn write: {bytes} bytes of the last append survive)")
            }
            None => machine.to_string(),
        };
        self.fault("power_off", detail);
        self.powered_off.insert(machine.to_string(), None);
        let now = self.now_ms();
        for process in self.hosts_of_machine(machine) {
            self.sim.power_off(process.as_str());
            let mut slots = self.shared.slots.borrow_mut();
            let slot = slots.get_mut(&process).expect("known process");
            slot.status = ProcessStatus::Crashed { at_ms: now };
            slot.control = None;
        }
        self.shared.disk_mut(machine).lose_power(torn_prefix);
        *self
            .shared
            .boots
            .borrow_mut()
            .entry(machine.to_string())
            .or_insert(1) += 1;
    }

    /// Power comes back after `down_ms`.
    pub fn schedule_power_on(&mut self, machine: &str, down_ms: u64) {
        let at = self.now_ms() + down_ms;
        self.powered_off.insert(machine.to_string(), Some(at));
    }

    /// The machine boots: its links come back (but for partitions still in
    /// force) and every process on it starts, from what the disk holds.
    pub fn power_on(&mut self, machine: &str) {
        if self.powered_off.remove(machine).is_none() {
            return;
        }
        self.fault("power_on", machine);
        // `bounce` powers each host on (delivering what was held for it, which
        // its fresh kernel answers with RST) and starts its process.
        for process in self.hosts_of_machine(machine) {
            self.bounce(&process);
        }
    }

    /// Erases a machine's disk (it must be powered off).
    pub fn wipe_disk(&mut self, machine: &str) {
        assert!(
            self.powered_off.contains_key(machine),
            "wipe a disk only with the power off"
        );
        self.fault("wipe_disk", machine);
        self.shared.disk_mut(machine).wipe();
    }

    /// An operator changes the configured resources of an agent machine (its
    /// agent's `--resources`): the agent process sees them when it next starts.
    pub fn reconfigure(&mut self, machine: &str, resources: Resources) {
        self.fault("reconfigure", format!("{machine}: {resources}"));
        let mut slots = self.shared.slots.borrow_mut();
        for slot in slots.values_mut() {
            if slot.machine == machine {
                if let ProcessKind::Agent(config) = &mut slot.kind {
                    config.resources = resources;
                }
            }
        }
    }

    /// Arms a torn write: the next append on `machine` is cut by a power failure.
    pub fn tear_next_write(&mut self, machine: &str, down_ms: u64) {
        self.fault("tear_next_write", machine);
        self.shared
            .torn_writes
            .borrow_mut()
            .insert(machine.to_string(), down_ms);
    }

    /// Disarms a torn write that has not happened yet.
    pub fn disarm_torn_write(&mut self, machine: &str) {
        self.shared.torn_writes.borrow_mut().remove(machine);
    }

    pub fn is_powered_off(&self, machine: &str) -> bool {
        self.powered_off.contains_key(machine)
    }
}
