"""Tasks: the registry, answer extractors and checkers, the loaders on the real shared files, jsonl."""

from __future__ import annotations

import json
import sys
import types
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apprentice.errors import ApprenticeError, DataError
from apprentice.tasks import TASK_NAMES, Item, get_task, split_items
from apprentice.tasks.base import data_root, select_items
from apprentice.tasks.extract import (
    FEVER_LABELS,
    YES_NO,
    check_numeric,
    check_text,
    extract_label,
    extract_number,
    extract_text,
    f1_score,
    format_number,
    normalize_number,
    normalize_text,
)
from apprentice.tasks.qa import date_aliases

DATA = Path(__file__).parents[1].parent / "shared" / "data"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason="shared data not present")

# ---------------------------------------------------------------------------- registry


def test_registry_names_and_errors():
    assert TASK_NAMES == ("gsm8k", "svamp", "game24", "hotpotqa", "bamboogle", "fever", "strategyqa", "arith", "schema", "jsonl")
    for name in TASK_NAMES:
        task = get_task(name)
        assert task.name == name and task.answer_format.endswith(".") and task.checker
    with pytest.raises(ApprenticeError, match="gsm8k, svamp, game24"):
        get_task("mmlu")
    with pytest.raises(ApprenticeError, match="valid options: level, n, seed"):
        get_task("arith", depth=3)
    with pytest.raises(ApprenticeError, match="valid options: level"):
        get_task("gsm8k", kind="text")
    with pytest.raises(ApprenticeError, match="valid options: none"):
        get_task("svamp", kind="text")
    with pytest.raises(ApprenticeError, match="number of steps of 1 or more"):
        get_task("gsm8k", level=0)
    assert get_task("ARITH", level=3, n=None).level == 3
    with pytest.raises(ApprenticeError, match="kind"):
        get_task("jsonl", kind="float")


# ---------------------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Final Answer: 42", "42"),
        ("The answer is $1,234.50.", "1234.50"),
        ("Natalia sold 48/2 = <<48/2=24>>24 clips in May.\n#### 72", "72"),
        ("so the result is \\boxed{7}.", "7"),
        ("She has 12 apples left.", "12"),
        ("The temperature drops to -7 degrees.", "-7"),
        ("He ate 3/4 of the pie, so the answer is 3/4.", "3/4"),
        ("**Final Answer:** $\\frac{5}{2}$", "5/2"),
        ("Final Answer: 5 + 7 = 12 apples", "12"),
        ("The answer is 18.\n\nI hope this helps with 3 more questions.", "18"),
        ("Step 1: 2 + 3 = 5\nStep 2: 5 * 4 = 20\nFinal Answer:\n20", "20"),
        ("Final Answer: −3", "-3"),
        ("Between 3-4 hours, roughly 12 km", "12"),
        ("no digits here", None),
        ("", None),
    ],
)
def test_extract_number(text, expected):
    assert extract_number(text) == expected


@pytest.mark.parametrize(
    ("answer", "canonical"),
    [("84.0", "84"), ("$84", "84"), ("84 dollars", "84"), ("1,080", "1080"), ("0.50", "0.5"), ("3/4", "0.75"),
     ("1/3", "1/3"), ("-12.00", "-12"), ("seven", None), (None, None)],
)  # fmt: skip
def test_normalize_number(answer, canonical):
    assert normalize_number(answer) == canonical


@settings(max_examples=100, deadline=None)
@given(st.integers(-(10**9), 10**9), st.integers(0, 4), st.sampled_from(["Final Answer: {}", "The answer is {}.",
       "#### {}", "\\boxed{{{}}}", "So she pays ${} in all.", "{}"]))  # fmt: skip
def test_numbers_round_trip(value, decimals, template):
    number = Fraction(value, 10**decimals)
    text = template.format(format_number(number))
    assert normalize_number(extract_number(text)) == format_number(number)
    assert check_numeric(format_number(number), text).correct


