"""Hostile uploads: a clear refusal in bounded memory and time, and nothing written (no rows, no files).

Bounds (measured with tracemalloc around the whole request, and the wall clock): see MAX_PEAK_BYTES and MAX_SECONDS.
The file tests build their payloads in memory; the largest (a 22 MB body) is refused before it is read.
"""

from __future__ import annotations

import io
import struct
import time
import tracemalloc
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from admin_helpers import TERM, hidden, material_text, post, post_multipart, upload
from helpers import login
from webapp.db import session_scope
from webapp.models import AuditLog, Deck, Material, Note

MB = 1024 * 1024
MAX_PEAK_BYTES = 120 * MB  # Python allocations during one refused upload (payloads here are up to 22 MB)
# pypdf stops inflating at 75 MB per stream and per concatenated page contents (LimitReachedError): a page of
# twenty 70 MB bombs peaks near 300 MB while pypdf holds one bomb and the joined contents.
MAX_PDF_PEAK_BYTES = 384 * MB
MAX_SECONDS = 10.0


def zip_bomb() -> bytes:
    """A .docx-shaped zip whose document.xml inflates from ~60 KB to 60 MB."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", b"<w:t>" + b"\x20" * (60 * MB) + b"</w:t>")
    return out.getvalue()


def lying_zip_bomb() -> bytes:
    """The same bomb with its declared sizes forged down to 1 KB (so a size check alone would pass it)."""
    data = bytearray(zip_bomb())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as z:
        infos = z.infolist()
        start_dir = z.start_dir
    for info in infos:
        if info.filename == "word/document.xml":
            struct.pack_into("<I", data, info.header_offset + 22, 1024)  # local header: uncompressed size
    pos = start_dir
    while data[pos:pos + 4] == b"PK\x01\x02":  # central directory entries
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", data, pos + 28)
        if data[pos + 46:pos + 46 + name_len] == b"word/document.xml":
            struct.pack_into("<I", data, pos + 24, 1024)
        pos += 46 + name_len + extra_len + comment_len
    return bytes(data)


def pdf_with_huge_stream(streams: int = 1, inflated_mb: int = 300) -> bytes:
    """A one-page PDF whose content streams each inflate to ``inflated_mb`` of text-showing operators."""
    content = zlib.compress(b"BT /F1 12 Tf 72 712 Td (A) Tj ET\n" * (inflated_mb * MB // 34), 1)
    kids = b" ".join(b"%d 0 R" % (6 + i) for i in range(streams))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents [" + kids + b"] "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ] + [b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(content) + content + b"\nendstream"] * streams
    out = io.BytesIO(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def png_bytes() -> bytes:
    return b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(256)) * 40


def chinese(size: int) -> bytes:
    line = "坚持共抓大保护、不搞大开发，推动长江经济带高质量发展。\n".encode()
    return line * (size // len(line) + 1)


# name -> (filename, payload factory, expected status, words the refusal must contain)
CASES: dict[str, tuple[str, Callable[[], bytes], int, str]] = {
    "zip bomb as .docx": ("第11周.docx", zip_bomb, 400, "解压后体积异常"),
    "zip bomb with forged sizes": ("第11周.docx", lying_zip_bomb, 400, "Word 文件"),
    "pdf with a 300 MB object stream": ("第11周.pdf", pdf_with_huge_stream, 400, "PDF"),
    "pdf with twenty 70 MB streams": ("第11周.pdf", lambda: pdf_with_huge_stream(20, 70), 400, "PDF"),
    "png named .docx": ("第11周.docx", png_bytes, 400, "Word 文件"),
    "zip named .pdf": ("第11周.pdf", lambda: zip_bomb()[:4096], 400, "PDF"),
    "pdf named .txt": ("第11周.txt", pdf_with_huge_stream, 400, "文件"),
    "executable extension": ("第11周.exe", lambda: chinese(1000), 400, "不支持"),
    "0 bytes": ("第11周.txt", lambda: b"", 400, "空的"),
    "6 MB text": ("第11周.txt", lambda: chinese(6 * MB), 400, "5 MB"),
    "22 MB body": ("第11周.pdf", lambda: b"%PDF-1.4\n" + b"0" * (22 * MB), 413, "太大"),
    "NUL inside a text file": ("第11周.txt", lambda: chinese(2000)[:3000] + b"\x00" * 10 + chinese(100), 400, "二进制"),
}


def files_under(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and "jieba" not in p.parts}


def rows(app: Flask) -> tuple[int, int, int, int]:
    with session_scope(app) as db:
        return tuple(db.scalar(select(func.count()).select_from(t)) for t in (Material, Deck, Note, AuditLog))


@pytest.fixture
def admin(app: Flask, make_user: Any) -> Any:
    make_user("boss", role="super_admin", department="党委办公室")
    client = app.test_client()
    assert login(client, "boss").status_code == 302
    return client


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_upload_is_refused_within_bounds(app: Flask, admin: Any, case: str, counts: Any) -> None:
    filename, make, status, words = CASES[case]
    payload = make()
    instance = Path(app.instance_path)
    before_files, before_rows = files_under(instance), rows(app)
    form = {"title": "", "term": TERM, "week": "11", "identity": "", "file": (io.BytesIO(payload), filename)}
    tracemalloc.start()
    started = time.perf_counter()
    try:
        response = post_multipart(admin, "/admin/materials/upload", form)
        elapsed = time.perf_counter() - started
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    body = response.get_data(as_text=True)
    assert response.status_code == status, body[:500]
    assert words in body, body[:2000]
    assert elapsed < MAX_SECONDS, f"{case}: {elapsed:.1f} s"
    bound = MAX_PDF_PEAK_BYTES if filename.endswith(".pdf") else MAX_PEAK_BYTES
    assert peak < bound, f"{case}: peak {peak / MB:.0f} MB"
    assert rows(app) == before_rows
    assert files_under(instance) == before_files
    counts.add("bad_inputs_tried")
    counts.add(f"upload_peak_mb::{case}", round(peak / MB))
    counts.add(f"upload_ms::{case}", round(elapsed * 1000))


@pytest.mark.parametrize("filename", ["../../../../tmp/evil.txt", "..\\..\\evil.txt", "材料\x00.txt", "/etc/passwd.txt",
                                      "a" * 300 + ".txt"])
def test_hostile_filenames_never_leave_the_pending_folder(app: Flask, admin: Any, filename: str,
                                                          tmp_path: Path, counts: Any) -> None:
    """Path parts and NUL are dropped from the stored name; files appear only under instance/pending."""
    instance = Path(app.instance_path)
    outside_before = files_under(tmp_path) - {f"instance/{f}" for f in files_under(instance)}
    preview = upload(admin, material_text(2), filename=filename)
    counts.add("bad_inputs_tried")
    if preview.status_code == 400:  # a refusal is fine as long as it says what to do and writes nothing
        assert rows(app)[0] == 0
        return
    assert preview.status_code == 200, preview.get_data(as_text=True)[:500]
    created = files_under(instance)
    assert created and all(f.startswith("pending/materials/") for f in created), created
    outside_after = files_under(tmp_path) - {f"instance/{f}" for f in created}
    assert outside_after == outside_before
    confirmed = post(admin, "/admin/materials/confirm", {"token": hidden(preview.get_data(as_text=True), "token")})
    assert confirmed.status_code == 302, confirmed.get_data(as_text=True)[:500]
    with session_scope(app) as db:
        stored = db.scalar(select(Material.filename))
    assert stored and "/" not in stored and "\\" not in stored and "\x00" not in stored and ".." not in stored
    assert len(stored) <= 255


def test_forged_pending_token_cannot_read_files(app: Flask, admin: Any, counts: Any) -> None:
    for token in ("../../secret_key", "..%2f..%2fsecret_key", "a" * 20 + "/../x", "", "\x00" * 24):
        response = post(admin, "/admin/materials/confirm", {"token": token})
        assert response.status_code == 400
        assert "预览" in response.get_data(as_text=True)
        counts.add("bad_inputs_tried")
    assert rows(app)[0] == 0
