"""Validation: Pandera schemas generated from the spec, and cross-dataset conformance rules.

``sdtmgen.validate`` is also the public function ``sdtmgen.validate(spec, raw=None)`` (see sdtmgen.api):
the package is an attribute of ``sdtmgen`` under the same name, so calling it calls the function.
"""

import sys
import types


class _CallablePackage(types.ModuleType):
    def __call__(self, spec, raw=None):
        """Every finding of the build without writing anything: ``sdtmgen.api.validate``."""
        from sdtmgen.api import validate

        return validate(spec, raw)


sys.modules[__name__].__class__ = _CallablePackage
