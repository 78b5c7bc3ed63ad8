"""The benchmark helpers that the results' NOTES quote: item flips and McNemar's exact p, read from the
committed eval reports, so a number in the NOTES can be checked with the script that made it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))
import item_flips  # noqa: E402
import rerank_samples  # noqa: E402

RESULTS = BENCHMARKS / "results" / "distill_calc"


def test_mcnemar_exact_p_matches_the_binomial_tail():
    assert item_flips.mcnemar_p(0, 0) == 1.0
    assert item_flips.mcnemar_p(10, 0) == pytest.approx(2 / 1024)
    assert item_flips.mcnemar_p(0, 10) == item_flips.mcnemar_p(10, 0)
    assert item_flips.mcnemar_p(5, 5) == 1.0  # an even split cannot be more even
    assert item_flips.mcnemar_p(7, 0) == pytest.approx(0.015625)


def test_item_flips_reproduces_a_comparison_the_notes_quote(capsys):
    """NOTES, 'One bootstrap round on the SVAMP-heavy pool': one-r1 against svl-r3 on SVAMP, 15 up, 34 down,
    p = 0.009."""
    svl, one = RESULTS / "svamp_round3" / "level1_anchor" / "round3-svamp", RESULTS / "one_round" / "round1-svamp"
    assert item_flips.main([str(svl), str(one)]) == 0
    line = capsys.readouterr().out.strip()
    assert line.endswith(f"200 shared items, right only in {svl} 34, only in {one} 15 (McNemar exact p = 0.0094)")


def test_item_flips_refuses_what_is_not_an_eval_report(tmp_path):
    (tmp_path / "report.json").write_text('{"rows": []}')
    with pytest.raises(SystemExit, match="is not an eval report"):
        item_flips.main([str(tmp_path), str(tmp_path)])


def test_the_count_rule_recheck_reproduces_the_notes(capsys):
    """NOTES, 'A whole number for a count': on one-r3-dpo's 1000 committed SVAMP samples the vote weighted by
    today's rules (a fraction of a count rejected) is right on 88 items, the stored verdicts' vote on 86."""
    samples = RESULTS / "one_round" / "rerank" / "samples-one-r3-dpo-svamp.jsonl"
    assert rerank_samples.main(["--from", str(samples), "--recheck", "svamp"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("rules-weighted vote (the product's)") and "43.0%" in line for line in lines)
    assert any(line.startswith("rules-weighted vote, today's plausibility rule") and "44.0%  2 up / 0 down" in line
               for line in lines)


def test_the_product_vote_falls_back_on_the_plain_winner_without_weight():
    samples = [{"sample": i, "key": k, "rules": 0.0} for i, k in enumerate(["3", "4", "4"])]
    assert rerank_samples.vote(samples, lambda s: s["rules"]) == "4"
    assert rerank_samples.vote([{**s, "rules": float(s["key"] == "3")} for s in samples],
                               lambda s: s["rules"]) == "3"


def test_the_sample_curve_ends_at_the_full_votes_the_notes_quote():
    """NOTES, 'A self-taught round on top of one-r2': one-r3-dpo's five samples, plain vote 35.5%, weighted by
    the rules 43.0%, the gold answer among them on 58.0% of items; one sample alone is one sample's accuracy."""
    path = RESULTS / "one_round" / "rerank" / "samples-one-r3-dpo-svamp.jsonl"
    samples = [json.loads(line) for line in path.read_text().splitlines()]
    rows = rerank_samples.curve(samples)
    assert [k for k, *_ in rows] == [1, 2, 3, 4, 5]
    assert rows[-1][1:] == pytest.approx((35.5, 43.0, 58.0))
    first = [s for s in samples if s["sample"] == 0]
    one = 100 * sum(s["key"] == s["gold"] for s in first) / 200
    assert rows[0][1] == rows[0][2] == rows[0][3] == pytest.approx(one)
    assert all(a[3] <= b[3] for a, b in zip(rows, rows[1:], strict=False))  # more samples never lose the gold answer


