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


# The fields a customer has. The order of the model's input columns is NOT decided here:
# it is the `features` list of the served model's metadata.json (see app/model.py).
FIELDS = list(Customer.model_fields)


def to_matrix(customers: list[Customer], features: list[str]) -> np.ndarray:
    """One row per customer, one column per feature, in the model's order."""
    return np.array([[getattr(c, name) for name in features] for c in customers], dtype=float)
