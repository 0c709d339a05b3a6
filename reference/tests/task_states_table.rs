//! `docs/task-states.md` is the audit of every path that produces a task status
//! update or a reconciliation answer, Mesos against the reference (issue 12).
//! This test keeps the table honest: every reference function, scenario file and
//! test it names exists, every Mesos function is named in `Class::method` form
//! (the Mesos sources are not here to look them up), and every row either agrees
//! with Mesos or is an allowed difference. A row marked `DIFFERS: …` fails the
//! test until the reference is fixed.

use std::path::{Path, PathBuf};

const TABLE: &str = "docs/task-states.md";

/// The audit table's columns, exactly.
const HEADER: [&str; 10] = [
    "event",
    "partition-aware?",
    "state",
    "reason",
    "source",
    "when",
    "Mesos function",
    "reference function",
    "scenario that asserts it",
    "agrees?",
];
const EVENT: usize = 0;
const PARTITION_AWARE: usize = 1;
const MESOS: usize = 6;
const REFERENCE: usize = 7;
const ASSERTED_BY: usize = 8;
const AGREES: usize = 9;

/// What the partition-aware column may say.
const PARTITION_AWARE_VALUES: [&str; 5] = ["both", "yes", "no", "yes / no", "—"];

/// The Mesos classes (and the one namespace) whose functions the table cites.
const MESOS_SCOPES: [&str; 10] = [
    "Master",
    "Slave",
    "Framework",
    "Executor",
    "TaskStatusUpdateManager",
    "TaskStatusUpdateManagerProcess",
    "TaskStatusUpdateStream",
    "MesosContainerizerProcess",
    "CommandExecutor",
    "validation",
];

/// At least this many rows: a header typo must not hide the table from the test.
const MIN_ROWS: usize = 40;

const ALLOWED: &str = "allowed difference: ";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the reference crate lives in the workspace")
        .to_path_buf()
}

/// One table row: its line in the document and its cells, trimmed.
struct Row {
    line: usize,
    cells: Vec<String>,
}

impl Row {
    /// How a problem names the row: its line and (the start of) its event.
    fn name(&self) -> String {
        let event = self.cells.first().map(String::as_str).unwrap_or("");
        let short: String = event.chars().take(70).collect();
        let more = if short.len() < event.len() { "…" } else { "" };
        format!("{TABLE}:{} (\"{short}{more}\")", self.line)
    }
}

fn cells(line: &str) -> Vec<String> {
    let inner = line.trim();
    let inner = inner.strip_prefix('|').unwrap_or(inner);
    let inner = inner.strip_suffix('|').unwrap_or(inner);
    inner.split('|').map(|c| c.trim().to_string()).collect()
}

/// The rows of every table whose header is the audit's. A table that starts
/// like the audit's but has other columns is a problem, not skipped.
fn audit_rows(markdown: &str, problems: &mut Vec<String>) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut in_table = false;
    for (index, line) in markdown.lines().enumerate() {
        let number = index + 1;
        if !line.trim_start().starts_with('|') {
            in_table = false;
            continue;
        }
        let cells = cells(line);
        if !in_table {
            if cells == HEADER {
                in_table = true;
            } else if cells.first().is_some_and(|c| c == "event") {
                problems.push(format!(
                    "{TABLE}:{number}: a table that starts with \"event\" must have exactly the columns {HEADER:?}, not {cells:?}"
                ));
            }
            continue;
        }
        if cells
            .iter()
            .all(|c| !c.is_empty() && c.chars().all(|ch| ch == '-' || ch == ':'))
        {
            continue; // the separator line
        }
        rows.push(Row {
            line: number,
            cells,
        });
    }
    rows
}

