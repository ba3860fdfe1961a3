#!/usr/bin/env python3
# make_seeds.py: writes the seed inputs of tests/fuzz/corpus/<name>/ (the files named seed-*; the
# crash-* files are reproducers of findings, kept as they were found). Run from the repository
# root after `make` (JPEG and BMP seeds are written with stb_image_write from build/darknet/src).
# Each seed starts with the harness's own prefix bytes (tests/fuzz/README.md).
import gzip, os, struct, subprocess, sys, tempfile, zlib

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")

def put(name, fname, data):
    d = os.path.join(ROOT, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + fname), "wb") as f:
        f.write(data)

# ---- section: lines of a [saliency] section body
sections = {
    "empty": "",
    "defaults": "regularizer=l2\nformulation=onehot\nweight=0.5\nmethod=exact\nstep=0.01\nseed=1\n",
    "ssim-finite": "regularizer=ssim\nformulation=loss\nweight=1e-3\nmethod=finite\nstep=1\nseed=18446744073709551615\n",
    "spectreg-central": "# comment\n; other\nregularizer = psnr_hvsm\nformulation=spectreg\nmethod=central\nstep=.5e-1\n",
    "every-reg": "".join("regularizer=%s\n" % r for r in ["tv"]) + "weight=0\n",
    "bad-weight": "weight=nan\n",
    "bad-inf": "weight=1e39\nstep=0\n",
    "bad-seed": "seed=-1\n",
    "seed-overflow": "seed=18446744073709551616\n",
    "twice": "weight=1\nweight=2\n",
    "unknown-key": "lambda=1\n",
    "no-value": "weight\n",
    "empty-value": "weight=\n",
    "eq-in-value": "regularizer=ssim=1\n",
    "hex": "weight=0x1p-3\nstep=1e-310\n",
}
for k, v in sections.items():
    put("section", k, v.encode())

# ---- idx: byte 0 = bit 0 images, bit 1 gzip by the harness
def idx_images(n, rows, cols, magic=2051, extra=b"", cut=0):
    body = bytes((i * 37 + 11) % 256 for i in range(n * rows * cols))
    data = struct.pack(">IIII", magic, n, rows, cols) + body + extra
    return data[:len(data) - cut] if cut else data
def idx_labels(labels, magic=2049, n=None):
    return struct.pack(">II", magic, len(labels) if n is None else n) + bytes(labels)
put("idx", "images", b"\x01" + idx_images(3, 4, 5))
put("idx", "images-gz", b"\x03" + idx_images(2, 28, 28))
put("idx", "images-gzfile", b"\x01" + gzip.compress(idx_images(2, 3, 3), mtime=0))
put("idx", "images-gzcut", b"\x01" + gzip.compress(idx_images(2, 3, 3), mtime=0)[:-6])
put("idx", "images-cut", b"\x01" + idx_images(3, 4, 5, cut=7))
put("idx", "images-extra", b"\x01" + idx_images(1, 2, 2, extra=b"\0\0"))
put("idx", "images-magic", b"\x01" + idx_images(1, 2, 2, magic=2049))
put("idx", "images-huge", b"\x01" + struct.pack(">IIII", 2051, 100000000, 4096, 4096))
put("idx", "labels", b"\x00" + idx_labels([0, 9, 3, 5]))
put("idx", "labels-gz", b"\x02" + idx_labels([1, 2, 3]))
put("idx", "labels-gzfile", b"\x00" + gzip.compress(idx_labels([7, 8]), mtime=0))
put("idx", "labels-badclass", b"\x00" + idx_labels([1, 10]))
put("idx", "labels-short", b"\x00" + idx_labels([1, 2], n=5))
put("idx", "header-only", b"\x00\x00\x00\x08\x01")

# ---- weights: byte 0 = cfg (fuzz_weights.c), then the file; sizes from the cfgs:
# cfg 0: 139 floats, cfg 1: 83, cfg 2: 130 (header 20 bytes for version >= 0.2, 16 before)
def weights(nfloats, major=0, minor=2, rev=0, old=False, extra=0):
    head = struct.pack("<iii", major, minor, rev) + (struct.pack("<i", 7) if old else struct.pack("<Q", 7))
    body = b"".join(struct.pack("<f", (i % 17) / 8.0 - 1) for i in range(nfloats + extra))
    return head + body
for k, nf in [(0, 139), (1, 83), (2, 130)]:
    put("weights", "cfg%d" % k, bytes([k]) + weights(nf))
    put("weights", "cfg%d-old" % k, bytes([k]) + weights(nf, 0, 1, old=True))
    put("weights", "cfg%d-cut" % k, bytes([k]) + weights(nf)[:-3])
    put("weights", "cfg%d-long" % k, bytes([k]) + weights(nf, extra=1))
put("weights", "cfg1-transposed", b"\x01" + weights(83, 1001, 0, old=True))
put("weights", "cfg3-local", b"\x03" + weights(40))
put("weights", "header-cut", b"\x00" + b"\0\0\0\0\2\0")
put("weights", "empty", b"\x02")

