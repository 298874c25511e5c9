"""The study spec as pydantic models. Every spec file is checked against these at load time.

The JSON Schema of these models (``sdtmgen schema``) lets an editor check spec files as they
are typed.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sdtmgen.adam import ADAM_DERIVATIONS
from sdtmgen.conditions import Condition
from sdtmgen.readers import READERS
from sdtmgen.sdtm.derivations import DERIVATIONS
from sdtmgen.validate.severities import DataQualitySetting, setting_problems
from sdtmgen.sdtm.rules import RULES
from sdtmgen.spec.report import ReportConfig
from sdtmgen.terminology import Terminology

NAME = r"^[A-Z][A-Z0-9_]{0,7}$"
TEMP = r"^_[A-Z][A-Z0-9_]*$"

# the registries (sdtmgen.registry) give the spec its vocabulary: one model per registered rule or step
if TYPE_CHECKING:  # a union made at run time: type checkers see the base class every member derives from
    from sdtmgen.adam.base import AdamDerivation as AdamDerivationSpec
    from sdtmgen.sdtm.derivations.base import Derivation as DerivationSpec
    from sdtmgen.sdtm.rules.base import MappingRule as MappingRuleSpec
    RawFormat = str
else:
    MappingRuleSpec = RULES.union()
    DerivationSpec = DERIVATIONS.union()
    AdamDerivationSpec = ADAM_DERIVATIONS.union()
    RawFormat = Literal[("auto", *READERS)]


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
    visitnum: float = Field(description="VISITNUM of the planned visit (TV, SV and every dataset the visits derivation "
                                       "fills); unique among the visits; also orders the visits")
    visit: str = Field(max_length=200, description="VISIT name (printable ASCII); a raw folder with this name "
                                                  "(trimmed, any case) is this visit")
    day: Optional[int] = Field(default=None, description="planned study day (VISITDY)")
    collected: list[str] = Field(default_factory=list, description="EDC folder names of this visit")
    window_before: Optional[int] = Field(default=None, description="days before the planned day the visit may take "
                                                                  "place; documentation only: no derivation, check or "
                                                                  "output uses it")
    window_after: Optional[int] = Field(default=None, description="days after the planned day the visit may take "
                                                                 "place; documentation only, as window_before")
    start_rule: str = Field(default="", description="TV.TVSTRL: the rule starting the visit, in words (printable "
                                                    "ASCII); empty: TVSTRL null")
    end_rule: str = Field(default="", description="TV.TVENRL: the rule ending the visit, in words; empty: TVENRL null")

    _ascii = field_validator("visit", "start_rule", "end_rule")(printable_ascii)


class UnplannedVisits(Strict):
    visit: str = Field(default="UNSCHEDULED", description="VISIT text of an unscheduled visit, followed by its "
                                                          "VISITNUM (e.g. UNSCHEDULED 2.01); alone when the "
                                                          "visit has no complete date")
    description: str = Field(default="Unscheduled visit", description="SV.SVUPDES of every unplanned visit")
    collected: list[str] = Field(default_factory=lambda: ["Unscheduled"],
                                 description="raw folder names (trimmed, any case) that mean an unplanned visit; "
                                             "a subject's records of one day are one visit, VISITNUM = the last "
                                             "planned VISITNUM on or before that day + 0.01 x its rank")

    _ascii = field_validator("visit", "description")(printable_ascii)


class Element(Strict):
    etcd: str = Field(max_length=8, description="ETCD, the element code (TE, TA, SE); arms list elements by it; "
                                                "unique")
    element: str = Field(max_length=200, description="ELEMENT, the element name (TE, TA, SE); unique")
    epoch: str = Field(description="EPOCH of the element (TA.EPOCH, and SE.EPOCH of the subject's elements)")
    start_rule: str = Field(default="", description="TE.TESTRL: the rule starting the element, in words")
    end_rule: str = Field(default="", description="TE.TEENRL: the rule ending the element, in words")
    duration: Optional[str] = Field(default=None, description="planned duration, ISO 8601 (TEDUR)")

    _ascii = field_validator("etcd", "element", "epoch", "start_rule", "end_rule", "duration")(printable_ascii)


class Arm(Strict):
    armcd: str = Field(max_length=20, description="ARMCD of the planned arm (TA, TV); unique")
    arm: str = Field(max_length=200, description="ARM, the arm's name (TA, TV); unique")
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
    def _off(cls, value: Any) -> Any:
        """YAML 1.1 reads a bare ``off`` as false."""
        return "off" if value is False else value


class RawSource(Strict):
    """Where the raw export is and how to read it (``raw: {format: odm, path: ../edc/export.xml}``)."""

    format: RawFormat = Field(
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
    studyid: str = Field(pattern=r"^[A-Za-z0-9_-]{1,20}$",
                         description="STUDYID of every dataset, the prefix of USUBJID, and the define.xml StudyName "
                                     "(1-20 letters, digits, _ or -)")
    title: str = Field(description="the study's title: define.xml StudyDescription (white space collapsed), "
                                   "annotated CRF and reviewer's guide")
    sponsor: str = Field(description="sponsor name: define.xml Originator, annotated CRF, reviewer's guide and "
                                     "the report's subtitle")
    protocol: str = Field(default="", description="protocol name or number: define.xml ProtocolName, annotated "
                                                  "CRF (which use the studyid when it is empty), reviewer's guide")
    registry_id: str = Field(default="", description="trial registry identifier (e.g. an NCT number), shown "
                                                     "in the report's subtitle and the reviewer's guide")
    raw: Union[str, RawSource] = Field(description="default raw export folder (or {format, path, options}), "
                                                   "relative to the spec folder")
    sdtmig_version: str = Field(default="3.4", description="SDTMIG version the SDTM define.xml cites; must equal "
                                                           "standards.sdtmig unless standards.sdtmig_file is given")
    sdtm_version: str = Field(default="2.0", description="SDTM model version, shown in the reviewer's guide")
    visits: list[Visit] = Field(description="the planned visits (TV, SV, VISITNUM/VISIT of the mapped records); "
                                            "a raw folder name must lead to one visit")
    unplanned_visits: UnplannedVisits = Field(default=UnplannedVisits(),
                                              description="how unscheduled visits are named and recognised")
    elements: list[Element] = Field(default_factory=list, description="the planned elements (TE; SE and TA take "
                                                                      "their names and epochs from here)")
    arms: list[Arm] = Field(default_factory=list, description="the planned arms and their elements in order (TA; "
                                                              "TV has one record per visit and arm)")
    standards: Standards = Field(default_factory=Standards, description="versions of the standards (IG metadata, "
                                                                        "CT packages, CTCAE) and sponsor files")
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


    def problems(self) -> list[tuple[tuple[Any, ...], str]]:
        """Names that must lead to one thing, as (location in study:, message); the loader adds lines.

        A raw folder name (compared trimmed and upper-cased, as the visits derivation does) naming two
        planned visits, or a planned and the unplanned visit, would be mapped to one of them silently.
        """
        found: list[tuple[tuple[Any, ...], str]] = []
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
    name: str = Field(pattern=NAME, description="variable name: 1-8 characters, upper-case letters, digits, _ "
                                                "(XPT name, define.xml Name)")
    label: str = Field(max_length=40, pattern=r"^[\x20-\x7e]*$",
                       description="variable label, printable ASCII, at most 40 characters (XPT label, define.xml "
                                   "Description)")
    type: Literal["Char", "Num"] = Field(description="XPT type: Char (text) or Num (8-byte number; dates stay "
                                                     "ISO 8601 text in SDTM)")
    length: Optional[int] = Field(default=None, ge=1, le=200, description="Char only; default = longest value")
    role: str = Field(default="", description="SDTM role (Identifier, Topic, Timing, ...): the define.xml ItemRef "
                                              "Role of SDTM datasets; not written for ADaM")
    core: Literal["Req", "Exp", "Perm", "Cond"] = Field(
        description="Req: define.xml Mandatory=Yes and a missing value is an error; Exp, Perm, Cond: Mandatory=No")
    origin: Literal["Collected", "Derived", "Assigned", "Protocol", "Predecessor", "Not Available"] = Field(
        default="Collected", description="define.xml def:Origin Type (a term of the Define-XML CT); Collected "
                                         "variables get the annotated CRF's page references; Predecessor takes its "
                                         "text from method or comment (DATASET.VARIABLE)")
    codelist: Optional[str] = Field(default=None, description="id of the terminology.yaml codelist of its values: "
                                                              "the codelist rule's default, the value checks "
                                                              "(SCH-CT, SCH-CT-EXT) and the define.xml CodeListRef")
    format: Optional[str] = Field(default=None, description="SAS display format (DATE9., 8.2, $CHAR20.) stored in "
                                                            "the XPT file and define.xml def:DisplayFormat; an ADaM "
                                                            "numeric date without a date format is reported "
                                                            "(ADAM-DATE-FMT)")
    significant_digits: Optional[int] = Field(
        default=None, description="Num only: define.xml DataType float with this SignificantDigits; default: "
                                  "integer when every value is whole, else float with the most decimals found")
    method: Optional[str] = Field(default=None, description="how it is derived, in words (define.xml MethodDef)")
    comment: Optional[str] = Field(default=None, description="a note on the variable: define.xml def:CommentDef")
    crf_pages: list[int] = Field(default_factory=list, description="not used by a build: define.xml cites the "
                                                                   "pages of the annotated CRF the build writes "
                                                                   "(sdtm/acrf.pdf)")
    dictionary: Optional[str] = Field(
        default=None, description="id of the external dictionary (terminology.dictionaries) that codes this variable, "
                                  "e.g. MEDDRA; define.xml ExternalCodeList")


class Lookup(Strict):
    """Columns of another raw form joined onto this source's rows, available as ``FORM.COLUMN``."""

    form: str = Field(pattern=FORM, description="raw file name without .csv, in the raw folder")
    key: list[str] = Field(default_factory=lambda: ["SUBJECT"], description="columns of both forms the rows are "
                                                                            "joined on (left join: rows without a "
                                                                            "match get empty values)")
    columns: list[str] = Field(description="columns of the other form to bring in, read as FORM.COLUMN")
    take: Literal["unique", "first", "last"] = Field(
        default="unique", description="unique: more than one row per key in the other form is an error; first, "
                                      "last: the first or last such row in file order")


