"""`apprentice train sft|dpo`: fine-tune a student with TRL + (Q)LoRA into the adapter registry."""

from __future__ import annotations

import argparse

from apprentice.cli import command


def _cmd_train(args: argparse.Namespace) -> int:
    from apprentice.training import dpo, sft
    from apprentice.training.config import config_from_args

    module, config_cls = (sft, sft.SFTArgs) if args.method == "sft" else (dpo, dpo.DPOArgs)
    record = module.main(config_from_args(config_cls, args))
    loss = record.metrics.get("best_eval_loss") or record.metrics.get("train_loss")
    print(f"adapter {record.name} ({record.kind}) saved to {record.path}"
          + (f"; loss {loss:.4f}" if isinstance(loss, float) else "")
          + (f"; llama.cpp model {record.gguf}" if record.gguf else ""))
    return 0


@command("train")
def _train_parser(sub) -> None:
    from apprentice.training import dpo, sft

    p = sub.add_parser("train", help="fine-tune a student (sft or dpo) into the adapter registry")
    methods = p.add_subparsers(dest="method", required=True, parser_class=type(p))
    sft.make_parser(methods.add_parser("sft", help="supervised fine-tuning on a harvested dataset"))
    dpo.make_parser(methods.add_parser("dpo", help="preference tuning on harvested pairs"))
    p.set_defaults(func=_cmd_train)
