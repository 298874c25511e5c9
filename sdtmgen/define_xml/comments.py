"""``def:CommentDef``: the spec's ``comment`` of a variable or dataset."""

from __future__ import annotations

from typing import Any

from lxml import etree

from .context import DefineContext, translated
from .oids import comment_oid, define, odm


def comment_for(ctx: DefineContext, dataset: str, owner: Any, name: str) -> str | None:
    """CommentOID for ``owner.comment`` (a variable, or a dataset spec with ``name`` = "DATASET")."""
    text = getattr(owner, "comment", None)
    if not text:
        return None
    return ctx.add_comment(comment_oid(dataset, name), text)


def CommentDef(oid: str, text: str) -> etree._Element:  # noqa: N802
    element = etree.Element(define("CommentDef"), OID=oid)
    translated(element, odm("Description"), text)
    return element
