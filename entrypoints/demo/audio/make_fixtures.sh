#!/usr/bin/env bash
# Synthesises the fixture phone calls listed in calls.json (next to this script) into small,
# telephone-like MP3s. Re-run it after editing calls.json and commit both; the output is
# deterministic for the same tool versions (no dither, no random noise).
#
# Needs (Debian packages): espeak-ng, sox, libsox-fmt-mp3, lame, jq.
#
# Each line of a call is spoken by its speaker's espeak-ng voice, band-limited to the telephone
# band (300-3400 Hz), resampled to 16 kHz (format.sample_rate_hz; tiny.en heard espeak's voices
# noticeably worse at 8 kHz), normalised, and followed by a pause. The lines are joined and
# encoded with lame at a constant bit rate (format.mp3_mono_kbps / mp3_stereo_kbps). Stereo
# keeps the channels independent (`-m s`, not joint stereo, so the silent side stays silent);
# the agent is on the left channel, the caller on the right.
#
# Usage: entrypoints/demo/audio/make_fixtures.sh [scenario ...]   (default: every call)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
manifest="$here/calls.json"
for tool in espeak-ng sox soxi lame jq; do
  command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 1; }
done

rate="$(jq -r '.format.sample_rate_hz' "$manifest")"
low_hz="$(jq -r '.format.band_hz[0]' "$manifest")"
high_hz="$(jq -r '.format.band_hz[1]' "$manifest")"
mono_kbps="$(jq -r '.format.mp3_mono_kbps' "$manifest")"
stereo_kbps="$(jq -r '.format.mp3_stereo_kbps' "$manifest")"
pause_s=0.6
min_s=15
max_s=35

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

make_call() {
  local index="$1"
  local call file channels count
  call="$(jq -c ".calls[$index]" "$manifest")"
  file="$(jq -r '.file' <<<"$call")"
  channels="$(jq -r '.channels' <<<"$call")"
  count="$(jq '.lines | length' <<<"$call")"

  local parts=() i line speaker voice_key voice speed pitch text part remix
  for ((i = 0; i < count; i++)); do
    line="$(jq -c ".lines[$i]" <<<"$call")"
    speaker="$(jq -r '.speaker' <<<"$line")"
    voice_key="$(jq -r '.voice // .speaker' <<<"$line")"
    voice="$(jq -r ".voices[\"$voice_key\"].voice" "$manifest")"
    speed="$(jq -r ".voices[\"$voice_key\"].speed" "$manifest")"
    pitch="$(jq -r ".voices[\"$voice_key\"].pitch" "$manifest")"
    text="$(jq -r '.text' <<<"$line")"
    part="$work/$(printf '%02d' "$i").wav"

    espeak-ng -v "$voice" -s "$speed" -p "$pitch" -w "$work/speech.wav" "$text"
    if [[ "$channels" == 2 ]]; then
      # remix 1 0: the voice on the left, silence on the right; 0 1 the other way round.
      case "$speaker" in
        agent) remix=(remix 1 0) ;;
        caller) remix=(remix 0 1) ;;
        *) echo "$file: unknown speaker $speaker" >&2; exit 1 ;;
      esac
    else
      remix=()
    fi
    sox -D -V1 "$work/speech.wav" -b 16 -c "$channels" "$work/band.wav" \
      highpass "$low_hz" lowpass "$high_hz" rate "$rate" norm -3 ${remix[@]+"${remix[@]}"} pad 0 "$pause_s"
    mv "$work/band.wav" "$part"
    parts+=("$part")
  done

  # A short lead-in of silence, as when a call connects.
  sox -D -V1 "${parts[@]}" "$work/call.wav" pad 0.4 0
  if [[ "$channels" == 2 ]]; then
    lame --quiet --noreplaygain -m s -b "$stereo_kbps" "$work/call.wav" "$here/$file"
  else
    lame --quiet --noreplaygain -m m -b "$mono_kbps" "$work/call.wav" "$here/$file"
  fi
  rm -f "$work"/*.wav

  local seconds bytes
  seconds="$(soxi -D "$here/$file")"
  bytes="$(stat -c %s "$here/$file")"
  printf '%-22s %6.1f s %8d bytes\n' "$file" "$seconds" "$bytes"
  if ! awk -v s="$seconds" -v lo="$min_s" -v hi="$max_s" 'BEGIN { exit !(s >= lo && s <= hi) }'; then
    echo "$file: $seconds s is outside $min_s-$max_s s; shorten or lengthen its lines" >&2
    exit 1
  fi
}

total="$(jq '.calls | length' "$manifest")"
for ((n = 0; n < total; n++)); do
  scenario="$(jq -r ".calls[$n].scenario" "$manifest")"
  if [[ $# -eq 0 ]] || [[ " $* " == *" $scenario "* ]]; then
    make_call "$n"
  fi
done
