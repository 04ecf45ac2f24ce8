"""One module per ``hardpos`` subcommand, each with ``add_parser`` and ``run``."""
