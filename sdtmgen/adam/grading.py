"""Lab toxicity grades from CTCAE criteria held as data (``standards.ctcae`` in study.yaml: a version
shipped with sdtmgen, or a sponsor's ``standards.ctcae_file``).

The criteria file (NCI CTCAE v5.0 as published by pharmaverse/admiral) is a list of terms; each
has a DIRECTION (L/H), an optional UNIT_CHECK and, per grade, a ``case_when`` clause list such as::

    GRADE_NA_CODE: is.na(AVAL) ~ NA_character_
    GRADE_4_CODE:  signif(AVAL, signif_dig) < 0.5 ~ "4"
    GRADE_1_CODE:  is.na(ANRLO) ~ NA_character_,  signif(AVAL, signif_dig) < signif(ANRLO, signif_dig) ~ "1"

These clauses are *parsed* by the small grammar below (comparisons, arithmetic, ``&``, ``|``, ``!``,
``is.na()``, ``signif()``, ``%in%``) and evaluated on whole columns with R's three-valued logic
(a comparison with a missing value is NA, and a clause fires only when its condition is TRUE).
Nothing is ever executed as code; no threshold is typed here. Clauses are tried in the order
NA, 4, 3, 2, 1; a value that meets none is grade "0".
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Optional, Union

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from sdtmgen.adam.base import AdamContext, AdamDerivation, Codes, Params, register_adam_derivation, text_from_codes
from sdtmgen.errors import SpecError

GRADE_FIELDS = ("GRADE_NA_CODE", "GRADE_4_CODE", "GRADE_3_CODE", "GRADE_2_CODE", "GRADE_1_CODE")
NA_TEXT = "NA_character_"

_TOKEN = re.compile(r"""\s*(?:
    (?P<num>\d+\.\d*|\.\d+|\d+)
  | (?P<str>"[^"]*")
  | (?P<in>%in%)
  | (?P<op><=|>=|==|!=|<|>|&|\||!|~|,|\(|\)|\*|/|\+|-)
  | (?P<name>[A-Za-z_][A-Za-z0-9_.]*)
)""", re.VERBOSE)


class CriteriaSyntaxError(ValueError):
    pass


def tokenize(text: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise CriteriaSyntaxError(f"cannot read {text[pos:pos + 20]!r}")
        kind = match.lastgroup
        tokens.append((kind, match.group(kind)))
        pos = match.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return tokens


Node = tuple


class _Parser:
    """clauses := clause (',' clause)* ; clause := or '~' (string | NA_character_)"""

    def __init__(self, text: str):
        self.tokens = tokenize(text)
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, value: str | None = None, kind: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok is None or (value is not None and tok[1] != value) or (kind is not None and tok[0] != kind):
            raise CriteriaSyntaxError(f"expected {value or kind} at token {self.i + 1}, found {tok and tok[1]!r}")
        self.i += 1
        return tok

    def at(self, *values: str) -> bool:
        tok = self.peek()
        return tok is not None and tok[0] == "op" and tok[1] in values

    def clauses(self) -> list[tuple[Node, Optional[str]]]:
        out = [self.clause()]
        while self.at(","):
            self.take(",")
            out.append(self.clause())
        if self.peek() is not None:
            raise CriteriaSyntaxError(f"unexpected {self.peek()[1]!r}")
        return out

    def clause(self) -> tuple[Node, Optional[str]]:
        cond = self.or_()
        self.take("~")
        tok = self.peek()
        if tok is not None and tok[0] == "str":
            self.i += 1
            return cond, tok[1].strip('"')
        self.take(NA_TEXT, kind="name")
        return cond, None

    def or_(self) -> Node:
        node = self.and_()
        while self.at("|"):
            self.take("|")
            node = ("or", node, self.and_())
        return node

    def and_(self) -> Node:
        node = self.not_()
        while self.at("&"):
            self.take("&")
            node = ("and", node, self.not_())
        return node

    def not_(self) -> Node:
        if self.at("!"):
            self.take("!")
            return ("not", self.not_())
        return self.compare()

    def compare(self) -> Node:
        left = self.arith()
        tok = self.peek()
        if tok is not None and tok[0] == "in":
            self.i += 1
            return ("in", left, self.take(kind="name")[1])
        if self.at("<", "<=", ">", ">=", "==", "!="):
            op = self.take()[1]
            return ("cmp", op, left, self.arith())
        return left

    def arith(self) -> Node:
        node = self.term()
        while self.at("+", "-"):
            op = self.take()[1]
            node = ("math", op, node, self.term())
        return node

    def term(self) -> Node:
        node = self.unary()
        while self.at("*", "/"):
            op = self.take()[1]
            node = ("math", op, node, self.unary())
        return node

    def unary(self) -> Node:
        if self.at("-"):
            self.take("-")
            return ("neg", self.unary())
        return self.atom()

    def atom(self) -> Node:
        tok = self.peek()
        if tok is None:
            raise CriteriaSyntaxError("unexpected end")
        kind, value = tok
        if kind == "num":
            self.i += 1
            return ("num", float(value))
        if kind == "op" and value == "(":
            self.take("(")
            node = self.or_()
            self.take(")")
            return node
        if kind == "name":
            self.i += 1
            if self.at("("):
                self.take("(")
                args = [self.or_()]
                while self.at(","):
                    self.take(",")
                    args.append(self.or_())
                self.take(")")
                if value not in ("signif", "is.na") or (value == "signif") != (len(args) == 2) or \
                        (value == "is.na" and len(args) != 1):
                    raise CriteriaSyntaxError(f"unknown function {value}() with {len(args)} argument(s)")
                return ("call", value, args)
            return ("var", value)
        raise CriteriaSyntaxError(f"unexpected {value!r}")


def parse_clauses(text: str) -> list[tuple[Node, Optional[str]]]:
    return _Parser(text).clauses()


def names_in(node: Node) -> set[str]:
    kind = node[0]
    if kind == "var":
        return {node[1]}
    if kind == "in":
        return names_in(node[1]) | {node[2]}
    if kind == "call":
        return set().union(*(names_in(a) for a in node[2]))
    return set().union(*(names_in(c) for c in node[1:] if isinstance(c, tuple)))


def signif(values: np.ndarray, digits: int) -> np.ndarray:
    """R's signif(): round to ``digits`` significant digits."""
    x = np.asarray(values, dtype=float)
    out = x.copy()
    ok = np.isfinite(x) & (x != 0)
    magnitude = np.floor(np.log10(np.abs(x[ok])))
    scale = 10.0 ** (digits - 1 - magnitude)
    out[ok] = np.round(x[ok] * scale) / scale
    return out


