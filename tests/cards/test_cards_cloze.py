import pytest

from cards.cloze import cloze_numbers, hidden_text, parse, plain_text, render_answer, render_prompt, validate_cloze


def test_numbers_and_hidden_text():
    text = "要{{c1::谋长远之势}}、{{c2::行长久之策}}、{{c3::建久安之基}}"
    assert validate_cloze(text) == [1, 2, 3]
    assert cloze_numbers(text) == [1, 2, 3]
    assert hidden_text(text, 2) == "行长久之策"
    assert plain_text(text) == "要谋长远之势、行长久之策、建久安之基"


def test_one_number_in_several_places_is_one_card():
    text = "把{{c1::生态财富}}转化为{{c1::经济财富}}"
    assert validate_cloze(text) == [1]
    assert hidden_text(text, 1) == "生态财富…经济财富"
    assert render_prompt(text, 1) == '把<span class="cloze">[…]</span>转化为<span class="cloze">[…]</span>'


def test_prompt_and_answer_html():
    text = "坚持{{c1::共抓大保护}}、{{c2::不搞大开发}}"
    assert render_prompt(text, 1) == '坚持<span class="cloze">[…]</span>、不搞大开发'
    assert render_answer(text, 2) == '坚持共抓大保护、<span class="cloze">不搞大开发</span>'


def test_list_prompt_shows_item_count_and_hints_win():
    text = "沿江省市要坚持{{c1::省际共商、生态共治、全域共建、发展共享}}"
    assert render_prompt(text, 1) == '沿江省市要坚持<span class="cloze">[…4项]</span>'
    assert render_prompt("{{c1::十年禁渔::四字}}", 1) == '<span class="cloze">[四字]</span>'
    # 、 inside quotes does not split items
    assert "[…]" in render_prompt("{{c1::“一国两制、高度自治”}}", 1)


def test_everything_is_escaped():
    text = '<b>&"{{c1::<i>x</i>}}'
    assert render_prompt(text, 1) == '&lt;b&gt;&amp;&quot;<span class="cloze">[…]</span>'
    assert render_answer(text, 1).endswith('<span class="cloze">&lt;i&gt;x&lt;/i&gt;</span>')
    assert "<b>" not in render_answer("{{c1::a}}<b>", 1)


@pytest.mark.parametrize("bad", [
    "没有挖空", "{{c1::}}", "{{c1::  }}", "{{c1::未闭合", "多余}}", "{{c1::外{{c2::内}}}}", "{{x::坏}}",
    "{{c0::零}}",
])
def test_bad_markup_raises_chinese_message(bad):
    with pytest.raises(ValueError) as info:
        validate_cloze(bad)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in str(info.value))


def test_missing_card_number_and_lenient_numbers():
    with pytest.raises(ValueError):
        render_prompt("{{c1::甲}}", 2)
    assert cloze_numbers("{{c1::坏") == []
    assert [p for p in parse("甲{{c2::乙::提示}}丙") if not isinstance(p, str)][0].hint == "提示"
