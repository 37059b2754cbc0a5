#!/usr/bin/env python3
"""Reference data for checkpoints other than reference-a (test/fixtures/reference-b).

The issue says other checkpoints will be used to check `cleft embed`, `train-lora` and `prompt-learn`,
so this script makes tiny models whose shapes and options differ from reference-a's on purpose:

- gpt2/     GPT2Model, 3 layers, 5 heads of 8, n_inner 72 (not 4 x n_embd), vocab 500;
            adapter/ LoRA on c_attn, c_proj and c_fc with r 3, alpha 4 (scale 4/3). As PEFT does,
            "c_proj" matches both attn.c_proj and mlp.c_proj.
- dinov2/   Dinov2WithRegistersModel, 4 registers, 3x3 patches of 14, mlp_ratio 2, layer scale not 1;
            adapter/ LoRA on query, key, value, dense, fc1, fc2 with r 2, alpha 8 (scale 4).
- vit/      ViTModel without qkv bias, 3x3 patches of 10; adapter/ LoRA on query, value and "dense",
            which PEFT matches in attention.output.dense, intermediate.dense and output.dense.
- heads.safetensors (dinov2 + gpt2, projection 24) and heads-vit.safetensors (vit + gpt2).

transformers is not installed here (Debian ships python3-torch 1.13 only), so the forward passes
restate transformers' GPT2Model, ViTModel and Dinov2WithRegistersModel (eager attention, eval mode)
with torch.nn.functional and PEFT's LoRA (x A^T B^T * alpha/r beside the frozen layer). Before
writing anything the script checks this restatement against reference-a: every embedding, the CLIP
loss gradients and the prompt gradient, so the new numbers come from code that reproduces PyTorch
+ transformers + PEFT there. Math in float64 on float32-representable weights, as reference-a.

    /usr/bin/python3 scripts/reference/make_reference_b.py
"""
import json
import math
import os

import torch
import torch.nn.functional as F

from safetensors_io import load_safetensors as load_tensors, save_safetensors

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REF_A = os.path.join(ROOT, "test", "fixtures", "reference-a")
OUT = os.path.join(ROOT, "test", "fixtures", "reference-b")


def load_safetensors(path):
    """Float tensors in float64: the reference math runs in double precision."""
    return load_tensors(path, float_dtype=torch.float64)


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")


def f32(t):
    """Rounds to float32 and back: weights and inputs must be float32-representable."""
    return t.float().double()


# ---- LoRA as PEFT applies it: the base layer plus scale * B(A(x)) --------------------------------


class Lora:
    """PEFT adapter weights keyed by module path ('h.0.attn.c_attn'), leaves requiring grad."""

    def __init__(self, tensors, config):
        self.scale = config["lora_alpha"] / config["r"]
        self.w = {}
        for k, t in tensors.items():
            mod, ab = k[len("base_model.model.") :].rsplit(".lora_", 1)
            self.w.setdefault(mod, {})[ab.split(".")[0]] = t.clone().requires_grad_(True)

    def delta(self, x, mod):
        m = self.w.get(mod)
        if m is None:
            return 0
        return F.linear(F.linear(x, m["A"]), m["B"]) * self.scale

    def leaves(self, prefix):
        return {f"{prefix}.{mod}.lora_{ab}": t for mod, m in self.w.items() for ab, t in m.items()}


def linear(x, W, mod, lora, bias=True):
    """nn.Linear (weight [out, in]) with its LoRA."""
    b = W.get(mod + ".bias") if bias else None
    return F.linear(x, W[mod + ".weight"], b) + (lora.delta(x, mod) if lora else 0)


def conv1d(x, W, mod, lora):
    """transformers' Conv1D (weight [in, out], fan_in_fan_out) with its LoRA."""
    return x @ W[mod + ".weight"] + W[mod + ".bias"] + (lora.delta(x, mod) if lora else 0)


