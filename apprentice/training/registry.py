"""The adapter registry: trained students under ``home()/adapters/NAME`` with their provenance.

Each entry holds the PEFT adapter (safetensors only), the tokenizer, ``apprentice.json`` (base
spec, parent adapter, dataset and its fingerprint, training arguments, metrics, date) and, when
the base is a GGUF, ``model.gguf``: the merged student for llama.cpp-speed inference.
``adapter:NAME`` loads that GGUF when present, else base + adapter through transformers.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import stat
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from apprentice.config import data_path
from apprentice.errors import ApprenticeError, ModelSpecError
from apprentice.specs import embedded_model_path, parse_spec

__all__ = [
    "AdapterRecord", "adapters_root", "validate_name", "register_adapter", "list_adapters",
    "get_adapter", "adapter_version", "delete_adapter", "load_adapter_model", "export_adapter", "import_adapter",
    "dataset_fingerprint", "merged_model", "save_half", "versioned_spec",
]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_META = "apprentice.json"
_GGUF = "model.gguf"


@dataclass
class AdapterRecord:
    """One registry entry."""

    name: str
    path: Path
    base: str
    kind: str
    created_at: float
    parent: str | None = None
    dataset: str | None = None
    fingerprint: str | None = None
    training_args: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    gguf: str | None = None
    react_prompt: str = "full"  # the ReAct system prompt it was trained with, and runs with

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (``adapters show --json``)."""
        out = asdict(self)
        out["path"] = str(self.path)
        return out


def adapters_root() -> Path:
    """``home()/adapters``."""
    root = data_path("adapters")
    root.mkdir(parents=True, exist_ok=True)
    return root


def validate_name(name: str) -> str:
    """Adapter names are folder names: letters, digits, ``._-``; at most 64 characters."""
    if not _NAME.match(name or ""):
        raise ApprenticeError(f"bad adapter name {name!r}: use letters, digits, '.', '_' or '-' (max 64)")
    return name


