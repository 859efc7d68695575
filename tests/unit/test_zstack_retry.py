"""Retry and poll policies: bounded, jittered, honouring Retry-After."""

import itertools
import random
from collections.abc import Callable

import pytest
from zstack_operator.zstack.retry import PollPolicy, RetryPolicy


def test_full_jitter_stays_under_the_exponential_ceiling() -> None:
    policy = RetryPolicy(attempts=10, base=0.1, cap=1.0)
    rng = random.Random(7)
    for failed in range(1, 10):
        ceiling = min(1.0, 0.1 * 2 ** (failed - 1))
        delays = [policy.delay(failed, rng=rng) for _ in range(200)]
        assert all(d is not None and 0.0 <= d <= ceiling for d in delays)
        # Full jitter: the spread covers most of [0, ceiling], not a fixed value.
        assert max(d for d in delays if d is not None) > 0.8 * ceiling
        assert min(d for d in delays if d is not None) < 0.2 * ceiling


def test_attempts_bound_the_number_of_tries() -> None:
    policy = RetryPolicy(attempts=4)
    assert [policy.delay(n) is None for n in range(1, 6)] == [False, False, False, True, True]
    assert RetryPolicy(attempts=1).delay(1) is None


def test_retry_after_is_honoured_as_a_minimum() -> None:
    policy = RetryPolicy(attempts=4, base=0.1, cap=0.2, max_retry_after=10)
    assert policy.delay(1, retry_after=3.0) == 3.0


def test_long_retry_after_goes_back_to_the_caller() -> None:
    policy = RetryPolicy(max_retry_after=30)
    assert policy.delay(1, retry_after=31.0) is None


@pytest.mark.parametrize(
    "build",
    [
        lambda: RetryPolicy(attempts=0),
        lambda: RetryPolicy(base=-1),
        lambda: RetryPolicy(cap=-0.5),
    ],
)
def test_invalid_retry_policy(build: Callable[[], RetryPolicy]) -> None:
    with pytest.raises(ValueError, match="RetryPolicy"):
        build()


def test_poll_intervals_grow_to_the_maximum() -> None:
    policy = PollPolicy(initial=0.05, factor=2.0, maximum=0.3)
    assert list(itertools.islice(policy.intervals(), 6)) == [0.05, 0.1, 0.2, 0.3, 0.3, 0.3]


def test_invalid_poll_policy() -> None:
    with pytest.raises(ValueError, match="PollPolicy"):
        PollPolicy(initial=2.0, maximum=1.0)
