"""Distillation: harvest traces into datasets, fine-tune a student (SFT/DPO with TRL + PEFT),
keep it in the adapter registry, and run self-improvement rounds."""

__all__: list[str] = []
