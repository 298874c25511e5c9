"""SDTM: mapping raw CRF forms to SDTMIG 3.4 domains through the spec's rules."""
