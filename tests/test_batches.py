"""Mini-batch indices (shb_lib.mnist.batches): the replacement rule of each sampler."""

import jax
import numpy as np
import pytest

from shb_lib.mnist import batches


def test_epoch_batches_repeat_no_example_within_an_epoch():
    idx = np.asarray(batches.epoch_batches(jax.random.PRNGKey(0), 100, 25, 10))
    assert idx.shape == (25, 10) and idx.dtype == np.int32
    for epoch in (idx[:10], idx[10:20]):  # 10 batches of 10 = one epoch of 100 examples
        assert sorted(epoch.ravel()) == list(range(100))


def test_epoch_batches_drop_the_remainder_of_an_epoch():
    idx = np.asarray(batches.epoch_batches(jax.random.PRNGKey(1), 25, 4, 10))  # 2 batches per epoch of 25
    assert all(len(set(b)) == 10 for b in idx)
    assert len(set(idx[:2].ravel())) == 20


def test_uniform_batches_draw_with_replacement_in_range():
    idx = np.asarray(batches.uniform_batches(jax.random.PRNGKey(2), 5, (40, 10)))
    assert idx.shape == (40, 10) and idx.dtype == np.int32 and idx.min() >= 0 and idx.max() < 5
    assert any(len(set(b)) < 10 for b in idx)  # 10 draws from 5 examples must repeat


@pytest.mark.parametrize("args, name", [((0, 2, 1), "n_examples"), ((10, -1, 1), "num_batches"),
                                        ((10, 2, 11), "batch_size"), ((10, 2, True), "batch_size")])
def test_epoch_batches_name_a_bad_argument(args, name):
    with pytest.raises(ValueError, match=name):
        batches.epoch_batches(jax.random.PRNGKey(0), *args)
