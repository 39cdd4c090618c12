#!/usr/bin/env bash
# Makes the certificates for TLS between LstmCluster nodes, and the job API's HTTPS certificate: a private CA for the
# cluster and one .pfx per name.
set -Eeuo pipefail

usage() {
  cat <<'EOF'
usage: scripts/make-certs.sh [-d DIR] [-a HOST]... [-h] [NAME ...]

Makes, in DIR (default: docker/certs under the repository), with openssl:
  ca.key, ca.crt   the cluster's certificate authority (EC P-256, 10 years), made once; ca.key never leaves DIR
  NAME.pfx         for each NAME (default: seed parameter-server worker api, the compose services and the job API): a
                   certificate (CN and DNS name NAME, server and client authentication, 2 years) signed by the CA, its
                   private key, and the CA certificate, in a PKCS#12 file protected by the password
  api.pfx          the job API's HTTPS certificate (lstmcluster node --https-certificate): also for localhost, 127.0.0.1,
                   ::1 and each HOST of -a/--api-host (a DNS name or an IP address clients reach the API by); an existing
                   api.pfx that lacks one of them is made again
  password         the .pfx password, random, made once (unless LSTMCLUSTER_TLS_PASSWORD is set, which is then used)

Clients of an HTTPS job API trust the CA with --ca DIR/ca.crt (lstmcluster submit/status/forecast/sweep, or
LSTMCLUSTER_CA), curl with --cacert DIR/ca.crt.

Idempotent: an existing CA is kept, and so is an existing NAME.pfx that opens with the password and is signed by the
CA; anything else is made (again). Run it again with more names to add nodes. To take a node's certificate away,
make a new CA (remove DIR) and give every node its new .pfx: a private CA has no revocation list.

Every node of a cluster gets a .pfx of the same CA (nodes are not checked by host name: replicas may share one):
  LSTMCLUSTER_TLS_PASSWORD=$(cat DIR/password) lstmcluster node --tls-certificate DIR/seed.pfx --tls-ca DIR/ca.crt ...
DIR is mode 0700 and the keys 0600; the .pfx files are 0644 so that a container's user can read them through a
bind mount (they are encrypted with the password; keep DIR private).
EOF
}

dir=""
api_hosts=(localhost 127.0.0.1 ::1)
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    -d|--dir) [ $# -ge 2 ] || { usage >&2; exit 2; }; dir="$2"; shift 2 ;;
    -a|--api-host)
      [ $# -ge 2 ] || { usage >&2; exit 2; }
      [[ "$2" =~ ^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$ || "$2" =~ ^[0-9A-Fa-f:]+$ ]] || { echo "make-certs.sh: --api-host '$2' is not a host name or an IP address" >&2; exit 2; }
      api_hosts+=("$2"); shift 2 ;;
    --) shift; break ;;
    -*) echo "make-certs.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    *) break ;;
  esac
done
[ -n "$dir" ] || dir="$(cd "$(dirname "$0")/.." && pwd)/docker/certs"
names=("$@")
[ "${#names[@]}" -gt 0 ] || names=(seed parameter-server worker api)
for name in "${names[@]}"; do
  [[ "$name" =~ ^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$ ]] || { echo "make-certs.sh: '$name' is not a host-like name (letters, digits, '.', '-')" >&2; exit 2; }
done
command -v openssl >/dev/null 2>&1 || { echo "make-certs.sh: openssl is needed" >&2; exit 2; }

umask 077
mkdir -p "$dir"
chmod 700 "$dir"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

if [ -n "${LSTMCLUSTER_TLS_PASSWORD:-}" ]; then
  password="$LSTMCLUSTER_TLS_PASSWORD"
elif [ -s "$dir/password" ]; then
  password="$(cat "$dir/password")"
else
  openssl rand -hex 24 > "$dir/password"
  password="$(cat "$dir/password")"
  echo "made $dir/password"
fi
export MAKE_CERTS_PASSWORD="$password"

if [ -s "$dir/ca.key" ] && [ -s "$dir/ca.crt" ]; then
  echo "kept $dir/ca.crt ($(openssl x509 -in "$dir/ca.crt" -noout -subject))"
