"""The study spec as pydantic models. Every spec file is checked against these at load time.

The JSON Schema of these models (``sdtmgen schema``) lets an editor check spec files as they
are typed.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sdtmgen.adam import ADAM_DERIVATIONS
from sdtmgen.conditions import Condition
from sdtmgen.readers import READERS
from sdtmgen.sdtm.derivations import DERIVATIONS
from sdtmgen.validate.severities import DataQualitySetting, setting_problems
from sdtmgen.sdtm.rules import RULES
from sdtmgen.terminology import Terminology

NAME = r"^[A-Z][A-Z0-9_]{0,7}$"
TEMP = r"^_[A-Z][A-Z0-9_]*$"

# the registries (sdtmgen.registry) give the spec its vocabulary: one model per registered rule or step
MappingRuleSpec = RULES.union()
DerivationSpec = DERIVATIONS.union()
AdamDerivationSpec = ADAM_DERIVATIONS.union()
RawFormat = Literal[("auto", *READERS)]  # type: ignore[valid-type]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


#: a raw form's name: the CSV file name without .csv, inside the raw folder (no path, no "..")
FORM = r"^[a-z][a-z0-9_]*$"


def printable_ascii(value: Optional[str]) -> Optional[str]:
    """Spec text that lands in the XPT files (labels, visit and element names) is printable ASCII.

    Checked at load so the error names the spec file and line, not the XPT writer later.
    """
    if isinstance(value, str):
        bad = next(((i, ch) for i, ch in enumerate(value) if not " " <= ch <= "~"), None)
        if bad is not None:
            raise ValueError(f"must be printable ASCII (it is written to the XPT files): character {bad[1]!r} "
                             f"(U+{ord(bad[1]):04X}) at position {bad[0] + 1} of {value!r}")
    return value


class Visit(Strict):
    visitnum: float
    visit: str = Field(max_length=200)
    day: Optional[int] = Field(default=None, description="planned study day (VISITDY)")
    collected: list[str] = Field(default_factory=list, description="EDC folder names of this visit")
    window_before: Optional[int] = None
    window_after: Optional[int] = None
    start_rule: str = ""
    end_rule: str = ""

    _ascii = field_validator("visit", "start_rule", "end_rule")(printable_ascii)


class UnplannedVisits(Strict):
    visit: str = "UNSCHEDULED"
    description: str = "Unscheduled visit"
    collected: list[str] = Field(default_factory=lambda: ["Unscheduled"])

    _ascii = field_validator("visit", "description")(printable_ascii)


class Element(Strict):
    etcd: str = Field(max_length=8)
    element: str = Field(max_length=200)
    epoch: str
    start_rule: str = ""
    end_rule: str = ""
    duration: Optional[str] = Field(default=None, description="planned duration, ISO 8601 (TEDUR)")

    _ascii = field_validator("etcd", "element", "epoch", "start_rule", "end_rule", "duration")(printable_ascii)


class Arm(Strict):
    armcd: str = Field(max_length=20)
    arm: str = Field(max_length=200)
    elements: list[str] = Field(description="ETCDs in planned order")

    _ascii = field_validator("armcd", "arm")(printable_ascii)


def _version_text(value: object) -> object:
    """YAML reads ``5.0`` as a number and ``2025-03-28`` as a date: both name a version as text."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


