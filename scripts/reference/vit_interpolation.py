#!/usr/bin/env python3
"""Reference data for position-embedding interpolation (test/fixtures/reference-interp).

The product is TypeScript; this script only generates a small fixture with PyTorch (Debian's
python3-torch 1.13, `apt-get install -y python3-torch`; run with /usr/bin/python3). transformers is
not installed here, so the forward passes below restate transformers' ViTModel and
Dinov2WithRegistersModel (eager attention, eval mode) with torch.nn.functional, and call
F.interpolate exactly as each family's `interpolate_pos_encoding` does today:

- ViT / Dinov2:           F.interpolate(x, size=(h, w), mode="bicubic", align_corners=False)
- Dinov2WithRegisters:    the same with antialias=True
- legacy Dinov2 / DINO:   F.interpolate(x, scale_factor=((h + 0.1) / h0, (w + 0.1) / w0), mode="bicubic",
                          align_corners=False)

The patch embedding is a real conv2d here (our graph uses reshape + matmul), so the check is
independent of our formulation. Outputs: cases.safetensors with the inputs and what torch computes.

    /usr/bin/python3 scripts/reference/vit_interpolation.py
"""
import json
import math
import os

import torch
import torch.nn.functional as F

from safetensors_io import load_safetensors, save_safetensors

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REF = os.path.join(ROOT, "test", "fixtures", "reference-a")
OUT = os.path.join(ROOT, "test", "fixtures", "reference-interp")


def interpolate(patch_pos, h0, w0, h, w, method):
    """patch_pos [1, h0*w0, d] -> [1, h*w, d] as transformers' interpolate_pos_encoding."""
    d = patch_pos.shape[-1]
    x = patch_pos.reshape(1, h0, w0, d).permute(0, 3, 1, 2)
    if method == "bicubic":
        y = F.interpolate(x, size=(h, w), mode="bicubic", align_corners=False)
    elif method == "bicubic-antialias":
        y = F.interpolate(x, size=(h, w), mode="bicubic", align_corners=False, antialias=True)
    elif method == "legacy-dinov2":
        y = F.interpolate(x, scale_factor=((h + 0.1) / h0, (w + 0.1) / w0), mode="bicubic", align_corners=False)
    else:
        raise ValueError(method)
    assert y.shape[-2:] == (h, w), y.shape
    return y.permute(0, 2, 3, 1).reshape(1, -1, d)


def attention(x, W, p, heads):
    B, T, D = x.shape
    hd = D // heads
    q = F.linear(x, W[p + "attention.attention.query.weight"], W[p + "attention.attention.query.bias"])
    k = F.linear(x, W[p + "attention.attention.key.weight"], W[p + "attention.attention.key.bias"])
    v = F.linear(x, W[p + "attention.attention.value.weight"], W[p + "attention.attention.value.bias"])
    q, k, v = (t.view(B, T, heads, hd).transpose(1, 2) for t in (q, k, v))
    a = torch.softmax(q @ k.transpose(-1, -2) * hd**-0.5, dim=-1) @ v
    a = a.transpose(1, 2).reshape(B, T, D)
    return F.linear(a, W[p + "attention.output.dense.weight"], W[p + "attention.output.dense.bias"])


