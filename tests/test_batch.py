"""Batch jobs: kill and resume, per-item failures, malformed input, the output file's repair, the
real embedded model. The kill test runs the real CLI in a subprocess against a scripted HTTP server."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import openai
import pytest
from langchain_core.messages import HumanMessage

from apprentice.backends.scripted import ScriptedChatModel
from apprentice.batch import (
    FIELDS,
    BatchJob,
    OutputFile,
    RetryPolicy,
    TaskConfig,
    WorkerConfig,
    is_transient,
    load_done,
    run_batch,
)
from apprentice.cli import main
from apprentice.errors import ApprenticeError, ModelUnavailableError
from apprentice.tasks import get_task
from apprentice.traces import open_store
from apprentice.training.registry import adapter_version, get_adapter

sys.path.insert(0, str(Path(__file__).parent))
from fake_openai_server import start_server  # noqa: E402

FAST_RETRY = RetryPolicy(retries=2, base_s=0.001)


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _question(messages) -> str:
    return next(m.text for m in reversed(messages) if isinstance(m, HumanMessage))


def test_kill_and_resume_produces_every_id_exactly_once(tmp_path):
    server = start_server(latency_s=0.25)
    rows = [{"id": f"q{i}", "question": f"What is {i} + 1?", "answer": str(i + 1)} for i in range(16)]
    source = _write_jsonl(tmp_path / "in.jsonl", rows)
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    out = tmp_path / "out.jsonl"
    args = [str(source), "--out", str(out), "--model", f"openai:fake@{server.url}", "--answer-kind", "number",
            "--concurrency", "2", "--no-progress"]
    code = "import sys; from apprentice.cli import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.Popen([sys.executable, "-c", code, "batch", *args], env=os.environ.copy(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.poll() is None:
            if out.exists() and len(out.read_bytes().splitlines()) >= 3:
                break
            time.sleep(0.05)
        assert proc.poll() is None, f"the job ended before it was killed: {proc.stderr.read().decode()}"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stderr.close()
    before = {r["id"] for r in _records(out)}
    assert 3 <= len(before) < len(rows)
    with out.open("a") as handle:  # what a kill in the middle of a write leaves behind
        handle.write('{"id": "q15", "question": "What is 15')

    assert main(["batch", *args, "--concurrency", "4"]) == 0

    records = _records(out)
    assert Counter(r["id"] for r in records) == Counter(row["id"] for row in rows)
    assert all(r["status"] == "ok" and r["correct"] for r in records)
    stats = httpx.get(server.url.removesuffix("/v1") + "/stats").json()["by_question"]
    assert all(stats[row["question"]] == 1 for row in rows if row["id"] in before)  # done ones skipped
    assert hashlib.sha256(source.read_bytes()).hexdigest() == digest
    store = open_store()
    assert {store.get(r["run_id"]).item_id for r in records} == {row["id"] for row in rows}
    server.shutdown()


def _flaky_model() -> ScriptedChatModel:
    state = {"flaky": 0}

    def reply(messages) -> str:
        question = _question(messages)
        if "boom" in question:
            raise RuntimeError("the model broke on this one")
        if "flaky" in question and state["flaky"] == 0:
            state["flaky"] += 1
            raise openai.APIConnectionError(request=httpx.Request("POST", "http://127.0.0.1:1/v1"))
        return " Easy.\nFinal Answer: 5"

    return ScriptedChatModel(script=[reply], cycle=True)


def test_per_item_failures_are_recorded_and_retried_on_resume(tmp_path):
    source = _write_jsonl(tmp_path / "in.jsonl", [
        {"id": "ok", "question": "What is 2 + 3?", "answer": "5"},
        {"id": "wrong", "question": "What is 2 + 2?", "answer": "4"},
        {"id": "boom", "question": "boom: what is 1 + 1?", "answer": "2"},
        {"id": "flaky", "question": "flaky: what is 4 + 1?", "answer": "5"},
        {"id": "noq", "prompt": "a row without a question"},
        {"question": "What is 3 + 2? (no id)", "answer": "5"},
    ])
    out = tmp_path / "out.jsonl"
    job = BatchJob(source, out, TaskConfig(answer_kind="number"),
                   WorkerConfig(model_spec="scripted", retry=FAST_RETRY, max_steps=2), concurrency=3)
    model = _flaky_model()

    summary = run_batch(job, model=model)

    by_id = {r["id"]: r for r in _records(out)}
    assert list(_records(out)[0]) == list(FIELDS)
    assert (summary.done, summary.failed, summary.invalid, summary.checked, summary.correct) == (4, 1, 1, 4, 3)
    assert by_id["ok"]["correct"] is True and by_id["wrong"]["correct"] is False
    assert by_id["boom"]["status"] == "error" and "broke" in by_id["boom"]["error"]
    assert by_id["boom"]["attempts"] == 1  # a permanent error is not retried
    assert by_id["flaky"]["status"] == "ok" and by_id["flaky"]["attempts"] == 2
    assert by_id["noq"]["status"] == "invalid" and "in.jsonl:5: missing field 'question'" in by_id["noq"]["error"]
    assert any(key.startswith("jsonl-") for key in by_id)  # a hash id for the row without one

    again = run_batch(job, model=model)  # resume: only the failed and invalid items run again

    assert (again.skipped, again.done, again.failed, again.invalid) == (4, 0, 1, 1)
    records = _records(out)
    assert sorted(Counter(r["id"] for r in records).values()) == [1] * 6
    # boom's and flaky's first attempts each left a trace; boom run again on resume replaced its own (issue 41:
    # one trace per item and attempt, also when a job is resumed)
    assert open_store().count(status="error") == 2 and open_store().count(item_id="boom") == 1


def test_task_items_are_checked_and_verdicts_recorded(tmp_path):
    items = get_task("arith", level=1).load(limit=3)
    source = _write_jsonl(tmp_path / "arith.jsonl",
                          [{"id": i.id, "question": i.question, "answer": i.answer} for i in items])
    gold = {i.question: i.answer for i in items}
    model = ScriptedChatModel(script=[lambda m: f" Done.\nFinal Answer: {gold[_question(m)]}"], cycle=True)
    out = tmp_path / "out.jsonl"

    summary = run_batch(BatchJob(source, out, TaskConfig(task="arith"), WorkerConfig(model_spec="scripted")),
                        model=model)

    assert summary.accuracy == 1.0 and summary.checked == 3
    assert open_store().count(task="arith", verdict="correct") == 3


def test_malformed_input_file_is_one_error_with_the_line_number(tmp_path, capsys):
    source = tmp_path / "in.jsonl"
    source.write_text('{"question": "a?"}\n\n{"question": "b?"\n', encoding="utf-8")
    out = tmp_path / "out.jsonl"

    code = main(["batch", str(source), "--out", str(out), "--model", "openai:x@http://127.0.0.1:9/v1"])

    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"error: {source}:3: bad JSON") and "Traceback" not in err
    assert not out.exists()


def test_cli_rejects_writing_over_the_input(tmp_path, capsys):
    source = _write_jsonl(tmp_path / "in.jsonl", [{"question": "a?"}])
    assert main(["batch", str(source), "--out", str(source)]) == 2
    assert "must not be the input" in capsys.readouterr().err


def test_resume_repairs_torn_failed_and_duplicate_lines(tmp_path):
    out = tmp_path / "out.jsonl"
    with OutputFile(out) as writer:
        for key, status in [("a", "ok"), ("b", "error"), ("a", "ok"), ("c", "ok")]:
            writer.write({"id": key, "status": status})
    with out.open("a") as handle:
        handle.write('{"id": "d", "stat')

    done = load_done(out)

    assert sorted(done) == ["a", "c"]
    assert [r["id"] for r in _records(out)] == ["a", "c"]
    assert load_done(out) == done  # a repaired file is left alone


def test_output_that_is_not_a_batch_file_is_refused(tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text("hello\nworld\n")
    with pytest.raises(Exception, match="not a batch output record"):
        load_done(out)


def test_transient_errors_are_told_from_permanent_ones():
    request = httpx.Request("POST", "http://127.0.0.1:1/v1/chat/completions")

    def status(code: int) -> openai.APIStatusError:
        return openai.APIStatusError("x", response=httpx.Response(code, request=request), body=None)

    wrapped = ModelUnavailableError("HTTP 503")
    wrapped.__cause__ = status(503)
    assert is_transient(openai.APITimeoutError(request=request))
    assert is_transient(status(429)) and is_transient(status(502)) and is_transient(wrapped)
    assert not is_transient(status(400)) and not is_transient(status(401))
    assert not is_transient(RuntimeError("a bug")) and not is_transient(ModelUnavailableError("no key"))


def test_embedded_model_runs_a_small_batch(tmp_path, local_model):
    source = _write_jsonl(tmp_path / "in.jsonl", [
        {"id": "one", "question": "What is 2 + 2?", "answer": "4"},
        {"id": "two", "question": "What is 3 + 5?", "answer": "8"},
    ])
    out = tmp_path / "out.jsonl"
    job = BatchJob(source, out, TaskConfig(answer_kind="number"),
                   WorkerConfig(model_spec="local", max_steps=1, tools=("calculator",)), concurrency=2)

    summary = run_batch(job, model=local_model)

    records = _records(out)
    assert sorted(r["id"] for r in records) == ["one", "two"] and summary.done == 2
    for record in records:
        run = open_store().get(record["run_id"])
        assert run.status == "ok" and run.model == "local" and record["tokens_out"] > 0
        assert any(step.kind == "llm" for step in run.steps)


def test_a_second_job_on_the_same_output_is_refused(tmp_path):
    import fcntl

    source = _write_jsonl(tmp_path / "in.jsonl", [{"question": "a?"}])
    out = tmp_path / "out.jsonl"
    job = BatchJob(source, out, worker=WorkerConfig(model_spec="scripted"))
    with (tmp_path / "out.jsonl.lock").open("w") as held:  # what a running job holds
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(ApprenticeError, match="another batch job is writing"):
            run_batch(job, model=ScriptedChatModel(script=["Final Answer: a"]))
    assert run_batch(job, model=ScriptedChatModel(script=[" ok\nFinal Answer: a"])).done == 1
    assert not (tmp_path / "out.jsonl.lock").exists()


def test_a_rate_limited_call_is_retried_by_the_client_not_by_restarting_the_run(tmp_path):
    """The server says 429 (with retry-after-ms) to the first two requests of an item: the OpenAI client
    waits and repeats that call; the item's run is not restarted (one attempt, one trace)."""
    server = start_server(retry_after_ms=20)
    source = _write_jsonl(tmp_path / "in.jsonl", [{"id": "r", "question": "[429] What is 3 + 4?", "answer": "7"},
                                                  {"id": "p", "question": "What is 1 + 1?", "answer": "2"}])
    out = tmp_path / "out.jsonl"
    try:
        assert main(["batch", str(source), "--out", str(out), "--model", f"openai:fake@{server.url}",
                     "--answer-kind", "number", "--no-progress"]) == 0
        by_id = {r["id"]: r for r in _records(out)}
        assert by_id["r"]["status"] == "ok" and by_id["r"]["correct"] is True and by_id["r"]["attempts"] == 1
        assert server.counts["[429] What is 3 + 4?"] == 3  # two refusals, then the answer: the call was repeated
        assert open_store().count(strategy="react") == 2  # one run per item: nothing restarted
    finally:
        server.shutdown()


