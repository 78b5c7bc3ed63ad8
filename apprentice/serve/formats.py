"""``response_format`` as a grammar: a served llama.cpp model answers ``json_object`` requests with valid
JSON and ``json_schema`` requests with JSON of that schema, as llama.cpp's own server does for the same
GGUF (its JSON grammar and its JSON-schema-to-GBNF converter, from llama-cpp-python)."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["response_format_grammar"]


def response_format_grammar(fmt: dict[str, Any] | None) -> str | None:
    """The GBNF grammar of an OpenAI ``response_format``; None for plain text.

    Raises:
        ValueError: a format this server does not know, or a schema the converter cannot express (the
            message is the 400 the client reads).
    """
    if not fmt or fmt.get("type") in (None, "text"):
        return None
    from llama_cpp.llama_grammar import JSON_GBNF, json_schema_to_gbnf

    kind = fmt.get("type")
    if kind == "json_object":
        return JSON_GBNF
    if kind != "json_schema":
        raise ValueError(f"response_format: unknown type {kind!r}; one of 'text', 'json_object', 'json_schema'")
    spec = fmt.get("json_schema")
    schema = spec.get("schema") if isinstance(spec, dict) else None
    if not isinstance(schema, dict):
        raise ValueError("response_format: json_schema needs {\"name\": ..., \"schema\": {...}}")
    try:
        return json_schema_to_gbnf(json.dumps(schema))
    # llama-cpp-python's converter asserts on a schema it does not know ("Unrecognized schema") and raises the
    # others on refs, patterns and types it cannot express: every one is the client's schema, so a 400
    except (AssertionError, ValueError, KeyError, TypeError, NotImplementedError) as exc:
        raise ValueError(f"response_format: this schema cannot be enforced: {exc}") from None
