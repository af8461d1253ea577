"""The report page in a real browser: Debian's chromium, driven by Playwright (no browser download).

Asserts what a reader relies on: no console errors, no network request at all, every section
present, a hover shows a value, the ICE toggle and table sorting work, a screenshot is written.
Skipped only when no browser can be had (`make browser` installs chromium), saying why.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.reports.test_report import SECTIONS

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _browser_or_skip():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover - dev extra missing
        reason = f"no browser driver: playwright is not installed ({exc}); pip install -e '.[dev]'"
        print(reason)
        pytest.skip(reason)
    exe = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if exe is None:
        reason = "no browser: /usr/bin/chromium is missing; run 'make browser' (apt-get install chromium)"
        print(reason)
        pytest.skip(reason)
    return sync_playwright, exe


@pytest.fixture(scope="module")
def page_in_browser(diabetes_report: Path):
    sync_playwright, exe = _browser_or_skip()
    html = diabetes_report / "report.html"
    with sync_playwright() as p:
        try:
            browser = p.chromium.launch(executable_path=exe, args=FLAGS)
        except Exception as exc:  # the package is there but does not start here
            reason = f"chromium does not start: {str(exc).splitlines()[0]}"
            print(reason)
            pytest.skip(reason)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        requests: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(html.as_uri())
        page.wait_for_load_state("load")
        yield page, errors, requests, html, browser
        browser.close()


def test_no_errors_and_no_network(page_in_browser) -> None:
    _page, errors, requests, html, _ = page_in_browser
    assert errors == []
    assert requests == [html.as_uri()]  # the page itself, nothing else


def test_every_section_present(page_in_browser) -> None:
    page = page_in_browser[0]
    for sid in SECTIONS:
        assert page.locator(f"section#{sid} h2").count() == 1, sid
    assert page.locator("#pdp figure.plot svg").count() == 4
    assert page.locator("#ale figure.plot svg").count() >= 1
    assert page.locator("#h2 figure.plot svg").count() == 1


def test_hover_shows_a_value(page_in_browser) -> None:
    page = page_in_browser[0]
    svg = page.locator("#pdp figure.plot svg").first
    svg.scroll_into_view_if_needed()
    box = svg.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    tip = page.locator("#pdp figure.plot .tip").first
    tip.wait_for(state="visible", timeout=2000)
    text = tip.inner_text()
    assert ": PD " in text and any(ch.isdigit() for ch in text.split(": PD ")[1])
    # boxplot hover: the feature's mean ± std
    imp = page.locator("#importance figure.plot svg").first
    imp.scroll_into_view_if_needed()
    box = imp.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.3)
    assert " ± " in page.locator("#importance figure.plot .tip").first.inner_text()


def test_ice_toggle_and_sorting(page_in_browser) -> None:
    page = page_in_browser[0]
    ice = page.locator("#pdp g.ice").first
    assert ice.is_visible()
    page.locator("#ice-toggle").uncheck()
    assert not ice.is_visible()
    page.locator("#ice-toggle").check()
    assert ice.is_visible()
    table = page.locator("#importance table").first
    header = table.locator("th", has_text="mean")
    header.click()  # descending
    means = [float(v) for v in table.locator("tbody td:nth-child(4)").evaluate_all(
        "tds => tds.map(td => td.dataset.v)")]  # fmt: skip
    assert means == sorted(means, reverse=True)
    header.click()
    means = [float(v) for v in table.locator("tbody td:nth-child(4)").evaluate_all(
        "tds => tds.map(td => td.dataset.v)")]  # fmt: skip
    assert means == sorted(means)


def test_screenshot(page_in_browser, tmp_path: Path) -> None:
    page = page_in_browser[0]
    out = tmp_path / "report.png"
    page.screenshot(path=str(out), full_page=True)
    assert out.stat().st_size > 20_000
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_readable_without_javascript(page_in_browser) -> None:
    """Scripts off: the figures are drawn and the tables are there; the script-only toggle is hidden."""
    html, browser = page_in_browser[3], page_in_browser[4]
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(html.as_uri())
    assert page.locator("html.js").count() == 0
    assert page.locator("figure.plot svg:visible").count() >= 8
    assert page.locator("#importance table:visible").count() >= 1
    assert not page.locator("#ice-toggle").is_visible()
    context.close()


def test_print_layout(page_in_browser) -> None:
    """Print media: no navigation or controls, every figure and the ICE lines kept."""
    page = page_in_browser[0]
    page.emulate_media(media="print")
    try:
        assert not page.locator("nav").is_visible()
        assert not page.locator("#ice-toggle").is_visible()
        assert page.locator("#pdp g.ice").first.is_visible()
        pdf = page.pdf()
        assert pdf[:5] == b"%PDF-" and len(pdf) > 50_000
    finally:
        page.emulate_media(media="screen")
