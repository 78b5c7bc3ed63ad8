"""`apprentice eval --workers N`: items run on N threads, a llama.cpp model on one replica per worker, and the
report is the one a single worker writes (same rows, same order), resumable item by item. A self teacher's pass
(`distill --student-workers N`) runs its items the same way."""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import time
from pathlib import Path

import pytest

from apprentice.backends import ScriptedChatModel
from apprentice.backends.llamacpp import LlamaCppChatModel, load_llama
from apprentice.cli import main
from apprentice.errors import ApprenticeError, ModelUnavailableError
from apprentice.eval import EvalConfig, run_eval
from apprentice.models import embedded_model_path, load_chat_model
from apprentice.tasks import get_task
from apprentice.traces import open_store


class Oracle:
    """Replies to arith questions with their answers after ``delay_s``, counting the calls in flight at once; the
    questions in ``fail`` raise ``fail``'s exception instead, and the question ``interrupt`` presses Ctrl-C."""

    def __init__(self, limit: int, *, delay_s: float = 0.0, fail: dict[int, BaseException] | None = None,
                 interrupt: int | None = None):
        items = get_task("arith").load(limit=limit)
        self.answers = {item.question: item.answer for item in items}
        self.fail = {items[i].question: exc for i, exc in (fail or {}).items()}
        self.interrupt = items[interrupt].question if interrupt is not None else None
        self.delay_s, self.asked, self.active, self.peak = delay_s, [], 0, 0
        self._lock = threading.Lock()

    def __call__(self, messages) -> str:
        text = messages[-1].text
        question = next((q for q in self.answers if q in text), None)
        with self._lock:
            self.asked.append(question)
            self.active += 1
            self.peak = max(self.peak, self.active)
        try:
            if question in self.fail:
                raise self.fail[question]
            if question == self.interrupt:
                os.kill(os.getpid(), signal.SIGINT)  # a Ctrl-C: to the process, handled in the main thread
            time.sleep(self.delay_s)
            return f"Final Answer: {self.answers.get(question, 0)}"
        finally:
            with self._lock:
                self.active -= 1

    def model(self) -> ScriptedChatModel:
        return ScriptedChatModel(script=[self], cycle=True)


def normalized(folder: Path) -> tuple[dict, str]:
    """report.json and report.md less what differs from run to run: run ids (numbered in order), seconds, the
    creation time."""
    data = json.loads((folder / "report.json").read_text())
    ids = [r["run_id"] for rows in data["items"].values() for r in rows if r["run_id"]]
    data.pop("created")
    for cell in data["cells"]:
        assert cell.pop("run_ids") == [r["run_id"] for r in data["items"][f"{cell['strategy']} / {cell['model']}"]
                                       if r["run_id"]]
        cell.pop("seconds")
    for rows in data["items"].values():
        for row in rows:
            row.pop("run_id"), row.pop("latency_s")
    markdown = (folder / "report.md").read_text()
    for i, run_id in enumerate(ids):
        markdown = markdown.replace(run_id, f"RUN{i}")
    markdown = re.sub(r"^- created: .*$", "- created: -", markdown, flags=re.MULTILINE)
    markdown = re.sub(r"\| [\d.]+ \| (-|[\d.]+) \|$", r"| s | \1 |", markdown, flags=re.MULTILINE)  # s / item, cost
    return data, markdown


def grid(tmp_path: Path, monkeypatch, workers: int, name: str):
    """The same grid in a home of its own (so nothing resumes), with the given workers."""
    monkeypatch.setenv("APPRENTICE_HOME", str(tmp_path / f"home-{name}"))
    right = Oracle(5, delay_s=0.02, fail={1: ModelUnavailableError("the server went away")})
    wrong = ScriptedChatModel(script=["Final Answer: -1"], cycle=True)
    config = EvalConfig(task="arith", strategies=["cot", "cot-sc"], models=["right", "wrong"], limit=5,
                        options={"samples": 2, "fewshot": 0}, report_dir=tmp_path / name, workers=workers)
    return run_eval(config, progress=False, models={"right": right.model(), "wrong": wrong}), right


def test_two_workers_write_the_report_one_worker_writes(tmp_path, monkeypatch):
    one, _ = grid(tmp_path, monkeypatch, 1, "one")
    two, oracle = grid(tmp_path, monkeypatch, 2, "two")
    assert normalized(tmp_path / "one") == normalized(tmp_path / "two")
    assert [(c.strategy, c.model, c.correct, c.errors) for c in two.cells] == [
        ("cot", "right", 4, 1), ("cot-sc", "right", 4, 1), ("cot", "wrong", 0, 0), ("cot-sc", "wrong", 0, 0)]
    rows = two.items["cot / right"]
    assert [r.item_id for r in rows] == [r.item_id for r in one.items["cot / right"]] == [
        item.id for item in get_task("arith").load(limit=5)]
    assert rows[1].status == "error" and "the server went away" in rows[1].error and rows[1].run_id is None
    assert len({r.run_id for r in rows if r.run_id}) == 4 and not any(r.resumed for r in rows)
    assert len(oracle.asked) == 5 + 2 * 5  # cot once and cot-sc twice per item: no item ran twice


