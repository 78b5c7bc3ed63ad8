"""The retrieve tool: hybrid search (BM25 + MiniLM cosine, fused by reciprocal rank) over local docs.

The index of a folder lives under ``home()/index/<sha256 of the folder path>/`` as JSON and numpy
arrays (never pickle). It is checked against the files' mtimes and sizes on every search and rebuilt
when they change; chunks of unchanged files keep their embeddings, so only new text is embedded.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import bm25s
import numpy as np
from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, Field

from apprentice.config import home
from apprentice.embeddings import EMBEDDING_DIMS, EMBEDDING_MODEL, embed
from apprentice.errors import DataError
from apprentice.secrets import redact
from apprentice.tools.documents import (
    CHUNK_CHARS,
    OVERLAP_CHARS,
    chunk_text,
    read_document,
    scan_folder,
)
from apprentice.tools.errors import (
    ToolInputError,
    ToolUnavailableError,
    format_tool_error,
)

__all__ = [
    "DOCS_ENV",
    "DocumentIndex",
    "Hit",
    "RetrieveInput",
    "check_docs_dir",
    "format_hits",
    "make_retrieve_tool",
    "resolve_docs_dir",
    "retrieve",
]

DOCS_ENV = "APPRENTICE_DOCS"
RRF_K = 60
_CANDIDATES = 50
_INDEX_VERSION = 1
_NOT_CONFIGURED = "retrieval unavailable: no document folder configured (set APPRENTICE_DOCS or --docs)"

_DESCRIPTION = (
    "Search the user's own documents (a local folder of notes, docs and code). Input: a question "
    "or keywords, e.g. 'refund policy for damaged items'. Returns the most relevant passages with "
    "their file paths."
)


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk: where it comes from (relative path), its text, and its fused score."""

    source: str
    text: str
    score: float


class RetrieveInput(BaseModel):
    """Arguments of the retrieve tool."""

    query: str = Field(description="What to look for in the user's documents.")


def _tokenize(texts: list[str]) -> list[list[str]]:
    return bm25s.tokenize(texts, stopwords="en", return_ids=False, show_progress=False)


def _write_json(path: Path, data: object) -> None:
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    os.replace(temporary, path)


