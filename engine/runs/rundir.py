"""A run directory: `config.json`, `metrics.jsonl` (one line per epoch) and checkpoints.

A checkpoint is a safetensors file of tensors (model weights and optimizer state) plus a JSON file
of everything else (epoch, scheduler step, best score, optimizer hyper-parameters). Nothing is
ever pickled, so a checkpoint handed in by a user cannot run code.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from engine.errors import UserError

CONFIG = "config.json"
METRICS = "metrics.jsonl"


@dataclass
class Checkpoint:
    model_state: dict[str, torch.Tensor]
    optimizer_state: dict | None
    info: dict


class RunDir:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    # -- config and metrics ---------------------------------------------------------------
    def write_config(self, config: dict) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        (self.path / CONFIG).write_text(json.dumps(config, indent=2, sort_keys=True))

    def read_config(self) -> dict:
        path = self.path / CONFIG
        if not path.is_file():
            raise UserError(f"{self.path} is not a SpikeView run: it has no {CONFIG}.")
        try:
            return json.loads(path.read_text())
        except ValueError as exc:
            raise UserError(f"{path} is not valid JSON ({exc}).") from exc

    def append_metrics(self, row: dict) -> None:
        with open(self.path / METRICS, "a") as handle:
            handle.write(json.dumps(row) + "\n")

    def read_metrics(self) -> list[dict]:
        path = self.path / METRICS
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def truncate_metrics(self, epochs: int) -> None:
        """Keep the first `epochs` rows (used on resume, so an epoch is never listed twice)."""
        rows = [r for r in self.read_metrics() if r.get("epoch", 0) < epochs]
        (self.path / METRICS).write_text("".join(json.dumps(r) + "\n" for r in rows))

    # -- checkpoints ----------------------------------------------------------------------
    def checkpoint_paths(self, tag: str) -> tuple[Path, Path]:
        return self.path / f"{tag}.safetensors", self.path / f"{tag}.json"

    def has_checkpoint(self, tag: str) -> bool:
        return all(p.exists() for p in self.checkpoint_paths(tag))

    def save_checkpoint(self, tag: str, model: torch.nn.Module, info: dict,
                        optimizer: torch.optim.Optimizer | None = None) -> None:
        tensors = {f"model.{k}": v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
        meta = {"info": info}
        if optimizer is not None:
            opt_tensors, meta["optimizer"] = _flatten_optimizer(optimizer.state_dict())
            tensors.update(opt_tensors)
        weights, sidecar = self.checkpoint_paths(tag)
        tmp = weights.with_suffix(".tmp")
        save_file(tensors, str(tmp))
        tmp.replace(weights)  # atomic: an interrupted save never leaves a half-written checkpoint
        sidecar.write_text(json.dumps(meta, indent=2))

    def load_checkpoint(self, tag: str) -> Checkpoint:
        weights, sidecar = self.checkpoint_paths(tag)
        if not weights.exists():
            raise UserError(f"{self.path} has no '{tag}' checkpoint ({weights.name} is missing).")
        try:
            tensors = load_file(str(weights))
            meta = json.loads(sidecar.read_text())
        except (SafetensorError, OSError, ValueError) as exc:
            raise UserError(f"The checkpoint {weights} is damaged and cannot be read ({exc}).") from exc
        model_state = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
        optimizer_state = None
        if "optimizer" in meta:
            optimizer_state = _unflatten_optimizer(tensors, meta["optimizer"])
        return Checkpoint(model_state, optimizer_state, meta.get("info", {}))


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
