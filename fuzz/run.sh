#!/usr/bin/env bash
# A fuzz run of the scenario pipeline (issue 7). Needs nightly and cargo-fuzz; installs
# cargo-fuzz if missing. The corpus starts from every scenario in the repository; after the
# run it is minimised into fuzz/corpus/scenario, which the normal test suite replays
# (tests/integration/fuzz_corpus.rs) together with any crash kept in fuzz/regressions/.
#
#   bash fuzz/run.sh          # 10 minutes
#   SECONDS_TO_RUN=60 bash fuzz/run.sh
set -euo pipefail
cd "$(dirname "$0")"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p corpus/scenario
cp ../scenarios/*.toml ../scenarios/validation/*.toml ../tests/bad/*.toml "$work"/ 2>/dev/null || true
cp corpus/scenario/* "$work"/ 2>/dev/null || true
cargo +nightly fuzz run --debug-assertions scenario "$work" -- \
  -max_total_time="${SECONDS_TO_RUN:-600}" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
  -dict=toml.dict -print_final_stats=1
rm -rf corpus/scenario.new && mkdir corpus/scenario.new
cargo +nightly fuzz cmin --debug-assertions scenario corpus/scenario.new "$work" -- -max_len=8192 \
  >/dev/null 2>&1 || cp "$work"/* corpus/scenario.new/
rm -rf corpus/scenario && mv corpus/scenario.new corpus/scenario
echo "minimised corpus: $(ls corpus/scenario | wc -l) files in fuzz/corpus/scenario"
