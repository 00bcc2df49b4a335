"""HTML e-mail -> plain text with BeautifulSoup.

The text is what subtrail shows, indexes and extracts from; e-mail HTML itself is
never rendered anywhere (it is hostile input). Scripts, styles and comments are
dropped, block elements become line breaks so receipts keep their row structure.
"""

from __future__ import annotations

import re
import warnings

from bs4 import (
    BeautifulSoup,
    CData,
    MarkupResemblesLocatorWarning,
    NavigableString,
    PageElement,
    Tag,
    XMLParsedAsHTMLWarning,
)

_DROP = ("script", "style", "head", "title", "noscript", "template", "iframe", "object", "svg")
_BLOCK = (
    "p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6",
    "table", "ul", "ol", "blockquote", "section", "article", "header", "footer", "hr",
)  # fmt: skip
_SPACES = re.compile(r"[ \t\u00a0\u200b\u200c\u200d\ufeff]+")
_BLANKS = re.compile(r"\n\s*\n+")

warnings.filterwarnings("ignore", category=MarkupResemblesLocatorWarning)
warnings.filterwarnings("ignore", category=XMLParsedAsHTMLWarning)


def html_to_text(html: str) -> str:
    """Readable text of an HTML body; never raises.

    One iterative walk over the tree: inserting line-break strings into the tree
    (the obvious way) is quadratic in bs4 and let a 20,000-paragraph newsletter cost
    a minute, and recursion would let 100,000 nested tags overflow the stack.
    """
    try:
        soup = BeautifulSoup(html, "lxml")
    except Exception:
        soup = BeautifulSoup(html, "html.parser")
    return tree_to_text(soup)


def tree_to_text(soup: PageElement) -> str:
    """Readable text of an already parsed tree (the quote stripper edits the tree first: no second parse)."""
    out: list[str] = []
    # Stack items: a node to visit, or a string to emit once its element's children are done.
    stack: list[PageElement | str] = [soup]
    while stack:
        node = stack.pop()
        if isinstance(node, str) and not isinstance(node, PageElement):
            out.append(node)
        elif isinstance(node, NavigableString):
            if type(node) in (NavigableString, CData):  # not comments, doctypes, processing instructions
                out.append(str(node))
        elif isinstance(node, Tag):
            if node.name in _DROP:
                continue
            if node.name in _BLOCK:
                out.append("\n")
                stack.append("\n")
            elif node.name in ("td", "th"):
                stack.append(" ")
            stack.extend(reversed(node.contents))
    text = "".join(out)
    lines = (_SPACES.sub(" ", line).strip() for line in text.splitlines())
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()
