"""Which adapter a distill round would keep: SFT against SFT + DPO on the round's held-out pool questions.

    python benchmarks/select_dev.py --home APPRENTICE_HOME --name NAME --rounds 3 4 [--out FILE.json]

For each round N, the questions of ``datasets/NAME-rN/eval.jsonl`` (the harvest's eval split: pool items
outside the round's SFT train split, answers known from their traces) are answered by
``adapter:NAME-rN`` and ``adapter:NAME-rN-dpo`` with ReAct, the calculator and the evaluation's limits,
through the scoring function ``apprentice distill --select dev`` uses inside a round. Datasets harvested
before the harvest fix (``b793bda``) put held-out questions into DPO pairs too, which favours the DPO
adapter; the printout says how many. SFT picks its best checkpoint by eval loss on these questions,
which favours the SFT adapter.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def _rows(path: Path) -> list[dict]:
    from apprentice.training.sft import dataset_lines  # split at newlines only, as SFT reads the same files

    return [json.loads(line) for line in dataset_lines(path) if line.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", required=True, help="APPRENTICE_HOME of the distill run")
    parser.add_argument("--name", required=True, help="the run's adapter name prefix (NAME-rN)")
    parser.add_argument("--rounds", type=int, nargs="+", required=True)
    parser.add_argument("--out", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    home = Path(args.home).expanduser()
    os.environ["APPRENTICE_HOME"] = str(home)
    from apprentice.errors import ApprenticeError
    from apprentice.tasks import Item, get_task
    from apprentice.traces import open_store
    from apprentice.training.distill import DistillArgs, _accuracy

    results = []
    for round_no in args.rounds:
        folder = home / "datasets" / f"{args.name}-r{round_no}"
        if not (folder / "eval.jsonl").is_file():
            raise SystemExit(f"error: no harvested dataset at {folder} (eval.jsonl)")
        store = open_store()
        dev, seen = [], set()
        for row in _rows(folder / "eval.jsonl"):
            meta = row.get("metadata", {})
            key = (meta.get("task"), meta.get("item_id"))
            if key in seen or not all(key):
                continue
            seen.add(key)
            try:
                run = store.get(meta["run_id"])
            except ApprenticeError:
                continue
            dev.append((get_task(run.task), Item(run.item_id, meta["question"], run.gold, {})))
        if not dev:
            raise SystemExit(f"error: no held-out question of {folder} has its run in the store at {home}")
        pairs = folder / "pairs.jsonl"
        paired = ({p["metadata"]["question"] for p in _rows(pairs)} if pairs.is_file() else set()) \
            & {i.question for _, i in dev}
        scores = {}
        for name in (f"{args.name}-r{round_no}", f"{args.name}-r{round_no}-dpo"):
            started = time.time()
            try:
                scores[name] = _accuracy(f"adapter:{name}", DistillArgs(task="arith"), dev,
                                         {"distill": args.name, "round": round_no, "select_dev": True})
            except ApprenticeError as exc:
                raise SystemExit(f"error: {exc}") from None
            print(f"round {round_no}: {name} {scores[name]:.1%} on {len(dev)} held-out pool questions "
                  f"({time.time() - started:.0f} s)", flush=True)
        kept = max(reversed(list(scores)), key=scores.__getitem__)
        print(f"round {round_no}: --select dev keeps {kept} ({len(paired)} of the {len(dev)} questions are in "
              "DPO pairs of this dataset)")
        results.append({"round": round_no, "n": len(dev), "accuracy": scores, "kept": kept,
                        "held_out_in_pairs": len(paired)})
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
