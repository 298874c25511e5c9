"""Errors and findings shared by every stage of a build.

A build never shows a traceback for bad input: everything the user can fix is raised as one of
these, and the CLI prints its message and exits with the class's ``exit_code`` (see EXIT_CODES).
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass, field, replace

#: exit code -> cause, as listed by ``sdtmgen build --help`` and the README
EXIT_CODES = {
    0: "success",
    1: "input errors: the spec, the raw data or validation (and warnings under --strict); nothing written",
    2: "usage errors: a bad option, or an --out folder refused as unsafe; nothing touched",
    3: "environment failures: no space left, permission denied, read-only file system (the path is named)",
    4: "the output folder is in use by another sdtmgen run",
    5: "internal error: a defect in sdtmgen, please report it",
    130: "interrupted (Ctrl-C); the output folder was not changed",
    143: "terminated (SIGTERM: kill, a CI timeout; SIGHUP, a closed terminal, exits 129); the output folder was not changed",
}
INTERNAL_ERROR = 5
INTERRUPTED = 130


class Terminated(KeyboardInterrupt):
    """A SIGTERM or SIGHUP received by the command line: unwinds like Ctrl-C (the unfinished output and the
    lock are removed, the output folder is not changed), then exits with 128 + the signal number."""

    def __init__(self, signum: int, name: str) -> None:
        super().__init__(name)
        self.signum, self.name = signum, name


class SdtmgenError(Exception):
    """Base class for errors the user can act on."""

    exit_code = 1


class SpecError(SdtmgenError):
    """A spec file is invalid; the message names the file and line."""


class RawDataError(SdtmgenError):
    """Raw input cannot be mapped; the message names the raw file, row, column and value.

    ``file`` is the raw file at fault and ``rule`` names the problem (e.g. ``raw-columns``), so the
    build can report it as a finding beside the other forms' and go on with them.
    """

    def __init__(self, message: str, file: str = "", rule: str = "raw-form"):
        super().__init__(message)
        self.file = file
        self.rule = rule


class UsageError(SdtmgenError):
    """The command line asks for something sdtmgen refuses to do (e.g. an unsafe --out folder)."""

    exit_code = 2


class OutputRefused(UsageError):
    """The --out folder is not one sdtmgen may replace; nothing was touched."""


class EnvironmentFailure(SdtmgenError):
    """The machine stopped the run: disk full, permission denied, read-only file system."""

    exit_code = 3

    #: errno values that are the environment's doing, not a defect
    ERRNOS = {errno.ENOSPC: "no space left on device", errno.EDQUOT: "disk quota exceeded",
              errno.EACCES: "permission denied", errno.EPERM: "operation not permitted",
              errno.EROFS: "read-only file system", errno.EIO: "input/output error",
              errno.EFBIG: "file too large", errno.EMFILE: "too many open files",
              errno.ENFILE: "too many open files in system", errno.ENAMETOOLONG: "file name too long"}

    @classmethod
    def from_oserror(cls, exc: OSError) -> "EnvironmentFailure | None":
        """The failure an OSError stands for, naming its path; None when its errno is not environmental."""
        if exc.errno not in cls.ERRNOS:
            return None
        paths = [os.fsdecode(p) for p in (exc.filename, exc.filename2) if p is not None]
        where = f"{' -> '.join(paths)}: " if paths else ""
        return cls(f"{where}{cls.ERRNOS[exc.errno]} ({errno.errorcode.get(exc.errno, exc.errno)}); "
                   f"free space or fix the permissions, or choose another --out folder")


class OutputBusy(SdtmgenError):
    """Another sdtmgen run holds the lock of the same output folder."""

    exit_code = 4


class BuildError(SdtmgenError):
    """The build found errors (validation, conformance) and wrote no output."""

    def __init__(self, message: str, findings: list["Finding"] | None = None):
        super().__init__(message)
        self.findings = findings or []


@dataclass(frozen=True)
class Finding:
    """One problem found in a dataset: what rule, where, and how bad."""

    rule: str
    severity: str  # "error" | "warning"
    dataset: str
    message: str
    variable: str = ""
    rows: tuple[int, ...] = ()
    values: tuple[str, ...] = ()
    sources: tuple[str, ...] = field(default=())  # "form.csv:row" of the offending records ("form.csv": the whole file)
    cells: tuple[str, ...] = ()  # the first offending raw cells, one line each, in the order of sources
    hint: str = ""  # what to do
    not_run: bool = False  # the rule could not run (the message says why): reported as 'not run', never 'pass'

    def describe(self) -> str:
        where = self.dataset + (f".{self.variable}" if self.variable else "")
        text = f"[{self.severity.upper()}] {self.rule} {where}: {self.message}"
        if self.rows:
            shown = ", ".join(str(r) for r in self.rows[:10])
            more = f" (+{len(self.rows) - 10} more)" if len(self.rows) > 10 else ""
            text += f"\n    records: {shown}{more}"
        if self.values:
            text += "\n    values: " + ", ".join(repr(v) for v in self.values[:10])
        if self.cells:
            text += "".join(f"\n    {cell}" for cell in self.cells[:10])
            if len(self.sources) > 10:
                text += f"\n    ... and {len(self.sources) - 10} more"
        elif self.sources:
            text += "\n    raw: " + ", ".join(self.sources[:10])
        if self.hint:
            text += f"\n    what to do: {self.hint}"
        return text


def raise_on_warnings(findings: list[Finding], consequence: str) -> None:
    """--strict: any warning fails the run as an error (BuildError, exit code 1)."""
    warnings = [f for f in findings if f.severity == "warning"]
    if warnings:
        raise BuildError(f"--strict: {len(warnings)} warning(s) treated as errors; {consequence}",
                         [replace(f, severity="error") for f in warnings])