def test_items_of_a_cell_run_at_once_on_the_workers(tmp_path, monkeypatch):
    peaks = []
    for workers in (1, 2):
        monkeypatch.setenv("APPRENTICE_HOME", str(tmp_path / f"home-{workers}"))
        oracle = Oracle(5, delay_s=0.3)
        report = run_eval(EvalConfig(task="arith", strategies=["cot"], models=["m"], limit=5, options={"fewshot": 0},
                                     report_dir=tmp_path / f"r{workers}", workers=workers),
                          progress=False, models={"m": oracle.model()})
        assert report.cells[0].correct == 5
        peaks.append(oracle.peak)
    assert peaks == [1, 2]


def test_a_failed_run_of_two_workers_stops_the_rest_and_resumes_item_by_item(tmp_path):
    """A bug in one run (not a model error: that is an error row) ends the eval: the items not started never run,
    no worker thread is left, and the next eval resumes what had finished and runs the rest."""
    config = EvalConfig(task="arith", strategies=["cot"], models=["m"], limit=6, options={"fewshot": 0},
                        report_dir=tmp_path / "r", workers=2)
    items = get_task("arith").load(limit=6)
    broken = Oracle(6, delay_s=0.5, fail={2: RuntimeError("a bug")})
    with pytest.raises(RuntimeError, match="a bug"):
        run_eval(config, progress=False, models={"m": broken.model()})
    assert not [t for t in threading.enumerate() if t.name.startswith("eval")]
    assert items[4].question not in broken.asked and items[5].question not in broken.asked
    store = open_store()
    done = {item.id for item in items if store.query(task="arith", item_id=item.id, status="ok")}
    assert done & {items[0].id, items[1].id} and done <= {items[0].id, items[1].id, items[3].id}  # 2 failed
    assert not store.query(task="arith", item_id=items[4].id) and not store.query(task="arith", item_id=items[5].id)

    fixed = Oracle(6)
    report = run_eval(config, progress=False, models={"m": fixed.model()})
    rows = report.items["cot / m"]
    assert [r.item_id for r in rows] == [item.id for item in items] and all(r.correct for r in rows)
    assert {r.item_id for r in rows if r.resumed} == done
    assert sorted(fixed.asked) == sorted(item.question for item in items if item.id not in done)


@pytest.fixture
def ctrl_c():
    """Python raises KeyboardInterrupt only where SIGINT was not ignored at its start (a shell's background job,
    such as `make test &`, ignores it): install the handler a terminal's Python has, for the test."""
    kept = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, kept)


def test_ctrl_c_stops_the_workers_and_starts_no_other_item(tmp_path, ctrl_c):
    """The main thread hears the Ctrl-C and cancels before a worker can finish its item and take up another. Each
    item takes 2 s here: with 0.5 s a full suite on a loaded machine once saw the first worker finish its item and
    start a third before the main thread had its turn (a race of the test's timing; a real item takes seconds)."""
    items = get_task("arith").load(limit=6)
    oracle = Oracle(6, delay_s=2.0, interrupt=0)
    config = EvalConfig(task="arith", strategies=["cot"], models=["m"], limit=6, options={"fewshot": 0},
                        report_dir=tmp_path / "r", workers=2)
    with pytest.raises(KeyboardInterrupt):
        run_eval(config, progress=False, models={"m": oracle.model()})
    assert not [t for t in threading.enumerate() if t.name.startswith("eval")]
    assert items[0].question in oracle.asked and set(oracle.asked) <= {item.question for item in items[:2]}
    assert not any(open_store().query(task="arith", item_id=item.id) for item in items[2:])
    assert not (tmp_path / "r").exists()


