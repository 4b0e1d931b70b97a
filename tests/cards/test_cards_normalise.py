from cards import normalise
from cards.normalise import split_sentences


def test_header_title_and_body():
    m = normalise("\n\n2024 学年第 3 周政治学习材料：\n\n会议强调 推进高质量发展\n\n"
                  "会议指出，要坚持创新。要统筹发展和安全。")
    assert m.header_lines == ["2024学年第3周政治学习材料："]
    assert m.title == "会议强调 推进高质量发展"
    assert m.paragraphs == ["会议指出，要坚持创新。要统筹发展和安全。"]
    assert m.sentences == [["会议指出，要坚持创新。", "要统筹发展和安全。"]]
    assert m.original.startswith("\n\n2024 学年")


def test_line_broken_paragraphs_are_joined_headings_are_not():
    text = ("会议指出，要坚持创新引领发展，推动产业链供应链现代化，激发全社会参与\n\n生态保护的积极性。\n"
            "要统筹好发展和安全，在维护粮食安全等方面发挥更大作用，\n以一域之稳为全局之安作出贡献。\n"
            "一、加快构建新发展格局\n要坚持扩大内需。")
    m = normalise(text)
    assert m.paragraphs[0].endswith("激发全社会参与生态保护的积极性。")
    assert m.paragraphs[1].endswith("发挥更大作用，以一域之稳为全局之安作出贡献。")
    assert m.paragraphs[2:] == ["一、加快构建新发展格局", "要坚持扩大内需。"]


def test_spaces_punctuation_and_speaker_tags():
    m = normalise("标题\n习近平强调，他强调，实施近 8 年来, 成就显著 ; 要坚持“十年禁渔”! 版本 v2 ok")
    p = m.paragraphs[0]
    assert p.startswith("习近平强调，实施近8年来，成就显著；要坚持“十年禁渔”！")
    assert "v2 ok" in p  # Latin words keep their spaces
    m = normalise('材料\n他说:"要坚持创新" (全文)。')
    assert m.paragraphs == ["他说：“要坚持创新”（全文）。"]


def test_full_width_digits_and_braces():
    m = normalise("题\n第１２周{{c1::假挖空}}内容。")
    assert m.paragraphs[0].startswith("第12周｛｛c1")
    assert "{" not in m.paragraphs[0] and "::" not in m.paragraphs[0]


def test_sentences_keep_quotes_balanced():
    s = split_sentences("他说：“要坚持。要统筹！”然后散会。会议指出；要落实？好")
    assert s == ["他说：“要坚持。要统筹！”然后散会。", "会议指出；", "要落实？", "好"]
    assert "".join(s) == "他说：“要坚持。要统筹！”然后散会。会议指出；要落实？好"


def test_unbalanced_quote_does_not_swallow_everything():
    text = "“未闭合" + "中" * 400 + "。后面。"
    assert len(split_sentences(text)) >= 2


def test_short_text_is_body_not_header():
    m = normalise("坚持创新引领发展")
    assert m.paragraphs == ["坚持创新引领发展"] and m.title == ""
