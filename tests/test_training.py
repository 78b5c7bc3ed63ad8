"""Distillation for real: replayed traces -> harvest -> masked tokens -> SFT/DPO on the embedded
model -> registry -> the student answers through llama.cpp (merged GGUF) and transformers."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from apprentice.backends import ScriptedChatModel
from apprentice.errors import ApprenticeError, ModelSpecError
from apprentice.graphs import run_question
from apprentice.tasks import get_task
from apprentice.traces import open_store
from apprentice.training.harvest import HarvestConfig, harvest
from apprentice.training.teachers import parse_teacher, solve_pool

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def apprentice_home(tmp_path_factory):
    """One home for the module: the GGUF->safetensors conversion (~25 s) happens once."""
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("APPRENTICE_HOME", str(home))
        yield home


@pytest.fixture(scope="module")
def dataset(apprentice_home) -> Path:
    """Replayed arith traces (verified) plus a failed run of each question, harvested with pairs."""
    task = get_task("arith", level=3, n=12, seed=1)
    items = task.load(split="train")[:8]
    counts = solve_pool(parse_teacher("dataset"), task, items, student="local", meta={"distill": "t"})
    assert counts["solved"] == len(items)
    for item in items:  # a failed run of every question: a pair for each one that is not held out
        wrong = ScriptedChatModel(script=[" I add.\nAction: calculator\nAction Input: 1 + 1", " Final Answer: 2"])
        run_question(item.question, model=wrong, model_spec="scripted", task=task, item=item, tools=["calculator"])
    out = apprentice_home / "datasets" / "t"
    result = harvest(HarvestConfig(out=out, task="arith", eval_fraction=0.25, tools=["calculator"]))
    assert result.train + result.eval == len(items) and result.eval == 2
    assert result.pairs == len(items) - 2  # the two held-out questions are in no pair
    held = {e["metadata"]["question"] for e in _rows(out / "eval.jsonl")}
    assert not held & {p["metadata"]["question"] for p in _rows(out / "pairs.jsonl")}
    assert [item_id for _, item_id in result.eval_items] == [e["metadata"]["item_id"]
                                                           for e in _rows(out / "eval.jsonl")]
    return out


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_harvest_writes_runtime_format_split_card_and_hf(dataset):
    from datasets import load_from_disk

    from apprentice.agents.react import text_protocol_messages
    from apprentice.tools import get_tools

    train, evals = _rows(dataset / "train.jsonl"), _rows(dataset / "eval.jsonl")
    row = train[0]
    system, user, assistant = row["messages"]
    expected = text_protocol_messages(question=user["content"], scratch="", tools=get_tools(["calculator"]),
                                      answer_format=get_task("arith").answer_format)[0].text
    assert system["content"] == expected and row["protocol"] == "react"
    assert assistant["content"].startswith("Thought: ") and "\nObservation: " in assistant["content"]
    assert assistant["content"].rstrip().split("\n")[-1].startswith("Final Answer: ")
    assert row["metadata"]["teacher"] == "dataset" and row["metadata"]["correct"] is True
    questions = lambda rows: {r["messages"][1]["content"] for r in rows}  # noqa: E731
    assert not questions(train) & questions(evals)
    card = (dataset / "README.md").read_text()
    assert "## by teacher" in card and "- dataset:" in card and "completion length" in card
    hf = load_from_disk(str(dataset / "hf"))
    assert hf["train"].num_rows == len(train)
    pair = _rows(dataset / "pairs.jsonl")[0]
    assert pair["chosen"][0]["content"] != pair["rejected"][0]["content"]


def test_only_verified_and_filters(dataset, apprentice_home, tmp_path):
    with pytest.raises(ApprenticeError, match="nothing to harvest"):
        harvest(HarvestConfig(out=tmp_path / "x", task="arith", model="scripted"))
    failed = harvest(HarvestConfig(out=tmp_path / "y", model="scripted", only_verified=False, pairs=False))
    assert failed.train + failed.eval == 8  # the fixture's failed run of each question


def test_loss_masks_prompt_and_observations(dataset):
    from transformers import AutoTokenizer

    from apprentice.backends.hf import hf_base_from_gguf
    from apprentice.models import embedded_model_path
    from apprentice.training.tokenization import tokenize_example

    tok = AutoTokenizer.from_pretrained(hf_base_from_gguf(embedded_model_path()))
    row = _rows(dataset / "train.jsonl")[0]
    encoded = tokenize_example(row["messages"], "react", tok)
    ids, labels = encoded["input_ids"], encoded["labels"]
    learned = tok.decode([i for i, lab in zip(ids, labels, strict=True) if lab != -100])
    masked_runs, run = [], []
    for token_id, label in zip(ids, labels, strict=True):
        if label == -100:
            run.append(token_id)
        elif run:
            masked_runs.append(tok.decode(run))
            run = []
    prompt_run, *gaps = masked_runs
    observations = [ln.split("Observation: ", 1)[1] for ln in row["messages"][2]["content"].splitlines()
                    if ln.startswith("Observation: ")]
    assert "Answer the question" in prompt_run and row["messages"][1]["content"] in prompt_run
    assert prompt_run.endswith("Thought:")  # the prefill the harness writes
    assert len(gaps) == len(observations)
    for gap, obs in zip(gaps, observations, strict=True):
        assert gap == f" {obs}\nThought:"  # tool output and the next prefill: not learned
    assert "Action: calculator" in learned and "Final Answer:" in learned and learned.endswith("<|im_end|>")
    assert learned.count("Observation:") == len(observations)  # the model learns to stop there


def test_sft_every_lora_parameter_changes_and_the_student_answers(dataset, apprentice_home, tmp_path):
    import torch
    from safetensors.torch import load_file

    from apprentice.models import load_chat_model
    from apprentice.training import registry
    from apprentice.training.sft import SFTArgs, main

    record = main(SFTArgs(data=dataset, name="tiny", max_steps=3, batch_size=2, eval_steps=2,
                          max_length=384, learning_rate=1e-3))
    weights = load_file(str(record.path / "adapter_model.safetensors"))
    lora_b = [v for k, v in weights.items() if "lora_B" in k]
    assert lora_b and all(torch.count_nonzero(v) > 0 for v in lora_b)  # B starts at zero
    from apprentice.training.base_model import (
        load_for_training,
        lora_config,
        resolve_base,
    )

    _, fresh = load_for_training(resolve_base("local"), qlora=False, lora=lora_config(16, 32, 0.05, "all-linear"),
                                 seed=0)  # the same seeded initialisation, untrained
    initial = {k.replace(".default", ""): v for k, v in fresh.state_dict().items() if "lora_A" in k}
    lora_a = {k: v for k, v in weights.items() if "lora_A" in k}
    assert lora_a.keys() == initial.keys()
    assert all(not torch.equal(lora_a[k], initial[k]) for k in lora_a)  # every A moved too
    assert [r.name for r in registry.list_adapters()] == ["tiny"]
    assert record.base == "local" and record.fingerprint and record.gguf == "model.gguf"
    assert record.metrics["global_step"] == 3
    # where its time went (a distill round's report shows it): steps, the eval-loss pass at step 2, the GGUF merge
    assert all(record.metrics[key] > 0 for key in ("train_seconds", "eval_loss_seconds", "gguf_seconds"))
    assert record.metrics["train_seconds"] > record.metrics["eval_loss_seconds"]
    # a training continued from it runs at the dropout it asks for, not at the one the adapter was saved with, and
    # names the base folder it trains on here, not the one the parent's config names (another machine's, or the
    # shipped student's hub id, where PEFT's save would look for the base's config over the network)
    from apprentice.specs import EMBEDDED_HUB_ID

    config_file = record.path / "adapter_config.json"
    config_file.write_text(json.dumps({**json.loads(config_file.read_text()),
                                       "base_model_name_or_path": EMBEDDED_HUB_ID}))
    for p, kind in ((0.0, torch.nn.Identity), (0.1, torch.nn.Dropout)):
        _, continued = load_for_training(resolve_base("adapter:tiny"), qlora=False,
                                         lora=lora_config(16, 32, p, "all-linear"))
        dropouts = [m.lora_dropout["default"] for m in continued.modules() if hasattr(m, "lora_dropout")
                    and isinstance(m.lora_dropout, torch.nn.ModuleDict)]
        assert len(dropouts) == 30 * 7 and all(type(d) is kind and getattr(d, "p", p) == p for d in dropouts)
        assert continued.peft_config["default"].base_model_name_or_path == str(resolve_base("local").folder)
    with warnings.catch_warnings():  # its save reads the base's config from that folder: no lookup on the hub
        warnings.simplefilter("error")
        continued.save_pretrained(str(tmp_path / "continued"))

    _assert_gguf_is_the_merged_model(record)
    prompt = [SystemMessage("You are helpful."), HumanMessage("What is 6 times 8?"), AIMessage("Thought:")]
    fast = load_chat_model("adapter:tiny", max_tokens=24)  # merged GGUF on llama.cpp
    assert fast.invoke(prompt).content.strip()
    from apprentice.backends.hf import TransformersChatModel
    from apprentice.training.base_model import resolve_base

    slow = TransformersChatModel(model_dir=str(resolve_base("local").folder), adapter_dir=str(record.path),
                                 spec="peft", max_tokens=24)
    result = run_question("What is 3 plus 4?", model="adapter:tiny", tools=["calculator"], max_steps=2)
    assert result.status == "ok" and open_store().get(result.run_id).model == "adapter:tiny"

    merged = registry.export_adapter("tiny", tmp_path / "merged", merge=True)
    assert (merged / "model.safetensors").is_file()
    assert load_chat_model(f"local:{merged}", max_tokens=24).invoke(prompt).content == slow.invoke(prompt).content


def _assert_gguf_is_the_merged_model(record) -> None:
    """The exported GGUF holds base+LoRA (to Q8_0 precision) where LoRA applies, the base elsewhere."""
    import gguf
    import numpy as np

    from apprentice.models import embedded_model_path
    from apprentice.training.gguf_export import _permute
    from apprentice.training.registry import merged_model

    exported = {t.name: t for t in gguf.GGUFReader(record.path / "model.gguf").tensors}
    original = {t.name: t for t in gguf.GGUFReader(embedded_model_path()).tensors}
    assert exported.keys() == original.keys()
    assert np.array_equal(exported["token_embd.weight"].data, original["token_embd.weight"].data)
    merged, _ = merged_model(record.base, record.path)
    cfg = merged.config
    for hf_name, gguf_name, heads in (("model.layers.0.self_attn.q_proj.weight", "blk.0.attn_q.weight",
                                       (cfg.num_attention_heads, cfg.num_attention_heads)),
                                      ("model.layers.3.mlp.down_proj.weight", "blk.3.ffn_down.weight", None)):
        tensor = exported[gguf_name]
        assert tensor.tensor_type == gguf.GGMLQuantizationType.Q8_0
        got = gguf.quants.dequantize(tensor.data, tensor.tensor_type)
        want = merged.state_dict()[hf_name].float().numpy()
        want = _permute(want, *heads) if heads else want
        assert got.shape == want.shape
        assert np.abs(got - want).max() <= 0.01 * np.abs(want).max()  # Q8_0 rounding, nothing more


def test_prompt_erasure_travels_from_dataset_to_adapter_to_the_running_student(dataset, apprentice_home):
    """Harvested with the short student prompt, the examples carry it, the adapter records it and
    the loaded student runs with it (the prompt it was trained on, a third of the full one)."""
    from apprentice.agents.react import text_protocol_messages
    from apprentice.models import load_chat_model
    from apprentice.tools import get_tools
    from apprentice.training.harvest import dataset_react_prompt
    from apprentice.training.registry import get_adapter
    from apprentice.training.sft import SFTArgs, main

    out = apprentice_home / "datasets" / "erased"
    harvest(HarvestConfig(out=out, task="arith", eval_fraction=0.25, tools=["calculator"], react_prompt="student",
                          pairs=False))
    system, user, _ = _rows(out / "train.jsonl")[0]["messages"]
    short = text_protocol_messages(question=user["content"], scratch="", tools=get_tools(["calculator"]),
                                   answer_format=get_task("arith").answer_format, prompt="student", transcript="always")[0].text
    assert system["content"] == short and dataset_react_prompt(out) == "student"
    assert dataset_react_prompt(dataset) == "full"
    main(SFTArgs(data=out, name="erased", max_steps=1, batch_size=2, max_length=384, export_gguf=False))
    assert get_adapter("erased").react_prompt == "student"
    assert load_chat_model("adapter:erased", max_tokens=8).react_prompt == "student"


def test_a_pool_put_together_by_hand_keeps_the_prompt_its_rows_were_written_with(tmp_path):
    """A dataset folder without harvest.json (pairs mixed from two harvests by a script): the adapter trained on it
    must run with the prompt in its rows. It was registered as ``full`` and evaluated with a prompt it never saw
    (session 43: a candidate read 39.5% on SVAMP so, 63 tokens more in every prompt than it was trained on)."""
    from apprentice.agents.react import text_protocol_messages
    from apprentice.tools import get_tools
    from apprentice.training.harvest import dataset_react_prompt

    def system(prompt: str) -> dict:
        return {"role": "system", "content": text_protocol_messages(
            question="q", scratch="", tools=get_tools(["calculator"]), answer_format="", prompt=prompt)[0].text}

    def folder(name: str, file: str, rows: list) -> Path:
        (tmp_path / name).mkdir()
        (tmp_path / name / file).write_text("".join(json.dumps(r) + "\n" for r in rows))
        return tmp_path / name

    answer = {"role": "assistant", "content": "Final Answer: 1"}
    # "tally" opens as "student" does: registered as "student", session 48's tally students ran without the tally
    for prompt in ("student", "tally", "full"):
        rows = [{"messages": [{"role": "user", "content": "plain"}, answer]},  # not ReAct: read past
                {"messages": [system(prompt), {"role": "user", "content": "q"}, answer], "protocol": "react"}]
        assert dataset_react_prompt(folder(f"train-{prompt}", "train.jsonl", rows)) == prompt
        pair = {"prompt": [system(prompt), {"role": "user", "content": "q"}], "chosen": [answer], "rejected": [answer],
                "protocol": "react"}
        assert dataset_react_prompt(folder(f"pairs-{prompt}", "pairs.jsonl", ["not a row", pair])) == prompt
    kept = folder("kept", "pairs.jsonl", [pair])  # the full prompt's pair, beside another harvest's record
    (kept / "harvest.json").write_text(json.dumps({"react_prompt": "student"}))
    assert dataset_react_prompt(kept) == "full"  # the rows are what the adapter learned
    said = folder("said", "train.jsonl", rows[:1])  # no ReAct row: harvest's record says
    (said / "harvest.json").write_text(json.dumps({"react_prompt": "student"}))
    assert dataset_react_prompt(said) == "student" and dataset_react_prompt(tmp_path / "missing") == "full"
    unreadable = folder("unreadable", "train.jsonl", [{"messages": []}])
    (unreadable / "pairs.jsonl").write_text("{\n")
    assert dataset_react_prompt(unreadable) == "full"


def test_followups_put_other_questions_into_the_system_prompt_as_a_chat_thread_does(dataset, apprentice_home):
    """A share of the student-prompt training examples are written as a later turn of a chat thread, in the
    exact system prompt the graph builds for a student's follow-up; held-out examples stay first turns."""
    from apprentice.agents.react import EARLIER_PREFIX, text_protocol_messages
    from apprentice.tools import get_tools

    out = apprentice_home / "datasets" / "followups"
    harvest(HarvestConfig(out=out, task="arith", eval_fraction=0.25, tools=["calculator"], react_prompt="student",
                          pairs=False, followups=0.5))
    train, evals = _rows(out / "train.jsonl"), _rows(out / "eval.jsonl")
    later = [r for r in train if EARLIER_PREFIX in r["messages"][0]["content"]]
    assert len(later) == round(len(train) / 2) and not any(EARLIER_PREFIX in r["messages"][0]["content"] for r in evals)
    answers = {r["metadata"]["question"]: r["metadata"]["answer"] for r in train}
    for row in later:
        system, user, _ = row["messages"]
        turns = row["metadata"]["earlier_turns"]
        lines = system["content"].split(EARLIER_PREFIX)[1].split("\n")
        assert 1 <= turns <= 3 and len(lines) == 2 * turns
        history = []
        for q, a in zip(lines[::2], lines[1::2], strict=True):
            question = q.removeprefix("Q: ")
            assert question != user["content"] and a == f"A: {answers[question]}"
            history += [HumanMessage(question), AIMessage(answers[question])]
        assert system["content"] == text_protocol_messages(
            question=user["content"], scratch="", tools=get_tools(["calculator"]), history=history,
            answer_format=get_task("arith").answer_format, prompt="student", transcript="always")[0].text
    assert f"- 0: {len(train) - len(later) + len(evals)}" in (out / "README.md").read_text()
    with pytest.raises(ApprenticeError, match="followups must be a share between 0 and 1"):
        HarvestConfig(out=out, react_prompt="student", followups=1.5)
    with pytest.raises(ApprenticeError, match="need a student ReAct prompt"):
        HarvestConfig(out=out, followups=0.5)
    with pytest.raises(ApprenticeError, match="--system none drops"):
        HarvestConfig(out=out, react_prompt="student", system="", followups=0.5)


