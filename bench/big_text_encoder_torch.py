"""PyTorch eager peer of bench/big-text-encoder.ts: the same Hugging Face GPT-2 folder (bf16
safetensors shards, read without the safetensors package), weights upcast to float32 once at load,
then the text embedding (final LayerNorm state at the last real token) of the same right-padded
token ids. Times the load (cold) and the forward (warm, no_grad), reports peak RSS (ru_maxrss).

  /usr/bin/python3 bench/big_text_encoder_torch.py --model DIR --ids FILE.json --threads 2 --repeats 3

FILE.json: {"input_ids": [[...], ...], "lengths": [...]}. Prints one JSON object; run by the TS bench.
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
p.add_argument("--model", required=True)
p.add_argument("--ids", required=True)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--repeats", type=int, default=3)
a = p.parse_args()
torch.set_num_threads(a.threads)

DT = {"BF16": torch.bfloat16, "F16": torch.float16, "F32": torch.float32}


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
                out[name] = t.float()  # upcast once: float32 inference, as the ORT path
    return out


t0, c0 = time.perf_counter(), time.process_time()
cfg = json.load(open(os.path.join(a.model, "config.json")))
W = read_folder(a.model)
load_s = time.perf_counter() - t0
D, H, L, eps = cfg["n_embd"], cfg["n_head"], cfg["n_layer"], cfg.get("layer_norm_epsilon", 1e-5)
hd = D // H
batch = json.load(open(a.ids))
ids = torch.tensor(batch["input_ids"], dtype=torch.long)
lengths = torch.tensor(batch["lengths"], dtype=torch.long)
B, T = ids.shape


def gelu_new(x):
    return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x.pow(3))))


@torch.no_grad()
def forward():
    x = W["wte.weight"][ids] + W["wpe.weight"][:T]
    causal = torch.full((T, T), torch.finfo(torch.float32).min).triu(1)
    for l in range(L):
        p = f"h.{l}."
        h = F.layer_norm(x, (D,), W[p + "ln_1.weight"], W[p + "ln_1.bias"], eps)
        qkv = h @ W[p + "attn.c_attn.weight"] + W[p + "attn.c_attn.bias"]
        q, k, v = (t.reshape(B, T, H, hd).transpose(1, 2) for t in qkv.split(D, dim=-1))
        att = (q @ k.transpose(-1, -2)) / math.sqrt(hd) + causal
        ctx = att.softmax(-1) @ v
        x = x + ctx.transpose(1, 2).reshape(B, T, D) @ W[p + "attn.c_proj.weight"] + W[p + "attn.c_proj.bias"]
        h = F.layer_norm(x, (D,), W[p + "ln_2.weight"], W[p + "ln_2.bias"], eps)
        x = x + gelu_new(h @ W[p + "mlp.c_fc.weight"] + W[p + "mlp.c_fc.bias"]) @ W[p + "mlp.c_proj.weight"] + W[p + "mlp.c_proj.bias"]
    x = F.layer_norm(x, (D,), W["ln_f.weight"], W["ln_f.bias"], eps)
    return x[torch.arange(B), lengths - 1]


t1 = time.perf_counter()
emb = forward()
first_s = time.perf_counter() - t1
cold_cpu = time.process_time() - c0
samples, cpu = [], []
for _ in range(a.repeats):
    t, c = time.perf_counter(), time.process_time()
    forward()
    samples.append(time.perf_counter() - t)
    cpu.append(time.process_time() - c)
print(
    json.dumps(
        {
            "torch": torch.__version__,
            "threads": a.threads,
            "loadS": load_s,
            "firstForwardS": first_s,
            "warmMedianS": statistics.median(samples),
            "warmSamplesS": samples,
            "warmCpuMedianS": statistics.median(cpu),
            "coldCpuS": cold_cpu,
            "peakRssGiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
            "embedding0": emb[0, :4].tolist(),
        }
    )
)
