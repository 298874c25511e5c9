"""The report configuration (``specs/report.yaml``) as pydantic models.

Everything study-specific the results need lives here (required fields, no study defaults in code): which ADaM variables and PARAMCDs feed
which outcome measure, the chemotherapy-day window, the 3+3 rule numbers, what the plots show.
Thresholds that define an event (ANC < 0.5, the bleeding term list, ...) are ADaM's business and
reach the report only through ADaM flags and parameters.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

FILE = "report.yaml"
VAR = r"^[A-Z][A-Z0-9_]{0,7}$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Groups(Strict):
    variable: str = Field("TRT01P", pattern=VAR, description="ADSL dose group (text)")
    order_variable: str = Field("TRT01PN", pattern=VAR, description="ADSL numeric dose level, orders the groups")
    overall: str = Field("Overall", min_length=1, description="group1_level of the all-groups rows")


class Populations(Strict):
    safety: str = Field("SAFFL", pattern=VAR, description="ADSL flag of the denominator population")
    dlt_evaluable: str = Field("DLTEVLFL", pattern=VAR, description="ADSL flag of the DLT-evaluable subjects, "
                                                                   "the denominator of the dlt and mtd outcomes")


class DayWindow(Strict):
    """Days counted from an ADSL anchor date (day 1 = the anchor), inclusive."""

    anchor: str = Field(pattern=VAR, description="ADSL date variable of day 1")
    first_day: int = Field(description="first day counted (1 = the anchor date; no day 0)")
    last_day: int = Field(description="last day counted; episodes are cut here; not before first_day")

    @model_validator(mode="after")
    def _ordered(self) -> "DayWindow":
        if self.last_day < self.first_day:
            raise ValueError("last_day is before first_day")
        return self


class AeWindow(Strict):
    flag: str = Field(pattern=VAR, description="ADAE window flag, e.g. AWIN28FL")
    label: str = Field(description="the window as the row labels name it, e.g. 'days 1-28'")


class _Outcome(Strict):
    number: int = Field(ge=1, description="outcome measure number (registration record)")
    title: str = Field(description="the outcome measure's title: report.html section, ARD labels, RTF "
                                   "table title")
    note: str = Field("", description="text shown under the section's tables in report.html")
    purpose: Literal["primary", "secondary", "exploratory"] = Field(
        "primary", description="the registration record's kind of outcome measure (define.xml ARM AnalysisPurpose)")


class AeSummary(_Outcome):
    """Subjects with AEs and SAEs: any, by worst CTCAE grade, grade >= severe, by SOC and PT."""

    kind: Literal["ae_summary"] = Field(description="subjects with AEs, SAEs (and related AEs) by worst grade, SOC and term, per window")
    windows: list[AeWindow] = Field(min_length=1, description="one summary per ADAE window flag (records "
                                                              "with the flag = Y)")
    treatment_emergent: Optional[str] = Field("TRTEMFL", pattern=VAR, description="ADAE flag: only records with "
                                                                                  "Y count (null: every record)")
    serious: str = Field("AESER", pattern=VAR, description="ADAE serious flag (Y) selecting the SAE rows")
    grade: str = Field("ATOXGR", pattern=VAR, description="ADAE grade (a number as text); each subject's worst "
                                                          "grade is counted; a subject without one is counted as "
                                                          "missing")
    grades: list[str] = Field(default_factory=lambda: ["1", "2", "3", "4", "5"],
                              description="the worst-grade rows, in order")
    severe_grade: int = Field(description="'severe' = this CTCAE grade or worse")
    soc: str = Field("AESOC", pattern=VAR, description="ADAE system organ class: one row per class")
    term: str = Field("AEDECOD", pattern=VAR, description="ADAE term: one row per term within its class")
    related: Optional["Related"] = Field(None, description="also summarise the AEs related to the study treatment")


class Related(Strict):
    variable: str = Field("AREL", pattern=VAR, description="ADAE causality")
    values: list[str] = Field(default_factory=lambda: ["RELATED"], min_length=1, description="values meaning related")
    label: str = Field(description="e.g. 'related to UCMSC-Exo'")


class Dlt(_Outcome):
    """DLT counts among DLT-evaluable subjects and the 3+3 decision, per dose level."""

    kind: Literal["dlt"] = Field(description="DLT counts per dose level among DLT-evaluable subjects, and the 3+3 decision")
    flag: str = Field(pattern=VAR, description="ADAE flag of a DLT event")
    term: str = Field("AEDECOD", pattern=VAR, description="ADAE term: DLT subjects counted per term")


AeSummary.model_rebuild()


class ThreePlusThree(Strict):
    cohort_size: int = Field(ge=1, description="fewer evaluable subjects: the cohort is incomplete")
    expanded_size: int = Field(ge=1, description="cohort size after expansion")
    escalate_max_dlt: int = Field(ge=0, description="at most this many DLTs in a cohort: escalate")
    stop_min_dlt: int = Field(ge=1, description="at least this many DLTs among cohort_size to expanded_size "
                                                     "evaluable: dose too toxic, stop")
    mtd_max_dlt: int = Field(ge=0, description="MTD: at most this many DLTs ...")
    mtd_min_evaluable: int = Field(ge=1, description="... among at least this many evaluable subjects")

    @model_validator(mode="after")
    def _consistent(self) -> "ThreePlusThree":
        if self.expanded_size < self.cohort_size:
            raise ValueError("expanded_size is smaller than cohort_size")
        if self.stop_min_dlt <= self.escalate_max_dlt:
            raise ValueError("stop_min_dlt must be above escalate_max_dlt")
        return self


class Mtd(_Outcome):
    kind: Literal["mtd"] = Field(description="the maximum tolerated dose by the 3+3 rules; needs a dlt outcome")
    rules: ThreePlusThree = Field(description="the 3+3 numbers: cohort sizes and DLT limits")


class Recovery(_Outcome):
    """Kaplan-Meier time to recovery from ADTTE, one analysis per PARAMCD."""

    kind: Literal["recovery"] = Field(description="Kaplan-Meier time to recovery from ADTTE")
    paramcds: list[str] = Field(min_length=1, description="ADTTE PARAMCDs, one analysis and curve each")
    timepoints: list[int] = Field(default_factory=list, description="days at which S(t) is reported")
    conf_level: float = Field(0.95, gt=0, lt=1, description="level of the pointwise log-log confidence limits and "
                                                            "of the quantiles' limits (between 0 and 1)")


class EventIncidence(_Outcome):
    """Subjects with at least one ADAE record flagged, starting in the chemotherapy window."""

    kind: Literal["event_incidence"] = Field(description="subjects with an ADAE record flagged, starting on window days")
    flag: str = Field(pattern=VAR, description="ADAE flag (Y) of the counted records")
    label: str = Field("", description="row label (default: 'Subjects with <flag> = Y')")


class EpisodeDuration(_Outcome):
    """Durations of episodes of flagged ADAE records: merged, cut at the window end."""

    kind: Literal["episode_duration"] = Field(description="durations of the episodes of flagged ADAE records")
    flag: str = Field(pattern=VAR, description="ADAE flag (Y) of the records forming the episodes")
    merge_gap_days: int = Field(ge=0, description="episodes with at most this many event-free days between them "
                                                     "are merged (0 = overlapping or touching: one ends on day d, "
                                                     "the next starts on d or d+1)")


class LabIncidence(_Outcome):
    """Subjects with at least one ADLB value flagged in the chemotherapy window, per PARAMCD and flag
    (CRIT1FL the severe threshold, CRIT2FL an alternative one; a flag ADLB does not fill for a
    PARAMCD is skipped for it)."""

    kind: Literal["lab_incidence"] = Field(description="subjects with an ADLB value flagged on window days, per PARAMCD and flag")
    paramcds: list[str] = Field(min_length=1, description="ADLB PARAMCDs, each reported apart")
    flags: list[str] = Field(min_length=1, description="ADLB criterion flags (Y) counted, e.g. CRIT1FL; after "
                                                       "the first, a flag ADLB never fills for a PARAMCD is "
                                                       "skipped for it")


class Flag(Strict):
    flag: str = Field(pattern=VAR, description="ADSL flag: subjects with Y are counted")
    label: str = Field(description="the row's label")


class MedicationSplit(Strict):
    """Subjects with SDTM CM records of some classes starting on window days, by class and by purpose.

    A record belongs to the class of the first ``class_length`` characters of ``class_variable`` (ATC:
    3 = the therapeutic subgroup, J01, J02, J04, J05, ...) when that starts with one of ``prefixes``;
    its purpose is prophylaxis when ``indication`` contains one of ``prophylaxis_words`` (case
    ignored), treatment when it holds another text, "not recorded" when empty. Records with a partial
    or missing start date cannot be placed in the window and are not counted (the table says how many).
    """

    label: str = Field(description="what the records are, e.g. 'anti-infective agent'")
    class_variable: str = Field("CMCLASCD", pattern=VAR, description="CM variable holding the class code (ATC)")
    prefixes: list[str] = Field(default_factory=lambda: ["J"], min_length=1,
                                description="class codes counted (ATC 'J' = all anti-infectives for systemic use)")
    class_length: int = Field(3, ge=1, description="characters of the code that name a class")
    class_labels: dict[str, str] = Field(default_factory=dict, description="class code -> text shown")
    date: str = Field("CMSTDTC", pattern=VAR, description="ISO 8601 start date of the record")
    indication: Optional[str] = Field("CMINDC", pattern=VAR, description="indication text (null: no split by purpose)")
    prophylaxis_words: list[str] = Field(default_factory=lambda: ["PROPHYLAXIS", "PREVENTION"], min_length=1,
                                         description="an indication containing one of these (case ignored) "
                                                     "means prophylaxis")


class CountType(Strict):
    value: str = Field(description="value of type_variable")
    label: str = Field(description="the row's label")


class RecordCounts(Strict):
    """Per-subject counts of SDTM CM records of one category starting on window days (e.g. transfusion
    episodes: one per subject, product and day) and per-subject totals of an amount (e.g. CMDOSE),
    summarised over the safety population (0 for a subject without any)."""

    label: str = Field(description="what is counted, e.g. 'transfusion episodes'")
    category_variable: str = Field("CMCAT", pattern=VAR, description="CM variable selecting the records")
    category: str = Field(description="its value for the counted records")
    date: str = Field("CMSTDTC", pattern=VAR, description="ISO 8601 start date placing a record on a window "
                                                          "day; records without a complete date are not counted")
    type_variable: Optional[str] = Field("CMCLASCD", pattern=VAR,
                                         description="CM variable telling the kind (product) of a record; an "
                                                     "episode is one subject, kind and day (null: no kinds)")
    types: list[CountType] = Field(default_factory=list, description="each counted apart too")
    amount: Optional[str] = Field(None, pattern=VAR, description="numeric CM variable summed per subject")
    amount_unit: Optional[str] = Field(None, pattern=VAR, description="its unit variable")
    amount_label: str = Field("", description="what the amount is (default: the variable name)")


class SubjectFlags(_Outcome):
    """Subjects with ADSL flags = "Y" (transfusion, anti-infective use)."""

    kind: Literal["subject_flags"] = Field(description="subjects with ADSL flags = Y, optionally with CM use by class and per-subject counts")
    flags: list[Flag] = Field(min_length=1, description="the ADSL flags counted, one row each")
    medications: Optional[MedicationSplit] = Field(None, description="the same use split by class and purpose, from CM")
    counts: Optional[RecordCounts] = Field(None, description="per-subject counts and amounts, from CM")


Outcome = Annotated[Union[AeSummary, Dlt, Mtd, Recovery, EventIncidence, EpisodeDuration, LabIncidence,
                          SubjectFlags], Field(discriminator="kind")]


class FebrileNeutropeniaCheck(Strict):
    """The derived febrile-neutropenia check (data review): a fever with a low ANC in reach, on window
    days, compared per subject with the investigator-reported AE."""

    outcome: int = Field(ge=1, description="outcome measure whose section shows the check")
    anc_paramcd: str = Field(description="ADLB PARAMCD of the ANC")
    anc_below: float = Field(gt=0, description="ANC below this (ADLB AVAL units) counts")
    anc_days_before: int = Field(ge=0, description="an ANC measured up to this many days before the fever ...")
    anc_days_after: int = Field(ge=0, description="... or up to this many days after it")
    testcd_variable: str = Field("VSTESTCD", pattern=VAR, description="VS variable holding the test code")
    testcd: str = Field(description="SDTM VS test code of body temperature")
    result: str = Field("VSSTRESN", pattern=VAR, description="VS numeric result in degrees C")
    datetime: str = Field("VSDTC", pattern=VAR, description="VS date/time of the reading (ISO 8601)")
    single: float = Field(description="one reading at or above this is a fever")
    sustained: float = Field(description="readings at or above this held for sustained_minutes are a fever")
    sustained_minutes: int = Field(ge=1, description="a run of readings at or above sustained whose first and "
                                                     "last are at least this many minutes apart is a fever")
    max_gap_minutes: int = Field(ge=1, description="longest gap between two readings of one sustained run")
    reported_flag: str = Field(pattern=VAR, description="ADAE flag of the investigator-reported FN")
    term: str = Field("AEDECOD", pattern=VAR, description="ADAE term shown for the AEs ongoing on the fever day")

    @model_validator(mode="after")
    def _thresholds(self) -> "FebrileNeutropeniaCheck":
        if self.sustained > self.single:
            raise ValueError("sustained is above single: a single reading would be the weaker rule")
        return self


class TransfusionType(Strict):
    value: str = Field(description="value of type_variable")
    label: str = Field(description="legend text of the product ('<label> transfusion')")
    panel: Optional[str] = Field(None, description="PARAMCD of the panel it is marked on (all panels if empty)")
    color: str = Field("tab:red", description="matplotlib colour of its dashed day markers")


class Transfusions(Strict):
    category: str = Field(description="CM CMCAT of transfusions")
    date: str = Field(pattern=VAR, description="CM start date/time (ISO 8601)")
    type_variable: str = Field(pattern=VAR, description="CM variable telling the product (e.g. its ATC code)")
    types: list[TransfusionType] = Field(default_factory=list, description="products drawn with their own label, "
                                                                           "colour and panel; others as 'Transfusion' "
                                                                           "in tab:red on every panel")


class Threshold(Strict):
    value: float = Field(description="height of the horizontal line, in the parameter's AVAL units")
    label: str = Field(description="e.g. 'ANC 0.5 (severe neutropenia)'")


class CountPanel(Strict):
    paramcd: str = Field(description="ADLB PARAMCD drawn in the panel")
    label: str = Field(description="the panel's title")
    log_scale: bool = Field(False, description="logarithmic value axis")
    thresholds: list[Threshold] = Field(default_factory=list, description="horizontal reference lines (the ADaM "
                                                                           "criteria and recovery levels)")


class BloodCounts(Strict):
    """One figure per dose group: each subject's curves while the group is small, else the group's daily summary.

    A group of more than ``max_subjects`` safety subjects is drawn as the median and quartiles over
    subjects by day (one value per subject and day: the median of that day's values), above the
    number of subjects with a value and with ``flag`` = Y on each day; the page says which groups were
    summarised and why.
    """

    panels: list[CountPanel] = Field(min_length=1, description="one panel per ADLB parameter, in order")
    max_subjects: int = Field(12, ge=1, description="largest dose group drawn subject by subject; larger groups "
                                                     "are drawn as the daily median and quartiles")
    flag: Optional[str] = Field(description="ADLB flag drawn as filled red points (null: none)")
    flag_label: str = Field("", description="legend text of the flagged points (default: '<flag> = Y')")
    febrile_neutropenia_flag: Optional[str] = Field(description="ADAE flag of the shaded episodes (null: none)")
    febrile_neutropenia_label: str = Field("Febrile neutropenia", description="legend text of the shaded episodes")
    transfusions: Optional[Transfusions] = Field(None, description="mark the days of CM transfusions (null: none)")


class Plots(Strict):
    dpi: int = Field(100, ge=50, le=300, description="resolution of the PNG figures, dots per inch")
    km_width: float = Field(6.0, description="width of the Kaplan-Meier figures, inches")
    km_height: float = Field(4.0, description="height of the Kaplan-Meier plot, inches (the number-at-risk table "
                                               "is added below)")
    blood_counts: Optional[BloodCounts] = Field(None, description="the blood-count figures per dose group (null: "
                                                                  "none)")
    embed: bool = Field(True, description="embed PNGs in report.html (else link plots/*.png)")


class ReportConfig(Strict):
    title: str = Field(description="title of report.html")
    groups: Groups = Field(Groups(), description="the ADSL variables forming the dose groups")
    populations: Populations = Field(Populations(), description="the ADSL population flags")
    window: DayWindow = Field(description="the days counted from an ADSL anchor date (e.g. chemotherapy day 1) "
                                          "that every windowed outcome uses")
    ae_day: str = Field(pattern=VAR, description="ADAE day counted from the window anchor")
    lab_day: str = Field(pattern=VAR, description="ADLB day counted from the window anchor")
    last_contact: Optional[str] = Field(None, description="ADSL date where ongoing episodes end if before the window end")
    proportion_conf_level: float = Field(0.95, gt=0, lt=1, description="confidence level of the exact "
                                                                        "(Clopper-Pearson) limits of every incidence")
    outcomes: list[Outcome] = Field(
        min_length=1, description="the outcome measures, each chosen by kind; numbers unique; one report section, "
                                  "ARD rows and RTF table each")
    febrile_neutropenia_check: Optional[FebrileNeutropeniaCheck] = Field(
        None, description="derived febrile neutropenia compared with the reported AE (null: not run)")
    labels: dict[str, str] = Field(default_factory=dict, description="plain names of the variables the "
                                   "report's labels mention (e.g. CHEMSDT: chemotherapy day 1), shown in report.html")
    rtf_tables: bool = Field(True, description="write rtf/outcome_NN.rtf, one table per outcome measure")
    plots: Plots = Field(Plots(), description="what the figures show and their size")

    @model_validator(mode="after")
    def _unique(self) -> "ReportConfig":
        numbers = [o.number for o in self.outcomes]
        dupes = sorted({n for n in numbers if numbers.count(n) > 1})
        if dupes:
            raise ValueError(f"outcome numbers listed twice: {dupes}")
        check = self.febrile_neutropenia_check
        if check is not None and check.outcome not in numbers:
            raise ValueError(f"febrile_neutropenia_check.outcome {check.outcome} is not an outcome number")
        kinds = [o.kind for o in self.outcomes]
        if "mtd" in kinds and "dlt" not in kinds:
            raise ValueError("an 'mtd' outcome needs a 'dlt' outcome (the DLT flag)")
        return self

    def outcome(self, kind: str) -> Any:
        return next((o for o in self.outcomes if o.kind == kind), None)