def test_dpo_step_on_pairs(dataset, apprentice_home):
    from apprentice.training.dpo import DPOArgs, main

    record = main(DPOArgs(data=dataset, name="tiny-dpo", max_steps=1, batch_size=1, max_length=384,
                          export_gguf=False))
    assert record.kind == "dpo" and record.metrics["global_step"] == 1
    assert (record.path / "adapter_model.safetensors").is_file()
    # the first step starts at the reference, where the DPO loss is ln 2; RPO adds the chosen side's NLL
    assert record.metrics["train_loss"] == pytest.approx(0.6931, abs=1e-3)
    rpo = main(DPOArgs(data=dataset, name="tiny-rpo", max_steps=1, batch_size=1, max_length=384, sft_weight=1.0,
                       export_gguf=False))
    assert rpo.metrics["train_loss"] > 0.6931 + 0.05 and rpo.training_args["sft_weight"] == 1.0
    acted = main(DPOArgs(data=dataset, name="tiny-act", max_steps=1, batch_size=1, max_length=384, credit="action",
                         export_gguf=False))
    assert acted.metrics["train_loss"] == pytest.approx(0.6931, abs=1e-3) and acted.training_args["credit"] == "action"
    written = main(DPOArgs(data=dataset, name="tiny-written", max_steps=1, batch_size=1, max_length=384,
                           credit="written", export_gguf=False))
    assert written.metrics["train_loss"] == pytest.approx(0.6931, abs=1e-3)
    assert written.training_args["credit"] == "written"


