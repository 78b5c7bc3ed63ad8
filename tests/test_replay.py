"""The dataset teacher's worked steps: operations justified from the question's own words."""

from __future__ import annotations

import json

import pytest

from apprentice.errors import ApprenticeError
from apprentice.tasks import Item
from apprentice.training.replay import _numbers, justify, worked_steps


def test_the_asking_sentence_decides_the_operation():
    question = ("Baker made 13 cakes. He sold 91 of them and bought 154 new cakes. "
                "How many more cakes did baker buy than those he sold?")
    # "sold" comes first in the story, but the question asks for a difference ("more ... than")
    assert justify(question, "-", "154", "91") == 'The question says "than", so I subtract: 154 - 91.'


def test_story_cue_then_the_question_itself():
    assert justify("Frank had 42 candies. He put them equally into 2 bags. How many are in a bag?", "/", "42", "2") \
        == 'The question says "equally", so I divide: 42 / 2.'
    # no deciding word for +: no quote is invented (never the question's "how many ...")
    assert justify("Josh had 22 marbles. Jack handed him 20 marbles. How many marbles does Josh have now?",
                   "+", "22", "20") == "To find what is asked, I add: 22 + 20."


def test_cues_match_whole_words_only():
    # "change" inside "exchange" is not a cue for subtraction
    thought = justify("Ana went to the exchange with 5 coins and 3 coins. What is the sum?", "-", "5", "3")
    assert "change" not in thought.split("says")[-1]


def test_equations_and_annotations_become_one_step_per_operation():
    svamp = Item(id="s", question="Sam had 9 pens. He gave away 4 and bought 6. How many pens does he have left?",
                 answer="11", meta={"equation": "( 9 - 4 ) + 6"})
    steps = worked_steps("svamp", svamp)
    assert [s.expression for s in steps] == ["9 - 4", "5 + 6"]
    assert steps[0].thought.startswith('The question says "left", so I subtract')
    gsm = Item(id="g", question="Natalia sold 48 clips in April and half as many in May. How many in all?",
               answer="72", meta={"solution": "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\n"
                                              "Altogether she sold 48+24 = <<48+24=72>>72 clips.\n#### 72"})
    assert [s.expression for s in worked_steps("gsm8k", gsm)] == ["48/2", "48+24"]
    # a step with a number neither stated nor observed before (worked out in the prose) makes no example
    assert worked_steps("gsm8k", Item(id="g", question="q 48", answer="73", meta={
        "solution": "48/2 = <<48/2=24>>24, and one more is 25.\nSo 48+25 = <<48+25=73>>73\n#### 73"})) is None
    assert worked_steps("svamp", Item(id="x", question="q", answer="1", meta={"equation": "import os"})) is None
    # a step that computes nothing (a result worked out in the prose, handed to the calculator as it is; 100 is
    # also a unit constant) makes no example: the student would learn to write an unworked answer in
    trucks = Item(id="t", question="300 vehicles pass; there are twice as many cars as trucks. How many trucks?",
                  answer="100", meta={"solution": "3t = 300, so t = <<100=100>>100 trucks.\n#### 100"})
    assert worked_steps("gsm8k", trucks) is None


