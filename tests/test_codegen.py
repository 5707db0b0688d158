"""nas.codegen: TFLM C sources from a real int8 .tflite, checked with the host compiler."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from nas.codegen import write_c_sources
from nas.codegen._ops import RESOLVER_METHODS
from nas.errors import TinyzooError

ARCH = "r8x8x1_c3s1c4_ds3s1c8_gap_fc10"
GXX = shutil.which("g++")
needs_gxx = pytest.mark.skipif(GXX is None, reason="host C++ compiler g++ not found")


@pytest.fixture(scope="session")
def tflite_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, list[str]]:
    """A real int8 model from the converter, and its ops as TensorFlow's interpreter lists them."""
    tf = pytest.importorskip("tensorflow")
    from searchspaces._arch import ArchSpec
    from searchspaces._build import build

    saved = tmp_path_factory.mktemp("saved_model")
    build(ArchSpec.parse(ARCH)).export(str(saved), format="tf_saved_model", verbose=False)
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved))
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    rng = np.random.default_rng(0)
    converter.representative_dataset = lambda: (
        [rng.random((1, 8, 8, 1), dtype=np.float32)] for _ in range(16)
    )
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    data = converter.convert()
    interpreter = tf.lite.Interpreter(model_content=data)
    ops = sorted({op["op_name"] for op in interpreter._get_ops_details()})
    return data, ops


def _tiny(ops: tuple[str, ...] = ("FULLY_CONNECTED",), dtype: str = "INT8") -> bytes:
    """A hand-built flatbuffer with the given operator codes: fast, and reaches odd cases."""
    import flatbuffers
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as s

    model = s.ModelT()
    model.version = 3
    model.operatorCodes = []
    for op in ops:
        oc = s.OperatorCodeT()
        if op.startswith("CUSTOM:"):
            oc.builtinCode = oc.deprecatedBuiltinCode = s.BuiltinOperator.CUSTOM
            oc.customCode = op.removeprefix("CUSTOM:")
        else:
            oc.builtinCode = getattr(s.BuiltinOperator, op)
            oc.deprecatedBuiltinCode = min(oc.builtinCode, 127)
        model.operatorCodes.append(oc)
    tensors = []
    for name, shape in (("in", [1, 4]), ("out", [1, 3])):
        t = s.TensorT()
        t.name, t.shape, t.type, t.buffer = name, shape, getattr(s.TensorType, dtype), 0
        t.quantization = s.QuantizationParametersT()
        t.quantization.scale, t.quantization.zeroPoint = [0.5], [-3]
        tensors.append(t)
    graph = s.SubGraphT()
    graph.tensors, graph.inputs, graph.outputs, graph.operators = tensors, [0], [1], []
    for i in range(len(ops)):
        o = s.OperatorT()
        o.opcodeIndex, o.inputs, o.outputs = i, [0], [1]
        graph.operators.append(o)
    model.subgraphs, model.buffers = [graph], [s.BufferT()]
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _add_calls(main_cc: str) -> list[str]:
    return re.findall(r"resolver\.(Add\w+)\(\)", main_cc)


# ---------------------------------------------------------------- real model


@pytest.mark.slow  # converts a model (~5 s, once per session)
def test_files_and_exact_ops(tflite_model: tuple[bytes, list[str]], tmp_path: Path) -> None:
    data, tf_ops = tflite_model
    paths = write_c_sources(data, tmp_path, arena_bytes=4321)
    assert [p.name for p in paths] == ["model_data.h", "model_data.cc", "main.cc"]
    header, array, main = (p.read_text() for p in paths)
    assert "constexpr int kTensorArenaSize = 4321;" in header
    assert "reference kernels" in header and "CMSIS-NN" in header
    assert "extern const unsigned char g_model[];" in header
    assert "extern const unsigned int g_model_len;" in header
    assert "#include <cstdint>" in header and "#include <cstddef>" in header
    assert "constexpr int kInputShape[] = {1, 8, 8, 1};" in header
    assert "constexpr int kNumClasses = 10;" in header
    assert "alignas(16) const unsigned char g_model[] = {" in array
    assert f"const unsigned int g_model_len = {len(data)};" in array
    rows = [line for line in array.splitlines() if line.startswith("    0x")]
    assert all(row.count("0x") == 12 for row in rows[:-1]) and 1 <= rows[-1].count("0x") <= 12
    # Exactly the model's operators, as TensorFlow's own interpreter lists them.
    expected = sorted(RESOLVER_METHODS[op] for op in tf_ops)
    assert _add_calls(main) == expected
    assert f"MicroMutableOpResolver<{len(expected)}> resolver;" in main
    assert "alignas(16) static uint8_t tensor_arena[kTensorArenaSize];" in main
    for call in ("tflite::GetModel(g_model)", "AllocateTensors()", "Invoke()", "MicroPrintf("):
        assert call in main


