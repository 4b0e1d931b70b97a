"""Tifa's extraction pipeline: a weekly study material in, cloze note drafts out.

Pure Python (jieba, python-docx, pypdf, charset-normalizer); no Flask, no database.

    load_material(data, filename) -> str          decode .txt/.docx/.pdf, or raise MaterialError
    normalise(text) -> Material                    title, header lines, paragraphs, sentences
    extract(material_or_text, identity) -> list[NoteDraft]
    extract_file(path, identity=None) -> tuple[Material, list[NoteDraft]]
"""

from __future__ import annotations

from .errors import MaterialError
from .extract import extract
from .loading import load_material
from .normalise import Material, normalise
from .notes import NoteDraft, note_key
from .pipeline import default_identity, extract_file

__all__ = [
    "Material",
    "MaterialError",
    "NoteDraft",
    "default_identity",
    "extract",
    "extract_file",
    "load_material",
    "normalise",
    "note_key",
]
