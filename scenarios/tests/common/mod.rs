//! Helpers the scenario test files share: parse a scenario text, edit it into
//! a variant that must fail, and assert a run passed.

#![allow(dead_code)] // each test file uses its own subset

use mesochaos_harness::run::RunReport;
use mesochaos_harness::Verdict;
use mesochaos_scenarios::{parse, Scenario};
use std::path::Path;

/// Parses a scenario text (named `test.toml` in errors); a bad one panics.
pub fn scenario(source: &str) -> Scenario {
    parse(source, Path::new("test.toml")).unwrap_or_else(|e| panic!("{e}"))
}

/// `source` with each `(from, to)` replaced (each must occur).
pub fn variant(source: &str, edits: &[(&str, &str)]) -> String {
    let mut text = source.to_string();
    for (from, to) in edits {
        assert!(text.contains(from), "the source contains {from:?}");
        text = text.replace(from, to);
    }
    text
}

/// The run passed; otherwise its violations are shown.
pub fn assert_pass(report: &RunReport) {
    assert_eq!(
        report.verdict,
        Verdict::Pass,
        "{}: {:#?}",
        report.scenario,
        report.violations
    );
}
