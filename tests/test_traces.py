"""The trace store on real SQLite: filters, prefix lookup, export, verdicts, redaction, threads."""

from __future__ import annotations

import json
import sqlite3
import threading
from types import SimpleNamespace

import pytest

import apprentice.traces.store as store_module
from apprentice.cli import main
from apprentice.errors import ApprenticeError
from apprentice.traces import Step, TraceStore, open_store
from apprentice.traces.query import parse_since

T0 = 1_800_000_000.0  # a fixed epoch for runs whose start time matters


@pytest.fixture
def store(tmp_path) -> TraceStore:
    s = TraceStore(tmp_path / "traces.db")
    yield s
    s.close()


def _clock(monkeypatch, when: float) -> None:
    """Make the store stamp rows with ``when`` (it reads ``time.time()`` through its module)."""
    monkeypatch.setattr(store_module, "time", SimpleNamespace(time=lambda: when))


def _run(store: TraceStore, *, steps: int = 2, answer: str = "42", **fields) -> str:
    defaults = {"strategy": "react", "model": "local", "question": "What is 6*7?"}
    run_id = store.start_run(**{**defaults, **fields})
    for i in range(steps):
        store.add_step(run_id, Step(idx=i, kind="llm", node="reason", raw=f"step {i}",
                                    tokens_in=10, tokens_out=3, latency_s=0.1))
    store.finish_run(run_id, answer=answer)
    return run_id


def test_a_finished_run_has_its_steps_and_summed_totals(store):
    run_id = _run(store, steps=3, task="arith", item_id="arith-1", gold="42", meta={"seed": 1})
    run = store.get(run_id)
    assert (run.status, run.answer, run.task, run.item_id, run.gold) == ("ok", "42", "arith", "arith-1", "42")
    assert [s.idx for s in run.steps] == [0, 1, 2] and run.steps[1].raw == "step 1"
    assert (run.tokens_in, run.tokens_out, run.model_calls) == (30, 9, 3)
    assert run.meta == {"seed": 1} and run.latency_s >= 0 and run.ended_at >= run.started_at


def test_finish_run_merges_meta_and_keeps_the_tree(store):
    run_id = store.start_run(strategy="tot", model="local", question="q", meta={"a": 1})
    store.finish_run(run_id, answer=None, status="error", error="boom", tree={"nodes": [1, 2]}, meta={"b": 2})
    run = store.get(run_id)
    assert (run.status, run.error, run.answer) == ("error", "boom", None)
    assert run.meta == {"a": 1, "b": 2} and run.tree == {"nodes": [1, 2]}


def test_finish_run_of_an_unknown_run_is_a_clear_error(store):
    with pytest.raises(ApprenticeError, match="no run 'missing'"):
        store.finish_run("missing", answer="x")


def test_query_filters_by_task_strategy_model_and_status(store):
    a = _run(store, task="arith", strategy="react", model="local")
    b = _run(store, task="arith", strategy="cot", model="openai:gpt-4o-mini")
    c = _run(store, task="gsm8k", strategy="react", model="local")
    d = store.start_run(strategy="react", model="local", question="never finished")
    ids = lambda **kw: {r.id for r in store.query(**kw)}  # noqa: E731
    assert ids(task="arith") == {a, b}
    assert ids(strategy="react") == {a, c, d}
    assert ids(model="openai:gpt-4o-mini") == {b}
    assert ids(task="arith", strategy="react") == {a}
    assert ids(status="running") == {d}
    assert ids(task=None) == {a, b, c, d}  # a None filter is no filter
    assert store.count(task="arith") == 2 and store.count() == 4


def test_query_filters_by_thread_and_item(store):
    a = _run(store, thread_id="t1", task="arith", item_id="i1")
    _run(store, thread_id="t2", task="arith", item_id="i2")
    assert [r.id for r in store.query(thread_id="t1")] == [a]
    assert [r.id for r in store.query(task="arith", item_id="i1")] == [a]


def test_query_filters_by_time_and_orders_newest_first(store, monkeypatch):
    ids = []
    for hour in range(4):
        _clock(monkeypatch, T0 + hour * 3600)
        ids.append(_run(store))
    assert [r.id for r in store.query()] == ids[::-1]
    assert [r.id for r in store.query(newest_first=False)] == ids
    assert {r.id for r in store.query(since=T0 + 3600)} == set(ids[1:])
    assert {r.id for r in store.query(until=T0 + 2 * 3600)} == set(ids[:2])
    assert {r.id for r in store.query(since=T0 + 3600, until=T0 + 3 * 3600)} == set(ids[1:3])
    assert [r.id for r in store.query(limit=2)] == [ids[3], ids[2]]


