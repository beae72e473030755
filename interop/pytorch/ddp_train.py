#!/usr/bin/env python3
"""Continue training a Pretext rotation model with DistributedDataParallel.

An example, not part of the twin: it loads an export with pretext_twin.load,
trains RotNet's task (each crop in its four rotations, class k turned k*90
degrees counter-clockwise, as Pretext's rotation task) on a folder of photos
with one process per device, and writes the result with pretext_twin.save,
which `pretext import` and the page read. Needs torch and, to read photos,
Pillow. Launch with torchrun, e.g. on two machines of four GPUs each:

  torchrun --nnodes 2 --nproc_per_node 4 --rdzv_backend c10d \\
      --rdzv_endpoint HOST:29500 ddp_train.py MODEL.safetensors PHOTOS/ --out OUT.safetensors
"""

import argparse
import os
import random

import torch
import torch.distributed as dist
import torch.nn.functional as F
from PIL import Image

import pretext_twin


def crops(paths, size, norm, rng):
    """One random square crop of each photo, resized and normalised: [N, C, size, size]."""
    mean = torch.tensor(norm["mean"][: norm["channels"]]).view(-1, 1, 1)
    std = torch.tensor(norm["std"][: norm["channels"]]).view(-1, 1, 1)
    out = []
    for p in paths:
        img = Image.open(p).convert("RGB" if norm["channels"] == 3 else "L")
        side = int(min(img.size) * rng.uniform(0.5, 1.0))
        x0, y0 = rng.randint(0, img.width - side), rng.randint(0, img.height - side)
        img = img.crop((x0, y0, x0 + side, y0 + side)).resize((size, size), Image.BILINEAR)
        t = torch.frombuffer(bytearray(img.tobytes()), dtype=torch.uint8).float().view(size, size, -1).permute(2, 0, 1)
        out.append((t / 255 - mean) / std)
    return torch.stack(out)


def rotations(x):
    """Each crop in its four counter-clockwise rotations, with its class."""
    xs = torch.cat([torch.rot90(x, k, dims=(2, 3)) for k in range(4)])
    return xs, torch.arange(4).repeat_interleave(len(x))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("photos")
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--batch", type=int, default=8, help="photos per process and step (4 examples each)")
    ap.add_argument("--lr", type=float, default=0.05)
    args = ap.parse_args()

    cuda = torch.cuda.is_available()
    dist.init_process_group("nccl" if cuda else "gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    device = torch.device("cuda", int(os.environ["LOCAL_RANK"])) if cuda else torch.device("cpu")
    model, meta = pretext_twin.load(args.model)
    if meta.get("task") != "rotation":
        raise SystemExit(f"{args.model} holds a {meta.get('task')} model; this example trains rotation")
    if cuda:  # batch statistics over the whole global batch, as Pretext's data-parallel steps
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    model = model.to(device)
    ddp = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if cuda else None)
    opt = torch.optim.SGD(ddp.parameters(), lr=args.lr, momentum=0.9, weight_decay=5e-4)
    norm = pretext_twin.json.loads(meta["normalization"])
    size = int(meta.get("input_size", "32"))
    paths = sorted(os.path.join(args.photos, f) for f in os.listdir(args.photos)
                   if f.lower().endswith((".jpg", ".jpeg", ".png")))
    rng = random.Random(rank)  # each process its own photos and crops
    for step in range(args.steps):
        x, y = rotations(crops(rng.sample(paths, min(args.batch, len(paths))), size, norm, rng))
        loss = F.cross_entropy(ddp(x.to(device)), y.to(device))
        opt.zero_grad()
        loss.backward()  # DDP averages the gradients over all processes
        opt.step()
        if rank == 0 and (step + 1) % 10 == 0:
            print(f"step {step + 1}: loss {loss.item():.4f} (rank 0, {world} processes)", flush=True)
    if rank == 0:
        pretext_twin.save(args.out, model.cpu(), meta, steps_taken=args.steps)
        print(f"wrote {args.out}")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