@dataclass
class Env:
    n: int
    numbers: dict[str, np.ndarray]      # numeric variables
    texts: dict[str, np.ndarray]        # character variables (object arrays, None = missing)
    constants: dict[str, Union[float, list[str]]]
    calls: dict[str, np.ndarray] = field(default_factory=dict)  # signif(AVAL, ...) recurs in every clause


def _tri(mask_true: np.ndarray, mask_na: np.ndarray) -> np.ndarray:
    out = np.where(mask_true, 1.0, 0.0)
    out[mask_na] = np.nan
    return out


def evaluate(node: Node, env: Env) -> np.ndarray:
    """Numbers as float arrays (NaN = NA); logicals as 1.0 / 0.0 / NaN (R's TRUE / FALSE / NA)."""
    kind = node[0]
    if kind == "num":
        return np.full(env.n, node[1])
    if kind == "var":
        name = node[1]
        if name in env.numbers:
            return env.numbers[name]
        constant = env.constants.get(name)
        if isinstance(constant, (int, float)):
            return np.full(env.n, float(constant))
        raise CriteriaSyntaxError(f"{name} is not a numeric variable or constant")
    if kind == "neg":
        return -evaluate(node[1], env)
    if kind == "math":
        a, b = evaluate(node[2], env), evaluate(node[3], env)
        with np.errstate(invalid="ignore", divide="ignore"):
            return {"+": a + b, "-": a - b, "*": a * b, "/": a / b}[node[1]]
    if kind == "cmp":
        a, b = evaluate(node[2], env), evaluate(node[3], env)
        with np.errstate(invalid="ignore"):
            result = {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b, "==": a == b, "!=": a != b}[node[1]]
        return _tri(result, np.isnan(a) | np.isnan(b))
    if kind == "call":
        key = repr(node)
        if key not in env.calls:
            env.calls[key] = _call(node[1], node[2], env)
        return env.calls[key]
    if kind == "in":
        values = node[1]
        if values[0] != "var" or values[1] not in env.texts:
            raise CriteriaSyntaxError("%in% needs a character variable on its left")
        allowed = env.constants.get(node[2])
        if not isinstance(allowed, list):
            raise CriteriaSyntaxError(f"{node[2]} is not a list constant (set it in 'constants')")
        return pd.Series(env.texts[values[1]], dtype=object).isin(allowed).to_numpy(dtype=float)
    if kind == "not":
        return 1.0 - evaluate(node[1], env)
    if kind in ("and", "or"):
        a, b = evaluate(node[1], env), evaluate(node[2], env)
        if kind == "and":
            false = (a == 0) | (b == 0)
            return _tri((a == 1) & (b == 1), ~false & (np.isnan(a) | np.isnan(b)))
        true = (a == 1) | (b == 1)
        return _tri(true, ~true & (np.isnan(a) | np.isnan(b)))
    raise CriteriaSyntaxError(f"cannot evaluate {kind}")


