"""`apprentice distill`: self-improvement rounds (teacher -> verify -> harvest -> train -> eval)."""

from __future__ import annotations

import argparse
import sys

from apprentice.cli import command


def _cmd_distill(args: argparse.Namespace) -> int:
    from apprentice.training.config import config_from_args
    from apprentice.training.distill import DistillArgs, _report_dir, run_distill

    config = config_from_args(DistillArgs, args)
    report = run_distill(config, log=lambda msg: print(msg, file=sys.stderr, flush=True))
    print(f"best student: {report['best_student']}; report in {_report_dir(config)}")
    return 0


@command("distill")
def _distill_parser(sub) -> None:
    from apprentice.training.config import add_dataclass_arguments
    from apprentice.training.distill import DistillArgs

    p = sub.add_parser("distill", help="self-improvement distillation rounds into a local student")
    add_dataclass_arguments(p, DistillArgs)
    p.set_defaults(func=_cmd_distill)
