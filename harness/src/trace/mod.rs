//! The trace: every message, event, fault and process life event of a run, in
//! simulated time.
//!
//! Each record is serialized to one JSON line. The run's *trace hash* is FNV-1a
//! over those lines, so it covers every record with its payload and time: the
//! same seed, scenario and code give the same hash, byte for byte, in any process.

pub mod log;

use crate::seed::Fnv64;
use mesochaos_reference::{Event, FrameworkId, Message, ProcessId};
use serde::{Deserialize, Serialize};
use std::io::Write;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TraceRecord {
    /// Simulated milliseconds since the start of the run.
    pub t_ms: u64,
    /// The process where the record was made (`harness` for faults and steps).
    pub at: ProcessId,
    #[serde(flatten)]
    pub kind: TraceKind,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TraceKind {
    /// A message handed to a connection (`seq` counts per connection).
    Send {
        to: ProcessId,
        conn: u64,
        seq: u64,
        message: Message,
    },
    /// A received message handed to the role.
    Deliver {
        from: ProcessId,
        conn: u64,
        seq: u64,
    },
    /// A message that was not sent or not delivered, and why.
    Drop {
        peer: ProcessId,
        kind: String,
        why: String,
    },
    /// A message a `hold` filter kept from the receiving role (`what =
    /// "held"`), or handed to it when a `release` step lifted the filter
    /// (`"released"`; a `deliver` record follows). `conn` and `seq` are as in
    /// `deliver`. (Messages a `drop` filter takes are `drop` records.)
    Filter {
        from: ProcessId,
        conn: u64,
        seq: u64,
        kind: String,
        what: String,
    },
    /// Connection life: `dial`, `connected`, `accepted`, `connect_failed`, `closed`.
    Conn {
        peer: ProcessId,
        conn: u64,
        what: String,
        why: Option<String>,
    },
    /// An observable event a role emitted.
    Event { event: Event },
    /// A process started (`incarnation` counts starts), exited, crashed or was restarted.
    Process {
        what: String,
        incarnation: u32,
        why: Option<String>,
    },
    /// A fault the harness injected, or a scenario step it performed.
    Fault { fault: String, detail: String },
    /// A disk operation completed.
    Disk {
        machine: String,
        op: String,
        path: String,
        bytes: usize,
    },
}

/// The trace sink: hashes every record, keeps them for the checkers, and
/// optionally writes them as JSON lines.
pub struct Trace {
    hash: Fnv64,
    records: Vec<TraceRecord>,
    writer: Option<Box<dyn Write>>,
    write_error: Option<std::io::Error>,
}

impl Trace {
    pub fn new(writer: Option<Box<dyn Write>>) -> Self {
        Trace {
            hash: Fnv64::default(),
            records: Vec::new(),
            writer,
            write_error: None,
        }
    }

    pub fn record(&mut self, record: TraceRecord) {
        let line = serde_json::to_string(&record).expect("trace records serialize");
        self.hash.write(line.as_bytes());
        self.hash.write(b"\n");
        // After the hash: logging never changes it.
        log::record(&record);
        if let Some(w) = &mut self.writer {
            if self.write_error.is_none() {
                if let Err(e) = writeln!(w, "{line}") {
                    self.write_error = Some(e);
                }
            }
        }
        self.records.push(record);
    }

    pub fn hash(&self) -> u64 {
        self.hash.finish()
    }

    /// The hash as printed: 16 hex digits.
    pub fn hash_hex(&self) -> String {
        format!("{:016x}", self.hash())
    }

    pub fn records(&self) -> &[TraceRecord] {
        &self.records
    }

    pub fn take_records(&mut self) -> Vec<TraceRecord> {
        std::mem::take(&mut self.records)
    }

    /// Flushes the writer; reports the first write error, if any.
    pub fn finish(&mut self) -> std::io::Result<()> {
        if let Some(e) = self.write_error.take() {
            return Err(e);
        }
        if let Some(w) = &mut self.writer {
            w.flush()?;
        }
        Ok(())
    }

    /// Events emitted by roles, with time and process.
    pub fn events(&self) -> impl Iterator<Item = (u64, &ProcessId, &Event)> {
        self.records.iter().filter_map(|r| match &r.kind {
            TraceKind::Event { event } => Some((r.t_ms, &r.at, event)),
            _ => None,
        })
    }
}

/// The framework ID and scheduler instance of a master's (re-)registration
/// event, whichever of the two it is.
pub fn registration(event: &Event) -> Option<(&FrameworkId, &ProcessId)> {
    match event {
        Event::FrameworkRegistered {
            framework_id,
            scheduler,
        }
        | Event::FrameworkReregistered {
            framework_id,
            scheduler,
            ..
        } => Some((framework_id, scheduler)),
        _ => None,
    }
}
