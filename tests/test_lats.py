"""LATS with scripted models: the UCT and backpropagation arithmetic, a verifier-rewarded path that beats the
evaluator's favourite, a reflection after a failed answer that later prompts carry, the budgets, the whole
tree in the trace and in the chat UI, and bad options as one error line."""

from __future__ import annotations

import itertools
import math

import pytest
from langchain_core.messages import SystemMessage

from apprentice.agents.reflector import LESSONS_HEADER, REFLECT_SYSTEM, parse_reflection
from apprentice.backends import ScriptedChatModel
from apprentice.cli import main
from apprentice.errors import ApprenticeError
from apprentice.graphs import run_question, runner, strategy_config
from apprentice.graphs.lats_tree import backpropagate, best_terminal, is_open, new_node, select_leaf, uct
from apprentice.graphs.threads import thread_messages
from apprentice.tasks import Item, get_task
from apprentice.traces import open_store
from apprentice.tui.app import ChatApp
from apprentice.tui.sessions import SessionStore
from apprentice.tui.widgets import AnswerBlock, SearchTree, StatusBar

QUESTION = "Use the numbers 1 1 4 6 and basic arithmetic operations (+ - * /) to obtain 24."
ITEM = Item(id="game24-lats", question=QUESTION, answer=None, meta={"numbers": [1, 1, 4, 6]})
LESSON = "Adding the numbers only reaches 12; multiply 4 and 6 instead."

#: The root's three sampled steps: a sum the evaluator likes, the product that makes 24, a bare wrong answer.
FIRST_STEPS = [" Add them all.\nAction: calculator\nAction Input: 4 + 6 + 1 + 1",
               " Multiply the big ones.\nAction: calculator\nAction Input: 4 * 6 * (1 * 1)",
               " Guess.\nFinal Answer: 4 + 6 + 1 + 1"]


def game24_script():
    """A model whose evaluator prefers the sum (sure) to the product (likely): only the verifier knows better."""
    first = itertools.cycle(FIRST_STEPS)

    def reply(messages):
        last = messages[-1].text
        if isinstance(messages[0], SystemMessage) and messages[0].text == REFLECT_SYSTEM:
            return LESSON + "\n\nThen the answer is 24."  # the parser keeps the first paragraph only
        if last.rstrip().endswith("Judgement:"):
            return "sure" if "Observation: 12" in last else "likely" if "Observation: 24" in last else "impossible"
        if "Observation: 12" in last:
            return " The sum is 12.\nFinal Answer: 4 + 6 + 1 + 1"
        if "Observation: 24" in last:
            return " That makes 24.\nFinal Answer: 4 * 6 * (1 * 1)"
        return next(first)

    return ScriptedChatModel(script=[reply], cycle=True)


# -- the search arithmetic ---------------------------------------------------------------------


def test_uct_prefers_the_less_visited_child_until_exploration_is_off():
    nodes: list[dict] = []
    new_node(nodes, None, visits=10, expanded=True)
    new_node(nodes, 0, value=0.6, visits=6)
    new_node(nodes, 0, value=0.4, visits=1)
    assert uct(nodes[1], 10, 1.0) == pytest.approx(0.6 + math.sqrt(math.log(10) / 6))
    assert uct(nodes[2], 10, 1.0) == pytest.approx(0.4 + math.sqrt(math.log(10)))
    assert select_leaf(nodes, 1.0, 5) == (2, [{"id": 2, "uct": round(0.4 + math.sqrt(math.log(10)), 4)}])
    assert select_leaf(nodes, 0.0, 5)[0] == 1  # c = 0: pure exploitation
    # a branch whose every child is a final answer is closed: selection goes down the other one
    nodes[2]["expanded"] = True
    new_node(nodes, 2, answer="12", reward=0.0, visits=1)
    leaf, path = select_leaf(nodes, 1.0, 5)
    assert leaf == 1 and [p["id"] for p in path] == [1]
    nodes[1]["expanded"] = True
    new_node(nodes, 1)
    nodes[4]["depth"] = 5  # at the depth limit, with no answer: nothing is left to expand
    assert select_leaf(nodes, 1.0, 5) == (None, [])