def forward(cfg, W, px, method):
    """(cls embedding, prenorm mean, last_hidden) of ViTModel / Dinov2(WithRegisters)Model."""
    D = cfg["hidden_size"]
    P = cfg["patch_size"]
    eps = cfg["layer_norm_eps"]
    B, _, H, Wd = px.shape
    x = F.conv2d(px, W["embeddings.patch_embeddings.projection.weight"], W["embeddings.patch_embeddings.projection.bias"], stride=P)
    x = x.flatten(2).transpose(1, 2)
    x = torch.cat([W["embeddings.cls_token"].expand(B, -1, -1), x], dim=1)
    pos = W["embeddings.position_embeddings"]
    n0 = pos.shape[1] - 1
    g0 = int(math.sqrt(n0))
    pos = torch.cat([pos[:, :1], interpolate(pos[:, 1:], g0, g0, H // P, Wd // P, method)], dim=1)
    x = x + pos
    R = cfg.get("num_register_tokens", 0) if cfg["model_type"] == "dinov2_with_registers" else 0
    if R:
        x = torch.cat([x[:, :1], W["embeddings.register_tokens"].expand(B, -1, -1), x[:, 1:]], dim=1)
    ln = lambda t, n: F.layer_norm(t, (D,), W[n + ".weight"], W[n + ".bias"], eps)
    for l in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{l}."
        if cfg["model_type"] == "vit":
            x = x + attention(ln(x, p + "layernorm_before"), W, p, cfg["num_attention_heads"])
            h = F.gelu(F.linear(ln(x, p + "layernorm_after"), W[p + "intermediate.dense.weight"], W[p + "intermediate.dense.bias"]))
            x = x + F.linear(h, W[p + "output.dense.weight"], W[p + "output.dense.bias"])
        else:
            x = x + attention(ln(x, p + "norm1"), W, p, cfg["num_attention_heads"]) * W[p + "layer_scale1.lambda1"]
            h = F.gelu(F.linear(ln(x, p + "norm2"), W[p + "mlp.fc1.weight"], W[p + "mlp.fc1.bias"]))
            x = x + F.linear(h, W[p + "mlp.fc2.weight"], W[p + "mlp.fc2.bias"]) * W[p + "layer_scale2.lambda1"]
    last = ln(x, "layernorm")
    return last[:, 0], x.mean(dim=1), last


def main():
    torch.manual_seed(0)
    os.makedirs(OUT, exist_ok=True)
    out = {}
    # 1. the interpolation alone, every method, up- and down-sampling, non-square targets
    table = torch.randn(1, 25, 8)  # a 5x5 grid of 8-d position embeddings
    out["pos.table"] = table
    for method in ("bicubic", "bicubic-antialias", "legacy-dinov2"):
        for h, w in ((7, 3), (3, 4), (9, 9)):
            out[f"pos.{method}.{h}x{w}"] = interpolate(table, 5, 5, h, w, method)
    # 2. whole models at a resolution other than the checkpoint's (ViT 32 -> 48x40, DINOv2-reg 28 -> 56x42)
    with torch.no_grad():
        for fam, size, method in (("vit", (48, 40), "bicubic"), ("dinov2", (56, 42), "bicubic-antialias")):
            cfg = json.load(open(os.path.join(REF, fam, "config.json")))
            W = load_safetensors(os.path.join(REF, fam, "model.safetensors"))
            px = torch.randn(2, 3, *size)
            cls, mean, last = forward(cfg, W, px, method)
            # sanity: at the checkpoint's own size this restatement reproduces reference-a
            ref = load_safetensors(os.path.join(REF, "cases.safetensors"))
            own, _, _ = forward(cfg, W, ref[f"{fam}.pixel_values"], method)
            err = (own - ref[f"{fam}.embedding"]).abs().max().item()
            assert err < 1e-5, (fam, err)
            out[f"{fam}.pixel_values"] = px
            out[f"{fam}.embedding"] = cls
            out[f"{fam}.embedding_prenorm_mean"] = mean
            out[f"{fam}.last_hidden"] = last
    save_safetensors(os.path.join(OUT, "cases.safetensors"), out)
    with open(os.path.join(OUT, "README.md"), "w") as f:
        f.write(
            "Generated by scripts/reference/vit_interpolation.py with PyTorch "
            + torch.__version__
            + ": position-embedding interpolation (pos.<method>.<h>x<w> from pos.table, a 5x5 grid) and the\n"
            "reference-a ViT (48x40 input, grid 6x5 from 4x4) and DINOv2-with-registers (56x42 input, grid 4x3 from 2x2)\n"
            "models at a resolution other than their checkpoint's: embedding (CLS), embedding_prenorm_mean, last_hidden.\n"
        )


if __name__ == "__main__":
    main()
