"""The autoscaler's rules (HPA's): a tolerance band, a cooldown, a stabilisation window."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from shipdeck.lifecycle.autoscale import Autoscaler


def test_load_grows_the_service_to_max_and_quiet_shrinks_it_to_min() -> None:
    scaler = Autoscaler(minimum=1, maximum=3, cpu=50, cooldown=10)
    replicas, t = 1, 0.0
    for _ in range(60):  # 60 s of tasks at 180% CPU, a sample a second
        d = scaler.decide(t, replicas, cpu=180 / replicas, latency_ms=None)
        if d:
            assert d.before == replicas and "cpu" in d.reason
            replicas = d.after
        t += 1
    assert replicas == 3
    changes = []
    for _ in range(60):  # then idle
        d = scaler.decide(t, replicas, cpu=1, latency_ms=None)
        if d:
            changes.append(t)
            replicas = d.after
        t += 1
    assert replicas == 1
    assert changes and changes[0] >= 60 + 10  # waited for the window first


def test_inside_the_tolerance_band_nothing_changes() -> None:
    scaler = Autoscaler(minimum=1, maximum=5, cpu=50, cooldown=0)
    for t, cpu in enumerate([54, 46, 54, 46, 54]):
        assert scaler.decide(t, 2, cpu=cpu, latency_ms=None) is None
    fresh = Autoscaler(minimum=1, maximum=5, cpu=50, cooldown=0)
    decisions = [fresh.decide(t, 2, cpu=60, latency_ms=None) for t in range(3)]
    assert decisions[:2] == [None, None] and decisions[2] is not None


def test_the_first_answers_after_a_start_are_noise_too() -> None:
    """A monitor just started has one sample: its median is that one slow answer. The
    swarm test saw a quiet service grow from its first probe (CFS-throttled task)."""
    scaler = Autoscaler(minimum=1, maximum=3, cpu=None, latency_ms=40, cooldown=0)
    assert scaler.decide(0, 1, cpu=None, latency_ms=95) is None
    assert scaler.decide(1, 1, cpu=None, latency_ms=4) is None
    assert scaler.decide(2, 1, cpu=None, latency_ms=5) is None  # median 5 ms: quiet
    assert scaler.decide(3, 1, cpu=None, latency_ms=4) is None


def test_one_slow_answer_is_noise_a_slow_median_is_load() -> None:
    scaler = Autoscaler(minimum=1, maximum=3, cpu=None, latency_ms=40, cooldown=0)
    for t, ms in enumerate([3, 3, 80, 3, 3, 95, 3]):  # spikes, as a healthcheck's own fork
        assert scaler.decide(t, 1, cpu=None, latency_ms=ms) is None
    for t in range(7, 10):
        decision = scaler.decide(t, 1, cpu=None, latency_ms=150)
    assert decision is not None and decision.after == 3


def test_latency_scales_too_and_the_larger_need_wins() -> None:
    scaler = Autoscaler(minimum=1, maximum=6, cpu=50, latency_ms=100, cooldown=0)
    assert scaler.decide(0, 2, cpu=50, latency_ms=300) is None  # one sample: not yet
    assert scaler.decide(1, 2, cpu=50, latency_ms=300) is None
    d = scaler.decide(2, 2, cpu=50, latency_ms=300)
    assert d is not None and d.after == 6 and "latency 300 ms" in d.reason
    assert d.event_data("staging")["latency_ms"] == 300


def test_paused_recommends_nothing() -> None:
    scaler = Autoscaler(minimum=1, maximum=3, cpu=50, cooldown=0, paused=True)
    assert scaler.decide(0, 1, cpu=400, latency_ms=None) is None


def test_outside_the_bounds_it_comes_back_at_once() -> None:
    scaler = Autoscaler(minimum=2, maximum=4, cpu=50, cooldown=600)
    scaler.last_change = 0
    d = scaler.decide(1, 7, cpu=50, latency_ms=None)
    assert d is not None and d.after == 4


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.floats(min_value=0, max_value=400), min_size=1, max_size=200),
    st.integers(1, 3),
    st.integers(0, 4),
    st.integers(0, 30),
)
def test_never_out_of_bounds_and_never_two_changes_within_the_cooldown(
    loads: list[float], low: int, extra: int, cooldown: int
) -> None:
    scaler = Autoscaler(minimum=low, maximum=low + extra, cpu=60, cooldown=cooldown)
    replicas, last = low, None
    for t, load in enumerate(loads):
        d = scaler.decide(float(t), replicas, cpu=load / max(1, replicas), latency_ms=None)
        if d is None:
            continue
        assert low <= d.after <= low + extra
        assert d.after != replicas
        if last is not None:
            assert t - last >= cooldown
        last, replicas = t, d.after
