"""Writing a build's files into a folder safely: all of them or none, and only where it is safe.

``check_target`` refuses a folder sdtmgen must not replace (the current folder and its ancestors,
the home folder, ``/``, the spec and raw folders and anything inside or around them, a file, any
non-empty folder that is not a previous sdtmgen output) before anything is read or written;
``prepare_target`` also takes the lock and repairs what an interrupted run left.

``atomic_folder`` writes into a fresh ``.<name>.sdtmgen-new-<id>`` folder beside the target and,
on success, swaps it in under a journal so that a kill at any instant can be repaired:

1. ``.<name>.sdtmgen-swap`` (the journal) names the new and the old folder;
2. the target, if any, is renamed to ``.<name>.sdtmgen-old-<id>``;
3. the new folder is renamed to the target;
4. the old folder is removed, then the journal.

The next run into the same target reads the journal first: killed before step 3, it puts the
previous output back and discards the new one; killed after it, it finishes removing the old one.
The old folder is only ever removed once the new one is in place, so the only copy of a previous
build is never deleted. An ``flock`` on ``.<name>.sdtmgen-lock`` keeps a second run off the same
target (it fails at once, naming the holder); temporary folders are removed only under that lock.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterable, Iterator

from sdtmgen import __version__
from sdtmgen.errors import OutputBusy, OutputRefused, SdtmgenError

try:
    import fcntl
except ImportError:  # not POSIX: no lock (the swap is still journaled)
    fcntl = None  # type: ignore[assignment]

#: the file that marks a folder as written by sdtmgen (so a later run may replace it)
MARKER = ".sdtmgen-build"
#: how the notes of a repair start (the command line shows them, not only in its progress line)
REPAIRED = "repaired: "
HINT = "choose a new or empty folder, or the folder of a previous sdtmgen build, with --out"

#: test hook: called with the name of each swap step just after it ("journal", "old-moved", "new-moved",
#: "old-removed"), so a test can kill the process there
_after_step: Callable[[str], None] | None = None

Protected = Iterable[tuple[str, "str | os.PathLike[str] | None"]]


def _step(name: str) -> None:
    if _after_step is not None:
        _after_step(name)


def marker_text(kind: str = "build") -> str:
    return json.dumps({"kind": kind, "tool": "sdtmgen", "version": __version__}, sort_keys=True) + "\n"


def write_marker(folder: Path, kind: str = "build") -> None:
    (Path(folder) / MARKER).write_text(marker_text(kind), encoding="utf-8")


def _says_sdtmgen(path: Path) -> bool:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("tool") == "sdtmgen"


def is_build(folder: Path) -> bool:
    """A previous sdtmgen output: the marker, or (builds before the marker) a manifest.json by sdtmgen."""
    folder = Path(folder)
    return _says_sdtmgen(folder / MARKER) or _says_sdtmgen(folder / "manifest.json")


def _home() -> Path | None:
    try:
        return Path.home().resolve()
    except (RuntimeError, KeyError, OSError):
        return None


def check_target(target: "str | os.PathLike[str]", protect: Protected = ()) -> Path:
    """The resolved target if sdtmgen may replace it; otherwise OutputRefused saying why. Touches nothing."""
    given = os.fspath(target)

    def refuse(why: str) -> None:
        raise OutputRefused(f"--out {given!r}: refused, {why}; nothing was changed. To write the output, {HINT}")

    if not given.strip():
        refuse("the path is an empty string (an unset variable?)")
    if Path(given).parts and Path(given).parts[0].startswith("~"):
        refuse("it starts with a '~' the shell did not expand (quoted?), which would make a folder named "
               "'~' here; write the home folder's path out")
    path = Path(given).resolve()
    if path == Path(path.anchor):
        refuse("it is the root folder")
    cwd = Path.cwd().resolve()
    if path == cwd:
        refuse("it is the current folder")
    if cwd.is_relative_to(path):
        refuse(f"it contains the current folder ({cwd})")
    home = _home()
    if home is not None and home == path:
        refuse("it is the home folder")
    if home is not None and home.is_relative_to(path):
        refuse(f"it contains the home folder ({home})")
    for what, folder in protect:
        if folder is None or not os.fspath(folder).strip():
            continue
        kept = Path(folder).resolve()
        if path == kept:
            refuse(f"it is the {what} folder")
        if kept.is_relative_to(path):
            refuse(f"it contains the {what} folder ({kept})")
        if path.is_relative_to(kept):
            refuse(f"it is inside the {what} folder ({kept})")
    if path.exists():
        if not path.is_dir():
            refuse("it is a file, not a folder")
        if any(path.iterdir()) and not is_build(path):
            refuse(f"it holds files and is not an sdtmgen build (no {MARKER} marker)")
    else:
        ancestor = next(p for p in path.parents if p.exists())
        if not ancestor.is_dir():
            refuse(f"{ancestor} is a file, not a folder")
    return path


def check_file_target(target: "str | os.PathLike[str]", ours: Callable[[bytes], bool], what: str,
                      force: bool = False) -> Path:
    """A single file an sdtmgen command writes (``acrf --out``, ``schema --out``): an existing file is replaced
    only when its first bytes look like what the command writes (``ours``) or with ``--force``, so a mistyped
    path does not destroy a user's file. Touches nothing; OutputRefused (exit 2) says why."""
    path = Path(target)
    if path.is_dir():
        raise OutputRefused(f"--out {os.fspath(target)!r}: refused, it is a folder; give the {what} file to write")
    if path.exists() and not force:
        try:
            with open(path, "rb") as handle:
                head = handle.read(4096)
        except OSError:
            head = b""
        if not ours(head):
            raise OutputRefused(f"--out {os.fspath(target)!r}: refused, the file exists and is not {what}; "
                                f"nothing was changed. Choose another file, or add --force to replace it")
    return path


