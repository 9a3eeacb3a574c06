"""One place for every name tfxgate's layers share: node ids, splits, environments, artifact
files, MLMD types and properties, gate decisions. No imports: anything may import this.

A name typed twice is a rename waiting to break lineage, history or reports silently.
"""

# ---- pipeline nodes (stable ids: MLMD, the console and the Kubeflow UI name nodes by these) ----
EXAMPLE_GEN = "TrainExampleGen"
STATISTICS_GEN = "TrainStatisticsGen"
SERVING_EXAMPLE_GEN = "ServingExampleGen"
SERVING_STATISTICS_GEN = "ServingStatisticsGen"
INFERRED_SCHEMA = "InferredSchemaGen"
CURATED_SCHEMA = "CuratedSchemaImporter"
EXAMPLE_VALIDATOR = "ExampleValidator"
PREVIOUS_DECISIONS = "PreviousGateDecisions"
TRAIN_VALIDATOR = "TrainValidator"
SERVING_VALIDATOR = "ServingValidator"
GATE = "DataGate"
TRANSFORM = "Transform"
TRAINER = "Trainer"
EVALUATOR = "Evaluator"
BASELINE_MODEL_INPUT = "baseline_model"  # the Evaluator's input key: a model compared with, not derived from
LATEST_BLESSED_MODEL = "LatestBlessedModel"  # local only: the Resolver of the baseline model
PUSHER = "Pusher"
REPORT = "AnomalyReport"  # Kubeflow only: the report and decision as outputs the run's UI shows
VALIDATORS = (TRAIN_VALIDATOR, SERVING_VALIDATOR)
EXAMPLE_GENS = (EXAMPLE_GEN, SERVING_EXAMPLE_GEN)

# ---- schema environments ----
TRAINING = "TRAINING"
SERVING = "SERVING"
ENVIRONMENTS = (TRAINING, SERVING)

# ---- data layout and splits ----
TRAIN_FOLDER = "train"  # <data root>/train/span-N/ holds a span's data files
SERVING_FOLDER = "serving"  # <data root>/serving/ holds serving data files
SPAN_FOLDER_PATTERN = r"span-(\d+)"
SPAN_PATTERN = "span-{SPAN}/*"  # ExampleGen's input pattern under train/: every data file of the span (components/example_gen_inputs.py)
TRAIN_SPLIT = "train"
EVAL_SPLIT = "eval"
SERVING_SPLIT = "serving"
SERVING_PATTERN = "*"  # ExampleGen's input pattern under serving/: every data file there
BASELINE_SPLIT = TRAIN_SPLIT  # the split of training statistics that skew and drift compare with

# ---- files inside artifacts ----
FEATURE_STATS_FILE = "FeatureStats.pb"  # StatisticsGen's, per split
ANOMALIES_FILE = "SchemaDiff.pb"  # ExampleValidator's name, so TFDV's readers work on ours
FINDINGS_FILE = "findings.json"  # DataValidator's, per split
DECISION_FILE = "decision.json"  # DataGate's
SCHEMA_FILE = "schema.pbtxt"  # a curated schema version, SchemaGen's output, ImportSchemaGen's
CHECKS_FILE = "checks.yaml"  # beside a schema version: slices and extra tests (core/settings/check_settings.py)
CONSTRAINTS_FILE = "constraints.yaml"  # beside a schema version: rules across columns (core/rules/)
PROFILE_FILE = "profile.json"  # inside Examples: the batch's profile (core/statistics/profile.py)


def split_profile_file(split: str) -> str:
    """Inside Examples read from several input splits: one input split's own profile."""
    return f"profile-{split}.json"


# ---- MLMD types, contexts and properties ----
GATE_DECISION_TYPE = "tfxgate.GateDecision"  # also a class path: `tfxgate.GateDecision`
EXAMPLES_TYPE = "Examples"
STATISTICS_TYPE = "ExampleStatistics"
ANOMALIES_TYPE = "ExampleAnomalies"
SCHEMA_TYPE = "Schema"
MODEL_TYPE = "Model"
PUSHED_MODEL_TYPE = "PushedModel"
MODEL_BLESSING_TYPE = "ModelBlessing"
MODEL_EVALUATION_TYPE = "ModelEvaluation"
TRANSFORM_GRAPH_TYPE = "TransformGraph"
PIPELINE_CONTEXT = "pipeline"
RUN_CONTEXT = "pipeline_run"
NODE_CONTEXT = "node"

SPAN = "span"
VERSION = "version"
FINGERPRINT = "input_fingerprint"
ENVIRONMENT = "environment"
SCHEMA_VERSION = "schema_version"
STATISTICS_URI = "statistics_uri"
STATISTICS_SPLITS = "statistics_splits"
DISTANCES = "distances"
DRIFT_BASELINE_SPAN = "drift_baseline_span"
DRIFT_BASELINE_URI = "drift_baseline_uri"
SKEW_BASELINE_URI = "skew_baseline_uri"
TRAINING_STATISTICS_URI = "training_statistics_uri"
TRAINING_STATISTICS_SPLITS = "training_statistics_splits"
EXAMPLES_URI = "examples_uri"  # ExampleAnomalies: the Examples validated (their profile)
TRAINING_EXAMPLES_URI = "training_examples_uri"  # GateDecision: the accepted span's Examples
DECISION = "decision"
SUMMARY = "summary"
VERDICTS = "verdicts"
POLICY = "policy"  # the gate's execution parameter: the policy as canonical JSON
SCHEMA_FILE_PROPERTY = "schema_file"  # ImportSchemaGen's execution property
PUSHED = "pushed"
BLESSED = "blessed"  # ModelBlessing: TFX's 1 or 0
EVAL_METRICS = "eval_metrics"  # ModelBlessing: overall metrics of candidate and baseline, slices (JSON)
EVAL_REASONS = "eval_reasons"  # ModelBlessing: one line per failed threshold (JSON list)
EVAL_HAS_BASELINE = "eval_has_baseline"  # ModelBlessing: 1 when a baseline model was compared
BLESSING_BASELINE_ID = "baseline_model_id"  # ModelBlessing: TFX's, the baseline Model's MLMD id
BLESSING_BASELINE_URI = "baseline_model"  # ModelBlessing: TFX's, the baseline Model's URI
PUSHED_DESTINATION = "pushed_destination"
TYPED_READING = "typed_reading"  # Examples: what ExampleGen could not read as the schema's types
QUARANTINED_ROWS = "quarantined_rows"  # Examples: rows left out of the splits
QUARANTINE_FOLDER = "Quarantine"  # inside Examples: the rows left out, one CSV per input split
EXECUTION_RESULT = "__execution_result__"  # where TFX's launcher records a failed execution's message

# ---- Kubeflow run parameters (the compiled spec's pipeline parameters, set per run) ----
PARAM_SPAN = "span"  # the training span to read; -1: the latest
PARAM_TRAIN_STEPS = "train_steps"
PARAM_SCHEMA_VERSION = "schema_version"  # a curated version v<N> in the image's schema/
PARAM_BASELINE_MODEL = "baseline_model"  # an earlier run's Model URI; '': floors only
PARAM_DRIFT_BASELINE = "drift_baseline"  # an earlier run's gate `decision` URI; '': no drift check

# ---- gate decisions ----
PASS, WARN, BLOCK = "pass", "warn", "block"
NOT_REACHED = "not reached"
