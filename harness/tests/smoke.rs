use mesochaos_faults::{Fault, Target};
use mesochaos_harness::cluster::FrameworkSpec;
use mesochaos_harness::{run, ClusterSpec, Condition, Expectations, RunSpec, Step};
use mesochaos_reference::master::RemovedAgentPolicy;
use mesochaos_reference::scheduler::WorkloadPlan;
use mesochaos_reference::task::Workload;
use mesochaos_reference::{Resources, Timing};

fn spec() -> RunSpec {
    RunSpec {
        name: "smoke".into(),
        cluster: ClusterSpec {
            masters: 3,
            agents: 5,
            agent_resources: Resources::new(4000, 8192, 10_000),
            frameworks: vec![FrameworkSpec {
                name: "web".into(),
                role: "*".into(),
                principal: "web".into(),
                failover_timeout_ms: 60_000,
                partition_aware: false,
                instances: 1,
                desired_tasks: 10,
                task_resources: Resources::new(500, 512, 0),
                workload: WorkloadPlan::uniform(Workload::Forever),
            }],
            timing: Timing::default(),
            removed_agent_policy: RemovedAgentPolicy::Reregister,
            restart_delay_ms: 5_000,
            duration_ms: 300_000,
        },
        steps: vec![
            Step::Wait {
                condition: Condition::TasksRunning {
                    framework: "web".into(),
                    count: 10,
                },
                within_ms: 60_000,
            },
            Step::Fault(Fault::Crash(Target::Leader)),
            Step::Wait {
                condition: Condition::Converged,
                within_ms: 60_000,
            },
        ],
        expect: Expectations {
            failover_time_max_ms: Some(15_000),
            no_task_lost: true,
            no_task_restarted: true,
            no_task_ended: true,
            rebuilt_state_matches: true,
            updates: vec![],
        },
    }
}

#[test]
fn smoke_master_failover() {
    let report = run(&spec(), 1, None);
    for line in &report.timeline {
        println!("{:>8} {:<16} {}", line.t_ms, line.at, line.text);
    }
    println!("{:#?}", report.violations);
    println!(
        "{:?} hash {} metrics {:?}",
        report.verdict, report.trace_hash, report.metrics
    );
    assert!(report.violations.is_empty());
}