@pytest.mark.slow  # converts a model (~5 s, once per session)
def test_deterministic(tflite_model: tuple[bytes, list[str]], tmp_path: Path) -> None:
    data, _ = tflite_model
    a = write_c_sources(data, tmp_path / "a", arena_bytes=1000, labels=list("abcdefghij"))
    b = write_c_sources(data, tmp_path / "b", arena_bytes=1000, labels=list("abcdefghij"))
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]


@pytest.mark.slow  # converts a model (~5 s, once per session)
@needs_gxx
def test_array_compiles_links_and_matches(
    tflite_model: tuple[bytes, list[str]], tmp_path: Path
) -> None:
    data, _ = tflite_model
    write_c_sources(data, tmp_path, arena_bytes=2048, labels=[f"c{i}" for i in range(10)])
    driver = tmp_path / "driver.cc"
    driver.write_text(
        '#include <cstdint>\n#include <cstdio>\n#include "model_data.h"\n'
        "int main() {\n"
        '  std::printf("%u %d %d %s\\n", g_model_len, kTensorArenaSize,\n'
        "              static_cast<int>(reinterpret_cast<std::uintptr_t>(g_model) % 16),\n"
        "              kLabels[9]);\n"
        '  for (unsigned i = 0; i < g_model_len; ++i) std::printf("%02x", g_model[i]);\n'
        "  return 0;\n}\n"
    )

    def gxx(*args: str) -> None:
        out = subprocess.run(
            [GXX, "-std=c++17", "-Wall", "-Werror", *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
        )
        assert out.returncode == 0, out.stderr

    gxx("-c", "model_data.cc", "-o", "model_data.o")
    gxx("driver.cc", "model_data.o", "-o", "driver")
    run = subprocess.run([str(tmp_path / "driver")], capture_output=True, text=True, check=True)
    first, hexdump = run.stdout.split("\n", 1)
    assert first == f"{len(data)} 2048 0 c9"
    assert bytes.fromhex(hexdump) == data


# TFLM's API as main.cc uses it (declarations only), to compile main.cc without a TFLM tree:
# catches malformed C++ and calls to resolver methods that the table does not list.
_TFLM_STUB = """
#pragma once
#include <cstddef>
#include <cstdint>
typedef enum { kTfLiteOk = 0, kTfLiteError = 1 } TfLiteStatus;
struct TfLiteIntArray { int size; int data[8]; };
struct TfLiteQuantizationParams { float scale; int32_t zero_point; };
union TfLitePtrUnion { int8_t* int8; uint8_t* uint8; int16_t* i16; float* f; };
struct TfLiteTensor { TfLitePtrUnion data; TfLiteIntArray* dims;
                      TfLiteQuantizationParams params; size_t bytes; };
void MicroPrintf(const char* format, ...);
namespace tflite {
struct Model { uint32_t version() const; };
const Model* GetModel(const void* buffer);
void InitializeTarget();
class MicroOpResolver {};
template <unsigned int N> class MicroMutableOpResolver : public MicroOpResolver {
 public:
%s
};
class MicroInterpreter {
 public:
  MicroInterpreter(const Model*, const MicroOpResolver&, uint8_t*, size_t);
  TfLiteStatus AllocateTensors();
  TfLiteStatus Invoke();
  TfLiteTensor* input(size_t);
  TfLiteTensor* output(size_t);
  size_t arena_used_bytes() const;
};
}  // namespace tflite
"""


def _stub_tflm(root: Path) -> None:
    methods = "\n".join(f"  TfLiteStatus {m}();" for m in sorted(set(RESOLVER_METHODS.values())))
    for name in ("micro_interpreter", "micro_log", "micro_mutable_op_resolver", "system_setup"):
        path = root / "tensorflow/lite/micro" / f"{name}.h"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_TFLM_STUB % methods)
    schema = root / "tensorflow/lite/schema/schema_generated.h"
    schema.parent.mkdir(parents=True, exist_ok=True)
    schema.write_text("#pragma once\n")