def test_backpropagation_keeps_each_node_a_running_mean():
    nodes: list[dict] = []
    new_node(nodes, None)
    new_node(nodes, 0)
    new_node(nodes, 1)
    assert backpropagate(nodes, 1, 0.5) == [1, 0]  # the evaluation: node 1's first visit
    assert backpropagate(nodes, 2, 1.0) == [2, 1, 0]  # a rollout's reward through it
    assert [(n["visits"], n["value"]) for n in nodes] == [(2, 0.75), (2, 0.75), (1, 1.0)]
    backpropagate(nodes, 2, 0.0)
    assert [(n["visits"], n["value"]) for n in nodes] == [(3, 0.5), (3, 0.5), (2, 0.5)]


def test_the_best_final_answer_has_the_highest_reward_then_the_most_visits():
    nodes: list[dict] = []
    new_node(nodes, None)
    assert best_terminal(nodes) is None
    new_node(nodes, 0, answer="a", reward=0.5, visits=1)
    new_node(nodes, 0, answer="b", reward=0.5, visits=3)
    new_node(nodes, 0, answer="c", reward=0.0, visits=9)
    assert best_terminal(nodes) == 2
    new_node(nodes, 0, answer="d", reward=1.0, visits=1, status="duplicate")
    assert best_terminal(nodes) == 2  # a duplicate is no answer


def test_a_reflection_is_its_first_paragraph_on_one_line():
    assert parse_reflection("Reflection: I added.\nMultiply next.\n\nAnswer: 24") == "I added. Multiply next."
    assert len(parse_reflection("x" * 1000)) == 400


# -- the graph ---------------------------------------------------------------------------------


def test_the_verified_path_wins_over_the_evaluators_favourite_and_the_tree_is_traced():
    model = game24_script()
    result = run_question(QUESTION, strategy="lats", model=model, task=get_task("game24"), item=ITEM,
                          tools=["calculator"])
    assert result.correct is True and result.answer == "4 * 6 * (1 * 1)"
    run = open_store().get(result.run_id)
    nodes = run.tree["nodes"]
    by_text = {n["text"]: n for n in nodes}
    total, product = by_text["calculator(4 + 6 + 1 + 1) -> 12"], by_text["calculator(4 * 6 * (1 * 1)) -> 24"]
    # the evaluator said sure to the sum, so the first rollout went that way and failed the rules
    assert total["why"] == "llm: sure" and product["why"] == "llm: likely"
    rolled = next(n for n in nodes if n["parent"] == total["id"])
    assert rolled["rollout"] and rolled["reward"] == 0.0 and rolled["status"] == "failed" and rolled["pruned"]
    assert (total["visits"], total["value"]) == (2, 0.5)  # sure (1.0), then the rollout's reward 0
    guess = next(n for n in nodes if n["parent"] == 0 and n.get("answer"))
    assert guess["status"] == "failed" and "game24-rules: reject" in guess["why"]
    # the second selection took the unexplored product by UCT and its answer is verified
    solution = nodes[run.tree["chosen"][-1]]
    assert run.tree["chosen"] == [0, product["id"], solution["id"]]
    assert solution["status"] == "solution" and solution["reward"] == 1.0
    assert [n["status"] for n in nodes if n["parent"] == product["id"]] == ["solution", "duplicate", "duplicate"]
    assert all({"parent", "depth", "text", "value", "visits", "reward", "status", "why"} <= set(n) for n in nodes)
    root = nodes[0]  # three evaluations, the rollout, the solution's evaluation
    assert (root["visits"], root["value"]) == (5, pytest.approx((1.0 + 0.5 + 0.0 + 0.0 + 1.0) / 5))
    assert (product["visits"], product["value"]) == (2, 0.75)
    assert [s.data["node"] for s in run.steps if s.kind == "select"] == [0, product["id"]]
    tagged = {s.data.get("lats_node") for s in run.steps if s.kind in ("action", "observation")}
    assert {total["id"], product["id"]} <= tagged
    assert run.meta["lats"]["solved"] is True and run.meta["lats"]["expansions"] == 2
    # the root's first step is the greedy one, the others sampled; a rollout leaves its start open to expand
    root_calls = [kw["temperature"] for prompt, kw in zip(model.prompts, model.calls_kwargs, strict=True)
                  if prompt[-1].text == "Thought:"]
    assert root_calls == [0.0, 0.7, 0.7]
    assert is_open(nodes, total["id"], 5) and not total.get("expanded")
    assert run.meta["lats"]["trajectory"].endswith("Final Answer: 4 * 6 * (1 * 1)\n")
    assert any(v.verifier == "verify:game24-rules" and v.correct for v in run.verdicts)


