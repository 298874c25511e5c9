"""Where a loaded spec model came from: its file and YAML node, kept on the model itself.

The loader attaches ``(path, node)`` to each model it reads from a file; later checks (references
between files, standards, mapping errors found while building) name the file and line of the key
they blame through :func:`spec_location`. The pair is held in an attribute outside the model's
fields, so it is not part of the model's value: equality, ``model_dump`` and the JSON Schema ignore it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

_ATTRIBUTE = "_spec_source"


def line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """Follow a pydantic error location through the YAML node tree to a line number."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == part), None)
            if match is None:
                key = next((k for k, v in node.value if k.value == part), None)
                if key is None:
                    continue  # a union tag in the location, not a key
                node = key
            else:
                node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            continue
        line = node.start_mark.line + 1
    return line


def attach_source(model: Any, path: Path | None, node: yaml.Node | None) -> None:
    """Note on ``model`` the file and YAML node it was read from."""
    object.__setattr__(model, _ATTRIBUTE, (path, node))


def source_of(model: Any) -> tuple[Path | None, yaml.Node | None]:
    """The file and YAML node ``model`` was read from, or (None, None) for a model built in code."""
    return getattr(model, _ATTRIBUTE, (None, None))


def spec_location(model: Any, loc: tuple[Any, ...]) -> str:
    """``file:line`` of a location (keys and list positions) inside a loaded model's spec file."""
    path, node = source_of(model)
    return f"{path}:{line_of(node, loc) or 1}" if path else "spec"