def test_action_credit_counts_no_observation_and_nothing_of_a_failure_after_it():
    """``train dpo --credit action``: DPO's log-probabilities leave out the calculator's observations (text the
    model never writes), and a rejected side's tokens after its first observation: its final answer copies the wrong
    result faithfully, and pushing that down taught continued students to answer another number than their
    calculator's (session 44: 15-23 of 200 SVAMP answers, 3 before)."""
    from transformers import AutoTokenizer

    from apprentice.training.base_model import base_folder
    from apprentice.training.dpo import credit_mask

    tokenizer = AutoTokenizer.from_pretrained(base_folder("local"))
    text = ("Thought: The question says \"left\", so I subtract.\nAction: calculator\nAction Input: 9 / 20\n"
            "Observation: 0.45\nThought: The calculator gave 0.45, so this answers the question.\nFinal Answer: 0.45")
    pieces = [tokenizer.decode([token]) for token in tokenizer(text, add_special_tokens=False)["input_ids"]]
    assert "".join(pieces) == text

    def kept(rejected: bool) -> str:
        return "".join(p for p, keep in zip(pieces, credit_mask(pieces, rejected=rejected), strict=True) if keep)

    assert kept(False) == text.replace(" 0.45\n", "", 1)  # the observation's value and its line end
    assert kept(True) == text.split("Observation:")[0] + "Observation:"  # the choices that made the failure
    assert credit_mask(["no ", "tool"], rejected=True) == [1, 1]
    from trl.trainer.dpo_trainer import DataCollatorForPreference

    from apprentice.training.dpo import _credit_collator

    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    collate = _credit_collator(tokenizer, DataCollatorForPreference(pad_token_id=0), "action")
    mask = collate([{"prompt_ids": [1, 2], "chosen_ids": ids, "rejected_ids": ids}])["completion_mask"]
    assert mask[0, :2].tolist() == [0, 0] and mask[0, 2:].tolist() == credit_mask(pieces, rejected=False)
    assert mask[1, 2:].tolist() == credit_mask(pieces, rejected=True)


