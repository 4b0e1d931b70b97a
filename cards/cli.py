"""`python -m cards extract FILE [--json] [--identity SLUG]` (also mounted as `tifa extract`)."""

from __future__ import annotations

import argparse
import json
import sys

from .cloze import hidden_text, validate_cloze
from .errors import MaterialError
from .pipeline import default_identity, extract_file


def extract_command(path: str, as_json: bool = False, identity: str | None = None) -> int:
    """Print the material's notes (JSON or a readable list); return the exit status."""
    try:
        material, notes = extract_file(path, identity)
    except MaterialError as exc:
        print(f"错误 error [{exc.code}]: {exc.one_line()}", file=sys.stderr)
        return 2
    identity = identity or default_identity(path)
    if as_json:
        payload = {
            "material": {"identity": identity, **material.to_dict()},
            "notes": [note.to_dict() for note in notes],
        }
        json.dump(payload, sys.stdout, ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
        return 0
    kinds = {"cloze": "提法", "list": "并列", "number": "数字", "term": "术语"}
    print(f"《{material.title or identity}》 {len(material.paragraphs)} 段，{len(notes)} 条笔记 notes")
    for i, note in enumerate(notes, 1):
        numbers = validate_cloze(note.text)
        answers = "；".join(hidden_text(note.text, n) for n in numbers)
        where = f"{note.source['paragraph']}.{note.source['sentence']}"
        print(f"{i:3}. [{kinds.get(note.kind, note.kind)}] {note.text}")
        print(f"     答案 {answers}   （第 {where} 句，{len(numbers)} 张卡）")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cards", description="提法卡：从学习材料生成挖空笔记")
    commands = parser.add_subparsers(dest="command", required=True)
    extract = commands.add_parser("extract", help="从材料文件提取笔记 / extract notes from a material")
    extract.add_argument("file")
    extract.add_argument("--json", action="store_true", help="输出 JSON / print JSON")
    extract.add_argument("--identity", help="材料标识 slug（默认取文件名）/ material identity slug")
    args = parser.parse_args(argv)
    return extract_command(args.file, args.json, args.identity)
