"""mkdocs hooks: keep the generated CLI page honest and the site free of external assets.

- ``on_pre_build`` fails the build when ``docs/cli.md`` differs from what
  ``cli_reference.py`` writes from ``xmaco.cli.build_parser()`` (the page is generated).
- ``on_post_page`` keeps the pages free of external assets: it removes the MathJax loader
  that the notebook renderer inserts (a CDN script; the tutorials contain no mathematics),
  and shows the tutorials' "Open in Colab" badge from the site's own copy of the picture
  (the notebooks keep Colab's URL, which Colab and GitHub display).
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError
from mkdocs.utils import get_relative_url

_HERE = Path(__file__).resolve().parent
_COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
_LOCAL_BADGE = "images/colab-badge.svg"
_MATHJAX = re.compile(
    r"<!-- Load mathjax -->.*?<!-- End of mathjax configuration -->", flags=re.DOTALL
)


def _cli_reference() -> Any:
    spec = importlib.util.spec_from_file_location("cli_reference", _HERE / "cli_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def on_pre_build(config: Any, **kwargs: Any) -> None:
    reference = _cli_reference()
    expected = reference.render()
    current = reference.PAGE.read_text(encoding="utf-8") if reference.PAGE.exists() else ""
    if current != expected:
        raise PluginError(
            "docs/cli.md is out of date with xmaco.cli.build_parser(); regenerate it with: "
            "python docs/scripts/cli_reference.py"
        )


def on_post_page(output: str, page: Any, config: Any, **kwargs: Any) -> str:
    output = _MATHJAX.sub("", output)
    return output.replace(_COLAB_BADGE, get_relative_url(_LOCAL_BADGE, page.url))
