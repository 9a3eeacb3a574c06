import pathlib

import pytest

from core.settings import schema_files
from mlmd.store import StoreSettings
from pipeline import config as config_lib
from tests.conftest import DATA_ROOT

pytestmark = pytest.mark.unit


def test_local_config_puts_every_output_under_outputs(tmp_path):
    config = config_lib.local_config(data_root=str(DATA_ROOT), outputs=str(tmp_path))
    assert config.pipeline_root == str(tmp_path / "pipeline")
    assert config.store == StoreSettings(sqlite_path=str(tmp_path / "metadata.sqlite"))
    assert config.serving_model_dir == str(tmp_path / "serving_model")
    assert config.train_data == str(DATA_ROOT / "train")
    assert config.schema_version == "v1"


def test_flags_override_the_defaults(tmp_path):
    config = config_lib.local_config(
        data_root=str(DATA_ROOT),
        outputs=str(tmp_path),
        pipeline_root=str(tmp_path / "elsewhere"),
        store=StoreSettings(sqlite_path=str(tmp_path / "m.db")),
        beam_args=("--direct_num_workers=2",),
    )
    assert config.pipeline_root == str(tmp_path / "elsewhere")
    assert config.store.sqlite_path == str(tmp_path / "m.db")
    assert "--direct_num_workers=2" in config.beam_pipeline_args
    assert "--direct_num_workers=1" not in config.beam_pipeline_args
    assert "--runner=DirectRunner" in config.beam_pipeline_args


@pytest.mark.parametrize("flag, uri", [("--pipeline-root", "s3://bucket/root"), ("--data-root", "gs://bucket/taxi")])
def test_object_storage_in_a_local_run_is_a_one_line_error(tmp_path, flag, uri):
    paths = {"pipeline_root": uri} if flag == "--pipeline-root" else {"data_root": uri}
    with pytest.raises(config_lib.ConfigError) as e:
        config_lib.local_config(**dict({"data_root": str(DATA_ROOT), "outputs": str(tmp_path)}, **paths))
    assert str(e.value).startswith(f"{flag} {uri}: a local run keeps this on this machine")
    assert "\n" not in str(e.value)


def test_config_is_frozen(tmp_path):
    config = config_lib.local_config(data_root=str(DATA_ROOT), outputs=str(tmp_path))
    with pytest.raises(AttributeError):
        config.train_steps = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    "layout, message",
    [
        ({}, "no train/ folder"),
        ({"train/readme.txt": "x"}, "no span-N folder"),
    ],
)
def test_bad_data_root_is_a_one_line_error(tmp_path, layout, message):
    for rel, text in layout.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    with pytest.raises(config_lib.ConfigError, match=message):
        config_lib.local_config(data_root=str(tmp_path), outputs=str(tmp_path / "out"))


def test_latest_schema_is_the_highest_version(tmp_path):
    for version in ("v1", "v2", "v10", "draft"):
        (tmp_path / version).mkdir()
        (tmp_path / version / "schema.pbtxt").write_text("")
    assert pathlib.Path(schema_files.latest_path(tmp_path)).parent.name == "v10"


def test_schema_outside_a_version_folder_is_refused():
    with pytest.raises(config_lib.ConfigError, match="v<N>"):
        schema_files.version_of("/somewhere/schema.pbtxt")


def test_input_folders_are_the_latest_span_and_serving(tmp_path):
    import shutil

    for span in (2, 10):
        shutil.copytree(DATA_ROOT / "train" / "span-3", tmp_path / "train" / f"span-{span}")
    (tmp_path / "serving").mkdir()
    latest = config_lib.input_folders(config_lib.local_config(data_root=str(tmp_path), outputs=str(tmp_path / "o")))
    assert latest == [str(tmp_path / "train" / "span-10"), str(tmp_path / "serving")]
    chosen = config_lib.local_config(data_root=str(tmp_path), outputs=str(tmp_path / "o"), span=2)
    assert config_lib.input_folders(chosen)[0] == str(tmp_path / "train" / "span-2")
    missing = config_lib.local_config(data_root=str(tmp_path), outputs=str(tmp_path / "o"), span=7)
    with pytest.raises(config_lib.ConfigError, match="--span 7: no folder"):
        config_lib.input_folders(missing)
