"""all-MiniLM-L6-v2 as an ONNX graph, built from its ``model.safetensors`` at ``models install`` time.

Why: the encoder used to be a BERT written in NumPy (about 10 texts/s on two cores); onnxruntime,
already a dependency, runs the same network several times faster, and building the graph here
with the ``onnx`` helper API needs neither torch nor transformers. The graph is the whole
sentence-transformers pipeline of the model (``modules.json``: Transformer → Pooling(mean) →
Normalize), written as the Hugging Face ``BertModel`` computes it:

- embeddings: word + position + token type 0 (single sentences), then LayerNorm;
- per layer: self-attention (scores / sqrt(head dim), padded keys masked with float32's minimum, as
  ``BertModel`` does), residual + LayerNorm, GELU (exact, erf) feed-forward, residual + LayerNorm;
- mean over the tokens the attention mask keeps (count clamped at 1e-9), then L2 normalisation
  (norm clamped at 1e-12), as sentence-transformers' Pooling and Normalize modules do.

Inputs ``input_ids`` and ``attention_mask`` (int64, batch × tokens, from ``tokenizer.json``);
output ``sentence_embedding`` (float32, batch × 384, unit rows).

With ``fused`` (the default, what ``models install`` writes) each layer is expressed with
onnxruntime's own transformer operators (``com.microsoft`` Attention with packed QKV weights,
SkipLayerNormalization, BiasGelu), the form its BERT optimiser produces from a PyTorch export and
which its CPU kernels run fastest; its attention masks padded keys with -10000 instead of float32's
minimum, which changes nothing once exponentiated. ``fused=False`` writes the same network in
standard ONNX operators only, for other runtimes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np

OPSET = 17  # LayerNormalization; understood by every onnxruntime >= 1.15
IR_VERSION = 8


def build(safetensors: bytes, config_json: bytes, fused: bool = True) -> bytes:
    """The serialized ONNX model of the BERT weights in ``safetensors`` with ``config.json``."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from safetensors.numpy import load as load_safetensors

    config = json.loads(config_json)
    layers, heads = int(config["num_hidden_layers"]), int(config["num_attention_heads"])
    hidden, eps = int(config["hidden_size"]), float(config.get("layer_norm_eps", 1e-12))
    head_dim = hidden // heads
    w = {k.removeprefix("bert."): v for k, v in load_safetensors(safetensors).items()}
    nodes: list[Any] = []
    inits: list[Any] = []
    used: set[str] = set()

    def const(name: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def weight(key: str, transpose: bool = False) -> str:
        used.add(key)
        value = w[key].astype(np.float32)
        return const(key, value.T if transpose else value)

    def node(op: str, inputs: list[str], output: str, **attrs: Any) -> str:
        nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    def ms(op: str, inputs: list[str], output: str, **attrs: Any) -> str:
        nodes.append(helper.make_node(op, inputs, [output], name=output, domain="com.microsoft", **attrs))
        return output

    def linear(x: str, p: str, out: str) -> str:
        y = node("MatMul", [x, weight(p + ".weight", transpose=True)], out + ".mm")
        return node("Add", [y, weight(p + ".bias")], out)

    def layer_norm(x: str, p: str, out: str) -> str:
        return node(
            "LayerNormalization", [x, weight(p + ".weight"), weight(p + ".bias")], out, axis=-1, epsilon=eps
        )

    f32 = lambda v: np.array(v, dtype=np.float32)  # noqa: E731
    i64 = lambda v: np.array(v, dtype=np.int64)  # noqa: E731
    const("count_min", f32(1e-9))
    const("norm_min", f32(1e-12))
    const("axis0", i64([0]))
    const("axis1", i64([1]))
    const("zero1", i64([0]))
    if not fused:  # (onnxruntime warns about initializers that no node reads)
        const("one", f32(1.0))
        const("half", f32(0.5))
        const("sqrt2", f32(math.sqrt(2.0)))
        const("score_scale", f32(math.sqrt(head_dim)))
        const("mask_min", f32(np.finfo(np.float32).min))
        const("axes12", i64([1, 2]))
        const("heads_shape", i64([0, 0, heads, head_dim]))
        const("hidden_shape", i64([0, 0, hidden]))

    e = "embeddings."
    words = node("Gather", [weight(e + "word_embeddings.weight"), "input_ids"], "emb.words")
    seq = node("Shape", ["input_ids"], "emb.seq", start=1, end=2)
    positions = node("Slice", [weight(e + "position_embeddings.weight"), "zero1", seq, "axis0"], "emb.pos")
    used.add(e + "token_type_embeddings.weight")
    type0 = const("emb.type0", w[e + "token_type_embeddings.weight"][0].astype(np.float32))
    x = node("Add", [node("Add", [words, positions], "emb.wp"), type0], "emb.sum")
    x = layer_norm(x, e + "LayerNorm", "emb.out")

    mask = node("Cast", ["attention_mask"], "mask.f", to=TensorProto.FLOAT)
    bias = ""
    if not fused:  # (1 - mask) * float32 min, shaped (batch, 1, 1, tokens): padded keys get no attention
        inverted = node("Sub", ["one", mask], "mask.inv")
        bias = node("Unsqueeze", [node("Mul", [inverted, "mask_min"], "mask.min"), "axes12"], "mask.bias")

    mask32 = node("Cast", ["attention_mask"], "mask.i32", to=TensorProto.INT32) if fused else ""
    for i in range(layers):
        p = f"encoder.layer.{i}."
        a = p + "attention."
        if fused:
            x = _fused_layer(w, x, p, heads, eps, mask32, node, ms, weight, const, used)
            continue

        def split(t: str, perm: list[int], name: str, a: str = a) -> str:
            r = node("Reshape", [t, "heads_shape"], a + name + ".split")
            return node("Transpose", [r], a + name + ".heads", perm=perm)

        q = split(linear(x, a + "self.query", a + "q"), [0, 2, 1, 3], "q")
        k = split(linear(x, a + "self.key", a + "k"), [0, 2, 3, 1], "k")
        v = split(linear(x, a + "self.value", a + "v"), [0, 2, 1, 3], "v")
        scores = node("Div", [node("MatMul", [q, k], a + "qk"), "score_scale"], a + "scaled")
        probs = node("Softmax", [node("Add", [scores, bias], a + "masked")], a + "probs", axis=-1)
        ctx = node("Transpose", [node("MatMul", [probs, v], a + "ctx.heads")], a + "ctx.t", perm=[0, 2, 1, 3])
        ctx = node("Reshape", [ctx, "hidden_shape"], a + "ctx")
        out = linear(ctx, a + "output.dense", a + "out")
        x = layer_norm(node("Add", [out, x], a + "residual"), a + "output.LayerNorm", a + "norm")
        inner = linear(x, p + "intermediate.dense", p + "inner")
        erf = node("Erf", [node("Div", [inner, "sqrt2"], p + "gelu.div")], p + "gelu.erf")
        gelu = node(
            "Mul",
            [node("Mul", [inner, node("Add", [erf, "one"], p + "gelu.add")], p + "gelu.mul"), "half"],
            p + "gelu",
        )
        out = linear(gelu, p + "output.dense", p + "ffn")
        x = layer_norm(node("Add", [out, x], p + "residual"), p + "output.LayerNorm", p + "out")

    keep = node("Unsqueeze", [mask, const("axis2", i64([2]))], "pool.keep")
    summed = node("ReduceSum", [node("Mul", [x, keep], "pool.masked"), "axis1"], "pool.sum", keepdims=0)
    count = node("ReduceSum", [keep, "axis1"], "pool.count", keepdims=0)
    mean = node("Div", [summed, node("Max", [count, "count_min"], "pool.count_min")], "pool.mean")
    square = node("ReduceSum", [node("Mul", [mean, mean], "norm.sq"), "axis1"], "norm.sum", keepdims=1)
    norm = node("Max", [node("Sqrt", [square], "norm.l2"), "norm_min"], "norm.clamped")
    node("Div", [mean, norm], "sentence_embedding")

    unused = {k for k, v in w.items() if v.dtype == np.float32 and not k.startswith("pooler.")} - used
    if unused:
        raise ValueError(f"weights not used by the graph: {sorted(unused)[:5]}")
    graph = helper.make_graph(
        nodes,
        "all-MiniLM-L6-v2",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "tokens"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "tokens"]),
        ],
        [helper.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT, ["batch", hidden])],
        inits,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="mediarec models install"
    )
    if fused:
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)  # the contrib operators' schemas are unknown to onnx: not checked
    return bytes(model.SerializeToString())


