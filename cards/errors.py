"""The one exception the pipeline raises for input it cannot use."""

from __future__ import annotations


class MaterialError(ValueError):
    """A material could not be read.

    ``code`` is stable (the web app maps it to an API error), ``message`` is Chinese and says
    what was wrong and what to do, ``english`` is a short gloss for logs and the CLI.
    """

    def __init__(self, code: str, message: str, english: str) -> None:
        super().__init__(f"{message} ({english})")
        self.code = code
        self.message = message
        self.english = english

    def one_line(self) -> str:
        """Chinese message and English gloss on one line, for the command line."""
        return f"{self.message} / {self.english}"
