"""Tool errors and how they are shown to a model as observations (STYLE rule 3)."""

from __future__ import annotations

from langchain_core.tools import ToolException

from apprentice.errors import ApprenticeError
from apprentice.secrets import redact

__all__ = [
    "TOOL_ERROR_TEMPLATE",
    "ToolError",
    "ToolInputError",
    "ToolUnavailableError",
    "format_tool_error",
]

TOOL_ERROR_TEMPLATE = "Error: {error}\n Please fix your mistakes."


class ToolError(ApprenticeError, ToolException):
    """A tool call that failed because of its input or environment, not because of a bug."""


class ToolInputError(ToolError):
    """The model (or user) gave a tool input it cannot work with: empty, malformed, too large."""


class ToolUnavailableError(ToolError):
    """The tool cannot run here: offline, rate limited, nothing configured.

    Its message is already a complete observation (``search unavailable: offline``), so agents
    see it as is rather than wrapped in :data:`TOOL_ERROR_TEMPLATE`.
    """

    exit_code = 3


def format_tool_error(exc: BaseException) -> str:
    """Turn a tool failure into the observation text a model sees next.

    Unavailability is reported as its own message; every other error goes through
    :data:`TOOL_ERROR_TEMPLATE` so the model knows to correct its input. Secrets are redacted.
    """
    message = str(exc) or type(exc).__name__
    if isinstance(exc, ToolUnavailableError):
        return redact(message)
    return redact(TOOL_ERROR_TEMPLATE.format(error=message))
