"""Importing and exporting adapters as an attacker would hand them over: links, device files, FIFOs,
pickles, empty or garbage weights. Only regular files of known kinds enter the registry, and a failed
import leaves nothing behind. No model is loaded: the base is an OpenAI spec, which has no GGUF to rebuild."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from apprentice.cli import main
from apprentice.errors import ApprenticeError, ModelSpecError
from apprentice.training.registry import adapters_root, export_adapter, get_adapter, import_adapter

RECORD = {"name": "plain", "base": "openai:gpt-4o-mini", "kind": "sft", "created_at": 1.0}
CARD_AND_TOKENIZER = ["README.md", "chat_template.jinja", "merges.txt", "special_tokens_map.json", "tokenizer.json",
                      "tokenizer_config.json", "vocab.json"]
KEPT = sorted(["adapter_config.json", "adapter_model.safetensors", "apprentice.json", *CARD_AND_TOKENIZER])


@pytest.fixture
def adapter(tmp_path) -> Path:
    """A well-formed exported adapter folder (one LoRA tensor and the tokenizer files)."""
    folder = tmp_path / "exported"
    folder.mkdir()
    (folder / "apprentice.json").write_text(json.dumps(RECORD))
    (folder / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 4}))
    save_file({"base_model.model.lora_A.weight": np.zeros((4, 8), dtype=np.float32)},
              str(folder / "adapter_model.safetensors"))
    for name in CARD_AND_TOKENIZER:
        (folder / name).write_text("{}")
    return folder


def _assert_nothing_left() -> None:
    assert sorted(p.name for p in adapters_root().iterdir()) == [], "a failed import left files behind"


def test_a_clean_folder_imports_only_its_known_files(adapter):
    (adapter / "model.gguf").write_bytes(b"GGUF")  # rebuilt from the base, never copied
    (adapter / "training_args.bin").write_bytes(b"\x80\x04K\x01.")  # other pickles are left out
    (adapter / "notes.py").write_text("import os")
    (adapter / "checkpoint-1").mkdir()

    record = import_adapter(adapter)

    assert sorted(p.name for p in record.path.iterdir()) == KEPT
    assert get_adapter("plain").base == RECORD["base"]
    exported = export_adapter("plain", adapter.parent / "again")
    assert sorted(p.name for p in exported.iterdir()) == KEPT


@pytest.mark.parametrize("target", ["file", "folder"])
def test_a_symbolic_link_is_refused_and_names_itself(adapter, tmp_path, target):
    outside = tmp_path / "secret"
    if target == "file":
        outside.write_text("password")
        (adapter / "notes.txt").symlink_to(outside)
    else:
        outside.mkdir()
        (adapter / "extra").symlink_to(outside, target_is_directory=True)
    link = adapter / ("notes.txt" if target == "file" else "extra")

    with pytest.raises(ModelSpecError, match=f"^{link} is a symbolic link"):
        import_adapter(adapter)
    _assert_nothing_left()


def test_a_link_to_a_device_is_refused_before_any_byte_is_copied(adapter, capsys):
    (adapter / "vocab.json").unlink()
    (adapter / "vocab.json").symlink_to("/dev/zero")

    assert main(["adapters", "import", str(adapter)]) == 2

    assert capsys.readouterr().err == f"error: {adapter / 'vocab.json'} is a symbolic link; an adapter folder " \
                                      "holds only regular files\n"
    _assert_nothing_left()


@pytest.mark.timeout(20)
def test_a_fifo_is_refused_without_waiting_for_a_writer(adapter):
    os.mkfifo(adapter / "merges.txt.fifo")
    with pytest.raises(ModelSpecError, match="merges.txt.fifo is not a regular file"):
        import_adapter(adapter)
    _assert_nothing_left()


def test_pickled_adapter_weights_are_refused(adapter):
    (adapter / "adapter_model.bin").write_bytes(b"\x80\x04K\x01.")
    with pytest.raises(ModelSpecError, match="adapter_model.bin holds pickled weights"):
        import_adapter(adapter)
    _assert_nothing_left()


def test_weights_with_no_tensors_are_an_error(adapter):
    save_file({}, str(adapter / "adapter_model.safetensors"))
    with pytest.raises(ModelSpecError, match="adapter_model.safetensors holds no tensors"):
        import_adapter(adapter)
    _assert_nothing_left()


def test_garbage_weights_are_one_error_line(adapter, capsys):
    (adapter / "adapter_model.safetensors").write_bytes(b"not a safetensors file at all" * 4)

    assert main(["adapters", "import", str(adapter)]) == 2

    err = capsys.readouterr().err
    assert err.startswith(f"error: {adapter / 'adapter_model.safetensors'} is not a readable safetensors file")
    assert len(err.splitlines()) == 1 and "internal error" not in err
    _assert_nothing_left()


def test_a_stale_temporary_folder_is_replaced_and_a_failed_copy_removed(adapter, monkeypatch):
    stale = adapters_root() / ".plain.tmp"
    stale.mkdir()
    (stale / "junk").write_text("from an import killed earlier")
    import apprentice.training.registry as registry

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(registry.shutil, "copyfileobj", fail)
    with pytest.raises(ApprenticeError, match="cannot copy .* No space left on device"):
        import_adapter(adapter)
    _assert_nothing_left()


def test_export_refuses_a_file_as_target_and_a_link_in_the_entry(adapter, tmp_path, monkeypatch):
    import_adapter(adapter)
    target = tmp_path / "a-file"
    target.write_text("x")
    with pytest.raises(ApprenticeError, match="is not a folder"):
        export_adapter("plain", target)
    (get_adapter("plain").path / "extra.json").symlink_to(target)
    with pytest.raises(ModelSpecError, match="is a symbolic link"):
        export_adapter("plain", tmp_path / "out")
    assert not (tmp_path / "out").exists()