class Standards(Strict):
    """Standards by version, resolved from the data shipped with sdtmgen (``sdtmgen/standards/data``);
    a sponsor may name their own file instead (``*_file``: a path inside the spec folder)."""

    sdtmig: str = Field("3.4", description="SDTMIG version of the variable metadata (IG conformance rules)")
    adamig: str = Field("1.3", description="ADaMIG version of the variable metadata")
    ctcae: str = Field("5.0", description="CTCAE version of the lab grading criteria (ADLB ATOXGR)")
    ctcae_units: Literal["si", "us"] = Field("si", description="units of the packaged CTCAE criteria")
    ct: str = Field("2025-03-28", description="NCI SDTM and ADaM controlled terminology package date")
    define_ct: str = Field("2025-09-26", description="NCI Define-XML controlled terminology package date")
    sdtmig_file: Optional[str] = Field(
        default=None, description="sponsor SDTMIG variable metadata (packaged TSV layout or CDISC Library CSV "
                                  "export) used instead of the packaged version; relative to the spec folder")
    adamig_file: Optional[str] = Field(
        default=None, description="sponsor ADaMIG variable metadata, as sdtmig_file")
    ctcae_file: Optional[str] = Field(
        default=None, description="sponsor CTCAE criteria (JSON, admiral layout) used instead of the packaged "
                                  "version; relative to the spec folder")
    define_stylesheet: Optional[str] = Field(
        default=None, description="an XSL stylesheet (e.g. CDISC define2-1.xsl) copied next to each define.xml and "
                                  "named in its xml-stylesheet instruction; relative to the spec folder (optional)")

    @field_validator("sdtmig", "adamig", "ctcae", "ct", "define_ct", mode="before")
    @classmethod
    def _as_text(cls, value: object) -> object:
        return _version_text(value)

    @model_validator(mode="after")
    def _packaged(self) -> "Standards":
        from sdtmgen.standards import KINDS, versions

        for kind in KINDS:
            if kind in ("sdtmig", "adamig", "ctcae") and getattr(self, f"{kind}_file"):
                continue  # the sponsor's file is used instead
            available = versions(kind)
            if getattr(self, kind) not in available:
                raise ValueError(f"standards.{kind}: version {getattr(self, kind)!r} is not packaged with sdtmgen "
                                 f"(available: {', '.join(available) or 'none'}); name a packaged version"
                                 + (f" or give {kind}_file" if kind in ("sdtmig", "adamig", "ctcae") else ""))
        return self


class ReviewCheck(Strict):
    """How one data-review check (sdtmgen/review, ids DR-...) runs for this study."""

    severity: Literal["error", "warning", "off"] = Field(
        default="warning", description="error stops the build; warning reports it; off does not run the check")
    reason: str = Field(default="", description="why the study changes the default (shown in the report)")
    limit: Optional[float] = Field(default=None, gt=0, description="the check's threshold, where it has one "
                                                                    "(see docs/data-problems.md)")
    planned: dict[str, float] = Field(default_factory=dict, description="DR-EX-DOSE-PLANNED: planned dose per ARMCD")

    @field_validator("severity", mode="before")
    @classmethod
    def _off(cls, value):
        """YAML 1.1 reads a bare ``off`` as false."""
        return "off" if value is False else value


class RawSource(Strict):
    """Where the raw export is and how to read it (``raw: {format: odm, path: ../edc/export.xml}``)."""

    format: RawFormat = Field(  # type: ignore[valid-type]
        default="auto", description="csv: one <form>.csv per form; odm: CDISC ODM 1.3 XML; redcap: records CSV + "
                                    "data dictionary; sas: one <form>.sas7bdat or <form>.xpt per form; sdtm: an "
                                    "SDTM package of <domain>.xpt files taken as delivered (ADaM from existing "
                                    "SDTM); "
                                    "auto: detected from the folder or file")
    path: str = Field(description="raw export folder or file, relative to the spec folder")
    options: dict[str, Union[str, bool, list[str]]] = Field(
        default_factory=dict, description="reader options: csv {encoding, delimiter, quotechar, na_values: [..]}; "
                                          "odm {items: oid|name, forms: oid|name, decode: bool}; "
                                          "redcap {decode: bool, columns: auto|field|label}; "
                                          "sas {dates: text|iso, encoding}")

    @model_validator(mode="after")
    def _options(self) -> "RawSource":
        from sdtmgen.readers.detect import option_problems

        problems = option_problems(self.format, self.options)
        if problems:
            raise ValueError("; ".join(problems))
        return self


