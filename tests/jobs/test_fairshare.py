"""jobs/fairshare.py, the admission policy as a pure function: priorities, fair share, quotas, the
positions and reasons a waiting job shows (docs/scheduling.md)."""
from jobs.fairshare import Held, State, Waiting, Worker, order, plan

GPU = Worker("w1@host", frozenset({"gpu"}), 1)


def jobs(*specs):
    """(owner, priority) or (owner, priority, project): ids 1.. in submission order on gpu."""
    return [Waiting(i + 1, "gpu", s[0], s[2] if len(s) > 2 else 100 + s[0], s[1], i) for i, s in enumerate(specs)]


def test_a_high_job_is_admitted_before_earlier_normal_and_low_ones():
    state = State(jobs((1, "low"), (1, "normal"), (2, "high")), [], [GPU])
    assert [j.id for j in plan(state).admit] == [3]


def test_within_a_priority_the_user_with_least_decayed_usage_goes_first():
    state = State(jobs((1, "normal"), (1, "normal"), (2, "normal")), [], [GPU],
                  user_usage={1: 50.0, 2: 10.0}, project_usage={101: 50.0, 102: 10.0})
    assert [j.id for j in plan(state).admit] == [3]
    # equal usage: submission order
    state.user_usage, state.project_usage = {}, {}
    assert [j.id for j in plan(state).admit] == [1]


def test_free_slots_are_spread_over_users_before_usage_decides():
    # two slots, user 1 has the least usage but user 2 holds no slot once user 1 took one
    state = State(jobs((1, "normal"), (1, "normal"), (2, "normal")), [], [Worker("w@h", frozenset({"gpu"}), 2)],
                  user_usage={1: 1.0, 2: 9.0}, project_usage={101: 1.0, 102: 9.0})
    assert [j.id for j in plan(state).admit] == [1, 3]


def test_a_project_at_max_running_waits_with_the_reason_and_the_next_project_starts():
    shared = 7
    held = [Held("gpu", 1, shared, "w@h"), Held("gpu", 2, shared, "w@h")]
    state = State(jobs((1, "normal", shared), (3, "normal")), held, [Worker("w@h", frozenset({"gpu"}), 4)],
                  project_cap={shared: 2})
    chosen = plan(state)
    assert [j.id for j in chosen.admit] == [2]
    assert chosen.quota == {1: "your project runs 2 of 2 jobs"}
    assert order(state, chosen) == {1: (1, "your project runs 2 of 2 jobs")}


def test_the_per_user_cap_holds_across_projects():
    held = [Held("gpu", 1, 101, "w@h")]
    state = State(jobs((1, "normal", 555), (2, "normal")), held, [Worker("w@h", frozenset({"gpu"}), 4)], user_cap=1)
    chosen = plan(state)
    assert [j.id for j in chosen.admit] == [2]
    assert chosen.quota == {1: "you run 1 of 1 jobs (the per-user cap)"}


def test_positions_and_reasons_of_the_waiting_jobs():
    held = [Held("gpu", 9, 109, "w1@host")]
    state = State(jobs((1, "normal"), (1, "normal"), (2, "normal"), (1, "low")), held, [GPU])
    chosen = plan(state)
    assert chosen.admit == []
    # round robin between the users as slots free, the low job last
    assert order(state, chosen) == {1: (1, "waiting for a worker on queue gpu"), 3: (2, "1 job ahead of you on gpu"),
                                    2: (3, "2 jobs ahead of you on gpu"), 4: (4, "3 jobs ahead of you on gpu")}


def test_without_a_worker_on_the_queue_the_reason_says_so():
    state = State(jobs((1, "normal")), [], [Worker("c@h", frozenset({"cpu"}), 1)])
    assert plan(state).admit == []
    assert order(state, plan(state)) == {1: (1, "waiting: no worker on queue gpu")}


def test_an_admitted_job_not_yet_claimed_holds_a_slot_of_a_worker_of_its_queue():
    both = Worker("b@h", frozenset({"gpu", "cpu"}), 1)
    cpu_only = Worker("c@h", frozenset({"cpu"}), 1)
    # the admitted cpu job is given the cpu-only worker's slot: the shared worker stays free for gpu
    state = State(jobs((1, "normal")), [Held("cpu", 2, 102, None)], [both, cpu_only])
    assert [j.id for j in plan(state).admit] == [1]
    state.held.append(Held("cpu", 3, 103, None))
    assert plan(state).admit == []
