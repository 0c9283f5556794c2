"""Where `judge_many` judges: on this machine unless a route is named, or the enclosing `judging_via`
block (a stage's `scale.connected`) gives one; nothing outside a block is routed, and no other thread's
block reaches in."""

from __future__ import annotations

import threading
from contextvars import copy_context

import pytest

from selfmine.sandbox import Job, Status, Verdict, WorkerPool, judge_many, judging_via

FAILS = Job("def f():\n    return 1\n", ["assert f() == 2"], 5)


class Recorder:
    """A route that judges nothing: every program passes, so a verdict says where it came from."""

    def __init__(self):
        self.calls: list[int] = []

    def judge_many(self, jobs, on_result=None):
        self.calls.append(len(jobs))
        out = [Verdict(Status.PASSED, "routed") for _ in jobs]
        for i, v in enumerate(out):
            if on_result:
                on_result(i, v)
        return out


def test_a_named_route_judges_and_a_route_with_a_pool_is_refused():
    route, seen = Recorder(), []
    assert [v.message for v in judge_many([FAILS] * 3, route=route, on_result=lambda i, v: seen.append(i))] == [
        "routed"
    ] * 3
    assert route.calls == [3] and seen == [0, 1, 2]
    with pytest.raises(ValueError, match="route or a pool"):
        judge_many([FAILS], route=route, workers=1)


def test_a_block_routes_only_inside_itself_and_a_pool_or_none_stays_here():
    route = Recorder()
    with WorkerPool(1) as pool:
        with judging_via(route) as given:
            assert given is route
            assert judge_many([FAILS])[0].message == "routed"
            assert judge_many([FAILS], pool=pool)[0].status == Status.FAILED  # a named pool is judged here
            with judging_via(None):
                assert judge_many([FAILS], pool=pool)[0].status == Status.FAILED
                assert judge_many([FAILS], workers=1)[0].status == Status.FAILED
            assert judge_many([FAILS])[0].message == "routed"  # the outer block is back
        assert route.calls == [1, 1]
        assert judge_many([FAILS], pool=pool)[0].status == Status.FAILED
        with judging_via(route):
            pass
        judge_many([], pool=pool)
    assert route.calls == [1, 1]


def test_a_thread_sees_a_block_only_where_its_context_is_handed_over():
    route = Recorder()
    with judging_via(route):
        plain = threading.Thread(target=judge_many, args=([],))  # judged here: no program, no sandbox
        handed = threading.Thread(target=copy_context().run, args=(judge_many, [FAILS, FAILS]))
        for t in (plain, handed):
            t.start()
            t.join()
    assert route.calls == [2]


def test_evaluation_judges_in_its_judge_thread_through_the_enclosing_block(data_dir):
    """evaluate() judges each benchmark in a thread of its own (overlapping the next one's generation):
    the block's route reaches it, so `eval score --ray-address` judges on the cluster."""
    from selfmine.evaluate import evaluate

    route = Recorder()
    rows = [{"task_id": "HumanEval/0", "completion": "    return 'wrong'\n"}]
    with judging_via(route):
        report = evaluate(None, ["humaneval"], data_dir=data_dir, samples={"humaneval": rows}, echo=lambda s: None)
    assert route.calls  # its time limits and its sample
    assert report["benches"]["humaneval"]["pass@1"] == 1.0  # the route's verdict, not a local one


def test_connected_without_an_address_routes_nothing():
    from selfmine.scale import connected

    with connected(None) as judge:
        assert judge is None
        assert judge_many([FAILS], workers=1)[0].status == Status.FAILED
