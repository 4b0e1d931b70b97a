"""Material -> ranked formulations -> note drafts.

Each sentence is cut into clauses (at ，；： outside quotes); short neighbouring clauses are
grouped into a *unit*, the context a note shows. Detectors propose spans to hide; every span is
scored by its detector's strength and the TF-IDF weight (jieba.analyse's IDF table, term
frequency from this material) of the words it hides; the best are kept within a budget that
grows with the material's distinct content words (not its length: a long material restates its
themes), so the deck stays selective.
"""

from __future__ import annotations

import heapq
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import jieba

from . import detectors
from .detectors import Candidate, Clause
from .normalise import CJK, Material, normalise
from .notes import NoteDraft, normalise_span, note_key
from .segment import Token, tokens

CLAUSE_BREAKS = "，；：。！？"
UNIT_TARGET = 28  # merge neighbouring clauses until a unit has about this many characters
WORDS_PER_ITEM = 5.2  # review-item budget: one per this many distinct content words (see budget)
_CONTENT = re.compile(f"[{CJK}]")
_SPEAKER_CLAUSE = re.compile(rf"^[{CJK}]{{0,10}}(强调|指出|表示|要求|认为|说|总的看|总的来看|从长远来看)$")


@dataclass
class Unit:
    paragraph: int
    sentence: int
    start: int
    end: int
    clause_ids: list[int]


@dataclass
class _Sentence:
    paragraph: int
    index: int
    start: int
    end: int
    clauses: list[Clause]


