//! The parent: runs every case asked for in its own child process (the echo
//! baseline right after the stack case it matches), then compares them and
//! prints the report.

use super::child::wall_clock;
use super::report::{cpu_model, targets};
use super::{bad, BenchArgs, CaseKind, CaseResult, Status};
use crate::cli::{Format, EXIT_FAIL};
use mesochaos_harness::TICK_MS;
use mesochaos_reports::bench::{short, text, BenchReport, Machine, Overhead, Scaling};
use std::io::Read;
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

/// Runs one case in a child process and reads its result.
fn run_child(name: &str, case_args: &[String], budget: f64) -> CaseResult {
    let failed = |note: String| CaseResult {
        case: name.to_string(),
        status: Status::Failed,
        budget_seconds: budget,
        tick_ms: TICK_MS,
        note: Some(note),
        ..CaseResult::default()
    };
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => return failed(format!("cannot find this executable: {e}")),
    };
    let mut command = Command::new(exe);
    command
        .arg("bench")
        .args(case_args)
        .args(["--name", name, "--budget", &budget.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => return failed(format!("cannot start the child process: {e}")),
    };
    // The child's own watchdog reports at the budget; this only catches a
    // child that cannot (wedged in a system call, killed by the OOM killer).
    let started = wall_clock();
    let backstop = budget + 60.0;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed().as_secs_f64() > backstop => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return failed(format!("cannot wait for the child process: {e}")),
        }
    };
    let mut stdout = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut stdout);
    }
    let Some(status) = status else {
        let mut result = failed(format!(
            "killed after {backstop:.0} s wall without a result"
        ));
        result.status = Status::OverBudget;
        return result;
    };
    match stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str::<CaseResult>(l).ok())
    {
        Some(result) => result,
        None => failed(format!("the child printed no result ({status})")),
    }
}

fn stack_args(kind: &str) -> Vec<String> {
    vec!["--case".into(), kind.into()]
}

/// The echo case matching a stack case's shape and message rate.
fn echo_for(stack: &CaseResult, budget: f64) -> Option<CaseResult> {
    if !stack.measured() || stack.hosts < 2 {
        return None;
    }
    let rate = (stack.messages as f64 / stack.sim_seconds).max(0.1);
    let args: Vec<String> = vec![
        "--case".into(),
        "echo".into(),
        "--hosts".into(),
        stack.hosts.to_string(),
        "--connections".into(),
        stack.connections.max(1).to_string(),
        "--rate".into(),
        format!("{rate}"),
        "--sim-seconds".into(),
        format!("{}", stack.sim_seconds),
    ];
    let mut echo = run_child(&format!("echo-{}", stack.case), &args, budget);
    echo.matches = Some(stack.case.clone());
    Some(echo)
}

pub(super) fn parent(args: &BenchArgs) -> ExitCode {
    if args.hosts.is_some()
        || args.connections.is_some()
        || args.rate.is_some()
        || args.sim_seconds.is_some()
        || args.name.is_some()
    {
        return bad(
            "--hosts, --connections, --rate, --sim-seconds and --name go with --case".into(),
        );
    }
    let wants = |k: CaseKind| args.cases.contains(&k);
    let budget = args.budget;
    let mut agents = args.agents.clone();
    agents.sort_unstable();
    agents.dedup();

    let mut cases = Vec::new();
    let mut overheads = Vec::new();
    let mut stacks = Vec::new();
    let mut add_stack = |stack: CaseResult, cases: &mut Vec<CaseResult>| {
        eprintln!("bench: {} done: {}", stack.case, short(&stack));
        if wants(CaseKind::Echo) {
            if let Some(echo) = echo_for(&stack, budget) {
                eprintln!("bench: {} done: {}", echo.case, short(&echo));
                if echo.measured() {
                    overheads.push(Overhead {
                        case: stack.case.clone(),
                        stack_wall_ms_per_sim_s: stack.wall_per_sim(),
                        echo_wall_ms_per_sim_s: echo.wall_per_sim(),
                        ratio: stack.wall_per_sim() / echo.wall_per_sim(),
                        partial: stack.status != Status::Ok || echo.status != Status::Ok,
                    });
                }
                cases.push(stack.clone());
                cases.push(echo);
                stacks.push(stack);
                return;
            }
        }
        cases.push(stack.clone());
        stacks.push(stack);
    };
    if wants(CaseKind::Standard) {
        eprintln!("bench: running standard ...");
        let stack = run_child("standard", &stack_args("standard"), budget);
        add_stack(stack, &mut cases);
    }
    if wants(CaseKind::Failover) {
        for &n in &agents {
            let name = format!("failover-{n}");
            eprintln!("bench: running {name} ...");
            let mut case_args = stack_args("failover");
            case_args.extend(["--agents".into(), n.to_string()]);
            let stack = run_child(&name, &case_args, budget);
            add_stack(stack, &mut cases);
        }
    }
    if wants(CaseKind::Sweep) {
        eprintln!("bench: running sweep ...");
        let jobs = args.jobs.unwrap_or_else(|| crate::cli::cores() as u64);
        let case_args: Vec<String> = vec![
            "--case".into(),
            "sweep".into(),
            "--sweep-seeds".into(),
            args.sweep_seeds.to_string(),
            "--jobs".into(),
            jobs.to_string(),
        ];
        let sweep = run_child("sweep", &case_args, budget);
        eprintln!("bench: sweep done: {}", short(&sweep));
        cases.push(sweep);
    }

    let failovers: Vec<&CaseResult> = stacks
        .iter()
        .filter(|c| c.case.starts_with("failover-"))
        .collect();
    let scaling: Vec<Scaling> = failovers
        .windows(2)
        .filter(|w| w[0].measured() && w[1].measured())
        .map(|w| Scaling {
            from: w[0].case.clone(),
            to: w[1].case.clone(),
            machines_ratio: w[1].agents.unwrap_or(1) as f64 / w[0].agents.unwrap_or(1) as f64,
            wall_per_sim_ratio: w[1].wall_per_sim() / w[0].wall_per_sim(),
            partial: w[0].status != Status::Ok || w[1].status != Status::Ok,
        })
        .collect();
    let targets = targets(&stacks, &overheads, &scaling);
    let report = BenchReport {
        machine: Machine {
            cores: crate::cli::cores(),
            cpu: cpu_model(),
            profile: if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            },
            tick_ms: TICK_MS,
        },
        budget_seconds: budget,
        cases,
        overheads,
        scaling,
        targets,
    };
    match args.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("reports serialize")
        ),
        Format::Text => print!("{}", text(&report)),
    }
    if report.cases.iter().any(|c| c.status == Status::Failed) {
        ExitCode::from(EXIT_FAIL)
    } else {
        ExitCode::SUCCESS
    }
}
