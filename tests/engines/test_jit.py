"""engines/_jit: kernels compile lazily, keep IEEE float32 order, and a slow first call is said once."""

import numpy as np

from inspectcli.engines import _jit


def _f32_rowsum(v, out):
    for i in range(v.shape[0]):
        acc = np.float32(0)
        for j in range(v.shape[1]):
            acc += v[i, j]
        out[i] = acc


def test_kernel_sums_float32_in_loop_order_and_says_a_slow_first_call_once(monkeypatch):
    told: list[str] = []
    monkeypatch.setattr(_jit, "on_first_compile", told.append)
    monkeypatch.setattr(_jit, "COMPILE_NOTICE_S", -1.0)  # every first call counts as slow here
    monkeypatch.setattr(_jit, "_told", [])
    rowsum = _jit.kernel(_f32_rowsum)
    v = np.random.default_rng(0).random((500, 64)).astype(np.float32)
    out = np.empty(500, np.float32)
    rowsum(v, out)
    ref = np.zeros(500, np.float32)
    for j in range(v.shape[1]):  # float32 rounding after every addition, in column order
        ref = ref + v[:, j]
    np.testing.assert_array_equal(out, ref)
    _jit.kernel(_f32_rowsum)(v, out)  # another kernel's first call: not said again
    assert len(told) == 1 and "compiling the tree engine's kernels" in told[0]
