"""Tree-of-Thought control flow with scripted models: a planted Game-of-24 solution is found,
the rest of the tree is pruned, and the whole tree lands in the trace."""

from __future__ import annotations

from fractions import Fraction

import pytest

from apprentice.agents.proposer import Game24Space, StepSpace
from apprentice.backends import ScriptedChatModel
from apprentice.graphs import run_question
from apprentice.tasks import Item, get_task
from apprentice.traces import open_store

QUESTION = "Use the numbers 1 1 4 6 and basic arithmetic operations (+ - * /) to obtain 24."
ITEM = Item(id="game24-t", question=QUESTION, answer=None, meta={"numbers": [1, 1, 4, 6]})

#: Proposals per "numbers left"; one path (4*6, 1*1, 24*1) is planted, the rest are dead ends or invalid.
PLAN = {
    "1 1 4 6": "1 + 1 = 2 (left: 2 4 6)\n4 * 6 = 24 (left: 1 1 24)\n6 - 1 = 5 (left: 1 4 5)\n9 * 9 = 81",
    "1 1 24": "1 * 1 = 1 (left: 1 24)\n1 + 1 = 2 (left: 2 24)",
    "1 24": "24 * 1 = 24 (left: 24)\n24 + 1 = 25 (left: 25)",
    "1 4 5": "complete nonsense",
}


def planted(messages):
    text = messages[-1].text
    if "Possible next steps" in text:
        left = text.split("Input: ")[-1].split("\n")[0].strip()
        return PLAN.get(left, "")
    return "sure" if text.rstrip().endswith("Judgement:") and "1 1 24" in text else "likely"


@pytest.mark.parametrize("method", ["bfs", "dfs"])
def test_tot_finds_the_planted_solution_and_prunes_the_rest(method):
    task = get_task("game24")
    model = ScriptedChatModel(script=[planted], cycle=True)
    result = run_question(QUESTION, strategy="tot", model=model, task=task, item=ITEM, tools=[],
                          options={"method": method})
    assert result.correct is True
    assert task.extract(result.answer).replace(" ", "") == "(4*6)*(1*1)"
    run = open_store().get(result.run_id)
    nodes = {n["id"]: n for n in run.tree["nodes"]}
    by_step = {n["step"]: n for n in run.tree["nodes"]}
    solution = next(n for n in nodes.values() if n["status"] == "solution")
    assert solution["value"] == 100.0 and solution["step"] == "24 * 1 = 24 (left: 24)"
    assert [nodes[i]["step"] for i in run.tree["chosen"]] == [
        None, "4 * 6 = 24 (left: 1 1 24)", "1 * 1 = 1 (left: 1 24)", "24 * 1 = 24 (left: 24)"]
    assert by_step["9 * 9 = 81"]["status"] == "invalid"
    assert by_step["1 + 1 = 2 (left: 2 4 6)"]["status"] == "pruned"  # 2 4 6 cannot make 24
    assert by_step["24 + 1 = 25 (left: 25)"]["value"] == 0.0
    assert all(n["why"] for n in nodes.values())
    kinds = {s.kind for s in run.steps}
    assert {"propose", "value", "select", "answer"} <= kinds
    assert run.meta["tot"]["solved"] is True and run.meta["tot"]["method"] == method


def test_bfs_keeps_only_the_best_breadth_states():
    model = ScriptedChatModel(script=[planted], cycle=True)
    result = run_question(QUESTION, strategy="tot", model=model, task=get_task("game24"), item=ITEM, tools=[],
                          options={"breadth": 1, "value": "llm"})
    nodes = result.state["tree"]["nodes"]
    first_level = [n for n in nodes if n["depth"] == 1 and n["status"] in ("expanded", "kept", "pruned")]
    assert [n["step"] for n in first_level if n["status"] == "expanded"] == ["4 * 6 = 24 (left: 1 1 24)"]
    assert result.correct is True


def test_garbage_proposals_end_the_search_without_crashing():
    model = ScriptedChatModel(script=["%%% ??? 12 ab"], cycle=True)
    result = run_question(QUESTION, strategy="tot", model=model, task=get_task("game24"), item=ITEM, tools=[])
    assert result.status == "ok" and result.correct is False
    assert "No solution found" in result.answer
    statuses = {n["status"] for n in result.state["tree"]["nodes"][1:]}
    assert statuses == {"invalid"}


def test_depth_limit_stops_the_search():
    model = ScriptedChatModel(script=[planted], cycle=True)
    result = run_question(QUESTION, strategy="tot", model=model, task=get_task("game24"), item=ITEM, tools=[],
                          options={"depth": 1})
    assert result.state["run_meta"]["tot"]["rounds"] == 1
    assert max(n["depth"] for n in result.state["tree"]["nodes"]) == 1
    assert result.correct is False


def test_game24_space_applies_steps_exactly():
    space = Game24Space()
    root = space.root(QUESTION)
    assert root["numbers"] == ["1", "1", "4", "6"]
    # a wrong stated result is recomputed from the operation; unknown operands are rejected
    state = space.apply(root, "4 * 6 = 25 (left: 1 1 25)")
    assert state["numbers"] == ["1", "1", "24"] and state["exprs"][-1] == "(4 * 6)"
    assert space.apply(root, "7 * 6 = 42") is None
    assert space.apply(root, "no step here") is None
    thirds = space.apply({"steps": [], "numbers": ["8", "3"], "exprs": ["8", "3"]}, "8 / 3 = 2.67")
    assert Fraction(thirds["numbers"][0]) == Fraction(8, 3)
    assert space.rule_value({"numbers": ["2", "4", "6"]}) == 0.0
    assert space.rule_value({"numbers": ["1", "1", "24"]}) == 1.0


def test_free_step_search_answers_from_a_final_answer_step():
    task = get_task("arith")
    item = task.load(limit=1)[0]

    def steps(messages):
        text = messages[-1].text
        if "Next step" in text:
            return f"The answer follows.\nFinal Answer: {item.answer}" if "(none yet)" not in text else "Read it."
        return "sure"

    model = ScriptedChatModel(script=[steps], cycle=True)
    result = run_question(item.question, strategy="tot", model=model, task=task, item=item, tools=[],
                          options={"proposals": 2})
    assert result.correct is True
    assert StepSpace().terminal({"steps": [result.answer.splitlines()[-1]]})
