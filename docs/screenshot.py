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
        page = browser.new_page(viewport={"width": 1200, "height": 4000})
        page.goto(page_path.as_uri())
        page.add_style_tag(content="header { position: static !important; }")
        # from the importance boxplot to the end of the PD/ICE figures, one curve hovered
        top = page.locator("#importance").bounding_box()["y"]
        end = page.locator("#pdp .grid").bounding_box()
        box = page.locator("#pdp figure.plot svg").nth(1).bounding_box()
        page.mouse.move(box["x"] + box["width"] * 0.62, box["y"] + box["height"] * 0.55)
        page.wait_for_timeout(200)
        height = min(end["y"] + end["height"] - top + 10, 4000 - top)
        page.screenshot(path=str(out), clip={"x": 0, "y": top, "width": 1200, "height": height})
        browser.close()


if __name__ == "__main__":
    main()
