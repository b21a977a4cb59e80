"""What /predict accepts for one customer, and how it becomes the model's input row."""
import numpy as np
from pydantic import BaseModel, ConfigDict, Field


class Customer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenure_months: float = Field(ge=0, description="months since the customer signed up")
    monthly_charges: float = Field(ge=0, description="current monthly bill, in EUR")
    support_calls_90d: float = Field(ge=0, description="calls to support in the last 90 days")
    days_since_last_login: float = Field(ge=0, description="days since the last app or web login")
    contract_months: float = Field(ge=0, description="contract length: 1 (monthly), 12 or 24")
    num_products: float = Field(ge=0, description="products subscribed (mobile, broadband, TV...)")


# The columns of the model's input, in the order the model was trained on.
FEATURES = [
    "tenure_months",
    "monthly_charges",
    "support_calls_90d",
    "days_since_last_login",
    "contract_months",
    "num_products",
]


def to_matrix(customers: list[Customer]) -> np.ndarray:
    """One row per customer, one column per feature, in FEATURES order."""
    return np.array([[getattr(c, name) for name in FEATURES] for c in customers], dtype=float)