def test_numeric_check_tolerance():
    assert check_numeric("0.3333333", "1/3").correct
    assert check_numeric("1000000", "1000000.5").correct  # within 1e-6 relative
    assert not check_numeric("100", "100.5").correct
    verdict = check_numeric("72", "I think it is 70")
    assert (verdict.correct, verdict.score, verdict.checker) == (False, 0.0, "numeric") and "72" in verdict.reason
    assert "no number" in check_numeric("72", None).reason


# ---------------------------------------------------------------------------- text and labels


def test_squad_normalisation_and_f1():
    assert normalize_text("The  Beatles!") == "beatles"
    assert normalize_text("“Toghon Temür”, an emperor.") == "toghon temür emperor"
    assert f1_score("Seth MacFarlane", "seth macfarlane") == 1.0
    assert f1_score("Bill Clinton", "Hillary Clinton") == pytest.approx(0.5)
    assert f1_score("", "x") == 0.0


@pytest.mark.parametrize(
    ("gold", "prediction", "correct"),
    [
        ("Seth MacFarlane", "seth macfarlane.", True),
        ("Seth MacFarlane", "It was created by Seth MacFarlane", True),  # contained, short
        ("1999", "19999", False),  # token containment, not substring
        ("torpedoes", "the torpedoes that the ships carried into battle near the coast", False),  # too long
        ("Bill Clinton", "Hillary Clinton", False),
        ("no", "No", True),
    ],
)
def test_text_check_rule(gold, prediction, correct):
    verdict = check_text(gold, prediction)
    assert verdict.correct is correct and verdict.checker == "em-f1"
    assert 0.0 <= verdict.score <= 1.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Thought: I know it.\nAction: Finish[Seth MacFarlane]", "Seth MacFarlane"),
        ("Reasoning...\nFinal Answer: **Beyond the Clouds**.", "Beyond the Clouds"),
        ("So the answer is: 1909.", "1909"),
        ("Just one line", "Just one line"),
        ("", None),
    ],
)
def test_extract_text(text, expected):
    assert extract_text(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Final Answer: SUPPORTS", "SUPPORTS"),
        ("The claim is supported by the article.", "SUPPORTS"),
        ("Answer: REFUTES (the band is from Tennessee)", "REFUTES"),
        ("The evidence does not support this, so it is false.", "REFUTES"),
        ("This is not true.", "REFUTES"),
        ("I found nothing about it. Final Answer: Not enough info", "NOT ENOUGH INFO"),
        ("The claim is unverifiable.", "NOT ENOUGH INFO"),
        ("Finish[NOT ENOUGH INFO]", "NOT ENOUGH INFO"),
        ("I am not sure.", None),
    ],
)
def test_extract_fever_label(text, expected):
    assert extract_label(text, FEVER_LABELS) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("Final Answer: Yes.", "yes"), ("So the answer is no", "no"), ("That is false.", "no"), ("True", "yes"),
     ("There is no reason to doubt it, so yes.", "yes"), ("Not notable", None)],
)  # fmt: skip
def test_extract_yes_no(text, expected):
    assert extract_label(text, YES_NO) == expected


# ---------------------------------------------------------------------------- loaders on the real files

REAL = [
    ("gsm8k", 7473), ("svamp", 1000), ("game24", 1262), ("hotpotqa", 500), ("fever", 500),
    ("bamboogle", 125), ("strategyqa", 229),
]  # fmt: skip


@needs_data
@pytest.mark.parametrize(("name", "rows"), REAL)
def test_real_files_load(name, rows):
    task = get_task(name)
    items = task.load(DATA)
    assert len(items) == rows
    assert len({item.id for item in items}) == rows
    assert all(item.question.strip() for item in items)
    assert task.load(DATA / task.default_file, limit=5) == items[:5]
    pool = task.fewshot_pool()
    assert 4 <= len(pool) <= 8
    for question, solution in pool:
        assert question and solution.splitlines()[-1].startswith("Final Answer:")
        assert task.extract(solution) is not None


