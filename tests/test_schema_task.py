"""The schema word-problem generator: determinism, disjoint splits, every schema and unknown, solutions the
calculator and the dataset teachers reproduce, distractors and number words that leave the answer alone."""

from __future__ import annotations

import ast
import json
import re
import sys
from collections import Counter
from fractions import Fraction
from pathlib import Path

import pytest

from apprentice.cli import main
from apprentice.errors import ApprenticeError
from apprentice.tasks import SchemaTask, get_task
from apprentice.tasks.arith import step_solution
from apprentice.tasks.extract import parse_number
from apprentice.tasks.schema import ROLES, SCHEMAS, TEMPLATES, UNKNOWNS
from apprentice.tasks.schema_data import NUMBER_WORDS, REASONS
from apprentice.tools.calculator import calculate
from apprentice.training.replay import _numbers, worked_equation, worked_steps

sys.path.insert(0, str(Path(__file__).parent))
from fake_openai_server import start_server  # noqa: E402

_LEVELS = (1, 2, 3)
_POOLS = {level: SchemaTask(level=level, n=300, seed=7).load() for level in _LEVELS}
_ALL = [item for items in _POOLS.values() for item in items]


def _leaves(equation: str) -> list[str]:
    """The numbers an equation computes with, as the replay writes them."""
    tree = ast.parse(equation, mode="eval")
    return [_numbers(str(node.value))[0] for node in ast.walk(tree) if isinstance(node, ast.Constant)]


def test_the_same_seed_gives_the_same_problems_and_another_seed_others():
    for level in _LEVELS:
        again = SchemaTask(level=level, n=300, seed=7).load()
        assert [(i.id, i.question, i.answer, i.meta) for i in again] == \
            [(i.id, i.question, i.answer, i.meta) for i in _POOLS[level]]
        other = {i.question for i in SchemaTask(level=level, n=300, seed=8).load()}
        assert len(other & {i.question for i in _POOLS[level]}) < 5
    assert len({i.id for i in _ALL}) == len(_ALL)  # ids are distinct within and across levels


def test_train_and_test_come_from_different_streams_and_never_share_a_question():
    task = SchemaTask(level=2, n=300, seed=3)
    test, train = task.load(split="test"), task.load(split="train")
    assert len(test) == len(train) == 300
    seen = {text for item in test for text in (item.question, item.meta.get("plain"))}
    assert not seen & {text for item in train for text in (item.question, item.meta.get("plain")) if text}
    assert task.load(split="test", seed=1)[0].question != test[0].question  # load's seed is another stream
    assert [i.question for i in task.load(split="train", limit=5)] == [i.question for i in train[:5]]


def test_every_schema_and_every_unknown_position_occurs_with_the_levels_counting_operations():
    one_step = {t.label for t in TEMPLATES if t.ops == 1}
    assert Counter(i.meta["schema"] + "." + i.meta["unknown"] for i in _POOLS[1]).keys() == one_step
    assert {label.split(".")[0] for label in one_step} == set(SCHEMAS)
    assert {"change", "start", "result"} <= {u.split(".")[1] for u in UNKNOWNS if u.startswith("separate")}
    assert {"difference", "compared", "referent"} <= {u.split(".")[1] for u in UNKNOWNS if u.startswith("compare")}
    assert {"product", "partitive", "quotitive"} <= {u.split(".")[1] for u in UNKNOWNS if u.startswith("groups")}
    two_step = {f"{i.meta['schema']}.{i.meta['unknown']}" for i in _POOLS[2]}
    assert {"fraction.rest", "compare.sum", "times.sum"} <= two_step
    for level, items in _POOLS.items():
        assert {len(i.meta["steps"]) for i in items} == {level}
        assert {i.meta["domain"] for i in items} >= ({"c", "$", "m", "p", "y", "r"} if level == 1 else {"c", "$"})
        for item in items[:100] if level > 1 else ():
            # a composition: the last step computes with an earlier step's result
            results = {s["result"] for s in item.meta["steps"][:-1]}
            assert {item.meta["steps"][-1]["a"], item.meta["steps"][-1]["b"]} & results, item.meta
    multi = Counter(len({s.split(".")[0] for s in i.meta["schemas"]}) > 1 for i in _POOLS[3])
    assert multi[True] > 200  # most three-step problems mix schemas