def test_a_student_ships_only_when_its_gain_is_more_than_noise(tmp_path):
    """ship_student's rule on made-up reports: +1 item from 15 up and 14 down is a coin (kept out); 12 up and 2
    down ships; a significant drop on one yardstick keeps it out whatever the total."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from ship_student import compare, sign_p

    def report(name: str, right: set[int], n: int = 60) -> Path:
        folder = tmp_path / name
        folder.mkdir()
        rows = [{"item_id": f"i{k}", "correct": k in right} for k in range(n)]
        (folder / "report.json").write_text(json.dumps({"items": {"react / m": rows}}))
        return folder

    shipped = {"svamp": report("old", set(range(30)))}
    noisy = {"svamp": report("noisy", set(range(16)) | set(range(40, 55)))}  # 14 of the old lost, 15 new
    better, lines = compare(noisy, shipped)
    assert not better and "15 up, 14 down" in lines[0] and lines[-1].endswith("within noise: kept out")
    assert sign_p(15, 14) == pytest.approx(0.5) and sign_p(12, 2) < 0.01 and sign_p(0, 0) == 1.0
    clear = {"svamp": report("clear", set(range(28)) | set(range(40, 52)))}  # 2 lost, 12 new
    assert compare(clear, shipped)[0]
    shipped["gsm8k:1"] = report("old1", set(range(12)))
    drop = {"svamp": report("drop", set(range(60))), "gsm8k:1": report("drop1", set())}
    better, lines = compare(drop, shipped)
    assert not better and "drops on gsm8k:1" in lines[-1]


def test_svamp_misses_are_classed_against_the_equation():
    """NOTES, session 39: the shipped student's 108 SVAMP misses by what its calculator input got wrong."""
    import svamp_types

    assert svamp_types.miss_class("14 - 82", "( 106.0 - 14.0 )", 92) == "numbers"  # pens asked, books taken
    assert svamp_types.miss_class("106 + 14", "( 106.0 - 14.0 )", 92) == "operation"
    assert svamp_types.miss_class("51 * 3", "( 106.0 - 14.0 )", 92) == "both"
    assert svamp_types.miss_class("2 / 664", "( 664.0 / 2.0 )", 332) == "reversed"
    assert svamp_types.miss_class("14 - 106", "( 106.0 - 14.0 )", 92) == "reversed"
    assert svamp_types.miss_class("106 - 14", "( 106.0 - 14.0 )", 93) == "neither"  # the equation itself misses
    assert svamp_types._impossible("-68", 92) and svamp_types._impossible("0.5", 3)
    assert not svamp_types._impossible("68", 92) and not svamp_types._impossible("1.5", 2.5)
    assert svamp_types._unsigned("92", "-92") and not svamp_types._unsigned("92", "92")
    assert not svamp_types._unsigned("-92", "-92") and not svamp_types._unsigned("x", "-92")
    assert svamp_types._not_the_result("400", "10") and not svamp_types._not_the_result("92", "-92")
    assert not svamp_types._not_the_result("2.50", "2.5") and svamp_types._not_the_result("x", "1") is None


