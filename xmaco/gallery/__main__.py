"""``python -m xmaco.gallery``: the ``xmaco gallery`` command on its own."""

from xmaco.cli.gallery import main

raise SystemExit(main())