def test_cli_options_reach_the_strategy_of_every_item(tmp_path, capsys):
    server = start_server()
    rows = [{"id": f"q{i}", "question": f"What is {i} + 2?", "answer": str(i + 2)} for i in range(2)]
    source = _write_jsonl(tmp_path / "in.jsonl", rows)
    out = tmp_path / "out.jsonl"
    args = ["batch", str(source), "--out", str(out), "--model", f"openai:fake@{server.url}", "--answer-kind",
            "number", "--strategy", "cot-sc", "--no-progress"]
    try:
        assert main([*args, "--option", "samples"]) == 2  # malformed: one line, nothing written
        assert capsys.readouterr().err.startswith("error: bad --option 'samples'") and not out.exists()

        assert main([*args, "--option", "samples=3", "--option", "verifier=rules"]) == 0
    finally:
        server.shutdown()

    records = _records(out)
    assert sorted(r["id"] for r in records) == ["q0", "q1"] and all(r["correct"] for r in records)
    for record in records:
        vote = next(s for s in open_store().get(record["run_id"]).steps if s.kind == "vote")
        assert vote.data["samples"] == 3 and vote.data["verifier"] == "rules"
        assert [check["key"] for check in vote.data["checks"]] == [record["prediction"]] * 3


def test_renamed_duplicates_never_take_an_id_of_the_input(tmp_path, capsys):
    server = start_server()
    rows = [{"id": key, "question": f"What is {i} + 1?", "answer": str(i + 1)}
            for i, key in enumerate(["a", "a", "a#2", "b", "a", "b"])]
    source = _write_jsonl(tmp_path / "in.jsonl", rows)
    out = tmp_path / "out.jsonl"
    args = ["batch", str(source), "--out", str(out), "--model", f"openai:fake@{server.url}", "--answer-kind",
            "number", "--no-progress", "--json"]
    try:
        assert main(args) == 0
        first = json.loads(capsys.readouterr().out)
        assert main(args) == 0  # the rerun names the items as the first run did: all skipped
        again = json.loads(capsys.readouterr().out)
    finally:
        server.shutdown()

    assert (first["done"], first["remaining"]) == (6, 0)
    assert (again["skipped"], again["done"], again["remaining"]) == (6, 0, 0)
    by_id = {r["id"]: r for r in _records(out)}
    assert len(by_id) == len(_records(out)) == 6
    assert {key: r["question"] for key, r in by_id.items()} == {
        "a": "What is 0 + 1?", "a#3": "What is 1 + 1?", "a#2": "What is 2 + 1?",
        "b": "What is 3 + 1?", "a#4": "What is 4 + 1?", "b#2": "What is 5 + 1?"}
    assert all(r["status"] == "ok" and r["correct"] for r in by_id.values())


