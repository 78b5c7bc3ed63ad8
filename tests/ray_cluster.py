"""A Ray cluster of several nodes on this machine, for tests and benchmarks: each node is one ``ray start --block``
process leading its own process group (so a node can be killed whole, as a machine that dies), with its own ports,
``APPRENTICE_HOME`` and ``TMPDIR`` from its environment, and the cluster's own token (never ``~/.ray``'s). Stopping
it ends exactly the processes it started: ``ray stop`` would end every Ray instance on the machine."""

from __future__ import annotations

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
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Cluster", "Node", "start_cluster"]

BIN = Path(sys.executable).parent
#: Node settings: a small object store, no dashboard, no usage report.
NODE_FLAGS = ["--object-store-memory", str(80 * 2**20), "--disable-usage-stats", "--block"]
#: Ray's own settings for these clusters: a dead node is noticed in ~3 s, not ~15 s.
RAY_CONFIG = {"RAY_health_check_period_ms": "1000", "RAY_health_check_failure_threshold": "3",
              "RAY_health_check_initial_delay_ms": "1000", "RAY_USAGE_STATS_ENABLED": "0"}


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
    cpus: int = 1

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
            node.proc = subprocess.Popen([str(BIN / "ray"), "start", "--num-cpus", str(self.cpus), *NODE_FLAGS,
                                          *map(str, flags)], env=env,
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


def start_cluster(workers: int = 2, cpus: int = 1, token: Path | None = None,
                  env: dict[str, str] | None = None) -> Cluster:
    """A head and ``workers`` worker nodes of ``cpus`` CPUs each, all up, with their own token, or with ``token`` (a
    file: Ray keeps the first token a process used, so one driver process reaches several clusters with one); ``env``
    is added to every node's environment.

    Raises:
        RuntimeError: a node did not start (the message ends with its last lines of output).
    """
    root = Path(tempfile.mkdtemp(prefix="aray-", dir="/tmp"))
    if token is None:  # this cluster's own token: never ~/.ray's, never another cluster's
        token = root / "auth_token"
        token.write_text(secrets.token_hex(32))
        token.chmod(0o600)
    base = {k: v for k, v in os.environ.items()
            if k not in ("APPRENTICE_DB", "APPRENTICE_HOME", "RAY_ADDRESS", "PGPASSFILE", "PGPASSWORD")}
    env = {**base, **RAY_CONFIG, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token), "OMP_NUM_THREADS": "1",
           "APPRENTICE_THREADS": "1", **(env or {})}
    ports = _port_block(30 * (workers + 1))
    cluster = Cluster(root, env, cpus=cpus)
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
