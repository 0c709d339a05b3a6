//! # The run as a Lamport diagram: lanes, arrows, fault bands, epochs, violations
//!
//! A Lamport (space-time) diagram draws each process as a lane and each
//! message as an arrow from the lane and time it was sent to the lane and time
//! it was delivered (Maelstrom's `messages.svg`, Jepsen's timelines). This
//! module reads the trace into that picture's parts; `html.rs` draws them and
//! `walkthrough.rs` writes a window of them as a Mermaid sequence diagram.
//!
//! - **Arrows** pair a `send` record with the `deliver` record of the same
//!   message. Sequence numbers count per connection, so two connections
//!   between the same processes reuse them: a delivery is paired with the
//!   *latest* send of that (sender, receiver, seq) not yet paired, which is the
//!   one on the live connection. A send never paired was lost (its connection
//!   broke, or a fault took it): a [`Lost`] stub, not an arrow.
//! - **Bands** are faults over time: a partition lasts until the `heal`, a
//!   crash until the process starts again, a pause until its resume, a power
//!   loss until power returns, message chaos until calm. Faults with no
//!   duration (a wipe, a torn write, a restart, a dropped message) are bands
//!   of zero length. Every fault record but those that *end* a fault gives
//!   exactly one band, so the browser test can count them from the trace.
//! - **Epochs** are the terms of the leading masters, from `ElectedLeader` to
//!   the next election or the leader's end.
//! - **Aggregation**: a run with more than [`MAX_ARROWS`] delivered messages
//!   would make a page too heavy to open; its arrows are bundled per sender,
//!   receiver, message kind and time slice, each bundle carrying its count.

use mesochaos_harness::names;
use mesochaos_harness::report::Violation;
use mesochaos_harness::trace::{TraceKind, TraceRecord};
use mesochaos_reference::Event;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// Above this many delivered messages, arrows are bundled.
pub const MAX_ARROWS: usize = 4_000;

/// The longest message text an arrow carries (its tooltip): a registration
/// carrying a hundred tasks is cut, with a note.
const MAX_MESSAGE_TEXT: usize = 1_500;

/// A process: one lane.
#[derive(Clone, Debug, Serialize)]
pub struct Lane {
    /// The process's name (`master-2`, `agent-1`, `harness`).
    pub name: String,
    /// Its machine (a partition or a power loss hits every lane on it).
    pub machine: String,
}

/// A delivered message (or, aggregated, `count` of them).
#[derive(Clone, Debug, Serialize)]
pub struct Arrow {
    /// Index of the sender's lane.
    pub from: usize,
    /// Index of the receiver's lane.
    pub to: usize,
    /// The message kind (`ReregisterAgent`).
    pub kind: String,
    /// When it was sent, simulated ms.
    pub sent_ms: u64,
    /// When the receiving role was handed it.
    pub delivered_ms: u64,
    /// The message as JSON (cut at [`MAX_MESSAGE_TEXT`]); for a bundle, its
    /// first message.
    pub text: String,
    /// How many messages the arrow stands for (1 unless aggregated).
    pub count: u64,
}

/// A message sent and never delivered.
#[derive(Clone, Debug, Serialize)]
pub struct Lost {
    /// Index of the sender's lane.
    pub from: usize,
    /// Index of the intended receiver's lane.
    pub to: usize,
    /// The message kind.
    pub kind: String,
    /// When it was sent.
    pub sent_ms: u64,
}

/// A fault over time, across the lanes it hit.
#[derive(Clone, Debug, Serialize)]
pub struct Band {
    /// The fault (`partition`, `crash`, `pause`, `wipe_disk`, ...).
    pub fault: String,
    /// The trace's words for it (who, which sides).
    pub detail: String,
    /// When it began.
    pub start_ms: u64,
    /// When it ended (the run's end if it never did; equal to `start_ms` for
    /// a fault with no duration).
    pub end_ms: u64,
    /// The lanes it hit.
    pub lanes: Vec<usize>,
}

/// A leading master's term.
#[derive(Clone, Debug, Serialize)]
pub struct Epoch {
    /// The master's lane.
    pub lane: usize,
    /// Its epoch.
    pub epoch: u64,
    /// When it was elected.
    pub start_ms: u64,
    /// When its term ended (the next election, or its process's end).
    pub end_ms: u64,
}

