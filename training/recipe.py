"""Recipe files: a training run as a TOML file (read with tomllib), one table per option group and one key per
`xrayview-train` flag (training.option_table declares both):

    [data]
    data = "../shared/data/chest-xray-pneumonia/train"
    [model]
    epochs = 6
    [guard]
    fit = true
    layer = "_blocks.15"

`xrayview-train --recipe FILE [--set KEY=VALUE ...] [flags]` replays it: the defaults, then the recipe, then the
flags given, then each `--set` (KEY is the flag without its dashes: `--set epochs=1`, `--set guard-set-limit=10`;
an empty VALUE restores the default; a list is written `KEY=["a", "b"]`). Relative paths are read from the current
folder, as the flags' are. Every run records its recipe in the bundle (`recipe.toml`) and in the card
(`training.recipe`: the text, its sha256, the file it came from and what the command line changed): the file
itself when nothing that changes the model was given besides it, else the whole resolved recipe written out.
"""
from __future__ import annotations

import argparse
import difflib
import hashlib
import json
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inference.errors import XRayViewError
from training.option_table import (BY_NAME, CHOICE, FLAG, FLOAT, GUARD, HEATMAP, INT, NUMBERS, OPTIONS, PATH,
                                   SWITCH, TABLES, Option, OptionError, defaults, default_of)

RECIPE_FILE = "recipe.toml"
MAX_RECIPE_BYTES = 1 << 20


class RecipeError(XRayViewError):
    """A recipe file that cannot be used: names the file and the reason."""

    def __init__(self, path: str | Path, reason: str):
        self.path, self.reason = Path(path), reason
        super().__init__(f"{path}: {reason}")


# -------------------------------------------------------------------------------------------------- reading values
def _describe(value: Any) -> str:
    kind = {bool: "the boolean", int: "the whole number", float: "the number", str: "the text", list: "the list",
            dict: "the table"}.get(type(value), type(value).__name__)
    shown = json.dumps(value) if isinstance(value, (bool, int, float, str)) else repr(value)
    return f"{kind} {shown}"


def _checked_scalar(option: Option, value: Any) -> Any:
    """One TOML value of `option`'s kind, read as its flag's text would be (the same checks); ValueError says why."""
    kind = option.kind
    if kind in (FLAG, SWITCH):
        if not isinstance(value, bool):
            raise ValueError(f"expected true or false, got {_describe(value)}")
        return value
    if kind == INT:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"expected a whole number, got {_describe(value)}")
        return option.parse(str(value)) if option.parse else value
    if kind in (FLOAT, NUMBERS):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"expected a number, got {_describe(value)}")
        return option.parse(repr(float(value))) if option.parse and kind == FLOAT else float(value)
    if not isinstance(value, str):
        raise ValueError(f"expected text, got {_describe(value)}")
    if kind == CHOICE and value not in option.choices:
        raise ValueError(f"expected one of {', '.join(option.choices)}, got {json.dumps(value)}")
    if kind == PATH:
        return Path(value)
    return option.parse(value) if option.parse else value


def value_from_toml(option: Option, value: Any) -> Any:
    """A recipe value of `option`, checked as its flag's value is; ValueError says why not."""
    try:
        if option.kind == NUMBERS:
            if not isinstance(value, list) or len(value) != option.count:
                raise ValueError(f"expected a list of {option.count} numbers, got {_describe(value)}")
            numbers = [_checked_scalar(option, item) for item in value]
            if option.joined:  # the flag reads them as one comma-separated argument
                return list(option.parse(",".join(repr(n) for n in numbers)))
            return [option.parse(repr(n)) for n in numbers]
        if option.repeat:
            if not isinstance(value, list):
                raise ValueError(f"expected a list (it may be given several times), got {_describe(value)}")
            return [_checked_scalar(option, item) for item in value]
        return _checked_scalar(option, value)
    except argparse.ArgumentTypeError as exc:  # the flag's own reader said why
        raise ValueError(str(exc)) from None


