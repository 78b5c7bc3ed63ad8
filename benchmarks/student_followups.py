"""A student's questions as the first turn of a conversation and as a follow-up, side by side in one run.

Each held-out question is asked alone in a new thread, and in a thread that already holds one earlier turn (a
fixed question and the model's own answer to it), as in the chat UI: as the product sends it (the transcript of
the earlier turn only with a question that does not stand alone, ``react.stands_alone``), and with the transcript
forced (``transcript="always"``, how every follow-up went before). Then a few questions that point back at that
earlier turn ("And if she finds 4 more?"), with the transcript and with it forced out. Prints accuracy and how
many turns had a step the ReAct parser could not read, and the ratios.

    python benchmarks/student_followups.py --model adapter:ep2-r1 [--task arith --level 1] [--limit 50]

Run it in the APPRENTICE_HOME whose registry holds the adapter. The runs go to that home's trace store.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import contextmanager

FIRST = "Ann has 8 shells and finds 5 more. How many shells does she have now?"
#: follow-ups to FIRST that need it (8 + 5 = 13 shells), with their answers
POINTING_BACK = [
    ("And if she finds 4 more?", 17),
    ("Then she gives 6 of them to her brother. How many does she have left?", 7),
    ("What if she had found 9 instead of 5?", 17),
    ("She puts them in 13 boxes, the same number in each. How many shells are in each box?", 1),
    ("Her friend has 3 times as many. How many shells does her friend have?", 39),
    ("And if she loses 10 of them?", 3),
    ("She finds 7 more the next day. How many does she have now?", 20),
    ("Then her sister gives her 12 shells. How many shells does Ann have in all?", 25),
]


@contextmanager
def _transcript(mode: str):
    """The student prompt's transcript rule for the runs inside: ``needed`` (the product's), ``always`` (every
    follow-up gets it) or ``never`` (none does)."""
    from apprentice.agents import react

    rule = react.stands_alone
    react.stands_alone = {"needed": rule, "always": lambda _: False, "never": lambda _: True}[mode]
    try:
        yield
    finally:
        react.stands_alone = rule


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
    from apprentice.tasks import Item, get_task

    try:
        level = 1 if args.level is None and args.task == "arith" else args.level
        task = get_task(args.task, level=level)  # a task without levels fails on a given --level
        items = task.load(split="test", limit=args.limit)
        model = load_chat_model(args.model)
    except (ApprenticeError, OSError, ValueError) as exc:
        raise SystemExit(f"error: {exc}") from None

    unreadable_step = FORMAT_ERROR.split("{")[0]  # the observation the graph feeds back for such a step
    saver = InMemorySaver()
    counts: dict[str, list[int]] = {}  # name: [right, turns with an unreadable step, asked]

    def ask(name: str, question: str, task, item, mode: str | None) -> None:
        with _transcript(mode or "needed"):
            thread = None
            if mode is not None:  # a second turn: the fixed first one, answered by the model itself
                thread = _turn(FIRST, model=model, spec=args.model, task=None, item=None, thread_id=None,
                               checkpointer=saver).thread_id
            result = _turn(question, model=model, spec=args.model, task=task, item=item, thread_id=thread,
                           checkpointer=saver)
        count = counts.setdefault(name, [0, 0, 0])
        count[0] += bool(result.correct)
        count[1] += unreadable_step in str(result.state.get("scratch", ""))
        count[2] += 1

    for item in items:
        ask("alone", item.question, task, item, None)
        ask("follow-up", item.question, task, item, "needed")
        ask("follow-up, transcript forced", item.question, task, item, "always")
    for i, (question, answer) in enumerate(POINTING_BACK):  # checked as the task's own numeric answers
        item = Item(id=f"back-{i}", question=question, answer=str(answer))
        ask("points back", question, task, item, "needed")
        ask("points back, transcript left out", question, task, item, "never")

    width = max(map(len, counts))
    for name, (right, unreadable, n) in counts.items():
        print(f"{name:>{width}}: {right}/{n} right ({right / n:.1%}), {unreadable}/{n} turns with an unreadable step")
    alone = counts["alone"][0]
    for name in ("follow-up", "follow-up, transcript forced"):
        ratio = f"{counts[name][0] / alone:.2f}" if alone else "n/a"
        print(f"{name} / alone accuracy: {ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
