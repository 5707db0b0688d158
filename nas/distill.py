"""Knowledge distillation (Hinton et al. 2015): a student learns from a teacher's soft targets.

The loss is `alpha * CE(labels, student) + (1 - alpha) * T^2 * KL(softmax(teacher / T) ||
softmax(student / T))`. The teacher's logits are computed once per training image, at the
teacher's own input resolution, and ride along with the labels: the student may see the same
images at a lower resolution, and no epoch pays for a teacher forward pass. Consistent
teaching (the teacher run on each epoch's augmented inputs, Beyer et al. 2022) was measured
and not adopted: no gain in int8 on kws over three seeds, and a teacher fed a lower-resolution
student's view, upsampled, loses 4 points on fashion (docs/RESULTS.md, "consistent teaching").
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from nas.errors import TinyzooError

__all__ = ["DEFAULT_ALPHA", "DEFAULT_TEMPERATURE", "check_params", "distilling", "pack_targets"]

# Chosen on validation data: the best mean gain over labels-only training of a grid T {2, 4, 8}
# x alpha {0.1, 0.5, 0.9} on fashion, 2 seeds (bench/kd_sweep.py; table in docs/RESULTS.md).
DEFAULT_TEMPERATURE = 2.0
DEFAULT_ALPHA = 0.5


def check_params(temperature: float, alpha: float) -> None:
    if not 0 < temperature < math.inf:
        raise TinyzooError(
            f"--temperature must be a number above 0, got {temperature}; soft targets need "
            f"a finite T > 0 "
            f"(typical: 2 to 8, default {DEFAULT_TEMPERATURE})."
        )
    if not 0 <= alpha <= 1:
        raise TinyzooError(
            f"--alpha must be in [0, 1] (the weight of the hard labels; 1 - alpha goes to the "
            f"teacher's soft targets), got {alpha}. Default {DEFAULT_ALPHA}."
        )


def pack_targets(labels: np.ndarray, teacher_logits: np.ndarray) -> np.ndarray:
    """One float32 array per sample: [label, teacher logit 0, ..., teacher logit C-1]."""
    if len(labels) != len(teacher_logits):
        raise ValueError(f"{len(labels)} labels but {len(teacher_logits)} teacher rows")
    return np.concatenate([labels[:, None].astype(np.float32), teacher_logits], axis=1)


def distilling(student: Any, *, temperature: float, alpha: float) -> Any:
    """Wrap `student` (logits out) so that `fit(x, pack_targets(y, teacher_logits))` distils.

    The wrapper shares the student's layers: train the wrapper, keep `student`.
    """
    check_params(temperature, alpha)
    import keras
    from keras import ops

    class Distilled(keras.Model):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__(name="distilled")
            self.student = student

        def call(self, x: Any, training: bool = False) -> Any:
            return self.student(x, training=training)

        def compute_loss(
            self,
            x: Any = None,
            y: Any = None,
            y_pred: Any = None,
            sample_weight: Any = None,
            training: bool = True,
        ) -> Any:
            labels = ops.cast(y[:, 0], "int32")
            soft = y[:, 1:]
            hard = keras.losses.sparse_categorical_crossentropy(labels, y_pred, from_logits=True)
            t = temperature
            p_teacher = ops.softmax(soft / t, axis=-1)
            log_p_student = ops.log_softmax(y_pred / t, axis=-1)
            log_p_teacher = ops.log_softmax(soft / t, axis=-1)
            kl = ops.sum(p_teacher * (log_p_teacher - log_p_student), axis=-1) * (t * t)
            loss = alpha * ops.mean(hard) + (1.0 - alpha) * ops.mean(kl)
            losses = self.losses  # regularisers, if any
            return loss + ops.sum(losses) if losses else loss

    return Distilled()
