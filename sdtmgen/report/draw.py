"""Figures drawn from plain data (numbers, numpy arrays, text): the Kaplan-Meier plot and the daily blood-count
summary, as PNG bytes.

``sdtmgen.report.plots`` turns the report's frames into the plain ``spec`` dictionaries drawn here, so this
module needs only numpy and matplotlib: it is what the figure worker (``sdtmgen.report.worker``, a separate
process drawing while the build goes on) imports. The same spec gives the same bytes in either process
(matplotlib's object API on the Agg canvas, the default style whatever the user's matplotlibrc, no
Software/date metadata).
"""

from __future__ import annotations

import io
import textwrap
from typing import Any, Callable, Iterator

import numpy as np

THRESHOLD_COLOR = "tab:gray"


def png(fig: Any, dpi: int) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return buffer.getvalue()


def figure(width: float, height: float, constrained: bool = True) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained" if constrained else None)


def style() -> Iterator[None]:
    import matplotlib.style

    return matplotlib.style.context("default")


def thresholds(ax: Any, lines: list[tuple[float, str]]) -> None:
    """A panel's reference lines (dotted, labelled at the right end): (value, label) pairs."""
    for value, label in lines:
        ax.axhline(value, color=THRESHOLD_COLOR, lw=0.9, ls=":")
        ax.annotate(label, (1.0, value), xycoords=("axes fraction", "data"), xytext=(2, 0),
                    textcoords="offset points", fontsize=6, color=THRESHOLD_COLOR, va="center", ha="left")


def legend(fig: Any, handles: list) -> None:
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8, frameon=False)


def km(spec: dict) -> bytes:
    """Kaplan-Meier figure (``plots.km_plot`` makes the spec): width, height, left, table, days, at_risk rows
    (level, color, counts), curves (label, color, x, y, low, high, band, censor_x, censor_y), last_day,
    xlabel, ylabel, title, dpi."""
    with style():
        width, height, left, table = spec["width"], spec["height"], spec["left"], spec["table"]
        fig = figure(width, height, constrained=False)  # fixed margins in inches: faster than constrained layout
        fig.subplots_adjust(left=left / width, right=1 - 0.2 / width, top=1 - 0.55 / height,
                            bottom=(0.55 + table) / height)
        ax = fig.add_subplot()
        axes_height = height * (1 - 0.55 / height - (0.55 + table) / height)
        days = spec["days"]
        if spec["at_risk"]:
            from matplotlib.transforms import blended_transform_factory

            where = blended_transform_factory(ax.transData, ax.transAxes)
            first = -(0.55 + 0.05) / axes_height
            gap = -0.2 / (width * (1 - left / width - 0.2 / width))  # labels 0.2 inch left of the axis
            ax.set_xticks(days)
            ax.text(gap, first, "At risk", transform=ax.transAxes, ha="right", va="top", fontsize=7,
                    fontweight="bold")
            for row, (level, color, counts) in enumerate(spec["at_risk"], start=1):
                y = first - row * spec["risk_row"] / axes_height
                ax.text(gap, y, level, transform=ax.transAxes, ha="right", va="top", fontsize=7, color=color)
                for day, n in zip(days, counts):
                    ax.text(day, y, str(n), transform=where, ha="center", va="top", fontsize=7, color=color)
        for curve in spec["curves"]:
            color, x = curve["color"], curve["x"]
            ax.step(x, curve["y"], where="post", color=color, label=curve["label"])
            band, low, high = curve["band"], curve["low"], curve["high"]
            if band.any():
                ax.fill_between(x, np.where(band, low, 0), np.where(band, high, 0), where=band, step="post",
                                color=color, alpha=0.15, linewidth=0)
            if len(curve["censor_x"]):
                ax.plot(curve["censor_x"], list(curve["censor_y"]), "+", color=color, markersize=9,
                        markeredgewidth=1.5)
        drawn = bool(spec["curves"])
        if not drawn:
            ax.text(0.5, 0.5, "no subject at risk", ha="center", va="center", transform=ax.transAxes)
        ax.set_xlim(0, spec["last_day"] + 1)
        ax.set_ylim(-0.02, 1.05)
        ax.set_xlabel(spec["xlabel"])
        ax.set_ylabel(spec["ylabel"])
        ax.set_title("\n".join(textwrap.wrap(spec["title"], 70)), fontsize=9)
        ax.grid(alpha=0.3)
        if drawn:
            ax.legend(fontsize=8, loc="upper left")  # recovery curves stay at 0 early on: that corner is free
        return png(fig, spec["dpi"])


def blood_count_summary(spec: dict) -> bytes:
    """Daily blood-count summary of one dose group (``plots.blood_count_summary_plot`` makes the spec): first,
    last, panels (label, log_scale, thresholds, limits, q1, median, q3, n, flagged), xlabel, flag,
    flag_label, title, dpi."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    first, last = spec["first"], spec["last"]
    days = np.arange(first, last + 1, dtype=float)
    edges = np.arange(first - 0.5, last + 1, dtype=float)
    panels = spec["panels"]
    with style():
        width, height = 3.3 * len(panels), 4.6
        fig = figure(width, height, constrained=False)
        fig.subplots_adjust(left=0.9 / width, right=1 - 0.15 / width, top=1 - 0.55 / height, bottom=0.85 / height,
                            wspace=0.25, hspace=0.08)
        axes = fig.subplots(2, len(panels), squeeze=False, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
        axes[0][0].set_xlim(first - 0.5, last + 0.5)
        for c, panel in enumerate(panels):
            ax, counts = axes[0][c], axes[1][c]
            limit = panel["limits"]
            thresholds(ax, panel["thresholds"])
            if limit is not None:
                ax.set_ylim(*limit)
            ax.fill_between(days, panel["q1"], panel["q3"], color="tab:blue", alpha=0.25, lw=0)
            ax.plot(days, panel["median"], "-o", color="0.2", lw=1.2, markersize=2)  # days apart: points
            if panel["log_scale"]:
                ax.set_yscale("log")
                if limit is not None:
                    ax.set_ylim(*limit)
            ax.set_title(panel["label"], fontsize=9)
            # one step patch per series, not a patch per day
            counts.stairs(panel["n"], edges, fill=True, color="0.75", lw=0)
            if spec["flag"]:
                counts.stairs(panel["flagged"], edges, fill=True, color="tab:red", lw=0)
            counts.set_xlabel(spec["xlabel"], fontsize=8)
            for a in (ax, counts):
                a.grid(alpha=0.3)
                a.tick_params(labelsize=7)
        axes[0][0].set_ylabel("median, quartiles", fontsize=7)
        axes[1][0].set_ylabel("subjects", fontsize=7)
        handles = [Line2D([], [], color="0.2", lw=1.2, label="median"),
                   Patch(color="tab:blue", alpha=0.25, label="quartiles (25%-75%)"),
                   Patch(color="0.75", label="subjects with a value")]
        if spec["flag"]:
            handles.append(Patch(color="tab:red", label=spec["flag_label"]))
        legend(fig, handles)
        fig.suptitle(spec["title"], fontsize=10)
        return png(fig, spec["dpi"])


#: what the worker can draw, by name
DRAW: dict[str, Callable[[dict], bytes]] = {"km": km, "blood_count_summary": blood_count_summary}
