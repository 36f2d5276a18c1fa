"""Boundary-mode names, translated to the kernels' codes in this one place.

Canonical names are scipy.ndimage's.  The word "reflect" is never reinterpreted: it always means
ndimage's half-sample reflection (numpy.pad's 'symmetric').  Unambiguous names from the other
libraries are accepted as aliases.
"""
from ._runtime import MODES as _CODES

#: name -> canonical ndimage name
FILTER_MODES = {
    "reflect": "reflect", "grid-mirror": "reflect", "symmetric": "reflect",
    "mirror": "mirror", "reflect101": "mirror", "reflect_101": "mirror",
    "nearest": "nearest", "edge": "nearest", "replicate": "nearest",
    "wrap": "wrap", "grid-wrap": "wrap", "circular": "wrap", "periodic": "wrap",
    "constant": "constant", "grid-constant": "constant",
}

#: scipy.signal boundary names -> canonical ndimage name
SIGNAL_BOUNDARIES = {
    "fill": "constant", "pad": "constant",
    "wrap": "wrap", "circular": "wrap",
    "symm": "reflect", "symmetric": "reflect",
}


def canonical_mode(mode, name="mode", table=FILTER_MODES):
    """The canonical ndimage name of ``mode``; TypeError/ValueError naming ``name``."""
    if not isinstance(mode, str):
        raise TypeError("%s must be a string, got %s" % (name, type(mode).__name__))
    try:
        return table[mode]
    except KeyError:
        raise ValueError("%s=%r is not one of %s" % (name, mode, ", ".join(sorted(table))))


def mode_code(mode, name="mode", table=FILTER_MODES):
    """Kernel code of a boundary mode name."""
    return _CODES[canonical_mode(mode, name, table)]


def canonical_modes(mode, ndim, name="mode"):
    """One canonical name per axis from a name or a sequence of names."""
    if isinstance(mode, str):
        return [canonical_mode(mode, name)] * ndim
    try:
        modes = list(mode)
    except TypeError:
        raise TypeError("%s must be a string or a sequence of strings" % name)
    if len(modes) != ndim:
        raise ValueError("%s must name one mode per spatial axis (%d), got %d"
                         % (name, ndim, len(modes)))
    return [canonical_mode(m, name) for m in modes]


def mode_codes(mode, ndim, name="mode"):
    """One kernel code per axis from a name or a sequence of names."""
    return [_CODES[m] for m in canonical_modes(mode, ndim, name)]


CONSTANT = _CODES["constant"]
