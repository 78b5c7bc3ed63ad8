"""A tiny self-improvement run with the real embedded model: teacher -> harvest -> SFT -> eval."""

from __future__ import annotations

import io
import json
import sys
from collections import Counter
from types import SimpleNamespace

import pytest

from apprentice.cli import make_parser
from apprentice.errors import ApprenticeError
from apprentice.training.config import config_from_args
from apprentice.training.distill import (
    DistillArgs,
    parse_eval_sets,
    run_distill,
    trivial_rule_accuracy,
)
from apprentice.training.round_report import DistillReport

pytestmark = pytest.mark.slow


def test_distill_flags_parse_to_typed_args():
    args = make_parser().parse_args(["distill", "--task", "arith,svamp", "--levels", "1", "3",
                                     "--eval-sets", "arith:1", "svamp", "--rounds", "2", "--teacher", "dataset",
                                     "self,react", "--baseline-limit", "0"])
    config = config_from_args(DistillArgs, args)
    assert config.levels == [1, 3] and config.rounds == 2 and config.baseline_limit == 0
    assert config.teacher == ["dataset", "self,react"] and config.react_prompt == "full"
    assert [s.label for s in parse_eval_sets(config.eval_sets)] == ["arith:1", "svamp"]


def test_pool_sizes_per_task_and_a_bad_size_is_a_clear_error():
    from apprentice.training.distill import pool_sizes

    assert pool_sizes("arith:600, svamp,gsm8k:50", 200) == [("arith", 600), ("svamp", 200), ("gsm8k", 50)]
    with pytest.raises(ApprenticeError, match="whole number"):
        pool_sizes("arith:lots", 200)
    with pytest.raises(ApprenticeError, match="1 or more"):
        pool_sizes("svamp:0", 200)
    # a bad pool fails before round 0 evaluates the starting student (which would take minutes)
    for task, message in (("svamp:0", "1 or more"), ("arith,nope", "unknown task 'nope'")):
        with pytest.raises(ApprenticeError, match=message):
            run_distill(DistillArgs(task=task, rounds=1), log=pytest.fail)


def test_a_gsm8k_pool_split_over_numbers_of_steps_keeps_each_share_to_its_steps():
    from apprentice.tasks.gsm8k import solution_steps
    from apprentice.training.distill import _pool

    pools = _pool(DistillArgs(task="gsm8k:10,svamp:3", gsm8k_levels=[1, 2], rounds=1), 1)
    assert [(task.name, getattr(task, "level", None), len(items)) for task, items in pools] == [
        ("gsm8k", 1, 5), ("gsm8k", 2, 5), ("svamp", None, 3)]
    for task, items in pools[:2]:
        assert {solution_steps(item.meta["solution"]) for item in items} == {task.level}
    # the same problems without levels come from the whole split, and round 2 takes the next ones
    whole = _pool(DistillArgs(task="gsm8k:10", rounds=1), 1)[0][1]
    assert {solution_steps(item.meta["solution"]) for item in whole} != {1}
    second = _pool(DistillArgs(task="gsm8k:10", gsm8k_levels=[1, 2], rounds=2), 2)[0][1]
    assert not {i.id for i in second} & {i.id for i in pools[0][1]}
    with pytest.raises(ApprenticeError, match="gsm8k level must be a number of steps"):
        run_distill(DistillArgs(task="gsm8k", gsm8k_levels=[0]), log=lambda _: None)


def test_a_schema_pool_is_split_over_its_levels_and_replays_through_the_dataset_teachers():
    from apprentice.training.distill import _pool
    from apprentice.training.replay import worked_equation, worked_steps

    pools = _pool(DistillArgs(task="schema:30,svamp:2", rounds=2), 1)
    assert [(task.name, task.level, len(items)) for task, items in pools[:3]] == [
        ("schema", 1, 10), ("schema", 2, 10), ("schema", 3, 10)]
    assert {item.meta["level"] for item in pools[1][1]} == {2}
    second = _pool(DistillArgs(task="schema:30", rounds=2), 2)
    assert not {i.question for _, items in second for i in items} & {i.question for _, items in pools for i in items}
    test_split = {i.question for i in parse_eval_sets(["schema:2"])[0].load(0, None, 0)[1]}
    assert not test_split & {i.question for _, items in pools for i in items}
    task, items = pools[2]
    assert all(worked_steps(task.name, i) and worked_equation(task.name, i) for i in items)
    # the replay explains each operation with the schema's own reason, not a cue word of the question
    item = items[0]
    assert [s.thought for s in worked_steps("schema", item)] == [s["reason"] for s in item.meta["steps"]]
    assert worked_equation("schema", item)[0].thought == " ".join(s["reason"] for s in item.meta["steps"])
    with pytest.raises(ApprenticeError, match="--schema-levels acts on the schema pool"):
        _pool(DistillArgs(task="svamp:2", schema_levels=[1], rounds=1), 1)


def test_an_arith_pool_with_distractors_holds_the_plain_pools_problems():
    from apprentice.training.distill import _pool

    plain = _pool(DistillArgs(task="arith:20", levels=[1, 3], rounds=1), 1)
    mixed = _pool(DistillArgs(task="arith:20", levels=[1, 3], rounds=1, arith_distractors=0.5), 1)
    assert [task.distractors for task, _ in mixed] == [0.5, 0.5]
    same = _pool(DistillArgs(task="arith:20", levels=[1, 3], rounds=1, arith_distractors=0.5,
                             arith_distractor_kind="same"), 1)
    assert [task.distractor_kind for task, _ in same] == ["same", "same"]
    for (_, before), (_, after) in zip(plain, same, strict=True):
        assert [i.meta.get("plain", i.question) for i in after] == [i.question for i in before]
    for (_, before), (_, after) in zip(plain, mixed, strict=True):
        assert [i.meta.get("plain", i.question) for i in after] == [i.question for i in before]
        assert any("distractor" in i.meta for i in after)
    with pytest.raises(ApprenticeError, match="share from 0 to 1"):
        run_distill(DistillArgs(task="arith", arith_distractors=-0.1), log=lambda _: None)
    # an option for a task the pool does not hold would do nothing: it is an error, before any round
    with pytest.raises(ApprenticeError, match="--arith-distractors acts on the arith pool, and --task 'svamp:3'"):
        run_distill(DistillArgs(task="svamp:3", arith_distractors=0.5), log=lambda _: None)
    with pytest.raises(ApprenticeError, match="needs a distractors share above 0"):
        run_distill(DistillArgs(task="arith:3", arith_distractor_kind="same"), log=lambda _: None)
    with pytest.raises(ApprenticeError, match="--gsm8k-levels acts on the gsm8k pool"):
        run_distill(DistillArgs(task="arith:3", gsm8k_levels=[1]), log=lambda _: None)
    with pytest.raises(ApprenticeError, match="--levels acts on the arith pool, and --task 'svamp:3'"):
        run_distill(DistillArgs(task="svamp:3", levels=[1, 2]), log=lambda _: None)
    # arith's levels default to 1 2 3 where arith is pooled, and stay empty where it is not
    assert DistillArgs(task="svamp:3,arith:6").levels == [1, 2, 3] and DistillArgs(task="svamp").levels == []


def test_trivial_rule_floor_adds_every_number():
    from apprentice.tasks import Item, get_task

    task = get_task("arith", level=1)
    items = [Item("a", "Tom has 3 apples and gets 5 more. How many?", "8", {}),
             Item("b", "Tom has 9 apples and eats 4. How many are left?", "5", {})]
    assert trivial_rule_accuracy(task, items) == 0.5


