"""Can a model-based score pick the right one of a react-sc run's sampled answers better than the rules verifier?

    python benchmarks/rerank_samples.py REACT_SC_REPORT_DIR --home APPRENTICE_HOME --out SAMPLES.jsonl \
        [--implicit DPO_ADAPTER] [--reward-pairs PAIRS.jsonl --reward-steps 90]
    python benchmarks/rerank_samples.py --from SAMPLES.jsonl [--recheck TASK] [--curve]

Reads every sampled ReAct run of a ``react-sc --verifier rules`` eval (each step carries its sample index)
and rebuilds each sample's trajectory in the student's chat format. Scores, each optional:

- ``--implicit NAME``: DPO's implicit reward, log pi(y|x) - log pi_ref(y|x) over the tokens the student
  writes, with the DPO adapter NAME as pi and its parent adapter (the reference DPO trained against) as
  pi_ref; also pi's mean log-prob per token (its confidence).
- ``--reward-pairs FILE``: an outcome reward model: TRL's ``RewardTrainer`` (LoRA r=16 on all linear layers
  of the base model, a one-output score head, Bradley-Terry loss) trained on a harvest's verified-vs-failed
  ``pairs.jsonl`` for ``--reward-steps`` steps of 8 pairs, then run on every sample.

Prints, for each way of choosing among an item's samples, its accuracy over the items (plain majority, the
rules-weighted vote the product runs, the argmax of a score, the vote weighted by rules score x sigmoid(score))
and McNemar's p against the rules-weighted vote; then each score's AUC (does a right sample score above a
wrong one), over all samples and over those the rules accept. ``--out`` keeps the scored samples (trajectories
and scores, no question text) so ``--from`` can print the table again without a model; ``--recheck TASK``
adds the vote as the rules verifier would weigh it now, the task's plausibility rule applied again to each
stored answer with its question (read from the task's data). ``--curve`` prints, for k = 1 .. the samples an
item has, the accuracy of the plain and the rules-weighted vote over each item's first k samples and how often
the gold answer is among them: what more samples buy, measured on one run.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from item_flips import mcnemar_p, read_report  # benchmarks/, on the path when run as a script

Sample = dict[str, Any]


def load_samples(report_dir: Path, limit: int | None = None) -> list[Sample]:
    """One record per sampled run of each item of a react-sc report: key, gold, rules score, trajectory."""
    from apprentice.config import data_path
    from apprentice.graphs.cot_sc import normalized
    from apprentice.tasks import get_task
    from apprentice.traces import open_store
    from apprentice.training.examples import react_trajectory

    report, rows = read_report(report_dir)
    rows = rows[:limit] if limit else rows
    options = report.get("task_options") or {}
    task = get_task(report["task"], **options)
    store = open_store(data_path("traces.db"))
    samples = []
    for row in rows:
        run = store.get(row["run_id"])
        checks = {s.data["sample"]: s.data for s in run.steps if s.kind == "verify" and "sample" in s.data}
        if not checks:
            raise SystemExit(f"error: run {run.id} has no per-sample verdicts (a react-sc run with --verifier rules, "
                             "recorded by code that tags each sample's steps, is needed)")
        for index in sorted(checks):
            steps = [s for s in run.steps if s.data.get("sample") == index]
            answer = next((s.raw for s in steps if s.kind == "answer"), None)
            key = normalized(task, f"Final Answer: {answer}") if answer is not None else None  # as react-sc keys it
            samples.append({"run": run.id, "item": run.item_id, "sample": index, "key": key,
                            "gold": task.normalize(run.gold), "rules": checks[index].get("score"),
                            "question": run.question, "answer_format": task.answer_format,
                            "trajectory": react_trajectory(dataclasses.replace(run, strategy="react", steps=steps))})
    return samples


def _messages(sample: Sample, system: str | None) -> list[dict[str, str]]:
    from apprentice.training.examples import react_messages

    return react_messages(sample["question"], sample["trajectory"], ["calculator"], sample["answer_format"],
                          system=system, react_prompt="student")


def score_implicit(samples: list[Sample], name: str) -> None:
    """Adds ``policy`` (sum log-prob of the learned tokens under adapter ``name``), ``ref`` (under its parent),
    ``implicit`` (their difference) and ``confidence`` (policy per token)."""
    import torch

    from apprentice.training.registry import adapters_root, get_adapter, merged_model
    from apprentice.training.tokenization import tokenize_example

    record = get_adapter(name)
    if not record.parent:
        raise SystemExit(f"error: adapter {name} has no parent adapter to serve as DPO's reference")
    models = {}
    for role, adapter in (("policy", name), ("ref", record.parent)):
        model, tokenizer = merged_model(get_adapter(adapter).base, adapters_root() / adapter)
        models[role] = model.eval()
    for sample in samples:
        if sample["trajectory"] is None:
            continue
        example = tokenize_example(_messages(sample, None), "react", tokenizer, max_length=1024)
        ids, labels = torch.tensor([example["input_ids"]]), torch.tensor(example["labels"][1:])
        mask = labels != -100
        for role, model in models.items():
            with torch.no_grad():
                logp = torch.log_softmax(model(ids).logits[0, :-1].float(), -1)
            sample[role] = float(logp[mask].gather(1, labels[mask][:, None]).sum())
        sample["implicit"] = sample["policy"] - sample["ref"]
        sample["confidence"] = sample["policy"] / max(1, int(mask.sum()))


def score_reward_model(samples: list[Sample], pairs_file: Path, steps: int, base: str) -> None:
    """Trains an outcome reward model on ``pairs_file`` and adds its score as ``orm``."""
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForSequenceClassification
    from trl import RewardConfig, RewardTrainer

    from apprentice.backends.hf import load_hf
    from apprentice.training.base_model import resolve_base

    from apprentice.training.sft import dataset_lines

    pairs = [json.loads(line) for line in dataset_lines(pairs_file) if line.strip()]
    rows = [{k: p[k] for k in ("prompt", "chosen", "rejected")} for p in pairs]
    folder = resolve_base(base).folder
    tokenizer, _ = load_hf(folder)
    tokenizer.pad_token = tokenizer.pad_token or tokenizer.eos_token
    model = AutoModelForSequenceClassification.from_pretrained(folder, num_labels=1, dtype=torch.float32)
    model.config.pad_token_id = tokenizer.pad_token_id
    config = RewardConfig(output_dir=str(Path(os.environ.get("TMPDIR", "/tmp")) / "rerank-orm"),
                          per_device_train_batch_size=8, max_steps=steps, learning_rate=2e-4, logging_steps=10,
                          save_strategy="no", report_to="none", max_length=768, use_cpu=not torch.cuda.is_available(),
                          center_rewards_coefficient=0.01, seed=0, lr_scheduler_type="cosine", warmup_steps=5)
    lora = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, target_modules="all-linear", task_type="SEQ_CLS")
    started = time.perf_counter()
    trainer = RewardTrainer(model=model, args=config, train_dataset=Dataset.from_list(rows),
                            processing_class=tokenizer, peft_config=lora)
    trainer.train()
    print(f"reward model: {len(rows)} pairs, {steps} steps, {time.perf_counter() - started:.0f} s", file=sys.stderr)
    model = trainer.model.eval()
    system = pairs[0]["prompt"][0]["content"]  # the student's system prompt, as the pairs carry it
    for sample in samples:
        if sample["trajectory"] is not None:
            text = tokenizer.apply_chat_template(_messages(sample, system), tokenize=False)
            with torch.no_grad():
                sample["orm"] = float(model(**tokenizer(text, return_tensors="pt", add_special_tokens=False))
                                      .logits[0, 0])


# -- choosing among an item's samples --------------------------------------------------------------


def _rules(sample: Sample) -> float:
    return 0.5 if sample["rules"] is None else sample["rules"]


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def vote(samples: list[Sample], weight: Callable[[Sample], float | None] | None = None) -> str | None:
    """The product's vote over one item's samples: ``cot_sc.majority`` without ``weight``, else ``cot_sc.weighted``
    with each sample's weight as its score (None counts 0.5, as a verifier's missing verdict does), falling back
    on the plain winner where no sample has any weight (as ``cot_sc.vote`` does)."""
    from apprentice.graphs.cot_sc import majority, weighted

    ordered = sorted(samples, key=lambda s: s["sample"])
    keys = [s["key"] for s in ordered]
    plain = majority(keys)[0]
    if weight is None:
        return plain
    chosen = weighted(keys, [weight(s) for s in ordered])[0]
    return plain if chosen is None else chosen  # as cot_sc.vote: no weight anywhere, the plain winner


def argmax(samples: list[Sample], field: str, rank: Callable[[Sample], Any] | None = None) -> str | None:
    scored = [s for s in samples if s["key"] is not None and field in s]
    return max(scored, key=rank or (lambda s: s[field]))["key"] if scored else None


def auc(samples: list[Sample], field: str) -> tuple[float, int, int] | None:
    right = [s[field] for s in samples if field in s and s["key"] == s["gold"]]
    wrong = [s[field] for s in samples if field in s and s["key"] != s["gold"]]
    if not right or not wrong:
        return None
    wins = sum((r > w) + 0.5 * (r == w) for r in right for w in wrong)
    return wins / (len(right) * len(wrong)), len(right), len(wrong)


def recheck(samples: list[Sample], task_name: str) -> None:
    """Each sample's ``rules_now``: its stored verdict, or 0 where the task's plausibility rule as it is now
    rejects its answer to its question (the rule is the first thing the rules verifier checks after the
    arithmetic, so a stored acceptance it now rejects is a rejection)."""
    from apprentice.tasks import get_task

    task = get_task(task_name)
    questions = {item.id: item.question for split in ("train", "test") for item in task.load(split=split)}
    for s in samples:
        rejected = s["key"] is not None and task.implausible(s["key"], questions[s["item"]])
        s["rules_now"] = 0.0 if rejected else s["rules"]


def by_item(samples: list[Sample]) -> dict[str, list[Sample]]:
    """Each item's samples (keyed by its react-sc run), in sample order."""
    items: dict[str, list[Sample]] = defaultdict(list)
    for s in sorted(samples, key=lambda s: s["sample"]):
        items[s["run"]].append(s)
    return items


