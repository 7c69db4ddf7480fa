"""A Griffe extension for the docs site (mkdocs.yml): the docstrings' reStructuredText roles (:class:`X`,
:func:`~tms.runs.load_run`, ...) become cross-references that link where the target is documented on the site and
read as code where it is not; ``~`` shows the last part of the name, as in Sphinx. A name without a dot is looked
up beside the object first (the module's, then the class's). Only the site's rendering changes, not the source."""

from __future__ import annotations

import html
import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|data|attr|obj|exc|const):`(?P<tilde>~?)(?P<target>[\w.]+)(?:\(\))?`")


class RolesToCrossReferences(griffe.Extension):
    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is None:
            return
        module = obj.module.path
        scope = obj if obj.is_class else obj.parent  # a method's or an attribute's class, or the module

        def ref(match: re.Match) -> str:
            target = match["target"]
            title = target.rsplit(".", 1)[-1] if match["tilde"] else target
            if "." not in target:
                in_class = scope is not None and scope.is_class and target in scope.members
                target = f"{scope.path if in_class else module}.{target}"
            # the title as a code span: the docstring is Markdown, and inside raw HTML an `_` would still be emphasis
            return f'<autoref identifier="{html.escape(target)}" optional>`{title}`</autoref>'

        obj.docstring.value = ROLE.sub(ref, obj.docstring.value)
