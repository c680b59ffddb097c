"""``python -m search.cli``: the ``coexplore`` command (the sweep's runs start this way)."""

from search.cli import main

main(prog_name="coexplore")
