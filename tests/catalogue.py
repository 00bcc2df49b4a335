"""What subtrail's gettext catalogue of a language translates: the tests that every label shown
(web pages, status, dossier, exports) has its French, so none shows in English on a French page."""

from __future__ import annotations

from babel.messages.pofile import read_po

from tests.conftest import REPO


def translated_ids(language: str = "fr") -> set[str]:
    """The message ids of `language`'s catalogue whose every form (plurals too) has a translation."""
    with (REPO / f"ingest/locale/{language}/LC_MESSAGES/subtrail.po").open("rb") as fh:
        catalogue = read_po(fh, locale=language)
    translated = set()
    for message in catalogue:
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        texts = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.id and all(texts):
            translated.update(ids)
    return translated
