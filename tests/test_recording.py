"""Traces are written from what the graphs say to the run's callbacks, routers read only the state, and a cancel
stops a run at its next model or tool call."""

from __future__ import annotations

import inspect
import threading

import pytest

from apprentice.backends import ScriptedChatModel
from apprentice.graphs import STRATEGIES, RunContext, TraceEvents, run_question
from apprentice.graphs.context import TRACE_EVENT, VerdictEvent
from apprentice.graphs.react import build as build_react
from apprentice.graphs.react import TURN_DEFAULTS
from apprentice.tools import get_tools
from apprentice.traces import Step, open_store

REPLY = [" I multiply.\nAction: calculator\nAction Input: 12*7", " It says 84.\nFinal Answer: 84"]


def _fields(step: Step) -> tuple:
    return step.idx, step.kind, step.node, step.thought, step.tool, step.tool_input, step.observation, step.raw


def test_the_stored_trace_is_exactly_what_the_graph_said_to_its_callbacks():
    """The graph alone (no runner, no store) says its steps as custom events to any callback of the run; run
    through the runner, the stored trace holds those same steps, in the same order."""
    from langchain_core.callbacks import BaseCallbackHandler
    from langchain_core.messages import HumanMessage

    from apprentice.graphs.context import TRACE_EVENT

    class Listener(BaseCallbackHandler):
        def __init__(self):
            self.said = []

        def on_custom_event(self, name, data, **kwargs):
            self.said.append((name, data))

    listener = Listener()
    ctx = RunContext(model=ScriptedChatModel(script=REPLY), tools={t.name: t for t in get_tools(["calculator"])})
    turn = {**TURN_DEFAULTS, "messages": [HumanMessage("What is 12 times 7?")], "question": "What is 12 times 7?"}
    build_react().invoke(turn, {"callbacks": [listener]}, context=ctx)
    assert {name for name, _ in listener.said} == {TRACE_EVENT}
    said = [event for _, event in listener.said]
    assert all(isinstance(e, Step) for e in said) and [e.idx for e in said] == list(range(len(said)))

    result = run_question("What is 12 times 7?", model=ScriptedChatModel(script=REPLY), tools=["calculator"])
    stored = open_store().get(result.run_id).steps
    assert [_fields(s) for s in stored] == [_fields(s) for s in said]
    assert [s.kind for s in stored] == ["llm", "thought", "action", "observation", "llm", "thought", "answer"]
    assert result.model_calls == 2 == sum(s.kind == "llm" for s in stored)


def test_a_graph_run_outside_the_runner_writes_nothing(apprentice_home):
    """The graph holds no store: invoked directly, its run leaves no trace anywhere."""
    from langchain_core.messages import HumanMessage

    ctx = RunContext(model=ScriptedChatModel(script=REPLY), tools={t.name: t for t in get_tools(["calculator"])})
    out = build_react().invoke({**TURN_DEFAULTS, "messages": [HumanMessage("12*7?")], "question": "12*7?"},
                               context=ctx)
    assert out["answer"] == "84" and ctx.events.calls == 2
    assert open_store().query() == []


def test_events_said_outside_a_graph_go_nowhere_and_captures_still_see_them():
    events = TraceEvents()
    with events.capture(sample=3) as steps:
        step = events.record("thought", thought="alone")
        assert events.verdict(verifier="rules", correct=True, score=1.0) is None  # no run: no one to tell
    assert steps == [step] and step.data == {"sample": 3} and step.idx == 0
    assert events.record("llm", raw="x").idx == 1 and events.calls == 1


def test_verifier_verdicts_reach_the_store_through_the_stream():
    model = ScriptedChatModel(script=[" It is 4.\nFinal Answer: 4"], cycle=True)
    result = run_question("What is 2 + 2?", strategy="verify", model=model, tools=["calculator"],
                          options={"verifier": "rules"})
    run = open_store().get(result.run_id)
    assert any(v.verifier.startswith("verify:rules") for v in run.verdicts)
    assert any(s.kind == "verify" for s in run.steps)


def _routers() -> list:
    """Every conditional edge of every strategy's graph, with what it calls that lives in its own module."""
    found = {}
    for strategy in STRATEGIES.values():
        for branches in strategy.build().builder.branches.values():
            for branch in branches.values():
                fn = branch.path.func
                found[fn.__qualname__, fn.__module__] = fn
    return list(found.values())


