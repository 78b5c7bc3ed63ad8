"""Property tests of the parsers that read untrusted text: a model's ReAct step, and a user's batch input file.
Whatever comes in, they answer (a step with a problem named, items, or one clear DataError), never crash."""

from __future__ import annotations

import json
import string
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apprentice.agents.react import final_answer_start, parse_react
from apprentice.batch.inputs import TaskConfig, read_items
from apprentice.errors import ApprenticeError

_WORDS = st.sampled_from(["Thought:", "Action:", "Action Input:", "Final Answer:", "Observation:", "**", "`",
                          "calculator", "\n", " ", "12*7", "{", "}", '"name"', ":", "(", ")", "=", "84", "é", "\x00"])
_STEPS = st.one_of(st.text(max_size=300), st.lists(_WORDS, max_size=40).map("".join))


@settings(max_examples=400, deadline=None)
@given(_STEPS)
def test_any_model_output_parses_to_a_step_or_a_named_problem(text):
    step = parse_react(text, tools=["calculator", "web_search"])
    assert step.final_answer is not None or step.tool is not None or step.problem
    if step.final_answer is not None:
        assert step.final_answer.strip() and step.tool is None
    if step.tool is not None and step.problem is None:
        assert step.tool_input is not None


@settings(max_examples=400, deadline=None)
@given(_STEPS)
def test_the_streaming_reader_sees_a_final_answer_where_the_parser_does(text):
    """The chat server streams an answer from where ``final_answer_start`` says it begins: that must be a turn
    the parser reads as a final answer (or an empty one), never an action."""
    step = parse_react(text, tools=["calculator", "web_search"])
    start = final_answer_start(text)
    assert (start is not None) == (step.final_answer is not None or step.problem == "the final answer is empty")
    if step.final_answer is not None:
        assert step.final_answer in text[start:] or step.final_answer.strip("`* ") in text[start:]


_LINES = st.lists(st.one_of(
    st.text(alphabet=string.printable, max_size=60),
    st.fixed_dictionaries({"question": st.text(max_size=30)},
                          optional={"id": st.one_of(st.text(max_size=5), st.integers(), st.none()),
                                    "answer": st.one_of(st.text(max_size=5), st.integers(), st.floats(),
                                                        st.lists(st.integers(), max_size=2), st.none())})
    .map(lambda d: __import__("json").dumps(d))), max_size=8)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=_LINES, raw=st.binary(max_size=40))
def test_any_input_file_reads_to_items_or_one_clear_error(tmp_path, lines, raw):
    path = tmp_path / "in.jsonl"
    path.write_bytes("\n".join(lines).encode() + raw)
    try:
        items = read_items(path, TaskConfig(answer_kind="number"))
    except ApprenticeError as exc:
        assert str(exc).strip() and "\n" not in str(exc).strip()
        return
    ids = [item.id for item in items]
    assert len(ids) == len(set(ids))  # every item its own id, renamed duplicates included


def test_a_line_separator_inside_a_json_string_keeps_its_row_whole_in_every_jsonl_reader(tmp_path):
    """JSON keeps U+2028, U+2029 and U+0085 raw inside a string (``ensure_ascii=False`` writes them so; a GSM8K
    train question has U+2028), and ``str.splitlines`` cuts a line there: a distill round's SFT stopped on its own
    harvest ("train.jsonl:1888: not a chat example"). Every reader of the JSON-lines files the product writes or
    takes splits at newlines only."""
    from apprentice.batch.output import load_done
    from apprentice.tasks.base import read_records
    from apprentice.training.dpo import load_pairs
    from apprentice.training.sft import load_chat_split

    text = "Clive opens a box of balls.\u2028 It holds 6 blue\u2029 and 4 red\x85 balls. How many balls?"

    def jsonl(name: str, *rows: dict) -> Path:
        path = tmp_path / name
        path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
        return path

    chat = [{"role": "user", "content": text}, {"role": "assistant", "content": "Final Answer: 10"}]
    jsonl("train.jsonl", {"messages": chat}, {"messages": chat})
    jsonl("pairs.jsonl", {"prompt": chat[:1], "chosen": chat[1:], "rejected": chat[1:]})
    assert [row["messages"][0]["content"] for row in load_chat_split(tmp_path, "train")] == [text, text]
    assert [row["prompt"][0]["content"] for row in load_pairs(tmp_path)] == [text]

    questions = jsonl("questions.jsonl", {"id": "q1", "question": text, "answer": 10}, {"question": "2 + 2?"})
    assert [item.question for item in read_items(questions, TaskConfig(answer_kind="number"))] == [text, "2 + 2?"]
    assert [record.row["question"] for record in read_records(questions)] == [text, "2 + 2?"]

    done = jsonl("out.jsonl", {"id": "q1", "status": "ok", "answer": text}, {"id": "q2", "status": "ok"})
    assert load_done(done)["q1"]["answer"] == text
    assert done.read_text(encoding="utf-8").count("\n") == 2  # nothing "repaired" away
