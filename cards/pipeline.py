"""File on disk -> Material and note drafts, with the size limits checked before reading."""

from __future__ import annotations

import os
import re
from pathlib import Path

from .errors import MaterialError
from .extract import extract
from .loading import MAX_TEXT_BYTES, MAX_UPLOAD_BYTES, TEXT_SUFFIXES, load_material
from .normalise import Material, normalise
from .notes import NoteDraft


def default_identity(path: str | os.PathLike) -> str:
    """A slug from the file name stem: "2023-2024-1-week11.txt" -> "2023-2024-1-week11"."""
    stem = Path(path).stem.strip().lower()
    slug = re.sub(r"[^\w\u4e00-\u9fff-]+", "-", stem).strip("-")
    return slug or "material"


def read_limited(path: str | os.PathLike) -> bytes:
    """Read a material file, refusing oversized ones before loading them into memory."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise MaterialError("unreadable", f"无法读取文件“{path}”：文件不存在或没有权限。",
                            f"cannot read {path}: {exc.strerror or exc}") from exc
    limit = MAX_TEXT_BYTES if path.suffix.lower() in TEXT_SUFFIXES else MAX_UPLOAD_BYTES
    if size > limit:
        mb = limit // (1024 * 1024)
        raise MaterialError("too_large", f"文件超过 {mb} MB，请拆分后再上传。", f"file is larger than {mb} MB")
    if path.is_dir():
        raise MaterialError("unreadable", f"“{path}”是文件夹，不是文件。", f"{path} is a directory")
    return path.read_bytes()


def extract_file(path: str | os.PathLike, identity: str | None = None) -> tuple[Material, list[NoteDraft]]:
    """Load, normalise and extract one file; identity defaults to the file name stem."""
    text = load_material(read_limited(path), os.fspath(path))
    material = normalise(text)
    return material, extract(material, identity or default_identity(path))