def test_written_credit_counts_what_sft_learns_on_both_sides():
    """``train dpo --credit written``: DPO counts the tokens SFT learns, on the chosen and the rejected side alike:
    not the prefilled ``Thought:``, not the calculator's observation nor the ``Thought:`` the harness writes after
    it; the rejected side's final answer stays counted (``action`` leaves it out)."""
    from transformers import AutoTokenizer

    from apprentice.training.base_model import base_folder
    from apprentice.training.dpo import _credit_collator, credit_mask
    from apprentice.training.tokenization import IGNORE_INDEX, tokenize_example

    tokenizer = AutoTokenizer.from_pretrained(base_folder("local"))
    text = ("Thought: The question says \"left\", so I subtract.\nAction: calculator\nAction Input: 9 / 20\n"
            "Observation: 0.45\nThought: The calculator gave 0.45, so this answers the question.\nFinal Answer: 0.45")
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    pieces = [tokenizer.decode([token]) for token in ids]
    for rejected in (False, True):
        kept = "".join(p for p, keep in zip(pieces, credit_mask(pieces, rejected=rejected, credit="written"),
                                            strict=True) if keep)
        assert kept == text.removeprefix("Thought:").replace(" 0.45\nThought:", "", 1)
    # the same tokens as SFT's labels for this text as the assistant's turn (its end-of-turn token aside)
    labels = tokenize_example([{"role": "user", "content": "q"}, {"role": "assistant", "content": text}], "react",
                              tokenizer)["labels"]
    learned = [token for token in labels if token != IGNORE_INDEX][:-1]
    assert learned == [t for t, keep in zip(ids, credit_mask(pieces, rejected=True, credit="written"),
                                            strict=True) if keep]
    # a continuation example (``learn="opened"``): only what follows the harness's opening; none without one
    opened = text.replace("Thought: The calculator", "Thought: (go on: 7 not used yet) The calculator")
    for given, want in ((text, ""), (opened, " The calculator gave 0.45, so this answers the question.\n"
                                             "Final Answer: 0.45<|im_end|>")):
        labels = tokenize_example([{"role": "user", "content": "q"}, {"role": "assistant", "content": given}],
                                  "react", tokenizer, learn="opened")["labels"]
        assert tokenizer.decode([token for token in labels if token != IGNORE_INDEX]) == want
    from trl.trainer.dpo_trainer import DataCollatorForPreference

    collate = _credit_collator(tokenizer, DataCollatorForPreference(pad_token_id=0), "written")
    mask = collate([{"prompt_ids": [1, 2], "chosen_ids": ids, "rejected_ids": ids}])["completion_mask"]
    assert mask[0, 2:].tolist() == mask[1, 2:].tolist() == credit_mask(pieces, rejected=True, credit="written")


