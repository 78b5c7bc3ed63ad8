"""Issue 35's faults, found by attacking the product as a hostile user would: each case here hung, leaked
or ended as ``internal error:`` before, and is now bounded, refused, or one clear ``error:`` line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from apprentice.cli import main
from apprentice.traces import open_store

APPRENTICE = Path(sys.executable).with_name("apprentice")


def cli(*args: str, timeout: int = 60) -> subprocess.CompletedProcess:
    """Run the installed console script with the test's APPRENTICE_HOME; a hang fails the test."""
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    return subprocess.run([str(APPRENTICE), *args], capture_output=True, text=True, env=env, timeout=timeout)


def assert_one_error_line(stderr: str, *fragments: str) -> None:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert "internal error" not in stderr and "Traceback" not in stderr
    for fragment in fragments:
        assert fragment in lines[0], stderr


# -- the calculator finishes on any input ---------------------------------------------------------


def test_a_huge_literal_through_the_console_script_is_one_quick_error_line():
    done = cli("tool", "calculator", "1e999999999", timeout=30)
    assert done.returncode == 2 and done.stdout == ""
    assert_one_error_line(done.stderr, 'cannot evaluate "1e999999999": number literal with an exponent beyond 4000')


# -- a mistake on the command line is one error line, before any work ------------------------------


BAD_INPUTS = {
    "ask --docs missing": (["ask", "hi", "--docs", "{tmp}/nowhere"], "document folder {tmp}/nowhere does not exist"),
    "ask --docs a file": (["ask", "hi", "--docs", "{tmp}/file.txt"], "document folder {tmp}/file.txt is not a folder"),
    "ask --max-steps -1": (["ask", "hi", "--max-steps", "-1"], "argument --max-steps: must be 1 or more, got -1"),
    "ask --max-steps 0": (["ask", "hi", "--max-steps", "0"], "argument --max-steps: must be 1 or more, got 0"),
    "ask --max-steps x": (["ask", "hi", "--max-steps", "x"], "argument --max-steps: expected a whole number, got 'x'"),
    "batch --max-steps -1": (["batch", "{tmp}/in.jsonl", "--out", "{tmp}/out.jsonl", "--max-steps", "-1"],
                             "argument --max-steps: must be 1 or more, got -1"),
    "batch --out in a missing folder": (["batch", "{tmp}/in.jsonl", "--out", "{tmp}/nowhere/out.jsonl"],
                                        "argument --out: cannot write {tmp}/nowhere/out.jsonl: folder "
                                        "{tmp}/nowhere does not exist"),
    "batch --out under a file": (["batch", "{tmp}/in.jsonl", "--out", "{tmp}/file.txt/out.jsonl"],
                                 "folder {tmp}/file.txt is not a folder"),
    "batch --out a folder": (["batch", "{tmp}/in.jsonl", "--out", "{tmp}"], "argument --out: {tmp} is a folder"),
    "batch input a folder": (["batch", "{tmp}", "--out", "{tmp}/out.jsonl"], "{tmp}: a folder, not a JSONL file"),
    "batch input not UTF-8": (["batch", "{tmp}/binary.jsonl", "--out", "{tmp}/out.jsonl"],
                              "{tmp}/binary.jsonl: not UTF-8 text"),
    "traces export --out in a missing folder": (["traces", "export", "--out", "{tmp}/nowhere/x.jsonl"],
                                                "cannot write {tmp}/nowhere/x.jsonl: folder {tmp}/nowhere does not "
                                                "exist"),
    "harvest --task bogus": (["harvest", "--task", "bogus", "--out", "{tmp}/dataset"],
                             "unknown task 'bogus'; choose one of: gsm8k, svamp"),
    "harvest --out a file": (["harvest", "--out", "{tmp}/file.txt"], "--out {tmp}/file.txt is a file"),
    "distill --contrast-pairs -1": (["distill", "--task", "arith:2", "--contrast-pairs", "-1", "--report",
                                     "{tmp}/report"], "contrast pairs per example must be 0 or more, got -1"),
    "harvest --contrast-pairs -1": (["harvest", "--out", "{tmp}/data", "--contrast-pairs", "-1"],
                                    "contrast pairs per example must be 0 or more, got -1"),
    "distill --contrast-kinds unit": (["distill", "--task", "arith:2", "--contrast-kinds", "unit", "--report",
                                       "{tmp}/report"],
                                      "contrast kinds must be some of quantity, operation, partial, extra, got unit"),
    "harvest --contrast-kinds unit": (["harvest", "--out", "{tmp}/data", "--contrast-kinds", "unit"],
                                      "argument --contrast-kinds: invalid choice: 'unit'"),
    "distill --student-workers -1": (["distill", "--task", "arith:2", "--student-workers", "-1", "--report",
                                      "{tmp}/report"], "--student-workers must be 0 (one per idle core) or more, got -1"),
}


