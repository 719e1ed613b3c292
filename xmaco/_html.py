"""The frame and the look of every HTML page xmaco writes: one template, one stylesheet.

Pages are self-contained (inline style and script, relative links), so that a folder of pages
reads from ``file://`` as from any web server. :func:`document` frames a page's body; the
style rules below are each written once: report pages (a class's concepts) build on
``REPORT_CSS``; the gallery has a palette of its own that follows the reader's light or dark
mode.

Example
-------
>>> page = document("Concepts of goldfish", "<h1>Concepts</h1>", CONCEPTS_CSS)
>>> page.startswith("<!DOCTYPE html>"), "<title>Concepts of goldfish</title>" in page
(True, True)
"""

from __future__ import annotations

import html

__all__ = ["CONCEPTS_CSS", "DEMO_CSS", "GALLERY_CSS", "REPORT_CSS", "document"]

#: The base of report pages: a light page of cards on an off-white background.
REPORT_CSS = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; background: #fafafa; }
h1 { font-size: 1.4rem; }
"""

#: The page of a class's concepts (``xmaco.concepts.write_page``).
CONCEPTS_CSS = (
    REPORT_CSS
    + """.details { color: #555; }
.concept { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 0.8rem;
  margin-bottom: 1rem; }
.concept h2 { font-size: 1.1rem; margin: 0 0 0.5rem; }
.share { color: #555; font-weight: normal; margin-left: 0.6rem; }
.row { display: flex; gap: 1rem; flex-wrap: wrap; }
figure { margin: 0; }
figure img { height: 256px; }
figcaption { color: #666; font-size: 0.85rem; }
.crops img { width: 112px; height: 112px; margin: 0 0.3rem 0.3rem 0; }
.bar { width: 256px; height: 0.5rem; background: #eee; border-radius: 3px; margin: 0 0 0.6rem; }
.bar span { display: block; height: 100%; background: #4a7bb7; border-radius: 3px; }
summary { cursor: pointer; color: #444; }
details.sub { margin: 0.6rem 0 0 1rem; }
details.commands pre { background: #f4f4f4; padding: 0.5rem; overflow-x: auto; font-size: 0.8rem; }
"""
)

#: The contact sheet of ``xmaco demo``.
DEMO_CSS = (
    REPORT_CSS
    + """table.settings { border-collapse: collapse; margin-bottom: 1.5rem; }
table.settings td { padding: 0.15rem 0.8rem 0.15rem 0; vertical-align: top; }
table.settings td:first-child { color: #666; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(420px, 1fr)); gap: 1rem; }
.card { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 0.8rem; }
.card h2 { font-size: 1.05rem; margin: 0 0 0.5rem; }
.card img { width: 100%; image-rendering: auto; }
.alpha { background: repeating-conic-gradient(#ccc 0% 25%, #eee 0% 50%) 0 0 / 16px 16px; }
.hit { color: #176b2c; font-weight: 600; }
.miss { color: #a33; font-weight: 600; }
ol { margin: 0.3rem 0 0.5rem 1.2rem; padding: 0; }
.files a { margin-right: 0.8rem; }
"""
)

#: The gallery's index and item pages (``xmaco.gallery.write_site``).
GALLERY_CSS = """
:root { color-scheme: light dark; --muted: #666; --card: #fff; --line: #ddd; --bg: #f6f6f4; }
@media (prefers-color-scheme: dark) {
  :root { --muted: #aaa; --card: #1f1f1f; --line: #3a3a3a; --bg: #141414; }
}
body { font-family: system-ui, sans-serif; margin: 0 auto; padding: 1.2rem 1.5rem;
       max-width: 1400px; background: var(--bg); }
h1 { font-size: 1.45rem; margin: 0.3rem 0; }
h1 small, .muted { color: var(--muted); font-weight: normal; }
h2 { font-size: 1.1rem; margin: 1.4rem 0 0.5rem; }
a { color: inherit; }
nav { display: flex; gap: 1.2rem; margin-bottom: 0.6rem; }
#search { font: inherit; width: min(32rem, 100%); padding: 0.45rem 0.7rem;
          border: 1px solid var(--line); border-radius: 6px; }
.grid { display: grid; gap: 0.7rem;
        grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); }
.card { display: block; text-decoration: none; background: var(--card); padding: 0.4rem;
        border: 1px solid var(--line); border-radius: 6px; }
.card:hover, .card:focus { border-color: #4a6fd8; }
.card img { width: 100%; height: auto; display: block; border-radius: 3px; }
.card .index { color: var(--muted); margin-right: 0.3rem; }
.card .name { overflow-wrap: anywhere; }
.card[hidden], .group[hidden] { display: none; }
.layout { display: flex; flex-wrap: wrap; gap: 1.5rem; align-items: flex-start; }
figure { margin: 0; }
.stage { background: #fff; display: inline-block; line-height: 0; border-radius: 4px; }
.stage img { max-width: min(100%, 90vw); height: auto; }
button { font: inherit; padding: 0.35rem 0.8rem; margin-top: 0.5rem; cursor: pointer; }
svg.curve { background: var(--card); border: 1px solid var(--line); border-radius: 4px; }
svg.curve text { font-size: 11px; fill: var(--muted); }
table.settings { border-collapse: collapse; }
table.settings td { padding: 0.15rem 1rem 0.15rem 0; vertical-align: top; }
table.settings td:first-child { color: var(--muted); white-space: nowrap; }
pre { background: var(--card); border: 1px solid var(--line); padding: 0.6rem;
      white-space: pre-wrap; overflow-wrap: break-word; border-radius: 4px; }
.concepts { display: flex; flex-wrap: wrap; gap: 0.8rem; }
.concepts figure { width: 200px; }
.concepts img { width: 100%; height: auto; }
"""

_VIEWPORT = '<meta name="viewport" content="width=device-width, initial-scale=1">\n'


def document(
    title: str, body: str, css: str, script: str | None = None, viewport: bool = False
) -> str:
    """A whole HTML page: ``body`` (HTML) under ``title`` (text), styled by ``css``.

    Parameters
    ----------
    title
        The page title, escaped here.
    body
        The content of ``<body>``, already HTML.
    css
        The stylesheet, inlined: one of this module's constants.
    script
        JavaScript run at the end of the body, inlined; None: no script.
    viewport
        Whether to declare the width of a phone's screen as the page width (the gallery's
        pages are laid out for it).

    Returns
    -------
    str
        The page, ending with a newline.

    Example
    -------
    >>> print(document("A < B", "<p>hi</p>", "p { color: red; }"))
    <!DOCTYPE html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <title>A &lt; B</title>
    <style>p { color: red; }</style>
    </head>
    <body>
    <p>hi</p>
    </body>
    </html>
    <BLANKLINE>
    """
    script_element = "" if script is None else f"<script>{script}</script>\n"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
{_VIEWPORT if viewport else ""}<title>{html.escape(title, quote=True)}</title>
<style>{css}</style>
</head>
<body>
{body}
{script_element}</body>
</html>
"""