def _umask() -> int:
    try:  # Linux: read it without changing it (os.umask is process-wide)
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _names(target: Path) -> tuple[Path, str, str, Path]:
    """(journal, prefix of new folders, prefix of old folders, lock file) of one target."""
    parent, name = target.parent, target.name
    return (parent / f".{name}.sdtmgen-swap", f".{name}.sdtmgen-new-", f".{name}.sdtmgen-old-",
            parent / f".{name}.sdtmgen-lock")


def _own(parent: Path, name: object, prefix: str) -> Path:
    """A folder named in the journal, checked to be one of ours beside the target."""
    if not isinstance(name, str) or not name.startswith(prefix) or "/" in name or os.sep in name:
        raise SdtmgenError(f"{parent}: the swap journal names {name!r}, not a folder sdtmgen writes; "
                           f"check the folder and remove the .sdtmgen-swap file yourself")
    return parent / name


def recover(target: Path) -> list[str]:
    """Repair what an interrupted run left beside ``target``; call under the lock. Returns what was done."""
    target = Path(target)
    parent = target.parent
    journal, new_prefix, old_prefix, _ = _names(target)
    done: list[str] = []
    if journal.exists():
        try:
            state = json.loads(journal.read_text(encoding="utf-8"))
        except ValueError:
            state = {}
        if not isinstance(state, dict):
            state = {}
        new, old = _own(parent, state.get("new"), new_prefix), _own(parent, state.get("old"), old_prefix)
        if old.exists():
            if target.exists():  # killed after the new output was in place: finish
                shutil.rmtree(old, ignore_errors=True)
                done.append(f"{REPAIRED}finished an interrupted swap: removed the replaced output {old.name}")
            else:  # killed between the renames: the previous output goes back
                os.rename(old, target)
                _fsync_dir(parent)
                done.append(f"{REPAIRED}restored the previous output {target} from an interrupted swap")
        if new.exists():  # never swapped in: an interrupted run's unfinished output
            shutil.rmtree(new, ignore_errors=True)
            done.append(f"{REPAIRED}removed {new.name}, the unfinished output of an interrupted run")
        if not old.exists():
            journal.unlink(missing_ok=True)
            _fsync_dir(parent)
    journal.with_name(journal.name + ".tmp").unlink(missing_ok=True)  # a journal never completed
    leftovers = sorted(parent.glob(f"{glob_escape(new_prefix)}*"))
    for stale in leftovers:  # under the lock no live run owns one: the unfinished output of a killed run
        shutil.rmtree(stale, ignore_errors=True)
        done.append(f"{REPAIRED}removed {stale.name}, the unfinished output of an interrupted run")
    # a previous output moved aside without a journal (or by releases before the journal): never delete it,
    # put it back when the target is missing
    olds = (sorted(parent.glob(f"{glob_escape(old_prefix)}*"))
            + sorted(parent.glob(f"{glob_escape('.' + target.name)}.tmp-old")))
    if len(olds) == 1 and not target.exists():
        os.rename(olds[0], target)
        _fsync_dir(parent)
        done.append(f"{REPAIRED}restored the previous output {target} from {olds[0].name}")
    else:
        done += [f"{REPAIRED}{old} is a previous output moved aside by an interrupted run; it was kept, "
                 f"remove it yourself when it is not needed" for old in olds]
    return done


