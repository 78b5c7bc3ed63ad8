"""Ray local mode runs the same job as the thread path and gives the same records (one test: Ray is slow
to start). Both paths talk to the scripted HTTP server, so the Ray workers build real model clients."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from apprentice.batch import BatchJob, RetryPolicy, TaskConfig, WorkerConfig, run_batch
from apprentice.traces import open_store

pytest.importorskip("ray")
sys.path.insert(0, str(Path(__file__).parent))
from fake_openai_server import start_server  # noqa: E402

_SAME = ("id", "question", "answer", "prediction", "gold", "correct", "score", "status", "attempts")


def _records(path: Path) -> dict[str, dict]:
    return {r["id"]: r for r in map(json.loads, path.read_text(encoding="utf-8").splitlines())}


@pytest.mark.timeout(240)
def test_ray_local_mode_matches_the_thread_path(tmp_path):
    server = start_server(latency_s=0.02)
    rows = [{"id": f"q{i}", "question": f"What is {i} + {i}?", "answer": str(2 * i + i % 2)} for i in range(10)]
    rows += [{"id": "broken", "question": "What is 1 + 1? [fail]", "answer": "2"}, {"id": "noq"}]
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    worker = WorkerConfig(model_spec=f"openai:fake@{server.url}", retry=RetryPolicy(retries=1, base_s=0.001))

    def job(name: str) -> BatchJob:
        return BatchJob(source, tmp_path / name, TaskConfig(answer_kind="number"), worker, concurrency=4)

    local = run_batch(job("threads.jsonl"))
    first_lines = (tmp_path / "threads.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)[:5]
    (tmp_path / "ray.jsonl").write_text("".join(first_lines) + '{"id": "q9", "quest', encoding="utf-8")
    on_ray = run_batch(job("ray.jsonl"), ray=True, ray_workers=2)  # a resumed job, on Ray

    threads, ray_records = _records(tmp_path / "threads.jsonl"), _records(tmp_path / "ray.jsonl")
    assert len((tmp_path / "ray.jsonl").read_text().splitlines()) == len(rows)  # no duplicates
    assert set(threads) == set(ray_records) == {r.get("id", "line-12") for r in rows}
    for key, record in threads.items():
        assert {f: record[f] for f in _SAME} == {f: ray_records[key][f] for f in _SAME}
    assert (local.done, local.failed, local.invalid, local.correct) == (10, 1, 1, 5)
    ok_before = sum(json.loads(line)["status"] == "ok" for line in first_lines)
    assert on_ray.skipped == ok_before and on_ray.done == 10 - ok_before
    assert (on_ray.failed, on_ray.invalid, on_ray.checked, on_ray.correct) == (1, 1, 10, 5)
    runs = {run.id for run in open_store().query(item_id="q3")}
    assert {threads["q3"]["run_id"], ray_records["q3"]["run_id"]} <= runs  # the workers' traces landed
    server.shutdown()


def test_a_ray_error_is_one_line_with_its_root_cause():
    from apprentice.batch.ray_runner import _first_line

    quoted = RuntimeError("Failed to connect to GCS. Last connection error: Traceback (most recent call last):\n"
                          '  File "python/ray/_raylet.pyx", line 3198, in ray._raylet.GcsClient.__cinit__\n'
                          "ray.exceptions.AuthenticationError: RPC error: InvalidAuthToken: Authentication token is "
                          "missing or incorrect.\n")
    try:
        raise ConnectionError("Failed to connect to Ray cluster at 192.0.2.2:6379") from quoted
    except ConnectionError as exc:
        line = _first_line(exc)
    assert line == ("Failed to connect to Ray cluster at 192.0.2.2:6379 (AuthenticationError: RPC error: "
                    "InvalidAuthToken: Authentication token is missing or incorrect.)")
    assert _first_line(ValueError("\n  one thing\n  and more")) == "one thing"


def test_a_cluster_address_where_nothing_answers_is_one_line_in_seconds(tmp_path, capsys):
    import socket

    from apprentice.cli import main

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    source = tmp_path / "in.jsonl"
    source.write_text('{"question": "What is 1 + 1?"}\n', encoding="utf-8")
    assert main(["batch", str(source), "--out", str(tmp_path / "out.jsonl"), "--model", "openai:x@http://127.0.0.1:9/v1",
                 "--ray", f"127.0.0.1:{port}", "--no-progress"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"error: cannot reach a Ray cluster at 127.0.0.1:{port} (Connection refused); start its head there "
        f"(ray start --head --port {port}) or give --ray the head's address"]


def test_what_ray_prints_while_a_job_runs_goes_to_the_home_log_never_to_stdout_or_stderr(tmp_path, capsys,
                                                                                          monkeypatch):
    """Ray's driver prints a cluster's error messages ("The node ... has been marked dead") to stdout whatever
    log_to_driver says; `batch --json` prints its summary there and a stopped job its one error line on stderr.
    Seen as a failed json.loads, then as a second stderr line, in the 3-node test."""
    from ray._private.worker import print_to_stdstream

    from apprentice.batch import ray_runner
    from apprentice.cli import main

    def connect(address, workers):  # what Ray's error listener thread does while the job runs
        print_to_stdstream({"lines": ["The node with node id: 1 has been marked dead"], "pid": "raylet",
                            "is_err": False}, ignore_prefix=False)
        logging.getLogger("ray._private.worker").error("listen_error_messages: connection lost")
        return False

    monkeypatch.setattr(ray_runner, "_connect", connect)
    monkeypatch.setattr(ray_runner, "_drive", lambda *args: None)
    monkeypatch.setattr(ray_runner, "_Fleet", lambda *args: type("F", (), {"close": lambda self: None})())
    source = tmp_path / "in.jsonl"
    source.write_text('{"question": "What is 1 + 1?"}\n', encoding="utf-8")
    main(["batch", str(source), "--out", str(tmp_path / "out.jsonl"), "--model", "openai:x@http://127.0.0.1:9/v1",
          "--ray", "auto", "--no-progress", "--json"])
    captured = capsys.readouterr()
    assert "marked dead" not in captured.err and "marked dead" not in captured.out
    assert "listen_error_messages" not in captured.err
    json.loads(captured.out)  # stdout is the summary alone
    log = (tmp_path / "home" / "logs" / "ray.log").read_text(encoding="utf-8")
    assert "marked dead" in log and "ERROR ray._private.worker: listen_error_messages: connection lost" in log


@pytest.mark.timeout(120)
def test_a_cluster_where_no_worker_can_start_stops_with_one_line_and_loses_nothing(tmp_path):
    """A real local runtime with no CPU for an actor (each takes one): the job waits for a first worker as long as
    it was told, then stops with one line (the CLI in a process of its own, so Ray's writes reach the real
    descriptors); the output keeps what an earlier run wrote, for a resume."""
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text('{"id": "a", "question": "What is 1 + 1?"}\n{"id": "b", "question": "What is 2 + 2?"}\n',
                      encoding="utf-8")
    done = '{"id": "a", "question": "What is 1 + 1?", "status": "ok", "prediction": "2", "attempts": 1}\n'
    out.write_text(done, encoding="utf-8")
    script = f"""
import sys
from apprentice.batch import ray_runner
from apprentice.cli import main

def no_cpu(ray, address, workers, runtime_env):
    ray.init(num_cpus=0, include_dashboard=False, runtime_env=runtime_env, log_to_driver=False,
             configure_logging=False)

ray_runner._init, ray_runner._START_TIMEOUT_S = no_cpu, 3.0
sys.exit(main(["batch", {str(source)!r}, "--out", {str(out)!r}, "--model", "openai:x@http://127.0.0.1:9/v1",
               "--ray", "--ray-workers", "1", "--no-progress"]))
"""
    job = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=100)
    assert job.returncode == 2
    assert job.stderr.splitlines() == [
        "error: no Ray worker started within 3 s: the cluster has no free CPU for one (each takes 1), or its nodes "
        "cannot start them"], job.stderr
    assert out.read_text(encoding="utf-8") == done