def test_the_question_wording_misleads_a_cue_word_reader():
    """"more" asking for a subtraction, "fewer" and "left" for an addition, "times" for a division."""
    ops = {(i.meta["schema"] + "." + i.meta["unknown"], i.meta["steps"][0]["op"]) for i in _POOLS[1]}
    assert {("compare.referent", "-"), ("compare.referent", "+"), ("separate.start", "+"), ("join.start", "-"),
            ("times.smaller", "/"), ("combine.part", "-"), ("fraction.whole", "*")} <= ops
    more = [i for i in _POOLS[1] if " more " in i.question and i.meta["steps"][0]["op"] == "-"]
    assert len(more) > 20


def test_every_worked_solution_computes_the_gold_answer_with_the_calculator():
    task = SchemaTask()
    for item in _ALL:
        assert calculate(item.meta["equation"]) == item.answer, item.meta
        for step in item.meta["steps"]:
            assert calculate(f"{step['a']} {step['op']} {step['b']}") == calculate(str(step["result"]))
            assert step["reason"] and "{" not in step["reason"]
        solution = step_solution(item.meta["steps"])
        assert task.check(item, task.extract(solution)).correct
        assert task.implausible(item.answer, item.question) is None, item.question  # whole counts, <= 2 decimals
        assert "{" not in item.question and item.question.endswith("?") and "  " not in item.question
    decimals = [i for i in _ALL if "." in i.answer]
    assert len(decimals) > 40 and any("$" in i.question for i in decimals) and any("meters" in i.question
                                                                                   for i in decimals)
    assert any(re.search(r"\b(half|a third|a quarter) of\b", i.question, re.IGNORECASE) for i in _POOLS[1])


def test_distractors_add_a_sentence_and_never_change_the_problem_or_its_answer():
    plain = SchemaTask(level=2, n=150, seed=4, distractors=0).load()
    decorated = SchemaTask(level=2, n=150, seed=4, distractors=1).load()
    for bare, item in zip(plain, decorated, strict=True):
        assert (item.answer, item.meta["equation"], item.meta["steps"]) == \
            (bare.answer, bare.meta["equation"], bare.meta["steps"])
        assert item.meta["plain"] == bare.question and "distractor" not in bare.meta
        sentence = item.meta["distractor"]
        assert item.question.replace(sentence + " ", "", 1) == bare.question
        extra = _numbers(sentence, words=True)
        assert len(extra) == 1 and extra[0] not in {*_leaves(bare.meta["equation"]), bare.answer}
        assert sentence in (item.question.split("? ")[0]) and not item.question.startswith(bare.question)
    same_kind = [i for i in decorated if any(t in i.meta["distractor"] for t in (" has $", " spent $", " years old"))
                 or i.meta["distractor"].endswith(i.question.split("How many ")[-1].split(" ")[0] + ".")]
    assert len(same_kind) > 20  # many distractors are quantities of the problem's own kind


def test_number_words_are_read_by_the_replay_and_no_number_is_left_unused():
    task = SchemaTask()
    wordy = SchemaTask(level=2, n=200, seed=9, words=1, distractors=0).load()
    assert sum(i.meta["number_words"] > 0 for i in wordy) > 100
    assert any("a dozen" in i.question or " dozen " in i.question for i in wordy)
    assert set(NUMBER_WORDS.values()) <= {w.lower() for i in wordy for w in re.findall(r"[a-zA-Z]+", i.question)}
    for item in wordy + SchemaTask(level=3, n=200, seed=9, distractors=0).load():
        read = _numbers(item.question, words=True)
        used = _leaves(item.meta["equation"])
        unread = set(used) - set(read)
        # a third / a quarter are the only numbers the replay's reading misses
        assert unread <= {"3", "4"} and (not unread or re.search(r"a (third|quarter)", item.question)), item.question
        assert set(read) <= set(used), item.question  # no stray number word in any wording
        assert task.extract(step_solution(item.meta["steps"])) == item.answer