def test_calculations_written_out_in_the_prose_are_steps_too():
    """GSM8K's annotators leave many calculations out ("60 / 2 = 30 days" without ``<<>>``; 34 of the 55 "one-step"
    test problems): the replay reads them from the prose, in the order written, when the expression computes the
    result it states; an annotation is read once, and one that computes nothing takes the calculation written
    just before it."""
    from apprentice.training.replay import _gsm8k_steps

    def read(solution: str) -> list[tuple[str, str]]:
        return [(s.expression, s.result) for s in _gsm8k_steps(solution) or []]

    willy = Item(id="w", question="The series has 3 seasons that are each 20 episodes long. Willy watches 2 episodes "
                                  "a day. How many days will it take him to finish the series?", answer="30",
                 meta={"solution": "The series has a total of 3 * 20 = <<3*20=60>>60 episodes\n"
                                   "At a rate of 2 episodes per day, Willy finishes in 60 / 2 = 30 days.\n#### 30"})
    steps = worked_steps("gsm8k", willy)
    assert [(s.expression, s.result) for s in steps] == [("3*20", "60"), ("60 / 2", "30")]
    assert steps[1].thought == "At a rate of 2 episodes per day, Willy finishes in 60 / 2 days, so I compute 60 / 2."
    assert read("It costs $5 + $10 = $15, and 2 * $15 = $<<2*15=30>>30 for both.") == [("5 + 10", "15"),
                                                                                       ("2*15", "30")]
    assert read("He needs $18.50 − $6.50 = $12 more; 270 X 7 = 1890 eggs; 1,000 + 200 = 1,200 cars.") == [
        ("18.50 - 6.50", "12"), ("270 * 7", "1890"), ("1000 + 200", "1200")]
    # a slip of the solution's arithmetic is no step; a date or an equation with an unknown is none either
    assert read("The sticker cost 3/1=1 dollar, in 2020 = a year, and 3x + 7 = 19.") == []
    assert read("Jenny is older by 5+3 = <<8=8>>8 years") == [("5+3", "8")]
    # a chain is read link by link, and a thought never shows a result computed after it
    chain = _gsm8k_steps("In all 2 + 3 = 5 + 4 = 9 apples")
    assert [(s.expression, s.result) for s in chain] == [("2 + 3", "5"), ("5 + 4", "9")]
    assert chain[0].thought == "In all 2 + 3 + 4 apples, so I compute 2 + 3."
    assert read("48/2 = <<48/2=24>>24 clips, and 48+24 = <<48+24=72>>72 in all") == [("48/2", "24"), ("48+24", "72")]


def test_replayed_thoughts_ground_when_to_stop_in_the_question():
    """After each result the thought goes over the question's numbers and names those still to
    use; "none" answers, naming the ones the question did not need."""
    from apprentice.graphs import run_question
    from apprentice.tasks import get_task
    from apprentice.traces import open_store
    from apprentice.training.replay import ReplayStep, replay_model

    task = get_task("svamp")
    question = "Cary saved 30 dollars. He earns 5 dollars a lawn and mows 3 lawns. He had 7 hats. How many dollars now?"
    item = Item(id="c", question=question, answer="45")
    steps = [ReplayStep("First the lawns.", "5 * 3"), ReplayStep("Then the savings.", "30 + 15")]
    result = run_question(question, model=replay_model(steps, question), model_spec="teacher:dataset", task=task,
                          item=item, tools=["calculator"])
    assert result.correct is True
    raws = [s.raw for s in open_store().get(result.run_id).steps if s.kind == "llm"]
    assert raws[1].startswith(" The calculator gave 15. Of 30, 5, 3 and 7, still to use: 30. Then the savings.")
    assert raws[2].startswith(" The calculator gave 45. Of 30, 5, 3 and 7, still to use: none (7 is not needed), "
                              "so this answers the question.")
    single = replay_model([ReplayStep("Add.", "2 + 3")], "Ann has 2 and gets 3. How many?")
    run = run_question("Ann has 2 and gets 3. How many?", model=single, tools=["calculator"])
    assert run.answer == "5"
    last = [s.raw for s in open_store().get(run.run_id).steps if s.kind == "llm"][-1]
    assert "Of 2 and 3, still to use: none, so this answers the question." in last
    # quantities written as words count: "three times as many" uses 3
    assert _numbers("Mei has 6 pens. Ann has three times as many, twice a week.", words=True) == ["6", "3", "2"]


