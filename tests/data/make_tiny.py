"""Regenerate tests/data/*.tflite: real, untrained int8 models for fast tests.

- tiny_int8.tflite: a DS-CNN of the project's family (zoo, codegen and profile tests);
- tiny_tanh_int8.tflite: a conv + TANH model, an op outside the profiler's set;
- tiny_float.tflite: the DS-CNN converted without quantization (float32 throughout).

    .venv/bin/python tests/data/make_tiny.py

Why a committed file: the zoo tests need a genuine .tflite (codegen parses it, sha256 guards
it) but should not pay TensorFlow's import and conversion (~10 s) on every run. The weights
are Keras' seeded initialisation and the calibration data seeded noise: the model classifies
nothing, it only has to be a valid full-integer TFLM model of the project's DS-CNN family.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

ARCH = "r8x8x1_c3s1c4_ds3s1c8_gap_fc10"
OUT = Path(__file__).with_name("tiny_int8.tflite")
OUT_TANH = Path(__file__).with_name("tiny_tanh_int8.tflite")
OUT_FLOAT = Path(__file__).with_name("tiny_float.tflite")


def main() -> None:
    from nas.quantize import convert_int8, quiet_tensorflow
    from searchspaces._arch import ArchSpec
    from searchspaces._build import build

    quiet_tensorflow()
    import keras

    keras.utils.set_random_seed(0)
    spec = ArchSpec.parse(ARCH)
    model = build(spec, dropout=0.0)
    rep = np.random.default_rng(0).random((32, *spec.input_shape), dtype=np.float32)
    OUT.write_bytes(convert_int8(model, rep))
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes, {ARCH})")

    x = keras.Input((8, 8, 1), name="x")
    y = keras.layers.Conv2D(4, 3, padding="same", activation="tanh")(x)
    y = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(y))
    OUT_TANH.write_bytes(convert_int8(keras.Model(x, y), rep))
    print(f"wrote {OUT_TANH} ({OUT_TANH.stat().st_size} bytes)")

    import tensorflow as tf

    with tempfile.TemporaryDirectory() as d:
        model.export(d, format="tf_saved_model", verbose=False)
        OUT_FLOAT.write_bytes(tf.lite.TFLiteConverter.from_saved_model(d).convert())
    print(f"wrote {OUT_FLOAT} ({OUT_FLOAT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
