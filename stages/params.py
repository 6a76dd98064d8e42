"""Stage options: stages_params from a YAML file (a run config or the section alone) plus dotted KEY=VALUE overrides."""
from __future__ import annotations

import copy
import os

import yaml

from errors import UserError


def load_stage_params(path: str | None, overrides, base: dict | None = None) -> dict:
    """stages_params from a YAML file (a whole run config or the section alone) plus dotted overrides.

    base: the stages_params to start from when no file is given (e.g. a checkpoint's); it is not modified.
    """
    params: dict = copy.deepcopy(base) if base else {}
    if path is not None:
        if os.path.isdir(path):
            raise UserError(f"stages config {path} is a folder; pass a .yaml file")
        if not os.path.isfile(path):
            raise UserError(f"stages config not found: {path}; check the path")
        try:
            with open(path, encoding="utf-8") as f:
                data = yaml.safe_load(f)
        except yaml.YAMLError as err:
            raise UserError(f"cannot read stages config {path}: not valid YAML ({str(err).splitlines()[0]})") from None
        data = data if data is not None else {}
        if not isinstance(data, dict):
            raise UserError(f"stages config {path} must be a mapping such as {{depth: {{output: color}}}}")
        params = dict(data.get("stages_params", data) or {})
    for text in overrides:
        key, sep, value = text.partition("=")
        parts = key.strip().split(".")
        if not sep or not all(parts):
            raise UserError(f"bad --set '{text}': expected KEY=VALUE such as depth.output=passthrough")
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError:
            raise UserError(f"bad --set '{text}': the value is not valid YAML") from None
        node = params
        for part in parts[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            elif not isinstance(child, dict):
                raise UserError(f"bad --set '{text}': '{part}' is not a mapping of options")
            node = child
        node[parts[-1]] = parsed
    return params
