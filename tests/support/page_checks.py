"""What every page must be, checked in the HTML the server sent and in the page the browser built.

The served HTML carries no inline code at all (no `<script>` without `src`, `<style>`, `style=`
or `on*=` attribute, `javascript:` URL), so a strict CSP never has to allow any; the check reads
the response body, because Chromium itself adds empty `style` attributes to form fields in the
live page. The live page is checked for what a person with assistive technology needs: a label
on every control, a name on every button, a language, a title and one main heading.
"""

from __future__ import annotations

from html.parser import HTMLParser


class _InlineCodeFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        shown = self.get_starttag_text() or tag
        named = {name.lower(): (value or "") for name, value in attrs}
        if tag == "script" and "src" not in named:
            self.found.append(f"inline script: {shown}")
        if tag == "style":
            self.found.append(f"inline <style>: {shown}")
        if "style" in named:
            self.found.append(f"style attribute: {shown}")
        if any(name.startswith("on") for name in named):
            self.found.append(f"event handler attribute: {shown}")
        for name in ("href", "action", "formaction", "src"):
            if named.get(name, "").strip().lower().startswith("javascript:"):
                self.found.append(f"javascript: URL: {shown}")


def inline_code_in(html: str) -> list[str]:
    """Every piece of inline script or style in `html`, as the start tag that holds it."""
    finder = _InlineCodeFinder()
    finder.feed(html)
    finder.close()
    return finder.found


# Run in the page (Playwright's page.evaluate); returns a list of problems.
ACCESSIBILITY_PROBLEMS = """
() => {
  const problems = [];
  const show = (element) => element.outerHTML.slice(0, 200);
  const controls = document.querySelectorAll("input:not([type=hidden]), select, textarea");
  for (const control of controls) {
    if (!control.labels.length && !control.getAttribute("aria-label")
        && !control.getAttribute("aria-labelledby")) {
      problems.push(`control without a label: ${show(control)}`);
    }
  }
  for (const button of document.querySelectorAll("button")) {
    if (!button.textContent.trim() && !button.getAttribute("aria-label")) {
      problems.push(`button without a name: ${show(button)}`);
    }
  }
  if (!document.documentElement.lang) problems.push("<html> has no lang attribute");
  if (!document.title.trim()) problems.push("the page has no <title>");
  const headings = document.querySelectorAll("h1").length;
  if (headings !== 1) problems.push(`${headings} <h1> elements, expected one`);
  return problems;
}
"""
