//! Shared helpers for the black-box role tests: a scripted fake coordinator that
//! answers a role's coordinator requests, a small driver that feeds inputs to a
//! role and collects its outputs, and finders over outputs.
//!
//! Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use mesochaos_reference::detector::MASTERS_PATH;
use mesochaos_reference::io::Role;
use mesochaos_reference::messages::{ChildNode, CoordError, CoordOp, CoordReply};
use mesochaos_reference::registry::{Registry, REGISTRY_PATH};
use mesochaos_reference::{
    Context, Event, Input, Message, Output, Outputs, ProcessId, Resources, SessionId,
};
use std::collections::{BTreeMap, VecDeque};

pub const COORDINATOR: &str = "coordinator";

pub fn coordinator() -> ProcessId {
    ProcessId::new(COORDINATOR)
}

pub fn ctx(now_ms: u64) -> Context {
    Context { now_ms, random: 0 }
}

pub fn cpus(n: u64) -> Resources {
    Resources::new(n * 1000, n * 1024, 0)
}

/// A scripted stand-in for the coordinator (ZooKeeper). It keeps the masters'
/// group (`/mesos/masters`) and the registry node, and answers each request as
/// the real coordinator would on a healthy ensemble.
#[derive(Clone, Debug)]
pub struct FakeCoordinator {
    /// The session ID handed out by the next `CreateSession`.
    pub next_session: u64,
    /// The sequence number the next sequential `Create` gets.
    pub next_sequence: u64,
    /// The children of `/mesos/masters`.
    pub masters: Vec<ChildNode>,
    /// The registry node's data and version, if it exists.
    pub registry: Option<(String, u64)>,
    /// Every operation answered, in order.
    pub log: Vec<CoordOp>,
    /// Sequential children of other groups (a framework's instances), by parent.
    pub groups: BTreeMap<String, Vec<ChildNode>>,
    /// Other data nodes (a framework's state): data and version, by path.
    pub nodes: BTreeMap<String, (String, u64)>,
}

impl Default for FakeCoordinator {
    fn default() -> Self {
        FakeCoordinator {
            next_session: 0x100,
            next_sequence: 1,
            masters: Vec::new(),
            registry: None,
            log: Vec::new(),
            groups: BTreeMap::new(),
            nodes: BTreeMap::new(),
        }
    }
}

pub fn candidate(sequence: u64, master: &str) -> ChildNode {
    ChildNode {
        name: format!("master_{sequence:010}"),
        sequence: Some(sequence),
        data: master.to_string(),
    }
}

impl FakeCoordinator {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an existing candidacy of `master` with `sequence`; later candidacies
    /// get higher numbers.
    pub fn with_master(mut self, sequence: u64, master: &str) -> Self {
        self.masters.push(candidate(sequence, master));
        self.next_sequence = self.next_sequence.max(sequence + 1);
        self
    }

    /// Later candidacies start at `sequence` (earlier ones have expired).
    pub fn with_next_sequence(mut self, sequence: u64) -> Self {
        self.next_sequence = sequence;
        self
    }

    pub fn with_registry(mut self, registry: &Registry, version: u64) -> Self {
        self.registry = Some((registry.encode(), version));
        self
    }

    /// The registry as last written, decoded.
    pub fn registry(&self) -> Option<Registry> {
        self.registry
            .as_ref()
            .map(|(data, _)| Registry::decode(data).expect("registry decodes"))
    }

    pub fn answer(&mut self, op: &CoordOp) -> Result<CoordReply, CoordError> {
        self.log.push(op.clone());
        match op {
            CoordOp::CreateSession { timeout_ms } => {
                let session = SessionId(self.next_session);
                self.next_session += 1;
                Ok(CoordReply::SessionCreated {
                    session,
                    timeout_ms: *timeout_ms,
                })
            }
            CoordOp::ResumeSession { session } => {
                Ok(CoordReply::SessionResumed { session: *session })
            }
            CoordOp::Heartbeat => Ok(CoordReply::HeartbeatAck),
            CoordOp::Create {
                path,
                data,
                sequential,
                ..
            } => {
                if *sequential {
                    let seq = self.next_sequence;
                    self.next_sequence += 1;
                    let created = format!("{path}{seq:010}");
                    let (parent, name) = created.rsplit_once('/').expect("absolute path");
                    let child = ChildNode {
                        name: name.to_string(),
                        sequence: Some(seq),
                        data: data.clone(),
                    };
                    if parent == MASTERS_PATH {
                        self.masters.push(child);
                    } else {
                        self.groups
                            .entry(parent.to_string())
                            .or_default()
                            .push(child);
                    }
                    Ok(CoordReply::Created {
                        path: created,
                        sequence: Some(seq),
                    })
                } else {
                    Ok(CoordReply::Created {
                        path: path.clone(),
                        sequence: None,
                    })
                }
            }
            CoordOp::Delete { .. } => Ok(CoordReply::Deleted),
            CoordOp::GetChildren { path, .. } if path == MASTERS_PATH => {
                let mut children = self.masters.clone();
                children.sort_by(|a, b| a.name.cmp(&b.name));
                Ok(CoordReply::Children { children })
            }
            CoordOp::GetChildren { path, .. } => Ok(CoordReply::Children {
                children: self.groups.get(path).cloned().unwrap_or_default(),
            }),
            CoordOp::GetData { path, .. } if path == REGISTRY_PATH => match &self.registry {
                Some((data, version)) => Ok(CoordReply::Data {
                    data: data.clone(),
                    version: *version,
                }),
                None => Err(CoordError::NoNode),
            },
            CoordOp::GetData { path, .. } => match self.nodes.get(path) {
                Some((data, version)) => Ok(CoordReply::Data {
                    data: data.clone(),
                    version: *version,
                }),
                None => Err(CoordError::NoNode),
            },
            CoordOp::SetData {
                path,
                data,
                expected,
            } if path == REGISTRY_PATH => {
                use mesochaos_reference::messages::ExpectedVersion;
                let current = self.registry.as_ref().map(|(_, v)| *v);
                let ok = match (expected, current) {
                    (ExpectedVersion::Absent, None) => true,
                    (ExpectedVersion::Version(v), Some(c)) => *v == c,
                    _ => false,
                };
                if !ok {
                    return Err(CoordError::BadVersion { current });
                }
                let version = current.map_or(0, |c| c + 1);
                self.registry = Some((data.clone(), version));
                Ok(CoordReply::Written { version })
            }
            CoordOp::SetData {
                path,
                data,
                expected,
            } => {
                use mesochaos_reference::messages::ExpectedVersion;
                let current = self.nodes.get(path).map(|(_, v)| *v);
                let ok = match (expected, current) {
                    (ExpectedVersion::Absent, None) => true,
                    (ExpectedVersion::Version(v), Some(c)) => *v == c,
                    _ => false,
                };
                if !ok {
                    return Err(CoordError::BadVersion { current });
                }
                let version = current.map_or(0, |c| c + 1);
                self.nodes.insert(path.clone(), (data.clone(), version));
                Ok(CoordReply::Written { version })
            }
        }
    }
}

/// A role under test with its clock and its fake coordinator.
pub struct Rig<R: Role> {
    pub role: R,
    pub coord: FakeCoordinator,
    pub now: u64,
    /// When false, coordinator requests are left unanswered (and returned).
    pub auto_answer: bool,
    /// A live coordinator connection: when [`Rig::at`] moves time forward,
    /// this input (the role's heartbeat timer) is handed to the role every
    /// `.0` ms on the way, its requests answered, its outputs dropped — as a
    /// real client heartbeats while nothing else happens. Without it a jump
    /// past the session timeout finds the session expired.
    pub keepalive: Option<(u64, Keepalive<R>)>,
}

/// Makes the input [`Rig::keepalive`] hands the role.
pub type Keepalive<R> = fn() -> Input<<R as Role>::Timer>;

impl<R: Role> Rig<R> {
    pub fn new(role: R, coord: FakeCoordinator) -> Self {
        Rig {
            role,
            coord,
            now: 0,
            auto_answer: true,
            keepalive: None,
        }
    }

    /// Hands one input to the role and returns exactly what it asked for.
    pub fn raw(&mut self, input: Input<R::Timer>) -> Vec<Output<R::Timer>> {
        let mut out = Outputs::new();
        self.role.handle(&ctx(self.now), input, &mut out);
        out.into_vec()
    }

