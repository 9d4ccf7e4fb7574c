"""axe-core in the page under test: the vendored copy, no npm at run time.

vendor/axe.min.js is axe-core 4.14.1 (MPL-2.0, licence beside it), taken from
`npm pack axe-core@4`; to update, repack and copy package/axe.min.js and LICENSE.

The portal's Content Security Policy forbids inline scripts, so the source is not
added as a <script> tag; Playwright's evaluate runs it through DevTools, which the
page's CSP does not govern. The page itself is tested under its real policy.
"""

from functools import cache
from pathlib import Path

from playwright.sync_api import Page

AXE_JS = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING = {"serious", "critical"}

RUN_AXE = """async (tags) => {
  const result = await axe.run(document, {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]});
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map((n) => ({target: n.target.join(" "), summary: n.failureSummary})),
  }));
}"""


@cache
def _axe_source() -> str:
    return AXE_JS.read_text(encoding="utf-8")


def axe_violations(page: Page) -> list[dict]:
    """Every WCAG 2.1 A/AA violation axe finds in the page as it is now."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(_axe_source())
    return page.evaluate(RUN_AXE, WCAG_TAGS)


def _describe(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        lines.append(f"[{v['impact']}] {v['id']}: {v['help']}")
        for node in v["nodes"][:5]:
            lines.append(f"    {node['target']}: {' '.join((node['summary'] or '').split())}")
    return "\n".join(lines)


def axe_check(page: Page, label: str = "") -> list[dict]:
    """Fail on serious or critical violations; print the minor and moderate ones."""
    violations = axe_violations(page)
    where = label or page.url
    blocking = [v for v in violations if v["impact"] in BLOCKING]
    others = [v for v in violations if v["impact"] not in BLOCKING]
    if others:
        print(f"\naxe, {where}: minor/moderate\n{_describe(others)}")
    assert not blocking, f"axe found serious/critical violations on {where}:\n{_describe(blocking)}"
    return violations