@pytest.fixture
def files(tmp_path) -> Path:
    (tmp_path / "file.txt").write_text("not a folder")
    (tmp_path / "in.jsonl").write_text('{"question": "What is 2 + 2?"}\n')
    (tmp_path / "binary.jsonl").write_bytes(b"\xff\xfe\x00\x01 binary\n")
    return tmp_path


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_a_bad_argument_is_one_error_line_and_nothing_is_done(case, files, capsys):
    argv, fragment = BAD_INPUTS[case]
    assert main([arg.format(tmp=files) for arg in argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert_one_error_line(captured.err, fragment.format(tmp=files))
    assert open_store().count() == 0
    assert not (files / "out.jsonl").exists() and not (files / "dataset").exists()


def test_a_question_that_is_not_utf8_is_one_error_line():
    done = subprocess.run([str(APPRENTICE).encode(), b"ask", b"\xff\xfe"], capture_output=True, timeout=60,
                          env={k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"})
    assert done.returncode == 2 and done.stdout == b""
    assert_one_error_line(done.stderr.decode(), "the question is not valid UTF-8 text (byte 0xff at character 1); "
                                                "check the terminal's encoding")


@pytest.mark.parametrize(("raised", "shown"), [
    (UnicodeEncodeError("utf-8", "\udcff", 0, 1, "surrogates not allowed"), "text that is not valid UTF-8"),
    (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"), "a file is not UTF-8 text (invalid start byte"),
    (FileNotFoundError(2, "No such file or directory", "/nowhere/x"), "/nowhere/x: No such file or directory"),
    (PermissionError(13, "Permission denied", "/root/x"), "/root/x: Permission denied"),
])
def test_input_and_environment_errors_no_command_caught_are_still_one_clear_line(raised, shown, monkeypatch, capsys):
    import apprentice.graphs as graphs

    def run_question(question, **kwargs):
        raise raised

    monkeypatch.setattr(graphs, "run_question", run_question)
    assert main(["ask", "hi"]) == 2
    assert_one_error_line(capsys.readouterr().err, shown)


def test_a_bug_is_still_an_internal_error(monkeypatch, capsys):
    import apprentice.graphs as graphs

    def run_question(question, **kwargs):
        raise OSError("a socket broke")  # no file name: not the user's path

    monkeypatch.setattr(graphs, "run_question", run_question)
    assert main(["ask", "hi"]) == 1
    assert capsys.readouterr().err.startswith("error: internal error: OSError: a socket broke")


def test_traces_export_to_a_file_in_an_existing_folder_still_works(tmp_path, capsys):
    assert main(["traces", "export", "--out", str(tmp_path / "runs.jsonl")]) == 0
    assert (tmp_path / "runs.jsonl").read_text() == ""
    assert capsys.readouterr().err == f"exported 0 traces to {tmp_path / 'runs.jsonl'}\n"


@pytest.mark.parametrize(("method", "name"), [("sft", "train.jsonl"), ("dpo", "pairs.jsonl")])
def test_a_binary_dataset_file_is_one_error_line_before_any_model_loads(method, name, tmp_path, capsys):
    dataset = tmp_path / "dataset"
    dataset.mkdir()
    (dataset / name).write_bytes(bytes(range(256)) * 4)

    assert main(["train", method, "--data", str(dataset), "--name", "student"]) == 2

    assert_one_error_line(capsys.readouterr().err, f"{dataset / name}: not UTF-8 text (invalid start byte at byte 128)")


def test_batch_output_that_cannot_be_written_is_one_error_line(tmp_path):
    from apprentice.batch import BatchJob, WorkerConfig, run_batch
    from apprentice.errors import DataError

    source = tmp_path / "in.jsonl"
    source.write_text('{"question": "a?"}\n')
    (tmp_path / "file.txt").write_text("x")
    job = BatchJob(source, tmp_path / "file.txt" / "out.jsonl", worker=WorkerConfig(model_spec="scripted"))
    with pytest.raises(DataError, match=f"^cannot write {tmp_path}/file.txt/out.jsonl: "):
        run_batch(job)


# -- retrieval: a damaged cache or a file that grew is no crash ------------------------------------


def test_a_damaged_index_cache_is_rebuilt(tmp_path):
    import json

    from apprentice.tools.retrieval import DocumentIndex

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "volcano.md").write_text("A volcano erupts hot lava and ash from a vent in the crust.\n")
    (docs / "cats.md").write_text("Cats sleep for most of the day and hunt at night.\n")
    first = DocumentIndex(docs)
    first.search("lava")
    manifest = first.cache_dir / "manifest.json"
    damaged = json.loads(manifest.read_text())
    damaged["files"] = ["volcano.md"]  # the right header, the wrong shape
    manifest.write_text(json.dumps(damaged))

    again = DocumentIndex(docs)

    assert again.search("lava", k=1)[0].source == "volcano.md"
    assert again.last_embedded == 2  # rebuilt from the documents


def test_a_document_that_grew_past_the_limit_is_not_read(tmp_path, monkeypatch):
    from apprentice.tools import documents

    monkeypatch.setattr(documents, "_MAX_FILE_BYTES", 100)
    small, large = tmp_path / "small.txt", tmp_path / "large.txt"
    small.write_text("x" * 100)
    large.write_text("x" * 101)
    assert documents.read_document(small) == "x" * 100
    assert documents.read_document(large) is None
