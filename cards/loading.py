"""Bytes in, raw text out: .txt (UTF-8 / GB18030 / detected), .docx and .pdf, with limits."""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from pathlib import PurePath

from .errors import MaterialError

MAX_UPLOAD_BYTES = 20 * 1024 * 1024  # .docx / .pdf as uploaded
MAX_TEXT_BYTES = 5 * 1024 * 1024  # a .txt, and the text extracted from any file
# A .docx is a zip: refuse before parsing when it declares more than this when unpacked
# (zip bombs), or when it packs suspiciously well.
MAX_UNZIPPED_BYTES = 100 * 1024 * 1024
MAX_ZIP_RATIO = 200
MAX_PDF_PAGES = 2000

TEXT_SUFFIXES = {"", ".txt", ".text", ".md"}
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def _err(code: str, message: str, english: str) -> MaterialError:
    return MaterialError(code, message, english)


def load_material(data: bytes, filename: str) -> str:
    """Decode an uploaded material to text; raise MaterialError when it is unusable."""
    suffix = PurePath(filename or "").suffix.lower()
    if suffix == ".docx":
        text = _load_docx(data)
    elif suffix == ".pdf":
        text = _load_pdf(data)
    elif suffix in TEXT_SUFFIXES:
        text = _load_txt(data)
    elif suffix == ".doc":
        raise _err("unsupported_format", "不支持旧版 Word（.doc）文件，请另存为 .docx 或 .txt 后再上传。",
                   "legacy .doc is not supported; save as .docx or .txt")
    else:
        raise _err("unsupported_format", f"不支持的文件类型“{suffix}”，请上传 .txt、.docx 或 .pdf 文件。",
                   f"unsupported file type {suffix!r}; use .txt, .docx or .pdf")
    return check_text(text)


def check_text(text: str) -> str:
    """Refuse text that is too large, empty, garbage or has no Chinese in it."""
    if len(text.encode("utf-8")) > MAX_TEXT_BYTES:
        raise _err("too_large", "材料文字超过 5 MB，请拆分后分别上传。", "text is larger than 5 MB")
    if not text.strip():
        raise _err("empty", "材料是空的（没有文字），请检查文件后重新上传。", "the material is empty")
    if _looks_binary(text):
        raise _err("binary", "文件内容像是二进制数据而不是文字，请上传文本、Word 或 PDF 格式的学习材料。",
                   "the content looks like binary data, not text")
    if not _CJK.search(text):
        raise _err("no_chinese", "材料中没有中文文字，请确认上传的是中文学习材料。",
                   "the material contains no Chinese text")
    return text


def _looks_binary(text: str) -> bool:
    # Control characters (other than line breaks and tabs), replacement characters and
    # private-use code points are what undecodable bytes turn into.
    bad = sum(
        1 for ch in text
        if (unicodedata.category(ch) in ("Cc", "Co", "Cs") and ch not in "\t\n\r\f\v") or ch == "\ufffd"
    )
    return bad > max(2, len(text) // 100)


def _load_txt(data: bytes) -> str:
    if len(data) > MAX_TEXT_BYTES:
        raise _err("too_large", "文本文件超过 5 MB，请拆分后分别上传。", "text file is larger than 5 MB")
    if not data.strip():
        raise _err("empty", "文件是空的，请检查后重新上传。", "the file is empty")
    if b"\x00" in data:
        raise _err("binary", "文件内容像是二进制数据而不是文字，请上传文本、Word 或 PDF 格式的学习材料。",
                   "the file looks binary (NUL bytes)")
    try:
        return data.decode("utf-8-sig")  # strict; a BOM is optional
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")  # strict; a superset of GBK and GB2312
    except UnicodeDecodeError:
        pass
    # Only now guess: charset-normalizer mistakes short GBK text for Korean, so it comes last.
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise _err("binary", "无法识别文件的文字编码，请另存为 UTF-8 编码的文本文件后再上传。",
                   "could not detect the text encoding; save as UTF-8")
    return str(best)


def _check_zip(data: bytes) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise _err("docx_unreadable", "无法打开这个 Word 文件（.docx 已损坏或不是真正的 Word 文件），"
                   "请用 Word 重新保存后上传。", f"the .docx does not open ({exc})") from exc
    declared = sum(info.file_size for info in infos)
    packed = sum(info.compress_size for info in infos) or 1
    if declared > MAX_UNZIPPED_BYTES or declared > MAX_ZIP_RATIO * packed + 10 * 1024 * 1024:
        raise _err("docx_too_large", "Word 文件解压后体积异常巨大，已拒绝处理；请只保留学习材料文字后重新保存。",
                   "the .docx unpacks to an unreasonable size (zip bomb?)")


def _load_docx(data: bytes) -> str:
    if len(data) > MAX_UPLOAD_BYTES:
        raise _err("too_large", "Word 文件超过 20 MB，请删除图片或拆分后再上传。", ".docx is larger than 20 MB")
    _check_zip(data)
    try:
        import docx
        from docx.table import Table

        document = docx.Document(io.BytesIO(data))
        lines: list[str] = []
        for block in document.iter_inner_content():
            if isinstance(block, Table):
                lines.extend(_table_lines(block))
            else:
                lines.append(block.text)
    except MaterialError:
        raise
    except Exception as exc:  # python-docx raises many types for broken packages
        raise _err("docx_unreadable", "无法读取这个 Word 文件（.docx 已损坏或格式不对），请用 Word 重新保存后上传。",
                   f"the .docx does not parse ({type(exc).__name__})") from exc
    return "\n".join(lines)


def _table_lines(table) -> list[str]:
    lines: list[str] = []
    for row in table.rows:
        seen: set[int] = set()
        for cell in row.cells:
            if id(cell._tc) in seen:  # merged cells repeat the same cell object
                continue
            seen.add(id(cell._tc))
            lines.extend(p.text for p in cell.paragraphs)
    return lines


def _load_pdf(data: bytes) -> str:
    if len(data) > MAX_UPLOAD_BYTES:
        raise _err("too_large", "PDF 文件超过 20 MB，请拆分后再上传。", ".pdf is larger than 20 MB")
    try:
        from pypdf import PdfReader

        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise _err("pdf_encrypted", "PDF 文件有密码保护，请去掉密码后再上传。", "the PDF is encrypted")
        if len(reader.pages) > MAX_PDF_PAGES:
            raise _err("too_large", "PDF 页数过多，请拆分后再上传。", "the PDF has too many pages")
        pages: list[str] = []
        size = 0
        for page in reader.pages:
            text = page.extract_text() or ""
            size += len(text.encode("utf-8"))
            if size > MAX_TEXT_BYTES:
                raise _err("too_large", "PDF 中的文字超过 5 MB，请拆分后再上传。", "text in the PDF exceeds 5 MB")
            pages.append(text)
    except MaterialError:
        raise
    except Exception as exc:  # pypdf raises many types for broken files
        raise _err("pdf_unreadable", "无法读取这个 PDF 文件（已损坏或不是 PDF），请重新导出后上传。",
                   f"the PDF does not parse ({type(exc).__name__})") from exc
    text = "\n".join(pages)
    if not text.strip():
        raise _err("pdf_no_text", "这个 PDF 没有文字层（可能是扫描件或图片），无法提取文字；"
                   "请上传 Word 或文本版本，或先做文字识别（OCR）。",
                   "the PDF has no text layer (scanned?); upload .docx/.txt or OCR it first")
    return text
