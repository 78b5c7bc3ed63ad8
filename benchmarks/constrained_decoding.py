"""Grammar-constrained ReAct steps (issue 37, part 1), measured side by side in one run.

For each model and held-out set, the same items run through ``react`` with the calculator twice: free
text (``--constrain off``) and grammar-constrained steps (``--constrain steps``). Per cell: accuracy
(95% Wilson interval), the share of runs with an unreadable step (a step the parser could not read, or
a tool that does not exist: goal 0), model tokens out and seconds per item. Then the decode speed of
llama.cpp with and without a grammar on the same prompt: a grammar that admits everything (the
sampler's own cost, identical text) and the ReAct step grammar (goal: >= 0.8x).

    .venv/bin/python benchmarks/constrained_decoding.py --models local=10 student=0 \\
        --sets arith:1 svamp gsm8k:1 --out /tmp/constrained
(``MODEL=N``: the first N items of each set's test split, 0 = all of it.)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.decode_speed import machine_info  # noqa: E402

#: Observations that mean the model's step could not be used as written.
UNREADABLE = ("Error: I could not read your last step", "Error: '")


def wilson(k: int, n: int) -> str:
    from apprentice.eval import wilson_interval

    if not n:
        return "-"
    lo, hi = wilson_interval(k, n)
    return f"{100 * lo:.1f}-{100 * hi:.1f}"


def unreadable(run) -> bool:
    return any(s.kind == "error" and (s.observation or "").startswith(UNREADABLE) for s in run.steps)


def cell(spec: str, chat, task_spec: str, limit: int, mode: str, out: Path) -> dict:
    from apprentice.eval import EvalConfig, run_eval
    from apprentice.traces import open_store

    task, _, level = task_spec.partition(":")
    config = EvalConfig(task=task, strategies=["react"], models=[spec], split="test", limit=limit or None,
                        task_options={"level": int(level)} if level else {}, tools=["calculator"],
                        constrain=mode, report_dir=out / f"{spec}-{task_spec.replace(':', '')}-{mode}")
    report = run_eval(config, progress=False, models={spec: chat})
    items = next(iter(report.items.values()))
    store = open_store()
    runs = [store.get(r.run_id) for r in items if r.run_id]
    n = len(items)
    right = sum(bool(r.correct) for r in items)
    return {"model": spec, "set": task_spec, "mode": mode, "n": n, "right": right,
            "unreadable": sum(unreadable(r) for r in runs),
            "tokens": statistics.fmean(r.tokens_out for r in items) if items else 0.0,
            "seconds": statistics.fmean(r.latency_s for r in items) if items else 0.0}


#: ReAct steps to time (the questions of three held-out sets' kinds).
SPEED_QUESTIONS = ["Jenny read 23 pages on Monday and 18 on Tuesday. How many pages did she read in total?",
                   "A baker made 48 muffins and sold 19. Then he baked 25 more. How many muffins does he have?",
                   "Each box holds 12 pencils. How many pencils are in 7 boxes?"]


def decode_speed(chat, repeats: int, tokens: int) -> list[tuple[str, float]]:
    """Median tokens/s of one ReAct step (the text protocol's prompt, the calculator offered): without a
    grammar, with a grammar that admits everything (the sampler's own cost), with the step grammar applied to
    every token, and with the step grammar as the product runs it (the free thought line decoded without it)."""
    from apprentice.agents.grammar import react_step_grammar
    from apprentice.agents.react import STOP_SEQUENCES, text_protocol_messages
    from apprentice.tools import get_tools

    step = react_step_grammar(["calculator"], answer="number")
    grammars = {"none": None, "admit-all": 'root ::= [^\\x00]*\n', "step, every token": step.full,
                "step, line first": step}
    prompts = [text_protocol_messages(question=q, scratch="", tools=get_tools(["calculator"])) for q in SPEED_QUESTIONS]
    spent = {k: [0, 0.0] for k in grammars}
    for _ in range(repeats):  # interleaved, so load on a shared machine hits all alike
        for prompt in prompts:
            for name, grammar in grammars.items():
                chat.invoke(prompt, max_tokens=1)  # the prompt in the cache for every variant alike
                started = time.perf_counter()
                reply = chat.invoke(prompt, stop=STOP_SEQUENCES, max_tokens=tokens, temperature=0.0, grammar=grammar)
                spent[name][0] += reply.usage_metadata["output_tokens"]
                spent[name][1] += time.perf_counter() - started
    return [(name, n / s) for name, (n, s) in spent.items()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["local=10", "student=0"])
    parser.add_argument("--sets", nargs="+", default=["arith:1", "svamp", "gsm8k:1"])
    parser.add_argument("--out", default="/tmp/constrained")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=96)
    parser.add_argument("--speed-only", action="store_true", help="only the decode speed comparison")
    args = parser.parse_args()
    from apprentice.models import load_chat_model

    out = Path(args.out)
    threads = int(os.environ.get("APPRENTICE_THREADS") or os.cpu_count() or 1)
    print(machine_info(threads))
    print("\n| model | set | constrain | n | accuracy | 95% CI | runs with an unreadable step | tokens out / item "
          "| seconds / item |\n|---|---|---|---:|---:|---|---:|---:|---:|")
    rows = []
    for entry in [] if args.speed_only else args.models:
        spec, _, limit = entry.partition("=")
        chat = load_chat_model(spec)
        for task_spec in args.sets:
            pair = [cell(spec, chat, task_spec, int(limit or 0), mode, out) for mode in ("off", "steps")]
            for r in pair:
                print(f"| {r['model']} | {r['set']} | {r['mode']} | {r['n']} | {100 * r['right'] / r['n']:.1f}% "
                      f"| {wilson(r['right'], r['n'])} | {r['unreadable']} ({100 * r['unreadable'] / r['n']:.0f}%) "
                      f"| {r['tokens']:.0f} | {r['seconds']:.1f} |", flush=True)
            rows.append(pair)
    print("\nconstrained / free, per cell: accuracy (items right), seconds per item")
    for off, steps in rows:
        print(f"  {off['model']:8} {off['set']:8} right {off['right']} -> {steps['right']}, "
              f"seconds x{steps['seconds'] / off['seconds']:.2f}, unreadable {off['unreadable']} -> "
              f"{steps['unreadable']}")
    speeds = decode_speed(load_chat_model("local"), args.repeats, args.tokens)
    base = speeds[0][1]
    print(f"\ndecode speed of a ReAct step, local model, up to {args.tokens} tokens, "
          f"{len(SPEED_QUESTIONS)} questions x {args.repeats} (goal: >= 0.8x):")
    for name, tps in speeds:
        print(f"  grammar {name:18}: {tps:6.1f} tok/s  ({tps / base:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
