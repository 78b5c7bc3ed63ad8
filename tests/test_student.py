"""The shipped student: model spec ``student`` in every seat, imported into the registry once on first use,
written by ``ship_student`` from a trained adapter; and the artifact this repository ships."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage
from test_training import apprentice_home, dataset  # noqa: F401 - module fixtures: one GGUF conversion

from apprentice.errors import ModelSpecError
from apprentice.models import default_model, parse_spec
from apprentice.specs import EMBEDDED_HUB_ID
from apprentice.training import student as student_mod

REPO_STUDENT = Path(student_mod.__file__).resolve().parent.parent / "student"
SHIPPED_REPORTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "student"


def test_the_spec_parses_and_without_a_shipped_student_is_one_clear_error(tmp_path, monkeypatch):
    assert str(parse_spec("student")) == "student" and parse_spec(" student ").kind == "student"
    with pytest.raises(ModelSpecError):
        parse_spec("student:other")
    monkeypatch.setattr(student_mod, "SHIPPED_DIR", tmp_path / "none")
    assert default_model() == "local" and not student_mod.student_available()
    from apprentice.models import load_chat_model

    with pytest.raises(ModelSpecError, match="ships no student"):
        load_chat_model("student")
    from apprentice.training.registry import versioned_spec

    assert versioned_spec("student") == "student"  # a resume key before that one-line error, not a traceback


@pytest.mark.slow
def test_a_shipped_student_imports_once_and_serves_every_seat(dataset, apprentice_home, tmp_path,  # noqa: F811
                                                              monkeypatch, capsys):
    import torch
    from safetensors.torch import load_file

    from apprentice.graphs import run_question
    from apprentice.models import load_chat_model
    from apprentice.training.base_model import resolve_base
    from apprentice.training.registry import get_adapter, list_adapters
    from apprentice.training.sft import SFTArgs, main

    main(SFTArgs(data=dataset, name="to-ship", max_steps=1, batch_size=2, max_length=384))
    trained = get_adapter("to-ship")  # saved in fp16, as it ships
    assert all(t.dtype == torch.float16 for t in load_file(str(trained.path / "adapter_model.safetensors")).values())
    folder = student_mod.ship_student("to-ship", "# card\n", tmp_path / "student")
    assert sorted(p.name for p in folder.iterdir()) == sorted(student_mod.STUDENT_FILES)
    weights = load_file(str(folder / "adapter_model.safetensors"))
    assert weights and all(t.dtype == torch.float16 for t in weights.values())
    assert json.loads((folder / "apprentice.json").read_text())["react_prompt"] == get_adapter("to-ship").react_prompt
    # PEFT's config names the model it came from, not this machine's path of the converted GGUF
    config = json.loads((folder / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == EMBEDDED_HUB_ID
    assert config["r"] == json.loads((trained.path / "adapter_config.json").read_text())["r"]

    monkeypatch.setattr(student_mod, "SHIPPED_DIR", folder)
    assert default_model() == "student"
    name = f"student-{student_mod.shipped_version()}"
    assert not student_mod.student_prepared()
    model = load_chat_model("student", max_tokens=12)
    assert student_mod.student_prepared()
    assert "preparing the shipped student" in capsys.readouterr().err
    assert model.invoke([HumanMessage("What is 6 times 8?")]).content.strip()
    record = get_adapter(name)
    assert record.gguf == "model.gguf" and record.base == "local"
    # what an evaluation of the trained entry ran is byte for byte what the shipped student runs
    assert (record.path / "model.gguf").read_bytes() == (trained.path / "model.gguf").read_bytes()
    load_chat_model("student", max_tokens=12)  # the second time: straight from the registry
    assert "preparing" not in capsys.readouterr().err
    assert [r.name for r in list_adapters()].count(name) == 1
    choice = resolve_base("student")  # a distillation round continues from it
    assert choice.parent_adapter == name and choice.parent_dir == record.path
    result = run_question("What is 3 plus 4?", model="student", tools=["calculator"], max_steps=2)
    from apprentice.traces import open_store

    assert open_store().get(result.run_id).model == "student"


def test_the_repository_ships_a_small_fp16_student_with_a_model_card():
    if not student_mod.student_available(REPO_STUDENT):
        pytest.fail("apprentice/student/ holds no shipped student")
    weights = REPO_STUDENT / "adapter_model.safetensors"
    assert weights.stat().st_size <= 12 * 2**20
    from safetensors import safe_open

    with safe_open(str(weights), "pt") as handle:
        keys = list(handle.keys())
        assert keys and all(str(handle.get_slice(k).get_dtype()) == "F16" for k in keys)
    card = (REPO_STUDENT / "README.md").read_text()
    assert card.startswith("---\n") and "base_model:" in card
    for needed in ("SVAMP", "GSM8K", "Wilson", "add-every-number", "apprentice distill"):
        assert needed in card
    assert json.loads((REPO_STUDENT / "adapter_config.json").read_text())["base_model_name_or_path"] == EMBEDDED_HUB_ID
    shipped = json.loads((SHIPPED_REPORTS / "shipped.json").read_text())
    assert shipped["version"] == student_mod.shipped_version(REPO_STUDENT)


@pytest.mark.slow
def test_the_shipped_student_answers_as_its_committed_report_records():
    """The artifact and its report belong together: three SVAMP test items it got right, answered again."""
    from apprentice.graphs import run_question
    from apprentice.tasks import get_task

    shipped = json.loads((SHIPPED_REPORTS / "shipped.json").read_text())
    report = json.loads((Path(__file__).resolve().parents[1] / shipped["reports"]["svamp"] / "report.json").read_text())
    rows = [r for r in next(iter(report["items"].values())) if r["correct"]][:3]
    task = get_task("svamp")
    items = {i.id: i for i in task.load(split="test")}
    for row in rows:
        item = items[row["item_id"]]
        result = run_question(item.question, model="student", task=task, item=item, tools=["calculator"])
        assert (result.prediction, result.correct) == (row["prediction"], True), item.question


def test_the_version_covers_what_runs_and_keys_eval_resumes(tmp_path, monkeypatch):
    """A new shipped student under the same spec must be a new registry entry and must not resume the old
    one's eval results; the model card alone does not make a new student."""
    from apprentice.eval.harness import cell_key

    folder = tmp_path / "student"
    folder.mkdir()
    for name, text in (("adapter_config.json", "{}"), ("adapter_model.safetensors", "w"),
                       ("apprentice.json", '{"react_prompt": "student"}'), ("README.md", "card")):
        (folder / name).write_text(text)
    monkeypatch.setattr(student_mod, "SHIPPED_DIR", folder)
    first = student_mod.shipped_version()
    (folder / "README.md").write_text("a better card")
    assert student_mod.shipped_version() == first
    assert cell_key("svamp", "1", "react", "student", "h") == f"svamp|1|react|student@{first}|h"
    (folder / "apprentice.json").write_text('{"react_prompt": "full"}')
    assert student_mod.shipped_version() != first
    assert cell_key("svamp", "1", "react", "adapter:x", "h") == "svamp|1|react|adapter:x|h"
