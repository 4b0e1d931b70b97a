"""Each detector on small examples written from the genre's patterns (not from the seed)."""

import pytest

from cards import detectors
from cards.extract import _clauses
from cards.segment import tokens


def spans(detector, text: str) -> list[list[str]]:
    toks = tokens(text)
    out = []
    for clause in _clauses(text, 0, len(text), toks):
        for cand in detector(text, clause):
            out.append([text[s:e] for s, e in cand.parts])
    return out


@pytest.mark.parametrize("text,expected", [
    ("要坚持自治、法治、德治相结合", ["自治、法治、德治"]),
    ("推动治理重心下移、力量下沉、保障下倾", ["重心下移、力量下沉、保障下倾"]),
    ("完善土地、劳动力、资本、技术、数据等要素市场", ["土地、劳动力、资本、技术、数据"]),
    ("把学校的教学优势、科研优势转化为育人优势", ["教学优势、科研优势"]),
    ("做到小事不出村、大事不出镇、矛盾不上交", ["小事不出村、大事不出镇、矛盾不上交"]),
    ("健全跨学科、跨院系、跨学校的协同机制", ["跨学科、跨院系、跨学校"]),
])
def test_series_items_aligned_at_word_boundaries(text, expected):
    assert [s[0] for s in spans(detectors.series, text)] == expected


@pytest.mark.parametrize("text,expected", [
    ("推动思政小课堂和社会大课堂有机融合", "思政小课堂和社会大课堂"),
    ("统筹推进城乡建设和乡村振兴", "城乡建设和乡村振兴"),
    ("加强教师队伍建设和师德师风建设", "教师队伍建设和师德师风建设"),
])
def test_pairs(text, expected):
    assert [expected] in spans(detectors.pairs, text)


def test_pairs_skip_verbs():
    assert spans(detectors.pairs, "树立和践行正确政绩观") == []


def test_quoted_terms_and_titles():
    text = "坚持新时代“枫桥经验”，学习《中国共产党章程》，落实“双减”"
    assert spans(detectors.quoted, text) == [["枫桥经验"], ["中国共产党章程"], ["双减"]]


@pytest.mark.parametrize("text,expected", [
    ("改革开放实施近 40 年来".replace(" ", ""), ["40"]),
    ("毛入学率提高到60.2%", ["60.2%"]),
    ("全面落实五个中心的要求", ["五"]),
    ("到二〇三五年基本实现现代化", ["二〇三五"]),
    ("会议于9月10日召开", ["9月10日"]),
])
def test_numbers(text, expected):
    assert [s[0] for s in spans(detectors.numbers, text)] == expected


def test_numbers_skip_plain_yi():
    assert spans(detectors.numbers, "建设一批重大项目，进一步统一思想") == []


@pytest.mark.parametrize("text,expected", [
    ("要以数字化为抓手", ["数字化"]),
    ("把立德树人作为根本任务", ["立德树人"]),
    ("把制度优势转化为治理效能", ["制度优势", "治理效能"]),
    ("在提高培养质量上下更大功夫", ["提高培养质量"]),
    ("推动教育由规模扩张到质量提升的转变", ["规模扩张", "质量提升"]),
])
def test_thesis_frames(text, expected):
    assert expected in spans(detectors.frames, text)


def test_frames_ignore_ordinary_yi_and_zai():
    assert spans(detectors.frames, "可以为大家提供服务，存在上述问题") == []


@pytest.mark.parametrize("text,expected", [
    ("要坚持人民城市人民建", "人民城市人民建"),
    ("更加注重实践育人", "实践育人"),
    ("深入挖掘红色资源的育人价值", "红色资源的育人价值"),
    ("深入挖掘长江流域历史悠久的红色资源的育人价值", "育人价值"),
    ("各级干部要树立和践行正确政绩观", "正确政绩观"),
])
def test_verb_object(text, expected):
    assert [expected] in spans(detectors.verb_object, text)


def test_shared_heads_hide_the_varying_parts_together():
    text = "学校教学质量稳步提高，科研水平显著提升，科研成果不断涌现，科研团队日益壮大"
    toks = tokens(text)
    clauses = _clauses(text, 0, len(text), toks)
    found = detectors.shared_heads(text, clauses)
    assert found and len(found[0].parts) == 3
    assert [text[s:e] for s, e in found[0].parts][-1] == "日益壮大"