def test_records_of_ids_the_input_lacks_do_not_count_as_progress(tmp_path):
    source = _write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "question": "What is 2 + 3?", "answer": "5"}])
    out = tmp_path / "out.jsonl"
    with OutputFile(out) as writer:
        writer.write({"id": "gone", "status": "ok"})
    job = BatchJob(source, out, TaskConfig(answer_kind="number"), WorkerConfig(model_spec="scripted"))

    summary = run_batch(job, model=ScriptedChatModel(script=[" Easy.\nFinal Answer: 5"]))

    assert (summary.total, summary.skipped, summary.done, summary.remaining) == (1, 0, 1, 0)
    assert [r["id"] for r in _records(out)] == ["gone", "a"]


def test_the_output_file_holds_no_secret_from_the_input_or_an_error(tmp_path, monkeypatch):
    """A question, gold answer or error text carrying a key is written redacted; the id stays as given."""
    from apprentice.batch.output import OutputFile

    monkeypatch.setenv("ACME_API_KEY", "acme-secret-9876543210")
    out = OutputFile(tmp_path / "out.jsonl")
    out.write({"id": "q-acme-secret-9876543210", "question": "use acme-secret-9876543210 to log in",
               "gold": "acme-secret-9876543210", "error": "server said acme-secret-9876543210 is wrong",
               "status": "error"})
    out.close()
    record = json.loads((tmp_path / "out.jsonl").read_text())
    assert record["id"] == "q-acme-secret-9876543210"
    assert "acme-secret" not in json.dumps({k: v for k, v in record.items() if k != "id"})