def value_from_text(option: Option, text: str) -> Any:
    """A --set value: text read exactly as the option's flag reads it (a list also as a TOML array); ValueError
    says why not. An empty text is the default."""
    if text == "":
        return default_of(option)
    if (option.repeat or option.kind == NUMBERS) and text.lstrip().startswith("["):
        try:
            items = tomllib.loads(f"value = {text}")["value"]
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"not a TOML list: {exc}") from None
        return value_from_toml(option, items)
    if option.kind == NUMBERS and not option.joined:
        parts = text.split(",")
        if len(parts) != option.count:
            raise ValueError(f"expected {option.count} comma-separated numbers, got {text!r}")
        return [_flag_value(option, part) for part in parts]
    value = _flag_value(option, text)
    if option.kind == NUMBERS:
        return list(value)
    return [value] if option.repeat else value


def _flag_value(option: Option, text: str) -> Any:
    """One value as the option's flag reads it."""
    if option.kind in (FLAG, SWITCH):
        lowered = text.strip().lower()
        if lowered not in ("true", "false"):
            raise ValueError(f"expected true or false, got {text!r}")
        return lowered == "true"
    if option.kind == CHOICE and text not in option.choices:
        raise ValueError(f"expected one of {', '.join(option.choices)}, got {text!r}")
    if option.kind == PATH:
        return Path(text)
    try:
        return option.parse(text) if option.parse else text
    except argparse.ArgumentTypeError as exc:
        raise ValueError(str(exc)) from None


def _suggestion(word: str, candidates) -> str:
    close = difflib.get_close_matches(word, list(candidates), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def parse_assignment(text: str) -> tuple[str, Any]:
    """`KEY=VALUE` of --set -> (option name, value); OptionError with the reason."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise OptionError(f"--set {text!r}: expected KEY=VALUE, e.g. --set epochs=1")
    option = BY_NAME.get(key) or BY_NAME.get(key.replace("_", "-"))
    if option is None:
        raise OptionError(f"--set {text!r}: no option {key!r}{_suggestion(key, BY_NAME)}; the keys are the "
                          "xrayview-train flags without their dashes")
    try:
        return option.name(), value_from_text(option, raw.strip())
    except ValueError as exc:
        raise OptionError(f"--set {text!r}: {option.name()}: {exc}") from None


def read_recipe(path: str | Path) -> dict[str, Any]:
    """The option values a recipe file sets, by option name, each checked; RecipeError naming the file."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RecipeError(path, f"cannot read the recipe ({exc.strerror or exc})") from None
    return parse_recipe(data, path)


def parse_recipe(data: bytes, where: str | Path) -> dict[str, Any]:
    if len(data) > MAX_RECIPE_BYTES:
        raise RecipeError(where, f"the recipe is {len(data):,} bytes; a recipe is a short text file")
    try:
        document = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise RecipeError(where, "the recipe is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise RecipeError(where, f"not a valid TOML file ({exc})") from None
    tables = {table.name: table for table in TABLES}
    values: dict[str, Any] = {}
    for table_name, content in document.items():
        if table_name not in tables or not isinstance(content, dict):
            home = _table_of(table_name)
            raise RecipeError(where, f"{table_name!r} " + (f"belongs in the [{home}] table" if home else
                                                           f"is not a recipe table{_suggestion(table_name, tables)}; "
                                                           f"the tables are {', '.join(tables)}"))
        for key, value in content.items():
            option = next((o for o in OPTIONS if o.table.name == table_name and o.key == key), None)
            if option is None:
                home = _table_of(key)
                known = [o.key for o in OPTIONS if o.table.name == table_name]
                raise RecipeError(where, f"[{table_name}] {key}: " + (f"belongs in the [{home}] table" if home else
                                                                      f"no such key{_suggestion(key, known)}"))
            try:
                values[option.name()] = value_from_toml(option, value)
            except ValueError as exc:
                raise RecipeError(where, f"[{table_name}] {key}: {exc}") from None
    return values


def _table_of(key: str) -> str | None:
    return next((o.table.name for o in OPTIONS if o.key == key), None)


# -------------------------------------------------------------------------------------------------- writing
def _toml_string(text: str) -> str:
    escaped = json.dumps(text, ensure_ascii=False)  # JSON string escapes are TOML basic-string escapes
    return escaped.replace("\x7f", "\\u007f")  # DEL: JSON leaves it, TOML does not allow it raw


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ("nan" if math.isnan(value) else
                                                          ("inf" if value > 0 else "-inf"))
    if isinstance(value, Path):
        return _toml_string(str(value))
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], Path):  # NAME=DIR
        return _toml_string(f"{value[0]}={value[1]}")
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    return _toml_string(str(value))