def test_equation_style_is_one_justified_expression_then_the_answer():
    """``dataset,equation``: every operation is justified first, in the order it is computed, and
    the whole solution is one calculator call, so the student has no stop decision to learn."""
    from apprentice.graphs import run_question
    from apprentice.tasks import get_task
    from apprentice.tools.calculator import calculate
    from apprentice.traces import open_store
    from apprentice.training.replay import replay_model, worked_equation

    svamp = Item(id="s", question="Sam had 9 pens. He gave away 4 and bought 6. How many pens does he have left?",
                 answer="11", meta={"equation": "( 9.0 - 4.0 ) + 6.0"})
    (step,) = worked_equation("svamp", svamp)
    # only the parentheses the order of computation needs
    assert step.expression == "9 - 4 + 6"
    assert step.thought == 'The question says "left", so I subtract. The question says "bought", so I add.'
    # an inner operation keeps its parentheses
    inner = Item(id="i", question="Ann has 6 and Bo has 2 and gets 3 more. How many more does Ann have than Bo?",
                 answer="1", meta={"equation": "( 6.0 - ( 2.0 + 3.0 ) )"})
    assert worked_equation("svamp", inner)[0].expression == "6 - (2 + 3)"
    # the arith generator's own reasons, one per step
    arith = get_task("arith", level=3).load(split="train", limit=1)[0]
    (step,) = worked_equation("arith", arith)
    assert calculate(step.expression) == arith.answer and step.expression.count(" ") == 4
    assert step.thought == " ".join(s["reason"] for s in arith.meta["steps"])
    # GSM8K: a number that is an earlier result stands for the expression that computed it; a sentence
    # quoting a result worked out in between is left out of the thought
    gsm = Item(id="g", question="Natalia sold 48 clips in April and half as many in May. How many in all?",
               answer="72", meta={"solution": "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\n"
                                              "Altogether she sold 48+24 = <<48+24=72>>72 clips.\n#### 72"})
    (step,) = worked_equation("gsm8k", gsm)
    assert step.expression == "48 + 48 / 2" and step.thought == "Natalia sold 48/2 clips in May."
    assert worked_equation("svamp", Item(id="x", question="q", answer="1", meta={"equation": "7"})) is None
    # a result equal to one of the question's numbers still stands for its working; a step whose
    # result the final expression would not use makes no example
    boxes = Item(id="b", question="Ann has 16 pens and 4 boxes of 4 pens. How many pens?", answer="32",
                 meta={"solution": "The boxes hold 4*4 = <<4*4=16>>16 pens.\nIn all 16+16 = <<16+16=32>>32.\n#### 32"})
    (step,) = worked_equation("gsm8k", boxes)
    assert step.expression == "4 * 4 + 16" and step.thought.startswith("The boxes hold 4*4 pens.")
    lost = Item(id="l", question="q 2 3 5", answer="10",
                meta={"solution": "<<2*3=6>>6 then <<5+5=10>>10\n#### 10"})
    assert worked_equation("gsm8k", lost) is None
    # a number that is neither the question's nor an annotated result (worked out in the prose, outside
    # the annotations) makes no example: the student would learn to invent it
    tina = Item(id="t", question="Tina wins her first 10 fights, then 5 more, then doubles her wins, losing twice.",
                answer="28", meta={"solution": "She has 10+5 = <<10+5=15>>15 wins, then 30.\n"
                                               "So 30-2 = <<30-2=28>>28.\n#### 28"})
    assert worked_equation("gsm8k", tina) is None
    per_hour = Item(id="h", question="She earns 3 dollars a minute. How much in an hour?", answer="180",
                    meta={"solution": "3*60 = <<3*60=180>>180\n#### 180"})
    assert worked_equation("gsm8k", per_hour)[0].expression == "3 * 60"
    for broken in ({"solution": "<<2*=3>>3"}, {"equation": 7}, {"equation": "9" + " + 1" * 5000}):
        assert worked_equation("gsm8k" if "solution" in broken else "svamp",
                               Item(id="z", question="q", answer="3", meta=broken)) is None

    task = get_task("svamp")
    result = run_question(svamp.question, model=replay_model([worked_equation("svamp", svamp)[0]], svamp.question,
                                                             style="equation"),
                          model_spec="teacher:dataset,equation", task=task, item=svamp, tools=["calculator"])
    assert result.correct is True
    raws = [s.raw for s in open_store().get(result.run_id).steps if s.kind == "llm"]
    assert len(raws) == 2 and "Action Input: 9 - 4 + 6" in raws[0]
    assert raws[1] == " The calculator gave 11, so this answers the question.\nFinal Answer: 11"


def test_the_dataset_teacher_names_its_replay_style():
    from apprentice.training.teachers import parse_teacher

    assert parse_teacher("dataset").replay == "steps" and parse_teacher("dataset").label == "teacher:dataset"
    equation = parse_teacher("dataset,equation")
    assert equation.replay == "equation" and equation.label == "teacher:dataset,equation"
    with pytest.raises(ApprenticeError, match="steps, equation or tally, not 'tot'"):
        parse_teacher("dataset,tot")


