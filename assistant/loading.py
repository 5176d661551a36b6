"""Loading files into ``LoadedDocument``s (Markdown, AsciiDoc, HTML, text, PDF).

(Front-matter splitting is written first because the catalogue needs it; the
ingestion work adds the loaders and the directory walk here.)
"""

from __future__ import annotations

import tomllib
from typing import Any

import yaml


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """Split YAML (``---``) or Hugo TOML (``+++``) front matter from a document body.

    Returns ``({}, text)`` when there is none. Raises ``ValueError`` when the front
    matter is present but does not parse, naming the line.
    """
    stripped = text.lstrip("\ufeff")
    for fence, parse in (("---", _parse_yaml), ("+++", _parse_toml)):
        if stripped.startswith(fence + "\n") or stripped.startswith(fence + "\r\n"):
            rest = stripped[len(fence) :].lstrip("\r\n")
            lines = rest.splitlines(keepends=True)
            for i, line in enumerate(lines):
                if line.rstrip() == fence:
                    head = "".join(lines[:i])
                    body = "".join(lines[i + 1 :])
                    return parse(head), body
            return {}, text
    return {}, text


def _parse_yaml(head: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(head)
    except yaml.YAMLError as exc:
        raise ValueError(f"front matter is not valid YAML: {exc}") from exc
    return data if isinstance(data, dict) else {}


def _parse_toml(head: str) -> dict[str, Any]:
    try:
        return tomllib.loads(head)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"front matter is not valid TOML: {exc}") from exc
