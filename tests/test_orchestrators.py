"""labs.orchestrators: a run's own Airflow metadata database and Dagster instance, used for real.

Airflow reads its settings when it is first imported, so each scenario runs in a fresh interpreter
with its own work directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from labs import cache, orchestrators
from labs.grading import view

pytestmark = pytest.mark.slow


def scenario(tmp_path, body: str) -> dict:
    """Run ``body`` after a setup like a notebook's; it prints one JSON line, returned here."""
    code = textwrap.dedent("""
        import datetime as dt, json, os, time
        from labs import orchestrators, runs
        run = runs.current("s5")
        home = orchestrators.airflow(run)
    """) + textwrap.dedent(body)
    env = {**os.environ, "LABS_WORK_DIR": str(tmp_path / "work")}
    env.pop("LABS_RUN_ID", None)
    script = tmp_path / "scenario.py"  # a file, as in a notebook: Airflow serializes callables' source
    script.write_text(code)
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_template_is_built_once_and_reused():
    first = orchestrators.template()
    assert first.exists() and first.stat().st_size > 100_000
    assert orchestrators.template() == first
    assert orchestrators.airflow_version() in first.name
    assert cache.folder() in first.parents
    assert cache.folder() in view.readonly_paths(), "graded runs must see the template, read-only"


def test_a_dag_defined_in_the_kernel_runs_for_real_with_retries_callbacks_and_mapping(tmp_path):
    result = scenario(tmp_path, """
        from airflow.sdk import DAG, task
        from airflow.providers.standard.operators.python import ShortCircuitOperator
        tries, failed = {"n": 0}, []
        args = dict(retries=2, retry_delay=dt.timedelta(seconds=0.1),
                    on_failure_callback=lambda ctx: failed.append(ctx["task_instance"].task_id))
        with DAG("t1", schedule=None, start_date=dt.datetime(2026, 1, 1), default_args=args) as dag:
            @task
            def flaky():
                tries["n"] += 1
                if tries["n"] < 2:
                    raise ConnectionError("not yet")
                return [1, 2, 3]
            @task
            def square(x):
                return x * x
            @task
            def total(xs):
                return sum(xs)
            @task(retries=0)
            def broken():
                raise ValueError("always")
            @task
            def after_broken():
                return 1
            gate = ShortCircuitOperator(task_id="gate", python_callable=lambda: False)
            @task
            def deploy():
                return 1
            total(square.expand(x=flaky()))
            broken() >> after_broken()
            gate >> deploy()
        dag_run = orchestrators.run_dag(dag)
        xcom = dag_run.get_task_instance("total").xcom_pull(task_ids="total")
        with DAG("t1b", schedule=None, start_date=dt.datetime(2026, 1, 1)) as again:
            @task(retries=1, retry_delay=dt.timedelta(seconds=1))
            def slow_retry():
                tries["later"] = tries.get("later", 0) + 1
                if tries["later"] == 1:
                    raise RuntimeError("second run's first try")
            slow_retry()
        started = time.monotonic()
        second = orchestrators.task_states(orchestrators.run_dag(again))
        waited = time.monotonic() - started
        log = (home / "logs" / "airflow.log").read_text()
        print(json.dumps({"states": orchestrators.task_states(dag_run), "tries": tries["n"], "failed": failed,
                          "total": xcom, "state": str(dag_run.state),
                          "logged": "always" in log and "second run's first try" in log,
                          "second": second, "waited": waited,
                          "db": str(home / "airflow.db"), "db_exists": (home / "airflow.db").exists()}))
    """)
    assert result["states"] == {
        "flaky": "success", "square[0]": "success", "square[1]": "success", "square[2]": "success",
        "total": "success", "broken": "failed", "after_broken": "upstream_failed", "gate": "success",
        "deploy": "skipped"}
    assert result["tries"] == 2 and result["failed"] == ["broken"] and result["total"] == 14
    assert result["state"] == "failed"
    assert result["logged"], "quiet runs' task logs go to <AIRFLOW_HOME>/logs/airflow.log, the second run's too"
    assert result["second"] == {"slow_retry": "success"}
    assert result["waited"] >= 1.0, "a shorter idle wait of the loop must not shorten Airflow's retry delay"
    assert result["db_exists"] and str(tmp_path) in result["db"]


def test_the_setup_cell_run_twice_moves_airflow_to_the_new_run(tmp_path):
    result = scenario(tmp_path, """
        from airflow.sdk import DAG, task
        with DAG("t2", schedule=None, start_date=dt.datetime(2026, 1, 1)) as dag:
            @task
            def one():
                return 1
            one()
        import contextlib, io
        dag.fileloc = "/tmp/ipykernel_0/cell.py"  # a cell run under nbconvert: no such file
        said = io.StringIO()
        with contextlib.redirect_stderr(said), contextlib.redirect_stdout(said):
            orchestrators.register(dag)
        first = orchestrators.task_states(orchestrators.run_dag(dag))
        run.clean(verbose=False)  # the first run's database is gone with its folder
        run = runs.current("s5")
        second_home = orchestrators.airflow(run)
        second = orchestrators.task_states(orchestrators.run_dag(dag))
        print(json.dumps({"first": first, "second": second, "moved": second_home != home,
                          "db": (second_home / "airflow.db").exists(), "said": said.getvalue()}))
    """)
    assert result["said"] == "", "registering a DAG from a cell with no file must print nothing"
    assert result == {"first": {"one": "success"}, "second": {"one": "success"}, "moved": True, "db": True,
                      "said": ""}


def test_dagster_instance_lives_in_the_run_folder_without_telemetry(tmp_path):
    result = scenario(tmp_path, """
        import dagster as dg
        instance = orchestrators.dagster_instance(run)
        @dg.asset
        def numbers():
            return [1, 2]
        @dg.asset
        def doubled(numbers):
            return [2 * n for n in numbers]
        done = dg.materialize([numbers, doubled], instance=instance)
        folder = run.path("dagster")
        print(json.dumps({"ok": done.success, "out": done.output_for_node("doubled"),
                          "runs": len(instance.get_runs()), "yaml": (folder / "dagster.yaml").read_text()}))
    """)
    assert result["ok"] and result["out"] == [2, 4] and result["runs"] == 1
    assert "enabled: false" in result["yaml"]
