#!/usr/bin/env bash
# The reference solution with one mistake: accuracy and f1 are measured on the rows the
# model was trained on, so the newest registered model claims far more than it scores.
set -euo pipefail
sed -i -e 's/model.predict(X_test)/model.predict(X_train)/' -e 's/accuracy_score(y_test,/accuracy_score(y_train,/' -e 's/f1_score(y_test,/f1_score(y_train,/' train.py
grep -q 'model.predict(X_train)' train.py
python train.py --n-estimators 100 --max-depth 6
python train.py --n-estimators 300 --max-depth 16
git commit -q -am "Report the model's accuracy"
