"""The distillation report: a table per round and a plot, always beside the trivial-rule floor; with a model
teacher evaluated on the same held-out sets, the money: what a solved item costs from the teacher and from the
student, the share of the teacher's accuracy the student keeps, and the questions where the two disagree."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["disagreements", "plot_rounds", "render_markdown"]

#: Rows of the disagreement table in report.md (report.json keeps every item of both).
DISAGREEMENTS_SHOWN = 20


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _num(x: float | None, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def _table(results: dict[str, dict[str, Any]]) -> list[str]:
    lines = ["| held-out set | n | student | 95% CI | trivial floor | tokens / solved | seconds / solved |",
             "|---|---:|---:|---|---:|---:|---:|"]
    for label, r in results.items():
        ci = r.get("ci") or [None, None]
        lines.append(f"| {label} | {r['n']} | {_pct(r['accuracy'])} | {_pct(ci[0])}-{_pct(ci[1])} | "
                     f"{_pct(r['floor'])} | {_num(r['tokens_per_solved'], '.0f')} | "
                     f"{_num(r['seconds_per_solved'], '.2f')} |")
    return lines


def _usd(x: float | None) -> str:
    """Dollars, with the digits a per-item API cost needs (``$0.000123``)."""
    if x is None:
        return "-"
    if x >= 1:
        return f"${x:,.2f}"
    return "$" + (f"{x:.4f}" if x >= 0.01 else f"{x:.6f}").rstrip("0").rstrip(".")


def _teacher_cost(row: dict[str, Any]) -> str:
    if "teacher_tokens_per_solved" not in row:
        return ""
    text = (f"; {row['teacher_tokens_per_solved']:.0f} model tokens and {row['teacher_seconds_per_solved']:.2f} s "
            "per solved item")
    if "teacher_tokens_in" in row:
        text += f"; {row['teacher_tokens_in']:,} tokens in, {row['teacher_tokens_out']:,} out"
        if row.get("teacher_cost_usd") is not None:
            text += f", {_usd(row['teacher_cost_usd'])} in all"
    if row.get("teacher_resumed"):
        paid = f"this pass paid {_usd(row['teacher_paid_usd'])}, " if row.get("teacher_paid_usd") is not None else ""
        text += f"; {paid}{row['teacher_resumed']} runs resumed from an earlier pass"
    if row.get("teacher_errors"):
        text += f"; {row['teacher_errors']} runs failed"
    return text


def _time(time: dict[str, Any] | None) -> list[str]:
    """Where the round's time went (one line; rounds before it was recorded have none)."""
    if not time:
        return []

    def span(seconds: float) -> str:
        return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"

    parts = [f"collect {span(time['collect'])}", f"harvest {span(time['harvest'])}"]
    for kind in ("sft", "dpo"):
        if time.get(f"{kind}_steps") is not None:
            parts.append(f"{kind.upper()} {time[f'{kind}_steps']} steps {span(time[f'{kind}_step_seconds'])} "
                         f"(+ eval loss {span(time[f'{kind}_eval_loss_seconds'])}, GGUF merge "
                         f"{span(time[f'{kind}_gguf_seconds'])}, load and save {span(time[f'{kind}_setup_seconds'])})")
    if "select_seconds" in time:
        parts.append(f"--select {span(time['select_seconds'])}")
    return ["Time: " + " · ".join(parts + [f"evaluate {span(time['evaluate'])}"]), ""]


def _teacher_accuracy(row: dict[str, Any]) -> str:
    accuracy, rationalized = row["teacher_accuracy"], row.get("teacher_rationalized")
    items, checked = row.get("teacher_items"), row.get("teacher_checked")
    of = f" of its {checked} items with a gold answer ({items - checked} have none)" \
        if items and checked is not None and checked != items else ""
    if accuracy is None:
        return f"unknown (no item has a gold answer; {items} items)" if items else "-"
    if not rationalized:
        return _pct(accuracy) + of
    return (f"{_pct(accuracy - rationalized)} by its own attempts, "
            f"{_pct(accuracy)} with the failures rationalized{of}")