class StudySpec(Strict):
    studyid: str = Field(pattern=r"^[A-Za-z0-9_-]{1,20}$")
    title: str
    sponsor: str
    protocol: str = ""
    registry_id: str = ""
    raw: Union[str, RawSource] = Field(description="default raw export folder (or {format, path, options}), "
                                                   "relative to the spec folder")
    sdtmig_version: str = "3.4"
    sdtm_version: str = "2.0"
    visits: list[Visit]
    unplanned_visits: UnplannedVisits = UnplannedVisits()
    elements: list[Element] = Field(default_factory=list)
    arms: list[Arm] = Field(default_factory=list)
    standards: Standards = Field(default_factory=Standards)
    transliteration: dict[str, str] = Field(
        default_factory=dict, description="single non-ASCII characters -> ASCII text, applied to every mapped value")
    review: dict[str, ReviewCheck] = Field(
        default_factory=dict, description="data-review checks by id (DR-...): severity error|warning|off, reason, "
                                          "threshold; checks not listed run as warnings with their defaults")
    @property
    def raw_path(self) -> str:
        return self.raw if isinstance(self.raw, str) else self.raw.path

    @property
    def raw_source(self) -> Optional["RawSource"]:
        return None if isinstance(self.raw, str) else self.raw

    data_quality: dict[str, DataQualitySetting] = Field(
        default_factory=dict, description="conformance rule id -> {severity: error|warning|off, reason}: a study's "
                                          "documented severity for a data-quality rule (not IG-REQ or FDA rules)")
    justifications: dict[str, str] = Field(
        default_factory=dict, description="rule id -> why its findings are acceptable for this study, shown beside "
                                          "them in reports/reviewers-guide.html; ids from the rule catalogue "
                                          "(reports/conformance.txt), the build's notes (RAW-WHITESPACE, RAW-UNUSED, "
                                          "TEXT-SPLIT, RAW-SUBJECT-CONFLICT) or CDISC CORE rules (CORE-NNNNNN)")

    @model_validator(mode="after")
    def _unique(self) -> "StudySpec":
        if self.sdtmig_version != self.standards.sdtmig and not self.standards.sdtmig_file:
            raise ValueError(f"sdtmig_version {self.sdtmig_version!r} differs from standards.sdtmig "
                             f"{self.standards.sdtmig!r}: name the same SDTMIG version")
        nums = [v.visitnum for v in self.visits]
        if len(nums) != len(set(nums)):
            raise ValueError("VISITNUM values must be unique")
        for char, ascii_text in self.transliteration.items():
            if len(char) != 1 or not all(" " <= c <= "~" for c in ascii_text):
                raise ValueError(f"transliteration maps one character to printable ASCII text; got {char!r} -> "
                                 f"{ascii_text!r}")
        problems = setting_problems(self.data_quality)  # justifications: checked by the loader
        if problems:
            raise ValueError("; ".join(problems))
        etcds = {e.etcd for e in self.elements}
        for arm in self.arms:
            unknown = [e for e in arm.elements if e not in etcds]
            if unknown:
                raise ValueError(f"arm {arm.armcd} lists unknown elements {unknown}")
        return self


    def problems(self) -> list[tuple[tuple, str]]:
        """Names that must lead to one thing, as (location in study:, message); the loader adds lines.

        A raw folder name (compared trimmed and upper-cased, as the visits derivation does) naming two
        planned visits, or a planned and the unplanned visit, would be mapped to one of them silently.
        """
        found: list[tuple[tuple, str]] = []
        owner: dict[str, int] = {}
        for i, visit in enumerate(self.visits):
            for j, name in enumerate([visit.visit, *visit.collected]):
                key = name.strip().upper()
                if owner.setdefault(key, i) != i:
                    other = self.visits[owner[key]]
                    found.append((("visits", i, "visit") if j == 0 else ("visits", i, "collected", j - 1),
                                  f"visit {visit.visit!r} (VISITNUM {visit.visitnum:g}): the name {name!r} also names "
                                  f"visit {other.visit!r} (VISITNUM {other.visitnum:g}); a raw folder name must lead "
                                  f"to one visit"))
        for j, name in enumerate(self.unplanned_visits.collected):
            key = name.strip().upper()
            if key in owner:
                other = self.visits[owner[key]]
                found.append((("unplanned_visits", "collected", j),
                              f"unplanned_visits: folder name {name!r} is also planned visit {other.visit!r} "
                              f"(VISITNUM {other.visitnum:g}); a raw folder name must lead to one visit"))
        for group, items, attribute in (("elements", self.elements, "etcd"), ("elements", self.elements, "element"),
                                        ("arms", self.arms, "armcd"), ("arms", self.arms, "arm")):
            first: dict[str, int] = {}
            for k, item in enumerate(items):
                value = getattr(item, attribute)
                if first.setdefault(value, k) != k:
                    found.append(((group, k, attribute), f"{group}: {attribute} {value!r} is given twice "
                                                         f"({group}.{first[value]} and {group}.{k})"))
        return found


