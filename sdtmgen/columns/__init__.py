"""Column helpers on Arrow buffers and integer codes, shared by SDTM and ADaM (no study or domain logic).

- ``text``: Arrow-backed text columns (blanks to missing, flags, taking rows with fills);
- ``memo``: per-run memo of a column's dictionary encoding, shared by the steps that factorise it;
- ``ordering``: sorting and grouping records on integer codes (stable, missing first).
"""
