"""The dataset teacher: worked solutions replayed through the real ReAct graph and real tools.

GSM8K's ``<<48/2=24>>`` annotations, SVAMP's equations and the arith generator's steps become
calculator actions; each action's thought justifies the operation from the question's own
words (never a fixed template unrelated to the problem). The replay model reads the real
calculator observation back from its prompt, so the final answer is what the tool computed,
and the task's checker verifies it like any other run.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage

from apprentice.agents.tally import listed as _listed
from apprentice.agents.verifier import unused_in
from apprentice.backends.scripted import ScriptedChatModel
from apprentice.tasks import GENERATED_TASKS, Item
from apprentice.tasks.extract import NUMBER_WORD, NUMBER_WORDS
from apprentice.tools.calculator import CalculatorError, evaluate

__all__ = ["OPERATORS", "VERBS", "ReplayStep", "REPLAY_STYLES", "grounded_calls", "worked_steps", "worked_equation",
           "reason", "justify", "replay_model", "replay_wording"]

#: How a worked solution is replayed: ``steps`` = one calculator action per operation, a tally of the
#: question's numbers deciding after each result whether to go on; ``equation`` = the whole solution
#: as one expression in one action, each operation justified first, so there is no stop decision; ``tally`` =
#: the steps, each later thought reading the tally the harness writes after a result (``apprentice.agents.tally``,
#: for the ``tally`` ReAct prompt) instead of writing one: the numbers still to use, or which are not needed.
REPLAY_STYLES = ("steps", "equation", "tally")


@dataclass(frozen=True)
class ReplayStep:
    """One calculator action: why, and what to compute."""

    thought: str
    expression: str
    result: str = ""  # what the worked solution says it comes to (GSM8K annotations)


#: an expression's operators as written, and the verb a thought names each with ("so I subtract")
OPERATORS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
VERBS = {"+": "add", "-": "subtract", "*": "multiply", "/": "divide"}
# Words that tie an operation to the wording, most specific first. None starts with "how": a
# thought must quote the word that decides the operation, never the question's opening (a student
# trained on quoted "how many more" learns to quote "how many" before every operation).
_CUES = {
    "-": ["than", "fewer", "less", "left", "remain", "remaining", "gave away", "gives away", "threw away", "gave",
          "give", "lost", "loses", "spent", "spends", "ate", "eats", "sold", "used", "took", "takes away",
          "difference", "discount", "change", "younger", "older", "shorter", "taller", "already", "got off"],
    "/": ["equally", "shared", "split", "divided", "average", "each bag", "each box", "each group", "per", "each"],
    "*": ["times", "twice", "each", "every", "per", "rows of", "groups of", "boxes of", "packs of", "weeks",
          "hours"],
    "+": ["altogether", "in total", "total", "combined", "in all", "together", "more", "earns", "earned", "wins",
          "won", "gets", "got on", "got", "buys", "bought", "found", "finds", "received", "receives", "donation",
          "picked", "joined", "adds", "added", "both", "sum"],
}


def _asked(question: str) -> str:
    """The sentence that asks (the last one with a question mark, else the last sentence)."""
    sentences = [x.strip() for x in re.split(r"(?<=[.?!])\s+|(?<=\w)\s+(?=(?:How|What|Find)\b)", question) if x.strip()]
    asking = [x for x in sentences if x.endswith("?")] or sentences or [question]
    return asking[-1]


def _cue(text: str, cues: list[str], *, earliest: bool) -> str | None:
    found = [(m.start(), rank, cue) for rank, cue in enumerate(cues)
             if (m := re.search(r"\b" + re.escape(cue.strip()) + r"\b", text))]
    if not found:
        return None
    return min(found)[2] if earliest else min(found, key=lambda f: f[1])[2]


def reason(question: str, op: str) -> str:
    """Why ``op`` applies, quoting the words of the question that call for it.

    The asking sentence decides first ("How many more ... than" is a difference whatever the story
    says), its most specific cue winning; then the earliest cue of the story; failing both, the
    reason says the operation without a quote.
    """
    asked = _asked(question)
    cues = _CUES.get(op, [])
    verb = VERBS.get(op, "compute")
    cue = _cue(asked.lower(), cues, earliest=False) or _cue(question.lower(), cues, earliest=True)
    if cue:
        return f'The question says "{cue.strip()}", so I {verb}'
    # no deciding word: say what is done without inventing a quote
    return f"To find what is asked, I {verb}"


def justify(question: str, op: str, a: str, b: str) -> str:
    """A step's thought: the :func:`reason` for ``op``, then the operation itself."""
    return f"{reason(question, op)}: {a} {op} {b}."


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _binary_steps(node: ast.AST, question: str, out: list[ReplayStep]) -> float:
    """Post-order walk of an equation: one step per operation, innermost first."""
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return float(node.value)
    if isinstance(node, ast.BinOp) and type(node.op) in OPERATORS:
        left = _binary_steps(node.left, question, out)
        right = _binary_steps(node.right, question, out)
        op = OPERATORS[type(node.op)]
        a, b = _fmt(left), _fmt(right)
        out.append(ReplayStep(justify(question, op, a, b), f"{a} {op} {b}"))
        return {"+": left + right, "-": left - right, "*": left * right,
                "/": left / right if right else float("nan")}[op]
    raise ValueError("not a plain arithmetic equation")


