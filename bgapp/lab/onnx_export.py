"""Keras U-Net -> ONNX, so that a cut-out runs on ONNX Runtime without importing TensorFlow.

Why: ``import tensorflow`` and building the network cost 6-8 s before a seller's first photo, and
TensorFlow prints log lines to their terminal; ONNX Runtime (a 50 MB wheel) loads the same network
in a fraction of a second. TensorFlow stays the training runtime; ``train`` (and ``export-onnx``
for older weights) writes ``NAME.onnx`` next to ``NAME.npz``.

The converter walks the functional graph and knows exactly the layer types our U-Nets use
(convolutions, depthwise/separable convolutions, BatchNorm, ReLU/ReLU6, hard-sigmoid/hard-swish,
add, multiply, global average pooling, zero padding, max pooling, bilinear upsampling,
concatenation, rescaling, softmax); any other layer is an error, never a silent mistranslation.
Keras is NHWC and ONNX convolutions are NCHW: the graph transposes once at the input and once at
the output, so the ONNX model takes and returns the same arrays as the Keras one. Height and width
are free, so one file serves every ``size`` setting. Kernels are stored as float16 (half the bytes,
cast back to float32 when the session loads) and everything else as float32; ONNX Runtime folds
each BatchNorm's multiply-add into the convolution before it when the session loads.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

OPSET = 17


class _Graph:
    """Collects ONNX nodes and initializers while the Keras layers are walked."""

    def __init__(self, helper, numpy_helper):
        self.helper, self.numpy_helper = helper, numpy_helper
        self.nodes: list = []
        self.initializers: list = []
        self.count = 0

    def name(self, hint: str) -> str:
        self.count += 1
        return f"{hint}_{self.count}"

    def const(self, value: np.ndarray, hint: str, half: bool = False) -> str:
        """An initializer; ``half`` stores it as float16 with a Cast back to float32."""
        name = self.name(hint)
        if half and value.dtype == np.float32 and value.size > 64:
            stored = self.name(hint + "_f16")
            self.initializers.append(self.numpy_helper.from_array(value.astype(np.float16), stored))
            self.node("Cast", [stored], name, to=1)
        else:
            self.initializers.append(self.numpy_helper.from_array(value, name))
        return name

    def node(self, op: str, inputs: list[str], output: str | None = None, **attrs) -> str:
        output = output or self.name(op.lower())
        self.nodes.append(self.helper.make_node(op, inputs, [output], **attrs))
        return output


def _pads(layer, kernel: tuple[int, int]) -> dict:
    if layer.padding == "valid":
        return {"pads": [0, 0, 0, 0]}
    if all(k == 1 for k in kernel):
        return {"pads": [0, 0, 0, 0]}
    return {"auto_pad": "SAME_UPPER"}  # TensorFlow's "same": any odd pixel of padding goes at the end


def _activation(graph: _Graph, x: str, name: str) -> str:
    if name in ("linear", None):
        return x
    if name == "relu":
        return graph.node("Relu", [x])
    if name == "hard_sigmoid":
        return graph.node("HardSigmoid", [x], alpha=1.0 / 6.0, beta=0.5)
    if name in ("hard_swish", "hard_silu"):
        return graph.node("HardSwish", [x])
    if name == "sigmoid":
        return graph.node("Sigmoid", [x])
    raise ValueError(f"activation {name!r} is not supported by the ONNX export")


def _conv(graph: _Graph, x: str, kernel: np.ndarray, bias: np.ndarray | None, layer, group: int = 1) -> str:
    inputs = [x, graph.const(kernel.astype(np.float32), layer.name + "_w", half=True)]
    if bias is not None:
        inputs.append(graph.const(bias.astype(np.float32), layer.name + "_b"))
    strides = list(getattr(layer, "strides", (1, 1)))
    dilations = list(getattr(layer, "dilation_rate", (1, 1)))
    return graph.node(
        "Conv",
        inputs,
        strides=strides,
        dilations=dilations,
        group=group,
        kernel_shape=list(kernel.shape[2:]),
        **_pads(layer, tuple(kernel.shape[2:])),
    )


def _batchnorm_of(layer) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel (scale, shift) equal to an inference-mode BatchNormalization."""
    weights = {w.path.split("/")[-1]: np.asarray(w.numpy(), np.float64) for w in layer.weights}
    scale = 1.0 / np.sqrt(weights["moving_variance"] + layer.epsilon)
    if layer.scale:
        scale = scale * weights["gamma"]
    shift = -weights["moving_mean"] * scale
    if layer.center:
        shift = shift + weights["beta"]
    return scale, shift


