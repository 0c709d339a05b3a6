//! # The numbered walkthroughs: prose with blocks generated from real runs
//!
//! `docs/walkthroughs/src/NN-*.md` is prose written by people, with markers
//! where a real run's output belongs. [`render`] replaces each marker with
//! that output and the result is committed as `docs/walkthroughs/NN-*.md`.
//! The test `tests/walkthroughs.rs` renders every source again and fails when
//! a committed file differs, so the text can never drift from what the code
//! does; `MESOCHAOS_BLESS=1 cargo test --test walkthroughs` rewrites them.
//!
//! Markers are HTML comments alone on their line:
//!
//! | marker | becomes |
//! |---|---|
//! | `<!-- run: scenarios/F.toml [--seed N] [--bug NAME] -->` | nothing; the markers after it use this run |
//! | `<!-- command -->` | the `mesochaos run` command |
//! | `<!-- timeline [from=S] [to=S] [at=P,P] [grep=TEXT] -->` | timeline lines |
//! | `<!-- diagram [from=S] [to=S] [processes=P,P] [types=T,T] [max=N] -->` | a Mermaid sequence diagram |
//! | `<!-- figures -->` | the run's figures |
//! | `<!-- checkers -->` | the checkers that ran and what they promise |
//! | `<!-- updates [framework=NAME] -->` | the status updates each framework received |
//! | `<!-- compare scenarios/A.toml scenarios/B.toml ... -->` | `mesochaos compare`'s table |
//!
//! Times are simulated seconds; nothing generated depends on the machine.

use crate::lamport::Diagram;
use crate::run::RunData;
use crate::timeline::{timeline, TimelineEntry};
use crate::walkthrough::{self, Excerpt, Window};
use std::collections::BTreeMap;

/// A `run:` marker: which scenario, seed and bug.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct RunDirective {
    /// The scenario file, from the repository's root.
    pub file: String,
    /// The seed (`None`: the scenario's own).
    pub seed: Option<u64>,
    /// The planted bug's name.
    pub bug: Option<String>,
}

/// What the markers need done: running scenarios (the CLI's crate provides
/// it, as it reads scenario files).
pub trait Runner {
    /// Runs one scenario with its trace.
    fn run(&mut self, directive: &RunDirective) -> Result<RunData, String>;
    /// `mesochaos compare`'s table for these scenario files.
    fn compare(&mut self, files: &[String]) -> Result<String, String>;
}

/// Where the generated copies link to the repository's root from.
const LINK_BASE: &str = "../../";

/// A run, read for the markers.
struct Prepared {
    run: RunData,
    diagram: Diagram,
    entries: Vec<TimelineEntry>,
}

/// Renders the source text `source` (named `name` in errors and in the
/// generated file's first line).
pub fn render(source: &str, name: &str, runner: &mut dyn Runner) -> Result<String, String> {
    let mut out = format!(
        "<!-- Generated from docs/walkthroughs/src/{name} by `MESOCHAOS_BLESS=1 cargo test --test walkthroughs`. Edit the source, not this file. -->\n"
    );
    let mut runs: BTreeMap<RunDirective, Prepared> = BTreeMap::new();
    let mut current: Option<RunDirective> = None;
    for (i, line) in source.lines().enumerate() {
        let at = |why: String| format!("{name}:{}: {why}", i + 1);
        let Some((marker, args)) = marker(line) else {
            out.push_str(line);
            out.push('\n');
            continue;
        };
        if marker == "run:" {
            let directive = parse_run(&args).map_err(at)?;
            if !runs.contains_key(&directive) {
                let run = runner.run(&directive).map_err(at)?;
                let diagram = Diagram::read(&run.records, &run.outcome.violations, run.end_ms());
                let entries = timeline(&run.records);
                runs.insert(
                    directive.clone(),
                    Prepared {
                        run,
                        diagram,
                        entries,
                    },
                );
            }
            current = Some(directive);
            continue;
        }
        if marker == "compare" {
            let files = args.clone();
            if files.is_empty() {
                return Err(at("compare needs scenario files".into()));
            }
            out.push_str(&runner.compare(&files).map_err(at)?);
            continue;
        }
        let Some(p) = current.as_ref().and_then(|d| runs.get(d)) else {
            return Err(at(format!("`{marker}` before any `run:` marker")));
        };
        let options = options(&args).map_err(at)?;
        let known: &[&str] = match marker {
            "command" | "figures" | "checkers" => &[],
            "timeline" => &["from", "to", "at", "grep"],
            "diagram" => &["from", "to", "processes", "types", "max"],
            "updates" => &["framework"],
            _ => unreachable!("marker() returns known markers only"),
        };
        if let Some(bad) = options.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(at(format!(
                "`{marker}` has no option `{bad}` (it takes: {})",
                known.join(", ")
            )));
        }
        let ms = |key: &str| -> Result<Option<u64>, String> {
            options
                .get(key)
                .map(|v| {
                    v.parse::<f64>()
                        .map(|s| (s * 1000.0).round() as u64)
                        .map_err(|_| at(format!("{key}={v}: not a number of seconds")))
                })
                .transpose()
        };
        let list = |key: &str| {
            options
                .get(key)
                .map(|v| v.split(',').map(str::to_string).collect::<Vec<_>>())
        };
        let block = match marker {
            "command" => format!("```sh\n{}\n```\n", p.run.header.command()),
            "figures" => walkthrough::figures(&p.run, &p.diagram),
            "checkers" => walkthrough::checkers(&p.run),
            "updates" => walkthrough::updates(&p.run, options.get("framework").map(String::as_str)),
            "timeline" => walkthrough::timeline_block(
                &p.entries,
                &Excerpt {
                    from_ms: ms("from")?.unwrap_or(0),
                    to_ms: ms("to")?,
                    at: list("at"),
                    grep: options.get("grep").cloned(),
                },
            ),
            "diagram" => walkthrough::mermaid(
                &p.diagram,
                &Window {
                    from_ms: ms("from")?.unwrap_or(0),
                    to_ms: ms("to")?,
                    processes: list("processes"),
                    kinds: list("types"),
                    max: match options.get("max") {
                        Some(v) => v.parse().map_err(|_| at(format!("max={v}: not a count")))?,
                        None => 30,
                    },
                },
            ),
            _ => unreachable!(),
        };
        if block.lines().count() <= 2 && marker != "command" {
            return Err(at(format!(
                "`{}` shows nothing from this run: widen it",
                line.trim()
            )));
        }
        out.push_str(&block);
    }
    Ok(out)
}

