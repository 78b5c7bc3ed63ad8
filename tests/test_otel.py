"""Runs as OpenTelemetry traces, checked on the wire: a real OTLP/HTTP receiver on 127.0.0.1 (the standard library's
HTTP server decoding each request with opentelemetry-proto's ExportTraceServiceRequest, as a collector does) gets
the spans of real runs (scripted model, real graphs, real SQLite), sent after the fact by the CLI and live by the
runner."""

from __future__ import annotations

import json
import threading
import time
from types import SimpleNamespace

import pytest
from fixtures_models import free_port
from otlp_receiver import OTLPReceiver

from apprentice.backends import ScriptedChatModel
from apprentice.cli import main
from apprentice.errors import ApprenticeError
from apprentice.graphs import run_question
from apprentice.traces import open_store, otel

FAKE_KEY = "sk-test0123456789abcdefghijklmnop"  # shaped like an OpenAI key: redacted wherever it goes
LATENCY = 0.05  # each scripted model call takes this long, so durations are real


class Receiver(OTLPReceiver):
    """The spans of every export request, decoded; ``url`` is the collector's base URL."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.spans: list[SimpleNamespace] = []
        self.got = threading.Event()
        super().__init__()
        self.url = self.base_url

    def take(self, request, body: bytes, decode_cpu_s: float) -> None:
        for resource_spans in request.resource_spans:
            resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                self.spans += [_span(s, resource) for s in scope_spans.spans]
        self.bodies.append(body)
        self.got.set()

    def trace(self, run_id: str) -> list[SimpleNamespace]:
        """The spans of one run (its root carries apprentice.run_id), all of its trace."""
        roots = [s for s in self.spans if s.attrs.get("apprentice.run_id") == run_id]
        assert len(roots) == 1, f"{len(roots)} roots for run {run_id}"
        return [s for s in self.spans if s.trace_id == roots[0].trace_id]


def _value(value):
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(v) for v in value.array_value.values]
    return getattr(value, kind) if kind else None


def _span(span, resource: dict) -> SimpleNamespace:
    return SimpleNamespace(
        name=span.name, trace_id=span.trace_id.hex(), span_id=span.span_id.hex(),
        parent_id=span.parent_span_id.hex() or None, start=span.start_time_unix_nano, end=span.end_time_unix_nano,
        attrs={a.key: _value(a.value) for a in span.attributes}, resource=resource,
        events=[SimpleNamespace(name=e.name, attrs={a.key: _value(a.value) for a in e.attributes})
                for e in span.events],
        status=(span.status.code, span.status.message))


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()


@pytest.fixture(autouse=True)
def _no_endpoint(monkeypatch):
    """No endpoint from the machine's environment, and a fresh warn-once memory for each test."""
    for name in (*otel.ENDPOINT_VARS, "OTEL_EXPORTER_OTLP_TIMEOUT", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
                 "OTEL_SDK_DISABLED", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES", "PHOENIX_PROJECT_NAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(otel, "_WARNED", set())
    yield
    otel.shutdown_live(timeout_s=1.0)


def _react_run(question: str = f"What is 12 times 7? My key is {FAKE_KEY}"):
    """A real ReAct run: one model call that calls the calculator, one that answers (echoing the key)."""
    model = ScriptedChatModel(latency_s=LATENCY, script=[
        " I multiply.\nAction: calculator\nAction Input: 12*7",
        f" Final Answer: 84 (and your key {FAKE_KEY})",
    ])
    return run_question(question, model=model, tools=["calculator"])


def _children(spans, parent) -> list[SimpleNamespace]:
    return sorted((s for s in spans if s.parent_id == parent.span_id), key=lambda s: s.start)


def test_a_run_exported_after_the_fact_is_a_span_tree_with_its_recorded_times(receiver, capsys):
    result = _react_run()
    run = open_store().get(result.run_id)
    assert main(["traces", "export", "--otlp", receiver.url, "--run", result.run_id[:8]]) == 0
    spans = receiver.trace(result.run_id)
    assert capsys.readouterr().out.strip() == f"exported 1 runs ({len(spans)} spans) to {receiver.url}/v1/traces"

    [root] = [s for s in spans if s.parent_id is None]
    assert root.name == "invoke_agent react" and root.attrs["openinference.span.kind"] == "AGENT"
    assert root.attrs["session.id"] == run.thread_id and root.attrs["gen_ai.operation.name"] == "invoke_agent"
    assert root.attrs["input.value"] == run.question and root.attrs["output.value"] == run.answer
    assert json.loads(root.attrs["metadata"])["model_calls"] == 2
    assert root.resource["service.name"] == "apprentice" and root.resource["openinference.project.name"] == "apprentice"
    # the recorded times, to the nanosecond rounding
    assert abs(root.start - run.started_at * 1e9) < 1e3 and abs(root.end - run.ended_at * 1e9) < 1e3

    nodes = _children(spans, root)
    assert [(n.name, n.attrs["openinference.span.kind"]) for n in nodes] == [
        ("reason", "CHAIN"), ("act", "CHAIN"), ("reason", "CHAIN")]
    first_call, = _children(spans, nodes[0])
    last_call, = _children(spans, nodes[2])
    tool, = _children(spans, nodes[1])
    llm_steps = [s for s in run.steps if s.kind == "llm"]
    for span, step in ((first_call, llm_steps[0]), (last_call, llm_steps[1])):
        assert span.name == "chat scripted" and span.attrs["openinference.span.kind"] == "LLM"
        assert span.attrs["llm.model_name"] == "scripted" and span.attrs["output.value"] == step.raw
        assert span.attrs["llm.output_messages.0.message.content"] == step.raw
        tokens = [span.attrs[f"llm.token_count.{k}"] for k in ("prompt", "completion", "total")]
        assert tokens == [step.tokens_in, step.tokens_out, step.tokens_in + step.tokens_out]
        assert span.attrs["gen_ai.usage.input_tokens"] == step.tokens_in
        assert (span.end - span.start) / 1e9 == pytest.approx(step.latency_s, abs=1e-6) and step.latency_s >= LATENCY
    assert tool.name == "execute_tool calculator" and tool.attrs["openinference.span.kind"] == "TOOL"
    assert [tool.attrs[k] for k in ("tool.name", "input.value", "output.value")] == ["calculator", "12*7", "84"]
    assert nodes[0].attrs["output.value"] == "I multiply." and nodes[2].attrs["output.value"].startswith("84")
    assert [e.name for e in nodes[0].events] == ["thought"] and [e.name for e in nodes[2].events] == ["answer"]
    # one trace, every span inside its parent's time
    by_id = {s.span_id: s for s in spans}
    assert len(by_id) == len(spans) == 7
    for span in spans:
        assert span.start <= span.end
        if span.parent_id:
            parent = by_id[span.parent_id]
            assert parent.start <= span.start and span.end <= parent.end


def test_secrets_stay_redacted_on_the_wire(receiver, monkeypatch):
    monkeypatch.setenv("FAKE_SERVICE_TOKEN", "hunter2-but-longer")
    result = _react_run(f"Is hunter2-but-longer my password? The key is {FAKE_KEY}")
    otel.export_runs([open_store().get(result.run_id)], receiver.url)
    spans = receiver.trace(result.run_id)
    assert all(FAKE_KEY.encode() not in body and b"hunter2-but-longer" not in body for body in receiver.bodies)
    [root] = [s for s in spans if s.parent_id is None]
    assert root.attrs["input.value"] == "Is [redacted] my password? The key is [redacted]"
    assert any("[redacted]" in str(s.attrs.get("output.value")) for s in spans if s.name.startswith("chat"))


def test_a_run_goes_out_live_as_it_finishes_and_again_as_the_same_trace(receiver, monkeypatch, capsys):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)  # the standard base URL: /v1/traces is added
    result = _react_run()
    otel.shutdown_live()  # what exit does: send what is queued
    live = {(s.span_id, s.parent_id, s.name, s.start, s.end) for s in receiver.trace(result.run_id)}
    assert len(live) == 7

    receiver.spans.clear()
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT")
    assert main(["traces", "export", "--otlp", receiver.url + "/v1/traces", "--since", "1h"]) == 0
    again = {(s.span_id, s.parent_id, s.name, s.start, s.end) for s in receiver.trace(result.run_id)}
    assert again == live  # ids derive from the run id: a backend keeps the run once
    assert capsys.readouterr().err == ""