def test_the_dataset_and_equation_teachers_replay_the_items_through_the_calculator():
    from apprentice.traces import open_store
    from apprentice.training.teachers import parse_teacher, solve_pool

    task = SchemaTask(level=1, n=60, seed=2, words=0.5, distractors=0.5)
    items = [*task.load()[:24], *SchemaTask(level=3, n=12, seed=2, words=0.5, distractors=0.5).load()]
    assert {i.meta["schema"] for i in items} == set(SCHEMAS)
    for item in items:
        steps, equation = worked_steps(task.name, item), worked_equation(task.name, item)
        assert len(steps) == len(item.meta["steps"]) and len(equation) == 1
        assert calculate(equation[0].expression) == item.answer
    for style in ("dataset", "dataset,equation"):
        counts = solve_pool(parse_teacher(style), task, items, student="local", meta={"distill": "schema"})
        assert counts["solved"] == counts["runs"] == len(items) and counts["errors"] == 0
    runs = open_store().query(model="teacher:dataset")
    assert len(runs) == len(items) and all(run.task == "schema" and run.correct for run in runs)


def test_the_registry_builds_it_for_the_eval_command(tmp_path):
    assert get_task("schema", level=2, n=5, schemas="compare,times").schemas == ("compare", "times")
    with pytest.raises(ApprenticeError, match="does not take"):
        get_task("schema", distractor_kind="same")
    server = start_server(latency_s=0.0)
    try:
        assert main(["eval", "--task", "schema", "--level", "1", "--limit", "2", "--strategy", "cot",
                     "--fewshot", "2", "--model", f"openai:fake@{server.url}", "--no-progress",
                     "--report", str(tmp_path / "r")]) == 0
    finally:
        server.shutdown()
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert report["task"] == "schema" and report["task_options"]["level"] == 1
    (rows,) = report["items"].values()
    expected = get_task("schema", level=1).load(limit=2)
    assert [r["item_id"] for r in rows] == [i.id for i in expected]
    assert [r["correct"] for r in rows] == [parse_number(i.answer) == Fraction(42) for i in expected]


def test_schemas_pick_the_problems_and_bad_options_are_refused():
    for level in _LEVELS:
        items = SchemaTask(level=level, n=40, seed=1, schemas=("fraction",)).load()
        assert all(any(s.startswith("fraction.") for s in i.meta["schemas"]) for i in items)
    for options, message in (({"level": 4}, "level"), ({"n": 0}, "n >= 1"), ({"schemas": "plus"}, "unknown schema"),
                             ({"words": 2}, "share"), ({"distractors": -1}, "share")):
        with pytest.raises(ApprenticeError, match=message):
            SchemaTask(**options)
    with pytest.raises(ApprenticeError, match="reads no data file"):
        SchemaTask().load("x.jsonl")


def test_templates_are_well_formed():
    """Each schema and asked role has a reason; an opening sentence states only its role and nothing else does;
    a story that others go on from asks with no number of its own in the question."""
    for t in TEMPLATES:
        roles = ROLES[t.schema][1]
        assert (t.schema, t.asks) in REASONS and (t.asks in roles or t.asks in ("rest", "sum")), t
        slots = [set(re.findall(r"\{(\w+)\}", s.lower())) & set(roles) for s in t.sentences]
        assert t.asks not in set().union(*slots), t
        if t.open:
            assert slots[0] == {t.open} and not any(t.open in s for s in slots[1:]), t
        if t.state:
            assert not set(re.findall(r"\{(\w+)\}", t.question.lower())) & set(roles), t


def test_the_fewshot_pool_is_four_solved_problems_off_the_test_split():
    task = SchemaTask(level=2, n=50)
    pool = task.fewshot_pool()
    test = {i.question for i in task.load()}
    assert len(pool) == 4 and not {q for q, _ in pool} & test
    assert all(solution.endswith(task.extract(solution)) and "Final Answer:" in solution for _, solution in pool)
