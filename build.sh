#!/usr/bin/env bash
# Build, test and benchmark Pretext. Usage: ./build.sh [build|test|short|dist|bench]
#   build      (the default) web/pretext.wasm with this Go toolchain, and that
#              toolchain's wasm_exec.js beside it, and web/gemm.wasm (the
#              simd128 kernels) with wat2wasm; then: go run serve.go
#   test       everything CI runs: vet, native tests (with the PyTorch
#              cross-check when python3-torch is installed), the browser test in
#              headless Chromium, core/tasks/app/internal tests as wasm in
#              Node (-short: the heavy trainings ran natively), the kernels'
#              and core's again with the simd128 kernels,
#              the pure-Go kernels natively (-tags purego), and the arm64
#              NEON kernel under qemu-aarch64 when it is installed; each
#              stage prints its time
#   short      the quick tier, for everyday work: go test -short ./...
#              (every package; no heavy training, no browser)
#   dist       dist/: the page, ready for any static host (HOSTING.txt inside)
#   bench      native (assembly kernels, and pure Go), wasm (Node, with and
#              without simd128; Chromium with one worker and one per core)
#              benchmarks of workloads RS, JS and CS
set -euo pipefail
cd "$(dirname "$0")"

WASM_EXEC="$(go env GOROOT)/lib/wasm/go_js_wasm_exec"

wasm_test() {
	# Go's wasm test runner needs Node.js on PATH.
	command -v node >/dev/null || { echo "build.sh: node is required for the wasm tests" >&2; exit 1; }
	GOOS=js GOARCH=wasm go test -exec="$WASM_EXEC" "$@"
}

# stage NAME CMD... runs CMD and prints how long it took; the times are
# gathered in $times for the summary.
times=""
stage() {
	local name=$1 t0=$SECONDS
	shift
	echo "build.sh: stage $name"
	"$@"
	times+="build.sh: stage $name took $((SECONDS - t0)) s"$'\n'
	echo "build.sh: stage $name took $((SECONDS - t0)) s"
}

fmt_vet() {
	test -z "$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { gofmt -l .; echo "build.sh: run gofmt -w" >&2; exit 1; }
	go vet ./...
	GOOS=js GOARCH=wasm go vet ./core/... ./tasks/... ./recipe/... ./explore/... ./wasm/... ./internal/...
	GOARCH=arm64 go vet ./internal/kernel/... ./core/...
}

build() {
	GOOS=js GOARCH=wasm go build -trimpath -o web/pretext.wasm ./wasm
	cp "$(go env GOROOT)/lib/wasm/wasm_exec.js" web/wasm_exec.js
	# Without wat2wasm the committed web/gemm.wasm stands (web's
	# TestGemmModule checks it is gemm.wat's assembly).
	if command -v wat2wasm >/dev/null; then
		wat2wasm --debug-names web/gemm.wat -o web/gemm.wasm
	fi
}

case "${1:-build}" in
build)
	build
	echo "build.sh: built web/pretext.wasm ($(du -h web/pretext.wasm | cut -f1)); serve it with: go run serve.go"
	;;
test)
	# Each stage prints its time, and the list of all of them closes the run.
	stage fmt-vet fmt_vet
	stage build build
	# The browser test (web/) needs chromium; PRETEXT_BROWSER=1 makes its
	# absence a failure rather than a skip. The PyTorch cross-check
	# (interop/pytorch) runs when Debian's python3 imports torch, the real
	# Fashion-MNIST test when the files are installed, and the amd64 SIMD
	# assertion when asked: a caller's PRETEXT_TORCH=1, PRETEXT_FASHION=1 or
	# PRETEXT_ASM=1 (.ci/run sets them) makes a missing one a failure; left
	# unset, PRETEXT_TORCH is 1 only where torch imports.
	if [ -z "${PRETEXT_TORCH:-}" ]; then
		PRETEXT_TORCH=0
		/usr/bin/python3 -c 'import torch' 2>/dev/null && PRETEXT_TORCH=1
	fi
	export PRETEXT_TORCH PRETEXT_BROWSER=1 PRETEXT_ARTIFACTS="${PRETEXT_ARTIFACTS:-$PWD/out}"
	# A generous timeout: the end-to-end tests train every task, and a
	# loaded 2-core machine runs them several times slower than an idle one.
	stage native go test -timeout 40m ./...
	# The wasm tests in Node with -short: the heavy trainings (loss-falls,
	# every task end to end) ran natively above, the golden-loss tests that
	# tie wasm's numbers to native ones run here, and the browser test has
	# trained every task as wasm in Chromium.
	stage wasm wasm_test -short -timeout 40m ./core/... ./tasks/... ./recipe/... ./explore/... ./wasm/... ./internal/...
	# The kernels and core once more with the simd128 kernels loaded as the
	# page loads them; a test in each fails if they are not in use.
	stage wasm-simd128 env PRETEXT_SIMD=1 GOOS=js GOARCH=wasm go test -exec="$PWD/wasm/exec_node.js" -timeout 40m ./internal/kernel/... ./core
	# The pure-Go kernels natively: the purego tag leaves out the assembly
	# (and the SIMD assertion with it).
	stage purego env -u PRETEXT_ASM go test -tags purego ./internal/kernel/... ./core
	# The arm64 NEON kernel (and the rest of the package) on an emulated
	# arm64 CPU; CI installs qemu-user.
	if command -v qemu-aarch64 >/dev/null; then
		stage arm64 env GOARCH=arm64 go test -exec qemu-aarch64 -short ./internal/kernel
	fi
	printf '%s' "$times"
	echo "build.sh: all tests passed in $SECONDS s"
	;;
short)
	# The quick tier: every package, the heavy training and browser tests
	# skipped.
	stage short go test -short ./...
	;;
dist)
	build
	rm -rf dist
	go run serve.go -dist dist
	;;
bench)
	build
	for w in rs js cs; do
		go run ./cmd/pretext bench -workload $w -threads 1 -json
		go run ./cmd/pretext bench -workload $w -threads "$(nproc)" -json
		GOOS=js GOARCH=wasm go run -exec="$WASM_EXEC" ./cmd/pretext bench -workload $w -threads 1 -json
		PRETEXT_SIMD=1 GOOS=js GOARCH=wasm go run -exec="$PWD/wasm/exec_node.js" ./cmd/pretext bench -workload $w -threads 1 -json
		go run ./cmd/browserbench -workload $w -workers 1 -json
		go run ./cmd/browserbench -workload $w -workers "$(nproc)" -json
		go run -tags purego ./cmd/pretext bench -workload $w -threads "$(nproc)" -json
	done
	;;
*)
	echo "usage: $0 [build|test|short|dist|bench]" >&2
	exit 2
	;;
esac
