"""Plain NumPy float64 references for the deep-learning convolutions (PyTorch semantics).

Independent of pyconv (its kernels and pyconv.reference) and of scipy: padding is index
arithmetic (every padded position maps to an input index or to zero), the convolution is
a loop over kernel taps that accumulates ``w[o, c, tap] * x[n, c, window]`` over strided
windows, and the transposed convolution is the scatter-add definition (each input sample
adds ``x * w`` at output position ``i * s - p + k * d``).

These take already-valid arguments; they check nothing beyond what they need.
"""
import itertools

import numpy as np


def _tuple(v, n):
    return (int(v),) * n if np.isscalar(v) else tuple(int(a) for a in v)


def pad_index(size, lo, hi, mode):
    """Indices into an axis of length ``size`` for the ``lo + size + hi`` padded positions,
    and a mask of the positions that are zero padding (mode 'zeros').

    reflect: mirror without repeating the edge (torch/np.pad 'reflect');
    replicate: repeat the edge sample; circular: wrap around.
    """
    pos = np.arange(-lo, size + hi)
    zero = np.zeros(pos.shape, bool)
    if mode == "zeros":
        zero = (pos < 0) | (pos >= size)
        idx = np.clip(pos, 0, size - 1)
    elif mode == "replicate":
        idx = np.clip(pos, 0, size - 1)
    elif mode == "circular":
        idx = pos % size
    elif mode == "reflect":
        idx = pos.copy()
        if size == 1:
            idx[:] = 0
        else:
            period = 2 * (size - 1)
            idx = np.abs(idx) % period  # reflect about 0, then about size - 1
            idx = np.where(idx >= size, period - idx, idx)
    else:  # pragma: no cover - helper misuse
        raise AssertionError(mode)
    return idx, zero


def pad(x, pads, mode):
    """x (N, C, *spatial) padded by pads [(lo, hi), ...] per spatial axis."""
    for ax, (lo, hi) in enumerate(pads):
        axis = ax + 2
        idx, zero = pad_index(x.shape[axis], lo, hi, mode)
        x = np.take(x, idx, axis=axis)
        if zero.any():
            shape = [1] * x.ndim
            shape[axis] = zero.size
            x = np.where(zero.reshape(shape), 0.0, x)
    return x


def same_pads(ksize, dilation):
    """PyTorch's padding='same': total d*(k-1), left = total // 2, extra on the right."""
    return [(d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2) for k, d in zip(ksize, dilation)]


def conv(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *,
         padding_mode="zeros"):
    """N-D conv (N from weight.ndim - 2), batched or unbatched, float64.

    out[n, o, j] = bias[o] + sum_{c in group(o), tap} w[o, c, tap] * xp[n, c, j*s + tap*d]
    """
    w = np.asarray(weight, dtype=np.float64)
    nsp = w.ndim - 2
    x = np.asarray(x, dtype=np.float64)
    unbatched = x.ndim == nsp + 1
    if unbatched:
        x = x[None]
    stride, dilation = _tuple(stride, nsp), _tuple(dilation, nsp)
    ksize = w.shape[2:]
    if isinstance(padding, str):
        pads = same_pads(ksize, dilation) if padding == "same" else [(0, 0)] * nsp
    else:
        pads = [(p, p) for p in _tuple(padding, nsp)]
    xp = pad(x, pads, padding_mode)
    n_batch, channels = x.shape[:2]
    out_ch, cpg = w.shape[:2]
    opg = out_ch // groups
    osize = [(n - d * (k - 1) - 1) // s + 1
             for n, k, s, d in zip(xp.shape[2:], ksize, stride, dilation)]
    out = np.zeros((n_batch, out_ch) + tuple(osize))
    for g in range(groups):
        xg = xp[:, g * cpg:(g + 1) * cpg]
        wg = w[g * opg:(g + 1) * opg]
        for tap in itertools.product(*(range(k) for k in ksize)):
            window = xg[(slice(None), slice(None)) + tuple(
                slice(t * d, t * d + s * (m - 1) + 1, s)
                for t, d, s, m in zip(tap, dilation, stride, osize))]
            # (N, cpg, *osize) x (opg, cpg) -> (N, opg, *osize), summed over c
            wt = wg[(slice(None), slice(None)) + tap]
            out[:, g * opg:(g + 1) * opg] += np.tensordot(window, wt, axes=([1], [1])) \
                .transpose((0, nsp + 1) + tuple(range(1, nsp + 1)))
    if bias is not None:
        out += np.asarray(bias, dtype=np.float64).reshape((1, out_ch) + (1,) * nsp)
    return out[0] if unbatched else out


