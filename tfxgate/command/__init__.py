"""The `tfxgate` command (`cli.py` runs what `parser.py` parses; its shared arguments in `args.py`,
also the runners'), the run console (`console.py`), a user's data made a project (`init.py`, the
texts of the files it writes in `project_files.py`, the Transform and Trainer modules it copies
from `templates/models/`) and schema versions proposed and accepted
(`schema_versions.py`). `cli.py` loads without TensorFlow: each command imports what it needs.

May import: common, reports, validation, online, experiments, kubeflow.
"""
