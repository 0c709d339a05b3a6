//! The command-line contract (DESIGN.md, "Contracts others rely on"), checked
//! against the built binary.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Output;

mod common;
use common::{mesochaos, mesochaos_with_log, starts_a_fault};

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json_run(file: &str, seed: u64) -> serde_json::Value {
    let out = mesochaos(&["run", file, "--seed", &seed.to_string(), "--format", "json"]);
    assert!(
        out.status.success(),
        "{file} seed {seed} failed: {}{}",
        stdout(&out),
        stderr(&out)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object on stdout")
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mesochaos-cli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn text_run_prints_the_seed_first_and_a_verdict() {
    let out = mesochaos(&["run", "scenarios/master-failover.toml"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert_eq!(
        text.lines().next(),
        Some("seed: 1"),
        "the scenario's own seed, printed first"
    );
    assert!(text.contains("elected leader, epoch"));
    assert!(text.contains("failover time:"));
    assert!(text.trim_end().ends_with("verdict: PASS"));
}

#[test]
fn json_run_prints_the_contract_fields_and_the_seed_on_stderr() {
    let out = mesochaos(&[
        "run",
        "scenarios/master-failover.toml",
        "--seed",
        "7",
        "--format",
        "json",
    ]);
    assert!(out.status.success());
    assert_eq!(stderr(&out).lines().next(), Some("seed: 7"));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in [
        "scenario",
        "seed",
        "verdict",
        "trace_hash",
        "sim_seconds",
        "wall_seconds",
        "violations",
        "final_state",
    ] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    assert_eq!(v["scenario"], "master-failover");
    assert_eq!(v["seed"], 7);
    assert_eq!(v["verdict"], "pass");
    assert_eq!(v["violations"].as_array().unwrap().len(), 0);
    let state = &v["final_state"];
    for key in [
        "leader",
        "frameworks",
        "agents",
        "tasks",
        "reservations",
        "volumes",
    ] {
        assert!(state.get(key).is_some(), "final_state lacks {key}");
    }
    assert_eq!(state["agents"].as_array().unwrap().len(), 5);
    assert_eq!(state["tasks"].as_array().unwrap().len(), 10);
    // The leader after the failover is not the first one.
    assert!(state["leader"]["epoch"].as_u64().unwrap() > 0);
}

/// Determinism: the same seed gives the same trace, byte for byte, across
/// processes; different seeds almost always differ.
#[test]
fn the_same_seed_gives_the_same_trace_hash_in_separate_processes() {
    for file in [
        "scenarios/master-failover.toml",
        "scenarios/coordinator-lost.toml",
    ] {
        let a = json_run(file, 3);
        let b = json_run(file, 3);
        assert_eq!(a["trace_hash"], b["trace_hash"], "{file}");
        assert_eq!(a["final_state"], b["final_state"], "{file}");
    }
}

#[test]
fn seeds_1_to_20_give_at_least_15_distinct_traces() {
    let hashes: BTreeSet<String> = (1..=20)
        .map(|seed| {
            json_run("scenarios/master-failover.toml", seed)["trace_hash"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(
        hashes.len() >= 15,
        "only {} distinct hashes over 20 seeds",
        hashes.len()
    );
}

/// FNV-1a 64, as the harness computes the trace hash.
fn fnv1a(lines: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in lines.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[test]
fn the_trace_file_holds_every_record_and_its_lines_make_the_hash() {
    let dir = temp_dir("trace");
    let path = dir.join("run.jsonl");
    let out = mesochaos(&[
        "run",
        "scenarios/leader-loses-coordinator.toml",
        "--format",
        "json",
        "--trace",
        path.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let file = std::fs::read_to_string(&path).unwrap();
    // The first line is the header, saying what run this is; it is not a
    // trace record and not in the hash.
    let (header, text) = file.split_once('\n').expect("a header line");
    let header: serde_json::Value = serde_json::from_str(header).unwrap();
    assert_eq!(header["type"], "header");
    assert_eq!(header["format"], 1);
    assert_eq!(header["scenario"], "leader-loses-coordinator");
    assert_eq!(header["seed"], v["seed"]);
    assert_eq!(header["bug"], serde_json::Value::Null);
    assert_eq!(
        header["scenario_text"].as_str().unwrap(),
        std::fs::read_to_string("scenarios/leader-loses-coordinator.toml").unwrap()
    );
    assert!(header["code_version"]
        .as_str()
        .is_some_and(|c| !c.is_empty()));
    assert!(!header["description"].as_str().unwrap().is_empty());
    assert_eq!(
        header["scenario_path"],
        "scenarios/leader-loses-coordinator.toml"
    );
    // The last line is the outcome: also not a record, not in the hash.
    let (text, outcome) = text
        .trim_end_matches('\n')
        .rsplit_once('\n')
        .expect("an outcome line");
    let text = format!("{text}\n");
    let outcome: serde_json::Value = serde_json::from_str(outcome).unwrap();
    assert_eq!(outcome["type"], "outcome");
    assert_eq!(outcome["verdict"], v["verdict"]);
    assert_eq!(outcome["trace_hash"], v["trace_hash"]);
    assert_eq!(outcome["violations"], v["violations"]);
    assert_eq!(outcome["metrics"], v["metrics"]);
    assert!(outcome["checked"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c == "single_leader"));
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON lines"))
        .collect();
    assert_eq!(
        lines.len() as u64,
        v["metrics"]["trace_records"].as_u64().unwrap()
    );
    assert_eq!(
        format!("{:016x}", fnv1a(&text)),
        v["trace_hash"].as_str().unwrap()
    );
    // Simulated time never goes backwards, and the fault is in there.
    let times: Vec<u64> = lines.iter().map(|l| l["t_ms"].as_u64().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
    assert!(lines
        .iter()
        .any(|l| l["type"] == "fault" && l["fault"] == "partition"));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn report_renders_a_trace_alone_and_its_figures_come_from_the_trace() {
    let dir = temp_dir("report-trace");
    let trace = dir.join("run.jsonl");
    let out = mesochaos(&[
        "run",
        "scenarios/leader-loses-coordinator.toml",
        "--trace",
        trace.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let folder = dir.join("report");
    let out = mesochaos(&[
        "report",
        trace.to_str().unwrap(),
        "--out",
        folder.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("leader-loses-coordinator seed 1: PASS"));
    let records: Vec<serde_json::Value> = std::fs::read_to_string(&trace)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|r: &serde_json::Value| r.get("t_ms").is_some())
        .collect();
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(folder.join("report.json")).unwrap())
            .unwrap();
    // Every figure is the trace's own.
    let delivered = records.iter().filter(|r| r["type"] == "deliver").count();
    assert_eq!(report["counts"]["messages_delivered"], delivered as u64);
    let faults = records.iter().filter(|r| starts_a_fault(r)).count();
    assert!(faults >= 1, "the scenario partitions the leader");
    assert_eq!(report["counts"]["faults"], faults as u64);
    let mut processes: BTreeSet<String> = records
        .iter()
        .map(|r| r["at"].as_str().unwrap().to_string())
        .collect();
    processes.extend(
        records
            .iter()
            .filter_map(|r| r["to"].as_str().map(str::to_string)),
    );
    processes.insert("harness".into());
    let listed: BTreeSet<String> = report["processes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect();
    assert_eq!(listed, processes);
    assert_eq!(report["verdict"], "pass");
    assert_eq!(report["outcome_recorded"], true);
    assert_eq!(
        report["command"],
        "mesochaos run scenarios/leader-loses-coordinator.toml --seed 1"
    );
    assert!(
        report["epochs"].as_array().unwrap().len() >= 2,
        "a second leader"
    );
    // The page stands alone: nothing fetched from the network.
    let html = std::fs::read_to_string(folder.join("timeline.html")).unwrap();
    assert!(html.contains("id=\"diagram-data\""));
    for fetch in ["src=\"http", "href=\"http", "@import", "url(http"] {
        assert!(!html.contains(fetch), "timeline.html fetches: {fetch}");
    }
    let walkthrough = std::fs::read_to_string(folder.join("walkthrough.md")).unwrap();
    assert!(walkthrough.contains("```mermaid\nsequenceDiagram\n"));
    assert!(walkthrough.contains("mesochaos run scenarios/leader-loses-coordinator.toml --seed 1"));
    assert!(walkthrough.contains("[`Master::become_leader`]"));

    // A trace cut short (no outcome line): still reported, and it says so.
    let text = std::fs::read_to_string(&trace).unwrap();
    let cut: Vec<&str> = text.lines().collect();
    let cut_path = dir.join("cut.jsonl");
    std::fs::write(&cut_path, cut[..cut.len() / 2].join("\n")).unwrap();
    let out = mesochaos(&["report", cut_path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("cut.jsonl.report/report.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(report["outcome_recorded"], false);

    // Bad input: exit 2, naming the file and the line.
    let bad = dir.join("bad.jsonl");
    std::fs::write(&bad, format!("{}\n{{\"t_ms\": \"soon\"}}\n", cut[0])).unwrap();
    let out = mesochaos(&["report", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("bad.jsonl: line 2: not a trace record"),
        "{}",
        stderr(&out)
    );
    let out = mesochaos(&["report", "scenarios/master-failover.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("neither a trace"), "{}", stderr(&out));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn check_accepts_every_shipped_scenario() {
    for entry in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")).unwrap()
    {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml")
            && path.file_name().unwrap() != "Cargo.toml"
        {
            let out = mesochaos(&["check", path.to_str().unwrap()]);
            assert!(out.status.success(), "{}: {}", path.display(), stderr(&out));
            assert!(stdout(&out).starts_with("ok: "));
        }
    }
}

#[test]
fn a_malformed_scenario_exits_2_with_file_line_and_column() {
    let dir = temp_dir("malformed");
    let path = dir.join("bad.toml");
    std::fs::write(&path, "[cluster]\nmasters = 3\nagents = 2\n\n[[step]]\nwait = \"converged\"\nwithin = \"ten seconds\"\n")
        .unwrap();
    for command in ["check", "run"] {
        let out = mesochaos(&[command, path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{command}");
        let err = stderr(&out);
        assert!(
            err.contains(&format!("{}:7:10:", path.display())),
            "{command}: {err}"
        );
        assert!(err.contains("ten seconds"), "{err}");
    }
    let out = mesochaos(&["run", dir.join("missing.toml").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("cannot read"));
    std::fs::remove_dir_all(dir).unwrap();
}

/// The vocabulary of Mesos's tests (docs/scenario-format.md: message filters,
/// injected messages, timing and leader-state expectations): the fixtures pass
/// `check` and `run`; a fixture whose expectation is violated exits 1 naming it;
/// bad input to the new keys exits 2 with file, line and column.
#[test]
fn vocabulary_fixtures_pass_violations_exit_1_and_bad_keys_exit_2() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/vocab");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&fixtures)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    assert!(names.len() >= 6);
    for path in &names {
        let out = mesochaos(&["check", path.to_str().unwrap()]);
        assert!(out.status.success(), "{}: {}", path.display(), stderr(&out));
    }
    let hold = fixtures.join("hold-kill.toml");
    let out = mesochaos(&["run", hold.to_str().unwrap()]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("FAULT hold every KillTask master-1 -> agent-1"),
        "{text}"
    );
    assert!(text.contains("agent-1            held KillTask from master-1"));
    assert!(text.contains("agent-1            released KillTask from master-1"));

    let dir = temp_dir("vocab");
    let without_hold = std::fs::read_to_string(&hold)
        .unwrap()
        .replace(
            "hold = { kind = \"KillTask\", from = \"leader\", to = \"agent-1\" }",
            "sleep = \"0s\"",
        )
        .replace(
            "release = { kind = \"KillTask\", from = \"leader\", to = \"agent-1\" }",
            "sleep = \"0s\"",
        );
    let path = dir.join("without-hold.toml");
    std::fs::write(&path, without_hold).unwrap();
    let out = mesochaos(&["run", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    let violations: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("VIOLATION [timing]"))
        .collect();
    assert_eq!(violations.len(), 2, "{text}");
    assert!(violations[0].contains(": the kill waits for the release (update: web hears TASK_KILLED for web-0001): it happened at"));
    assert!(violations[1].contains(": no KillTask acted on while held (event command_accepted"));

    let bad = dir.join("bad-step.toml");
    std::fs::write(
        &bad,
        "[cluster]\nmasters = 1\nagents = 1\n\n[[step]]\nisolate = \"agent-1\"\n\n\
         [[expect.timing]]\nevent = \"agent_unreachable\"\nagent = \"agent-1\"\n\
         after_step = 2\nnot_after = \"20s\"\n",
    )
    .unwrap();
    for command in ["check", "run"] {
        let out = mesochaos(&[command, bad.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{command}");
        assert!(
            stderr(&out).contains(&format!(
                "error: {}:11:14: after_step = 2 is out of range (steps are numbered 1 to 1; 0 is the start of the run)",
                bad.display()
            )),
            "{}",
            stderr(&out)
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn bad_arguments_exit_2() {
    assert_eq!(
        mesochaos(&["run", "scenarios/master-failover.toml", "--seed", "abc"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        mesochaos(&["run", "scenarios/master-failover.toml", "--format", "xml"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(mesochaos(&["frobnicate"]).status.code(), Some(2));
    let out = mesochaos(&[
        "run",
        "scenarios/master-failover.toml",
        "--trace",
        "/nonexistent-dir/x.jsonl",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("cannot create trace file"));
}

#[test]
fn a_failing_run_exits_1_and_prints_the_command_that_replays_it() {
    let dir = temp_dir("failing");
    let path = dir.join("too-strict.toml");
    let scenario = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/master-failover.toml"),
    )
    .unwrap()
    .replace("failover_time_max = \"15s\"", "failover_time_max = \"1s\"");
    std::fs::write(&path, scenario).unwrap();
    let out = mesochaos(&["run", path.to_str().unwrap(), "--seed", "4"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("VIOLATION [failover_time]"),
        "{}",
        stdout(&out)
    );
    let replay = format!("replay: mesochaos run {} --seed 4", path.display());
    assert!(stderr(&out).contains(&replay), "{}", stderr(&out));
    let out = mesochaos(&[
        "run",
        path.to_str().unwrap(),
        "--seed",
        "4",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["verdict"], "fail");
    assert_eq!(v["violations"][0]["checker"], "failover_time");
    assert_eq!(
        v["replay"],
        format!("mesochaos run {} --seed 4", path.display())
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn snapshot_writes_every_processs_role_state_and_nothing_for_a_crashed_one() {
    let dir = temp_dir("snapshot");
    let path = dir.join("roles.json");
    let out = mesochaos(&[
        "run",
        "scenarios/master-failover.toml",
        "--snapshot",
        path.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let roles: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let roles = roles.as_object().unwrap();
    assert_eq!(
        roles.len(),
        15,
        "coordinator, 3 masters, 5 agents, 5 executor hosts, 1 scheduler"
    );
    // Seed 1 crashes master-1, the first leader: a dead process holds nothing.
    assert!(roles["master-1"].is_null());
    let leader = roles
        .iter()
        .find(|(name, state)| {
            name.starts_with("master-") && state["phase"].get("Leading").is_some()
        })
        .map(|(name, _)| name.clone())
        .expect("a leading master");
    for i in 1..=5 {
        let link = &roles[&format!("agent-{i}")]["master"]["Registered"];
        assert_eq!(
            link["master"],
            leader.as_str(),
            "agent-{i} is registered with the leader"
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// A database writing through store nodes keeps its client state in a map
/// keyed by task; JSON keys must be strings, so `--snapshot` failed ("the
/// harness panicked: roles serialize: key must be a string") on every storage
/// scenario until such maps were written as pairs (`reference/src/pairs.rs`).
#[test]
fn snapshot_of_a_storage_scenario_holds_the_database_client() {
    let dir = temp_dir("snapshot-storage");
    let path = dir.join("roles.json");
    let out = mesochaos(&[
        "run",
        "scenarios/storage-dfs.toml",
        "--snapshot",
        path.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let roles: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let clients: Vec<&serde_json::Value> = roles
        .as_object()
        .unwrap()
        .iter()
        .filter(|(name, _)| name.starts_with("executors-"))
        .filter_map(|(_, state)| state["clients"].as_array())
        .flatten()
        .collect();
    assert_eq!(clients.len(), 1, "one database client: {clients:?}");
    assert_eq!(clients[0][0]["task_id"], "db-0003", "{clients:?}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// `compare` runs the storage strategies under one fault script and prints what
/// the seed predicts: only the unreplicated local volume loses acknowledged
/// writes (with the disk), and it writes fastest.
#[test]
fn compare_shows_the_storage_trade_off() {
    let files = [
        "scenarios/storage-dfs.toml",
        "scenarios/storage-replicated.toml",
        "scenarios/storage-local.toml",
    ];
    let mut args = vec!["compare", "--format", "json"];
    args.extend(files);
    let out = mesochaos(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["same_fault_script"], true);
    let runs = json["runs"].as_array().unwrap();
    let by_name = |name: &str| {
        runs.iter()
            .find(|r| r["scenario"] == name)
            .unwrap_or_else(|| panic!("{name} ran"))["metrics"]
            .clone()
    };
    let (dfs, replicated, local) = (
        by_name("storage-dfs"),
        by_name("storage-replicated"),
        by_name("storage-local"),
    );
    assert_eq!(dfs["acked_records_lost"], 0);
    assert_eq!(replicated["acked_records_lost"], 0);
    assert!(local["acked_records_lost"].as_u64().unwrap() > 0);
    let latency = |m: &serde_json::Value| m["db_write_latency_mean_us"].as_u64().unwrap();
    assert!(latency(&local) < latency(&replicated));
    assert!(latency(&local) < latency(&dfs));

    // The table for people, one row per strategy, seeds first.
    let mut args = vec!["compare"];
    args.extend(files);
    let out = mesochaos(&args);
    let text = stdout(&out);
    assert!(text.starts_with("seeds: 1, 1, 1\n"), "{text}");
    assert!(text.contains("| storage-local "), "{text}");
    assert!(!text.contains("do not run the same steps"), "{text}");

    let out = mesochaos(&["compare", "scenarios/no-such-file.toml"]);
    assert_eq!(out.status.code(), Some(2));
}

// ---- sweep, replay, shrink and the bug zoo ----------------------------------

/// A small nemesis scenario (one master, two agents, a framework with a
/// standby instance, a 2-minute safety phase) that keeps these tests quick.
const SMALL: &str = "tests/fixtures/nemesis-small.toml";

fn sweep_json(file: &str, seeds: &str, extra: &[&str]) -> (Output, serde_json::Value) {
    let mut args = vec!["sweep", file, "--seeds", seeds, "--format", "json"];
    args.extend_from_slice(extra);
    let out = mesochaos(&args);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "sweep {file} {seeds} {extra:?}: {}",
        stderr(&out)
    );
    let v = serde_json::from_slice(&out.stdout).expect("one JSON object on stdout");
    (out, v)
}

fn hashes(summary: &serde_json::Value) -> Vec<(u64, String)> {
    summary["seeds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["seed"].as_u64().unwrap(),
                s["trace_hash"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn a_sweep_gives_the_same_hashes_with_one_job_two_jobs_or_a_shard() {
    let dir = temp_dir("sweep-jobs");
    let results = dir.to_str().unwrap();
    let (one_out, one) = sweep_json(SMALL, "1..4", &["--jobs", "1", "--results", results]);
    let (_, two) = sweep_json(SMALL, "1..4", &["--jobs", "2", "--results", results]);
    assert_eq!(
        stderr(&one_out)
            .lines()
            .next()
            .map(|l| l.starts_with("seeds: 1..4 (4 runs)")),
        Some(true),
        "the seeds come first: {}",
        stderr(&one_out)
    );
    // The reference passes and every kind the nemesis may draw fired.
    assert_eq!(one_out.status.code(), Some(0), "{one}");
    assert_eq!(one["passed"], 4);
    assert_eq!(one["kinds_never_fired"], serde_json::json!([]));
    for kind in ["crash_agent", "isolate", "crash_scheduler"] {
        assert!(one["faults"][kind]["fired"].as_u64().unwrap() > 0, "{kind}");
    }
    assert_eq!(hashes(&one), hashes(&two), "--jobs must not change a trace");
    let distinct: BTreeSet<String> = hashes(&one).into_iter().map(|(_, h)| h).collect();
    assert_eq!(distinct.len(), 4, "four seeds, four schedules, four traces");
    // Shard 2 of 2 runs the second and fourth seeds, with the same traces.
    let (_, shard) = sweep_json(SMALL, "1..4", &["--shard", "2/2", "--results", results]);
    let all = hashes(&one);
    assert_eq!(hashes(&shard), vec![all[1].clone(), all[3].clone()]);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn sweep_replay_and_shrink_reject_bad_input_with_exit_2() {
    for args in [
        &["sweep", SMALL, "--seeds", "9..3"][..],
        &["sweep", SMALL, "--seeds", "one..two"],
        &["sweep", SMALL, "--shard", "3/2"],
        &["sweep", SMALL, "--shard", "x"],
        &["sweep", SMALL, "--bug", "no-such-bug"],
        &["run", SMALL, "--bug", "no-such-bug"],
        &["replay", "tests/fixtures/no-such-file.json"],
        &["replay", SMALL],
        &["shrink", SMALL],
    ] {
        let out = mesochaos(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(!stderr(&out).is_empty(), "{args:?} says why");
    }
    let out = mesochaos(&["sweep", SMALL, "--bug", "no-such-bug"]);
    assert!(
        stderr(&out).contains("[possible values: ack-before-checkpoint"),
        "{}",
        stderr(&out)
    );
    let out = mesochaos(&["replay", SMALL]);
    assert!(
        stderr(&out).contains("not a mesochaos replay file"),
        "{}",
        stderr(&out)
    );
}

/// Whether `checker` fails when `schedule` runs on the replay file's scenario,
/// seed and planted bug (through the library, as `replay` does).
fn schedule_fails(replay: &serde_json::Value, schedule: &serde_json::Value, checker: &str) -> bool {
    let scenario = mesochaos_scenarios::parse(
        replay["scenario_toml"].as_str().unwrap(),
        Path::new(replay["scenario_path"].as_str().unwrap()),
    )
    .unwrap();
    let mut spec = scenario.spec.clone();
    spec.cluster.bug = serde_json::from_value(replay["bug"].clone()).unwrap();
    let options = mesochaos_harness::RunOptions {
        schedule: Some(serde_json::from_value(schedule.clone()).unwrap()),
        ..Default::default()
    };
    let seed = replay["seed"].as_u64().unwrap();
    let (report, _) = mesochaos_harness::run_recorded(&spec, seed, options);
    report.violations.iter().any(|v| v.checker == checker)
}

#[test]
fn a_saved_failure_replays_exactly_and_shrinks_to_a_1_minimal_schedule() {
    let dir = temp_dir("replay-shrink");
    let results = dir.join("results");
    let (out, summary) = sweep_json(
        SMALL,
        "1..2",
        &[
            "--bug",
            "standby-registers-new",
            "--results",
            results.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "the planted bug is caught");
    let failing = summary["seeds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["verdict"] == "fail")
        .expect("a failing seed");
    let file = failing["replay_file"].as_str().unwrap().to_string();
    let recorded: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(recorded["trace_hash"], failing["trace_hash"]);
    assert_eq!(recorded["bug"], "standby-registers-new");
    assert!(recorded["failed_checkers"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!("framework_identity")));

    // The sweep wrote the seed's report beside its replay file; `report`
    // makes it again from the replay file alone, running it exactly.
    let seed = failing["seed"].as_u64().unwrap();
    let beside = results.join(format!("nemesis-small/seed-{seed}.report"));
    for name in ["timeline.html", "walkthrough.md", "report.json"] {
        assert!(beside.join(name).is_file(), "{name} beside the replay file");
    }
    let folder = dir.join("from-replay");
    let out = mesochaos(&["report", &file, "--out", folder.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    for folder in [&beside, &folder] {
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(folder.join("report.json")).unwrap())
                .unwrap();
        assert_eq!(report["verdict"], "fail");
        assert_eq!(report["trace_hash"], recorded["trace_hash"]);
        assert_eq!(report["violations"], recorded["violations"]);
        assert_eq!(report["bug"], "standby-registers-new");
        let html = std::fs::read_to_string(folder.join("timeline.html")).unwrap();
        assert!(html.contains("VIOLATION") || html.contains("violations-list"));
    }

    // Replay: the identical trace hash, exit 0.
    let out = mesochaos(&["replay", &file]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let hash = recorded["trace_hash"].as_str().unwrap();
    assert!(stdout(&out).contains(&format!("reproduced exactly: trace hash {hash}")));
    assert!(stdout(&out).contains("VIOLATION [framework_identity]"));

    // A recording that differs from the run: exit 3.
    let mut tampered = recorded.clone();
    tampered["trace_hash"] = serde_json::json!("0000000000000000");
    let tampered_path = dir.join("tampered.json");
    std::fs::write(&tampered_path, tampered.to_string()).unwrap();
    let out = mesochaos(&["replay", tampered_path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stdout(&out).contains("DIFFERS"), "{}", stdout(&out));

    // A file from other code is refused unless forced.
    let mut other = recorded.clone();
    other["code_version"] = serde_json::json!("0.0.1+0000000000000000");
    let other_path = dir.join("other-code.json");
    std::fs::write(&other_path, other.to_string()).unwrap();
    let out = mesochaos(&["replay", other_path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("made by code version 0.0.1+0000000000000000"));
    assert!(stderr(&out).contains("--force"));
    let out = mesochaos(&["replay", other_path.to_str().unwrap(), "--force"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));

    // Shrinking for a checker the recorded run did not fail is bad input.
    let out = mesochaos(&["shrink", &file, "--checker", "no_such_checker"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--checker no_such_checker: the recorded run did not fail it")
            && stderr(&out).contains("framework_identity"),
        "{}",
        stderr(&out)
    );

    // Shrink: strictly smaller, still failing the same checker, 1-minimal.
    let shrunk_path = dir.join("shrunk.json");
    let out = mesochaos(&[
        "shrink",
        &file,
        "--checker",
        "framework_identity",
        "--out",
        shrunk_path.to_str().unwrap(),
        "--jobs",
        "2",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(stdout(&out).contains(&format!(
        "replay: mesochaos replay {}",
        shrunk_path.display()
    )));
    let shrunk: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&shrunk_path).unwrap()).unwrap();
    let before = recorded["schedule"]["faults"].as_array().unwrap().len();
    let after = shrunk["schedule"]["faults"].as_array().unwrap();
    assert!(
        !after.is_empty() && after.len() < before,
        "{before} faults shrunk to {}",
        after.len()
    );
    assert!(schedule_fails(
        &recorded,
        &shrunk["schedule"],
        "framework_identity"
    ));
    for i in 0..after.len() {
        let mut fewer = shrunk["schedule"].clone();
        fewer["faults"].as_array_mut().unwrap().remove(i);
        assert!(
            !schedule_fails(&recorded, &fewer, "framework_identity"),
            "still fails without fault {i}: not 1-minimal"
        );
    }
    // The shrunk file is itself a replay file that reproduces exactly.
    let out = mesochaos(&["replay", shrunk_path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    std::fs::remove_dir_all(dir).unwrap();
}

/// Sweeps `file` with a planted bug over seeds 1, 2, … two at a time until a
/// seed fails, at most `limit` seeds; asserts it failed through one of
/// `checkers` and that the correct code passes the same seeds. Returns the
/// first failing seed.
fn zoo_bug_is_caught_within(file: &str, bug: &str, limit: u64, checkers: &[&str]) -> u64 {
    let dir = temp_dir(&format!("zoo-{bug}"));
    let results = dir.to_str().unwrap();
    let mut caught = None;
    let mut start = 1;
    while caught.is_none() && start <= limit {
        let end = (start + 1).min(limit);
        let range = format!("{start}..{end}");
        let (_, summary) = sweep_json(file, &range, &["--bug", bug, "--results", results]);
        caught = summary["seeds"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["verdict"] == "fail")
            .map(|s| {
                let failed: Vec<&str> = s["failed_checkers"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c.as_str().unwrap())
                    .collect();
                assert!(
                    failed.iter().any(|c| checkers.contains(c)),
                    "{bug}: seed {} failed {failed:?}, expected one of {checkers:?}",
                    s["seed"]
                );
                s["seed"].as_u64().unwrap()
            });
        start = end + 1;
    }
    let Some(seed) = caught else {
        panic!("{bug} was not caught within {limit} seeds");
    };
    // The same seeds pass on the correct code (through the seed that caught it).
    let (_, reference) = sweep_json(file, &format!("1..{}", start - 1), &["--results", results]);
    assert_eq!(
        reference["failed"], 0,
        "the reference fails the seeds that caught {bug}: {reference}"
    );
    std::fs::remove_dir_all(dir).unwrap();
    seed
}

// The bug zoo. Issue 13 asks that seeds 1..5 of a nemesis file catch every
// zoo bug. Measured 2026-12-07 (seeds 1..5 of each nemesis file, figures in
// docs/gate-power.md): standby-registers-new fails every seed of
// nemesis-standard; forget-tasks-before-framework seeds 2, 4, 5 (`panic`);
// leader-survives-session-loss seeds 1, 4, 5; restart-gives-up-executors seeds
// 1 and 4 of nemesis-standard (`losses_explained`), 3 and 5 of
// nemesis-timeouts; ack-before-checkpoint seeds 1, 3 of nemesis-agent-churn
// once its nemesis reboots agents and tears writes (it was 3 of 30, first at
// seed 7, before); append-after-torn-tail seeds 3, 5 of nemesis-storage;
// unique-id-ignores-unreachable seed 1 and kill-leaves-queued-launch seeds 2,
// 3 of nemesis-adversarial; volume-offered-to-any-role every seed of
// nemesis-storage.

#[test]
fn zoo_standby_registers_new_is_caught_within_2_seeds() {
    zoo_bug_is_caught_within(
        "scenarios/nemesis-standard.toml",
        "standby-registers-new",
        2,
        &["framework_identity"],
    );
}

#[test]
fn zoo_forget_tasks_before_framework_is_caught_within_5_seeds() {
    // The new leader drops the re-registering agent's tasks: the cluster never
    // converges (the leader's tasks differ from the agents'), or the master's
    // own accounting assertion fires once it offers those resources again.
    zoo_bug_is_caught_within(
        "scenarios/nemesis-standard.toml",
        "forget-tasks-before-framework",
        5,
        &["liveness", "panic", "process_panicked"],
    );
}

#[test]
fn zoo_leader_survives_session_loss_is_caught_within_2_seeds() {
    // The isolated or cut-off leader goes on leading after its session is
    // lost; the tick a standby is elected, two masters lead.
    zoo_bug_is_caught_within(
        "scenarios/nemesis-standard.toml",
        "leader-survives-session-loss",
        2,
        &["single_leader"],
    );
}

/// A role's own assertion failing is a `panic` violation: the sweep catches
/// it, fails that seed and goes on. Seed 2 of nemesis-standard with
/// `forget-tasks-before-framework`: the new leader dropped tasks it was told
/// of, offers their resources again, and the master's accounting assertion
/// fires when a launch over-commits the agent. The correct code passes it.
#[test]
fn a_role_panic_fails_its_seed_as_panic() {
    let dir = temp_dir("zoo-panic");
    let results = dir.to_str().unwrap();
    let file = "scenarios/nemesis-standard.toml";
    let bug = "forget-tasks-before-framework";
    let (_, summary) = sweep_json(file, "1..2", &["--bug", bug, "--results", results]);
    let seeds = summary["seeds"].as_array().unwrap();
    assert_eq!(seeds[0]["verdict"], "pass", "{summary}");
    assert_eq!(seeds[1]["seed"], 2);
    assert_eq!(seeds[1]["failed_checkers"], serde_json::json!(["panic"]));
    let replay: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.join("nemesis-standard/seed-2.json")).expect("the replay file"),
    )
    .unwrap();
    let v = &replay["violations"][0];
    assert_eq!(v["checker"], "panic");
    assert_eq!(v["processes"], serde_json::json!([]));
    let message = v["message"].as_str().unwrap();
    assert!(
        message.starts_with("task web-") && message.contains(" over-commits agent agent-"),
        "{message}"
    );
    let (_, reference) = sweep_json(file, "2", &["--results", results]);
    assert_eq!(reference["failed"], 0, "{reference}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn zoo_ack_before_checkpoint_is_caught_within_5_seeds() {
    zoo_bug_is_caught_within(
        "scenarios/nemesis-agent-churn.toml",
        "ack-before-checkpoint",
        5,
        &["update_delivery"],
    );
}

#[test]
fn zoo_append_after_torn_tail_is_caught_within_5_seeds() {
    // The database keeps appending after a torn record: everything it
    // acknowledges from then on is unreadable at its next recovery.
    zoo_bug_is_caught_within(
        "scenarios/nemesis-storage.toml",
        "append-after-torn-tail",
        5,
        &["acked_data_kept"],
    );
}

#[test]
fn zoo_unique_id_ignores_unreachable_is_caught_within_5_seeds() {
    // The master accepts a launch under the ID of a task on an unreachable
    // agent: the adversarial framework's reuse is launched where Mesos
    // refuses it (seed 1 of nemesis-adversarial).
    zoo_bug_is_caught_within(
        "scenarios/nemesis-adversarial.toml",
        "unique-id-ignores-unreachable",
        5,
        &["reuse_refused", "one_copy_at_a_time"],
    );
}

#[test]
fn zoo_kill_leaves_queued_launch_is_caught_within_5_seeds() {
    // A kill of a launch queued for a crashed executor host is answered
    // TASK_KILLED, but the launch stays queued and the task starts when the
    // host is back (seeds 2 and 3 of nemesis-adversarial).
    zoo_bug_is_caught_within(
        "scenarios/nemesis-adversarial.toml",
        "kill-leaves-queued-launch",
        5,
        &["definite_is_final"],
    );
}

#[test]
fn zoo_volume_offered_to_any_role_is_caught_within_5_seeds() {
    // Every seed of nemesis-storage: the replicated store's free volumes are
    // offered to the other roles' frameworks.
    zoo_bug_is_caught_within(
        "scenarios/nemesis-storage.toml",
        "volume-offered-to-any-role",
        5,
        &["reserved_only_to_role"],
    );
}

#[test]
fn zoo_restart_gives_up_executors_is_caught_within_5_seeds() {
    // An agent-process restart alone declares running tasks lost: the
    // framework hears one definite loss, in order, so only the checker that
    // asks why a task was lost can see it.
    let seed = zoo_bug_is_caught_within(
        "scenarios/nemesis-standard.toml",
        "restart-gives-up-executors",
        5,
        &["losses_explained"],
    );
    assert!(seed <= 5);
}

/// `--help` lists every zoo bug (it listed four of nine once the zoo grew:
/// the list is now made from `Bug::ALL`), and an unknown name is refused with
/// exit code 2 and the possible values.
#[test]
fn bug_names_come_from_the_zoo_itself() {
    let help = mesochaos(&["run", "--help"]);
    let text = String::from_utf8_lossy(&help.stdout).to_string();
    for bug in mesochaos_reference::bugs::Bug::ALL {
        assert!(text.contains(bug.name()), "run --help lacks {bug}: {text}");
    }
    let out = mesochaos(&[
        "sweep",
        "scenarios/nemesis-standard.toml",
        "--bug",
        "no-such-bug",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("invalid value 'no-such-bug' for '--bug <NAME>'"),
        "{err}"
    );
    assert!(err.contains("kill-leaves-queued-launch"), "{err}");
}

/// `sweep --junit`: the XML a CI system reads agrees with the sweep's own
/// JSON summary — one test case per seed, the failing seed's `<failure>`
/// naming its checkers and holding the replay command of the file the sweep
/// wrote — and a passing seed has no failure.
#[test]
fn sweep_writes_junit_that_agrees_with_its_summary() {
    let dir = temp_dir("junit");
    let results = dir.join("results");
    let junit = dir.join("sweep.xml");
    let (out, summary) = sweep_json(
        SMALL,
        "1..2",
        &[
            "--bug",
            "standby-registers-new",
            "--results",
            results.to_str().unwrap(),
            "--junit",
            junit.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "the planted bug is caught");
    let xml = std::fs::read_to_string(&junit).expect("the JUnit file is written");
    let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
    let suite = doc
        .descendants()
        .find(|n| n.has_tag_name("testsuite"))
        .expect("a test suite");
    let seeds = summary["seeds"].as_array().unwrap();
    let failed = seeds.iter().filter(|s| s["verdict"] == "fail").count();
    assert_eq!(suite.attribute("name"), Some("nemesis-small"));
    assert_eq!(suite.attribute("tests"), Some("2"));
    assert_eq!(
        suite.attribute("failures"),
        Some(failed.to_string().as_str())
    );
    assert_eq!(suite.attribute("errors"), Some("0"));
    assert!(suite.attribute("time").is_some());
    let cases: Vec<_> = suite
        .children()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), seeds.len());
    for (case, seed) in cases.iter().zip(seeds) {
        assert_eq!(
            case.attribute("name"),
            Some(format!("seed-{}", seed["seed"]).as_str())
        );
        assert_eq!(case.attribute("classname"), Some("nemesis-small"));
        assert!(case.attribute("time").is_some());
        let failure = case.children().find(|n| n.has_tag_name("failure"));
        if seed["verdict"] == "fail" {
            let failure = failure.expect("a failing seed has a <failure>");
            for checker in seed["failed_checkers"].as_array().unwrap() {
                assert!(
                    failure
                        .attribute("message")
                        .unwrap()
                        .contains(checker.as_str().unwrap()),
                    "{xml}"
                );
            }
            let replay = seed["replay_file"].as_str().unwrap();
            assert!(
                failure
                    .text()
                    .unwrap_or("")
                    .contains(&format!("replay: mesochaos replay {replay}")),
                "{xml}"
            );
        } else {
            assert!(failure.is_none(), "a passing seed has no failure: {xml}");
        }
    }
    // Without the bug the same seeds pass: test cases with no failure.
    let clean = dir.join("clean.xml");
    let (out, _) = sweep_json(SMALL, "1..2", &["--junit", clean.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let xml = std::fs::read_to_string(&clean).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let suite = doc
        .descendants()
        .find(|n| n.has_tag_name("testsuite"))
        .unwrap();
    assert_eq!(suite.attribute("failures"), Some("0"));
    assert_eq!(
        doc.descendants()
            .filter(|n| n.has_tag_name("testcase"))
            .count(),
        2
    );
    assert!(
        !doc.descendants().any(|n| n.has_tag_name("failure")),
        "{xml}"
    );
}

/// `merge` of a sweep's two shards says what the unsharded sweep says: the
/// same JSON summary (seeds, verdicts, hashes, failures by checker, fault
/// counts, kinds never fired) and the same JUnit, up to wall times and the
/// results folder in replay paths; and it exits as the sweep did. Shards of
/// different sweeps, or one seed twice, are refused with exit 2.
#[test]
fn merging_two_shards_gives_the_unsharded_summary_and_junit() {
    let dir = temp_dir("merge");
    let path = |name: &str| dir.join(name).to_str().unwrap().to_string();
    let bug = ["--bug", "standby-registers-new"];
    let sweep = |results: &str, junit: &str, shard: Option<&str>| {
        let mut extra = vec!["--results", results, "--junit", junit];
        extra.extend_from_slice(&bug);
        if let Some(shard) = shard {
            extra.extend_from_slice(&["--shard", shard]);
        }
        sweep_json(SMALL, "1..4", &extra)
    };
    let (whole_out, whole) = sweep(&path("r0"), &path("j0.xml"), None);
    let (_, _) = sweep(&path("r1"), &path("j1.xml"), Some("1/2"));
    let (_, _) = sweep(&path("r2"), &path("j2.xml"), Some("2/2"));
    let merged_out = mesochaos(&[
        "merge",
        &path("r1"),
        &path("r2"),
        "--format",
        "json",
        "--junit",
        &path("jm.xml"),
    ]);
    assert_eq!(
        merged_out.status.code(),
        whole_out.status.code(),
        "{}",
        stderr(&merged_out)
    );
    let merged: serde_json::Value = serde_json::from_slice(&merged_out.stdout).unwrap();
    // Wall times differ; replay files live under each shard's own folder.
    let normal = |mut v: serde_json::Value| {
        v["wall_seconds"] = serde_json::json!(0);
        let text = v.to_string();
        let text = [path("r0"), path("r1"), path("r2")]
            .iter()
            .fold(text, |t, r| t.replace(r.as_str(), "RESULTS"));
        serde_json::from_str::<serde_json::Value>(&text).unwrap()
    };
    assert_eq!(normal(merged), normal(whole.clone()));
    assert_eq!(whole["seeds"].as_array().unwrap().len(), 4);
    let junit = |name: &str| {
        let xml = std::fs::read_to_string(dir.join(name)).unwrap();
        let xml = [path("r0"), path("r1"), path("r2")]
            .iter()
            .fold(xml, |t, r| t.replace(r.as_str(), "RESULTS"));
        // Drop the time attributes.
        let mut out = String::new();
        let mut rest = xml.as_str();
        while let Some(i) = rest.find(" time=\"") {
            out.push_str(&rest[..i]);
            let after = &rest[i + 7..];
            rest = &after[after.find('"').unwrap() + 1..];
        }
        out.push_str(rest);
        out
    };
    assert_eq!(junit("jm.xml"), junit("j0.xml"));

    // Not shards of one sweep: the same shard twice (a seed twice), and a
    // shard of the sweep without the bug.
    let out = mesochaos(&["merge", &path("r1"), &path("r1")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("is in two shards"),
        "{}",
        stderr(&out)
    );
    let (_, _) = sweep_json(SMALL, "1..1", &["--results", &path("clean")]);
    let out = mesochaos(&["merge", &path("r1"), &path("clean")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("a shard of another sweep"),
        "{}",
        stderr(&out)
    );
    let out = mesochaos(&["merge", &path("nothing-here")]);
    assert_eq!(out.status.code(), Some(2));
}

/// A second sweep into the same results folder replaces the first one's
/// records: merging it gives only the second sweep's seeds.
#[test]
fn a_sweep_replaces_the_records_already_in_its_folder() {
    let dir = temp_dir("records-replaced");
    let results = dir.join("results");
    let results = results.to_str().unwrap();
    sweep_json(SMALL, "1..3", &["--results", results]);
    let (_, second) = sweep_json(SMALL, "5..5", &["--results", results]);
    let out = mesochaos(&["merge", results, "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let merged: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(merged["seeds"], second["seeds"]);
}

/// `RUST_LOG` turns on logs of the run on standard error, each line stamped
/// with the *simulated* time of what it reports and naming the process;
/// standard output (the report, its trace hash) is the same with and without
/// them, and without `RUST_LOG` nothing is logged at all.
#[test]
fn rust_log_shows_simulated_time_logs_and_changes_nothing_else() {
    let args = ["run", "scenarios/master-failover.toml", "--seed", "3"];
    let quiet = mesochaos_with_log(&args, None);
    let logged = mesochaos_with_log(&args, Some("mesochaos=debug"));
    assert_eq!(quiet.status.code(), Some(0), "{}", stderr(&quiet));
    assert_eq!(logged.status.code(), Some(0), "{}", stderr(&logged));
    // The report is unchanged (but for the wall time it took).
    let report = |out: &Output| -> Vec<String> {
        stdout(out)
            .lines()
            .map(|l| match l.find(" in ") {
                Some(i) if l.ends_with("s wall") => l[..i].to_string(),
                _ => l.to_string(),
            })
            .collect()
    };
    assert_eq!(report(&logged), report(&quiet));
    assert!(stdout(&quiet).contains("trace hash: "));
    assert!(
        !stderr(&quiet).contains("mesochaos::"),
        "{}",
        stderr(&quiet)
    );
    let log = stderr(&logged);
    // The election, logged at the simulated time it happened: the line's
    // time stamp and its `t_ms` field agree.
    let elected = log
        .lines()
        .find(|l| l.contains("mesochaos::event") && l.contains("ElectedLeader"))
        .unwrap_or_else(|| panic!("an election is logged: {log}"));
    let stamp: f64 = elected
        .split_whitespace()
        .next()
        .unwrap()
        .trim_end_matches('s')
        .parse()
        .unwrap();
    let t_ms: u64 = elected
        .split("t_ms=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!((stamp * 1000.0).round() as u64, t_ms, "{elected}");
    assert!(elected.contains("process=\"master-"), "{elected}");
    // Later records carry later simulated times: the master's crash in this
    // scenario comes seconds into the run.
    assert!(
        log.lines()
            .any(|l| l.contains("mesochaos::fault") && !l.trim_start().starts_with("0.000s")),
        "{log}"
    );
}