def _equation_steps(equation: str, question: str) -> list[ReplayStep] | None:
    try:
        steps: list[ReplayStep] = []
        _binary_steps(ast.parse(equation.strip(), mode="eval").body, question, steps)
        return steps or None
    except (SyntaxError, ValueError, ZeroDivisionError):
        return None


_ANNOTATION = re.compile(r"<<([^=<>]+)=([^<>]+)>>")
#: A calculation written out in a worked solution's prose ("so it costs $5 + $10 = $15", "80/5 = 16 weeks"): an
#: expression of numbers (dollar signs, thousands commas and parentheses allowed) and operators, "=", a number.
_EXPRESSION = (r"(?<![\w.])(?P<expr>[$(]*\d[\d,]*(?:\.\d+)?\)*(?:\s*(?:[-+*/×÷−]|(?<=\s)[xX](?=\s))\s*"
               r"[$(]*\d[\d,]*(?:\.\d+)?\)*)+)\s*=\s*\$?")
_PROSE = re.compile(_EXPRESSION + r"(?P<result>\d[\d,]*(?:\.\d+)?)(?![\d,]*\.?\d)")
#: the same written out just before an annotation that computes nothing ("5+3 = <<8=8>>8")
_PROSE_BEFORE = re.compile(_EXPRESSION + "$")
_LATER_RESULT = re.compile(r"\s*=\s*\$?\d[\d,]*(?:\.\d+)?")
_PROSE_OPERATORS = str.maketrans({"×": "*", "÷": "/", "−": "-", "x": "*", "X": "*", "$": None, ",": None})
_MASK = "\0"


def _computed(expression: str) -> float | None:
    """What the calculator (the replay's own tool) gives for an expression of at least one operation, else None: a
    bare number, or an expression it refuses."""
    try:
        if not _operations(ast.parse(expression, mode="eval").body):
            return None
        return float(evaluate(expression))
    except (SyntaxError, ValueError, RecursionError, CalculatorError):
        return None


def _written(match: re.Match[str]) -> str:
    """A prose calculation's expression as the calculator takes it (``$1,000 × 2`` -> ``1000 * 2``)."""
    return " ".join(match.group("expr").translate(_PROSE_OPERATORS).split())


def _prose_steps(masked: str) -> list[tuple[int, int, int, str, str]]:
    """The calculations a line's prose writes out, as (start, where the result starts, end, expression, result),
    when the expression computes the result it states (a slip of the worked solution's arithmetic, "3/1=1", is no
    step); a chain ("5 + 3 = 8 + 2 = 10") is read link by link."""
    found, at = [], 0
    while (match := _PROSE.search(masked, at)) is not None:
        at = match.start("result")
        expression, result = _written(match), match.group("result").replace(",", "")
        value = _computed(expression)
        if value is not None and abs(value - float(result)) <= 1e-6 * max(1.0, abs(float(result))):
            found.append((match.start(), match.start("result"), match.end(), expression, result))
    return found


