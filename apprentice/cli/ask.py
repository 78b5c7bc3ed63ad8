"""`apprentice ask`: answer one question, streaming the reasoning steps."""

from __future__ import annotations

import argparse
import json
import sys
import threading

from apprentice.cli import (
    add_constrain_flag,
    add_option_flag,
    command,
    parse_options,
    positive_int,
)
from apprentice.errors import ApprenticeError

_PRINT_LOCK = threading.Lock()  # parallel branches (ToT, CoT-SC) record steps from several threads


def _print_step(step) -> None:
    from apprentice.traces.render import format_step

    line = format_step(step)
    if line and step.kind != "answer":
        with _PRINT_LOCK:
            print(line, flush=True)


def _question(words: list[str]) -> str:
    """The question from the command line; bytes that are not UTF-8 (surrogates in argv) are refused."""
    question = " ".join(words)
    try:
        question.encode("utf-8")
    except UnicodeEncodeError as exc:
        byte = ord(question[exc.start]) - 0xDC00
        shown = f"byte 0x{byte:02x}" if 0 <= byte < 0x100 else f"character {question[exc.start]!r}"
        raise ApprenticeError(f"the question is not valid UTF-8 text ({shown} at character {exc.start + 1}); "
                              "check the terminal's encoding") from None
    return question


def _not_computed(run_id: str, answer: str) -> str | None:
    """Why the run's calculator work does not give its answer (the verifier's rule), or None."""
    from apprentice.agents.verifier import answer_not_computed
    from apprentice.traces import open_store

    run = open_store().get(run_id)
    return None if run is None else answer_not_computed(answer, run.steps)


def _cmd_ask(args: argparse.Namespace) -> int:
    from apprentice.graphs import run_question
    from apprentice.tasks import get_task
    from apprentice.tools import ToolContext
    from apprentice.tools.retrieval import check_docs_dir

    question = _question(args.question)
    docs = check_docs_dir(args.docs) if args.docs else None
    task = get_task(args.task) if args.task else None
    result = run_question(
        question, strategy=args.strategy, model=args.model, thread_id=args.thread,
        task=task, tools=[t for t in args.tools.split(",") if t.strip()] if args.tools is not None else None,
        tool_context=ToolContext(docs_dir=docs),
        sink=None if args.json else _print_step, max_steps=args.max_steps,
        summarize=args.summarize, protocol=args.protocol, options=parse_options(args.option),
        constrain=args.constrain,
    )
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False))
    else:
        print(f"\nAnswer: {result.answer if result.answer is not None else '(none)'}")
        if result.answer is not None and (note := _not_computed(result.run_id, result.answer)):
            print(f"Check it: {note}")
        print(f"run {result.run_id} · thread {result.thread_id} · {result.model_calls} model calls · "
              f"{result.tokens_in} tokens in / {result.tokens_out} out · {result.latency_s:.1f} s",
              file=sys.stderr)
    return 0 if result.status == "ok" else 1


@command("ask")
def _ask_parser(sub) -> None:
    from apprentice.graphs import STRATEGIES

    p = sub.add_parser("ask", help="answer one question and show the reasoning steps")
    p.add_argument("question", nargs="+", help="the question")
    p.add_argument("--model", default="local", help="model spec (default: local, the embedded model)")
    p.add_argument("--strategy", default="react", choices=list(STRATEGIES))
    p.add_argument("--thread", help="continue this conversation thread")
    p.add_argument("--task", help="frame and check answers as this task does (e.g. gsm8k)")
    p.add_argument("--tools", help="comma-separated allowed tools (default: all; '' for none)")
    p.add_argument("--docs", help="folder of documents for the retrieve tool")
    p.add_argument("--max-steps", type=positive_int, default=6, help="ReAct step limit (default 6)")
    p.add_argument("--summarize", action="store_true", help="summarize thread history beyond the window")
    p.add_argument("--protocol", choices=["auto", "text", "native"], default="auto",
                   help="tool-call protocol (auto: native for OpenAI models, text otherwise)")
    add_constrain_flag(p)
    add_option_flag(p)
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the steps")
    p.set_defaults(func=_cmd_ask)