def test_workers_must_be_at_least_one(capsys):
    assert main(["eval", "--task", "arith", "--limit", "1", "--workers", "0", "--no-progress"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == ["error: --workers must be at least 1, got 0"]
    with pytest.raises(ApprenticeError, match="workers must be at least 1, got -1"):
        run_eval(EvalConfig(task="arith", limit=1, workers=-1), progress=False, models={"local": object()})


def test_the_loading_path_takes_a_replica_and_its_threads(tmp_path):
    """``replica`` and ``n_threads`` travel from the spec to llama.cpp (an adapter's merged GGUF included): replica
    0 without a thread count is the one context everything shares, any other is a context of its own."""
    shared = load_chat_model("local")
    first, second = (load_chat_model("local", replica=i, n_threads=1) for i in (0, 1))
    assert len({id(shared.llm), id(first.llm), id(second.llm)}) == 3
    assert first.llm.n_threads == second.llm.n_threads == 1 and first._lock is not second._lock
    assert load_llama(embedded_model_path()) is shared.llm  # what every other caller gets is unchanged
    assert shared.on_replica(1, 1).llm is second.llm

    folder = tmp_path / "home" / "adapters" / "fake"  # a registry entry whose merged GGUF is the embedded model
    folder.mkdir(parents=True)
    (folder / "model.gguf").symlink_to(embedded_model_path())
    (folder / "adapter_model.safetensors").write_bytes(b"")
    (folder / "adapter_config.json").write_text("{}")
    (folder / "apprentice.json").write_text(json.dumps({"name": "fake", "base": "local", "kind": "sft",
                                                        "created_at": 0.0, "gguf": "model.gguf",
                                                        "react_prompt": "student"}))
    adapter = load_chat_model("adapter:fake", replica=1, n_threads=1)
    assert adapter.llm is second.llm and adapter.react_prompt == "student"
    assert adapter.on_replica(0, 1).react_prompt == "student" and adapter.on_replica(0, 1).llm is first.llm


@pytest.mark.timeout(900)
def test_two_workers_on_the_real_model_predict_what_one_does_on_two_contexts(tmp_path, monkeypatch):
    used: dict[int, set[int]] = {1: set(), 2: set()}
    complete = LlamaCppChatModel._complete
    workers = 1

    def spy(self, prompt, **kwargs):
        used[workers].add(id(self.llm))
        return complete(self, prompt, **kwargs)
    monkeypatch.setattr(LlamaCppChatModel, "_complete", spy)
    rows = {}
    for workers in (1, 2):
        monkeypatch.setenv("APPRENTICE_HOME", str(tmp_path / f"home-{workers}"))
        config = EvalConfig(task="arith", strategies=["react"], models=["local"], limit=3, max_steps=2,
                            options={"max_tokens": 40}, task_options={"level": 1}, report_dir=tmp_path / f"r{workers}",
                            workers=workers)
        report = run_eval(config, progress=False)
        rows[workers] = [(r.item_id, r.status, r.prediction, r.correct, r.tokens_out, r.model_calls)
                         for r in report.items["react / local"]]
    assert rows[1] == rows[2] and all(status == "ok" for _, status, *_ in rows[1])
    assert sum(tokens for *_, tokens, _ in rows[1]) > 0 and all(r[2] is not None for r in rows[1])
    replicas = {id(load_llama(embedded_model_path(), replica=i, n_threads=1)) for i in (0, 1)}
    assert used[1] == {id(load_llama(embedded_model_path()))} and used[2] == replicas


def test_a_self_teachers_pass_runs_an_item_on_each_replica_and_resumes_with_any_number(tmp_path, monkeypatch):
    """A self teacher's pass with 2 workers: each llama.cpp replica solves items (the shared context none), every
    run is stored once; the same pass on one worker resumes every run (the resume key knows no worker count)."""
    from apprentice.training import teachers

    monkeypatch.setenv("APPRENTICE_HOME", str(tmp_path / "home"))
    load = teachers.load_chat_model  # short calls: the base model wanders to the step limit
    monkeypatch.setattr(teachers, "load_chat_model", lambda spec, **kw: load(spec, **{**kw, "max_tokens": 16}))
    used, lock, complete = set(), threading.Lock(), LlamaCppChatModel._complete

    def spy(self, prompt, **kwargs):
        with lock:
            used.add(id(self.llm))
        return complete(self, prompt, **kwargs)
    monkeypatch.setattr(LlamaCppChatModel, "_complete", spy)
    task = get_task("arith", level=1)
    items = task.load(limit=4)

    def solve(workers: int) -> dict:
        return teachers.solve_pool(teachers.Teacher("self"), task, items, student="local", meta={}, attempts=1,
                                   rationalize="none", workers=workers)
    first = solve(2)
    assert first["runs"] == 4 and first["errors"] == 0 and first["resumed"] == 0 and len(set(first["run_ids"])) == 4
    assert len(used) == 2 and id(load_llama(embedded_model_path())) not in used
    again = solve(1)
    assert again["resumed"] == again["runs"] == 4 and again["run_ids"] == first["run_ids"]
    assert len(open_store().query(task="arith")) == 4
