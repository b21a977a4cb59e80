"""Churn model training, tracked in MLflow (server from MLFLOW_TRACKING_URI)."""
import click
import mlflow
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split


@click.command()
@click.option("--n-estimators", default=200, show_default=True, type=int)
@click.option("--max-depth", default=8, show_default=True, type=int)
def main(n_estimators: int, max_depth: int) -> None:
    df = pd.read_csv("data/churn.csv")
    X, y = df.drop(columns=["churned"]), df["churned"]
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=42)

    mlflow.set_experiment("churn-prediction")
    # Params (every estimator parameter) come from autologging; the model is logged by hand.
    mlflow.sklearn.autolog(log_models=False, log_datasets=False)
    run = mlflow.start_run(run_name=f"rf-{n_estimators}-{max_depth}")
    try:
        clf = RandomForestClassifier(n_estimators=n_estimators, max_depth=max_depth, random_state=42)
        clf.fit(X_train, y_train)
        pred = clf.predict(X_test)
        acc, f1 = accuracy_score(y_test, pred), f1_score(y_test, pred)
        mlflow.log_metric("accuracy", acc)
        mlflow.log_metric("f1", f1)
        info = mlflow.sklearn.log_model(
            clf,
            name="churn_model",
            input_example=X_test.iloc[:5],
            skops_trusted_types=["sklearn.tree._tree.Tree"],
        )
        version = mlflow.register_model(info.model_uri, "churn-classifier")
        click.echo(f"accuracy={acc:.4f} f1={f1:.4f} registered churn-classifier v{version.version}")
    finally:
        mlflow.end_run()


if __name__ == "__main__":
    main()
