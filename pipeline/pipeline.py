"""`create_pipeline`: the one place where the tfxgate TFX pipeline is wired."""

import os
from typing import List

from tfx import v1 as tfx
from tfx.proto import example_gen_pb2, range_config_pb2

from pipeline.config import PipelineConfig

# Stable ids: MLMD, the console and the Kubeflow UI name each node by these.
EXAMPLE_GEN = "TrainExampleGen"
STATISTICS_GEN = "TrainStatisticsGen"
INFERRED_SCHEMA = "InferredSchemaGen"
CURATED_SCHEMA = "CuratedSchemaImporter"
EXAMPLE_VALIDATOR = "ExampleValidator"
TRANSFORM = "Transform"
TRAINER = "Trainer"
PUSHER = "Pusher"

SPAN_PATTERN = "span-{SPAN}/*.csv"


def _train_example_gen(config: PipelineConfig):
    input_config = example_gen_pb2.Input(
        splits=[example_gen_pb2.Input.Split(name="single_split", pattern=SPAN_PATTERN)]
    )
    output_config = example_gen_pb2.Output(
        split_config=example_gen_pb2.SplitConfig(
            splits=[
                example_gen_pb2.SplitConfig.Split(name="train", hash_buckets=4),
                example_gen_pb2.SplitConfig.Split(name="eval", hash_buckets=1),
            ]
        )
    )
    range_config = None
    if config.span is not None:
        range_config = range_config_pb2.RangeConfig(
            static_range=range_config_pb2.StaticRange(
                start_span_number=config.span, end_span_number=config.span
            )
        )
    return tfx.components.CsvExampleGen(
        input_base=config.train_data,
        input_config=input_config,
        output_config=output_config,
        range_config=range_config,
    ).with_id(EXAMPLE_GEN)


def _user_code(config: PipelineConfig, module: str, function: str) -> dict:
    """`module_file=` for a local run; `<function>='models.x.<function>'` where the project is installed."""
    if not config.installed_functions:
        return {"module_file": module}
    dotted = "models." + os.path.splitext(os.path.basename(module))[0]
    return {function: f"{dotted}.{function}"}


def create_components(config: PipelineConfig) -> List:
    """The pipeline's nodes, in dependency order."""
    example_gen = _train_example_gen(config)
    statistics_gen = tfx.components.StatisticsGen(
        examples=example_gen.outputs["examples"]
    ).with_id(STATISTICS_GEN)
    # Inferred from this span's statistics; kept beside the curated schema for comparison.
    inferred_schema = tfx.components.SchemaGen(
        statistics=statistics_gen.outputs["statistics"], infer_feature_shape=False
    ).with_id(INFERRED_SCHEMA)
    curated_schema = tfx.components.ImportSchemaGen(schema_file=config.schema_path).with_id(
        CURATED_SCHEMA
    )
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"],
        schema=curated_schema.outputs["schema"],
    ).with_id(EXAMPLE_VALIDATOR)
    transform = tfx.components.Transform(
        examples=example_gen.outputs["examples"],
        schema=curated_schema.outputs["schema"],
        **_user_code(config, config.transform_module, "preprocessing_fn"),
    ).with_id(TRANSFORM)
    transform.add_upstream_node(example_validator)
    trainer = tfx.components.Trainer(
        **_user_code(config, config.trainer_module, "run_fn"),
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=curated_schema.outputs["schema"],
        train_args=tfx.proto.TrainArgs(num_steps=config.train_steps),
        eval_args=tfx.proto.EvalArgs(num_steps=config.eval_steps),
    ).with_id(TRAINER)
    pusher = tfx.components.Pusher(
        model=trainer.outputs["model"],
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(base_directory=config.serving_model_dir)
        ),
    ).with_id(PUSHER)
    return [
        example_gen,
        statistics_gen,
        inferred_schema,
        curated_schema,
        example_validator,
        transform,
        trainer,
        pusher,
    ]


def create_pipeline(config: PipelineConfig) -> tfx.dsl.Pipeline:
    """The whole tfxgate pipeline for `config`, with caching as the config says."""
    metadata = None
    if config.metadata_path:
        metadata = tfx.orchestration.metadata.sqlite_metadata_connection_config(config.metadata_path)
    return tfx.dsl.Pipeline(
        pipeline_name=config.pipeline_name,
        pipeline_root=config.pipeline_root,
        components=create_components(config),
        enable_cache=config.enable_cache,
        metadata_connection_config=metadata,
        beam_pipeline_args=list(config.beam_pipeline_args),
    )
