"""Reads and writes safetensors files with torch alone (the `safetensors` package is not installed
here): F32 and I64 tensors, which is all the reference fixtures hold."""
import json
import struct

import torch

DTYPES = {"F32": torch.float32, "I64": torch.int64}
NAMES = {torch.float32: "F32", torch.int64: "I64"}


def load_safetensors(path, float_dtype=torch.float32):
    """{name: tensor}; float tensors converted to `float_dtype` (float64 for reference math)."""
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8 : 8 + n])
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        buf = bytearray(data[8 + n + a : 8 + n + b])
        t = torch.frombuffer(buf, dtype=DTYPES[v["dtype"]]).reshape(v["shape"]).clone()
        out[k] = t.to(float_dtype) if t.is_floating_point() else t
    return out


def save_safetensors(path, tensors, metadata=None):
    """Float tensors are stored as F32, integer ones as I64; header padded to 8 bytes."""
    header, blobs, off = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for k, t in tensors.items():
        t = t.detach()
        t = (t.float() if t.is_floating_point() else t).contiguous()
        b = t.numpy().tobytes()
        header[k] = {"dtype": NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
