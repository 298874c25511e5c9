"""Run each dataset's derivation steps in order, each as soon as what it needs exists.

Shared by SDTM and ADaM: the order of datasets in the spec does not matter, and a cycle (or a
variable nothing produces) is reported as a spec error naming the step that waits.
"""

from __future__ import annotations

from typing import Any, Callable

from sdtmgen.errors import SpecError


def run_in_dependency_order(queues: dict[str, list[Any]], available: set[tuple[str, str]],
                            run: Callable[[str, Any], set[str]], what: str,
                            locate: Callable[[str, int], str] | None = None, stuck_ok: bool = False) -> set[str]:
    """``run(dataset, step)`` applies a step and returns the variables it made available.

    ``locate(dataset, k)`` names the spec file and line of the dataset's k-th step, for the error.
    Returns the datasets whose steps could not all run; that is an error unless ``stuck_ok``
    (when some datasets could not be built, the steps that need them wait for ever).
    """
    pending = {name: list(steps) for name, steps in queues.items()}
    progress = True
    while progress and any(pending.values()):
        progress = False
        for name, queue in pending.items():
            while queue and queue[0].needs() <= available:
                step = queue.pop(0)
                available |= {(name, v) for v in run(name, step)}
                progress = True
    stuck = {name: steps for name, steps in pending.items() if steps}
    if stuck and not stuck_ok:
        def where(name: str, step: Any) -> str:
            if locate is None:
                return ""
            k = next(i for i, s in enumerate(queues[name]) if s is step)
            return f"{locate(name, k)}: "

        lines = []
        for name, steps in stuck.items():
            waits = sorted(steps[0].needs() - available)
            line = (f"  {where(name, steps[0])}{name}: {steps[0].derivation_name} waits for "
                    f"{', '.join(f'{d}.{v}' for d, v in waits)}")
            # the steps that would produce what it waits for, but are themselves waiting
            producers = {(d, id(s)): (d, s) for d, v in waits for s in pending.get(d, []) if v in s.produces()}
            for d, s in producers.values():
                line += f"\n    produced by {where(d, s)}{d}: {s.derivation_name}, which cannot run yet"
            lines.append(line)
        raise SpecError(f"{what} can never run (a cycle, or a variable nothing produces):\n" + "\n".join(lines))
    return set(stuck)
