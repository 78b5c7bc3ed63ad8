"""Where a distillation round's time goes, and what this session's cuts take off it (issue 38, faster rounds).

Three parts, any of them:

``--data DIR`` (a harvested dataset, e.g. a round's ``$APPRENTICE_HOME/datasets/NAME``): the training's parts side
by side in one run, on the same batches, each after a warm-up step: an SFT step as before (LoRA dropout 0.05, TRL's
fused LM head) and now (dropout 0, the LM head at the learned positions only, the system prompt every row of a batch
shares through the backbone once), and one eval-loss pass over all the held-out examples (before) and over the first
48 (now).

``--dpo-data DIR`` (a dataset with preference pairs, e.g. a self-taught round's): a DPO step with TRL's fused LM
heads (before) and with label heads and the shared prefix once (now), on the same batches.

``--report DIR`` (a distill report folder): each round's recorded time (collect, harvest, SFT steps, eval loss,
GGUF merge, load and save, DPO, --select, evaluate) in minutes and shares.

    .venv/bin/python benchmarks/round_time.py --data ~/.local/share/apprentice/datasets/fast-r1 --steps 8 \\
        --report reports/fast [--dpo-data DIR] [--out benchmarks/results/round_time.txt]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.decode_speed import machine_info  # noqa: E402


def _batches(data: Path, split: str, tokenizer, size: int, limit: int | None = None) -> list[dict]:
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    from apprentice.training.sft import _tokenized, load_chat_split

    rows = load_chat_split(data, split)[:limit]
    examples = _tokenized(rows, tokenizer, 768)
    examples = sorted(examples, key=lambda e: len(e["input_ids"]))  # the trainer groups by length too
    collate = DataCollatorForLanguageModeling(pad_token_id=tokenizer.pad_token_id)
    return [collate([examples[i] for i in range(j, min(j + size, len(examples)))])
            for j in range(0, len(examples), size)]


def _tokenizer():
    from apprentice.training.base_model import load_tokenizer, resolve_base

    return load_tokenizer(resolve_base("local"))


def _model(dropout: float):
    from apprentice.training.base_model import load_for_training, lora_config, resolve_base

    return load_for_training(resolve_base("local"), qlora=False, lora=lora_config(16, 32, dropout, "all-linear"))


def _trainer(data: Path, tokenizer, dropout: float, trainer_class):
    """A trainer of the class on a fresh LoRA model (its compute_loss is what a step or an eval-loss pass runs)."""
    from trl import SFTConfig

    from apprentice.training.config import TrainArgs
    from apprentice.training.sft import _tokenized, load_chat_split, trainer_arguments

    model = _model(dropout)[1]
    config = SFTConfig(**{**trainer_arguments(TrainArgs(data=data, name="t", batch_size=4), Path("/tmp/rt"), False),
                          "save_strategy": "no"}, max_length=768)
    examples = _tokenized(load_chat_split(data, "train")[:8], tokenizer, 768)
    trainer = trainer_class(model=model, args=config, train_dataset=examples, processing_class=tokenizer)
    trainer.current_gradient_accumulation_steps = 1
    return trainer, model


def sft_steps(data: Path, steps: int) -> list[str]:
    """Seconds per SFT step (the trainer's loss, backward, AdamW) as before (LoRA dropout 0.05, TRL's fused LM
    head) and now (dropout 0, the LM head at the learned positions only, the shared prefix once), alternating on the
    same batches; and each change alone."""
    from trl import SFTTrainer

    from apprentice.training.label_head import LabelHeadSFTTrainer

    tokenizer = _tokenizer()
    batches = _batches(data, "train", tokenizer, 4)
    picked = [batches[i * len(batches) // steps] for i in range(steps)]  # short to long, as an epoch has them

    class WholeRows(LabelHeadSFTTrainer):
        share_prefix = False

    settings = {"before: dropout 0.05, TRL's fused head": (0.05, SFTTrainer),
                "dropout 0, TRL's fused head": (0.0, SFTTrainer),
                "dropout 0.05, label head": (0.05, WholeRows),
                "dropout 0, label head (session 37)": (0.0, WholeRows),
                "now: dropout 0, label head, shared prefix": (0.0, LabelHeadSFTTrainer)}
    trainers = {label: _trainer(data, tokenizer, p, trainer_class) for label, (p, trainer_class) in settings.items()}
    tokens = statistics.mean(int(b["attention_mask"].sum()) for b in picked)
    return [f"SFT step (batch 4, {tokens:.0f} tokens on average, {steps} steps each alternating, median; "
            "ratio to before):"] + _alternate(trainers, picked)


def dpo_steps(data: Path, steps: int) -> list[str]:
    """Seconds per DPO step (2 pairs: the policy's and the frozen reference's log-probabilities, the loss with RPO's
    NLL, backward, AdamW) with TRL's fused LM heads (before) and label heads with the shared prefix once (now),
    alternating on the same batches."""
    from itertools import islice

    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    from apprentice.training.dpo import DPOArgs, load_pairs
    from apprentice.training.label_head import LabelHeadDPOTrainer
    from apprentice.training.sft import trainer_arguments

    pairs = Dataset.from_list(load_pairs(data))
    config = DPOConfig(**{**trainer_arguments(DPOArgs(data=data, name="t"), Path("/tmp/rt-dpo"), False),
                          "save_strategy": "no"}, beta=0.1, max_length=768, loss_type=["sigmoid", "sft"],
                       loss_weights=[1.0, 1.0])
    trainers = {}
    for label, trainer_class in (("before: TRL's fused heads", DPOTrainer),
                                 ("now: label heads, shared prefix", LabelHeadDPOTrainer)):
        tokenizer, model = _model(0.0)
        reference = _model(0.0)[1].merge_and_unload().eval().requires_grad_(False)
        trainers[label] = (trainer_class(model=model, ref_model=reference, args=config, train_dataset=pairs,
                                         processing_class=tokenizer), model)
    picked = list(islice(next(iter(trainers.values()))[0].get_train_dataloader(), steps))
    tokens = statistics.mean(int(b["attention_mask"].sum()) for b in picked)
    return [f"DPO step (2 pairs, {tokens:.0f} tokens on average, {steps} steps each alternating, median; "
            "ratio to before):"] + _alternate(trainers, picked)


def _alternate(trainers: dict[str, tuple], batches: list[dict]) -> list[str]:
    """Each trainer's step (its loss, backward, AdamW) on each batch in turn after a warm-up step: the median
    seconds of each and its ratio to the first's."""
    import torch

    runs = {}
    for label, (trainer, model) in trainers.items():
        optimizer = torch.optim.AdamW([w for w in model.parameters() if w.requires_grad], lr=1e-4)
        model.train()
        runs[label] = (trainer, model, optimizer, [])

    def step(label: str, batch: dict) -> None:
        trainer, model, optimizer, times = runs[label]
        began = time.perf_counter()
        trainer.compute_loss(model, dict(batch)).backward()
        optimizer.step()
        optimizer.zero_grad()
        times.append(time.perf_counter() - began)

    for label in runs:
        step(label, batches[0])  # warm-up
        runs[label][3].clear()
    for batch in batches:
        for label in runs:
            step(label, batch)
    before = statistics.median(runs[next(iter(runs))][3])
    return [f"  {label:44s} {statistics.median(times):6.2f} s   {statistics.median(times) / before:.2f}"
            for label, (*_, times) in runs.items()]


