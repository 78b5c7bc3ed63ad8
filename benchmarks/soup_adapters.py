"""A soup of LoRA adapters trained from one start: their weights averaged, registered as one adapter.

    python benchmarks/soup_adapters.py NAME MEMBER MEMBER [MEMBER ...] [--weights W W ...]

Each MEMBER is an adapter in the registry (``APPRENTICE_HOME``) continued from the same parent (or one of them from
another: a fine-tune and the adapter it continued, whose LoRA factors it started from) with the same LoRA
configuration and ReAct prompt (the same recipe with other seeds, or sibling levers). A soup (Wortsman et al. 2022, "Model soups")
averages the weights of fine-tunes that start from one point: here the members' LoRA matrices, entry by entry, which
for fine-tunes this close to their parent is, to first order, the average of their weight changes (200 DPO steps
move a matrix by ~2.6% of its norm). The soup is saved in fp16, as a student ships, and imported like an export from
another machine, so its merged GGUF is rebuilt and it runs in every seat as ``adapter:NAME``.

``--weights`` (one per member, normalised to sum 1) makes a weighted average instead of the uniform one: with two
members, a point on the line between them, as WiSE-FT (Wortsman et al. 2022, "Robust fine-tuning of zero-shot
models") interpolates a fine-tune with the model it started from to keep what the start did well: here the
shipped student and a lever continued from it (or a sibling of it from its parent); the matrices interpolated are the
LoRA factors, which to first order is the interpolation of their weight changes.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

#: the files an adapter folder carries beside its weights and record
_COPIED = ("adapter_config.json", "chat_template.jinja", "tokenizer.json", "tokenizer_config.json")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name", help="the soup's adapter name")
    parser.add_argument("members", nargs="+", help="adapters of the same parent and LoRA configuration")
    parser.add_argument("--weights", nargs="+", type=float, metavar="W",
                        help="one weight per member (normalised to sum 1); default: the uniform average")
    args = parser.parse_args(argv)
    if len(set(args.members)) < 2:
        raise SystemExit("error: a soup needs two or more different adapters")
    shares = args.weights or [1.0] * len(args.members)
    if len(shares) != len(args.members) or any(not w >= 0 for w in shares) or sum(shares) <= 0:
        raise SystemExit(f"error: --weights needs {len(args.members)} numbers >= 0 (one per member), not all 0")
    shares = [w / sum(shares) for w in shares]

    import torch
    from safetensors.torch import load_file, save_file

    from apprentice.errors import ApprenticeError
    from apprentice.training.registry import get_adapter, import_adapter

    try:
        records = [get_adapter(name) for name in args.members]
        weights = [load_file(str(r.path / "adapter_model.safetensors")) for r in records]
        configs = [json.loads((r.path / "adapter_config.json").read_text(encoding="utf-8")) for r in records]
    except (ApprenticeError, OSError, ValueError) as exc:
        raise SystemExit(f"error: {exc}") from None
    ancestor = _common_ancestor(records)
    shapes = [{k: tuple(t.shape) for k, t in w.items()} for w in weights]
    lora = [(c.get("r"), c.get("lora_alpha"), sorted(c.get("target_modules") or [])) for c in configs]
    if ancestor is False or any(s != shapes[0] for s in shapes) or any(x != lora[0] for x in lora):
        raise SystemExit("error: the members differ in parent, LoRA configuration or weights' shapes: "
                         + ", ".join(f"{r.name} (parent {r.parent or r.base})" for r in records))
    if len({r.react_prompt for r in records}) > 1:  # the soup runs with one prompt: which is not the script's to pick
        raise SystemExit("error: the members were trained with different ReAct prompts: "
                         + ", ".join(f"{r.name} ({r.react_prompt})" for r in records))
    soup = {k: sum(share * w[k].float() for share, w in zip(shares, weights)).to(torch.float16).contiguous()
            for k in weights[0]}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / args.name
        folder.mkdir()
        for name in _COPIED:
            if (records[0].path / name).is_file():
                shutil.copy(records[0].path / name, folder / name)
        save_file(soup, str(folder / "adapter_model.safetensors"))
        record = records[0].to_dict()
        record.pop("path", None)
        datasets = {r.dataset for r in records}
        record.update(name=args.name, kind="soup", parent=ancestor, created_at=time.time(), metrics={},
                      fingerprint=None,
                      dataset=datasets.pop() if len(datasets) == 1 else None,
                      training_args={**record.get("training_args", {}), "soup_of": args.members,
                                     "soup_weights": [round(w, 6) for w in shares]})
        (folder / "apprentice.json").write_text(json.dumps(record, indent=2, default=str), encoding="utf-8")
        try:
            imported = import_adapter(folder, args.name)
        except ApprenticeError as exc:
            raise SystemExit(f"error: {exc}") from None
    mix = ", ".join(args.members) if not args.weights else ", ".join(
        f"{name} x {share:.3g}" for name, share in zip(args.members, shares))
    print(f"adapter {imported.name}: the {'weighted ' if args.weights else ''}average of {mix} (fp16"
          + (", merged GGUF built)" if imported.gguf else ")"))
    return 0


def _common_ancestor(records: list) -> str | None | bool:
    """The nearest adapter every member descends from (a member itself when the others continue from it), None for
    members all trained afresh on one base, False when they share no start: LoRA factors of different starts are
    not on one line, and their average means nothing."""
    from apprentice.errors import ApprenticeError
    from apprentice.training.registry import get_adapter

    if len({r.base for r in records}) > 1:
        return False
    if all(r.parent is None for r in records):
        return None
    lineages = []
    for record in records:
        names, parent = [record.name], record.parent
        while parent and parent not in names:  # parents named by the registry, as far as it still holds them
            names.append(parent)
            try:
                parent = get_adapter(parent).parent
            except ApprenticeError:
                break
        lineages.append(names)
    shared = [name for name in lineages[0] if all(name in lineage for lineage in lineages[1:])]
    return shared[0] if shared else False


if __name__ == "__main__":
    sys.exit(main())
