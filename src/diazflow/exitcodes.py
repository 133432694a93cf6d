"""The exit codes of every ``diazflow`` command (spec §5), defined once.

0 success; 1 an invalid protocol (diagnostics printed); 2 a usage error (a bad option, a path that
cannot be read or written, a damaged journal); 3 a failure while running (the journal is kept).
``run`` and ``resume`` stopped by a signal exit ``128 + signum`` (130 SIGINT, 143 SIGTERM, 129
SIGHUP, 131 SIGQUIT): :func:`diazflow.runtime.signals.exit_code_for`.
"""

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2
EXIT_RUN_FAILED = 3
