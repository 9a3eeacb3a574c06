"""The Beam work off the DirectRunner: the arguments a run gets, and a real portable run.

Unit: `beam_args_for` adds the DirectRunner's own settings (`--direct_running_mode`,
`--direct_num_workers`) only when the runner is a DirectRunner, and a local config names the
installed module functions whenever it is not (Beam's workers import them themselves).

Services: Beam's Python job service and an external worker pool (`tests/beam_portable.py`: the
Job API and Fn API that Flink and Spark deployments serve), on loopback. The pipeline's real
ExampleGen, StatisticsGen, curated schema and Transform run on span 3 once on the DirectRunner and
once through `--runner=PortableRunner`: the same Examples, statistics and transformed Examples.
"""

import glob
import os
import pathlib
import tempfile

import pytest

from core.settings import layout
from core.common import names
from pipeline import config as config_lib
from tests.beam_portable import BeamServices
from tests.paths import DATA_ROOT

DIRECT_DEFAULTS = ("--direct_running_mode=in_memory", "--direct_num_workers=1", f"--setup_file={config_lib.SETUP_FILE}")
PORTABLE = ("--runner=PortableRunner", "--job_endpoint=localhost:8099",
            "--environment_type=EXTERNAL", "--environment_config=localhost:50000")


# ---- unit: the arguments ----------------------------------------------------------------------

@pytest.mark.unit
@pytest.mark.parametrize("extra", [
    (),
    ("--runner=DirectRunner",),
    ("--runner", "DirectRunner"),
    ("--runner=direct",),
    ("--runner=apache_beam.runners.direct.direct_runner.DirectRunner",),
    ("--runner=BundleBasedDirectRunner",),
])
def test_the_direct_runner_gets_its_defaults(extra):
    args = config_lib.beam_args_for(extra)
    added, kept = args[:len(args) - len(extra)], args[len(args) - len(extra):]
    assert kept == extra  # the user's own, unchanged, last (they win)
    assert added == (("--runner=DirectRunner",) if extra == () else ()) + DIRECT_DEFAULTS


@pytest.mark.unit
@pytest.mark.parametrize("extra", [
    PORTABLE,
    ("--runner", "PortableRunner", "--job_endpoint=localhost:8099"),
    ("--runner=FlinkRunner", "--flink_master=flink:8081", "--environment_type=EXTERNAL",
     "--environment_config=localhost:50000"),
    ("--runner=SparkRunner", "--spark_master_url=spark://spark:7077"),
    ("--runner=DataflowRunner", "--project=p", "--region=europe-west1", "--temp_location=gs://b/tmp"),
    ("--runn=FlinkRunner",),  # an abbreviation Beam's parser takes
])
def test_other_runners_get_no_direct_runner_argument_and_a_job_deadline_of_a_day(extra):
    assert config_lib.beam_args_for(extra) == ("--job_server_timeout=86400",) + extra


@pytest.mark.unit
def test_a_users_job_deadline_wins():
    extra = PORTABLE + ("--job_server_timeout=600",)
    assert config_lib.beam_args_for(extra) == extra


@pytest.mark.unit
def test_beam_reads_the_job_deadline_as_meant():
    """Beam's state stream of a portable job ends at this deadline (JobServiceHandle.run), so
    Beam's own default of 60 s cut off every job longer than a minute, still running."""
    from apache_beam.options.pipeline_options import PipelineOptions, PortableOptions

    assert PipelineOptions(list(PORTABLE)).view_as(PortableOptions).job_server_timeout == 60
    options = PipelineOptions(list(config_lib.beam_args_for(PORTABLE)))
    assert options.view_as(PortableOptions).job_server_timeout == config_lib.JOB_SERVER_TIMEOUT_S == 86400


@pytest.mark.unit
def test_a_job_service_that_does_not_answer_is_one_line_before_anything_runs(tmp_path, monkeypatch, capsys):
    import socket
    import time

    import runner_local
    from pipeline import job_service

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setattr(job_service, "WAIT_S", 2.0)
    started = time.monotonic()
    status = runner_local.main(["--stage", "check", "--outputs", str(tmp_path / "outputs"),
                                "--beam-arg=--runner=PortableRunner", f"--beam-arg=--job_endpoint=localhost:{port}"])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2
    assert err == [f"error: --job_endpoint=localhost:{port}: no Beam job service answers there (waited 2 s); "
                   "start it, or run without --runner to use the DirectRunner"]
    assert time.monotonic() - started < 20
    assert not (tmp_path / "outputs").exists() or not list((tmp_path / "outputs").rglob("*.sqlite"))


