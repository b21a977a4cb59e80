"""churn-api: scores customers for churn risk with the model published in the model store."""

__version__ = "2.3.1"
