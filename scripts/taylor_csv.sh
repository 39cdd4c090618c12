#!/usr/bin/env bash
# Writes the half-hourly electricity demand series `taylor` (England and Wales, 5 June - 27 August 2000, 4,032
# half-hours; J. W. Taylor, "Short-term electricity demand forecasting using double seasonal exponential smoothing",
# JORS 54, 2003) as a CSV (step,value) for issue 13's electricity case:
#   bash scripts/taylor_csv.sh DIR        -> DIR/taylor.csv
#   python3 scripts/normalize_matrix.py --data-dir DIR --only taylor
# The series ships with R's forecast package; Debian packages it (r-cran-forecast), which this script installs
# when Rscript or the package is missing (root, Debian's apt). A measurement tool only: the product never needs R.
set -euo pipefail
dir=${1:?usage: taylor_csv.sh DIR}
mkdir -p "$dir"
if ! Rscript -e 'suppressMessages(library(forecast))' >/dev/null 2>&1; then
    echo "installing r-cran-forecast (Debian) for the taylor series..." >&2
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q r-cran-forecast >/dev/null
fi
Rscript -e 'suppressMessages(library(forecast)); x <- taylor;
  write.csv(data.frame(step = seq_along(x) - 1, value = as.numeric(x)), file.path(commandArgs(TRUE)[1], "taylor.csv"),
            row.names = FALSE, quote = FALSE)' "$dir"
echo "$dir/taylor.csv: $(($(wc -l < "$dir/taylor.csv") - 1)) half-hourly points" >&2
