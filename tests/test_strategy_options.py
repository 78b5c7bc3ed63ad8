"""Strategy options are typed configs: an unknown name, a bad type or an out-of-range value is one error
line naming the valid options, before any model loads; valid ones reach the graph with their types."""

from __future__ import annotations

import json
from dataclasses import FrozenInstanceError, fields

import pytest

import apprentice.graphs.runner as runner
from apprentice.backends import ScriptedChatModel
from apprentice.cli import main
from apprentice.errors import ApprenticeError
from apprentice.eval.harness import strategy_options
from apprentice.graphs import STRATEGIES, options_for, run_question, strategy_config
from apprentice.graphs.config import (
    CheckConfig,
    FewShotConfig,
    OptionError,
    ReactSCConfig,
    SamplingConfig,
    StrategyConfig,
    VoteConfig,
)
from apprentice.traces import open_store

#: The options each strategy read before the configs (the eval harness's old table, plus what the nodes
#: read besides: react's temperature and seed, every strategy's recursion_limit, and the seed that
#: self-teaching passes to any strategy). None may be lost.
OLD_OPTIONS = {
    "io": {"fewshot", "max_tokens", "temperature"},
    "cot": {"fewshot", "max_tokens", "temperature"},
    "cot-sc": {"samples", "temperature", "fewshot", "max_tokens", "seed", "verifier", "questions"},
    "react": {"max_tokens", "temperature", "seed"},
    "react-sc": {"samples", "temperature", "max_tokens", "seed", "verifier", "questions"},
    "tot": {"method", "breadth", "proposals", "depth", "values_per_state", "value", "threshold", "max_expansions",
            "max_tokens"},
    "verify": {"verifier", "rounds", "inner", "revise", "fewshot", "max_tokens", "temperature", "seed", "questions"},
}

#: The defaults the nodes used (``None``: decided at run time, as before: the model's, or by another option).
OLD_DEFAULTS = {
    "io": {"fewshot": 2, "max_tokens": 64, "temperature": 0.0},
    "cot": {"fewshot": 2, "max_tokens": 256, "temperature": 0.0},
    "cot-sc": {"samples": 5, "temperature": 0.7, "fewshot": 2, "max_tokens": 256, "verifier": None, "questions": 3},
    "react": {"max_tokens": None, "temperature": None, "seed": None},
    "react-sc": {"samples": 5, "temperature": 0.7, "verifier": None, "questions": 3},
    "tot": {"method": "bfs", "breadth": 2, "proposals": 4, "depth": 3, "values_per_state": 1, "value": None,
            "threshold": 0.5, "max_expansions": 12, "max_tokens": 128},
    "verify": {"verifier": None, "inner": "cot", "revise": None, "rounds": None, "temperature": None, "fewshot": 2,
               "questions": 3},
}


def error_of(strategy: str, options: dict) -> str:
    with pytest.raises(ApprenticeError) as caught:
        strategy_config(strategy, options)
    message = str(caught.value)
    assert "\n" not in message
    return message


def assert_lists_valid(message: str, strategy: str) -> None:
    valid = message.split("; valid: ", 1)[1]
    for name in STRATEGIES[strategy].config.option_names():
        assert f"{name} (" in valid, (name, message)


# -- the config classes ------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", list(OLD_OPTIONS))
def test_every_option_name_and_default_is_kept(strategy):
    config = STRATEGIES[strategy].config
    assert OLD_OPTIONS[strategy] <= set(config.option_names())
    defaults = strategy_config(strategy)
    assert {name: getattr(defaults, name) for name in OLD_DEFAULTS[strategy]} == OLD_DEFAULTS[strategy]


def test_every_field_has_help_and_shared_options_live_on_one_base_class():
    for strategy in STRATEGIES.values():
        assert all(f.metadata.get("help") for f in fields(strategy.config)), strategy.name
        names = set(strategy.config.option_names())
        assert issubclass(strategy.config, StrategyConfig)
        assert ("temperature" in names) == issubclass(strategy.config, SamplingConfig)
        assert ("fewshot" in names) == issubclass(strategy.config, FewShotConfig)
        assert ("verifier" in names) == issubclass(strategy.config, CheckConfig)
        assert ("samples" in names) == issubclass(strategy.config, VoteConfig)


def test_a_config_checks_itself_and_cannot_change():
    with pytest.raises(OptionError, match="samples=0: must be >= 1"):
        ReactSCConfig(samples=0)
    config = ReactSCConfig(samples=2, temperature=1)
    assert config.temperature == 1.0 and isinstance(config.temperature, float)
    with pytest.raises(FrozenInstanceError):
        config.samples = 3  # type: ignore[misc]


def test_strings_from_the_command_line_become_the_field_types():
    config = strategy_config("react-sc", {"samples": "2", "temperature": "0.5", "verifier": "rules", "seed": None})
    assert (config.samples, config.temperature, config.verifier, config.seed) == (2, 0.5, "rules", None)
    tot = strategy_config("tot", {"method": "dfs", "threshold": 1, "depth": " 2 "})
    assert (tot.method, tot.threshold, tot.depth) == ("dfs", 1.0, 2)


