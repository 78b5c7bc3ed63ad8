"""The conversation: questions, and answers that run the agent on a thread worker while their
reasoning steps, the live token stream and (for ToT) the search tree appear under them."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from textual import work
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.widgets import Collapsible, Markdown, Static

from apprentice.agents.verifier import answer_not_computed
from apprentice.errors import ApprenticeError
from apprentice.tui.agent import ChatAgent, TurnListener
from apprentice.tui.steps import SHOWN_KINDS, step_body, step_title
from apprentice.tui.widgets.search_tree import SearchTree

__all__ = ["Conversation", "QuestionBlock", "AnswerBlock", "StepBlock"]

_OPEN_KINDS = ("vote", "verify")
_END = object()  # a model call's end, in the token buffer
#: How often the live token stream is repainted while an answer streams.
FLUSH_HZ = 30


class QuestionBlock(Static):
    """What the user asked."""

    def __init__(self, question: str) -> None:
        super().__init__(Content(question), classes="question")


class StepBlock(Collapsible):
    """One reasoning step, collapsed to its title line."""

    def __init__(self, step: Any) -> None:
        super().__init__(Static(Content(step_body(step)), classes="step-body"),
                         title=Content(step_title(step)), collapsed=step.kind not in _OPEN_KINDS,
                         classes=f"step step-{step.kind}")
        self.step = step


class AnswerBlock(Vertical):
    """One answer: its steps (live), the current model call's tokens, then the answer."""

    @dataclass
    class Finished(Message):
        """The turn ended; ``result`` is the RunResult, None when cancelled before a result."""

        block: AnswerBlock
        result: Any

    @dataclass
    class Failed(Message):
        """The turn failed with a user-facing ``error``."""

        block: AnswerBlock
        error: str

    def __init__(self) -> None:
        super().__init__(classes="answer")
        self.cancel_event = threading.Event()
        self.answer_text: str | None = None
        self.run_id: str | None = None  # the trace of this answer (what a rating is recorded on)
        self.tokens: list[str] = []  # the tokens of the model call that streamed last
        self.running = False
        # the live model calls' tokens by call, in the order they began; a call that has ended stays
        # shown until another begins, so several samples streaming side by side each keep their text
        self._streams: dict[Any, list[str]] = {}
        self._ended: set[Any] = set()
        # events cross from the worker through this buffer, (call, token) with None for a new call and
        # _END for its end; a UI timer drains it, so generation never waits for a repaint
        self._pending: list[tuple[Any, Any]] = []
        self._pending_lock = threading.Lock()
        self._flusher = None

    def compose(self):
        yield Vertical(classes="steps")
        yield Static("", classes="live")
        yield Markdown("", classes="final")

    # -- live turn (worker) ----------------------------------------------------------------

    def start(self, agent: ChatAgent, question: str, thread_id: str) -> None:
        """Run the agent on ``question`` in a thread worker."""
        self.running = True
        self.query_one(".live", Static).update(Content("thinking…"))
        self._flusher = self.set_interval(1 / FLUSH_HZ, self._flush)
        self._run(agent, question, thread_id)

    def cancel(self) -> None:
        """Stop the turn: at the next token, or at the next model or tool call."""
        self.cancel_event.set()

    def on_unmount(self) -> None:
        # quitting (or leaving the thread) mid-answer stops the worker at its next token
        self.cancel_event.set()

    def listener(self) -> TurnListener:
        """Where this turn's model calls stream to: the buffer the UI timer drains."""
        return TurnListener(on_token=lambda token, call: self._buffer(call, token),
                            on_call=lambda call: self._buffer(call, None),
                            on_done=lambda call: self._buffer(call, _END), cancel=self.cancel_event)

    @work(thread=True, group="answer", exit_on_error=False)
    def _run(self, agent: ChatAgent, question: str, thread_id: str) -> None:
        listener = self.listener()
        try:
            result = agent.ask(question, thread_id=thread_id, listener=listener,
                               sink=lambda step: self._ui(self._add_step, step))
        except ApprenticeError as exc:
            self._ui(self._fail, str(exc))
            return
        except Exception as exc:  # a failing model or tool must not take the app down
            self._ui(self._fail, f"{type(exc).__name__}: {exc}")
            return
        self._ui(self._finish, result)

    def _ui(self, fn, *args) -> None:
        """Run ``fn`` on the UI thread; silently drop it when the app is gone."""
        try:
            self.app.call_from_thread(fn, *args)
        except Exception:
            self.cancel_event.set()

    def _buffer(self, call: Any, token: Any) -> None:
        """Worker side: queue a call's token (or its start or end marker) for the next UI flush."""
        with self._pending_lock:
            self._pending.append((call, token))

    def _flush(self) -> None:
        """UI side: show what the worker streamed since the last flush."""
        with self._pending_lock:
            items, self._pending = self._pending, []
        if items:
            self._apply_tokens(items)

    def _apply_tokens(self, items: list[tuple[Any, Any]]) -> None:
        for call, item in items:
            if item is None:  # a new call: the ended ones make way for it
                for ended in self._ended:
                    self._streams.pop(ended, None)
                self._ended.clear()
                self._streams[call] = []
            elif item is _END:
                self._ended.add(call)
            else:
                self.tokens = self._streams.setdefault(call, [])
                self.tokens.append(item)
        texts = ["".join(tokens).strip() for tokens in self._streams.values()]
        self.query_one(".live", Static).update(Content("\n\n".join(t for t in texts if t) or "…"))
        self._scroll()

    def _add_step(self, step: Any) -> None:
        self._flush()  # the tokens of the call that made this step come first
        if step.kind in SHOWN_KINDS and step.kind != "answer":
            self.query_one(".steps", Vertical).mount(StepBlock(step))
            self._scroll()

    def _stop_flushing(self) -> None:
        self._flush()
        if self._flusher is not None:
            self._flusher.stop()
            self._flusher = None

    async def _finish(self, result: Any) -> None:
        self._stop_flushing()
        self.running = False
        cancelled = result is None or result.status == "cancelled"
        answer = None if result is None else result.answer
        self.run_id = None if result is None else result.run_id
        tree = None if result is None else result.state.get("tree")
        steps = [block.step for block in self.query(StepBlock)]
        await self._show_answer(answer, "cancelled" if cancelled else result.status, tree, steps)
        self.post_message(self.Finished(self, result))

    async def _fail(self, error: str) -> None:
        self._stop_flushing()
        self.running = False
        await self._show_answer(None, f"error: {error}", None)
        self.post_message(self.Failed(self, error))

    # -- display -----------------------------------------------------------------------------

    async def _show_answer(self, answer: str | None, status: str, tree: dict | None,
                           steps: Sequence[Any] = ()) -> None:
        self.answer_text = answer
        self.query_one(".live", Static).display = False
        if tree:
            await self.mount(SearchTree(tree, classes="search-tree"), before=self.query_one(".final"))
        text = answer if answer is not None else f"*({status})*"
        if answer is not None and (note := answer_not_computed(answer, steps)):
            text += f"\n\n*Check it: {note}*"  # the model's reading of its own work is wrong ("-92" read as 92)
        await self.query_one(".final", Markdown).update(text)
        self._scroll()

    async def show_run(self, run: Any) -> None:
        """Fill the block from a recorded run (a thread resumed after a restart)."""
        steps = self.query_one(".steps", Vertical)
        await steps.mount_all([StepBlock(s) for s in run.steps if s.kind in SHOWN_KINDS and s.kind != "answer"])
        status = run.status + (f": {run.error}" if run.error and run.status == "error" else "")
        self.run_id = run.id
        await self._show_answer(run.answer, status, run.tree, run.steps)

    def _scroll(self) -> None:
        parent = self.parent
        if isinstance(parent, VerticalScroll):
            parent.scroll_end(animate=False)


class Conversation(VerticalScroll):
    """The scrolling list of questions and answers of the current thread."""

    async def clear(self) -> None:
        """Remove every turn."""
        await self.remove_children()

    async def add_turn(self, question: str) -> AnswerBlock:
        """Append a question and an empty answer block, and return the block."""
        block = AnswerBlock()
        await self.mount_all([QuestionBlock(question), block])
        self.scroll_end(animate=False)
        return block

    def answers(self) -> list[AnswerBlock]:
        """The answer blocks, oldest first."""
        return list(self.query(AnswerBlock))

    def running(self) -> AnswerBlock | None:
        """The answer still being worked on, if any."""
        return next((b for b in self.answers() if b.running), None)
