"""io, cot and cot-sc with scripted models; every strategy is registered and works in a chat thread."""

from __future__ import annotations

import itertools
import threading

import pytest
from langchain_core.messages import AIMessage

from apprentice.agents.solver import COT_TRIGGER, select_examples
from apprentice.backends import ScriptedChatModel
from apprentice.graphs import STRATEGIES, options_for, run_question
from apprentice.graphs.cot_sc import majority, weighted
from apprentice.graphs.threads import thread_messages
from apprentice.tasks import get_task
from apprentice.traces import open_store


def test_every_strategy_is_registered_with_turn_defaults():
    assert {"io", "cot", "cot-sc", "react", "react-sc", "tot", "verify"} <= set(STRATEGIES)
    for strategy in STRATEGIES.values():
        assert strategy.description and isinstance(strategy.turn_defaults, dict)


def test_zero_shot_cot_appends_the_trigger_and_answers():
    model = ScriptedChatModel(script=["2 + 3 = 5\nFinal Answer: 5"])
    result = run_question("What is 2 + 3?", strategy="cot", model=model, tools=[], options={"fewshot": 0})
    assert result.answer.endswith("Final Answer: 5")
    assert model.prompts[0][-1].text.endswith(COT_TRIGGER)
    assert [s.kind for s in open_store().get(result.run_id).steps] == ["llm", "answer"]


def test_few_shot_cot_picks_the_most_similar_examples():
    pool = [("How many apples does Tom have after buying 3 more apples?", "Final Answer: 1"),
            ("What is the capital of France?", "Final Answer: Paris"),
            ("Sara has 4 apples and eats one. How many apples are left?", "Final Answer: 3")]
    chosen = select_examples("Ann has 5 apples and buys 2 more. How many apples?", pool, 2)
    assert ("What is the capital of France?", "Final Answer: Paris") not in chosen and len(chosen) == 2

    task = get_task("arith")
    item = task.load(limit=1)[0]
    model = ScriptedChatModel(script=[f"Final Answer: {item.answer}"])
    result = run_question(item.question, strategy="cot", model=model, task=task, item=item, tools=[],
                          options={"fewshot": 2})
    prompt = model.prompts[0]
    assert len(prompt) == 1 + 2 * 2 + 1  # system, two examples (question + solution), the question
    assert isinstance(prompt[2], AIMessage) and "Final Answer:" in prompt[2].text
    assert result.correct is True


def test_io_shows_examples_without_their_reasoning():
    task = get_task("arith")
    item = task.load(limit=1)[0]
    model = ScriptedChatModel(script=[f"Final Answer: {item.answer}"])
    result = run_question(item.question, strategy="io", model=model, task=task, item=item, tools=[])
    examples = [m.text for m in model.prompts[0] if isinstance(m, AIMessage)]
    assert examples and all(text.startswith("Final Answer:") and "\n" not in text for text in examples)
    assert result.correct is True


def test_self_consistency_votes_and_keeps_the_distribution():
    task = get_task("arith")
    item = task.load(limit=1)[0]
    wrong = str(int(item.answer) + 1)
    model = ScriptedChatModel(script=[f"so\nFinal Answer: {item.answer}", f"Final Answer: {wrong}",
                                      f"Final Answer: {item.answer}.0", "I do not know", f"Final Answer: {wrong}",
                                      f"Final Answer: {item.answer}"])
    result = run_question(item.question, strategy="cot-sc", model=model, task=task, item=item, tools=[],
                          options={"samples": 6, "temperature": 0.9})
    assert result.correct is True and result.model_calls == 6
    run = open_store().get(result.run_id)
    assert run.meta["votes"] == {item.answer: 3, wrong: 2}
    assert run.meta["winner"] == item.answer and run.meta["samples"] == 6
    vote = next(s for s in run.steps if s.kind == "vote")
    assert vote.data["distribution"] == {item.answer: 3, wrong: 2}
    # samples are drawn at the temperature, each with its own seed
    assert {kw.get("temperature") for kw in model.calls_kwargs} == {0.9}
    assert len({kw.get("seed") for kw in model.calls_kwargs}) == 6


