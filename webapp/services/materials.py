"""Uploading a material: read and extract it, show the admin what would change, write on confirm.

Between preview and confirm the upload waits in the instance folder (``pending/<token>``), so
nothing reaches the database until the admin confirms.
"""

from __future__ import annotations

import json
import re
import secrets
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

import cards
from cards.loading import MAX_TEXT_BYTES, MAX_UPLOAD_BYTES, TEXT_SUFFIXES

from ..models import DECK_PUBLISHED, Deck, Material, Note, User
from .audit import audit
from .decks import SyncResult, default_identity, import_material, plan_sync, sha256

ALLOWED_SUFFIXES = {".txt", ".docx", ".pdf"}
PENDING_MAX_AGE_S = 24 * 3600
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
_SLUG = re.compile(r"^[A-Za-z0-9\u4e00-\u9fff][A-Za-z0-9\u4e00-\u9fff_-]{0,99}$")


class UploadError(ValueError):
    """The upload cannot be used; the message (Chinese) says what was wrong and what to do."""


@dataclass
class UploadPreview:
    token: str
    identity: str
    title: str
    term: str
    week: int | None
    filename: str
    sha256: str
    note_count: int
    paragraphs: int
    duplicate_of: Material | None = None  # a material with the same bytes
    existing: Material | None = None  # the material this upload replaces (same identity)
    published: bool = False
    kept: list[Note] = field(default_factory=list)
    retired: list[Note] = field(default_factory=list)
    added: list[cards.NoteDraft] = field(default_factory=list)


def pending_dir(instance_path: str, kind: str = "materials") -> Path:
    path = Path(instance_path) / "pending" / kind
    path.mkdir(parents=True, exist_ok=True)
    return path


