"""Session 50: a pool of decisions alone ("does the answer still need a number not used yet?"), the volume lever:
the schema generator's problems (levels 1-3, most of them with a sentence whose number the solution does not use)
beside SVAMP train's and GSM8K train's, as go_on_pool.py makes them, balanced yes and no.

    python decision_pool.py OUT_DATASET [--per-level N] [--total N]
"""
import argparse
import json
import random
from collections import Counter
from pathlib import Path

from go_on_pool import decisions

from apprentice.tasks import get_task


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--per-level", type=int, default=3000)
    parser.add_argument("--total", type=int, default=8000)
    args = parser.parse_args()
    rng = random.Random(0)
    sources = [("schema", get_task("schema", level=level, n=args.per_level, seed=50, distractors=0.7).load(
        split="train")) for level in (1, 2, 3)]
    sources += [("svamp", get_task("svamp").load(split="train"))]
    sources += [("gsm8k", get_task("gsm8k", level=level).load(split="train")) for level in (1, 2, 3)]
    made = [(task, *d) for task, items in sources for item in items
            for d in decisions(task, item, rng, 3 if task != "gsm8k" else 1)]
    rng.shuffle(made)
    yes, no = [m for m in made if m[2] == "yes"], [m for m in made if m[2] == "no"]
    half = min(args.total // 2, len(no), len(yes))
    chosen = yes[:half] + no[:half]
    rng.shuffle(chosen)
    rows = [{"messages": [{"role": "user", "content": p}, {"role": "assistant", "content": a}], "protocol": "plain",
             "metadata": {"part": "decision", "task": task, "label": a}} for task, p, a in chosen]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[48:]))
    (args.out / "eval.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:48]))
    print(Counter((task, a) for task, _, a in made), "->", Counter((r["metadata"]["task"], r["metadata"]["label"])
                                                                   for r in rows))


if __name__ == "__main__":
    main()