def test_a_tiny_round_end_to_end(tmp_path):
    from apprentice.traces import open_store
    from apprentice.training.registry import get_adapter

    report_dir = tmp_path / "report"
    report = run_distill(DistillArgs(task="arith", teacher="dataset", student="local", name="tiny", rounds=1,
                                     pool=3, levels=[1], eval_sets=["arith:1"], eval_limit=2, max_steps=2,
                                     batch_size=2, report=report_dir), log=lambda _: None).to_dict()
    assert set(report["baseline"]) == {"arith:1"} and len(report["rounds"]) == 1
    row = report["rounds"][0]
    assert row["teacher_accuracy"] == 1.0 and row["harvested"] == 3
    assert 0.0 <= row["student"]["arith:1"]["accuracy"] <= 1.0 and row["student"]["arith:1"]["n"] == 2
    assert get_adapter("tiny-r1").gguf == "model.gguf"
    for name in ("report.json", "report.md", "report.png"):
        assert (report_dir / name).stat().st_size > 0
    assert json.loads((report_dir / "report.json").read_text())["rounds"][0]["adapter"] == "tiny-r1"
    assert "trivial floor" in (report_dir / "report.md").read_text()
    teacher_runs = open_store().query(model="teacher:dataset")
    assert len(teacher_runs) == 3 and all(r.meta["teacher"] == "dataset" and r.meta["round"] == 1
                                          and r.meta["level"] == 1 for r in teacher_runs)
    assert open_store().count(model="adapter:tiny-r1") == 2  # the student was evaluated in its seat


def test_bootstrap_then_star_rounds_without_round_zero(tmp_path):
    """'dataset self': round 1 learns from worked solutions, round 2 from the round-1 student's own
    verified attempts (STaR, failures rationalized with the answer as a hint); round 0 is skipped."""
    from apprentice.traces import open_store

    report = run_distill(DistillArgs(task="arith", teacher=["dataset", "self"], student="local", name="star",
                                     rounds=2, pool=3, levels=[1], eval_sets=["arith:1"], eval_limit=2,
                                     baseline_limit=0, attempts=1, max_steps=2, batch_size=2, dpo_steps=1,
                                     select="dev", report=tmp_path / "report"), log=lambda _: None).to_dict()
    assert "baseline" not in report
    assert report["rounds"][0]["teacher"] == "teacher:dataset"
    self_runs = open_store().query(model="teacher:self:adapter:star-r1")
    # round 2's pool is new items, each attempted once and rationalized when the attempt failed
    assert {r.meta["round"] for r in self_runs} == {2} and len({r.item_id for r in self_runs}) == 3
    assert all(r.meta["teacher"] in ("self", "self-rationalized") for r in self_runs)
    if len(report["rounds"]) == 2:
        second = report["rounds"][1]
        assert second["teacher"] == "teacher:self:adapter:star-r1"
        # with verified-vs-failed pairs, DPO runs on top of the SFT adapter, and (--select dev) the round keeps
        # the better of the two on its held-out pool question (the harvest's eval split: 10% of the questions, at
        # least one), ties keeping DPO
        if second["pairs"] and second["dev"] is None:  # the harvest held out no question to choose on
            assert second["adapter"] == "star-r2-dpo"
        elif second["pairs"]:
            from apprentice.training.registry import get_adapter

            assert get_adapter("star-r2-dpo").kind == "dpo" and get_adapter("star-r2-dpo").parent == "star-r2"
            dev = second["dev"]
            assert dev["n"] == 1 and set(dev["accuracy"]) == {"star-r2", "star-r2-dpo"}
            assert second["adapter"] == dev["kept"] == (
                "star-r2" if dev["accuracy"]["star-r2"] > dev["accuracy"]["star-r2-dpo"] else "star-r2-dpo")
            dev_runs = [r for r in open_store().query(model="adapter:star-r2-dpo") if r.meta.get("select_dev")]
            assert len(dev_runs) == 1 and dev_runs[0].meta["round"] == 2  # evaluated in its seat, traced
            assert f"kept `{dev['kept']}`" in (tmp_path / "report" / "report.md").read_text()
        else:
            assert second["adapter"] == "star-r2" and second["dev"] is None
    else:  # nothing verified to learn from: the run says so instead of training on nothing
        assert "solved nothing" in report["stopped"]


def test_a_round_keeps_the_better_adapter_on_its_held_out_pool_questions(monkeypatch):
    from apprentice.training import distill

    scores = {"adapter:s-r1": 0.5, "adapter:s-r1-dpo": 0.5}
    asked = []
    monkeypatch.setattr(distill, "_accuracy", lambda spec, *_: asked.append(spec) or scores[spec])
    dev, meta, quiet = [("task", "item")], 1, lambda _: None
    args = DistillArgs(task="arith", select="dev")
    assert DistillArgs(task="arith").select == "last"  # the measured loop's behaviour stays the default
    assert distill._select(args, ["s-r1", "s-r1-dpo"], dev, meta, quiet)[0] == "s-r1-dpo"  # a tie keeps DPO
    scores["adapter:s-r1"] = 0.75
    kept, record = distill._select(args, ["s-r1", "s-r1-dpo"], dev, meta, quiet)
    assert kept == "s-r1" and record == {"n": 1, "accuracy": {"s-r1": 0.75, "s-r1-dpo": 0.5}, "kept": "s-r1"}
    asked.clear()
    # --select last, or no held-out question: the DPO adapter, with no evaluation
    assert distill._select(DistillArgs(task="arith", select="last"), ["s-r1", "s-r1-dpo"], dev, meta, quiet) == \
        ("s-r1-dpo", None)
    assert distill._select(args, ["s-r1", "s-r1-dpo"], [], meta, quiet) == ("s-r1-dpo", None) and not asked
    # the held-out keys of the harvest name pool items; a key of another round's pool is skipped
    from apprentice.tasks import Item, get_task

    task = get_task("arith", level=1, n=10)
    items = [Item("a", "q1", "1", {}), Item("b", "q2", "2", {})]
    assert distill._dev_items([(task, items)], [("arith", "b"), ("arith", "zz"), ("svamp", "a")]) == \
        [(task, items[1])]
    with pytest.raises(ApprenticeError, match="--select must be last or dev"):
        run_distill(DistillArgs(task="arith", select="best"), log=lambda _: None)


