"""Feature and label names of the taxi data, in one place.

Everything that names a column (Transform, Trainer, tests, validation) reads it from here.
"""

from typing import Dict, List

LABEL_KEY = "tips"
FARE_KEY = "fare"

# Transformed label: 1 when the tip exceeds this fraction of the fare.
BIG_TIP_FRACTION = 0.2

# Continuous values, standardised to z-scores.
DENSE_FLOAT_FEATURE_KEYS: List[str] = ["trip_miles", "fare", "trip_seconds"]

# Continuous values cut into quantile buckets and used as categories.
BUCKET_FEATURE_KEYS: List[str] = [
    "pickup_latitude",
    "pickup_longitude",
    "dropoff_latitude",
    "dropoff_longitude",
]
BUCKET_COUNT = 10

# Integer categories with a known largest value (the model one-hot encodes 0..max).
CATEGORICAL_FEATURE_MAX_VALUES: Dict[str, int] = {
    "trip_start_hour": 23,
    "trip_start_day": 7,
    "trip_start_month": 12,
    "pickup_community_area": 77,
    "dropoff_community_area": 77,
}
CATEGORICAL_FEATURE_KEYS: List[str] = list(CATEGORICAL_FEATURE_MAX_VALUES)

# Strings mapped to integers through a vocabulary computed by Transform.
VOCAB_FEATURE_KEYS: List[str] = ["payment_type", "company"]
VOCAB_SIZE = 1000
OOV_SIZE = 10


def transformed_name(key: str) -> str:
    """The name Transform gives to the transformed version of feature `key`."""
    return f"{key}_xf"


def transformed_names(keys: List[str]) -> List[str]:
    return [transformed_name(k) for k in keys]


def model_input_keys() -> List[str]:
    """Every raw feature the model reads (the label excluded)."""
    return DENSE_FLOAT_FEATURE_KEYS + BUCKET_FEATURE_KEYS + CATEGORICAL_FEATURE_KEYS + VOCAB_FEATURE_KEYS
