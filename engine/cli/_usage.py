"""Usage errors (click's own and the commands') said in the command's language: the policy's among the arguments,
else --lang or $SUBSIDY_LANG, else English; with the usage line and where to find help, as click shows them, and
exit code 2. The sentences come from the locale catalog (``usage.*`` messages, ``usage`` patterns)."""
from __future__ import annotations

import os
from typing import Any, Sequence

import click

from ..problems import UsageFault
from ._common import _LANG_KEY, LANG_ENV


#: where the root command keeps its arguments as given (for the language of a usage error)
ARGS_KEY = "subsidy.args"


def _usage_language(args: Sequence[str]) -> str:
    """The language a usage error is said in: the command's, once it has one (its policy's); else the language a
    policy file among the arguments declares, or --lang; else $SUBSIDY_LANG, else English."""
    from ..locale import declared_language, language_of
    ctx = click.get_current_context(silent=True)
    if ctx is not None and _LANG_KEY in ctx.meta:
        return str(ctx.meta[_LANG_KEY])
    args = list(args)
    for n, arg in enumerate(args):
        if arg == "--lang" and n + 1 < len(args):
            return language_of(args[n + 1])
        if arg.startswith("--lang="):
            return language_of(arg.split("=", 1)[1])
    for arg in args:
        if arg.endswith((".yaml", ".yml")) and os.path.isfile(arg):
            declared = declared_language(arg)
            if declared:
                return declared
    return language_of(os.environ.get(LANG_ENV))


class _SaidUsageError(click.UsageError, UsageFault):
    """A usage error as click shows one (the usage line, where to find help, the error), in a language."""

    def __init__(self, original: click.UsageError, lang: str) -> None:
        super().__init__(original.format_message(), original.ctx)  # exits 2, as every usage error
        self.original, self.lang = original, lang

    def format_message(self) -> str:
        from ..locale import catalog, say, translate
        original, lang = self.original, self.lang
        missing = (original.option_name if isinstance(original, click.NoSuchOption) else
                   getattr(original, "command_name", None) if isinstance(original, _NO_SUCH_COMMAND) else None)
        if missing is not None:
            key = "usage.no_option" if isinstance(original, click.NoSuchOption) else "usage.no_command"
            text = say(key, lang, name=missing)
            near = getattr(original, "possibilities", None)
            if near:
                sep = catalog(lang).get("separators", {}).get("or", " or ")
                text += say("usage.did_you_mean", lang, names=sep.join(near))
            return text
        if isinstance(original, click.MissingParameter):
            return translate(original.format_message(), lang, "usage")
        if isinstance(original, click.BadParameter) and (original.param_hint or original.param) is not None:
            hint = original.param_hint
            if hint is None:
                hint = original.param.get_error_hint(original.ctx) if original.param is not None else ""
            elif not isinstance(hint, str):
                hint = " / ".join(hint)
            return say("usage.invalid", lang, param=str(hint).replace("'", ""), message=translate(original.message, lang, "usage"))
        if isinstance(original, click.BadParameter):  # a value refused with no parameter named
            return say("usage.invalid_value", lang, message=translate(original.message, lang, "usage"))
        return translate(original.format_message(), lang, "usage")

    def show(self, file: Any = None) -> None:
        from ..locale import say
        ctx, lang = self.ctx, self.lang
        if ctx is not None:
            usage = ctx.get_usage()
            if usage.startswith("Usage:"):
                usage = say("usage.usage", lang) + usage[len("Usage:"):].lstrip(" ")
            lines = [usage]
            names = ctx.command.get_help_option_names(ctx) if ctx.command.get_help_option(ctx) is not None else []
            if names:
                lines.append(say("usage.try", lang, command=f"{ctx.command_path} {max(names, key=len)}"))
            click.echo("\n".join(lines) + "\n", err=True)
        click.echo(say("usage.error", lang, message=self.format_message()), err=True)


#: click's error for a command that does not exist (click 8.4 on; a plain UsageError before)
_NO_SUCH_COMMAND = getattr(click.exceptions, "NoSuchCommand", click.NoSuchOption)


def said(exc: click.UsageError, args: Sequence[str]) -> click.UsageError:
    """``exc`` to be said in the command's language (itself in English, or when it is said already)."""
    if isinstance(exc, _SaidUsageError):
        return exc
    lang = _usage_language(args)
    return exc if lang == "en" else _SaidUsageError(exc, lang)
