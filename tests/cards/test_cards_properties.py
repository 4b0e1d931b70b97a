"""Whatever the text, extraction raises MaterialError or yields well-formed, verbatim notes."""

import string

from hypothesis import given, settings
from hypothesis import strategies as st

import cards
from cards.cloze import hidden_text, validate_cloze

COMMON = (
    "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都"
    "两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想"
    "已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处队南给色光门即保治北造"
    "百规热领七海口东导器压志世金增争济阶油思术极交受联什认六共权收证改清己美再采转更单风切打白教速花带安场身车例真务具万每目至达走积示议声报斗完类八离华名确才科张信马节话米整空元况今集"
    "温传土许步群广石记需段研界拉林律叫且究观越织装影算低持音众书布复容儿须际商非验连断深难近矿千周委素技备半办青省列习响约支般史感劳便团往酸历市克何除消构府称太准精值号率族维划选标写存"
    "候毛亲快效斯院查江型眼王按格养易置派层片始却专状育厂京识适属圆包火住调满县局照参红细引听该铁价严龙飞"
)
PUNCT = "、，。；：“”《》！？"
genre_text = st.text(alphabet=st.sampled_from(COMMON + PUNCT + "  \n0123456789"), min_size=0, max_size=300)
mixed_text = st.lists(st.one_of(genre_text, st.text(max_size=30)), min_size=1, max_size=4).map("".join)


def check(text: str) -> None:
    try:
        material = cards.normalise(cards.loading.check_text(text))
    except cards.MaterialError as error:
        assert error.code and error.message and error.english
        return
    body = "\n".join(material.paragraphs)
    notes = cards.extract(material, "prop")
    seen = set()
    for note in notes:
        numbers = validate_cloze(note.text)  # balanced, non-empty, not nested
        for n in numbers:
            for part in hidden_text(note.text, n).split("…"):
                assert part.strip() and part in body
            assert (note.text, n) not in seen
            seen.add((note.text, n))
        assert note.extra in body
        assert note.kind in {"cloze", "list", "number", "term"}


@settings(max_examples=200, deadline=None)
@given(genre_text)
def test_genre_text(text):
    check(text)


@settings(max_examples=100, deadline=None)
@given(mixed_text)
def test_mixed_unicode(text):
    check(text)


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_as_txt(data):
    try:
        text = cards.load_material(data, "x.txt")
    except cards.MaterialError:
        return
    check(text)


def test_ascii_letters_only_is_refused():
    try:
        cards.load_material(string.ascii_letters.encode(), "a.txt")
    except cards.MaterialError as error:
        assert error.code == "no_chinese"
