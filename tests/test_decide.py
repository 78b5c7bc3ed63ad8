"""The harness's decision after a calculator result (ReAct's ``decide`` option): with ``ask`` it puts one short
question to the model ("does the answer still need a number not used yet?", yes or no under a grammar), with
``listed`` it goes on while any question number is unused; on go on the next step opens with the harness's words and
must call a tool that computes; on no the step is the model's. Scripted models for the control flow, the real
embedded model for what the grammars let through."""

from __future__ import annotations

import pytest

from apprentice.agents.decide import (
    DECIDE_TOOL,
    DECISION_GRAMMAR,
    DECISION_QUESTION,
    decision_prompt,
    go_on_opening,
    parse_decision,
)
from apprentice.agents.grammar import react_step_grammar
from apprentice.agents.react import parse_react
from apprentice.agents.verifier import unused_in
from apprentice.backends import ScriptedChatModel
from apprentice.backends.llamacpp import compiled_grammar
from apprentice.errors import ApprenticeError
from apprentice.graphs import run_question
from apprentice.traces import open_store
from apprentice.training.examples import learned_spans, react_trajectory

QUESTION = "Jack has 3 boxes of 7 pens and 13 pencils. His friend has 40 pens. How many pens and pencils has Jack?"
FIRST = " The question says \"of\", so I multiply.\nAction: calculator\nAction Input: 3 * 7"


class GrammarModel(ScriptedChatModel):
    """A scripted model whose engine takes a grammar, as llama.cpp's does."""

    supports_grammar: bool = True


class ScoredModel(GrammarModel):
    """A scripted model whose engine also gives token scores: its probability of yes, one a decision, from ``p_yes``."""

    supports_scores: bool = True
    p_yes: list[float] = []

    def choice_probabilities(self, messages, choices):
        self.prompts.append(list(messages))
        p = self.p_yes.pop(0)
        return {"yes": p, "no": 1 - p}


def deciding(says: list[str], model: type[GrammarModel] = GrammarModel, **fields):
    """A student that makes one call, ends a harness-opened thought and then answers; its decisions are ``says``."""
    decisions = iter(says)

    def reply(messages):
        last = messages[-1].text
        if last.endswith(DECISION_QUESTION):
            return next(decisions)
        if last.endswith("(go on: 13 and 40 not used yet)"):
            return " The question says \"and\", so I add.\nAction: calculator\nAction Input: 21 + 13"
        if "Observation:" in last:
            return " The calculator gave the answer.\nFinal Answer: " + last.rsplit("Observation: ", 1)[1].split()[0]
        return FIRST

    return model(script=[reply], cycle=True, react_prompt="student", **fields)


def test_asked_yes_the_next_step_opens_with_the_tally_and_must_compute():
    model = deciding(["yes", "no"])
    result = run_question(QUESTION, model=model, tools=["calculator"], options={"decide": "ask"})
    assert result.answer == "34"
    asked = [(p, k) for p, k in zip(model.prompts, model.calls_kwargs, strict=True)
             if p[-1].text.endswith(DECISION_QUESTION)]
    # asked after each result while numbers are unused: after 21 (13 and 40) and after 34 (40)
    assert len(asked) == 2 and all(k["grammar"] == DECISION_GRAMMAR for _, k in asked)
    assert asked[0][0][-1].text == decision_prompt(QUESTION, [("3 * 7", "21")], ["13", "40"])
    assert "3 * 7 = 21\n21 + 13 = 34\nNot used yet: 40\n" in asked[1][0][-1].text
    # yes: the step after it opens with the harness's words; its grammar has no final answer and wants an operator
    opened = next(i for i, p in enumerate(model.prompts) if p[-1].text.endswith("(go on: 13 and 40 not used yet)"))
    grammar = model.calls_kwargs[opened]["grammar"]
    root = grammar.full.splitlines()[0]
    assert root == 'root ::= [^\\n]* "\\n" action' and grammar.full == grammar.cont and "{1,24}" in grammar.full
    # no: the model's own step, free to answer
    assert model.calls_kwargs[-1]["grammar"].full.splitlines()[0].endswith("(action | final)")
    run = open_store().get(result.run_id)
    said = [s.observation for s in run.steps if s.kind == "observation" and s.tool == DECIDE_TOOL]
    assert said == ["go on: the answer needs one of 13 and 40", "the step decides: 40 not needed"]
    assert sum(s.kind == "llm" and s.node == "decide" for s in run.steps) == 2
    # the rebuilt trajectory is the student's text: the opened thought whole, no decision lines, no decide call
    trajectory = react_trajectory(run)
    assert "Thought: (go on: 13 and 40 not used yet) The question says \"and\", so I add.\nAction" in trajectory
    assert "the answer needs" not in trajectory and DECISION_QUESTION not in trajectory
    # the harness's opening is no text the student learns to write; what follows it is
    learned = "".join(trajectory[a:b] for a, b in learned_spans(trajectory, "react"))
    assert "(go on:" not in learned and " The question says \"and\", so I add." in learned


