"""Structural detectors: each looks at one clause (or a run of clauses) and proposes spans to hide.

A detector knows the genre's shapes, never a particular material's phrases: series joined by 、,
"X和Y" pairs, quoted terms and titles, numbers, thesis frames (以…为…, 把…作为…, 在…上, 从…到…),
the object of a leading verb (坚持 / 统筹 …), set phrases, and runs of clauses with a shared head.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass, field

from .segment import Token


@dataclass
class Clause:
    start: int  # offsets in the paragraph, punctuation excluded
    end: int
    tokens: list[Token]


@dataclass
class Candidate:
    parts: list[tuple[int, int]]  # paragraph offsets of the hidden spans (one cloze number)
    kind: str  # list, term, number, cloze
    detector: str
    strength: float
    score: float = 0.0
    clauses: tuple[int, int] = (0, 0)  # first and last clause index within the sentence
    meta: dict = field(default_factory=dict)


# Adverbs and modal words that open a clause before its verb.
OPENERS = {
    "要", "必须", "更好", "更加", "进一步", "积极", "大力", "努力", "继续", "坚定", "毫不动摇", "切实", "持续",
    "不断", "深入", "全面", "着力", "扎实", "稳步", "加快", "协同", "认真", "始终", "坚决", "同时", "还要",
    "也要", "既要", "又要", "都要", "应", "应当", "需要", "务必", "坚定不移", "逐步", "着眼", "有序",
    "统筹", "系统", "全力", "主动", "重点", "优先", "接续", "科学", "及时", "定期", "广泛", "依法", "严格",
}
# Verbs whose object is itself a thesis worth recalling (坚持…, 统筹…, 树立…).
THESIS_VERBS = {"坚持", "统筹", "树立", "践行", "贯彻", "坚守", "守住", "筑牢", "牢记", "弘扬", "把握"}
# Head nouns of boilerplate objects (提升X能力, 发挥X作用, 推进X工作): what they frame is rarely the point.
GENERIC_HEADS = ("能力", "水平", "作用", "工作", "问题", "程度", "本领", "成果", "效果", "力度")
COMPLEMENTS = set("好住牢实细准")
# What makes "subject + verb" a task rather than a report: 沿江省市要坚持…, 各级党组织必须…
MODALS = {"要", "必须", "应", "应当", "需要", "务必", "还要", "也要", "都要", "既要", "又要", "更要", "须"}
FUNCTION_WORDS = {"的", "和", "与", "及", "等", "了", "地", "得", "之", "并", "或", "也", "都", "而", "以"}
TRANSFORM_VERBS = ("转化为", "转化成", "转变为", "变为", "建成", "建设成为", "建设成", "打造成", "打造为",
                   "融入", "放到", "放在", "落实到", "贯穿", "纳入", "摆在", "提升为", "上升为")
AS_VERBS = ("作为", "当作", "当成", "视为")
LOCATIVES = ("方面", "领域", "层面", "之中", "上", "中", "里")
NUMERALS = "零〇一二两三四五六七八九十百千万亿"
CJK_RANGE = "\u3400-\u4dbf\u4e00-\u9fff"
SPEAKER = re.compile(r"(强调|指出|表示|要求|说|认为|提出|看|来看|而言|来说)$")
_ENUMERATOR = re.compile(r"[零〇一二两三四五六七八九十]+是")
_QUOTED = re.compile(r"“([^“”]{1,24})”|《([^《》]{1,40})》")
_ARABIC = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)\s*(%|％)?")
_DATE = re.compile(r"(?:\d{4}年)?\d{1,2}月\d{1,2}日|\d{4}年\d{1,2}月|\d{4}年(?=[以前后底初末]|至|到|—|-)")
_CN_NUMBER = re.compile(rf"[{NUMERALS}]+")
COUNT_UNITS = tuple("年个项条次倍家所种类批座亿万名位届件点大步") + ("周年", "百分点")


def _span_text(text: str, start: int, end: int) -> str:
    return text[start:end]


def _tokens_in(tokens: list[Token], start: int, end: int) -> list[Token]:
    return [t for t in tokens if t.start >= start and t.end <= end]


def _outside_quotes(text: str, start: int, end: int, char: str) -> list[int]:
    depth = 0
    out: list[int] = []
    for i in range(start, end):
        ch = text[i]
        if ch in "“《（「‘":
            depth += 1
        elif ch in "”》）」’":
            depth = max(0, depth - 1)
        elif ch == char and depth == 0:
            out.append(i)
    return out


# ---------------------------------------------------------------- series and pairs


def _align(text: str, tokens: list[Token], first: tuple[int, int], last: tuple[int, int],
           middles: list[tuple[int, int]], clause: Clause) -> tuple[int, int] | None:
    """Choose where the first item starts and the last item ends, at jieba word boundaries.

    Items of a series are alike: similar length, often a shared first or last character.
    Splitting a compound noun ("科研|优势") is penalised, so is a one-character item.
    """
    f_tokens = _tokens_in(tokens, first[0], first[1])
    l_tokens = _tokens_in(tokens, last[0], last[1])
    last_text = text[last[0]:last[1]]

    def parallel(word: str) -> bool:  # 不敢腐、不能腐 / 从东部向…、从中心城市向…: items open alike
        return last_text.startswith(word) and all(text.startswith(word, s) for s, _ in middles)

    # An item does not open with a particle, conjunction or preposition unless every item does:
    # "决心之大、力度之大" starts at 决心, not 之; "还是主销区" drops 还是.
    starts = [t.start for t in f_tokens if (t.pos != "x" or t.word.strip("“《")) and (
        parallel(t.word) or not (t.word in FUNCTION_WORDS or t.word[0] in "之的"
                                 or t.pos in ("c", "u", "uj", "ul", "p")))
        and not _ENUMERATOR.match(text, t.start, first[1])]  # 三是完成…: the enumerator is not the item
    ends = []
    for t in l_tokens:
        if t.word in ("等", "等等") or t.word in "，；。":
            break
        if t.word not in FUNCTION_WORDS and t.pos not in ("d", "p", "c", "u", "uj", "r"):
            ends.append(t.end)
    if not starts or not ends:
        return None
    mid_lens = [e - s for s, e in middles]
    target = statistics.median(mid_lens) if mid_lens else None
    mids_text = [text[s:e] for s, e in middles]
    by_start = {t.start: t for t in tokens}
    by_end = {t.end: t for t in tokens}
    best: tuple[tuple[float, int], int, int] | None = None
    for s in starts:
        l1 = first[1] - s
        item1 = text[s:first[1]]
        for e in ends:
            l2 = e - last[0]
            item2 = text[last[0]:e]
            if max(l1, l2) > 20:
                continue
            cost = abs(l1 - target) + abs(l2 - target) if target else abs(l1 - l2) * 1.0
            if l1 < 2 or l2 < 2:
                cost += 2
            prev_tok = by_end.get(s)
            if prev_tok and s > first[0] and prev_tok.nounish and by_start[s].nounish:
                cost += 1.5
            next_tok = by_start.get(e)
            if next_tok and e < last[1] and next_tok.nounish and by_end[e].nounish:
                cost += 1.5
            others = mids_text or [item2]
            if all(o[:1] == item1[:1] for o in others):
                cost -= 1.0
            others = mids_text or [item1]
            if all(o[-1:] == item2[-1:] for o in others):
                cost -= 1.0
            items_text = [item1, item2] + mids_text
            # 人民城市人民建、人民城市为人民: items opening with the same word are parallel whatever
            # particles they hold.
            alike = len(by_start[s].word) >= 2 and parallel(by_start[s].word)
            for item_start, item_end in ((s, first[1]), (last[0], e)):
                inner = _tokens_in(tokens, item_start, item_end)[1:]  # 从东部向… may open with 从
                if not alike and any((t.word in FUNCTION_WORDS or t.pos == "p")
                                     and not all(t.word in it for it in items_text) for t in inner if t.word != "之"):
                    cost += 3  # "把…的科研优势" is not an item; "严管和厚爱结合、激励和约束并重" is parallel
            if (by_start[s].pos == "v" and by_start[s].end < first[1]
                    and by_start.get(last[0], by_start[s]).pos[:1] == "n"):
                cost += 2.0  # "推进生态共同体" vs "利益共同体": the verb is context, not the item
            key = (cost, -l1 - l2)
            if best is None or key < best[0]:
                best = (key, s, e)
    if best is None:
        return None
    return best[1], best[2]


def series(text: str, clause: Clause) -> list[Candidate]:
    """Items joined by 、: hide the whole series as one list cloze."""
    seps = _outside_quotes(text, clause.start, clause.end, "、")
    if not seps:
        return []
    pieces = []
    begin = clause.start
    for sep in seps:
        pieces.append((begin, sep))
        begin = sep + 1
    pieces.append((begin, clause.end))
    if re.fullmatch(f"[{NUMERALS}]+", text[pieces[0][0]:pieces[0][1]]):
        pieces = pieces[1:]  # "四、加快构建新发展格局": a heading's number, not an item
        if len(pieces) < 2:
            return []
    # A long middle piece (or one with 等) ends one series and starts the next.
    runs: list[list[tuple[int, int]]] = [[pieces[0]]]
    for piece in pieces[1:-1]:
        runs[-1].append(piece)
        piece_text = text[piece[0]:piece[1]]
        if piece[1] - piece[0] > 12 or "等" in piece_text:
            runs.append([piece])
    runs[-1].append(pieces[-1])
    out: list[Candidate] = []
    for run in runs:
        if len(run) < 2:
            continue
        span = _align(text, clause.tokens, run[0], run[-1], run[1:-1], clause)
        if span is None:
            continue
        following = [t for t in clause.tokens if t.start >= span[1]][:2]
        titled = [t for t in clause.tokens if run[-1][0] < t.start and t.end <= span[1]]  # 总理李强: title, name
        if any(t.pos.startswith("nr") for t in following + titled):
            continue  # 总书记、国家主席、中央军委主席习近平: a byline's titles, not a formulation
        items = len(run)
        out.append(Candidate([span], "list", "series", 3.0, meta={"items": items}))
    return out


def _noun_edge(tok: Token) -> bool:
    return (tok.nounish or tok.pos in ("an", "m")) and tok.word not in FUNCTION_WORDS and tok.pos != "x"


def pairs(text: str, clause: Clause) -> list[Candidate]:
    """"X和Y" where both sides are nouns: "生态共同体和利益共同体"."""
    out: list[Candidate] = []
    toks = clause.tokens
    for i, tok in enumerate(toks):
        if tok.word not in ("和", "与", "及", "以及") or i == 0 or i == len(toks) - 1:
            continue
        before, after = toks[i - 1], toks[i + 1]
        # 政治功能和组织功能: jieba tags 组织 a verb, but the shared head word makes it a pair.
        shared = before.word in {t.word for t in toks[i + 2:i + 5]} or (
            i + 2 < len(toks) and len(toks[i + 2].word) == len(before.word) == 2
            and toks[i + 2].word[-1] == before.word[-1])  # 自然恢复和人工修复: parallel endings
        if not ((before.nounish or shared) and (after.nounish or shared)) or (
                before.pos == "x" and not before.word.isalnum()):
            continue
        left_start = clause.start
        for sep in _outside_quotes(text, clause.start, tok.start, "、"):
            left_start = sep + 1
        span = _align(text, toks, (left_start, tok.start), (tok.end, clause.end), [], clause)
        if span is None:
            continue
        # Both ends are nouns: "扎实推进|大气和土壤污染防治", "…高质量发展|正处于" are context.
        inside = [t for t in toks if span[0] <= t.start and t.end <= span[1] and t.word.strip()]
        while inside and not _noun_edge(inside[0]) and not (
                shared and inside[0].pos == "d" and len(inside[0].word) == 2):
            inside.pop(0)
        after_span = {t.start: t for t in toks}
        while inside and not _noun_edge(inside[-1]) and not (
                inside[-1].pos == "v" and len(inside[-1].word) == 2
                and (inside[-1].end == clause.end or getattr(after_span.get(inside[-1].end), "word", "") == "的")):
            inside.pop()  # 高水平保护的关系: a verb closing a nominal (before 的 or the clause end) stays
        if not inside:
            continue
        span = (inside[0].start, inside[-1].end)
        if tok.start - span[0] < 2 or span[1] - tok.end < 2:
            continue
        # Real pairs are parallel: 生态共同体和利益共同体, 政策协同和工作协同 share their head and
        # match in length; "优化组合和科技", "大气和土壤污染" are a phrase cut at 和.
        left, right = text[span[0]:tok.start], text[tok.end:span[1]]
        strength = 1.9 + (0.5 if left[-1] == right[-1] else 0.0) - 0.15 * abs(len(left) - len(right))
        out.append(Candidate([span], "cloze", "pair", strength))
    return out


# ---------------------------------------------------------------- quotes and numbers


def quoted(text: str, clause: Clause) -> list[Candidate]:
    """“十年禁渔”, “一盘棋”, 《规划纲要》: quoted terms and titles."""
    out: list[Candidate] = []
    segment = text[clause.start:clause.end]
    for m in _QUOTED.finditer(segment):
        group = 1 if m.group(1) is not None else 2
        start, end = clause.start + m.start(group), clause.start + m.end(group)
        inner = text[start:end]
        if len(inner.strip()) < 2 and not any(c in NUMERALS or c.isdigit() for c in inner):
            continue
        out.append(Candidate([(start, end)], "term", "quote", 3.0))
    return out


def numbers(text: str, clause: Clause) -> list[Candidate]:
    """Counts and dates, Arabic or Chinese numerals: 近8年, 五个中心, 二〇三五年."""
    out: list[Candidate] = []
    segment = text[clause.start:clause.end]
    taken: list[tuple[int, int]] = []
    for m in _DATE.finditer(segment):
        span = (clause.start + m.start(), clause.start + m.end())
        taken.append(span)
        out.append(Candidate([span], "number", "date", 1.0))
    for m in _ARABIC.finditer(segment):
        span = (clause.start + m.start(), clause.start + m.end())
        if any(s <= span[0] < e for s, e in taken):
            continue
        after = segment[m.end():m.end() + 2]
        strength = 2.6 if after.startswith(COUNT_UNITS) or m.group(2) else 1.6
        out.append(Candidate([span], "number", "number", strength))
    pos_at = {t.start: t.pos for t in clause.tokens}
    for m in _CN_NUMBER.finditer(segment):
        start = clause.start + m.start()
        digits = m.group(0)
        if any(s <= start < e for s, e in taken) or not pos_at.get(start, "").startswith("m"):
            continue  # 统一, 万物: the numeral is part of an ordinary word
        if digits in ("一", "万", "千", "百", "亿"):
            continue  # 一批: not a count worth recalling
        after = segment[m.end():m.end() + 2]
        strength = 2.2 if after.startswith(COUNT_UNITS) or len(digits) > 1 else 1.4
        if after.startswith(("大", "届")) and segment[max(0, m.start() - 1):m.start()] in ("党", "的", "第"):
            strength = 1.2  # 党的十八大以来: a congress's name, not a count to recall
        out.append(Candidate([(start, start + len(digits))], "number", "numeral", strength))
    return out


# ---------------------------------------------------------------- thesis frames


def _skip_openers(toks: list[Token]) -> int:
    i = 0
    while i < len(toks) - 1 and (toks[i].word in OPENERS or toks[i].pos in ("d", "ad", "c")):
        i += 1
    return i


def _trim_locative(text: str, start: int, end: int) -> int:
    for loc in LOCATIVES:
        if text.endswith(loc, start, end) and end - len(loc) - start >= 2:
            return end - len(loc)
    return end


_NOT_YI_BEFORE = set("可所加难予足用得借")
_NOT_YI_AFTER = set("及来上下后前外内便免致至期")
_NOT_ZAI_BEFORE = set("存正现实所自内外潜")
_FRAME_AS = re.compile(r"把([^，。；：]{2,20}?)(作为|当作|当成|视为)")
_FRAME_TO = re.compile(
    r"把([^，。；：]{2,20}?)(转化为|转化成|转变为|变为|建成|建设成为|建设成|打造成|打造为|融入|放到|放在|落实到|贯穿到|贯穿|"
    r"纳入|摆在|提升为|上升为)([^，。；：]{2,16})")
_FRAME_YI = re.compile(r"以([^，。；：、]{2,14}?)为([^，。；：]{1,8})")
_FRAME_AT = re.compile(r"(在|从)([^，。；：、]{2,12}?)(方面|领域|层面|之中|上|中|入手|出发|抓起|做起)")
_FRAME_FROM_TO = re.compile(r"(从|由)([^，。；：、]{1,10}?)(到|向)([^，。；：、]{1,10})")


def frames(text: str, clause: Clause) -> list[Candidate]:
    """以X为Y, 把X作为Y, 把X转化为Y, 在X上/方面, 从X上, 由X到Y: hide X (and Y where it carries meaning)."""
    out: list[Candidate] = []
    seg = text[clause.start:clause.end]
    base = clause.start
    bounds = {t.start for t in clause.tokens} | {t.end for t in clause.tokens}

    def at(m: re.Match, g: int) -> tuple[int, int]:
        return base + m.start(g), base + m.end(g)

    for m in _FRAME_AS.finditer(seg):
        out.append(Candidate([at(m, 1)], "cloze", "frame", 2.5))
    for m in _FRAME_TO.finditer(seg):
        y_start, y_end = at(m, 3)
        y_end = _trim_locative(text, y_start, y_end)
        parts = [at(m, 1)]
        if y_end - y_start >= 2:
            parts.append((y_start, y_end))
        out.append(Candidate(parts, "cloze", "frame", 2.5))
    for m in _FRAME_YI.finditer(seg):
        before = seg[m.start() - 1] if m.start() else ""
        if before in _NOT_YI_BEFORE or m.group(1)[0] in _NOT_YI_AFTER or any(
                t.start < base + m.end(1) < t.end and t.pos != "nx" for t in clause.tokens):
            continue  # 以奋发有为的精神: 为 inside a dictionary word (有为) is no frame
        parts = [at(m, 1)]
        if len(m.group(1)) <= 2:
            # 以人民为中心: a short X makes a set expression with the first word of Y; hide both.
            y_start = base + m.start(2)
            first = [t for t in clause.tokens if t.start == y_start and len(t.word) >= 2]
            if first:
                parts.append((first[0].start, first[0].end))
        out.append(Candidate(parts, "cloze", "frame", 2.5))
    for m in _FRAME_FROM_TO.finditer(seg):
        y_start, y_end = at(m, 4)
        # Y runs to the next word boundary after at most two words: 由量变到质变的….
        cut = [t.end for t in clause.tokens if y_start < t.end <= y_end and t.word not in FUNCTION_WORDS]
        ends = [e for e in cut[:2] if text[e - 1] not in FUNCTION_WORDS]
        if not ends or (m.start() and seg[m.start() - 1] in "自"):
            continue
        out.append(Candidate([at(m, 2), (y_start, ends[-1])], "cloze", "frame", 2.4))
    for m in _FRAME_AT.finditer(seg):
        before = seg[m.start() - 1] if m.start() else ""
        if before in _NOT_ZAI_BEFORE or base + m.start(2) not in bounds:
            continue
        tail = (base + m.end(3), clause.end)
        if tail[1] - tail[0] == 4 and tail[0] in bounds and re.fullmatch(f"[{CJK_RANGE}]{{4}}", text[tail[0]:tail[1]]):
            # 在制度创新方面先行先试: a four-character predicate closing the clause is the other half
            out.append(Candidate([at(m, 2), tail], "cloze", "frame", 2.5))
            continue
        out.append(Candidate([at(m, 2)], "cloze", "frame", 2.2))
    return out


def predicates(text: str, clause: Clause) -> list[Candidate]:
    """A four-character predicate closing a clause after its subject: 创新驱动发展{全面起势}."""
    toks = [t for t in clause.tokens if t.word.strip()]
    if clause.end - clause.start < 8 or not toks:
        return []
    start = clause.end - 4
    before = [t for t in toks if t.end == start]
    if not before or before[0].pos == "v" or before[0].word in FUNCTION_WORDS:
        return []
    last = toks[-1]
    if (last.pos[:1] == "n" and last.pos != "nx") or last.pos in ("vn", "m", "x") or before[0].pos == "ns":
        return []  # "教育政策", "治理体系": a compound noun; "北京召开": a place, then the verb
    return [Candidate([(start, clause.end)], "cloze", "predicate", 1.6)]


def verb_object(text: str, clause: Clause) -> list[Candidate]:
    """The object of the clause's (first) verb: 坚持{创新引领发展}, 更加注重{前端控污}."""
    toks = [t for t in clause.tokens if t.word.strip()]
    if len(toks) < 2 or SPEAKER.search(text[clause.start:clause.end]) and len(toks) <= 3:
        return []
    i = 0
    # a short subject may come first: 沿江省市要坚持…, 教育引导广大干部树立…
    while i < len(toks) - 1 and (toks[i].nounish or toks[i].pos == "r") and toks[i].end - clause.start <= 8 \
            and toks[i].pos not in ("l", "i") and toks[i].word not in OPENERS:
        i += 1
    adverbial = len(toks) > 3 and toks[1].word == "上" and len(toks[0].word) == 2 and toks[0].pos != "v"
    if adverbial:
        i = 2  # 根本上依赖于…, 客观上…: a locative adverbial, not a subject
    if i and not (toks[i].pos.startswith("v") or toks[i].word in OPENERS or toks[i].pos == "d"):
        i = 0
    subject = 0 if adverbial else i
    # openers (要, 更加, 加快 …) count only when a verb follows: "统筹水资源" keeps 统筹 as the verb
    # 锲而不舍落实…, 持之以恒正风肃纪: a four-character adverbial idiom before the verb
    while i < len(toks) - 1 and ((toks[i].word in OPENERS or toks[i].pos in ("d", "ad", "c")) or (
            toks[i].pos in ("i", "l") and len(toks[i].word) == 4 and toks[i + 1].pos.startswith("v"))) and (
            toks[i + 1].pos.startswith(("v", "d", "a")) or toks[i + 1].word in OPENERS) and (
            toks[i + 1].word not in COMPLEMENTS
            and not (toks[i].word in THESIS_VERBS and toks[i + 1].pos in ("vn", "an"))):  # 统筹|发展和安全
        i += 1
    if not (toks[i].pos.startswith("v") or toks[i].pos == "zg"):
        return []
    verb = toks[i].word
    # Imperative (要坚持…, 加快建设…, 沿江省市要…): the genre's theses. A subject followed directly
    # by its verb (改革开放取得重大进展) is narrative: what happened, rarely what to recall.
    narrative = subject > 0 and not any(t.word in MODALS for t in toks[subject:i])
    j = i + 1
    if j < len(toks) - 1 and len(toks[j].word) == 1 and (len(verb) == 1 or toks[j].word in COMPLEMENTS):
        j += 1  # resultative complements: 扛牢, 守住, 抓好, 统筹好, 发挥好
    while j < len(toks) - 2 and toks[j].word in ("和", "与", "并") and toks[j + 1].pos.startswith("v"):
        j += 2  # 树立和践行
    if (j < len(toks) - 2 and len(verb) == 2 and toks[j].pos == "v" and len(toks[j].word) == 2
            and toks[j + 1].pos[:1] == "n"):
        j += 1  # serial verbs: 巩固拓展|主题教育成果, 培育壮大|先进制造业, 实施增强|制造业…
    if j >= len(toks):
        return []
    start, end = toks[j].start, clause.end
    if toks[j].word in FUNCTION_WORDS or toks[j].pos in ("p", "u", "uj") or (
            toks[j].pos == "d" and j + 1 < len(toks) and toks[j + 1].pos.startswith("v")):
        return []  # an object is a nominal: "联动|不断加强" has none, "最广泛的…战线" is one
    obj = toks[j:]
    if all(t.pos == "v" for t in obj) or (len(obj) > 2 and obj[1].word == "上") or any(t.word == "并" for t in obj):
        return []  # "守住|管住" is a second verb; "从|整体上谋划…" an adverbial; "…并加以纠正" a clause
    # "长江文化的时代价值": what is recalled is what comes after the last 的.
    de = [t for t in toks[j:] if t.word == "的"]
    if de and end - de[-1].end >= 3 and end - start > 10 and de[-1].start - start > 6:
        start = de[-1].end  # a short modifier stays: 共建共治共享的社会治理格局
    elif de and end - de[-1].end <= 2 and de[-1].start - start >= 4:
        end = de[-1].start  # …就是金山银山的理念, …的关系: a two-character head frames the point
    if end - start > 16 and "、" not in text[start:end]:
        # 贯彻新时代中国特色社会主义生态文明思想: a long nominal is recalled by its head words
        heads = [t.start for t in toks[j:] if 4 <= end - t.start <= 8 and t.start > start]
        if heads:
            start = heads[0]
    if end - start < 2 or end - start > 16:
        return []
    strength = 2.2 if verb in THESIS_VERBS else 1.6
    if text.endswith(GENERIC_HEADS, start, end) and end - start >= 6:
        # 提升…能力, 发挥…作用, 解决群众急难愁盼问题: the head is the frame, what it frames is the point
        end -= 2
        if text[end - 1] == "的":
            end -= 1
        strength -= 0.3
    if narrative:
        strength -= 0.3
    elif clause.end - clause.start <= 18 and (start == toks[j].start or end - start >= 4):
        strength += 0.4  # a short verb-object clause is a thesis in itself: 完善横向生态保护补偿机制
    return [Candidate([(start, end)], "cloze", "object", strength, meta={"verb": verb})]


