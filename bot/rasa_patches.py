"""Our patches of Rasa apply explicitly, to the Rasa they were written for, or not at all.

The patches (:mod:`bot.rasa_speedups`, :mod:`bot.action_fallback`) replace functions inside Rasa
3.6. They were written against Rasa :data:`WRITTEN_FOR` and measured there (docs/profile.md,
docs/faults.md). :mod:`bot.rasa_server` installs them before Rasa starts, and :func:`patch`
refuses, with :class:`RasaPatchError`, a Rasa of another version and a function whose name or
parameters changed: a Rasa upgrade then stops the server at start-up instead of silently losing
the apology or patching something that is no longer there. To upgrade Rasa, re-check each patch
against the new code (``tests/unit/bot``) and add the version to :data:`CHECKED_ON`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from rasa.version import __version__ as RASA_VERSION  # noqa: N812

WRITTEN_FOR = "3.6.21"
CHECKED_ON = frozenset({WRITTEN_FOR})  # Rasa versions the patches were checked against
MARK = "_dealerbot_patch"  # set on each replacement: installing twice patches once


class RasaPatchError(RuntimeError):
    """A patch of Rasa cannot apply to the Rasa installed."""


def check_rasa_version(version: str = RASA_VERSION) -> None:
    """Raise :class:`RasaPatchError` unless the patches were checked against this Rasa."""
    if version not in CHECKED_ON:
        raise RasaPatchError(
            f"Rasa {version} is installed, but the patches in bot/rasa_speedups.py and "
            f"bot/action_fallback.py were written for Rasa {WRITTEN_FOR} (checked on "
            f"{', '.join(sorted(CHECKED_ON))}): check them against this Rasa and add it to "
            "bot.rasa_patches.CHECKED_ON"
        )


def patch(
    owner: Any,
    name: str,
    parameters: tuple[str, ...],
    replacement: Callable[[Callable], Callable],
    *,
    version: str = RASA_VERSION,
) -> None:
    """Replace ``owner.<name>`` (a class or module of Rasa) by ``replacement(original)``, once.

    ``parameters`` are the names the original takes, as the patch was written for them. A missing
    function, other parameters or another Rasa version raise :class:`RasaPatchError`.
    """
    check_rasa_version(version)
    where = f"{owner.__name__}.{name}" if inspect.ismodule(owner) else (
        f"{owner.__module__}.{owner.__qualname__}.{name}")  # fmt: skip
    original = getattr(owner, name, None)
    if original is None:
        raise RasaPatchError(f"{where} is not in Rasa {version}: the patch cannot apply")
    if getattr(original, MARK, False):
        return
    found = tuple(inspect.signature(original).parameters)
    if found != parameters:
        raise RasaPatchError(
            f"{where} takes ({', '.join(found)}) in Rasa {version}, the patch was written for "
            f"({', '.join(parameters)}) in Rasa {WRITTEN_FOR}: it cannot apply"
        )
    new = replacement(original)
    setattr(new, MARK, True)
    setattr(owner, name, new)