class DocumentIndex:
    """A hybrid lexical + dense index of one folder, cached on disk and refreshed on change.

    Args:
        folder: the document folder.
        cache_root: where indexes live; ``home()/index`` by default.

    Raises:
        ToolUnavailableError: the folder does not exist.
    """

    def __init__(self, folder: str | Path, cache_root: Path | None = None) -> None:
        self.folder = Path(folder).expanduser().resolve()
        if not self.folder.is_dir():
            raise ToolUnavailableError(f"retrieval unavailable: document folder {self.folder} does not exist")
        digest = hashlib.sha256(str(self.folder).encode()).hexdigest()[:16]
        self.cache_dir = (cache_root or home() / "index") / digest
        self.files: dict[str, tuple[int, int]] = {}
        self.sources: list[str] = []
        self.texts: list[str] = []
        self.vectors = np.zeros((0, EMBEDDING_DIMS), dtype=np.float32)
        self.last_embedded = 0  # chunks embedded by the latest refresh: 0 when the cache was reused
        self._bm25: bm25s.BM25 | None = None
        self._loaded = False
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.texts)

    # ------------------------------------------------------------------ cache

    def _manifest(self) -> dict:
        return {
            "version": _INDEX_VERSION,
            "model": EMBEDDING_MODEL,
            "chunking": [CHUNK_CHARS, OVERLAP_CHARS],
            "folder": str(self.folder),
            "files": {name: list(stamp) for name, stamp in self.files.items()},
            "chunks": [{"source": s, "text": t} for s, t in zip(self.sources, self.texts, strict=True)],
        }

    def _load_cache(self) -> bool:
        """Load the on-disk index; False when it is missing, stale in format, or inconsistent."""
        expected = {"version": _INDEX_VERSION, "model": EMBEDDING_MODEL, "chunking": [CHUNK_CHARS, OVERLAP_CHARS]}
        try:  # a cache damaged in any way is rebuilt, never an error
            manifest = json.loads((self.cache_dir / "manifest.json").read_text(encoding="utf-8"))
            vectors = np.load(self.cache_dir / "embeddings.npy", allow_pickle=False)
            if any(manifest.get(key) != value for key, value in expected.items()):
                return False
            chunks = manifest.get("chunks", [])
            if vectors.shape != (len(chunks), EMBEDDING_DIMS):
                return False
            files = {str(name): (int(stamp[0]), int(stamp[1])) for name, stamp in manifest["files"].items()}
            sources = [str(chunk["source"]) for chunk in chunks]
            texts = [str(chunk["text"]) for chunk in chunks]
        except (OSError, ValueError, KeyError, IndexError, TypeError, AttributeError):
            return False
        self.files, self.sources, self.texts = files, sources, texts
        self.vectors = vectors.astype(np.float32, copy=False)
        self._bm25 = self._load_bm25()
        return True

    def _load_bm25(self) -> bm25s.BM25 | None:
        if not self.texts:
            return None
        try:
            index = bm25s.BM25.load(str(self.cache_dir / "bm25"), show_progress=False)
        except (OSError, ValueError, KeyError):
            return self._build_bm25()
        return index if index.scores.get("num_docs") == len(self.texts) else self._build_bm25()

    def _build_bm25(self) -> bm25s.BM25 | None:
        if not self.texts:
            return None
        index = bm25s.BM25()
        index.index(_tokenize(self.texts), show_progress=False)
        return index

    def _save_cache(self) -> None:
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        temporary = self.cache_dir / f"embeddings.{os.getpid()}.tmp.npy"
        np.save(temporary, self.vectors, allow_pickle=False)
        os.replace(temporary, self.cache_dir / "embeddings.npy")
        if self._bm25 is not None:
            (self.cache_dir / "bm25").mkdir(exist_ok=True)
            self._bm25.save(str(self.cache_dir / "bm25"), show_progress=False)
        _write_json(self.cache_dir / "manifest.json", self._manifest())  # last: marks the cache complete

    # ------------------------------------------------------------------ build

    def _rebuild(self, current: dict[str, tuple[int, int]]) -> None:
        """Re-chunk changed files and embed only their chunks; unchanged files keep their vectors."""
        kept = {name for name, stamp in current.items() if self.files.get(name) == stamp}
        sources = [s for s in self.sources if s in kept]
        texts = [t for s, t in zip(self.sources, self.texts, strict=True) if s in kept]
        old_vectors = [v for s, v in zip(self.sources, self.vectors, strict=True) if s in kept]
        new_sources, new_texts = [], []
        for name in sorted(set(current) - kept):
            text = read_document(self.folder / name)
            for chunk in chunk_text(text) if text else []:
                new_sources.append(name)
                new_texts.append(chunk)
        new_vectors = embed(new_texts)
        self.sources, self.texts = sources + new_sources, texts + new_texts
        stacked = [np.stack(old_vectors)] if old_vectors else []
        self.vectors = np.concatenate([*stacked, new_vectors]).astype(np.float32, copy=False)
        self.files = current
        self.last_embedded = len(new_texts)
        self._bm25 = self._build_bm25()
        self._save_cache()

    def refresh(self) -> bool:
        """Bring the index up to date with the folder; return True when anything was re-indexed."""
        with self._lock:
            current = scan_folder(self.folder)
            if not self._loaded:
                self._loaded = True
                self._load_cache()
            if current == self.files and (self._bm25 is not None or not self.texts):
                self.last_embedded = 0
                return False
            self._rebuild(current)
            return True

    # ------------------------------------------------------------------ search

    def _lexical_ranking(self, query: str) -> list[int]:
        if self._bm25 is None:
            return []
        ids = self._bm25.get_tokens_ids(_tokenize([query])[0])
        if not ids:
            return []
        scores = self._bm25.get_scores_from_ids(ids)
        order = np.argsort(-scores, kind="stable")[:_CANDIDATES]
        return [int(i) for i in order if scores[i] > 0]

    def _dense_ranking(self, query: str) -> list[int]:
        similarities = self.vectors @ embed([query])[0]
        return [int(i) for i in np.argsort(-similarities, kind="stable")[:_CANDIDATES]]

    def search(self, query: str, k: int = 4) -> list[Hit]:
        """Return the ``k`` best chunks for ``query``, fusing BM25 and cosine rankings (RRF, k=60)."""
        self.refresh()
        with self._lock:
            if not self.texts or not query.strip():
                return []
            fused: dict[int, float] = {}
            for ranking in (self._lexical_ranking(query), self._dense_ranking(query)):
                for rank, index in enumerate(ranking, start=1):
                    fused[index] = fused.get(index, 0.0) + 1.0 / (RRF_K + rank)
            best = sorted(fused, key=lambda index: (-fused[index], index))[:k]
            return [Hit(self.sources[i], self.texts[i], round(fused[i], 4)) for i in best]