def test_the_round_scores_both_adapters_on_the_harvest_held_out_items_and_reports_the_choice(tmp_path,
                                                                                             monkeypatch):
    """The wiring of --select dev, without training: the harvest's held-out (task, id)s become the pool
    items both adapters are scored on; the kept one is the round's adapter, in report.json and report.md."""
    from apprentice.training import distill, dpo, sft
    from apprentice.training.harvest import HarvestResult

    args = DistillArgs(task="arith:4", levels=[1], teacher=["dataset"], rounds=1, baseline_limit=0, dpo_steps=5,
                       select="dev", name="w", report=tmp_path / "report")
    pool = distill._pool(args, 1)[0][1]
    held = [("arith", pool[2].id), ("arith", pool[0].id)]
    monkeypatch.setattr(distill, "solve_pool", lambda *a, **k: {"items": 4, "solved": 4, "runs": 4, "tokens": 40})
    monkeypatch.setattr(distill, "harvest", lambda config: HarvestResult(config.out, 2, 2, 3, 4, Counter(), held))
    trained = []

    def training(args):  # what the registry records of a training's time (tests/test_training.py: real ones)
        trained.append(args.name)
        return SimpleNamespace(metrics={"global_step": 5, "train_seconds": 100.0, "eval_loss_seconds": 10.0,
                                        "gguf_seconds": 30.0})

    monkeypatch.setattr(sft, "main", training)
    monkeypatch.setattr(dpo, "main", training)
    scored = {}

    def accuracy(spec, _args, items, meta):
        scored[spec] = ([item.id for _, item in items], meta)
        return {"adapter:w-r1": 1.0, "adapter:w-r1-dpo": 0.5}[spec]

    monkeypatch.setattr(distill, "_accuracy", accuracy)
    cell = {"accuracy": 0.5, "n": 2, "ci": [0.1, 0.9], "floor": 0.0, "tokens_per_solved": 1.0,
            "seconds_per_solved": 1.0}
    evaluated = []
    monkeypatch.setattr(distill, "_evaluate", lambda spec, *a, **k: evaluated.append(spec) or {"arith:1": cell})
    report = run_distill(args, log=lambda _: None).to_dict()
    assert trained == ["w-r1", "w-r1-dpo"]
    assert scored == {spec: ([pool[2].id, pool[0].id], {"select_dev": "w", "round": 1})
                      for spec in ("adapter:w-r1", "adapter:w-r1-dpo")}
    row = report["rounds"][0]
    assert row["adapter"] == "w-r1" and evaluated == ["adapter:w-r1"]  # the kept adapter is the one evaluated
    assert row["dev"] == {"n": 2, "accuracy": {"w-r1": 1.0, "w-r1-dpo": 0.5}, "kept": "w-r1"}
    markdown = (tmp_path / "report" / "report.md").read_text()
    assert "kept `w-r1`: on 2 held-out questions of the pool, `w-r1` 100.0% against `w-r1-dpo` 50.0%" in markdown
    assert "DPO on 3 verified-vs-failed pairs" in markdown
    time = row["time"]
    assert (time["sft_steps"], time["sft_step_seconds"], time["sft_eval_loss_seconds"], time["dpo_gguf_seconds"]) \
        == (5, 90.0, 10.0, 30.0) and {"collect", "harvest", "evaluate", "select_seconds"} <= set(time)
    assert "· SFT 5 steps 1.5 min (+ eval loss 10 s, GGUF merge 30 s, load and save 0 s) · DPO 5 steps" in markdown


def _write_report(folder, report: dict) -> None:
    """write_report of the typed report a report.json dict holds."""
    from apprentice.training.distill import write_report

    write_report(folder, DistillReport.from_dict(report))


def test_a_continued_run_keeps_the_earlier_rounds_and_goes_on_with_the_pools(tmp_path):
    from apprentice.training.distill import _pool, round_slice
    from apprentice.training.rounds import start_report

    row = {"round": 1, "adapter": "calc-r1", "teacher": "teacher:dataset", "teacher_accuracy": 1.0,
           "teacher_runs": 4, "teacher_seconds": 2.0, "harvested": 4, "pairs": 0, "seconds": 60.0,
           "student": {"arith:1": {"accuracy": 0.5, "n": 2, "ci": [0.1, 0.9], "floor": 0.5,
                                   "tokens_per_solved": 300.0, "seconds_per_solved": 1.0}}}
    _write_report(tmp_path, {"args": {"teacher": ["dataset"], "student": "local", "rounds": 1, "task": "arith:8",
                                      "max_steps": 100, "dpo_steps": 60}, "rounds": [row]})
    args = DistillArgs(task="arith:4", levels=[1], teacher=["self"], student="adapter:calc-r1", rounds=1,
                       start_round=2, report=tmp_path)
    typed, resume = start_report(tmp_path, {}, first=2, last=2, from_step=None)
    report = typed.to_dict()
    assert resume is None and report["rounds"] == [row] and report["earlier_args"][0]["student"] == "local"
    _write_report(tmp_path, {**report, "args": {"teacher": ["self"], "student": "adapter:calc-r1", "task": "arith:4",
                                                "start_round": 2, "rounds": 1},
                             "rounds": [*report["rounds"], {**row, "round": 2, "adapter": "calc-r2"}]})
    text = (tmp_path / "report.md").read_text()
    # each run says its own pool and training length: a continued run may change them
    assert ("1. round 1: teacher `['dataset']` -> student `local`, task `arith:8`, "
            "strategy `None`, SFT at most 100 steps + 60 DPO steps") in text
    # the runs in the order they ran, the one that wrote the report last
    assert text.index("1. round 1: ") < text.index("2. round 2 (this run): teacher `['self']` -> student "
                                                      "`adapter:calc-r1`, task `arith:4`")
    # the pool's levels are part of it: each task's own, only for the tasks in the pool
    report["args"] = {"task": "arith:8,gsm8k:4", "levels": [1, 3], "gsm8k_levels": [2]}
    _write_report(tmp_path, report)
    assert "task `arith:8,gsm8k:4` (arith levels 1 3; gsm8k steps 2), strategy" in (tmp_path / "report.md").read_text()
    _write_report(tmp_path, {**report, "args": {**report["args"], "arith_distractors": 0.5}})
    assert "(arith levels 1 3; gsm8k steps 2; arith share 0.5 with an unneeded number)" in (
        tmp_path / "report.md").read_text()
    _write_report(tmp_path, {**report, "args": {**report["args"], "arith_distractors": 0.5,
                                                "arith_distractor_kind": "same"}})
    assert "arith share 0.5 with an unneeded number of the same kind)" in (tmp_path / "report.md").read_text()
    # a self teacher's replayed rationalizations are not its own solves: the report tells them apart
    _write_report(tmp_path, {**report, "rounds": [{**row, "teacher_accuracy": 1.0, "teacher_rationalized": 0.64}]})
    assert "36.0% by its own attempts, 100.0% with the failures rationalized" in (tmp_path / "report.md").read_text()
    # round 2's pool is the next slice of the same training split, not round 1's items again
    first = _pool(DistillArgs(task="arith:4", levels=[1], rounds=1), 1)[0][1]
    second = _pool(args, 2)[0][1]
    assert len(second) == 4 and not {i.id for i in first} & {i.id for i in second}
    # a split that runs out starts over (SVAMP's 800 train items gave round 4 of svamp:300 nothing)
    assert round_slice(list(range(8)), 3, 3) == [6, 7, 0] and round_slice(list(range(8)), 4, 3) == [1, 2, 3]
    assert sorted(round_slice(list(range(8)), 2, 20)) == list(range(8)) and round_slice([], 5, 3) == []
    (tmp_path / "report.json").write_text("{not json")
    with pytest.raises(ApprenticeError, match="cannot read the distillation report .*report.json"):
        start_report(tmp_path, {}, first=2, last=2, from_step=None)
    # bad options fail before any work, with one clear line
    with pytest.raises(ApprenticeError, match="--start-round must be 1 or more"):
        run_distill(DistillArgs(task="arith", start_round=0), log=lambda _: None)
    with pytest.raises(ApprenticeError, match="--react-prompt must be one of full, student"):
        run_distill(DistillArgs(task="arith", react_prompt="terse"), log=lambda _: None)
    with pytest.raises(ApprenticeError, match="need a student ReAct prompt"):
        run_distill(DistillArgs(task="arith", followups=0.25), log=lambda _: None)
    with pytest.raises(ApprenticeError, match="followups must be a share between 0 and 1"):
        run_distill(DistillArgs(task="arith", react_prompt="student", followups=-0.1), log=lambda _: None)


