"""A run as an OpenTelemetry span tree, with its recorded times and ids that derive from its id.

The run is the root (AGENT); its graph nodes are CHAIN spans (a react-sc sample's nodes under a CHAIN of their
own); model calls are LLM spans and tool calls TOOL spans under their node. The other steps (thoughts,
answers, votes, checks) are events of their node, and verdicts events of the run. Attributes follow the
OpenInference conventions that Phoenix and Langfuse read, with the OpenTelemetry GenAI ones (``gen_ai.*``)
beside them. The SDK is imported when a :class:`RunTracer` is made, not with this module.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import groupby
from typing import Any

from openinference.semconv.resource import ResourceAttributes
from openinference.semconv.trace import MessageAttributes as Msg
from openinference.semconv.trace import OpenInferenceSpanKindValues as Kind
from openinference.semconv.trace import SpanAttributes as OI
from openinference.semconv.trace import ToolCallAttributes as Call

from apprentice.secrets import redact_obj
from apprentice.traces.records import Run, Step

__all__ = ["RunTracer"]

_TEXT = "text/plain"
_REPLY = f"{OI.LLM_OUTPUT_MESSAGES}.0."  # the one message a model call returns, flattened as OpenInference does


class _RunIds:
    """The SDK's id generator interface, with ids that derive from the run id: the same run sent twice (live,
    then after the fact) is the same trace with the same spans, which backends keep once. Per thread, since
    live runs finish on many."""

    def __init__(self) -> None:
        self._local = threading.local()

    @contextmanager
    def seeded(self, run_id: str) -> Iterator[None]:
        self._local.seed, self._local.count = run_id, 0
        try:
            yield
        finally:
            self._local.seed = None

    def _derive(self, what: str, size: int) -> int:
        seed = getattr(self._local, "seed", None)
        if seed is None:
            return int.from_bytes(secrets.token_bytes(size), "big") or 1
        digest = hashlib.sha256(f"apprentice-run:{seed}:{what}".encode()).digest()
        return int.from_bytes(digest[:size], "big") or 1

    def generate_trace_id(self) -> int:
        return self._derive("trace", 16)

    def generate_span_id(self) -> int:
        self._local.count = getattr(self._local, "count", 0) + 1
        return self._derive(f"span:{self._local.count}", 8)

    def is_trace_id_random(self) -> bool:
        return False


class RunTracer:
    """Makes the span trees of runs on a tracer provider of its own (never the process's global one, which
    belongs to the application), handing each finished span to ``processor``."""

    def __init__(self, processor: Any) -> None:
        from opentelemetry.sdk.trace import TracerProvider

        from apprentice import __version__

        self.ids = _RunIds()
        self.processor = processor
        self.provider = TracerProvider(resource=_resource(), id_generator=self.ids, shutdown_on_exit=False)
        self.provider.add_span_processor(processor)
        self.tracer = self.provider.get_tracer("apprentice", __version__)

    def emit(self, run: Run) -> int:
        """Create the spans of ``run`` (redacted again: a secret set since it was stored is masked too);
        returns how many."""
        with self.ids.seeded(run.id):
            return _RunSpans(self.tracer, redact_obj(run)).emit()


def _resource() -> Any:
    """service.name ``apprentice`` and the Phoenix project ``apprentice``, unless OTEL_SERVICE_NAME,
    OTEL_RESOURCE_ATTRIBUTES or PHOENIX_PROJECT_NAME say otherwise."""
    from opentelemetry.sdk.resources import OTELResourceDetector, Resource

    from apprentice import __version__

    given = OTELResourceDetector().detect().attributes
    defaults = {"service.name": "apprentice", "service.version": __version__,
                ResourceAttributes.PROJECT_NAME: os.environ.get("PHOENIX_PROJECT_NAME") or "apprentice"}
    return Resource.create({k: v for k, v in defaults.items() if k not in given})


class _RunSpans:
    """The span tree of one run, made on ``tracer`` with the recorded times."""

    def __init__(self, tracer: Any, run: Run) -> None:
        self.tracer, self.run = tracer, run
        self.count = 0
        self.end = run.ended_at or max([run.started_at, *(s.created_at for s in run.steps)])

    def emit(self) -> int:
        from opentelemetry.trace import Status, StatusCode

        run = self.run
        root = self._start(f"invoke_agent {run.strategy}", None, run.started_at, _run_attributes(run))
        for lane, steps in _lanes(run.steps).items():
            parent, parent_node = root, run.strategy
            if lane is not None:  # a sub-run beside others (react-sc's samples): its nodes under a span of its own
                name = f"sample {lane + 1 if isinstance(lane, int) else lane}"
                parent = self._start(name, root, min(map(_began, steps)), {
                    OI.OPENINFERENCE_SPAN_KIND: Kind.CHAIN.value, OI.GRAPH_NODE_ID: "sample",
                    OI.GRAPH_NODE_PARENT_ID: run.strategy, "apprentice.sample": lane})
                parent_node = "sample"
            for node, segment in groupby(steps, key=lambda s: s.node or s.kind):
                self._node(parent, parent_node, node, list(segment))
            if lane is not None:
                parent.end(end_time=_ns(max(s.created_at for s in steps)))
        for verdict in run.verdicts:  # one given later (a person's rating) is stamped at the run's end
            root.add_event("verdict", _clean({
                "apprentice.verifier": verdict.verifier, "apprentice.correct": verdict.correct,
                "apprentice.score": verdict.score, "apprentice.text": verdict.reason,
            }), timestamp=_ns(min(verdict.created_at or self.end, self.end)))
        if run.status == "error":
            root.set_status(Status(StatusCode.ERROR, run.error or "the run failed"))
        root.end(end_time=_ns(self.end))
        return self.count

    def _node(self, parent: Any, parent_node: str, node: str, steps: list[Step]) -> None:
        """One turn of a graph node: its model and tool calls as child spans, its other steps as events."""
        span = self._start(node, parent, min(map(_began, steps)), {
            OI.OPENINFERENCE_SPAN_KIND: Kind.CHAIN.value, OI.GRAPH_NODE_ID: node, OI.GRAPH_NODE_PARENT_ID: parent_node})
        said = None
        calls: list[tuple[Step, Any]] = []  # tool calls waiting for their observation
        for step in steps:
            if step.kind == "llm":
                self._llm(span, step)
                continue
            call = next((c for c in calls if c[0].tool == step.tool), None) if step.kind == "observation" else None
            if step.kind == "action":
                tool = self._start(f"execute_tool {step.tool}", span, step.created_at, _tool_attributes(step))
                calls.append((step, tool))
            elif call is not None:
                calls.remove(call)
                _end_tool(call[1], step)
            else:
                span.add_event(step.kind, _step_attributes(step), timestamp=_ns(step.created_at))
            said = _text(step) or said
        for action, tool in calls:  # no observation: the run stopped during the call
            tool.end(end_time=_ns(action.created_at))
        if said:
            span.set_attributes({OI.OUTPUT_VALUE: said, OI.OUTPUT_MIME_TYPE: _TEXT})
        span.end(end_time=_ns(max(s.created_at for s in steps)))

    def _llm(self, parent: Any, step: Step) -> None:
        model = self.run.model
        attributes = {
            OI.OPENINFERENCE_SPAN_KIND: Kind.LLM.value, OI.LLM_MODEL_NAME: model,
            OI.OUTPUT_VALUE: step.raw, OI.OUTPUT_MIME_TYPE: _TEXT,
            _REPLY + Msg.MESSAGE_ROLE: "assistant", _REPLY + Msg.MESSAGE_CONTENT: step.raw,
            OI.LLM_TOKEN_COUNT_PROMPT: step.tokens_in, OI.LLM_TOKEN_COUNT_COMPLETION: step.tokens_out,
            OI.LLM_TOKEN_COUNT_TOTAL: step.tokens_in + step.tokens_out,
            "gen_ai.operation.name": "chat", "gen_ai.request.model": model,
            "gen_ai.usage.input_tokens": step.tokens_in, "gen_ai.usage.output_tokens": step.tokens_out,
            "apprentice.step": step.idx, "apprentice.tokens_estimated": step.data.get("tokens_estimated"),
            "apprentice.constrained": step.data.get("constrained"),  # decoded under a grammar
        }
        for i, call in enumerate(step.data.get("tool_calls") or []):  # native tool calling (OpenAI models)
            prefix = f"{_REPLY}{Msg.MESSAGE_TOOL_CALLS}.{i}."
            attributes |= {prefix + Call.TOOL_CALL_ID: call.get("id"),
                           prefix + Call.TOOL_CALL_FUNCTION_NAME: call.get("name"),
                           prefix + Call.TOOL_CALL_FUNCTION_ARGUMENTS_JSON: json.dumps(call.get("args"), default=str)}
        span = self._start(f"chat {model}", parent, _began(step), attributes)
        span.end(end_time=_ns(step.created_at))

    def _start(self, name: str, parent: Any, began: float, attributes: dict[str, Any]) -> Any:
        """A span begun at ``began``: the root in a context of its own (an application's current span is no
        parent of a stored run), every other one under ``parent``."""
        from opentelemetry import trace
        from opentelemetry.context import Context

        self.count += 1
        context = trace.set_span_in_context(parent, Context()) if parent is not None else Context()
        return self.tracer.start_span(name, context=context, start_time=_ns(began), attributes=_clean(attributes))


def _run_attributes(run: Run) -> dict[str, Any]:
    metadata = {"run_id": run.id, "strategy": run.strategy, "model": run.model, "status": run.status,
                "task": run.task, "item_id": run.item_id, "gold": run.gold, "correct": run.correct,
                "score": run.score, "checker": run.checker, "model_calls": run.model_calls,
                "tokens_in": run.tokens_in, "tokens_out": run.tokens_out, "error": run.error, **run.meta}
    return {
        OI.OPENINFERENCE_SPAN_KIND: Kind.AGENT.value, OI.INPUT_VALUE: run.question, OI.INPUT_MIME_TYPE: _TEXT,
        OI.OUTPUT_VALUE: run.answer, OI.OUTPUT_MIME_TYPE: _TEXT if run.answer is not None else None,
        OI.SESSION_ID: run.thread_id, OI.AGENT_NAME: run.strategy, OI.GRAPH_NODE_ID: run.strategy,
        OI.TAG_TAGS: [t for t in (run.strategy, run.task) if t],
        OI.METADATA: json.dumps({k: v for k, v in metadata.items() if v is not None}, ensure_ascii=False, default=str),
        "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": run.strategy,
        "gen_ai.conversation.id": run.thread_id, "gen_ai.request.model": run.model,
        "apprentice.run_id": run.id, "apprentice.status": run.status, "apprentice.task": run.task,
        "apprentice.item_id": run.item_id, "apprentice.correct": run.correct, "apprentice.score": run.score,
    }


def _tool_attributes(step: Step) -> dict[str, Any]:
    return {OI.OPENINFERENCE_SPAN_KIND: Kind.TOOL.value, OI.TOOL_NAME: step.tool,
            OI.INPUT_VALUE: step.tool_input, OI.INPUT_MIME_TYPE: _TEXT,
            "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": step.tool, "apprentice.step": step.idx}


def _end_tool(span: Any, observation: Step) -> None:
    from opentelemetry.trace import Status, StatusCode

    text = observation.observation or ""
    span.set_attributes({OI.OUTPUT_VALUE: text, OI.OUTPUT_MIME_TYPE: _TEXT})
    if text.startswith("Error:"):  # the tools' error template: the model read it as its observation
        span.set_status(Status(StatusCode.ERROR, text.splitlines()[0]))
    span.end(end_time=_ns(observation.created_at))


def _step_attributes(step: Step) -> dict[str, Any]:
    return _clean({"apprentice.step": step.idx, "apprentice.text": _text(step), "apprentice.tool": step.tool,
                   "apprentice.data": json.dumps(step.data, ensure_ascii=False, default=str) if step.data else None})


def _lanes(steps: list[Step]) -> dict[Any, list[Step]]:
    """Steps by the sub-run that recorded them (``data["sample"]``; None for the run's own), in order."""
    lanes: dict[Any, list[Step]] = {}
    for step in steps:
        lanes.setdefault(step.data.get("sample"), []).append(step)
    return lanes


def _began(step: Step) -> float:
    """When a step began: a model call is recorded as it ends, ``latency_s`` after it began."""
    return step.created_at - (step.latency_s if step.kind == "llm" else 0.0)


def _text(step: Step) -> str | None:
    return step.thought or step.observation or step.raw or step.tool_input


def _clean(attributes: dict[str, Any]) -> dict[str, Any]:
    """Attributes less the empty ones (OpenTelemetry takes no None)."""
    return {k: v for k, v in attributes.items() if v is not None and v != ""}


def _ns(seconds: float) -> int:
    return int(seconds * 1e9)
