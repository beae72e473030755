#!/usr/bin/env bash
# Build, test and benchmark Pretext. Usage: ./build.sh [test|bench|wasm-test]
#   test       everything CI runs: vet, native tests, core tests as wasm in Node,
#              the archsimd GEMM path (amd64)
#   bench      native, wasm and SIMD benchmarks of workloads RS, JS and CS
set -euo pipefail
cd "$(dirname "$0")"

WASM_EXEC="$(go env GOROOT)/lib/wasm/go_js_wasm_exec"

wasm_test() {
	# Go's wasm test runner needs Node.js on PATH.
	command -v node >/dev/null || { echo "build.sh: node is required for the wasm tests" >&2; exit 1; }
	GOOS=js GOARCH=wasm go test -exec="$WASM_EXEC" "$@"
}

case "${1:-test}" in
test)
	test -z "$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { gofmt -l .; echo "build.sh: run gofmt -w" >&2; exit 1; }
	go vet ./...
	GOOS=js GOARCH=wasm go vet ./core/... ./tasks/...
	go test ./...
	wasm_test ./core/... ./tasks/...
	if [ "$(go env GOARCH)" = amd64 ]; then
		GODEBUG=asyncpreemptoff=1 GOEXPERIMENT=simd go test ./core/... ./tasks/...
	fi
	echo "build.sh: all tests passed"
	;;
bench)
	for w in rs js cs; do
		go run ./cmd/pretext bench -workload $w -threads 1 -json
		go run ./cmd/pretext bench -workload $w -threads "$(nproc)" -json
		GOOS=js GOARCH=wasm go run -exec="$WASM_EXEC" ./cmd/pretext bench -workload $w -threads 1 -json
		if [ "$(go env GOARCH)" = amd64 ]; then
			GOEXPERIMENT=simd go run ./cmd/pretext bench -workload $w -threads "$(nproc)" -json
		fi
	done
	;;
*)
	echo "usage: $0 [test|bench]" >&2
	exit 2
	;;
esac
