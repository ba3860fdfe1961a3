"""torch_methods.py: PyTorch's side of the saliency-methods benchmark (scripts/bench.sh runs it with
Debian's /usr/bin/python3 and python3-torch / python3-torchvision).

Times integrated gradients (K path points) and SmoothGrad (N noisy samples of the vanilla
gradient) of one image the usual way: the K (or N) images in batches of --batch through
torchvision's ResNet-18 (num_classes=10, the network of cfg/resnet18-64.cfg) in eval mode,
torch.autograd.grad of the sum of the class logits with respect to the batch. One RESULT line per
run: median/min/max wall seconds per image explained, median process CPU seconds.

  integrated   baseline black, right rule: x0 + (k/K)(x - x0), k = 1..K; map = (x - x0) * mean grad
  smoothgrad   x + N(0, (0.15 (max x - min x))^2), N samples; map = mean grad

usage: torch_methods.py [--method integrated] [--size 64] [--points 32] [--batch 32] [--threads 1]
                        [--images 3] [--warmup 1] [--seed 1]
"""
import argparse
import resource
import time

import torch


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: kilobytes


def class_grad(model, xs, cls, batch):
    """d z_cls / d x for every image of xs (n, C, H, W), batch images at a time"""
    out = []
    for i in range(0, xs.shape[0], batch):
        xb = xs[i:i + batch].clone().requires_grad_(True)
        z = model(xb)
        (g,) = torch.autograd.grad(z[:, cls].sum(), xb)
        out.append(g)
    return torch.cat(out)


def integrated(model, x, cls, points, batch):
    x0 = torch.zeros_like(x)
    alphas = torch.arange(1, points + 1, dtype=x.dtype) / points
    path = x0 + alphas.view(-1, 1, 1, 1) * (x - x0)
    g = class_grad(model, path, cls, batch)
    return (x - x0) * g.mean(dim=0, keepdim=True)


def smoothgrad(model, x, cls, points, batch, gen):
    sd = 0.15 * float(x.max() - x.min())
    noisy = x + sd * torch.randn((points,) + tuple(x.shape[1:]), generator=gen)
    return class_grad(model, noisy, cls, batch).mean(dim=0, keepdim=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--method", choices=["integrated", "smoothgrad"], default="integrated")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--points", type=int, default=32)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--images", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(a.seed)
    gen = torch.Generator().manual_seed(a.seed)
    import torchvision
    model = torchvision.models.resnet18(num_classes=10).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    base_mb = peak_rss_mb()
    times, cpu = [], []
    for i in range(a.warmup + a.images):
        x = torch.rand(1, 3, a.size, a.size, generator=gen)
        t0, c0 = time.perf_counter(), time.process_time()
        with torch.no_grad():
            cls = int(model(x).argmax())
        if a.method == "integrated":
            m = integrated(model, x, cls, a.points, a.batch)
        else:
            m = smoothgrad(model, x, cls, a.points, a.batch, gen)
        if i >= a.warmup:
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)

    def median(v):
        v = sorted(v)
        n = len(v)
        return v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])
    print("RESULT system=pytorch method=%s threads=%d batch=%d size=%dx%d points=%d images=%d "
          "median_s=%.4f min_s=%.4f max_s=%.4f cpu_s=%.4f peak_rss_mb=%.0f base_rss_mb=%.0f map_abs_sum=%g "
          "torch=%s" % (a.method, a.threads, a.batch, a.size, a.size, a.points, a.images, median(times),
                        min(times), max(times), median(cpu), peak_rss_mb(), base_mb, float(m.abs().sum()),
                        torch.__version__))


if __name__ == "__main__":
    main()
