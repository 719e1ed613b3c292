"""``python -m xmaco.gallery``: the ``xmaco gallery`` command on its own."""

from xmaco.gallery.cli import main

raise SystemExit(main())