@pytest.mark.unit
def test_a_users_direct_runner_setting_replaces_the_default():
    args = config_lib.beam_args_for(("--direct_num_workers=2", "--direct_running_mode=multi_processing"))
    assert args == ("--runner=DirectRunner", f"--setup_file={config_lib.SETUP_FILE}", "--direct_num_workers=2",
                    "--direct_running_mode=multi_processing")


@pytest.mark.unit
@pytest.mark.parametrize("runner", [(), ("--runner=DirectRunner", "--direct_running_mode=multi_processing")])
def test_tfx_builds_no_package_of_itself_for_the_direct_runners_workers(runner, monkeypatch):
    """TFX's Beam executors ask `make_beam_dependency_flags` for their workers' dependencies; with
    none named, it copies TFX's installation to a temporary folder left behind and builds an sdist
    there, for every Beam component of every run. The DirectRunner's workers have every package."""
    from tfx.utils import dependency_utils

    def build():
        raise AssertionError("TFX built an ephemeral package for the DirectRunner")

    monkeypatch.setattr(dependency_utils, "build_ephemeral_package", build)
    args = list(config_lib.beam_args_for(runner))
    assert dependency_utils.make_beam_dependency_flags(args) == args


@pytest.mark.unit
@pytest.mark.parametrize("dependency", ["--extra_package=dist/x.tar.gz", "--requirements_file=req.txt",
                                        "--setup_file=/elsewhere/setup.py"])
def test_a_users_dependency_flag_replaces_ours(dependency):
    args = config_lib.beam_args_for((dependency,))
    assert [a for a in args if a.split("=", 1)[0] in config_lib.DEPENDENCY_FLAGS] == [dependency]


@pytest.mark.unit
def test_other_runners_get_tfxs_own_dependency_inference(monkeypatch):
    from tfx.utils import dependency_utils

    monkeypatch.setattr(dependency_utils, "build_ephemeral_package", lambda: "/tmp/tfx_ephemeral.tar.gz")
    args = list(config_lib.beam_args_for(PORTABLE))
    assert dependency_utils.make_beam_dependency_flags(args) == args + ["--extra_package=/tmp/tfx_ephemeral.tar.gz"]


@pytest.mark.unit
def test_a_users_direct_runner_setting_for_another_runner_is_kept_as_given():
    extra = ("--runner=PortableRunner", "--direct_num_workers=4")
    assert config_lib.beam_args_for(extra) == ("--job_server_timeout=86400",) + extra


@pytest.mark.unit
def test_beam_reads_the_defaults_as_meant():
    from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions, StandardOptions

    options = PipelineOptions(list(config_lib.beam_args_for(())))
    assert options.view_as(StandardOptions).runner == "DirectRunner"
    assert options.view_as(DirectOptions).direct_running_mode == "in_memory"
    assert options.view_as(DirectOptions).direct_num_workers == 1
    portable = PipelineOptions(list(config_lib.beam_args_for(("--runner", "PortableRunner"))))
    assert portable.view_as(StandardOptions).runner == "PortableRunner"


@pytest.mark.unit
def test_a_runner_without_its_name_is_a_one_line_error():
    with pytest.raises(config_lib.ConfigError, match="--runner: expected one argument"):
        config_lib.beam_args_for(("--runner",))


@pytest.mark.unit
@pytest.mark.parametrize("runner, direct", [
    (None, True), ("DirectRunner", True), ("Direct", True), ("directrunner", True), ("TestDirectRunner", True),
    ("SwitchingDirectRunner", True), ("apache_beam.runners.direct.direct_runner.BundleBasedDirectRunner", True),
    ("PortableRunner", False), ("FlinkRunner", False), ("flink", False), ("SparkRunner", False),
    ("DataflowRunner", False), ("PrismRunner", False),
    ("apache_beam.runners.portability.portable_runner.PortableRunner", False),
])
def test_which_runners_are_direct(runner, direct):
    assert config_lib.is_direct_runner(runner) is direct


