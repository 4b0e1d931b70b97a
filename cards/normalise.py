"""Raw text -> Material: title and header lines, clean paragraphs, sentences.

The original text is kept untouched on the Material; everything else is a cleaned copy:
line-broken paragraphs joined, stray spaces around Chinese removed ("近 8 年" -> "近8年"),
punctuation unified to the full-width forms the genre uses, repeated speaker tags collapsed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_CHAR = re.compile(f"[{CJK}]")
TERMINAL = "。！？；"
# A paragraph ending in one of these is complete; otherwise a line break may have split it.
_COMPLETE_END = "。！？；…”’）》」』：:!?"
_OPENERS = {"“": "”", "‘": "’", "《": "》", "（": "）", "「": "」", "『": "』", "【": "】"}
_CLOSERS = {v: k for k, v in _OPENERS.items()}
_CN_DIGITS = "一二三四五六七八九十"
_ENUMERATED = re.compile(rf"^(?:[{_CN_DIGITS}]+、|（[{_CN_DIGITS}]+）|第[{_CN_DIGITS}]+[章节部分条]|\d+[.、])")
_SPEAKER_VERBS = "强调|指出|表示|要求|说|认为|提出"
# "习近平强调，他强调，" -> "习近平强调，": a second tag right after the first adds nothing.
_REPEATED_TAG = re.compile(
    rf"(?P<tag>[{CJK}]{{1,8}}?(?:{_SPEAKER_VERBS}))(?P<p>[，：])(?:他|她|其|(?P=tag))?(?:{_SPEAKER_VERBS})[，：]"
)
_HALF_TO_FULL = {",": "，", ";": "；", ":": "：", "?": "？", "!": "！", "(": "（", ")": "）"}


@dataclass
class Material:
    """A study material after normalisation. ``sentences[i]`` are the sentences of ``paragraphs[i]``."""

    original: str
    title: str = ""
    header_lines: list[str] = field(default_factory=list)
    paragraphs: list[str] = field(default_factory=list)
    sentences: list[list[str]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(self.paragraphs)

    def to_dict(self) -> dict:
        return {
            "title": self.title,
            "header_lines": list(self.header_lines),
            "paragraphs": list(self.paragraphs),
            "sentences": [list(s) for s in self.sentences],
        }


def normalise(text: str) -> Material:
    """Clean a decoded material into title, header lines, paragraphs and sentences."""
    lines = [_clean_line(line) for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    lines = [line for line in lines if line]
    header, title, start = _split_header(lines)
    paragraphs = _join_broken(lines[start:])
    paragraphs = [_REPEATED_TAG.sub(r"\g<tag>\g<p>", _tighten(p)) for p in paragraphs]
    paragraphs = [p for p in paragraphs if p]
    return Material(
        original=text,
        title=title,
        header_lines=header,
        paragraphs=paragraphs,
        sentences=[split_sentences(p) for p in paragraphs],
    )


def _clean_line(line: str) -> str:
    line = line.replace("\ufeff", "").replace("\u3000", " ").replace("\xa0", " ")
    # Full-width Latin letters and digits to ASCII; the genre's punctuation stays full-width.
    line = "".join(chr(ord(c) - 0xFEE0) if "\uff10" <= c <= "\uff19" or "\uff21" <= c <= "\uff3a"
                   or "\uff41" <= c <= "\uff5a" else c for c in line)
    # Braces would let source text fake cloze markup: keep them visibly but inertly.
    line = line.replace("{", "｛").replace("}", "｝")
    line = re.sub(r"[ \t\f\v]+", " ", line).strip()
    return _unify_punctuation(line)


def _unify_punctuation(line: str) -> str:
    if not _CJK_CHAR.search(line):
        return line
    # ASCII punctuation touching Chinese becomes the full-width form.
    line = re.sub(rf"(?<=[{CJK}”》）])\s*([,;:?!])|([,;:?!])\s*(?=[{CJK}“《（])",
                  lambda m: _HALF_TO_FULL[m.group(1) or m.group(2)], line)
    line = re.sub(rf"(?<=[{CJK}])\s*\(|\(\s*(?=[{CJK}])", "（", line)
    line = re.sub(rf"(?<=[{CJK}])\s*\)|\)(?=[{CJK}，。；])", "）", line)
    line = re.sub(r"\.{3,}|。{3,}", "…", line)
    line = re.sub(rf"(?<=[{CJK}])\.(?=\s|$)", "。", line)
    if '"' in line:  # straight double quotes alternate open/close
        parts = line.split('"')
        line = parts[0] + "".join(("“" if i % 2 else "”") + part for i, part in enumerate(parts[1:], 1))
    return line.replace("::", "：：")


def _tighten(text: str) -> str:
    """Remove spaces next to Chinese characters and full-width punctuation ("近 8 年" -> "近8年")."""
    punct = "，。、；：？！“”‘’《》（）…—"
    text = re.sub(rf"(?<=[{CJK}{punct}])\s+(?=[{CJK}{punct}\d])", "", text)
    return re.sub(rf"(?<=[\d{punct}])\s+(?=[{CJK}{punct}])", "", text)


def _split_header(lines: list[str]) -> tuple[list[str], str, int]:
    """Leading short lines without sentence punctuation: a "…学习材料：" line, a headline."""
    header: list[str] = []
    title = ""
    body_start = min(len(lines), 4)
    for index, line in enumerate(lines[:4]):
        if (len(line) > 120 or any(c in line for c in "。！？；") or _ENUMERATED.match(line)
                or ("，" in line and not line.endswith(("：", ":")))):
            body_start = index
            break
        if line.endswith(("：", ":")) or title:
            header.append(re.sub(rf"(?<=[\d{CJK}])\s+(?=[\d{CJK}])", "", line))
        else:
            # Headlines separate their parts with spaces; keep those, drop digit padding.
            title = re.sub(rf"(?<=[{CJK}])\s+(?=\d)|(?<=\d)\s+(?=[{CJK}])", "", line)
    if body_start >= len(lines):
        return [], "", 0  # nothing but short lines: they are the body
    return header, title, body_start


def _join_broken(lines: list[str]) -> list[str]:
    """Join paragraphs that a line break split mid-sentence; leave headings alone."""
    out: list[str] = []
    for line in lines:
        if out and _is_unfinished(out[-1]) and not _ENUMERATED.match(line):
            out[-1] = out[-1] + line
        else:
            out.append(line)
    return out


def _is_unfinished(paragraph: str) -> bool:
    if paragraph.endswith(("，", "、", ",")):
        return True
    if paragraph[-1] in _COMPLETE_END or _ENUMERATED.match(paragraph):
        return False
    # A long paragraph that already holds sentences but stops mid-clause was cut by a line break;
    # a short one without sentence punctuation is a heading.
    return len(paragraph) > 20 and any(c in paragraph for c in TERMINAL + "，")


def split_sentences(paragraph: str) -> list[str]:
    """Split on 。！？； outside quotes and brackets; closing quotes stay with their sentence."""
    sentences: list[str] = []
    stack: list[str] = []
    start = 0
    i = 0
    n = len(paragraph)
    while i < n:
        ch = paragraph[i]
        if ch in _OPENERS:
            stack.append(_OPENERS[ch])
        elif ch in _CLOSERS and stack and stack[-1] == ch:
            stack.pop()
        elif ch in TERMINAL and (not stack or i - start > 300):
            stack.clear()  # unbalanced quotes must not swallow the rest of the paragraph
            j = i + 1
            while j < n and paragraph[j] in "”’）》」』" + TERMINAL:
                j += 1
            sentences.append(paragraph[start:j])
            start = i = j
            continue
        i += 1
    if paragraph[start:].strip():
        sentences.append(paragraph[start:])
    return sentences
