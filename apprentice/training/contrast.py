"""Contrast pairs: a verified one-action trajectory against the same trajectory with one quantity changed.

Where the shipped student fails on SVAMP, it most often writes the right operation on the wrong quantities
(``14 - 82`` for the pens sold, where the question's 106 and 14 are the pens: 35 of its 108 misses), or the
operands of a difference or a quotient reversed (a negative or fractional count as the answer). A self-taught
round's preference pairs set a verified run against a failed run of the same question, which differ in
everything at once. A contrast pair differs in one choice only: the chosen side is a verified trajectory, the
rejected side the same thought with one of the expression's numbers replaced by a number of the question it
did not use, or a difference's or quotient's operands swapped, its observation and final answer computed by the
real calculator. DPO then moves probability on exactly the tokens that pick the quantities.

The sides are whole trajectories. Measured (SVAMP test, as shipped, 200 DPO steps from the same student on the
same pairs): whole trajectories 52.5% (105/200); both sides cut where the model stops for the tool, so they differ
in the expression only, 48.0% (96/200). Both variants give more right answers that are a negative result without
its sign ("14 - 106" -> -92, "The calculator gave 92"): 12 and 10 of their right answers, against 5 before.

What teaches that (``contrast_pairs(signs=...)``, the same draws each way, two seeds where said): a rejected side whose
answer is a negative count teaches the model to avoid negative answers, and dropping the sign is one way. Read with
the sign dropped after the observation (``dropped``, the student's own misreading), the pairs left no sign-dropped
answer (0 of 94 right, both seeds) but more reversed operands and negative answers: 47.0% against the shipped
recipe's 52.5%, 48.5% and 49.5% (seeds 0, 1, 2); both readings (``both``) 47.5%. ``kept`` stays the default.

The ``operation`` kind (``kinds``) rejects the operation a story is mistaken for, with the thought's verb: the shipped
student's operation misses are these pairs. Added to the shipped pool (673 pairs, two seeds): 50.0% and 52.5%, their
soup 52.0%, against the recipe's mean 50.2% and its soup 51.0%: within the seeds' noise, with fewer additions right
(10-12 of 43 against 14-18: "+" is the rejected side 337 times, "-" 144). Balanced by direction (402 pairs): 50.0% and
47.5%, the additions back (13-17) and the multiplications divided. ``quantity`` stays the default.

The ``partial`` kind rejects one operation of a composed expression answered as if it were all ("960 / 4" for
"960 / 4 / 3"), the student's way with GSM8K (one operation on two numbers). GSM8K train's grounded one-expression
replays (694 examples, levels 1-2) give 668 such pairs where ``quantity`` gives 72. Added with those 72 to the shipped
pool (1,800 pairs, 200 steps, seed 0): GSM8K two-step 6.8% (31/456, against 2.4%: 29 up, 9 down, McNemar p = 0.002),
one-step 2/55 as before, SVAMP 36.5% (73/200, against 52.5%): the pairs taught it to use every number of the question,
and SVAMP's unneeded numbers went into 33 of its misses (1 before). The ``extra`` kind is the other side: a number
the question gives and the verified expression does not use, composed in ("106 - 14 - 51"). Both kinds together (the
same pool + 471 extra pairs): SVAMP 43.0% (86/200; composed-in misses 5), GSM8K two-step 3.7% (17/456), one-step 0/55:
what one kind teaches the other undoes. Both off by default.
"""

from __future__ import annotations

import ast
import random
import re
from typing import Any

from apprentice.agents.tally import with_tally, without_tally
from apprentice.tools.calculator import CalculatorError, calculate
from apprentice.training.replay import OPERATORS, VERBS

__all__ = ["KINDS", "contrast_pairs", "contrast_trajectories"]

_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.])")
_ACTION_INPUT = re.compile(r"^Action Input:[ \t]*(.*)$", re.MULTILINE)
_OBSERVATION = re.compile(r"^Observation:[ \t]*(.*)$", re.MULTILINE)
_FINAL = re.compile(r"^Final Answer:[ \t]*(.*)$", re.MULTILINE)
#: What a steps-style replay's last thought says of the question's numbers (``replay._tally``: "Of 8, 21, 7 and 4,
#: still to use: none (21 and 7 are not needed)"; a tally-style one's "; 21 and 7 are not needed"): the question's,
#: whatever the calculator gave, so never rewritten
_QUESTIONS_NUMBERS = re.compile(r"\bOf [^\n]*?, still to use:|\([^()\n]*\bnot needed\)|"
                                r";[^;\n]*\b(?:is|are) not needed")