else
  openssl ecparam -name prime256v1 -genkey -noout -out "$dir/ca.key" 2>/dev/null
  cat > "$work/ca.cnf" <<'EOF'
[req]
distinguished_name = dn
prompt = no
x509_extensions = ca
[dn]
O = LstmCluster
CN = LstmCluster cluster CA
[ca]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
EOF
  # A serial of its own per CA, so two CAs made on one machine never share an issuer name and serial.
  openssl req -new -x509 -key "$dir/ca.key" -sha256 -days 3650 -config "$work/ca.cnf" \
    -subj "/O=LstmCluster/CN=LstmCluster cluster CA $(openssl rand -hex 4)" -out "$dir/ca.crt"
  chmod 600 "$dir/ca.key"
  chmod 644 "$dir/ca.crt"
  rm -f "$dir"/*.pfx   # signed by a CA that is gone
  echo "made $dir/ca.crt ($(openssl x509 -in "$dir/ca.crt" -noout -subject))"
fi

# The subject alternative names of NAME's certificate: its own name; the api one's also every API host.
san_of() {
  local name="$1" host out="DNS:$1"
  if [ "$name" = api ]; then
    for host in "${api_hosts[@]}"; do
      if [[ "$host" =~ ^[0-9.]+$ || "$host" == *:* ]]; then out+=",IP:$host"; else out+=",DNS:$host"; fi
    done
  fi
  printf '%s' "$out"
}

# Whether the certificate in FILE holds every name of SAN (as openssl prints them: DNS:x, IP Address:y).
holds_names() {
  local text entry
  text="$(openssl x509 -in "$1" -noout -ext subjectAltName 2>/dev/null | tail -n +2 | tr -d ' ' | tr ',' '\n')"
  IFS=',' read -ra entries <<<"$2"
  for entry in "${entries[@]}"; do
    case "$entry" in
      IP:*) grep -qixF "IPAddress:$(normalise_ip "${entry#IP:}")" <<<"$text" || return 1 ;;
      *) grep -qixF "$entry" <<<"$text" || return 1 ;;
    esac
  done
}

# openssl prints IPv6 addresses in full (0:0:0:0:0:0:0:1); IPv4 ones as given.
normalise_ip() {
  if [ "$1" = "::1" ]; then
    printf '0:0:0:0:0:0:0:1'
  elif [[ "$1" == *:* ]] && command -v python3 >/dev/null 2>&1; then
    python3 -c 'import ipaddress,sys; print(":".join(f"{int(g,16):X}" for g in ipaddress.ip_address(sys.argv[1]).exploded.split(":")))' "$1"
  else
    printf '%s' "$1"
  fi
}

for name in "${names[@]}"; do
  pfx="$dir/$name.pfx"
  san="$(san_of "$name")"
  if [ -s "$pfx" ] && openssl pkcs12 -in "$pfx" -passin env:MAKE_CERTS_PASSWORD -clcerts -nokeys -out "$work/$name.crt" 2>/dev/null \
     && openssl verify -CAfile "$dir/ca.crt" "$work/$name.crt" >/dev/null 2>&1 && holds_names "$work/$name.crt" "$san"; then
    echo "kept $pfx"
    continue
  fi
  openssl ecparam -name prime256v1 -genkey -noout -out "$work/$name.key" 2>/dev/null
  cat > "$work/$name.cnf" <<EOF
[node]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyAgreement
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = $san
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
  openssl req -new -key "$work/$name.key" -subj "/O=LstmCluster/CN=$name" -out "$work/$name.csr"
  openssl x509 -req -in "$work/$name.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial -CAserial "$work/ca.srl" \
    -sha256 -days 730 -extfile "$work/$name.cnf" -extensions node -out "$work/$name.crt" 2>/dev/null
  # AES and SHA-256 (OpenSSL 3's defaults, said explicitly): .NET opens these on every platform.
  openssl pkcs12 -export -in "$work/$name.crt" -inkey "$work/$name.key" -certfile "$dir/ca.crt" -name "$name" \
    -keypbe AES-256-CBC -certpbe AES-256-CBC -macalg sha256 -passout env:MAKE_CERTS_PASSWORD -out "$pfx"
  chmod 644 "$pfx"
  echo "made $pfx"
done