def test_every_option_is_checked_before_the_first_round_and_a_failure_after_training_keeps_the_report(
        tmp_path, monkeypatch, apprentice_home):
    """A distill with an eval set that cannot be read used to train for 74 minutes and then fail, losing the
    round's report: now it fails before any teacher call; and an evaluation that fails after training still
    leaves report.json naming the trained adapter."""
    from apprentice.training import distill

    def never(*args, **kwargs):
        pytest.fail("trained before checking its options")

    monkeypatch.setattr(distill, "solve_pool", never)
    from apprentice.tasks import PACKAGED_DATA

    svamp = PACKAGED_DATA / "arithmetic" / "SVAMP.json"
    with pytest.raises(ApprenticeError, match="gsm8k"):  # gsm8k cannot read the SVAMP file given as --data
        run_distill(DistillArgs(task="svamp:3", data=str(svamp), eval_sets=["svamp", "gsm8k:1"]), log=lambda _: None)
    with pytest.raises(ApprenticeError):
        run_distill(DistillArgs(task="arith:3", eval_sets=["bogus"]), log=lambda _: None)
    # arith generates its held-out items: a --data for the pool does not reach it (it used to, and failed)
    assert distill.EvalSet("arith", 1).data(str(svamp)) is None and distill.EvalSet("svamp").data("x") == "x"

    monkeypatch.undo()  # undoes the test's APPRENTICE_HOME too: the round below must not train into the user's home
    monkeypatch.setenv("APPRENTICE_HOME", str(apprentice_home))
    report_dir = tmp_path / "report"

    def broken(*args, **kwargs):
        raise ApprenticeError("the evaluation server went away")

    monkeypatch.setattr(distill, "_evaluate", broken)
    with pytest.raises(ApprenticeError, match="t-r1 is trained and registered, but its evaluation failed"):
        run_distill(DistillArgs(task="arith", teacher="dataset", student="local", name="t", rounds=1, pool=2,
                                levels=[1], eval_sets=["arith:1"], eval_limit=2, max_steps=1, batch_size=2,
                                baseline_limit=0, report=report_dir), log=lambda _: None)
    saved = json.loads((report_dir / "report.json").read_text())
    assert "t-r1 is trained and registered" in saved["stopped"]


def test_a_step_that_fails_leaves_the_report_so_far_and_says_how_to_resume(tmp_path, monkeypatch):
    """A step that fails (not a kill) leaves the report so far, and its one line says the same command resumes."""
    from apprentice.training import distill

    report_dir = tmp_path / "report"
    args = DistillArgs(task="arith:2", levels=[1], teacher="dataset", eval_sets=["arith:1"], rounds=1,
                       baseline_limit=0, name="f", report=report_dir)

    def server_gone(*args, **kwargs):
        raise ApprenticeError("cannot reach model server")

    monkeypatch.setattr(distill, "solve_pool", server_gone)
    with pytest.raises(ApprenticeError, match=r"round 1: cannot reach model server \(report so far in .*; the same "
                                              r"command again resumes at the collect step\)"):
        run_distill(args, log=lambda _: None)
    saved = json.loads((report_dir / "report.json").read_text())
    assert saved["partial"] == {"round": 1, "done": []} and saved["stopped"] == "round 1: cannot reach model server"


# The report of a continued run with a remote teacher (priced, evaluated beside the students), a round kept by
# --select dev and a stop: every part of report.md, as the renderer wrote it before the report was typed.
def _cell(accuracy, n, items, cost=None, tokens=(0, 0)):
    return {"accuracy": accuracy, "n": n, "ci": [max(0.0, accuracy - 0.2), min(1.0, accuracy + 0.2)],
            "tokens_per_solved": 410.5 if accuracy else None, "seconds_per_solved": 1.25 if accuracy else None,
            "floor": 0.25, "tokens_in": tokens[0], "tokens_out": tokens[1], "seconds": 5.0 * n, "cost_usd": cost,
            "items": items}


HELD = [("a", "Tom has 3 apples and 4 more. How many?", "7"), ("b", "A | B share 10 pens. Each gets?", "5"),
        ("c", "9 birds, 2 fly off. Left?", "7"), ("d", "5 boxes of 6. Total?", "30")]
TEACHER = "openai:teacher@http://127.0.0.1:1/v1"
REPORT = {
    "args": {"task": "arith:8,gsm8k:4", "teacher": [TEACHER], "student": "adapter:calc-r1", "rounds": 2,
             "start_round": 2, "levels": [1, 3], "gsm8k_levels": [2], "strategy": "react", "max_steps": 40,
             "epochs": 1.0, "dpo_steps": 20, "student_price": None},
    "rounds": [
        {"round": 2, "adapter": "calc-r2", "teacher": TEACHER, "teacher_accuracy": 0.75,
         "teacher_rationalized": 0.0, "teacher_items": 12, "teacher_checked": 8, "teacher_runs": 24,
         "teacher_resumed": 6, "teacher_errors": 1, "teacher_calls": 40, "teacher_seconds": 31.5,
         "teacher_tokens_in": 12345, "teacher_tokens_out": 2345, "teacher_cost_usd": 0.0032,
         "teacher_paid_usd": 0.0021, "teacher_tokens_per_solved": 2448.3, "teacher_seconds_per_solved": 5.25,
         "harvested": 11, "pairs": 3, "dev": None,
         "student": {"arith:1": _cell(0.5, 4, [{"id": i, "correct": i in "ab", "prediction": g if i in "ab" else "1"}
                                               for i, _, g in HELD], cost=None, tokens=(900, 300))},
         "seconds": 402.0},
        {"round": 3, "adapter": "calc-r3", "teacher": TEACHER, "teacher_accuracy": 1.0,
         "teacher_rationalized": 0.25, "teacher_items": 8, "teacher_checked": 8, "teacher_runs": 16,
         "teacher_resumed": 0, "teacher_errors": 0, "teacher_calls": 30, "teacher_seconds": 12.0,
         "teacher_tokens_in": 1500000, "teacher_tokens_out": 250000, "teacher_cost_usd": 1.75,
         "teacher_paid_usd": 1.75, "teacher_tokens_per_solved": 218750.0, "teacher_seconds_per_solved": 1.5,
         "harvested": 9, "pairs": 2, "dev": {"n": 2, "accuracy": {"calc-r3": 0.5, "calc-r3-dpo": 1.0},
                                             "kept": "calc-r3-dpo"},
         "student": {"arith:1": _cell(0.75, 4, [{"id": i, "correct": i != "d", "prediction": g if i != "d" else "11"}
                                                for i, _, g in HELD])},
         "seconds": 333.0}],
    "earlier_args": [{"task": "arith:8", "teacher": ["dataset"], "student": "local", "rounds": 1, "max_steps": 100}],
    "baseline": {"arith:1": _cell(0.25, 4, [{"id": i, "correct": i == "a", "prediction": "7"} for i, _, _ in HELD])},
    "teacher_eval": {TEACHER: {"strategy": "react", "price": [0.15, 0.6], "sets": {"arith:1": _cell(
        0.75, 4, [{"id": i, "correct": i != "b", "prediction": g if i != "b" else "2", "question": q, "gold": g}
                  for i, q, g in HELD], cost=0.00042, tokens=(2000, 200))}}},
    "stopped": "round 3 did not improve on 75.0%",
    "best_student": "adapter:calc-r2",
}

