"""Session 51: one adapter for both seats of ReAct's ``decide=ask``, without the first-step drift of session 50's C26.

Two parts, one SFT stage from the shipped student:
- continuations: session 50's go-on trajectories (``go_on_pool.steps_trajectory``: the worked solutions of SVAMP
  train and GSM8K train levels 2-3, every later step opened by the harness), with ``learn: opened``: the loss counts
  only what the student writes after the harness's first opening, so its first steps are context, not taught
  (C26 learned them too, and its own first steps drifted: SVAMP 105 -> 82 with ``decide=self``);
- decisions: the first N rows of a ``decision_pool.py`` dataset (yes or no after a calculator history).
SVAMP train's first 160 problems are left out of both: they are threshold.py's dev set.

    python pool.py DECISIONS_DATASET OUT_DATASET [--steps N] [--decisions N]
"""
import argparse
import json
import random
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "s50"))
from go_on_pool import steps_trajectory  # noqa: E402

from apprentice.tasks import get_task  # noqa: E402
from apprentice.training.examples import react_messages  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("decided", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--steps", type=int, default=1200,
                        help="continuations at most (SVAMP's first; 0: decisions alone)")
    parser.add_argument("--decisions", type=int, default=3200)
    args = parser.parse_args()
    rng = random.Random(0)
    rows = {"svamp": [], "gsm8k": []}
    sources = [("svamp", get_task("svamp").load(split="train"))]
    sources += [("gsm8k", [i for level in (2, 3) for i in get_task("gsm8k", level=level).load(split="train")])]
    dev = {i.id for i in get_task("svamp").load(split="train", limit=160)}  # threshold.py's dev set: left out
    dev_questions = tuple(i.question for i in get_task("svamp").load(split="train", limit=160))
    for task, items in sources:
        for item in items:
            if task == "svamp" and item.id in dev:
                continue
            if (text := steps_trajectory(task, item)) is not None:
                rows[task].append({
                    "messages": react_messages(item.question, text, ["calculator"], react_prompt="student"),
                    "protocol": "react", "learn": "opened",
                    "metadata": {"task": task, "item_id": item.id, "teacher": "dataset", "part": "continuation",
                                 "question": item.question, "answer": item.answer, "correct": True}})
    rng.shuffle(rows["gsm8k"])
    steps = (rows["svamp"] + rows["gsm8k"][:max(0, args.steps - len(rows["svamp"]))])[:args.steps]
    decided = [row for line in (args.decided / "train.jsonl").read_text().splitlines()
               if not (row := json.loads(line))["messages"][0]["content"].startswith(dev_questions)][:args.decisions]
    every = steps + decided
    rng.shuffle(every)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in every))
    (args.out / "eval.jsonl").write_text((args.decided / "eval.jsonl").read_text())
    print(Counter((r["metadata"]["part"], r["metadata"].get("task") or r["metadata"].get("label")) for r in every))


if __name__ == "__main__":
    main()
