//! # `timeline.html`: the run as one self-contained page
//!
//! Jepsen writes a `timeline.html` per test; Maelstrom draws its messages as
//! a Lamport diagram. This page is both: the [`Diagram`] of a run, embedded as
//! JSON and drawn by a small script (`reports/assets/timeline.js`) as a lane
//! per process with an arrow per delivered message, the fault bands, the
//! leader epochs and a marker per violation; zoom buttons; filters by process
//! and by message kind; and a tooltip with the whole message when an arrow is
//! hovered or focused (so it works from the keyboard too).
//!
//! Everything is inlined — styles, script, data — so the file opens offline,
//! from a CI artefact, years later. Nothing is loaded from a CDN.
//!
//! The DOM is a contract the browser test (`tests/browser.rs`) reads: each
//! lane is a `g.lane[data-process]`, each message a `g.arrow[data-kind]`, each
//! fault a `g.band[data-fault]`, each violation a `g.violation`; the filters
//! are checkboxes in `#process-filter` and `#kind-filter`; the tooltip is
//! `#tooltip`; `body[data-ready]` is set once the diagram is drawn.

use crate::lamport::Diagram;
use crate::run::RunData;
use mesochaos_harness::Verdict;
use std::fmt::Write;

/// The drawing script, inlined.
const SCRIPT: &str = include_str!("../assets/timeline.js");
/// The styles, inlined.
const STYLE: &str = include_str!("../assets/timeline.css");

/// The page for `run`, whose diagram is `diagram`.
pub fn timeline_html(run: &RunData, diagram: &Diagram) -> String {
    let h = &run.header;
    let o = &run.outcome;
    let mut page = String::with_capacity(64 * 1024);
    let title = format!("{} · seed {}", h.scenario, h.seed);
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{} — mesochaos timeline</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n<header>\n",
        escape(&title)
    );
    let _ = writeln!(page, "<h1>{}</h1>", escape(&title));
    for line in h.description.lines().filter(|l| !l.trim().is_empty()) {
        let _ = writeln!(page, "<p>{}</p>", escape(line));
    }
    let verdict = match o.verdict {
        Verdict::Pass => "<span class=\"verdict-pass\">PASS</span>".to_string(),
        Verdict::Fail => format!(
            "<span class=\"verdict-fail\">FAIL ({})</span>",
            crate::walkthrough::violations(o.violations.len())
        ),
    };
    let _ = writeln!(
        page,
        "<p>verdict: {verdict} · simulated {:.2}s · {} processes · {} messages delivered, {} never delivered · {} faults · trace hash <code>{}</code></p>",
        diagram.end_ms as f64 / 1000.0,
        diagram.lanes.len(),
        diagram.delivered,
        diagram.lost.len(),
        diagram.bands.len(),
        escape(&o.trace_hash),
    );
    let _ = writeln!(
        page,
        "<p>run it again: <code>{}</code>{}</p>",
        escape(&h.command()),
        h.bug
            .map(|b| format!(" · planted bug <code>{b}</code>"))
            .unwrap_or_default()
    );
    if !run.outcome_recorded {
        page.push_str(
            "<p>This trace has no outcome line (the run did not finish): the verdict comes from \
             the checkers that read the trace alone.</p>\n",
        );
    }
    if diagram.aggregated {
        let _ = writeln!(
            page,
            "<p>{} messages are drawn as {} bundles (per sender, receiver, kind and time slice; dashed) to keep this page light.</p>",
            diagram.delivered,
            diagram.arrows.len()
        );
    }
    if !o.violations.is_empty() {
        page.push_str("<ol id=\"violations-list\">\n");
        for (i, v) in o.violations.iter().enumerate() {
            let _ = writeln!(
                page,
                "<li><a href=\"#violation-{i}\">{} at {:.2}s</a>: {}</li>",
                escape(&v.checker),
                v.t_ms as f64 / 1000.0,
                escape(&v.message)
            );
        }
        page.push_str("</ol>\n");
    }
    page.push_str(CONTROLS);
    page.push_str(
        "<div id=\"scroll\">\n<div id=\"lane-heads\"></div>\n\
         <svg id=\"diagram\" xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"Lamport diagram of the run\"></svg>\n\
         </div>\n<div id=\"tooltip\" role=\"tooltip\" hidden></div>\n",
    );
    let data = serde_json::to_string(diagram).expect("diagrams serialize");
    // `</script>` inside the data would end the script element early.
    let data = data.replace("</", "<\\/");
    let _ = write!(
        page,
        "<script type=\"application/json\" id=\"diagram-data\">{data}</script>\n<script>\n{SCRIPT}</script>\n</body>\n</html>\n"
    );
    page
}

/// The zoom buttons and the filters (filled in by the script).
const CONTROLS: &str = r#"</header>
<nav id="controls">
<span>zoom <button id="zoom-out" title="zoom out (-)">−</button> <button id="zoom-in" title="zoom in (+)">+</button></span>
<details id="processes"><summary>processes</summary>
<button id="processes-all">all</button> <button id="processes-none">none</button>
<div class="filter-list" id="process-filter"></div></details>
<details id="kinds"><summary>message kinds</summary>
<button id="kinds-all">all</button> <button id="kinds-none">none</button>
<div class="filter-list" id="kind-filter"></div></details>
<label><input type="checkbox" id="show-lost" checked> messages never delivered (×)</label>
<span>hover or focus (Tab) an arrow for its message</span>
</nav>
"#;

/// Text made safe for HTML.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}