def test_a_stored_replay_is_resumed_only_while_the_code_writes_the_same_text(monkeypatch):
    """The dataset teacher's model is its code: a pass resumes the replays an earlier pass stored, but not once the
    replay's wording has changed (session 48 trained on 13 thoughts an older tally wrote, "Still to use: 8.00",
    beside the harness's "8", because the worked steps alone keyed the stored runs)."""
    from apprentice.tasks import get_task
    from apprentice.training import replay
    from apprentice.training.teachers import parse_teacher, solve_pool

    task = get_task("arith", level=3, n=4, seed=7)  # two steps each: the tally's "Still to use" is written
    items = task.load(split="train")
    first = solve_pool(parse_teacher("dataset,tally"), task, items, student="local", meta={"distill": "w"})
    again = solve_pool(parse_teacher("dataset,tally"), task, items, student="local", meta={"distill": "w"})
    assert first["resumed"] == 0 and again["resumed"] == again["runs"] == len(items)
    monkeypatch.setattr(replay, "_listed", lambda numbers: "[" + ", ".join(numbers) + "]")
    reworded = solve_pool(parse_teacher("dataset,tally"), task, items, student="local", meta={"distill": "w"})
    assert reworded["resumed"] == 0 and reworded["solved"] == len(items)


def test_a_dataset_teacher_in_equation_style_solves_a_pool_in_one_call_per_item():
    from apprentice.tasks import get_task
    from apprentice.traces import open_store
    from apprentice.training.teachers import parse_teacher, solve_pool

    task = get_task("arith", level=4, n=6, seed=3)
    items = task.load(split="train")
    counts = solve_pool(parse_teacher("dataset,equation"), task, items, student="local", meta={"distill": "eq"})
    assert counts["solved"] == counts["runs"] == len(items)
    runs = [r for r in open_store().query(model="teacher:dataset,equation") if r.meta.get("distill") == "eq"]
    assert len(runs) == len(items) and all(r.meta["replay"] == "equation" and r.correct for r in runs)
    assert all(len([s for s in open_store().get(r.id).steps if s.kind == "llm"]) == 2 for r in runs)


@pytest.mark.slow
def test_a_self_teacher_rationalizes_its_failures_with_the_worked_solution(tmp_path):
    """STaR with worked solutions: an item the student's own attempt fails is replayed from its worked
    solution in the student's format (no hint run); the harvest pairs that replay (chosen) with the
    failed attempt (rejected) of the same question."""
    from apprentice.tasks import get_task
    from apprentice.traces import open_store
    from apprentice.training.harvest import HarvestConfig, harvest
    from apprentice.training.teachers import parse_teacher, solve_pool

    task = get_task("arith", level=3, n=6, seed=5)
    items = task.load(split="train")[:3]
    counts = solve_pool(parse_teacher("self"), task, items, student="local", meta={"distill": "rz"}, attempts=1,
                        rationalize="dataset,equation")
    attempts = open_store().query(model="teacher:self:local")
    replays = open_store().query(model="teacher:dataset,equation")
    failed = {r.item_id for r in attempts if not r.correct}
    assert len(attempts) == len(items) and all(r.meta["teacher"] == "self" for r in attempts)
    # every failed item (the 135M base fails nearly all two-step items) has exactly one verified replay
    assert {r.item_id for r in replays} == failed and all(r.correct for r in replays)
    assert all(r.meta["rationalizes"] == "self" and r.meta["replay"] == "equation" for r in replays)
    assert counts["rationalized"] == len(failed) and counts["solved"] == len(items)
    assert counts["runs"] == len(items) + len(failed)
    # nothing held out (a held-out question is in no pair), so every failed item is paired
    result = harvest(HarvestConfig(out=tmp_path / "d", tools=["calculator"], react_prompt="student",
                                   eval_fraction=0.0))
    pairs = [json.loads(line) for line in (tmp_path / "d" / "pairs.jsonl").read_text().splitlines()]
    assert result.pairs == len(pairs) >= 1
    replay_ids, failed_ids = {r.id for r in replays}, {r.id for r in attempts if not r.correct}
    assert all(p["metadata"]["chosen_run"] in replay_ids and p["metadata"]["rejected_run"] in failed_ids
               for p in pairs)


def test_a_bad_rationalize_value_is_a_clear_error():
    from apprentice.training.teachers import Teacher, parse_rationalize

    assert parse_rationalize("none") is None and parse_rationalize("hint") == Teacher("self")
    assert parse_rationalize("dataset,equation").replay == "equation"
    with pytest.raises(ApprenticeError, match="--rationalize is hint, dataset"):
        parse_rationalize("sometimes")
    with pytest.raises(ApprenticeError, match="steps, equation or tally"):
        parse_rationalize("dataset,tot")
