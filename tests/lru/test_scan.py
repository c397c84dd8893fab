"""The parallel scan equals the sequential loop (forward and gradients), complex and real, many lengths."""

import pytest
import torch

from replab.nn.scan import (
    linear_scan,
    linear_scan_dense,
    scan_step,
    sequential_scan,
    sequential_scan_dense,
)

LENGTHS = [1, 2, 3, 5, 8, 13, 64, 100, 257]
# (method, chunk): the odd–even recursion, the chunked scan with its automatic chunk (≈ √L) and with tiny
# chunks (several levels of chunk-carry recursion and a padded last chunk)
METHODS = [("odd_even", 0), ("chunked", 0), ("chunked", 3)]


def _lam(n, gen, dtype=torch.complex64):
    modulus = 0.5 + 0.5 * torch.rand(n, generator=gen)  # |λ| in [0.5, 1): long memory, stable
    phase = 6.28 * torch.rand(n, generator=gen)
    return torch.polar(modulus, phase).to(dtype)


@pytest.mark.parametrize("method,chunk", METHODS)
@pytest.mark.parametrize("length", LENGTHS)
def test_complex_time_invariant_scan_equals_loop(length, method, chunk):
    g = torch.Generator().manual_seed(length)
    lam = _lam(16, g)
    b = torch.randn(3, length, 16, generator=g, dtype=torch.complex64)
    ref = sequential_scan(lam, b)
    out = linear_scan(lam, b, method=method, chunk=chunk)
    assert out.shape == (3, length, 16) and out.dtype == torch.complex64
    # 1e-5 relative to the state's scale (states grow like sqrt(L) when |λ| is near 1)
    assert (out - ref).abs().max() <= 1e-5 * max(1.0, ref.abs().max().item())


@pytest.mark.parametrize("method,chunk", METHODS)
@pytest.mark.parametrize("length", LENGTHS)
def test_real_time_varying_scan_equals_loop(length, method, chunk):
    g = torch.Generator().manual_seed(100 + length)
    a = torch.rand(2, length, 8, generator=g) * 2 - 1
    b = torch.randn(2, length, 8, generator=g)
    out = linear_scan(a, b, method=method, chunk=chunk)
    torch.testing.assert_close(out, sequential_scan(a, b), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("chunk", [0, 2, 5, 16])
def test_chunked_scan_float64_exact_and_leaves_inputs_alone(chunk):
    g = torch.Generator().manual_seed(chunk)
    lam = _lam(6, g, torch.complex128)
    b = torch.randn(2, 3, 1000, 6, generator=g, dtype=torch.complex128)  # two batch dims, L = 1000
    b_copy = b.clone()
    out = linear_scan(lam, b, chunk=chunk)
    assert torch.equal(b, b_copy)
    assert (out - sequential_scan(lam, b)).abs().max() < 1e-10


@pytest.mark.parametrize("length", [1, 7, 64, 99])
def test_initial_state_and_complex_time_varying(length):
    g = torch.Generator().manual_seed(7)
    a = torch.polar(torch.rand(2, length, 4, generator=g), torch.rand(2, length, 4, generator=g) * 6)
    b = torch.randn(2, length, 4, generator=g, dtype=torch.complex64)
    h0 = torch.randn(2, 4, generator=g, dtype=torch.complex64)
    torch.testing.assert_close(linear_scan(a, b, h0), sequential_scan(a, b, h0), rtol=1e-5, atol=1e-5)


def test_known_answer_geometric_sum():
    # h_t = 0.5 h_{t-1} + 1 → h_t = 2 (1 − 0.5^{t+1})
    h = linear_scan(torch.tensor([0.5]), torch.ones(1, 6, 1))
    expected = 2 * (1 - 0.5 ** torch.arange(1, 7, dtype=torch.float32))
    torch.testing.assert_close(h[0, :, 0], expected)


@pytest.mark.parametrize("method,chunk", METHODS)
@pytest.mark.parametrize("length", [1, 7])
def test_custom_backward_matches_autograd_of_loop(length, method, chunk):
    g = torch.Generator().manual_seed(3)

    def scan(a, b, h0=None):
        return linear_scan(a, b, h0, method=method, chunk=chunk)

    lam = _lam(3, g, torch.complex128).requires_grad_()
    b = torch.randn(1, length, 3, generator=g, dtype=torch.complex128, requires_grad=True)
    assert torch.autograd.gradcheck(scan, (lam, b))
    a = torch.rand(1, length, 3, generator=g, dtype=torch.float64, requires_grad=True)
    br = torch.randn(1, length, 3, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(scan, (a, br))
    ac = torch.polar(
        torch.rand(1, length, 3, generator=g, dtype=torch.float64),
        torch.rand(1, length, 3, generator=g, dtype=torch.float64),
    )
    assert torch.autograd.gradcheck(scan, (ac.requires_grad_(), b))
    lam_real = torch.rand(3, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(scan, (lam_real, br))
    h0 = torch.randn(1, 3, generator=g, dtype=torch.complex128, requires_grad=True)
    assert torch.autograd.gradcheck(scan, (lam, b, h0))


def test_step_by_step_inference_equals_scan():
    g = torch.Generator().manual_seed(0)
    lam = _lam(8, g)
    b = torch.randn(4, 50, 8, generator=g, dtype=torch.complex64)
    states = linear_scan(lam, b)
    h = torch.zeros(4, 8, dtype=torch.complex64)
    for t in range(50):
        h = scan_step(lam, h, b[:, t])
        torch.testing.assert_close(h, states[:, t], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("length", [1, 5, 32, 77])
def test_dense_scan_equals_loop(length):
    g = torch.Generator().manual_seed(length)
    A = torch.randn(6, 6, generator=g) / 6**0.5 * 0.9
    b = torch.randn(3, length, 6, generator=g)
    torch.testing.assert_close(linear_scan_dense(A, b), sequential_scan_dense(A, b), rtol=1e-4, atol=1e-5)


def test_shape_errors_name_the_shapes():
    with pytest.raises(ValueError, match="a must be"):
        linear_scan(torch.ones(3), torch.ones(2, 5, 4))
    with pytest.raises(ValueError, match="A must be"):
        linear_scan_dense(torch.ones(3, 4), torch.ones(2, 5, 4))
    with pytest.raises(ValueError, match="method must be"):
        linear_scan(torch.ones(4), torch.ones(2, 5, 4), method="blelloch")
    with pytest.raises(ValueError, match="chunk must be"):
        linear_scan(torch.ones(4), torch.ones(2, 5, 4), chunk=1)


@pytest.mark.parametrize("chunk", [0, 7])
def test_gradients_equal_autograd_of_loop_float64_two_batch_dims(chunk):
    # the hand-written adjoint (reverse scan, ∂L/∂λ = Σ conj(h_{t-1}) g_t over batch and time) against
    # autograd through the sequential loop, at a length and batch shape gradcheck cannot afford
    g = torch.Generator().manual_seed(11)
    lam = _lam(5, g, torch.complex128).requires_grad_()
    b = torch.randn(2, 3, 300, 5, generator=g, dtype=torch.complex128, requires_grad=True)
    w = torch.randn(2, 3, 300, 5, generator=g, dtype=torch.complex128)
    grads = []
    for fn in (lambda: linear_scan(lam, b, chunk=chunk), lambda: sequential_scan(lam, b)):
        loss = (fn() * w).real.sum()
        grads.append(torch.autograd.grad(loss, (lam, b)))
    for got, ref in zip(*grads):
        assert (got - ref).abs().max() <= 1e-10 * max(1.0, ref.abs().max().item())
