# Boundary handling for every mode, written once.
#
# A padded position j (any integer, possibly < 0 or >= n) is mapped to the input sample it reads.
# The names and semantics are scipy.ndimage's; the diagrams extend the line "a b c d":
#
#   MODE_REFLECT   d c b a | a b c d | d c b a    half-sample symmetric (np.pad 'symmetric')
#   MODE_MIRROR      d c b | a b c d | c b a      whole-sample symmetric (np.pad/torch 'reflect')
#   MODE_NEAREST   a a a a | a b c d | d d d d    edge replicate (np.pad 'edge')
#   MODE_WRAP      a b c d | a b c d | a b c d    periodic (np.pad 'wrap', torch 'circular')
#   MODE_CONSTANT  k k k k | a b c d | k k k k    constant value cval (map_index returns -1)
#
# Pads longer than the line repeat the pattern (as numpy.pad and scipy.ndimage do).

cdef enum:
    MODE_REFLECT = 0
    MODE_MIRROR = 1
    MODE_NEAREST = 2
    MODE_WRAP = 3
    MODE_CONSTANT = 4


cdef inline Py_ssize_t _pos_mod(Py_ssize_t j, Py_ssize_t p) noexcept nogil:
    # C '%' keeps the sign of j (cdivision): bring it into [0, p).
    j = j % p
    if j < 0:
        j = j + p
    return j


cdef inline Py_ssize_t map_index(Py_ssize_t j, Py_ssize_t n, int mode) noexcept nogil:
    """Input index read at padded position j of a line of length n >= 1; -1 means cval."""
    cdef Py_ssize_t p
    if 0 <= j < n:
        return j
    if mode == MODE_CONSTANT:
        return -1
    if mode == MODE_NEAREST:
        return 0 if j < 0 else n - 1
    if mode == MODE_WRAP:
        return _pos_mod(j, n)
    if mode == MODE_REFLECT:
        p = 2 * n
        j = _pos_mod(j, p)
        return j if j < n else p - 1 - j
    # MODE_MIRROR: period 2n - 2; a single sample mirrors onto itself
    if n == 1:
        return 0
    p = 2 * n - 2
    j = _pos_mod(j, p)
    return j if j < n else p - j


cdef inline void fill_index_table(Py_ssize_t* table, Py_ssize_t count, Py_ssize_t start,
                                  Py_ssize_t n, int mode) noexcept nogil:
    """table[i] = map_index(start + i, n, mode) for i in [0, count)."""
    cdef Py_ssize_t i
    for i in range(count):
        table[i] = map_index(start + i, n, mode)