def test_a_resume_with_another_model_strategy_or_settings_is_refused_in_one_line(tmp_path, capsys):
    """The same output resumed by another job would keep the first job's answers as the second's: its records name
    the model (with its weights' version), the strategy and the settings that made them, and a resume checks them."""
    server = start_server()
    source = _write_jsonl(tmp_path / "in.jsonl", [{"id": "q0", "question": "What is 0 + 2?", "answer": "2"}])
    out = tmp_path / "out.jsonl"
    args = ["batch", str(source), "--out", str(out), "--answer-kind", "number", "--no-progress"]
    model = ["--model", f"openai:fake@{server.url}"]
    try:
        assert main([*args, *model, "--strategy", "cot"]) == 0
        first = out.read_bytes()
        capsys.readouterr()
        assert main([*args, *model, "--strategy", "cot-sc"]) == 2
        assert main([*args, *model, "--strategy", "cot", "--option", "fewshot=0"]) == 2
        assert main([*args, "--model", f"openai:other@{server.url}", "--strategy", "cot"]) == 2
        assert main([*args, *model, "--strategy", "cot"]) == 0  # the same job again: resumed, nothing to do
    finally:
        server.shutdown()
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(err) == 3 and all(f"{out} holds 1 result(s) of another job" in line for line in err)
    assert "(strategy cot there, cot-sc here)" in err[0] and "(settings " in err[1]
    assert f"(model openai:fake@{server.url} there, openai:other@{server.url} here)" in err[2]
    assert out.read_bytes() == first  # the refused jobs wrote nothing
    record = _records(out)[0]
    assert (record["model"], record["strategy"]) == (f"openai:fake@{server.url}", "cot")


def test_an_adapter_retrained_under_its_name_does_not_resume_the_old_weights_records(register_adapter_x, tmp_path):
    """`train --name X` again (or `distill --from-step train`) registers other weights under the same spec; their
    batch job into the first one's output would keep the old answers."""
    source = _write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "question": "What is 2 + 3?", "answer": "5"},
                                                  {"id": "b", "question": "What is 1 + 1?", "answer": "2"}])
    out = tmp_path / "out.jsonl"
    job = BatchJob(source, out, TaskConfig(answer_kind="number"), WorkerConfig(model_spec="adapter:x"))
    register_adapter_x(1.0)
    assert run_batch(job, model=ScriptedChatModel(script=[" Easy.\nFinal Answer: 5"] * 2)).done == 2
    assert run_batch(job, model=ScriptedChatModel(script=[])).skipped == 2  # the same weights resume
    assert {r["model"] for r in _records(out)} == {f"adapter:x@{adapter_version(get_adapter('x'))}"}
    register_adapter_x(2.0)
    with pytest.raises(ApprenticeError, match=r"holds 2 result\(s\) of another job \(model adapter:x@"):
        run_batch(job, model=ScriptedChatModel(script=[]))
