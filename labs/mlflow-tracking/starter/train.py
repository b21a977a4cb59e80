"""Train the churn model on data/churn.csv and report its accuracy on a held-out split."""
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split

DATA = "data/churn.csv"
TARGET = "churned"
SEED = 42


def main() -> None:
    df = pd.read_csv(DATA)
    X = df.drop(columns=[TARGET])
    y = df[TARGET]
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=SEED)

    model = RandomForestClassifier(n_estimators=200, max_depth=8, random_state=SEED)
    model.fit(X_train, y_train)

    accuracy = accuracy_score(y_test, model.predict(X_test))
    print(f"accuracy: {accuracy:.4f}")


if __name__ == "__main__":
    main()