# ---- GPT2Model ------------------------------------------------------------------------------------


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def gpt2(cfg, W, embeds, lora=None):
    """ln_f output (B,T,d) for input embeddings (B,T,d) (positions added here)."""
    B, T, D = embeds.shape
    H = cfg["n_head"]
    hd = D // H
    eps = cfg["layer_norm_epsilon"]
    ln = lambda t, n: F.layer_norm(t, (D,), W[n + ".weight"], W[n + ".bias"], eps)
    x = embeds + W["wpe.weight"][:T]
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
    for l in range(cfg["n_layer"]):
        p = f"h.{l}."
        qkv = conv1d(ln(x, p + "ln_1"), W, p + "attn.c_attn", lora)
        q, k, v = (t.view(B, T, H, hd).transpose(1, 2) for t in qkv.split(D, dim=-1))
        s = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
        s = s.masked_fill(~causal, torch.finfo(s.dtype).min)
        a = (torch.softmax(s, dim=-1) @ v).transpose(1, 2).reshape(B, T, D)
        x = x + conv1d(a, W, p + "attn.c_proj", lora)
        m = gelu_new(conv1d(ln(x, p + "ln_2"), W, p + "mlp.c_fc", lora))
        x = x + conv1d(m, W, p + "mlp.c_proj", lora)
    return ln(x, "ln_f")


def text_embedding(cfg, W, ids, lengths, lora=None):
    last = gpt2(cfg, W, W["wte.weight"][ids], lora)
    return last[torch.arange(ids.shape[0]), lengths - 1], last


# ---- ViTModel / Dinov2WithRegistersModel -----------------------------------------------------------


def attention(x, W, p, heads, lora, qkv_bias):
    B, T, D = x.shape
    hd = D // heads
    q, k, v = (linear(x, W, p + "attention.attention." + n, lora, qkv_bias) for n in ("query", "key", "value"))
    q, k, v = (t.view(B, T, heads, hd).transpose(1, 2) for t in (q, k, v))
    a = torch.softmax(q @ k.transpose(-1, -2) * hd**-0.5, dim=-1) @ v
    a = a.transpose(1, 2).reshape(B, T, D)
    return linear(a, W, p + "attention.output.dense", lora)


def vision(cfg, W, px, lora=None):
    """(CLS of the final norm, mean of all tokens before it, last_hidden); checkpoint resolution only."""
    D = cfg["hidden_size"]
    P = cfg["patch_size"]
    eps = cfg["layer_norm_eps"]
    qkv_bias = cfg.get("qkv_bias", True)
    B = px.shape[0]
    x = F.conv2d(px, W["embeddings.patch_embeddings.projection.weight"], W["embeddings.patch_embeddings.projection.bias"], stride=P)
    x = x.flatten(2).transpose(1, 2)
    x = torch.cat([W["embeddings.cls_token"].expand(B, -1, -1), x], dim=1)
    assert x.shape[1] == W["embeddings.position_embeddings"].shape[1], "checkpoint resolution only"
    x = x + W["embeddings.position_embeddings"]
    if cfg["model_type"] == "dinov2_with_registers":
        x = torch.cat([x[:, :1], W["embeddings.register_tokens"].expand(B, -1, -1), x[:, 1:]], dim=1)
    ln = lambda t, n: F.layer_norm(t, (D,), W[n + ".weight"], W[n + ".bias"], eps)
    for l in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{l}."
        if cfg["model_type"] == "vit":
            x = x + attention(ln(x, p + "layernorm_before"), W, p, cfg["num_attention_heads"], lora, qkv_bias)
            h = F.gelu(linear(ln(x, p + "layernorm_after"), W, p + "intermediate.dense", lora))
            x = x + linear(h, W, p + "output.dense", lora)
        else:
            a = attention(ln(x, p + "norm1"), W, p, cfg["num_attention_heads"], lora, qkv_bias)
            x = x + a * W[p + "layer_scale1.lambda1"]
            h = F.gelu(linear(ln(x, p + "norm2"), W, p + "mlp.fc1", lora))
            x = x + linear(h, W, p + "mlp.fc2", lora) * W[p + "layer_scale2.lambda1"]
    last = ln(x, "layernorm")
    return last[:, 0], x.mean(dim=1), last