def _call(name: str, args: list, env: Env) -> np.ndarray:
    if name == "is.na":
        arg = args[0]
        if arg[0] == "var" and arg[1] in env.texts:
            return pd.isna(env.texts[arg[1]]).astype(float)
        return np.isnan(evaluate(arg, env)).astype(float)
    digits = evaluate(args[1], env)
    return signif(evaluate(args[0], env), int(digits[0]) if env.n else 15)


@dataclass
class Criterion:
    term: str
    direction: str
    unit: Optional[str]
    clauses: list[tuple[Node, Optional[str]]]

    def names(self) -> set[str]:
        return set().union(*(names_in(c) for c, _ in self.clauses)) if self.clauses else set()

    def grade(self, env: Env, labels: list[str]) -> np.ndarray:
        """Grade per row as a code into ``labels`` ("0"-"5", added when first met); -1 where not gradable."""
        result = np.full(env.n, -1, dtype=np.int32)
        decided = np.zeros(env.n, dtype=bool)
        for cond, value in self.clauses:
            fires = (evaluate(cond, env) == 1.0) & ~decided
            result[fires] = _label(value, labels)
            decided |= fires
        result[~decided] = _label("0", labels)
        return result


def _label(value: Optional[str], labels: list[str]) -> int:
    if value is None:
        return -1
    if value not in labels:
        labels.append(value)
    return labels.index(value)


@lru_cache(maxsize=8)
def _read_criteria(path: str) -> tuple[dict[str, Any], ...]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SpecError(f"{path}: CTCAE criteria cannot be read ({exc})") from None
    if not isinstance(data, list) or not all(isinstance(e, dict) and "TERM" in e for e in data):
        raise SpecError(f"{path}: expected a JSON list of criteria, each with TERM")
    return tuple(data)


def load_criteria(path: str | Path, term: str) -> list[Criterion]:
    """Every entry of ``term`` in the criteria file (several when they differ by UNIT_CHECK)."""
    entries = [e for e in _read_criteria(str(path)) if str(e["TERM"]).strip().lower() == term.strip().lower()]
    if not entries:
        raise SpecError(f"{path}: no CTCAE term {term!r}")
    out = []
    for entry in entries:
        clauses = []
        for name in GRADE_FIELDS:
            if entry.get(name):
                try:
                    clauses += parse_clauses(str(entry[name]))
                except CriteriaSyntaxError as exc:
                    raise SpecError(f"{path}: {term} {name}: {exc}: {entry[name]!r}") from None
        out.append(Criterion(term=term, direction=str(entry.get("DIRECTION", "")).upper(),
                             unit=entry.get("UNIT_CHECK") or None, clauses=clauses))
    return out


class Term(Params):
    paramcd: str = Field(description="the parameter graded")
    low: Optional[str] = Field(None, description="CTCAE term graded in the low direction (e.g. Anemia)")
    high: Optional[str] = Field(None, description="CTCAE term graded in the high direction")
    analysis: Optional[Literal["low", "high"]] = Field(None, description="direction of ATOXGR (default: low if any)")

    @model_validator(mode="after")
    def _some(self) -> "Term":
        if not self.low and not self.high:
            raise ValueError(f"{self.paramcd}: give a low and/or a high CTCAE term")
        if self.analysis and not getattr(self, self.analysis):
            raise ValueError(f"{self.paramcd}: analysis direction {self.analysis} has no term")
        return self


@register_adam_derivation("ctcae_grade", "CTCAE toxicity grade per direction (ATOXGRL/ATOXGRH) and for analysis "
                                         "(ATOXGR), evaluated from the CTCAE criteria named in standards.ctcae",
                          example="{derive: ctcae_grade, unit: _UNIT, terms: [{paramcd: NEUT, low: Neutrophil count decreased}, {paramcd: HGB, low: Anemia, high: Hemoglobin increased}]}")
