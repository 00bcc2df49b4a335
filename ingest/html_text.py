"""HTML e-mail -> plain text with BeautifulSoup.

The text is what subtrail shows, indexes and extracts from; e-mail HTML itself is
never rendered anywhere (it is hostile input). Scripts, styles and comments are
dropped, block elements become line breaks so receipts keep their row structure.
"""

from __future__ import annotations

import re
import warnings

from bs4 import BeautifulSoup, Comment, MarkupResemblesLocatorWarning, XMLParsedAsHTMLWarning

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
    """Readable text of an HTML body; never raises."""
    try:
        soup = BeautifulSoup(html, "lxml")
    except Exception:
        soup = BeautifulSoup(html, "html.parser")
    for tag in soup.find_all(_DROP):
        tag.decompose()
    for comment in soup.find_all(string=lambda s: isinstance(s, Comment)):
        comment.extract()
    for tag in soup.find_all(_BLOCK):
        tag.insert_before("\n")
        tag.insert_after("\n")
    for cell in soup.find_all(("td", "th")):
        cell.insert_after(" ")
    text = soup.get_text()
    lines = (_SPACES.sub(" ", line).strip() for line in text.splitlines())
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()
