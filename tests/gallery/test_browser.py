"""The generated site in a real headless Chromium, from file:// and from an HTTP server.

Needs Debian's ``chromium`` (``apt-get install chromium``) and the PyPI package ``playwright``
(its browser download is not used: ``playwright install`` is not needed). Without them the
test fails, saying what to install. Screenshots go to ``test-artifacts/gallery/``.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "gallery"


@pytest.fixture(scope="module")
def browser():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.fail("Chromium is needed for this test: apt-get install -y chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("The Python package playwright is needed for this test: pip install playwright")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        yield browser
        browser.close()


def _visible(page) -> list[str]:
    return page.eval_on_selector_all(
        ".card:not([hidden]) .name", "nodes => nodes.map(node => node.textContent)"
    )


def test_search_open_and_toggle_from_disk(browser, reference_site):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1000, "height": 800})
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto((reference_site / "index.html").as_uri())
    assert _visible(page) == [f"class {i}" for i in range(6)]
    assert page.text_content("#count") == "6 shown"
    page.screenshot(path=str(ARTIFACTS / "index.png"), full_page=True)

    page.type("#search", "4")  # typed key by key, as a person would
    assert _visible(page) == ["class 4"]
    assert page.text_content("#count") == "1 of 6 shown"
    page.fill("#search", "no such item")
    assert _visible(page) == []
    assert page.is_hidden(".group")
    page.fill("#search", "class 2")
    assert _visible(page) == ["class 2"]
    page.screenshot(path=str(ARTIFACTS / "index-filtered.png"))

    page.click(".card:not([hidden])")
    page.wait_for_url("**/items/class-0002.html")
    assert "class 2" in page.text_content("h1")
    picture = page.locator("#picture")
    assert picture.evaluate("image => image.complete && image.naturalWidth") == 32
    plain_src = picture.get_attribute("src")
    plain_pixels = picture.screenshot()
    page.screenshot(path=str(ARTIFACTS / "item.png"), full_page=True)

    page.click("#toggle")
    page.wait_for_function("document.getElementById('picture').src.endsWith('-overlay.webp')")
    page.wait_for_function("document.getElementById('picture').complete")
    assert picture.get_attribute("src") != plain_src
    assert picture.evaluate("image => image.naturalWidth") == 32
    assert page.get_attribute("#toggle", "aria-pressed") == "true"
    assert picture.screenshot() != plain_pixels  # the picture on screen changed
    page.screenshot(path=str(ARTIFACTS / "item-overlay.png"), full_page=True)

    page.click("#toggle")
    assert picture.get_attribute("src") == plain_src
    page.click('a[rel="next"]')
    page.wait_for_url("**/items/class-0003.html")
    assert page.locator("svg.curve polyline").count() == 1
    assert errors == []
    page.close()


def test_the_site_works_from_an_http_server(browser, reference_site):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(reference_site))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        page = browser.new_page()
        failed = []
        page.on("requestfailed", lambda request: failed.append(request.url))
        page.on("response", lambda r: r.status >= 400 and failed.append(f"{r.status} {r.url}"))
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/index.html")
        page.wait_for_load_state("networkidle")
        widths = page.eval_on_selector_all(
            ".card img", "images => images.map(image => image.naturalWidth)"
        )
        assert widths == [32] * 6
        page.click(".card >> nth=5")
        page.wait_for_url("**/items/class-0005.html")
        page.click("#toggle")
        page.wait_for_load_state("networkidle")
        assert failed == []
        page.close()
    finally:
        server.shutdown()
        server.server_close()


def test_class_pages_show_their_concepts_ranked(browser, concept_site):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    for key in ("class-0001", "class-0004"):
        page.goto((concept_site / "items" / f"{key}.html").as_uri())
        page.wait_for_load_state("load")
        top_level = page.locator("#concepts > ol > li.concept")
        assert top_level.count() == 4
        importances = [
            float(v)
            for v in top_level.evaluate_all("items => items.map(item => item.dataset.importance)")
        ]
        assert importances == sorted(importances, reverse=True)
        # the bars are drawn in the same order, the largest full width
        widths = page.eval_on_selector_all(
            "#concepts > ol > li.concept > .concept-body > .importance .bar",
            "bars => bars.map(bar => bar.getBoundingClientRect().width)",
        )
        assert widths == sorted(widths, reverse=True) and widths[0] > widths[-1]
        # every picture, crop and attribution overlay loads (lazily, as the page scrolls)
        shown = "Array.from(document.querySelectorAll('#concepts img'))"
        shown += ".filter(image => !image.closest('details'))"
        page.evaluate(f"{shown}.forEach(image => image.scrollIntoView())")
        page.wait_for_function(f"{shown}.every(image => image.complete && image.naturalWidth)")
        for selector, count in (
            ("#concepts > ol > li.concept > figure img", 4),
            ("#concepts > ol > li.concept > .concept-body > .crops img", 4 * 8),
            ("#concepts > ol > li.concept > .concept-body > figure.attribution img", 4),
        ):
            loaded = page.eval_on_selector_all(
                selector, "images => images.map(image => image.naturalWidth > 0)"
            )
            assert loaded == [True] * count, selector
        # the sub-concepts are folded under the most important concept, and open on a click
        folded = page.locator("details.sub-concepts")
        assert folded.count() == 1
        assert page.locator("details.sub-concepts li.concept").first.is_hidden()
        folded.locator("summary").click()
        assert page.locator("details.sub-concepts li.concept").count() == 2
        assert page.locator("details.sub-concepts li.concept").first.is_visible()
        inside = "Array.from(document.querySelectorAll('details.sub-concepts img'))"
        page.evaluate(f"{inside}.forEach(image => image.scrollIntoView())")
        page.wait_for_function(f"{inside}.every(image => image.complete && image.naturalWidth)")
        page.screenshot(path=str(ARTIFACTS / f"{key}-concepts.png"), full_page=True)
        # the class picture's toggle still works above them
        page.click("#toggle")
        page.wait_for_function("document.getElementById('picture').src.endsWith('-overlay.webp')")
    assert errors == []
    page.close()