def keras_to_onnx(model, path: Path) -> Path:
    """Write ``model`` (a Keras functional U-Net of this project) as an ONNX file at ``path``."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = _Graph(helper, numpy_helper)
    names: dict[int, str] = {}  # id(KerasTensor) -> ONNX value name
    inputs = [("rgb", model.inputs[0])] + [("guide", t) for t in model.inputs[1:2]]  # a click network has a guide
    if len(model.inputs) > 2:
        raise ValueError("the ONNX export knows the inputs rgb and guide, not more")
    for input_name, tensor in inputs:
        names[id(tensor)] = graph.node("Transpose", [input_name], perm=[0, 3, 1, 2])

    # ``operations``, not ``layers``: arithmetic on tensors (MobileNetV3's ``x + 3.0``) is an op node too
    for layer in model.operations:
        kind = type(layer).__name__
        if kind == "InputLayer":
            continue
        node = layer._inbound_nodes[0]
        ins = [names[id(t)] for t in node.input_tensors]
        out_tensor = node.output_tensors[0]
        x = ins[0] if ins else ""  # every layer but InputLayer has one
        if kind == "Rescaling":
            x = graph.node("Mul", [x, graph.const(np.array(layer.scale, np.float32), "scale")])
            y = graph.node("Add", [x, graph.const(np.array(layer.offset, np.float32), "offset")])
        elif kind in ("Conv2D", "DepthwiseConv2D", "SeparableConv2D"):
            weights = [np.asarray(w.numpy(), np.float32) for w in layer.weights]
            if kind == "Conv2D":
                kernel = weights[0].transpose(3, 2, 0, 1)
                bias = weights[1] if layer.use_bias else None
                y = _conv(graph, x, kernel, bias, layer)
            elif kind == "DepthwiseConv2D":
                k = weights[0]  # (kh, kw, in, multiplier)
                kernel = k.reshape(k.shape[0], k.shape[1], 1, k.shape[2] * k.shape[3]).transpose(3, 2, 0, 1)
                bias = weights[1] if layer.use_bias else None
                y = _conv(graph, x, kernel, bias, layer, group=k.shape[2])
            else:
                depth, point = weights[0], weights[1]
                dk = depth.reshape(depth.shape[0], depth.shape[1], 1, -1).transpose(3, 2, 0, 1)
                y = _conv(graph, x, dk, None, layer, group=depth.shape[2])
                pk = point.transpose(3, 2, 0, 1)
                y = graph.node(
                    "Conv",
                    [y, graph.const(pk, layer.name + "_pw", half=True)]
                    + ([graph.const(weights[2], layer.name + "_b")] if layer.use_bias else []),
                    kernel_shape=[1, 1],
                )
            y = _activation(graph, y, getattr(layer.activation, "__name__", "linear"))
        elif kind == "BatchNormalization":
            scale, shift = _batchnorm_of(layer)
            shape = (-1, 1, 1)
            y = graph.node("Mul", [x, graph.const(scale.astype(np.float32).reshape(shape), layer.name + "_s")])
            y = graph.node("Add", [y, graph.const(shift.astype(np.float32).reshape(shape), layer.name + "_t")])
        elif kind == "ReLU":
            if layer.negative_slope or layer.threshold:
                raise ValueError(f"{layer.name}: leaky or thresholded ReLU is not supported by the ONNX export")
            if layer.max_value is None:
                y = graph.node("Relu", [x])
            else:
                y = graph.node(
                    "Clip",
                    [
                        x,
                        graph.const(np.array(0.0, np.float32), "lo"),
                        graph.const(np.array(float(layer.max_value), np.float32), "hi"),
                    ],
                )
        elif kind == "Activation":
            y = _activation(graph, x, layer.activation.__name__)
        elif kind in ("Add", "Multiply"):
            args = list(node.arguments.args)
            if len(args) == 1 and isinstance(args[0], (list, tuple)):
                args = list(args[0])  # the Add/Multiply layers take one list of tensors
            terms = [names[id(a)] if id(a) in names else graph.const(np.array(a, np.float32), "k") for a in args]
            y = terms[0]
            for other in terms[1:]:
                y = graph.node("Add" if kind == "Add" else "Mul", [y, other])
        elif kind == "GlobalAveragePooling2D":
            y = graph.node("GlobalAveragePool", [x])
            if not layer.keepdims:
                y = graph.node("Flatten", [y])
        elif kind == "ZeroPadding2D":
            (top, bottom), (left, right) = layer.padding
            y = graph.node("Pad", [x, graph.const(np.array([0, 0, top, left, 0, 0, bottom, right], np.int64), "pads")])
        elif kind == "MaxPooling2D":
            y = graph.node(
                "MaxPool",
                [x],
                kernel_shape=list(layer.pool_size),
                strides=list(layer.strides),
                **_pads(layer, tuple(layer.pool_size)),
            )
        elif kind == "UpSampling2D":
            if layer.interpolation != "bilinear":
                raise ValueError(f"{layer.name}: only bilinear upsampling is supported by the ONNX export")
            scales = graph.const(np.array([1, 1, *layer.size], np.float32), "scales")
            y = graph.node("Resize", [x, "", scales], mode="linear", coordinate_transformation_mode="half_pixel")
        elif kind == "Concatenate":
            y = graph.node("Concat", ins, axis=1)
        elif kind == "Softmax":
            y = graph.node("Softmax", [x], axis=1)
        else:
            raise ValueError(f"layer {layer.name} ({kind}) is not supported by the ONNX export")
        names[id(out_tensor)] = y

    graph.node("Transpose", [names[id(model.outputs[0])]], "classes", perm=[0, 2, 3, 1])
    channels = int(model.outputs[0].shape[-1])
    onnx_graph = helper.make_graph(
        graph.nodes,
        model.name,
        [
            helper.make_tensor_value_info(input_name, TensorProto.FLOAT, [1, "height", "width", int(tensor.shape[-1])])
            for input_name, tensor in inputs
        ],
        [helper.make_tensor_value_info("classes", TensorProto.FLOAT, [1, "height", "width", channels])],
        graph.initializers,
    )
    proto = helper.make_model(onnx_graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="bgapp")
    proto.ir_version = 8  # readable by every onnxruntime of the last few years
    onnx.checker.check_model(proto)
    path = Path(path)
    tmp = path.with_suffix(".tmp.onnx")
    onnx.save(proto, tmp)
    tmp.replace(path)
    return path


def export_model(name: str, folder: Path | None = None) -> Path:
    """Build model ``name`` from its shipped ``.json`` + ``.npz`` and write ``NAME.onnx`` beside them."""
    from bgapp.core.models import ModelConfig, model_files, read_config
    from bgapp.lab.unet import build_unet, load_weights

    files = model_files(name, folder)
    meta = read_config(name, folder)
    if meta is None or not files["weights"].exists():
        from bgapp.core.errors import ModelUnavailableError

        raise ModelUnavailableError(f"no weights for {name} in {files['weights'].parent}")
    model = build_unet(ModelConfig.from_json(meta["config"]))
    load_weights(model, files["weights"])
    return keras_to_onnx(model, files["onnx"])