GOLDEN_MD = """# Distillation report

1. round 1: teacher `['dataset']` -> student `local`, task `arith:8`, strategy `None`, SFT at most 100 steps

2. rounds 2-3 (this run): teacher `['openai:teacher@http://127.0.0.1:1/v1']` -> student `adapter:calc-r1`, task `arith:8,gsm8k:4` (arith levels 1 3; gsm8k steps 2), strategy `react`, SFT at most 40 steps + 20 DPO steps

## Round 0: the starting student

| held-out set | n | student | 95% CI | trivial floor | tokens / solved | seconds / solved |
|---|---:|---:|---|---:|---:|---:|
| arith:1 | 4 | 25.0% | 5.0%-45.0% | 25.0% | 410 | 1.25 |

Beside the teacher `openai:teacher@http://127.0.0.1:1/v1` on the same questions (cost per solved item; the share of the teacher's accuracy the student keeps):

| held-out set | n | teacher | student | student keeps | teacher $ / solved | student $ / solved | teacher s / solved | student s / solved |
|---|---:|---:|---:|---:|---:|---:|---:|---:|
| arith:1 | 4 | 75.0% | 25.0% | 33.3% | $0.00014 | $0 (local) | 6.67 | 20.00 |

## Round 2: adapter `calc-r2`

teacher `openai:teacher@http://127.0.0.1:1/v1`: accuracy on the pool 75.0% of its 8 items with a gold answer (4 have none) (24 runs, 32 s; 2448 model tokens and 5.25 s per solved item; 12,345 tokens in, 2,345 out, $0.0032 in all; this pass paid $0.0021, 6 runs resumed from an earlier pass; 1 runs failed); 11 examples harvested; round took 6.7 min

| held-out set | n | student | 95% CI | trivial floor | tokens / solved | seconds / solved |
|---|---:|---:|---|---:|---:|---:|
| arith:1 | 4 | 50.0% | 30.0%-70.0% | 25.0% | 410 | 1.25 |

Beside the teacher `openai:teacher@http://127.0.0.1:1/v1` on the same questions (cost per solved item; the share of the teacher's accuracy the student keeps):

| held-out set | n | teacher | student | student keeps | teacher $ / solved | student $ / solved | teacher s / solved | student s / solved |
|---|---:|---:|---:|---:|---:|---:|---:|---:|
| arith:1 | 4 | 75.0% | 50.0% | 66.7% | $0.00014 | $0 (local) | 6.67 | 10.00 |

## Round 3: adapter `calc-r3`

teacher `openai:teacher@http://127.0.0.1:1/v1`: accuracy on the pool 75.0% by its own attempts, 100.0% with the failures rationalized (16 runs, 12 s; 218750 model tokens and 1.50 s per solved item; 1,500,000 tokens in, 250,000 out, $1.75 in all); 9 examples harvested, DPO on 2 verified-vs-failed pairs; round took 5.5 min

kept `calc-r3-dpo`: on 2 held-out questions of the pool, `calc-r3` 50.0% against `calc-r3-dpo` 100.0%

| held-out set | n | student | 95% CI | trivial floor | tokens / solved | seconds / solved |
|---|---:|---:|---|---:|---:|---:|
| arith:1 | 4 | 75.0% | 55.0%-95.0% | 25.0% | 410 | 1.25 |

Beside the teacher `openai:teacher@http://127.0.0.1:1/v1` on the same questions (cost per solved item; the share of the teacher's accuracy the student keeps):

| held-out set | n | teacher | student | student keeps | teacher $ / solved | student $ / solved | teacher s / solved | student s / solved |
|---|---:|---:|---:|---:|---:|---:|---:|---:|
| arith:1 | 4 | 75.0% | 75.0% | 100.0% | $0.00014 | $0 (local) | 6.67 | 6.67 |

## Where the round 3 student and the teacher disagree

`openai:teacher@http://127.0.0.1:1/v1` is right and `calc-r3` wrong on 1 held-out questions; the other way round on 1.

| set | question | gold | teacher | student |
|---|---|---|---|---|
| arith:1 | A \\| B share 10 pens. Each gets? | 5 | 2 ✗ | 5 ✓ |
| arith:1 | 5 boxes of 6. Total? | 30 | 30 ✓ | 11 ✗ |

Stopped: round 3 did not improve on 75.0%.

Best student: `adapter:calc-r2`
"""


def test_the_typed_report_writes_report_json_and_report_md_as_before(tmp_path):
    from apprentice.training.distill import write_report

    typed = DistillReport.from_dict(REPORT)
    assert typed.rounds[1].teacher.cost_usd == 1.75 and typed.rounds[0].student["arith:1"].accuracy == 0.5
    assert typed.teacher_eval[TEACHER].sets["arith:1"].items[1]["question"] == HELD[1][1]
    assert typed.to_dict() == REPORT and json.dumps(typed.to_dict()) == json.dumps(REPORT)
    write_report(tmp_path, typed)
    assert json.loads((tmp_path / "report.json").read_text()) == REPORT
    assert (tmp_path / "report.md").read_text() == GOLDEN_MD
    # a partial report reads back whole: where the run is, an older row without the cost columns (they stay
    # absent), and a key this version does not know
    partial = {"args": REPORT["args"], "rounds": [{"round": 1, "adapter": "calc-r1", "teacher": "teacher:dataset",
                                                   "teacher_accuracy": 1.0, "teacher_runs": 4, "teacher_seconds": 2.0,
                                                   "harvested": 4, "pairs": 0, "seconds": 60.0, "student": {}}],
               "teacher_eval": {}, "partial": {"round": 2, "done": ["collect", "harvest"]}, "note": "kept"}
    typed = DistillReport.from_dict(partial)
    assert typed.partial.done == ["collect", "harvest"] and typed.rounds[0].teacher.tokens_in == 0
    assert typed.to_dict() == partial
    typed.stopped, typed.partial = "round 2 did not improve on 50.0%", None  # set fields are written
    assert typed.to_dict() == {**{k: v for k, v in partial.items() if k != "partial"},
                               "stopped": "round 2 did not improve on 50.0%"}
    # every distillation report kept in benchmarks/results reads back as it is
    from pathlib import Path

    results = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
    kept = [json.loads(p.read_text()) for p in results.rglob("report.json")]
    kept = [report for report in kept if isinstance(report, dict) and "rounds" in report and "args" in report]
    assert kept and all(DistillReport.from_dict(report).to_dict() == report for report in kept)
    with pytest.raises(ApprenticeError, match="a RoundReport is a JSON object, not list"):
        DistillReport.from_dict({"rounds": [[1]]})


class _Spy:
    """Counts the calls of a function (and keeps their first arguments), calling it."""

    def __init__(self, monkeypatch, module, name):
        self.real, self.args = getattr(module, name), []
        monkeypatch.setattr(module, name, self)

    def __call__(self, *args, **kwargs):
        self.args.append(args[0] if args else None)
        return self.real(*args, **kwargs)


CELL = {"accuracy": 0.5, "n": 2, "ci": [0.1, 0.9], "floor": 0.0, "tokens_per_solved": 1.0, "seconds_per_solved": 1.0}


