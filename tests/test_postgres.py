"""Issue 41: one shared store. A real PostgreSQL server (started once for the session, a database per test)
behind ``APPRENTICE_DB``: ask, traces, ratings, harvest, threads and memory on it; a home migrated into it twice;
bad servers as one line without the password; Ray batches whose traces all reach the one store, PostgreSQL or
the SQLite default with the driver as the only writer. Without PostgreSQL binaries these tests skip, in CI fail."""

from __future__ import annotations

import itertools
import json
import os
import sys
from pathlib import Path

import pytest

from apprentice.backends import ScriptedChatModel
from apprentice.cli import main
from apprentice.db import close_pg, store_url
from apprentice.graphs import run_question, runner
from apprentice.graphs.threads import (
    close_checkpointer,
    open_checkpointer,
    thread_messages,
)
from apprentice.tools import close_memory_store
from apprentice.tools.memory import recall, remember
from apprentice.traces import open_store
from apprentice.traces.migrate import migrate_home
from apprentice.traces.store import TraceStore, close_store
from apprentice.training.harvest import HarvestConfig, harvest

sys.path.insert(0, str(Path(__file__).parent))
from pg_server import serve_for_tests  # noqa: E402

ADD = [" I add the two numbers.\nAction: calculator\nAction Input: 23 + 18", " The sum is known.\nFinal Answer: 41"]
_NAMES = itertools.count()


@pytest.fixture(scope="session")
def postgres():
    """One server for the session."""
    yield from serve_for_tests()


@pytest.fixture
def pg_url(postgres, monkeypatch) -> str:
    """A fresh database on the server, named by ``APPRENTICE_DB``; the password only in ``PGPASSFILE``."""
    monkeypatch.setenv("PGPASSFILE", str(postgres.passfile))
    url = postgres.create_database(f"t{os.getpid()}_{next(_NAMES)}")
    monkeypatch.setenv("APPRENTICE_DB", url)
    yield url
    _close(url)


def _close(url: str) -> None:
    close_store(url)
    close_checkpointer(url)
    close_memory_store(url)
    close_pg(store_url(url))


def _scripted(monkeypatch, *scripts: list[str]) -> None:
    queue = list(scripts)
    monkeypatch.setattr(runner, "load_chat_model", lambda spec, **kw: ScriptedChatModel(script=queue.pop(0)))


def _one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "internal error" not in stderr, stderr
    return lines[0]