def test_a_failed_answer_is_reflected_on_and_later_prompts_carry_the_lesson():
    model = game24_script()
    result = run_question(QUESTION, strategy="lats", model=model, task=get_task("game24"), item=ITEM,
                          tools=["calculator"])
    run = open_store().get(result.run_id)
    reflections = [s for s in run.steps if s.kind == "thought" and s.node == "reflect"]
    assert len(reflections) == 1 and reflections[0].data["reflection"] == LESSON
    assert run.meta["lats"]["reflections"] == 1
    reflected = [n for n in run.tree["nodes"] if n.get("reflection")]
    assert len(reflected) == 1 and reflected[0]["status"] == "failed"
    asked = next(i for i, p in enumerate(model.prompts) if p[0].text == REFLECT_SYSTEM)
    react_prompts = [(i, p) for i, p in enumerate(model.prompts) if p[-1].text.endswith("Thought:")]
    assert all(LESSONS_HEADER not in p[0].text for i, p in react_prompts if i < asked)
    later = [p for i, p in react_prompts if i > asked]
    assert later and all(f"{LESSONS_HEADER}\n- {LESSON}" in p[0].text for p in later)


def test_no_reflection_when_switched_off():
    model = game24_script()
    result = run_question(QUESTION, strategy="lats", model=model, task=get_task("game24"), item=ITEM,
                          tools=["calculator"], options={"reflect": "off"})
    assert result.correct is True
    assert not any(p[0].text == REFLECT_SYSTEM for p in model.prompts)


def test_unreadable_and_repeated_steps_are_dead_ends_that_cost_no_value_call():
    first = itertools.cycle(["I am not sure what to do.", " Add.\nAction: calculator\nAction Input: 2 + 3",
                             " Sum it.\nAction: calculator\nAction Input: 2 + 3"])

    def reply(messages):
        last = messages[-1].text
        if last.rstrip().endswith("Judgement:"):
            return "likely"
        if last.endswith("Final Answer:"):
            return " 5"
        if "Observation: 5" in last:
            return " Again.\nAction: calculator\nAction Input: 2 + 3"
        return next(first)

    result = run_question("What is 2 + 3?", strategy="lats", model=ScriptedChatModel(script=[reply], cycle=True),
                          tools=["calculator"], options={"max_expansions": 1, "reflect": "off"})
    assert result.answer == "5"
    run = open_store().get(result.run_id)
    nodes = run.tree["nodes"]
    assert [(n["status"], n["why"]) for n in nodes if n["parent"] == 0] == [
        ("invalid", "unreadable: no 'Action:' and no 'Final Answer:'"), ("open", "llm: likely"),
        ("duplicate", "same step as a sibling")]
    rollout = [n for n in nodes if n["parent"] == 2]
    assert [n["status"] for n in rollout] == ["duplicate", "terminal"]
    assert rollout[0]["why"] == "repeats an action of its trajectory" and rollout[1]["forced"] is True
    assert sum(s.kind == "llm" and s.node == "value" for s in run.steps) == 2  # the action, then the answer
    assert sum(s.kind == "action" for s in run.steps) == 1  # dead ends run no tool
    assert all(n["visits"] == 0 for n in nodes if n.get("pruned"))


class GrammarModel(ScriptedChatModel):
    """A scripted model whose engine takes a grammar, as llama.cpp's does."""

    supports_grammar: bool = True


