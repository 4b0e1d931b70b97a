import io
import zipfile

import docx
import pytest
from pypdf import PdfWriter

from cards import MaterialError, load_material, loading

TEXT = "要坚持共抓大保护、不搞大开发，坚持生态优先、绿色发展。"


def code_of(data: bytes, name: str) -> str:
    with pytest.raises(MaterialError) as info:
        load_material(data, name)
    error = info.value
    assert error.message and any("\u4e00" <= ch <= "\u9fff" for ch in error.message)
    assert error.english and error.english.isascii()
    return error.code


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_txt_encodings(encoding):
    assert load_material(TEXT.encode(encoding), "week.txt") == TEXT


def test_short_gbk_is_not_read_as_korean():
    assert load_material("坚持创新引领发展".encode("gbk"), "a.txt") == "坚持创新引领发展"


def test_gb18030_only_characters():
    text = "学习材料：𠀀 四字节字符也能读。"
    assert load_material(text.encode("gb18030"), "a.TXT") == text


@pytest.mark.parametrize("data,name,code", [
    (b"", "a.txt", "empty"),
    (b" \n\t \r\n", "a.txt", "empty"),
    ("   \u3000  ".encode(), "a.txt", "empty"),
    (b"Only English here.", "a.txt", "no_chinese"),
    (bytes(range(256)) * 8, "a.txt", "binary"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200), "a.txt", "binary"),
    (b"abc", "a.doc", "unsupported_format"),
    (b"abc", "a.xlsx", "unsupported_format"),
])
def test_refusals(data, name, code):
    assert code_of(data, name) == code


def test_text_limits(monkeypatch):
    monkeypatch.setattr(loading, "MAX_TEXT_BYTES", 1000)
    assert code_of(("中" * 400).encode(), "a.txt") == "too_large"
    assert load_material(("中" * 300).encode(), "a.txt")


def make_docx(paragraphs, table=None) -> bytes:
    document = docx.Document()
    for p in paragraphs:
        document.add_paragraph(p)
    if table:
        t = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                t.cell(r, c).text = value
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def test_docx_paragraphs_and_tables_in_order():
    data = make_docx(["第一段：坚持创新引领发展。"], table=[["单元格一", "单元格二"]])
    text = load_material(data, "week.docx")
    assert text.index("第一段") < text.index("单元格一") < text.index("单元格二")


def test_docx_broken_and_too_large(monkeypatch):
    assert code_of(b"PK\x03\x04 not really a zip", "a.docx") == "docx_unreadable"
    assert code_of(b"plain text", "a.docx") == "docx_unreadable"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("hello.txt", "不是 Word 文件")
    assert code_of(buffer.getvalue(), "a.docx") == "docx_unreadable"
    monkeypatch.setattr(loading, "MAX_UPLOAD_BYTES", 100)
    assert code_of(make_docx(["坚持"]), "a.docx") == "too_large"


def test_docx_zip_bomb_refused_before_parsing():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<x/>")
        z.writestr("word/document.xml", b"\0" * (30 * 1024 * 1024))  # packs to ~30 KB
    assert len(buffer.getvalue()) < 200_000
    assert code_of(buffer.getvalue(), "bomb.docx") == "docx_too_large"


def _pdf_with_text(text: bytes) -> bytes:
    """A minimal hand-written PDF with a Helvetica text layer (offsets computed here)."""
    stream = b"BT /F1 12 Tf 72 720 Td (" + text + b") Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def test_pdf_text_layer_is_read():
    # A Latin-only text layer is read, then refused for having no Chinese: the layer was found.
    assert code_of(_pdf_with_text(b"Hello study group"), "a.pdf") == "no_chinese"


def test_pdf_without_text_layer_is_called_scanned():
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    buffer = io.BytesIO()
    writer.write(buffer)
    with pytest.raises(MaterialError) as info:
        load_material(buffer.getvalue(), "scan.pdf")
    assert info.value.code == "pdf_no_text"
    assert "扫描" in info.value.message and "scanned" in info.value.english


def test_pdf_broken_and_too_large(monkeypatch):
    assert code_of(b"%PDF-1.4 garbage", "a.pdf") == "pdf_unreadable"
    assert code_of(b"not a pdf", "a.pdf") == "pdf_unreadable"
    monkeypatch.setattr(loading, "MAX_UPLOAD_BYTES", 10)
    assert code_of(_pdf_with_text(b"x"), "a.pdf") == "too_large"