def curve(samples: list[Sample]) -> list[tuple[int, float, float, float]]:
    """(k, plain vote %, rules-weighted vote %, gold among the samples %) over each item's first k samples, for
    k from 1 to the fewest samples any item has."""
    items = by_item(samples)
    n, rows = len(items), []
    for k in range(1, min(len(v) for v in items.values()) + 1):
        plain = sum(vote(v[:k]) == v[0]["gold"] for v in items.values())
        weighted = sum(vote(v[:k], lambda s: s["rules"]) == v[0]["gold"] for v in items.values())
        oracle = sum(any(s["key"] == s["gold"] for s in v[:k]) for v in items.values())
        rows.append((k, 100 * plain / n, 100 * weighted / n, 100 * oracle / n))
    return rows


def report(samples: list[Sample]) -> None:
    items = by_item(samples)
    fields = [f for f in ("implicit", "confidence", "orm") if any(f in s for s in samples)]
    # a score chooses only where it scored every sample (AUCs below use whatever was scored)
    choosing = [f for f in fields if all(f in s for s in samples if s["trajectory"] is not None)]
    choosers: dict[str, Callable[[list[Sample]], str | None]] = {
        "plain majority": vote,
        "rules-weighted vote (the product's)": lambda v: vote(v, lambda s: s["rules"]),
    }
    if all("rules_now" in s for s in samples):
        choosers["rules-weighted vote, today's plausibility rule"] = lambda v: vote(v, lambda s: s["rules_now"])
    for f in choosing:
        choosers[f"argmax {f}"] = lambda v, f=f: argmax(v, f)
        choosers[f"argmax (rules, {f})"] = lambda v, f=f: argmax(v, f, lambda s: (_rules(s), s[f]))
        choosers[f"vote weighted by rules x sigmoid({f})"] = (
            lambda v, f=f: vote(v, lambda s: _rules(s) * _sigmoid(s[f]) if f in s else 0.0))
    right = {name: {run: choose(v) == v[0]["gold"] for run, v in items.items()} for name, choose in choosers.items()}
    base = right["rules-weighted vote (the product's)"]
    n = len(items)
    oracle = sum(any(s["key"] == s["gold"] for s in v) for v in items.values())
    print(f"{n} items, {len(samples)} samples; the gold answer among an item's samples: {100 * oracle / n:.1f}%")
    print(f"{'choice':48s} {'accuracy':>8s}  vs the rules vote")
    for name, verdicts in right.items():
        up = sum(verdicts[r] and not base[r] for r in items)
        down = sum(base[r] and not verdicts[r] for r in items)
        flips = "" if verdicts is base else f"  {up} up / {down} down, p = {mcnemar_p(up, down):.2g}"
        print(f"{name:48s} {100 * sum(verdicts.values()) / n:7.1f}%{flips}")
    accepted = [s for s in samples if _rules(s) == 1.0]
    for f in fields:
        overall, among = auc(samples, f), auc(accepted, f)
        text = f"AUC of {f} (a right sample above a wrong one): {overall[0]:.3f} over {overall[1]} right / " \
               f"{overall[2]} wrong samples" if overall else f"AUC of {f}: no right or no wrong samples"
        if among:
            text += f"; {among[0]:.3f} among those the rules accept ({among[1]} / {among[2]})"
        print(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("report", type=Path, nargs="?", help="a react-sc --verifier rules eval report folder")
    parser.add_argument("--home", help="APPRENTICE_HOME whose trace store and adapters the run used")
    parser.add_argument("--implicit", metavar="DPO_ADAPTER", help="score with this DPO adapter's implicit reward")
    parser.add_argument("--reward-pairs", type=Path, help="train an outcome reward model on these pairs")
    parser.add_argument("--reward-steps", type=int, default=90)
    parser.add_argument("--reward-base", default="local", help="the reward model's base (default: the embedded one)")
    parser.add_argument("--limit", type=int, help="only the report's first N items (a smoke test)")
    parser.add_argument("--out", type=Path, help="write the scored samples here (JSONL)")
    parser.add_argument("--from", dest="source", type=Path, help="print the table of samples scored earlier")
    parser.add_argument("--recheck", metavar="TASK", help="with --from: apply TASK's plausibility rule as it is now "
                        "(the answer read with its question) over the stored verdicts, as one more choice")
    parser.add_argument("--curve", action="store_true",
                        help="also print each vote's accuracy over every item's first k samples, k = 1 .. n")
    args = parser.parse_args(argv)
    if args.home:
        os.environ["APPRENTICE_HOME"] = args.home
    if args.source:
        from apprentice.errors import DataError
        from apprentice.training.sft import dataset_lines

        try:
            samples = [json.loads(line) for line in dataset_lines(args.source) if line.strip()]
        except (DataError, ValueError) as exc:
            raise SystemExit(f"error: cannot read scored samples from {args.source} ({exc})") from None
    elif args.report:
        samples = load_samples(args.report, args.limit)
        if args.implicit:
            score_implicit(samples, args.implicit)
        if args.reward_pairs:
            score_reward_model(samples, args.reward_pairs, args.reward_steps, args.reward_base)
        for s in samples:  # the data set's text stays out of committed results
            del s["question"], s["answer_format"]
    else:
        parser.error("give a react-sc report folder or --from SAMPLES.jsonl")
    if args.recheck:
        recheck(samples, args.recheck)
    if args.out:
        args.out.write_text("".join(json.dumps(s) + "\n" for s in samples))
    report(samples)
    if args.curve:
        print(f"\n{'samples':>7s} {'plain vote':>10s} {'rules-weighted':>14s} {'gold among them':>15s}")
        for k, plain, weighted, oracle in curve(samples):
            print(f"{k:7d} {plain:9.1f}% {weighted:13.1f}% {oracle:14.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
