"""The main screen: threads on the left, the conversation and the prompt on the right.

It composes the widgets and routes their messages; the agent runs inside each AnswerBlock's
worker, and the model loads in a worker here, so the UI never waits on a model.
"""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Input

from apprentice.config import data_path
from apprentice.errors import ApprenticeError
from apprentice.secrets import redact
from apprentice.tui.agent import ChatAgent, model_choices, strategy_names
from apprentice.tui.commands import ChatCommands
from apprentice.tui.screens.dialogs import ConfirmScreen, PickerScreen, TextPromptScreen
from apprentice.tui.screens.help import HelpScreen
from apprentice.tui.sessions import DEFAULT_TITLE, SessionStore
from apprentice.tui.widgets import (
    AnswerBlock,
    Conversation,
    QuestionBlock,
    StatusBar,
    ThreadList,
)

__all__ = ["ChatScreen"]


class ChatScreen(Screen):
    """Chat with the agent; every action here is also in the command palette."""

    COMMANDS = Screen.COMMANDS | {ChatCommands}
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="cancel"),
        Binding("ctrl+n", "new_thread", "New", id="new_thread"),
        Binding("ctrl+o", "pick_model", "Model", id="pick_model"),
        Binding("ctrl+b", "toggle_base", "Base", id="toggle_base"),
        Binding("ctrl+t", "pick_strategy", "Strategy", id="pick_strategy"),
        Binding("ctrl+r", "rename_thread", "Rename", id="rename_thread", show=False),  # in help and palette
        Binding("f8", "delete_thread", "Delete", id="delete_thread"),
        Binding("ctrl+s", "export_thread", "Export", id="export_thread"),
        Binding("ctrl+y", "copy_answer", "Copy", id="copy_answer"),
        Binding("ctrl+g", "rate_answer", "Rate", id="rate_answer", show=False),  # in help and palette
        Binding("f1", "help", "Help", id="help"),
    ]

    def __init__(self, agent: ChatAgent, sessions: SessionStore) -> None:
        super().__init__()
        self.agent = agent
        self.sessions = sessions
        self.thread_id: str | None = None

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield ThreadList(id="threads")
            with Vertical(id="main"):
                yield Conversation(id="conversation")
                yield Input(placeholder="Ask a question (Enter to send, Esc to cancel)", id="prompt")
        yield StatusBar(id="status")
        yield Footer()

    async def on_mount(self) -> None:
        status = self.query_one(StatusBar)
        status.model, status.strategy = self.agent.spec, self.agent.strategy
        status.model_state = "ready" if self.agent.loaded else "loading"
        existing = self.sessions.list()
        session = existing[0] if existing else self._new_session()
        await self.open_thread(session.id)
        self.query_one("#prompt", Input).focus()
        if not self.agent.loaded:
            self.load_model(self.agent.spec)

    def _new_session(self):
        return self.sessions.create(model=self.agent.spec, strategy=self.agent.strategy)

    # -- threads -----------------------------------------------------------------------------

    async def open_thread(self, thread_id: str) -> None:
        """Show thread ``thread_id`` with its past turns and their reasoning steps."""
        from apprentice.traces import open_store

        self.thread_id = thread_id
        conversation = self.query_one(Conversation)
        await conversation.clear()
        last = None
        for run in open_store().query(thread_id=thread_id, with_steps=True, newest_first=False):
            block = AnswerBlock()
            await conversation.mount_all([QuestionBlock(run.question), block])
            await block.show_run(run)
            last = run
        conversation.scroll_end(animate=False)
        # the status line tells this thread's last answer, as recorded (an empty thread has none yet)
        status = self.query_one(StatusBar)
        status.tokens_in, status.tokens_out, status.seconds = (
            (last.tokens_in, last.tokens_out, last.latency_s or 0.0) if last else (0, 0, 0.0))
        await self.query_one(ThreadList).show(self.sessions.list(), thread_id)

    def _busy(self) -> bool:
        if self.query_one(Conversation).running() is not None:
            self.notify("Still answering: press Esc to cancel first.", severity="warning")
            return True
        return False

    @on(ThreadList.Chosen)
    async def _thread_chosen(self, event: ThreadList.Chosen) -> None:
        if event.thread_id != self.thread_id and not self._busy():
            await self.open_thread(event.thread_id)

    async def action_new_thread(self) -> None:
        """Start a new conversation (reuses the current one while it is still empty)."""
        if self._busy():
            return
        if self.query_one(Conversation).answers():
            await self.open_thread(self._new_session().id)
        self.query_one("#prompt", Input).focus()
        self.notify("New thread.")

    def action_rename_thread(self) -> None:
        """Ask for a new title for the current thread."""
        session = self.sessions.get(self.thread_id or "")
        if session is None:
            return

        async def done(title: str | None) -> None:
            if title:
                self.sessions.rename(session.id, title)
                await self.query_one(ThreadList).show(self.sessions.list(), self.thread_id)

        self.app.push_screen(TextPromptScreen("Rename thread", session.title), done)

    def action_delete_thread(self) -> None:
        """Delete the current thread after a confirmation."""
        session = self.sessions.get(self.thread_id or "")
        if session is None or self._busy():
            return

        async def done(yes: bool | None) -> None:
            if not yes:
                return
            self.sessions.delete(session.id)
            rest = self.sessions.list()
            await self.open_thread(rest[0].id if rest else self._new_session().id)
            self.notify(f"Deleted {session.title!r}.")

        self.app.push_screen(ConfirmScreen(f"Delete thread {session.title!r}?"), done)

    def action_export_thread(self) -> None:
        """Write the current thread, with its reasoning steps, to a Markdown file."""
        from apprentice.tui.export import export_thread

        session = self.sessions.get(self.thread_id or "")
        path = export_thread(self.thread_id or "", session.title if session else None, data_path("exports"))
        self.notify(f"Exported to {path}", title="Export")

    def action_copy_answer(self) -> None:
        """Copy the last answer to the clipboard."""
        answers = [b.answer_text for b in self.query_one(Conversation).answers() if b.answer_text]
        if not answers:
            self.notify("No answer to copy yet.", severity="warning")
            return
        self.app.copy_to_clipboard(answers[-1])
        self.notify("Copied the last answer.")

    def action_rate_answer(self) -> None:
        """Rate the last answer good or bad (and type the right one): the rating is a human verdict on its trace,
        which the next `apprentice harvest --verdict-source human` keeps or leaves out."""
        rated = [b for b in self.query_one(Conversation).answers() if b.run_id and b.answer_text is not None]
        if not rated:
            self.notify("No answer to rate yet.", severity="warning")
            return
        block = rated[-1]

        def correction(answer: str | None) -> None:
            if answer is not None:  # Esc cancels the rating; an empty Enter rates bad without a correction
                self.rate(block.run_id, False, answer or None)

        def chosen(rating: str | None) -> None:
            if rating == "good":
                self.rate(block.run_id, True, None)
            elif rating == "bad":
                self.app.push_screen(TextPromptScreen("The right answer (optional: Enter to skip, Esc to cancel)",
                                                      empty=""), correction)

        self.app.push_screen(PickerScreen("Rate the last answer", [("good", "the answer is right"),
                                                                    ("bad", "the answer is wrong")]), chosen)

    def rate(self, run_id: str, good: bool, answer: str | None) -> None:
        """Record a person's verdict on ``run_id`` (a corrected ``answer`` becomes its question's gold answer)."""
        from apprentice.traces import open_store

        try:
            open_store().rate(run_id, good, answer=answer)
        except ApprenticeError as exc:
            self.notify(str(exc), title="Rating", severity="error", timeout=8)
            return
        self.notify(f"Rated {'good' if good else 'bad'}" + (f"; the right answer is {answer.strip()}"
                                                               if answer and answer.strip() else "")
                    + ". The next harvest with --verdict-source human uses it.", title="Rating")

    # -- asking --------------------------------------------------------------------------------

    @on(Input.Submitted, "#prompt")
    async def _ask(self, event: Input.Submitted) -> None:
        question = event.value.strip()
        if not question or self._busy() or self.thread_id is None:
            return
        event.input.clear()
        session = self.sessions.get(self.thread_id)
        # redacted before it is cut: a key cut in half would no longer be recognised
        title = redact(question)[:40] if session is None or session.title == DEFAULT_TITLE else None
        self.sessions.update(self.thread_id, title=title, model=self.agent.spec, strategy=self.agent.strategy)
        block = await self.query_one(Conversation).add_turn(question)
        block.start(self.agent, question, self.thread_id)
        if title:
            await self.query_one(ThreadList).show(self.sessions.list(), self.thread_id)

    def action_cancel(self) -> None:
        """Cancel the running answer (Esc)."""
        block = self.query_one(Conversation).running()
        if block is not None:
            block.cancel()
            self.notify("Cancelling…")

    @on(AnswerBlock.Finished)
    def _finished(self, event: AnswerBlock.Finished) -> None:
        status = self.query_one(StatusBar)
        status.model_state = "ready"
        result = event.result
        if result is None or result.status == "cancelled":
            self.notify("Answer cancelled.", severity="warning")
            return
        status.tokens_in, status.tokens_out, status.seconds = result.tokens_in, result.tokens_out, result.latency_s

    @on(AnswerBlock.Failed)
    def _failed(self, event: AnswerBlock.Failed) -> None:
        self.notify(event.error, title="The answer failed", severity="error", timeout=8)

    # -- model and strategy ---------------------------------------------------------------------

    @work(thread=True, group="model", exclusive=True, exit_on_error=False)
    def load_model(self, spec: str) -> None:
        """Load the model ``spec`` names on a worker; failures become notifications."""
        self.app.call_from_thread(self._model_state, spec, "loading")
        if spec == "student":
            from apprentice.training.student import student_available, student_prepared

            if student_available() and not student_prepared():
                self.app.call_from_thread(self._model_state, spec, "preparing: merged into the base once, ~30 s")
        try:
            self.agent.set_model(spec)
        except ApprenticeError as exc:
            self.app.call_from_thread(self._model_state, self.agent.spec, "failed")
            self.app.call_from_thread(self.notify, str(exc), title="Model", severity="error", timeout=8)
            return
        self.app.call_from_thread(self._model_state, self.agent.spec, "ready")

    def _model_state(self, spec: str, state: str) -> None:
        status = self.query_one(StatusBar)
        status.model, status.model_state = spec, state
        if state == "ready":
            self.notify(f"Model {spec} ready.")

    def action_pick_model(self) -> None:
        """Choose the model: the shipped student, the embedded base, a trained adapter, or any spec typed in."""
        def done(spec: str | None) -> None:
            if spec:
                self.switch_model(spec)

        self.app.push_screen(PickerScreen("Model", model_choices(), current=self.agent.spec,
                                          free_text="or type a spec: student, local:PATH, adapter:NAME, openai:MODEL[@URL]"),
                             done)

    def action_toggle_base(self) -> None:
        """Switch between the shipped student and the untrained base model it was trained from."""
        from apprentice.training.student import student_available

        if self.agent.spec == "student" or not student_available():
            if self.agent.spec == "local":
                self.notify("This install ships no student; the base model is in the seat.", title="Model")
                return
            self.switch_model("local")
        else:
            self.switch_model("student")

    def switch_model(self, spec: str) -> None:
        """Validate ``spec`` now, then load it on a worker."""
        from apprentice.models import parse_spec

        try:
            parse_spec(spec)
        except ApprenticeError as exc:
            self.notify(str(exc), title="Model", severity="error", timeout=8)
            return
        self.load_model(spec)

    def action_pick_strategy(self) -> None:
        """Choose the strategy for the next questions."""
        from apprentice.graphs import STRATEGIES

        choices = [(n, STRATEGIES[n].description) for n in strategy_names()]
        self.app.push_screen(PickerScreen("Strategy", choices, current=self.agent.strategy),
                             lambda name: name and self.switch_strategy(name))

    def switch_strategy(self, name: str) -> None:
        """Use strategy ``name`` from the next question on."""
        try:
            self.agent.set_strategy(name)
        except ApprenticeError as exc:
            self.notify(str(exc), severity="error")
            return
        self.query_one(StatusBar).strategy = name
        self.notify(f"Strategy {name}.")

    def action_help(self) -> None:
        """Show every key."""
        keymap = getattr(self.app, "keymap", {})
        bindings = [Binding(keymap.get(b.id, b.key), b.action, b.description, id=b.id) for b in self.BINDINGS]
        self.app.push_screen(HelpScreen(bindings, self))
