"""Session 50: the pool of a student that goes on where the harness decides (ReAct's ``decide=ask``).

Three parts, one SFT stage from the shipped student:
- steps: the worked solutions of SVAMP train and GSM8K train (levels 2-3) as student-prompt trajectories in which
  every step after the first opens with the harness's words (``(go on: 13 and 40 not used yet)``: the loss leaves
  them out) and goes on with a cue-word thought and its calculator call; after the last result, the student's own
  step answers. Only solutions whose every later step uses a number the tally lists (the decision "yes" would be
  right) and whose last result is the answer; those that go on by combining earlier results alone are left out,
  their going on would be the student's own.
- kept: a pool the shipped student was trained on (its one-call trajectories), so its own steps stay as they were.
- decisions: "does the answer still need a number not used yet?" with yes or no, after a calculator history (the
  worked solution's prefixes and one call on another pair of the question's numbers), labelled by whether the tally
  lists a number the worked solution uses.

    python go_on_pool.py KEPT_DATASET OUT_DATASET [--steps N] [--decisions N]
"""
import argparse
import ast
import itertools
import json
import random
import re
from collections import Counter
from pathlib import Path

from apprentice.agents.decide import decision_prompt, go_on_opening
from apprentice.agents.react import format_observation
from apprentice.agents.verifier import unused_in
from apprentice.tasks import get_task
from apprentice.tasks.extract import parse_number
from apprentice.tools.calculator import CalculatorError, calculate
from apprentice.training.replay import _operations, justify, reason, worked_steps

NUMBER = re.compile(r"\d+(?:\.\d+)?")
BINARY = re.compile(r"^(\S+) ([-+*/]) (\S+)$")


def numbers(text):
    return {float(n) for n in NUMBER.findall(text.replace(",", ""))}


def gold_numbers(task, item):
    """The numbers the item's worked solution computes with (empty when it has none)."""
    return {n for s in worked_steps(task, item) or [] for n in numbers(s.expression)}


def needed(unused, gold):
    """The decision's label: "yes" when the tally lists a number the worked solution uses, else "no"."""
    return "yes" if {float(n) for n in unused} & gold else "no"


def computed(expression):
    """The calculator's result, or None where it refuses (3 / 0)."""
    try:
        return calculate(expression)
    except CalculatorError:
        return None


def thought(question, expression):
    if m := BINARY.match(expression):
        return justify(question, m[2], m[1], m[3])
    ops = _operations(ast.parse(expression.replace(",", ""), mode="eval").body)
    return f"{reason(question, ops[0])}: {expression}."


def steps_trajectory(task, item):
    """The worked solution as a go-on trajectory, or None (see the module's docstring)."""
    steps = worked_steps(task, item)
    if not steps or len(steps) < 2:
        return None
    text, inputs = "", []
    for k, step in enumerate(steps):
        try:
            said = thought(item.question, step.expression)
        except (SyntaxError, ValueError, IndexError):
            return None
        if k:
            unused = unused_in(item.question, inputs, words=True)
            if not unused or not numbers(step.expression) & {float(n) for n in unused}:
                return None  # goes on by combining earlier results: the student's own decision, not the harness's
            said = go_on_opening(unused).strip() + " " + said
        if (result := computed(step.expression)) is None:
            return None
        text += f"Thought: {said}\nAction: calculator\nAction Input: {step.expression}\nObservation: " \
                f"{format_observation(result)}\n"
        inputs.append(step.expression)
    value, gold = parse_number(result), parse_number(item.answer)
    if value is None or gold is None or abs(value - gold) > 1e-6 * max(1, abs(gold)):
        return None
    return text + f"Thought: The calculator gave {result}, so this answers the question.\nFinal Answer: {result}"


def decisions(task, item, rng, wrong):
    steps = worked_steps(task, item)
    if not steps:
        return []
    gold = gold_numbers(task, item)
    out, seen = [], set()

    def add(exprs):
        if tuple(exprs) in seen:
            return
        seen.add(tuple(exprs))
        calls = [(e, computed(e)) for e in exprs]
        if any(r is None for _, r in calls):
            return
        unused = unused_in(item.question, exprs, words=True)
        if unused:
            out.append((decision_prompt(item.question, calls, unused), needed(unused, gold)))

    for k in range(1, len(steps) + 1):
        add([s.expression for s in steps[:k]])
    pairs = list(itertools.combinations(unused_in(item.question, [], words=True), 2))
    rng.shuffle(pairs)
    for a, b in pairs[:wrong]:
        x, y = (a, b) if float(a) >= float(b) else (b, a)
        add([f"{x} {rng.choice('+-*/')} {y}"])
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("kept", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--steps", type=int, default=1200, help="go-on trajectories at most (SVAMP's all kept)")
    parser.add_argument("--decisions", type=int, default=2500)
    args = parser.parse_args()
    rng = random.Random(0)
    kept = [json.loads(line) for line in (args.kept / "train.jsonl").read_text().splitlines() if line.strip()]
    system = next(m for m in kept[0]["messages"] if m["role"] == "system")
    svamp = get_task("svamp").load(split="train")
    gsm = [i for level in (2, 3) for i in get_task("gsm8k", level=level).load(split="train")]
    steps = []
    for task, items in (("svamp", svamp), ("gsm8k", gsm)):
        for item in items:
            if (text := steps_trajectory(task, item)) is not None:
                steps.append({"messages": [system, {"role": "user", "content": item.question},
                                           {"role": "assistant", "content": text}], "protocol": "react",
                              "metadata": {"task": task, "item_id": item.id, "teacher": "dataset", "part": "steps",
                                           "question": item.question, "answer": item.answer, "correct": True}})
    svamp_steps = [r for r in steps if r["metadata"]["task"] == "svamp"]
    gsm_steps = [r for r in steps if r["metadata"]["task"] == "gsm8k"]
    rng.shuffle(gsm_steps)
    steps = svamp_steps + gsm_steps[:max(0, args.steps - len(svamp_steps))]
    decided = [d for task, items in (("svamp", svamp), ("gsm8k", gsm + get_task("gsm8k", level=1).load(
        split="train"))) for item in items for d in decisions(task, item, rng, 3 if task == "svamp" else 1)]
    rng.shuffle(decided)
    yes = [d for d in decided if d[1] == "yes"]
    no = [d for d in decided if d[1] == "no"]
    half = args.decisions // 2
    chosen = no[:half] + yes[:args.decisions - min(half, len(no))]
    decision_rows = [{"messages": [{"role": "user", "content": p}, {"role": "assistant", "content": a}],
                      "protocol": "plain", "metadata": {"part": "decision", "label": a}} for p, a in chosen]
    for row in kept:
        row.setdefault("metadata", {})["part"] = "kept"
    rows = steps + kept + decision_rows
    rng.shuffle(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    if (args.kept / "eval.jsonl").exists():
        (args.out / "eval.jsonl").write_text((args.kept / "eval.jsonl").read_text())
    print(Counter((r["metadata"].get("part"), r["metadata"].get("task") or r["metadata"].get("label")) for r in rows))


if __name__ == "__main__":
    main()