@pytest.mark.parametrize("router", _routers(), ids=lambda fn: f"{fn.__module__.rsplit('.', 1)[-1]}.{fn.__name__}")
def test_routers_read_only_the_state_and_the_static_config(router):
    """No router looks at the cancel event, the model calls made so far or the trace: what decides a route is
    in the state (a search's remaining budget included), so a replay routes as the run did."""
    module = inspect.getmodule(router)
    called = [router] + [getattr(module, name) for name in router.__code__.co_names
                         if inspect.isfunction(getattr(module, name, None))
                         and getattr(module, name).__module__ == module.__name__]
    for fn in called:
        source = inspect.getsource(fn)
        for impure in ("cancelled", "events", ".record(", "_calls_left(", "store"):
            assert impure not in source, f"{router.__name__} -> {fn.__name__} reads {impure!r}"


# (io and cot make one call: a cancel during it still gets its answer, and the run is ok)
@pytest.mark.parametrize("strategy,options", [("cot-sc", {"samples": 3}), ("react", {}),
                                              ("react-sc", {"samples": 3}), ("tot", {}), ("lats", {}),
                                              ("verify", {"verifier": "rules"})])
def test_a_cancel_stops_the_run_at_its_next_call_and_is_recorded(strategy, options):
    """Cancelled during the first model call: no model call follows (sub-runs side by side and searches
    included), the run is stored as cancelled with the steps it made, and what the caller gets says so."""
    cancel = threading.Event()

    def first_call(messages):
        cancel.set()
        return " Let me think.\nAction: calculator\nAction Input: 2+2"

    model = ScriptedChatModel(script=[first_call], cycle=True)
    result = run_question("What is 2 + 2?", strategy=strategy, model=model, tools=["calculator"], options=options,
                          cancel=cancel)
    # samples side by side may each have begun their first call before the cancel; none makes a second
    began = options.get("samples", 1)
    assert result.status == "cancelled" and result.answer is None
    assert 1 <= len(model.prompts) <= began, f"{len(model.prompts)} model calls, {began} could have begun"
    run = open_store().get(result.run_id)
    assert run.status == "cancelled" and [s.kind for s in run.steps].count("llm") == len(model.prompts)
    assert result.model_calls == len(model.prompts) and not any(s.kind in ("action", "answer") for s in run.steps)


def test_the_steps_said_before_a_node_fails_are_in_the_trace():
    """A model that breaks in its second call: what the run said before is stored with the run's error."""
    def broken(messages):
        raise ValueError("the engine broke")

    model = ScriptedChatModel(script=[REPLY[0], broken])
    with pytest.raises(ValueError, match="the engine broke"):
        run_question("What is 12 times 7?", model=model, tools=["calculator"])
    run = open_store().query()[0]
    assert run.status == "error" and "the engine broke" in run.error
    assert [s.kind for s in open_store().get(run.id).steps] == ["llm", "thought", "action", "observation"]


def test_a_trace_that_cannot_be_written_stops_the_run_with_one_error_line(monkeypatch, capsys):
    """The store refuses a verdict mid-run: the run stops at its next call and the command says so in one
    line (LangChain logs nothing of it), and a shared cancel event is left alone."""
    from apprentice.cli import main
    from apprentice.errors import StoreError
    from apprentice.traces.store import TraceStore

    def refuse(self, *args, **kwargs):
        raise StoreError("the trace store is read-only")

    monkeypatch.setattr(TraceStore, "add_verdict", refuse)
    model = ScriptedChatModel(script=[" It is 4.\nFinal Answer: 4"], cycle=True)
    shared = threading.Event()
    with pytest.raises(StoreError, match="read-only"):
        run_question("What is 2 + 2?", strategy="verify", model=model, tools=["calculator"],
                     options={"verifier": "rules", "rounds": 3}, cancel=shared)
    assert not shared.is_set() and len(model.prompts) == 1
    capsys.readouterr()
    monkeypatch.setattr("apprentice.models.load_chat_model", lambda *a, **k: model)
    assert main(["ask", "What is 2 + 2?", "--strategy", "verify", "--option", "verifier=rules"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: the trace store is read-only"], err


def test_a_verdict_event_is_one_stored_verdict():
    store = open_store()
    from apprentice.graphs.recording import TraceRecorder

    run_id = store.start_run(strategy="react", model="m", question="q")
    recorder = TraceRecorder(store, run_id)
    recorder.on_custom_event(TRACE_EVENT, VerdictEvent("verify:rules", True, 1.0, "checked"))
    recorder.on_custom_event("someone.else", VerdictEvent("verify:judge", False, 0.0))  # not the trace's
    recorder.on_custom_event(TRACE_EVENT, "not a step")
    recorder.flush()
    assert [(v.verifier, v.correct) for v in store.get(run_id).verdicts] == [("verify:rules", True)]
