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
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from apprentice.traces.store import TraceStore
from apprentice.training.harvest import HarvestConfig, harvest

sys.path.insert(0, str(Path(__file__).parent))
from fake_openai_server import start_server  # noqa: E402
from pg_server import serve_for_tests  # noqa: E402

BIN = Path(sys.executable).parent
ITEMS = 500
#: Node settings: one CPU each (one actor per node), a small object store, no dashboard, no usage report.
NODE_FLAGS = ["--num-cpus", "1", "--object-store-memory", str(80 * 2**20), "--disable-usage-stats", "--block"]
#: Ray's own settings for the test cluster: a dead node is noticed in ~3 s, not ~15 s.
RAY_CONFIG = {"RAY_health_check_period_ms": "1000", "RAY_health_check_failure_threshold": "3",
              "RAY_health_check_initial_delay_ms": "1000", "RAY_USAGE_STATS_ENABLED": "0"}


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must run the multi-node Ray tests)")
    pytest.skip(reason)


def _port_block(count: int) -> list[int]:
    """``count`` free ports in one block below the ephemeral range (the nodes' ports never collide)."""
    for _ in range(50):
        base = random.randrange(20000, 32000 - count)
        probes: list[socket.socket] = []
        try:
            for port in range(base, base + count):
                probe = socket.socket()
                probes.append(probe)
                probe.bind(("", port))
            return list(range(base, base + count))
        except OSError:
            continue
        finally:
            for probe in probes:
                probe.close()
    raise RuntimeError("no block of free ports")


@dataclass
class Node:
    """One ``ray start --block`` process, leader of a process group holding everything of its node."""

    name: str
    home: Path
    ports: list[int]
    log: Path
    proc: subprocess.Popen | None = None

    @property
    def tmp(self) -> Path:
        """The node's temp folder (``TMPDIR``), where actors keep scratch stores."""
        return self.home.with_name(self.home.name.replace("home-", "tmp-"))

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL the node's whole process group: raylet, agents, workers, as a machine that dies."""
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        """``ray start --block`` stops its node on SIGTERM; whatever of its group is left after 15 s is killed."""
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pass
        self.kill()


@dataclass
class Cluster:
    """A head and worker nodes on this machine, in one temp folder (short: Ray's socket paths are limited)."""

    root: Path
    env: dict[str, str]
    nodes: list[Node] = field(default_factory=list)
    gcs_port: int = 0

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.gcs_port}"

    def start_node(self, node: Node) -> None:
        ports = node.ports
        flags = ["--node-manager-port", ports[0], "--object-manager-port", ports[1],
                 "--dashboard-agent-listen-port", ports[2], "--dashboard-agent-grpc-port", ports[3],
                 "--runtime-env-agent-port", ports[4], "--metrics-export-port", ports[5],
                 "--min-worker-port", ports[8], "--max-worker-port", ports[-1]]
        if node.name == "head":
            flags += ["--head", "--port", ports[6], "--dashboard-port", ports[7], "--include-dashboard=false",
                      "--temp-dir", self.root / "ray"]
        else:
            flags += ["--address", self.address]
        node.tmp.mkdir(parents=True, exist_ok=True)
        env = {**self.env, "APPRENTICE_HOME": str(node.home), "TMPDIR": str(node.tmp)}
        with node.log.open("w") as log:
            node.proc = subprocess.Popen([str(BIN / "ray"), "start", *NODE_FLAGS, *map(str, flags)], env=env,
                                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 90
        while "Ray runtime started" not in node.log.read_text(errors="replace"):
            if node.proc.poll() is not None or time.monotonic() > deadline:
                tail = node.log.read_text(errors="replace").strip().splitlines()[-3:]
                node.stop()
                raise RuntimeError(f"ray start ({node.name}) failed: {' | '.join(tail) or 'no output'}")
            time.sleep(0.25)

    def heal(self) -> None:
        """Start again any worker node a test killed."""
        for node in self.nodes[1:]:
            if not node.alive:
                self.start_node(node)

    def stop(self) -> None:
        for node in reversed(self.nodes):
            node.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def _make_cluster(workers: int = 2) -> Cluster:
    root = Path(tempfile.mkdtemp(prefix="aray-", dir="/tmp"))
    token = root / "auth_token"  # this cluster's own token: never ~/.ray's, never another cluster's
    token.write_text(secrets.token_hex(32))
    token.chmod(0o600)
    env = {k: v for k, v in os.environ.items() if k not in ("APPRENTICE_DB", "APPRENTICE_HOME", "RAY_ADDRESS")}
    env.update(RAY_CONFIG, RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(token), OMP_NUM_THREADS="1",
               APPRENTICE_THREADS="1")
    ports = _port_block(30 * (workers + 1))
    cluster = Cluster(root, env)
    for index, name in enumerate(["head", *(f"worker-{i}" for i in range(1, workers + 1))]):
        cluster.nodes.append(Node(name, root / f"home-{name}", ports[30 * index:30 * (index + 1)],
                                  root / f"{name}.log"))
    cluster.gcs_port = cluster.nodes[0].ports[6]
    try:
        for node in cluster.nodes:  # "Ray runtime started": the node is registered with the head
            cluster.start_node(node)
    except BaseException:
        cluster.stop()
        raise
    return cluster


@pytest.fixture(scope="module")
def ray_cluster():
    """Three nodes for the module's tests, always torn down (every node's process group)."""
    if shutil.which("ray", path=str(BIN)) is None:
        _unavailable("the ray command is not installed (pip install 'apprentice[ray]')")
    try:
        cluster = _make_cluster()
    except RuntimeError as exc:
        _unavailable(f"ray cannot start a cluster here: {exc}")
    try:
        yield cluster
    finally:
        cluster.stop()


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
