"""`make dev` restarts a crashed component after 1, 2, 4 ... s and gives up on a crash loop."""

from devstack.processes import CrashPolicy


def test_restart_delays_double_and_a_crash_loop_stops_the_stack() -> None:
    policy = CrashPolicy(limit=5, window=60.0)
    delays = [policy.crashed("worker", now) for now in (0.0, 1.0, 3.0, 7.0, 15.0)]
    assert delays == [1.0, 2.0, 4.0, 8.0, None]


def test_crashes_far_apart_start_the_backoff_again() -> None:
    policy = CrashPolicy(limit=5, window=60.0)
    assert [policy.crashed("api", now) for now in (0.0, 100.0, 200.0)] == [1.0, 1.0, 1.0]


def test_components_are_counted_apart_and_the_delay_is_capped() -> None:
    policy = CrashPolicy(limit=10, window=600.0, max_delay=30.0)
    assert policy.crashed("smtp", 0.0) == 1.0
    assert [policy.crashed("worker", float(now)) for now in range(7)][-1] == 30.0