# -- one error line that names the valid options -----------------------------------------------


def test_an_unknown_option_names_the_valid_ones():
    message = error_of("react-sc", {"bogus": 1})
    assert message.startswith("unknown option 'bogus' for strategy react-sc; valid: samples (int >= 1, default 5), "
                              "temperature (float >= 0, default 0.7), verifier (rules|judge|cove")
    assert_lists_valid(message, "react-sc")


def test_a_misspelt_option_or_one_of_another_strategy_says_so():
    assert "(did you mean 'samples'?)" in error_of("cot-sc", {"sample": 3})
    message = error_of("cot", {"breadth": 3})
    assert message.startswith("unknown option 'breadth' for strategy cot (an option of tot); valid: fewshot (")
    assert "(an option of cot-sc, react-sc)" in error_of("react", {"samples": 2})


@pytest.mark.parametrize(("strategy", "options", "fragment"), [
    ("react-sc", {"samples": "many"}, "invalid option samples='many' for strategy react-sc: expected a whole number"),
    ("cot-sc", {"samples": 2.5}, "invalid option samples=2.5 for strategy cot-sc: expected a whole number"),
    ("cot-sc", {"samples": True}, "invalid option samples=True for strategy cot-sc: expected a whole number"),
    ("cot", {"temperature": "hot"}, "invalid option temperature='hot' for strategy cot: expected a number"),
    ("cot", {"temperature": float("nan")}, "invalid option temperature=nan for strategy cot: expected a number"),
])
def test_a_bad_type_names_the_valid_ones(strategy, options, fragment):
    message = error_of(strategy, options)
    assert message.startswith(fragment + "; valid: ")
    assert_lists_valid(message, strategy)


@pytest.mark.parametrize(("strategy", "options", "fragment"), [
    ("react-sc", {"samples": -3}, "invalid option samples=-3 for strategy react-sc: must be >= 1"),
    ("cot-sc", {"samples": 0}, "invalid option samples=0 for strategy cot-sc: must be >= 1"),
    ("cot", {"temperature": -0.5}, "invalid option temperature=-0.5 for strategy cot: must be >= 0"),
    ("io", {"fewshot": -1}, "invalid option fewshot=-1 for strategy io: must be >= 0"),
    ("io", {"max_tokens": 0}, "invalid option max_tokens=0 for strategy io: must be >= 1"),
    ("tot", {"breadth": 0}, "invalid option breadth=0 for strategy tot: must be >= 1"),
    ("tot", {"threshold": -1}, "invalid option threshold=-1 for strategy tot: must be >= 0"),
    ("verify", {"rounds": -1}, "invalid option rounds=-1 for strategy verify: must be >= 0"),
    ("verify", {"questions": 0}, "invalid option questions=0 for strategy verify: must be >= 1"),
    ("react", {"seed": -1}, "invalid option seed=-1 for strategy react: must be >= 0"),
    ("react", {"recursion_limit": 0}, "invalid option recursion_limit=0 for strategy react: must be >= 1"),
])
def test_an_out_of_range_value_names_the_valid_ones(strategy, options, fragment):
    message = error_of(strategy, options)
    assert message.startswith(fragment + "; valid: ")
    assert_lists_valid(message, strategy)


@pytest.mark.parametrize(("strategy", "options", "fragment"), [
    ("cot-sc", {"verifier": "maybe"}, "unknown verifier 'maybe', choose from rules, judge, cove"),
    ("tot", {"method": "astar"}, "unknown search method 'astar', choose from bfs, dfs"),
    ("tot", {"value": "vibes"}, "unknown value method 'vibes', choose from llm, rules, both"),
    ("verify", {"inner": "tot"}, "unknown inner strategy 'tot', choose from cot, io, react"),
    ("verify", {"revise": "sometimes"}, "unknown revise mode 'sometimes', choose from feedback, resample"),
])
def test_a_value_outside_the_choices_names_them(strategy, options, fragment):
    message = error_of(strategy, options)
    (name, value), = options.items()
    assert message.startswith(f"invalid option {name}={value!r} for strategy {strategy}: {fragment}; valid: ")
    assert_lists_valid(message, strategy)


def test_options_shared_by_several_strategies_are_split_and_checked():
    shared = {"samples": 2, "depth": 1, "verifier": "judge", "fewshot": None}
    assert options_for("cot", shared) == {}
    assert options_for("react-sc", shared) == {"samples": 2, "verifier": "judge"}
    assert options_for("tot", shared) == {"depth": 1}
    assert strategy_options("cot-sc", shared) == {"samples": 2, "verifier": "judge"}  # the eval harness's view
    with pytest.raises(ApprenticeError, match="unknown option 'bogus': no strategy takes it; options: "):
        options_for("cot", {**shared, "bogus": 1})
    with pytest.raises(ApprenticeError, match="invalid option depth=0 for strategy tot: must be >= 1"):
        options_for("tot", {**shared, "depth": 0})


