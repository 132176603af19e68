"""``python -m tirta``: the same command line as the ``tirta`` script."""

from __future__ import annotations

from tirta.cli import main

if __name__ == "__main__":
    main()
