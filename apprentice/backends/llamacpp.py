"""llama.cpp engine for GGUF files: the embedded default model runs here at full llama.cpp speed."""

from __future__ import annotations

import atexit
import contextlib
import functools
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import PrivateAttr

from apprentice.backends.local import LineFirst, LocalChatModel
from apprentice.errors import ModelSpecError, ModelUnavailableError
from apprentice.threads import cpu_threads

__all__ = ["LlamaCppChatModel", "load_llama", "replicas"]

#: Loaded contexts by (file, n_ctx, LoRA, replica, n_threads); replica 0 with n_threads None is the one every
#: chat model of that file shares. Other replicas are contexts of their own (the weights are mmapped, so only
#: the KV cache is paid again): concurrent eval workers each decode on one.
_CACHE: dict[tuple[str, int, str | None, int, int | None], Any] = {}
_CACHE_LOCK = threading.Lock()
#: One lock per llama.cpp context: chat models sharing a cached Llama must never decode at once.
_DECODE_LOCKS: dict[int, threading.Lock] = {}


@atexit.register
def _close_all() -> None:
    """Free llama.cpp contexts before interpreter teardown (else Llama.__del__ prints a TypeError)."""
    with _CACHE_LOCK:
        for llm in _CACHE.values():
            with contextlib.suppress(Exception):  # best effort at exit
                llm.close()
        _CACHE.clear()


