"""The widget loads on every page view of every customer's product: it stays small."""

from __future__ import annotations

import gzip

from tests.support.paths import ROOT

WIDGET = ROOT / "widget"
LIMIT = 6 * 1024  # bytes, script and stylesheet together, gzipped as the service serves them


def gzipped(name: str) -> int:
    return len(gzip.compress((WIDGET / name).read_bytes(), compresslevel=9, mtime=0))


def test_the_widget_script_and_stylesheet_stay_under_6_kb_gzipped() -> None:
    sizes = {name: gzipped(name) for name in ("nps.js", "nps.css")}
    assert sum(sizes.values()) <= LIMIT, f"{sizes}: {sum(sizes.values())} bytes > {LIMIT}"


def test_the_widget_files_are_not_placeholders() -> None:
    script = (WIDGET / "nps.js").read_text()
    assert "attachShadow" in script and "NPS.q" in script
    assert ":host" in (WIDGET / "nps.css").read_text()
