//! # Maps with structured keys, serialized as lists of pairs
//!
//! Not a Mesos concept: a serialization detail. A role's state is written as
//! JSON for `mesochaos run --snapshot` and for the scenario tests, and JSON
//! object keys must be strings — a map keyed by a struct (a `TaskKey`: framework
//! and task) cannot be an object. `#[serde(with = "crate::pairs")]` writes such a
//! map as a list of `[key, value]` pairs instead (before, a snapshot taken while
//! one of them was non-empty failed with "key must be a string").
//!
//! Used on maps keyed by `TaskKey`: the agent's status update retry
//! intervals and queued launches (agent/mod.rs) and the executor host's store
//! clients (executor/mod.rs). A `String`-keyed map needs none of this.

use serde::de::Deserialize;
use serde::ser::Serialize;
use serde::{Deserializer, Serializer};
use std::collections::BTreeMap;

/// Writes `map` as a sequence of `(key, value)` pairs, in key order (a
/// `BTreeMap` iterates sorted), so the same state always serializes to the
/// same bytes — which snapshot comparisons rely on.
pub fn serialize<K, V, S>(map: &BTreeMap<K, V>, serializer: S) -> Result<S::Ok, S::Error>
where
    K: Serialize,
    V: Serialize,
    S: Serializer,
{
    serializer.collect_seq(map.iter())
}

/// Reads a sequence of `(key, value)` pairs back into a map. A key that
/// appears twice keeps its last value (`collect` into a map overwrites);
/// [`serialize`] never writes one twice.
pub fn deserialize<'de, K, V, D>(deserializer: D) -> Result<BTreeMap<K, V>, D::Error>
where
    K: Deserialize<'de> + Ord,
    V: Deserialize<'de>,
    D: Deserializer<'de>,
{
    let pairs: Vec<(K, V)> = Vec::deserialize(deserializer)?;
    Ok(pairs.into_iter().collect())
}