def test_a_round_killed_after_training_resumes_at_its_evaluation_and_reruns_from_a_named_step(
        tmp_path, monkeypatch, capsys, apprentice_home):
    """A real round (the dataset teacher, one SFT step) killed in its evaluation: the same command again
    evaluates, without a second teacher pass or training; --from-step evaluate reruns only the evaluation,
    --from-step train only the training (from scratch, on the same dataset) and what follows it."""
    from apprentice.cli import main
    from apprentice.training import distill, sft

    report_dir = tmp_path / "report"
    command = ["distill", "--task", "arith:2", "--levels", "1", "--teacher", "dataset", "--eval-sets", "arith:1",
               "--eval-limit", "2", "--rounds", "1", "--baseline-limit", "0", "--max-steps", "1", "--batch-size", "2",
               "--name", "k", "--report", str(report_dir)]
    teacher, trainer, evaluated = _Spy(monkeypatch, distill, "solve_pool"), _Spy(monkeypatch, sft, "main"), []

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # the run stopped from outside while it evaluated

    monkeypatch.setattr(distill, "_evaluate", killed)
    assert main(command) == 130
    saved = json.loads((report_dir / "report.json").read_text())
    assert saved["partial"] == {"round": 1, "done": ["collect", "harvest", "train"]} and saved["rounds"] == []
    assert {p.name for p in (report_dir / "round1").iterdir()} == {"collect.json", "harvest.json", "train.json"}
    monkeypatch.setattr(distill, "_evaluate", lambda spec, *a, **k: evaluated.append(spec) or {"arith:1": CELL})
    capsys.readouterr()
    assert main(command) == 0
    assert "round 1: resuming at its evaluate step" in capsys.readouterr().err
    assert (len(teacher.args), len(trainer.args), evaluated) == (1, 1, ["adapter:k-r1"])
    report = json.loads((report_dir / "report.json").read_text())
    assert "partial" not in report and report["best_student"] == "adapter:k-r1"
    row = report["rounds"][0]
    assert (row["adapter"], row["harvested"], row["teacher_accuracy"], row["student"]) == ("k-r1", 2, 1.0,
                                                                                           {"arith:1": CELL})
    assert main([*command, "--from-step", "evaluate"]) == 0
    assert (len(teacher.args), len(trainer.args), len(evaluated)) == (1, 1, 2)
    trainer.real = lambda args: SimpleNamespace(metrics={})  # from here on training is counted, not run
    assert main([*command, "--from-step", "train"]) == 0
    assert (len(teacher.args), len(trainer.args), len(evaluated)) == (1, 2, 3)
    assert [a.resume for a in trainer.args] == [True, False]  # a rerun trains anew; a killed one would resume
    again = json.loads((report_dir / "report.json").read_text())
    assert [r["round"] for r in again["rounds"]] == [1] and again["rounds"][0]["teacher_runs"] == row["teacher_runs"]
    # a step's input that is gone is one error line naming it and the step that makes it
    import shutil

    shutil.rmtree(apprentice_home / "datasets" / "k-r1")
    capsys.readouterr()
    assert main([*command, "--from-step", "train"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: round 1's train step needs its dataset ") and \
        err[0].endswith("which is missing: rerun with --from-step harvest")
    assert main([*command, "--from-step", "harvest"]) == 0  # which writes it again from the pass's runs
    assert (len(teacher.args), len(trainer.args), len(evaluated)) == (1, 3, 4)


def test_stop_after_harvest_ends_the_run_with_its_dataset_and_the_same_command_goes_on_to_train(
        tmp_path, monkeypatch, capsys, apprentice_home):
    """--stop-after harvest: a real teacher pass and harvest, then the run ends unfinished (exit 0, one line naming
    the dataset) without training; the same command without it trains and evaluates, without a second teacher
    pass. A step the run has finished already, or one after which it cannot go on, is one error line."""
    from apprentice.cli import main
    from apprentice.training import distill, sft

    report_dir = tmp_path / "report"
    command = ["distill", "--task", "arith:2", "--levels", "1", "--teacher", "dataset", "--eval-sets", "arith:1",
               "--eval-limit", "2", "--rounds", "1", "--baseline-limit", "0", "--max-steps", "1", "--batch-size", "2",
               "--name", "p", "--report", str(report_dir)]
    teacher, trainer = _Spy(monkeypatch, distill, "solve_pool"), _Spy(monkeypatch, sft, "main")
    trainer.real = lambda args: SimpleNamespace(metrics={})  # training is counted, not run (the test above runs it)
    monkeypatch.setattr(distill, "_evaluate", lambda spec, *a, **k: {"arith:1": CELL})
    assert main([*command, "--stop-after", "harvest"]) == 0
    out, err = capsys.readouterr()
    dataset = apprentice_home / "datasets" / "p-r1"
    assert out.strip() == f"stopped after round 1's harvest step; report so far in {report_dir}"
    assert (f"round 1: stopped after its harvest step (dataset {dataset}), as --stop-after asked; the same command "
            "without it goes on at its train step") in err
    assert (dataset / "train.jsonl").is_file() and (len(teacher.args), len(trainer.args)) == (1, 0)
    saved = json.loads((report_dir / "report.json").read_text())
    assert saved["partial"] == {"round": 1, "done": ["collect", "harvest"]} and saved["rounds"] == []
    for extra, message in [(["--stop-after", "collect"], ("error: --stop-after collect: round 1 has finished its "
                                                          "collect step already; without --stop-after the run goes "
                                                          "on at its train step")),
                           (["--stop-after", "evaluate"], "argument --stop-after: invalid choice: 'evaluate'")]:
        assert main([*command, *extra]) != 0
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], (extra, lines)
    assert main(command) == 0
    assert "round 1: resuming at its train step" in capsys.readouterr().err
    assert (len(teacher.args), len(trainer.args)) == (1, 1)
    report = json.loads((report_dir / "report.json").read_text())
    assert "partial" not in report and [row["round"] for row in report["rounds"]] == [1]


def _unfinished(report_dir, args: DistillArgs, done: list[str], records: dict[str, dict]) -> None:
    """report.json of a run killed in round 1 after ``done``, with these step records in its folder."""
    from apprentice.training.distill import _args_record

    (report_dir / "round1").mkdir(parents=True)
    (report_dir / "report.json").write_text(json.dumps({"args": _args_record(args), "rounds": [],
                                                        "partial": {"round": 1, "done": done}}))
    for step, record in records.items():
        (report_dir / "round1" / f"{step}.json").write_text(json.dumps(record))


def test_a_resume_that_cannot_go_on_is_one_error_line_before_any_teacher_call(tmp_path, monkeypatch, capsys):
    from apprentice.cli import main, make_parser
    from apprentice.training import distill
    from apprentice.training.config import config_from_args

    def never(*args, **kwargs):
        pytest.fail("the teacher was asked before the resume was checked")

    monkeypatch.setattr(distill, "solve_pool", never)
    report_dir = tmp_path / "report"
    flags = ["--task", "arith:2", "--levels", "1", "--teacher", "dataset", "--eval-sets", "arith:1", "--rounds", "1",
             "--baseline-limit", "0", "--name", "u", "--report", str(report_dir)]
    args = config_from_args(DistillArgs, make_parser().parse_args(["distill", *flags]))
    collected = {"teacher": "teacher:dataset", "tally": {"run_ids": []}, "seconds": 1.0}
    _unfinished(report_dir, args, ["collect", "harvest"], {"collect": collected, "harvest": {
        "dataset": str(tmp_path / "gone"), "train": 2, "eval": 0, "pairs": 0, "eval_items": [], "seconds": 1.0}})
    cases = [
        # the same report folder with other options: not a silent mix of two runs
        (["--task", "arith:3"], (f"{report_dir / 'report.json'} is an unfinished run with other options (--task "
                                 "'arith:3', it had 'arith:2'): give the same options to resume it, or another "
                                 "--report")),
        ([], (f"round 1's train step needs its dataset {tmp_path / 'gone'}, which is missing: rerun with "
              "--from-step harvest")),
        (["--from-step", "evaluate"], (f"--from-step evaluate: round 1 of the unfinished run in {report_dir} has "
                                       "not finished its train step: run without --from-step to resume there")),
        (["--from-step", "bogus"], "argument --from-step: invalid choice: 'bogus'"),
    ]
    for extra, message in cases:
        assert main(["distill", *flags, *extra]) != 0
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], (extra, err)
    with pytest.raises(ApprenticeError, match="--from-step must be one of collect, harvest, train, evaluate, report"):
        run_distill(args, log=lambda _: None, from_step="select")
    (report_dir / "round1" / "collect.json").unlink()
    with pytest.raises(ApprenticeError, match=r"round 1's harvest step needs what its collect step made, and "
                                              r".*collect.json is missing: rerun with --from-step collect"):
        run_distill(args, log=lambda _: None, from_step="harvest")
    with pytest.raises(ApprenticeError, match="--from-step evaluate: .*empty holds no finished round to rerun"):
        run_distill(DistillArgs(**{**vars(args), "report": tmp_path / "empty"}), log=lambda _: None,
                    from_step="evaluate")
    # the adapter a resumed evaluation needs, gone from the registry
    _unfinished(tmp_path / "trained", args, ["collect", "harvest", "train"], {
        "collect": collected, "harvest": {"dataset": "x", "train": 2, "eval": 0, "pairs": 0, "eval_items": []},
        "train": {"adapter": "u-r1", "dev": None, "seconds": 1.0}})
    with pytest.raises(ApprenticeError, match="round 1's evaluate step needs the adapter u-r1, which is not in the "
                                              "registry: rerun with --from-step train"):
        run_distill(DistillArgs(**{**vars(args), "report": tmp_path / "trained"}), log=lambda _: None)


