"""The shipped student: the best trained adapter so far, packaged with apprentice as model spec ``student``.

The package folder ``apprentice/student/`` holds a PEFT adapter (fp16 safetensors, a few MB), its
provenance (``apprentice.json``, as a registry entry has it) and its model card (``README.md``). On first
use it is imported into the adapter registry under ``student-<version>`` (the merged GGUF is built once,
~20-30 s, with a progress line); every later use loads that entry. A newer shipped student has another
version, so an upgrade imports itself and the old entry stays for comparison.

:func:`ship_student` writes that folder from a registry entry (fp16 weights, provenance, model card).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path
from typing import Any, TextIO

from apprentice.errors import ApprenticeError, ModelSpecError

__all__ = ["SHIPPED_DIR", "shipped_version", "student_available", "student_prepared", "ensure_student",
           "student_record", "ship_student", "STUDENT_FILES"]

#: Where the shipped student lives inside the installed package.
SHIPPED_DIR = Path(__file__).resolve().parent.parent / "student"
#: The files a shipped student consists of (nothing else is copied into or out of the package).
STUDENT_FILES = ("adapter_config.json", "adapter_model.safetensors", "apprentice.json", "README.md")
_WEIGHTS = "adapter_model.safetensors"


def student_available(folder: Path | None = None) -> bool:
    """Whether this install ships a student (its weights and provenance are there)."""
    folder = folder or SHIPPED_DIR
    return all((folder / name).is_file() for name in ("adapter_config.json", _WEIGHTS, "apprentice.json"))


def shipped_version(folder: Path | None = None) -> str:
    """The first 10 hex digits of a sha256 over the shipped weights, adapter config and provenance (not the
    card): the registry entry is ``student-<version>``, so any change to what runs is another student."""
    folder = folder or SHIPPED_DIR
    digest = hashlib.sha256()
    for name in ("adapter_config.json", _WEIGHTS, "apprentice.json"):
        digest.update(name.encode() + b"\0")
        with (folder / name).open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:10]


def student_record(folder: Path | None = None) -> dict[str, Any]:
    """The shipped student's provenance (``apprentice.json``): base, parent, training args, metrics."""
    folder = folder or SHIPPED_DIR
    if not student_available(folder):
        raise ModelSpecError("this install ships no student (apprentice/student/ is empty); use --model local")
    try:
        return json.loads((folder / "apprentice.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelSpecError(f"the shipped student's {folder / 'apprentice.json'} is unreadable: {exc}") from exc


def student_prepared(folder: Path | None = None) -> bool:
    """Whether the shipped student is already in this home's registry (its first use has happened)."""
    from apprentice.training.registry import adapters_root

    folder = folder or SHIPPED_DIR
    try:
        return (adapters_root() / f"student-{shipped_version(folder)}").is_dir()
    except OSError:  # no shipped weights to name it by
        return False


def ensure_student(*, folder: Path | None = None, progress: TextIO | None = None) -> str:
    """The registry name of the shipped student, importing it (and merging its GGUF) on first use.

    Safe when several processes start at once: one imports under a file lock, the others wait and reuse it.
    """
    from filelock import FileLock

    from apprentice.training.registry import adapters_root, import_adapter

    folder = folder or SHIPPED_DIR
    record = student_record(folder)
    name = f"student-{shipped_version(folder)}"
    if student_prepared(folder):
        return name
    with FileLock(str(adapters_root() / f".{name}.lock")):
        if student_prepared(folder):  # another process imported it while this one waited
            return name
        out = progress if progress is not None else sys.stderr
        print(f"apprentice: preparing the shipped student {record.get('name', name)} (merging it into the "
              f"embedded model once, ~30 s)...", file=out, flush=True)
        import_adapter(folder, name)
        print(f"apprentice: student ready as adapter:{name}", file=out, flush=True)
    return name


def ship_student(name: str, card: str, out: Path | None = None) -> Path:
    """Write registry entry ``name`` as the shipped student into ``out``: its adapter config (naming the embedded
    model's hub id as its base when it was trained on it), its weights in fp16 safetensors, its provenance and
    ``card`` (the model card's markdown). Replaces what was there."""
    from apprentice.training.registry import get_adapter, save_half

    out = out or SHIPPED_DIR
    record = get_adapter(name)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    config = json.loads((record.path / "adapter_config.json").read_text(encoding="utf-8"))
    if record.base == "local":  # not the training machine's path of the converted GGUF: the model it came from
        from apprentice.specs import EMBEDDED_HUB_ID

        config["base_model_name_or_path"] = EMBEDDED_HUB_ID
    (tmp / "adapter_config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    shutil.copy2(record.path / _WEIGHTS, tmp / _WEIGHTS)
    if not save_half(tmp / _WEIGHTS):  # fp16 already, unless the entry was made before adapters were
        shutil.rmtree(tmp, ignore_errors=True)
        raise ApprenticeError(f"adapter {name!r} has no tensors; nothing to ship")
    meta = json.loads((record.path / "apprentice.json").read_text(encoding="utf-8"))
    meta.pop("gguf", None)
    (tmp / "apprentice.json").write_text(json.dumps(meta, indent=2, default=str) + "\n", encoding="utf-8")
    (tmp / "README.md").write_text(card, encoding="utf-8")
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out
