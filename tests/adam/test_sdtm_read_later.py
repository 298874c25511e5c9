"""What the build keeps of the SDTM frames once the SDTM package is written (sdtm_read_later)."""

import pandas as pd

from sdtmgen.adam.build import build_adam, sdtm_read_later, validate_adam


def test_only_columns_read_again_are_kept(spec, sdtm):
    kept = sdtm_read_later(spec, sdtm.datasets)
    # whole: DM (ADSL against DM) and TS (the report's data cut-off)
    assert kept["DM"] is sdtm.datasets["DM"] and kept["TS"] is sdtm.datasets["TS"]
    # VS: what ADSL (last contact) and the report's febrile-neutropenia check read
    assert set(kept["VS"].columns) == {"USUBJID", "VSTESTCD", "VSSTRESN", "VSDTC"}
    # LB: what ADLB reads, with SRCVAR's columns (LBSTRESN, ADTTE's LBDTC) and LBSEQ for ADAM-SRC
    assert {"LBSEQ", "LBSTRESN", "LBDTC", "USUBJID"} <= set(kept["LB"].columns)
    assert not {"LBORRES", "LBTEST", "LBNRIND"} & set(kept["LB"].columns)
    # read by nothing after the SDTM package: gone
    assert not {"SV", "SE", "RELREC", "TA", "TE", "TI", "TV"} & set(kept)
    # the columns are the same arrays, not copies
    assert kept["VS"]["VSDTC"].array._pa_array is sdtm.datasets["VS"]["VSDTC"].array._pa_array


def test_adam_from_the_kept_columns_is_the_same(spec, sdtm):
    full, kept = build_adam(spec, sdtm.datasets), build_adam(spec, sdtm_read_later(spec, sdtm.datasets))
    assert full.datasets.keys() == kept.datasets.keys()
    for name in full.datasets:
        pd.testing.assert_frame_equal(kept.datasets[name], full.datasets[name])
    findings = validate_adam(kept, spec.terminology, sdtm_read_later(spec, sdtm.datasets))
    assert [f for f in findings if f.rule == "ADAM-SRC"] == [f for f in validate_adam(full, spec.terminology, sdtm.datasets)
                                                             if f.rule == "ADAM-SRC"]


def test_srcdom_from_the_data_keeps_every_dataset_adam_reads_whole(spec, sdtm):
    adlb = next(d for d in spec.adam if d.dataset == "ADLB")
    steps = [s for s in adlb.derivations if getattr(s, "derive", "") != "constant"]
    changed = spec.model_copy(update={"adam": [d.model_copy(update={"derivations": steps}) if d is adlb else d
                                              for d in spec.adam]})
    # recovery still names LB; without ADLB's constant step nothing else makes SRCDOM
    assert "LBORRES" not in sdtm_read_later(changed, sdtm.datasets)["LB"].columns
    recovery = next(s for d in spec.adam for s in d.derivations if getattr(s, "derive", "") == "recovery")
    unknown = recovery.model_copy(update={"source_domain": None})
    adtte = next(d for d in changed.adam if d.dataset == "ADTTE")
    changed = changed.model_copy(update={"adam": [
        d.model_copy(update={"derivations": [unknown if s is recovery else s for s in d.derivations]})
        if d is adtte else d for d in changed.adam]})
    kept = sdtm_read_later(changed, sdtm.datasets)
    assert kept["LB"] is sdtm.datasets["LB"] and kept["VS"] is sdtm.datasets["VS"]