def load_llama(path: str | Path, *, n_ctx: int = 4096, lora_path: str | None = None, replica: int = 0,
               n_threads: int | None = None):
    """Load (once per process and key) a GGUF file with llama.cpp; only GGUF is accepted.

    Args:
        path: the GGUF file.
        n_ctx: context length in tokens.
        lora_path: a LoRA adapter applied by llama.cpp.
        replica: which context of this file: 0 (with ``n_threads`` None) is the one everything shares; another
            number is a context of its own, with its own decode lock, so that two threads can decode at once.
        n_threads: threads of this context, for decoding and for prompts alike (None: the cores
            :func:`apprentice.threads.cpu_threads` finds idle, as for the shared context).
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise ModelSpecError(f"model file not found: {path}")
    with open(path, "rb") as fh:
        if fh.read(4) != b"GGUF":
            raise ModelSpecError(f"not a GGUF file: {path}")
    key = (str(path.resolve()), n_ctx, lora_path, replica, n_threads)
    with _CACHE_LOCK:
        if key not in _CACHE:
            from llama_cpp import Llama  # heavy import, deferred

            threads = {"n_threads": cpu_threads()} if n_threads is None else {"n_threads": n_threads,
                                                                               "n_threads_batch": n_threads}
            try:
                _CACHE[key] = Llama(
                    model_path=str(path), n_ctx=n_ctx, verbose=False, lora_path=lora_path, chat_format="chatml",
                    **threads,
                )
            except (ValueError, RuntimeError, OSError) as exc:
                raise ModelUnavailableError(f"llama.cpp could not load {path.name}: {exc}") from exc
            _DECODE_LOCKS[id(_CACHE[key])] = threading.Lock()
        return _CACHE[key]


@functools.lru_cache(maxsize=64)
def compiled_grammar(text: str) -> Any:
    """llama.cpp's grammar object for GBNF ``text`` (checked once: a grammar llama.cpp cannot parse is a
    ``ValueError`` here, not a failed decode)."""
    from llama_cpp import LlamaGrammar, llama_cpp

    grammar = LlamaGrammar.from_string(text, verbose=False)
    _check_grammar(grammar, llama_cpp)
    return grammar


def _check_grammar(grammar: Any, lib: Any) -> None:
    vocab = _any_vocab()
    if vocab is None:
        return
    sampler = lib.llama_sampler_init_grammar(vocab, grammar._grammar.encode(), grammar._root.encode())
    if not sampler:
        raise ValueError("llama.cpp cannot parse this grammar")
    lib.llama_sampler_free(sampler)


def _any_vocab() -> Any:
    """The vocabulary of a loaded model (grammar checks need one), or None when none is loaded."""
    from llama_cpp import llama_cpp

    with _CACHE_LOCK:
        llm = next(iter(_CACHE.values()), None)
    return None if llm is None else llama_cpp.llama_model_get_vocab(llm.model)


class LlamaCppChatModel(LocalChatModel):
    """A GGUF model through llama-cpp-python, with our sandboxed template and prefill."""

    model_path: str
    n_ctx: int = 4096
    lora_path: str | None = None
    #: Which llama.cpp context of the file (see :func:`load_llama`): 0 is the shared one.
    replica: int = 0
    #: Threads of that context (None: as many as are idle when it loads).
    n_threads: int | None = None
    supports_grammar: bool = True
    supports_scores: bool = True
    _llm: Any = PrivateAttr(default=None)

    def model_post_init(self, context: Any) -> None:
        self._llm = load_llama(self.model_path, n_ctx=self.n_ctx, lora_path=self.lora_path, replica=self.replica,
                               n_threads=self.n_threads)
        self._lock = _DECODE_LOCKS[id(self._llm)]

    def on_replica(self, replica: int, n_threads: int) -> LlamaCppChatModel:
        """This chat model (same file, settings and prompt) on context ``replica`` of its file with ``n_threads``
        threads: a decode there waits for no other replica's, so concurrent workers each take one."""
        given = {name: getattr(self, name) for name in self.model_fields_set}
        return type(self)(**{**given, "replica": replica, "n_threads": n_threads})

    @property
    def _llm_type(self) -> str:
        return "llama-cpp"

    @property
    def llm(self):
        """The underlying ``llama_cpp.Llama``."""
        return self._llm

    @property
    def chat_template(self) -> str | None:
        return self._llm.metadata.get("tokenizer.chat_template")

    @property
    def special_tokens(self) -> dict[str, str]:
        llm = self._llm
        return {
            "bos_token": llm.detokenize([llm.token_bos()], special=True).decode("utf-8", "ignore"),
            "eos_token": llm.detokenize([llm.token_eos()], special=True).decode("utf-8", "ignore"),
        }

    def count_tokens(self, text: str) -> int:
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def _complete(
        self, prompt: str, *, stop: list[str], temperature: float, max_tokens: int, seed: int | None,
        grammar: str | LineFirst | None = None,
    ) -> Iterator[str]:
        if isinstance(grammar, LineFirst):
            yield from self._line_first(prompt, grammar, stop=stop, temperature=temperature, max_tokens=max_tokens,
                                        seed=seed)
            return
        tokens = self._prompt_tokens(prompt, room=16)
        room = self.n_ctx - len(tokens)
        stream = self._llm.create_completion(
            tokens, max_tokens=min(max_tokens, room), temperature=temperature, top_p=self.top_p,
            stop=stop or None, stream=True, seed=seed if seed is not None else -1,
            grammar=compiled_grammar(grammar) if grammar else None,
        )
        try:
            for chunk in stream:
                text = chunk["choices"][0]["text"]
                if text:
                    yield text
        finally:  # a consumer that stops early ends llama.cpp's generator now, not at garbage collection
            stream.close()

    def _prompt_tokens(self, prompt: str, *, room: int) -> list[int]:
        """``prompt``'s tokens, when the context leaves at least ``room`` tokens after them."""
        tokens = self._llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
        if self.n_ctx - len(tokens) < room:
            raise ModelUnavailableError(f"prompt of {len(tokens)} tokens does not fit the {self.n_ctx}-token context")
        return tokens

    def _first_token(self, text: str) -> int:
        return self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)[0]

    def _next_scores(self, prompt: str) -> Any:
        from llama_cpp import llama_cpp

        tokens = self._prompt_tokens(prompt, room=1)
        self._llm.reset()  # the next completion finds no prefix of this prompt in the cache and evaluates its own
        self._llm.eval(tokens)
        return llama_cpp.llama_get_logits_ith(self._llm.ctx, -1)  # the last token's, kept without ``logits_all``

    def _line_first(self, prompt: str, grammar: LineFirst, *, stop: list[str], temperature: float, max_tokens: int,
                    seed: int | None) -> Iterator[str]:
        """A ``LineFirst`` grammar at near full speed: its opening line is free text, so it is decoded without
        the grammar up to its newline, and only what follows runs under ``grammar.cont`` (the prompt's cache
        makes the second call cost only its own tokens). A line the grammar would not admit (empty, or not
        opening with a space) is thrown away and the whole output decoded under ``grammar.full``."""
        line, ended = "", False
        free = self._complete(prompt, stop=[], temperature=temperature, max_tokens=max_tokens, seed=seed)
        try:
            for piece in free:
                if "\n" in piece:
                    line, ended = line + piece.split("\n", 1)[0], True
                    break
                line += piece
        finally:
            free.close()
        stops = [line.find(s) for s in stop if s and s in line]
        if stops:  # a stop string inside the line ends the output there, as it would have
            yield line[:min(stops)]
            return
        if not line.startswith(" ") or not line.strip():
            yield from self._complete(prompt, stop=stop, temperature=temperature, max_tokens=max_tokens, seed=seed,
                                      grammar=grammar.full)
            return
        used = self.count_tokens(line)
        yield line
        if ended or used < max_tokens:  # the line ended, or the model stopped early: the grammar goes on
            yield from self._complete(prompt + line, stop=stop, temperature=temperature, max_tokens=max_tokens - used
                                      if max_tokens > used else 1, seed=seed, grammar=grammar.cont)


def replicas(chat: Any, workers: int) -> list[Any]:
    """The chat model of each of ``workers`` threads: a llama.cpp model decodes one call at a time per context, so
    each worker gets a context of its own with an equal share of the cores (at least one thread); any other model
    (an OpenAI client, a transformers model with its own lock, a scripted one) is shared by all of them."""
    if workers == 1 or not isinstance(chat, LlamaCppChatModel):
        return [chat] * workers
    threads = max(1, cpu_threads() // workers)
    return [chat.on_replica(i, threads) for i in range(workers)]
