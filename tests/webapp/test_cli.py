"""The ``tifa`` command line: init is idempotent, users are created, bad input says what to fix."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from webapp import create_app
from webapp.cli import main
from webapp.db import get_engine, session_scope
from webapp.models import Deck, DeckAssignment, Note, User


@pytest.fixture
def env(db_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "TIFA_DATABASE_URL": db_url,
        "TIFA_INSTANCE_PATH": str(tmp_path / "instance"),
        "TIFA_ADMIN_PASSWORD": "",
        "TIFA_SEEDS_PATH": "",
    }


def _count(env: dict[str, str], model, *where) -> int:  # noqa: ANN001
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        app = create_app()
        with session_scope(app) as db:
            return db.scalar(select(func.count()).select_from(model).where(*where))
    finally:
        get_engine(app).dispose()
        os.environ.clear()
        os.environ.update(saved)


def test_init_creates_admin_once_and_prints_generated_password(env: dict[str, str]) -> None:
    runner = CliRunner()
    first = runner.invoke(main, ["init", "--no-seed"], env=env)
    assert first.exit_code == 0, first.output
    assert "admin" in first.output and "初始密码" in first.output
    second = runner.invoke(main, ["init", "--no-seed"], env=env)
    assert second.exit_code == 0, second.output
    assert "初始密码" not in second.output
    assert _count(env, User, User.username == "admin") == 1


def test_init_seeds_and_assigns_the_seed_deck_once(env: dict[str, str]) -> None:
    runner = CliRunner()
    for _ in range(2):
        result = runner.invoke(main, ["init"], env=env)
        assert result.exit_code == 0, result.output
    assert _count(env, Deck, Deck.status == "published") == 1
    assert _count(env, DeckAssignment, DeckAssignment.everyone.is_(True)) == 1
    assert _count(env, Note) >= 20


def test_missing_seed_file_is_a_clear_error_and_writes_nothing(env: dict[str, str], tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "index.json").write_text(
        '[{"file": "gone.txt", "identity": "x-w1", "title": "缺失", "term": "", "week": 1}]', encoding="utf-8")
    result = CliRunner().invoke(main, ["init"], env={**env, "TIFA_SEEDS_PATH": str(seeds)})
    assert result.exit_code == 1
    assert "gone.txt" in result.output and "无法读取" in result.output
    assert _count(env, Deck) == 0


def test_corrupt_seed_is_refused_with_its_reason(env: dict[str, str], tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "index.json").write_text(
        '[{"file": "bad.txt", "identity": "x-w2", "title": "坏文件", "term": "", "week": 2}]', encoding="utf-8")
    (seeds / "bad.txt").write_bytes(bytes(range(256)) * 4)
    result = CliRunner().invoke(main, ["init"], env={**env, "TIFA_SEEDS_PATH": str(seeds)})
    assert result.exit_code == 1
    assert "bad.txt" in result.output
    assert _count(env, Deck) == 0


def test_unreachable_database_names_the_problem(tmp_path: Path) -> None:
    env = {"TIFA_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none",
           "TIFA_INSTANCE_PATH": str(tmp_path / "instance")}
    result = CliRunner().invoke(main, ["init", "--no-seed"], env=env)
    assert result.exit_code == 1
    assert "无法连接数据库" in result.output and "TIFA_DATABASE_URL" in result.output


def test_users_create(env: dict[str, str]) -> None:
    runner = CliRunner()
    runner.invoke(main, ["init", "--no-seed"], env=env)
    result = runner.invoke(main, ["users", "create", "20230001", "--name", "张三", "--department", "马克思主义学院"],
                           env=env)
    assert result.exit_code == 0, result.output
    assert "初始密码" in result.output
    again = runner.invoke(main, ["users", "create", "20230001", "--name", "张三"], env=env)
    assert again.exit_code == 1 and "已存在" in again.output
    weak = runner.invoke(main, ["users", "create", "20230002", "--name", "李四", "--password", "123"], env=env)
    assert weak.exit_code == 1 and "至少" in weak.output
    assert _count(env, User, User.username.in_(["20230001", "20230002"])) == 1


def test_extract_json_on_the_seed(tmp_path: Path) -> None:
    import json

    seed = Path(__file__).resolve().parents[2] / "seeds" / "2023-2024-1-week11.txt"
    result = CliRunner().invoke(main, ["extract", str(seed), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["material"]["paragraphs"]
    assert payload["notes"] and {"kind", "text", "extra", "source", "key"} <= payload["notes"][0].keys()


def test_extract_refuses_garbage_with_one_line(tmp_path: Path) -> None:
    junk = tmp_path / "junk.txt"
    junk.write_bytes(bytes(range(256)) * 8)
    result = CliRunner().invoke(main, ["extract", str(junk)])
    assert result.exit_code != 0
