//! A smoke test of the DevTools client in `tests/browser/cdp.rs`: a page of
//! focusable SVG arrows with a tooltip, driven by real Tab presses, a real
//! hover and a screenshot in headless Chromium. Needs Debian's `chromium`
//! package (or `$CHROMIUM`); skipped without it, except under `CI=true`.

#[path = "browser/cdp.rs"]
mod cdp;

use std::path::PathBuf;

const PAGE: &str = r##"<!doctype html>
<html><body style="margin:0">
<svg width="600" height="200">
  <g tabindex="0" class="arrow" data-label="a to b"><rect x="20" y="40" width="150" height="40" fill="#ccf"/></g>
  <g tabindex="0" class="arrow" data-label="b to c"><rect x="220" y="40" width="150" height="40" fill="#cfc"/></g>
  <g tabindex="0" class="arrow" data-label="c to a"><rect x="420" y="40" width="150" height="40" fill="#fcc"/></g>
</svg>
<div id="tooltip" style="display:none"></div>
<script>
  const tooltip = document.getElementById('tooltip');
  for (const arrow of document.querySelectorAll('g.arrow')) {
    const show = () => { tooltip.textContent = arrow.dataset.label; tooltip.style.display = 'block'; };
    arrow.addEventListener('focus', show);
    arrow.addEventListener('mouseover', show);
  }
</script>
</body></html>"##;

/// A temporary directory, removed on drop.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The processes whose process group is `pgid` (field 5 of /proc/PID/stat).
fn processes_in_group(pgid: u32) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("stat")).ok())
        .filter(|stat| {
            // After the command name in parentheses: state, ppid, pgrp.
            let rest = stat.rsplit_once(") ").map_or("", |(_, rest)| rest);
            rest.split(' ').nth(2) == Some(pgid.to_string().as_str())
        })
        .collect()
}

#[test]
fn tab_and_hover_show_the_tooltip_and_a_screenshot_is_a_png() {
    let Some(chromium) = cdp::find_chromium() else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("no Chromium found: install Debian's `chromium` package (or set $CHROMIUM)");
        }
        eprintln!(
            "skipped: no Chromium found; install Debian's `chromium` package (or set $CHROMIUM)"
        );
        return;
    };
    let dir = TempDir(std::env::temp_dir().join(format!("browser-smoke-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).unwrap();
    let html = dir.0.join("arrows.html");
    std::fs::write(&html, PAGE).unwrap();

    let browser = cdp::Browser::launch(&chromium).unwrap();
    let page = browser.new_page().unwrap();
    page.navigate(&format!("file://{}", html.display()))
        .unwrap();
    let tooltip = || {
        page.eval("document.getElementById('tooltip').textContent")
            .unwrap()
    };
    let focused = || {
        page.eval("document.activeElement.dataset.label ?? null")
            .unwrap()
    };

    assert_eq!(
        page.eval("document.querySelectorAll('g.arrow').length")
            .unwrap(),
        3
    );
    assert_eq!(
        page.eval("Promise.resolve(6 * 7)").unwrap(),
        42,
        "promises are awaited"
    );
    let thrown = page.eval("throw new Error('boom')").unwrap_err();
    assert!(thrown.contains("boom"), "{thrown}");

    // Real keyboard focus: Tab, Tab, then Shift+Tab back.
    page.press_key("Tab").unwrap();
    assert_eq!(focused(), "a to b");
    assert_eq!(tooltip(), "a to b");
    page.press_key("Tab").unwrap();
    assert_eq!(focused(), "b to c");
    page.press_key("Shift+Tab").unwrap();
    assert_eq!(focused(), "a to b");

    // A real hover over the third arrow's centre.
    let centre = page
        .eval(
            "(() => { const r = document.querySelectorAll('g.arrow')[2].getBoundingClientRect();
                      return [r.x + r.width / 2, r.y + r.height / 2]; })()",
        )
        .unwrap();
    page.mouse_move(centre[0].as_f64().unwrap(), centre[1].as_f64().unwrap())
        .unwrap();
    assert_eq!(tooltip(), "c to a");
    assert_eq!(
        page.eval("document.querySelectorAll('g.arrow')[2].matches(':hover')")
            .unwrap(),
        true
    );

    let png = page.screenshot_png().unwrap();
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "not a PNG: {:?}",
        &png[..png.len().min(8)]
    );
    if let Some(path) = std::env::var_os("BROWSER_SMOKE_PNG") {
        std::fs::write(path, &png).unwrap(); // to look at by hand
    }

    // Dropping the browser leaves no Chromium process behind, not even a
    // zombie helper waiting for init to reap it.
    let pid = browser.pid();
    drop(page);
    drop(browser);
    assert_eq!(
        processes_in_group(pid),
        Vec::<String>::new(),
        "Chromium processes left behind"
    );
}
