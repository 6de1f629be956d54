"""Training recipes: one YAML file -> ``Recipe`` (typed, validated), with dotted ``key=value`` overrides.

A recipe has the sections ``model``, ``data`` and ``training`` (``loc3r.training.arguments``). Overrides
address any field by its dotted path, list items by index, and take YAML values::

    loc3r train configs/tiny-synthetic.yaml training.learning_rate=3e-4 data.sources.0.ratio=0.5 \
        model.config_overrides.lambda_bev=0 training.report_to=[tensorboard,wandb]

Rules (every violation is a ``ValueError`` that names the file and the dotted key):

* an unknown key anywhere is an error (with the closest known key as a hint);
* values are checked against the field types; numbers written as strings (YAML reads ``1e-5`` as a string)
  are converted; an override may create a missing mapping (``data.synthetic.scenes=4``);
* recipe paths: an existing path is used as is; otherwise a relative path is looked up among the recipes
  shipped with the package (``configs/tiny-synthetic.yaml``, ``tiny-synthetic.yaml`` and ``tiny-synthetic``
  all name ``loc3r/configs/tiny-synthetic.yaml``). ``training.deepspeed`` is resolved the same way.

The ``training`` section stays a checked mapping until ``Recipe.training_arguments()`` builds the HF
arguments (that needs the hardware it will run on). ``Recipe.to_dict()`` is the resolved recipe, written to
``output_dir/run_config.yaml`` by ``train``.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import importlib.util
import json
import types
import typing
from pathlib import Path
from typing import Any

import yaml

from loc3r.training.arguments import DataArguments, Loc3RTrainingArguments, ModelArguments

__all__ = [
    "Recipe",
    "load_recipe",
    "recipe_from_dict",
    "apply_overrides",
    "resolve_config_path",
    "package_configs_dir",
    "list_package_recipes",
]

SECTIONS: dict[str, type] = {
    "model": ModelArguments,
    "data": DataArguments,
    "training": Loc3RTrainingArguments,
}


def package_configs_dir() -> Path:
    """The folder of the recipes shipped with the package (``loc3r/configs``)."""
    return Path(__file__).resolve().parents[1] / "configs"


def list_package_recipes() -> list[Path]:
    """Every shipped recipe YAML (``loc3r/configs/*.yaml``), sorted."""
    return sorted(package_configs_dir().glob("*.yaml"))


def resolve_config_path(path: str | Path, suffix: str = ".yaml") -> Path:
    """An existing file, or a shipped config named by a relative path (see the module docstring).

    Raises:
        FileNotFoundError: neither exists (the message lists the shipped recipes).
    """
    p = Path(path).expanduser()
    if p.is_file():
        return p
    if not p.is_absolute():
        parts = p.parts[1:] if p.parts and p.parts[0] == "configs" else p.parts
        base = package_configs_dir()
        for cand in (base.joinpath(*parts), base.joinpath(*parts).with_name(p.name + suffix)):
            if parts and cand.is_file():
                return cand
    shipped = ", ".join(f"configs/{q.name}" for q in list_package_recipes())
    raise FileNotFoundError(f"{path}: no such file (shipped recipes: {shipped})")


# ---------------------------------------------------------------------------------------------- overrides
def _parse_value(text: str) -> Any:
    return yaml.safe_load(text) if text.strip() else None


def apply_overrides(raw: dict[str, Any], overrides: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """Apply ``a.b.c=value`` overrides to a raw recipe mapping (a deep copy is returned).

    Raises:
        ValueError: a malformed override, or an index into something that is not a list.
    """
    out = copy.deepcopy(raw) if raw else {}
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"override {item!r} is not KEY=VALUE (e.g. training.learning_rate=1e-4)")
        key, text = item.split("=", 1)
        parts = [k for k in key.strip().split(".")]
        if not key.strip() or any(not k for k in parts):
            raise ValueError(f"override {item!r}: empty key")
        node: Any = out
        for depth, k in enumerate(parts[:-1]):
            where = ".".join(parts[: depth + 1])
            if isinstance(node, list):
                node = node[_list_index(node, k, where)]
                continue
            if not isinstance(node, dict):
                raise ValueError(f"override {item!r}: {'.'.join(parts[:depth])} is not a mapping")
            if node.get(k) is None:
                node[k] = {}
            node = node[k]
        last = parts[-1]
        value = _parse_value(text)
        if isinstance(node, list):
            node[_list_index(node, last, key)] = value
        elif isinstance(node, dict):
            node[last] = value
        else:
            raise ValueError(f"override {item!r}: {'.'.join(parts[:-1])} is not a mapping")
    return out


def _list_index(node: list, k: str, where: str) -> int:
    try:
        i = int(k)
    except ValueError:
        raise ValueError(f"{where}: a list, index it with a number (e.g. data.sources.0.ratio)") from None
    if not -len(node) <= i < len(node):
        raise ValueError(f"{where}: index {i} out of range (the list has {len(node)} items)")
    return i


# ---------------------------------------------------------------------------------------------- typed build
def _type_hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _unknown_key(key: str, known: list[str], where: str) -> ValueError:
    close = difflib.get_close_matches(key, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ValueError(f"unknown key {where}{hint}")


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Check ``value`` against the type hint ``tp`` (converting numeric strings); nested dataclasses built."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None:
            if type(None) in args:
                return None
            raise ValueError(f"{where}: must not be null")
        errors = []
        for arg in sorted((a for a in args if a is not type(None)), key=_union_rank(value)):
            try:
                return _coerce(value, arg, where)
            except ValueError as e:
                errors.append(str(e))
        raise ValueError(errors[0] if errors else f"{where}: invalid value {value!r}")
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ValueError(f"{where}: expected a mapping, got {value!r}")
        return _build(tp, value, where)
    if origin in (list, tuple) or tp in (list, tuple):
        (item_tp,) = typing.get_args(tp)[:1] or (Any,)
        if isinstance(value, (str, int, float, dict)) and not isinstance(value, bool):
            value = [value]
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{where}: expected a list, got {value!r}")
        return [_coerce(v, item_tp, f"{where}.{i}") for i, v in enumerate(value)]
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise ValueError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise ValueError(f"{where}: expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, bool):
            raise ValueError(f"{where}: expected an integer, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                f = float(value)
            except ValueError:
                f = None
            if f is not None and f.is_integer():
                return int(f)
        raise ValueError(f"{where}: expected an integer, got {value!r}")
    if tp is float:
        if isinstance(value, bool):
            raise ValueError(f"{where}: expected a number, got {value!r}")
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ValueError(f"{where}: expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        hint = " (YAML reads yes/no/on/off as booleans: quote the value)" if isinstance(value, bool) else ""
        raise ValueError(f"{where}: expected a string, got {value!r}{hint}")
    if isinstance(tp, type) and issubclass(tp, str):  # str enums of HF (IntervalStrategy, SchedulerType, ...)
        if isinstance(value, str):
            return value
        if value is False and "no" in {
            getattr(m, "value", None) for m in getattr(tp, "__members__", {}).values()
        }:
            return "no"  # YAML 1.1 reads `eval_strategy: no` as false
        raise ValueError(f"{where}: expected a string, got {value!r}")
    return value


def _union_rank(value: Any):
    """Try the union member matching the value's own type first (``int | str`` with 3 -> int)."""

    def rank(arg: Any) -> int:
        base = typing.get_origin(arg) or arg
        if (
            isinstance(base, type)
            and isinstance(value, base)
            and not (base is int and isinstance(value, bool))
        ):
            return 0
        return 1

    return rank


def _check_keys(cls: type, data: dict[str, Any], where: str) -> dict[str, Any]:
    """Coerce the values of ``data`` against ``cls``'s fields; unknown keys raise."""
    hints = _type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.init]
    out = {}
    for key, value in data.items():
        path = f"{where}.{key}"
        if key not in names:
            raise _unknown_key(str(key), names, path)
        out[key] = _coerce(value, hints[key], path)
    return out


def _build(cls: type, data: dict[str, Any], where: str) -> Any:
    kwargs = _check_keys(cls, data, where)
    try:
        return cls(**kwargs)
    except ValueError as e:
        raise ValueError(f"{where}: {e}") from e


# ---------------------------------------------------------------------------------------------- recipe
@dataclasses.dataclass
class Recipe:
    """A validated training recipe.

    Attributes:
        model: what to build and train.
        data: mixture, held-out sources, prior, caches.
        training: the checked ``training`` mapping (keys of ``Loc3RTrainingArguments``, values coerced to the
            field types); ``training_arguments()`` builds the HF object.
        path: the YAML file it came from (None when built from a dict).
        overrides: the ``key=value`` overrides applied on top of the file.
    """

    model: ModelArguments
    data: DataArguments
    training: dict[str, Any]
    path: Path | None = None
    overrides: tuple[str, ...] = ()

    def training_arguments(self) -> Loc3RTrainingArguments:
        """Build ``Loc3RTrainingArguments`` (sets up the distributed state under ``torchrun``).

        Raises:
            ValueError: a DeepSpeed config is named but DeepSpeed is not installed, or HF rejects a setting
                (e.g. bf16 on hardware without bf16).
            FileNotFoundError: the DeepSpeed config does not exist.
        """
        kwargs = dict(self.training)
        ds = kwargs.get("deepspeed")
        if ds is not None:
            if isinstance(ds, str) and not ds.lstrip().startswith("{"):
                kwargs["deepspeed"] = str(resolve_config_path(ds, suffix=".json"))
            if importlib.util.find_spec("deepspeed") is None:
                raise ValueError(
                    f"{self._where()}training.deepspeed is set ({ds}) but DeepSpeed is not installed: "
                    "`pip install deepspeed` on the GPU machines, or run without it (training.deepspeed=null "
                    "gives plain DDP; training.fsdp gives FSDP)"
                )
        try:
            return Loc3RTrainingArguments(**kwargs)
        except ValueError as e:
            raise ValueError(f"{self._where()}training: {e}") from e

    def _where(self) -> str:
        return f"recipe {self.path}: " if self.path else ""

    def to_dict(self) -> dict[str, Any]:
        """The resolved recipe as plain data (what ``run_config.yaml`` holds)."""
        return {
            "model": dataclasses.asdict(self.model),
            "data": dataclasses.asdict(self.data),
            "training": json.loads(json.dumps(self.training, default=str)),
        }

    def to_yaml(self) -> str:
        """``to_dict`` as YAML, headed by the source file and overrides."""
        head = f"# resolved from {self.path or '<dict>'}"
        if self.overrides:
            head += " with " + " ".join(self.overrides)
        return head + "\n" + yaml.safe_dump(self.to_dict(), sort_keys=False)


def recipe_from_dict(
    raw: dict[str, Any], path: Path | None = None, overrides: tuple[str, ...] = ()
) -> Recipe:
    """Validate a raw recipe mapping (sections ``model``, ``data``, ``training``) into a ``Recipe``.

    Raises:
        ValueError: unknown section or key, wrong value type, or an invalid value (naming the dotted key).
    """
    where = f"{path}: " if path else ""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ValueError(f"{where}a recipe must be a mapping with sections {list(SECTIONS)}")
    for key in raw:
        if key not in SECTIONS:
            raise ValueError(f"{where}{_unknown_key(str(key), list(SECTIONS), str(key))}")
    try:
        sections = {}
        for name in ("model", "data"):
            value = raw.get(name) or {}
            if not isinstance(value, dict):
                raise ValueError(f"{name}: expected a mapping")
            sections[name] = _build(SECTIONS[name], value, name)
        training = raw.get("training") or {}
        if not isinstance(training, dict):
            raise ValueError("training: expected a mapping")
        training = _check_keys(Loc3RTrainingArguments, training, "training")
    except ValueError as e:
        raise ValueError(f"{where}{e}") from e
    return Recipe(
        model=sections["model"],
        data=sections["data"],
        training=training,
        path=path,
        overrides=tuple(overrides),
    )


def load_recipe(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Recipe:
    """Read a recipe YAML (``resolve_config_path``), apply overrides and validate it.

    Raises:
        FileNotFoundError: no such recipe.
        ValueError: invalid YAML, override, key or value (the message names the file and the key).
    """
    p = resolve_config_path(path)
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ValueError(f"{p}: not valid YAML ({e})") from e
    try:
        raw = apply_overrides(raw or {}, list(overrides))
    except ValueError as e:
        raise ValueError(f"{p}: {e}") from e
    return recipe_from_dict(raw, path=p, overrides=tuple(overrides))
