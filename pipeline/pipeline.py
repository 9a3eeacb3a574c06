"""`create_pipeline`: the one place where the tfxgate TFX pipeline is wired."""

import os
from typing import List

from tfx import v1 as tfx
from tfx.proto import example_gen_pb2, range_config_pb2

from components.artifacts import GateDecision
from components.evaluator import ExplainedEvaluator
from components.csv_example_gen import CheckedCsvExampleGen, custom_config
from components.gate.component import DataGate
from components.model_resolver import LatestBlessedOtherModelStrategy
from components.schema_importer import VersionedSchemaImporter
from components.span_example_gen import LATEST_SPAN, SpanCsvExampleGen
from components.trainer import StepsTrainer
from components.span_resolver import PreviousAcceptedSpanStrategy
from components.validator.component import DataValidator
from core.settings import check_settings
from core.common import evaluation
from core.common.names import (
    CURATED_SCHEMA, EVAL_SPLIT, EVALUATOR, LATEST_BLESSED_MODEL, PARAM_BASELINE_MODEL, EXAMPLE_GEN, EXAMPLE_VALIDATOR, GATE, INFERRED_SCHEMA, PARAM_DRIFT_BASELINE,
    PARAM_SCHEMA_VERSION, PARAM_SPAN, PARAM_TRAIN_STEPS, PREVIOUS_DECISIONS, PUSHER, SERVING, SERVING_EXAMPLE_GEN, SERVING_PATTERN, SERVING_SPLIT, SERVING_STATISTICS_GEN, SERVING_VALIDATOR, SPAN_PATTERN,
    STATISTICS_GEN, TRAIN_SPLIT, TRAIN_VALIDATOR, TRAINER, TRAINING, TRANSFORM,
)
from pipeline.config import PipelineConfig


def run_parameters(config: PipelineConfig) -> dict:
    """{name: RuntimeParameter} of what a Kubeflow run may change (defaults: this config's values);
    {} where the config compiles none (local runs take flags instead)."""
    if not config.run_parameters:
        return {}
    parameter = tfx.dsl.experimental.RuntimeParameter
    return {
        PARAM_SPAN: parameter(name=PARAM_SPAN, ptype=int, default=LATEST_SPAN if config.span is None else config.span),
        PARAM_TRAIN_STEPS: parameter(name=PARAM_TRAIN_STEPS, ptype=int, default=config.train_steps),
        PARAM_SCHEMA_VERSION: parameter(name=PARAM_SCHEMA_VERSION, ptype=str, default=config.schema_version),
        PARAM_DRIFT_BASELINE: parameter(name=PARAM_DRIFT_BASELINE, ptype=str, default=""),
        PARAM_BASELINE_MODEL: parameter(name=PARAM_BASELINE_MODEL, ptype=str, default=""),
    }


def _versioned(config: PipelineConfig, parameters: dict) -> dict:
    """ExampleGen's arguments for reading the run's schema version from the image (none locally)."""
    if not parameters:
        return {}
    return {"schema_dir": config.schema_dir, "schema_version": parameters[PARAM_SCHEMA_VERSION]}


def _train_example_gen(config: PipelineConfig, parameters: dict):
    input_config = example_gen_pb2.Input(
        splits=[example_gen_pb2.Input.Split(name="single_split", pattern=SPAN_PATTERN)]
    )
    output_config = example_gen_pb2.Output(
        split_config=example_gen_pb2.SplitConfig(
            splits=[
                example_gen_pb2.SplitConfig.Split(name=TRAIN_SPLIT, hash_buckets=4),
                example_gen_pb2.SplitConfig.Split(name=EVAL_SPLIT, hash_buckets=1),
            ]
        )
    )
    range_config, requested = None, {}
    if parameters:
        requested = {"requested_span": parameters[PARAM_SPAN], **_versioned(config, parameters)}
    elif config.span is not None:
        range_config = range_config_pb2.RangeConfig(
            static_range=range_config_pb2.StaticRange(
                start_span_number=config.span, end_span_number=config.span
            )
        )
    return _csv_example_gen(config)(
        input_base=config.train_data,
        input_config=input_config,
        output_config=output_config,
        range_config=range_config,
        custom_config=_typed_by_schema(config),
        **requested,
    ).with_id(EXAMPLE_GEN)


def _typed_by_schema(config: PipelineConfig):
    """ExampleGen reads every cell as the curated schema's type (None: inferred, as TFX does)."""
    if not config.schema_text:
        return None
    return custom_config(config.schema_text, config.delimiter, config.constraints_text, config.checks_text, config.missing,
                         input_format=config.input_format)


def _csv_example_gen(config: PipelineConfig):
    """CsvExampleGen with tfxgate's checked executor; driverless where Kubeflow calls no driver."""
    return SpanCsvExampleGen if config.example_gen_without_driver else CheckedCsvExampleGen