class Unpivot(Strict):
    """Wide form -> one row per measurement (e.g. vital signs)."""

    measurements: list[dict[str, str]] = Field(
        description="each {test: <test name>, result: <column>, unit: <column>} (unit optional)")
    test_column: str = Field(default="_TEST", description="column holding each measurement's test name")
    result_column: str = Field(default="_RESULT", description="column holding each measurement's result")
    unit_column: str = Field(default="_UNIT", description="column holding each measurement's unit (empty without "
                                                      "a unit column)")


class Source(Strict):
    form: str = Field(pattern=FORM, description="raw file name without .csv")
    where: Optional[Condition] = Field(default=None, description="only rows meeting this condition are mapped; "
                                                                 "the others are counted as excluded in "
                                                                 "reports/reconciliation.csv")
    exclude_reason: str = Field(default="", description="why rows outside where are excluded, as the reconciliation "
                                                        "report says; default: outside the source's 'where' "
                                                        "condition")
    lookups: list[Lookup] = Field(default_factory=list, description="other forms joined onto the rows before where "
                                                                    "and the mapping")
    unpivot: Optional[Unpivot] = Field(default=None, description="turn a wide form into one row per measurement, "
                                                                 "after where")
    drop_empty: Optional[str] = Field(default=None, description="after unpivot, drop rows with this column empty")
    map: dict[str, MappingRuleSpec] = Field(
        description="target variable (or _TEMPORARY column) -> the mapping rule giving its values")

    @model_validator(mode="after")
    def _targets(self) -> "Source":
        import re

        for target in self.map:
            if not (re.match(NAME, target) or re.match(TEMP, target)):
                raise ValueError(f"map target {target!r} is neither a variable name nor a _TEMPORARY")
        return self


