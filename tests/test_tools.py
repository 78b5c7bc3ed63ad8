"""The tools for real: web search offline, hybrid retrieval with MiniLM, SQLite memory, registry, secrets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from apprentice.errors import ApprenticeError
from apprentice.secrets import redact
from apprentice.tools import (
    TOOL_ERROR_TEMPLATE,
    TOOL_NAMES,
    DocumentIndex,
    ToolContext,
    ToolInputError,
    ToolUnavailableError,
    close_memory_store,
    format_tool_error,
    get_tools,
    run_tool,
)
from apprentice.tools.search import search_web


@pytest.fixture(autouse=True)
def apprentice_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("APPRENTICE_HOME", str(home))
    monkeypatch.delenv("APPRENTICE_DOCS", raising=False)
    return home


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    (folder / "shop").mkdir(parents=True)
    (folder / "shop" / "policy.txt").write_text(
        "Refund policy.\n\nCustomers may return damaged goods within 30 days of delivery for a full "
        "refund. Keep the receipt and the original packaging.\n"
    )
    (folder / "cats.md").write_text(
        "# Cats\n\nCats are small carnivorous mammals. They purr when content and sleep up to sixteen "
        "hours a day, usually curled up somewhere warm.\n"
    )
    (folder / "volcano.html").write_text(
        "<html><head><script>var secretScript = 1;</script><style>p {color: red}</style></head>"
        "<body><h1>Volcanoes</h1><p>A volcano erupts molten lava, ash and gases from deep inside "
        "the earth.</p></body></html>"
    )
    (folder / "orbits.rst").write_text(
        "Orbits\n======\n\nThe Moon circles the Earth about once every 27 days, held by gravity.\n"
    )
    (folder / "image.txt").write_bytes(b"\x89PNG\x00\x00\x01binary")
    return folder


# ------------------------------------------------------------------ web search


def test_web_search_offline_is_an_observation_from_the_tool() -> None:
    (tool,) = get_tools(["web_search"])
    observation = tool.invoke({"query": "capital of France"})
    assert observation.startswith("search unavailable: ")


def test_web_search_offline_raises_from_run_tool() -> None:
    with pytest.raises(ToolUnavailableError, match="^search unavailable: "):
        run_tool("web_search", "capital of France")


def test_web_search_formats_results_and_redacts_the_query(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_API_KEY", "sk-test-1234567890")
    seen: dict = {}

    class FakeDDGS:
        def __init__(self, timeout: int) -> None:
            seen["timeout"] = timeout

        def text(self, query: str, max_results: int, backend: str) -> list[dict]:
            seen["query"] = query
            return [
                {"title": f"Result {n}", "href": f"https://example.org/{n}", "body": "word " * 100}
                for n in range(1, 8)
            ]

    output = search_web("weather sk-test-1234567890", ddgs_class=FakeDDGS)
    assert seen["query"] == "weather [redacted]"
    assert seen["timeout"] <= 10
    lines = output.splitlines()
    assert lines[0] == "1. Result 1 - https://example.org/1"
    assert lines[1].startswith("   word word") and lines[1].endswith("...") and len(lines[1]) <= 210
    assert "5. Result 5" in output and "6. Result 6" not in output


def test_web_search_failure_reason_is_short() -> None:
    class RateLimited:
        def __init__(self, timeout: int) -> None:
            pass

        def text(self, query: str, **kwargs: object) -> list[dict]:
            from ddgs.exceptions import RatelimitException

            raise RatelimitException("https://duckduckgo.com 202 Ratelimit")

    with pytest.raises(ToolUnavailableError, match="^search unavailable: rate limited$"):
        search_web("anything", ddgs_class=RateLimited)
    with pytest.raises(ToolInputError):
        search_web("   ", ddgs_class=RateLimited)


# ------------------------------------------------------------------ retrieval


def test_retrieve_finds_the_right_document(docs: Path) -> None:
    index = DocumentIndex(docs)
    lexical = index.search("refund for damaged goods within 30 days", k=4)
    assert lexical[0].source == "shop/policy.txt"
    assert lexical[0].score > lexical[-1].score
    paraphrase = index.search("How do I get my money back for a broken purchase?", k=4)
    assert paraphrase[0].source == "shop/policy.txt"
    assert index.search("feline pets that nap a lot", k=1)[0].source == "cats.md"
    assert index.search("mountain spewing hot magma", k=1)[0].source == "volcano.html"
    sources = {hit.source for hit in index.search("anything at all", k=10)}
    assert "image.txt" not in sources
    assert all("secretScript" not in text for text in index.texts)


def test_index_cache_is_reused_and_rebuilt_on_change(docs: Path, apprentice_home: Path) -> None:
    first = DocumentIndex(docs)
    first.search("lava")
    assert first.last_embedded == len(first) >= 4
    assert first.cache_dir.parent == apprentice_home / "index"
    manifest = first.cache_dir / "manifest.json"
    stamp = manifest.stat().st_mtime_ns

    second = DocumentIndex(docs)  # a new object, as in a new process: loads the cache from disk
    second.search("lava")
    assert second.last_embedded == 0
    assert manifest.stat().st_mtime_ns == stamp
    assert {path.suffix for path in first.cache_dir.rglob("*.*")} <= {".json", ".npy"}

    cats = docs / "cats.md"
    cats.write_text("# Cats\n\nThe cat of the house is called Zanzibar and it hunts moths at night.\n")
    os.utime(cats, ns=(cats.stat().st_atime_ns, cats.stat().st_mtime_ns + 10**9))
    hits = second.search("Zanzibar", k=1)
    assert second.last_embedded == 1  # only the changed file was re-embedded
    assert hits[0].source == "cats.md" and "Zanzibar" in hits[0].text
    assert manifest.stat().st_mtime_ns != stamp


def test_retrieve_needs_a_folder(docs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tool,) = get_tools(["retrieve"])
    expected = "retrieval unavailable: no document folder configured (set APPRENTICE_DOCS or --docs)"
    assert tool.invoke({"query": "refund"}) == expected
    with pytest.raises(ToolUnavailableError, match="no document folder configured"):
        run_tool("retrieve", "refund")
    monkeypatch.setenv("APPRENTICE_DOCS", str(docs))
    assert tool.invoke({"query": "refund policy"}).startswith("[1] shop/policy.txt (score ")
    output = run_tool("retrieve", "Moon gravity", ToolContext(docs_dir=docs))
    assert output.startswith("[1] orbits.rst")


# ------------------------------------------------------------------ memory


def test_remember_and_recall_persist_across_openings(tmp_path: Path) -> None:
    context = ToolContext(user_id="ada", memory_path=tmp_path / "memory.db")
    assert run_tool("recall", "anything", context) == "no memories yet"
    for fact in (
        "The user lives in Lyon, France.",
        "The user's favourite programming language is Rust.",
        "The user has a cat named Miso.",
    ):
        assert run_tool("remember", fact, context).startswith("remembered:")
    close_memory_store(context.memory_path)

    remember_tool, recall_tool = get_tools(["remember", "recall"], context)
    answer = recall_tool.invoke({"query": "Which city is the user's home?"})
    first = answer.splitlines()[0]
    assert "Lyon" in first and first.startswith("1. (20")
    assert len(answer.splitlines()) == 3
    other = ToolContext(user_id="bob", memory_path=context.memory_path)
    assert run_tool("recall", "city", other) == "no memories yet"
    assert remember_tool.invoke({"text": " "}).startswith("Error: nothing to remember")
    with pytest.raises(ToolInputError):
        run_tool("remember", "", context)


def test_memory_never_stores_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICE_TOKEN", "tok-0123456789abcdef")
    context = ToolContext(memory_path=tmp_path / "memory.db")
    run_tool("remember", "The deploy token is tok-0123456789abcdef", context)
    assert "[redacted]" in run_tool("recall", "deploy token", context)
    assert b"tok-0123456789abcdef" not in (tmp_path / "memory.db").read_bytes()


# ------------------------------------------------------------------ registry and secrets


def test_get_tools_names_and_errors() -> None:
    tools = get_tools()
    assert tuple(tool.name for tool in tools) == TOOL_NAMES
    for tool in tools:
        (argument,) = tool.args.values()
        assert argument["type"] == "string" and tool.description
    with pytest.raises(ApprenticeError, match="unknown tool 'x'; choose from: calculator, web_search"):
        get_tools(["calculator", "x"])
    with pytest.raises(ApprenticeError, match="unknown tool"):
        run_tool("python", "1")
    assert run_tool("calculator", "12*7") == "84"


def test_format_tool_error() -> None:
    assert format_tool_error(ToolInputError("bad")) == TOOL_ERROR_TEMPLATE.format(error="bad")
    assert format_tool_error(ToolUnavailableError("search unavailable: offline")) == "search unavailable: offline"


def test_redact(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-abcdefgh12345678")
    monkeypatch.setenv("DB_PASSWORD", "hunter2hunter2")
    monkeypatch.setenv("GH_TOKEN_SHORT", "abc")
    monkeypatch.setenv("PLAIN_SETTING", "visible-value-123")
    text = "key sk-abcdefgh12345678, pw hunter2hunter2, short abc, plain visible-value-123"
    assert redact(text) == "key [redacted], pw [redacted], short abc, plain visible-value-123"
    (tool,) = get_tools(["calculator"])
    assert "sk-abcdefgh12345678" not in tool.invoke({"expression": "sk-abcdefgh12345678"})
