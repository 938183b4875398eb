"""Suggestions for names the user gave that match nothing ("did you mean ...")."""

from __future__ import annotations

from collections.abc import Iterable


def closest(given: str, choices: Iterable[str], n: int = 3) -> list[str]:
    """Up to `n` of `choices` closest to `given` (difflib), best first."""
    import difflib  # here: only a mistyped name needs it, not every command's start-up

    choices = list(choices)
    found = difflib.get_close_matches(given, choices, n=n, cutoff=0.6)
    if not found:  # a long name with a short typo'd scope: compare the last components too
        tails: dict[str, str] = {}
        for choice in choices:
            tails.setdefault(choice.rsplit("/", 1)[-1], choice)
        tail = given.rsplit("/", 1)[-1]
        found = [tails[t] for t in difflib.get_close_matches(tail, list(tails), n=n, cutoff=0.8)]
    return found


def did_you_mean(given: str, choices: Iterable[str]) -> str:
    """``"; did you mean 'a' or 'b'?"``, or ``""`` when nothing is close."""
    found = closest(given, choices)
    if not found:
        return ""
    return "; did you mean " + " or ".join(repr(name) for name in found) + "?"


def _unmatched(key: str, what: str, planned: list[str], every: Iterable[str]) -> str:
    if key in set(every):
        return f"{what} {key!r} names a tensor that is not written (left out by select or rename)"
    return f"{what} {key!r} matches no tensor{did_you_mean(key, planned)}"


def check_keys(
    keys: Iterable[str], planned: Iterable[str], every: Iterable[str], what: str, file: str | None
) -> None:
    """Raise `UsageError` for the first of `keys` (of a `transforms=` or `cast=` mapping) that
    is not among the `planned` source names (`every`: all the checkpoint's names)."""
    from .errors import UsageError

    planned = list(planned)
    chosen = set(planned)
    for key in keys:
        if key not in chosen:
            raise UsageError(_unmatched(key, what, planned, every), file=file)


def check_rename(
    rename: object, kept: Iterable[str], every: Iterable[str], file: str | None
) -> None:
    """Raise `UsageError` when an entry of a `rename` mapping renames none of the `kept` names:
    an exact key that is no kept name, a scope key (``"old/"``) that starts none."""
    from collections.abc import Mapping

    from .errors import UsageError

    if not isinstance(rename, Mapping):
        return
    kept = list(kept)
    chosen = set(kept)
    for key in rename:
        if key.endswith("/"):
            if any(name.startswith(key) for name in kept):
                continue
            scopes = {n[: i + 1] for n in kept for i, c in enumerate(n) if c == "/"}
            raise UsageError(
                f"rename scope {key!r} matches no tensor{did_you_mean(key, scopes)}", file=file
            )
        if key not in chosen:
            raise UsageError(_unmatched(key, "rename key", kept, every), file=file)


def require_some(count: int, allow_empty: bool, file: str | None) -> None:
    """Raise `UsageError` when a rewrite or conversion would write no tensor at all."""
    from .errors import UsageError

    if count == 0 and not allow_empty:
        raise UsageError(
            "nothing to write: the selection leaves no tensor; check the select or rename "
            "options, or pass allow_empty=True to write an empty file",
            file=file,
        )