def test_a_shipped_soups_card_says_it_is_an_average_not_its_first_members_training():
    """ship_student's card of a soup (soup_adapters.py) names its members and weights; a trained adapter's card
    names its recipe."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from ship_student import render_card

    trained = {"name": "a", "kind": "dpo", "parent": "p", "training_args": {"max_steps": 200, "lora_r": 16}}
    card = render_card("a", trained, [], [], "apprentice train dpo ...", ["no student shipped before"])
    assert "- Recipe: LoRA on every linear projection, max_steps=200, lora_r=16;" in card
    soup = {**trained, "kind": "soup", "training_args": {**trained["training_args"], "soup_of": ["a", "b"],
                                                          "soup_weights": [0.75, 0.25]}}
    card = render_card("w", soup, [], [], "python benchmarks/soup_adapters.py ...", [])
    assert ("no training of its own: the weighted average of the LoRA factors of `a` x 0.75, `b` x 0.25 "
            "(`benchmarks/soup_adapters.py`; `a`: max_steps=200, lora_r=16)") in " ".join(card.split())


def test_a_soup_averages_its_members_weights_and_refuses_members_of_another_parent(tmp_path, capsys):
    """benchmarks/soup_adapters.py (NOTES, session 41): the members' LoRA tensors averaged entry by entry, in fp16,
    registered as an adapter of kind soup; no model is loaded (the base is an OpenAI spec, no GGUF to rebuild)."""
    import numpy as np
    import soup_adapters
    from safetensors.numpy import load_file, save_file

    from apprentice.training.registry import get_adapter, import_adapter

    key = "base_model.model.layers.0.q_proj.lora_A.weight"
    for name, value, parent in (("s0", 1.0, "p"), ("s1", 2.0, "p"), ("s2", 4.5, "p"), ("other", 3.0, "q"),
                                ("c2", 0.5, "s2"), ("cc2", 0.25, "c2"), ("t2", 1.0, "s2")):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "apprentice.json").write_text(json.dumps({"name": name, "base": "openai:gpt-4o-mini", "kind": "dpo",
                                                            "created_at": 1.0, "parent": parent, "dataset": "d",
                                                            "react_prompt": "tally" if name == "t2" else "student"}))
        (folder / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 4, "lora_alpha": 8,
                                                                "target_modules": ["v_proj", "q_proj"]}))
        save_file({key: np.full((4, 8), value, dtype=np.float32)}, str(folder / "adapter_model.safetensors"))
        for tokenizer in ("tokenizer.json", "tokenizer_config.json"):
            (folder / tokenizer).write_text("{}")
        import_adapter(folder)
    assert soup_adapters.main(["soup", "s0", "s1", "s2"]) == 0
    assert "adapter soup: the average of s0, s1, s2 (fp16)" in capsys.readouterr().out
    soup = get_adapter("soup")
    weights = load_file(str(soup.path / "adapter_model.safetensors"))
    assert weights[key].dtype == np.float16 and np.all(weights[key] == 2.5)
    assert (soup.kind, soup.parent, soup.dataset, soup.training_args["soup_of"]) == ("soup", "p", "d",
                                                                                       ["s0", "s1", "s2"])
    assert soup.react_prompt == "student"  # the members' prompt, which the soup runs with
    # a point on the line between a fine-tune and the adapter it continued (WiSE-FT): the soup descends from the
    # nearer one; a grandchild and a sibling of its grandparent meet at their common parent
    assert soup_adapters.main(["wise", "s2", "cc2", "--weights", "3", "1"]) == 0
    assert "adapter wise: the weighted average of s2 x 0.75, cc2 x 0.25 (fp16" in capsys.readouterr().out
    wise = get_adapter("wise")
    assert np.all(load_file(str(wise.path / "adapter_model.safetensors"))[key] == np.float16(3.4375))
    assert (wise.parent, wise.training_args["soup_weights"]) == ("s2", [0.75, 0.25])
    assert soup_adapters.main(["far", "cc2", "s0"]) == 0 and get_adapter("far").parent == "p"
    for argv, message in ((["x", "s0", "other"], "the members differ in parent"),
                          (["x", "cc2", "other"], "the members differ in parent"),
                          (["x", "s2", "t2"], r"different ReAct prompts: s2 \(student\), t2 \(tally\)"),
                          (["x", "s0", "s0"], "a soup needs two or more different adapters"),
                          (["x", "s0", "s1", "--weights", "1"], "--weights needs 2 numbers >= 0"),
                          (["x", "s0", "s1", "--weights", "1", "-1"], "--weights needs 2 numbers >= 0"),
                          (["x", "s0", "s1", "--weights", "0", "0"], "not all 0"),
                          (["x", "s0", "nobody"], "no adapter named 'nobody'")):
        with pytest.raises(SystemExit, match=message):
            soup_adapters.main(argv)


def test_the_pool_size_plot_reads_each_seeds_report_and_draws_the_means(tmp_path, capsys):
    """benchmarks/plot_pool_size.py (NOTES, sessions 41 and 52): each share's seeds, their mean, a PNG, in the
    unit and share the caller names; a bad point is one error line."""
    import plot_pool_size

    def report(name: str, right: int) -> str:
        folder = tmp_path / name
        folder.mkdir()
        rows = [{"item_id": f"i{i}", "correct": i < right} for i in range(20)]
        (folder / "report.json").write_text(json.dumps({"items": {"react / m": rows}}))
        return str(folder)

    out = tmp_path / "plot" / "pool.png"
    assert plot_pool_size.main(["--out", str(out), f"25:10={report('a', 8)}", f"25:10={report('b', 10)}",
                                f"100:40={report('c', 12)}"]) == 0
    printed = capsys.readouterr().out
    assert " 25% of the pool (10 pairs): seeds 8/20, 10/20; mean 45.0%" in printed
    assert "100% of the pool (40 pairs): seeds 12/20; mean 60.0%" in printed
    assert out.read_bytes()[:4] == b"\x89PNG"
    assert plot_pool_size.main(["--out", str(out), f"80:4000={report('d', 11)}", "--unit", "examples",
                                "--share-label", "schema", "--xlabel", "training examples"]) == 0
    assert " 80% schema (4000 examples): seeds 11/20; mean 55.0%" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="is not SHARE:PAIRS=REPORT_DIR"):
        plot_pool_size.main(["--out", str(out), "quarter=somewhere"])
    with pytest.raises(SystemExit, match="is not an eval report"):
        plot_pool_size.main(["--out", str(out), f"25:10={tmp_path}"])


def test_the_followups_benchmark_sends_the_transcript_as_the_product_does_and_forced_beside_it(apprentice_home,
                                                                                                monkeypatch, capsys):
    """benchmarks/student_followups.py (NOTES, session 42): each question alone, as a follow-up the way the product
    sends it (no transcript for a question that stands alone), with the transcript forced; then the questions that
    point back, with the transcript and without. A scripted student that answers 17 to everything."""
    import student_followups

    import apprentice.models
    from apprentice.agents import react
    from apprentice.backends import ScriptedChatModel

    model = ScriptedChatModel(script=[" Final Answer: 17"], cycle=True, react_prompt="student")
    monkeypatch.setattr(apprentice.models, "load_chat_model", lambda spec: model)
    rule = react.stands_alone
    assert student_followups.main(["--model", "scripted", "--task", "arith", "--limit", "2"]) == 0
    out = capsys.readouterr().out
    assert react.stands_alone is rule  # the forced modes put the product's rule back
    n_back = len(student_followups.POINTING_BACK)
    right_back = sum(answer == 17 for _, answer in student_followups.POINTING_BACK)
    assert f"points back: {right_back}/{n_back} right" in out and "follow-up, transcript forced: 0/2 right" in out
    systems = [prompt[0].text for prompt in model.prompts]
    # per arith item: alone; first turn + follow-up; first turn + forced follow-up; per pointing-back question: two
    per_item = [react.EARLIER_PREFIX in text for text in systems[:10]]
    assert per_item == [False, False, False, False, True] * 2
    back = [react.EARLIER_PREFIX in text for text in systems[10:]]
    assert back == [False, True, False, False] * n_back


def test_a_student_ships_only_on_reports_of_its_own_weights(register_adapter_x, tmp_path):
    """ship_student never ships an adapter on another model's reports, nor on its own from before it was trained
    again under its name: eval reports record each model's version (``model_versions``), checked against now."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from ship_student import check_reports

    from apprentice.backends import ScriptedChatModel
    from apprentice.eval import EvalConfig, run_eval
    from apprentice.tasks import get_task
    from apprentice.training.registry import adapter_version, get_adapter

    def evaluate(spec: str, name: str) -> Path:
        task = get_task("arith")
        config = EvalConfig(task="arith", strategies=["cot"], models=[spec], limit=2, options={"fewshot": 0},
                            report_dir=tmp_path / name)
        answers = [f" Easy.\nFinal Answer: {item.answer}" for item in task.load(split="test", limit=2)]
        run_eval(config, progress=False, models={spec: ScriptedChatModel(script=answers)})
        return tmp_path / name

    register_adapter_x(1.0)
    mine = evaluate("adapter:x", "mine")
    header = json.loads((mine / "report.json").read_text())
    assert header["model_versions"] == {"adapter:x": f"adapter:x@{adapter_version(get_adapter('x'))}"}
    assert check_reports("x", {"svamp": mine}) == []
    with pytest.raises(SystemExit, match=r"is a report of local, not of adapter:x"):
        check_reports("x", {"svamp": evaluate("local", "other")})
    del header["model_versions"]  # a report from before versions were recorded: let through, with a line
    (mine / "report.json").write_text(json.dumps(header))
    assert check_reports("x", {"svamp": mine}) == [f"svamp: {mine} does not record its model's version; not checked"]
    register_adapter_x(2.0)  # trained again under its name: the old report is not of these weights
    again = evaluate("adapter:x", "again")
    register_adapter_x(3.0)
    with pytest.raises(SystemExit, match=r"evaluated adapter:x@\w+, and adapter:x is adapter:x@\w+ now"):
        check_reports("x", {"svamp": again})


