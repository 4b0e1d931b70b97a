"""Note drafts and their stable keys."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import asdict, dataclass

_NOT_WORD = re.compile(r"[\s\W_]+", re.U)


@dataclass
class NoteDraft:
    """One formulation in context, in Anki cloze syntax.

    ``kind`` is cloze, list, number or term; ``extra`` the full source sentence; ``source`` the
    1-based paragraph and sentence numbers (display only); ``key`` stable across re-extraction.
    """

    kind: str
    text: str
    extra: str
    source: dict
    key: str

    def to_dict(self) -> dict:
        return asdict(self)


def normalise_span(span: str) -> str:
    """The text a key is computed from: NFKC, no spaces or punctuation."""
    return _NOT_WORD.sub("", unicodedata.normalize("NFKC", span))


def note_key(identity: str, span: str, occurrence: int = 1) -> str:
    """Key = hash of material identity + normalised span (+ occurrence number from the 2nd on).

    Paragraph and sentence numbers stay out, so corrections elsewhere in a material keep keys.
    """
    payload = f"{identity}\x1f{normalise_span(span)}"
    if occurrence > 1:
        payload += f"\x1f{occurrence}"
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:20]
