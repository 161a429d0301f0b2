"""axe-core, the accessibility checker, run in the page a browser test has reached.

    violations = audit(page)                 # WCAG 2.0/2.1/2.2 A and AA rules only
    problems = focus_rings(page)             # what axe leaves out
    problems += reflow(page)                 # a page wider than the screen

axe-core comes from tests/interop's lock file (`make interop`, run by `make test`); without it
the audit fails and says so rather than skipping. Its source is evaluated through the DevTools
protocol (Playwright's `evaluate`), which a page's Content-Security-Policy does not govern, so
the page is audited exactly as the test reached it, in its own context, and that context's CSP
checks stay on for everything the page itself does.

`focus_rings` adds what axe leaves out: each control's visible focus indicator must reach 3:1
against the colour around it (WCAG 2.2 SC 1.4.11 non-text contrast, SC 2.4.7 focus visible).
`reflow` too: nothing may reach past the page's width, which would make a phone scroll (or, in
Chromium's mobile emulation, zoom the whole page out) sideways (SC 1.4.10 reflow).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page

AXE_SOURCE = Path(__file__).resolve().parent.parent / "interop" / "node_modules" / "axe-core"
AXE_SCRIPT = AXE_SOURCE / "axe.min.js"
# The success criteria of WCAG 2.2 level AA, as axe tags its rules (best practices left out).
WCAG_AA_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
MIN_FOCUS_CONTRAST = 3.0
MAX_FOCUS_STOPS = 40  # more stops than any page has; the walk ends when focus comes back

# Violations, and the colour pairs axe could not decide (text over an image, a colour it cannot
# parse): undecided is not passed, so those are reported too, with axe's reason.
RUN_AXE = """
async (tags) => {
  const result = await axe.run(document, {runOnly: {type: "tag", values: tags}});
  const undecided = result.incomplete.filter((rule) => rule.id === "color-contrast");
  const shown = (rule, decided) => ({
    id: decided ? rule.id : `${rule.id} undecided`,
    impact: rule.impact || "",
    help: rule.help,
    nodes: rule.nodes.map((node) => ({
      target: node.target.join(" "),
      summary: decided ? (node.failureSummary || "")
        : node.any.map((check) => check.message).join(" "),
    })),
  });
  return result.violations.map((rule) => shown(rule, true))
    .concat(undecided.map((rule) => shown(rule, false)));
}
"""

# The focused element's outline: its colour (as rgb) and the colour behind it, found by walking
# up to the first ancestor with an opaque background (the page's own when none has one).
FOCUS_RING = """
() => {
  const element = document.activeElement;
  if (!element || element === document.body) return null;
  const style = getComputedStyle(element);
  const parse = (text) => {
    const probe = document.createElement("canvas").getContext("2d");
    probe.fillStyle = "#000"; probe.fillStyle = text;
    probe.fillRect(0, 0, 1, 1);
    return Array.from(probe.getImageData(0, 0, 1, 1).data);
  };
  let behind = element.parentElement;
  let background = null;
  while (behind) {
    const rgba = parse(getComputedStyle(behind).backgroundColor);
    if (getComputedStyle(behind).backgroundColor !== "rgba(0, 0, 0, 0)" && rgba[3] === 255) {
      background = rgba; break;
    }
    behind = behind.parentElement;
  }
  if (!background) background = parse(getComputedStyle(document.documentElement).backgroundColor
    === "rgba(0, 0, 0, 0)" ? "Canvas" : getComputedStyle(document.documentElement).backgroundColor);
  const width = parseFloat(style.outlineWidth) || 0;
  return {
    element: element.outerHTML.slice(0, 120),
    visible: style.outlineStyle !== "none" && width > 0,
    width: width,
    ring: parse(style.outlineColor),
    background: background,
  };
}
"""


@dataclass(frozen=True)
class Violation:
    rule: str
    impact: str
    help: str
    target: str
    summary: str

    def __str__(self) -> str:
        summary = " ".join(self.summary.split())
        return f"{self.rule} ({self.impact}) at {self.target}: {self.help}. {summary}"


def audit(page: Page) -> list[Violation]:
    """Every WCAG 2.2 A/AA violation axe-core finds in the page as it is now, and every text
    colour whose contrast it could not decide."""
    if not AXE_SCRIPT.is_file():
        pytest.fail(
            f"{AXE_SCRIPT} not found: the accessibility audit needs axe-core, installed by "
            "`make interop` (part of `make test`)",
            pytrace=False,
        )
    if not page.evaluate("() => typeof axe !== 'undefined'"):
        page.evaluate(AXE_SCRIPT.read_text(encoding="utf-8"))
    found = page.evaluate(RUN_AXE, WCAG_AA_TAGS)
    return [
        Violation(rule["id"], rule["impact"], rule["help"], node["target"], node["summary"])
        for rule in found
        for node in rule["nodes"]
    ]


# What reaches past the layout viewport's right edge (the page's width, not the visual viewport:
# on a phone the browser zooms out to show what overflows, and innerWidth grows with it).
OVERFLOW = """
() => {
  const width = document.documentElement.clientWidth;
  const scrolled = document.documentElement.scrollWidth;
  if (scrolled <= width) return null;
  const past = [];
  for (const element of document.body.querySelectorAll("*")) {
    const box = element.getBoundingClientRect();
    if (box.width > 0 && box.right > width + 1) {
      past.push(`${element.outerHTML.slice(0, 100)} (right edge at ${Math.round(box.right)})`);
    }
  }
  return {width: width, scrolled: scrolled, past: past.slice(0, 5)};
}
"""


def reflow(page: Page) -> list[str]:
    """Whatever makes the page wider than its viewport (WCAG 2.2 SC 1.4.10)."""
    found = page.evaluate(OVERFLOW)
    if found is None:
        return []
    return [
        f"the page is {found['scrolled']}px wide in a {found['width']}px viewport (SC 1.4.10): "
        + "; ".join(found["past"])
    ]


def focus_rings(page: Page) -> list[str]:
    """Tab through the page; every focused control's ring must show and reach 3:1."""
    problems: list[str] = []
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    seen: set[str] = set()
    for _ in range(MAX_FOCUS_STOPS):
        page.keyboard.press("Tab")
        ring = page.evaluate(FOCUS_RING)
        if ring is None or ring["element"] in seen:
            break
        seen.add(ring["element"])
        if not ring["visible"]:
            problems.append(f"no visible focus ring on {ring['element']}")
            continue
        ratio = contrast(ring["ring"], ring["background"])
        if ratio < MIN_FOCUS_CONTRAST:
            problems.append(
                f"focus ring {ratio:.2f}:1 against its background (needs {MIN_FOCUS_CONTRAST}:1)"
                f" on {ring['element']}"
            )
    return problems


def contrast(first: list[int], second: list[int]) -> float:
    """WCAG 2.2's contrast ratio of two sRGB colours (the definition of "relative luminance")."""
    lighter, darker = sorted((luminance(first), luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def luminance(rgb: list[int]) -> float:
    def linear(channel: int) -> float:
        value = channel / 255
        return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (linear(channel) for channel in rgb[:3])
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue
