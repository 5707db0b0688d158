"""The model card (README.md of a zoo entry), written from the entry's measured facts."""

from __future__ import annotations

from typing import Any

__all__ = ["model_card"]


def _table(rows: list[tuple[str, object]]) -> str:
    return "\n".join(["| | |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)])


def _signed(n: int) -> str:
    return f"+ {n}" if n >= 0 else f"- {-n}"


def _huffman_note(m: dict[str, Any]) -> str:
    """The entropy-coded size, with what it is and is not (only when it was measured)."""
    if "weights_huffman_bytes" not in m:
        return ""
    raw, coded = m["weights_int8_bytes"], m["weights_huffman_bytes"]
    use = (
        "the coded one is only what storing or transmitting the weights (an update over the "
        "air) would take"
        if coded < raw
        else "coding does not pay here (the code table outweighs what it saves: int8 weights "
        "spread over most of their 256 levels), so storing or sending them would keep them raw"
    )
    return (
        f"Weights: {raw:,} B of int8 in the .tflite; Huffman-coded, {coded:,} B (code table "
        f"included). TFLM runs the raw .tflite, so the board's flash needs the raw figure above; "
        f"{use}.\n\n"
    )


def _compression(entry: dict[str, Any]) -> str:
    """The per-stage table, for entries the compression chain produced."""
    if not entry.get("compression"):
        return ""
    from nas.compress import report_markdown

    p = entry.get("params", {})
    how = f"teacher {p.get('teacher', 'none')}"
    if p.get("teacher", "none") != "none":
        how += f", T {p.get('temperature')}, alpha {p.get('alpha')}"
    alone = (
        ""
        if any(st.get("key") == "student" for st in entry["compression"])
        else " This run did not train the student on the labels alone (the first stage "
        "otherwise): the table starts from the distilled model."
    )
    return (
        f"## Compression\n\nWhat each stage of the final training bought ({how}; "
        f"validation and test splits of the task).{alone}\n\n"
        f"{report_markdown(entry['compression'])}\n"
    )


def _latency_note(entry: dict[str, Any]) -> str:
    ms, lat = entry["metrics"].get("latency_ms_estimate"), entry.get("latency")
    if ms is None or not lat:
        return ""
    how = "measured on a benchmark" if lat["measured"] else "extrapolated"
    return (
        f"\nEstimated latency on {lat['board']}: about {ms:.1f} ms per inference. This is an "
        f"ESTIMATE, not a measurement: {lat['cycles_per_mac']:g} cycles per MAC for a "
        f"{lat['family']} ({how}: {lat['source'].removeprefix(how + ': ')}) plus {lat['cycles_per_op']:g} cycles per "
        f"operator, at {lat['clock_mhz']} MHz, for TFLM with optimised kernels. See "
        "nas/latency.py.\n"
    )


def _budget_text(b: dict[str, Any]) -> str:
    """The budget's bounded fields in words; unbounded ones are left out."""
    parts = [
        (b.get("ram_bytes"), "RAM (TFLM arena) {:,} B"),
        (b.get("flash_bytes"), "flash (.tflite) {:,} B"),
        (b.get("max_macs"), "{:,} MACs"),
        (b.get("max_latency_ms"), "latency {:g} ms (estimated)"),
        (b.get("max_peak_bytes"), "activation peak {:,} B (muNAS's definition)"),
        (b.get("max_weight_bytes"), "weights {:,} B (one byte per parameter)"),
    ]
    return ", ".join(fmt.format(v) for v, fmt in parts if v is not None) or "none"


def model_card(entry: dict[str, Any], profile: Any) -> str:
    m = entry["metrics"]
    b = entry["budget"]
    iq, oq = entry["input_quant"], entry["output_quant"]
    peak = profile.layers[profile.peak_index]
    layers = "\n".join(
        f"| {i} | {r.op} | {'x'.join(map(str, r.output_shape))} | {r.macs:,} | {r.weight_bytes:,} | "
        f"{r.live_bytes:,}{' (peak)' if i == profile.peak_index else ''} |"
        for i, r in enumerate(profile.layers)
    )
    if entry.get("params", {}).get("role") == "teacher":
        what = (
            f"int8 {entry['task']} distillation teacher: space `{entry['space']}`'s teacher "
            "architecture, trained with no\nboard budget and verified on the TensorFlow Lite "
            "Micro runtime. Searches distil from its float\nweights, `teacher.weights.h5`."
        )
    else:
        what = (
            f"int8 {entry['task']} classifier for {entry['board'] or 'a custom budget'}, found "
            f"by tinyzoo's\nsearch in space `{entry['space']}` and verified on the TensorFlow "
            "Lite Micro runtime."
        )
    return f"""# {entry["name"]}

{what}

Architecture: `{entry["arch"]}`

## Measured

Every figure was measured on this entry's int8 `model.tflite`: accuracy on the task's test
split ({m.get("test_samples", "?")} samples) run on TFLM's reference kernels, arena from TFLM's
allocation record.

{
        _table(
            [
                ("int8 test accuracy", f"{m['int8_accuracy']:.4f}"),
                ("float test accuracy (before quantization)", f"{m['float_accuracy']:.4f}"),
                ("TFLM arena (kTensorArenaSize)", f"{m['arena_bytes']:,} B"),
                ("of which activations (planner head)", f"{m['activation_bytes']:,} B"),
                (".tflite size (flash for the model)", f"{m['tflite_bytes']:,} B"),
                ("flash with the board's runtime reserve", f"{m['flash_bytes']:,} B"),
                ("MACs per inference", f"{m['macs']:,}"),
                ("parameters", f"{m['params']:,}"),
            ]
        )
    }
{_latency_note(entry)}
{_huffman_note(m)}Budget it was searched under: {
        _budget_text(b)
    }. The arena was measured with TFLM's reference kernels; an
optimised kernel build (CMSIS-NN) may request different scratch memory.

{_compression(entry)}## Input and output

- Input: int8 tensor of shape 1x{"x".join(map(str, entry["input_shape"]))}.
- Preprocessing: {entry["preprocessing"]}; then `q = clamp(round(x / {iq["scale"]:.9g}) {
        _signed(iq["zero_point"])
    }, -128, 127)`.
- Output: int8 logits for {len(entry["labels"])} classes ({", ".join(entry["labels"])});
  `argmax` gives the class; real logits are `(q {_signed(-oq["zero_point"])}) * {oq["scale"]:.9g}`.

## Layers

Peak memory is at layer {profile.peak_index} ({peak.op}, {peak.live_bytes:,} B live).

| # | op | output | MACs | weight bytes | live bytes |
|---|---|---|---|---|---|
{layers}

## Files

`model.tflite`, `model_data.h` / `model_data.cc` (the model as a C array, 16-byte aligned,
with the measured arena size), `main.cc` (the TFLM calls), `profile.json` (per-layer rows).
The .tflite is for TFLM, which reads one zero point for all channels of a weight tensor; a file
tinyzoo converts stores only that one (8 B less per channel), which TensorFlow Lite's desktop
interpreter refuses: `nas.quantize.expand_zero_points` gives it a file it runs.
"""