@lru_cache(maxsize=1)
def _idf() -> tuple[dict[str, float], float]:
    """jieba.analyse's IDF table (the one its TF-IDF keyword extraction uses).

    Read directly rather than via ``import jieba.analyse``, whose import opens the file without
    closing it (a ResourceWarning) and would also build a TextRank we do not use.
    """
    path = Path(jieba.__file__).parent / "analyse" / "idf.txt"
    idf: dict[str, float] = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            word, _, value = line.strip().partition(" ")
            if value:
                idf[word] = float(value)
    values = sorted(idf.values())
    return idf, values[len(values) // 2]


def _clauses(text: str, start: int, end: int, toks: list[Token]) -> list[Clause]:
    out: list[Clause] = []
    depth = 0
    begin = start
    for i in range(start, end + 1):
        ch = text[i] if i < end else "。"
        if ch in "“《（「‘":
            depth += 1
        elif ch in "”》）」’":
            depth = max(0, depth - 1)
        elif ch in CLAUSE_BREAKS and (depth == 0 or i == end):
            lo, hi = begin, i
            while lo < hi and text[lo].isspace():
                lo += 1
            while hi > lo and (text[hi - 1].isspace() or text[hi - 1] in "”’）》」』" and depth):
                hi -= 1
            if hi > lo:
                out.append(Clause(lo, hi, [t for t in _overlapping(toks, lo, hi) if t.start >= lo and t.end <= hi]))
            begin = i + 1
            depth = 0 if ch in "。！？；" else depth
    return out


def _units(sentence: _Sentence, forced: list[tuple[int, int]]) -> list[Unit]:
    """Group a sentence's clauses into units of about UNIT_TARGET characters."""
    ids = [i for i, c in enumerate(sentence.clauses)
           if not _SPEAKER_CLAUSE.match(_text_of(sentence, c)) or len(sentence.clauses) == 1]
    units: list[list[int]] = []
    for i in ids:
        clause = sentence.clauses[i]
        if units:
            current = units[-1]
            first = sentence.clauses[current[0]]
            length = clause.end - first.start
            inside_forced = any(a <= current[-1] and i <= b for a, b in forced)
            if inside_forced or length <= UNIT_TARGET or (
                    sentence.clauses[current[-1]].end - first.start < 10 and length <= 2 * UNIT_TARGET):
                current.append(i)
                continue
        units.append([i])
    return [Unit(sentence.paragraph, sentence.index, sentence.clauses[u[0]].start,
                 sentence.clauses[u[-1]].end, u) for u in units]


_TEXT: dict[int, str] = {}


def _text_of(sentence: _Sentence, clause: Clause) -> str:
    return _TEXT[sentence.paragraph][clause.start:clause.end]


def _weights(all_tokens: list[list[Token]]) -> dict[str, float]:
    idf, median = _idf()
    counts: dict[str, int] = {}
    for toks in all_tokens:
        for t in toks:
            if len(t.word) >= 2 and re.match(f"[{CJK}]", t.word):
                counts[t.word] = counts.get(t.word, 0) + 1
    # Rarity first (IDF), with a mild bonus for what this material repeats.
    weights = {w: idf.get(w, median) * (1 + 0.2 * math.log(c)) for w, c in counts.items()}
    top = max(weights.values(), default=1.0)
    return {w: v / top for w, v in weights.items()}


def _overlapping(toks: list[Token], start: int, end: int) -> list[Token]:
    """Tokens overlapping [start, end); ``toks`` are in text order and contiguous."""
    lo, hi = 0, len(toks)
    while lo < hi:  # first token ending after start
        mid = (lo + hi) // 2
        if toks[mid].end <= start:
            lo = mid + 1
        else:
            hi = mid
    out = []
    while lo < len(toks) and toks[lo].start < end:
        out.append(toks[lo])
        lo += 1
    return out


def _salience(cand: Candidate, toks: list[Token], weights: dict[str, float]) -> float:
    values = sorted((weights[t.word] for s, e in cand.parts for t in _overlapping(toks, s, e)
                     if t.word in weights), reverse=True)
    if not values:
        return 0.5  # numbers and single characters: the detector's strength speaks
    return sum(values[:2]) / min(2, len(values))


def budget(material: Material, para_tokens: list[list[Token]] | None = None) -> int:
    """How many review items the deck may hold: one per WORDS_PER_ITEM distinct content words.

    Distinct words, not characters: a long material restates its themes (vocabulary grows
    sublinearly with length), while a short dense one packs a new formulation into nearly
    every clause. Formulations track new content, so the budget does too.
    """
    if para_tokens is None:
        para_tokens = [tokens(p) for p in material.paragraphs]
    words = {t.word for toks in para_tokens for t in toks if len(t.word) >= 2 and _CONTENT.match(t.word)}
    return max(3, round(len(words) / WORDS_PER_ITEM))


def extract(material_or_text: Material | str, identity: str) -> list[NoteDraft]:
    """Draft the notes of a material (normalising it first when given text)."""
    material = material_or_text if isinstance(material_or_text, Material) else normalise(material_or_text)
    sentences: list[_Sentence] = []
    para_tokens: list[list[Token]] = []
    for p, paragraph in enumerate(material.paragraphs):
        _TEXT[p] = paragraph
        toks = tokens(paragraph)
        para_tokens.append(toks)
        offset = 0
        for s, sentence in enumerate(material.sentences[p]):
            start = paragraph.find(sentence, offset)
            end = start + len(sentence)
            offset = end
            sentences.append(_Sentence(p, s, start, end, _clauses(paragraph, start, end, toks)))
    weights = _weights(para_tokens)

    # Candidates, each tied to the unit that will show it.
    units: list[Unit] = []
    owned: list[tuple[Candidate, int]] = []
    for sentence in sentences:
        text = material.paragraphs[sentence.paragraph]
        heads = detectors.shared_heads(text, sentence.clauses)
        sentence_units = _units(sentence, [c.clauses for c in heads])
        unit_of = {cid: len(units) + k for k, u in enumerate(sentence_units) for cid in u.clause_ids}
        units.extend(sentence_units)
        for cid, clause in enumerate(sentence.clauses):
            if cid not in unit_of:
                continue
            for detect in detectors.CLAUSE_DETECTORS:
                for cand in detect(text, clause):
                    owned.append((cand, unit_of[cid]))
        for cand in heads:
            if cand.clauses[0] in unit_of and unit_of[cand.clauses[0]] == unit_of.get(cand.clauses[1]):
                owned.append((cand, unit_of[cand.clauses[0]]))
    for cand, u in owned:
        cand.score = cand.strength * (0.5 + _salience(cand, para_tokens[units[u].paragraph], weights))
        hidden = sum(e - s for s, e in cand.parts)
        if hidden <= 2 and cand.kind not in ("number", "term") and cand.detector != "frame":
            cand.score *= 0.7  # "重点", "整体": too little to be worth a card

    chosen = _select(owned, units, material, budget(material, para_tokens))
    return _drafts(chosen, units, material, identity)


def _hidden(cand: Candidate, text: str) -> str:
    return "…".join(text[s:e] for s, e in cand.parts)


def _select(owned: list[tuple[Candidate, int]], units: list[Unit], material: Material,
            limit: int) -> dict[int, list[Candidate]]:
    """Best-first within the budget; no overlaps, no duplicate review items.

    A formulation already chosen elsewhere counts again only at a discount: repeating the same
    answer in another context is worth less than a new one.
    """
    heap = [(-c.score, n, 0, c, u) for n, (c, u) in enumerate(owned)]
    heapq.heapify(heap)
    chosen: dict[int, list[Candidate]] = {}
    seen_hidden: dict[str, int] = {}
    seen_items: set[tuple[str, str]] = set()
    count = 0
    while heap and count < limit:
        neg, n, times, cand, u = heapq.heappop(heap)
        unit = units[u]
        text = material.paragraphs[unit.paragraph]
        hidden = normalise_span(_hidden(cand, text))
        parts = [normalise_span(text[s:e]) for s, e in cand.parts]
        if not hidden or any(len(h) < 2 and not (h.isdigit() or h in detectors.NUMERALS) for h in parts):
            continue  # every hidden part is a card's answer on its own: 由{乱}到{治} would be junk
        if any(s < unit.start or e > unit.end for s, e in cand.parts):
            continue
        taken = chosen.get(u, [])
        if any(s < e2 and s2 < e for other in taken for s2, e2 in other.parts for s, e in cand.parts):
            continue
        item = (normalise_span(text[unit.start:unit.end]), hidden)
        if item in seen_items:
            continue
        repeats = seen_hidden.get(hidden, 0)
        if repeats > times:  # re-queue at a discount for each earlier use
            heapq.heappush(heap, (neg * 0.5 ** (repeats - times), n, repeats, cand, u))
            continue
        seen_hidden[hidden] = repeats + 1
        seen_items.add(item)
        chosen.setdefault(u, []).append(cand)
        count += 1
    return chosen


def _drafts(chosen: dict[int, list[Candidate]], units: list[Unit], material: Material,
            identity: str) -> list[NoteDraft]:
    drafts: list[NoteDraft] = []
    occurrences: dict[str, int] = {}
    for u in sorted(chosen):
        unit = units[u]
        text = material.paragraphs[unit.paragraph]
        span = text[unit.start:unit.end]
        norm = normalise_span(span)
        occurrences[norm] = occurrences.get(norm, 0) + 1
        cands = sorted(chosen[u], key=lambda c: min(s for s, _ in c.parts))
        marks: list[tuple[int, int, int]] = []
        for number, cand in enumerate(cands, 1):
            marks.extend((s, e, number) for s, e in cand.parts)
        marks.sort()
        out: list[str] = []
        pos = unit.start
        for s, e, number in marks:
            out.append(text[pos:s])
            out.append(f"{{{{c{number}::{text[s:e]}}}}}")
            pos = e
        out.append(text[pos:unit.end])
        kinds = {c.kind for c in cands}
        kind = kinds.pop() if len(kinds) == 1 else "cloze"
        drafts.append(NoteDraft(
            kind=kind,
            text="".join(out).strip(),
            extra=material.sentences[unit.paragraph][unit.sentence].strip(),
            source={"paragraph": unit.paragraph + 1, "sentence": unit.sentence + 1},
            key=note_key(identity, span, occurrences[norm]),
        ))
    return drafts
