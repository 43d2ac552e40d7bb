"""Run ids and the names a run gives what it creates (labs.runs)."""

from __future__ import annotations

import pytest

from labs import runs


def test_the_run_id_comes_from_the_environment_or_is_fresh(monkeypatch):
    monkeypatch.delenv("LABS_RUN_ID", raising=False)
    a, b = runs.current_id(), runs.current_id()
    assert a != b and runs.RUN_ID.match(a)
    monkeypatch.setenv("LABS_RUN_ID", "0123abcd")
    assert runs.current("c1").id == "0123abcd"
    monkeypatch.setenv("LABS_RUN_ID", "../../x")
    with pytest.raises(ValueError, match="8 lowercase hex digits"):
        runs.current_id()


def test_names_of_every_resource_kind_carry_the_lab_and_the_run():
    run = runs.Run("c1", "0123abcd")
    assert run.topic("orders") == run.group("orders") == run.transactional_id("orders") == "c1-0123abcd-orders"
    assert run.connector() == "c1-0123abcd" and run.connector("bench") == "c1-0123abcd-bench"
    assert run.subject("orders-value") == "c1-0123abcd-orders-value"
    assert run.database() == "c1_0123abcd" and run.database("sink") == "c1_0123abcd_sink"
    assert run.query("totals") == "c1_0123abcd_totals"
    assert runs.account("0123abcd") == "run_0123abcd" and runs.home_database("0123abcd") == "labs_0123abcd"


@pytest.mark.parametrize("lab", ["S1", "s-1", "", "1s", "s1_x"])
def test_a_bad_lab_prefix_or_run_id_is_refused(lab):
    with pytest.raises(ValueError, match="lab prefix"):
        runs.Run(lab, "0123abcd")
    with pytest.raises(ValueError, match="8 lowercase hex digits"):
        runs.Run("d", "0123abcg")


def test_the_sweep_matcher_takes_what_runs_create_and_nothing_else():
    run = runs.Run("c1", "0123abcd")
    names = [run.topic("x"), run.database("sink"), run.connector(), f"{run.prefix}.{run.database()}.orders",
             runs.account(run.id), runs.home_database(run.id), runs.Run("d", run.id).topic("y")]
    mine = runs.matcher(run.id)
    assert all(mine(n) for n in names)
    assert all(runs.matcher()(n) for n in names)
    others = ["labs", "connect-offsets", "orders-0123abcd", "c1-0123abcde-x", "c1-ffffffff-x", "__consumer_offsets"]
    assert not any(mine(n) for n in others)
    assert not runs.matcher()("orders-0123abcd") and runs.matcher()("c1-ffffffff-x")
    with pytest.raises(ValueError):
        runs.matcher("nope")


def test_a_run_folder_lives_under_the_work_dir_and_clean_removes_it(monkeypatch, tmp_path):
    monkeypatch.setenv("LABS_WORK_DIR", str(tmp_path))
    run = runs.Run("s2", "0123abcd")
    lake = run.path("lake")
    assert lake == tmp_path / "runs" / "s2-0123abcd" / "lake" and lake.is_dir()
    (lake / "part-0.parquet").write_bytes(b"x")
    from labs import sweep

    monkeypatch.setattr(sweep, "sweep", lambda run_id: sweep.Swept())
    run.clean(verbose=False)
    assert not (tmp_path / "runs" / "s2-0123abcd").exists()