class Variable(Strict):
    name: str = Field(pattern=NAME)
    label: str = Field(max_length=40, pattern=r"^[\x20-\x7e]*$")
    type: Literal["Char", "Num"]
    length: Optional[int] = Field(default=None, ge=1, le=200, description="Char only; default = longest value")
    role: str = ""
    core: Literal["Req", "Exp", "Perm", "Cond"]
    origin: Literal["Collected", "Derived", "Assigned", "Protocol", "Predecessor", "Not Available"] = "Collected"
    codelist: Optional[str] = None
    format: Optional[str] = None
    significant_digits: Optional[int] = None
    method: Optional[str] = Field(default=None, description="how it is derived, in words (define.xml MethodDef)")
    comment: Optional[str] = None
    crf_pages: list[int] = Field(default_factory=list)
    dictionary: Optional[str] = Field(
        default=None, description="id of the external dictionary (terminology.dictionaries) that codes this variable, "
                                  "e.g. MEDDRA; define.xml ExternalCodeList")


class Lookup(Strict):
    """Columns of another raw form joined onto this source's rows, available as ``FORM.COLUMN``."""

    form: str = Field(pattern=FORM, description="raw file name without .csv, in the raw folder")
    key: list[str] = Field(default_factory=lambda: ["SUBJECT"])
    columns: list[str]
    take: Literal["unique", "first", "last"] = "unique"


class Unpivot(Strict):
    """Wide form -> one row per measurement (e.g. vital signs)."""

    measurements: list[dict[str, str]] = Field(
        description="each {test: <test name>, result: <column>, unit: <column>} (unit optional)")
    test_column: str = "_TEST"
    result_column: str = "_RESULT"
    unit_column: str = "_UNIT"


class Source(Strict):
    form: str = Field(pattern=FORM, description="raw file name without .csv")
    where: Optional[Condition] = None
    exclude_reason: str = ""
    lookups: list[Lookup] = Field(default_factory=list)
    unpivot: Optional[Unpivot] = None
    drop_empty: Optional[str] = Field(default=None, description="after unpivot, drop rows with this column empty")
    map: dict[str, MappingRuleSpec]  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _targets(self) -> "Source":
        import re

        for target in self.map:
            if not (re.match(NAME, target) or re.match(TEMP, target)):
                raise ValueError(f"map target {target!r} is neither a variable name nor a _TEMPORARY")
        return self


class SuppQual(Strict):
    qnam: str = Field(pattern=NAME)
    qlabel: str = Field(max_length=40, pattern=r"^[\x20-\x7e]*$")
    column: Optional[str] = Field(default=None, pattern=TEMP,
                                  description="the temporary column mapped in the sources (none for a domain "
                                              "taken from a delivered SDTM dataset: its SUPP file holds the values)")
    qorig: str = "CRF"
    qeval: str = ""
    codelist: Optional[str] = None


class ValueLevel(Strict):
    """Metadata of a variable that depends on another's value (LBORRES where LBTESTCD = NEUT)."""

    variable: str
    where_variable: str
    where_value: str
    label: Optional[str] = None
    type: Literal["Char", "Num"] = "Char"
    codelist: Optional[str] = None
    unit: Optional[str] = None
    origin: str = "Collected"

    _ascii = field_validator("label")(printable_ascii)


class DatasetSpecBase(Strict):
    """What SDTM and ADaM dataset specs share: variables, keys and their consistency checks."""

    def variable(self, name: str) -> Variable:
        for var in self.variables:
            if var.name == name:
                return var
        raise KeyError(name)

    def variable_problems(self) -> list[tuple[tuple, str]]:
        """Variables listed twice and keys that are not variables."""
        found: list[tuple[tuple, str]] = []
        names = [v.name for v in self.variables]
        for j, name in enumerate(names):
            if name in names[:j]:
                found.append((("variables", j, "name"), f"variable {name} is listed twice"))
        for j, key in enumerate(self.keys):
            if key not in names:
                found.append((("keys", j), f"key {key} is not among the variables"))
        return found


#: a delivered dataset's file: a relative path to an .xpt or .csv file
DELIVERED = r"^[^\x00]*\.(xpt|XPT|csv|CSV)$"


class SdtmSource(Strict):
    """A domain taken from a delivered SDTM dataset instead of mapped from raw forms
    (``source: {sdtm: delivered/dm.xpt, supp: delivered/suppdm.xpt}``)."""

    sdtm: str = Field(pattern=DELIVERED, description="the delivered dataset (.xpt or .csv), relative to the spec "
                                                     "folder; inside the spec or raw folder")
    supp: Optional[str] = Field(default=None, pattern=DELIVERED,
                                description="its delivered SUPP-- dataset (.xpt or .csv), if any")


