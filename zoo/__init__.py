"""tinyzoo's model zoo over MLflow: register, list, get, pull and load tiny int8 models.

    import zoo
    zoo.list_models(board="nano33ble")          # champion of each model that fits
    zoo.pull("kws-nano33ble", "./model")         # .tflite + C sources + profile + card
    zoo.load("fashion-64k@champion").tflite      # verified bytes, no files written

References are `name`, `name@alias` or `name/version`. The store is the project's embedded
sqlite db under mlflow/ unless `tracking_uri=` or $TINYZOO_TRACKING_URI says otherwise.
Importing `zoo` imports no MLflow, TensorFlow or Optuna.
"""

from __future__ import annotations

from zoo._entry import ZooEntry
from zoo._registry import LoadedModel, get, list_models, load, pull, register

__all__ = ["LoadedModel", "ZooEntry", "get", "list_models", "load", "pull", "register"]
