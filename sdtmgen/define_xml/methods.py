"""``MethodDef``: one per derived variable (and per value-level item of a derived variable).

The text is the variable's ``method`` from the spec. When the spec has none, the method is
described from what the build actually ran: the derivation step that produces the variable, or
the mapping rule that fills it (their registered descriptions and parameters), and a warning
asks for a method text.
"""

from __future__ import annotations

import json
from typing import Any

from lxml import etree

from .context import DefineContext, Method, translated
from .oids import method_oid, odm


def _parameters(step: Any, skip: tuple[str, ...]) -> str:
    try:
        params = step.model_dump(mode="json", exclude_defaults=True, by_alias=True)
    except AttributeError:
        return ""
    params = {k: v for k, v in params.items() if k not in skip}
    return json.dumps(params, sort_keys=True, separators=(", ", ": ")) if params else ""


def described_by_build(spec: Any, variable: str) -> str | None:
    """The derivation or mapping rule that produces ``variable``, in words, or None."""
    for step in getattr(spec, "derivations", []) or []:
        if variable in step.produces():
            params = _parameters(step, ("derive",))
            return f"{step.description[:1].upper()}{step.description[1:]} ({step.derivation_name}{': ' + params if params else ''})."
    for source in getattr(spec, "sources", []) or []:
        rule = source.map.get(variable)
        if rule is not None:
            params = _parameters(rule, ("rule",))
            return (f"{rule.description[:1].upper()}{rule.description[1:]} ({rule.rule_name}"
                    f"{': ' + params if params else ''}; raw form {source.form}).")
    return None


def method_for(ctx: DefineContext, dataset: str, spec: Any, var: Any) -> str | None:
    """MethodOID of a Derived variable (registering its MethodDef), else None."""
    if getattr(var, "origin", None) != "Derived":
        return None
    text = getattr(var, "method", None)
    if not text:
        text = described_by_build(spec, var.name)
        ctx.undocumented_methods.append(f"{dataset}.{var.name}")
        text = text or "Derived; the spec gives no method."
    return ctx.add_method(Method(oid=method_oid(dataset, var.name), name=f"Algorithm to derive {dataset}.{var.name}",
                                 text=text))


def MethodDef(method: Method) -> etree._Element:  # noqa: N802
    element = etree.Element(odm("MethodDef"), OID=method.oid, Name=method.name, Type=method.type)
    translated(element, odm("Description"), method.text)
    return element
