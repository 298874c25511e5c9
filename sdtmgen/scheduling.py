"""Run each dataset's derivation steps in order, each as soon as what it needs exists.

Shared by SDTM and ADaM: the order of datasets in the spec does not matter, and a cycle (or a
variable nothing produces) is reported as a spec error naming the step that waits.
"""

from __future__ import annotations

from typing import Any, Callable

from sdtmgen.errors import SpecError


def run_in_dependency_order(queues: dict[str, list[Any]], available: set[tuple[str, str]],
                            run: Callable[[str, Any], set[str]], what: str,
                            stuck_ok: bool = False) -> set[str]:
    """``run(dataset, step)`` applies a step and returns the variables it made available.

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
        lines = [f"  {name}: {steps[0].derivation_name} waits for "
                 f"{', '.join(f'{d}.{v}' for d, v in sorted(steps[0].needs() - available))}"
                 for name, steps in stuck.items()]
        raise SpecError(f"{what} can never run (a cycle, or a variable nothing produces):\n" + "\n".join(lines))
    return set(stuck)
