"""PyTorch peer of bench/transformer.ts: the same 12-layer, 768-wide pre-LN transformer (GPT-2 small
shaped, tanh GELU), LoRA r=8 (alpha 32) on c_attn and c_proj trainable, everything else frozen,
batch 8 x 64 tokens, mean-pooled hidden state -> frozen 768x512 projection -> L2 norm -> InfoNCE
against fed targets. Times forward (inference, no_grad) and forward+backward (LoRA grads only).

  /usr/bin/python3 bench/transformer_torch.py --threads 2 --repeats 10 --warmup 3

Prints one JSON object. Weights are random (timing only); run by bench/transformer.ts.
"""
import argparse
import json
import math
import statistics
import time

import torch
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument("--threads", type=int, default=2)
p.add_argument("--repeats", type=int, default=10)
p.add_argument("--warmup", type=int, default=3)
p.add_argument("--layers", type=int, default=12)
p.add_argument("--dim", type=int, default=768)
p.add_argument("--heads", type=int, default=12)
p.add_argument("--batch", type=int, default=8)
p.add_argument("--seq", type=int, default=64)
p.add_argument("--rank", type=int, default=8)
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)
V, D, H, L, B, T, R = 50257, a.dim, a.heads, a.layers, a.batch, a.seq, a.rank
hd = D // H
scale = 32 / R


def w(*shape, std=0.02):
    return torch.randn(*shape) * std


wte, wpe = w(V, D), w(1024, D)
layers = []
for _ in range(L):
    layers.append(
        dict(
            ln1w=torch.ones(D), ln1b=torch.zeros(D), attn_w=w(D, 3 * D), attn_b=torch.zeros(3 * D),
            proj_w=w(D, D), proj_b=torch.zeros(D), ln2w=torch.ones(D), ln2b=torch.zeros(D),
            fc_w=w(D, 4 * D), fc_b=torch.zeros(4 * D), mproj_w=w(4 * D, D), mproj_b=torch.zeros(D),
            a_attn=w(D, R, std=0.1).requires_grad_(), b_attn=w(R, 3 * D, std=0.01).requires_grad_(),
            a_proj=w(D, R, std=0.1).requires_grad_(), b_proj=w(R, D, std=0.01).requires_grad_(),
        )
    )
lnfw, lnfb, head = torch.ones(D), torch.zeros(D), w(D, 512)
ids = torch.randint(0, V, (B, T))
targets = F.normalize(torch.randn(B, 512), dim=-1)
labels = torch.arange(B)
causal = torch.full((T, T), -1e9).triu(1)


def forward():
    x = wte[ids] + wpe[:T]
    for l in layers:
        h = F.layer_norm(x, (D,), l["ln1w"], l["ln1b"])
        qkv = h @ l["attn_w"] + l["attn_b"] + (h @ l["a_attn"]) @ l["b_attn"] * scale
        q, k, v = qkv.split(D, dim=-1)
        q = q.view(B, T, H, hd).transpose(1, 2) * (1 / math.sqrt(hd))
        k = k.view(B, T, H, hd).permute(0, 2, 3, 1)
        v = v.view(B, T, H, hd).transpose(1, 2)
        att = torch.softmax(q @ k + causal, dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, D)
        x = x + y @ l["proj_w"] + l["proj_b"] + (y @ l["a_proj"]) @ l["b_proj"] * scale
        m = F.layer_norm(x, (D,), l["ln2w"], l["ln2b"])
        x = x + F.gelu(m @ l["fc_w"] + l["fc_b"], approximate="tanh") @ l["mproj_w"] + l["mproj_b"]
    x = F.layer_norm(x, (D,), lnfw, lnfb)
    e = F.normalize(x.mean(1) @ head, dim=-1)
    return F.cross_entropy(e @ targets.T / 0.07, labels)


def fwd():
    with torch.no_grad():
        return forward()


def fwd_bwd():
    loss = forward()
    loss.backward()
    for l in layers:
        for k in ("a_attn", "b_attn", "a_proj", "b_proj"):
            l[k].grad = None
    return loss


def measure(fn):
    for _ in range(a.warmup):
        fn()
    s = []
    for _ in range(a.repeats):
        t0 = time.perf_counter()
        fn()
        s.append((time.perf_counter() - t0) * 1e3)
    s.sort()
    q = statistics.quantiles(s, n=4, method="inclusive")
    return dict(median=statistics.median(s), q1=q[0], q3=q[2], samples=s)


print(
    json.dumps(
        dict(
            torch=torch.__version__,
            threads=torch.get_num_threads(),
            blas=("openblas" if "OpenBLAS" in torch.__config__.show() or "openblas" in torch.__config__.show() else "other"),
            forward=measure(fwd),
            fwd_bwd=measure(fwd_bwd),
        )
    )
)