@pytest.mark.unit
@pytest.mark.parametrize("beam_args, installed", [
    ((), False), (("--direct_num_workers=2",), False), (("--runner=DirectRunner",), False),
    (PORTABLE, True), (("--runner=DataflowRunner",), True),
])
def test_a_local_config_names_installed_functions_beyond_the_direct_runner(tmp_path, beam_args, installed):
    config = config_lib.local_config(data_root=str(DATA_ROOT), outputs=str(tmp_path), beam_args=beam_args)
    assert config.installed_functions is installed
    assert config_lib.local_config(data_root=str(DATA_ROOT), outputs=str(tmp_path), beam_args=beam_args,
                                   installed_functions=True).installed_functions


# ---- services: a real portable run against the DirectRunner ------------------------------------

SPAN = 3
NODES = (names.EXAMPLE_GEN, names.STATISTICS_GEN, names.CURATED_SCHEMA, names.TRANSFORM)
RUNNERS = ("direct", "portable")
MEAN_TOLERANCE = 1e-9  # relative: the same values summed in another order


@pytest.fixture(scope="module")
def beam_services(tmp_path_factory):
    services = BeamServices.start(str(tmp_path_factory.mktemp("beam_services")), wait=False)
    try:
        yield services
    finally:
        services.stop()
    assert services.alive() == []


def _run(root, beam_args) -> dict:
    """ExampleGen, StatisticsGen, the curated schema and Transform as `create_components` wires
    them, run by LocalDagRunner on span 3 with these Beam arguments: {config, store, executions}.
    Transform waits for the gate in the pipeline; here it runs on its own."""
    from tfx import v1 as tfx

    from mlmd import query
    from pipeline.pipeline import create_components

    config = config_lib.local_config(data_root=str(DATA_ROOT), outputs=str(root), beam_args=beam_args,
                                     span=SPAN, enable_cache=False)
    nodes = [node for node in create_components(config) if node.id in NODES]
    for node in nodes:
        for upstream in [u for u in node.upstream_nodes if u.id not in NODES]:
            node.remove_upstream_node(upstream)
    with pytest.MonkeyPatch.context() as patch:  # TFX's module wheel and its own sdist: under root
        (root / "tmp").mkdir()
        patch.setattr(tempfile, "tempdir", str(root / "tmp"))
        patch.setenv("TMPDIR", str(root / "tmp"))
        tfx.orchestration.LocalDagRunner().run(tfx.dsl.Pipeline(
            pipeline_name="portable", pipeline_root=config.pipeline_root, components=nodes, enable_cache=False,
            metadata_connection_config=config.store.connection_config(),
            beam_pipeline_args=list(config.beam_pipeline_args)))
    store = query.sqlite_store(config.store.sqlite_path)
    [run] = query.run_contexts(store)
    return {"config": config, "store": store, "executions": query.executions_by_node(store, run.id)}


@pytest.fixture(scope="module")
def both_runs(beam_services, tmp_path_factory):
    direct = _run(tmp_path_factory.mktemp("direct"), ())  # while the services start
    beam_services.wait_ready()
    return {"direct": direct, "portable": _run(tmp_path_factory.mktemp("portable"), beam_services.beam_args())}


def _output(run, node, type_name):
    from mlmd import query

    [artifact] = query.outputs_of_type(run["store"], run["executions"][node].id, type_name)
    return artifact


def _splits(artifact):
    return layout.decode_splits(artifact.properties["split_names"].string_value)


def _records(examples, split) -> int:
    import tensorflow as tf

    files = glob.glob(os.path.join(layout.split_dir(examples.uri, split), "*.gz"))
    assert files, examples.uri
    return sum(1 for _ in tf.data.TFRecordDataset(files, compression_type="GZIP"))


def _summary(statistics) -> tuple:
    """(number of examples, {feature: (num_non_missing, min, max, mean, (unique, top values))})
    of one split's statistics; a numeric feature has no strings, a string feature no numbers."""
    [dataset] = statistics.datasets
    features = {}
    for feature in dataset.features:
        name = ".".join(feature.path.step) or feature.name
        if feature.HasField("num_stats"):
            s = feature.num_stats
            features[name] = (s.common_stats.num_non_missing, s.min, s.max, s.mean, None)
        else:
            s = feature.string_stats
            features[name] = (s.common_stats.num_non_missing, None, None, None,
                              (s.unique, tuple((v.value, v.frequency) for v in s.top_values)))
    return dataset.num_examples, features


