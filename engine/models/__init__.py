"""Models: a registry (`create_model`, `list_models`) of spiking networks for 2D and 3D inputs."""
from engine.models import zoo as _zoo  # noqa: F401  (registers the models)
from engine.models.registry import count_parameters, create_model, list_models, model_description

__all__ = ["count_parameters", "create_model", "list_models", "model_description"]
