"""Every text of the dashboard passes WCAG AA contrast (4.5:1), computed from its CSS colours."""

import re

import pytest

from metrics.report.render import STYLE
from metrics.web.app import CSS
from metrics.web.inbox import CSS as INBOX_CSS

AA = 4.5


def rules(css: str) -> dict[str, dict[str, str]]:
    """selector -> declarations, for each plain rule of the stylesheet (no media queries)."""
    css = re.sub(r"@media[^{]*\{(?:[^{}]*\{[^{}]*\})*[^{}]*\}", "", css)
    out: dict[str, dict[str, str]] = {}
    for selectors, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css):
        decls = dict(
            (k.strip(), v.strip())
            for k, v in (d.split(":", 1) for d in body.split(";") if ":" in d)
        )
        for selector in selectors.split(","):
            out.setdefault(selector.strip(), {}).update(decls)
    return out


def colour(rule: dict[str, str], name: str) -> str:
    value = rule[name] if name in rule else rule["background"]
    return re.search(r"#[0-9a-fA-F]{3,6}", value).group(0)


def luminance(hex_colour: str) -> float:
    h = hex_colour.lstrip("#")
    if len(h) == 3:
        h = "".join(c * 2 for c in h)
    channels = [int(h[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_contrast_formula():
    assert contrast("#000", "#fff") == pytest.approx(21)
    assert contrast("#777", "#fff") == pytest.approx(4.48, abs=0.01)  # the classic near-miss


DASH = rules(CSS + INBOX_CSS)
BODY_BG, TABLE_BG, WHITE = (
    colour(DASH["body"], "background"),
    colour(DASH["table"], "background"),
    "#fff",
)
PAIRS = {
    "body text": (colour(DASH["body"], "color"), BODY_BG),
    "table text": (colour(DASH["body"], "color"), TABLE_BG),
    "header text": (colour(DASH["header"], "color"), colour(DASH["header"], "background")),
    "header link": (colour(DASH["header a"], "color"), colour(DASH["header"], "background")),
    "Log out button": (colour(DASH["header button"], "color"),
                       colour(DASH["header button"], "background")),
    "Log out button, hover": (colour(DASH["header button"], "color"),
                              colour(DASH["header button:hover"], "background")),
    "link on the page": (colour(DASH["a"], "color"), BODY_BG),
    "link in a table": (colour(DASH["a"], "color"), TABLE_BG),
    "muted on the page": (colour(DASH[".muted"], "color"), BODY_BG),
    "muted on a table": (colour(DASH[".muted"], "color"), TABLE_BG),
    "muted in a bot message": (colour(DASH[".muted"], "color"), colour(DASH[".bot"], "background")),
    "bot message": (colour(DASH["body"], "color"), colour(DASH[".bot"], "background")),
    "muted in a staff message": (colour(DASH[".muted"], "color"),
                                 colour(DASH[".staff"], "background")),
    "notice": (colour(DASH["body"], "color"), colour(DASH[".notice"], "background")),
    "error": (colour(DASH[".error"], "color"), BODY_BG),
    "ok": (colour(DASH[".ok"], "color"), BODY_BG),
}  # fmt: skip


@pytest.mark.parametrize("name", PAIRS)
def test_every_dashboard_text_passes_wcag_aa(name):
    fg, bg = PAIRS[name]
    assert contrast(fg, bg) >= AA, f"{name}: {fg} on {bg} is {contrast(fg, bg):.2f}:1"


def test_every_email_text_passes_wcag_aa():
    email = rules(STYLE)
    assert contrast(colour(email["body"], "color"), WHITE) >= AA
    assert contrast(colour(email[".muted"], "color"), WHITE) >= AA
