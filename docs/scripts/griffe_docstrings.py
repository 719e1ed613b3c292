"""A Griffe extension that lets mkdocstrings render xmaco's docstrings as written.

The docstrings are NumPy style, made to read well in ``help()`` and in an editor, with two
habits that Markdown and Griffe's NumPy parser do not share:

- reStructuredText roles (``:class:`Maco```, ``:func:`xmaco.spectrum.natural```), which
  Markdown would print verbatim: each becomes the inline code the reader expects (``Maco``);
- an ``Example`` section (singular), which the parser does not know, so its ``>>>`` lines
  would render as nested block quotes: it is renamed ``Examples`` and renders as code.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|attr|data|exc|obj|const):`~?([^`]+)`")
_EXAMPLE = re.compile(r"^(\s*)Example\n(\s*)-------$", flags=re.MULTILINE)


def rewrite(text: str) -> str:
    """The docstring ``text`` with roles as inline code and ``Example`` as ``Examples``.

    Example
    -------
    >>> rewrite("See :func:`maco` and :class:`~xmaco.Result`.")
    'See `maco` and `xmaco.Result`.'
    >>> rewrite("Example\\n-------\\nrun(steps=2)").splitlines()
    ['Examples', '--------', 'run(steps=2)']
    """
    text = _ROLE.sub(r"`\1`", text)
    return _EXAMPLE.sub(r"\1Examples\n\2--------", text)


class NumpydocForMarkdown(griffe.Extension):
    """Rewrite every docstring once the object tree is loaded, before it is parsed."""

    def on_object(self, *, obj: Any, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = rewrite(obj.docstring.value)
