"""The ReAct solver role: its prompts and a forgiving parser for the text action protocol.

Small local models rarely write the protocol cleanly, so the parser accepts the common
deviations (markdown bold, ``Action: calculator(12*7)``, a JSON tool call, quotes around the
input, lower case) and reports what it could not read so the graph can feed it back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.tools import BaseTool

__all__ = [
    "ReactStep",
    "parse_react",
    "text_protocol_messages",
    "earlier_turns",
    "stands_alone",
    "native_system_prompt",
    "format_observation",
    "FORMAT_ERROR",
    "UNKNOWN_TOOL_ERROR",
    "STOP_SEQUENCES",
    "REACT_PROMPTS",
    "STUDENT_PROMPTS",
    "TALLY_PROMPTS",
    "FORCE_ANSWER",
    "final_answer_start",
]

TEXT_SYSTEM = """Answer the question as well as you can. You have access to these tools:

{tools}

Use exactly this format:

Thought: reason about what to do next
Action: the tool to use, one of [{names}]
Action Input: the input to the tool
Observation: the tool's result
... (Thought/Action/Action Input/Observation can repeat)
Thought: I now know the final answer
Final Answer: the final answer to the question{answer_format}"""

#: Prompt erasure (Orca): a student trained on this short prompt runs with it; the full format
#: description above is for models that have to be told (the short one is about half as long).
STUDENT_SYSTEM = """Solve it one step at a time with these tools:
{tools}
Write Thought, Action (one of [{names}]), Action Input; after each Observation go on, or end with \
Final Answer.{answer_format}"""

#: The student's prompt where the harness writes, after each calculator result, the question's numbers no
#: calculator input has used yet (``apprentice.agents.tally``): the student reads them to go on or answer.
TALLY_SYSTEM = """Solve it one step at a time with these tools:
{tools}
Write Thought, Action (one of [{names}]), Action Input; after each Observation and the numbers not used yet, go \
on, or end with Final Answer.{answer_format}"""

#: The text-protocol system prompts by name; a model's ``react_prompt`` picks one.
REACT_PROMPTS = {"full": TEXT_SYSTEM, "student": STUDENT_SYSTEM, "tally": TALLY_SYSTEM}
#: The prompts a student trained with prompt erasure runs with (one question per conversation).
STUDENT_PROMPTS = frozenset({"student", "tally"})
#: The prompts with which the harness writes the tally after each calculator result.
TALLY_PROMPTS = frozenset({"tally"})

NATIVE_SYSTEM = """Answer the question as well as you can. Call the tools when they help; \
when you know the answer, reply with it directly, starting with "Final Answer:".{answer_format}"""

SUMMARY_PREFIX = "Summary of the earlier conversation:\n"
EARLIER_PREFIX = "Earlier in this conversation:\n"

#: Fed back as an observation when a step cannot be read (STYLE rule 3: errors go to the model).
FORMAT_ERROR = (
    "Error: I could not read your last step ({problem}). Write 'Action: <tool>' and "
    "'Action Input: <input>', or 'Final Answer: <answer>'. Please fix your mistakes."
)
UNKNOWN_TOOL_ERROR = "Error: {tool!r} is not an available tool; choose from [{names}]. Please fix your mistakes."

#: Generation stops before the model invents its own observation.
STOP_SEQUENCES = ["\nObservation:", "Observation:"]

#: Appended when the step limit is reached, so the model must commit to an answer.
FORCE_ANSWER = " I have used all my steps, so I answer now.\nFinal Answer:"

_FIELD = r"(?:\*\*|__)?\s*{name}\s*(?:\*\*|__)?\s*:\s*(?:\*\*|__)?"
_FINAL_RE = re.compile(_FIELD.format(name=r"final\s+answer"), re.IGNORECASE)
_ACTION_RE = re.compile(r"^\s*" + _FIELD.format(name="action") + r"[ \t]*(?P<tool>[^\n]*)",
                        re.IGNORECASE | re.MULTILINE)
_INPUT_RE = re.compile(_FIELD.format(name=r"action\s+input") + r"[ \t]*(?P<input>.*)", re.IGNORECASE | re.DOTALL)
_THOUGHT_RE = re.compile(r"^\s*" + _FIELD.format(name="thought"), re.IGNORECASE)
_CALL_RE = re.compile(r"^(?P<tool>[A-Za-z_][\w-]*)\s*\((?P<input>.*)\)\s*$", re.DOTALL)
_PROTOCOL_LINE = re.compile(r"^(\s*)(thought|action|action input|observation|final answer)\s*:",
                            re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class ReactStep:
    """What one model turn said: a thought plus either an action or a final answer (or neither)."""

    thought: str
    tool: str | None = None
    tool_input: str | None = None
    final_answer: str | None = None
    problem: str | None = None


def _clean(value: str) -> str:
    value = value.strip().strip("`").strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1].strip()
    for mark in ("**", "__"):
        # bold around the value ("**84**"), or the half of it left when a field pattern took its other half
        # ("Final Answer: **84**" reads as ": **" + "84**")
        if value.count(mark) == 1 and (value.startswith(mark) or value.endswith(mark)):
            value = value.replace(mark, "").strip()
        elif value.count(mark) == 2 and value.startswith(mark) and value.endswith(mark) and len(value) > 4:
            value = value[2:-2].strip()
    return value


def _json_call(text: str) -> tuple[str, str] | None:
    """A JSON tool call such as ``{"name": "calculator", "arguments": {"expression": "2+2"}}``."""
    start = text.find("{")
    if start < 0:
        return None
    try:
        obj, _ = json.JSONDecoder().raw_decode(text[start:])
    except ValueError:
        return None
    if not isinstance(obj, dict):
        return None
    name = obj.get("name") or obj.get("tool") or obj.get("action")
    args = obj.get("arguments", obj.get("args", obj.get("input", obj.get("action_input"))))
    if not isinstance(name, str):
        return None
    if isinstance(args, dict):
        args = next(iter(args.values()), "") if len(args) == 1 else json.dumps(args)
    return name, "" if args is None else str(args)


_ARITH_RE = re.compile(r"^[\d\s.,+\-*/×÷x^()%$]+(=.*)?$")


def _infer_tool(raw: str, tool_input: str | None, tools: Sequence[str]) -> tuple[str, str] | None:
    """Recover an action whose tool name is missing or glued to its input.

    ``calculator 12*7`` / ``calculator: 12*7`` name the tool before the input; a bare
    ``12 * 7 = 80`` is an arithmetic expression meant for the calculator.
    """
    head, _, rest = raw.replace(":", " ", 1).partition(" ")
    name = head.strip("[]*`").lower()
    if name in tools and rest.strip() and tool_input is None:
        return name, _clean(rest)
    if tool_input is None and "calculator" in tools and _ARITH_RE.match(raw) and any(c.isdigit() for c in raw):
        return "calculator", raw.split("=")[0].strip()
    return None


def final_answer_start(text: str) -> int | None:
    """Where the answer of a final-answer turn begins (just past its ``Final Answer:`` marker), or None while
    the turn is no final answer: no marker yet, or an ``Action:`` before it (a streaming reader's test)."""
    final, action = _FINAL_RE.search(text), _ACTION_RE.search(text)
    if not final or (action and action.start() < final.start()):
        return None
    return final.end()


def parse_react(text: str, tools: Sequence[str] = ()) -> ReactStep:
    """Read one turn of the text protocol. Never raises: ``problem`` says what was missing.

    ``tools`` (the allowed names) lets the parser recover actions small models garble.
    """
    final = _FINAL_RE.search(text)
    action = _ACTION_RE.search(text)
    head_end = min(m.start() for m in (final, action) if m) if (final or action) else len(text)
    thought = _THOUGHT_RE.sub("", text[:head_end].strip(), count=1).strip()
    if final and (not action or final.start() < action.start()):
        # "20 Final Answer: 20": a model that repeats the keyword means the answer after the last one
        stated = [_clean(part) for part in _FINAL_RE.split(text[final.end():].strip().split("\n\n")[0])]
        answer = next((part for part in reversed(stated) if part), "")
        if answer:
            return ReactStep(thought=thought, final_answer=answer)
        return ReactStep(thought=thought, problem="the final answer is empty")
    if action:
        tool = _clean(action.group("tool"))
        found = _INPUT_RE.search(text, action.end())
        tool_input = _clean(found.group("input")) if found else None
        if tools and tool.lower() not in tools and (inferred := _infer_tool(tool, tool_input, tools)):
            tool, tool_input = inferred
        call = _CALL_RE.match(tool)
        if call:
            tool, tool_input = call.group("tool"), _clean(call.group("input"))
        tool = tool.strip("[]*` ").lower().replace(" ", "_")
        if not tool:
            return ReactStep(thought=thought, problem="the action names no tool")
        if tool_input is None:
            return ReactStep(thought=thought, tool=tool, problem="there is no 'Action Input:' line")
        return ReactStep(thought=thought, tool=tool, tool_input=tool_input)
    call = _json_call(text)
    if call:
        return ReactStep(thought=thought, tool=call[0].lower(), tool_input=call[1])
    return ReactStep(thought=thought, problem="no 'Action:' and no 'Final Answer:'")


def format_observation(text: str) -> str:
    """An observation as it goes into the scratchpad: data, with protocol keywords defused."""
    text = text.strip() or "(empty result)"
    return _PROTOCOL_LINE.sub(lambda m: f"{m.group(1)}> {m.group(2)}:", text)


def _tool_lines(tools: Sequence[BaseTool]) -> str:
    return "\n".join(f"{t.name}: {t.description.strip().splitlines()[0]}" for t in tools)


def text_protocol_messages(
    *,
    question: str,
    scratch: str,
    tools: Sequence[BaseTool],
    history: Sequence[BaseMessage] = (),
    summary: str = "",
    answer_format: str = "",
    prompt: str = "full",
    transcript: str = "needed",
) -> list[BaseMessage]:
    """The prompt of one text-protocol turn; the scratchpad is the assistant's unfinished message.

    ``prompt`` names the system prompt (``REACT_PROMPTS``): ``full`` tells any model the format;
    ``student`` is the short one a student trained with prompt erasure runs with (``tally``: the same, the harness
    writing the question's numbers not used yet after each calculator result). A student learned
    from one question per conversation, so with either a thread's earlier turns go into the
    system prompt as a transcript and the messages keep the shape it was trained on (as separate
    messages they cost a trained SmolLM2 student 15 points on follow-up questions, 6 as a transcript:
    ``benchmarks/results/student_followups.txt``). ``transcript``: ``needed`` leaves it out for a question that
    :func:`stands_alone` (the shipped student answered 40 of 100 SVAMP questions after one, 50 without);
    ``always`` keeps it (harvest's ``--followups`` examples, written to teach reading past one).
    """
    if prompt not in REACT_PROMPTS:
        raise ValueError(f"unknown ReAct prompt {prompt!r}; one of {', '.join(REACT_PROMPTS)}")
    if transcript not in ("needed", "always"):
        raise ValueError(f"transcript must be needed or always, got {transcript!r}")
    system = REACT_PROMPTS[prompt].format(
        tools=_tool_lines(tools) or "(no tools: answer directly)",
        names=", ".join(t.name for t in tools),
        answer_format=f"\n\n{answer_format}" if answer_format else "",
    )
    if summary:
        system += f"\n\n{SUMMARY_PREFIX}{summary}"
    if prompt in STUDENT_PROMPTS and history:
        earlier = earlier_turns(history) if transcript == "always" or not stands_alone(question) else ""
        system += f"\n\n{earlier}" if earlier else ""
        history = ()
    return [SystemMessage(system), *history, HumanMessage(question), AIMessage(scratch + "Thought:")]


#: a question that opens this way goes on from an earlier turn ("And 2 more?", "What if he had 12?", "She then ...")
_POINTS_BACK = re.compile(
    r"^\W*(and|then|so|also|now|but|plus|or|again|instead|same|what\s+about|how\s+about|what\s+if|"
    r"he|she|they|his|her|their|them|that|those|these)\b", re.IGNORECASE)
#: ... or names what an earlier turn said
_REFERS_BACK = re.compile(
    r"\b(the|your|that|this|my|last|previous)\s+(answer|result)s?\b|\bprevious\s+(question|problem|one)\b|"
    r"\byou\s+(said|say|got|get|found|gave|computed)\b|\bsame\s+(question|problem|numbers)\b|\bthat\s+(number|one)\b",
    re.IGNORECASE)
#: a quantity, in digits or as a word ("three times as many", "twice", "half")
_QUANTITY = re.compile(r"\d+(?:[.,]\d+)*|\b(two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|"
                       r"thirty|forty|fifty|hundred|thousand|twice|double|triple|half|third|quarter|dozen)\b",
                       re.IGNORECASE)


def stands_alone(question: str) -> bool:
    """Whether a chat turn's question needs nothing of the thread before it: it carries at least two numbers of its
    own (digits or words: "twice", "three"), does not open with a word that goes on from an earlier turn ("And",
    "What if", "She"), and names no earlier answer ("the answer", "you said"). In doubt it does not, and the
    thread's transcript goes with it.

    A student trained on one question per conversation answers such a question worse after a transcript (the
    shipped student: 50/100 SVAMP questions alone, 40/100 as a thread's second turn;
    ``benchmarks/results/student_followups.txt``), so the student's prompt leaves the transcript out for it."""
    text = question.strip()
    return (len(_QUANTITY.findall(text)) >= 2 and not _POINTS_BACK.match(text)
            and not _REFERS_BACK.search(text))


def earlier_turns(history: Sequence[BaseMessage]) -> str:
    """A thread's earlier questions and answers as the transcript a student's system prompt carries
    (``Earlier in this conversation:`` then ``Q: ..`` / ``A: ..`` lines); "" when there are none."""
    lines = [f"{'Q' if isinstance(m, HumanMessage) else 'A'}: {m.text.strip()}" for m in history
             if isinstance(m, HumanMessage | AIMessage) and m.text.strip()]
    return EARLIER_PREFIX + "\n".join(lines) if lines else ""


def native_system_prompt(*, summary: str = "", answer_format: str = "") -> SystemMessage:
    """The system prompt for models with native tool calling."""
    text = NATIVE_SYSTEM.format(answer_format=f" {answer_format}" if answer_format else "")
    if summary:
        text += f"\n\n{SUMMARY_PREFIX}{summary}"
    return SystemMessage(text)
