"""The API's request and response bodies."""
from enum import Enum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class Contract(str, Enum):
    month_to_month = "month-to-month"
    one_year = "one-year"
    two_year = "two-year"


class PaymentMethod(str, Enum):
    card = "card"
    bank_transfer = "bank-transfer"
    invoice = "invoice"


Count = Annotated[int, Field(ge=0)]


class Customer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenure_months: Count
    monthly_charges: Annotated[float, Field(gt=0)]
    contract: Contract
    payment_method: PaymentMethod
    num_products: Annotated[int, Field(ge=1)]
    support_calls_90d: Count
    late_payments_12m: Count


class Verdict(BaseModel):
    churn: bool
    churn_probability: float
    model: str
