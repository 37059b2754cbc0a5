"""Writes test/fixtures/metrics/sklearn-reference.json: metrics scikit-learn computes for one
seeded 4-class case. Run once with Debian's python3-sklearn; the test compares our TypeScript."""
import json
import numpy as np
from sklearn.metrics import accuracy_score, balanced_accuracy_score, confusion_matrix, recall_score, roc_auc_score

rng = np.random.default_rng(42)
n, k = 150, 4
y = rng.integers(0, k, n)
logits = rng.normal(size=(n, k)) + 1.2 * np.eye(k)[y]
logits = np.round(logits, 1)  # ties
p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
pred = p.argmax(1)
out = {
    "input": {"y": y.tolist(), "p": p.tolist(), "classes": ["A", "B", "C", "D"]},
    "expected": {
        "accuracy": accuracy_score(y, pred),
        "balanced_accuracy": balanced_accuracy_score(y, pred),
        "macro_auc_ovr": roc_auc_score(y, p, multi_class="ovr", average="macro"),
        "confusion": confusion_matrix(y, pred, labels=list(range(k))).tolist(),
        "recall": recall_score(y, pred, average=None, labels=list(range(k))).tolist(),
    },
}
json.dump(out, open("test/fixtures/metrics/sklearn-reference.json", "w"))