def _unworked(masked_before: str, annotation: re.Match[str]) -> str:
    """An annotation's expression; for one that computes nothing (``<<8=8>>``), the calculation its prose writes out
    just before it ("5+3 = <<8=8>>8") where that computes the same. ``masked_before``: the line before it, earlier
    annotations masked."""
    expr = annotation.group(1).strip()
    prose = _PROSE_BEFORE.search(masked_before)
    if prose is None or _computed(expr) is not None:
        return expr
    written = _written(prose)
    value = _computed(written)
    return written if value is not None and _numbers(expr) == [_fmt(value)] else expr


def _gsm8k_steps(solution: str) -> list[ReplayStep] | None:
    """One step per calculation of a worked solution, in the order written: each ``<<expr=result>>`` annotation,
    and each calculation written out in the prose without one ("so it costs $5 + $10 = $15": GSM8K's annotators
    leave many out, so a solution's annotations alone often stop short of its answer). The thought is its
    sentence with the result left out ("Natalia sold 48/2 clips in May, so I compute 48/2.")."""
    steps: list[ReplayStep] = []
    for line in solution.splitlines():
        # (where it starts, where its sentence is cut, where it ends, expression, result); the annotations' own
        # text masked, so the prose reader never reads an annotation a second time
        masked = _ANNOTATION.sub(lambda m: _MASK * len(m.group(0)), line)
        found = [(m.start(), m.start(), m.end(), _unworked(masked[:m.start()], m), m.group(2).strip())
                 for m in _ANNOTATION.finditer(line)]
        found += _prose_steps(masked)
        for _, cut, end, expr, result in sorted(found):
            before = _ANNOTATION.sub("", line[:cut]).rstrip(" =$")
            after = line[end:]
            if after.startswith(result):
                after = after[len(result):]
            # a result written later in the line is not known yet ("2 + 3 = 5 + 4 = 9": the first step's thought
            # says "2 + 3 + 4", not "= 9")
            after = _LATER_RESULT.sub("", _ANNOTATION.sub("", after)).strip().rstrip(".")
            sentence = " ".join(p for p in (before.strip(), after) if p).strip(" ,")
            thought = f"{sentence}, so I compute {expr}." if sentence else f"Next I compute {expr}."
            if steps and steps[-1].expression.replace(" ", "") == expr.replace(" ", ""):
                continue  # the same calculation written out and annotated
            steps.append(ReplayStep(thought, expr, result))
    return steps or None


def worked_steps(task: str, item: Item) -> list[ReplayStep] | None:
    """The calculator steps of an item's worked solution (None when it has none usable)."""
    meta = item.meta or {}
    if task in GENERATED_TASKS and meta.get("steps"):
        return [ReplayStep(s["reason"], f"{s['a']} {s['op']} {s['b']}") for s in meta["steps"]]
    if task == "gsm8k" and meta.get("solution"):
        steps = _gsm8k_steps(meta["solution"])
        return steps if steps and _grounded(steps, item.question) else None
    if meta.get("equation"):
        return _equation_steps(meta["equation"], item.question)
    return None


def _grounded(steps: list[ReplayStep], question: str) -> bool:
    """:func:`grounded_calls` for a replay's steps."""
    return grounded_calls(question, [(step.expression, step.result) for step in steps])


def grounded_calls(question: str, calls: list[tuple[str | None, str | None]], *,
                   withheld: str | None = None) -> bool:
    """Every number of every calculator input is the question's (words too), a unit constant, or an earlier
    call's result (an observation the student has seen), and every input computes something: no call computes
    with a number it could not know. A step that computes nothing (``<<100=100>>``: a result worked out in the
    prose, given to the calculator as a bare number) fails, as the one-expression replay's does: it would teach
    writing the answer in unworked. ``calls``: (input, result) in order (an unknown input is no grounded one).
    ``withheld``: a number that is no unit constant here (a hint's answer: ``24 * 1`` for a hinted 24 is the hint
    typed in, not hours in a day)."""
    constants = _WORLD_CONSTANTS - set(_numbers(withheld or ""))
    known = set(_numbers(question, words=True)) | constants
    for expression, result in calls:
        try:
            tree = ast.parse((expression or "").replace(",", ""), mode="eval")
        except SyntaxError:
            return False
        if not _operations(tree.body):
            return False
        if not {_fmt(n.value) for n in ast.walk(tree) if isinstance(n, ast.Constant)
                and isinstance(n.value, int | float)} <= known:
            return False
        known |= set(_numbers(result or ""))
    return True