@needs_gxx
@pytest.mark.parametrize("dtype", ["INT8", "FLOAT32"])
def test_main_cc_compiles_against_tflm_api(tmp_path: Path, dtype: str) -> None:
    write_c_sources(
        _tiny(("FULLY_CONNECTED", "SOFTMAX"), dtype),
        tmp_path,
        arena_bytes=512,
        labels=["a", "b", "c"],
    )
    _stub_tflm(tmp_path / "stub")
    out = subprocess.run(
        [
            GXX,
            "-std=c++17",
            "-Wall",
            "-Werror",
            "-fsyntax-only",
            "-I",
            "stub",
            "-I",
            ".",
            "main.cc",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr


# ---------------------------------------------------------------- fast cases, no TensorFlow


def test_labels_and_quantization_in_header(tmp_path: Path) -> None:
    header, array, main = (
        p.read_text()
        for p in write_c_sources(_tiny(), tmp_path, arena_bytes=64, labels=["x", 'q"ü', "z"])
    )
    assert "constexpr float kInputScale = 0.5f;" in header and "kInputZeroPoint = -3;" in header
    assert "real value = (q + 3) * 0.5." in header
    assert '"q\\"\\303\\274",' in array  # quote escaped, UTF-8 as octal bytes
    assert "kLabels[best]" in main and _add_calls(main) == ["AddFullyConnected"]


def test_custom_name(tmp_path: Path) -> None:
    header, array, main = (
        p.read_text() for p in write_c_sources(_tiny(), tmp_path, arena_bytes=64, name="kws_model")
    )
    assert "extern const unsigned int kws_model_len;" in header
    assert "alignas(16) const unsigned char kws_model[]" in array and "GetModel(kws_model)" in main


def test_unsupported_op_is_named(tmp_path: Path) -> None:
    with pytest.raises(TinyzooError, match="CUSTOM:FancyOp") as err:
        write_c_sources(_tiny(("CONV_2D", "CUSTOM:FancyOp")), tmp_path, arena_bytes=64)
    assert "CONV_2D" not in str(err.value).split("cannot")[0]
    with pytest.raises(TinyzooError, match="NON_MAX_SUPPRESSION_V4"):
        write_c_sources(_tiny(("NON_MAX_SUPPRESSION_V4",)), tmp_path, arena_bytes=64)
    assert not list(tmp_path.iterdir())  # nothing half-written


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"arena_bytes": 0}, "positive integer"),
        ({"arena_bytes": 64, "name": "2model"}, "not a C identifier"),
        ({"arena_bytes": 64, "labels": ["a", "b"]}, "2 labels given for a model with 3"),
    ],
)
def test_bad_arguments(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(TinyzooError, match=message):
        write_c_sources(_tiny(), tmp_path, **kwargs)


def test_not_a_tflite(tmp_path: Path) -> None:
    with pytest.raises(TinyzooError, match="not a .tflite"):
        write_c_sources(b"\x00" * 64, tmp_path, arena_bytes=64)
    with pytest.raises(TinyzooError, match="corrupt or truncated"):
        write_c_sources(_tiny()[:40], tmp_path, arena_bytes=64)
