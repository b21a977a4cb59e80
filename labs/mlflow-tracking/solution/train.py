"""Train the churn model on data/churn.csv and track the run in MLflow.

The tracking server comes from MLFLOW_TRACKING_URI (set in the environment).
"""
import argparse

import mlflow
import mlflow.sklearn
import pandas as pd
from mlflow.models import infer_signature
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split

DATA = "data/churn.csv"
TARGET = "churned"
SEED = 42
EXPERIMENT = "churn-prediction"
REGISTERED_MODEL = "churn-classifier"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n-estimators", type=int, default=200, help="trees in the forest (default: 200)")
    parser.add_argument("--max-depth", type=int, default=8, help="maximum depth of a tree (default: 8)")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    df = pd.read_csv(DATA)
    X = df.drop(columns=[TARGET])
    y = df[TARGET]
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=SEED)

    mlflow.set_experiment(EXPERIMENT)
    with mlflow.start_run():
        params = {"n_estimators": args.n_estimators, "max_depth": args.max_depth, "random_state": SEED}
        mlflow.log_params(params)

        model = RandomForestClassifier(**params)
        model.fit(X_train, y_train)

        predictions = model.predict(X_test)
        accuracy = accuracy_score(y_test, predictions)
        f1 = f1_score(y_test, predictions)
        mlflow.log_metrics({"accuracy": accuracy, "f1": f1})

        mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(X_train, predictions),
            input_example=X_train.head(3),
            registered_model_name=REGISTERED_MODEL,
            # MLflow 3 saves scikit-learn models with skops, which trusts only listed types.
            skops_trusted_types=["sklearn.tree._tree.Tree"],
        )
    print(f"accuracy: {accuracy:.4f}  f1: {f1:.4f}")


if __name__ == "__main__":
    main()