def test_react_sc_samples_are_subtrees_of_their_own(receiver):
    model = ScriptedChatModel(script=[" Easy.\nFinal Answer: 5"], cycle=True)
    result = run_question("What is 2 plus 3?", strategy="react-sc", model=model, tools=["calculator"],
                          options={"samples": 2})
    otel.export_runs([open_store().get(result.run_id)], receiver.url)
    spans = receiver.trace(result.run_id)
    [root] = [s for s in spans if s.parent_id is None]
    samples = [s for s in _children(spans, root) if s.name.startswith("sample ")]
    assert sorted(s.name for s in samples) == ["sample 1", "sample 2"]
    for sample in samples:
        assert [n.name for n in _children(spans, sample)] == ["reason"]
        assert [c.attrs["openinference.span.kind"] for c in _children(spans, _children(spans, sample)[0])] == ["LLM"]
    assert root.events[0].name == "verdict" and root.events[0].attrs["apprentice.verifier"] == "vote"


def test_a_failed_run_is_an_error_span(receiver):
    model = ScriptedChatModel(script=[RuntimeError("the server fell over")])
    with pytest.raises(Exception, match="fell over"):
        run_question("What is 2 plus 3?", model=model, tools=["calculator"])
    [run] = open_store().query(with_steps=True)
    otel.export_runs([run], receiver.url)
    [root] = [s for s in receiver.trace(run.id) if s.parent_id is None]
    assert root.status[0] == 2 and "fell over" in root.status[1]  # STATUS_CODE_ERROR
    assert root.attrs["apprentice.status"] == "error"