def pooled(cfg, W, px, pool, lora=None):
    cls, mean, _ = vision(cfg, W, px, lora)
    return cls if pool == "cls" else mean


# ---- the two CLEFT losses --------------------------------------------------------------------------


def clip_loss(img, txt, heads):
    i = F.normalize(F.linear(img, heads["visual_projection.weight"]), dim=-1)
    t = F.normalize(F.linear(txt, heads["text_projection.weight"]), dim=-1)
    logits = heads["logit_scale"].exp() * i @ t.T
    y = torch.arange(img.shape[0])
    return (F.cross_entropy(logits, y) + F.cross_entropy(logits.T, y)) / 2, logits


def prompt_logits(tcfg, TW, ctx, class_ids, img, heads):
    rows = []
    for ids in class_ids:
        e = torch.cat([ctx, TW["wte.weight"][ids]], dim=0)[None]
        rows.append(gpt2(tcfg, TW, e)[0, -1])
    t = F.normalize(F.linear(torch.stack(rows), heads["text_projection.weight"]), dim=-1)
    i = F.normalize(F.linear(img, heads["visual_projection.weight"]), dim=-1)
    return heads["logit_scale"].exp() * i @ t.T


def clip_case(tcfg, TW, tlora, vcfg, VW, vlora, heads, ids, lengths, px, pool):
    """loss, logits and d loss / d every leaf (LoRA weights, projections, logit scale)."""
    h = {k: v.clone().requires_grad_(True) for k, v in heads.items()}
    txt, _ = text_embedding(tcfg, TW, ids, lengths, tlora)
    img = pooled(vcfg, VW, px, pool, vlora)
    loss, logits = clip_loss(img, txt, h)
    leaves = {**tlora.leaves("text"), **vlora.leaves("image"), **h}
    grads = torch.autograd.grad(loss, list(leaves.values()))
    return loss, logits, dict(zip(leaves.keys(), grads))


# ---- checking the restatement against reference-a -------------------------------------------------


def load_model(folder):
    cfg = json.load(open(os.path.join(folder, "config.json")))
    return cfg, load_safetensors(os.path.join(folder, "model.safetensors"))


def load_adapter(folder):
    cfg = json.load(open(os.path.join(folder, "adapter_config.json")))
    return Lora(load_safetensors(os.path.join(folder, "adapter_model.safetensors")), cfg)


def rel_err(a, b):
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-30)).item()


