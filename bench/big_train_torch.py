"""PyTorch eager peer of bench/big-train.ts: the same Hugging Face GPT-2 folder (bf16 safetensors
shards, read without the safetensors package, upcast to float32 once, frozen), the same workload
(token ids, image embeddings, labels from the JSON the TS bench writes) and one AdamW update per step:

  prompt: learned context [n_ctx, d] before each class's token embeddings (CoOp: the full
          sequences, every row), text feature at the last class token, CLIP heads, cross-entropy
  lora:   LoRA (r 8, alpha 32, dropout 0.1) on every c_attn, batch 8 x 64 tokens, text feature at
          lengths - 1, CLIP loss against the batch's image embeddings

  /usr/bin/python3 bench/big_train_torch.py --kind prompt|lora --model DIR --workload FILE.json --threads 2 --steps 3 [--bf16]

--bf16: the frozen matmul weights (c_attn, c_proj, c_fc, mlp.c_proj) kept in bfloat16 and multiplied in
bfloat16 (activations cast to bf16, products back to float32; oneDNN uses the CPU's avx512_bf16), the
rest (embeddings, biases, layer norms, LoRA A/B, the context, heads) float32: the reduced-precision
peer of ORT's int8 frozen weights.

Prints one JSON object (s per step, CPU s, load time, peak RSS from ru_maxrss); run by the TS bench.
"""
import argparse
import json
import math
import os
import resource
import statistics
import time

import torch
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument("--kind", choices=["prompt", "lora"], required=True)
p.add_argument("--model", required=True)
p.add_argument("--workload", required=True)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--steps", type=int, default=3)
p.add_argument("--bf16", action="store_true")
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)

DT = {"BF16": torch.bfloat16, "F16": torch.float16, "F32": torch.float32}
MATMUL = (".attn.c_attn.", ".attn.c_proj.", ".mlp.c_fc.", ".mlp.c_proj.")


def mm(x, w):
    """x @ w: in float32, or with --bf16 in bfloat16 (w stored bf16), the product back in float32."""
    return x @ w if w.dtype == torch.float32 else (x.to(w.dtype) @ w).float()



def read_folder(d):
    idx = os.path.join(d, "model.safetensors.index.json")
    files = sorted(set(json.load(open(idx))["weight_map"].values())) if os.path.exists(idx) else ["model.safetensors"]
    out = {}
    for f in files:
        with open(os.path.join(d, f), "rb") as fh:
            n = int.from_bytes(fh.read(8), "little")
            header = json.loads(fh.read(n))
            base = 8 + n
            for name, e in header.items():
                if name == "__metadata__":
                    continue
                b, end = e["data_offsets"]
                fh.seek(base + b)
                t = torch.frombuffer(bytearray(fh.read(end - b)), dtype=DT[e["dtype"]]).reshape(e["shape"])
                out[name] = t.bfloat16() if a.bf16 and any(m in name for m in MATMUL) and name.endswith(".weight") else t.float()
    return out


t0 = time.perf_counter()
cfg = json.load(open(os.path.join(a.model, "config.json")))
W = read_folder(a.model)
load_s = time.perf_counter() - t0
D, H, L, eps = cfg["n_embd"], cfg["n_head"], cfg["n_layer"], cfg.get("layer_norm_epsilon", 1e-5)
hd = D // H
wl = json.load(open(a.workload))
S = wl["shapes"]
g = torch.Generator().manual_seed(1)
text_proj = torch.randn(S["projDim"], D, generator=g) * D**-0.5
visual_proj = torch.randn(S["projDim"], S["imageDim"], generator=g) * S["imageDim"] ** -0.5
logit_scale = torch.tensor(math.log(1 / 0.07))


def gelu_new(x):
    return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x.pow(3))))


