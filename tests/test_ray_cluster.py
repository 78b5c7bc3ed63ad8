"""Issue 41: a real Ray cluster on this machine. A head and two worker nodes are started with ``ray start`` (each its
own process group, its own ports, its own ``APPRENTICE_HOME`` and temp folder from the node's environment, so a
write to a node-local path shows up as a missing trace), and ``apprentice batch --ray ADDRESS`` runs 500 items
against the fake OpenAI teacher: one worker node is killed mid-job (its whole process group: raylet, agents,
workers) and the job goes on without it; later the job is stopped (PostgreSQL: the server goes away, and the job
ends with one error line; SQLite: the driver is killed), and the same command resumes it. Then: 500 results, 500
traces, no duplicates, and ``harvest`` on the driver sees all of them; into PostgreSQL (workers write to it) and
into the SQLite default (the driver the only writer).

Where ``ray start`` cannot make a cluster these tests skip and say why; in CI (``CI`` set) they fail.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from apprentice.traces.store import TraceStore
from apprentice.training.harvest import HarvestConfig, harvest

sys.path.insert(0, str(Path(__file__).parent))
from fake_openai_server import start_server  # noqa: E402
from pg_server import serve_for_tests  # noqa: E402
from ray_cluster import BIN, Cluster, start_cluster  # noqa: E402

ITEMS = 500


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must run the multi-node Ray tests)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def ray_cluster():
    """Three nodes for the module's tests, always torn down (every node's process group)."""
    if shutil.which("ray", path=str(BIN)) is None:
        _unavailable("the ray command is not installed (pip install 'apprentice[ray]')")
    pgpass = Path(tempfile.mkdtemp(prefix="apprentice-nodes-")) / "pgpass"  # the nodes' own password file
    try:
        cluster = start_cluster(workers=2, cpus=1, env={"PGPASSFILE": str(pgpass)})  # one actor per node
    except RuntimeError as exc:
        _unavailable(f"ray cannot start a cluster here: {exc}")
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(pgpass.parent, ignore_errors=True)


@pytest.fixture
def cluster(ray_cluster):
    """The module's cluster with every node up."""
    ray_cluster.heal()
    return ray_cluster


@pytest.fixture(scope="module")
def postgres():
    yield from serve_for_tests()


@pytest.fixture(scope="module")
def teacher():
    server = start_server()
    yield server
    server.shutdown()


def _lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def _wait_lines(path: Path, count: int, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while _lines(path) < count:
        if proc.poll() is not None:
            raise AssertionError(f"the job ended early (exit {proc.returncode}): {proc.stderr.read()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} has {_lines(path)} lines after {timeout} s, waiting for {count}")
        time.sleep(0.05)


def _run_job(cluster: Cluster, tmp_path: Path, teacher, stop: Callable[[subprocess.Popen], None],
             **store_env: str) -> tuple[Path, dict, Path]:
    """The job: a worker node killed at 150 results, ``stop`` at 300 (the job must end), the same command
    resumed."""
    source, out, home = tmp_path / "in.jsonl", tmp_path / "out.jsonl", tmp_path / "driver-home"
    source.write_text("".join(json.dumps({"id": f"q{i}", "question": f"What is {i} + {i}?", "answer": str(2 * i)})
                              + "\n" for i in range(ITEMS)), encoding="utf-8")
    env = {**cluster.env, "APPRENTICE_HOME": str(home), **store_env}
    command = [str(BIN / "apprentice"), "batch", str(source), "--out", str(out), "--model",
               f"openai:fake@{teacher.url}", "--ray", cluster.address, "--ray-workers", "3", "--concurrency", "6",
               "--retries", "1", "--no-progress", "--json"]
    first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_lines(out, 150, first)
        cluster.nodes[2].kill()  # a worker node dies; the job goes on over the other two
        _wait_lines(out, 300, first)
        stop(first)
    finally:
        first.kill()
        first.wait(timeout=30)
    assert _lines(out) < ITEMS, "the job ended before it was stopped"
    resumed = subprocess.run(command, check=False, env=env, capture_output=True, text=True, timeout=240)
    assert resumed.returncode == 0, resumed.stderr
    return out, json.loads(resumed.stdout), home


def _check(out: Path, summary: dict, store: TraceStore, tmp_path: Path, cluster: Cluster) -> None:
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    ids = [r["id"] for r in records]
    assert len(ids) == ITEMS and set(ids) == {f"q{i}" for i in range(ITEMS)}  # every result, once
    assert all(r["status"] == "ok" and r["correct"] for r in records)
    assert summary["skipped"] >= 300 and summary["skipped"] + summary["done"] == ITEMS
    runs = store.query()
    assert len(runs) == ITEMS and sorted(r.item_id for r in runs) == sorted(ids)  # every trace, once
    assert {r.id for r in runs} == {r["run_id"] for r in records}
    assert all(r.status == "ok" and r.correct for r in runs)
    dataset = harvest(HarvestConfig(out=tmp_path / "dataset", eval_fraction=0))
    assert (dataset.seen, dataset.train) == (ITEMS, ITEMS)  # the driver's harvest sees every node's traces
    for node in cluster.nodes:  # nothing went to a node-local store
        assert not list(node.home.rglob("*.db")), node.name
    for node in cluster.nodes[:2]:  # the live nodes' scratch stores are gone, the killed driver's actors' too
        assert not list(node.tmp.glob("apprentice-worker-*")), node.name


@pytest.mark.timeout(300)
def test_a_killed_node_a_server_gone_and_a_resumed_job_leave_every_trace_in_postgres_once(
        cluster, postgres, teacher, tmp_path, monkeypatch):
    def server_goes_away(job: subprocess.Popen) -> None:
        postgres.halt()
        try:
            _, stderr = job.communicate(timeout=120)
        finally:
            postgres.start()
        lines = stderr.strip().splitlines()  # the job stops with what it has, in one line
        assert job.returncode == 2 and len(lines) == 1, stderr
        assert lines[0].startswith(f"error: cannot reach the PostgreSQL server at 127.0.0.1:{postgres.port}")
        assert postgres.password not in stderr

    monkeypatch.setenv("PGPASSFILE", str(postgres.passfile))
    url = postgres.create_database(f"cluster{os.getpid()}")
    nodes_pgpass = Path(cluster.env["PGPASSFILE"])  # each node has the password in a file of its own, as ~/.pgpass
    shutil.copyfile(postgres.passfile, nodes_pgpass)
    nodes_pgpass.chmod(0o600)
    out, summary, home = _run_job(cluster, tmp_path, teacher, server_goes_away, APPRENTICE_DB=url,
                                  PGPASSFILE=str(postgres.passfile))
    monkeypatch.setenv("APPRENTICE_DB", url)
    _check(out, summary, TraceStore(url), tmp_path, cluster)
    assert not list(home.rglob("*.db"))  # the workers wrote to the server


@pytest.mark.timeout(300)
def test_a_killed_node_a_killed_driver_and_a_resumed_job_leave_every_trace_in_sqlite_once(
        cluster, teacher, tmp_path, monkeypatch):
    out, summary, home = _run_job(cluster, tmp_path, teacher, lambda job: job.kill())  # the driver dies
    monkeypatch.setenv("APPRENTICE_HOME", str(home))
    _check(out, summary, TraceStore(home / "traces.db"), tmp_path, cluster)
    assert list(cluster.nodes[2].tmp.glob("apprentice-worker-*"))  # an actor was at work on the node killed
