#!/usr/bin/env python3
"""Checks a stepwise checkpoint against HF transformers: same logits to 1e-4.

Run on a machine with PyTorch and transformers (no network needed: the checkpoint directory is local):

    node packages/native/scripts/export-logits.mjs CKPT_DIR /tmp/ours.json
    python3 packages/native/scripts/check_hf_transformers.py CKPT_DIR /tmp/ours.json [--atol 1e-4]

It loads CKPT_DIR (model.safetensors + config.json, as written by saveModel) with
AutoModelForCausalLM in float32 on CPU, runs the same token ids, and prints the max absolute logit
difference per sequence. Exit status 0 when every difference is within --atol, 1 otherwise, 2 on bad usage.
"""
import argparse
import json
import sys


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint")
    ap.add_argument("ours", help="JSON written by export-logits.mjs")
    ap.add_argument("--atol", type=float, default=1e-4)
    args = ap.parse_args()
    try:
        import torch
        from transformers import AutoModelForCausalLM
    except ImportError as e:  # a clear message instead of a traceback
        print(f"check_hf_transformers: needs torch and transformers ({e})", file=sys.stderr)
        return 2
    with open(args.ours) as f:
        ours = json.load(f)
    model = AutoModelForCausalLM.from_pretrained(args.checkpoint, torch_dtype=torch.float32, local_files_only=True)
    model.eval()
    worst = 0.0
    for i, (tokens, logits) in enumerate(zip(ours["tokens"], ours["logits"])):
        with torch.no_grad():
            hf = model(torch.tensor([tokens])).logits[0].double()
        diff = (hf - torch.tensor(logits, dtype=torch.float64)).abs().max().item()
        worst = max(worst, diff)
        print(f"sequence {i}: {len(tokens)} tokens, max |logit difference| = {diff:.3e}")
    ok = worst <= args.atol
    print(f"{'OK' if ok else 'MISMATCH'}: worst {worst:.3e} (tolerance {args.atol:g})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
