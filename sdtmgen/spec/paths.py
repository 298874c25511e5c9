"""Paths named in a spec are confined: relative, and inside the allowed folders once resolved.

The allowed folders (roots) are the spec folder, the raw folder when one is given, and the
standards data shipped with the package; none of them is taken from the spec itself, so a spec
cannot widen its own confinement. Paths are resolved with symbolic links followed: a link inside
the spec folder that leads outside it (``specs/ref -> /``) is refused, naming the link.
"""

from __future__ import annotations

import os
from pathlib import Path

from sdtmgen.errors import SpecError


def standards_data() -> Path:
    from sdtmgen.standards import DATA

    return DATA


def allowed_roots(spec_folder: Path, raw_folder: Path | None = None) -> list[Path]:
    """The spec folder, the raw folder (if given) and the package's standards data, resolved."""
    roots = [Path(spec_folder).resolve()]
    if raw_folder is not None:
        roots.append(Path(raw_folder).resolve())
    roots.append(standards_data())
    return roots


def _inside(path: Path, roots: list[Path]) -> bool:
    return any(path == root or root in path.parents for root in roots)


def resolve_spec_path(spec_folder: Path, relative: str, roots: list[Path] | None, what: str,
                      where: str | None = None) -> Path:
    """Resolve a path written in the spec, refusing absolute paths and escapes from the allowed roots.

    ``roots`` defaults to the spec folder alone. The error names study.yaml (or ``where``, another
    file and line), the key (``what``), the path as written and, when a symbolic link led outside, the link.
    """
    spec_folder = Path(spec_folder)
    where = where or f"{spec_folder / 'study.yaml'}: {what}"
    text = str(relative)
    if not text.strip() or "\x00" in text:
        raise SpecError(f"{where}: not a usable path: {text!r}")
    if Path(text).is_absolute():
        raise SpecError(f"{where} must be a relative path inside the spec folder, got {text}")
    roots = [Path(r).resolve() for r in (roots or [spec_folder])]
    try:
        path = (spec_folder / text).resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop
        raise SpecError(f"{where} {text} cannot be resolved ({exc})") from None
    if _inside(path, roots):
        return path
    link = _escaping_link(spec_folder, text, roots)
    if link is not None:
        raise SpecError(f"{where} {text}: {link} is a symbolic link to {link.resolve()}, outside the allowed "
                        f"folders ({', '.join(str(r) for r in roots)}); refused")
    raise SpecError(f"{where} {text} points outside the allowed folders ({', '.join(str(r) for r in roots)})")


def _escaping_link(spec_folder: Path, relative: str, roots: list[Path]) -> Path | None:
    """The first symbolic link on the way to ``relative`` that leads outside the roots, if any."""
    current = Path(os.path.abspath(spec_folder))
    for part in Path(relative).parts:
        current = Path(os.path.normpath(current / part))
        if current.is_symlink() and not _inside(current.resolve(), roots):
            return current
    return None
