"""Models: a registry (`create_model`, `list_models`) of spiking networks for 2D and 3D inputs, building
a model for a dataset, loading a trained run's model (`load_for_run`), and what outputs mean."""
from engine.models import zoo as _zoo  # noqa: F401  (registers the models)
from engine.models.loading import LoadedRun, build_model, load_for_run, ready_for_inference, run_domain
from engine.models.registry import count_parameters, create_model, list_models, model_description

__all__ = ["LoadedRun", "build_model", "count_parameters", "create_model", "list_models", "load_for_run", "run_domain",
           "model_description", "ready_for_inference"]