/// The link base the numbered walkthroughs use (they live two folders down).
pub fn link_base() -> &'static str {
    LINK_BASE
}

/// A marker line's name and arguments, or `None` for any other line.
/// Arguments split at spaces, except inside double quotes
/// (`grep="re-registered with"`).
fn marker(line: &str) -> Option<(&str, Vec<String>)> {
    let inner = line
        .trim()
        .strip_prefix("<!--")?
        .strip_suffix("-->")?
        .trim();
    let (name, rest) = inner.split_once(' ').unwrap_or((inner, ""));
    let known = [
        "run:", "command", "timeline", "diagram", "figures", "checkers", "updates", "compare",
    ];
    if !known.contains(&name) {
        return None;
    }
    let mut args = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    for c in rest.chars() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !word.is_empty() {
                    args.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        args.push(word);
    }
    Some((name, args))
}

/// `key=value` options.
fn options(args: &[String]) -> Result<BTreeMap<String, String>, String> {
    let mut map = BTreeMap::new();
    for a in args {
        let (k, v) = a
            .split_once('=')
            .ok_or_else(|| format!("`{a}` is not an option such as from=12.5"))?;
        map.insert(k.to_string(), v.to_string());
    }
    Ok(map)
}

/// `scenarios/F.toml [--seed N] [--bug NAME]`.
fn parse_run(args: &[String]) -> Result<RunDirective, String> {
    let mut it = args.iter();
    let file = it.next().ok_or("run: needs a scenario file")?.to_string();
    let mut directive = RunDirective {
        file,
        seed: None,
        bug: None,
    };
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--seed" => {
                directive.seed = Some(
                    value
                        .parse()
                        .map_err(|_| format!("--seed {value}: not a seed"))?,
                )
            }
            "--bug" => directive.bug = Some(value.to_string()),
            other => return Err(format!("run: has no flag {other} (it takes --seed, --bug)")),
        }
    }
    Ok(directive)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NoRuns;
    impl Runner for NoRuns {
        fn run(&mut self, d: &RunDirective) -> Result<RunData, String> {
            Err(format!("asked to run {}", d.file))
        }
        fn compare(&mut self, files: &[String]) -> Result<String, String> {
            Ok(format!("| {} |\n", files.join(" | ")))
        }
    }

    #[test]
    fn prose_passes_through_and_markers_are_replaced() {
        let source =
            "# Title\n\nSome prose.\n<!-- a comment stays -->\n<!-- compare a.toml \"b c.toml\" -->\n";
        let out = render(source, "01-x.md", &mut NoRuns).unwrap();
        assert!(out.starts_with("<!-- Generated from docs/walkthroughs/src/01-x.md"));
        assert!(out.ends_with(
            "# Title\n\nSome prose.\n<!-- a comment stays -->\n| a.toml | b c.toml |\n"
        ));
    }

    #[test]
    fn bad_markers_name_their_line() {
        let err = render("x\n<!-- timeline -->\n", "02-y.md", &mut NoRuns).unwrap_err();
        assert_eq!(err, "02-y.md:2: `timeline` before any `run:` marker");
        let err = render("<!-- run: s.toml --seed x -->\n", "03.md", &mut NoRuns).unwrap_err();
        assert_eq!(err, "03.md:1: --seed x: not a seed");
        let err = render("<!-- run: s.toml -->\n", "04.md", &mut NoRuns).unwrap_err();
        assert_eq!(err, "04.md:1: asked to run s.toml");
    }
}
