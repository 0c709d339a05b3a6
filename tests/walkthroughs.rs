//! The numbered walkthroughs under `docs/walkthroughs/` are what their sources
//! (`docs/walkthroughs/src/NN-*.md`) become when each marker is replaced by a
//! real run's output (`reports/src/docs.rs`). This test renders every source
//! again and fails when a committed walkthrough differs, so the docs can never
//! teach something the code no longer does. To rewrite them after a change
//! that alters a run on purpose:
//!
//! ```sh
//! MESOCHAOS_BLESS=1 cargo test --test walkthroughs
//! ```
//!
//! It also checks that every relative link in them leads to a file.

use mesochaos_harness::{run_recorded, RunOptions, RunReport};
use mesochaos_reference::bugs::Bug;
use mesochaos_reports::docs::{render, RunDirective, Runner};
use mesochaos_reports::run::{Header, RunData};
use std::path::{Path, PathBuf};

/// The repository's root.
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs scenarios for the markers, in this process.
struct InProcess;

impl InProcess {
    fn load(file: &str) -> Result<(mesochaos_scenarios::Scenario, String), String> {
        let text = std::fs::read_to_string(root().join(file))
            .map_err(|e| format!("cannot read {file}: {e}"))?;
        let scenario =
            mesochaos_scenarios::parse(&text, Path::new(file)).map_err(|e| e.to_string())?;
        Ok((scenario, text))
    }
}

impl Runner for InProcess {
    fn run(&mut self, d: &RunDirective) -> Result<RunData, String> {
        let (mut scenario, text) = Self::load(&d.file)?;
        let bug = match &d.bug {
            Some(name) => Some(Bug::parse(name).ok_or_else(|| format!("no bug named {name}"))?),
            None => None,
        };
        scenario.spec.cluster.bug = bug;
        let seed = d.seed.unwrap_or(scenario.seed);
        let (report, records) = run_recorded(&scenario.spec, seed, RunOptions::default());
        // No code version: it changes with every edit, and nothing generated
        // shows it.
        let header = Header::new(
            &scenario.spec.name,
            &scenario.description,
            &d.file,
            &text,
            seed,
            bug,
            "",
        );
        let expect = mesochaos_harness::check::expectation_checkers(&scenario.spec.expect);
        Ok(RunData::of(header, &report, records, &expect))
    }

    fn compare(&mut self, files: &[String]) -> Result<String, String> {
        let mut reports: Vec<RunReport> = Vec::new();
        for file in files {
            let (scenario, _) = Self::load(file)?;
            reports.push(run_recorded(&scenario.spec, scenario.seed, RunOptions::default()).0);
        }
        let refs: Vec<&RunReport> = reports.iter().collect();
        Ok(format!(
            "```sh\nmesochaos compare {}\n```\n\n{}",
            files.join(" "),
            mesochaos_reports::comparison_table(&refs)
        ))
    }
}

/// The sources, by file name, in order.
fn sources() -> Vec<(String, String)> {
    let dir = root().join("docs/walkthroughs/src");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".md"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|n| {
            let text = std::fs::read_to_string(dir.join(&n)).unwrap();
            (n, text)
        })
        .collect()
}

#[test]
fn the_committed_walkthroughs_are_what_their_sources_render_to() {
    let sources = sources();
    let numbers: Vec<&str> = sources.iter().map(|(n, _)| &n[..3]).collect();
    assert_eq!(
        numbers,
        ["01-", "02-", "03-", "04-", "05-", "06-", "07-", "08-"],
        "eight numbered walkthroughs, one per concept of the seed article"
    );
    let bless = std::env::var_os("MESOCHAOS_BLESS").is_some();
    let mut differ = Vec::new();
    for (name, source) in &sources {
        let rendered = render(source, name, &mut InProcess).unwrap_or_else(|e| panic!("{e}"));
        let path = root().join("docs/walkthroughs").join(name);
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed != rendered {
            if bless {
                std::fs::write(&path, &rendered).unwrap();
            } else {
                differ.push(name.clone());
            }
        }
    }
    assert!(
        differ.is_empty(),
        "docs/walkthroughs/{{{}}} differ from what their sources render to now; \
         if the change is deliberate, run `MESOCHAOS_BLESS=1 cargo test --test walkthroughs` \
         and commit the result",
        differ.join(",")
    );
}

#[test]
fn every_relative_link_of_a_walkthrough_leads_to_a_file() {
    let dir = root().join("docs/walkthroughs");
    let mut broken = Vec::new();
    for (name, source) in sources() {
        // Links are written for the generated copy, one folder up from src/.
        for target in links(&source) {
            if target.starts_with("http") || target.starts_with('#') {
                continue;
            }
            let file = target.split('#').next().unwrap_or_default();
            if !dir.join(file).exists() {
                broken.push(format!("{name}: {target}"));
            }
        }
    }
    assert!(broken.is_empty(), "broken links: {broken:#?}");
}

/// The targets of the Markdown links `[text](target)` in `text`.
fn links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("](") {
        rest = &rest[i + 2..];
        if let Some(end) = rest.find(')') {
            out.push(rest[..end].to_string());
            rest = &rest[end..];
        }
    }
    out
}

#[test]
fn the_link_checker_catches_a_broken_link() {
    let found = links("see [x](../../reference/src/nope.rs) and [y](#anchor)");
    assert_eq!(found, ["../../reference/src/nope.rs", "#anchor"]);
    assert!(!root().join("docs/walkthroughs").join(&found[0]).exists());
}
