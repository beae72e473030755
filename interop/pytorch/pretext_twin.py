#!/usr/bin/env python3
"""PyTorch twin of Pretext's trunk and heads, built from a safetensors export.

`pretext export -ckpt F.ckpt -format safetensors -out F.safetensors` (or the
page's export) writes the weights under the names of this module's
state_dict and a metadata map describing the architecture; `load` builds the
module from that metadata and loads the weights strictly. `save` writes a
module back in the same layout, which `pretext import` reads.

The trunk is Pretext's: stages of (conv 3x3, padding 1, no bias; batch-norm,
eps 1e-5, momentum 0.1; ReLU) x depth, a 2x2 max-pool of stride 2 after every
stage but the last, then global average pooling. Heads: "linear" (rotation,
exemplar, keypoint-clusters, the plain classifier: logits of each example's
one view) and "mlp" (jigsaw, relative-position, jigsaw-positions, SimCLR's
projection: the features of `views` views per example concatenated, fc1,
ReLU, fc2). A batch is
[N*views, C, H, W], example n's views in rows n*views..n*views+views-1.

Only torch is needed. Command line:

  pretext_twin.py info MODEL.safetensors
  pretext_twin.py run MODEL.safetensors --batch B.safetensors --out O.safetensors [--train]
  pretext_twin.py sgd MODEL.safetensors --batch B.safetensors --lr 0.1 --out NEW.safetensors

A batch file holds "x" (F32 [N*views, C, H, W], normalised as the metadata's
"normalization" says) and, for training, "labels" (I64 [N]). `run` writes the
evaluation-mode maps of every layer ("eval.layer.<i>"), "eval.features" and
"eval.logits"; with --train also the training-mode loss, logits, running
statistics after the step ("after.<name>") and every parameter's gradient
("grad.<name>") of one cross-entropy step. `sgd` takes one plain SGD step
(no momentum, no weight decay) and saves the result.
"""

import argparse
import json
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

FORMAT = "pretext"
# Version 2 renamed only the native layout's perceptron tensors (which the
# twin does not build); the linear and mlp layouts read the same in both.
FORMAT_VERSIONS = (1, 2)

_DTYPES = {"F32": (torch.float32, 4), "I64": (torch.int64, 8)}


# ---- safetensors ------------------------------------------------------------

def read_safetensors(path):
    """Returns ({name: tensor}, metadata) from a safetensors file."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError(f"{path}: truncated (no header length)")
    (n,) = struct.unpack("<Q", raw[:8])
    if n > len(raw) - 8:
        raise ValueError(f"{path}: header length {n} past the end of the file")
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", None) or {}
    data = raw[8 + n:]
    tensors = {}
    for name, e in header.items():
        if e["dtype"] not in _DTYPES:
            raise ValueError(f"{path}: tensor {name} has dtype {e['dtype']}, want F32 or I64")
        dtype, width = _DTYPES[e["dtype"]]
        lo, hi = e["data_offsets"]
        count = 1
        for d in e["shape"]:
            count *= d
        if hi - lo != count * width or hi > len(data):
            raise ValueError(f"{path}: tensor {name} has bad data_offsets {e['data_offsets']}")
        t = torch.frombuffer(bytearray(data[lo:hi]), dtype=dtype) if count else torch.empty(0, dtype=dtype)
        tensors[name] = t.reshape(e["shape"]).clone()
    return tensors, meta


def write_safetensors(path, tensors, meta=None):
    """Writes {name: tensor} (float32 or int64) and a string metadata map."""
    header, blobs, offset = {}, [], 0
    if meta:
        header["__metadata__"] = {k: str(v) for k, v in meta.items()}
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        if t.dtype == torch.int64:
            dtype = "I64"
        else:
            dtype, t = "F32", t.to(torch.float32)
        b = t.numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    js = json.dumps(header, separators=(",", ":")).encode()
    js += b" " * (-len(js) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(js)))
        f.write(js)
        for b in blobs:
            f.write(b)


# ---- the model -------------------------------------------------------------

class ConvBN(nn.Module):
    """conv 3x3 (pad 1, no bias), batch-norm, ReLU, then maybe a 2x2 max-pool."""

    def __init__(self, cin, cout, pool, eps=1e-5, momentum=0.1):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=eps, momentum=momentum)
        self.pool = pool

    def forward(self, x):
        x = F.relu(self.bn(self.conv(x)))
        return F.max_pool2d(x, 2, 2) if self.pool else x


class Trunk(nn.Module):
    def __init__(self, in_channels=3, widths=(32, 64, 128), depth=1, eps=1e-5, momentum=0.1):
        super().__init__()
        layers, cin = [], in_channels
        for s, w in enumerate(widths):
            for d in range(depth):
                layers.append(ConvBN(cin, w, d == depth - 1 and s < len(widths) - 1, eps, momentum))
                cin = w
        self.layers = nn.ModuleList(layers)
        self.features = widths[-1]

    def maps(self, x):
        """Every layer's output maps, in order."""
        out = []
        for layer in self.layers:
            x = layer(x)
            out.append(x)
        return out

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x.mean(dim=(2, 3))


class LinearHead(nn.Module):
    views = 1

    def __init__(self, features, classes):
        super().__init__()
        self.fc = nn.Linear(features, classes)

    def forward(self, f):
        return self.fc(f)


