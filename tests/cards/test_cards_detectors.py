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


@pytest.mark.parametrize("text,expected", [
    ("坚持严管和厚爱结合、激励和约束并重", ["严管和厚爱结合、激励和约束并重"]),  # parallel 和 inside items
    ("无论是城市还是农村、山区", ["农村、山区"]),  # 还是 opens no item
    ("党组织要推动基层党组织全面进步、全面过硬", ["全面进步、全面过硬"]),
])
def test_series_items_open_alike(text, expected):
    assert [s[0] for s in spans(detectors.series, text)] == expected


def test_series_skip_bylines_and_headings():
    assert spans(detectors.series, "中共中央政治局常委、国务院总理李强出席会议") == []
    assert spans(detectors.series, "四、加快构建新发展格局") == []


@pytest.mark.parametrize("text,expected", [
    ("各级党组织要增强政治功能和组织功能", "政治功能和组织功能"),  # 组织 tagged a verb, shared head
])
def test_pairs_with_a_shared_head(text, expected):
    assert [expected] in spans(detectors.pairs, text)


def test_pairs_end_on_nouns():
    found = [s[0] for s in spans(detectors.pairs, "扎实推进大气和土壤污染防治")]
    assert all(not s.startswith("扎实") for s in found)


@pytest.mark.parametrize("text,expected", [
    ("要统筹好发展和安全", "发展和安全"),  # complement after a two-character verb
    ("统筹发展和安全", "发展和安全"),  # 统筹 before a verbal noun is the verb
    ("锲而不舍落实中央八项规定精神", "中央八项规定精神"),  # adverbial idiom before the verb
    ("从长远看，根本上取决于高素质的教师队伍", "高素质的教师队伍"),  # 根本上 is no subject
    ("着力解决群众急难愁盼问题", "群众急难愁盼"),  # generic head noun trimmed
])
def test_verb_object_shapes(text, expected):
    assert [expected] in spans(detectors.verb_object, text)


def test_verb_object_skips_non_objects():
    assert spans(detectors.verb_object, "区域协作持续加强") == []
    assert spans(detectors.verb_object, "必须守住管住") == []


def test_narrative_objects_rank_below_tasks():
    task = detectors.verb_object("要取得重大进展", detectors.Clause(0, 7, tokens("要取得重大进展")))
    report = detectors.verb_object("改革取得重大进展", detectors.Clause(0, 8, tokens("改革取得重大进展")))
    assert task and report and task[0].strength > report[0].strength


def test_frame_with_a_closing_predicate():
    assert ["评价改革", "先行先试"] in spans(detectors.frames, "在评价改革方面先行先试")
    assert spans(detectors.frames, "以奋发有为的精神推进工作") == []
    assert ["人民", "中心"] in spans(detectors.frames, "坚持以人民为中心")