def eval_loss(data: Path) -> list[str]:
    """Seconds for one eval-loss pass: every held-out example through the model's own loss (before), the first 48
    (session 37), and the first 48 through the label head with the shared prefix once (now)."""
    import torch

    from apprentice.training.label_head import LabelHeadSFTTrainer

    tokenizer = _tokenizer()
    trainer, model = _trainer(data, tokenizer, 0.0, LabelHeadSFTTrainer)
    model.eval()

    def models_loss(batch: dict) -> None:
        model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["labels"])

    rows = []
    for label, limit, loss in (("all, the model's own loss (before)", None, models_loss),
                               ("first 48, the model's own loss (session 37)", 48, models_loss),
                               ("first 48, label head, shared prefix (now)", 48,
                                lambda batch: trainer.compute_loss(model, dict(batch)))):
        batches = _batches(data, "eval", tokenizer, 4, limit)
        began = time.perf_counter()
        with torch.no_grad():
            for batch in batches:
                loss(batch)
        rows.append((label, sum(len(b["input_ids"]) for b in batches), time.perf_counter() - began))
    before = rows[0][2]
    return ["eval-loss pass (the trainer runs one every 50 steps; ratio to before):"] + [
        f"  {label:44s} {n:4d} examples {secs:6.1f} s   {secs / before:.2f}" for label, n, secs in rows]


