"""A student's questions as the first turn of a conversation and as a follow-up, side by side in one run.

Each held-out question is asked twice with the same model: alone in a new thread, and in a thread that
already holds one earlier turn (a fixed question and the model's own answer to it), as in the chat UI.
Prints accuracy and how many turns had a step the ReAct parser could not read, for both, and their ratio.

    python benchmarks/student_followups.py --model adapter:ep2-r1 [--task arith --level 1] [--limit 50]

Run it in the APPRENTICE_HOME whose registry holds the adapter. The runs go to that home's trace store.
"""

from __future__ import annotations

import argparse
import sys

FIRST = "Ann has 8 shells and finds 5 more. How many shells does she have now?"


def _turn(question: str, *, model, spec: str, task, item, thread_id: str | None, checkpointer):
    from apprentice.graphs import run_question

    return run_question(question, model=model, model_spec=spec, task=task, item=item, thread_id=thread_id,
                        checkpointer=checkpointer, tools=["calculator"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="model spec, e.g. adapter:ep2-r1")
    parser.add_argument("--task", default="arith")
    parser.add_argument("--level", type=int, help="arith level (default 1) or gsm8k number of steps (default all)")
    parser.add_argument("--limit", type=int, default=50, help="held-out questions (default 50)")
    args = parser.parse_args(argv)

    from langgraph.checkpoint.memory import InMemorySaver

    from apprentice.agents.react import FORMAT_ERROR
    from apprentice.errors import ApprenticeError
    from apprentice.models import load_chat_model
    from apprentice.tasks import get_task

    try:
        level = 1 if args.level is None and args.task == "arith" else args.level
        task = get_task(args.task, level=level)  # a task without levels fails on a given --level
        items = task.load(split="test", limit=args.limit)
        model = load_chat_model(args.model)
    except (ApprenticeError, OSError, ValueError) as exc:
        raise SystemExit(f"error: {exc}") from None

    unreadable_step = FORMAT_ERROR.split("{")[0]  # the observation the graph feeds back for such a step
    saver = InMemorySaver()
    counts = {"alone": [0, 0], "follow-up": [0, 0]}  # right, turns with an unreadable step
    for item in items:
        alone = _turn(item.question, model=model, spec=args.model, task=task, item=item, thread_id=None,
                      checkpointer=saver)
        first = _turn(FIRST, model=model, spec=args.model, task=None, item=None, thread_id=None, checkpointer=saver)
        follow = _turn(item.question, model=model, spec=args.model, task=task, item=item,
                       thread_id=first.thread_id, checkpointer=saver)
        for name, result in (("alone", alone), ("follow-up", follow)):
            counts[name][0] += bool(result.correct)
            counts[name][1] += unreadable_step in str(result.state.get("scratch", ""))
    n = len(items)
    for name, (right, unreadable) in counts.items():
        print(f"{name:>9}: {right}/{n} right ({right / n:.1%}), {unreadable}/{n} turns with an unreadable step")
    alone, follow = counts["alone"][0], counts["follow-up"][0]
    print(f"follow-up / alone accuracy: {follow / alone:.2f}" if alone else "follow-up / alone accuracy: n/a")
    return 0


if __name__ == "__main__":
    sys.exit(main())