def test_steps_take_reacts_grammar_where_the_engine_can():
    model = GrammarModel(script=counting_model().script, cycle=True)
    run_question("Count on.", strategy="lats", model=model, tools=["calculator"],
                 options={"max_expansions": 1, "children": 2, "depth": 2, "reflect": "off"})
    grammars = [(prompt[-1].text.endswith("Final Answer:"), kwargs.get("grammar"))
                for prompt, kwargs in zip(model.prompts, model.calls_kwargs, strict=True)
                if prompt[-1].text.endswith(("Thought:", "Final Answer:"))]
    assert [forced for forced, _ in grammars] == [False, False, True]  # two sampled steps, the forced answer
    assert all('"\\nAction Input: "' in str(g) for forced, g in grammars if not forced)
    assert all(g.startswith("root ::= \" \"? answer") for forced, g in grammars if forced)
    assert not any(kwargs.get("grammar") for prompt, kwargs in zip(model.prompts, model.calls_kwargs, strict=True)
                   if prompt[-1].text.rstrip().endswith("Judgement:"))


def counting_model():
    """Never answers by itself: each step is a new calculator call; the evaluator always says likely."""
    counter = itertools.count(1)

    def reply(messages):
        if messages[-1].text.rstrip().endswith("Judgement:"):
            return "likely"
        return f" Keep going.\nAction: calculator\nAction Input: 1 + {next(counter)}"

    return ScriptedChatModel(script=[reply], cycle=True)


def test_the_expansion_budget_is_respected():
    result = run_question("Count on.", strategy="lats", model=counting_model(), tools=["calculator"],
                          options={"max_expansions": 2, "children": 2, "depth": 3, "reflect": "off"})
    run = open_store().get(result.run_id)
    assert run.meta["lats"]["expansions"] == 2
    assert sum(s.kind == "propose" for s in run.steps) == 2
    assert sum(s.kind == "llm" and s.node == "expand" for s in run.steps) == 4
    assert [s.raw for s in run.steps if s.kind == "select"][-1] == "budget spent"
    assert max(n["depth"] for n in run.tree["nodes"]) <= 3
    assert all(n.get("answer") for n in run.tree["nodes"] if n["depth"] == 3)  # the last step must answer
    assert result.answer  # a forced final answer at the depth limit


def test_the_model_call_budget_is_respected():
    result = run_question("Count on.", strategy="lats", model=counting_model(), tools=["calculator"],
                          options={"max_calls": 7, "children": 2, "depth": 3})
    assert result.model_calls == 7 and result.answer
    assert result.state["run_meta"]["lats"]["expansions"] == 1
    # a budget that leaves nothing to value with: the call kept back for an answer answers, nothing more
    tight = run_question("Count on.", strategy="lats", model=counting_model(), tools=["calculator"],
                         options={"max_calls": 4})
    nodes = tight.state["tree"]["nodes"]
    assert tight.model_calls == 4 and tight.answer
    assert [n["why"] for n in nodes if n["parent"] == 0] == ["not valued (no model calls left)"] * 3
    assert [n.get("forced") for n in nodes if n.get("answer")] == [True]


def answering_model():
    """Answers 42 at once; the evaluator is sure of it."""
    return ScriptedChatModel(script=[lambda m: "sure" if m[-1].text.rstrip().endswith("Judgement:")
                                     else " I know it.\nFinal Answer: 42"], cycle=True)


def test_a_lats_thread_continues_with_its_history():
    model = answering_model()
    first = run_question("Pick a number.", strategy="lats", model=model, tools=[])
    second = run_question("And again?", strategy="lats", model=model, tools=[], thread_id=first.thread_id)
    assert (first.answer, second.answer) == ("42", "42")
    assert [m.type for m in thread_messages(first.thread_id)] == ["human", "ai", "human", "ai"]
    assert any(m.text == "Pick a number." for m in model.prompts[-2])  # the earlier turn is in the prompt


# -- options -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("options", "fragment"), [
    ({"children": 0}, "invalid option children=0 for strategy lats: must be >= 1"),
    ({"exploration": "wide"}, "invalid option exploration='wide' for strategy lats: expected a number"),
    ({"value": "vibes"}, ("invalid option value='vibes' for strategy lats: unknown value method 'vibes', "
                          "choose from llm, rules, both")),
    ({"reflect": "maybe"}, ("invalid option reflect='maybe' for strategy lats: unknown switch 'maybe', "
                            "choose from on, off")),
    ({"rollouts": 2}, "unknown option 'rollouts' for strategy lats"),
])
def test_a_bad_option_is_one_error_line_listing_the_valid_ones(options, fragment):
    with pytest.raises(ApprenticeError) as caught:
        strategy_config("lats", options)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(fragment)
    assert "; valid: max_expansions (int >= 1, default 8), children (int >= 1, default 3), depth (int >= 1, " \
           "default 5), exploration (float >= 0, default 1)" in message