    /// Hands one input to the role, then plays the coordinator: dials to it
    /// succeed and every request is answered (recursively, in order). Returns all
    /// outputs of the role, including the coordinator traffic.
    pub fn step(&mut self, input: Input<R::Timer>) -> Vec<Output<R::Timer>> {
        let mut all = Vec::new();
        let mut queue = VecDeque::from([input]);
        while let Some(input) = queue.pop_front() {
            let outputs = self.raw(input);
            if self.auto_answer {
                for o in &outputs {
                    match o {
                        Output::Connect { to } if *to == coordinator() => {
                            queue.push_back(Input::Connected {
                                peer: coordinator(),
                            });
                        }
                        Output::Send {
                            to,
                            message: Message::CoordRequest { xid, op, .. },
                        } if *to == coordinator() => {
                            let result = self.coord.answer(op);
                            queue.push_back(Input::Message {
                                from: coordinator(),
                                message: Message::CoordResponse { xid: *xid, result },
                            });
                        }
                        _ => {}
                    }
                }
            }
            all.extend(outputs);
        }
        all
    }

    pub fn start(&mut self) -> Vec<Output<R::Timer>> {
        self.step(Input::Start)
    }

    pub fn msg(&mut self, from: &str, message: Message) -> Vec<Output<R::Timer>> {
        self.step(Input::Message {
            from: ProcessId::new(from),
            message,
        })
    }

    pub fn timer(&mut self, timer: R::Timer) -> Vec<Output<R::Timer>> {
        self.step(Input::Timer(timer))
    }

    pub fn connected(&mut self, peer: &str) -> Vec<Output<R::Timer>> {
        self.step(Input::Connected {
            peer: ProcessId::new(peer),
        })
    }

    pub fn at(&mut self, now_ms: u64) -> &mut Self {
        if let Some((every, input)) = self.keepalive {
            // Heartbeats are answered even when other requests are left
            // pending (`auto_answer` off): the connection is alive.
            let auto_answer = std::mem::replace(&mut self.auto_answer, true);
            while self.now + every < now_ms {
                self.now += every;
                let _ = self.step(input());
            }
            self.auto_answer = auto_answer;
        }
        self.now = now_ms;
        self
    }
}

// ----- finders over outputs -----

/// Messages sent to anyone but the coordinator, in order.
pub fn sends<T>(outs: &[Output<T>]) -> Vec<(ProcessId, Message)> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Send { to, message } if *to != coordinator() => {
                Some((to.clone(), message.clone()))
            }
            _ => None,
        })
        .collect()
}

/// Messages sent to `to`, in order.
pub fn sent_to<T>(outs: &[Output<T>], to: &str) -> Vec<Message> {
    sends(outs)
        .into_iter()
        .filter(|(p, _)| p.as_str() == to)
        .map(|(_, m)| m)
        .collect()
}

/// Coordinator operations the role requested, in order.
pub fn coord_ops<T>(outs: &[Output<T>]) -> Vec<CoordOp> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Send {
                message: Message::CoordRequest { op, .. },
                ..
            } => Some(op.clone()),
            _ => None,
        })
        .collect()
}

pub fn events<T>(outs: &[Output<T>]) -> Vec<Event> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Event(e) => Some(e.clone()),
            _ => None,
        })
        .collect()
}

pub fn has_event<T>(outs: &[Output<T>], pred: impl Fn(&Event) -> bool) -> bool {
    events(outs).iter().any(pred)
}

/// The `MessageIgnored` events for messages of `kind`.
pub fn ignored<T>(outs: &[Output<T>], kind: &str) -> Vec<Event> {
    events(outs)
        .into_iter()
        .filter(|e| matches!(e, Event::MessageIgnored { kind: k, .. } if k == kind))
        .collect()
}

pub fn exits<T>(outs: &[Output<T>]) -> Vec<String> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Exit { reason } => Some(reason.clone()),
            _ => None,
        })
        .collect()
}

pub fn timers_set<T: Clone>(outs: &[Output<T>]) -> Vec<(T, u64)> {
    outs.iter()
        .filter_map(|o| match o {
            Output::SetTimer { timer, at_ms } => Some((timer.clone(), *at_ms)),
            _ => None,
        })
        .collect()
}

/// The time the last `SetTimer` of `timer` asks for, if any.
pub fn timer_at<T: Clone + PartialEq>(outs: &[Output<T>], timer: &T) -> Option<u64> {
    timers_set(outs)
        .into_iter()
        .filter(|(t, _)| t == timer)
        .map(|(_, at)| at)
        .next_back()
}

/// `(path, bytes)` of every atomic file write, in order.
pub fn atomic_writes<T>(outs: &[Output<T>]) -> Vec<(String, Vec<u8>)> {
    outs.iter()
        .filter_map(|o| match o {
            Output::WriteFileAtomic { path, bytes } => Some((path.clone(), bytes.clone())),
            _ => None,
        })
        .collect()
}