def test_query_filters_by_verdict_and_score(store):
    right, wrong, unknown, unchecked = (_run(store) for _ in range(4))
    store.add_verdict(right, verifier="exact", correct=True, score=1.0)
    store.add_verdict(wrong, verifier="exact", correct=False, score=0.0)
    store.add_verdict(unknown, verifier="judge", correct=None, score=0.5)
    ids = lambda **kw: {r.id for r in store.query(**kw)}  # noqa: E731
    assert ids(verdict="correct") == {right}
    assert ids(verdict="incorrect") == {wrong}
    assert ids(verdict="checked") == {right, wrong}
    assert ids(verdict="unchecked") == {unknown, unchecked}
    assert ids(min_score=0.5) == {right, unknown}
    assert store.count(verdict="correct") == 1


def test_unknown_filters_are_clear_errors(store):
    with pytest.raises(ApprenticeError, match="unknown trace filter 'colour'"):
        store.query(colour="red")
    with pytest.raises(ApprenticeError, match="unknown verdict filter"):
        store.count(verdict="maybe")


def test_the_run_follows_its_latest_verdict_and_keeps_them_all(store):
    run_id = _run(store)
    store.add_verdict(run_id, verifier="exact", correct=False, score=0.0, reason="41 != 42")
    store.add_verdict(run_id, verifier="judge", correct=True, score=0.9, reason="close enough")
    run = store.get(run_id)
    assert (run.correct, run.score, run.checker) == (True, 0.9, "judge")
    assert [(v.verifier, v.correct, v.score, v.reason) for v in run.verdicts] == [
        ("exact", False, 0.0, "41 != 42"), ("judge", True, 0.9, "close enough"),
    ]
    assert store.query(verdict="correct", with_steps=True)[0].verdicts[1].verifier == "judge"


def test_a_verdict_for_an_unknown_run_is_refused_and_the_store_keeps_working(store):
    with pytest.raises(ApprenticeError):
        store.add_verdict("no-such-run", verifier="exact", correct=True, score=1.0)
    run_id = _run(store)
    other = TraceStore(store.path)
    try:
        assert other.get(run_id).answer == "42"
    finally:
        other.close()


def test_get_takes_a_unique_prefix(store):
    a = store.start_run(strategy="react", model="local", question="q", run_id="abc123")
    store.start_run(strategy="react", model="local", question="q", run_id="abd456")
    assert store.get("abc").id == a and store.get("abc123").id == a
    with pytest.raises(ApprenticeError, match="more than one run matches id 'ab'"):
        store.get("ab")
    with pytest.raises(ApprenticeError, match="no run matches id 'zzz'"):
        store.get("zzz")


def test_get_prefers_an_exact_id_and_treats_underscore_literally(store):
    store.start_run(strategy="react", model="local", question="q", run_id="item_1")
    store.start_run(strategy="react", model="local", question="q", run_id="itemx1")
    store.start_run(strategy="react", model="local", question="q", run_id="item_10")
    assert store.get("item_1").id == "item_1"


def test_delete_removes_the_run_with_its_steps_and_verdicts(store):
    run_id = _run(store)
    store.add_verdict(run_id, verifier="exact", correct=True, score=1.0)
    store.delete(run_id)
    assert store.count() == 0
    rows = store._db.execute("SELECT (SELECT COUNT(*) FROM steps), (SELECT COUNT(*) FROM verdicts)").fetchone()
    assert tuple(rows) == (0, 0)


def test_iter_runs_gives_full_runs_oldest_first(store, monkeypatch):
    ids = []
    for i in range(3):
        _clock(monkeypatch, T0 + i)
        ids.append(_run(store, steps=i + 1))
    runs = list(store.iter_runs())
    assert [r.id for r in runs] == ids and [len(r.steps) for r in runs] == [1, 2, 3]


