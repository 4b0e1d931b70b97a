"""Anki cloze markup: parse, validate, render. The web app and the Anki export both use these.

``{{c1::答案}}`` or ``{{c1::答案::提示}}``; a note gives one card per distinct cloze number.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

_OPEN = re.compile(r"\{\{c(\d+)::")


@dataclass(frozen=True)
class Cloze:
    number: int
    answer: str
    hint: str | None
    start: int  # span of the whole {{…}} in the note text
    end: int


def parse(text: str) -> list[str | Cloze]:
    """Split note text into plain strings and Cloze parts; ValueError on bad markup."""
    parts: list[str | Cloze] = []
    pos = 0
    while True:
        opening = text.find("{{", pos)
        closing = text.find("}}", pos)
        if closing != -1 and (opening == -1 or closing < opening):
            raise ValueError(f"挖空标记不配对：第 {closing + 1} 个字符处多了“}}}}”。")
        if opening == -1:
            break
        match = _OPEN.match(text, opening)
        if not match:
            raise ValueError(f"挖空标记格式不对：第 {opening + 1} 个字符处的“{{{{”后应为“c数字::”。")
        number = int(match.group(1))
        if number < 1:
            raise ValueError("挖空编号必须从 1 开始（c1、c2……）。")
        end = text.find("}}", match.end())
        if end == -1:
            raise ValueError(f"挖空标记不配对：第 {opening + 1} 个字符处的“{{{{”没有对应的“}}}}”。")
        if "{{" in text[match.end():end]:
            raise ValueError("挖空标记不能嵌套。")
        body = text[match.end():end]
        answer, _, hint = body.partition("::")
        if not answer.strip():
            raise ValueError(f"第 {number} 号挖空是空的，请填写要隐藏的内容。")
        if text[pos:opening]:
            parts.append(text[pos:opening])
        parts.append(Cloze(number, answer, hint or None, opening, end + 2))
        pos = end + 2
    if text[pos:]:
        parts.append(text[pos:])
    return parts


def validate_cloze(text: str) -> list[int]:
    """The note's cloze numbers, sorted; ValueError (Chinese message) if markup is bad or absent."""
    numbers = sorted({p.number for p in parse(text) if isinstance(p, Cloze)})
    if not numbers:
        raise ValueError("没有挖空：请用 {{c1::要隐藏的内容}} 标出至少一处。")
    return numbers


def cloze_numbers(text: str) -> list[int]:
    """Distinct cloze numbers in order; [] for text without (valid) markup."""
    try:
        return sorted({p.number for p in parse(text) if isinstance(p, Cloze)})
    except ValueError:
        return []


def hidden_text(text: str, n: int) -> str:
    """What card ``n`` hides; several parts of one number are joined with "…"."""
    return "…".join(p.answer for p in parse(text) if isinstance(p, Cloze) and p.number == n)


def plain_text(text: str) -> str:
    """The note with all markup removed (every answer shown)."""
    return "".join(p.answer if isinstance(p, Cloze) else p for p in parse(text))


def list_size(answer: str) -> int:
    """Items in a series answer joined by 、 (outside quotes and brackets)."""
    depth = 0
    items = 1
    for ch in answer:
        if ch in "“《（「‘":
            depth += 1
        elif ch in "”》）」’":
            depth = max(0, depth - 1)
        elif ch == "、" and depth == 0:
            items += 1
    return items


def _render(text: str, n: int, reveal: bool) -> str:
    out: list[str] = []
    for part in parse(text):
        if isinstance(part, str):
            out.append(html.escape(part))
        elif part.number != n:
            out.append(html.escape(part.answer))
        elif reveal:
            out.append(f'<span class="cloze">{html.escape(part.answer)}</span>')
        else:
            if part.hint:
                label = f"[{html.escape(part.hint)}]"
            else:
                items = list_size(part.answer)
                label = f"[…{items}项]" if items > 1 else "[…]"
            out.append(f'<span class="cloze">{label}</span>')
    return "".join(out)


def render_prompt(text: str, n: int) -> str:
    """HTML for the front of card ``n``: its clozes as [… ] (or [hint], or […4项] for a series)."""
    if n not in validate_cloze(text):
        raise ValueError(f"这条笔记没有第 {n} 号挖空。")
    return _render(text, n, reveal=False)


def render_answer(text: str, n: int) -> str:
    """HTML for the back of card ``n``: its clozes revealed and marked."""
    if n not in validate_cloze(text):
        raise ValueError(f"这条笔记没有第 {n} 号挖空。")
    return _render(text, n, reveal=True)