@needs_data
def test_real_file_details():
    gsm = get_task("gsm8k").load(DATA)
    assert gsm[0].answer == "72" and "<<48/2=24>>" in gsm[0].meta["solution"]
    assert all("," not in item.answer for item in gsm) and {"-7", "-47", "-12"} <= {i.answer for i in gsm}
    svamp = get_task("svamp").load(DATA)
    assert svamp[0].id == "chal-1" and svamp[0].answer == "51" and svamp[0].meta["equation"] == "( 76.0 - 25.0 )"
    assert svamp[0].question.endswith("on each pack How much do you have to pay to buy each pack?")
    fever = get_task("fever").load(DATA)
    assert {item.answer for item in fever} == {"SUPPORTS", "REFUTES", "NOT ENOUGH INFO"}
    assert fever[0].question == "Claim: Paramore is not from Tennessee."
    strategy = get_task("strategyqa").load(DATA)
    assert {item.answer for item in strategy} == {"yes", "no"} and strategy[0].meta["facts"]
    bamboogle = {item.question: item for item in get_task("bamboogle").load(DATA)}
    ehrlich = bamboogle["When was the author of The Population Bomb born?"]
    assert ehrlich.answer == "29-May-32" and get_task("bamboogle").check(ehrlich, "May 29, 1932").correct
    assert date_aliases("6-Nov-05")[:2] == ["November 6, 1905", "6 November 1905"] and date_aliases("1999") == []


@needs_data
def test_gsm8k_by_number_of_steps_keeps_each_problem_on_its_side_of_the_split():
    from apprentice.tasks.gsm8k import solution_steps

    one = get_task("gsm8k", level=1)
    assert len(one.load(DATA)) == 404  # the worked solutions with exactly one <<a*b=c>> annotation
    for split in ("train", "test"):
        every = {item.id for item in get_task("gsm8k").load(DATA, split=split)}
        chosen = one.load(DATA, split=split)
        assert chosen and {item.id for item in chosen} <= every
        assert all(solution_steps(item.meta["solution"]) == 1 for item in chosen)
    assert [i.id for i in one.load(DATA, split="test", limit=5)] == [i.id for i in one.load(DATA, split="test")[:5]]
    assert solution_steps("48/2 = <<48/2=24>>24 then <<48+24=72>>72\n#### 72") == 2
    with pytest.raises(DataError, match="no gsm8k problems of 40 steps"):
        get_task("gsm8k", level=40).load(DATA)


@needs_data
def test_numeric_gold_answers_check_against_themselves():
    for name in ("gsm8k", "svamp"):
        task = get_task(name)
        for item in task.load(DATA, limit=300):
            assert task.grade(item, f"... so the answer is {item.answer}.").correct


def test_default_paths(monkeypatch, tmp_path):
    monkeypatch.setenv("APPRENTICE_DATA", str(tmp_path))
    assert data_root() == tmp_path
    with pytest.raises(DataError, match=r"gsm8k/train\.jsonl: data file not found"):
        get_task("gsm8k").load()
    monkeypatch.delenv("APPRENTICE_DATA")
    assert data_root().name == "data"


# ---------------------------------------------------------------------------- jsonl


def _write(tmp_path, lines, name="q.jsonl"):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_jsonl_kinds(tmp_path):
    path = _write(tmp_path, [json.dumps({"q": "2+2?", "a": "4.0", "key": 7}), json.dumps({"q": "3*3?", "a": "9"})])
    task = get_task("jsonl", question_field="q", answer_field="a", id_field="key", kind="number")
    items = task.load(path)
    assert [(i.id, i.answer) for i in items] == [("7", "4"), (items[1].id, "9")] and items[1].id.startswith("jsonl-")
    assert task.check(items[0], task.extract("Final Answer: $4")).correct
    labels = _write(tmp_path, [json.dumps({"question": "x", "answer": "Positive"}),
                               json.dumps({"question": "y", "answer": "negative"})], "l.jsonl")  # fmt: skip
    label_task = get_task("jsonl", kind="label")
    first = label_task.load(labels)[0]
    assert label_task.extract("I would say NEGATIVE... no wait, positive") == "Positive"
    assert label_task.grade(first, "Final Answer: positive").correct
    text_task = get_task("jsonl")
    assert text_task.grade(text_task.load(labels)[1], "Answer: Negative.").checker == "em-f1"