class MLPHead(nn.Module):
    def __init__(self, features, views, hidden, classes):
        super().__init__()
        self.views = views
        self.fc1 = nn.Linear(views * features, hidden)
        self.fc2 = nn.Linear(hidden, classes)

    def forward(self, f):
        return self.fc2(F.relu(self.fc1(f.reshape(-1, self.views * f.shape[1]))))


class Twin(nn.Module):
    """Trunk and head; forward maps a batch [N*views, C, H, W] to logits [N, K]."""

    def __init__(self, trunk, head, class_weights=None):
        super().__init__()
        self.trunk = trunk
        self.head = head
        self.class_weights = class_weights

    def forward(self, x):
        return self.head(self.trunk(x))

    def loss(self, logits, labels):
        """Pretext's softmax cross-entropy: the class-weighted mean."""
        return F.cross_entropy(logits, labels, weight=self.class_weights)


def build(meta, tensors):
    """Builds the twin the metadata describes, shaped for tensors' head."""
    if meta.get("format") != FORMAT:
        raise ValueError(f"metadata format is {meta.get('format')!r}, want {FORMAT!r}: not a Pretext export")
    version = int(meta.get("format_version", "0"))
    if version not in FORMAT_VERSIONS:
        raise ValueError(f"format version {version}, this twin reads {FORMAT_VERSIONS}")
    cfg = json.loads(meta["trunk"])
    bn = json.loads(meta.get("batch_norm", '{"eps":1e-05,"momentum":0.1}'))
    trunk = Trunk(cfg.get("in_channels") or 3, cfg.get("widths") or [32, 64, 128], cfg.get("depth") or 1,
                  bn["eps"], bn["momentum"])
    layout = meta.get("head_layout")
    if layout == "linear":
        classes, features = tensors["head.fc.weight"].shape
        head = LinearHead(features, classes)
    elif layout == "mlp":
        hidden, _ = tensors["head.fc1.weight"].shape
        classes, _ = tensors["head.fc2.weight"].shape
        head = MLPHead(trunk.features, int(meta["views"]), hidden, classes)
    else:
        raise ValueError(f"head layout {layout!r} ({meta.get('task')}) is not built by the twin: it builds linear and mlp heads")
    weights = json.loads(meta.get("head", "{}")).get("config") or {}
    cw = weights.get("class_weights") if isinstance(weights, dict) else None
    return Twin(trunk, head, torch.tensor(cw, dtype=torch.float32) if cw else None)


def load(path):
    """Returns (twin, metadata) with the file's weights loaded strictly."""
    tensors, meta = read_safetensors(path)
    model = build(meta, tensors)
    model.load_state_dict(tensors, strict=True)
    return model, meta


def save(path, model, meta, steps_taken=0):
    """Writes model's state_dict and meta (its step advanced) for pretext import."""
    meta = dict(meta)
    meta["step"] = str(int(meta.get("step", "0")) + steps_taken)
    write_safetensors(path, model.state_dict(), meta)


# ---- command line -----------------------------------------------------------

def _batch(path):
    tensors, _ = read_safetensors(path)
    return tensors["x"], tensors.get("labels")


def cmd_info(args):
    model, meta = load(args.model)
    print(json.dumps(meta, indent=1))
    print(model)


def cmd_run(args):
    model, _ = load(args.model)
    x, labels = _batch(args.batch)
    out = {}
    model.eval()
    with torch.no_grad():
        for i, m in enumerate(model.trunk.maps(x)):
            out[f"eval.layer.{i}"] = m
        f = model.trunk(x)
        out["eval.features"] = f
        out["eval.logits"] = model.head(f)
    if args.train:
        if labels is None:
            sys.exit(f"{args.batch}: --train needs labels")
        model.train()
        model.zero_grad()
        f = model.trunk(x)
        logits = model.head(f)
        loss = model.loss(logits, labels)
        loss.backward()
        out["train.features"], out["train.logits"], out["train.loss"] = f, logits, loss.reshape([])
        for name, p in model.named_parameters():
            out["grad." + name] = p.grad
        for name, b in model.named_buffers():
            if b.dtype == torch.float32:
                out["after." + name] = b
    write_safetensors(args.out, out)


def cmd_sgd(args):
    model, meta = load(args.model)
    x, labels = _batch(args.batch)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=args.lr)
    opt.zero_grad()
    loss = model.loss(model(x), labels)
    loss.backward()
    opt.step()
    save(args.out, model, meta, steps_taken=1)
    print(f"loss {loss.item():.6f}; wrote {args.out}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("info", help="print the metadata and the module")
    s.add_argument("model")
    s.set_defaults(fn=cmd_info)
    s = sub.add_parser("run", help="run a batch, dump maps, features, logits (and one step's gradients)")
    s.add_argument("model")
    s.add_argument("--batch", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--train", action="store_true")
    s.set_defaults(fn=cmd_run)
    s = sub.add_parser("sgd", help="take one plain SGD step on a batch and save the model")
    s.add_argument("model")
    s.add_argument("--batch", required=True)
    s.add_argument("--lr", type=float, default=0.1)
    s.add_argument("--out", required=True)
    s.set_defaults(fn=cmd_sgd)
    args = p.parse_args(argv)
    args.fn(args)


if __name__ == "__main__":
    main()
