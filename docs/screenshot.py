"""Screenshot of a report page in headless Chromium (Debian's), for the README: `make images`.

Usage: python docs/screenshot.py REPORT.html OUT.png
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def main() -> None:
    page_path, out = Path(sys.argv[1]).resolve(), Path(sys.argv[2])
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        page = browser.new_page(viewport={"width": 1200, "height": 1500})
        page.goto(page_path.as_uri())
        # hover one PD curve so the picture shows the value read-out
        svg = page.locator("#pdp figure.plot svg").first
        svg.scroll_into_view_if_needed()
        page.evaluate("window.scrollTo(0, 0)")
        box = svg.bounding_box()
        if box:
            page.mouse.move(box["x"] + box["width"] * 0.55, box["y"] + box["height"] * 0.5)
        page.screenshot(path=str(out), full_page=False)
        browser.close()


if __name__ == "__main__":
    main()
