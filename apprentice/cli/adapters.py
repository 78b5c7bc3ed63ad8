"""`apprentice adapters list | show NAME | export NAME [--merge] | import DIR [--as NAME] | delete NAME`."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path

from apprentice.cli import command
from apprentice.errors import ApprenticeError


def _cmd_adapters(args: argparse.Namespace) -> int:
    from apprentice.training import registry

    if args.action == "list":
        records = registry.list_adapters()
        if args.json:
            print(json.dumps([r.to_dict() for r in records], default=str))
        elif not records:
            print("no adapters yet (apprentice train sft ...)")
        for r in [] if args.json else records:
            when = dt.datetime.fromtimestamp(r.created_at).strftime("%Y-%m-%d %H:%M")
            loss = r.metrics.get("best_eval_loss") or r.metrics.get("train_loss")
            loss_text = f"{loss:.3f}" if isinstance(loss, float) else "-"
            print(f"{r.name:<24} {r.kind:<4} base {r.base:<18} {when}  loss {loss_text:<6}  "
                  f"{'gguf' if r.gguf else 'peft'}")
        return 0
    if not args.name:
        wanted = "an exported adapter's folder" if args.action == "import" else "an adapter name"
        raise ApprenticeError(f"adapters {args.action} needs {wanted}")
    if args.action == "import":
        record = registry.import_adapter(Path(args.name), args.as_name)
        print(f"imported {args.name} as adapter {record.name} (base {record.base}"
              + (", merged GGUF rebuilt)" if record.gguf else ")"))
        return 0
    if args.action == "show":
        record = registry.get_adapter(args.name)
        print(json.dumps(record.to_dict(), indent=2, default=str))
    elif args.action == "delete":
        registry.delete_adapter(args.name)
        print(f"deleted adapter {args.name}")
    else:
        if not args.out:
            raise ApprenticeError("adapters export needs --out DIR")
        out = registry.export_adapter(args.name, Path(args.out), merge=args.merge)
        print(f"exported {args.name} to {out}" + (" (merged into the base)" if args.merge else ""))
    return 0


@command("adapters")
def _adapters_parser(sub) -> None:
    p = sub.add_parser("adapters", help="the registry of trained students")
    p.add_argument("action", choices=["list", "show", "export", "import", "delete"])
    p.add_argument("name", nargs="?", help="the adapter's name; import: the exported folder")
    p.add_argument("--as", dest="as_name", help="import: register under this name (default: its own)")
    p.add_argument("--out", help="export: target folder")
    p.add_argument("--merge", action="store_true", help="export a standalone merged model (safetensors)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_adapters)