def test_jsonl_answers_may_be_left_out_where_they_are_optional(tmp_path):
    """A distill pool reads its rows with require_answer=False: a missing, null, empty or [] answer is no gold
    answer (its item cannot be checked); a given one is still read and checked as its kind says."""
    rows = [{"question": "a", "answer": "1"}, {"question": "b"}, {"question": "c", "answer": None},
            {"question": "d", "answer": " "}, {"question": "e", "answer": []}]
    path = _write(tmp_path, [json.dumps(row) for row in rows])
    task = get_task("jsonl", kind="number", require_answer=False)
    items = task.load(path)
    assert [i.answer for i in items] == ["1", None, None, None, None]
    assert task.can_check(items[0]) and not task.can_check(items[1])
    with pytest.raises(DataError, match=r"q\.jsonl:2: missing field 'answer'"):
        get_task("jsonl", kind="number").load(path)
    bad = _write(tmp_path, [json.dumps({"question": "f", "answer": "many"})], "bad.jsonl")
    with pytest.raises(DataError, match=r"bad\.jsonl:1: answer 'many' is not a number"):
        task.load(bad)


def test_a_jsonl_row_without_an_answer_is_never_held_out(tmp_path):
    """A file that is both a distill pool and its held-out set: the test split is a fifth of the answered rows
    (read with answers required, as an eval does), the pool's train split the rest and every row without one; a
    file where every row has its answer splits as before."""
    rows = [{"id": f"r{i}", "question": f"q{i}", **({"answer": str(i)} if i % 3 else {})} for i in range(30)]
    path = _write(tmp_path, [json.dumps(row) for row in rows])
    held = get_task("jsonl", kind="number").load(path, split="test", seed=3)
    pool = get_task("jsonl", kind="number", require_answer=False).load(path, split="train", seed=3)
    answered = [item for item in get_task("jsonl", kind="number", require_answer=False).load(path) if item.answer]
    assert len(held) == 4 and all(item.answer for item in held)  # a fifth of the 20 answered rows
    assert {item.id for item in held} == {item.id for item in select_items(answered, split="test", seed=3)}
    assert sorted(item.id for item in held + pool) == sorted(row["id"] for row in rows)
    assert [item.id for item in get_task("jsonl").load(path, split="test", seed=3, limit=2)] == \
        [item.id for item in held[:2]]
    full = _write(tmp_path, [json.dumps({**row, "answer": "1"}) for row in rows], "full.jsonl")
    every = get_task("jsonl").load(full)
    for split in ("train", "test"):
        assert get_task("jsonl", require_answer=False).load(full, split=split, seed=3) == \
            select_items(every, split=split, seed=3)
    with pytest.raises(DataError, match=r"q\.jsonl:1: missing field 'answer'"):  # an eval of the train split
        get_task("jsonl").load(path, split="train")


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (['{"question": "a", "answer": "1"}', '{"question": "b", "answer": '], r"q\.jsonl:2: bad JSON"),
        (['{"question": "a", "answer": "1"}', "", '{"answer": "2"}'], r"q\.jsonl:3: missing field 'question'"),
        (['{"question": "a"}'], r"q\.jsonl:1: missing field 'answer'"),
        (['["a", "b"]'], r"q\.jsonl:1: expected a JSON object"),
    ],
)
def test_jsonl_malformed(tmp_path, lines, message):
    with pytest.raises(DataError, match=message):
        get_task("jsonl").load(_write(tmp_path, lines))