# ---------------------------------------------------------------------- the tool

_INDEXES: dict[tuple[Path, Path], DocumentIndex] = {}
_INDEXES_LOCK = threading.Lock()


def resolve_docs_dir(docs_dir: str | Path | None = None) -> Path | None:
    """The document folder to use: ``docs_dir`` if given, else ``$APPRENTICE_DOCS``, else None."""
    chosen = docs_dir or os.environ.get(DOCS_ENV)
    return Path(chosen).expanduser() if chosen else None


def check_docs_dir(docs_dir: str | Path) -> Path:
    """A user's ``--docs`` folder, checked before any work: a typo must not quietly answer without
    the documents.

    Raises:
        DataError: it does not exist or is not a folder.
    """
    folder = Path(docs_dir).expanduser()
    if not folder.is_dir():
        raise DataError(f"document folder {folder} {'is not a folder' if folder.exists() else 'does not exist'} "
                        "(--docs)")
    return folder


def _shared_index(folder: Path) -> DocumentIndex:
    key = (folder.expanduser().resolve(), home())
    with _INDEXES_LOCK:
        if key not in _INDEXES:
            _INDEXES[key] = DocumentIndex(folder)
        return _INDEXES[key]


def format_hits(hits: list[Hit]) -> str:
    """Numbered passages, each headed by its source path and score."""
    return "\n\n".join(
        f"[{number}] {hit.source} (score {hit.score:.4f})\n{hit.text}" for number, hit in enumerate(hits, start=1)
    )


def retrieve(query: str, docs_dir: str | Path | None = None, k: int = 4) -> str:
    """Search the configured document folder and format the ``k`` best passages.

    Raises:
        ToolInputError: empty query.
        ToolUnavailableError: no folder configured, or it does not exist.
    """
    folder = resolve_docs_dir(docs_dir)
    if folder is None:
        raise ToolUnavailableError(_NOT_CONFIGURED)
    if not query.strip():
        raise ToolInputError("empty query")
    index = _shared_index(folder)
    hits = index.search(query, k=k)
    if not hits:
        return f"no documents to search in {index.folder}"
    return redact(format_hits(hits))


def make_retrieve_tool(docs_dir: str | Path | None = None) -> BaseTool:
    """The ``retrieve`` tool over ``docs_dir`` (or ``$APPRENTICE_DOCS``, read at call time)."""
    return StructuredTool.from_function(
        func=partial(retrieve, docs_dir=docs_dir),
        name="retrieve",
        description=_DESCRIPTION,
        args_schema=RetrieveInput,
        handle_tool_error=format_tool_error,
    )