def _serving_example_gen(config: PipelineConfig, parameters: dict):
    """The serving batch as one split, named `serving`."""
    return _csv_example_gen(config)(
        input_base=config.serving_data,
        input_config=example_gen_pb2.Input(
            splits=[example_gen_pb2.Input.Split(name=SERVING_SPLIT, pattern=SERVING_PATTERN)]
        ),
        output_config=example_gen_pb2.Output(
            split_config=example_gen_pb2.SplitConfig(
                splits=[example_gen_pb2.SplitConfig.Split(name=SERVING_SPLIT, hash_buckets=1)]
            )
        ),
        custom_config=_typed_by_schema(config),
        **_versioned(config, parameters),
    ).with_id(SERVING_EXAMPLE_GEN)


def _user_code(config: PipelineConfig, module: str, function: str) -> dict:
    """`module_file=` for a local run; `<function>='models.x.<function>'` where the project is installed."""
    if not config.installed_functions:
        return {"module_file": module}
    name = os.path.splitext(os.path.basename(module))[0]
    dotted = f"{config.module_package}.{name}" if config.module_package else name
    return {function: f"{dotted}.{function}"}


def _validation(config: PipelineConfig, parameters: dict) -> dict:
    """ExampleGen, statistics and both schemas of the training span, and TFX's own validator."""
    example_gen = _train_example_gen(config, parameters)
    statistics_gen = tfx.components.StatisticsGen(
        examples=example_gen.outputs["examples"]
    ).with_id(STATISTICS_GEN)
    # Inferred from this span's statistics; kept beside the curated schema for comparison.
    inferred_schema = tfx.components.SchemaGen(
        statistics=statistics_gen.outputs["statistics"], infer_feature_shape=False
    ).with_id(INFERRED_SCHEMA)
    if parameters:  # the version a run names, read from the image
        curated_schema = VersionedSchemaImporter(config.schema_dir, parameters[PARAM_SCHEMA_VERSION])
    else:
        curated_schema = tfx.components.ImportSchemaGen(schema_file=config.schema_path)
    curated_schema = curated_schema.with_id(CURATED_SCHEMA)
    # TFX's own validator, kept for tools that read its `blessed` property; it ignores
    # environments and never stops a run, which is what DataValidator and DataGate are for.
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=curated_schema.outputs["schema"]
    ).with_id(EXAMPLE_VALIDATOR)
    return {"example_gen": example_gen, "statistics_gen": statistics_gen,
            "nodes": [example_gen, statistics_gen, inferred_schema, curated_schema, example_validator],
            "schema": curated_schema.outputs["schema"]}


def _drift_baseline(example_gen):
    """The Resolver of the drift baseline: the gate decision of the newest earlier span that
    passed. `decisions` queries every run; `examples` is this run's."""
    return tfx.dsl.Resolver(
        strategy_class=PreviousAcceptedSpanStrategy,
        examples=example_gen.outputs["examples"],
        decisions=tfx.dsl.Channel(type=GateDecision, producer_component_id=GATE, output_key="decision"),
    ).with_id(PREVIOUS_DECISIONS)


def _validator_settings(config: PipelineConfig, parameters: dict) -> dict:
    """The schema version a validator records and where its checks.yaml comes from: compiled in, or
    read at run time from the version a Kubeflow run names."""
    if not parameters:
        return {"schema_version": config.schema_version, "checks": config.checks_text}
    return {"schema_version": parameters[PARAM_SCHEMA_VERSION], "schema_dir": config.schema_dir}


def _serving_validation(config: PipelineConfig, parameters: dict, schema, training_statistics,
                        training_examples) -> list:
    """ExampleGen, statistics and validation of the serving batch, with skew against training."""
    serving_example_gen = _serving_example_gen(config, parameters)
    serving_statistics_gen = tfx.components.StatisticsGen(
        examples=serving_example_gen.outputs["examples"]
    ).with_id(SERVING_STATISTICS_GEN)
    serving_validator = DataValidator(
        statistics=serving_statistics_gen.outputs["statistics"],
        schema=schema,
        environment=SERVING,
        examples=serving_example_gen.outputs["examples"],
        training_statistics=training_statistics,
        training_examples=training_examples,
        **_validator_settings(config, parameters),
    ).with_id(SERVING_VALIDATOR)
    return [serving_example_gen, serving_statistics_gen, serving_validator]


def _trainer(config: PipelineConfig, parameters: dict, **inputs):
    """TFX's Trainer; with run parameters, the one whose steps a run sets."""
    train_args = tfx.proto.TrainArgs(num_steps=config.train_steps)
    eval_args = tfx.proto.EvalArgs(num_steps=config.eval_steps)
    code = _user_code(config, config.trainer_module, "run_fn")
    if parameters:
        return StepsTrainer(**inputs, run_fn=code["run_fn"], train_args=train_args, eval_args=eval_args,
                            train_steps=parameters[PARAM_TRAIN_STEPS])
    return tfx.components.Trainer(**code, **inputs, train_args=train_args, eval_args=eval_args)