/// Where a violation is drawn.
#[derive(Clone, Debug, Serialize)]
pub struct Marker {
    /// The lanes of the processes involved (the harness lane if none is).
    pub lanes: Vec<usize>,
    /// When.
    pub t_ms: u64,
    /// The checker.
    pub checker: String,
    /// What it found.
    pub message: String,
}

/// The whole picture.
#[derive(Clone, Debug, Serialize)]
pub struct Diagram {
    /// One per process, the harness first.
    pub lanes: Vec<Lane>,
    /// Delivered messages, by send time.
    pub arrows: Vec<Arrow>,
    /// Messages never delivered.
    pub lost: Vec<Lost>,
    /// Faults.
    pub bands: Vec<Band>,
    /// Leader terms.
    pub epochs: Vec<Epoch>,
    /// Violations.
    pub violations: Vec<Marker>,
    /// The run's end, simulated ms.
    pub end_ms: u64,
    /// Delivered messages in all (more than `arrows` when aggregated).
    pub delivered: u64,
    /// True when arrows were bundled ([`MAX_ARROWS`]).
    pub aggregated: bool,
}

/// Fault records that end an earlier fault rather than start one.
const ENDINGS: [&str; 5] = ["heal", "resume", "power_on", "calm_messages", "release"];

/// True for a fault record that gives a band: every fault but a scenario step
/// and the records that end a fault. (The browser test counts bands with it.)
pub fn is_band(fault: &str) -> bool {
    fault != "step" && !ENDINGS.contains(&fault)
}

impl Diagram {
    /// Reads `records` (ending at `end_ms`) and the run's violations.
    pub fn read(records: &[TraceRecord], violations: &[Violation], end_ms: u64) -> Diagram {
        let mut lanes = Lanes::default();
        lanes.index("harness");
        for r in records {
            lanes.index(r.at.as_str());
            if let TraceKind::Send { to, .. } = &r.kind {
                lanes.index(to.as_str());
            }
        }
        let (arrows, lost, delivered) = messages(records, &mut lanes);
        let bands = bands(records, &lanes, end_ms);
        let epochs = epochs(records, &lanes, end_ms);
        let violations = violations
            .iter()
            .map(|v| {
                let mut on: Vec<usize> = v.processes.iter().filter_map(|p| lanes.get(p)).collect();
                if on.is_empty() {
                    on.push(0);
                }
                Marker {
                    lanes: on,
                    t_ms: v.t_ms,
                    checker: v.checker.clone(),
                    message: v.message.clone(),
                }
            })
            .collect();
        let aggregated = arrows.len() > MAX_ARROWS;
        let arrows = if aggregated {
            aggregate(arrows, end_ms)
        } else {
            arrows
        };
        Diagram {
            lanes: lanes.lanes,
            arrows,
            lost,
            bands,
            epochs,
            violations,
            end_ms,
            delivered,
            aggregated,
        }
    }
}

/// Lanes by name, in order of first appearance.
#[derive(Default)]
struct Lanes {
    lanes: Vec<Lane>,
    by_name: HashMap<String, usize>,
}

impl Lanes {
    fn index(&mut self, name: &str) -> usize {
        if let Some(&i) = self.by_name.get(name) {
            return i;
        }
        let i = self.lanes.len();
        self.lanes.push(Lane {
            name: name.to_string(),
            machine: names::machine_of(name),
        });
        self.by_name.insert(name.to_string(), i);
        i
    }