@pytest.mark.services
def test_the_portable_run_is_configured_for_its_workers(both_runs, beam_services):
    direct, portable = both_runs["direct"]["config"], both_runs["portable"]["config"]
    # Nothing of the DirectRunner's; the job's deadline of a day, which the run needed (it lasts over a minute here).
    assert portable.beam_pipeline_args == (f"--job_server_timeout={config_lib.JOB_SERVER_TIMEOUT_S}",) + beam_services.beam_args()
    assert portable.installed_functions and not direct.installed_functions
    transform = both_runs["portable"]["executions"][names.TRANSFORM]
    assert transform.custom_properties["preprocessing_fn"].string_value == "models.preprocessing.preprocessing_fn"


@pytest.mark.services
def test_every_node_completes_on_both_runners_and_the_work_ran_on_the_pool(both_runs, beam_services):
    from mlmd import query

    for run in both_runs.values():
        assert {node: query.state_name(e.last_known_state) for node, e in run["executions"].items()} == {
            node: "COMPLETE" for node in NODES}
    logs = beam_services.logs()
    # ExampleGen, StatisticsGen and Transform: each a job of the job service, on SDK workers of the pool.
    assert logs.count("with state DONE") >= 3, logs[-3000:]
    assert "Starting worker with command" in logs, logs[-3000:]


@pytest.mark.services
def test_the_same_examples_on_both_runners(both_runs):
    direct, portable = (_output(both_runs[r], names.EXAMPLE_GEN, names.EXAMPLES_TYPE) for r in RUNNERS)
    assert _splits(direct) == _splits(portable) == [names.TRAIN_SPLIT, names.EVAL_SPLIT]
    counts = {split: (_records(direct, split), _records(portable, split)) for split in _splits(direct)}
    assert all(d == p > 0 for d, p in counts.values()), counts
    with open(DATA_ROOT / "train" / f"span-{SPAN}" / "data.csv") as f:
        rows = sum(1 for _ in f) - 1
    quarantined = direct.custom_properties["quarantined_rows"].int_value
    assert sum(d for d, _ in counts.values()) + quarantined == rows
    assert portable.custom_properties["quarantined_rows"].int_value == quarantined


@pytest.mark.services
def test_the_same_statistics_on_both_runners(both_runs):
    direct, portable = (_output(both_runs[r], names.STATISTICS_GEN, names.STATISTICS_TYPE) for r in RUNNERS)
    assert _splits(direct) == _splits(portable)
    for split in _splits(direct):
        (expected_count, expected), (count, actual) = (_summary(layout.read_statistics(a.uri, split))
                                                       for a in (direct, portable))
        assert count == expected_count > 0
        assert set(actual) == set(expected)
        strings = [f for f, v in expected.items() if v[4] is not None]
        assert len(strings) >= 2 and len(expected) - len(strings) >= 5  # both kinds compared
        for feature, want in expected.items():
            got = actual[feature]
            assert (got[:3], got[4]) == (want[:3], want[4]), (split, feature)  # counts, min, max, strings: exact
            if want[3] is not None:
                assert got[3] == pytest.approx(want[3], rel=MEAN_TOLERANCE, abs=1e-12), (split, feature)


@pytest.mark.services
def test_the_same_transform_on_both_runners(both_runs):
    direct, portable = (_output(both_runs[r], names.TRANSFORM, names.EXAMPLES_TYPE) for r in RUNNERS)
    examples = _output(both_runs["direct"], names.EXAMPLE_GEN, names.EXAMPLES_TYPE)
    for split in _splits(examples):
        assert _records(direct, split) == _records(portable, split) == _records(examples, split)
    graphs = [_output(both_runs[r], names.TRANSFORM, names.TRANSFORM_GRAPH_TYPE) for r in RUNNERS]
    direct_vocabularies, portable_vocabularies = (
        {p.name: p.read_bytes() for p in (pathlib.Path(graph.uri) / "transform_fn" / "assets").iterdir()}
        for graph in graphs)
    assert direct_vocabularies and portable_vocabularies == direct_vocabularies
