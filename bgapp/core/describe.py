"""The method and step declarations as JSON-ready data: what ``python -m bgapp methods --json`` prints
and the server's ``GET /methods`` answers. It describes the core, so it lives in the core (the server
used to import it from the CLI, the one arrow that ran back up)."""

from __future__ import annotations

from bgapp.core.params import Param


def param_json(param: Param) -> dict:
    """One declaration: name, kind, default, range or choices, help."""
    return {
        "name": param.name,
        "kind": param.kind,
        "default": param.default,
        "min": param.min,
        "max": param.max,
        "step": param.step,
        "choices": list(param.choices),
        "odd": param.odd,
        "help": param.help,
    }


def methods_payload() -> dict:
    """Every method's declaration, whether it can run here, its clean-up defaults, and the shared steps'."""
    from bgapp.core.methods import all_methods
    from bgapp.core.pipeline import STEP_PARAMS, step_defaults

    return {
        "methods": {
            m.name: {
                "summary": m.summary,
                "family": m.family,
                "available": m.available() is None,
                "params": [param_json(p) for p in m.params],
                "step_defaults": step_defaults(m),
            }
            for m in all_methods().values()
        },
        "steps": [param_json(p) for p in STEP_PARAMS],
    }