class DomainSpec(DatasetSpecBase):
    domain: str = Field(pattern=r"^[A-Z]{2,8}$")
    source: Optional[SdtmSource] = Field(
        default=None, description="take the domain from a delivered SDTM dataset instead of mapping raw forms")
    label: str = Field(max_length=40)
    dataset_class: str = Field(alias="class")
    structure: str
    keys: list[str]
    variables: list[Variable]
    sources: list[Source] = Field(default_factory=list)
    derivations: list[DerivationSpec] = Field(default_factory=list)  # type: ignore[valid-type]
    supplemental: list[SuppQual] = Field(default_factory=list)
    value_level: list[ValueLevel] = Field(default_factory=list)

    _ascii = field_validator("label")(printable_ascii)

    def problems(self) -> list[tuple[tuple, str]]:
        """Cross-field inconsistencies as (location in the file, message); the loader adds lines."""
        found = self.variable_problems()
        names = [v.name for v in self.variables]
        known = set(names)
        if self.source is not None:
            if self.sources:
                found.append((("sources",), "a domain taken from a delivered SDTM dataset (source: {sdtm: ...}) "
                                            "has no raw sources; remove one of source and sources"))
            if self.supplemental and not self.source.supp:
                found.append((("supplemental",), "supplemental qualifiers of a delivered dataset come from its "
                                                 "SUPP file: give source: {supp: ...}, or remove supplemental"))
            for k, supp in enumerate(self.supplemental):
                if supp.column:
                    found.append((("supplemental", k, "column"), f"QNAM {supp.qnam}: a delivered domain maps no "
                                                                 f"column; its values come from the SUPP file"))
            return found
        for k, supp in enumerate(self.supplemental):
            if not supp.column:
                found.append((("supplemental", k), f"QNAM {supp.qnam} needs the column mapped in the sources"))
        for i, source in enumerate(self.sources):
            for target in source.map:
                if not target.startswith("_") and target not in known:
                    found.append((("sources", i, "map", target), f"map target {target} is not among the variables"))
        produced = set().union(*(s.map.keys() for s in self.sources)) if self.sources else set()
        for d in self.derivations:
            produced |= d.produces()
        for j, name in enumerate(names):
            if name not in produced:
                found.append((("variables", j, "name"), f"variable {name} has no mapping or derivation"))
        # records written out in the spec (TS, TI) go to the XPT file as they are
        for k, step in enumerate(self.derivations):
            for j, record in enumerate(getattr(step, "records", None) or []):
                for key, value in record.items():
                    try:
                        printable_ascii(value)
                    except ValueError as exc:
                        found.append((("derivations", k, "records", j, key), f"{key}: {exc}"))
        return found


class AdamDatasetSpec(DatasetSpecBase):
    """One ADaM dataset: metadata, variables and the registered derivations that build it, in order."""

    dataset: str = Field(pattern=r"^[A-Z][A-Z0-9]{1,7}$")
    label: str = Field(max_length=40, pattern=r"^[\x20-\x7e]*$")
    dataset_class: str = Field(alias="class")
    structure: str
    keys: list[str]
    variables: list[Variable]
    derivations: list[AdamDerivationSpec] = Field(min_length=1)  # type: ignore[valid-type]

    @property
    def domain(self) -> str:
        """The dataset name (what the SDTM validators call the domain)."""
        return self.dataset

    def problems(self) -> list[tuple[tuple, str]]:
        """Cross-field inconsistencies as (location in the file, message); the loader adds lines."""
        found = self.variable_problems()
        names = [v.name for v in self.variables]
        if not self.derivations[0].creates_records():
            found.append((("derivations", 0), f"the first derivation ({self.derivations[0].derivation_name}) "
                                               f"does not create the records"))
        produced: set[str] = {"USUBJID"}
        for d in self.derivations:
            produced |= d.produces()
        for j, name in enumerate(names):
            if name not in produced:
                found.append((("variables", j, "name"), f"variable {name} is produced by no derivation"))
        return found


class Spec(BaseModel):
    """A whole study: metadata, terminology and the domains."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    study: StudySpec
    terminology: Terminology
    domains: list[DomainSpec]
    folder: str
    adam: list[AdamDatasetSpec] = []

    def domain(self, name: str) -> DomainSpec:
        for d in self.domains:
            if d.domain == name:
                return d
        raise KeyError(name)
