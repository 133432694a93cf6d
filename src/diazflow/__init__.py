"""diazflow: compile chemistry protocols written in YAML into timed liquid-handler plans."""

__version__ = "0.1.0"