def report_time(folder: Path) -> list[str]:
    """Each round's recorded time, part by part."""
    report = json.loads((folder / "report.json").read_text())
    lines = []
    for row in report.get("rounds", []):
        time_ = row.get("time")
        if not time_:
            lines.append(f"round {row['round']}: {row['seconds'] / 60:.1f} min (no breakdown recorded)")
            continue
        parts = [("collect (teacher pass)", time_["collect"]), ("harvest", time_["harvest"])]
        for kind in ("sft", "dpo"):
            if time_.get(f"{kind}_steps") is not None:
                parts += [(f"{kind.upper()} {time_[f'{kind}_steps']} steps", time_[f"{kind}_step_seconds"]),
                          (f"{kind.upper()} eval loss", time_[f"{kind}_eval_loss_seconds"]),
                          (f"{kind.upper()} GGUF merge", time_[f"{kind}_gguf_seconds"]),
                          (f"{kind.upper()} load and save", time_[f"{kind}_setup_seconds"])]
        if "select_seconds" in time_:
            parts.append(("--select", time_["select_seconds"]))
        evaluated = ", ".join(f"{label} {cell['n']}" for label, cell in row["student"].items())
        parts.append((f"evaluate ({evaluated} items)", time_["evaluate"]))
        total = row["seconds"]
        lines.append(f"round {row['round']} (adapter {row['adapter']}): {total / 60:.1f} min")
        lines += [f"  {name:34s} {seconds / 60:6.1f} min  {seconds / total:5.1%}" for name, seconds in parts]
        lines.append("  accuracy: " + ", ".join(f"{label} {cell['accuracy']:.1%} (n={cell['n']})"
                                               for label, cell in row["student"].items()))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, help="a harvested dataset folder (train.jsonl, eval.jsonl)")
    parser.add_argument("--steps", type=int, default=8, help="SFT (and DPO) steps timed per setting")
    parser.add_argument("--dpo-data", type=Path, help="a harvested dataset with preference pairs (pairs.jsonl)")
    parser.add_argument("--report", type=Path, help="a distill report folder whose rounds' time to break down")
    parser.add_argument("--out", type=Path, help="also append the output to this file")
    args = parser.parse_args()
    if not args.data and not args.report and not args.dpo_data:
        parser.error("give --data DIR, --dpo-data DIR, --report DIR or any of them")
    from apprentice.threads import cpu_threads

    lines = [machine_info(cpu_threads())]
    if args.data:
        import torch

        torch.set_num_threads(cpu_threads())
        lines += sft_steps(args.data, args.steps) + eval_loss(args.data)
    if args.dpo_data:
        import torch

        torch.set_num_threads(cpu_threads())
        lines += dpo_steps(args.dpo_data, args.steps)
    if args.report:
        lines += report_time(args.report)
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with args.out.open("a", encoding="utf-8") as fh:
            fh.write(text + "\n")


if __name__ == "__main__":
    main()