def test_an_exported_adapter_imports_back_with_its_provenance_and_a_rebuilt_gguf(dataset, apprentice_home,
                                                                                tmp_path, capsys):
    """Export on one machine, import on another: the registry folder is the unit that travels."""
    from apprentice.cli import main as cli_main
    from apprentice.models import load_chat_model
    from apprentice.training.registry import export_adapter, get_adapter
    from apprentice.training.sft import SFTArgs, main

    trained = main(SFTArgs(data=dataset, name="travel", max_steps=1, batch_size=2, max_length=384, export_gguf=False))
    out = export_adapter("travel", tmp_path / "exported")
    assert (out / "adapter_model.safetensors").is_file() and not (out / "model.gguf").exists()
    for name in ("tokenizer.json", "tokenizer_config.json"):  # a slim copy: the base's tokenizer serves
        (out / name).unlink()
    assert cli_main(["adapters", "import", str(out), "--as", "travelled"]) == 0
    assert "imported" in capsys.readouterr().out
    record = get_adapter("travelled")
    assert (record.base, record.kind, record.fingerprint, record.training_args, record.created_at) == (
        trained.base, trained.kind, trained.fingerprint, trained.training_args, trained.created_at)
    assert record.gguf == "model.gguf" and (record.path / "tokenizer.json").is_file()
    _assert_gguf_is_the_merged_model(record)
    reply = load_chat_model("adapter:travelled", max_tokens=12).invoke([HumanMessage("What is 6 times 8?")])
    assert reply.content.strip()

    assert cli_main(["adapters", "import", str(out), "--as", "travelled"]) == 2  # never replaces an entry
    assert "already exists" in capsys.readouterr().err
    (out / "adapter_model.safetensors").rename(out / "adapter_model.bin")
    assert cli_main(["adapters", "import", str(out), "--as", "other"]) == 2
    assert "adapter_model.safetensors missing" in capsys.readouterr().err
    assert cli_main(["adapters", "import", str(tmp_path / "nowhere")]) == 2
    assert "no adapter folder" in capsys.readouterr().err


