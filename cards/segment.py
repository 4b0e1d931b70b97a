"""jieba, set up once: own tokenizer, cache outside /tmp, quiet, domain user dictionary.

POS tags come from jieba's dictionary (the table jieba.posseg itself uses), looked up for the
words of a single plain cut, so the text is segmented once and never re-tagged by an HMM.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import jieba

USER_DICT = Path(__file__).parent / "data" / "userdict.txt"
POS_OVERRIDES = Path(__file__).parent / "data" / "pos_overrides.txt"
_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class Token:
    word: str
    start: int  # offset in the paragraph
    end: int
    pos: str  # jieba's dictionary tag; "x" for punctuation and words jieba made up

    @property
    def nounish(self) -> bool:
        return self.pos[:1] in ("n", "x", "j", "b") or self.pos in ("vn", "an", "l", "i", "ng")


def cache_dir() -> Path:
    """Where jieba's prefix-dictionary cache lives: $TIFA_JIEBA_CACHE, else ~/.cache/tifa."""
    configured = os.environ.get("TIFA_JIEBA_CACHE")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tifa"


def _quiet_jieba() -> None:
    jieba.setLogLevel(logging.WARNING)


@lru_cache(maxsize=1)
def _tagged_tokenizer() -> tuple[jieba.Tokenizer, dict[str, str]]:
    _quiet_jieba()
    with _lock:
        tokenizer = jieba.Tokenizer()
        directory = cache_dir()
        try:
            directory.mkdir(parents=True, exist_ok=True)
            writable = os.access(directory, os.W_OK)
        except OSError:
            writable = False
        # An unwritable cache dir only costs speed; jieba then rebuilds the dictionary each start.
        tokenizer.tmp_dir = str(directory) if writable else tempfile.mkdtemp(prefix="tifa-jieba-")
        tokenizer.initialize()
        tags: dict[str, str] = {}
        with tokenizer.get_dict_file() as handle:
            for line in handle:
                parts = line.decode("utf-8").split()
                if len(parts) == 3:
                    tags[parts[0]] = parts[2]
        with open(USER_DICT, encoding="utf-8") as handle:
            for line in handle:
                parts = line.split()
                if not parts:
                    continue
                tokenizer.add_word(parts[0], int(parts[1]) if len(parts) > 1 else None)
                if len(parts) > 2:
                    tags[parts[0]] = parts[2]
        with open(POS_OVERRIDES, encoding="utf-8") as handle:
            for line in handle:
                parts = line.split()
                if len(parts) == 2 and not line.startswith("#"):
                    tags[parts[0]] = parts[1]
        return tokenizer, tags


def warm_up() -> None:
    """Load the dictionaries now (cold start) rather than on the first extraction."""
    _tagged_tokenizer()


def tokens(text: str) -> list[Token]:
    """Segment ``text`` once and tag each word from the dictionary."""
    tokenizer, tags = _tagged_tokenizer()
    out: list[Token] = []
    offset = 0
    for word in tokenizer.cut(text):
        end = offset + len(word)
        pos = tags.get(word)
        if pos is None:
            pos = "m" if word.isdigit() else ("x" if not word.strip() or not word.isalnum() else "nx")
        out.append(Token(word, offset, end, pos))
        offset = end
    return out
