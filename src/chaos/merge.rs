//! `merge`: one summary and one JUnit file from the shards of a sweep.
//!
//! A CI matrix runs `sweep --shard I/N` in N jobs, each with its own results
//! folder. Every sweep keeps, beside the replay files of its failing seeds,
//! what it was (`sweep.json`) and one record per seed (`records/seed-N.json`:
//! verdict, trace hash, failed checkers and their violations, fault kinds
//! scheduled and fired). `mesochaos merge DIR…` reads them back and makes
//! the summary — and with `--junit` the JUnit file — the unsharded sweep
//! would have made, and exits as it would have.

use super::sweep::{finish, SeedRecord, SweepRecord};
use crate::cli::{Format, EXIT_BAD_INPUT};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Writes a sweep's `sweep.json` and its seeds' records under `dir` (the
/// scenario's results folder).
pub(super) fn save_records(
    dir: &Path,
    sweep: &SweepRecord,
    seeds: &[SeedRecord],
) -> Result<(), String> {
    let records = dir.join("records");
    // A results folder holds one sweep: the records of an earlier sweep into
    // it (other seeds, other code) would otherwise be merged with this one's.
    if records.exists() {
        std::fs::remove_dir_all(&records)
            .map_err(|e| format!("cannot clear {}: {e}", records.display()))?;
    }
    std::fs::create_dir_all(&records)
        .map_err(|e| format!("cannot create {}: {e}", records.display()))?;
    let write = |path: PathBuf, json: String| {
        std::fs::write(&path, json).map_err(|e| format!("cannot write {}: {e}", path.display()))
    };
    for seed in seeds {
        write(
            records.join(format!("seed-{}.json", seed.seed)),
            serde_json::to_string_pretty(seed).expect("records serialize"),
        )?;
    }
    write(
        dir.join("sweep.json"),
        serde_json::to_string_pretty(sweep).expect("records serialize"),
    )
}

/// The folders holding a `sweep.json`: `dir` itself, or its children (a
/// `--results` folder holds one folder per scenario).
fn sweep_folders(dir: &Path) -> Result<Vec<PathBuf>, String> {
    if dir.join("sweep.json").is_file() {
        return Ok(vec![dir.to_path_buf()]);
    }
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut found: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("sweep.json").is_file())
        .collect();
    found.sort();
    if found.is_empty() {
        return Err(format!(
            "{}: no sweep results here (no sweep.json in it or in a folder under it)",
            dir.display()
        ));
    }
    Ok(found)
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: not a sweep record: {e}", path.display()))
}

/// Reads every shard and checks they are shards of one sweep: same scenario,
/// code and planted bug, no seed twice.
fn load(dirs: &[PathBuf]) -> Result<(SweepRecord, Vec<SeedRecord>), String> {
    let mut sweep: Option<SweepRecord> = None;
    let mut seeds: BTreeMap<u64, SeedRecord> = BTreeMap::new();
    for dir in dirs {
        for folder in sweep_folders(dir)? {
            let shard: SweepRecord = read_json(&folder.join("sweep.json"))?;
            match &mut sweep {
                None => sweep = Some(shard),
                Some(first) => {
                    let same = first.scenario == shard.scenario
                        && first.code_version == shard.code_version
                        && first.bug == shard.bug;
                    if !same {
                        return Err(format!(
                            "{}: a shard of another sweep ({} at code {}, bug {:?}; the first was {} at code {}, bug {:?})",
                            folder.display(),
                            shard.scenario,
                            shard.code_version,
                            shard.bug,
                            first.scenario,
                            first.code_version,
                            first.bug
                        ));
                    }
                    first.wall_seconds += shard.wall_seconds;
                }
            }
            let records = folder.join("records");
            let entries = std::fs::read_dir(&records)
                .map_err(|e| format!("cannot read {}: {e}", records.display()))?;
            for entry in entries.filter_map(Result::ok) {
                let record: SeedRecord = read_json(&entry.path())?;
                if seeds.contains_key(&record.seed) {
                    return Err(format!(
                        "{}: seed {} is in two shards",
                        folder.display(),
                        record.seed
                    ));
                }
                seeds.insert(record.seed, record);
            }
        }
    }
    let sweep = sweep.ok_or("no shard given")?;
    Ok((sweep, seeds.into_values().collect()))
}

/// `mesochaos merge DIR…`.
pub fn merge(dirs: &[PathBuf], format: Format, junit: Option<&Path>) -> ExitCode {
    match load(dirs) {
        Ok((sweep, seeds)) => finish(&sweep, &seeds, format, junit),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}