class SuppQual(Strict):
    qnam: str = Field(pattern=NAME, description="SUPP--.QNAM, the qualifier's name (1-8 characters)")
    qlabel: str = Field(max_length=40, pattern=r"^[\x20-\x7e]*$",
                        description="SUPP--.QLABEL, printable ASCII, at most 40 characters")
    column: Optional[str] = Field(default=None, pattern=TEMP,
                                  description="the temporary column mapped in the sources (none for a domain "
                                              "taken from a delivered SDTM dataset: its SUPP file holds the values)")
    qorig: str = Field(default="CRF", description="SUPP--.QORIG; the define.xml origin of its value-level item "
                                                  "follows it")
    qeval: str = Field(default="", description="SUPP--.QEVAL (who evaluated the value); empty for collected data")
    codelist: Optional[str] = Field(default=None, description="id of a terminology.yaml codelist of its values, "
                                                              "cited by its define.xml value-level item")


class ValueLevel(Strict):
    """Metadata of a variable that depends on another's value (LBORRES where LBTESTCD = NEUT)."""

    variable: str = Field(description="the variable described (e.g. LBORRES)")
    where_variable: str = Field(description="the variable whose value selects the records (e.g. LBTESTCD)")
    where_value: str = Field(description="that variable's value (e.g. NEUT): define.xml WhereClauseDef")
    label: Optional[str] = Field(default=None, description="description of the value-level item; default: the "
                                                           "variable's label for the test's name")
    type: Literal["Char", "Num"] = Field(default="Char", description="Char on a Num variable makes the item's "
                                                                     "DataType text; otherwise the data decide")
    codelist: Optional[str] = Field(default=None, description="id of a terminology.yaml codelist for these "
                                                              "records' values (define.xml CodeListRef)")
    unit: Optional[str] = Field(default=None, description="unit added to the description in brackets")
    origin: str = Field(default="Collected", description="define.xml def:Origin Type of the item when given; "
                                                         "when left out, the variable's origin")

    _ascii = field_validator("label")(printable_ascii)


