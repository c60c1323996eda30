"""Probe recipes for the tracks callables: valid arguments and the role of each parameter.

``ROLES`` adds bad values for roles the kit lacks; ``RECIPES`` maps a callable's home
(``module.name``) to (valid arguments, {parameter: role}), as in test_probe; ``SKIPS`` maps a
callable that cannot have a recipe to the reason (and where else it is tested).
"""

from __future__ import annotations

ROLES: dict = {}
RECIPES: dict = {}
SKIPS: dict[str, str] = {}
