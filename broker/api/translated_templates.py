"""A Jinja2 environment per language whose constant messages are translated when a template is compiled.

The templates call ``_("…")`` through Jinja's i18n extension (newstyle gettext), which looks the message up,
marks it safe and ``%``-formats it on every render: dozens per page, 40 % of a page's CPU (issue 7). A
message whose text is a literal is the same at every render of one language, so here it is looked up and
formatted once, when the template is compiled, and the compiled template holds the result as the
extension would have produced it (a ``Markup`` under autoescape; ``%(name)s`` values still formatted, and
escaped, at render time). Templates, extraction and catalogs are unchanged; a template that rebinds ``_``
or ``gettext`` keeps the extension's calls.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, nodes
from jinja2.visitor import NodeTransformer

_GETTEXT_NAMES = frozenset({"_", "gettext"})


class TranslatedEnvironment(Environment):
    def __init__(self, translations: Any, **options: Any) -> None:
        extensions = [*options.pop("extensions", ()), "jinja2.ext.i18n"]
        super().__init__(extensions=extensions, **options)
        self.install_gettext_translations(translations, newstyle=True)  # type: ignore[attr-defined]
        # The function the extension calls (it prefers ``ugettext``, as Babel's classes define it).
        self._translate = getattr(translations, "ugettext", None) or translations.gettext

    # Both Jinja's compile() and its public parse() parse through here.
    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        if _rebinds_gettext(tree):
            return tree
        folded = _TranslateConstants(self._translate).visit(tree)
        assert isinstance(folded, nodes.Template)
        return folded


def _rebinds_gettext(tree: nodes.Template) -> bool:
    for name in tree.find_all(nodes.Name):
        if name.name in _GETTEXT_NAMES and name.ctx != "load":
            return True
    for imported in tree.find_all(nodes.FromImport):
        for item in imported.names:
            if (item[1] if isinstance(item, tuple) else item) in _GETTEXT_NAMES:
                return True
    return False


class _TranslateConstants(NodeTransformer):
    def __init__(self, translate: Any) -> None:
        self._translate = translate

    def visit_Call(self, call: nodes.Call) -> nodes.Node:
        node = self.generic_visit(call)
        if not (
            isinstance(node, nodes.Call)
            and isinstance(node.node, nodes.Name)
            and node.node.name in _GETTEXT_NAMES
            and len(node.args) == 1
            and isinstance(node.args[0], nodes.Const)
            and isinstance(node.args[0].value, str)
            and node.dyn_args is None
            and node.dyn_kwargs is None
        ):
            return node
        lineno = node.lineno
        translated = nodes.MarkSafeIfAutoescape(
            nodes.Const(str(self._translate(node.args[0].value)), lineno=lineno), lineno=lineno
        )
        # The extension always %-formats, with no variables too ("%%" is "%").
        variables = nodes.Dict(
            [
                nodes.Pair(nodes.Const(keyword.key, lineno=lineno), keyword.value, lineno=lineno)
                for keyword in node.kwargs
            ],
            lineno=lineno,
        )
        return nodes.Mod(translated, variables, lineno=lineno)