def dataset_fingerprint(folder: str | Path) -> str:
    """sha256 over the dataset's train/eval/pairs files, to tie an adapter to its exact data."""
    digest = hashlib.sha256()
    for name in ("train.jsonl", "eval.jsonl", "pairs.jsonl"):
        path = Path(folder) / name
        if path.exists():
            digest.update(name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def register_adapter(name: str, *, model: Any, tokenizer: Any, base: str, kind: str, parent: str | None = None,
                     dataset: str | None = None, fingerprint: str | None = None,
                     training_args: dict[str, Any] | None = None, metrics: dict[str, Any] | None = None,
                     resumed: bool = False, export_gguf: bool = True, react_prompt: str = "full") -> AdapterRecord:
    """Save a trained PEFT model as registry entry ``name`` (replacing an older one atomically)."""
    validate_name(name)
    target = adapters_root() / name
    tmp = target.with_name(f".{name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(str(tmp), safe_serialization=True)
    save_half(tmp / "adapter_model.safetensors")
    tokenizer.save_pretrained(str(tmp))
    record = AdapterRecord(name=name, path=target, base=base, kind=kind, created_at=time.time(), parent=parent,
                           dataset=dataset, fingerprint=fingerprint, training_args=training_args or {},
                           metrics={**(metrics or {}), "resumed": resumed}, react_prompt=react_prompt)
    _write_meta(tmp, record)
    if export_gguf:
        began = time.perf_counter()
        record.gguf = _export_gguf(tmp, record)
        record.metrics["gguf_seconds"] = round(time.perf_counter() - began, 1)
        _write_meta(tmp, record)
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    return record


def save_half(weights: Path) -> int:
    """Rewrite an adapter's safetensors in fp16, as the shipped student is stored: an entry's merged GGUF, and so
    every evaluation of it, is then byte for byte the one its shipped form gives. (Measured: the fp32 and fp16
    forms of one adapter differ in 0.02% of the merged GGUF's bytes, Q8_0 roundings the tiny difference tips,
    and that moved 9 of 200 SVAMP answers; the rounding itself is 0.02% of the LoRA update.) Returns how many
    tensors the file holds."""
    import torch
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(weights))
    if any(t.is_floating_point() and t.dtype != torch.float16 for t in tensors.values()):
        save_file({key: (t.to(torch.float16) if t.is_floating_point() else t).contiguous()
                   for key, t in tensors.items()}, str(weights), metadata={"format": "pt"})
    return len(tensors)


def _write_meta(folder: Path, record: AdapterRecord) -> None:
    data = record.to_dict()
    data.pop("path")
    (folder / _META).write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")


def base_folder(spec: str) -> Path:
    """The safetensors Hugging Face folder an adapter's base spec names: ``local`` / ``local:PATH`` (a GGUF is
    converted once, a folder must hold safetensors) or ``adapter:NAME`` (its own base, recursively). An
    adapter records its root base, so ``student`` never reaches here (``training.base_model`` resolves it).
    """
    from apprentice.backends.hf import hf_base_from_gguf, require_safetensors

    parsed = parse_spec(spec)
    if parsed.kind == "adapter":
        return base_folder(get_adapter(parsed.target or "").base)
    if parsed.kind != "local":
        raise ModelSpecError(f"an adapter's base must be local weights (local, local:PATH, adapter:NAME), not {spec}")
    path = Path(parsed.target).expanduser() if parsed.target else embedded_model_path()
    if path.is_file():
        return hf_base_from_gguf(path)
    require_safetensors(path)
    return path


def _base_gguf(base: str) -> Path | None:
    parsed = parse_spec(base)
    if parsed.kind != "local":
        return None
    path = Path(parsed.target).expanduser() if parsed.target else embedded_model_path()
    return path if path.is_file() else None


def merged_model(base: str, adapter_dir: Path):
    """The base with the adapter merged in (fp32 transformers model), and its tokenizer."""
    import torch  # noqa: I001 - deferred heavy imports
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from apprentice.backends.hf import load_hf

    folder = base_folder(base)
    tokenizer, _ = load_hf(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, use_safetensors=True, dtype=torch.float32)
    return PeftModel.from_pretrained(model, str(adapter_dir)).merge_and_unload(), tokenizer


def _export_gguf(folder: Path, record: AdapterRecord) -> str | None:
    base_gguf = _base_gguf(record.base)
    if base_gguf is None:
        return None
    from apprentice.training.gguf_export import export_merged_gguf

    merged, _ = merged_model(record.base, folder)
    export_merged_gguf(base_gguf, merged, folder / _GGUF)
    return _GGUF


def get_adapter(name: str) -> AdapterRecord:
    """Read one entry; a missing, corrupt or pickle-only adapter is a clear error."""
    validate_name(name)
    folder = adapters_root() / name
    meta = folder / _META
    if not folder.is_dir():
        known = ", ".join(r.name for r in list_adapters()) or "none yet (apprentice train sft ...)"
        raise ModelSpecError(f"no adapter named {name!r}; registry has: {known}")
    try:
        data = json.loads(meta.read_text(encoding="utf-8"))
        data.pop("path", None)
        record = AdapterRecord(path=folder, **data)
    except (OSError, ValueError, TypeError) as exc:
        raise ModelSpecError(f"adapter {name!r} is corrupt ({meta.name}: {exc})") from exc
    if not (folder / "adapter_model.safetensors").is_file() or not (folder / "adapter_config.json").is_file():
        raise ModelSpecError(f"adapter {name!r} is corrupt: adapter_model.safetensors or adapter_config.json missing")
    return record


def adapter_version(record: AdapterRecord) -> str:
    """What runs under an adapter's name, in 10 hex digits: its registration (a retraining under the same name,
    ``distill --from-step train`` or ``train --name`` again, is another adapter) and the ReAct prompt it runs with.
    Resume keys carry it, so results of other weights or another prompt never stand for this one's."""
    blob = f"{record.name}@{record.created_at}:{record.fingerprint}:{record.react_prompt}"
    return hashlib.sha1(blob.encode()).hexdigest()[:10]


def versioned_spec(spec: str) -> str:
    """A model spec with the version of the weights it names, for resume keys (eval cells, a self teacher's pass,
    a batch job's records), so results of other weights never stand for these: ``student@VERSION`` for the shipped
    student (``student.shipped_version``: a newer package ships another student under the same spec),
    ``adapter:NAME@VERSION`` for a registered adapter (``adapter_version``: retrained under its name, it is another
    model); any other spec as it is (the embedded model, a path, a remote model, and a student or an adapter that
    is not there, whose load then fails in one line)."""
    try:
        parsed = parse_spec(spec)
    except ModelSpecError:
        return spec
    if parsed.kind == "student" and not parsed.target:
        from apprentice.training.student import shipped_version

        try:
            return f"{spec}@{shipped_version()}"
        except OSError:  # no shipped student in this install: its load fails in one line
            return spec
    if parsed.kind == "adapter" and parsed.target:
        try:
            record = get_adapter(parsed.target)
        except ApprenticeError:
            return spec
        return f"{spec}@{adapter_version(record)}"
    return spec


def list_adapters() -> list[AdapterRecord]:
    """Every readable entry, newest first (unreadable ones are skipped here, reported by get)."""
    records = []
    for folder in sorted(adapters_root().iterdir()):
        if folder.is_dir() and not folder.name.startswith(".") and (folder / _META).exists():
            try:
                records.append(get_adapter(folder.name))
            except ModelSpecError:
                continue
    return sorted(records, key=lambda r: r.created_at, reverse=True)


def delete_adapter(name: str) -> None:
    """Remove an entry."""
    shutil.rmtree(get_adapter(name).path)


def load_adapter_model(name: str, *, spec: str, **kwargs: Any):
    """The chat model for ``adapter:NAME``: the merged GGUF on llama.cpp, else base + LoRA on transformers."""
    record = get_adapter(name)
    if record.gguf and (record.path / record.gguf).is_file():
        from apprentice.backends.llamacpp import LlamaCppChatModel

        return LlamaCppChatModel(model_path=str(record.path / record.gguf), spec=spec,
                                 react_prompt=record.react_prompt, **kwargs)
    from apprentice.backends.hf import TransformersChatModel

    return TransformersChatModel(model_dir=str(base_folder(record.base)), adapter_dir=str(record.path),
                                 spec=spec, react_prompt=record.react_prompt, **kwargs)


def export_adapter(name: str, out: Path, *, merge: bool = False) -> Path:
    """Copy the adapter to ``out`` (what :func:`import_adapter` reads back on another machine, less the
    merged GGUF, which it rebuilds from the base), or with ``merge`` write a standalone merged
    safetensors model."""
    record = get_adapter(name)
    if out.exists() and not out.is_dir():
        raise ApprenticeError(f"export target {out} is not a folder")
    if out.exists() and any(out.iterdir()):
        raise ApprenticeError(f"export target {out} exists and is not empty")
    if not merge:
        files, created = _adapter_files(record.path), not out.exists()
        try:
            _copy_files(record.path, files, out)
        except ApprenticeError:
            if created:
                shutil.rmtree(out, ignore_errors=True)
            raise
        return out
    model, tokenizer = merged_model(record.base, record.path)
    model.save_pretrained(str(out), safe_serialization=True)
    tokenizer.save_pretrained(str(out))
    return out


_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")
#: What an adapter folder may hold: safetensors weights, JSON configs, the tokenizer, a model card.
_KNOWN_SUFFIXES = (".safetensors", ".json", ".txt", ".md", ".jinja")
_KNOWN_NAMES = frozenset({"tokenizer.model"})
#: Pickled weights and training state: loading them can run code, so they never enter the registry.
_PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")


def _adapter_files(folder: Path) -> list[str]:
    """The files of ``folder`` an adapter entry keeps: regular files of the known kinds.

    The merged GGUF (rebuilt from the base), subfolders, other pickles and unknown kinds are left out.

    Raises:
        ModelSpecError: a symbolic link, a device file, FIFO or socket, or pickled adapter weights.
    """
    with os.scandir(folder) as scan:
        entries = sorted(scan, key=lambda e: e.name)
    keep = []
    for entry in entries:
        path = folder / entry.name
        if entry.is_symlink():
            raise ModelSpecError(f"{path} is a symbolic link; an adapter folder holds only regular files")
        if entry.is_dir(follow_symlinks=False) or entry.name == _GGUF:
            continue
        if not entry.is_file(follow_symlinks=False):
            raise ModelSpecError(f"{path} is not a regular file (a device, FIFO or socket)")
        if entry.name.endswith(_PICKLE_SUFFIXES):
            if entry.name.startswith("adapter_model"):
                raise ModelSpecError(f"{path} holds pickled weights, which can run code when loaded; "
                                     "remove it (adapter_model.safetensors is what is imported)")
            continue
        if entry.name.endswith(_KNOWN_SUFFIXES) or entry.name in _KNOWN_NAMES:
            keep.append(entry.name)
    return keep


def _open_regular(path: Path):
    """``path`` opened for reading, never through a link and never blocking on a FIFO.

    Raises:
        ModelSpecError: ``path`` is a link or not a regular file when it is opened.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ModelSpecError(f"{path} is a symbolic link; an adapter folder holds only regular files") from None
        raise ModelSpecError(f"cannot read {path}: {exc.strerror}") from exc
    handle = os.fdopen(fd, "rb")
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        handle.close()
        raise ModelSpecError(f"{path} is not a regular file (a device, FIFO or socket)")
    return handle


def _copy_files(source: Path, names: list[str], target: Path) -> None:
    """Copy the files ``names`` of ``source`` into the folder ``target`` (made if need be), never
    through a link."""
    try:
        target.mkdir(parents=True, exist_ok=True)
        for name in names:
            with _open_regular(source / name) as reader, (target / name).open("xb") as writer:
                shutil.copyfileobj(reader, writer)
    except OSError as exc:
        raise ApprenticeError(f"cannot copy {source} to {target}: {exc.strerror or exc}") from exc


def _check_weights(path: Path, shown: Path) -> None:
    """Refuse an ``adapter_model.safetensors`` that does not parse or holds no tensors (named ``shown``)."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="numpy") as weights:
            count = len(list(weights.keys()))
    except (SafetensorError, OSError) as exc:
        raise ModelSpecError(f"{shown} is not a readable safetensors file ({exc})") from exc
    if not count:
        raise ModelSpecError(f"{shown} holds no tensors; it is not a trained adapter")


def _import_record(source: Path, name: str | None) -> AdapterRecord:
    """The provenance record of the folder ``source``, renamed to ``name`` when given."""
    meta = source / _META
    try:
        with _open_regular(meta) as handle:
            data = json.loads(handle.read().decode("utf-8"))
        data.pop("path", None)
        data["name"] = validate_name(name or data.get("name", ""))
        return AdapterRecord(path=adapters_root() / data["name"], **data)
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        raise ModelSpecError(f"{meta} is not a readable adapter record: {exc}") from exc


def import_adapter(source: Path, name: str | None = None, *, export_gguf: bool = True) -> AdapterRecord:
    """Register the adapter folder ``source`` (an ``export`` or a registry entry copied from elsewhere) as
    ``name`` (default: the name it was trained under), keeping its provenance. The tokenizer comes from
    the base when the folder has none; the merged GGUF is rebuilt when the base is a GGUF, which also
    checks that the adapter fits the base. An existing entry is never replaced.

    Only regular files of known kinds are copied (see :func:`_adapter_files`); links, devices and pickled
    weights are refused, and a failed import leaves nothing behind."""
    source = Path(source)
    if not source.is_dir():
        raise ApprenticeError(f"no adapter folder at {source}")
    missing = [f for f in (_META, "adapter_config.json", "adapter_model.safetensors") if not (source / f).is_file()]
    if missing:
        raise ModelSpecError(f"{source} is not an exported adapter: {', '.join(missing)} missing")
    files = _adapter_files(source)
    record = _import_record(source, name)
    if record.path.exists():
        raise ApprenticeError(f"adapter {record.name!r} already exists; delete it or import under another name")
    tmp = record.path.with_name(f".{record.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        _copy_files(source, files, tmp)
        _check_weights(tmp / "adapter_model.safetensors", shown=source / "adapter_model.safetensors")
        if not all((tmp / f).is_file() for f in _TOKENIZER_FILES):
            from transformers import AutoTokenizer

            AutoTokenizer.from_pretrained(str(base_folder(record.base))).save_pretrained(str(tmp))
        record.gguf = None
        if export_gguf:
            try:
                record.gguf = _export_gguf(tmp, record)
            except (OSError, ValueError, RuntimeError, KeyError) as exc:
                raise ModelSpecError(f"adapter {source} does not fit base {record.base}: {exc}") from exc
        _write_meta(tmp, record)
        tmp.rename(record.path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return record