class DatasetSpecBase(Strict):
    """What SDTM and ADaM dataset specs share: variables, keys and their consistency checks."""

    if TYPE_CHECKING:  # declared by each subclass (their order in the schema is the subclass's)
        variables: list[Variable]
        keys: list[str]

    def variable(self, name: str) -> Variable:
        for var in self.variables:
            if var.name == name:
                return var
        raise KeyError(name)

    def variable_problems(self) -> list[tuple[tuple[Any, ...], str]]:
        """Variables listed twice and keys that are not variables."""
        found: list[tuple[tuple[Any, ...], str]] = []
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
    #: which standard the dataset follows, for code that must not import this module (the rule modules)
    standard: ClassVar[str] = "SDTM"
    domain: str = Field(pattern=r"^[A-Z]{2,8}$", description="dataset name and DOMAIN value (2-8 upper-case "
                                                            "letters); files are named in lower case (dm.xpt)")
    source: Optional[SdtmSource] = Field(
        default=None, description="take the domain from a delivered SDTM dataset instead of mapping raw forms")
    label: str = Field(max_length=40, description="dataset label, printable ASCII, at most 40 characters (XPT, "
                                                 "define.xml Description)")
    dataset_class: str = Field(alias="class", description="SDTM observation class (e.g. EVENTS, FINDINGS, TRIAL "
                                                          "DESIGN): define.xml def:Class (a Define-XML CT term) "
                                                          "and the datasets' order")
    structure: str = Field(description="one record per ... (define.xml def:Structure, reviewer's guide)")
    keys: list[str] = Field(description="key variables in order: records are sorted by them, --SEQ numbered in "
                                        "their order, the combination must be unique; define.xml KeySequence")
    variables: list[Variable] = Field(description="the dataset's variables in output order; each needs a mapping "
                                                  "or a derivation")
    sources: list[Source] = Field(default_factory=list, description="raw forms mapped into records, one block per "
                                                                    "form; their records are stacked")
    derivations: list[DerivationSpec] = Field(
        default_factory=list, description="registered SDTM derivations run in this order after the mapping")
    supplemental: list[SuppQual] = Field(default_factory=list, description="supplemental qualifiers, written to "
                                                                           "SUPP<domain>")
    value_level: list[ValueLevel] = Field(default_factory=list, description="define.xml value-level metadata "
                                                                            "beyond what the data give (Findings "
                                                                            "results get it by test automatically)")

    _ascii = field_validator("label")(printable_ascii)

    def problems(self) -> list[tuple[tuple[Any, ...], str]]:
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

    #: which standard the dataset follows, for code that must not import this module (the rule modules)
    standard: ClassVar[str] = "ADaM"
    dataset: str = Field(pattern=r"^[A-Z][A-Z0-9]{1,7}$", description="dataset name (e.g. ADSL, ADLB); files are "
                                                                     "named in lower case (adsl.xpt)")
    label: str = Field(max_length=40, pattern=r"^[\x20-\x7e]*$",
                       description="dataset label, printable ASCII, at most 40 characters (XPT, define.xml)")
    dataset_class: str = Field(alias="class", description="ADaM class (SUBJECT LEVEL ANALYSIS DATASET, BASIC DATA "
                                                          "STRUCTURE, OCCURRENCE DATA STRUCTURE, ADAM OTHER): "
                                                          "define.xml def:Class")
    structure: str = Field(description="one record per ... (define.xml def:Structure, reviewer's guide)")
    keys: list[str] = Field(description="key variables in order: records are sorted by them, the combination must "
                                        "be unique; define.xml KeySequence")
    variables: list[Variable] = Field(description="the dataset's variables in output order; each must be produced "
                                                  "by a derivation")
    derivations: list[AdamDerivationSpec] = Field(
        min_length=1, description="registered ADaM derivations run in this order; the first creates the records")

    @property
    def domain(self) -> str:
        """The dataset name (what the SDTM validators call the domain)."""
        return self.dataset

    def problems(self) -> list[tuple[tuple[Any, ...], str]]:
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
    """A whole study: metadata, terminology, the domains, the ADaM datasets and the results' configuration,
    every file of the spec folder loaded and checked together (``sdtmgen.load_spec``)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    study: StudySpec
    terminology: Terminology
    domains: list[DomainSpec]
    folder: str
    adam: list[AdamDatasetSpec] = []
    report: Optional[ReportConfig] = None  # report.yaml; None: the study has no results to compute

    def domain(self, name: str) -> DomainSpec:
        for d in self.domains:
            if d.domain == name:
                return d
        raise KeyError(name)