def _fused_layer(
    w: dict[str, np.ndarray],
    x: str,
    p: str,
    heads: int,
    eps: float,
    mask32: str,
    node: Callable[..., str],
    ms: Callable[..., str],
    weight: Callable[..., str],
    const: Callable[[str, np.ndarray], str],
    used: set[str],
) -> str:
    """One BERT layer in onnxruntime's contrib operators; returns the layer's output name."""
    a = p + "attention."
    qkv = [f"{a}self.{n}" for n in ("query", "key", "value")]
    used.update({f"{q}.{k}" for q in qkv for k in ("weight", "bias")})
    qkv_w = np.concatenate([w[q + ".weight"].T for q in qkv], axis=1).astype(np.float32)
    qkv_b = np.concatenate([w[q + ".bias"] for q in qkv]).astype(np.float32)
    inputs = [x, const(a + "qkv.weight", qkv_w), const(a + "qkv.bias", qkv_b), mask32]
    ctx = ms("Attention", inputs, a + "ctx", num_heads=heads)

    def dense_skip_norm(y: str, dense: str, norm: str, skip: str, out: str) -> str:
        mm = node("MatMul", [y, weight(dense + ".weight", transpose=True)], out + ".mm")
        params = [weight(norm + ".weight"), weight(norm + ".bias"), weight(dense + ".bias")]
        return str(ms("SkipLayerNormalization", [mm, skip, *params], out, epsilon=eps))

    x = dense_skip_norm(ctx, a + "output.dense", a + "output.LayerNorm", x, a + "norm")
    inner = node("MatMul", [x, weight(p + "intermediate.dense.weight", transpose=True)], p + "inner.mm")
    gelu = ms("BiasGelu", [inner, weight(p + "intermediate.dense.bias")], p + "gelu")  # exact (erf) GELU
    return dense_skip_norm(gelu, p + "output.dense", p + "output.LayerNorm", x, p + "out")