def safe_filename(filename: str) -> str:
    """The base name of an upload: no folder of either slash, no control characters or leading dots, at most 200
    characters (the column holds 255; PostgreSQL refuses NUL in text)."""
    name = re.split(r"[\\/]", filename or "")[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip().lstrip(".")
    suffix = Path(name).suffix[:20]
    return name[: 200 - len(suffix)] + suffix if len(name) > 200 else name


def _check_size(data: bytes, filename: str) -> None:
    suffix = Path(filename).suffix.lower()
    limit = MAX_TEXT_BYTES if suffix in TEXT_SUFFIXES else MAX_UPLOAD_BYTES
    if len(data) > limit:
        raise UploadError(f"文件超过 {limit // (1024 * 1024)} MB，请拆分或压缩后再上传。")


def preview_upload(db: Session, instance_path: str, data: bytes, filename: str, *, title: str, term: str,
                   week: int | None, identity: str = "") -> UploadPreview:
    """Read and extract an upload, compare it with the material of the same identity, keep it pending."""
    filename = safe_filename(filename) or "material.txt"
    suffix = Path(filename).suffix.lower()
    if suffix not in ALLOWED_SUFFIXES:
        raise UploadError(f"不支持“{suffix or '无扩展名'}”文件：请上传 .txt、.docx 或 .pdf，或直接粘贴文本。")
    if not data.strip():
        raise UploadError("文件是空的：请选择正确的文件，或粘贴材料文本。")
    _check_size(data, filename)
    term = term.strip()
    identity = identity.strip() or default_identity(term, week, "")
    if not identity:
        raise UploadError("无法从学期和周次生成材料标识：请填写学期（如 2023-2024学年第一学期）和周次，"
                          "或直接填写材料标识（如 2023-2024-1-w11）。")
    if not _SLUG.match(identity):
        raise UploadError("材料标识只能包含字母、数字、汉字、“-”和“_”，最长 100 个字符。")
    try:
        raw = cards.load_material(data, filename)
        material_text = cards.normalise(raw)
        drafts = cards.extract(material_text, identity)
    except cards.MaterialError as exc:
        raise UploadError(exc.message) from None
    if not drafts:
        raise UploadError("没有从这份材料中找到可以做成卡片的提法：请确认上传的是学习材料正文。")
    digest = sha256(data)
    title = (title.strip() or material_text.title or Path(filename).stem)[:200]
    preview = UploadPreview(token="", identity=identity, title=title, term=term, week=week, filename=filename,
                            sha256=digest, note_count=len(drafts), paragraphs=len(material_text.paragraphs))
    preview.duplicate_of = db.scalar(select(Material).where(Material.sha256 == digest).order_by(Material.id))
    preview.existing = db.scalar(select(Material).where(Material.identity == identity))
    if preview.existing is not None and preview.existing.deck is not None:
        deck = preview.existing.deck
        preview.published = deck.status == DECK_PUBLISHED
        existing_notes = list(db.scalars(select(Note).where(Note.deck_id == deck.id).order_by(Note.position)))
        plan: SyncResult = plan_sync(existing_notes, drafts, "\n\n".join(material_text.paragraphs))
        by_key = {n.key: n for n in existing_notes}
        preview.kept = [by_key[k] for k in plan.kept if not by_key[k].retired]
        preview.retired = [by_key[k] for k in plan.retired]
        added = set(plan.added)
        preview.added = [d for d in drafts if d.key in added]
    else:
        preview.added = list(drafts)
    preview.token = store_pending(instance_path, data, {
        "filename": filename, "identity": identity, "title": title, "term": term, "week": week,
        "sha256": digest})
    return preview


def store_pending(instance_path: str, data: bytes, meta: dict, kind: str = "materials") -> str:
    """Keep an upload between preview and confirm; returns the random token naming it."""
    folder = pending_dir(instance_path, kind)
    _sweep(folder)
    token = secrets.token_urlsafe(24)
    try:
        (folder / f"{token}.bin").write_bytes(data)
        (folder / f"{token}.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    except OSError as exc:
        # Disk full or read-only: drop the half-written pair and say so, rather than a 500.
        discard_pending(instance_path, token, kind)
        raise UploadError(f"服务器无法暂存上传的文件（{exc.strerror or exc}）：请检查实例目录 {folder} 的磁盘空间"
                          "和写权限后重试，或联系系统管理员。") from None
    return token


def _sweep(folder: Path) -> None:
    """Forget previews nobody confirmed within a day."""
    cutoff = time.time() - PENDING_MAX_AGE_S
    for path in folder.iterdir():
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
        except OSError:
            pass


def load_pending(instance_path: str, token: str, kind: str = "materials") -> tuple[bytes, dict]:
    if not _TOKEN.match(token or ""):
        raise UploadError("预览编号无效：请重新上传文件。")
    folder = pending_dir(instance_path, kind)
    try:
        data = (folder / f"{token}.bin").read_bytes()
        meta = json.loads((folder / f"{token}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise UploadError("预览已过期或已确认过：请重新上传文件。") from None
    if sha256(data) != meta.get("sha256"):
        raise UploadError("暂存的文件已损坏：请重新上传文件。")
    return data, meta


def discard_pending(instance_path: str, token: str, kind: str = "materials") -> None:
    if _TOKEN.match(token or ""):
        for suffix in (".bin", ".json"):
            (pending_dir(instance_path, kind) / f"{token}{suffix}").unlink(missing_ok=True)


def confirm_upload(db: Session, instance_path: str, token: str, actor: User) -> tuple[Deck, SyncResult]:
    """Write a previewed upload (in the caller's transaction) and audit it."""
    data, meta = load_pending(instance_path, token)
    existing = db.scalar(select(Material).where(Material.identity == meta["identity"]))
    before = None
    if existing is not None:
        before = {"sha256": existing.sha256, "filename": existing.filename, "title": existing.title}
    published = existing is not None and existing.deck is not None and existing.deck.status == DECK_PUBLISHED
    try:
        deck, result = import_material(db, data, meta["filename"], identity=meta["identity"], title=meta["title"],
                                       term=meta["term"], week=meta["week"], uploaded_by=actor,
                                       new_as_pending=published)
    except cards.MaterialError as exc:
        raise UploadError(exc.message) from None
    after = {"sha256": meta["sha256"], "filename": meta["filename"], "title": meta["title"]}
    audit(db, actor, "material.replace" if existing is not None else "material.upload", "material",
          deck.material_id, identity=meta["identity"], before=before, after=after, kept=len(result.kept),
          added=len(result.added), retired=len(result.retired))
    return deck, result
