"""The markdown posted to a department's group: the daily reminder and the weekly summary.

Pure functions. Both platforms render the same subset (headings, bold, lists, links); names and
department names come from staff imports, so they pass through ``platforms.plain`` first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from .platforms import MAX_BYTES, fit_bytes, plain

WEEKDAYS = "一二三四五六日"
#: Names listed in a reminder; the rest are counted ("等另外 N 人").
MAX_NAMES = 10
MAX_WEEKLY_NAMES = 5


@dataclass(frozen=True)
class Due:
    name: str
    cards: int


@dataclass(frozen=True)
class WeekFigures:
    """One department's last week (the figures of the XLSX report's 部门 sheet)."""

    staff: int
    active: int
    reviews: int
    minutes: int
    retention: float | None
    top: list[tuple[str, int]]  # (name, study days), most days first


def _link(base_url: str, path: str, text: str) -> str:
    if not base_url:
        return "请登录提法卡，打开“今日”页面开始复习。"
    return f"[{text}]({base_url.rstrip('/')}{path})"


def reminder(department: str, day: date, due: list[Due], base_url: str) -> tuple[str, str]:
    """(title, markdown) of one department's reminder for ``day``; ``due`` lists people with cards left."""
    title = f"提法卡：{plain(department)}今日复习提醒"
    total = sum(d.cards for d in due)
    lines = ["### 提法卡 · 今日复习提醒",
             f"**{plain(department)}** {day.month}月{day.day}日（周{WEEKDAYS[day.weekday()]}）", "",
             f"今天有 **{len(due)}** 人有卡片待复习，共 **{total}** 张。", ""]
    ranked = sorted(due, key=lambda d: (-d.cards, d.name))
    lines += [f"- {plain(d.name)}：{d.cards} 张" for d in ranked[:MAX_NAMES]]
    if len(ranked) > MAX_NAMES:
        lines.append(f"- 等另外 {len(ranked) - MAX_NAMES} 人")
    lines += ["", _link(base_url, "/today", "打开今日复习"), "", "每天几分钟，坚持下来效果最好。"]
    return title, fit_bytes("\n".join(lines), MAX_BYTES)


def weekly(department: str, label: str, monday: date, sunday: date, figures: WeekFigures,
           base_url: str) -> tuple[str, str]:
    """(title, markdown) of one department's summary of the week ``label`` (e.g. 2026-W48)."""
    title = f"提法卡：{plain(department)}学习周报 {label}"
    retention = f"{figures.retention:.0%}" if figures.retention is not None else "—（上周没有按计划的复习）"
    lines = ["### 提法卡 · 上周学习周报",
             f"**{plain(department)}** {label}（{monday:%m-%d} 至 {sunday:%m-%d}）", "",
             f"- 参加学习：**{figures.active}** / {figures.staff} 人",
             f"- 复习 **{figures.reviews}** 次，共 {figures.minutes} 分钟",
             f"- 记忆保持率：{retention}"]
    if figures.top:
        names = "、".join(f"{plain(name)}（{days} 天）" for name, days in figures.top[:MAX_WEEKLY_NAMES])
        lines += ["", f"学习天数最多：{names}"]
    if figures.staff > figures.active:
        lines += ["", f"上周还有 {figures.staff - figures.active} 人没有学习，请相互提醒。"]
    lines += ["", _link(base_url, "/today", "打开提法卡"),
              "", "各人明细见管理页面“后台任务”中的每周学习报告（Excel）。"]
    return title, fit_bytes("\n".join(lines), MAX_BYTES)


def probe(department: str, admin: str, kind_label: str) -> tuple[str, str]:
    title = "提法卡：群机器人测试消息"
    text = "\n".join(["### 提法卡 · 测试消息", "",
                      f"**{plain(department)}** 的{kind_label}群机器人设置正确。",
                      "以后每天的复习提醒和每周的学习周报会发到本群。", "",
                      f"（由 {plain(admin)} 在管理页面发送）"])
    return title, text
