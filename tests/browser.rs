//! `timeline.html` in a real browser: Debian's Chromium, headless, driven
//! through the DevTools protocol (`tests/browser/cdp.rs`).
//!
//! The test makes a failing run's report (a planted bug, so there is a
//! violation to mark) and derives every expectation from the run's trace, not
//! from the page's own data: one lane per process, one arrow per delivered
//! message, one band per fault, one marker per violation. Then it uses the
//! page as a person would: filters the processes down to two and checks the
//! other lanes are hidden, focuses an arrow and hovers another with the real
//! mouse and checks the tooltip shows that message's kind and contents, and
//! keeps a screenshot as an artefact (`target/test-artefacts/`).
//!
//! Needs Chromium (Debian package `chromium`, or `$CHROMIUM`). Without it the
//! test skips with a message, except under `CI=true`, where it fails:
//! `.ci/run` installs the package.

#[path = "browser/cdp.rs"]
mod cdp;
mod common;

use common::mesochaos;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::PathBuf;

/// The run reported: a leader that keeps leading after losing its
/// coordinator session, so `single_leader` fires.
const SCENARIO: &str = "scenarios/leader-loses-coordinator.toml";
const BUG: &str = "leader-survives-session-loss";

fn chromium_or_skip() -> Option<PathBuf> {
    match cdp::find_chromium() {
        Some(path) => Some(path),
        None if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!(
                "CI=true and no Chromium: install Debian's `chromium` package (or set $CHROMIUM)"
            )
        }
        None => {
            eprintln!(
                "skipped: the browser test needs Chromium — install Debian's `chromium` package (apt-get install chromium) or set $CHROMIUM"
            );
            None
        }
    }
}

/// What the trace says the page must show.
struct Expected {
    lanes: BTreeSet<String>,
    arrows: usize,
    bands: usize,
    violations: usize,
    /// The first delivered `kind` message, as JSON.
    first_message: Value,
}

/// Reads the trace: records, and the outcome line's violations.
fn expected(trace: &str, kind: &str) -> Expected {
    let lines: Vec<Value> = trace
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let outcome = lines.last().unwrap();
    assert_eq!(outcome["type"], "outcome");
    let records: Vec<&Value> = lines.iter().filter(|r| r.get("t_ms").is_some()).collect();
    let mut lanes: BTreeSet<String> = records
        .iter()
        .map(|r| r["at"].as_str().unwrap().to_string())
        .collect();
    lanes.extend(
        records
            .iter()
            .filter_map(|r| r["to"].as_str().map(str::to_string)),
    );
    lanes.insert("harness".into());
    let arrows = records.iter().filter(|r| r["type"] == "deliver").count();
    let bands = records.iter().filter(|r| common::starts_a_fault(r)).count();
    // The first `kind` message that was delivered: a send whose (sender,
    // receiver, seq) a later deliver names.
    let delivered: BTreeSet<(String, String, u64)> = records
        .iter()
        .filter(|r| r["type"] == "deliver")
        .map(|r| {
            (
                r["from"].as_str().unwrap().to_string(),
                r["at"].as_str().unwrap().to_string(),
                r["seq"].as_u64().unwrap(),
            )
        })
        .collect();
    let first_message = records
        .iter()
        .find(|r| {
            r["type"] == "send"
                && r["message"].get(kind).is_some()
                && delivered.contains(&(
                    r["at"].as_str().unwrap().to_string(),
                    r["to"].as_str().unwrap().to_string(),
                    r["seq"].as_u64().unwrap(),
                ))
        })
        .map(|r| r["message"].clone())
        .unwrap_or_else(|| panic!("no delivered {kind} in the trace"));
    Expected {
        lanes,
        arrows,
        bands,
        violations: outcome["violations"].as_array().unwrap().len(),
        first_message,
    }
}

