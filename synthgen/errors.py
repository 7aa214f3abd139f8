"""User-facing errors: the CLI prints them as one line each and exits non-zero, no traceback."""

from __future__ import annotations


class SynthgenError(Exception):
    """An error caused by user input (config, files, folders). Printed without traceback."""

    exit_code = 1


class ConfigError(SynthgenError):
    """A config file is invalid. ``lines`` holds one ``file: yaml.path: message`` line per problem."""

    exit_code = 2

    def __init__(self, lines: list[str]):
        self.lines = list(lines)
        super().__init__("\n".join(self.lines))
