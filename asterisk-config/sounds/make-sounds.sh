#!/bin/sh
# Rebuild the ngcc112 prompts shipped in this folder.
#
# The silent-call prompt, in Bahasa Indonesia: "If you cannot speak, press 5".
# espeak-ng (Indonesian voice) speaks the text; sox turns it into what Asterisk
# plays without transcoding on a narrow-band call: 8 kHz, mono, 16-bit signed PCM WAV.
#
# Needs: espeak-ng, sox  (Debian/Ubuntu: apt-get install -y espeak-ng sox)
# Usage: sh asterisk-config/sounds/make-sounds.sh
set -eu

here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT

text="Jika Anda tidak dapat berbicara, tekan 5."

espeak-ng -v id -s 150 -w "$tmp" "$text"
sox "$tmp" -r 8000 -c 1 -b 16 -e signed-integer "$here/id/ngcc112-silent-prompt.wav" silence 1 0.02 0.5% reverse silence 1 0.02 0.5% reverse norm -3
echo "wrote $here/id/ngcc112-silent-prompt.wav"
