"""EfficientNet-Lite0 as an ONNX graph, built from its PyTorch state dict at ``models install`` time.

Why: torch (with the CUDA and triton wheels PyPI's Linux build drags in) was 4.6 GB of a 6.2 GB
install, only to run a 4.7 M-parameter CNN. onnxruntime, already needed by the OCR and audio stages,
runs the same network. The graph is written with the ``onnx`` package's helper API from the weights
(read by :mod:`mediarec.kit._torchfile`, no torch) and mirrors ``efficientnet_lite_pytorch``'s
forward exactly:

- every convolution is followed by batch norm, folded here into the convolution's weights and bias
  (eval mode: ``y = (conv - mean) / sqrt(var + eps) * gamma + beta``), computed in float64;
- activations are ReLU6 (``Clip(0, 6)``); Lite has no squeeze-excitation;
- "same" padding is TensorFlow's, fixed at build time for the 224-px training size as the PyTorch
  port does (``Conv2dStaticSamePadding``), so any input size is padded as the torch path pads it;
- outputs: ``embedding`` (the 1280 channels averaged over the feature map), ``logits`` and
  ``probabilities`` (softmax over the 1000 ImageNet classes).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from mediarec.kit._torchfile import load_state_dict

OPSET = 17  # understood by every onnxruntime >= 1.15
IR_VERSION = 8
BN_EPS = 1e-3  # efficientnet_lite's batch_norm_epsilon
TRAIN_SIZE = 224  # the size the PyTorch port computes its static "same" padding for
# (repeats, kernel, stride of the first repeat) per stage of efficientnet-lite0, from the port's
# block strings 'r1_k3_s11_e1_i32_o16' ... 'r1_k3_s11_e6_i192_o320' (not recoverable from weights).
STAGES = ((1, 3, 1), (2, 3, 2), (2, 5, 2), (3, 3, 2), (3, 5, 1), (4, 5, 2), (1, 3, 1))


def _same_pads(size: int, kernel: int, stride: int) -> tuple[list[int], int]:
    """ONNX pads [top, left, bottom, right] of TF "same" padding at input ``size``, and the output size."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    lo, hi = total // 2, total - total // 2
    return [lo, lo, hi, hi], out


class _Graph:
    def __init__(self, weights: dict[str, np.ndarray]) -> None:
        from onnx import helper

        self.helper = helper
        self.w = weights
        self.nodes: list[Any] = []
        self.inits: list[Any] = []
        self.used: set[str] = set()
        self._count = 0

    def name(self, stem: str) -> str:
        self._count += 1
        return f"{stem}_{self._count}"

    def const(self, name: str, value: np.ndarray) -> str:
        from onnx import numpy_helper

        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def conv_bn(
        self, x: str, conv: str, bn: str, size: int, stride: int, groups: int, relu6: bool
    ) -> tuple[str, int]:
        """Conv + folded batch norm (+ ReLU6) at spatial ``size`` (of the 224-px graph); returns the
        output name and size."""
        weight = self.w[conv + ".weight"].astype(np.float64)
        gamma, beta = self.w[bn + ".weight"].astype(np.float64), self.w[bn + ".bias"].astype(np.float64)
        mean, var = (
            self.w[bn + ".running_mean"].astype(np.float64),
            self.w[bn + ".running_var"].astype(np.float64),
        )
        self.used.update(
            {conv + ".weight"} | {f"{bn}.{k}" for k in ("weight", "bias", "running_mean", "running_var")}
        )
        scale = gamma / np.sqrt(var + BN_EPS)
        w = self.const(conv + ".w", (weight * scale[:, None, None, None]).astype(np.float32))
        b = self.const(conv + ".b", (beta - mean * scale).astype(np.float32))
        kernel = int(weight.shape[-1])
        pads, out_size = _same_pads(size, kernel, stride)
        y = self.name(conv)
        self.nodes.append(
            self.helper.make_node(
                "Conv",
                [x, w, b],
                [y],
                kernel_shape=[kernel, kernel],
                strides=[stride, stride],
                pads=pads,
                group=groups,
            )
        )
        if relu6:
            z = self.name(conv + ".relu6")
            self.nodes.append(self.helper.make_node("Clip", [y, "zero", "six"], [z]))
            y = z
        return y, out_size


def build(pth: bytes) -> bytes:
    """The serialized ONNX model of the EfficientNet-Lite0 state dict in ``pth`` (a ``.pth`` file)."""
    import onnx
    from onnx import TensorProto, helper

    weights = load_state_dict(pth)
    g = _Graph(weights)
    g.const("zero", np.array(0.0, np.float32))
    g.const("six", np.array(6.0, np.float32))
    x, size = g.conv_bn("pixels", "_conv_stem", "_bn0", TRAIN_SIZE, 2, 1, True)
    index = 0
    for repeats, kernel, first_stride in STAGES:
        for r in range(repeats):
            p = f"_blocks.{index}."
            stride = first_stride if r == 0 else 1
            inputs = x
            if p + "_expand_conv.weight" in weights:  # expand ratio 1 (the first block) has none
                x, _ = g.conv_bn(x, p + "_expand_conv", p + "_bn0", size, 1, 1, True)
            channels = weights[p + "_depthwise_conv.weight"].shape[0]
            if weights[p + "_depthwise_conv.weight"].shape[-1] != kernel:
                raise ValueError(f"block {index}: kernel differs from efficientnet-lite0's")
            x, out_size = g.conv_bn(x, p + "_depthwise_conv", p + "_bn1", size, stride, channels, True)
            x, _ = g.conv_bn(x, p + "_project_conv", p + "_bn2", out_size, 1, 1, False)
            expand = weights.get(p + "_expand_conv.weight")
            in_ch = expand.shape[1] if expand is not None else channels
            out_ch = weights[p + "_project_conv.weight"].shape[0]
            if stride == 1 and in_ch == out_ch:  # the port's id_skip residual
                y = g.name(p + "add")
                g.nodes.append(helper.make_node("Add", [x, inputs], [y]))
                x = y
            size = out_size
            index += 1
    if f"_blocks.{index}._depthwise_conv.weight" in weights:
        raise ValueError("more blocks in the weights than efficientnet-lite0 has")
    x, _ = g.conv_bn(x, "_conv_head", "_bn1", size, 1, 1, True)
    g.nodes.append(helper.make_node("GlobalAveragePool", [x], ["pooled4d"]))
    g.nodes.append(helper.make_node("Flatten", ["pooled4d"], ["embedding"], axis=1))
    fc_w = g.const("fc.weight", weights["_fc.weight"].astype(np.float32))
    fc_b = g.const("fc.bias", weights["_fc.bias"].astype(np.float32))
    g.used.update({"_fc.weight", "_fc.bias"})
    g.nodes.append(helper.make_node("Gemm", ["embedding", fc_w, fc_b], ["logits"], transB=1))
    g.nodes.append(helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1))
    unused = {k for k in weights if not k.endswith("num_batches_tracked")} - g.used
    if unused:
        raise ValueError(f"weights not used by the graph: {sorted(unused)[:5]}")
    classes = int(weights["_fc.weight"].shape[0])
    dim = int(weights["_fc.weight"].shape[1])
    graph = helper.make_graph(
        g.nodes,
        "efficientnet-lite0",
        [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["batch", 3, "height", "width"])],
        [
            helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", dim]),
            helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", classes]),
            helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", classes]),
        ],
        g.inits,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="mediarec models install"
    )
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return bytes(model.SerializeToString())