def test_jsonl_missing_and_absent_paths(tmp_path):
    with pytest.raises(DataError, match="needs a data file"):
        get_task("jsonl").load()
    with pytest.raises(DataError, match="not found"):
        get_task("jsonl").load(tmp_path / "nope.jsonl")
    with pytest.raises(DataError, match="not a number"):
        get_task("jsonl", kind="number").load(_write(tmp_path, ['{"question": "a", "answer": "many"}']))
    unanswered = get_task("jsonl", answer_field="").load(_write(tmp_path, ['{"question": "a"}']))
    assert unanswered[0].answer is None


def test_huggingface_ids(monkeypatch):
    fake = types.ModuleType("datasets")

    def load_dataset(name, config=None, split=None, cache_dir=None):
        if name == "offline/thing":
            raise ConnectionError("Couldn't reach the Hub")
        assert (name, config, split) == ("openai/gsm8k", "main", "test")
        return [{"question": "1+1?", "answer": "1+1=2\n#### 2"}]

    fake.load_dataset = load_dataset
    monkeypatch.setitem(sys.modules, "datasets", fake)
    assert get_task("gsm8k").load("openai/gsm8k:main", split="test")[0].answer == "2"
    with pytest.raises(DataError, match="offline/thing: not a local file.*Couldn't reach"):
        get_task("hotpotqa").load("offline/thing")


# ---------------------------------------------------------------------------- selection


def _items(n):
    return [Item(f"id-{i % (n // 2)}", f"q{i}", str(i)) for i in range(n)]


def test_split_items_is_deterministic_and_grouped():
    items = _items(40)
    train, heldout = split_items(items, 0.25, seed=1)
    assert split_items(items, 0.25, seed=1) == (train, heldout)
    assert len(train) + len(heldout) == 40 and len({i.id for i in heldout}) == 5
    assert not {i.id for i in train} & {i.id for i in heldout}
    assert split_items(items, 0.25, seed=2) != (train, heldout)
    with pytest.raises(ApprenticeError):
        split_items(items, 1.5)


def test_select_items():
    items = [Item(f"id-{i}", f"q{i}", None) for i in range(20)]
    assert select_items(items, limit=3) == items[:3]  # file order by default
    shuffled = select_items(items, seed=4)
    assert shuffled != items and sorted(shuffled, key=lambda i: int(i.id[3:])) == items
    test = select_items(items, split="test")
    assert len(test) == 4 and len(select_items(items, split="train")) == 16
    with pytest.raises(ApprenticeError, match="unknown split"):
        select_items(items, split="dev")


def test_jsonl_reads_a_list_of_one_answer_and_judges_numbers_as_the_benchmarks_do(tmp_path):
    rows = [{"iIndex": 1, "sQuestion": "Joan had 70 shells and gave away 27. How many shells are left?",
             "lSolutions": [43.0]}]
    path = tmp_path / "addsub.json"
    path.write_text(json.dumps(rows), encoding="utf-8")
    task = get_task("jsonl", question_field="sQuestion", answer_field="lSolutions", id_field="iIndex", kind="number")
    (item,) = task.load(path)
    assert (item.id, item.answer) == ("1", "43") and task.check(item, "43.0").correct
    assert task.implausible("-43", item.question) == get_task("svamp").implausible("-43", item.question)
    assert "not a whole number" in task.implausible("0.5", item.question)
    assert task.implausible("43", item.question) is None
    assert get_task("jsonl").implausible("-43", item.question) is None  # text answers have no such rule
    rows[0]["lSolutions"] = [43.0, 2.0]
    path.write_text(json.dumps(rows), encoding="utf-8")
    with pytest.raises(DataError, match=r"addsub\.json: entry 0: field 'lSolutions' holds 2 values, not one answer"):
        task.load(path)
    qa = tmp_path / "qa.json"  # a text answer's list: the answer, then its aliases
    qa.write_text(json.dumps([{"question": "Who wrote Hamlet?", "answer": ["William Shakespeare", "Shakespeare"]}]))
    text_task = get_task("jsonl")
    (named,) = text_task.load(qa)
    assert named.answer == "William Shakespeare" and text_task.check(named, "Shakespeare").correct