def check_against_reference_a():
    ref = load_safetensors(os.path.join(REF_A, "cases.safetensors"))
    tcfg, TW = load_model(os.path.join(REF_A, "gpt2"))
    vcfg, VW = load_model(os.path.join(REF_A, "vit"))
    dcfg, DW = load_model(os.path.join(REF_A, "dinov2"))
    heads = load_safetensors(os.path.join(REF_A, "heads.safetensors"))
    ids, lengths = ref["text.input_ids"], ref["text.lengths"]
    errs = {}
    with torch.no_grad():
        errs["text.embedding"] = rel_err(text_embedding(tcfg, TW, ids, lengths)[0], ref["text.embedding"])
        tl = load_adapter(os.path.join(REF_A, "gpt2", "adapter"))
        errs["text.embedding_lora"] = rel_err(text_embedding(tcfg, TW, ids, lengths, tl)[0], ref["text.embedding_lora"])
        errs["vit.embedding"] = rel_err(pooled(vcfg, VW, ref["vit.pixel_values"], "cls"), ref["vit.embedding"])
        vl = load_adapter(os.path.join(REF_A, "vit", "adapter"))
        errs["vit.embedding_lora"] = rel_err(pooled(vcfg, VW, ref["vit.pixel_values"], "cls", vl), ref["vit.embedding_lora"])
        errs["dinov2.embedding"] = rel_err(pooled(dcfg, DW, ref["dinov2.pixel_values"], "cls"), ref["dinov2.embedding"])
        errs["dinov2.embedding_prenorm_mean"] = rel_err(
            pooled(dcfg, DW, ref["dinov2.pixel_values"], "prenorm-mean"), ref["dinov2.embedding_prenorm_mean"]
        )
    tl = load_adapter(os.path.join(REF_A, "gpt2", "adapter"))
    vl = load_adapter(os.path.join(REF_A, "vit", "adapter"))
    loss, _, grads = clip_case(tcfg, TW, tl, vcfg, VW, vl, heads, ids, lengths, ref["vit.pixel_values"], "cls")
    errs["clip.loss"] = rel_err(loss.reshape(1), ref["clip.loss"])
    for k, g in grads.items():
        errs["clip.grad." + k] = rel_err(g, ref["clip.grad." + k])
    ctx = ref["prompt.ctx"].clone().requires_grad_(True)
    with torch.no_grad():
        img = pooled(vcfg, VW, ref["vit.pixel_values"], "cls")
    class_ids = [ref[f"prompt.class_ids.{c}"] for c in range(3)]
    loss = F.cross_entropy(prompt_logits(tcfg, TW, ctx, class_ids, img, heads), ref["prompt.labels"])
    errs["prompt.loss"] = rel_err(loss.reshape(1), ref["prompt.loss"])
    errs["prompt.grad.ctx"] = rel_err(torch.autograd.grad(loss, ctx)[0], ref["prompt.grad.ctx"])
    worst = max(errs, key=errs.get)
    assert errs[worst] < 1e-4, (worst, errs[worst])
    print(f"restatement reproduces reference-a: {len(errs)} tensors, worst {worst} at {errs[worst]:.1e} relative")


# ---- reference-b ----------------------------------------------------------------------------------


def rand(*shape, std=0.2):
    return f32(torch.randn(*shape, dtype=torch.float64) * std)


def make_gpt2():
    cfg = {
        "model_type": "gpt2",
        "architectures": ["GPT2Model"],
        "activation_function": "gelu_new",
        "layer_norm_epsilon": 1e-05,
        "n_inner": 72,
        "vocab_size": 500,
        "n_positions": 40,
        "n_embd": 40,
        "n_layer": 3,
        "n_head": 5,
    }
    D, I = cfg["n_embd"], cfg["n_inner"]
    W = {"wte.weight": rand(cfg["vocab_size"], D, std=0.5), "wpe.weight": rand(cfg["n_positions"], D, std=0.1)}
    for l in range(cfg["n_layer"]):
        p = f"h.{l}."
        W[p + "ln_1.weight"], W[p + "ln_1.bias"] = f32(1 + rand(D, std=0.1)), rand(D, std=0.05)
        W[p + "attn.c_attn.weight"], W[p + "attn.c_attn.bias"] = rand(D, 3 * D), rand(3 * D, std=0.05)
        W[p + "attn.c_proj.weight"], W[p + "attn.c_proj.bias"] = rand(D, D), rand(D, std=0.05)
        W[p + "ln_2.weight"], W[p + "ln_2.bias"] = f32(1 + rand(D, std=0.1)), rand(D, std=0.05)
        W[p + "mlp.c_fc.weight"], W[p + "mlp.c_fc.bias"] = rand(D, I), rand(I, std=0.05)
        W[p + "mlp.c_proj.weight"], W[p + "mlp.c_proj.bias"] = rand(I, D), rand(D, std=0.05)
    W["ln_f.weight"], W["ln_f.bias"] = f32(1 + rand(D, std=0.1)), rand(D, std=0.05)
    adapter_cfg = {
        "peft_type": "LORA",
        "r": 3,
        "lora_alpha": 4,
        "lora_dropout": 0.0,
        "target_modules": ["c_attn", "c_proj", "c_fc"],
        "fan_in_fan_out": True,
        "bias": "none",
        "base_model_name_or_path": "tiny-gpt2-b",
        "task_type": None,
    }
    A = {}
    for l in range(cfg["n_layer"]):
        for mod, (i, o) in {"attn.c_attn": (D, 3 * D), "attn.c_proj": (D, D), "mlp.c_fc": (D, I), "mlp.c_proj": (I, D)}.items():
            k = f"base_model.model.h.{l}.{mod}"
            A[k + ".lora_A.weight"], A[k + ".lora_B.weight"] = rand(3, i, std=0.3), rand(o, 3, std=0.3)
    return cfg, W, adapter_cfg, A