def test_majority_breaks_ties_by_first_appearance_and_ignores_none():
    assert majority(["b", None, "a", "a", "b"]) == ("b", {"b": 2, "a": 2})
    assert majority([None, None]) == (None, {})


def test_weighted_vote_counts_verdicts_then_samples_then_order():
    # two rejected samples (score 0) lose to one accepted sample; a soft rejection counts half
    assert weighted(["-7", "-7", "3"], [0.0, 0.0, 1.0]) == ("3", {"-7": 0.0, "3": 1.0})
    assert weighted(["4", "4", "3"], [0.5, 0.5, 1.0])[0] == "4"
    # equal weight: more samples, then the earliest; no verdict (None) counts half
    assert weighted(["a", "b", "b"], [1.0, 0.5, 0.5])[0] == "b"
    assert weighted(["a", "b"], [None, 0.5]) == ("a", {"a": 0.5, "b": 0.5})
    # nothing accepted, or no answers at all: no winner (the plain majority stands)
    assert weighted(["a", None], [0.0, 1.0]) == (None, {"a": 0.0})
    assert weighted([], []) == (None, {})


def test_cot_sc_with_the_rules_verifier_outvotes_wrong_arithmetic():
    model = ScriptedChatModel(script=["3 + 4 = 8\nFinal Answer: 8", "3 + 4 = 8\nFinal Answer: 8",
                                      "3 + 4 = 7\nFinal Answer: 7"])
    result = run_question("What is 3 + 4?", strategy="cot-sc", model=model, task=get_task("arith"), tools=[],
                          options={"samples": 3, "verifier": "rules", "fewshot": 0})
    run = open_store().get(result.run_id)
    assert result.answer.endswith("Final Answer: 7") and model.prompts and len(model.prompts) == 3
    assert run.meta["majority"] == "8" and run.meta["weights"] == {"8": 0.0, "7": 1.0}


def _react_runs(actions: list[str], final: str | None = None, barrier: threading.Barrier | None = None):
    """A scripted ReAct model whose n-th run (in the order the runs start) computes ``actions[n]``, then
    answers ``final`` or, without one, what its calculator returned; ``barrier`` holds each run's first
    step until all have started, so the runs are sure to overlap."""
    started = itertools.count()
    lock = threading.Lock()

    def step(messages):
        scratch = messages[-1].text
        if "Observation:" not in scratch:
            with lock:
                n = next(started)
            if barrier is not None:
                barrier.wait()
            return f" I compute it.\nAction: calculator\nAction Input: {actions[n]}"
        return f" Done.\nFinal Answer: {final or scratch.rsplit('Observation:', 1)[1].strip()}"

    return ScriptedChatModel(script=[step], cycle=True)


def test_react_sc_with_a_verifier_weights_each_sample_by_its_own_tool_work():
    """Three ReAct samples run side by side. One computes the answer; two claim it without their
    calculator reaching it, which the rules verifier must see from each sample's own steps, not from
    a sibling's. Then a majority the verifier rejects (a negative answer) loses to one accepted sample."""
    task = get_task("arith", level=1, n=10)
    item = task.load(split="test")[0]
    equation = item.meta["equation"]  # the work uses every number of the question: no soft rejection
    options = {"samples": 3, "verifier": "rules"}

    model = _react_runs([equation, "1 + 1", "1 + 1"], final=item.answer, barrier=threading.Barrier(3, timeout=10))
    result = run_question(item.question, strategy="react-sc", model=model, task=task, item=item,
                          tools=["calculator"], options=options)
    run = open_store().get(result.run_id)
    assert result.correct is True and run.meta["votes"] == {item.answer: 3}
    assert run.meta["weights"] == {item.answer: 1.0} and run.meta["verifier"] == "rules"
    checks = [s.data for s in run.steps if s.kind == "verify"]
    assert sorted(c["ok"] for c in checks) == [False, False, True]
    assert all("calculator's results" in c["reason"] for c in checks if not c["ok"])
    # the stored trace keeps which sample wrote each step: each sample's one action is the work its verdict read
    inputs = {c["sample"]: [s.tool_input for s in run.steps
                            if s.kind == "action" and s.data.get("sample") == c["sample"]] for c in checks}
    assert sorted(inputs) == [0, 1, 2]
    assert all(str(inputs[c["sample"]]).count(equation) == c["ok"] for c in checks), inputs
    assert all(len([s for s in run.steps if s.data.get("sample") == i and s.kind == "observation"]) == 1
               for i in range(3))

    model = _react_runs([f"{equation} - 1000", f"{equation} - 1000", equation])
    result = run_question(item.question, strategy="react-sc", model=model, task=task, item=item,
                          tools=["calculator"], options=options)
    run = open_store().get(result.run_id)
    wrong = str(int(item.answer) - 1000)
    assert run.meta["votes"] == {wrong: 2, item.answer: 1} and run.meta["majority"] == wrong
    assert run.meta["winner"] == item.answer and result.correct is True
    vote = next(s for s in run.steps if s.kind == "vote")
    assert vote.data["weights"] == {wrong: 0.0, item.answer: 1.0}
    assert sorted((c["key"], c["score"]) for c in vote.data["checks"]) == sorted(
        [(wrong, 0.0), (wrong, 0.0), (item.answer, 1.0)])


