"""The training path on whatever accelerator this machine has: SFT with LoRA and with QLoRA, DPO with
QLoRA, then the merged adapter generating. Each is timed side by side in one run.

    python benchmarks/gpu_training.py --arch DIR --data SFT_DATASET --pairs DPO_DATASET \
        [--steps 40] [--out results.json]

``--arch DIR`` holds a model's ``config.json`` and tokenizer files. The benchmark builds that
architecture with random weights, because a step's time does not depend on the weight values and
no weights have to travel to the GPU machine. It reports the loss trend, not the quality.
``--base SPEC`` trains a real base instead (``local``, ``local:PATH``).

Seconds per step are ``(t(N steps) - t(2 steps)) / (N - 2)``. That difference cancels model loading,
tokenization and saving to the registry. On CUDA the product's own choices apply:
- QLoRA: NF4 with double quantization and bf16 compute;
- paged 8-bit AdamW;
- bf16 mixed precision and activation checkpointing.
A ``--accelerate`` run also checks that ``accelerate launch -m apprentice.training.sft`` trains.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _random_base(arch: Path, out: Path) -> Path:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(arch), dtype=torch.float32)
    model.save_pretrained(out, safe_serialization=True)
    AutoTokenizer.from_pretrained(arch).save_pretrained(out)
    if (arch / "chat_template.jinja").exists():
        shutil.copy(arch / "chat_template.jinja", out / "chat_template.jinja")
    return out


def _peak_mib() -> float | None:
    import torch

    if not torch.cuda.is_available():
        return None
    peak = torch.cuda.max_memory_allocated() / 2**20
    torch.cuda.reset_peak_memory_stats()
    return round(peak, 1)


def _timed(train, make_args, steps: int) -> dict:
    """Seconds per step from a 2-step and an N-step run of the same configuration (the first 2-step
    run warms up: lazy imports, kernel loading, the CUDA context)."""
    out = {}
    for n in (2, steps, 2):
        started = time.perf_counter()
        record = train(make_args(n))
        out[n] = (time.perf_counter() - started, record)
        shutil.rmtree(Path(os.environ["APPRENTICE_HOME"]) / "runs", ignore_errors=True)
    (short, _), (full, record) = out[2], out[steps]
    return {"seconds_per_step": round((full - short) / (steps - 2), 4), "wall_seconds": round(full, 1),
            "steps": steps, "train_loss": record.metrics.get("train_loss"), "last_loss": record.metrics.get("loss"),
            "peak_gpu_mib": _peak_mib(), "adapter": record.name}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", type=Path, help="folder with config.json + tokenizer (random weights)")
    parser.add_argument("--base", help="train this base spec instead of random weights")
    parser.add_argument("--data", type=Path, required=True, help="a harvested dataset (train.jsonl)")
    parser.add_argument("--pairs", type=Path, help="a harvested dataset with pairs.jsonl (DPO)")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--accelerate", action="store_true", help="also train 3 steps under accelerate launch")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.steps < 3:
        parser.error("--steps must be 3 or more")

    import torch

    from apprentice.training.dpo import DPOArgs
    from apprentice.training.dpo import main as dpo_main
    from apprentice.training.registry import export_adapter
    from apprentice.training.sft import SFTArgs
    from apprentice.training.sft import main as sft_main

    work = Path(tempfile.mkdtemp(prefix="apprentice-gpu-"))
    os.environ["APPRENTICE_HOME"] = str(work / "home")
    base = args.base or f"local:{_random_base(args.arch, work / 'base')}"
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"CPU x{torch.get_num_threads()}"
    results: dict = {"device": device, "torch": torch.__version__, "base": args.base or f"random {args.arch.name}",
                     "batch_size": args.batch_size, "max_length": args.max_length, "runs": {}}
    common = dict(data=args.data, batch_size=args.batch_size, max_length=args.max_length, learning_rate=5e-4,
                  resume=False, export_gguf=False)
    for kind, qlora in (("sft-lora", False), ("sft-qlora", True)):
        results["runs"][kind] = _timed(
            sft_main, lambda n, k=kind, q=qlora: SFTArgs(name=f"{k}-{n}", base=base, qlora=q, max_steps=n,
                                                          eval_steps=n, **common), args.steps)
        print(kind, results["runs"][kind], flush=True)
    if args.pairs:
        results["runs"]["dpo-qlora"] = _timed(
            dpo_main, lambda n: DPOArgs(data=args.pairs, name=f"dpo-qlora-{n}", base=f"adapter:sft-qlora-{args.steps}",
                                        qlora=True, max_steps=n, eval_steps=n,
                                        **{k: v for k, v in common.items() if k != "data"}), args.steps)
        print("dpo-qlora", results["runs"]["dpo-qlora"], flush=True)

    from transformers import AutoModelForCausalLM, AutoTokenizer

    merged = export_adapter(f"sft-qlora-{args.steps}", work / "merged", merge=True)
    target = "cuda" if torch.cuda.is_available() else "cpu"
    model = AutoModelForCausalLM.from_pretrained(merged, dtype=torch.bfloat16 if target == "cuda" else torch.float32)
    model = model.to(target).eval()
    tokenizer = AutoTokenizer.from_pretrained(merged)
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": "Tom has 12 apples and buys 7 more."}],
                                           add_generation_prompt=True, return_tensors="pt", return_dict=True).to(target)
    with torch.no_grad():
        model.generate(**prompt, max_new_tokens=4, do_sample=False)
        started = time.perf_counter()
        generated = model.generate(**prompt, max_new_tokens=64, min_new_tokens=64, do_sample=False)
    seconds = time.perf_counter() - started
    new = generated.shape[1] - prompt["input_ids"].shape[1]
    results["merged_generate"] = {"tokens": int(new), "tokens_per_second": round(new / seconds, 1),
                                  "dtype": str(model.dtype)}
    print("merged_generate", results["merged_generate"], flush=True)

    if args.accelerate:
        command = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "1", "-m",
                   "apprentice.training.sft", "--data", str(args.data), "--name", "accelerate-qlora", "--base", base,
                   "--qlora", "--max-steps", "3", "--eval-steps", "3", "--no-export-gguf",
                   "--max-length", str(args.max_length)]
        done = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy())
        results["accelerate_launch"] = {"returncode": done.returncode, "tail": (done.stdout + done.stderr)[-600:]}
        print("accelerate_launch rc", done.returncode, flush=True)

    runs = results["runs"]
    lora, qlora = runs["sft-lora"]["seconds_per_step"], runs["sft-qlora"]["seconds_per_step"]
    results["qlora_over_lora_step_time"] = round(qlora / lora, 2) if lora > 0 else None
    print(json.dumps(results, indent=2))
    if args.out:
        args.out.write_text(json.dumps(results, indent=2), encoding="utf-8")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