class CtcaeGrade(AdamDerivation):
    derive: Literal["ctcae_grade"]
    target: str = Field("ATOXGR", description="the analysis grade variable")
    low: Optional[str] = Field("ATOXGRL", description="the grade in the low direction")
    high: Optional[str] = Field("ATOXGRH", description="the grade in the high direction")
    param: str = Field("PARAMCD", description="the parameter code variable")
    unit: Optional[str] = Field(None, description="variable holding the unit of AVAL, checked against UNIT_CHECK")
    variables: dict[str, str] = Field(default_factory=dict,
                                      description="name in the criteria -> variable of this dataset (default: same)")
    constants: dict[str, Union[float, list[str]]] = Field(default_factory=dict,
                                                          description="e.g. high_indicator: [HIGH]")
    signif_digits: int = Field(15, ge=1, le=17, description="signif_dig in the criteria")
    terms: list[Term] = Field(min_length=1, description="the CTCAE terms of each parameter graded")

    def produces(self) -> set[str]:
        return {self.target} | {v for v in (self.low, self.high) if v}

    def apply(self, ctx: AdamContext) -> None:
        frame = ctx.frame
        # grades as codes into ``labels`` (-1 = not graded), turned into text once at the end
        labels: list[str] = []
        out = {name: np.full(len(frame), -1, dtype=np.int32) for name in self.produces()}
        path = self._criteria_path(ctx)
        if path is not None:
            param = Codes.of(ctx.column(self.param).astype("string[pyarrow]"))
            units = Codes.of(ctx.column(self.unit).astype("string[pyarrow]").str.strip()) if self.unit else None
            for term in self.terms:
                rows = np.flatnonzero(param.rows_with(term.paramcd))
                analysis = term.analysis or ("low" if term.low else "high")
                for direction in ("low", "high"):
                    name = getattr(term, direction)
                    if not name:
                        continue
                    grade = self._grade(ctx, frame, path, name, direction, rows, units, labels)
                    if getattr(self, direction):
                        out[getattr(self, direction)][rows] = grade
                    if direction == analysis:
                        out[self.target][rows] = grade
        for name, codes in out.items():
            frame[name] = text_from_codes(codes, labels)

    def _criteria_path(self, ctx: AdamContext) -> Path:
        """The criteria named in study.yaml: the packaged ``standards.ctcae`` version or ``standards.ctcae_file``.

        Never skipped: a version that is not packaged or a file that cannot be read is a SpecError."""
        from sdtmgen.standards.study import ctcae_criteria

        return ctcae_criteria(ctx.spec_folder, ctx.study.standards)

    def _grade(self, ctx: AdamContext, frame: pd.DataFrame, path: Path, term: str, direction: str,
               rows: np.ndarray, units: Optional["Codes"], labels: list[str]) -> np.ndarray:
        """Grades (codes into ``labels``, -1: not graded) of the records at ``rows``, all of the term's parameter."""
        criteria = load_criteria(path, term)
        wanted = "L" if direction == "low" else "H"
        result = np.full(len(rows), -1, dtype=np.int32)
        unmatched = np.ones(len(rows), dtype=bool)
        for crit in criteria:
            if crit.direction and crit.direction != wanted:
                raise SpecError(f"{path}: CTCAE term {term!r} grades the {crit.direction} direction, "
                                f"listed as '{direction}' for {ctx.name}")
            apply_to = np.ones(len(rows), dtype=bool)
            if crit.unit and units is not None:
                apply_to = units.rows_with(crit.unit)[rows]
            if not apply_to.any():
                continue
            result[apply_to] = crit.grade(self._env(ctx, frame, crit, rows[apply_to]), labels)
            unmatched &= ~apply_to
        if unmatched.any():
            records = np.zeros(len(frame), dtype=bool)
            records[rows[unmatched]] = True
            ctx.warn("CTCAE-UNIT", self.target, f"{term}: unit differs from the criteria's UNIT_CHECK "
                     f"({', '.join(sorted({c.unit for c in criteria if c.unit}))}); not graded", records)
        return result

    def _env(self, ctx: AdamContext, frame: pd.DataFrame, crit: Criterion, rows: np.ndarray) -> Env:
        """The variables the criterion reads, at ``rows`` only."""
        numbers: dict[str, np.ndarray] = {}
        texts: dict[str, np.ndarray] = {}
        constants: dict[str, Union[float, list[str]]] = {"signif_dig": float(self.signif_digits), **self.constants}
        for name in sorted(crit.names() - set(constants)):
            column = self.variables.get(name, name)
            if column not in frame.columns:
                raise SpecError(f"ADaM {ctx.name}: CTCAE criteria of {crit.term!r} read {name}; {column} is not a "
                                f"variable of {ctx.name} (derive it earlier or map it in 'variables')")
            values = frame[column]
            if pd.api.types.is_numeric_dtype(values):
                numbers[name] = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)[rows]
            else:
                text = values.iloc[rows].astype("string[pyarrow]").str.strip()
                texts[name] = text.where((text != "").fillna(False)).to_numpy(dtype=object, na_value=None)
        return Env(n=len(rows), numbers=numbers, texts=texts, constants=constants)