def test_corrupt_and_mismatched_adapters_are_clear_errors(apprentice_home):
    from apprentice.cli import main as cli_main
    from apprentice.models import load_chat_model
    from apprentice.training.registry import adapters_root, get_adapter

    root = adapters_root()
    (root / "nojson").mkdir()
    (root / "nojson" / "apprentice.json").write_text("{not json")
    with pytest.raises(ModelSpecError, match="corrupt"):
        get_adapter("nojson")
    pickled = root / "pickled"
    pickled.mkdir()
    (pickled / "apprentice.json").write_text(json.dumps({"name": "pickled", "base": "local", "kind": "sft",
                                                         "created_at": 0}))
    (pickled / "adapter_model.bin").write_bytes(b"\x80\x04pickle")
    (pickled / "adapter_config.json").write_text("{}")
    with pytest.raises(ModelSpecError, match="corrupt"):
        load_chat_model("adapter:pickled")
    with pytest.raises(ModelSpecError, match="no adapter named 'ghost'"):
        load_chat_model("adapter:ghost")
    assert cli_main(["adapters", "show", "ghost"]) == 2
    with pytest.raises(ApprenticeError, match="bad adapter name"):
        get_adapter("../etc")


def test_mismatched_adapter_is_refused(apprentice_home, tmp_path):
    from apprentice.backends.hf import load_hf
    from apprentice.training.base_model import resolve_base

    adapter = tmp_path / "bad"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({
        "peft_type": "LORA", "task_type": "CAUSAL_LM", "r": 4, "lora_alpha": 8,
        "target_modules": ["q_proj"], "base_model_name_or_path": "x"}))
    import torch
    from safetensors.torch import save_file

    save_file({"base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight": torch.zeros(4, 7)},
              str(adapter / "adapter_model.safetensors"))
    with pytest.raises(ModelSpecError, match="does not fit"):
        load_hf(resolve_base("local").folder, adapter)
    from apprentice.training.registry import adapters_root, import_adapter

    (adapter / "apprentice.json").write_text(json.dumps({"name": "bad", "base": "local", "kind": "sft",
                                                         "created_at": 0}))
    with pytest.raises(ModelSpecError, match="does not fit base local"):
        import_adapter(adapter)
    assert not any(adapters_root().glob("*bad*"))  # nothing half-imported is left behind


def test_the_card_histogram_is_in_proportion():
    from collections import Counter

    from apprentice.training.examples import ChatExample
    from apprentice.training.harvest import dataset_card

    def example(n: int) -> ChatExample:
        return ChatExample([{"role": "user", "content": "q"}, {"role": "assistant", "content": "x" * n}], "plain",
                           {"teacher": "dataset"})
    card = dataset_card([example(250)] * 120 + [example(500)] * 30 + [example(900)], [], [], 151, Counter())
    bars = {line.split("|")[0].strip(): line.split("|")[1].split() for line in card.splitlines() if " | " in line}
    assert bars["200-399"] == ["#" * 60, "120"] and bars["400-799"] == ["#" * 15, "30"]
    assert bars["800-1599"] == ["#", "1"] and bars["0-99"] == ["0"]


def _copied_and_computed(tmp_path, monkeypatch):
    """An arith item, a model whose calculator result is not its (correct) answer, and one whose result is."""
    monkeypatch.setenv("APPRENTICE_HOME", str(tmp_path / "home"))
    task = get_task("arith", level=1, n=4, seed=2)
    item = task.load(split="train")[0]
    copied = ScriptedChatModel(script=[" I add.\nAction: calculator\nAction Input: 1000000 + 1",
                                       f" Final Answer: {item.answer}"])
    computed = ScriptedChatModel(script=[f" I add.\nAction: calculator\nAction Input: {item.answer} + 0",
                                         f" Final Answer: {item.answer}"])
    return task, item, copied, computed


def test_an_answer_the_calculator_did_not_compute_is_not_harvested(tmp_path, monkeypatch):
    # a STaR rationalization seen in a self-taught round: `137 - 12 + 11` -> 136, then "Final Answer: 11" (the hint)
    task, item, copied, computed = _copied_and_computed(tmp_path, monkeypatch)
    direct = ScriptedChatModel(script=[f" Final Answer: {item.answer}"])
    # a hinted answer handed to the calculator as it is: "computed" by it, worked out by nothing
    echoed = ScriptedChatModel(script=[f" The answer is given.\nAction: calculator\nAction Input: {item.answer}",
                                       f" Final Answer: {item.answer}"])
    for name, model in (("copied", copied), ("computed", computed), ("direct", direct), ("echoed", echoed)):
        result = run_question(item.question, model=model, model_spec=name, task=task, item=item,
                              tools=["calculator"])
        assert result.correct
    out = tmp_path / "d"
    result = harvest(HarvestConfig(out=out, task="arith", tools=["calculator"], max_per_question=4))
    assert result.skipped["answer not computed by the calculator"] == 2
    kept = _rows(out / "train.jsonl") + _rows(out / "eval.jsonl")
    assert sorted(r["metadata"]["model"] for r in kept) == ["computed", "direct"]