@pytest.mark.parametrize("strategy", ["io", "cot", "cot-sc", "react-sc", "tot", "verify"])
def test_each_strategy_continues_a_chat_thread(strategy):
    model = ScriptedChatModel(script=["Final Answer: 42"], cycle=True)
    # one set of options for every strategy, as a chat whose strategy changes has: each takes its own
    options = options_for(strategy, {"samples": 2, "depth": 1, "proposals": 1, "verifier": "judge", "rounds": 0})
    first = run_question("Pick a number.", strategy=strategy, model=model, tools=[], options=options)
    second = run_question("And again?", strategy=strategy, model=model, tools=[], thread_id=first.thread_id,
                          options=options)
    assert second.status == "ok" and second.answer
    messages = thread_messages(first.thread_id)
    assert [m.type for m in messages] == ["human", "ai", "human", "ai"]
    assert messages[-1].text == second.answer


def test_react_sc_votes_over_sampled_react_runs_with_tools():
    """Each sample is a whole ReAct run (calculator included) at the temperature, with its own seed;
    the majority of the runs' answers wins, and every run's steps are in the one trace."""
    task = get_task("arith", level=1, n=10)
    item = task.load(split="test")[0]
    wrong = int(item.answer) + 1

    def step(messages):
        scratch = messages[-1].text
        if "Observation:" not in scratch:
            return f" I compute it.\nAction: calculator\nAction Input: {item.answer} + 0"
        return f" The calculator says so.\nFinal Answer: {scratch.rsplit('Observation:', 1)[1].split()[0]}"

    model = ScriptedChatModel(script=[step], cycle=True)
    result = run_question(item.question, strategy="react-sc", model=model, task=task, item=item,
                          tools=["calculator"], options={"samples": 3, "temperature": 0.8})
    assert result.correct is True and result.model_calls == 6
    assert result.answer == item.answer  # bare, as react's: no "Final Answer:" in the chat or a batch line
    run = open_store().get(result.run_id)
    assert run.meta["votes"] == {item.answer: 3} and run.meta["samples"] == 3
    assert [s.kind for s in run.steps].count("observation") == 3
    assert {kw.get("temperature") for kw in model.calls_kwargs} == {0.8}
    assert len({kw.get("seed") for kw in model.calls_kwargs}) == 3
    # a model whose second run computes the wrong thing is outvoted
    votes = {"n": 0}

    def disagreeing(messages):
        scratch = messages[-1].text
        if "Observation:" not in scratch:
            votes["n"] += 1
            value = wrong if votes["n"] == 2 else item.answer
            return f" I compute it.\nAction: calculator\nAction Input: {value} * 1"
        return f" Done.\nFinal Answer: {scratch.rsplit('Observation:', 1)[1].strip()}"

    result = run_question(item.question, strategy="react-sc", model=ScriptedChatModel(script=[disagreeing], cycle=True),
                          task=task, item=item, tools=["calculator"], options={"samples": 3})
    run = open_store().get(result.run_id)
    assert result.correct is True and run.meta["votes"] == {item.answer: 2, str(wrong): 1}
