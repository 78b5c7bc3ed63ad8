"""`apprentice harvest`: verified traces -> an explanation dataset (HF datasets + chat JSONL)."""

from __future__ import annotations

import argparse
from pathlib import Path

from apprentice.cli import command
from apprentice.errors import DataError
from apprentice.training.contrast import KINDS as CONTRAST_KINDS


def _cmd_harvest(args: argparse.Namespace) -> int:
    from apprentice.traces.query import parse_since
    from apprentice.training.harvest import EXPLAIN_SYSTEM, HarvestConfig, harvest

    system = {"runtime": None, "none": "", "explain": EXPLAIN_SYSTEM}[args.system]
    out = Path(args.out).expanduser()
    if out.exists() and not out.is_dir():
        raise DataError(f"--out {args.out} is a file; harvest writes a dataset folder")
    result = harvest(HarvestConfig(
        out=out, task=args.task, strategy=args.strategy, model=args.model,
        since=parse_since(args.since) if args.since else None, only_verified=args.only_verified,
        verdict_source=args.verdict_source,
        min_score=args.min_score, eval_fraction=args.eval_fraction, max_chars=args.max_chars,
        max_per_question=args.max_per_question, system=system, react_prompt=args.react_prompt, seed=args.seed,
        followups=args.followups, contrast=args.contrast_pairs, contrast_kinds=args.contrast_kinds,
        tools=args.tools.split(",") if args.tools else None))
    skipped = ", ".join(f"{k} {v}" for k, v in result.skipped.items()) or "none"
    print(f"harvested {result.train} train + {result.eval} eval examples and {result.pairs} preference pairs "
          f"from {result.seen} runs into {result.out} (left out: {skipped})")
    return 0


@command("harvest")
def _harvest_parser(sub) -> None:
    from apprentice.agents.react import REACT_PROMPTS
    from apprentice.traces.records import VERDICT_SOURCES

    p = sub.add_parser("harvest", help="turn verified traces into a training dataset")
    p.add_argument("--out", required=True, help="dataset folder to write")
    p.add_argument("--task")
    p.add_argument("--strategy")
    p.add_argument("--model", help="only traces of this model spec (the teacher)")
    p.add_argument("--since", help="ISO date/time, or an age like 2h, 3d")
    p.add_argument("--only-verified", action=argparse.BooleanOptionalAction, default=True,
                   help="keep only runs whose verdict is correct (default: yes)")
    p.add_argument("--verdict-source", choices=list(VERDICT_SOURCES),
                   help="keep runs accepted by their latest verdict of this source instead of their own: gold (the "
                        "task's checker), vote (the share of a self-consistency vote: give --min-score), judge (an "
                        "LLM judge), rules (the rules verifier), human (a rating from the chat or traces rate). "
                        "Whatever the source, a person's bad leaves that answer to a task's question out of every "
                        "run, and a corrected answer (rate --answer) is the gold answer that gold checks by")
    p.add_argument("--min-score", type=float, help="the verdict's lowest score to keep (a vote's share: 0-1)")
    p.add_argument("--eval-fraction", type=float, default=0.1,
                   help="held-out share, grouped by question (at least one question, never all; held-out questions "
                        "are in no DPO pair either; 0: none)")
    p.add_argument("--react-prompt", choices=list(REACT_PROMPTS), default="full",
                   help="ReAct examples: the full format prompt, or the short one the student runs with "
                        "(student: prompt erasure; tally: the same, with the line the harness writes after each "
                        "calculator result, the question's numbers not used yet; the adapter records it)")
    p.add_argument("--max-chars", type=int, default=4000, help="drop longer examples")
    p.add_argument("--max-per-question", type=int, default=2)
    p.add_argument("--system", choices=["runtime", "none", "explain"], default="runtime",
                   help="system prompt in examples: the runtime one, none (prompt erasure), or an explanation prompt")
    p.add_argument("--tools", help="tools offered in ReAct examples (default: those the run used)")
    p.add_argument("--followups", type=float, default=0.0, metavar="SHARE",
                   help="with --react-prompt student: this share (0-1) of the training examples get one to three "
                        "other questions and answers as the chat thread's earlier turns (default 0)")
    p.add_argument("--contrast-pairs", type=int, default=0, metavar="N",
                   help="add up to N DPO pairs per verified one-action ReAct training example: the same trajectory "
                        "with one of its numbers swapped for another of the question's (or a difference's or "
                        "quotient's operands reversed) as the rejected side, computed by the calculator (default 0)")
    p.add_argument("--contrast-kinds", nargs="+", choices=CONTRAST_KINDS, default=["quantity"], metavar="KIND",
                   help="what contrast pairs change, N pairs of each: quantity (the above), operation (the "
                        "operation it is mistaken for, + and -, * and /, and the thought's verb with it), partial "
                        "(one operation of a composed expression on two of its numbers, answered as if it were all), "
                        "extra (a number of the question the expression does not use, composed in) "
                        "(default: quantity)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_cmd_harvest)