def test_a_hint_typed_into_the_calculator_is_no_rationalization(tmp_path, monkeypatch):
    """STaR's hinted retry (session 44): 10 of 12 hinted GSM8K "solves" handed the hint to the calculator
    ("128 / 1", "24 * 1", "4 - 2" for a hinted 2): the calculator gives the answer, and nothing was worked out. A
    hinted run must compute with the question's numbers, unit constants that are not the hint, and its own
    results; the same run without a hint is the student's own (a guess the gold check judges)."""
    from apprentice.training.teachers import Teacher

    task, item, copied, _ = _copied_and_computed(tmp_path, monkeypatch)
    a, b = (item.meta["steps"][0][k] for k in ("a", "b"))
    wrong = [" I add.\nAction: calculator\nAction Input: 1000000 + 1", " Final Answer: 1000001"]

    def hinted(expression: str) -> ScriptedChatModel:
        return ScriptedChatModel(script=[*wrong, f" The hint.\nAction: calculator\nAction Input: {expression}",
                                         f" Final Answer: {item.answer}"])

    passes = {name: solve_pool(Teacher("model", spec=name), task, [item], student="local", meta={}, chat=chat,
                               attempts=1, rationalize="hint")
              for name, chat in (("typed", hinted(f"{item.answer} / 1")), ("times-one", hinted(f"1 * {item.answer}")),
                                 ("worked", hinted(f"{a} + {b}")))}
    assert {name: counts["rationalized"] for name, counts in passes.items()} == {"typed": 0, "times-one": 0,
                                                                              "worked": 1}
    out = tmp_path / "d"
    result = harvest(HarvestConfig(out=out, task="arith", tools=["calculator"], max_per_question=4))
    kept = _rows(out / "train.jsonl") + _rows(out / "eval.jsonl")
    assert [r["metadata"]["model"] for r in kept] == ["worked"] and result.skipped["not verified"] == 3
    assert result.skipped["answer not computed by the calculator"] == 2
    from apprentice.training.replay import grounded_calls

    lou = "Lou runs three miles on a track that is one-quarter of a mile long. How many laps?"
    assert grounded_calls(lou, [("24 * 1", "24")])  # 24 hours a day: a unit constant...
    assert not grounded_calls(lou, [("24 * 1", "24")], withheld="24")  # ...but not when the hint is 24
    assert grounded_calls(lou, [("3 * 12", "36"), ("36 - 12", "24")], withheld="24")  # computed, then used


def test_a_copied_answer_is_not_a_teacher_solve(tmp_path, monkeypatch):
    from apprentice.training.teachers import Teacher

    task, item, copied, computed = _copied_and_computed(tmp_path, monkeypatch)
    solved = {name: solve_pool(Teacher("model", spec=name), task, [item], student="local", meta={}, chat=chat,
                               rationalize="none")
              for name, chat in (("copied", copied), ("computed", computed))}
    assert solved["copied"]["solved"] == 0 and solved["computed"]["solved"] == 1
    assert solved["copied"]["runs"] == solved["computed"]["runs"] == 1


def test_the_shared_prefix_is_what_every_unpadded_row_starts_with():
    import torch

    from apprentice.training.label_head import shared_prefix

    ids = torch.tensor([[1, 2, 3, 4, 5], [1, 2, 3, 9, 0], [1, 2, 3, 4, 0]])
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 1, 0], [1, 1, 1, 1, 0]])
    assert shared_prefix(ids, mask) == 3 and shared_prefix(ids[[0, 2]], mask[[0, 2]]) == 4
    assert shared_prefix(ids[[0, 0]], None) == 4  # identical rows: each keeps its last token
    assert shared_prefix(ids[:1], mask[:1]) == 0  # one row: nothing to share
    left = torch.tensor([[0, 0, 1, 2], [0, 7, 1, 2]]), torch.tensor([[0, 0, 1, 1], [0, 1, 1, 1]])
    assert shared_prefix(*left) == 0  # left padding is not a shared prefix


def test_the_held_out_split_holds_out_at_least_one_question_and_never_all():
    from apprentice.training.examples import ChatExample
    from apprentice.training.harvest import _split

    def examples(n: int) -> list[ChatExample]:
        return [ChatExample([{"role": "assistant", "content": f"a{i}"}], "plain", {"question": f"q{i}"})
                for i in range(n)]

    sizes = {(n, f): tuple(map(len, _split(examples(n), f, 0)))
             for n in (1, 2, 5, 30) for f in (0.0, 0.1, 1.0)}
    assert sizes[1, 0.0] == sizes[1, 0.1] == sizes[1, 1.0] == (1, 0)  # one question: nothing to hold out
    assert sizes[2, 0.1] == sizes[2, 1.0] == (1, 1) and sizes[5, 0.1] == (4, 1) and sizes[30, 0.1] == (27, 3)
    assert sizes[30, 1.0] == (1, 29) and all(sizes[n, 0.0] == (n, 0) for n in (2, 5, 30))


def _lora_twins():
    """The tokenizer and two LoRA models with the same weights (LoRA B moved off zero: its gradients then count)."""
    import torch

    from apprentice.training.base_model import load_for_training, lora_config, resolve_base

    tokenizer, first = load_for_training(resolve_base("local"), qlora=False, lora=lora_config(8, 16, 0.0, "all-linear"))
    second = load_for_training(resolve_base("local"), qlora=False, lora=lora_config(8, 16, 0.0, "all-linear"))[1]
    torch.manual_seed(0)
    for lora in (p for name, p in first.named_parameters() if "lora_B" in name):
        torch.nn.init.normal_(lora, std=0.02)
    second.load_state_dict(first.state_dict())
    return tokenizer, first, second


def _loss_and_grads(trainer, model, batch) -> tuple[float, list]:
    model.train()
    loss = trainer.compute_loss(model, dict(batch))
    loss.backward()
    grads = [p.grad.clone() for p in model.parameters() if p.requires_grad]
    model.zero_grad()
    return loss.item(), grads


