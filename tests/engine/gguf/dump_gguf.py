#!/usr/bin/env python3
"""Print what llama.cpp's gguf-py (GGUFReader) sees in a GGUF file, as JSON.

The GGUF tests compare our reader's view of a file with this output, so it is
an oracle written by someone else. Format:

  {"version": 3, "alignment": 32, "data_offset": 13664,
   "metadata": [{"key": "general.name", "value": VALUE}, ...],   # file order
   "tensors": [{"name": ..., "type": 0, "dims": [64, 512],      # dims[0] first
                "offset": 0, "size_bytes": 131072}, ...]}        # offset in the data section

  VALUE = {"type": "u32", "value": 5}
        | {"type": "array", "elem_type": "string", "items": [...]}
  Items of an array are plain values, except in arrays of arrays, where each
  item is a VALUE. Strings that are not UTF-8 become {"hex": "..."}; non-finite
  floats become "inf", "-inf" or "nan".

GGUFReader flattens nested arrays in ReaderField.contents(), so values are
rebuilt from ReaderField.parts, the arrays it read from the file.

Usage: dump_gguf.py FILE.gguf > out.json
"""
import json
import math
import sys

from gguf import GGUFReader, GGUFValueType

TYPE_NAMES = {
    GGUFValueType.UINT8: "u8", GGUFValueType.INT8: "i8", GGUFValueType.UINT16: "u16",
    GGUFValueType.INT16: "i16", GGUFValueType.UINT32: "u32", GGUFValueType.INT32: "i32",
    GGUFValueType.FLOAT32: "f32", GGUFValueType.BOOL: "bool", GGUFValueType.STRING: "string",
    GGUFValueType.ARRAY: "array", GGUFValueType.UINT64: "u64", GGUFValueType.INT64: "i64",
    GGUFValueType.FLOAT64: "f64",
}


def plain(gtype, parts, i):
    """Decodes one non-array value starting at parts[i]; returns (value, next i)."""
    if gtype == GGUFValueType.STRING:
        raw = bytes(parts[i + 1])
        try:
            return raw.decode("utf-8"), i + 2
        except UnicodeDecodeError:
            return {"hex": raw.hex()}, i + 2
    v = parts[i][0].item()
    if gtype == GGUFValueType.BOOL:
        v = bool(v)
    elif isinstance(v, float) and not math.isfinite(v):
        v = "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    return v, i + 1


def typed(gtype, parts, i):
    """Decodes one value of type gtype at parts[i] as a VALUE; returns (VALUE, next i)."""
    if gtype != GGUFValueType.ARRAY:
        v, i = plain(gtype, parts, i)
        return {"type": TYPE_NAMES[gtype], "value": v}, i
    elem = GGUFValueType(int(parts[i][0]))
    count = int(parts[i + 1][0])
    i += 2
    items = []
    for _ in range(count):
        if elem == GGUFValueType.ARRAY:
            item, i = typed(elem, parts, i)
        else:
            item, i = plain(elem, parts, i)
        items.append(item)
    return {"type": "array", "elem_type": TYPE_NAMES[elem], "items": items}, i


def dump(path):
    reader = GGUFReader(path)
    out = {
        "version": int(reader.fields["GGUF.version"].parts[0][0]),
        "alignment": int(reader.alignment),
        "data_offset": int(reader.data_offset),
        "metadata": [],
        "tensors": [],
    }
    for key, field in reader.fields.items():
        if key.startswith("GGUF."):
            continue
        # parts: key length, key bytes, value type, then the value's parts.
        gtype = GGUFValueType(int(field.parts[2][0]))
        value, end = typed(gtype, field.parts, 3)
        assert end == len(field.parts), key
        out["metadata"].append({"key": key, "value": value})
    for t in reader.tensors:
        out["tensors"].append({
            "name": t.name,
            "type": int(t.tensor_type),
            "dims": [int(d) for d in t.shape],
            "offset": int(t.data_offset) - int(reader.data_offset),
            "size_bytes": int(t.n_bytes),
        })
    return out


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    json.dump(dump(sys.argv[1]), sys.stdout, ensure_ascii=True)
    sys.stdout.write("\n")
