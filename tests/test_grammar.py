"""Grammar-constrained decoding (issue 37): the grammars compile in llama.cpp, everything the real
embedded model samples under them parses, runs record which steps a grammar shaped, and engines
without grammars (transformers, OpenAI, scripted) run unconstrained."""

from __future__ import annotations

import re

import pytest

from apprentice.agents.grammar import answer_grammar, react_step_grammar, solver_grammar
from apprentice.agents.react import STOP_SEQUENCES, parse_react, text_protocol_messages
from apprentice.agents.solver import solver_messages
from apprentice.backends.llamacpp import compiled_grammar
from apprentice.errors import ApprenticeError
from apprentice.graphs import run_question
from apprentice.tasks import get_task
from apprentice.tools import get_tools
from apprentice.tools.calculator import calculate
from apprentice.traces import open_store
from apprentice.tui.steps import step_title

QUESTION = "Jenny read 23 pages on Monday and 18 on Tuesday. How many pages did she read in total?"
NUMBER = re.compile(r"^-?\d[\d,]*(\.\d+)?$")


def test_every_grammar_compiles_in_llama_cpp(local_model):
    steps = [react_step_grammar(["calculator"], answer="number"), react_step_grammar(["web_search", "retrieve"]),
             react_step_grammar([]), react_step_grammar(["calculator"], final=False, expressions=False)]
    for grammar in (*[g.full for g in steps], *[g.cont for g in steps], answer_grammar(answer="number"),
                    solver_grammar("cot"), solver_grammar("io", answer="number")):
        assert compiled_grammar(grammar) is not None
    with pytest.raises(ValueError, match="cannot parse"):
        compiled_grammar("root ::= undefined_rule")


@pytest.mark.parametrize("seed", range(6))
def test_sampled_react_steps_always_parse_and_the_calculator_reads_their_input(local_model, seed):
    """At temperature 1 the base model wanders; under the grammar every step is still well formed."""
    tools = get_tools(["calculator", "web_search"])
    prompt = text_protocol_messages(question=QUESTION, scratch="", tools=tools)
    reply = local_model.invoke(prompt, stop=STOP_SEQUENCES, temperature=1.0, seed=seed, max_tokens=200,
                               grammar=react_step_grammar(["calculator", "web_search"], answer="number"))
    step = parse_react("Thought:" + reply.text, tools=["calculator", "web_search"])
    assert step.problem is None, reply.text
    assert step.thought
    if step.final_answer is not None:
        assert NUMBER.match(step.final_answer), step.final_answer
    else:
        assert step.tool in ("calculator", "web_search")
        if step.tool == "calculator":
            assert calculate(step.tool_input)  # it reads (a refusal such as 1/0 would be an observation too)


def test_a_step_decoded_line_first_is_what_the_full_grammar_gives(local_model):
    """The thought line is decoded without the grammar (it is free text) and only the rest under it; greedy, that
    is the same text as the whole step under the full grammar, and the rest cannot leave the grammar."""
    tools = get_tools(["calculator"])
    grammar = react_step_grammar(["calculator"], answer="number")
    for question in (QUESTION, "Tom has 5 apples and eats 2. How many are left?", "What is 12 times 7?"):
        prompt = text_protocol_messages(question=question, scratch="", tools=tools)
        fast = local_model.invoke(prompt, stop=STOP_SEQUENCES, max_tokens=120, grammar=grammar).text
        full = local_model.invoke(prompt, stop=STOP_SEQUENCES, max_tokens=120, grammar=grammar.full).text
        assert fast == full, (fast, full)
        assert parse_react("Thought:" + fast, tools=["calculator"]).problem is None


def test_constrained_solver_replies_end_in_the_task_answer_format(local_model):
    prompt = solver_messages(QUESTION, mode="cot", answer_format="Give the final answer as a number.")
    text = local_model.invoke(prompt, max_tokens=200, grammar=solver_grammar("cot", answer="number")).text
    last = text.strip().splitlines()[-1]
    assert last.startswith("Final Answer: ") and NUMBER.match(last.removeprefix("Final Answer: ")), text
    text = local_model.invoke(solver_messages(QUESTION, mode="io"), max_tokens=40,
                              grammar=solver_grammar("io", answer="number")).text
    assert re.fullmatch(r"Final Answer: -?\d[\d,]*(\.\d+)?\n?", text), text


def test_runs_record_the_grammar_and_the_chat_marks_constrained_steps(local_model):
    task = get_task("arith", level=1)
    item = task.load(split="test", limit=1)[0]
    result = run_question(item.question, model=local_model, model_spec="local", task=task, item=item,
                          tools=["calculator"], max_steps=2)
    store = open_store()
    run = store.get(result.run_id)
    assert run.meta["constrain"] == "steps"
    steps = run.steps
    llm = [s for s in steps if s.kind == "llm"]
    assert llm and all(s.data.get("constrained") for s in llm)
    shown = [s for s in steps if s.kind in ("thought", "action", "answer")]
    assert shown and all(s.data.get("constrained") for s in shown)
    assert all("· constrained" in step_title(s) for s in shown)
    assert all(s.problem is None for s in [parse_react("Thought:" + s.raw, tools=["calculator"]) for s in llm
                                           if not s.raw.lstrip().startswith(("I have used", "Final"))])
    # off: the same run, free text, nothing marked and nothing in the meta
    off = run_question(item.question, model=local_model, model_spec="local", task=task, item=item,
                       tools=["calculator"], max_steps=1, constrain="off")
    assert "constrain" not in (store.get(off.run_id).meta or {})
    assert not any(s.data.get("constrained") for s in store.get(off.run_id).steps)
    # answer: only answers are shaped; a ReAct step stays free
    answer = run_question(item.question, model=local_model, model_spec="local", task=task, item=item,
                          tools=["calculator"], max_steps=1, constrain="answer")
    assert store.get(answer.run_id).meta["constrain"] == "answer"
    steps = store.get(answer.run_id).steps
    assert not any(s.data.get("constrained") for s in steps if s.kind in ("thought", "action"))
    with pytest.raises(ApprenticeError, match="one of auto, off, steps, answer"):
        run_question(item.question, model=local_model, model_spec="local", constrain="always")


def test_engines_without_grammars_run_unconstrained():
    from apprentice.backends.scripted import ScriptedChatModel

    model = ScriptedChatModel(script=[" It is 41.\nFinal Answer: 41"])
    result = run_question(QUESTION, model=model, model_spec="scripted", tools=["calculator"], constrain="steps")
    assert result.answer == "41"
    store = open_store()
    run = store.get(result.run_id)
    assert "constrain" not in (run.meta or {})
    assert not any(s.data.get("constrained") for s in run.steps)
    assert "grammar" not in model.calls_kwargs[0]
