"""The command line, ``python -m embedlab <command>``: one module per command."""