def test_a_collector_that_is_down_is_one_error_line_from_the_cli(capsys, monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "1")  # seconds, as the Python exporter reads it
    _react_run()
    url = f"http://127.0.0.1:{free_port()}"
    assert main(["traces", "export", "--otlp", url]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"error: cannot send traces to {url}/v1/traces: Connection refused\n"


def test_a_wrong_path_and_a_bad_url_are_one_error_line_each(receiver, capsys):
    _react_run()
    assert main(["traces", "export", "--otlp", receiver.url + "/otel/v1/traces"]) == 2
    error = capsys.readouterr().err
    assert error == f"error: cannot send traces to {receiver.url}/otel/v1/traces: HTTP 404 Not Found\n"
    assert main(["traces", "export", "--otlp", "localhost:4318"]) == 2
    assert capsys.readouterr().err.startswith("error: not an OTLP/HTTP URL: 'localhost:4318'; give one like")
    assert main(["traces", "list", "--otlp", receiver.url]) == 2
    assert main(["traces", "export", "--otlp", receiver.url, "--out", "x.jsonl"]) == 2
    assert main(["traces", "export", "--run", "abc", "--since", "1h"]) == 2
    assert receiver.spans == []


def test_live_export_to_a_dead_collector_never_slows_or_fails_a_run(monkeypatch, capsys):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "1")
    monkeypatch.setenv("APPRENTICE_OTLP_ENDPOINT", url := f"http://127.0.0.1:{free_port()}/v1/traces")
    started = time.perf_counter()
    results = [_react_run() for _ in range(3)]
    assert all(r.answer.startswith("84") for r in results)
    assert time.perf_counter() - started < 3 * (2 * LATENCY) + 2.0  # the runs' own time, not the network's
    otel.shutdown_live()
    err = capsys.readouterr().err
    assert err == f"warning: runs are not reaching {url}: Connection refused; they are still kept in traces.db " \
                  "(apprentice traces export --otlp URL sends them later)\n"


def test_endpoints_from_the_environment(monkeypatch):
    assert otel.live_endpoint() is None
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/")
    assert otel.live_endpoint() == "http://collector:4318/v1/traces"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://collector:4318/custom")
    assert otel.live_endpoint() == "http://collector:4318/custom"  # the per-signal URL is taken as it is
    monkeypatch.setenv("APPRENTICE_OTLP_ENDPOINT", "http://127.0.0.1:6006/v1/traces")
    assert otel.live_endpoint() == "http://127.0.0.1:6006/v1/traces"
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert otel.live_endpoint() is None
    monkeypatch.delenv("OTEL_SDK_DISABLED")
    monkeypatch.setenv("APPRENTICE_OTLP_ENDPOINT", "ftp://nowhere")
    with pytest.raises(ApprenticeError, match="^APPRENTICE_OTLP_ENDPOINT: not an OTLP/HTTP URL"):
        otel.live_endpoint()
