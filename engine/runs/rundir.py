"""A run directory: `config.json`, `metrics.jsonl` (one line per epoch), checkpoints and `status.json`.

A checkpoint is a safetensors file of tensors (model weights and optimizer state) carrying, in its own
metadata, everything else (epoch, scheduler step, best score, optimizer hyper-parameters); a JSON file
beside it repeats that for people to read. Nothing is ever pickled, so a checkpoint handed in by a user
cannot run code. Every file is written atomically (`engine.runs.atomic`), and an epoch is committed in
two phases (`commit_epoch`): a run killed at any moment holds its previous epoch or this one, whole.

`config.json` says which run format wrote it (`format`) and which SpikeView (`engine_version`): a run
in a newer format is refused in one sentence rather than misread.
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from engine.errors import UserError
from engine.options import TrainConfig
from engine.runs.atomic import discard, failure_reason, publish, write_atomic, write_failure, write_staged

log = logging.getLogger(__name__)

CONFIG = "config.json"
METRICS = "metrics.jsonl"
STATUS = "status.json"
RUN_FORMAT = 2  # 1: before `format` was recorded; 2: + format, engine_version, domain, self-contained checkpoints
REQUIRED_SECTIONS = ("train", "dataset", "preprocessing", "model")
_META_KEY = "spikeview"  # the checkpoint's JSON inside its safetensors metadata


def engine_version() -> str:
    try:
        return metadata.version("spikeview")
    except metadata.PackageNotFoundError:  # a frozen app without package metadata
        return "unknown"


@dataclass
class Checkpoint:
    model_state: dict[str, torch.Tensor]
    optimizer_state: dict | None
    info: dict


class RunDir:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    # -- config -----------------------------------------------------------------------------
    def write_config(self, config: dict) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        stamped = {**config, "format": RUN_FORMAT, "engine_version": engine_version()}
        write_atomic(self.path / CONFIG, json.dumps(stamped, indent=2, sort_keys=True))

    def read_config(self) -> dict:
        """The run's config, checked: a JSON object in a format this engine reads, with every section."""
        path = self.path / CONFIG
        if not path.is_file():
            raise UserError(f"{self.path} is not a SpikeView run: it has no {CONFIG}.")
        config = _read_json(path, "the run's settings")
        if not isinstance(config, dict):
            raise UserError(f"{path} does not hold a run's settings (it is not a JSON object).")
        run_format = config.get("format", 1)
        if not isinstance(run_format, int) or run_format > RUN_FORMAT:
            written_by = config.get("engine_version", "a newer version")
            raise UserError(f"The run {self.path.name} was written by SpikeView {written_by} in run format "
                            f"{run_format}, newer than this SpikeView reads ({RUN_FORMAT}); update SpikeView to open it.")
        missing = [key for key in REQUIRED_SECTIONS if not isinstance(config.get(key), dict)]
        if missing:
            names = [repr(key) for key in missing]
            listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
            raise UserError(f"The run {self.path.name} has an incomplete {CONFIG}: it lacks {listed}.")
        return config

    def train_config(self) -> TrainConfig:
        """The run's training settings (the "train" section), checked like the CLI's options."""
        values = self.read_config()["train"]
        try:
            config = TrainConfig.from_dict(values)
            config.validate()
        except UserError as exc:
            problem = str(exc).rstrip(".")
            raise UserError(f"The run {self.path.name} has an unusable training setting in {CONFIG}: "
                            f"{problem[:1].lower() + problem[1:]}.") from exc
        return config

    # -- metrics ----------------------------------------------------------------------------
    def read_metrics(self) -> list[dict]:
        path = self.path / METRICS
        if not path.exists():
            return []
        rows = []
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except ValueError as exc:
                raise UserError(f"{path} is damaged: line {number} is not a JSON record.") from exc
        return rows

    def append_metrics(self, row: dict) -> None:
        self._commit([lambda: self._stage_metrics(self.read_metrics() + [row])])

    def truncate_metrics(self, epochs: int) -> None:
        """Keep the first `epochs` rows (used on resume, so an epoch is never listed twice)."""
        rows = self.read_metrics()
        kept = [r for r in rows if r.get("epoch", 0) < epochs]
        if len(kept) != len(rows):
            self._commit([lambda: self._stage_metrics(kept)])

    def _stage_metrics(self, rows: list[dict]) -> list[tuple[Path, Path]]:
        target = self.path / METRICS
        text = "".join(json.dumps(r) + "\n" for r in rows)
        return [(write_staged(target, lambda tmp: tmp.write_text(text)), target)]

    # -- status: how the run last stopped, when it did not finish -----------------------------
    def write_status(self, state: str, **details) -> None:
        write_atomic(self.path / STATUS, json.dumps({"state": state, "time": time.time(), **details}))

    def read_status(self) -> dict:
        path = self.path / STATUS
        if not path.is_file():
            return {}
        try:
            status = json.loads(path.read_text())
        except ValueError:
            return {}
        return status if isinstance(status, dict) else {}

    def clear_status(self) -> None:
        (self.path / STATUS).unlink(missing_ok=True)

    # -- checkpoints ------------------------------------------------------------------------
    def checkpoint_paths(self, tag: str) -> tuple[Path, Path]:
        return self.path / f"{tag}.safetensors", self.path / f"{tag}.json"

    def has_checkpoint(self, tag: str) -> bool:
        return self.checkpoint_paths(tag)[0].exists()

    def save_checkpoint(self, tag: str, model: torch.nn.Module, info: dict,
                        optimizer: torch.optim.Optimizer | None = None) -> None:
        self._commit([lambda: self._stage_checkpoint(tag, model, info, optimizer)])

    def commit_epoch(self, row: dict, model: torch.nn.Module, info: dict, optimizer: torch.optim.Optimizer,
                     improved: bool, best_model: torch.nn.Module | None = None,
                     extras: tuple[tuple[str, torch.nn.Module, dict], ...] = ()) -> None:
        """Save an epoch: its metrics row, the `best` checkpoint when it `improved` (the weights of
        `best_model`, by default `model`), the `extras` (tag, model, info; e.g. the weight average), and `last`.

        Everything is written to temporary files first; only when all of them are complete are they
        renamed into place, `last.safetensors` (the epoch's commit point) at the end. A failure while
        writing (a full disk) leaves the run exactly as it was and is told in one sentence.
        """
        stagers = [lambda: self._stage_metrics(self.read_metrics() + [row])]
        if improved:
            stagers.append(lambda: self._stage_checkpoint("best", best_model or model, info))
        for tag, extra_model, extra_info in extras:
            stagers.append(lambda t=tag, m=extra_model, i=extra_info: self._stage_checkpoint(t, m, i))
        stagers.append(lambda: self._stage_checkpoint("last", model, info, optimizer))
        self._commit(stagers, lambda exc: (
            f"Epoch {info['epoch'] + 1} of the run {self.path.name} could not be saved because {failure_reason(exc)}; "
            "the run keeps its earlier epochs and can be resumed."))

    def _stage_checkpoint(self, tag: str, model: torch.nn.Module, info: dict,
                          optimizer: torch.optim.Optimizer | None = None) -> list[tuple[Path, Path]]:
        """The weights (with the JSON in their metadata) and the JSON beside them, as staged files."""
        tensors = {f"model.{k}": v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
        meta = {"info": info}
        if optimizer is not None:
            opt_tensors, meta["optimizer"] = _flatten_optimizer(optimizer.state_dict())
            tensors.update(opt_tensors)
        text = json.dumps(meta, indent=2)
        weights, sidecar = self.checkpoint_paths(tag)
        staged = [(write_staged(weights, lambda tmp: save_file(tensors, str(tmp), {_META_KEY: text})), weights)]
        try:
            staged.append((write_staged(sidecar, lambda tmp: tmp.write_text(text)), sidecar))
        except BaseException:
            discard([tmp for tmp, _ in staged])
            raise
        return staged

    def _commit(self, stagers: list[Callable[[], list[tuple[Path, Path]]]],
                failure: Callable[[OSError], str] | None = None) -> None:
        """Stage every file, then rename them all into place in order; on a write error, remove what was
        staged and say why in one sentence (the run's files are left as they were)."""
        staged: list[tuple[Path, Path]] = []
        try:
            for stage in stagers:
                staged += stage()
            for tmp, target in staged:
                publish(tmp, target)
        except BaseException as exc:
            discard([tmp for tmp, _ in staged])
            if isinstance(exc, OSError):
                message = failure(exc) if failure else write_failure(Path(exc.filename or self.path), exc)
                raise UserError(message) from exc
            raise

    def load_checkpoint(self, tag: str) -> Checkpoint:
        weights, sidecar = self.checkpoint_paths(tag)
        if not weights.exists():
            raise UserError(f"The run {self.path.name} has no '{tag}' checkpoint ({weights.name} is missing).")
        damaged = f"The checkpoint {weights} is damaged or incomplete, so it cannot be read."
        try:
            with safe_open(str(weights), framework="pt") as handle:
                embedded = (handle.metadata() or {}).get(_META_KEY)
                tensors = {name: handle.get_tensor(name) for name in handle.keys()}
        except (SafetensorError, OSError, ValueError) as exc:
            log.debug("reading %s failed", weights, exc_info=True)
            raise UserError(damaged) from exc
        meta = _checkpoint_meta(embedded, sidecar, damaged)
        model_state = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
        optimizer_state = None
        if "optimizer" in meta:
            optimizer_state = _unflatten_optimizer(tensors, meta["optimizer"])
        return Checkpoint(model_state, optimizer_state, meta.get("info", {}))


def _read_json(path: Path, what: str):
    try:
        return json.loads(path.read_text())
    except UnicodeDecodeError as exc:
        raise UserError(f"{path} is not a JSON file of {what}: it holds binary data.") from exc
    except ValueError as exc:
        raise UserError(f"{path} is not valid JSON: {exc.msg.lower()} at line {exc.lineno}, column "
                        f"{exc.colno}.") from exc


def _checkpoint_meta(embedded: str | None, sidecar: Path, damaged: str) -> dict:
    """The checkpoint's JSON: from its own metadata (run format 2), else from the file beside it (format 1)."""
    try:
        if embedded is not None:
            meta = json.loads(embedded)
        elif sidecar.is_file():
            meta = json.loads(sidecar.read_text())
        else:
            raise UserError(f"The checkpoint {sidecar.with_suffix('.safetensors')} has lost {sidecar.name}, "
                            "which holds its epoch and optimizer settings.")
    except ValueError as exc:
        raise UserError(damaged) from exc
    if not isinstance(meta, dict):
        raise UserError(damaged)
    return meta


def _flatten_optimizer(state_dict: dict) -> tuple[dict[str, torch.Tensor], dict]:
    """Optimizer state → tensors named `opt.<param>.<key>` and a JSON-able remainder."""
    tensors, scalars = {}, {}
    for param_id, slots in state_dict["state"].items():
        for key, value in slots.items():
            if torch.is_tensor(value):
                tensors[f"opt.{param_id}.{key}"] = value.detach().contiguous().cpu()
            else:
                scalars[f"{param_id}.{key}"] = value
    return tensors, {"param_groups": state_dict["param_groups"], "scalars": scalars}


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], meta: dict) -> dict:
    state: dict[int, dict] = {}
    for name, value in tensors.items():
        if name.startswith("opt."):
            _, param_id, key = name.split(".", 2)
            state.setdefault(int(param_id), {})[key] = value
    for name, value in meta.get("scalars", {}).items():
        param_id, key = name.split(".", 1)
        state.setdefault(int(param_id), {})[key] = value
    return {"state": state, "param_groups": meta["param_groups"]}