#[test]
fn the_timeline_page_shows_the_trace_and_answers_filters_focus_and_hover() {
    let Some(chromium) = chromium_or_skip() else {
        return;
    };
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser-test");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let trace = dir.join("run.jsonl");
    let out = mesochaos(&[
        "run",
        SCENARIO,
        "--bug",
        BUG,
        "--trace",
        trace.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "the planted bug fails the run");
    let report = dir.join("report");
    let out = mesochaos(&[
        "report",
        trace.to_str().unwrap(),
        "--out",
        report.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want = expected(&std::fs::read_to_string(&trace).unwrap(), "ReregisterAgent");
    assert!(want.violations >= 1 && want.bands >= 1 && want.arrows >= 100);

    let browser = cdp::Browser::launch(&chromium).unwrap();
    let page = browser.new_page().unwrap();
    let url = format!("file://{}", report.join("timeline.html").display());
    page.navigate(&url).unwrap();
    assert_eq!(
        page.eval("document.body.dataset.ready").unwrap(),
        "true",
        "the script drew the diagram"
    );

    // What is drawn is what the trace holds.
    let lanes: BTreeSet<String> = serde_json::from_value(
        page.eval("Array.from(document.querySelectorAll('g.lane'), g => g.dataset.process)")
            .unwrap(),
    )
    .unwrap();
    assert_eq!(lanes, want.lanes, "one lane per process");
    let count = |selector: &str| {
        page.eval(&format!("document.querySelectorAll('{selector}').length"))
            .unwrap()
            .as_u64()
            .unwrap() as usize
    };
    assert_eq!(
        count("g.arrow"),
        want.arrows,
        "one arrow per delivered message"
    );
    assert_eq!(count("g.band"), want.bands, "one band per fault");
    assert_eq!(
        count("g.violation"),
        want.violations,
        "one marker per violation"
    );
    assert_eq!(
        page.eval("document.querySelector('g.violation').dataset.checker")
            .unwrap(),
        "single_leader"
    );

    // Filter the processes down to two: every other lane is hidden, and so is
    // every arrow that does not run between the two.
    page.eval("document.getElementById('processes').open = true; document.getElementById('processes-none').click()")
        .unwrap();
    for p in ["master-1", "master-2"] {
        page.eval(&format!(
            "document.querySelector('#process-filter input[data-process=\"{p}\"]').click()"
        ))
        .unwrap();
    }
    let shown: Vec<String> = serde_json::from_value(
        page.eval(
            "Array.from(document.querySelectorAll('g.lane'))
                .filter(g => getComputedStyle(g).display !== 'none')
                .map(g => g.dataset.process)",
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(shown, ["master-1", "master-2"]);
    let stray = page
        .eval(
            "Array.from(document.querySelectorAll('g.arrow'))
                .filter(g => getComputedStyle(g).display !== 'none')
                .filter(g => !['master-1', 'master-2'].includes(g.dataset.from)
                          || !['master-1', 'master-2'].includes(g.dataset.to)).length",
        )
        .unwrap();
    assert_eq!(stray, 0, "only arrows between the two shown lanes stay");
    page.eval("document.getElementById('processes-all').click()")
        .unwrap();
    assert_eq!(count("g.lane.hidden"), 0);

    // Focus the first delivered ReregisterAgent: the tooltip shows its kind
    // and, whole, the message the trace recorded.
    let tip = page
        .eval(
            "(() => { const g = document.querySelector('g.arrow[data-kind=\"ReregisterAgent\"]');
                      g.focus();
                      const t = document.getElementById('tooltip');
                      return { hidden: t.hidden, text: t.textContent,
                               pre: t.querySelector('pre').textContent,
                               focused: document.activeElement === g }; })()",
        )
        .unwrap();
    assert_eq!(tip["focused"], true);
    assert_eq!(tip["hidden"], false);
    assert!(tip["text"].as_str().unwrap().starts_with("ReregisterAgent"));
    let shown: Value = serde_json::from_str(tip["pre"].as_str().unwrap()).unwrap();
    assert_eq!(shown, want.first_message);
    page.eval("document.activeElement.blur()").unwrap();
    assert_eq!(
        page.eval("document.getElementById('tooltip').hidden")
            .unwrap(),
        true
    );

    // Hover another arrow with the real mouse: the tooltip follows it.
    let target = page
        .eval(
            "(() => { const gs = document.querySelectorAll('g.arrow[data-kind=\"RegisterAgent\"]');
                      const g = gs[0];
                      g.scrollIntoView({ block: 'center', inline: 'center' });
                      const r = g.querySelector('line.hit').getBoundingClientRect();
                      const x = r.left + r.width / 2, y = r.top + r.height / 2;
                      const hit = document.elementFromPoint(x, y).closest('g.arrow');
                      return { x, y, kind: hit && hit.dataset.kind }; })()",
        )
        .unwrap();
    let kind = target["kind"]
        .as_str()
        .expect("an arrow under the point")
        .to_string();
    page.mouse_move(target["x"].as_f64().unwrap(), target["y"].as_f64().unwrap())
        .unwrap();
    let tip = page
        .eval("(() => { const t = document.getElementById('tooltip'); return { hidden: t.hidden, text: t.textContent }; })()")
        .unwrap();
    assert_eq!(tip["hidden"], false, "hovering shows the tooltip");
    assert!(tip["text"].as_str().unwrap().starts_with(&kind), "{tip}");

    // Zoom changes the drawing's height, and the page keeps its counts.
    let height = |page: &cdp::Page| {
        page.eval("document.getElementById('diagram').getAttribute('height')")
            .unwrap()
    };
    let before = height(&page);
    page.eval("document.getElementById('zoom-in').click()")
        .unwrap();
    assert_ne!(height(&page), before);
    assert_eq!(count("g.arrow"), want.arrows);

    // The screenshot, kept as an artefact.
    page.eval("const s = document.getElementById('scroll'); s.scrollTop = 0; s.scrollLeft = 0; window.scrollTo(0, 0)")
        .unwrap();
    let png = page.screenshot_png().unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
    let artefacts = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-artefacts");
    std::fs::create_dir_all(&artefacts).unwrap();
    let shot = artefacts.join("timeline.png");
    std::fs::write(&shot, png).unwrap();
    eprintln!("screenshot: {}", shot.display());
}
