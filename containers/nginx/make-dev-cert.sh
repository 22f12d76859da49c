#!/bin/sh
# Makes a self-signed certificate for development: containers/nginx/tls/tls.crt
# and tls.key (or into the directory given as $1). Never commit them (.gitignore
# keeps them out); production mounts a real certificate at the same paths.
#   ./containers/nginx/make-dev-cert.sh [dir] [host name]
set -eu
dir="${1:-$(dirname "$0")/tls}"
host="${2:-localhost}"
mkdir -p "$dir"
if [ -s "$dir/tls.crt" ] && [ -s "$dir/tls.key" ]; then
  echo "keeping the existing certificate in $dir"
  exit 0
fi
openssl req -x509 -newkey rsa:2048 -sha256 -days 365 -nodes \
  -keyout "$dir/tls.key" -out "$dir/tls.crt" \
  -subj "/CN=$host" \
  -addext "subjectAltName=DNS:$host,DNS:localhost,IP:127.0.0.1" 2>/dev/null
chmod 600 "$dir/tls.key"
echo "self-signed certificate for $host in $dir (valid 365 days)"