def glob_escape(text: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in text)


def _write_journal(journal: Path, state: dict) -> None:
    temporary = journal.with_name(journal.name + ".tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(state, sort_keys=True) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, journal)
    _fsync_dir(journal.parent)


def _swap(work: Path, target: Path, tag: str) -> None:
    """Replace ``target`` by ``work`` (steps 1-4 of the module docstring)."""
    parent = target.parent
    journal, _, old_prefix, _ = _names(target)
    old = parent / f"{old_prefix}{tag}"
    _write_journal(journal, {"new": work.name, "old": old.name})
    _step("journal")
    try:
        if target.exists():
            os.rename(target, old)
            _fsync_dir(parent)
        _step("old-moved")
        os.rename(work, target)
        _fsync_dir(parent)
        _step("new-moved")
    except BaseException:
        recover(target)  # the previous output goes back before the error is reported
        raise
    shutil.rmtree(old, ignore_errors=True)
    _step("old-removed")
    if not old.exists():  # else the next run finishes removing it
        journal.unlink(missing_ok=True)
        _fsync_dir(parent)


@contextmanager
def _locked(target: Path) -> Iterator[None]:
    _, _, _, path = _names(target)
    if fcntl is None:
        yield
        return
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode("ascii", "replace").strip()
            os.close(fd)
            who = f" (process {holder})" if holder.isdigit() else ""
            raise OutputBusy(f"{target}: another sdtmgen run{who} is writing this folder; "
                             f"wait for it to finish, or choose another --out") from None
        try:  # the file may have been removed by the previous holder after we opened it: lock the current one
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        yield
    finally:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        os.close(fd)


def prepare_target(target: "str | os.PathLike[str]", protect: Protected = (),
                   notify: Callable[[str], None] | None = None) -> Path:
    """Before any work: refuse an unsafe target, fail at once if another run holds it, and repair what an
    interrupted run left beside it (so even a run that then fails on its input leaves a whole output)."""
    path = check_target(target, protect)
    if path.parent.is_dir():
        with _locked(path):
            for note in recover(path):
                if notify:
                    notify(note)
        path = check_target(target, protect)
    return path


@contextmanager
def atomic_folder(target: "str | os.PathLike[str]", protect: Protected = (), kind: str = "build",
                  notify: Callable[[str], None] | None = None) -> Iterator[Path]:
    """Yield a fresh temporary folder beside ``target``; on success it replaces ``target``.

    ``target`` must pass ``check_target`` (checked again under the lock and just before the swap).
    If the body raises, ``target`` is untouched and the temporary folder removed; if the process
    dies, the next run into ``target`` repairs the leftovers (see the module docstring).
    """
    path = check_target(target, protect)
    path.parent.mkdir(parents=True, exist_ok=True)  # modes follow the umask
    with _locked(path):
        for note in recover(path):
            if notify:
                notify(note)
        check_target(target, protect)
        _, new_prefix, _, _ = _names(path)
        work = Path(tempfile.mkdtemp(prefix=new_prefix, dir=path.parent))
        try:
            os.chmod(work, 0o777 & ~_umask())  # mkdtemp makes it 0700 whatever the umask
            yield work
            write_marker(work, kind)
            check_target(target, protect)  # the target may have changed while the build ran
            _swap(work, path, work.name[len(new_prefix):])
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