# ---- image: byte 0 = bit 0 3 channels, bit 1 resize to (b1 % 64 + 1) x (b2 % 64 + 1)
def png(w, h, grey, pix=None):
    ch = 1 if grey else 3
    rows = b"".join(b"\0" + bytes(((x * 40 + y * 70 + c * 90) % 256) for x in range(w) for c in range(ch)) for y in range(h))
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0 if grey else 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
def pnm(w, h, grey, binary=True):
    ch = 1 if grey else 3
    px = bytes((i * 13) % 256 for i in range(w * h * ch))
    if binary:
        return ("P%d\n%d %d\n255\n" % (5 if grey else 6, w, h)).encode() + px
    return ("P%d\n%d %d\n255\n" % (2 if grey else 3, w, h)).encode() + " ".join(map(str, px)).encode() + b"\n"
def tiff(w, h):
    px = bytes((i * 29) % 256 for i in range(w * h))
    entries = [(256, 3, 1, w), (257, 3, 1, h), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1),
               (273, 4, 1, 8), (277, 3, 1, 1), (278, 3, 1, h), (279, 4, 1, len(px))]
    ifd_off = 8 + len(px)
    ifd = struct.pack("<H", len(entries)) + b"".join(struct.pack("<HHII", t, ty, n, v) for t, ty, n, v in entries) + b"\0\0\0\0"
    return b"II*\0" + struct.pack("<I", ifd_off) + px + ifd
gif = bytes.fromhex("47494638396101000100800000ffffff00000021f90401000000002c00000000010001000002024401003b")
put("image", "png-rgb", b"\x01\0\0" + png(5, 4, False))
put("image", "png-grey-resize", b"\x02\x07\x02" + png(6, 3, True))
put("image", "png-rgb-as-grey", b"\x00\0\0" + png(3, 3, False))
put("image", "ppm", b"\x03\x10\x10" + pnm(4, 3, False))
put("image", "pgm", b"\x00\0\0" + pnm(3, 5, True))
put("image", "pgm-ascii", b"\x01\0\0" + pnm(2, 2, True, binary=False))
put("image", "tiff", b"\x01\0\0" + tiff(4, 2))
put("image", "gif", b"\x01\0\0" + gif)
put("image", "png-cut", b"\x01\0\0" + png(5, 4, False)[:40])
put("image", "not-image", b"\x01\0\0" + b"this is not an image\n")
# JPEG and BMP through stb_image_write (build/darknet/src/stb_image_write.h)
stb = os.path.join(os.path.dirname(ROOT), "..", "..", "build", "darknet", "src")
if os.path.exists(os.path.join(stb, "stb_image_write.h")):
    with tempfile.TemporaryDirectory() as t:
        src = os.path.join(t, "w.c")
        open(src, "w").write('#define STB_IMAGE_WRITE_IMPLEMENTATION\n#include "stb_image_write.h"\n'
            'int main(int c, char **v){ unsigned char p[6*5*3]; for(int i=0;i<90;i++) p[i]=(i*23)%256;\n'
            ' stbi_write_jpg(v[1],6,5,3,p,90); stbi_write_bmp(v[2],6,5,3,p); stbi_write_jpg(v[3],4,4,1,p,50); return 0; }\n')
        subprocess.check_call(["cc", "-I" + stb, src, "-o", os.path.join(t, "w"), "-lm"])
        subprocess.check_call([os.path.join(t, "w"), os.path.join(t, "a.jpg"), os.path.join(t, "a.bmp"), os.path.join(t, "g.jpg")])
        put("image", "jpeg", b"\x01\0\0" + open(os.path.join(t, "a.jpg"), "rb").read())
        put("image", "jpeg-grey-resize", b"\x02\x03\x20" + open(os.path.join(t, "g.jpg"), "rb").read())
        put("image", "bmp", b"\x01\0\0" + open(os.path.join(t, "a.bmp"), "rb").read())
else:
    print("make_seeds: no build/darknet/src/stb_image_write.h (run make): no JPEG/BMP seeds", file=sys.stderr)

# ---- compare: b0 % 4 + 1 channels, b1 % 48 + 1 rows, b2 % 48 + 1 columns, b3 bit 0 float32
def ramp(n, k):
    return bytes((i * k + 7) % 256 for i in range(n))
put("compare", "rgb-12x12", bytes([2, 11, 11, 0]) + ramp(2 * 3 * 144, 5))
put("compare", "grey-16x13", bytes([0, 15, 12, 0]) + ramp(2 * 16 * 13, 3))
put("compare", "identical-8x8", bytes([0, 7, 7, 0]) + ramp(64, 9))
put("compare", "tiny-1x1", bytes([0, 0, 0, 0, 5]))
put("compare", "four-ch-9x10", bytes([3, 8, 9, 0]) + ramp(2 * 4 * 90, 11))
put("compare", "const", bytes([2, 20, 20, 0, 128]))
floats = lambda xs: b"".join(struct.pack("<f", x) for x in xs)
put("compare", "float-11x11", bytes([0, 10, 10, 1]) + floats([(i % 13) / 13.0 for i in range(242)]))
put("compare", "float-nan-inf", bytes([2, 11, 11, 1]) + floats([float("nan"), float("inf"), -float("inf"), 1e38, -1e38, 1e-45, 0.5]))
put("compare", "float-huge", bytes([0, 15, 15, 1]) + floats([3e38, -3e38, 1e30]))