def gpt2(x, lora=None, dropout=0.0):
    """x: input embeddings [B, T, D] (positions added here) -> ln_f output."""
    B, T, _ = x.shape
    x = x + W["wpe.weight"][:T]
    causal = torch.full((T, T), torch.finfo(torch.float32).min).triu(1)
    for l in range(L):
        p = f"h.{l}."
        h = F.layer_norm(x, (D,), W[p + "ln_1.weight"], W[p + "ln_1.bias"], eps)
        qkv = mm(h, W[p + "attn.c_attn.weight"]) + W[p + "attn.c_attn.bias"]
        if lora is not None:
            A, Bm, scale = lora[l]
            qkv = qkv + (F.dropout(h, dropout, True) @ A.t() @ Bm.t()) * scale
        q, k, v = (t.reshape(B, T, H, hd).transpose(1, 2) for t in qkv.split(D, dim=-1))
        att = (q @ k.transpose(-1, -2)) / math.sqrt(hd) + causal
        ctx = att.softmax(-1) @ v
        x = x + mm(ctx.transpose(1, 2).reshape(B, T, D), W[p + "attn.c_proj.weight"]) + W[p + "attn.c_proj.bias"]
        h = F.layer_norm(x, (D,), W[p + "ln_2.weight"], W[p + "ln_2.bias"], eps)
        x = x + mm(gelu_new(mm(h, W[p + "mlp.c_fc.weight"]) + W[p + "mlp.c_fc.bias"]), W[p + "mlp.c_proj.weight"]) + W[p + "mlp.c_proj.bias"]
    return F.layer_norm(x, (D,), W["ln_f.weight"], W["ln_f.bias"], eps)


def clip_logits(img, txt):
    i = F.normalize(img @ visual_proj.t(), dim=-1)
    t = F.normalize(txt @ text_proj.t(), dim=-1)
    return logit_scale.exp() * i @ t.t()


if a.kind == "prompt":
    ids = torch.tensor(wl["classIds"], dtype=torch.long)
    C, T = ids.shape
    n = S["nCtx"]
    ctx = (torch.rand(n, D, generator=g) - 0.5) * 0.04
    ctx.requires_grad_(True)
    params = [ctx]
    img = torch.tensor(wl["imageFeatures"]).reshape(-1, S["imageDim"])
    labels = torch.tensor(wl["labels"], dtype=torch.long)

    def loss_fn():
        x = torch.cat([ctx.unsqueeze(0).expand(C, n, D), W["wte.weight"][ids]], 1)
        hidden = gpt2(x)
        txt = hidden[:, n + T - 1]
        return F.cross_entropy(clip_logits(img, txt), labels)

else:
    ids = torch.tensor(wl["loraIds"], dtype=torch.long)
    lengths = torch.tensor(wl["loraLengths"], dtype=torch.long)
    img = torch.tensor(wl["loraImage"]).reshape(-1, S["imageDim"])
    r, alpha = 8, 32
    lora = []
    for _ in range(L):
        A = ((torch.rand(r, D, generator=g) - 0.5) * 0.02).requires_grad_(True)
        Bm = ((torch.rand(3 * D, r, generator=g) - 0.5) * 0.002).requires_grad_(True)
        lora.append((A, Bm, alpha / r))
    params = [t for A, Bm, _ in lora for t in (A, Bm)]
    B = ids.shape[0]

    def loss_fn():
        hidden = gpt2(W["wte.weight"][ids], lora, 0.1)
        txt = hidden[torch.arange(B), lengths - 1]
        logits = clip_logits(img, txt)
        target = torch.arange(B)
        return (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target)) / 2


opt = torch.optim.AdamW(params, lr=1e-4)
wall, cpu, losses = [], [], []
for _ in range(a.steps):
    t, c = time.perf_counter(), time.process_time()
    opt.zero_grad()
    loss = loss_fn()
    loss.backward()
    opt.step()
    wall.append(time.perf_counter() - t)
    cpu.append(time.process_time() - c)
    losses.append(loss.item())
rest = wall[1:] or wall
print(
    json.dumps(
        {
            "torch": torch.__version__,
            "bf16": a.bf16,
            "threads": a.threads,
            "loadS": load_s,
            "firstS": wall[0],
            "stepS": statistics.median(rest),
            "stepsS": wall,
            "stepCpuS": statistics.median(cpu[1:] or cpu),
            "losses": losses,
            "peakRssGiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        }
    )
)