def test_the_gsm8k_reach_classes_reproduce_the_notes(shared_data, capsys):
    """NOTES, session 46: read with the calculations the worked solutions write out in the prose, 26 of the 55
    "one-step" test problems take two or three grounded operations that give the answer (4 by the annotations
    alone); the shipped student's 2 right answers: one of them, one outside."""
    import gsm8k_reach

    assert gsm8k_reach.reach("Tom has 5 apples and buys 3. How many now?", "5+3=<<5+3=8>>8\n#### 8", "8") == \
        "grounded, and 1 operation gives the answer"
    # the step the annotators left out, written out in the prose, counts
    assert gsm8k_reach.reach("A show has 3 seasons of 20 episodes. Willy watches 2 a day. How many days?",
                             "3*20=<<3*20=60>>60 episodes\n60/2=30 days\n#### 30", "30") == \
        "grounded, and 2 operations give the answer"
    assert gsm8k_reach.reach("A show has 3 seasons of 20 episodes. Willy watches 2 a day. How many days?",
                             "3*20=<<3*20=60>>60 episodes, which takes half as many days.\n#### 30",
                             "30").startswith("grounded, but")
    assert gsm8k_reach.reach("Rupert is 3 and 1/2 times as old as Peter, who is 10.", "3.5*10=<<3.5*10=35>>35\n#### 35",
                             "35").startswith("not grounded")
    report = BENCHMARKS / "results" / "student" / "uar-s-cdpo200" / "gsm8k-1"
    assert gsm8k_reach.main([str(report), "--data", str(shared_data)]) == 0
    out = capsys.readouterr().out
    assert "    19 (34.5%)  grounded, and 2 operations give the answer" in out
    assert "     7 (12.7%)  grounded, and 3 operations give the answer" in out
    assert "(react / student): 2 right" in out and "     1 of   25  not grounded" in out


def test_gsm8k_reach_gives_one_error_line_for_a_missing_report_or_one_of_another_split(shared_data, tmp_path,
                                                                                       capsys):
    import gsm8k_reach

    assert gsm8k_reach.main([str(tmp_path), "--data", str(shared_data)]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    two_step = BENCHMARKS / "results" / "student" / "uar-s-cdpo200" / "gsm8k-2"
    assert gsm8k_reach.main([str(two_step), "--data", str(shared_data)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no item of gsm8k --level 1's test split" in err
