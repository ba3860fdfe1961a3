"""torch_resnet.py: PyTorch's side of the benchmark (scripts/bench.sh runs it with Debian's
/usr/bin/python3 and python3-torch / python3-torchvision).

Times one training step of torchvision's ResNet-18 (num_classes=10; the same network as
cfg/resnet18-64.cfg) on one fixed random batch, SGD with momentum 0.9 and weight decay 5e-4 like
the cfg, after warm-up, and prints one RESULT line (median/min/max wall seconds, median process
CPU seconds per step, peak RSS).

Modes:
  plain      CE(z, y); backward; optimizer step.
  dbp-tv     double backprop, onehot formulation: s = sum_b z_b[y_b], g = autograd.grad(s, x,
             create_graph=True); R = mean_b TV(g_b) (anisotropic L1, summed over channels and
             valid differences); loss = CE + 0.5 R; backward; optimizer step.
  dbp-ssim   the same with R = mean_b -SSIM_gauss(N_mm(g_b), N_mm(x_b)) (11x11 Gaussian window,
             sigma 1.5, valid, K1 0.01, K2 0.03, L 1, per channel then averaged; N_mm = min-max over
             all channels of one image), as in /work/shared/spec/regularizers.md.
BatchNorm stays in training mode and autograd differentiates through the batch statistics in
every term (darknet's engine treats them as constants in the heatmap terms: less work).

usage: torch_resnet.py [--size 64] [--batch 16] [--threads 1] [--mode plain] [--steps 10]
                       [--warmup 2] [--seed 1]
"""
import argparse
import resource
import time

import torch
import torch.nn.functional as F

LAMBDA = 0.5


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: kilobytes


def resnet18(num_classes):
    import torchvision
    return torchvision.models.resnet18(num_classes=num_classes)


# ---- regularizers (per image, batch value = mean over images) ---------------------------------

def tv(g):  # (B, C, H, W) -> (B,)
    dy = (g[:, :, 1:, :] - g[:, :, :-1, :]).abs().sum(dim=(1, 2, 3))
    dx = (g[:, :, :, 1:] - g[:, :, :, :-1]).abs().sum(dim=(1, 2, 3))
    return dy + dx


def minmax(t):  # (B, C, H, W), min/max over all channels of one image
    flat = t.flatten(1)
    lo = flat.min(dim=1).values.view(-1, 1, 1, 1)
    hi = flat.max(dim=1).values.view(-1, 1, 1, 1)
    span = hi - lo
    ok = span >= 1e-12 * torch.clamp(hi.abs(), min=1.0)
    return torch.where(ok, (t - lo) / torch.where(ok, span, torch.ones_like(span)), torch.zeros_like(t))


def ssim_gauss(a, b):  # (B, C, H, W) each, in [0, 1] -> (B,) mean SSIM over channels and windows
    C = a.shape[1]
    r = torch.arange(11, dtype=a.dtype) - 5
    w = torch.exp(-r * r / (2 * 1.5 ** 2))
    w = w / w.sum()
    wy = w.view(1, 1, 11, 1).repeat(C, 1, 1, 1)
    wx = w.view(1, 1, 1, 11).repeat(C, 1, 1, 1)

    def blur(t):  # separable Gaussian mean, VALID, one channel at a time (groups=C)
        return F.conv2d(F.conv2d(t, wy, groups=C), wx, groups=C)

    mu_a, mu_b = blur(a), blur(b)
    saa = blur(a * a) - mu_a * mu_a
    sbb = blur(b * b) - mu_b * mu_b
    sab = blur(a * b) - mu_a * mu_b
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    s = ((2 * mu_a * mu_b + c1) * (2 * sab + c2)) / ((mu_a * mu_a + mu_b * mu_b + c1) * (saa + sbb + c2))
    return s.mean(dim=(1, 2, 3))


# ---- one training step ------------------------------------------------------------------------

def step(model, opt, x, y, mode):
    opt.zero_grad(set_to_none=True)
    if mode == "plain":
        z = model(x)
        loss = F.cross_entropy(z, y)
    else:
        xg = x.detach().requires_grad_(True)
        z = model(xg)
        ce = F.cross_entropy(z, y)
        s = z.gather(1, y.view(-1, 1)).sum()                 # onehot: true-class logits
        (g,) = torch.autograd.grad(s, xg, create_graph=True)  # (B, C, H, W) heatmaps
        if mode == "dbp-tv":
            reg = tv(g).mean()
        else:
            reg = (-ssim_gauss(minmax(g), minmax(xg.detach()))).mean()
        loss = ce + LAMBDA * reg
    loss.backward()
    opt.step()
    return float(loss)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--mode", choices=["plain", "dbp-tv", "dbp-ssim"], default="plain")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--lr", type=float, default=0.01)
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(a.seed)
    base_mb = peak_rss_mb()
    model = resnet18(10).train()
    opt = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=0.9, weight_decay=5e-4)
    x = torch.rand(a.batch, 3, a.size, a.size)
    y = torch.randint(0, 10, (a.batch,))

    times, cpu = [], []
    loss = 0.0
    for i in range(a.warmup + a.steps):
        t0, c0 = time.perf_counter(), time.process_time()
        loss = step(model, opt, x, y, a.mode)
        if i >= a.warmup:
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)

    def median(v):
        v = sorted(v)
        n = len(v)
        return v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])
    print("RESULT system=pytorch mode=%s threads=%d batch=%d size=%dx%d steps=%d warmup=%d "
          "median_s=%.4f min_s=%.4f max_s=%.4f cpu_s=%.4f peak_rss_mb=%.0f base_rss_mb=%.0f loss=%g "
          "torch=%s" % (a.mode, a.threads, a.batch, a.size, a.size, a.steps, a.warmup, median(times),
                        min(times), max(times), median(cpu), peak_rss_mb(), base_mb, loss,
                        torch.__version__))


if __name__ == "__main__":
    main()
