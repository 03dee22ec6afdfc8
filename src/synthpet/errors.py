"""Errors that tell the user what to fix, as opposed to bugs."""


class SynthpetError(Exception):
    """Base class: a problem with the user's inputs or settings, not a bug."""


class ConfigError(SynthpetError):
    """A configuration key is unknown, of the wrong type or out of range."""


class InputError(SynthpetError):
    """One or more input files or participants cannot be used; the message lists each with its reason."""

    def __init__(self, problems: list[str] | str, header: str = "the input dataset cannot be used"):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__(f"{header}:\n  - " + "\n  - ".join(self.problems))