def test_listed_goes_on_while_a_number_is_unused_without_asking():
    model = deciding([])
    result = run_question(QUESTION, model=model, tools=["calculator"], options={"decide": "listed"}, max_steps=3)
    run = open_store().get(result.run_id)
    assert not any(s.kind == "llm" and s.node == "decide" for s in run.steps)
    assert [s.observation for s in run.steps if s.tool == DECIDE_TOOL][:2] == [
        "go on: the answer needs one of 13 and 40", "go on: the answer needs 40"]
    # the step limit still ends the run: no decision once the steps are spent
    assert result.status == "ok" and sum(s.kind == "action" for s in run.steps) <= 3


def test_self_leaves_the_decision_to_the_step_and_no_call_is_added():
    model = deciding([])
    result = run_question(QUESTION, model=model, tools=["calculator"])
    assert result.answer == "21"
    assert not any(p[-1].text.endswith(DECISION_QUESTION) for p in model.prompts)
    assert not any(s.tool == DECIDE_TOOL for s in open_store().get(result.run_id).steps)


def test_a_model_that_cannot_follow_the_decision_is_refused_before_any_call():
    model = ScriptedChatModel(script=[FIRST], react_prompt="student")  # no grammar: go on could not be enforced
    with pytest.raises(ApprenticeError, match="decide=ask needs the text protocol on a model that takes a grammar"):
        run_question(QUESTION, model=model, tools=["calculator"], options={"decide": "ask"})
    assert model.prompts == []
    with pytest.raises(ApprenticeError, match="unknown decide mode 'maybe', choose from self, ask, listed"):
        run_question(QUESTION, model=deciding([]), tools=["calculator"], options={"decide": "maybe"})


def test_go_on_at_goes_on_where_the_probability_of_yes_reaches_it():
    model = deciding([], ScoredModel, p_yes=[0.8, 0.3])
    result = run_question(QUESTION, model=model, tools=["calculator"], options={"decide": "ask", "go_on_at": 0.7})
    assert result.answer == "34"
    run = open_store().get(result.run_id)
    decided = [s for s in run.steps if s.kind == "observation" and s.tool == DECIDE_TOOL]
    assert [s.data.get("p_yes") for s in decided] == [0.8, 0.3]
    assert [s.observation for s in decided] == ["go on: the answer needs one of 13 and 40 (P(yes) 0.80)",
                                                "the step decides: 40 not needed (P(yes) 0.30)"]
    calls = [s for s in run.steps if s.kind == "llm" and s.node == "decide"]
    assert [c.raw for c in calls] == ["yes", "no"]
    assert calls[0].data["probabilities"] == pytest.approx({"yes": 0.8, "no": 0.2})
    # scored, not decoded: no decision went through the step's stream with a grammar
    assert not any(k.get("grammar") == DECISION_GRAMMAR for k in model.calls_kwargs)


def test_go_on_at_is_refused_without_ask_or_without_token_scores():
    with pytest.raises(ApprenticeError, match="go_on_at=0.9 needs decide=ask, not decide=listed"):
        run_question(QUESTION, model=deciding([]), tools=["calculator"],
                     options={"decide": "listed", "go_on_at": 0.9})
    model = deciding(["yes"])  # a grammar but no scores
    with pytest.raises(ApprenticeError, match="go_on_at=0.9 needs decide=ask on a model that gives token scores"):
        run_question(QUESTION, model=model, tools=["calculator"], options={"decide": "ask", "go_on_at": 0.9})
    assert model.prompts == []
    with pytest.raises(ApprenticeError, match="invalid option go_on_at=1.5 for strategy react: must be <= 1"):
        run_question(QUESTION, model=deciding([]), tools=["calculator"], options={"decide": "ask", "go_on_at": 1.5})


def test_parse_decision_reads_yes_and_no_and_nothing_else():
    assert parse_decision(" Yes.") is True and parse_decision("no") is False
    assert parse_decision("") is None and parse_decision("maybe yes") is None


def test_the_decisions_grammars_hold_on_the_embedded_model(local_model):
    """The real model under the grammars: the decision is yes or no; a go-on step after the harness's opening is a
    calculator call whose input computes (no bare number, no final answer)."""
    assert compiled_grammar(DECISION_GRAMMAR) is not None
    reply = local_model.invoke([("user", decision_prompt(QUESTION, [("3 * 7", "21")], ["13", "40"]))],
                               grammar=DECISION_GRAMMAR, max_tokens=2)
    assert parse_decision(reply.text) is not None, reply.text
    grammar = react_step_grammar(["calculator"], answer="number", final=False, opened=True)
    question = ("Sara had 52 stickers. She gave 17 stickers to her brother and 9 to a friend. How many stickers does "
                "Sara have left?")
    result = run_question(question, model=local_model, tools=["calculator"],
                          options={"decide": "listed"}, max_steps=3)
    run = open_store().get(result.run_id)
    went_on = [s for s in run.steps if s.kind == "observation" and s.tool == DECIDE_TOOL]
    assert went_on and went_on[0].observation.startswith("go on")
    after = next(s for s in run.steps if s.idx > went_on[0].idx and s.kind == "llm" and s.node == "reason")
    first = next(s.tool_input for s in run.steps if s.kind == "action")
    assert went_on[0].data["opening"] == go_on_opening(unused_in(question, [first], words=True))
    step = parse_react("Thought:" + went_on[0].data["opening"] + after.raw, tools=["calculator"])
    assert step.final_answer is None and step.tool == "calculator" and any(op in step.tool_input for op in "+-*/")
    assert compiled_grammar(grammar.full) is not None