def conv_pointwise_loops(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *,
                         padding_mode="zeros"):
    """The same as :func:`conv` by explicit Python loops over every output element (slow:
    for tiny problems only, to check :func:`conv` itself)."""
    w = np.asarray(weight, dtype=np.float64)
    nsp = w.ndim - 2
    x = np.asarray(x, dtype=np.float64)
    unbatched = x.ndim == nsp + 1
    if unbatched:
        x = x[None]
    stride, dilation = _tuple(stride, nsp), _tuple(dilation, nsp)
    ksize = w.shape[2:]
    if isinstance(padding, str):
        pads = same_pads(ksize, dilation) if padding == "same" else [(0, 0)] * nsp
    else:
        pads = [(p, p) for p in _tuple(padding, nsp)]
    maps = [pad_index(n, lo, hi, padding_mode) for n, (lo, hi) in zip(x.shape[2:], pads)]
    psize = [len(m[0]) for m in maps]
    out_ch, cpg = w.shape[:2]
    opg = out_ch // groups
    osize = [(n - d * (k - 1) - 1) // s + 1
             for n, k, s, d in zip(psize, ksize, stride, dilation)]
    out = np.zeros((x.shape[0], out_ch) + tuple(osize))
    for n in range(x.shape[0]):
        for o in range(out_ch):
            g = o // opg
            for j in itertools.product(*(range(m) for m in osize)):
                acc = 0.0 if bias is None else float(np.asarray(bias, dtype=np.float64)[o])
                for c in range(cpg):
                    for tap in itertools.product(*(range(k) for k in ksize)):
                        src = []
                        zero = False
                        for ax in range(nsp):
                            q = j[ax] * stride[ax] + tap[ax] * dilation[ax]
                            idx, z = maps[ax]
                            zero = zero or bool(z[q])
                            src.append(int(idx[q]))
                        if not zero:
                            acc += w[(o, c) + tap] * x[(n, g * cpg + c) + tuple(src)]
                out[(n, o) + j] = acc
    return out[0] if unbatched else out


def conv_transpose(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                   dilation=1):
    """N-D transposed conv by scatter-add: x[n, c, i] * w[c, o, k] lands at i*s - p + k*d.

    weight (C, O // groups, *k); output size (i-1)*s - 2p + d(k-1) + output_padding + 1.
    """
    w = np.asarray(weight, dtype=np.float64)
    nsp = w.ndim - 2
    x = np.asarray(x, dtype=np.float64)
    unbatched = x.ndim == nsp + 1
    if unbatched:
        x = x[None]
    stride, dilation = _tuple(stride, nsp), _tuple(dilation, nsp)
    padding, output_padding = _tuple(padding, nsp), _tuple(output_padding, nsp)
    ksize = w.shape[2:]
    isize = x.shape[2:]
    in_ch, opg = w.shape[:2]
    cpg = in_ch // groups
    out_ch = opg * groups
    osize = [(i - 1) * s - 2 * p + d * (k - 1) + op + 1
             for i, s, p, d, k, op in zip(isize, stride, padding, dilation, ksize, output_padding)]
    out = np.zeros((x.shape[0], out_ch) + tuple(osize))
    for g in range(groups):
        xg = x[:, g * cpg:(g + 1) * cpg]
        for tap in itertools.product(*(range(k) for k in ksize)):
            # output positions of input positions 0..I-1 for this tap; keep those in range
            src, dst = [], []
            for ax in range(nsp):
                pos = np.arange(isize[ax]) * stride[ax] - padding[ax] + tap[ax] * dilation[ax]
                keep = (pos >= 0) & (pos < osize[ax])
                src.append(np.nonzero(keep)[0])
                dst.append(pos[keep])
            if any(len(s) == 0 for s in src):
                continue
            xs = xg[np.ix_(range(x.shape[0]), range(cpg), *src)]
            wt = w[(slice(g * cpg, (g + 1) * cpg), slice(None)) + tap]  # (cpg, opg)
            contrib = np.tensordot(xs, wt, axes=([1], [0]))  # (N, *src, opg)
            contrib = np.moveaxis(contrib, -1, 1)
            ix = np.ix_(range(x.shape[0]), range(g * opg, (g + 1) * opg), *dst)
            out[ix] += contrib  # dst positions are distinct within one tap
    if bias is not None:
        out += np.asarray(bias, dtype=np.float64).reshape((1, out_ch) + (1,) * nsp)
    return out[0] if unbatched else out


def channel_shuffle(x, groups):
    """out[:, j * g + i] = x[:, i * k + j] with k = C // g, by explicit channel indexing."""
    x = np.asarray(x)
    c = x.shape[1]
    k = c // groups
    out = np.empty(x.shape, dtype=np.float64)
    for i in range(groups):
        for j in range(k):
            out[:, j * groups + i] = x[:, i * k + j]
    return out
