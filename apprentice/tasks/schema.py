"""A seeded generator of arithmetic word problems over the problem *schemas*, so that a student learns to read
the story instead of matching cue words.

A schema relates three quantities: change (join, separate), combine (part-whole), additive compare, equal
groups, rates (per unit, unit price, speed), multiplicative compare ("three times as many") and fractions of an
amount ("a quarter of"). A question may ask for any of the three, so one wording points either way: "Tom has 5
more than Ann. Tom has 12. How many does Ann have?" is a subtraction. The wordings, names, things, verbs, prices
and units are the tables of :mod:`apprentice.tasks.schema_data`; money comes in dollars and cents, lengths with
decimals, and small numbers now and then as words ("twelve", "a dozen").

Levels count the operations. At 2 and 3 one result feeds the next, as in GSM8K: a story goes on from a problem
whose answer is what its subject has now ("... She gives away 12 of them. How many does she have left?"), or a
quantity is told as a computation of its own ("3 packs of 6 stickers", "4 pens for $1.25 each").
``distractors`` adds to a share of the problems a sentence with a number the solution does not use, from a
random stream of its own, so the problems are otherwise those of the plain split. ``meta`` holds ``steps`` (op,
a, b, result, reason, as the arith task's, and each step's schema), ``equation``, ``schema`` and ``unknown``
(the question's), ``schemas`` (every step's) and ``domain``.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, ClassVar, Union

from apprentice.errors import ApprenticeError
from apprentice.tasks import schema_data as data
from apprentice.tasks.answers import NumericTask
from apprentice.tasks.arith import step_solution
from apprentice.tasks.base import Item, stable_id
from apprentice.tasks.extract import format_number

__all__ = ["LEVELS", "ROLES", "SCHEMAS", "TEMPLATES", "UNKNOWNS", "SchemaTask", "Template"]

LEVELS = (1, 2, 3)
#: Each schema's relation ``x OP y = z`` and its roles ``(x, y, z)``.
ROLES = {"join": ("+", ("start", "change", "result")), "separate": ("+", ("result", "change", "start")),
         "combine": ("+", ("part1", "part2", "whole")), "compare": ("+", ("small", "diff", "big")),
         "groups": ("*", ("n", "per", "total")), "rate": ("*", ("n", "per", "total")),
         "times": ("*", ("k", "small", "big")), "fraction": ("*", ("k", "part", "whole"))}
SCHEMAS = tuple(ROLES)
_FACTORS = {"groups": range(2, 13), "rate": range(2, 11), "times": range(2, 6), "fraction": range(2, 5)}
#: per domain: additive amounts (low, high), amounts per group or unit (low, high), the largest value
_RANGES = {"c": (2, 90, 2, 15, 2000), "p": (2, 80, 2, 15, 1000), "r": (2, 90, 2, 30, 2000), "y": (2, 40, 2, 30, 100),
           "$": (1, 90, 1, 20, 2000), "m": (1, 60, 2, 20, 2000)}
_FRACTIONS = {2: "half", 3: "a third", 4: "a quarter"}
_CHOICE = re.compile(r"\[([^\[\]]*)\]")
_COLORED = re.compile(r"\{adj1\}")
_TIMED = re.compile(r"\b(today|week|month|morning|afternoon|Saturday|Sunday|year)\b")
_TOGETHER = re.compile(r"\b(together|in all|altogether|they|both)\b")
_TRIES_PER_ITEM = 60
Expr = Union[Fraction, "_Node"]


@dataclass(frozen=True)
class Template:
    """One wording of one schema (the spec format is in :mod:`apprentice.tasks.schema_data`); ``label`` is
    ``schema.unknown``, ``ops`` the operations that answer it (two for what is left and for two together)."""

    label: str
    schema: str
    unknown: str
    asks: str
    domain: str
    open: str | None
    state: bool
    tense: str
    sentences: tuple[str, ...]
    question: str
    ops: int

    def upper(self, sentences: tuple[str, ...]) -> list[str]:
        """The roles these sentences state as quantities a computation may stand for (``{CHANGE}``); none in a
        two-step wording, whose stated quantity is used twice."""
        upper = [role for role in ROLES[self.schema][1] if any("{" + role.upper() + "}" in s for s in sentences)]
        return upper if self.ops == 1 else []


def _parse(spec: str) -> Template:
    """One template from its spec (an indented line goes on with the one before)."""
    head, *sentences, question = " ".join(line.strip() for line in spec.splitlines()).split("|")
    label, asks, domain, opens, state, tense = head.split()
    return Template(label, *label.split("."), asks, domain, None if opens == "-" else opens, state == "s", tense,
                    tuple(sentences), question, 2 if asks in ("rest", "sum") else 1)


TEMPLATES = tuple(_parse(spec) for spec in re.split(r"\n(?! )", data.TEMPLATES) if spec.strip()
                  and not spec.startswith("#"))
#: every ``schema.unknown`` a question may ask
UNKNOWNS = tuple(sorted({t.label for t in TEMPLATES}))


@dataclass(frozen=True)
class _Node:
    """One operation of a solution: its operands (numbers or earlier operations), why, and its schema."""

    op: str
    left: Expr
    right: Expr
    reason: str
    label: str

    @property
    def value(self) -> Fraction:
        a, b = _value(self.left), _value(self.right)
        return {"+": a + b, "-": a - b, "*": a * b, "/": a / b}[self.op]


def _value(expr: Expr) -> Fraction:
    return expr.value if isinstance(expr, _Node) else expr


def _steps(expr: Expr) -> list[_Node]:
    """The operations in the order they are computed (innermost first)."""
    if not isinstance(expr, _Node):
        return []
    return [*_steps(expr.left), *_steps(expr.right), expr]


def _equation(expr: Expr, top: bool = True) -> str:
    if not isinstance(expr, _Node):
        return format_number(expr)
    text = f"{_equation(expr.left, False)} {expr.op} {_equation(expr.right, False)}"
    return text if top else f"({text})"


def _plain(value: Fraction) -> int | float:
    return value.numerator if value.denominator == 1 else float(value)  # the meta's numbers: 12 and 2.5


# ---------------------------------------------------------------------------- numbers


def _on_grid(value: Fraction, domain: str) -> bool:
    """Counts are whole; money and lengths have at most two decimals."""
    return value.denominator == 1 if domain in "cpry" else (value * 100).denominator == 1


def _amount(rng: random.Random, domain: str, low: int, high: int) -> Fraction:
    """A random amount of a domain: whole counts, dollars and cents, lengths with a decimal now and then."""
    if domain == "$":
        cents = rng.choice((0, 0, 25, 50, 75, rng.randrange(5, 100, 5)))
        return Fraction(rng.randint(low, high)) + Fraction(cents, 100)
    if domain == "m":
        return Fraction(rng.randint(low * 2, high * 2), 2) if rng.random() < 0.5 else \
            Fraction(rng.randint(low * 10, high * 10), 10)
    return Fraction(rng.randint(low, high))


def _split(rng: random.Random, domain: str, whole: Fraction) -> tuple[Fraction, Fraction] | None:
    """Two amounts on the coarsest grid ``whole`` lies on (whole dollars, quarters, cents) that add up to it."""
    steps = (1,) if domain in "cpry" else (1, Fraction(1, 4), Fraction(1, 10), Fraction(1, 100))
    step = next(Fraction(s) for s in steps if (whole / s).denominator == 1)
    units, low = int(whole / step), 2 if domain in "cpry" else max(1, int(Fraction(1, 2) / step))
    if units - low < low:
        return None
    part = rng.randint(low, units - low) * step
    return part, whole - part


def _draw(rng: random.Random, t: Template, fixed: dict[str, Fraction]) -> dict[str, Fraction] | None:
    """Values of the template's three roles, ``fixed`` ones kept (a role a story goes on from), or None."""
    op, (x, y, z) = ROLES[t.schema]
    add_low, add_high, per_low, per_high, _ = _RANGES[t.domain]
    values = dict(fixed)
    if z in values:  # two parts of a known whole, or a factor of a known product
        fits = [Fraction(f) for f in _FACTORS.get(t.schema, ()) if _on_grid(values[z] / f, t.domain)
                and values[z] / f >= per_low]
        parts = _split(rng, t.domain, values[z]) if op == "+" else (f := rng.choice(fits), values[z] / f) if fits \
            else None
        if parts is None:
            return None
        values[x], values[y] = parts
        return values
    if op == "+":
        values.setdefault(x, _amount(rng, t.domain, add_low, add_high))
        values.setdefault(y, _amount(rng, t.domain, add_low, add_high))
        return {**values, z: values[x] + values[y]}
    values.update({x: Fraction(rng.choice(_FACTORS[t.schema]))})
    values.setdefault(y, _amount(rng, t.domain, per_low, per_high))
    return {**values, z: values[x] * values[y]}