/// The backticked names in a cell.
fn backticked(cell: &str) -> Vec<&str> {
    cell.split('`').skip(1).step_by(2).collect()
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Whether Rust source text defines a function `name`.
fn defines_fn(source: &str, name: &str) -> bool {
    source.contains(&format!("fn {name}(")) || source.contains(&format!("fn {name}<"))
}

fn read(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

/// `Class::method` (Mesos's methods start lower-case or with underscores:
/// `Master::__reregisterSlave`), or `validation::…::function`.
fn check_mesos_name(name: &str) -> Result<(), String> {
    let parts: Vec<&str> = name.split("::").collect();
    let scope_ok = parts.len() >= 2 && MESOS_SCOPES.contains(&parts[0]);
    let method = parts.last().copied().unwrap_or("");
    let method_ok = is_identifier(method)
        && method
            .chars()
            .find(|c| *c != '_')
            .is_some_and(|c| c.is_ascii_lowercase());
    let path_ok = parts.iter().all(|p| is_identifier(p));
    if scope_ok && method_ok && path_ok {
        Ok(())
    } else {
        Err(format!(
            "Mesos function `{name}` is not in `Class::method` form with a class among {MESOS_SCOPES:?}"
        ))
    }
}

/// `file.rs::function`, defined in `reference/src/file.rs`.
fn check_reference_fn(root: &Path, name: &str) -> Result<(), String> {
    let Some((file, function)) = name.split_once("::") else {
        return Err(format!(
            "reference function `{name}` is not in `file.rs::function` form"
        ));
    };
    // The file relative to reference/src/, a role's folder allowed
    // (`master/agents.rs`), never outside it.
    let outside = file.starts_with('/') || file.split('/').any(|part| part == "..");
    if outside || !file.ends_with(".rs") || !is_identifier(function) {
        return Err(format!(
            "reference function `{name}` is not in `file.rs::function` form (the file relative to reference/src/)"
        ));
    }
    let path = root.join("reference/src").join(file);
    let Some(source) = read(&path) else {
        return Err(format!(
            "reference function `{name}`: there is no reference/src/{file}"
        ));
    };
    if defines_fn(&source, function) {
        Ok(())
    } else {
        Err(format!(
            "reference function `{name}`: reference/src/{file} defines no `fn {function}`"
        ))
    }
}

/// `scenarios/<name>.toml`, or a test `<path>/tests/<file>.rs::<fn>`.
fn check_asserted_by(root: &Path, name: &str) -> Result<(), String> {
    if let Some(file) = name.strip_prefix("scenarios/") {
        if file.ends_with(".toml") && !file.contains('/') {
            return if root.join(name).is_file() {
                Ok(())
            } else {
                Err(format!("scenario `{name}` does not exist"))
            };
        }
    }
    if let Some((path, test)) = name.split_once("::") {
        let in_tests = path.starts_with("tests/") || path.contains("/tests/");
        if in_tests && path.ends_with(".rs") && is_identifier(test) {
            let Some(source) = read(&root.join(path)) else {
                return Err(format!("test `{name}`: there is no {path}"));
            };
            return if defines_fn(&source, test) {
                Ok(())
            } else {
                Err(format!("test `{name}`: {path} defines no `fn {test}`"))
            };
        }
    }
    Err(format!(
        "`{name}` is neither `scenarios/<name>.toml` nor `<crate>/tests/<file>.rs::<test>`"
    ))
}

/// Everything wrong with the table, each problem naming its row; and the number
/// of rows read.
fn check_table(markdown: &str, root: &Path) -> (usize, Vec<String>) {
    let mut problems = Vec::new();
    let rows = audit_rows(markdown, &mut problems);
    for row in &rows {
        let name = row.name();
        if row.cells.len() != HEADER.len() {
            problems.push(format!(
                "{name}: {} cells, not {} (a `|` inside a cell?)",
                row.cells.len(),
                HEADER.len()
            ));
            continue;
        }
        let cell = |i: usize| row.cells[i].as_str();

        if cell(EVENT).is_empty() {
            problems.push(format!("{name}: the event is empty"));
        }
        if !PARTITION_AWARE_VALUES.contains(&cell(PARTITION_AWARE)) {
            problems.push(format!(
                "{name}: partition-aware? says \"{}\", not one of {PARTITION_AWARE_VALUES:?}",
                cell(PARTITION_AWARE)
            ));
        }

        let agrees = cell(AGREES);
        let allowed = agrees
            .strip_prefix(ALLOWED)
            .is_some_and(|why| !why.trim().is_empty());
        if agrees != "yes" && !allowed {
            problems.push(format!(
                "{name}: agrees? must be \"yes\" or \"{ALLOWED}<reason>\", but says: {agrees}"
            ));
        }

        let mesos = backticked(cell(MESOS));
        if mesos.is_empty() {
            problems.push(format!("{name}: names no Mesos function"));
        }
        for function in mesos {
            if let Err(why) = check_mesos_name(function) {
                problems.push(format!("{name}: {why}"));
            }
        }

        let reference = backticked(cell(REFERENCE));
        if cell(REFERENCE) == "—" {
            if !allowed {
                problems.push(format!(
                    "{name}: no reference function, so the row must be an allowed difference"
                ));
            }
        } else if reference.is_empty() {
            problems.push(format!(
                "{name}: the reference function cell names no `file.rs::function` (write — if there is none)"
            ));
        }
        for function in reference {
            if let Err(why) = check_reference_fn(root, function) {
                problems.push(format!("{name}: {why}"));
            }
        }

        let asserted = backticked(cell(ASSERTED_BY));
        if asserted.is_empty() && !cell(ASSERTED_BY).starts_with('—') {
            problems.push(format!(
                "{name}: the scenario cell names nothing (write — if nothing asserts it)"
            ));
        }
        for what in asserted {
            if let Err(why) = check_asserted_by(root, what) {
                problems.push(format!("{name}: {why}"));
            }
        }
    }
    (rows.len(), problems)
}

#[test]
fn every_row_of_the_task_state_table_names_what_exists_and_agrees_with_mesos() {
    let root = repo_root();
    let markdown = read(&root.join(TABLE)).unwrap_or_else(|| panic!("{TABLE} is missing"));
    let (rows, problems) = check_table(&markdown, &root);
    assert!(
        rows >= MIN_ROWS,
        "{TABLE} has only {rows} audit rows (at least {MIN_ROWS} expected): is a header misspelt?"
    );
    assert!(
        problems.is_empty(),
        "{} problem(s) in {TABLE}:\n  {}",
        problems.len(),
        problems.join("\n  ")
    );
}

// ----- the checker itself, on small inline tables -----

const INLINE_HEADER: &str = "| event | partition-aware? | state | reason | source | when | Mesos function | reference function | scenario that asserts it | agrees? |\n|---|---|---|---|---|---|---|---|---|---|\n";

fn check_inline(rows: &str) -> (usize, Vec<String>) {
    check_table(&format!("# t\n\n{INLINE_HEADER}{rows}"), &repo_root())
}

#[test]
fn rows_naming_what_exists_pass() {
    let (rows, problems) = check_inline(concat!(
        "| Explicit, case 2 | both | no answer | — | — | — | `Master::reconcile` | `master/reconciliation.rs::reconcile_explicit`, `scheduler/master_link.rs::send_reconcile` | `scenarios/reconciliation-after-failover.toml`, `reference/tests/master.rs::reconciliation_about_a_recovered_agent_is_not_answered` | yes |\n",
        "| Operator marks an agent gone | yes / no | `TASK_GONE_BY_OPERATOR` / `TASK_LOST` | x | MASTER | x | `Master::markGone`, `validation::task::internal::validateUniqueTaskID` | — | — | allowed difference: no operator API |\n",
    ));
    assert_eq!(rows, 2);
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn each_bad_row_is_reported_by_its_line_and_event() {
    let (rows, problems) = check_inline(concat!(
        "| row-differs | both | x | x | x | x | `Master::reconcile` | `master/reconciliation.rs::reconcile_explicit` | — | DIFFERS: the reference answers too early |\n",
        "| row-missing-fn | both | x | x | x | x | `Master::reconcile` | `master/reconciliation.rs::no_such_function` | — | yes |\n",
        "| row-missing-scenario | both | x | x | x | x | `Master::reconcile` | `master/reconciliation.rs::reconcile_explicit` | `scenarios/no-such-scenario.toml` | yes |\n",
        "| row-missing-test | both | x | x | x | x | `Master::reconcile` | `master/reconciliation.rs::reconcile_explicit` | `reference/tests/master.rs::no_such_test` | yes |\n",
        "| row-bad-mesos-name | both | x | x | x | x | `master.cpp:9047` | `master/reconciliation.rs::reconcile_explicit` | — | yes |\n",
        "| row-no-reference | both | x | x | x | x | `Slave::killTask` | — | — | yes |\n",
        "| row-bad-file | both | x | x | x | x | `Slave::killTask` | `nowhere.rs::on_kill` | — | yes |\n",
        "| row-short | both | x | x | x | `Slave::killTask` | `agent.rs::on_kill_task` | — | yes |\n",
    ));
    assert_eq!(rows, 8);
    let expect = [
        ("row-differs", "DIFFERS: the reference answers too early"),
        ("row-missing-fn", "defines no `fn no_such_function`"),
        (
            "row-missing-scenario",
            "`scenarios/no-such-scenario.toml` does not exist",
        ),
        ("row-missing-test", "defines no `fn no_such_test`"),
        (
            "row-bad-mesos-name",
            "`master.cpp:9047` is not in `Class::method` form",
        ),
        ("row-no-reference", "must be an allowed difference"),
        ("row-bad-file", "there is no reference/src/nowhere.rs"),
        ("row-short", "9 cells, not 10"),
    ];
    for (line, (row, what)) in expect.iter().enumerate() {
        let at = format!("{TABLE}:{} (\"{row}\")", line + 5);
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with(&at) && p.contains(what)),
            "no problem \"{what}\" reported for {at}; got {problems:#?}"
        );
    }
    assert_eq!(problems.len(), expect.len(), "{problems:#?}");
}

#[test]
fn a_misspelt_header_is_a_problem_not_a_skipped_table() {
    let markdown = "| event | partition aware | state |\n|---|---|---|\n| a | b | c |\n";
    let (rows, problems) = check_table(markdown, &repo_root());
    assert_eq!(rows, 0);
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(problems[0].contains("exactly the columns"));
}