def test_options_are_typed_and_set_the_recursion_limit():
    config = strategy_config("lats", {"max_expansions": "40", "exploration": "0.5", "reflect": "off"})
    assert (config.max_expansions, config.exploration, config.reflect) == (40, 0.5, "off")
    assert config.recursion_limit == 7 * 40 + 50 and strategy_config("lats").recursion_limit == 200


def test_ask_with_a_bad_lats_option_fails_before_any_model_loads(monkeypatch, capsys):
    monkeypatch.setattr(runner, "load_chat_model", lambda *a, **k: pytest.fail("a model was loaded"))
    assert main(["ask", "q", "--strategy", "lats", "--option", "depth=0"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: invalid option depth=0 for strategy lats: must be >= 1")


# -- the chat UI -------------------------------------------------------------------------------


async def test_the_chat_shows_the_lats_tree_with_visits(apprentice_home):
    app = ChatApp(answering_model(), "lats")
    async with app.run_test(size=(110, 40)) as pilot:
        pilot.app.screen.query_one("#prompt").value = "Pick a number."
        await pilot.press("enter")
        for _ in range(400):
            await pilot.pause(0.05)
            block = app.screen.query(AnswerBlock).last()
            if not block.running:
                break
        assert block.answer_text == "42"
        labels = [str(n.label) for n in _walk(block.query_one(SearchTree).root)]
        assert labels[0] == "search tree · 4 nodes"
        assert "★ Final Answer: 42  [1.00] 1 visit, reward 1" in labels
        assert labels.count("✗ (same step again) I know it. Final Answer: 42  [0.00] 0 visits") == 2


def _walk(node):
    yield node
    for child in node.children:
        yield from _walk(child)


def _lats_thread() -> None:
    session = SessionStore().create(title="Game of 24", model="scripted", strategy="lats")
    store = open_store()
    run_id = store.start_run(strategy="lats", model="scripted", question=QUESTION, thread_id=session.id)
    tree = {"method": "lats", "chosen": [0, 2, 4], "nodes": [
        {"id": 0, "parent": None, "text": QUESTION, "value": 0.67, "visits": 6, "reward": None},
        {"id": 1, "parent": 0, "text": "calculator(4 + 6 + 1 + 1) -> 12", "value": 0.5, "visits": 2, "reward": None},
        {"id": 2, "parent": 0, "text": "calculator(4 * 6 * (1 * 1)) -> 24", "value": 0.75, "visits": 2,
         "reward": None},
        {"id": 3, "parent": 1, "text": "Final Answer: 4 + 6 + 1 + 1", "value": 0.0, "visits": 1, "reward": 0.0,
         "status": "failed", "pruned": True},
        {"id": 4, "parent": 2, "text": "Final Answer: 4 * 6 * (1 * 1)", "value": 1.0, "visits": 1, "reward": 1.0,
         "status": "solution"},
        {"id": 5, "parent": 2, "text": "(same step again) Final Answer: 4 * 6 * (1 * 1)", "value": 0.0, "visits": 0,
         "reward": None, "status": "duplicate", "pruned": True},
    ]}
    store.finish_run(run_id, answer="4 * 6 * (1 * 1)", status="ok", tree=tree)


def test_lats_tree_snapshot(snap_compare, apprentice_home):
    _lats_thread()

    async def settle(pilot):
        await pilot.pause()
        pilot.app.clear_notifications()
        pilot.app.screen.query_one("#prompt").cursor_blink = False
        pilot.app.screen.query_one(StatusBar).seconds = 1.5
        await pilot.pause()

    assert snap_compare(ChatApp(ScriptedChatModel(script=[])), terminal_size=(110, 34), run_before=settle)