def render_recipe(values: dict[str, Any], comment: str = "") -> str:
    """A recipe file holding every option that changes the model (run settings such as --out and --device
    stay on the command line); options without a value (None, empty lists) are left out: they are the defaults."""
    lines = [f"# {line}" if line else "#" for line in comment.splitlines()]
    stage_switches = {GUARD.name: "guard-fit", HEATMAP.name: "heatmap-check"}
    for table in TABLES:
        switch = stage_switches.get(table.name)
        stage_off = switch is not None and not values.get(switch)
        entries = [f"{option.key} = {toml_value(values[option.name()])}" for option in OPTIONS
                   if option.table is table and not option.run_setting
                   and values.get(option.name()) not in (None, [], ())
                   and not (stage_off and option.name() != switch)]  # a stage not run: only its switch
        if entries:
            lines += ([""] if lines else []) + [f"[{table.name}]"] + entries
    return "\n".join(lines) + "\n"


# -------------------------------------------------------------------------------------------------- a run's recipe
@dataclass
class RecipeRecord:
    """The recipe a run replays: the file that goes into the bundle and what the card says about it."""
    data: bytes
    source: str | None = None  # where it came from: the --recipe path as given, or who wrote it
    source_sha256: str | None = None
    overrides: list[str] = field(default_factory=list)  # what the command line changed, as recipe lines
    file_name: str = RECIPE_FILE

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def to_card(self) -> dict[str, Any]:
        return {"file": self.file_name, "sha256": self.sha256, "text": self.data.decode("utf-8"),
                "source": self.source, "source_sha256": self.source_sha256, "overrides": list(self.overrides)}


def resolve(recipe_path: str | Path | None, given: dict[str, Any], assignments: list[str],
            source: str | None = None) -> tuple[dict[str, Any], RecipeRecord]:
    """Every option's value (defaults < recipe file < `given` flags < --set `assignments`) and the recipe to record.
    `source` describes a recipe file that has no meaningful path (the wizard's)."""
    file_values: dict[str, Any] = {}
    data = None
    if recipe_path is not None:
        path = Path(recipe_path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise RecipeError(path, f"cannot read the recipe ({exc.strerror or exc})") from None
        file_values = parse_recipe(data, path)
    changed = {**given, **dict(parse_assignment(text) for text in assignments)}
    values = {**defaults(), **file_values, **changed}
    overrides = [] if recipe_path is None else [
        f"{name} = {'(default)' if value is None else toml_value(value)}" for name, value in changed.items()
        if not BY_NAME[name].run_setting]
    if data is not None and not overrides:
        record = RecipeRecord(data=data, source=source or str(recipe_path), source_sha256=hashlib.sha256(data).hexdigest())
    else:
        origin = (f"{recipe_path} with the command line's changes" if recipe_path is not None
                  else "the xrayview-train command line")
        text = render_recipe(values, f"The recipe of this training run: {origin}.\n"
                                     "Replay: xrayview-train --recipe recipe.toml --out DIR")
        record = RecipeRecord(data=text.encode("utf-8"), source=None if recipe_path is None else str(recipe_path),
                              source_sha256=None if data is None else hashlib.sha256(data).hexdigest(),
                              overrides=overrides)
    return values, record