def _relation(t: Template, asks: str, leaves: dict[str, Expr], slots: dict[str, str]) -> Expr:
    """The operation that finds ``asks`` from the other two roles (two for ``rest`` and ``sum``)."""
    op, (x, y, z) = ROLES[t.schema]
    inverse = "-" if op == "+" else "/"
    label = t.label if asks == t.asks else f"{t.schema}.{asks}"
    said = {**slots, "k": format_number(_value(leaves["k"]))} if "k" in leaves else slots
    reason = data.REASONS[(t.schema, asks)].format(**said)
    if asks == "rest":
        return _Node("-", leaves["whole"], _relation(t, "part", leaves, slots), reason, label)
    if asks == "sum":
        stated = "small" if any("{small}" in s.lower() for s in t.sentences) else "big"
        other = "big" if stated == "small" else "small"
        return _Node("+", leaves[stated], _relation(t, other, leaves, slots), reason, label)
    left, right = {z: (leaves[x], leaves[y]), x: (leaves[z], leaves[y]), y: (leaves[z], leaves[x])}[asks]
    return _Node(op if asks == z else inverse, left, right, reason, label)


def _fits(expr: Expr, domain: str) -> bool:
    """Every number and result positive, on the domain's grid and not too large."""
    values = [_value(expr)] + [_value(side) for node in _steps(expr) for side in (node.left, node.right)]
    cap = _RANGES[domain][4]
    return all(0 < v <= cap and (_on_grid(v, domain) or v.denominator == 1) for v in values)


