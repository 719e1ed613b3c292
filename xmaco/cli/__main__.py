"""``python -m xmaco.cli``: the ``xmaco`` command."""

from xmaco.cli import main

raise SystemExit(main())
