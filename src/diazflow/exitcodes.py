"""The exit codes of every ``diazflow`` command (spec §5), defined once.

0 success; 1 an invalid protocol (diagnostics printed); 2 a usage error (a bad option, a path that
cannot be read or written, a damaged journal); 3 a failure while running (the journal is kept).
"""

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2
EXIT_RUN_FAILED = 3
