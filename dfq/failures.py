"""Failures of a data-free run that are not the user's input (exit 1, one line), importable without torch
so that the command line can name them."""


class GeneratorCollapsed(RuntimeError):
    """Every generator trained for a source failed the data-free check (``dfq.sources.generator_check``)."""
