"""Reading rendered HTML in tests: a page's text, one certification tile."""

import re


def text(fragment: str) -> str:
    """The words of an HTML fragment, tags dropped and whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", fragment).split())


def tile(html: str, name: str) -> str:
    """The HTML of one certification tile on the dashboard."""
    match = re.search(rf'<section class="box tile[^>]*>\s*<h2[^>]*>{re.escape(name)}</h2>(.*?)</section>', html, re.S)
    assert match, f"no tile for {name}"
    return match.group(1)