def _compared(report: dict[str, Any], row: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The model teacher a round's student is set beside: the round's own, else the run's (one was evaluated)."""
    teachers = report.get("teacher_eval") or {}
    if row.get("teacher") in teachers:
        return row["teacher"], teachers[row["teacher"]]
    return next(iter(teachers.items()), None)


def _per_solved(cell: dict[str, Any], key: str) -> float | None:
    solved = round(cell["accuracy"] * cell["n"])
    value = cell.get(key)
    return None if value is None or not solved else value / solved


def _money(spec: str, teacher: dict[str, Any], student: dict[str, Any], priced: bool) -> list[str]:
    """The student beside the teacher on each held-out set they share."""
    lines = [(f"Beside the teacher `{spec}` on the same questions (cost per solved item; the share of the "
              "teacher's accuracy the student keeps):"), "",
             ("| held-out set | n | teacher | student | student keeps | teacher $ / solved | student $ / solved | "
              "teacher s / solved | student s / solved |"), "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for label, mine in student.items():
        theirs = teacher["sets"].get(label)
        if theirs is None:
            continue
        keeps = mine["accuracy"] / theirs["accuracy"] if theirs["accuracy"] else None
        own = _usd(_per_solved(mine, "cost_usd")) if priced else ("$0 (local)" if mine["accuracy"] else "-")
        lines.append(f"| {label} | {mine['n']} | {_pct(theirs['accuracy'])} | {_pct(mine['accuracy'])} | "
                     f"{_pct(keeps)} | {_usd(_per_solved(theirs, 'cost_usd'))} | {own} | "
                     f"{_num(_per_solved(theirs, 'seconds'), '.2f')} | {_num(_per_solved(mine, 'seconds'), '.2f')} |")
    if teacher.get("price") is None:
        lines += ["", "The teacher has no price: give it with --teacher-price IN,OUT (USD per million tokens)."]
    return [*lines, ""]


def disagreements(teacher: dict[str, Any], student: dict[str, Any]) -> list[dict[str, Any]]:
    """The held-out questions one of the two gets right and the other wrong, set by set."""
    rows = []
    for label, mine in student.items():
        theirs = {item["id"]: item for item in (teacher["sets"].get(label) or {}).get("items", [])}
        for item in mine.get("items", []):
            other = theirs.get(item["id"])
            if other is not None and bool(other["correct"]) != bool(item["correct"]):
                rows.append({"set": label, "id": item["id"], "question": other.get("question"),
                             "gold": other.get("gold"), "teacher": other["prediction"],
                             "teacher_correct": bool(other["correct"]), "student": item["prediction"],
                             "student_correct": bool(item["correct"])})
    return rows


def _cell_text(text: Any, width: int = 90) -> str:
    text = " ".join(str("-" if text is None else text).split()).replace("|", "\\|")
    return text if len(text) <= width else text[:width - 1] + "…"


def _disagreement_table(spec: str, row: dict[str, Any], teacher: dict[str, Any]) -> list[str]:
    rows = disagreements(teacher, row["student"])
    if not rows:
        return []
    wins = sum(r["teacher_correct"] for r in rows)
    lines = [f"## Where the round {row['round']} student and the teacher disagree", "",
             f"`{spec}` is right and `{row['adapter']}` wrong on {wins} held-out questions; the other way round on "
             f"{len(rows) - wins}." + (f" The first {DISAGREEMENTS_SHOWN} (every item of both is in report.json):"
                                        if len(rows) > DISAGREEMENTS_SHOWN else ""), "",
             "| set | question | gold | teacher | student |", "|---|---|---|---|---|"]
    for r in rows[:DISAGREEMENTS_SHOWN]:
        mark = {True: " ✓", False: " ✗"}
        lines.append(f"| {r['set']} | {_cell_text(r['question'])} | {_cell_text(r['gold'], 20)} | "
                     f"{_cell_text(r['teacher'], 20)}{mark[r['teacher_correct']]} | "
                     f"{_cell_text(r['student'], 20)}{mark[r['student_correct']]} |")
    return [*lines, ""]


def _selection(row: dict[str, Any]) -> list[str]:
    """Which adapter the round kept, and its accuracy on the held-out pool questions (``--select dev``)."""
    dev = row.get("dev")
    if not dev:
        return []
    scores = " against ".join(f"`{name}` {_pct(acc)}" for name, acc in dev["accuracy"].items())
    return [f"kept `{dev['kept']}`: on {dev['n']} held-out questions of the pool, {scores}", ""]


def _setup(args: dict[str, Any]) -> str:
    """What a run's rounds did: teacher, student, pool and how long SFT trained (runs that continue one
    another may change the pool or the steps, so each says its own)."""
    steps = args.get("max_steps", -1)
    training = (f"SFT at most {steps} steps" if steps is not None and steps >= 0
                else f"SFT {args.get('epochs', 1.0):g} epoch(s)")
    if args.get("dpo_steps"):
        training += f" + {args['dpo_steps']} DPO steps"
    from apprentice.training.pools import POOL_LEVELS, pool_sizes

    pooled = {name for name, _ in pool_sizes(str(args.get("task") or ""), 0)}
    parts = [f"{label} {' '.join(map(str, args[key]))}" for name, (key, label) in POOL_LEVELS.items()
             if name in pooled and args.get(key)]
    if "arith" in pooled and args.get("arith_distractors"):
        kind = {"same": " of the same kind", "story": " from the story"}.get(args.get("arith_distractor_kind"), "")
        parts.append(f"arith share {args['arith_distractors']:g} with an unneeded number{kind}")
    levels = "; ".join(parts)
    return (f"teacher `{args.get('teacher')}` -> student `{args.get('student')}`, task `{args.get('task')}`"
            f"{f' ({levels})' if levels else ''}, strategy `{args.get('strategy')}`, {training}")


def render_markdown(report: dict[str, Any]) -> str:
    """Markdown: the command's arguments, the baseline, then each round."""
    args = report.get("args", {})
    lines = ["# Distillation report", ""]
    runs = [*report.get("earlier_args", []), args]
    if len(runs) == 1:
        lines += [_setup(args), ""]
    else:  # a continued run: every run's setup in the order they ran
        for number, run in enumerate(runs, 1):
            first = run.get("start_round", 1)
            last = first + run.get("rounds", 1) - 1
            span = f"round {first}" if first == last else f"rounds {first}-{last}"
            lines += [f"{number}. {span}{' (this run)' if number == len(runs) else ''}: " + _setup(run), ""]
    if "baseline" in report:
        lines += ["## Round 0: the starting student", "", *_table(report["baseline"]), ""]
        compared = next(iter((report.get("teacher_eval") or {}).items()), None)
        if compared:
            lines += _money(*compared, report["baseline"], priced=bool(args.get("student_price")))
    for row in report.get("rounds", []):
        lines += [f"## Round {row['round']}: adapter `{row['adapter']}`", "",
                  f"teacher `{row.get('teacher', args.get('teacher'))}`: accuracy on the pool "
                  + _teacher_accuracy(row) + f" ({row['teacher_runs']} runs, "
                  f"{row['teacher_seconds']:.0f} s{_teacher_cost(row)}); {row['harvested']} examples harvested"
                  + (f", DPO on {row['pairs']} verified-vs-failed pairs" if row.get("pairs") and
                     (str(row["adapter"]).endswith("-dpo") or row.get("dev")) else "") + "; round took "
                  f"{row['seconds'] / 60:.1f} min", "", *_time(row.get("time")), *_selection(row),
                  *_table(row["student"]), ""]
        compared = _compared(report, row)
        if compared:
            lines += _money(*compared, row["student"], priced=bool(args.get("student_price")))
    last = report.get("rounds", [])[-1:]
    compared = _compared(report, last[0]) if last else None
    if compared:
        lines += _disagreement_table(compared[0], last[0], compared[1])
    if report.get("stopped"):
        lines += [f"Stopped: {report['stopped']}.", ""]
    if report.get("best_student"):
        lines += [f"Best student: `{report['best_student']}`", ""]
    return "\n".join(lines)


def plot_rounds(report: dict[str, Any], path: Path) -> None:
    """Accuracy per held-out set by round (solid), the trivial floor (dashed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = ([{"round": 0, "student": report["baseline"]}] if "baseline" in report else []) + report.get("rounds", [])
    if not rows:
        return
    fig, ax = plt.subplots(figsize=(8.5, 4), dpi=110)
    for i, label in enumerate(rows[0]["student"]):
        color = f"C{i}"
        xs = [r["round"] for r in rows if label in r["student"]]
        ys = [100 * r["student"][label]["accuracy"] for r in rows if label in r["student"]]
        ax.plot(xs, ys, marker="o", color=color, label=f"{label} student")
        ax.axhline(100 * rows[0]["student"][label]["floor"], color=color, linestyle="--", linewidth=1,
                   label=f"{label} add-all floor")
    ax.set_xlabel("round (0 = starting student)")
    ax.set_ylabel("held-out accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_xticks([r["round"] for r in rows])
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))  # beside the axes: it hid round 1's points
    ax.set_title("apprentice distill: student accuracy by round")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
