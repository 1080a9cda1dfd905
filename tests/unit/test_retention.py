"""What pruning deletes (lifecycle/retention.py): pure, from a listing and what is in use."""

from __future__ import annotations

from shipdeck.lifecycle.retention import Entry, newest_first, over_limit, plan, prune


def entries(*names: str) -> list[Entry]:
    """Listed oldest first: the first name is the oldest."""
    return [Entry(name, float(t), size=10 * (t + 1)) for t, name in enumerate(names)]


def test_the_newest_are_kept_and_the_rest_deleted() -> None:
    got = prune("runs", entries("a", "b", "c", "d", "e"), keep=2, in_use=())
    assert [e.name for e in got.keep] == ["e", "d"]
    assert [e.name for e in got.delete] == ["c", "b", "a"]
    assert got.freed == 30 + 20 + 10


def test_what_is_in_use_is_kept_however_old_and_does_not_count() -> None:
    listing = entries("0.1.0", "0.2.0", "0.3.0", "0.4.0", "0.5.0")
    got = prune("releases", listing, keep=1, in_use={"0.1.0", "0.4.0"})
    assert {e.name for e in got.keep} == {"0.5.0", "0.4.0", "0.1.0"}
    assert [e.name for e in got.delete] == ["0.3.0", "0.2.0"]


def test_in_use_entries_within_the_newest_take_their_place() -> None:
    got = prune("releases", entries("a", "b", "c"), keep=2, in_use={"c"})
    assert [e.name for e in got.keep] == ["c", "b"]
    assert [e.name for e in got.delete] == ["a"]


def test_nothing_goes_under_the_limit_and_hidden_names_are_never_deleted() -> None:
    assert prune("runs", entries("a", "b"), keep=5, in_use=()).delete == []
    got = prune("releases", entries(".0.9.0.tmp", "a", "b"), keep=1, in_use=())
    assert [e.name for e in got.delete] == ["a"]  # an export in progress stays


def test_ties_in_time_are_broken_by_name_the_same_every_time() -> None:
    same = [Entry("b", 1.0), Entry("a", 1.0), Entry("c", 1.0)]
    assert [e.name for e in newest_first(same)] == ["c", "b", "a"]
    assert [e.name for e in prune("runs", same, keep=1, in_use=()).delete] == ["b", "a"]


def test_plan_prunes_each_kind_listed_by_its_own_limit() -> None:
    listing = {"runs": entries("r1", "r2", "r3"), "builds": entries("SD-1", "SD-2")}
    limits = {"runs": 1, "releases": 5, "builds": 1}
    got = plan(listing, limits, {"builds": {"SD-1"}})
    assert [p.kind for p in got] == ["runs", "builds"]  # releases not listed: not pruned
    assert [e.name for e in got[0].delete] == ["r2", "r1"]
    assert got[1].delete == []  # SD-1 in use, SD-2 the newest


def test_over_limit_is_the_cheap_test_before_a_listing() -> None:
    assert not over_limit(entries("a", "b"), 2)
    assert over_limit(entries("a", "b", "c"), 2)


def test_the_retention_block_has_its_documented_defaults_and_reads_sizes() -> None:
    import pytest

    from shipdeck.lifecycle.config.schema import ConfigError, parse_config

    default = parse_config("version: 1\nproject: x\n").retention
    assert (default.runs, default.releases, default.builds) == (200, 5, 20)
    assert (default.log_size, default.log_files) == (10 << 20, 3)
    sized = parse_config("version: 1\nproject: x\nretention: {log_size: 512 KB}\n").retention
    assert sized.log_size == 512 << 10
    with pytest.raises(ConfigError, match=r"retention\.releases"):
        parse_config("version: 1\nproject: x\nretention: {releases: 0}\n")
