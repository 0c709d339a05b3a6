//! # JUnit XML for CI gates
//!
//! A sweep written as JUnit, the report format every CI system reads
//! (GitHub's and GitLab's test summaries, Jenkins), with `quick-junit` as
//! cargo-nextest writes it: one `<testsuite>` per sweep, named after the
//! scenario; one `<testcase>` per seed (`classname` the scenario, `name`
//! `seed-N`); a failing seed carries a `<failure>` whose `message` names the
//! checkers that fired and whose text holds each violation, the command
//! that replays the seed and the path of its report's `timeline.html`. Times
//! are the wall seconds each seed took, so two sweeps of the same seeds give
//! the same XML but for the `time` attributes.

use mesochaos_harness::report::Violation;
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use std::time::Duration;

/// One seed of a sweep, as JUnit needs it.
pub struct SeedCase<'a> {
    /// The seed.
    pub seed: u64,
    /// Wall seconds the seed's run took.
    pub seconds: f64,
    /// What the checkers found (empty for a passing seed).
    pub violations: &'a [Violation],
    /// Whether the seed failed (a run can fail with no violation only if it
    /// panicked, which is itself reported as a violation).
    pub failed: bool,
    /// The command that replays the seed, when its replay file was written.
    pub replay: Option<String>,
    /// The seed's report (its `timeline.html`), when one was written.
    pub report: Option<String>,
}

/// The JUnit XML of one sweep of `scenario`.
pub fn sweep(scenario: &str, wall_seconds: f64, cases: &[SeedCase<'_>]) -> String {
    let mut suite = TestSuite::new(scenario);
    suite.set_time(Duration::from_secs_f64(wall_seconds.max(0.0)));
    for case in cases {
        let status = if case.failed {
            let mut checkers: Vec<&str> =
                case.violations.iter().map(|v| v.checker.as_str()).collect();
            checkers.sort_unstable();
            checkers.dedup();
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            status.set_type("invariant violated");
            status.set_message(format!("failed: {}", checkers.join(", ")));
            let mut text = String::new();
            for v in case.violations {
                text.push_str(&format!(
                    "{} at {:.2}s: {}\n",
                    v.checker,
                    v.t_ms as f64 / 1000.0,
                    v.message
                ));
            }
            if let Some(replay) = &case.replay {
                text.push_str(&format!("replay: {replay}\n"));
            }
            if let Some(report) = &case.report {
                text.push_str(&format!("report: {report}\n"));
            }
            status.set_description(text);
            status
        } else {
            TestCaseStatus::success()
        };
        let mut test = TestCase::new(format!("seed-{}", case.seed), status);
        test.set_classname(scenario);
        test.set_time(Duration::from_secs_f64(case.seconds.max(0.0)));
        suite.add_test_case(test);
    }
    let mut report = Report::new("mesochaos");
    report.add_test_suite(suite);
    report.to_string().expect("a JUnit report serializes")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn violation(checker: &str, message: &str) -> Violation {
        Violation {
            checker: checker.into(),
            t_ms: 12_500,
            message: message.into(),
            processes: vec![],
        }
    }

    /// The attributes GitHub's and GitLab's test summaries read, on a sweep
    /// of one passing and one failing seed: the suite's counts and time, each
    /// case's classname, name and time, and the failure's message and text.
    #[test]
    fn a_sweep_reads_as_junit_with_the_attributes_ci_systems_use() {
        let violations = vec![
            violation("no_task_lost", "task web-0001 lost without a fault"),
            violation("epoch_order", "agent obeyed epoch 3 after 4"),
        ];
        let xml = sweep(
            "nemesis-standard",
            3.5,
            &[
                SeedCase {
                    seed: 1,
                    seconds: 1.25,
                    violations: &[],
                    failed: false,
                    replay: None,
                    report: None,
                },
                SeedCase {
                    seed: 2,
                    seconds: 2.0,
                    violations: &violations,
                    failed: true,
                    replay: Some("mesochaos replay r/seed-2.json".into()),
                    report: Some("r/seed-2.report/timeline.html".into()),
                },
            ],
        );
        let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "testsuites");
        let suite = root
            .children()
            .find(|n| n.has_tag_name("testsuite"))
            .expect("one suite");
        assert_eq!(suite.attribute("name"), Some("nemesis-standard"));
        assert_eq!(suite.attribute("tests"), Some("2"));
        assert_eq!(suite.attribute("failures"), Some("1"));
        assert_eq!(suite.attribute("errors"), Some("0"));
        assert_eq!(suite.attribute("time"), Some("3.500"));
        let cases: Vec<_> = suite
            .children()
            .filter(|n| n.has_tag_name("testcase"))
            .collect();
        assert_eq!(cases.len(), 2);
        assert_eq!(cases[0].attribute("name"), Some("seed-1"));
        assert_eq!(cases[0].attribute("classname"), Some("nemesis-standard"));
        assert_eq!(cases[0].attribute("time"), Some("1.250"));
        assert!(cases[0].children().all(|n| !n.has_tag_name("failure")));
        let failure = cases[1]
            .children()
            .find(|n| n.has_tag_name("failure"))
            .expect("the failing seed has a failure");
        assert_eq!(
            failure.attribute("message"),
            Some("failed: epoch_order, no_task_lost")
        );
        let text = failure.text().unwrap_or("");
        assert!(text.contains("no_task_lost at 12.50s: task web-0001 lost without a fault"));
        assert!(text.contains("replay: mesochaos replay r/seed-2.json"));
        assert!(text.contains("report: r/seed-2.report/timeline.html"));
    }
}