def make_vision(kind):
    if kind == "dinov2":
        cfg = {
            "model_type": "dinov2_with_registers",
            "architectures": ["Dinov2WithRegistersModel"],
            "hidden_act": "gelu",
            "layer_norm_eps": 1e-06,
            "num_channels": 3,
            "qkv_bias": True,
            "layerscale_value": 0.5,
            "use_swiglu_ffn": False,
            "hidden_size": 32,
            "num_hidden_layers": 3,
            "num_attention_heads": 4,
            "mlp_ratio": 2,
            "image_size": 42,
            "patch_size": 14,
            "num_register_tokens": 4,
        }
        inter = cfg["hidden_size"] * cfg["mlp_ratio"]
        targets, r, alpha = ["query", "key", "value", "dense", "fc1", "fc2"], 2, 8
    else:
        cfg = {
            "model_type": "vit",
            "architectures": ["ViTModel"],
            "hidden_act": "gelu",
            "layer_norm_eps": 1e-12,
            "num_channels": 3,
            "qkv_bias": False,
            "hidden_size": 24,
            "num_hidden_layers": 2,
            "num_attention_heads": 3,
            "intermediate_size": 40,
            "image_size": 30,
            "patch_size": 10,
        }
        inter = cfg["intermediate_size"]
        targets, r, alpha = ["query", "value", "dense"], 2, 2
    D, P = cfg["hidden_size"], cfg["patch_size"]
    n = (cfg["image_size"] // P) ** 2
    W = {
        "embeddings.cls_token": rand(1, 1, D),
        "embeddings.position_embeddings": rand(1, n + 1, D, std=0.1),
        "embeddings.patch_embeddings.projection.weight": rand(D, 3, P, P, std=0.05),
        "embeddings.patch_embeddings.projection.bias": rand(D, std=0.05),
    }
    if kind == "dinov2":
        W["embeddings.mask_token"] = torch.zeros(1, D, dtype=torch.float64)
        W["embeddings.register_tokens"] = rand(1, cfg["num_register_tokens"], D)
    linears = {}  # module -> (in, out)
    for l in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{l}."
        for q in ("query", "key", "value"):
            linears[p + "attention.attention." + q] = (D, D)
        linears[p + "attention.output.dense"] = (D, D)
        if kind == "dinov2":
            linears[p + "mlp.fc1"], linears[p + "mlp.fc2"] = (D, inter), (inter, D)
            for s in ("norm1", "norm2"):
                W[p + s + ".weight"], W[p + s + ".bias"] = f32(1 + rand(D, std=0.1)), rand(D, std=0.05)
            W[p + "layer_scale1.lambda1"] = f32(0.5 + rand(D, std=0.1))
            W[p + "layer_scale2.lambda1"] = f32(0.5 + rand(D, std=0.1))
        else:
            linears[p + "intermediate.dense"], linears[p + "output.dense"] = (D, inter), (inter, D)
            for s in ("layernorm_before", "layernorm_after"):
                W[p + s + ".weight"], W[p + s + ".bias"] = f32(1 + rand(D, std=0.1)), rand(D, std=0.05)
    for mod, (i, o) in linears.items():
        W[mod + ".weight"] = rand(o, i, std=1 / math.sqrt(i))
        if cfg["qkv_bias"] or mod.split(".")[-1] not in ("query", "key", "value"):
            W[mod + ".bias"] = rand(o, std=0.05)
    W["layernorm.weight"], W["layernorm.bias"] = f32(1 + rand(D, std=0.1)), rand(D, std=0.05)
    adapter_cfg = {
        "peft_type": "LORA",
        "r": r,
        "lora_alpha": alpha,
        "lora_dropout": 0.0,
        "target_modules": targets,
        "fan_in_fan_out": False,
        "bias": "none",
        "base_model_name_or_path": f"tiny-{kind}-b",
        "task_type": None,
    }
    A = {}
    for mod, (i, o) in linears.items():
        if mod.split(".")[-1] in targets:  # PEFT matches target names against the module name's end
            A[f"base_model.model.{mod}.lora_A.weight"] = rand(r, i, std=0.3)
            A[f"base_model.model.{mod}.lora_B.weight"] = rand(o, r, std=0.3)
    return cfg, W, adapter_cfg, A


def write_model(name, cfg, W, adapter_cfg, A):
    d = os.path.join(OUT, name)
    os.makedirs(os.path.join(d, "adapter"), exist_ok=True)
    write_json(os.path.join(d, "config.json"), cfg)
    save_safetensors(os.path.join(d, "model.safetensors"), W, {"format": "pt"})
    write_json(os.path.join(d, "adapter", "adapter_config.json"), adapter_cfg)
    save_safetensors(os.path.join(d, "adapter", "adapter_model.safetensors"), A)


def main():
    torch.manual_seed(20261122)
    check_against_reference_a()
    os.makedirs(OUT, exist_ok=True)
    tcfg, TW, tacfg, TA = make_gpt2()
    dcfg, DW, dacfg, DA = make_vision("dinov2")
    vcfg, VW, vacfg, VA = make_vision("vit")
    write_model("gpt2", tcfg, TW, tacfg, TA)
    write_model("dinov2", dcfg, DW, dacfg, DA)
    write_model("vit", vcfg, VW, vacfg, VA)
    heads = {"text_projection.weight": rand(24, 40), "visual_projection.weight": rand(24, 32), "logit_scale": f32(torch.tensor(1.7, dtype=torch.float64))}
    heads_vit = {"text_projection.weight": rand(24, 40), "visual_projection.weight": rand(24, 24), "logit_scale": f32(torch.tensor(2.3, dtype=torch.float64))}
    save_safetensors(os.path.join(OUT, "heads.safetensors"), heads)
    save_safetensors(os.path.join(OUT, "heads-vit.safetensors"), heads_vit)

    out = {}
    B = 4
    lengths = torch.tensor([9, 3, 6, 1])
    ids = torch.randint(0, tcfg["vocab_size"], (B, 9))
    for b in range(B):
        ids[b, lengths[b] :] = 0  # right padding (any id: causal attention never looks ahead)
    out["text.input_ids"], out["text.lengths"] = ids, lengths
    tl, dl, vl = Lora(TA, tacfg), Lora(DA, dacfg), Lora(VA, vacfg)
    px_d = f32(torch.randn(B, 3, 42, 42, dtype=torch.float64))
    px_v = f32(torch.randn(B, 3, 30, 30, dtype=torch.float64))
    out["dinov2.pixel_values"], out["vit.pixel_values"] = px_d, px_v
    with torch.no_grad():
        out["text.embedding"], out["text.last_hidden"] = text_embedding(tcfg, TW, ids, lengths)
        out["text.embedding_lora"] = text_embedding(tcfg, TW, ids, lengths, tl)[0]
        cls, mean, last = vision(dcfg, DW, px_d)
        out["dinov2.embedding"], out["dinov2.embedding_prenorm_mean"], out["dinov2.last_hidden"] = cls, mean, last
        out["dinov2.embedding_lora_prenorm_mean"] = vision(dcfg, DW, px_d, dl)[1]
        cls, _, last = vision(vcfg, VW, px_v)
        out["vit.embedding"], out["vit.last_hidden"] = cls, last
        out["vit.embedding_lora"] = vision(vcfg, VW, px_v, vl)[0]

    loss, logits, grads = clip_case(tcfg, TW, tl, dcfg, DW, dl, heads, ids, lengths, px_d, "prenorm-mean")
    out["clip.loss"], out["clip.logits_per_image"] = loss.reshape(1), logits
    out.update({"clip.grad." + k: g for k, g in grads.items()})
    tl, vl = Lora(TA, tacfg), Lora(VA, vacfg)
    loss, logits, grads = clip_case(tcfg, TW, tl, vcfg, VW, vl, heads_vit, ids, lengths, px_v, "cls")
    out["clip_vit.loss"], out["clip_vit.logits_per_image"] = loss.reshape(1), logits
    out.update({"clip_vit.grad." + k: g for k, g in grads.items()})

    ctx = rand(5, 40).requires_grad_(True)
    class_ids = [torch.randint(0, tcfg["vocab_size"], (n,)) for n in (1, 4, 2, 3)]
    labels = torch.tensor([2, 0, 3, 1])
    with torch.no_grad():
        img = pooled(dcfg, DW, px_d, "prenorm-mean")
    logits = prompt_logits(tcfg, TW, ctx, class_ids, img, heads)
    loss = F.cross_entropy(logits, labels)
    out["prompt.ctx"] = ctx.detach().clone()
    for c, t in enumerate(class_ids):
        out[f"prompt.class_ids.{c}"] = t
    out["prompt.labels"], out["prompt.logits"] = labels, logits.detach()
    out["prompt.probs"], out["prompt.loss"] = torch.softmax(logits.detach(), -1), loss.detach().reshape(1)
    out["prompt.grad.ctx"] = torch.autograd.grad(loss, ctx)[0]
    save_safetensors(os.path.join(OUT, "cases.safetensors"), {k: v.detach() for k, v in out.items()})
    write_json(
        os.path.join(OUT, "cases.json"),
        {
            "text": "GPT-2 (gpt2/): input_ids (4,9) right-padded, lengths; embedding = ln_f output at lengths-1; embedding_lora = the same with gpt2/adapter (c_attn, attn.c_proj, mlp.c_proj, mlp.c_fc; scale 4/3).",
            "dinov2": "Dinov2WithRegistersModel (dinov2/, 4 registers): pixel_values (4,3,42,42) normalized; embedding = CLS of the final norm; embedding_prenorm_mean = mean over all tokens before the final norm; embedding_lora_prenorm_mean = the same with dinov2/adapter (query, key, value, attention.output.dense, mlp.fc1, mlp.fc2; scale 4).",
            "vit": "ViTModel (vit/, no qkv bias): pixel_values (4,3,30,30); embedding = CLS; embedding_lora = with vit/adapter (query, value, and every 'dense': attention.output.dense, intermediate.dense, output.dense; scale 1).",
            "clip": "Symmetric InfoNCE, image = DINOv2+dinov2/adapter prenorm-mean, text = GPT-2+gpt2/adapter at lengths-1, heads.safetensors (no bias), L2-normalized, logits = exp(logit_scale) img @ txt^T; clip.grad.<leaf> as reference-a (text.<module>.lora_A|B, image.<module>.lora_A|B, projections, logit_scale).",
            "clip_vit": "The same with image = ViT+vit/adapter CLS and heads-vit.safetensors.",
            "prompt": "Prompt learning on frozen GPT-2 and DINOv2 prenorm-mean with heads.safetensors: class c's prompt = ctx (5,40) + wte[class_ids.c] (lengths 1,4,2,3), text embedding at the last token; loss = cross-entropy with prompt.labels; prompt.grad.ctx = d loss / d ctx.",
        },
    )
    with open(os.path.join(OUT, "README.md"), "w") as f:
        f.write(
            "Generated by scripts/reference/make_reference_b.py with PyTorch "
            + torch.__version__
            + " (float64 math on float32 weights): tiny models whose shapes and\n"
            "options differ from reference-a's (see the script's docstring and cases.json), with the embeddings, CLIP-loss\n"
            "gradients and prompt-context gradient they give. The script first checks its restatement against reference-a.\n"
        )
    print(f"wrote {OUT}: {len(out)} tensors")


if __name__ == "__main__":
    main()