def _same_loss_and_grads(ours: tuple[float, list], trls: tuple[float, list]) -> None:
    assert ours[0] == pytest.approx(trls[0], rel=1e-5) and ours[0] != 0
    # fp32 sums in another order: each LoRA weight's gradient agrees to ~1e-5 of its largest entry (5e-3 allowed)
    worst = max(float((a - b).abs().max() / b.abs().max()) for a, b in zip(ours[1], trls[1], strict=True))
    assert worst < 5e-3, worst


def test_the_cpu_label_head_gives_trls_sft_loss_gradients_and_metrics(dataset, apprentice_home):
    """LabelHeadSFTTrainer (the LM head at the learned positions only, once; the system prompt every row shares run
    once) and TRL's SFTTrainer on twin models and the same batch: the same loss, the same gradient on every LoRA
    weight, the same eval loss and logged metrics; a model that caps its logits keeps TRL's head."""
    import torch
    from trl import SFTConfig, SFTTrainer

    from apprentice.training.config import TrainArgs
    from apprentice.training.label_head import MIN_SHARED_PREFIX, LabelHeadSFTTrainer, plain_head
    from apprentice.training.sft import _tokenized, load_chat_split, trainer_arguments

    tokenizer, model, twin = _lora_twins()
    examples = _tokenized(load_chat_split(dataset, "train")[:3], tokenizer, 384)
    args = TrainArgs(data=dataset, name="head", max_steps=1, batch_size=3)
    config = SFTConfig(**{**trainer_arguments(args, apprentice_home / "runs" / "head", False), "save_strategy": "no"},
                       max_length=384, dataset_kwargs={"skip_prepare_dataset": False})
    ours = LabelHeadSFTTrainer(model=model, args=config, train_dataset=examples, processing_class=tokenizer)
    trls = SFTTrainer(model=twin, args=config, train_dataset=examples, processing_class=tokenizer)
    batch = next(iter(ours.get_train_dataloader()))
    _same_loss_and_grads(_loss_and_grads(ours, model, batch), _loss_and_grads(trls, twin, batch))
    assert model.get_base_model().label_head_shared_prefix >= MIN_SHARED_PREFIX  # the system prompt ran once
    for mode in ("train", "eval"):
        if mode == "eval":  # the eval-loss pass (best checkpoint, early stopping) asks for the loss alone
            model.eval(), twin.eval()
            with torch.no_grad():
                assert ours.compute_loss(model, dict(batch)).item() == pytest.approx(
                    trls.compute_loss(twin, dict(batch)).item(), rel=1e-5)
        for metric in ("mean_token_accuracy", "entropy"):
            assert ours._metrics[mode][metric] == pytest.approx(trls._metrics[mode][metric], rel=1e-4), metric
    assert plain_head(model.get_base_model())
    model.get_base_model().config.final_logit_softcapping = 30.0
    assert not plain_head(model.get_base_model())  # then TRL's head, which applies the cap, computes the loss


def test_the_cpu_label_head_gives_trls_dpo_loss_and_gradients(dataset, apprentice_home):
    """LabelHeadDPOTrainer and TRL's DPOTrainer on twin policies, the same frozen reference and the same batch of
    pairs (chosen and rejected rows share the system prompt): the same loss (DPO's sigmoid loss with RPO's NLL on
    the chosen side), the same gradients, the same logged rewards."""
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    from apprentice.training.base_model import load_for_training, lora_config, resolve_base
    from apprentice.training.dpo import DPOArgs, load_pairs
    from apprentice.training.label_head import MIN_SHARED_PREFIX, LabelHeadDPOTrainer
    from apprentice.training.sft import trainer_arguments

    tokenizer, model, twin = _lora_twins()
    # the references: the base model (the policies' LoRA B are off zero, so the rewards are not zero)
    reference, reference_twin = (load_for_training(resolve_base("local"), qlora=False, lora=lora_config(
        8, 16, 0.0, "all-linear"))[1].merge_and_unload().eval().requires_grad_(False) for _ in range(2))
    args = DPOArgs(data=dataset, name="head", max_steps=1, batch_size=2)
    config = DPOConfig(**{**trainer_arguments(args, apprentice_home / "runs" / "dpo-head", False),
                          "save_strategy": "no"}, beta=0.1, max_length=384, loss_type=["sigmoid", "sft"],
                       loss_weights=[1.0, 1.0])
    pairs = Dataset.from_list(load_pairs(dataset)[:2])
    ours = LabelHeadDPOTrainer(model=model, ref_model=reference, args=config, train_dataset=pairs,
                               processing_class=tokenizer)
    trls = DPOTrainer(model=twin, ref_model=reference_twin, args=config, train_dataset=pairs,
                      processing_class=tokenizer)
    batch = next(iter(ours.get_train_dataloader()))
    _same_loss_and_grads(_loss_and_grads(ours, model, batch), _loss_and_grads(trls, twin, batch))
    assert model.get_base_model().label_head_shared_prefix >= MIN_SHARED_PREFIX
    assert reference.label_head_shared_prefix >= MIN_SHARED_PREFIX  # the reference's head is a label head too
    for metric in ("rewards/chosen", "rewards/rejected", "logps/chosen", "entropy"):
        assert ours._metrics["train"][metric] == pytest.approx(trls._metrics["train"][metric], rel=1e-3), metric
    assert abs(ours._metrics["train"]["rewards/chosen"][0]) > 1e-3