_BINARY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([-+*/])\s*(\d+(?:\.\d+)?)\s*$")
#: the operation a story's wording is most often mistaken for (the shipped student's operation misses on SVAMP:
#: an addition subtracted 16 times, a subtraction added 9, a division multiplied 6, a multiplication divided 6)
_CONFUSED = {"+": "-", "-": "+", "*": "/", "/": "*"}
#: what a contrast pair may change: the quantities (a number, or a difference's or quotient's operand order), the
#: operation, or how far the composition goes (one operation of a composed expression, answered as if it were all;
#: or a number of the question it does not use composed in)
KINDS = ("quantity", "operation", "partial", "extra")


def _value(text: str) -> float | None:
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return None


def _variants(expression: str, question: str, kind: str = "quantity") -> list[str]:
    """Expressions one choice away from ``expression``. ``quantity``: each of its numbers replaced by each number
    of the question it does not use, and a difference's or quotient's two operands swapped. ``operation``: a
    two-number expression with the operation it is mistaken for (+ and -, * and /; a difference or quotient with
    the larger number first, as a student that orders its operands writes it). ``partial``: in an expression of
    two or more operations, each operation on two of its numbers alone ("3 * 2" of "20 - 3 * 2"), the student's
    way with a problem of several steps (one operation on two numbers, answered). ``extra``: each number of the
    question the expression does not use, composed in by the expression's own last operation ("106 - 14 - 51"), the
    way a student taught ``partial`` uses every number."""
    if kind == "partial":
        return _partials(expression)
    used = {_value(m.group()) for m in _NUMBER.finditer(expression)}
    spare = list(dict.fromkeys(n for n in (m.group() for m in _NUMBER.finditer(question.replace(",", "")))
                               if _value(n) not in used))
    if kind == "extra":
        root = _root_operator(expression)
        return [f"{expression} {root} {n}" for n in spare] if root else []
    binary = _BINARY.match(expression)
    if kind == "operation":
        if not binary:
            return []
        a, op, b = binary.groups()
        other = _CONFUSED[op]
        if other in "-/" and _value(a) < _value(b):
            a, b = b, a
        return [f"{a} {other} {b}"]
    out = [expression[:m.start()] + other + expression[m.end():]
           for m in _NUMBER.finditer(expression) for other in spare]
    if binary and binary.group(2) in "-/" and binary.group(1) != binary.group(3):
        out.append(f"{binary.group(3)} {binary.group(2)} {binary.group(1)}")
    return out


def _parsed(expression: str) -> ast.expr | None:
    """An expression's syntax tree (parsed, never evaluated), None when it does not parse."""
    try:
        return ast.parse(expression, mode="eval").body
    except (SyntaxError, ValueError, RecursionError):
        return None


def _root_operator(expression: str) -> str | None:
    """The operator an expression computes last ("-" of "106 - 14", "+" of "2 + 3 * 4"), None if it has none."""
    tree = _parsed(expression)
    return OPERATORS.get(type(tree.op)) if isinstance(tree, ast.BinOp) else None


def _partials(expression: str) -> list[str]:
    """The operations of ``expression`` whose operands are both numbers, as written, where it has two or more."""
    tree = _parsed(expression)
    if tree is None:
        return []
    operations = [node for node in ast.walk(tree) if isinstance(node, ast.BinOp)]
    if len(operations) < 2:
        return []
    out = []
    for node in operations:
        if all(isinstance(side, ast.Constant) and isinstance(side.value, (int, float))
               for side in (node.left, node.right)):
            written = ast.get_source_segment(expression, node)
            if written and written not in out:
                out.append(written)
    return out


