"""The benchmark files that ship inside the package: found with no ../shared beside the checkout, the
same bytes and items as the shared copy, gzip read transparently, one clear error when a file is gone,
and Hugging Face downloads cached under APPRENTICE_HOME."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import sys
import types
from pathlib import Path

import pytest

import apprentice.tasks.base as base
from apprentice.cli import main
from apprentice.errors import DataError
from apprentice.tasks import DATA_ENV, PACKAGED_DATA, TASK_NAMES, data_root, get_task

#: The built-in benchmarks that read a file (arith generates its items, jsonl reads the user's).
FILE_TASKS = [name for name in TASK_NAMES if get_task(name).default_file]
README = PACKAGED_DATA / "README.md"


@pytest.fixture
def clone_only(tmp_path, monkeypatch) -> Path:
    """A user who cloned only this repository: no APPRENTICE_DATA, and no ../shared beside the cwd."""
    monkeypatch.delenv(DATA_ENV, raising=False)
    cwd = tmp_path / "clone" / "apprentice"
    cwd.mkdir(parents=True)
    monkeypatch.chdir(cwd)
    return cwd


def _packaged_bytes(relative: str) -> bytes:
    """The packaged file's content, uncompressed where it ships gzipped."""
    plain = PACKAGED_DATA / relative
    return plain.read_bytes() if plain.is_file() else gzip.decompress(Path(f"{plain}.gz").read_bytes())


def test_file_tasks_are_the_seven_benchmarks():
    assert FILE_TASKS == ["gsm8k", "svamp", "game24", "hotpotqa", "bamboogle", "fever", "strategyqa"]


@pytest.mark.parametrize("name", FILE_TASKS)
def test_builtin_task_loads_from_the_package(clone_only, name):
    assert not (clone_only.parent / "shared").exists() and data_root() == PACKAGED_DATA
    task = get_task(name)
    items = task.load()
    assert items and task._source.is_relative_to(PACKAGED_DATA)
    assert len({item.id for item in items}) > 0.9 * len(items)


@pytest.mark.parametrize("name", FILE_TASKS)
def test_packaged_items_and_splits_match_the_shared_copy(clone_only, shared_data, name):
    assert get_task(name).load() == get_task(name).load(shared_data)
    for split in ("train", "test"):
        packaged = get_task(name).load(split=split, seed=3)
        assert packaged == get_task(name).load(shared_data, split=split, seed=3)


def test_packaged_files_are_byte_copies_of_the_shared_ones(shared_data):
    for name in FILE_TASKS:
        relative = get_task(name).default_file
        assert _packaged_bytes(relative) == (shared_data / relative).read_bytes(), relative


def test_readme_lists_every_packaged_file_with_its_sha256():
    text = README.read_text(encoding="utf-8")
    digests = dict((path, digest) for digest, path in re.findall(r"^([0-9a-f]{64})  (\S+)", text, re.MULTILINE))
    assert sorted(digests) == sorted(get_task(name).default_file for name in FILE_TASKS)
    for relative, digest in digests.items():
        assert hashlib.sha256(_packaged_bytes(relative)).hexdigest() == digest, relative
    shipped = {str(path.relative_to(PACKAGED_DATA)) for path in PACKAGED_DATA.rglob("*") if path.is_file()}
    assert all(f"| {row} |" in text for row in shipped - {"README.md"})
    assert text.count("Permission is hereby granted") == 4 and "CC BY-SA 4.0" in text and "Share-alike" in text


def test_gsm8k_ships_gzipped_and_reads_as_the_plain_file(tmp_path):
    assert not (PACKAGED_DATA / "gsm8k" / "train.jsonl").exists()
    assert (PACKAGED_DATA / "gsm8k" / "train.jsonl.gz").is_file()
    rows = [json.dumps({"question": f"{n}+1?", "answer": f"{n}+1={n + 1}\n#### {n + 1}"}) for n in range(20)]
    plain, packed = tmp_path / "plain" / "gsm8k", tmp_path / "packed" / "gsm8k"
    plain.mkdir(parents=True)
    packed.mkdir(parents=True)
    (plain / "train.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (packed / "train.jsonl.gz").write_bytes(gzip.compress((plain / "train.jsonl").read_bytes()))
    for split in (None, "train", "test"):
        assert get_task("gsm8k").load(tmp_path / "packed", split=split) == get_task("gsm8k").load(
            tmp_path / "plain", split=split)
    (tmp_path / "bad.jsonl.gz").write_bytes(b"not gzip at all")
    with pytest.raises(DataError, match=r"bad\.jsonl\.gz: cannot read"):
        get_task("jsonl").load(tmp_path / "bad.jsonl.gz")


def test_a_missing_file_names_both_ways_to_get_it(clone_only, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(base, "PACKAGED_DATA", tmp_path / "removed")
    with pytest.raises(DataError) as caught:
        get_task("game24").load()
    message = str(caught.value)
    assert "\n" not in message and "game24/24_dev.csv: data file not found" in message
    assert "--data PATH" in message and DATA_ENV in message and "Hugging Face dataset id" in message
    assert main(["eval", "--task", "gsm8k", "--limit", "2"]) == 2
    line = capsys.readouterr().err.strip()
    assert line.startswith("error: ") and "\n" not in line
    assert "ships with apprentice is missing" in line and "--data openai/gsm8k:main" in line


def test_apprentice_data_still_wins(monkeypatch, shared_data):
    monkeypatch.setenv(DATA_ENV, str(shared_data))
    task = get_task("svamp")
    task.load(limit=1)
    assert data_root() == shared_data and task._source == shared_data / "arithmetic" / "SVAMP.json"


def test_huggingface_downloads_are_cached_under_apprentice_home(monkeypatch, apprentice_home):
    seen = {}

    def load_dataset(name, config=None, split=None, cache_dir=None):
        seen.update(name=name, config=config, split=split, cache_dir=cache_dir)
        return [{"question": "1+1?", "answer": "1+1=2\n#### 2"}]

    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=load_dataset))
    assert get_task("gsm8k").load("openai/gsm8k:main", split="train")[0].answer == "2"
    assert (seen["name"], seen["config"], seen["split"]) == ("openai/gsm8k", "main", "train")
    assert Path(seen["cache_dir"]).is_relative_to(apprentice_home)
