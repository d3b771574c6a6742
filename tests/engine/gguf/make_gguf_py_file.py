#!/usr/bin/env python3
"""Write a GGUF file with llama.cpp's gguf-py (GGUFWriter): every value type,
arrays, arrays of arrays and a few tensors. The GGUF tests read it with our
reader, so a writer nobody here wrote checks the reader's handling of the
value types the real model files do not use.

Usage: make_gguf_py_file.py OUT.gguf
"""
import sys

import numpy as np
from gguf import GGMLQuantizationType, GGUFWriter


def main(path):
    w = GGUFWriter(path, arch="testarch")
    w.add_uint8("t.u8", 250)
    w.add_int8("t.i8", -7)
    w.add_uint16("t.u16", 65535)
    w.add_int16("t.i16", -32768)
    w.add_uint32("t.u32", 4294967295)
    w.add_int32("t.i32", -2147483648)
    w.add_float32("t.f32", 0.1)
    w.add_uint64("t.u64", 2**64 - 1)
    w.add_int64("t.i64", -2**63)
    w.add_float64("t.f64", 1e308)
    w.add_bool("t.bool", True)
    w.add_string("t.string", "h\u00e9llo")
    w.add_array("t.arr.i32", [1, 2, -3])
    w.add_array("t.arr.f32", [0.5, 1.5])
    w.add_array("t.arr.string", ["a", "bc"])
    w.add_array("t.arr.bool", [True, False])
    w.add_array("t.nested.i32", [[1, 2], [3]])
    w.add_array("t.nested.string", [["x"], ["y", "z"]])
    w.add_array("t.nested3.f32", [[[1.0]], [[2.0, 3.0]]])
    w.add_tensor("f32", np.arange(12, dtype=np.float32).reshape(3, 4))
    w.add_tensor("f16", np.arange(8, dtype=np.float16))
    q8 = np.arange(2 * 34, dtype=np.uint8).reshape(2, 34)  # 2 rows of one Q8_0 block
    w.add_tensor("q8", q8, raw_dtype=GGMLQuantizationType.Q8_0)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