def test_the_embedded_models_probability_of_yes_is_what_its_greedy_decision_compares(local_model):
    """llama.cpp's scores for the reply's first token: yes and no sum to one, and the likelier one is the reply greedy
    decoding gives under the decision's grammar; go_on_at 0 and 1 are the two ends of the threshold."""
    asked = [("user", decision_prompt(QUESTION, [("3 * 7", "21")], ["13", "40"]))]
    p = local_model.choice_probabilities(local_model._convert_input(asked).to_messages(), ("yes", "no"))
    assert set(p) == {"yes", "no"} and abs(sum(p.values()) - 1) < 1e-9 and 0 < p["yes"] < 1
    greedy = local_model.invoke(asked, grammar=DECISION_GRAMMAR, max_tokens=2, temperature=0.0)
    assert parse_decision(greedy.text) is (p["yes"] > 0.5), (greedy.text, p)
    question = ("Sara had 52 stickers. She gave 17 stickers to her brother and 9 to a friend. How many stickers does "
                "Sara have left?")
    for at, went in ((0.0, True), (1.0, False)):
        result = run_question(question, model=local_model, tools=["calculator"], max_steps=2,
                              options={"decide": "ask", "go_on_at": at})
        run = open_store().get(result.run_id)
        decided = [s for s in run.steps if s.kind == "observation" and s.tool == DECIDE_TOOL]
        assert decided and all(s.observation.startswith("go on") is went and 0 < s.data["p_yes"] < 1
                               for s in decided), at


def test_dpo_credits_the_opening_to_the_harness_not_the_model():
    """The class of the tally's line (test_tally): every span the harness writes into a trajectory is left out of
    what DPO credits to the model, as SFT's loss leaves it out."""
    from apprentice.training.dpo import credit_mask

    text = ("Thought: I multiply.\nAction: calculator\nAction Input: 3 * 7\nObservation: 21\n"
            "Thought: (go on: 13 and 40 not used yet) I add.\nAction: calculator\nAction Input: 21 + 13\n"
            "Observation: 34\nThought: The calculator gave 34.\nFinal Answer: 34")
    pieces = list(text)  # one character a token: the mask is exact
    for credit in ("action", "written"):
        kept = "".join(p for p, keep in zip(pieces, credit_mask(pieces, rejected=False, credit=credit), strict=True)
                       if keep)
        assert "(go on:" not in kept and " I add.\nAction: calculator\nAction Input: 21 + 13" in kept, credit


def test_a_continuation_example_teaches_only_what_follows_the_harnesss_first_opening(tmp_path):
    """``learn: opened`` (a row of an SFT dataset): the steps before the harness's first decision to go on are
    context, not taught, so a stage that teaches going on leaves the student's own first steps alone."""
    from apprentice.errors import DataError
    from apprentice.training.sft import load_chat_split

    text = ("Thought: I multiply.\nAction: calculator\nAction Input: 3 * 7\nObservation: 21\n"
            "Thought: (go on: 13 and 40 not used yet) I add.\nAction: calculator\nAction Input: 21 + 13\n"
            "Observation: 34\nThought: The calculator gave 34.\nFinal Answer: 34")
    learned = "".join(text[a:b] for a, b in learned_spans(text, "react", "opened"))
    assert learned == (" I add.\nAction: calculator\nAction Input: 21 + 13\nObservation:"
                       " The calculator gave 34.\nFinal Answer: 34")
    assert learned_spans(text.replace("(go on: 13 and 40 not used yet) ", ""), "react", "opened") == []
    with pytest.raises(ValueError, match="learn must be one of all, opened"):
        learned_spans(text, "react", "first")
    (tmp_path / "train.jsonl").write_text('{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", '
                                          '"content": "a"}], "learn": "first"}\n')
    with pytest.raises(DataError, match=r"train.jsonl:1: learn must be one of all, opened, not 'first'"):
        load_chat_split(tmp_path, "train")


def test_a_scored_prompt_that_does_not_fit_the_context_is_one_clear_error(local_model):
    """As a completion's prompt (the same check): too long for the context is one line, before any evaluation."""
    from apprentice.backends.llamacpp import LlamaCppChatModel
    from apprentice.errors import ModelUnavailableError

    small = LlamaCppChatModel(model_path=local_model.model_path, n_ctx=64)
    with pytest.raises(ModelUnavailableError, match=r"prompt of \d+ tokens does not fit the 64-token context"):
        small.choice_probabilities(small._convert_input([("user", QUESTION * 3)]).to_messages(), ("yes", "no"))