def _training(config: PipelineConfig, parameters: dict, examples, schema, gate) -> list:
    """Transform, Trainer and Pusher; nothing of it starts unless the gate passed (also on Kubeflow)."""
    transform = tfx.components.Transform(
        examples=examples,
        schema=schema,
        **_user_code(config, config.transform_module, "preprocessing_fn"),
    ).with_id(TRANSFORM)
    transform.add_upstream_node(gate)
    trainer = _trainer(
        config, parameters,
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=schema,
    ).with_id(TRAINER)
    nodes = [transform, trainer]
    blessing = None
    if config.evaluation_text:
        evaluator = _evaluator(config, parameters, examples, trainer.outputs["model"])
        nodes += evaluator["nodes"]
        blessing = evaluator["blessing"]
    pusher = tfx.components.Pusher(
        model=trainer.outputs["model"],
        model_blessing=blessing,
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(base_directory=config.serving_model_dir)
        ),
    ).with_id(PUSHER)
    return nodes + [pusher]


def _evaluator(config: PipelineConfig, parameters: dict, examples, model) -> dict:
    """TFX's Evaluator on the eval split under schema/evaluation.yaml's thresholds, against the
    baseline model: locally the latest blessed model of this pipeline other than this run's (a
    Resolver, so a re-run with nothing changed stays cached); on Kubeflow,
    which runs no Resolver, an earlier run's Model URI given as the `baseline_model` parameter."""
    import tensorflow_model_analysis as tfma
    from google.protobuf import json_format

    slices = [key.feature for key in check_settings.parse(config.checks_text).slices]
    eval_config = json_format.Parse(evaluation.eval_config_json(config.evaluation_text, slices), tfma.EvalConfig())
    nodes, baseline = [], {}
    if parameters:
        baseline["baseline_model_uri"] = parameters[PARAM_BASELINE_MODEL]
    else:
        resolver = tfx.dsl.Resolver(
            strategy_class=LatestBlessedOtherModelStrategy,
            candidate=model,
            model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
            model_blessing=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing),
        ).with_id(LATEST_BLESSED_MODEL)
        nodes.append(resolver)
        baseline["baseline_model"] = resolver.outputs["model"]
    evaluator = ExplainedEvaluator(
        examples=examples, model=model, eval_config=eval_config, evaluation_settings=config.evaluation_text,
        example_splits=[EVAL_SPLIT], **baseline,
    ).with_id(EVALUATOR)
    return {"nodes": nodes + [evaluator], "blessing": evaluator.outputs["blessing"]}


def create_components(config: PipelineConfig) -> List:
    """The pipeline's nodes, in dependency order."""
    parameters = run_parameters(config)
    validation = _validation(config, parameters)
    example_gen, statistics = validation["example_gen"], validation["statistics_gen"].outputs["statistics"]
    schema, nodes = validation["schema"], validation["nodes"]
    previous_decisions = None
    if config.drift_against_previous_span:
        resolver = _drift_baseline(example_gen)
        previous_decisions = resolver.outputs["decisions"]
        nodes.append(resolver)
    train_validator = DataValidator(
        statistics=statistics,
        schema=schema,
        environment=TRAINING,
        examples=example_gen.outputs["examples"],
        previous_decisions=previous_decisions,
        drift_baseline=parameters.get(PARAM_DRIFT_BASELINE),
        **_validator_settings(config, parameters),
    ).with_id(TRAIN_VALIDATOR)
    nodes.append(train_validator)
    serving_anomalies = None
    if config.validate_serving:
        serving = _serving_validation(config, parameters, schema, statistics, example_gen.outputs["examples"])
        serving_anomalies = serving[-1].outputs["anomalies"]
        nodes += serving
    gate = DataGate(
        training_anomalies=train_validator.outputs["anomalies"],
        serving_anomalies=serving_anomalies,
        policy=config.policy_json,
    ).with_id(GATE)
    return nodes + [gate] + _training(config, parameters, example_gen.outputs["examples"], schema, gate)


def create_pipeline(config: PipelineConfig) -> tfx.dsl.Pipeline:
    """The whole tfxgate pipeline for `config`, with caching as the config says."""
    metadata = config.store.connection_config() if config.store else None
    return tfx.dsl.Pipeline(
        pipeline_name=config.pipeline_name,
        pipeline_root=config.pipeline_root,
        components=create_components(config),
        enable_cache=config.enable_cache,
        metadata_connection_config=metadata,
        beam_pipeline_args=list(config.beam_pipeline_args),
    )
