"""First start: import every seed material, draft its deck, publish it and assign it to everyone."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

import cards

from .models import Material
from .services.decks import assign_everyone, import_material, publish


class SeedError(RuntimeError):
    """A seed file is missing or unreadable; the message names the file and the fix."""


@dataclass(frozen=True)
class Seed:
    path: Path
    identity: str
    title: str
    term: str
    week: int | None
    study_date: date | None


def seeds_dir() -> Path:
    configured = os.environ.get("TIFA_SEEDS_PATH")
    return Path(configured) if configured else Path(__file__).resolve().parent.parent / "seeds"


def read_index(folder: Path | None = None) -> list[Seed]:
    folder = folder or seeds_dir()
    index = folder / "index.json"
    try:
        entries = json.loads(index.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SeedError(f"种子索引 {index} 不存在：请恢复 seeds/index.json，或设置 TIFA_SEEDS_PATH。") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SeedError(f"种子索引 {index} 不是有效的 UTF-8 JSON（{exc}）：请修正该文件。") from None
    seeds = []
    for i, entry in enumerate(entries):
        try:
            seeds.append(Seed(
                path=folder / entry["file"],
                identity=entry["identity"],
                title=entry["title"],
                term=entry.get("term", ""),
                week=entry.get("week"),
                study_date=date.fromisoformat(entry["date"]) if entry.get("date") else None,
            ))
        except (KeyError, TypeError, ValueError) as exc:
            raise SeedError(f"种子索引 {index} 第 {i + 1} 项缺少或有误的字段 {exc}："
                            "需要 file、identity、title。") from None
    return seeds


def seed(db: Session, folder: Path | None = None) -> list[str]:
    """Import the seeds not yet in the database; returns the identities imported.

    Each seed is one transaction: a broken file leaves nothing half-written.
    """
    imported = []
    for item in read_index(folder):
        if db.scalar(select(Material.id).where(Material.identity == item.identity)) is not None:
            continue
        try:
            data = item.path.read_bytes()
        except OSError as exc:
            raise SeedError(f"种子材料 {item.path} 无法读取（{exc.strerror}）："
                            "请恢复该文件或从 seeds/index.json 删除此项。") from None
        try:
            deck, _ = import_material(db, data, item.path.name, identity=item.identity, title=item.title,
                                      term=item.term, week=item.week, study_date=item.study_date)
            publish(db, deck)
            assign_everyone(db, deck)
            db.commit()
        except cards.MaterialError as exc:
            db.rollback()
            raise SeedError(f"种子材料 {item.path} 无法导入：{exc}") from None
        except BaseException:
            db.rollback()
            raise
        imported.append(item.identity)
    return imported