class _Trainer:
    """A trainer that writes a checkpoint folder at each step it trains, from where it resumed, until a kill."""

    def __init__(self, output_dir, steps: int = 3, kill_at: int | None = None):
        self.output_dir, self.steps, self.kill_at, self.resumed_from = output_dir, steps, kill_at, "not trained"
        self.callbacks = []

    def add_callback(self, callback):
        self.callbacks.append(callback)

    def train(self, resume_from_checkpoint=None):
        from pathlib import Path

        self.resumed_from = resume_from_checkpoint
        first = int(Path(resume_from_checkpoint).name.split("-")[1]) + 1 if resume_from_checkpoint else 1
        for step in range(first, self.steps + 1):
            (self.output_dir / f"checkpoint-{step}").mkdir(parents=True, exist_ok=True)
            if step == self.kill_at:
                raise KeyboardInterrupt  # the run stopped from outside


def test_a_killed_retrain_resumes_its_own_checkpoints_and_never_an_older_trainings(tmp_path, monkeypatch,
                                                                                   apprentice_home):
    """--from-step train (resume off) left the last training's checkpoints beside its own: killed, the same
    command without --from-step resumed the old run's last checkpoint, trained nothing and registered the old
    weights under the new dataset. A training that does not resume starts from an empty folder, and one that
    does resumes only checkpoints of its own dataset and base (SFT and DPO both train through this function)."""
    from dataclasses import replace

    from apprentice.training import sft

    monkeypatch.setattr(sft, "finish_training", lambda *args, resumed, **kwargs: resumed)
    data = tmp_path / "k-r1"
    data.mkdir()
    (data / "train.jsonl").write_text('{"first": "harvest"}\n')
    out, args = apprentice_home / "runs" / "sft-k-r1", sft.SFTArgs(data=data, name="k-r1")

    def train(trainer, resume=True, base="local"):
        return sft.train_and_register(trainer, None, replace(args, resume=resume, base=base), kind="sft", choice=None,
                                      output_dir=out)

    first = _Trainer(out)
    assert train(first) is False and first.resumed_from is None  # to its end: checkpoints 1-3
    (data / "train.jsonl").write_text('{"second": "harvest"}\n')
    killed = _Trainer(out, kill_at=1)
    with pytest.raises(KeyboardInterrupt):
        train(killed, resume=False)  # the round reruns its training, and is killed after one step
    assert killed.resumed_from is None and sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-1"]
    again = _Trainer(out)
    assert train(again) is True and again.resumed_from == str(out / "checkpoint-1")  # the killed retrain's
    # checkpoints of another dataset (a harvest written again by hand) or another base are not resumed
    (data / "train.jsonl").write_text('{"third": "harvest"}\n')
    other = _Trainer(out)
    assert train(other) is False and other.resumed_from is None
    based = _Trainer(out)
    assert train(based, base="adapter:k-r0") is False and based.resumed_from is None
    # a folder of checkpoints without the record of what they trained on (an older version's) is not trusted
    (out / "training.json").unlink()
    unknown = _Trainer(out)
    assert train(unknown, base="adapter:k-r0") is False and unknown.resumed_from is None


def _harvested(config):
    """A harvest of two training examples, written where the config says (a resumed training checks for it)."""
    from apprentice.training.harvest import HarvestResult

    config.out.mkdir(parents=True, exist_ok=True)
    (config.out / "train.jsonl").write_text("{}\n{}\n")
    return HarvestResult(config.out, 2, 0, 0, 2, Counter(), [])


def _fake_steps(monkeypatch, harvest=_harvested):
    """A round's steps without a model: a teacher pass of two runs, a harvest of two examples (or ``harvest``),
    a training that registers nothing and an evaluation of CELL. Returns the calls of each, by step."""
    from apprentice.training import distill, sft

    calls = {"collect": [], "harvest": [], "train": [], "evaluate": []}
    monkeypatch.setattr(distill, "solve_pool", lambda *a, **k: calls["collect"].append(1) or {
        "items": 2, "checked": 2, "solved": 2, "runs": 2, "tokens": 20})
    monkeypatch.setattr(distill, "harvest", lambda config: calls["harvest"].append(config) or harvest(config))
    monkeypatch.setattr(sft, "main", lambda args: calls["train"].append(args.name) or SimpleNamespace(metrics={}))
    monkeypatch.setattr(distill, "_evaluate", lambda spec, *a, **k: calls["evaluate"].append(spec) or {
        "arith:1": CELL})
    return calls


def test_a_step_that_fails_in_a_rerun_says_to_resume_without_from_step(tmp_path, monkeypatch):
    """With --from-step harvest, the same command again reruns the harvest: the line says to run without it."""
    from apprentice.training import sft

    args = DistillArgs(task="arith:2", levels=[1], teacher="dataset", eval_sets=["arith:1"], rounds=1,
                       baseline_limit=0, name="h", report=tmp_path / "report")
    calls = _fake_steps(monkeypatch)

    def out_of_memory(args):
        raise ApprenticeError("out of memory")

    monkeypatch.setattr(sft, "main", out_of_memory)
    with pytest.raises(ApprenticeError, match=r"; the same command again resumes at the train step\)$"):
        run_distill(args, log=lambda _: None)
    with pytest.raises(ApprenticeError, match=r"round 1: out of memory \(report so far in .*report; run it without "
                                              r"--from-step to resume at the train step\)$"):
        run_distill(args, log=lambda _: None, from_step="harvest")
    assert len(calls["harvest"]) == 2
    logs = []
    monkeypatch.setattr(sft, "main", lambda args: calls["train"].append(args.name) or SimpleNamespace(metrics={}))
    assert run_distill(args, log=logs.append).best_student == "adapter:h-r1"  # as the line said: at the train step
    assert "round 1: resuming at its train step (the steps before it finished)" in logs
    assert (len(calls["harvest"]), calls["train"]) == (2, ["h-r1"])