# -- the command line --------------------------------------------------------------------------


@pytest.fixture
def no_model_loads(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a model was loaded before the options were checked")

    monkeypatch.setattr(runner, "load_chat_model", refuse)


@pytest.mark.parametrize(("argv", "start"), [
    (["--option", "bogus=1"], "error: unknown option 'bogus' for strategy react; valid: decide (self|ask|listed, "
                              "default self), go_on_at (float from 0 to 1, default: its greedy yes or no), "
                              "temperature ("),
    (["--option", "samples=-3"], "error: unknown option 'samples' for strategy react (an option of cot-sc, "
                                 "react-sc); valid: "),
    (["--strategy", "react-sc", "--option", "samples=-3"],
     "error: invalid option samples=-3 for strategy react-sc: must be >= 1; valid: samples (int >= 1, default 5)"),
    (["--strategy", "react-sc", "--option", "bogus=1"], "error: unknown option 'bogus' for strategy react-sc; valid: "),
    (["--strategy", "tot", "--option", "depth=deep"],
     "error: invalid option depth='deep' for strategy tot: expected a whole number; valid: method (bfs|dfs"),
])
def test_ask_with_a_bad_option_is_one_error_line_before_any_model_loads(argv, start, no_model_loads, capsys):
    assert main(["ask", "q", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(start), captured.err
    assert open_store().count() == 0  # no run was started


def test_ask_help_lists_each_strategys_options(capsys):
    with pytest.raises(SystemExit):
        main(["ask", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for strategy in STRATEGIES.values():
        own = [n for n in strategy.config.option_names() if n not in StrategyConfig.option_names()]
        assert f"{strategy.name}: {', '.join(own)}" in text
    assert "every strategy: max_tokens, seed, recursion_limit" in text


def test_eval_flags_are_typed_by_the_configs_and_a_flag_no_strategy_of_the_grid_takes_is_an_error(
        no_model_loads, capsys):
    assert main(["eval", "--task", "arith", "--strategy", "cot", "--samples", "3"]) == 2
    assert main(["eval", "--task", "arith", "--strategy", "cot-sc", "--samples", "0"]) == 2
    assert main(["eval", "--task", "arith", "--strategy", "tot", "--value", "vibes"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[0] == "error: --samples is an option of cot-sc, react-sc, not of cot"
    assert lines[1].startswith("error: invalid option samples=0 for strategy cot-sc: must be >= 1; valid: ")
    assert "argument --value: invalid choice: 'vibes'" in lines[2] and len(lines) == 3


# -- valid options reach the graph -------------------------------------------------------------


def calculating_model() -> ScriptedChatModel:
    def step(messages):
        scratch = messages[-1].text
        if "Observation:" not in scratch:
            return " I add.\nAction: calculator\nAction Input: 2 + 3"
        return " Done.\nFinal Answer: 5"
    return ScriptedChatModel(script=[step], cycle=True)


def test_ask_react_sc_with_two_samples_makes_two_samples(monkeypatch, capsys):
    model = calculating_model()
    monkeypatch.setattr(runner, "load_chat_model", lambda spec, **kwargs: model)
    assert main(["ask", "What is 2 + 3?", "--strategy", "react-sc", "--tools", "calculator", "--json",
                 "--option", "samples=2", "--option", "temperature=0.9", "--option", "seed=10"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["answer"] == "5" and result["model_calls"] == 4  # two ReAct runs of two calls each
    run = open_store().get(result["run_id"])
    assert run.meta["samples"] == 2 and run.meta["votes"] == {"5": 2}
    assert {kw["temperature"] for kw in model.calls_kwargs} == {0.9}
    assert {kw["seed"] for kw in model.calls_kwargs} == {10, 11}  # the run's seed plus each sample's number


def test_typed_options_reach_each_strategy():
    model = ScriptedChatModel(script=["Final Answer: 7"], cycle=True)
    run_question("q", strategy="io", model=model, tools=[], options={"max_tokens": "20", "fewshot": "0"})
    assert model.calls_kwargs[-1]["max_tokens"] == 20 and "seed" not in model.calls_kwargs[-1]
    run_question("q", strategy="cot", model=model, tools=[], options={"seed": 4, "fewshot": 0})
    assert {**model.calls_kwargs[-1], "stop": None} == {"stop": None, "temperature": 0.0, "max_tokens": 256, "seed": 4}
    run_question("q", strategy="react", model=model, tools=[], options={"max_tokens": 40})
    assert {**model.calls_kwargs[-1], "stop": None} == {"stop": None, "max_tokens": 40}
    calls = len(model.calls_kwargs)
    run_question("q", strategy="cot-sc", model=model, tools=[], options={"samples": 3, "fewshot": 0})
    assert len(model.calls_kwargs) - calls == 3