def test_ask_traces_and_ratings_live_in_postgres_and_nothing_in_the_home(pg_url, apprentice_home, monkeypatch,
                                                                          capsys):
    _scripted(monkeypatch, ADD)
    assert main(["ask", "What is 23 + 18?", "--tools", "calculator", "--json"]) == 0
    run_id = json.loads(capsys.readouterr().out)["run_id"]
    assert main(["traces", "list", "--json"]) == 0
    assert [r["id"] for r in json.loads(capsys.readouterr().out)] == [run_id]
    assert main(["traces", "show", run_id[:6], "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["answer"] == "41" and [s["kind"] for s in shown["steps"]].count("llm") == 2
    assert main(["traces", "rate", run_id, "bad", "--answer", "41"]) == 0
    capsys.readouterr()
    rated = TraceStore(pg_url).get(run_id)  # a second handle: it is in the server, not in this process
    assert (rated.correct, rated.checker, rated.gold) == (False, "human", "41")
    assert not list(apprentice_home.glob("*.db"))


def test_harvest_selects_runs_from_postgres(pg_url, tmp_path):
    runs = [run_question(q, model=ScriptedChatModel(script=ADD), model_spec="openai:teacher", tools=["calculator"])
            for q in ("What is 23 + 18?", "Add 23 and 18.", "What is 23 plus 18?")]
    store = open_store()
    store.rate(runs[0].run_id, True)
    store.rate(runs[1].run_id, False)
    result = harvest(HarvestConfig(out=tmp_path / "human", verdict_source="human", eval_fraction=0))
    assert (result.train, result.seen) == (1, 3)
    row = json.loads((tmp_path / "human" / "train.jsonl").read_text().splitlines()[0])
    assert row["metadata"]["run_id"] == runs[0].run_id


def test_a_thread_continues_and_memory_recalls_across_processes(pg_url, apprentice_home):
    model = ScriptedChatModel(script=[" Final Answer: Nice to meet you, Ada.", " Final Answer: Ada"])
    first = run_question("My name is Ada.", model=model, tools=[])
    assert remember("The user likes green tea.") == "remembered: The user likes green tea."
    remember("The user lives in Oslo.")
    _close(pg_url)  # as a new process would: nothing cached
    second = run_question("What is my name?", model=model, tools=[], thread_id=first.thread_id)
    assert second.answer == "Ada" and len(thread_messages(first.thread_id)) == 4
    assert "green tea" in recall("favourite drink").splitlines()[0]
    assert len(open_store().query(thread_id=first.thread_id)) == 2
    assert not list(apprentice_home.glob("*.db"))


def test_the_chats_thread_list_is_in_postgres_for_every_chat_on_the_store(pg_url, apprentice_home, monkeypatch):
    """Thread titles live beside the checkpoints: a chat on another machine pointed at the same store lists the
    same threads, and renames and deletions reach it; nothing is written into the home."""
    from apprentice.tui.sessions import SessionStore

    monkeypatch.setenv("OPENAI_API_KEY", "sk-abcdefghijklmnopqrstuvwx")
    here = SessionStore()
    first = here.create(title="Sums with sk-abcdefghijklmnopqrstuvwx", model="student", strategy="react")
    second = here.create(title="Capitals")
    there = SessionStore()  # another process's handle
    assert [s.id for s in there.list()] == [second.id, first.id]
    assert "sk-abcdefghij" not in there.get(first.id).title  # a secret in a title is redacted here too
    there.rename(first.id, "Sums")
    assert [s.title for s in here.list()] == ["Sums", "Capitals"]
    here.delete(second.id)
    assert [s.id for s in there.list()] == [first.id]
    assert not list(apprentice_home.glob("*.db"))


def _counts(url: str) -> dict[str, int]:
    import psycopg

    conninfo = store_url(url).conninfo()
    with psycopg.connect(conninfo) as conn:
        return {table: conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
                for table in ("runs", "steps", "verdicts", "checkpoints", "checkpoint_writes", "store")}


def test_migrate_copies_a_home_once_however_often_it_runs(postgres, apprentice_home, monkeypatch, capsys):
    from apprentice.tui.sessions import SessionStore

    model = ScriptedChatModel(script=[" Final Answer: Hello Ada.", " Final Answer: Ada", *ADD])
    first = run_question("My name is Ada.", model=model, tools=[])
    SessionStore().create(title="About Ada", thread_id=first.thread_id, model="student", strategy="react")
    second = run_question("What is my name?", model=model, tools=[], thread_id=first.thread_id)
    sum_run = run_question("What is 23 + 18?", model=model, tools=["calculator"])
    open_store().rate(sum_run.run_id, True)
    remember("The user likes green tea.")
    monkeypatch.setenv("PGPASSFILE", str(postgres.passfile))
    url = postgres.create_database(f"mig{os.getpid()}_{next(_NAMES)}")

    result = migrate_home(url, batch_size=2)
    assert (result.runs_found, result.runs_copied, result.threads, result.memories) == (3, 3, 2, 1)
    after_one = _counts(url)
    assert (after_one["runs"], after_one["verdicts"], after_one["store"]) == (3, 1, 1)
    open_store().rate(second.run_id, False, answer="Ada Lovelace")  # a rating given after the first copy
    assert migrate_home(url).runs_copied == 1
    assert migrate_home(url).runs_copied == 0
    assert _counts(url) == {**after_one, "verdicts": 2}  # nothing doubled; the new rating arrived
    monkeypatch.setenv("APPRENTICE_DB", url)
    assert len(thread_messages(first.thread_id, open_checkpointer())) == 4
    titles = SessionStore().list()  # the chat's sidebar came along, once
    assert [(s.id, s.title, s.model) for s in titles] == [(first.thread_id, "About Ada", "student")]
    assert TraceStore(url).get(second.run_id).gold == "Ada Lovelace"
    _close(url)


@pytest.mark.parametrize("case", ["unreachable", "wrong password", "no database"])
def test_a_bad_server_is_one_line_naming_host_and_port_never_the_password(postgres, monkeypatch, capsys, case):
    secret = "Hunter2-0123456789-not-it"
    port = {"unreachable": 1}.get(case, postgres.port)
    database = "nosuchdb" if case == "no database" else "postgres"
    user = f"apprentice:{secret}" if case != "no database" else "apprentice"
    monkeypatch.setenv("PGPASSFILE", str(postgres.passfile))
    monkeypatch.setenv("APPRENTICE_DB", f"postgresql://{user}@127.0.0.1:{port}/{database}")
    assert main(["traces", "list"]) == 2
    line = _one_line(capsys.readouterr().err)
    assert f"127.0.0.1:{port}" in line and secret not in line and postgres.password not in line
    expected = {"unreachable": "cannot reach the PostgreSQL server", "wrong password": "refused user apprentice",
                "no database": "has no database 'nosuchdb'"}[case]
    assert expected in line


# -- Ray: every item's result and trace exactly once, in the one store -----------------------------------------


def _ray_job(tmp_path: Path, server_url: str, items: int):
    from apprentice.batch import BatchJob, RetryPolicy, TaskConfig, WorkerConfig

    rows = [{"id": f"q{i}", "question": f"What is {i} + {i}?", "answer": str(2 * i)} for i in range(items)]
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    worker = WorkerConfig(model_spec=f"openai:fake@{server_url}", retry=RetryPolicy(retries=1, base_s=0.001))
    return BatchJob(source, tmp_path / "out.jsonl", TaskConfig(answer_kind="number"), worker, concurrency=4)


def _resume_on_ray(tmp_path: Path, items: int, keep: int):
    """The whole job on threads, its output cut to ``keep`` records (as if the driver died), resumed on Ray."""
    pytest.importorskip("ray")
    from fake_openai_server import start_server

    from apprentice.batch import run_batch

    server = start_server(latency_s=0.01)
    try:
        job = _ray_job(tmp_path, server.url, items)
        run_batch(job)
        lines = job.output.read_text(encoding="utf-8").splitlines(keepends=True)
        job.output.write_text("".join(lines[:keep]), encoding="utf-8")
        summary = run_batch(job, ray=True, ray_workers=2)
    finally:
        server.shutdown()
    records = [json.loads(line) for line in job.output.read_text(encoding="utf-8").splitlines()]
    return summary, records


def _exactly_once(store: TraceStore, records: list[dict], items: int) -> None:
    assert sorted(r["id"] for r in records) == sorted(f"q{i}" for i in range(items))  # each result once
    runs = store.query()
    assert len(runs) == items and sorted(r.item_id for r in runs) == sorted(r["id"] for r in records)
    assert {r.id for r in runs} == {r["run_id"] for r in records}
    assert all(r.status == "ok" and r.correct for r in runs)


@pytest.mark.timeout(300)
def test_a_ray_batch_writes_every_trace_to_postgres_once(pg_url, tmp_path, apprentice_home, postgres):
    summary, records = _resume_on_ray(tmp_path, items=12, keep=5)
    assert (summary.skipped, summary.done) == (5, 7)
    _exactly_once(TraceStore(pg_url), records, 12)
    assert not (apprentice_home / "traces.db").exists()  # the workers wrote to the server, not a node's home
    logs = Path("/tmp/ray/session_latest/logs")
    leaked = [p for p in logs.rglob("*") if p.is_file() and postgres.password.encode() in p.read_bytes()]
    assert leaked == []


@pytest.mark.timeout(300)
def test_a_ray_batch_on_sqlite_has_the_driver_as_the_only_writer(tmp_path, apprentice_home, monkeypatch):
    from apprentice.batch import ray_runner

    node_home = tmp_path / "node-home"  # what a worker node's own home would be
    monkeypatch.setattr(ray_runner, "ray_env", lambda cluster=False: {"APPRENTICE_HOME": str(node_home),
                                                        "APPRENTICE_THREADS": "1", "HF_HUB_OFFLINE": "1"})
    summary, records = _resume_on_ray(tmp_path, items=12, keep=5)
    assert (summary.skipped, summary.done) == (5, 7)
    _exactly_once(open_store(), records, 12)
    assert not list(node_home.glob("*.db"))  # nothing went to a node-local store


def test_traces_migrate_on_the_command_line(postgres, monkeypatch, capsys):
    run_question("What is 23 + 18?", model=ScriptedChatModel(script=ADD), tools=["calculator"])
    monkeypatch.setenv("PGPASSFILE", str(postgres.passfile))
    url = postgres.create_database(f"cli{os.getpid()}_{next(_NAMES)}")
    for copied in (1, 0):
        assert main(["traces", "migrate", "--to", url, "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["runs_copied"] == copied
    assert main(["traces", "list", "--db", url, "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 1
    assert main(["traces", "migrate"]) == 2 and "usage" in capsys.readouterr().err
    _close(url)


def test_a_store_from_before_versioning_is_upgraded_and_a_newer_one_refused(apprentice_home, capsys):
    import sqlite3

    store = open_store()
    run_id = store.start_run(strategy="react", model="local", question="q")
    close_store()
    path = apprentice_home / "traces.db"
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE apprentice_schema")  # as every traces.db was before issue 41
    assert open_store().get(run_id).question == "q"
    close_store()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT version FROM apprentice_schema").fetchall() == [(1,)]
        db.execute("INSERT INTO apprentice_schema VALUES (2, 0)")
    assert main(["traces", "list"]) == 2
    assert "newer than this apprentice reads (1); upgrade apprentice" in _one_line(capsys.readouterr().err)


def _batch_command(source: Path, out: Path, teacher_url: str) -> list[str]:
    return [str(Path(sys.executable).parent / "apprentice"), "batch", str(source), "--out", str(out), "--model",
            f"openai:fake@{teacher_url}", "--concurrency", "4", "--retries", "1", "--no-progress"]


@pytest.mark.timeout(240)
def test_the_server_going_away_mid_batch_stops_the_job_and_a_resume_finishes_it(pg_url, postgres, tmp_path):
    import subprocess
    import time

    from fake_openai_server import start_server

    items = 300
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text("".join(json.dumps({"id": f"q{i}", "question": f"What is {i} + {i}?", "answer": str(2 * i)})
                              + "\n" for i in range(items)), encoding="utf-8")
    teacher = start_server()
    command = _batch_command(source, out, teacher.url)
    try:
        job = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while (out.read_bytes().count(b"\n") if out.exists() else 0) < 40 and job.poll() is None:
            assert time.monotonic() < deadline, "the job wrote too few records"
            time.sleep(0.05)
        postgres.halt()  # the server goes away mid-job
        try:
            _, stderr = job.communicate(timeout=90)
        finally:
            postgres.start()
        written = out.read_text(encoding="utf-8").splitlines()
        assert job.returncode == 2 and 40 <= len(written) < items  # the job stopped with what it had
        line = _one_line(stderr)
        assert f"cannot reach the PostgreSQL server at 127.0.0.1:{postgres.port}" in line
        assert postgres.password not in stderr and "Traceback" not in stderr
        resumed = subprocess.run(command, check=False, capture_output=True, text=True, timeout=120)
    finally:
        teacher.shutdown()
    assert resumed.returncode == 0, resumed.stderr
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    close_pg()  # the engines of this process lost their connections with the server
    _exactly_once(TraceStore(pg_url), records, items)
    assert records[:len(written)] == [json.loads(line) for line in written]  # what it had stays as it was


# -- schema versions: an older database upgraded in order, in one transaction, on either engine -----------------


@pytest.fixture(params=["sqlite", "postgresql"])
def any_url(request, apprentice_home, monkeypatch):
    """A new store on each engine (PostgreSQL: a database of its own on the session's server)."""
    if request.param == "sqlite":
        apprentice_home.mkdir(parents=True, exist_ok=True)
        yield f"sqlite:///{apprentice_home / 'traces.db'}"
        return
    postgres = request.getfixturevalue("postgres")
    monkeypatch.setenv("PGPASSFILE", str(postgres.passfile))
    url = postgres.create_database(f"v{os.getpid()}_{next(_NAMES)}")
    yield url
    _close(url)


def _layout(url: str) -> tuple[list[int], set[str], set[str]]:
    """(versions recorded, columns of runs, indexes of runs), read behind the store's back."""
    from sqlalchemy import create_engine, inspect, text

    parsed = store_url(url)
    engine = create_engine(f"sqlite:///{parsed.path}" if parsed.is_sqlite else
                           parsed.conninfo().replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            versions = [row[0] for row in conn.execute(text("SELECT version FROM apprentice_schema ORDER BY 1"))]
            found = inspect(conn)
            return (versions, {c["name"] for c in found.get_columns("runs")},
                    {i["name"] for i in found.get_indexes("runs")})
    finally:
        engine.dispose()


def test_an_older_schema_is_upgraded_once_in_order_and_a_newer_one_refused(any_url, monkeypatch, capsys):
    from sqlalchemy import text

    from apprentice.errors import StoreError
    from apprentice.traces import schema

    store = TraceStore(any_url)
    run_id = store.start_run(strategy="react", model="local", question="q")
    store.close()
    assert _layout(any_url)[0] == [1]
    applied = []

    def to_v2(conn) -> None:  # what a real version 2 would do: a column, filled in for the rows there
        applied.append(2)
        conn.execute(text("ALTER TABLE runs ADD COLUMN note TEXT"))
        conn.execute(text("UPDATE runs SET note = 'from v1'"))

    def to_v3(conn) -> None:
        applied.append(3)
        conn.execute(text("CREATE INDEX runs_note ON runs (note)"))

    with monkeypatch.context() as patch:
        patch.setitem(schema.MIGRATIONS, 3, to_v3)  # registered out of order: applied in order
        patch.setitem(schema.MIGRATIONS, 2, to_v2)
        upgraded = TraceStore(any_url)
        assert applied == [2, 3] and upgraded.get(run_id).question == "q"
        upgraded.close()
        TraceStore(any_url).close()
        assert applied == [2, 3]  # once
    versions, columns, indexes = _layout(any_url)
    assert versions == [1, 2, 3] and "note" in columns and "runs_note" in indexes
    with pytest.raises(StoreError, match=r"schema version 3, newer than this apprentice reads \(1\)"):
        TraceStore(any_url)
    assert main(["traces", "list", "--db", any_url]) == 2
    assert "newer than this apprentice reads (1); upgrade apprentice" in _one_line(capsys.readouterr().err)


def test_a_failing_upgrade_step_changes_nothing(any_url, monkeypatch, capsys):
    from sqlalchemy import text

    from apprentice.errors import StoreError
    from apprentice.traces import schema

    TraceStore(any_url).close()

    def half_done(conn) -> None:
        conn.execute(text("ALTER TABLE runs ADD COLUMN note TEXT"))
        conn.execute(text("CREATE INDEX runs_note ON runs (note)"))
        raise RuntimeError("the disk is on fire")

    monkeypatch.setitem(schema.MIGRATIONS, 2, half_done)
    with pytest.raises(StoreError, match=r"from schema version 1 to 2 \(the disk is on fire\); nothing was changed"):
        TraceStore(any_url)
    assert main(["traces", "list", "--db", any_url]) == 2
    assert "cannot upgrade the traces" in _one_line(capsys.readouterr().err)
    versions, columns, indexes = _layout(any_url)
    assert versions == [1] and "note" not in columns and "runs_note" not in indexes  # one transaction, rolled back
