"""Writing ONNX graphs node by node, weights streamed to external data.

Like onnxruntime-genai's model builder: no module is traced. Each weight is
appended to `<graph>.onnx.data` as soon as it is made and dropped, so exporting an
8B model needs memory for one tensor (the largest, the embedding matrix) at a time.
"""
from __future__ import annotations

import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
MS = "com.microsoft"
ALIGN = 4096  # page-aligned offsets, so onnxruntime can map the data file

FLOAT, INT64 = TensorProto.FLOAT, TensorProto.INT64


class GraphBuilder:
    def __init__(self, path: str):
        self.path = path
        self.data_name = os.path.basename(path) + ".data"
        self.data = open(path + ".data", "wb")
        self.offset = 0
        self.nodes, self.inits, self.inputs, self.outputs = [], [], [], []
        self.count = 0
        self.consts: dict[tuple, str] = {}

    def name(self, hint: str) -> str:
        self.count += 1
        return f"{hint}_{self.count}"

    def input(self, name: str, elem, shape) -> str:
        self.inputs.append(helper.make_tensor_value_info(name, elem, shape))
        return name

    def output(self, name: str, elem, shape) -> None:
        self.outputs.append(helper.make_tensor_value_info(name, elem, shape))

    def weight(self, name: str, array: np.ndarray) -> str:
        """A large initializer, appended to the external data file."""
        array = np.ascontiguousarray(array)
        pad = -self.offset % ALIGN
        self.data.write(b"\0" * pad)
        self.offset += pad
        t = TensorProto()
        t.name = name
        t.data_type = helper.np_dtype_to_tensor_dtype(array.dtype) if hasattr(helper, "np_dtype_to_tensor_dtype") \
            else onnx.mapping.NP_TYPE_TO_TENSOR_TYPE[array.dtype]
        t.dims.extend(array.shape)
        self.data.write(memoryview(array.reshape(-1)).cast("B"))  # no copy of the tensor
        t.data_location = TensorProto.EXTERNAL
        for key, value in (("location", self.data_name), ("offset", str(self.offset)), ("length", str(array.nbytes))):
            entry = t.external_data.add()
            entry.key, entry.value = key, value
        self.offset += array.nbytes
        self.inits.append(t)
        return name

    def const(self, value, dtype=np.int64) -> str:
        """A small inline constant (shapes, axes, scalars), shared by value."""
        arr = np.asarray(value, dtype=dtype)
        key = (arr.dtype.str, arr.shape, arr.tobytes())
        if key not in self.consts:
            name = self.name("const")
            self.inits.append(numpy_helper.from_array(arr, name))
            self.consts[key] = name
        return self.consts[key]

    def op(self, op_type: str, inputs, outputs: int | list[str] = 1, domain: str = "", **attrs):
        outs = outputs if isinstance(outputs, list) else [self.name(op_type.lower()) for _ in range(outputs)]
        self.nodes.append(helper.make_node(op_type, list(inputs), outs, domain=domain or None, **attrs))
        return outs[0] if len(outs) == 1 else outs

    def save(self, graph_name: str) -> None:
        self.data.close()
        if self.offset == 0:  # no weights: nothing to point at
            os.remove(self.path + ".data")
        graph = helper.make_graph(self.nodes, graph_name, self.inputs, self.outputs, self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid(MS, 1)],
                                  producer_name="cocaster videollm exporter")
        model.ir_version = 8
        onnx.save(model, self.path)
