#!/usr/bin/env bash
# Installs what bench/pytorch/lstm_peer.py needs on Debian 12 (root, Debian's apt): PyTorch 1.13 for /usr/bin/python3
# (python3-torch) and OpenBLAS as the system BLAS (libopenblas0-openmp). Debian builds PyTorch against the generic BLAS
# interface (torch.__config__.show(): BLAS_INFO=generic), which resolves to whatever libblas.so.3 the alternatives
# system points at; with only the reference BLAS installed the peer's LSTM steps are ~6× slower (130 ms against 22 ms a
# step at hidden 64, batch 64, one thread, measured 2026-12-02), which would make it a strawman. A measurement tool
# only: lstmcluster never needs Python or PyTorch.
#   bash bench/pytorch/setup.sh
#   dotnet run -c Release --project bench/LstmCluster.Bench -- suite --pytorch /usr/bin/python3
set -euo pipefail
missing=()
/usr/bin/python3 -c 'import torch' >/dev/null 2>&1 || missing+=(python3-torch)
dpkg -s libopenblas0-openmp >/dev/null 2>&1 || missing+=(libopenblas0-openmp)
if ((${#missing[@]})); then
    echo "installing ${missing[*]} (Debian's apt)..." >&2
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q "${missing[@]}" >/dev/null \
        || { apt-get -o DPkg::Lock::Timeout=600 update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q "${missing[@]}" >/dev/null; }
fi
blas=$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 || true)
case "$blas" in
    *openblas*) ;;
    *) echo "libblas.so.3 is $blas, not OpenBLAS: update-alternatives --config libblas.so.3-x86_64-linux-gnu" >&2; exit 1 ;;
esac
echo "PyTorch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)') with $blas" >&2
