"""The ``kubeoracle view`` page: one self-contained HTML file for a :class:`ViewData`.

The page holds its data as JSON in a ``<script type="application/json">`` element, its styles
(``page.css``) and its script (``page.js``) inline: it fetches nothing, and opens from a file
or an e-mail attachment as it is. The script draws only the rows in sight, so its cost does
not grow with the length of the trace.
"""

from __future__ import annotations

import html
from importlib import resources
from typing import Final

import msgspec

from runner.view.model import ViewData

_ENCODER: Final = msgspec.json.Encoder()


def _asset(name: str) -> str:
    return resources.files("runner.view").joinpath(name).read_text(encoding="utf-8")


def data_json(data: ViewData) -> str:
    """The data as JSON that is safe inside a script element (every ``<`` escaped)."""
    return _ENCODER.encode(data).decode().replace("<", "\\u003c")


def render_page(data: ViewData) -> str:
    """The whole page."""
    title = html.escape(data.title)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
{_asset("page.css")}</style></head>
<body>
<header>
<h1 id="title">{title}</h1>
<div id="summary"></div>
<div id="legend"></div>
<div id="banner"></div>
<div id="searchbar">
<input id="search" type="search" aria-label="search"
 placeholder="search: object name, key, node, message">
<button id="prev" type="button">prev</button> <button id="next" type="button">next</button>
<span id="count"></span></div>
<div id="hits"></div>
</header>
<main>
<div id="left"><div id="timeline"><div id="lanehead"></div>
<div id="canvas"><svg id="arrows" xmlns="http://www.w3.org/2000/svg"></svg>
<div id="rows"></div></div>
</div></div>
<aside id="detail"><p>Click a step to see its action and what it changed.</p></aside>
</main>
<script id="view-data" type="application/json">{data_json(data)}</script>
<script>
{_asset("page.js")}</script>
</body></html>
"""