def test_a_resumed_harvest_whose_runs_are_not_in_the_store_is_one_error_line_before_any_work(
        tmp_path, monkeypatch, capsys, apprentice_home):
    """The collect record names the pass's runs; resumed against another --db or home, the run evaluated round 0
    and then its harvest failed on the first missing run ('no run matches id'), saying the same command again would
    resume there. Now the resume stops before any work, naming the step that makes the runs."""
    from apprentice.cli import main, make_parser
    from apprentice.traces import open_store
    from apprentice.training import distill
    from apprentice.training.config import config_from_args
    from apprentice.training.harvest import NothingToHarvest

    def never(*args, **kwargs):
        pytest.fail("worked before the resume was checked")

    for name in ("solve_pool", "harvest", "_evaluate"):
        monkeypatch.setattr(distill, name, never)
    report_dir = tmp_path / "report"
    flags = ["--task", "arith:2", "--levels", "1", "--teacher", "dataset", "--eval-sets", "arith:1", "--rounds", "1",
             "--name", "v", "--report", str(report_dir)]
    args = config_from_args(DistillArgs, make_parser().parse_args(["distill", *flags]))
    store = open_store()
    kept = store.start_run(strategy="react", model="teacher:dataset", question="1 + 1?", run_id="kept0001")
    _unfinished(report_dir, args, ["collect"], {"collect": {"teacher": "teacher:dataset", "seconds": 1.0, "tally": {
        "run_ids": [kept, "gone0001", "gone0002"]}}})
    for extra in ([], ["--from-step", "harvest"]):
        assert main(["distill", *flags, *extra]) != 0
        err = capsys.readouterr().err.strip().splitlines()
        assert err == [(f"error: round 1's harvest step needs the 3 runs of its teacher pass, and 2 of them are not "
                        f"in the trace store {apprentice_home / 'traces.db'}: rerun with --from-step collect")]
    for run_id in ("gone0001", "gone0002"):
        store.start_run(strategy="react", model="teacher:dataset", question="2 + 2?", run_id=run_id)
    asked = []

    def nothing(config):
        asked.append(config.run_ids)
        raise NothingToHarvest("nothing to harvest from 3 runs")

    monkeypatch.setattr(distill, "harvest", nothing)
    monkeypatch.setattr(distill, "_evaluate", lambda spec, *a, **k: {"arith:1": CELL})
    report = run_distill(args, log=lambda _: None)
    assert asked == [[kept, "gone0001", "gone0002"]] and "solved nothing to learn from" in report.stopped


def test_from_step_after_a_run_stopped_in_a_round_without_a_row_reruns_that_round(tmp_path, monkeypatch):
    """Round 2's harvest found nothing: the run ended with round 1's row last. --from-step harvest reruns round 2
    (it used to retrain round 1 from scratch); a report that does not say which round stopped is refused."""
    from apprentice.training.harvest import NothingToHarvest

    empty = ["s-r2"]  # the datasets whose harvest finds nothing, in turn

    def harvest(config):
        if empty and config.out.name == empty[0]:
            raise NothingToHarvest(f"nothing to harvest from 2 runs ({empty.pop(0)})")
        return _harvested(config)

    calls = _fake_steps(monkeypatch, harvest)
    report_dir = tmp_path / "report"
    args = DistillArgs(task="arith:2", levels=[1], teacher="dataset", eval_sets=["arith:1"], rounds=2,
                       baseline_limit=0, name="s", report=report_dir)
    report = run_distill(args, log=lambda _: None)
    assert [row.round for row in report.rounds] == [1] and report.stopped.startswith("round 2: the teacher")
    saved = json.loads((report_dir / "report.json").read_text())
    assert saved["stopped_round"] == 2 and "partial" not in saved
    # an older report, without stopped_round, beside a record of the round after its last row: refused
    (report_dir / "report.json").write_text(json.dumps({k: v for k, v in saved.items() if k != "stopped_round"}))
    with pytest.raises(ApprenticeError, match=r"--from-step harvest: .*report.json does not say which round the run "
                                              r"stopped in, and round2 holds records after its last row \(round 1\)"):
        run_distill(args, log=lambda _: None, from_step="harvest")
    (report_dir / "report.json").write_text(json.dumps(saved))
    logs = []
    report = run_distill(args, log=logs.append, from_step="harvest")
    assert "round 2: rerunning from its harvest step" in logs
    assert [c.out.name for c in calls["harvest"]] == ["s-r1", "s-r2", "s-r2"] and calls["train"] == ["s-r1", "s-r2"]
    assert [row.round for row in report.rounds] == [1, 2] and report.stopped == "round 2 did not improve on 50.0%"
    assert (len(calls["collect"]), report.stopped_round) == (2, 2)
    # a run whose first round stopped has no row: --from-step reruns that round
    first = DistillArgs(**{**vars(args), "report": tmp_path / "first", "name": "z", "baseline_limit": -1})
    empty.append("z-r1")
    assert run_distill(first, log=lambda _: None).rounds == []
    report = run_distill(first, log=lambda _: None, from_step="harvest")
    assert [row.round for row in report.rounds] == [1] and report.stopped == "round 1 did not improve on 50.0%"
    assert [c.out.name for c in calls["harvest"][-2:]] == ["z-r1", "z-r1"] and calls["train"][-1] == "z-r1"


def test_the_task_help_names_every_task_split_over_levels_and_its_levels_flag():
    from apprentice.training.pools import POOL_LEVELS

    text = DistillArgs.__dataclass_fields__["task"].metadata["help"]
    for task, (field, _) in POOL_LEVELS.items():
        assert f" {task}" in text and f"--{field.replace('_', '-')}" in text, task


def test_the_round_evaluates_on_one_worker_per_idle_core_unless_told(tmp_path, monkeypatch, apprentice_home):
    """--student-workers 0 (the default) gives the eval harness one worker per core other processes leave idle
    (a llama.cpp student then runs on a replica each: tests/test_eval_workers.py); a number is taken as given."""
    import apprentice.eval
    from apprentice.training import distill

    seen = []

    def run_eval(config, **kwargs):
        seen.append(config.workers)
        raise ApprenticeError("stop here")

    monkeypatch.setattr(apprentice.eval, "run_eval", run_eval)
    monkeypatch.setattr(distill, "cpu_threads", lambda: 3)
    sets = parse_eval_sets(["arith:1"])
    for workers in (0, 2):
        args = DistillArgs(task="arith:2", levels=[1], student_workers=workers, report=tmp_path / "report")
        with pytest.raises(ApprenticeError, match="stop here"):
            distill._evaluate("local", args, sets, 1, limit=2)
    assert seen == [3, 2]


class _Terminal(io.StringIO):
    """stderr as a terminal has it (tqdm shows its bar only where ``isatty``)."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("terminal", [True, False])
def test_the_teacher_pass_shows_its_items_done_in_a_terminal_and_nothing_in_a_log(
        tmp_path, monkeypatch, capsys, apprentice_home, terminal):
    """A self-taught pass of 1,600 items ran half an hour with no line: in a terminal the pass now shows items done
    of the pool's (a real dataset teacher's pass); a log or a pipe gets the round's lines alone."""
    from apprentice.cli import main
    from apprentice.training import distill

    stderr, bars, real = _Terminal() if terminal else io.StringIO(), [], distill._pass_bar
    monkeypatch.setattr(sys, "stderr", stderr)
    monkeypatch.setattr(distill, "_pass_bar", lambda total: bars.append(real(total)) or bars[-1])
    monkeypatch.setattr(distill, "_evaluate", lambda spec, *a, **k: {"arith:1": CELL})
    assert main(["distill", "--task", "arith:3", "--levels", "1", "--teacher", "dataset", "--eval-sets", "arith:1",
                 "--rounds", "1", "--baseline-limit", "0", "--name", "bar", "--report", str(tmp_path / "r"),
                 "--stop-after", "harvest"]) == 0
    err = stderr.getvalue()
    assert "round 1: teacher teacher:dataset solves 3 arith items" in err
    assert ("0/3 [" in err) is terminal and ("?item/s]" in err) is terminal
    assert [(bar.n, bar.total) for bar in bars] == [(3 if terminal else 0, 3)]  # a hidden bar counts nothing
    assert capsys.readouterr().out.startswith("stopped after round 1's harvest step")