def _whole(node: ast.AST) -> ast.AST:
    """``40.0`` -> ``40`` in an equation's tree (SVAMP writes every number as a float)."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Constant) and isinstance(sub.value, float) and sub.value.is_integer():
            sub.value = int(sub.value)
    return node


def _operations(node: ast.AST) -> list[str]:
    """The operators of an equation in the order they are computed (innermost first)."""
    if isinstance(node, ast.BinOp) and type(node.op) in OPERATORS:
        return [*_operations(node.left), *_operations(node.right), OPERATORS[type(node.op)]]
    return []


#: Numbers a worked solution may use without the question stating them (units, percent, halves).
_WORLD_CONSTANTS = frozenset({"1", "2", "7", "10", "12", "24", "52", "60", "100", "365", "1000"})


def _composed(solution: str, question: str) -> tuple[str, list[str]] | None:
    """GSM8K's annotations as one expression: a number that is an earlier result not used yet stands
    for the expression that computed it (the most recent such result first). None when a step's
    working would be lost (its result is not part of the final expression) or when the expression uses a
    number that is neither in the question nor a unit constant (``_WORLD_CONSTANTS``). Returns the expression
    with the annotations' sentences that quote only the question's numbers."""
    given = set(_numbers(question, words=True))
    steps = _gsm8k_steps(solution) or []
    pending: list[tuple[str, ast.AST]] = []  # earlier results not used yet, in order

    class _Substitute(ast.NodeTransformer):
        def visit_Constant(self, node: ast.Constant) -> ast.AST:
            key = _fmt(node.value) if isinstance(node.value, int | float) else ""
            for k in range(len(pending) - 1, -1, -1):
                if pending[k][0] == key:
                    return pending.pop(k)[1]
            return node

    last: ast.AST | None = None
    for step in steps:
        last = _Substitute().visit(_whole(ast.parse(step.expression.replace(",", ""), mode="eval").body))
        pending.append((_fmt(float(step.result.replace(",", "").strip(" $"))), last))
    if last is None or len(pending) != 1 or not _operations(last):
        return None
    # a number the question does not state (an intermediate result worked out outside the annotations,
    # "30 - 2" for Tina's wins, or 0.8 for "20% off") would teach the student to invent numbers
    if not {_fmt(n.value) for n in ast.walk(last) if isinstance(n, ast.Constant)} <= given | _WORLD_CONSTANTS:
        return None
    # a sentence that quotes a result worked out in between would show what is not computed yet
    sentences = [s.thought.rsplit(", so I compute", 1)[0] + "." for s in steps]
    grounded = [s for s in sentences if not s.startswith("Next I compute") and set(_numbers(s)) <= given]
    return ast.unparse(last), grounded or ["I put the steps together in one expression."]


def worked_equation(task: str, item: Item) -> list[ReplayStep] | None:
    """An item's worked solution as one calculator action: a thought that justifies every operation
    from the question's words in the order they are computed, then the whole expression with only
    the parentheses it needs ("Tom buys 7 more apples, so we add. Giving 3 apples away leaves fewer,
    so we subtract." and ``12 + 7 - 3``). GSM8K solutions keep their own sentences. None when there
    is no usable solution.

    Two variants were measured on full held-out splits and dropped (benchmarks/results/distill_calc):
    every inner operation in parentheses (``(12 + 7) - 3``: two-step 24.5% -> 4.5%, the student has
    to decide on "(" before its first number and mostly stops after one operation), and quoting
    first where each number comes from (two-step 4%). A third was measured on the bootstrap round and dropped
    (``86d573c``): SVAMP thoughts that first set aside the numbers the equation does not use ("51 books and
    82 books are not needed."). The student wrote such an aside on 12 of 200 held-out SVAMP questions and
    set aside the wrong numbers, and fell from 13 to 4 right of the 93 questions with unneeded numbers
    (SVAMP 22.0% -> 19.0%; the two arith sets moved 83.0 -> 89.5% and 28.5 -> 40.0% with only SVAMP's
    thoughts changed, which is how far one round moves when its data does). A fourth was measured on the
    two-epoch bootstrap round and dropped (``dd76ce3``): a SVAMP multiplication or division justified by
    quoting the clauses that state its numbers and what is asked, not the cue word "each" ("9 pieces of junk
    mail to each house" and "20 houses on a block", and it asks "how many pieces of junk mail ..."). The
    student wrote such a thought on 12 of the 53 held-out multiplication and division questions, chose the
    operation there no better than a coin, and elsewhere fell back to adding or subtracting (SVAMP 23.5% ->
    19.0%, division 13 -> 7 of 39 right)."""
    meta = item.meta or {}
    try:
        if task in GENERATED_TASKS and meta.get("steps") and meta.get("equation"):
            reasons = [s["reason"] for s in meta["steps"]]
            expression = ast.unparse(ast.parse(meta["equation"], mode="eval").body)
        elif task == "gsm8k" and meta.get("solution"):
            composed = _composed(meta["solution"], item.question)
            if composed is None:
                return None
            expression, reasons = composed
        elif meta.get("equation"):
            tree = _whole(ast.parse(meta["equation"].strip(), mode="eval").body)
            ops = _operations(tree)
            if not ops:
                return None
            expression = ast.unparse(tree)
            # one sentence per distinct reason: two additions with the same cue are said once
            reasons = list(dict.fromkeys(reason(item.question, op) + "." for op in ops))
        else:
            return None
    # a worked solution the replay cannot read is skipped, never the end of the round
    except (SyntaxError, ValueError, TypeError, AttributeError, OverflowError, RecursionError):
        return None
    return [ReplayStep(" ".join(reasons), expression)]


_OBSERVATION = re.compile(r"^Observation:[ \t]*(.*)$", re.MULTILINE)
_NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?")


def _numbers(text: str, *, words: bool = False) -> list[str]:
    """Every number of a text in order of appearance (a value that occurs twice is listed twice),
    normalised (``1,000`` -> ``1000``, ``2.50`` -> ``2.5``); with ``words`` also quantities written as
    words (``three times`` -> ``3``)."""
    found = [(m.start(), m.group()) for m in _NUMBER.finditer(text)]
    if words:
        found += [(m.start(), str(NUMBER_WORDS[m.group().lower()])) for m in NUMBER_WORD.finditer(text)]
    out = []
    for _, raw in sorted(found):
        try:
            value = _fmt(float(raw.replace(",", "")))
        except ValueError:
            continue
        out.append(value)
    return out


def _last_observation(messages: list[BaseMessage]) -> str:
    found = _OBSERVATION.findall(messages[-1].text if messages else "")
    return found[-1].strip() if found else ""


def _tally(given: list[str], needed: list[str]) -> str:
    """What decides whether to go on: the question's numbers, and those still to use."""
    return f"Of {_listed(given)}, still to use: {_listed(needed)}" if given else f"Still to use: {_listed(needed)}"


def _next_reply(step: ReplayStep, given: list[str], needed: list[str]) -> Any:
    """A later step: it reads the last result back, goes over the question's numbers to name
    those still to use (or, when none is left, says earlier results remain to combine), then
    justifies the next operation."""
    tally = _tally(given, needed) + ("" if needed else ", but earlier results remain to combine")

    def reply(messages: list[BaseMessage]) -> str:
        return f" The calculator gave {_last_observation(messages)}. {tally}.{_action(step)}"
    return reply


def _consumed(given: list[str], used: list[list[str]]) -> tuple[list[list[str]], list[str]]:
    """The question's numbers (a multiset: "3 of them" and "three times" are two 3s) each step takes,
    one occurrence per number it uses, and those no step takes."""
    remaining = list(given)
    consumed: list[list[str]] = []
    for numbers in used:
        took = []
        for n in numbers:  # "3 * 3" from one 3 in the question takes it once
            if n in remaining:
                remaining.remove(n)
                took.append(n)
        consumed.append(took)
    return consumed, remaining


def _final(given: list[str], unused: list[str]) -> Any:
    """The answer: the last result, once no number is left to use (naming those the question did not need)."""
    why = f" ({_listed(unused)} {'is' if len(unused) == 1 else 'are'} not needed)" if unused else ""

    def reply(messages: list[BaseMessage]) -> str:
        value = _last_observation(messages)
        return (f" The calculator gave {value}. {_tally(given, [])}{why}, so this answers the question.\n"
                f"Final Answer: {value}")
    return reply


def _reading_tally(steps: list[ReplayStep], question: str) -> list[Any]:
    """The ``tally`` style's script: after each result the harness has listed the question's numbers not used yet
    (``unused_in`` of the inputs so far); a later step's thought names those it still needs ("Still to use: 13.")
    or, when it needs none of them, says earlier results remain to combine; the answer names those not needed."""
    inputs = [step.expression for step in steps]
    unneeded = unused_in(question, inputs, words=True)
    script: list[Any] = [_action(steps[0])] if steps else []
    for k in range(1, len(steps)):
        needed = [n for n in unused_in(question, inputs[:k], words=True) if n not in unneeded]
        said = f". Still to use: {_listed(needed)}." if needed else "; earlier results remain to combine."
        script.append(lambda messages, said=said, step=steps[k]:
                      f" The calculator gave {_last_observation(messages)}{said}{_action(step)}")
    why = f"; {_listed(unneeded)} {'is' if len(unneeded) == 1 else 'are'} not needed" if unneeded else ""
    script.append(lambda messages: (f" The calculator gave {(value := _last_observation(messages))}{why}, so this "
                                    f"answers the question.\nFinal Answer: {value}"))
    return script


def _action(step: ReplayStep) -> str:
    """A step's thought and its calculator action, as the text protocol writes them."""
    return f" {step.thought}\nAction: calculator\nAction Input: {step.expression}"


def _answer(messages: list[BaseMessage]) -> str:
    """The answer of a one-action (``equation``) replay: the result answers the question."""
    value = _last_observation(messages)
    return f" The calculator gave {value}, so this answers the question.\nFinal Answer: {value}"


def replay_model(steps: list[ReplayStep], question: str = "", *, style: str = "steps") -> ScriptedChatModel:
    """A scripted model that performs ``steps`` in the text protocol, then answers with the last
    real observation.

    Whether to stop is the step a student gets wrong most (trained on "I still need N" / "every
    number is used" it answered after the first result of 99% of two-step problems), so after each
    result the thought goes over the question's numbers before it decides: "Of 28, 4 and 2, still to
    use: 2." goes on; "still to use: none" answers (naming numbers the question did not need).
    ``style="equation"`` replays the one action of :func:`worked_equation`, then answers.
    """
    if style not in REPLAY_STYLES:
        raise ValueError(f"unknown replay style {style!r}; one of {', '.join(REPLAY_STYLES)}")
    if style == "equation":
        (step,) = steps
        return ScriptedChatModel(script=[_action(step), _answer], spec="teacher:dataset")
    if style == "tally":
        return ScriptedChatModel(script=_reading_tally(steps, question), spec="teacher:dataset")
    given = _numbers(question, words=True)
    consumed, unused = _consumed(given, [_numbers(s.expression) for s in steps])
    shown = list(dict.fromkeys(given))  # the tally lists each value once, in the question's order
    script: list[Any] = [_action(steps[0])] if steps else []
    for k in range(1, len(steps)):
        later = {n for took in consumed[k:] for n in took}
        script.append(_next_reply(steps[k], shown, [n for n in shown if n in later]))
    script.append(_final(shown, list(dict.fromkeys(unused))))
    return ScriptedChatModel(script=script, spec="teacher:dataset")


def replay_wording(model: ScriptedChatModel) -> list[str]:
    """A replay's replies, each observation it reads replaced by a placeholder numbered by the reply's place
    (``<1>`` for the second reply's): everything the replay writes, its wording and what it computes from the question
    included; what makes a stored replay the same run (the resume key of the dataset teacher, where the code is the
    model)."""
    return [reply([AIMessage(f"Observation: <{k}>\n")]) if callable(reply) else str(reply)
            for k, reply in enumerate(model.script)]