def contrast_trajectories(question: str, trajectory: str, *, drop_sign: bool = False,
                          kind: str = "quantity") -> list[str]:
    """The rejected trajectories one choice away from a verified one-action ReAct ``trajectory`` (none when it
    has more or fewer than one action, or its answer is not the observation as written): the same text with the
    action's expression changed, the calculator's real observation, and the final answer that observation gives.
    A variant the calculator refuses, or that comes to the same value, is left out. ``kind`` says what the
    variants change (``KINDS``: the quantities, or the operation, where the thought before the action says the
    changed operation's verb in place of the verified one's: "so I add" for "so I subtract").

    With ``drop_sign``, a variant whose result is negative (where the verified one's is not) is reported after its
    observation without its sign, as the student misreports it ("Observation: -92", "Final Answer: 92"): the
    rejected side then differs in the expression, not in a minus sign of the answer."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    # the harness's tally (``tally`` prompt) is written again for each variant: what it lists depends on the input
    tallied = trajectory != (trajectory := without_tally(trajectory))
    inputs, observations, finals = (p.findall(trajectory) for p in (_ACTION_INPUT, _OBSERVATION, _FINAL))
    if len(inputs) != 1 or len(observations) != 1 or len(finals) != 1:
        return []
    expression, observation, answer = inputs[0].strip(), observations[0].strip(), finals[0].strip()
    gold = _value(observation)
    if gold is None or observation not in answer:
        return []
    cut = _OBSERVATION.search(trajectory).start()  # the action's text, then what follows the observation
    head, tail = trajectory[:cut], trajectory[cut:]
    out = []
    for variant in _variants(expression, question, kind):
        try:  # a quantity swapped in can be a zero divisor ("9 / 0 * 15" from a GSM8K question that says 0)
            result = calculate(variant).strip()
        except CalculatorError:
            continue
        value = _value(result)
        if value is None or abs(value - gold) < 1e-9:
            continue
        action = _ACTION_INPUT.search(head)
        thought = head[:action.start(1)]
        if kind == "operation":  # the thought names the changed operation too: "so I add", then "12 + 3"
            before = _BINARY.match(expression).group(2)
            thought = re.sub(rf"\b{VERBS[before]}\b", VERBS[_CONFUSED[before]], thought)
        changed = thought + head[action.start(1):].replace(expression, variant, 1)
        shown = result.lstrip("-") if drop_sign and value < 0 <= gold else result
        line = _OBSERVATION.match(tail)
        text = changed + tail[:line.start(1)] + result + _restated(tail[line.end(1):], observation, shown)
        text = with_tally(question, text) if tallied else text
        if text not in out:
            out.append(text)
    return out


def _restated(text: str, old: str, new: str) -> str:
    """``text`` (what follows the observation) with each standalone ``old`` result restated as ``new``, except where
    it lists the question's numbers."""
    kept_or_result = re.compile(rf"({_QUESTIONS_NUMBERS.pattern})|(?<![\w.]){re.escape(old)}(?![\w]|\.\d)")
    return kept_or_result.sub(lambda m: m.group(1) or new, text)


def contrast_pairs(rows: list[dict[str, Any]], *, per_example: int = 1, seed: int = 0,
                   signs: str = "kept", kinds: tuple[str, ...] = ("quantity",)) -> list[dict[str, Any]]:
    """Up to ``per_example`` contrast pairs of each of ``kinds`` (``KINDS``) from each verified ReAct example (a
    harvested train row: system, user, assistant), drawn at random (``seed``) from :func:`contrast_trajectories`;
    pairs in the shape of ``harvest.preference_pairs``'. ``signs`` says how a drawn variant whose result is negative
    reads after its observation: ``kept`` (its answer negative), ``dropped`` (``drop_sign``), or ``both`` (two
    pairs, one of each); the same variants are drawn whichever it is, and each kind draws on its own, so adding a
    kind leaves the other's draws as they were."""
    if signs not in ("kept", "dropped", "both"):
        raise ValueError(f"signs must be kept, dropped or both, got {signs!r}")
    if not kinds or any(kind not in KINDS for kind in kinds):
        raise ValueError(f"kinds must be some of {', '.join(KINDS)}, got {', '.join(kinds) or 'none'}")
    rngs = {kind: random.Random(seed if kind == "quantity" else f"{seed}:{kind}") for kind in KINDS}
    pairs = []
    for row in rows:
        messages = row.get("messages") or []
        if row.get("protocol") != "react" or len(messages) < 2 or messages[-1].get("role") != "assistant":
            continue
        question = next((m["content"] for m in messages if m.get("role") == "user"), "")
        meta = row.get("metadata") or row.get("meta") or {}
        for kind in dict.fromkeys(kinds):
            kept = contrast_trajectories(question, messages[-1]["content"], kind=kind)
            dropped = (contrast_trajectories(question, messages[-1]["content"], drop_sign=True, kind=kind)
                       if signs != "kept" else kept)
            for i in rngs[kind].sample(range(len(kept)), min(per_example, len(kept))):
                texts = {"kept": [kept[i]], "dropped": [dropped[i]], "both": list(dict.fromkeys((kept[i], dropped[i])))}
                pairs.extend({"prompt": messages[:-1], "chosen": [messages[-1]],
                              "rejected": [{"role": "assistant", "content": text}], "protocol": "react",
                              "metadata": {"question": meta.get("question", question), "chosen_run": meta.get("run_id"),
                                           "rejected_run": None, "contrast": kind}} for text in texts[signs])
    return pairs
