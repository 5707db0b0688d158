"""The search in MLflow: every trial a nested run of the winner's run, Optuna's plots beside.

The run that registers a search's winner is the search's parent run. Under it, one nested run
per trial (`trial-<n>`) holds the trial's sampled params, its architecture string, its
analytic profile (MACs, params, TFLM arena, .tflite bytes, the latency estimate), its outcome
(complete, infeasible, pruned, repeat or failed) and its proxy validation accuracy. The parent
gets `search/history.png` (accuracy over trials), when Optuna can compute them
`search/importances.png` (which params mattered), and for a Pareto search (`--objectives
accuracy,latency`) `search/pareto.png`. Logged once the winner is registered: an
interrupted search has no run.
"""

from __future__ import annotations

import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

__all__ = ["log_search"]

PROFILE_KEYS = (
    "macs", "params", "arena_bytes", "activation_bytes", "paper_peak_bytes", "tflite_bytes",
)  # fmt: skip


def _outcome(t: Any) -> str:
    import optuna

    if t.state == optuna.trial.TrialState.PRUNED:
        return "pruned"
    if t.state == optuna.trial.TrialState.COMPLETE:
        return str(t.user_attrs.get("outcome", "complete"))
    return "failed"  # FAIL, or RUNNING in a study some process left behind


def log_search(client: Any, parent_run_id: str, study: Any) -> int:
    """Nested runs for every trial of `study` under `parent_run_id`, and the plots; returns
    the number of trial runs logged."""
    from mlflow.entities import Metric, Param, RunTag

    parent = client.get_run(parent_run_id)
    exp = parent.info.experiment_id
    now = int(time.time() * 1000)
    n = 0
    for t in study.get_trials(deepcopy=False):
        outcome = _outcome(t)
        run = client.create_run(
            exp,
            run_name=f"trial-{t.number}",
            tags={"mlflow.parentRunId": parent_run_id, "tinyzoo.role": "trial"},
        )
        metrics = {k: t.user_attrs[k] for k in PROFILE_KEYS if k in t.user_attrs}
        if "latency_ms_estimate" in t.user_attrs:
            metrics["latency_ms_estimate"] = t.user_attrs["latency_ms_estimate"]
        if outcome in ("complete", "repeat") and t.values:
            metrics["proxy_val_accuracy"] = t.values[0]
        elif t.intermediate_values:  # pruned: the last epoch it reached
            metrics["proxy_val_accuracy"] = t.intermediate_values[max(t.intermediate_values)]
        client.log_batch(
            run.info.run_id,
            metrics=[Metric(k, float(v), now, 0) for k, v in sorted(metrics.items())],
            params=[Param(k, str(v)) for k, v in sorted(t.params.items())],
            tags=[
                RunTag("arch", str(t.user_attrs.get("arch", ""))),
                RunTag("outcome", outcome),
                RunTag("worker", str(t.user_attrs.get("worker", 0))),
                *(
                    [RunTag("reason", str(t.user_attrs["reason"]))]
                    if "reason" in t.user_attrs
                    else []
                ),
            ],
        )
        client.set_terminated(run.info.run_id, "FINISHED")
        n += 1
    _log_plots(client, parent_run_id, study)
    return n


def _log_plots(client: Any, run_id: str, study: Any) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import optuna.visualization.matplotlib as ovm

    multi = len(study.directions) > 1
    first: dict[str, Any] = (
        {"target": lambda t: t.values[0], "target_name": "val accuracy"} if multi else {}
    )
    plots: dict[str, Any] = {
        "history": lambda st: ovm.plot_optimization_history(st, **first),
        "importances": lambda st: ovm.plot_param_importances(st, **first),
    }
    if multi:
        plots["pareto"] = lambda st: ovm.plot_pareto_front(
            st, target_names=["val accuracy", "estimated latency ms"]
        )
    with tempfile.TemporaryDirectory(prefix="tinyzoo-search-") as tmp:
        for name, plot in plots.items():
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # Optuna marks these experimental
                    ax = plot(study)
            except (ValueError, RuntimeError, ZeroDivisionError):
                continue  # e.g. importances need two finished trials with differing params
            fig = ax.figure if hasattr(ax, "figure") else plt.gcf()
            path = Path(tmp) / f"{name}.png"
            fig.savefig(path, dpi=100, bbox_inches="tight")
            plt.close(fig)
            client.log_artifact(run_id, str(path), "search")
