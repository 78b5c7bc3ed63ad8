"""`apprentice distill`: self-improvement rounds (teacher -> verify -> harvest -> train -> eval)."""

from __future__ import annotations

import argparse
import sys

from apprentice.cli import command


def _cmd_distill(args: argparse.Namespace) -> int:
    from apprentice.training.config import config_from_args
    from apprentice.training.distill import DistillArgs, run_distill
    from apprentice.training.distill_args import report_dir

    config = config_from_args(DistillArgs, args)
    report = run_distill(config, log=lambda msg: print(msg, file=sys.stderr, flush=True), from_step=args.from_step,
                         stop_after=args.stop_after)
    if report.partial is not None:  # --stop-after: the run ended unfinished, as asked
        print(f"stopped after round {report.partial.round}'s {report.partial.done[-1]} step; report so far in "
              f"{report_dir(config)}")
        return 0
    print(f"best student: {report.best_student}; report in {report_dir(config)}")
    return 0


@command("distill")
def _distill_parser(sub) -> None:
    from apprentice.training.config import add_dataclass_arguments
    from apprentice.training.distill import DistillArgs
    from apprentice.training.rounds import PAUSE_STEPS, STEPS

    p = sub.add_parser("distill", help="self-improvement distillation rounds into a local student")
    add_dataclass_arguments(p, DistillArgs)
    p.add_argument("--from-step", choices=STEPS, default=None, help=(
        "rerun the unfinished round in the report folder, or the round a stopped run stopped in (else its last "
        "round), from this step, on what the steps before it wrote down (same options): evaluate re-evaluates the "
        "round's adapter, train retrains on its dataset. Without it, the same command after a killed run resumes "
        "after the last finished step"))
    p.add_argument("--stop-after", choices=PAUSE_STEPS, default=None, help=(
        "end the run once the first round it runs has finished this step, unfinished: collect (the teacher pass), "
        "harvest (its dataset, e.g. to train on with apprentice train or mix into another), train (its adapter); "
        "the same command without it goes on from there"))
    p.set_defaults(func=_cmd_distill)
