"""The distillation report: a table per round and a plot, always beside the trivial-rule floor."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["render_markdown", "plot_rounds"]


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


def _teacher_cost(row: dict[str, Any]) -> str:
    if "teacher_tokens_per_solved" not in row:
        return ""
    return (f"; {row['teacher_tokens_per_solved']:.0f} model tokens and {row['teacher_seconds_per_solved']:.2f} s "
            "per solved item")


def _teacher_accuracy(row: dict[str, Any]) -> str:
    rationalized = row.get("teacher_rationalized")
    if not rationalized:
        return _pct(row["teacher_accuracy"])
    return (f"{_pct(row['teacher_accuracy'] - rationalized)} by its own attempts, "
            f"{_pct(row['teacher_accuracy'])} with the failures rationalized")


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
    from apprentice.training.distill import POOL_LEVELS, pool_sizes

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
    for row in report.get("rounds", []):
        lines += [f"## Round {row['round']}: adapter `{row['adapter']}`", "",
                  f"teacher `{row.get('teacher', args.get('teacher'))}`: accuracy on the pool "
                  + _teacher_accuracy(row) + f" ({row['teacher_runs']} runs, "
                  f"{row['teacher_seconds']:.0f} s{_teacher_cost(row)}); {row['harvested']} examples harvested"
                  + (f", DPO on {row['pairs']} verified-vs-failed pairs" if row.get("pairs") and
                     (str(row["adapter"]).endswith("-dpo") or row.get("dev")) else "") + "; round took "
                  f"{row['seconds'] / 60:.1f} min", "", *_selection(row), *_table(row["student"]), ""]
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
