"""``python -m diazflow``: the same command line as the ``diazflow`` script."""

from diazflow.cli import main

main()