    fn get(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    /// Every lane on one of `machines` (names as the fault records write
    /// them, comma-separated).
    fn on_machines(&self, machines: &str) -> Vec<usize> {
        let wanted: Vec<&str> = machines.split(',').map(str::trim).collect();
        (0..self.lanes.len())
            .filter(|&i| wanted.contains(&self.lanes[i].machine.as_str()))
            .collect()
    }
}

/// Pairs sends with deliveries (see the module comment).
fn messages(records: &[TraceRecord], lanes: &mut Lanes) -> (Vec<Arrow>, Vec<Lost>, u64) {
    // (sender, receiver, seq) -> indices into `sends`, oldest first.
    let mut pending: HashMap<(usize, usize, u64), Vec<usize>> = HashMap::new();
    let mut sends: Vec<(usize, usize, &TraceRecord)> = Vec::new();
    let mut delivered_at: Vec<Option<u64>> = Vec::new();
    for r in records {
        match &r.kind {
            TraceKind::Send { to, seq, .. } => {
                let (from, to) = (lanes.index(r.at.as_str()), lanes.index(to.as_str()));
                pending
                    .entry((from, to, *seq))
                    .or_default()
                    .push(sends.len());
                sends.push((from, to, r));
                delivered_at.push(None);
            }
            TraceKind::Deliver { from, seq, .. } => {
                let key = (lanes.index(from.as_str()), lanes.index(r.at.as_str()), *seq);
                if let Some(i) = pending.get_mut(&key).and_then(Vec::pop) {
                    delivered_at[i] = Some(r.t_ms);
                }
            }
            _ => {}
        }
    }
    let mut arrows = Vec::new();
    let mut lost = Vec::new();
    for ((from, to, r), delivered) in sends.into_iter().zip(delivered_at) {
        let TraceKind::Send { message, .. } = &r.kind else {
            unreachable!("only sends were kept")
        };
        match delivered {
            Some(delivered_ms) => {
                let mut text = serde_json::to_string(message).expect("messages serialize");
                if text.len() > MAX_MESSAGE_TEXT {
                    let cut = (0..=MAX_MESSAGE_TEXT)
                        .rev()
                        .find(|&i| text.is_char_boundary(i))
                        .unwrap_or(0);
                    text.truncate(cut);
                    text.push_str(" … (cut; the trace has it whole)");
                }
                arrows.push(Arrow {
                    from,
                    to,
                    kind: message.kind().to_string(),
                    sent_ms: r.t_ms,
                    delivered_ms,
                    text,
                    count: 1,
                });
            }
            None => lost.push(Lost {
                from,
                to,
                kind: message.kind().to_string(),
                sent_ms: r.t_ms,
            }),
        }
    }
    let delivered = arrows.len() as u64;
    (arrows, lost, delivered)
}

/// Bundles arrows per (sender, receiver, kind, time slice) until at most
/// [`MAX_ARROWS`] remain.
fn aggregate(arrows: Vec<Arrow>, end_ms: u64) -> Vec<Arrow> {
    let mut slice_ms = (end_ms / 200).max(10);
    loop {
        let mut bundles: BTreeMap<(u64, usize, usize, String), Arrow> = BTreeMap::new();
        for a in &arrows {
            let key = (a.sent_ms / slice_ms, a.from, a.to, a.kind.clone());
            bundles
                .entry(key)
                .and_modify(|b| {
                    b.count += 1;
                    b.delivered_ms = b.delivered_ms.max(a.delivered_ms);
                })
                .or_insert_with(|| a.clone());
        }
        if bundles.len() <= MAX_ARROWS || slice_ms >= end_ms.max(1) {
            let mut out: Vec<Arrow> = bundles.into_values().collect();
            out.sort_by_key(|a| (a.sent_ms, a.from, a.to));
            return out;
        }
        slice_ms *= 2;
    }
}

/// The fault bands (see the module comment).
fn bands(records: &[TraceRecord], lanes: &Lanes, end_ms: u64) -> Vec<Band> {
    let mut bands: Vec<Band> = Vec::new();
    // Open bands: what ends them -> band indices.
    let mut open: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let all: Vec<usize> = (1..lanes.lanes.len()).collect();
    for r in records {
        match &r.kind {
            TraceKind::Fault { fault, detail } if is_band(fault) => {
                let (hit, ends_with): (Vec<usize>, Option<String>) = match fault.as_str() {
                    "partition" | "bridge" => (
                        lanes.on_machines(&detail.replace(" | ", ",")),
                        Some("heal".into()),
                    ),
                    "partition_one_way" => (
                        lanes.on_machines(&detail.replace(" -> ", ",")),
                        Some("heal".into()),
                    ),
                    "ring" => (lanes.on_machines(detail), Some("heal".into())),
                    "crash" => (
                        lanes.get(detail).into_iter().collect(),
                        Some(format!("start {detail}")),
                    ),
                    "pause" => (
                        lanes.get(detail).into_iter().collect(),
                        Some(format!("resume {detail}")),
                    ),
                    "power_off" => {
                        let machine = detail.split_whitespace().next().unwrap_or_default();
                        (
                            lanes.on_machines(machine),
                            Some(format!("power_on {machine}")),
                        )
                    }
                    // Machine faults hit every process on the machine.
                    "wipe_disk" | "tear_next_write" => (lanes.on_machines(detail), None),
                    "reconfigure" => (
                        lanes.on_machines(detail.split(':').next().unwrap_or_default()),
                        None,
                    ),
                    "message_chaos" | "message_stress" => (all.clone(), Some("calm".into())),
                    "hold" | "drop" => (involved(detail, lanes), Some("release".into())),
                    _ => (involved(detail, lanes), None),
                };
                let lanes_hit = if hit.is_empty() { vec![0] } else { hit };
                if let Some(end) = ends_with {
                    open.entry(end).or_default().push(bands.len());
                }
                bands.push(Band {
                    fault: fault.clone(),
                    detail: detail.clone(),
                    start_ms: r.t_ms,
                    end_ms: r.t_ms,
                    lanes: lanes_hit,
                });
                continue;
            }
            _ => {}
        }
        let ended = match &r.kind {
            TraceKind::Fault { fault, detail } => match fault.as_str() {
                "heal" => Some("heal".to_string()),
                "resume" => Some(format!("resume {detail}")),
                "power_on" => Some(format!("power_on {detail}")),
                "calm_messages" => Some("calm".into()),
                "release" => Some("release".into()),
                _ => None,
            },
            TraceKind::Process { what, .. } if what == "started" => Some(format!("start {}", r.at)),
            _ => None,
        };
        if let Some(key) = ended {
            for i in open.remove(&key).unwrap_or_default() {
                bands[i].end_ms = r.t_ms;
            }
        }
    }
    // A fault never ended lasts to the end of the run.
    for i in open.into_values().flatten() {
        bands[i].end_ms = end_ms;
    }
    bands
}

/// The lanes a fault's words name (`call scheduler-web-1: {...}`,
/// `StatusUpdate agent-1 -> master-2`).
fn involved(detail: &str, lanes: &Lanes) -> Vec<usize> {
    let mut hit: Vec<usize> = detail
        .split(|c: char| c.is_whitespace() || c == ',' || c == ':')
        .filter_map(|word| lanes.get(word))
        .collect();
    hit.sort_unstable();
    hit.dedup();
    hit
}

/// The leading masters' terms.
fn epochs(records: &[TraceRecord], lanes: &Lanes, end_ms: u64) -> Vec<Epoch> {
    let mut epochs: Vec<Epoch> = Vec::new();
    let mut current: Option<usize> = None;
    let close = |epochs: &mut Vec<Epoch>, current: &mut Option<usize>, t: u64| {
        if let Some(i) = current.take() {
            epochs[i].end_ms = t;
        }
    };
    for r in records {
        let at = r.at.as_str();
        match &r.kind {
            TraceKind::Event {
                event: Event::ElectedLeader { epoch },
            } => {
                close(&mut epochs, &mut current, r.t_ms);
                current = Some(epochs.len());
                epochs.push(Epoch {
                    lane: lanes.get(at).unwrap_or(0),
                    epoch: *epoch,
                    start_ms: r.t_ms,
                    end_ms,
                });
            }
            TraceKind::Event {
                event: Event::MasterStandby { .. } | Event::MasterContending { .. },
            }
            | TraceKind::Process { .. }
                if current.is_some_and(|i| lanes.lanes[epochs[i].lane].name == at)
                    && !matches!(&r.kind, TraceKind::Process { what, .. } if what == "started") =>
            {
                close(&mut epochs, &mut current, r.t_ms);
            }
            TraceKind::Fault { fault, detail }
                if (fault == "crash" || fault == "power_off")
                    && current.is_some_and(|i| {
                        let lane = &lanes.lanes[epochs[i].lane];
                        detail == &lane.name
                            || detail.split_whitespace().next() == Some(&lane.machine)
                    }) =>
            {
                close(&mut epochs, &mut current, r.t_ms);
            }
            _ => {}
        }
    }
    epochs
}

/// The names of the lanes, for tests and text.
impl Diagram {
    /// The lane names, in order.
    pub fn lane_names(&self) -> Vec<&str> {
        self.lanes.iter().map(|l| l.name.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesochaos_reference::{Message, ProcessId};

    fn rec(t_ms: u64, at: &str, kind: TraceKind) -> TraceRecord {
        TraceRecord {
            t_ms,
            at: ProcessId::from(at),
            kind,
        }
    }

    fn send(t: u64, at: &str, to: &str, seq: u64) -> TraceRecord {
        rec(
            t,
            at,
            TraceKind::Send {
                to: ProcessId::from(to),
                conn: 1,
                seq,
                message: Message::Pong,
            },
        )
    }

    fn deliver(t: u64, at: &str, from: &str, seq: u64) -> TraceRecord {
        rec(
            t,
            at,
            TraceKind::Deliver {
                from: ProcessId::from(from),
                conn: 7,
                seq,
            },
        )
    }

    fn fault(t: u64, fault: &str, detail: &str) -> TraceRecord {
        rec(
            t,
            "harness",
            TraceKind::Fault {
                fault: fault.into(),
                detail: detail.into(),
            },
        )
    }

    #[test]
    fn a_delivery_pairs_with_the_latest_send_of_its_sequence_number() {
        // seq 1 on an old connection is lost; seq 1 on the new one arrives.
        let records = vec![
            send(10, "agent-1", "master-1", 1),
            send(50, "agent-1", "master-1", 1),
            deliver(60, "master-1", "agent-1", 1),
        ];
        let d = Diagram::read(&records, &[], 100);
        assert_eq!(d.lane_names(), ["harness", "agent-1", "master-1"]);
        assert_eq!(d.arrows.len(), 1);
        assert_eq!((d.arrows[0].sent_ms, d.arrows[0].delivered_ms), (50, 60));
        assert_eq!(d.lost.len(), 1);
        assert_eq!(d.lost[0].sent_ms, 10);
    }

    #[test]
    fn bands_last_until_what_ends_them_and_one_per_fault() {
        let records = vec![
            rec(
                0,
                "agent-1",
                TraceKind::Process {
                    what: "started".into(),
                    incarnation: 1,
                    why: None,
                },
            ),
            rec(
                0,
                "executors-1",
                TraceKind::Process {
                    what: "started".into(),
                    incarnation: 1,
                    why: None,
                },
            ),
            rec(
                0,
                "master-1",
                TraceKind::Process {
                    what: "started".into(),
                    incarnation: 1,
                    why: None,
                },
            ),
            fault(5, "step", "1: sleep"),
            fault(10, "partition", "agent-1 | master-1"),
            fault(20, "crash", "master-1"),
            fault(25, "wipe_disk", "agent-1"),
            fault(30, "heal", "all partitions"),
            rec(
                40,
                "master-1",
                TraceKind::Process {
                    what: "started".into(),
                    incarnation: 2,
                    why: None,
                },
            ),
            fault(45, "pause", "agent-1"),
        ];
        let d = Diagram::read(&records, &[], 100);
        let got: Vec<(&str, u64, u64, Vec<&str>)> = d
            .bands
            .iter()
            .map(|b| {
                (
                    b.fault.as_str(),
                    b.start_ms,
                    b.end_ms,
                    b.lanes.iter().map(|&i| d.lanes[i].name.as_str()).collect(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "partition",
                    10,
                    30,
                    vec!["agent-1", "executors-1", "master-1"]
                ),
                ("crash", 20, 40, vec!["master-1"]),
                ("wipe_disk", 25, 25, vec!["agent-1", "executors-1"]),
                ("pause", 45, 100, vec!["agent-1"]),
            ]
        );
    }

    #[test]
    fn an_epoch_ends_when_its_leader_crashes() {
        let records = vec![
            rec(
                10,
                "master-1",
                TraceKind::Event {
                    event: Event::ElectedLeader { epoch: 1 },
                },
            ),
            fault(20, "crash", "master-1"),
            rec(
                35,
                "master-2",
                TraceKind::Event {
                    event: Event::ElectedLeader { epoch: 2 },
                },
            ),
        ];
        let d = Diagram::read(&records, &[], 100);
        let got: Vec<(u64, u64, u64)> = d
            .epochs
            .iter()
            .map(|e| (e.epoch, e.start_ms, e.end_ms))
            .collect();
        assert_eq!(got, vec![(1, 10, 20), (2, 35, 100)]);
    }

    #[test]
    fn many_messages_are_bundled() {
        let mut records = Vec::new();
        for i in 0..(MAX_ARROWS as u64 + 500) {
            records.push(send(i, "agent-1", "master-1", i + 1));
            records.push(deliver(i + 1, "master-1", "agent-1", i + 1));
        }
        let d = Diagram::read(&records, &[], MAX_ARROWS as u64 + 600);
        assert!(d.aggregated);
        assert!(d.arrows.len() <= MAX_ARROWS);
        assert_eq!(d.arrows.iter().map(|a| a.count).sum::<u64>(), d.delivered);
        assert_eq!(d.delivered, MAX_ARROWS as u64 + 500);
    }
}