def set_phrases(text: str, clause: Clause) -> list[Candidate]:
    """Four-character set phrases jieba knows as idioms: 有目共睹, 先行先试, 前所未有."""
    toks = clause.tokens
    return [Candidate([(t.start, t.end)], "cloze", "idiom", 1.4) for k, t in enumerate(toks)
            if len(t.word) >= 4 and t.start > clause.start and (
                t.pos == "i" or (t.pos == "l" and t.end == clause.end and toks[k - 1].nounish
                                 and toks[k - 1].word not in FUNCTION_WORDS))]


def _remainder(clause: Clause, after: int) -> tuple[int, int] | None:
    """What follows a clause's subject (the nouns after ``after``): the part that varies."""
    toks = [t for t in clause.tokens if t.start >= after]
    k = 0
    while k < len(toks) - 1 and toks[k].nounish and toks[k].pos not in ("l", "i"):
        k += 1
    if not toks or clause.end - toks[k].start < 2 or clause.end - toks[k].start > 10:
        return None
    return toks[k].start, clause.end


def shared_heads(text: str, clauses: list[Clause]) -> list[Candidate]:
    """Runs of clauses opening with the same word: …发展成就有目共睹，发展质量稳步提升，发展态势日趋向好.

    The varying remainders are hidden together under one cloze number (recalled as a whole).
    A clause just before the run that ends with the same shape (head word inside) joins it.
    """
    out: list[Candidate] = []

    def head_of(clause: Clause) -> str:
        head = text[clause.start:clause.start + 2]
        return head if len(head) == 2 and re.fullmatch(f"[{CJK_RANGE}]{{2}}", head) else ""

    i = 0
    while i < len(clauses):
        head = head_of(clauses[i])
        j = i + 1
        while head and j < len(clauses) and head_of(clauses[j]) == head:
            j += 1
        if head and head[0] not in FUNCTION_WORDS and head not in OPENERS and j - i >= 2:
            anchors = {k: clauses[k].start + 2 for k in range(i, j)}
            if i > 0:
                prev = clauses[i - 1]
                at = text.rfind(head, prev.start + 1, prev.end)
                if at != -1 and any(t.start == at for t in prev.tokens) and _remainder(prev, at + 2):
                    anchors[i - 1] = at + 2
            if len(anchors) >= 3:
                parts = [_remainder(clauses[k], anchors[k]) for k in sorted(anchors)]
                if all(parts):
                    out.append(Candidate(parts, "cloze", "heads", 2.6, clauses=(min(anchors), j - 1)))
        i = j
    return out


CLAUSE_DETECTORS = (series, pairs, quoted, numbers, frames, verb_object, set_phrases, predicates)