def test_secrets_are_redacted_everywhere_they_could_be_written(store, monkeypatch):
    secret = "sk-test-0123456789abcdef"
    monkeypatch.setenv("MY_SERVICE_API_KEY", secret)
    run_id = store.start_run(strategy="react", model=f"openai:m@http://u:{secret}@host/v1",
                             question=f"my key is {secret}", meta={"note": secret})
    store.add_step(run_id, Step(idx=0, kind="action", tool="web_search", tool_input=f"q {secret}",
                                thought=secret, observation=secret, raw=secret, data={"k": secret}))
    store.finish_run(run_id, answer=f"the key {secret}", error=secret, tree={"t": secret})
    store.add_verdict(run_id, verifier="judge", correct=True, score=1.0, reason=f"saw {secret}")
    dump = "\n".join(str(tuple(r)) for t in ("runs", "steps", "verdicts")
                     for r in store._db.execute(f"SELECT * FROM {t}"))
    assert secret not in dump and dump.count("[redacted]") >= 11
    assert store.get(run_id).question == "my key is [redacted]"


def test_concurrent_writers_on_one_store_lose_nothing(store):
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for _ in range(5):
                run_id = _run(store, steps=4, task=f"t{n}")
                store.add_verdict(run_id, verifier="exact", correct=n % 2 == 0, score=1.0)
        except BaseException as exc:  # surfaced by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.count() == 30 and store.count(verdict="correct") == 15
    assert all(len(r.steps) == 4 and r.model_calls == 4 for r in store.query(with_steps=True))


def test_two_connections_writing_at_once_both_land(tmp_path):
    path = tmp_path / "traces.db"
    stores = [TraceStore(path), TraceStore(path)]
    errors: list[BaseException] = []

    def worker(s: TraceStore) -> None:
        try:
            for _ in range(10):
                _run(s, steps=3)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT COUNT(*), SUM(model_calls) FROM runs").fetchone() == (20, 60)
    for s in stores:
        s.close()


def test_open_store_is_one_store_per_home(apprentice_home):
    assert open_store() is open_store()
    assert open_store().path == apprentice_home / "traces.db"


def test_parse_since_reads_ages_and_iso_dates(monkeypatch):
    assert parse_since("2026-11-22T10:00:00") == pytest.approx(
        __import__("datetime").datetime(2026, 11, 22, 10).timestamp())
    monkeypatch.setattr("apprentice.traces.query.time.time", lambda: T0)
    assert parse_since("2h") == T0 - 7200 and parse_since("90m") == T0 - 5400 and parse_since("1.5d") == T0 - 129600
    with pytest.raises(ApprenticeError, match="cannot read time 'soon'"):
        parse_since("soon")


def test_export_writes_one_json_line_per_run_with_steps(tmp_path, capsys):
    store = open_store()
    first, second = _run(store, steps=2, task="arith"), _run(store, steps=1, task="gsm8k")
    store.add_verdict(first, verifier="exact", correct=True, score=1.0)
    out = tmp_path / "traces.jsonl"
    assert main(["traces", "export", "--out", str(out)]) == 0
    assert "exported 2 traces" in capsys.readouterr().err
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in lines] == [first, second]
    assert [len(r["steps"]) for r in lines] == [2, 1]
    assert lines[0]["verdicts"][0]["verifier"] == "exact" and lines[0]["correct"] is True
    assert set(lines[0]["steps"][0]) >= {"idx", "kind", "node", "raw", "tokens_in", "tokens_out"}
    assert main(["traces", "export", "--task", "gsm8k", "--verdict", "unchecked"]) == 0
    printed = capsys.readouterr()
    assert [json.loads(line)["id"] for line in printed.out.splitlines()] == [second]


def test_a_run_stored_before_its_key_was_set_reads_back_redacted(store, monkeypatch):
    """Reads redact too: a key set after the run was written (or one written by an older version) never
    reaches ``traces show``, ``export`` or a chat's history."""
    from apprentice.traces.render import format_run, format_table

    secret = "later-secret-0123456789"  # no key's shape: only the env var makes it a secret
    monkeypatch.delenv("LATER_API_KEY", raising=False)
    run_id = _run(store, answer=f"it is {secret}", question=f"is {secret} mine?", gold=secret)
    store.add_step(run_id, Step(idx=9, kind="action", tool="calculator", tool_input=secret))
    assert secret in str(store._db.execute("SELECT question FROM runs").fetchone()[0])
    monkeypatch.setenv("LATER_API_KEY", secret)
    run = store.get(run_id)
    assert secret not in json.dumps(run.to_dict()) and run.gold == "[redacted]"
    assert secret not in format_run(run, full=True) + format_table(store.query())
    assert [s.tool_input for s in run.steps if s.kind == "action"] == ["[redacted]"]
