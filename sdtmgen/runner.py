"""The runner: a run is a list of named stages over one run context.

Each stage is a small object with a ``name``, the context values it ``needs`` and ``gives``, the values it
``drops`` once done, and a ``run(ctx)`` method. The runner checks the declared inputs and outputs, says each
stage's progress message, calls the timing hooks around each stage, drops what a stage no longer needs and
returns freed memory to the system where a stage asks for it. ``sdtmgen build`` (sdtmgen.pipeline),
``sdtmgen report`` (sdtmgen.report.build) and ``sdtmgen.build`` (sdtmgen.api) are stage lists over it.

The context's ``resources`` (an ExitStack) is closed by the runner when the run ends: normally after the
last stage, or with the exception that stopped it, so an output folder opened by a stage is swapped in only
when every stage succeeded, and discarded otherwise.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol, Sequence

from sdtmgen.columns import memo
from sdtmgen.errors import BuildError, Finding, raise_on_warnings
from sdtmgen.memory import arrow_pool, release_unused_memory

Progress = Callable[[str], None]


def _quiet(_message: str) -> None:
    return None


@dataclass
class RunContext:
    """What the stages of one run read and write.

    The run's parameters (``spec``: a folder or a loaded Spec, ``raw``, ``out``, ``formats``, ``strict``,
    ``timestamp``), its ``findings`` (every finding so far, in the order the reports list them), the named
    ``values`` the stages give one another, and ``say`` (progress).
    """

    spec: Any
    raw: str | Path | None = None
    out: str | Path | None = None
    formats: str = "xpt"
    strict: bool = False
    timestamp: str | None = None
    keep: bool = False  # keep every SDTM dataset (for the Python API) instead of only those read later
    say: Progress = _quiet
    findings: list[Finding] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)
    resources: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def __setitem__(self, name: str, value: Any) -> None:
        self.values[name] = value

    def __contains__(self, name: str) -> bool:
        return name in self.values

    def get(self, name: str, default: Any = None) -> Any:
        return self.values.get(name, default)


class Stage:
    """One named step of a run. Subclasses set ``name``, ``needs``, ``gives`` (context value names) and
    implement ``run``; ``drops`` are removed from the context after the stage, and ``release`` returns
    the freed memory to the system (worth it after large frames are dropped)."""

    name: str = ""
    needs: tuple[str, ...] = ()
    gives: tuple[str, ...] = ()
    drops: tuple[str, ...] = ()
    release: bool = False

    def message(self, ctx: RunContext) -> str | None:
        """The progress message said before the stage runs (None: nothing)."""
        return None

    def run(self, ctx: RunContext) -> None:
        raise NotImplementedError

    def skip(self, ctx: RunContext) -> None:
        """Give the stage's outputs without running it (the benchmark's ``--skip``); by default not allowed."""
        raise ValueError(f"stage {self.name!r} cannot be skipped")


class Hooks(Protocol):
    """Called around every stage (the benchmark's timers); ``finished`` also when the stage raised."""

    def started(self, stage: Stage, ctx: RunContext) -> None: ...

    def finished(self, stage: Stage, ctx: RunContext) -> None: ...


class StopOnErrors(Stage):
    """A gate: errors among the findings stop the run (BuildError); with ``strict`` warnings too."""

    name = "check findings"

    def __init__(self, what: str = "validation", consequence: str | None = "nothing was written",
                 strict: bool = True) -> None:
        self.what, self.consequence, self.strict = what, consequence, strict

    def run(self, ctx: RunContext) -> None:
        errors = [f for f in ctx.findings if f.severity == "error"]
        if errors:
            tail = f"; {self.consequence}" if self.consequence else ""
            raise BuildError(f"{len(errors)} {self.what} error(s){tail}", ctx.findings)
        if self.strict and ctx.strict:
            raise_on_warnings(ctx.findings, self.consequence or "strict build")


class Runner:
    """Runs ``stages`` in order over a context. ``skip``: names of stages given their outputs without
    running (``Stage.skip``). The declared inputs of every stage are checked when the runner is made."""

    def __init__(self, stages: Sequence[Stage], hooks: Iterable[Hooks] = (), skip: Iterable[str] = (),
                 inputs: Iterable[str] = ()) -> None:
        self.stages = list(stages)
        self.hooks = list(hooks)
        self.skip = set(skip)
        given = set(inputs)
        for stage in self.stages:
            missing = [n for n in stage.needs if n not in given]
            if missing:
                raise ValueError(f"stage {stage.name!r} needs {', '.join(missing)}, which no earlier stage gives")
            given |= set(stage.gives)
            given -= set(stage.drops)
        unknown = self.skip - {s.name for s in self.stages}
        if unknown:
            raise ValueError(f"no stage named {', '.join(sorted(unknown))}")

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.stages]

    def run(self, ctx: RunContext) -> RunContext:
        # column results shared by this run's steps only; Arrow's jemalloc pool while it runs (sdtmgen.memory)
        with arrow_pool(), ctx.resources, memo.scope():
            for stage in self.stages:
                self._run(stage, ctx)
        return ctx

    def _run(self, stage: Stage, ctx: RunContext) -> None:
        message = stage.message(ctx)
        if message:
            ctx.say(message)
        for hook in self.hooks:
            hook.started(stage, ctx)
        try:
            if stage.name in self.skip:
                stage.skip(ctx)
            else:
                stage.run(ctx)
            absent = [n for n in stage.gives if n not in ctx.values]
            if absent:
                raise RuntimeError(f"stage {stage.name!r} did not give {', '.join(absent)}")
            for name in stage.drops:
                ctx.values.pop(name, None)
            if stage.release:  # timed with the stage: returning memory takes time too
                release_unused_memory()
        finally:
            for hook in self.hooks:
                hook.finished(stage, ctx)
