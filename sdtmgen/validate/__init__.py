"""Validation: Pandera schemas generated from the spec, and cross-dataset conformance rules."""
