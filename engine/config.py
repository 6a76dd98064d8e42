"""YAML run configs: load, apply dotted overrides, validate against one schema table, fill defaults, dump."""
import copy
import difflib
import math
import re
from pathlib import Path

import yaml

from atomic import atomic_write_text
from engine.config_schema import SCHEMA, Range, schema_keys
from errors import UserError

# ------------------------------------------------------------------------------------- YAML reading


class _Loader(yaml.SafeLoader):
    """Safe loader that also reads 1e-4 as a float and refuses duplicate keys."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, yaml.ScalarNode):
                continue
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


# YAML 1.1 wants a dot and a signed exponent ("2.0e-4"); accept "2e-4" and "1.0e4" as floats too.
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def _yaml_problem(err: yaml.YAMLError) -> str:
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    return f"{problem} (line {mark.line + 1}, column {mark.column + 1})" if mark else problem


def _read_yaml(path: Path):
    if path.is_dir():
        raise UserError(f"{path} is a folder, not a config file; pass a .yaml file, e.g. config/vox-256.yaml")
    if not path.is_file():
        raise UserError(f"{path}: config file not found; pass an existing .yaml, e.g. config/vox-256.yaml")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise UserError(f"{path}: cannot read config file ({err}); check the path and permissions") from None
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as err:
        raise UserError(f"{path}: not valid YAML: {_yaml_problem(err)}") from None


# ------------------------------------------------------------------------------------- validation


class _Context:
    """Where a config came from, to name it (and any override behind a bad value) in error messages."""

    def __init__(self, source: str, overrides: dict[str, str] | None = None):
        self.source = source
        self.overrides = overrides or {}

    def fail(self, dotted: str, problem: str):
        for key, text in self.overrides.items():
            if dotted == key or dotted.startswith(key + "."):
                problem += f" (set by override '{text}')"
                break
        raise UserError(f"{self.source}: {problem}")


def _article(word: str) -> str:
    return ("an " if word[0] in "aeiou" else "a ") + word


def _describe(spec) -> str:
    if spec is None:
        return "null"
    if isinstance(spec, tuple):
        return " or ".join(_describe(s) for s in spec)
    if isinstance(spec, list):
        return f"a list of {_describe(spec[0]).split(' ', 1)[1]}s"
    if isinstance(spec, dict) or spec is dict:
        return "a mapping"
    return _article({float: "number", bool: "bool (true/false)", str: "string"}.get(spec, spec.__name__))


def _show(value) -> str:
    if value is None:
        return "null"
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


def _matches(spec, value) -> bool:
    if spec is None:
        return value is None
    if isinstance(spec, tuple):
        return any(_matches(s, value) for s in spec)
    if isinstance(spec, list):
        return isinstance(value, list) and all(_matches(spec[0], v) for v in value)
    if spec is bool:
        return isinstance(value, bool)
    if spec is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if spec is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, spec)


def _close(word: str, candidates) -> list[str]:
    """The candidates that look like a misspelling of `word`, best first (only near-ties of the best)."""
    scored = sorted(((difflib.SequenceMatcher(None, word, c).ratio(), c) for c in candidates), reverse=True)
    if not scored:
        return []
    return [c for score, c in scored if score >= 0.6 and score >= scored[0][0] - 0.1][:3]


def _did_you_mean(word: str, candidates) -> str:
    close = _close(word, candidates)
    if close:
        return " (did you mean " + " or ".join(f"'{c}'" for c in close) + "?)"
    return " (allowed here: " + ", ".join(candidates) + ")"


def _nullable(spec, default) -> bool:
    return spec is None or (isinstance(spec, tuple) and None in spec) or default is None


def _check_section(table: dict, value: dict, prefix: str, ctx: _Context) -> dict:
    """`value` checked against the schema `table` (keys below `prefix`), every optional key filled."""
    for key in value:
        if key not in table:
            dotted = prefix + str(key)
            ctx.fail(dotted, f"unknown key '{dotted}'" + _did_you_mean(str(key), table))
    out = {}
    for key, entry in table.items():
        spec, required, default = entry[:3]
        dotted = prefix + key
        is_section = isinstance(spec, dict) or spec is dict
        if key not in value or (value[key] is None and is_section and not required):
            out[key] = _default(entry, dotted, ctx)
        elif value[key] is None and _nullable(spec, default) and not required:
            out[key] = None
        elif isinstance(spec, dict):
            if not isinstance(value[key], dict):
                ctx.fail(dotted, f"'{dotted}' must be a mapping, got {_show(value[key])}")
            out[key] = _check_section(spec, value[key], dotted + ".", ctx)
        else:
            out[key] = _check_value(entry, value[key], dotted, ctx)
    return out


def _default(entry: tuple, dotted: str, ctx: _Context):
    """The value of a key the config leaves out: its default (a section's filled in), or an error when required."""
    spec, required, default = entry[:3]
    if required:
        ctx.fail(dotted, f"missing required key '{dotted}'")
    item = copy.deepcopy(default)
    if isinstance(spec, dict) and item is not None:
        item = _check_section(spec, item, dotted + ".", ctx)
    return item


def _check_value(entry: tuple, item, dotted: str, ctx: _Context):
    """A copy of the value `item` of a plain key, checked: its type, finite numbers, then its range or choices."""
    spec = entry[0]
    if not _matches(spec, item):
        ctx.fail(dotted, f"'{dotted}' must be {_describe(spec)}, got {_show(item)}")
    numbers = [v for v in (item if isinstance(item, list) else [item])
               if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if any(not math.isfinite(v) for v in numbers):
        ctx.fail(dotted, f"'{dotted}' must be a finite number, got {_show(item)}")
    if len(entry) > 3 and isinstance(entry[3], Range):
        bad = [v for v in numbers if not entry[3].holds(v)]
        if bad:
            what = "every value of " if isinstance(item, list) else ""
            ctx.fail(dotted, f"{what}'{dotted}' must be {entry[3]}, got {_show(item)}")
    elif len(entry) > 3 and item not in entry[3]:
        choices = ", ".join(f"'{c}'" for c in entry[3])
        ctx.fail(dotted, f"'{dotted}' must be one of {choices}, got {_show(item)}")
    return copy.deepcopy(item)


def validate_config(raw, source: str = "<config>", overrides: dict[str, str] | None = None) -> dict:
    """Check a config mapping against SCHEMA and return a new dict with every optional key filled.

    `source` names the config in error messages; `overrides` maps dotted keys to the override text
    that set them, so an error caused by an override says so.
    """
    ctx = _Context(source, overrides)
    _check_top(raw, ctx)
    return _check_section(SCHEMA, raw, "", ctx)


def _check_top(raw, ctx: _Context) -> None:
    if raw is None:
        ctx.fail("", "config is empty; expected a mapping with dataset_params, model_params, train_params")
    if not isinstance(raw, dict):
        ctx.fail("", f"config must be a mapping of sections, got {_show(raw)}")


# ------------------------------------------------------------------------------------- overrides


def _override_target(key: str, ctx: _Context):
    """Check that a dotted override key names something in SCHEMA (anything below a free-form dict)."""
    table, prefix = SCHEMA, ""
    parts = key.split(".")
    for i, part in enumerate(parts):
        entry = table.get(part)
        if entry is None:
            rest = "".join("." + p for p in parts[i + 1:])
            close = [prefix + c + rest for c in _close(part, table)]
            break
        spec = entry[0]
        if spec is dict or i == len(parts) - 1:
            return  # found; below a free-form mapping any deeper key is fine
        if not isinstance(spec, dict):
            ctx.fail("", f"unknown override key '{key}': '{prefix + part}' is a value with no keys below it")
        table, prefix = spec, prefix + part + "."
    if not close:  # e.g. 'num_epochs=3' without its section: match the last part anywhere
        names = _close(parts[-1], {k.rsplit(".", 1)[-1] for k in schema_keys()})
        close = [k for k in schema_keys() if k.rsplit(".", 1)[-1] in names][:3]
    hint = (" (did you mean " + " or ".join(f"'{c}'" for c in close) + "?)") if close else (
        "; overrides look like train_params.num_epochs=3")
    ctx.fail("", f"unknown override key '{key}'{hint}")


def _apply_override(cfg: dict, text: str, ctx: _Context) -> str:
    key, sep, value_text = text.partition("=")
    key = key.strip()
    if not sep or not key or any(not p for p in key.split(".")):
        ctx.fail("", f"bad override '{text}': expected dotted.key=value, e.g. train_params.num_epochs=3")
    _override_target(key, ctx)
    try:
        value = yaml.load(value_text, Loader=_Loader)
    except yaml.YAMLError as err:
        ctx.fail("", f"bad override '{text}': the value is not valid YAML: {_yaml_problem(err)}")
    node = cfg
    parts = key.split(".")
    for i, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        elif not isinstance(child, dict):
            ctx.fail("", f"bad override '{text}': '{'.'.join(parts[:i + 1])}' is not a mapping in the config")
        node = child
    node[parts[-1]] = value
    return key


def load_config(path, overrides=()) -> dict:
    """Read a YAML config, apply "dotted.key=value" overrides, validate, and fill defaults.

    Raises errors.UserError (one line naming the file and the key) on any problem.
    """
    path = Path(path)
    raw = _read_yaml(path)
    ctx = _Context(str(path))
    _check_top(raw, ctx)
    if isinstance(overrides, str):
        overrides = [overrides]
    applied = {}
    for text in overrides:
        applied[_apply_override(raw, text, ctx)] = text
    return validate_config(raw, str(path), applied)


# ------------------------------------------------------------------------------------- writing


class _Dumper(yaml.SafeDumper):
    """Safe dumper that writes lists of scalars on one line, as the configs do."""


def _represent_list(dumper, data):
    flow = all(not isinstance(v, (list, tuple, dict)) for v in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", list(data), flow_style=flow)


_Dumper.add_representer(list, _represent_list)
_Dumper.add_representer(tuple, _represent_list)


def dump_config(cfg: dict, path) -> None:
    """Write `cfg` as YAML to `path` atomically (temp file in the same folder, then os.replace)."""
    path = Path(path)
    text = yaml.dump(cfg, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True)
    if not path.parent.is_dir():
        raise UserError(f"cannot write config {path}: the folder does not exist; create it first")
    atomic_write_text(path, text)
