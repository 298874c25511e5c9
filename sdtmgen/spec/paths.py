"""Paths named in a spec are confined: relative, and inside the spec, raw or reference folder."""

from __future__ import annotations

from pathlib import Path

from sdtmgen.errors import SpecError


def allowed_roots(spec_folder: Path, raw_folder: Path | None, reference: str | None) -> list[Path]:
    roots = [spec_folder.resolve()]
    if raw_folder is not None:
        roots.append(Path(raw_folder).resolve())
    if reference:
        roots.append(confined_reference(spec_folder, reference))
    return roots


def confined_reference(spec_folder: Path, reference: str) -> Path:
    if Path(reference).is_absolute():
        raise SpecError(f"{spec_folder / 'study.yaml'}: 'reference' must be relative to the spec folder, got {reference}")
    return (spec_folder / reference).resolve()


def resolve_spec_path(spec_folder: Path, relative: str, roots: list[Path], what: str) -> Path:
    """Resolve a path written in the spec, refusing absolute paths and escapes from the allowed roots."""
    if Path(relative).is_absolute():
        raise SpecError(f"{spec_folder / 'study.yaml'}: {what} must be a relative path, got {relative}")
    path = (spec_folder / relative).resolve()
    if not any(path == root or root in path.parents for root in roots):
        raise SpecError(f"{spec_folder / 'study.yaml'}: {what} {relative} points outside the spec, raw and "
                        f"reference folders ({', '.join(str(r) for r in roots)})")
    return path
