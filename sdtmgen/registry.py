"""One registry for everything a spec can name: mapping rules, derivations, conditions, readers, checks.

Each family of named things (``rule: iso8601``, ``derive: study_day``, ``format: odm``, a conformance
rule id, a data-review check id) is a :class:`Registry`: name -> the registered object, with a
one-line description, the pydantic model of its parameters (what the spec may write), a one-line
example and free metadata (e.g. a default severity). From a registry come:

- the spec's schema: :meth:`Registry.union` is the discriminated union the spec models use, so a
  misspelled name or parameter fails when the spec is loaded, and ``sdtmgen schema`` prints it;
- the generated spec reference (``docs/spec-reference.md``, ``sdtmgen schema --reference``);
- the rule catalogue of the conformance report.

Looking up an unknown name raises :class:`UnknownName`, whose message lists the known names.

A step that runs on data reports problems through a :class:`StepContext`, with one signature in
every family: ``ctx.fail(rule, variable, message, mask, hint=...)`` and
``ctx.warn(rule, variable, message, mask)``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Callable, Generic, Optional, TypeVar, Union

import numpy as np
from pydantic import BaseModel, Field

T = TypeVar("T")
I = TypeVar("I")  # noqa: E741  (the registered item, as the decorator returns it)


class UnknownName(KeyError):
    """A name that no entry of a registry has; the message lists the known names."""

    def __init__(self, kind: str, name: object, known: list[str]):
        super().__init__(f"unknown {kind} {name!r}; known: {', '.join(known) or 'none'}")
        self.kind, self.name, self.known = kind, name, known

    def __str__(self) -> str:
        return str(self.args[0])


Params = Union[type[BaseModel], Callable[[], Optional[type[BaseModel]]], None]


@dataclass(frozen=True)
class Entry(Generic[T]):
    """One registered thing."""

    name: str
    item: T
    description: str = ""
    params_from: Params = None   # the model of what the spec may write for it, or a function making it when needed
    example: str = ""            # one line of spec text using it
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def params(self) -> Optional[type[BaseModel]]:
        """The pydantic model of the entry's parameters (None: it takes none)."""
        made = self.params_from
        if made is not None and not isinstance(made, type):
            made = made()  # e.g. a reader's options, read from its class only when asked
            object.__setattr__(self, "params_from", made)
        return made


class Registry(Mapping[str, T]):
    """Name -> registered object, in registration order, each with its :class:`Entry`.

    ``kind`` names the family in messages ("mapping rule"); ``key`` is the spec key that names an
    entry (``rule``, ``derive``), the discriminator of :meth:`union`; ``on_register`` is called with
    each new entry (e.g. to set the class's name attribute).
    """

    def __init__(self, kind: str, *, key: str = "", title: str = "", where: str = "",
                 on_register: Optional[Callable[[Entry[T]], None]] = None):
        self.kind = kind
        self.key = key
        self.title = title or kind[:1].upper() + kind[1:] + "s"
        self.where = where  # where specs use the family (for the reference)
        self._on_register = on_register
        self._entries: dict[str, Entry[T]] = {}

    # -- registration

    def add(self, name: str, item: T, description: str = "", *, params: Params = None,
            example: str = "", **metadata: Any) -> Entry[T]:
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} registered twice")
        if params is None and isinstance(item, type) and issubclass(item, BaseModel):
            params = item
        entry = Entry(name, item, description, params, example, dict(metadata))
        self._entries[name] = entry
        if self._on_register is not None:
            self._on_register(entry)
        return entry

    def register(self, name: str, description: str = "", *, example: str = "",
                 params: Params = None, **metadata: Any) -> Callable[[I], I]:
        """Decorator: register the decorated class or function under ``name`` and return it unchanged."""

        def wrap(item: I) -> I:
            self.add(name, item, description, params=params, example=example, **metadata)  # type: ignore[arg-type]
            return item

        return wrap

    # -- lookup

    def __getitem__(self, name: str) -> T:
        return self.entry(name).item

    def entry(self, name: str) -> Entry[T]:
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise UnknownName(self.kind, name, sorted(self._entries)) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, name: object) -> bool:
        try:
            return name in self._entries
        except TypeError:  # an unhashable value from a spec is no name
            return False

    def entries(self) -> list[Entry[T]]:
        """Every entry, sorted by name."""
        return [self._entries[n] for n in sorted(self._entries)]

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {len(self)} entries)"

    # -- schema

    def union(self) -> Any:
        """The discriminated union (by ``key``) of the entries' parameter models, for the spec models."""
        models = tuple(e.params for e in self._entries.values() if e.params is not None)
        if not self.key or not models:
            raise TypeError(f"{self.kind}: no discriminator key or no parameter models")
        return Annotated[Union[models], Field(discriminator=self.key)]


class StepContext:
    """What every registered step reports problems through, with one signature in every family.

    ``rule`` is the finding's rule id, ``variable`` the variable (or raw column) at fault, ``mask``
    the offending records of the context's frame (None: about the step, not records), ``hint`` how
    to correct it and ``values`` the offending values when there is no mask. A family says how a
    finding names its records by implementing :meth:`record`.
    """

    def fail(self, rule: str, variable: str, message: str, mask: Optional[np.ndarray] = None, *,
             hint: str = "", values: tuple[str, ...] = ()) -> None:
        """Record an error; the step goes on so that every problem is reported in one run (the build
        stops after validation)."""
        self.record("error", rule, variable, message, mask, hint, values)

    def warn(self, rule: str, variable: str, message: str, mask: Optional[np.ndarray] = None, *,
             values: tuple[str, ...] = ()) -> None:
        """Record a warning: the data are kept and the finding is reported."""
        self.record("warning", rule, variable, message, mask, "", values)

    def record(self, severity: str, rule: str, variable: str, message: str, mask: Optional[np.ndarray],
               hint: str, values: tuple[str, ...]) -> None:  # pragma: no cover - each family's own
        raise NotImplementedError