def _computed(rng: random.Random, domain: str, value: Fraction, slots: dict[str, str],
              words: float) -> tuple[str, _Node] | None:
    """A quantity told as a computation of its own: "4 pens for $1.25 each", "3 packs of 6 stickers", "2 dozen
    eggs", "9 red and 5 blue marbles" (one way of splitting its things per story)."""
    options: list[tuple[str, Fraction, Fraction]] = []
    if domain == "$":
        options = [("buy", Fraction(n), value / n) for n in range(2, 7) if _on_grid(value / n, "$") and value >= n]
    elif value.denominator == 1:
        options = [("groups", Fraction(n), value / n) for n in range(2, 10) if value % n == 0 and value // n >= 2]
        options += [("dozen", value / 12, Fraction(12))] * (value % 12 == 0 and value <= 72)
        options += [("colors", a, value - a) for a in [Fraction(rng.randint(2, max(2, int(value) - 2)))]
                    if value >= 4 and slots["colors"]]
    if not options:
        return None
    kind, a, b = rng.choice(options)
    local = {**data.link_slots(rng, slots), "n": format_number(a), "per": format_number(b)}
    if kind == "buy":
        local["per"] = data.say(rng, b, "$", 0)
        text = f"{data.say(rng, a, 'c', words)} {local['items']} {rng.choice(('for', 'at'))} {local['per']} each"
    elif kind == "dozen":
        text = f"{data.say(rng, a, 'c', words)} dozen {slots['things']}"
    elif kind == "groups":
        text = f"{data.say(rng, a, 'c', words)} {local['boxes']} of {data.say(rng, b, 'c', words)} {slots['things']}"
    else:
        slots["colors"] = ""
        text = (f"{data.say(rng, a, 'c', words)} {local['adj1']} and {data.say(rng, b, 'c', words)} {local['adj2']} "
                f"{slots['things']}")
    label = {"buy": "rate.total", "colors": "combine.whole"}.get(kind, "groups.product")
    return text, _Node("+" if kind == "colors" else "*", a, b, data.REASONS[("np", kind)].format(**local), label)


# ---------------------------------------------------------------------------- stories


@dataclass(frozen=True)
class _Problem:
    """A built problem: its sentences (the question last), its solution, its templates and its cast."""

    sentences: list[str]
    expr: Expr
    chain: list[Template]
    cast: dict[str, str]


def _fill(text: str, slots: dict[str, str], rng: random.Random | None = None) -> str:
    """A template sentence with one of each ``[a/b]`` choice drawn and its slots filled, capitalized."""
    if rng is not None:
        text = _CHOICE.sub(lambda match: rng.choice(match.group(1).split("/")), text)
    filled = text.format(**slots)
    return filled[0].upper() + filled[1:]


def _finals(level: int, schemas: tuple[str, ...]) -> dict[str, list[Template]]:
    """The templates a question may come from, by schema (a schema is drawn first, so each is as likely): those
    whose story can have ``level`` operations, more coming before it or inside it."""
    finals: dict[str, list[Template]] = {}
    for t in TEMPLATES:
        if (t.ops == level or t.ops < level and (t.open or t.upper(t.sentences))) and t.schema in (schemas or SCHEMAS):
            finals.setdefault(t.schema, []).append(t)
    return finals or _finals(level, ()) if schemas else finals


def _plan(rng: random.Random, level: int, finals: dict[str, list[Template]]) -> list[Template]:
    """The templates of one story, first to last: a question, and the stories it goes on from."""
    last = rng.choice(finals[rng.choice(sorted(finals))])
    chain, ops = [last], last.ops
    colored = any(_COLORED.search(s) for s in (*last.sentences, last.question))
    while ops < level and chain[0].open and chain[0].ops == 1 and rng.random() < 0.6:
        before = [t for t in TEMPLATES if t.state and t.domain == last.domain and t.tense == last.tense and
                  t.ops <= level - ops and t not in chain and not (colored and _COLORED.search("".join(t.sentences)))]
        if not before:
            break
        chain.insert(0, rng.choice(before))
        ops += chain[0].ops
        colored = colored or bool(_COLORED.search("".join(chain[0].sentences)))
    return chain


def _link(rng: random.Random, t: Template, values: dict[str, Fraction], kept: tuple[str, ...],
          slots: dict[str, str], computed: set[str], words: float) -> dict[str, Expr] | None:
    """Write the numbers of one template into ``slots``; returns its operands (a computation where a quantity
    is told as one), or None when a quantity cannot be told so."""
    leaves: dict[str, Expr] = dict(values)
    for role, value in values.items():
        slots[role] = data.say(rng, value, "c" if role in ("n", "k") else t.domain, words)
        if not any("{" + role.upper() + "}" in s for s in kept):
            continue
        if role in computed:
            made = _computed(rng, t.domain, value, slots, words)
            if made is None:
                return None
            slots[role.upper()], leaves[role] = made
        elif t.domain == "$":
            slots[role.upper()] = f"{slots['a_item']} for {slots[role]}"
        else:
            slots[role.upper()] = f"{data.say(rng, value, 'c', words, noun=True)} {slots['things']}"
    if "k" in values:
        k = int(values["k"])
        slots["ktimes"] = "twice" if k == 2 else f"{data.say(rng, values['k'], 'c', words)} times"
        slots["frac"] = _FRACTIONS.get(k, "")
        slots["Frac"] = slots["frac"].capitalize()
    return leaves


def _build(rng: random.Random, chain: list[Template], level: int, words: float) -> _Problem | None:
    """Fill a plan with a cast and numbers; None when the numbers do not fit (the caller draws again)."""
    cast = data.cast(rng, chain[0].domain)
    if any(_COLORED.search(s) for t in chain for s in (*t.sentences, t.question)):
        cast["colors"] = ""  # one way of splitting the things in a story: its own, or a computation's
    kept = [t.sentences[1:] if i else t.sentences for i, t in enumerate(chain)]
    stated = [(i, role) for i, t in enumerate(chain) for role in t.upper(kept[i])]
    need = level - sum(t.ops for t in chain)
    if need < 0 or len(stated) < need:
        return None
    computed = set(rng.sample(stated, need))
    sentences: list[str] = []
    expr: Expr | None = None
    for i, t in enumerate(chain):
        values = _draw(rng, t, {t.open: _value(expr)} if i and t.open and expr is not None else {})
        if values is None:
            return None
        slots = {**cast, **data.link_slots(rng, cast)}
        leaves = _link(rng, t, values, kept[i], slots, {role for j, role in computed if j == i}, words)
        if leaves is None:
            return None
        cast["colors"] = slots["colors"]
        if i and t.open and expr is not None:
            leaves[t.open] = expr
        expr = _relation(t, t.asks, leaves, slots)
        sentences += [_fill(s, slots, rng) for s in kept[i]]
    if expr is None or not _fits(expr, chain[0].domain):
        return None
    sentences.append(_fill(chain[-1].question, slots, rng))
    domain = chain[0].domain
    if rng.random() < 0.25:  # a story with no one in it opens on no one
        named = any("{name}" in s for t in chain for s in t.sentences)
        flavor = [f for f in data.FLAVOR["*"] + data.FLAVOR[domain] if named or "{" not in f]
        sentences.insert(0, _fill(rng.choice(flavor), cast))
    elif rng.random() < 0.25 and sentences[0].startswith(cast["name"] + " ") and not _TIMED.search(sentences[0]) \
            and domain != "y":  # "On Monday, Ann is 12 years old" says too much
        sentences[0] = rng.choice(data.OPENERS[chain[0].tense]) + sentences[0]
    return _Problem(sentences, expr, chain, cast)


def _distract(rng: random.Random, problem: _Problem, words: float) -> tuple[list[str], str]:
    """The sentences with one that gives a number the solution does not use (none of its numbers or results),
    about someone of the other gender or something else: first, or just before the question (in between, it
    would come between a pronoun or "them" and what it points back at)."""
    domain, sentences = problem.chain[0].domain, problem.sentences
    used = {_value(problem.expr)} | {_value(s) for node in _steps(problem.expr) for s in (node.left, node.right)}
    together = _TOGETHER.search(sentences[-1].lower())
    forms = [text for same, text in data.DISTRACTORS[domain] if not (same and together)]
    kind, (low, high) = domain if domain in "$m" else "c", _RANGES[domain][:2]
    c = next(v for v in (_amount(rng, kind, low, high) for _ in range(100)) if v not in used)
    c2 = Fraction(rng.choice([n for n in range(2, 61) if n not in used]))
    slots = {**problem.cast, "c": data.say(rng, c, kind, words), "c2": data.say(rng, c2, "c", words)}
    form = rng.choice(forms)
    at = rng.choice((0, len(sentences) - 1)) if " also " not in form else len(sentences) - 1
    sentence = _fill(form, slots)
    return [*sentences[:at], sentence, *sentences[at:]], sentence


_WORD = re.compile(r"\b(" + "|".join([*data.NUMBER_WORDS.values(), "dozen", "twice", "half"]) + r")\b",
                   re.IGNORECASE)


def _generate(level: int, count: int, key: str, exclude: set[str], schemas: tuple[str, ...] = (),
              words: float = 0.0, distractors: float = 0.0) -> list[Item]:
    """``count`` distinct problems from the random stream ``key``, none of whose plain text (before a
    distractor is put in) nor final text is in ``exclude``; the distractors draw from a stream of their own."""
    rng, decorate = random.Random(key), random.Random(f"{key}|distractors")
    finals = _finals(level, schemas)
    seen, items = set(exclude), []
    for _ in range(count * _TRIES_PER_ITEM):
        if len(items) == count:
            break
        problem = _build(rng, _plan(rng, level, finals), level, words) if finals else None
        steps = _steps(problem.expr) if problem else []
        if problem is None or (schemas and not any(s.label.split(".")[0] in schemas for s in steps)):
            continue
        plain = " ".join(problem.sentences)
        if plain in seen:
            continue
        seen.add(plain)
        last = problem.chain[-1]
        meta: dict[str, Any] = {
            "level": level, "schema": last.schema, "unknown": last.unknown, "domain": last.domain,
            "schemas": [s.label for s in steps], "equation": _equation(problem.expr),
            "steps": [{"op": s.op, "a": _plain(_value(s.left)), "b": _plain(_value(s.right)),
                       "result": _plain(s.value), "reason": s.reason, "schema": s.label} for s in steps],
            "number_words": len(_WORD.findall(plain)),
        }  # fmt: skip
        sentences = problem.sentences
        if distractors and decorate.random() < distractors:
            sentences, meta["distractor"] = _distract(decorate, problem, words)
            meta["plain"] = plain
        question = " ".join(sentences)
        if question != plain:
            if question in seen:
                continue
            seen.add(question)
        items.append(Item(stable_id("schema", question), question, format_number(_value(problem.expr)), meta))
    if len(items) < count:
        raise ApprenticeError(f"schema made only {len(items)} of {count} problems at level {level}"
                              + (f" for schemas {', '.join(schemas)}" if schemas else ""))
    return items


class SchemaTask(NumericTask):
    """Generated word problems over the arithmetic problem schemas (no data files).

    Args:
        level: How many operations a problem takes: 1, 2 or 3.
        n: How many problems each split holds.
        seed: Seed of the generator; the same seed always gives the same problems.
        schemas: Keep problems with a step of one of these schemas (names or one comma-separated string):
            join, separate, combine, compare, groups, rate, times, fraction. None: all.
        words: The chance (0-1) that a small whole number is written as a word ("twelve", "a dozen").
        distractors: The share (0-1) of problems given one sentence with a number the solution does not use;
            the problems are those of the plain split, the sentence added.
    """

    name: ClassVar[str] = "schema"
    answer_format: ClassVar[str] = "Give the final answer as a number."

    def __init__(self, level: int = 1, n: int = 200, seed: int = 0, schemas: str | tuple[str, ...] | None = None,
                 words: float = 0.2, distractors: float = 0.2) -> None:
        super().__init__()
        chosen = tuple(s.strip() for s in schemas.split(",") if s.strip()) if isinstance(schemas, str) \
            else tuple(schemas or ())
        if level not in LEVELS:
            raise ApprenticeError(f"schema level must be one of {', '.join(map(str, LEVELS))}, got {level!r}")
        if n < 1:
            raise ApprenticeError(f"schema needs n >= 1 problems, got {n}")
        unknown = [s for s in chosen if s not in SCHEMAS]
        if unknown:
            raise ApprenticeError(f"unknown schema(s) {', '.join(unknown)}; choose from {', '.join(SCHEMAS)}")
        for option, share in (("words", words), ("distractors", distractors)):
            if not 0 <= share <= 1:
                raise ApprenticeError(f"schema {option} is a share from 0 to 1, got {share}")
        self.level, self.n, self.seed, self.schemas = level, n, seed, tuple(sorted(set(chosen)))
        self.words, self.distractors = words, distractors

    def load(self, path: str | Path | None = None, *, limit: int | None = None, split: str | None = None,
             seed: int = 0) -> list[Item]:
        """Generate the problems of a split: ``"test"`` (also ``None`` and ``"shuffle"``) or ``"train"``, separate
        random streams, and no train question has the text of a test question. ``seed`` is combined with the
        constructor's seed; ``limit`` keeps the first problems of the ``n``."""
        if path is not None:
            raise ApprenticeError("the schema task generates its problems; it reads no data file")
        if split not in (None, "train", "test", "shuffle"):
            raise ApprenticeError(f"unknown split {split!r} for schema; choose train or test")
        if limit is not None and limit < 0:
            raise ApprenticeError(f"limit must be zero or more, got {limit}")
        options = (self.schemas, self.words, self.distractors)
        items = test = _generate(self.level, self.n, self._key(seed, "test"), set(), *options)
        if split == "train":
            excluded = {text for item in test for text in (item.meta.get("plain"), item.question) if text}
            items = _generate(self.level, self.n, self._key(seed, "train"), excluded, *options)
        return items if limit is None else items[:limit]

    def fewshot_pool(self) -> list[tuple[str, str]]:
        """Four generated problems of the same level and options (none from the test split) with their steps."""
        options = (self.schemas, self.words, self.distractors)
        test = {item.question for item in _generate(self.level, self.n, self._key(0, "test"), set(), *options)}
        pool = _generate(self.level, 4, self._key(0, "pool"), test, *options)
        return [(item.question, step_solution(item.meta["steps"])) for item in pool]

    def _key(self, seed: int, stream: str) -> str:
        return f"schema|{self.seed}|{seed}|{self.level}|{stream}"
